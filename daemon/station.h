/*
 * The daemon context: one struct station holds the sd-event loop, the udev
 * hotplug source, the port registry, the recipe set, the database, the
 * libusb context, the shared image cache and the control socket.  Callbacks
 * get it from userdata; nothing below daemon/ ever sees it (style.md §2).
 *
 * Flow: hotplug add -> port -> recipe match -> job (worker thread) ->
 * engine -> database.  Jobs report through their port's `live` block and
 * wake the loop through an eventfd when they end; the loop reaps them,
 * updates STATUS= and starts queued ports.
 *
 * Jobs run on worker threads (one per board) doing blocking libusb I/O:
 * each engine is a straight sequence of transfers and waits, which reads
 * and tests best as plain code, and a thread per board keeps one slow board
 * from delaying another without any lock held across USB I/O.  The loop
 * thread never does USB I/O, so the watchdog and hotplug stay responsive.
 */
#ifndef FLASHD_DAEMON_STATION_H
#define FLASHD_DAEMON_STATION_H

#include <libusb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "daemon/config.h"
#include "daemon/pool-watch.h"
#include "daemon/ports.h"
#include "db/db.h"
#include "db/pending.h"
#include "jobs/image.h"
#include "jobs/job.h"
#include "jobs/recipe.h"

struct hotplug;
struct control;
struct events;

/* Most jobs whose rows one commit writes (a hotplug burst is at most 64). */
#define STATION_BURST_MAX 64

/*
 * Recipes load on a thread of their own: hashing a multi-GiB image takes
 * seconds (1 GiB held the loop 4.1 s; ~7 GiB would trip WatchdogSec=30), and
 * the loop must keep pinging the watchdog, answering flashctl and serving
 * boards with the old set meanwhile.  The loop owns every field but set,
 * diags and r, which the thread writes and the loop reads after joining it.
 */
struct recipe_loader {
	const char *dir; /* s->cfg.recipe_dir: fixed while flashd runs */
	pthread_t thread;
	bool running;	    /* a thread was started and not yet joined */
	bool again;	    /* SIGHUP while loading: one more load after this one */
	bool reload;	    /* a SIGHUP load: READY=1 follows RELOADING=1 */
	atomic_bool cancel; /* SIGTERM: give up between image chunks */
	int fd;		    /* eventfd the thread writes when it is done */
	sd_event_source *src;
	struct recipe_set *set;	   /* thread's result */
	struct recipe_diags diags; /* thread's result */
	int r;			   /* thread's result */
};

struct station {
	sd_event *loop;
	struct config cfg;
	char *config_path; /* NULL: defaults only */

	/* recipes */
	struct recipe_set_ref
		*recipes; /* current (NULL until the first load); retired ones live in their jobs */
	unsigned recipe_errors; /* files refused at the last (re)load */
	struct recipe_loader loader;

	/* resources shared with jobs */
	struct db *db;
	int station_lock; /* db_station_lock() fd, -1 when not held */
	pthread_mutex_t db_lock;
	libusb_context *usb;
	struct image_cache *images;
	struct job_env env;
	unsigned deadline_pct;

	/* event sources */
	struct hotplug *hotplug;
	struct control *control;
	struct events *events; /* NULL: the events socket could not be set up */
	/* One-shot timers, armed only while there is something to wait for
	 * (nothing runs while the station is idle): the earliest stage
	 * deadline, local midnight (today's counters), the next database retry
	 * while it is blocked, a STATUS= held back by the rate limit.  The
	 * post source sends STATUS= after any event when its text changed. */
	sd_event_source *deadline_timer, *midnight_timer, *db_timer, *status_timer;
	sd_event_source *post_src;
	char status_sent[384]; /* the last STATUS= text, and when (monotonic ms) */
	uint64_t status_sent_ms;
	sd_event_source *sig_hup, *sig_term, *sig_int;
	sd_event_source *wake_src;
	int wake_fd; /* job threads write here when a job ends */
	sd_event_source *grace_timer;

	struct ports ports;
	unsigned n_jobs;
	/*
	 * Jobs created during a burst of uevents (hotplug_set_burst()) or of
	 * queued boards, not started yet: their rows are written in one commit
	 * when the burst ends, then their threads start.  Counted in n_jobs.
	 */
	unsigned burst_depth;
	size_t n_burst;
	struct station_burst {
		struct port *port;
		const struct recipe *recipe;
	} burst[STATION_BURST_MAX];
	bool stopping;
	bool cancelled;

	/* today's results for STATUS= */
	int64_t day_start_ms;
	unsigned today_pass, today_fail;
	/* Units that ended with their result pending, less pending results
	 * written since (may dip below 0 until the job is reaped). */
	int today_pending;
	/* Unit record writes the database refused (job_env.db_write_errors). */
	atomic_ullong db_write_errors;

	/*
	 * Database not writable (db/pending.h): while db_blocked no job
	 * starts (boards wait QUEUED), records of running jobs are kept in
	 * `pending`, and the loop retries every STATION_DB_RETRY_MS (db_timer).
	 */
	struct db_pending *pending;
	bool db_blocked;
	uint64_t db_retry_ms;  /* monotonic time of the next retry */
	bool recover_deferred; /* 'running' rows recovered after the replay */

	/* identity pools as last read (daemon/pool-watch.h) */
	struct pool_watch pools;
};

struct station_options {
	const char *config_path; /* NULL: CONFIG_DEFAULT_PATH if it exists */
	/* Overrides of the configuration file, NULL when not given. */
	const char *recipe_dir, *database, *control_socket, *station;
	unsigned deadline_pct; /* 0 = 100 */
};

/* Set everything up (config, db + recovery, libusb, hotplug, control
 * socket), start loading the recipes on the loader thread and do the
 * coldplug scan; boards found before the recipes are loaded wait (queued).
 * Errors are logged. */
int station_new(const struct station_options *o, struct station **ret);
/* Run the loop until SIGTERM/SIGINT handling completes; returns exit status. */
int station_run(struct station *s);
struct station *station_free(struct station *s);

/* True while the database does not take writes: no board is started. */
bool station_db_blocked(struct station *s);

/* STATUS= line, e.g. "12 ports: 3 flashing, 1 waiting re-enumeration; today 1,204 pass, 7 fail". */
void station_status_line(struct station *s, char *buf, size_t size);

#endif
