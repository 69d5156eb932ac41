/*
 * The port registry: one struct port per physical USB port path
 * ("1-1.2.3"), created when a board first appears there and kept for the
 * daemon's life so operators see every port's last result.  A port has at
 * most one job; a device re-enumerating on the port while the job runs is
 * handed to that job, never to a second one.
 *
 * Threads: the registry and every field outside `live` belong to the loop
 * thread.  `live` is written by the port's job thread (observer callbacks)
 * and read by the loop, under `live_lock`, never across USB I/O.
 */
#ifndef FLASHD_DAEMON_PORTS_H
#define FLASHD_DAEMON_PORTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs/job.h"

enum port_state {
	PORT_EMPTY,    /* no board */
	PORT_IDLE,     /* board present, nothing to do (no recipe, or done) */
	PORT_QUEUED,   /* waiting for a free job slot (max_jobs) */
	PORT_FLASHING, /* a job runs a stage on the board */
	PORT_AWAITING, /* the job waits for the board to re-enumerate */
	PORT_DONE,     /* the job ended; the board is still plugged in */
};

struct recipe_set_ref; /* jobs/recipe.h */

/*
 * What the loop makes of a running job's live progress (port-progress.c)
 * when asked (control status): the current phase's rate, the done count
 * advanced with time while the device works without reporting, and an ETA
 * for the unit, all from the live block's timestamps.  Loop thread.
 */
struct port_progress {
	char phase[16]; /* phase being timed */
	unsigned stage_idx;
	uint64_t start_ms; /* monotonic start of that phase */
	uint64_t done;	   /* done shown: reported, or modelled from est_ms */
	uint64_t total;
	uint64_t rate_bps; /* the phase's bytes per second so far */
	int64_t eta_ms;	   /* time left for the unit, -1: not known yet */
};

struct port_live {
	char stage[64];
	unsigned stage_idx;
	uint64_t done, total;	 /* of the phase */
	char phase[16];		 /* "erase", "transfer", "write", "verify" or "" */
	uint64_t est_ms;	 /* the device works this long without reporting, 0: it reports */
	uint64_t phase_ms;	 /* monotonic: when done/total/est_ms were reported */
	uint64_t phase_start_ms; /* monotonic: when the phase began */
	char serial[128];
	bool awaiting;
	/* The running stage's deadline (monotonic ms, 0: none); new_deadline:
	 * set since the loop last looked (station.c arms its timer). */
	uint64_t deadline_ms;
	bool new_deadline;
	/* Bytes of this unit's finished phases and their time, for the ETA:
	 * added up when a phase ends (port_progress_phase_end()). */
	uint64_t seen_bytes, seen_ms;
	bool finished; /* done reported; the loop reaps the job */
	enum job_result result;
	char failed_stage[64];
	char error[256];
};

struct port {
	char path[64];
	const char *slot; /* from the configuration, may be NULL */
	enum port_state state;
	bool present;
	struct job_device dev; /* the board now (or last) on the port */
	struct job *job;
	struct recipe_set_ref *rs; /* keeps the job's recipe alive across reloads */
	const struct recipe *recipe;
	int64_t unit_id;
	uint64_t started_ms; /* monotonic */
	uint64_t passed_ms;  /* monotonic end of the last unit that passed, 0 if none */
	/* A board that arrived before the first recipe set was in: whether it
	 * is a passed unit back is decided once the set is (station.c). */
	bool arrival_undecided;
	bool arrival_coldplug;
	uint64_t arrival_enumerated_ms; /* monotonic */
	char last_result[16];
	char last_error[256];
	char last_serial[128];
	/* transfer rate, as the last status answer computed it (port-progress.c) */
	uint64_t rate_prev_done, rate_prev_ms, rate_bps;
	struct port_progress prog; /* phase, rate and ETA (port-progress.c) */
	uint64_t deadline_ms;	   /* loop's copy of live.deadline_ms; 0 once enforced */

	int wake_fd; /* the station's eventfd: the job writes 1 when it ends */

	pthread_mutex_t live_lock;
	struct port_live live;
};

struct ports {
	struct port **v;
	size_t n;
};

/* The port for path, created EMPTY if new.  NULL on -ENOMEM. */
struct port *ports_get(struct ports *ps, const char *path, const char *slot, int wake_fd);
struct port *ports_find(const struct ports *ps, const char *path);
void ports_free(struct ports *ps);

const char *port_state_name(enum port_state s);

/*
 * The observer a job on p reports to: its callbacks run on the job's
 * thread, fill p->live under live_lock and wake the loop through
 * p->wake_fd (stage deadlines, awaiting, the end of the job).
 */
struct job_observer port_job_observer(struct port *p);

#endif
