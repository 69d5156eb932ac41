/*
 * This file implements a board slot (see simdev.h): the sim_host callbacks
 * given to tests/sim/boards and the plug/unplug/replug timeline.
 */
#include "tests/sim/simdev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/testbed.h"
#include "tests/sim/usbfs.h"

enum op_kind { OP_ADD, OP_REMOVE };

struct op {
	enum op_kind kind;
	struct simdev *dev;
};

struct sched_call {
	struct simdev *dev;
	void (*fn)(struct sim_board *b, void *arg);
	void *arg;
};

struct event_call {
	struct simdev *dev;
	enum sim_board_event ev;
};

static void run_op(struct op *op)
{
	struct simdev *d = op->dev;
	int r;

	if (op->kind == OP_REMOVE) {
		testbed_remove_board(d);
		return;
	}
	/* A connect while still on the bus is a re-enumeration. */
	if (d->node)
		testbed_remove_board(d);
	r = testbed_add_board(d);
	if (r < 0) {
		rig_log("%s: cannot enumerate: %s", d->cfg->id, strerror(-r));
		if (!d->rig->rig_error)
			d->rig->rig_error = r;
		g_main_loop_quit(d->rig->loop);
	}
}

static gboolean opq_run(gpointer p)
{
	struct rig *r = p;
	struct op *op;

	for (;;) {
		uint64_t now = sched_now_ns(), next = r->last_op_ns + r->pace_ms * 1000000ull;

		pthread_mutex_lock(&r->opq_lock);
		if (g_queue_is_empty(&r->opq)) {
			r->opq_armed = false;
			pthread_mutex_unlock(&r->opq_lock);
			return G_SOURCE_REMOVE;
		}
		if (r->pace_ms && now < next) {
			pthread_mutex_unlock(&r->opq_lock);
			g_timeout_add((guint)((next - now) / 1000000 + 1), opq_run, r);
			return G_SOURCE_REMOVE;
		}
		op = g_queue_pop_head(&r->opq);
		pthread_mutex_unlock(&r->opq_lock);
		run_op(op);
		free(op);
		r->last_op_ns = sched_now_ns();
	}
}

/* Queue sysfs work for the main thread (any thread, no board lock needed). */
static void post(struct simdev *d, enum op_kind kind)
{
	struct rig *r = d->rig;
	struct op *op = malloc(sizeof(*op));

	if (!op) {
		rig_log("%s: out of memory queueing a plug event", d->cfg->id);
		return;
	}
	*op = (struct op){ kind, d };
	pthread_mutex_lock(&r->opq_lock);
	g_queue_push_tail(&r->opq, op);
	if (!r->opq_armed) {
		r->opq_armed = true;
		g_idle_add(opq_run, r);
	}
	pthread_mutex_unlock(&r->opq_lock);
}

static uint64_t host_now(void *ctx)
{
	(void)ctx;
	return sched_now_ns();
}

static void sched_call_cb(void *p)
{
	struct sched_call *c = p;

	pthread_mutex_lock(&c->dev->lock);
	c->fn(c->dev->board, c->arg);
	pthread_mutex_unlock(&c->dev->lock);
	free(c);
}

static void host_schedule(void *ctx, uint64_t delay_ns, void (*fn)(struct sim_board *, void *),
			  void *arg)
{
	struct simdev *d = ctx;
	struct sched_call *c = malloc(sizeof(*c));
	int r = -ENOMEM;

	if (c)
		*c = (struct sched_call){ d, fn, arg };
	if (c)
		r = sched_add_owned(d->rig->sched, delay_ns, sched_call_cb, c);
	if (r < 0)
		free(c);
	/* -ESHUTDOWN: the command has exited, the board's time has stopped. */
	if (r == -ENOMEM)
		rig_log("%s: out of memory scheduling a board timer", d->cfg->id);
}

static void event_cb(void *p)
{
	struct event_call *e = p;
	struct simdev *d = e->dev;

	if (e->ev == SIM_EV_DISCONNECT) {
		pthread_mutex_lock(&d->lock);
		if (d->node)
			usbnode_disconnect(d->node);
		pthread_mutex_unlock(&d->lock);
		post(d, OP_REMOVE);
	} else {
		post(d, OP_ADD);
	}
	free(e);
}

