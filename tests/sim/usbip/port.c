/*
 * This file implements one board on one vhci port: the sim_host services
 * the board uses (time, timers, connect/disconnect events; completions are
 * urb.c's), the connection coming and going, and the scenario timeline
 * (plug, unplug, replug) as flashsim's simdev.c runs it.
 *
 * Board events always go through the sched thread, even at delay 0: the
 * board raises them from inside its own calls, with our lock held, and
 * dropping a connection cancels transfers, which re-enters the board.
 */
#include "tests/sim/usbip/usbip-sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* A stuck peer must not hold a port lock (and the reader) for ever: a write
 * that makes no progress for this long counts as a lost connection. */
#define SEND_TIMEOUT_S 10

enum step { STEP_PLUG, STEP_UNPLUG, STEP_REPLUG };

struct board_call {
	struct port *p;
	void (*fn)(struct sim_board *b, void *arg);
	void *arg;
};

struct event_call {
	struct port *p;
	enum sim_board_event ev;
};

struct step_call {
	struct port *p;
	enum step step;
};

void port_log(const struct port *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	app_log("%s port %s: %s", p->cfg->id, p->cfg->port, msg);
}

static uint64_t host_now(void *ctx)
{
	(void)ctx;
	return sched_now_ns();
}

static void board_call_cb(void *arg)
{
	struct board_call *c = arg;
	struct port *p = c->p;

	pthread_mutex_lock(&p->lock);
	c->fn(p->board, c->arg);
	port_settle(p);
	pthread_mutex_unlock(&p->lock);
	free(c);
}

static void host_schedule(void *ctx, uint64_t delay_ns, void (*fn)(struct sim_board *, void *),
			  void *arg)
{
	struct port *p = ctx;
	struct board_call *c = malloc(sizeof(*c));

	if (c)
		*c = (struct board_call){ p, fn, arg };
	if (!c || sched_add_owned(p->app->sched, delay_ns, board_call_cb, c) < 0) {
		port_log(p, "out of memory scheduling a board timer");
		free(c);
	}
}

static void event_cb(void *arg)
{
	struct event_call *e = arg;
	struct port *p = e->p;

	pthread_mutex_lock(&p->lock);
	if (e->ev == SIM_EV_DISCONNECT) {
		p->powered = false;
		vhci_attach_cancel(p);
		port_conn_drop(p, "the board left the bus");
	} else {
		p->powered = true;
		/* A connect while attached is a re-enumeration without a
		 * disconnect event: leave, then come back. */
		port_conn_drop(p, "re-enumeration");
		if (p->cable)
			vhci_attach_start(p);
	}
	pthread_mutex_unlock(&p->lock);
	free(e);
}

static void host_event(void *ctx, enum sim_board_event ev, uint64_t delay_ns)
{
	struct port *p = ctx;
	struct event_call *e = malloc(sizeof(*e));

	if (e)
		*e = (struct event_call){ p, ev };
	if (!e || sched_add_owned(p->app->sched, delay_ns, event_cb, e) < 0) {
		port_log(p, "out of memory delivering a board event");
		free(e);
	}
}

int port_init(struct port *p, struct app *a, const struct scn_board *cfg, unsigned vport, char *err,
	      size_t errlen)
{
	int r;

	memset(p, 0, sizeof(*p));
	p->app = a;
	p->cfg = cfg;
	p->vport = vport;
	/* busnum << 16 | devnum as usbip does; any unique non-zero value works. */
	p->devid = 1u << 16 | (vport + 2);
	p->fd = -1;
	/* The board starts connected (board.h); the cable comes with plug_ms. */
	p->powered = true;
	pthread_mutex_init(&p->lock, NULL);
	p->host = (struct sim_host){
		.ctx = p,
		.now_ns = host_now,
		.complete = urb_host_complete,
		.event = host_event,
		.schedule = host_schedule,
	};
	pthread_mutex_lock(&p->lock);
	r = sim_board_new(cfg->type, cfg->opts, cfg->n_opts, &p->host, &p->board, err, errlen);
	pthread_mutex_unlock(&p->lock);
	return r;
}

