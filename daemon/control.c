/* This file implements the operator control socket (daemon/control.h). */
#include "daemon/control.h"

#include <cjson/cJSON.h>
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
#include "daemon/events.h"
#include "daemon/port-progress.h"
#include "daemon/station.h"

struct control {
	struct station *station;
	int fd;
	sd_event_source *src;
	char *path;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The running phase: done/total of the phase (advanced with time while the
 * device works silently), its rate, and the unit's ETA (null: not known). */
static void add_progress(cJSON *o, struct port *p, bool running, uint64_t now)
{
	const struct port_progress *g = &p->prog;

	if (running)
		port_progress_update(p, now);
	cJSON_AddStringToObject(o, "phase", running ? g->phase : "");
	cJSON_AddNumberToObject(o, "done", running ? (double)g->done : 0);
	cJSON_AddNumberToObject(o, "total", running ? (double)g->total : 0);
	cJSON_AddNumberToObject(o, "rate_bps", running ? (double)g->rate_bps : 0);
	if (running && g->eta_ms >= 0)
		cJSON_AddNumberToObject(o, "eta_ms", (double)g->eta_ms);
	else
		cJSON_AddNullToObject(o, "eta_ms");
}

static void add_port(cJSON *arr, struct station *s, struct port *p, uint64_t now)
{
	cJSON *o = cJSON_CreateObject();
	struct port_live live;
	char id[8];
	bool running = p->job != NULL;

	if (!o)
		return;
	pthread_mutex_lock(&p->live_lock);
	live = p->live;
	pthread_mutex_unlock(&p->live_lock);
	cJSON_AddStringToObject(o, "port", p->path);
	if (p->slot)
		cJSON_AddStringToObject(o, "slot", p->slot);
	else
		cJSON_AddNullToObject(o, "slot");
	cJSON_AddStringToObject(o, "state", port_state_name(p->state));
	snprintf(id, sizeof(id), "%04x", p->dev.vid);
	cJSON_AddStringToObject(o, "vid", id);
	snprintf(id, sizeof(id), "%04x", p->dev.pid);
	cJSON_AddStringToObject(o, "pid", id);
	cJSON_AddStringToObject(o, "serial", running ? live.serial : p->last_serial);
	cJSON_AddStringToObject(o, "recipe", p->recipe ? p->recipe->name : "");
	cJSON_AddStringToObject(o, "stage", running ? live.stage : "");
	cJSON_AddNumberToObject(o, "stage_index", running ? live.stage_idx : 0);
	cJSON_AddNumberToObject(o, "stages", p->recipe ? (double)p->recipe->n_stages : 0);
	add_progress(o, p, running, now);
	cJSON_AddNumberToObject(o, "elapsed_ms", running ? (double)(now - p->started_ms) : 0);
	cJSON_AddNumberToObject(o, "unit", (double)p->unit_id);
	cJSON_AddStringToObject(o, "last_result", p->last_result);
	/* The unit's row lacks records still pending (db/pending.h). */
	cJSON_AddBoolToObject(o, "pending",
			      p->unit_id && s->pending &&
				      db_pending_has_unit(s->pending, p->unit_id));
	cJSON_AddStringToObject(o, "last_error", p->last_error);
	cJSON_AddItemToArray(arr, o);
}

/* Whether the database takes writes, and what waits for it. */
static void add_database(cJSON *root, struct station *s)
{
	cJSON *o = cJSON_AddObjectToObject(root, "database");
	char why[ERR_MSG_MAX] = "";

	if (!o)
		return;
	if (s->pending)
		db_pending_why(s->pending, why, sizeof(why));
	cJSON_AddStringToObject(o, "path", s->cfg.database);
	cJSON_AddBoolToObject(o, "writable", !station_db_blocked(s));
	cJSON_AddNumberToObject(o, "pending_units",
				s->pending ? (double)db_pending_units(s->pending) : 0);
	cJSON_AddNumberToObject(o, "pending_records",
				s->pending ? (double)db_pending_count(s->pending) : 0);
	cJSON_AddStringToObject(o, "error", station_db_blocked(s) ? why : "");
	cJSON_AddNumberToObject(o, "write_errors", (double)atomic_load(&s->db_write_errors));
}

/* The identity pools as last read by the loop (daemon/pool-watch.h). */
static void add_pools(cJSON *root, struct station *s)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "pools");

	for (size_t i = 0; arr && i < s->pools.n; i++) {
		const struct pool_seen *p = &s->pools.v[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return;
		cJSON_AddStringToObject(o, "name", p->name);
		cJSON_AddStringToObject(o, "kind", p->kind);
		cJSON_AddNumberToObject(o, "units_left", (double)p->units_left);
		cJSON_AddNumberToObject(o, "low_water", (double)p->low_water);
		cJSON_AddStringToObject(o, "level", pool_level_name(p->level));
		cJSON_AddItemToArray(arr, o);
	}
}

