/*
 * This file implements the port registry (daemon/ports.h) and the port's
 * live block as its job reports into it (port_job_observer()): job threads
 * write under live_lock and wake the loop, which reads a copy.
 */
#include "daemon/ports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/port-progress.h"

const char *port_state_name(enum port_state s)
{
	switch (s) {
	case PORT_EMPTY:
		return "empty";
	case PORT_IDLE:
		return "idle";
	case PORT_QUEUED:
		return "queued";
	case PORT_FLASHING:
		return "flashing";
	case PORT_AWAITING:
		return "awaiting";
	case PORT_DONE:
		return "done";
	}
	return "?";
}

struct port *ports_find(const struct ports *ps, const char *path)
{
	for (size_t i = 0; i < ps->n; i++)
		if (!strcmp(ps->v[i]->path, path))
			return ps->v[i];
	return NULL;
}

static int port_cmp(const void *a, const void *b)
{
	const struct port *pa = *(struct port *const *)a, *pb = *(struct port *const *)b;

	/* Sort like operators read hubs: by bus, then port numbers. */
	return strverscmp(pa->path, pb->path);
}

struct port *ports_get(struct ports *ps, const char *path, const char *slot, int wake_fd)
{
	struct port *p = ports_find(ps, path), **v;

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	v = realloc(ps->v, (ps->n + 1) * sizeof(*v));
	if (!p || !v) {
		free(p);
		if (v)
			ps->v = v;
		return NULL;
	}
	ps->v = v;
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->slot = slot;
	p->wake_fd = wake_fd;
	pthread_mutex_init(&p->live_lock, NULL);
	ps->v[ps->n++] = p;
	qsort(ps->v, ps->n, sizeof(*ps->v), port_cmp);
	return p;
}

void ports_free(struct ports *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		pthread_mutex_destroy(&ps->v[i]->live_lock);
		free(ps->v[i]);
	}
	free(ps->v);
	*ps = (struct ports){ 0 };
}

/* ---- the job's live reports (job threads) --------------------------------- */

static uint64_t port_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake_loop(struct port *p)
{
	uint64_t one = 1;

	if (write(p->wake_fd, &one, sizeof(one)) != sizeof(one))
		log_msg(LOG_WARNING, "Cannot wake the main loop for port '%s', ignoring", p->path);
}

static void live_stage(void *ud, unsigned idx, const char *name)
{
	struct port *p = ud;

	pthread_mutex_lock(&p->live_lock);
	port_progress_phase_end(&p->live, port_now_ms());
	snprintf(p->live.stage, sizeof(p->live.stage), "%s", name);
	p->live.stage_idx = idx;
	p->live.done = p->live.total = 0;
	p->live.phase[0] = '\0';
	p->live.est_ms = 0;
	p->live.awaiting = false;
	pthread_mutex_unlock(&p->live_lock);
}

static void live_progress(void *ud, uint64_t done, uint64_t total)
{
	struct port *p = ud;

	pthread_mutex_lock(&p->live_lock);
	p->live.done = done;
	p->live.total = total;
	pthread_mutex_unlock(&p->live_lock);
}

static void live_phase(void *ud, const char *phase, uint64_t done, uint64_t total, uint64_t est_ms)
{
	struct port *p = ud;
	uint64_t now = port_now_ms();

	pthread_mutex_lock(&p->live_lock);
	if (strcmp(p->live.phase, phase) || done < p->live.done)
		port_progress_phase_end(&p->live, now);
	snprintf(p->live.phase, sizeof(p->live.phase), "%s", phase);
	p->live.done = done;
	p->live.total = total;
	p->live.est_ms = est_ms;
	p->live.phase_ms = now;
	pthread_mutex_unlock(&p->live_lock);
}

static void live_awaiting(void *ud, uint16_t vid, uint16_t pid)
{
	struct port *p = ud;

	(void)vid;
	(void)pid;
	pthread_mutex_lock(&p->live_lock);
	p->live.awaiting = true;
	pthread_mutex_unlock(&p->live_lock);
	wake_loop(p); /* the port shows as awaiting */
}

/* A stage started: the loop arms its deadline timer (a job thread cannot touch sd-event). */
static void live_deadline(void *ud, uint64_t deadline_ms)
{
	struct port *p = ud;

	pthread_mutex_lock(&p->live_lock);
	p->live.deadline_ms = deadline_ms;
	p->live.new_deadline = true;
	pthread_mutex_unlock(&p->live_lock);
	wake_loop(p);
}

static void live_identity(void *ud, const char *serial)
{
	struct port *p = ud;

	pthread_mutex_lock(&p->live_lock);
	snprintf(p->live.serial, sizeof(p->live.serial), "%s", serial);
	pthread_mutex_unlock(&p->live_lock);
}

/* Called on the job thread as its very last action: hand over to the loop. */
static void live_done(void *ud, enum job_result result, const char *failed_stage, const char *error)
{
	struct port *p = ud;
	uint64_t one = 1;

	pthread_mutex_lock(&p->live_lock);
	p->live.finished = true;
	p->live.result = result;
	snprintf(p->live.failed_stage, sizeof(p->live.failed_stage), "%s",
		 failed_stage ? failed_stage : "");
	snprintf(p->live.error, sizeof(p->live.error), "%s", error ? error : "");
	pthread_mutex_unlock(&p->live_lock);
	/* An eventfd write of 1 cannot fail short; a full counter (2^64) cannot happen. */
	if (write(p->wake_fd, &one, sizeof(one)) != sizeof(one))
		log_msg(LOG_WARNING, "Cannot wake the main loop for port '%s', ignoring", p->path);
}

struct job_observer port_job_observer(struct port *p)
{
	return (struct job_observer){ .userdata = p,
				      .stage = live_stage,
				      .progress = live_progress,
				      .phase = live_phase,
				      .awaiting = live_awaiting,
				      .identity = live_identity,
				      .done = live_done,
				      .deadline = live_deadline };
}