static void host_event(void *ctx, enum sim_board_event ev, uint64_t delay_ns)
{
	struct simdev *d = ctx;
	struct event_call *e = malloc(sizeof(*e));

	/* Always through the sched thread, even at delay 0: the board raises
	 * events from inside its own calls, with our lock held. */
	if (!e) {
		rig_log("%s: out of memory delivering a board event", d->cfg->id);
		return;
	}
	*e = (struct event_call){ d, ev };
	if (sched_add_owned(d->rig->sched, delay_ns, event_cb, e) < 0)
		free(e);
}

int simdev_init(struct simdev *d, struct rig *r, const struct scn_board *cfg, char *err,
		size_t errlen)
{
	pthread_mutexattr_t ma;
	int rr;

	memset(d, 0, sizeof(*d));
	d->rig = r;
	d->cfg = cfg;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&d->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	d->old_nodes = g_ptr_array_new();
	testbed_syspath(cfg->port, d->syspath, sizeof(d->syspath));
	d->host = (struct sim_host){
		.ctx = d,
		.now_ns = host_now,
		.complete = usbfs_host_complete,
		.event = host_event,
		.schedule = host_schedule,
	};
	pthread_mutex_lock(&d->lock);
	rr = sim_board_new(cfg->type, cfg->opts, cfg->n_opts, &d->host, &d->board, err, errlen);
	pthread_mutex_unlock(&d->lock);
	return rr;
}

static gboolean plug_cb(gpointer p)
{
	struct simdev *d = p;

	d->cable = true;
	post(d, OP_ADD);
	return G_SOURCE_REMOVE;
}

static gboolean unplug_cb(gpointer p)
{
	struct simdev *d = p;

	rig_debug("%s: unplug", d->cfg->id);
	d->cable = false;
	pthread_mutex_lock(&d->lock);
	sim_board_unplug(d->board); /* raises SIM_EV_DISCONNECT if it was on the bus */
	pthread_mutex_unlock(&d->lock);
	return G_SOURCE_REMOVE;
}

static gboolean replug_cb(gpointer p)
{
	struct simdev *d = p;

	rig_debug("%s: replug", d->cfg->id);
	pthread_mutex_lock(&d->lock);
	if (d->cable)
		sim_board_unplug(d->board); /* power cycle: pull the cable first */
	d->cable = true;
	sim_board_replug(d->board); /* raises SIM_EV_CONNECT */
	pthread_mutex_unlock(&d->lock);
	return G_SOURCE_REMOVE;
}

int simdev_start(struct simdev *d)
{
	const struct scn_board *c = d->cfg;

	if (c->plug_on_sigusr1)
		return 0; /* simdev_plug_on_signal() */
	if (c->plug_ms == 0) {
		int r;

		d->cable = true;
		r = testbed_add_board(d);
		if (r < 0)
			return r;
	} else {
		g_timeout_add((guint)c->plug_ms, plug_cb, d);
	}
	if (c->unplug_ms != SCN_NO_TIME)
		g_timeout_add((guint)c->unplug_ms, unplug_cb, d);
	if (c->replug_ms != SCN_NO_TIME)
		g_timeout_add((guint)c->replug_ms, replug_cb, d);
	return 0;
}

void simdev_plug_on_signal(struct simdev *d)
{
	if (!(d->cfg->plug_on_sigusr1 || d->cfg->replug_on_sigusr1) || d->signal_plugged)
		return;
	rig_debug("%s: %splugged on SIGUSR1", d->cfg->id, d->cfg->plug_on_sigusr1 ? "" : "re");
	d->signal_plugged = true;
	if (d->cfg->plug_on_sigusr1)
		plug_cb(d);
	else
		replug_cb(d);
}

void simdev_fini(struct simdev *d)
{
	if (!d->rig)
		return;
	/* No uevents now: the command has exited. */
	if (d->node) {
		usbnode_detach(d->node);
		g_ptr_array_add(d->old_nodes, d->node);
		d->node = NULL;
	}
	for (guint i = 0; i < d->old_nodes->len; i++)
		usbnode_free(d->old_nodes->pdata[i]);
	g_ptr_array_free(d->old_nodes, TRUE);
	sim_board_free(d->board);
	pthread_mutex_destroy(&d->lock);
	d->rig = NULL;
}