static void clear_after_config(struct port *p)
{
	for (unsigned i = 0; i < p->n_after_config_log; i++)
		free(p->after_config_log[i]);
	p->n_after_config_log = 0;
	p->configured = false;
	p->after_config = 0;
	p->after_config_kernel = 0;
	memset(p->strings_read, 0, sizeof(p->strings_read));
}

void port_fini(struct port *p)
{
	if (!p->app)
		return;
	clear_after_config(p);
	p->board = sim_board_free(p->board);
	pthread_mutex_destroy(&p->lock);
	p->app = NULL;
}

void port_conn_up(struct port *p, int fd)
{
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };

	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		app_debug(p->app, 1, "%s: cannot set a send timeout: %m", p->cfg->id);
	p->fd = fd;
	p->gen++;
	p->broken = 0;
	memset(&p->rx, 0, sizeof(p->rx));
	p->enumerations++;
	clear_after_config(p);
	app_debug(p->app, 1, "%s: attached to vhci port %u (devid 0x%x), enumeration %u",
		  p->cfg->id, p->vport, p->devid, p->enumerations);
	app_wake(p->app);
}

void port_conn_drop(struct port *p, const char *why)
{
	if (p->fd < 0)
		return;
	urb_drop_all(p);
	close(p->fd);
	p->fd = -1;
	p->gen++;
	p->broken = 0;
	app_debug(p->app, 1, "%s: off the bus: %s", p->cfg->id, why);
	app_wake(p->app);
}

void port_write_failed(struct port *p, int err)
{
	if (!p->broken)
		p->broken = err < 0 ? err : -EIO;
}

void port_settle(struct port *p)
{
	if (!p->broken || p->fd < 0)
		return;
	/* EPIPE/ECONNRESET: the kernel dropped the device (detach, error). */
	port_log(p, "connection lost while replying: %s", strerror(-p->broken));
	port_conn_drop(p, "write failed");
}

static void step_cb(void *arg)
{
	struct step_call *s = arg;
	struct port *p = s->p;

	pthread_mutex_lock(&p->lock);
	switch (s->step) {
	case STEP_PLUG:
		app_debug(p->app, 1, "%s: plug", p->cfg->id);
		p->cable = true;
		if (p->powered && p->fd < 0 && !p->attaching)
			vhci_attach_start(p);
		break;
	case STEP_UNPLUG:
		app_debug(p->app, 1, "%s: unplug", p->cfg->id);
		p->cable = false;
		vhci_attach_cancel(p);
		sim_board_unplug(p->board); /* raises SIM_EV_DISCONNECT if it was on the bus */
		/* The cable is gone now, not when the event gets through. */
		port_conn_drop(p, "cable pulled");
		break;
	case STEP_REPLUG:
		app_debug(p->app, 1, "%s: replug", p->cfg->id);
		if (p->cable) {
			/* A power cycle: pull the cable first. */
			vhci_attach_cancel(p);
			sim_board_unplug(p->board);
			port_conn_drop(p, "power cycle");
		}
		p->cable = true;
		sim_board_replug(p->board); /* raises SIM_EV_CONNECT: attach from there */
		break;
	}
	port_settle(p);
	pthread_mutex_unlock(&p->lock);
	free(s);
}

static int add_step(struct port *p, long ms, enum step step)
{
	struct step_call *s;

	if (ms == SCN_NO_TIME)
		return 0;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct step_call){ p, step };
	if (sched_add_owned(p->app->sched, (uint64_t)ms * 1000000ull, step_cb, s) < 0) {
		free(s);
		return -ENOMEM;
	}
	return 0;
}

int port_start(struct port *p)
{
	int r;

	r = add_step(p, p->cfg->plug_ms, STEP_PLUG);
	if (r == 0)
		r = add_step(p, p->cfg->unplug_ms, STEP_UNPLUG);
	if (r == 0)
		r = add_step(p, p->cfg->replug_ms, STEP_REPLUG);
	return r;
}