char *control_status_json(struct station *s)
{
	cJSON *root = cJSON_CreateObject(), *today, *ports;
	uint64_t now = mono_ms();
	char line[384], *out;

	if (!root)
		return NULL;
	station_status_line(s, line, sizeof(line));
	cJSON_AddStringToObject(root, "station", s->cfg.station);
	cJSON_AddStringToObject(root, "version", FLASHD_VERSION);
	cJSON_AddStringToObject(root, "status", line);
	cJSON_AddBoolToObject(root, "stopping", s->stopping);
	cJSON_AddNumberToObject(root, "jobs", s->n_jobs);
	today = cJSON_AddObjectToObject(root, "today");
	if (today) {
		cJSON_AddNumberToObject(today, "pass", s->today_pass);
		cJSON_AddNumberToObject(today, "fail", s->today_fail);
		cJSON_AddNumberToObject(today, "pending",
					s->today_pending > 0 ? s->today_pending : 0);
	}
	add_database(root, s);
	add_pools(root, s);
	events_add_status(s->events, root);
	ports = cJSON_AddArrayToObject(root, "ports");
	for (size_t i = 0; ports && i < s->ports.n; i++)
		add_port(ports, s, s->ports.v[i], now);
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;
	_cleanup_free_ char *doc = NULL;
	size_t len, off = 0;
	int cfd;

	(void)src;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0;
	doc = control_status_json(c->station);
	if (doc) {
		len = strlen(doc);
		/* Non-blocking: a client that does not read loses the rest. */
		while (off < len) {
			ssize_t n = send(cfd, doc + off, len - off, MSG_NOSIGNAL);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
		if (off == len && send(cfd, "\n", 1, MSG_NOSIGNAL) < 0) {
		}
	}
	close(cfd);
	return 0;
}

int control_new(struct station *s, struct control **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = s->cfg.control_socket;
	struct control *c;
	char dir[sizeof(sa.sun_path)], *slash;
	mode_t old_mask;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_msg(LOG_ERR, "control_socket '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->station = s;
	c->path = strdup(path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!c->path || c->fd < 0) {
		r = c->path ? -errno : -ENOMEM;
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755); /* RuntimeDirectory= normally made it already */
	}
	strcpy(sa.sun_path, path);
	unlink(path); /* a socket left by a crashed flashd */
	/*
	 * Owner and group (flashd) only: status names serials and errors.  The
	 * mode is set by the umask at bind(), so no other user can connect in
	 * a window before a chmod.  This runs once at start-up, before any job
	 * thread exists, so changing the process umask briefly is safe.
	 */
	old_mask = umask(0117);
	r = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (r < 0 || listen(c->fd, 16) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Cannot listen on control socket '%s': %s", path, strerror(errno));
		goto fail;
	}
	r = sd_event_add_io(s->loop, &c->src, c->fd, EPOLLIN, on_accept, c);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	control_free(c);
	return r;
}

struct control *control_free(struct control *c)
{
	if (!c)
		return NULL;
	sd_event_source_disable_unref(c->src);
	if (c->fd >= 0) {
		close(c->fd);
		if (c->path)
			unlink(c->path);
	}
	free(c->path);
	free(c);
	return NULL;
}
