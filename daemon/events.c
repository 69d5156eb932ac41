/* This file implements the live event stream (daemon/events.h). */
#include "daemon/events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/version.h"
#include "daemon/control.h"
#include "daemon/port-progress.h"
#include "daemon/station.h"
#include "db/query.h"

/* Progress events: at most one per port per this many ms (4 per second). */
#define EVENTS_PROGRESS_MS 250
/* More subscribers than this are closed at once: each costs a file
 * descriptor and up to events_queue bytes. */
#define EVENTS_MAX_SUBSCRIBERS 512

struct events_sub {
	struct events *ev;
	struct events_sub *next;
	int fd;
	sd_event_source *src;
	char *buf; /* queued bytes: whole lines only */
	size_t off, len;
	uint64_t dropped;     /* events dropped since the last "dropped" event */
	uint64_t dropped_seq; /* seq of the last one dropped */
};

/* What was last sent about a port. */
struct events_port {
	const struct port *p;
	enum port_state state;
	bool sent;    /* a port event was sent (or the state was taken as known) */
	int64_t unit; /* job the stage/progress fields are about */
	unsigned stage_idx;
	char stage[64];	  /* "" : no stage sent for this job yet */
	uint64_t prog_ms; /* monotonic time of the last progress event */
	uint64_t prog_done, prog_total;
	char prog_phase[16];
};

struct events {
	struct station *s;
	int fd;
	char *path;
	sd_event_source *listen_src, *post_src, *timer;
	struct events_sub *subs;
	unsigned n_subs;
	uint64_t seq;
	uint64_t dropped_total;
	struct events_port *ports;
	size_t n_ports;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- subscribers ---------------------------------------------------------- */

static void sub_close(struct events_sub *sub)
{
	struct events *ev = sub->ev;

	for (struct events_sub **pp = &ev->subs; *pp; pp = &(*pp)->next)
		if (*pp == sub) {
			*pp = sub->next;
			break;
		}
	ev->n_subs--;
	sd_event_source_disable_unref(sub->src);
	close(sub->fd);
	free(sub->buf);
	free(sub);
	if (!ev->n_subs)
		sd_event_source_set_enabled(ev->timer, SD_EVENT_OFF);
}

/* Room for a line of len bytes; queued bytes move to the front only when
 * the tail is short (a slow reader costs no copy per event). */
static bool sub_room(struct events_sub *sub, size_t len, size_t max)
{
	if (sub->len + len > max && sub->off) {
		memmove(sub->buf, sub->buf + sub->off, sub->len - sub->off);
		sub->len -= sub->off;
		sub->off = 0;
	}
	return sub->len + len <= max;
}

/* Append a whole line; force: beyond the limit (the hello). */
static int sub_append(struct events_sub *sub, const char *line, size_t len, bool force)
{
	size_t max = sub->ev->s->cfg.events_queue;
	char *n;

	if (!sub_room(sub, len, max) && !force)
		return -ENOBUFS;
	if (!sub->buf || force) {
		n = realloc(sub->buf, (sub->len + len > max ? sub->len + len : max));
		if (!n)
			return -ENOMEM;
		sub->buf = n;
	}
	memcpy(sub->buf + sub->len, line, len);
	sub->len += len;
	sd_event_source_set_io_events(sub->src, EPOLLIN | EPOLLOUT);
	return 0;
}

/* Tell the subscriber what it missed, if there is room for that now. */
static void sub_report_dropped(struct events_sub *sub)
{
	char line[128];
	int n;

	if (!sub->dropped)
		return;
	n = snprintf(line, sizeof(line),
		     "{\"type\":\"dropped\",\"seq\":%llu,\"t\":%lld,\"count\":%llu}\n",
		     (unsigned long long)sub->dropped_seq, (long long)db_now_ms(),
		     (unsigned long long)sub->dropped);
	if (sub_append(sub, line, (size_t)n, false) == 0)
		sub->dropped = 0;
}

static void sub_send(struct events_sub *sub, const char *line, size_t len, uint64_t seq)
{
	sub_report_dropped(sub);
	if (!sub->dropped && sub_append(sub, line, len, false) == 0)
		return;
	sub->dropped++;
	sub->dropped_seq = seq;
	sub->ev->dropped_total++;
}

/* Write what the socket takes; -errno when the subscriber is gone. */
static int sub_flush(struct events_sub *sub)
{
	while (sub->off < sub->len) {
		ssize_t n = send(sub->fd, sub->buf + sub->off, sub->len - sub->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		sub->off += (size_t)n;
	}
	sub->off = sub->len = 0;
	sub_report_dropped(sub);
	if (sub->len == 0)
		sd_event_source_set_io_events(sub->src, EPOLLIN);
	return 0;
}

/* Clients send nothing: anything read is discarded; EOF or an error closes. */
static int sub_drain_input(struct events_sub *sub)
{
	char junk[512];
	ssize_t n = recv(sub->fd, junk, sizeof(junk), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return n > 0 ? 0 : -EPIPE;
}

static int on_sub_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct events_sub *sub = userdata;
	int r = 0;

	(void)src;
	(void)fd;
	if (revents & EPOLLIN)
		r = sub_drain_input(sub);
	if (r == 0 && (revents & EPOLLOUT))
		r = sub_flush(sub);
	if (r == 0 && (revents & (EPOLLERR | EPOLLHUP)))
		r = -EPIPE;
	if (r < 0)
		sub_close(sub);
	return 0;
}

/* ---- event lines -------------------------------------------------------- */

/* An event object: type, seq and t first (set by broadcast()), then its fields. */
static cJSON *event_new(const char *type)
{
	cJSON *o = cJSON_CreateObject();

	if (o && (!cJSON_AddStringToObject(o, "type", type) ||
		  !cJSON_AddNumberToObject(o, "seq", 0) || !cJSON_AddNumberToObject(o, "t", 0))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Stamp o with its seq and t, and queue it for every subscriber. */
static void broadcast(struct events *ev, cJSON *o)
{
	_cleanup_free_ char *doc = NULL;
	uint64_t seq;
	size_t len;

	if (!ev->subs) {
		/* Nobody listens: the next hello carries the state. */
		cJSON_Delete(o);
		return;
	}
	seq = ++ev->seq;
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "seq"), (double)seq);
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "t"), (double)db_now_ms());
	doc = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!doc)
		return;
	len = strlen(doc);
	doc[len] = '\n'; /* cJSON's terminator becomes the line's end */
	for (struct events_sub *sub = ev->subs, *next; sub; sub = next) {
		next = sub->next;
		sub_send(sub, doc, len + 1, seq);
	}
}

static void add_str_or_null(cJSON *o, const char *key, const char *v)
{
	if (v && *v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static void port_live_copy(const struct port *p, struct port_live *l)
{
	pthread_mutex_lock((pthread_mutex_t *)&p->live_lock);
	*l = p->live;
	pthread_mutex_unlock((pthread_mutex_t *)&p->live_lock);
}

static void send_port(struct events *ev, const struct port *p)
{
	cJSON *o = event_new("port");
	struct port_live l;

	if (!o)
		return;
	port_live_copy(p, &l);
	cJSON_AddStringToObject(o, "port", p->path);
	add_str_or_null(o, "slot", p->slot);
	cJSON_AddStringToObject(o, "state", port_state_name(p->state));
	cJSON_AddStringToObject(o, "recipe", p->recipe ? p->recipe->name : "");
	cJSON_AddStringToObject(o, "serial", p->job ? l.serial : p->last_serial);
	broadcast(ev, o);
}

static void send_stage(struct events *ev, const struct port *p, unsigned idx, const char *name)
{
	cJSON *o = event_new("stage");

	if (!o)
		return;
	cJSON_AddStringToObject(o, "port", p->path);
	cJSON_AddNumberToObject(o, "unit", (double)p->unit_id);
	cJSON_AddStringToObject(o, "stage", name);
	cJSON_AddNumberToObject(o, "index", idx);
	cJSON_AddNumberToObject(o, "stages", p->recipe ? (double)p->recipe->n_stages : 0);
	broadcast(ev, o);
}

static const char *recipe_stage_name(const struct port *p, unsigned idx)
{
	const struct recipe_stage *st;

	if (!p->recipe || idx >= p->recipe->n_stages)
		return "";
	st = &p->recipe->stages[idx];
	return st->label ? st->label : recipe_op_name(st->op);
}

/*
 * The job's stage now (idx, name) against the last one sent.  Stages the
 * loop did not see run (shorter than its wake-ups) are sent first, in
 * order, by their names in the recipe.
 */
static void sync_stage(struct events *ev, struct events_port *ep, const struct port_live *l)
{
	const struct port *p = ep->p;

	if (!l->stage[0])
		return;
	if (ep->stage[0] && ep->stage_idx == l->stage_idx && !strcmp(ep->stage, l->stage))
		return;
	for (unsigned i = ep->stage[0] ? ep->stage_idx + 1 : 0; i < l->stage_idx; i++)
		send_stage(ev, p, i, recipe_stage_name(p, i));
	send_stage(ev, p, l->stage_idx, l->stage);
	ep->stage_idx = l->stage_idx;
	snprintf(ep->stage, sizeof(ep->stage), "%s", l->stage);
}

static void sync_progress(struct events *ev, struct events_port *ep, uint64_t now)
{
	struct port *p = (struct port *)ep->p;
	const struct port_progress *g = &p->prog;
	cJSON *o;

	if (now - ep->prog_ms < EVENTS_PROGRESS_MS)
		return;
	port_progress_update(p, now);
	if (g->done == ep->prog_done && g->total == ep->prog_total &&
	    !strcmp(g->phase, ep->prog_phase))
		return;
	o = event_new("progress");
	if (!o)
		return;
	ep->prog_ms = now;
	ep->prog_done = g->done;
	ep->prog_total = g->total;
	snprintf(ep->prog_phase, sizeof(ep->prog_phase), "%s", g->phase);
	cJSON_AddStringToObject(o, "port", p->path);
	cJSON_AddNumberToObject(o, "unit", (double)p->unit_id);
	cJSON_AddStringToObject(o, "phase", g->phase);
	cJSON_AddNumberToObject(o, "done", (double)g->done);
	cJSON_AddNumberToObject(o, "total", (double)g->total);
	cJSON_AddNumberToObject(o, "rate_bps", (double)g->rate_bps);
	broadcast(ev, o);
}

/* The tracking entry of port p, made on first sight.  NULL on -ENOMEM. */
static struct events_port *track(struct events *ev, const struct port *p)
{
	struct events_port *n;

	for (size_t i = 0; i < ev->n_ports; i++)
		if (ev->ports[i].p == p)
			return &ev->ports[i];
	n = realloc(ev->ports, (ev->n_ports + 1) * sizeof(*n));
	if (!n)
		return NULL;
	ev->ports = n;
	n[ev->n_ports] = (struct events_port){ .p = p };
	return &n[ev->n_ports++];
}

/* Stage and progress of a running job (its unit id names the job). */
static void sync_job(struct events *ev, struct events_port *ep, uint64_t now)
{
	const struct port *p = ep->p;
	struct port_live l;

	if (ep->unit != p->unit_id) {
		ep->unit = p->unit_id;
		ep->stage[0] = ep->prog_phase[0] = '\0';
		ep->prog_ms = 0;
		ep->prog_done = ep->prog_total = 0;
	}
	port_live_copy(p, &l);
	sync_stage(ev, ep, &l);
	sync_progress(ev, ep, now);
}

static void sync_port(struct events *ev, struct events_port *ep, uint64_t now)
{
	const struct port *p = ep->p;

	if (!ep->sent || ep->state != p->state) {
		ep->sent = true;
		ep->state = p->state;
		send_port(ev, p);
	}
	/* Without subscribers too: one who connects later gets what changes from now on. */
	if (p->job)
		sync_job(ev, ep, now);
}

/* After every dispatched event: send what changed on the ports. */
static int on_post(sd_event_source *src, void *userdata)
{
	struct events *ev = userdata;
	struct station *s = ev->s;
	uint64_t now = mono_ms();

	(void)src;
	for (size_t i = 0; i < s->ports.n; i++) {
		struct events_port *ep = track(ev, s->ports.v[i]);

		if (ep)
			sync_port(ev, ep, now);
	}
	return 0;
}

/* While anyone listens: wake the loop so on_post() sees job threads' stages and progress. */
static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	(void)userdata;
	(void)usec;
	sd_event_source_set_time_relative(src, EVENTS_PROGRESS_MS * 1000ull);
	return 0;
}

/* ---- the unit event ------------------------------------------------------- */

struct unit_copy {
	bool found;
	char serial[128], chip_uid[128], recipe[128], result[16], failed_stage[64], error[256];
	int64_t started_at, finished_at;
};

static void copy_str(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%s", v ? v : "");
}

static int copy_unit(const struct db_unit_row *row, void *userdata)
{
	struct unit_copy *u = userdata;

	u->found = true;
	copy_str(u->serial, sizeof(u->serial), row->serial);
	copy_str(u->chip_uid, sizeof(u->chip_uid), row->chip_uid);
	copy_str(u->recipe, sizeof(u->recipe), row->recipe);
	copy_str(u->result, sizeof(u->result), row->result);
	copy_str(u->failed_stage, sizeof(u->failed_stage), row->failed_stage);
	copy_str(u->error, sizeof(u->error), row->error);
	u->started_at = row->started_at;
	u->finished_at = row->finished_at;
	return 0;
}

/*
 * The unit as its row says (one read by id); a pending unit's row still
 * says 'running': its result is the job's and its end the pending record's.
 */
static void read_unit(struct events *ev, struct port *p, const struct port_live *l, bool pending,
		      struct unit_copy *u)
{
	struct station *s = ev->s;
	enum db_result res;
	struct err e = { 0 };
	int64_t at;

	pthread_mutex_lock(&s->db_lock);
	if (db_query_unit(s->db, p->unit_id, copy_unit, NULL, NULL, u, &e) < 0)
		log_msg(LOG_WARNING, "Event stream: cannot read unit %lld: %s",
			(long long)p->unit_id, e.msg);
	pthread_mutex_unlock(&s->db_lock);
	if (u->found && !pending)
		return;
	copy_str(u->result, sizeof(u->result), job_result_name(l->result));
	copy_str(u->failed_stage, sizeof(u->failed_stage), l->failed_stage);
	copy_str(u->error, sizeof(u->error), l->error);
	if (!u->serial[0])
		copy_str(u->serial, sizeof(u->serial), l->serial);
	if (!u->recipe[0] && p->recipe)
		copy_str(u->recipe, sizeof(u->recipe), p->recipe->name);
	u->finished_at = db_now_ms();
	if (s->pending && db_pending_finish(s->pending, p->unit_id, &res, &at) > 0)
		u->finished_at = at;
}

void events_unit(struct events *ev, struct port *p, const struct port_live *live, bool pending)
{
	struct unit_copy u = { 0 };
	struct events_port *ep;
	cJSON *o, *unit;

	if (!ev || !ev->subs)
		return;
	/* Stages it ran since the loop last looked come first. */
	ep = track(ev, p);
	if (ep)
		sync_job(ev, ep, mono_ms());
	read_unit(ev, p, live, pending, &u);
	o = event_new("unit");
	if (!o)
		return;
	cJSON_AddStringToObject(o, "port", p->path);
	unit = cJSON_AddObjectToObject(o, "unit");
	if (unit) {
		cJSON_AddNumberToObject(unit, "id", (double)p->unit_id);
		cJSON_AddStringToObject(unit, "serial", u.serial);
		add_str_or_null(unit, "chip_uid", u.chip_uid);
		cJSON_AddStringToObject(unit, "recipe", u.recipe);
		cJSON_AddStringToObject(unit, "result", u.result);
		add_str_or_null(unit, "failed_stage", u.failed_stage);
		add_str_or_null(unit, "error", u.error);
		add_str_or_null(unit, "slot", p->slot);
		cJSON_AddNumberToObject(unit, "started_at", (double)u.started_at);
		cJSON_AddNumberToObject(unit, "finished_at", (double)u.finished_at);
		cJSON_AddBoolToObject(unit, "pending", pending);
	}
	broadcast(ev, o);
}

/* ---- status and connections ---------------------------------------------- */

void events_add_status(struct events *ev, cJSON *root)
{
	cJSON *o = cJSON_AddObjectToObject(root, "events");

	if (!o)
		return;
	cJSON_AddNumberToObject(o, "subscribers", ev ? ev->n_subs : 0);
	cJSON_AddNumberToObject(o, "dropped", ev ? (double)ev->dropped_total : 0);
}

/* The first line: where the stream starts (seq) and the whole state then. */
static char *hello_line(struct events *ev)
{
	cJSON *o = cJSON_CreateObject();
	char *status = control_status_json(ev->s), *doc = NULL;

	if (o && status) {
		cJSON_AddStringToObject(o, "type", "hello");
		cJSON_AddNumberToObject(o, "seq", (double)ev->seq);
		cJSON_AddStringToObject(o, "station", ev->s->cfg.station);
		cJSON_AddStringToObject(o, "version", FLASHD_VERSION);
		cJSON_AddItemToObject(o, "status", cJSON_CreateRaw(status));
		doc = cJSON_PrintUnformatted(o);
	}
	free(status);
	cJSON_Delete(o);
	return doc;
}

static int sub_new(struct events *ev, int fd)
{
	struct events_sub *sub = calloc(1, sizeof(*sub));
	_cleanup_free_ char *hello = NULL;
	size_t len;
	int r;

	if (!sub)
		return -ENOMEM;
	sub->ev = ev;
	sub->fd = fd;
	r = sd_event_add_io(ev->s->loop, &sub->src, fd, EPOLLIN, on_sub_io, sub);
	if (r < 0) {
		free(sub);
		return r;
	}
	/* Send what changed to the others first: the hello covers it for this one. */
	on_post(NULL, ev);
	sub->next = ev->subs;
	ev->subs = sub;
	ev->n_subs++;
	hello = hello_line(ev);
	len = hello ? strlen(hello) : 0;
	if (!hello || (hello[len] = '\n', sub_append(sub, hello, len + 1, true) < 0)) {
		sub_close(sub);
		return -ENOMEM;
	}
	if (ev->n_subs == 1)
		sd_event_source_set_time_relative(ev->timer, EVENTS_PROGRESS_MS * 1000ull);
	sd_event_source_set_enabled(ev->timer, SD_EVENT_ON);
	return 0;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct events *ev = userdata;
	int cfd, sndbuf;

	(void)src;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0;
	if (ev->n_subs >= EVENTS_MAX_SUBSCRIBERS) {
		log_msg(LOG_WARNING, "Event stream: %u subscribers already, refusing one more",
			ev->n_subs);
		close(cfd);
		return 0;
	}
	/* The kernel's buffer in front of the queue no larger than the queue:
	 * what a stalled subscriber can hold stays bounded by events_queue. */
	sndbuf = (int)ev->s->cfg.events_queue;
	(void)setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (sub_new(ev, cfd) < 0) {
		close(cfd);
		log_msg(LOG_WARNING, "Event stream: out of memory for a subscriber, closed");
	}
	return 0;
}

/* Configured, else "events" in the control socket's directory. */
static int events_path(struct station *s, char **ret)
{
	const char *ctl = s->cfg.control_socket, *slash = strrchr(ctl, '/');

	if (s->cfg.events_socket)
		*ret = strdup(s->cfg.events_socket);
	else if (asprintf(ret, "%.*sevents", slash ? (int)(slash - ctl + 1) : 0, ctl) < 0)
		*ret = NULL;
	return *ret ? 0 : -ENOMEM;
}

/* Owner and group only, as the control socket (control_new()). */
static int events_listen(struct events *ev)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int r;

	if (strlen(ev->path) >= sizeof(sa.sun_path)) {
		log_msg(LOG_ERR, "events_socket '%s' is too long", ev->path);
		return -ENAMETOOLONG;
	}
	ev->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ev->fd < 0)
		return -errno;
	strcpy(sa.sun_path, ev->path);
	unlink(ev->path); /* a socket left by a crashed flashd */
	old_mask = umask(0117);
	r = bind(ev->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (r < 0 || listen(ev->fd, 64) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Cannot listen on events socket '%s': %s", ev->path, strerror(-r));
		close(ev->fd);
		ev->fd = -1;
		return r;
	}
	return 0;
}

int events_new(struct station *s, struct events **ret)
{
	struct events *ev = calloc(1, sizeof(*ev));
	int r;

	if (!ev)
		return -ENOMEM;
	ev->s = s;
	ev->fd = -1;
	r = events_path(s, &ev->path);
	if (r < 0)
		goto fail;
	r = events_listen(ev);
	if (r < 0)
		goto fail;
	r = sd_event_add_io(s->loop, &ev->listen_src, ev->fd, EPOLLIN, on_accept, ev);
	if (r < 0)
		goto fail;
	r = sd_event_add_post(s->loop, &ev->post_src, on_post, ev);
	if (r < 0)
		goto fail;
	r = sd_event_add_time_relative(s->loop, &ev->timer, CLOCK_MONOTONIC,
				       EVENTS_PROGRESS_MS * 1000ull, 0, on_timer, ev);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(ev->timer, SD_EVENT_OFF);
	*ret = ev;
	return 0;
fail:
	events_free(ev);
	return r;
}

struct events *events_free(struct events *ev)
{
	if (!ev)
		return NULL;
	while (ev->subs)
		sub_close(ev->subs);
	sd_event_source_disable_unref(ev->listen_src);
	sd_event_source_disable_unref(ev->post_src);
	sd_event_source_disable_unref(ev->timer);
	if (ev->fd >= 0) {
		close(ev->fd);
		unlink(ev->path);
	}
	free(ev->path);
	free(ev->ports);
	free(ev);
	return NULL;
}
