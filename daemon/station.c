/*
 * This file implements the station (daemon/station.h): start-up, the
 * hotplug -> port -> job flow, reaping finished jobs, recipe reload on
 * SIGHUP and the graceful stop on SIGTERM.
 */
#include "daemon/station.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/version.h"
#include "daemon/control.h"
#include "daemon/events.h"
#include "daemon/hotplug.h"
#include "daemon/port-progress.h"
#include "db/pool.h"
#include "db/query.h"
#include "db/station-lock.h"
#include "db/units.h"

/* STATUS= is sent when its text changes, at most once per this many ms. */
#define STATION_STATUS_MIN_MS 250
/* After the grace time, cancelled jobs get this long to write their rows. */
#define STATION_CANCEL_WAIT_MS 10000
/* While the database does not take writes: how often the loop tries again. */
#define STATION_DB_RETRY_MS 2000

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Arm the one-shot timer *src (created on first use) for usec on clock. */
static int timer_arm(struct station *s, sd_event_source **src, clockid_t clock, uint64_t usec,
		     sd_event_time_handler_t cb)
{
	int r;

	if (!*src)
		/* 1 ms accuracy: sd-event's default of 250 ms would make deadlines late. */
		r = sd_event_add_time(s->loop, src, clock, usec, 1000, cb, s);
	else
		r = sd_event_source_set_time(*src, usec);
	if (r >= 0)
		r = sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
	if (r < 0)
		log_msg(LOG_ERR, "Cannot arm a timer of the main loop: %s", strerror(-r));
	return r;
}

static void timer_disarm(sd_event_source *src)
{
	if (src)
		sd_event_source_set_enabled(src, SD_EVENT_OFF);
}

/* ---- recipe sets --------------------------------------------------------- */

/* Log what the loader thread found and, if it loaded a set, make it current. */
static int adopt_recipes(struct station *s, struct recipe_loader *l)
{
	struct recipe_set *set = TAKE_PTR(l->set);
	struct recipe_set_ref *ref;
	int r = l->r;

	for (size_t i = 0; i < l->diags.n; i++)
		log_ev(LOG_ERR, LOG_ID_RECIPE, NULL, "Recipe refused: %s", l->diags.msgs[i]);
	recipe_diags_release(&l->diags);
	if (r < 0) {
		log_msg(LOG_ERR, "Cannot load recipes from '%s': %s", s->cfg.recipe_dir,
			strerror(-r));
		return r;
	}
	ref = recipe_set_ref_new(set);
	if (!ref)
		return -ENOMEM;
	recipe_set_unref(s->recipes);
	s->recipes = ref;
	s->recipe_errors = (unsigned)r;
	for (size_t i = 0; i < set->n; i++)
		log_ev(LOG_INFO, LOG_ID_RECIPE, NULL, "Recipe '%s' loaded from '%s' (%zu stages)",
		       set->recipes[i]->name, set->recipes[i]->path, set->recipes[i]->n_stages);
	log_msg(LOG_INFO, "Recipes from '%s' in use: %zu loaded, %d refused", s->cfg.recipe_dir,
		set->n, r);
	return 0;
}

/* ---- today's counters -------------------------------------------------- */

static int64_t local_midnight_ms(void)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	return (int64_t)mktime(&tm) * 1000;
}

static int count_today_cb(const struct db_stats_row *row, void *ud)
{
	struct station *s = ud;

	s->today_pass += (unsigned)row->pass;
	s->today_fail += (unsigned)(row->fail + row->interrupted);
	return 0;
}

static void refresh_today(struct station *s)
{
	struct db_filter f = { .since = local_midnight_ms() };
	struct err e = { 0 };

	s->day_start_ms = f.since;
	s->today_pass = s->today_fail = 0;
	pthread_mutex_lock(&s->db_lock);
	if (db_query_stats(s->db, DB_STATS_BY_RECIPE, &f, count_today_cb, s, &e) < 0)
		log_msg(LOG_WARNING, "Cannot count today's units: %s, ignoring", e.msg);
	pthread_mutex_unlock(&s->db_lock);
}

/* ---- identity pools (db/pool.h) ------------------------------------------ */

/*
 * Settle the pool values of units that ended without their values settled
 * (a crash during the job or between its two finish calls): after the
 * 'running' rows were made 'interrupted', never before.
 */
static void recover_pools(struct station *s)
{
	struct err e = { 0 };
	int n;

	pthread_mutex_lock(&s->db_lock);
	n = db_pool_recover(s->db, s->cfg.station, &e);
	pthread_mutex_unlock(&s->db_lock);
	if (n < 0)
		log_msg(LOG_ERR, "Cannot settle the pool values of interrupted units: %s", e.msg);
	else if (n > 0)
		log_msg(LOG_WARNING,
			"%d pool value(s) of interrupted units settled (burned, or freed under policy 'reuse' if nothing was written)",
			n);
}

/* Re-read the pools (at start, after each unit): logs a pool that got low. */
static void refresh_pools(struct station *s)
{
	struct err e = { 0 };
	int r;

	pthread_mutex_lock(&s->db_lock);
	r = pool_watch_refresh(&s->pools, s->db, &e);
	pthread_mutex_unlock(&s->db_lock);
	if (r < 0)
		log_msg(LOG_DEBUG, "Cannot read the identity pools: %s, keeping the last view",
			e.msg);
}

/* "; pool serial low: 12 units left" after the status line, if any is low. */
static void status_pools(struct station *s, char *buf, size_t size)
{
	size_t len = strlen(buf);

	if (len + 2 >= size)
		return;
	pool_watch_status(&s->pools, buf + len + 2, size - len - 2);
	if (buf[len + 2])
		memcpy(buf + len, "; ", 2);
}

/* CLOCK_REALTIME µs of the next local midnight (mktime() handles DST and month ends). */
static uint64_t next_midnight_usec(void)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	tm.tm_mday++;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (uint64_t)mktime(&tm) * 1000000ull;
}

static int on_midnight(sd_event_source *src, uint64_t usec, void *userdata);

static int arm_midnight(struct station *s)
{
	return timer_arm(s, &s->midnight_timer, CLOCK_REALTIME, next_midnight_usec(), on_midnight);
}

/* A new day: today's counters start again. */
static int on_midnight(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct station *s = userdata;

	(void)src;
	(void)usec;
	if (local_midnight_ms() != s->day_start_ms)
		refresh_today(s);
	arm_midnight(s);
	return 0;
}

/* ---- database not writable (db/pending.h) ---------------------------- */

static void start_queued(struct station *s);
static void db_watch(struct station *s);

bool station_db_blocked(struct station *s)
{
	db_watch(s);
	return s->db_blocked;
}

static int on_db_retry(sd_event_source *src, uint64_t usec, void *userdata);

/* The retry timer runs only while the database is blocked. */
static void arm_db_retry(struct station *s)
{
	if (s->loop)
		timer_arm(s, &s->db_timer, CLOCK_MONOTONIC, s->db_retry_ms * 1000ull, on_db_retry);
}

/* First failure of an episode: say so once, stop taking boards. */
static void db_enter_blocked(struct station *s)
{
	char why[ERR_MSG_MAX], jerr[ERR_MSG_MAX];

	if (s->db_blocked)
		return;
	s->db_blocked = true;
	s->db_retry_ms = mono_ms() + STATION_DB_RETRY_MS;
	arm_db_retry(s);
	db_pending_why(s->pending, why, sizeof(why));
	log_ev(LOG_ERR, LOG_ID_DB_UNWRITABLE, NULL,
	       "Database '%s' not writable (%s): not taking boards; running jobs go on, their results are kept pending and written when it takes writes again",
	       s->cfg.database, why);
	db_pending_journal_error(s->pending, jerr, sizeof(jerr));
	if (jerr[0])
		log_ev(LOG_ERR, LOG_ID_DB_UNWRITABLE, NULL,
		       "Pending results are kept in memory only (%s): they are lost if flashd stops before the database takes writes",
		       jerr);
}

/* Write what is pending; on success the station takes boards again. */
static int db_try_replay(struct station *s)
{
	struct db_pending_replay_stats st;
	struct err e = { 0 };
	size_t units = db_pending_units(s->pending);
	int r, n = 0;

	pthread_mutex_lock(&s->db_lock);
	r = db_pending_replay(s->pending, s->db, &st, &e);
	if (r >= 0 && s->recover_deferred)
		n = db_recover_interrupted(s->db, s->cfg.station, &e);
	pthread_mutex_unlock(&s->db_lock);
	if (r < 0) {
		log_msg(LOG_DEBUG, "Database still not writable: %s", e.msg);
		return r;
	}
	if (n < 0)
		log_msg(LOG_ERR, "Cannot recover interrupted units: %s", e.msg);
	else if (n > 0)
		log_msg(LOG_WARNING,
			"%d unit(s) left running by a previous flashd are now 'interrupted'", n);
	if (s->recover_deferred)
		recover_pools(s);
	s->recover_deferred = false;
	if (st.dropped)
		log_ev(LOG_ERR, LOG_ID_DB_WRITABLE, NULL,
		       "%u pending record(s) refused by the database and lost, the last: %s",
		       st.dropped, st.last_drop);
	s->db_blocked = false;
	s->today_pass += st.finished[DB_RESULT_PASS];
	s->today_fail += st.finished[DB_RESULT_FAIL] + st.finished[DB_RESULT_INTERRUPTED];
	s->today_pending -= (int)(st.finished[DB_RESULT_PASS] + st.finished[DB_RESULT_FAIL] +
				  st.finished[DB_RESULT_INTERRUPTED] + st.finish_dropped);
	log_ev(LOG_NOTICE, LOG_ID_DB_WRITABLE, NULL,
	       "Database '%s' writable again: %u pending record(s) of %zu unit(s) written; taking boards",
	       s->cfg.database, st.written, units);
	return 0;
}

/*
 * Notice a failure a job reported (its records went to the pending queue):
 * called before every decision that depends on it (a board to start, the
 * status), and on every wake-up from a job.
 */
static void db_watch(struct station *s)
{
	if (!s->db_blocked && db_pending_blocked(s->pending))
		db_enter_blocked(s);
}

/* While blocked: try to write what is pending, every STATION_DB_RETRY_MS. */
static int on_db_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct station *s = userdata;

	(void)src;
	(void)usec;
	if (!s->db_blocked)
		return 0;
	s->db_retry_ms = mono_ms() + STATION_DB_RETRY_MS;
	if (db_try_replay(s) >= 0) {
		if (!s->stopping)
			start_queued(s);
		return 0;
	}
	arm_db_retry(s);
	return 0;
}

/*
 * A unit ended: counted as pass or fail only once its result is in the
 * database (a pending one is counted by db_try_replay() when written).
 */
static void count_result(struct station *s, bool pending, enum job_result result)
{
	if (pending)
		s->today_pending++;
	else if (result == JOB_PASS)
		s->today_pass++;
	else
		s->today_fail++;
}

/* Default journal: next to the control socket, in the runtime directory. */
static int pending_path(struct station *s, char **ret)
{
	const char *slash;

	if (s->cfg.pending_journal) {
		*ret = strdup(s->cfg.pending_journal);
		return *ret ? 0 : -ENOMEM;
	}
	slash = strrchr(s->cfg.control_socket, '/');
	if (asprintf(ret, "%.*spending.journal",
		     slash ? (int)(slash - s->cfg.control_socket + 1) : 0,
		     s->cfg.control_socket) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * Open the pending queue; records a previous flashd left are written now if
 * the database takes them.  If not, the station starts blocked, and rows
 * left 'running' are recovered only after those records are written (a
 * pending finish must not find its unit already 'interrupted').
 */
static int setup_pending(struct station *s)
{
	_cleanup_free_ char *path = NULL;
	struct err e = { 0 };
	int r;

	r = pending_path(s, &path);
	if (r < 0)
		return r;
	r = db_pending_new(path, s->cfg.database, &s->pending, &e);
	if (r < 0) {
		log_msg(LOG_ERR, "Cannot open the pending journal: %s", e.msg);
		return r;
	}
	s->env.pending = s->pending;
	if (!db_pending_blocked(s->pending))
		return 0;
	log_msg(LOG_WARNING,
		"%zu result record(s) of %zu unit(s) left pending in '%s' by a previous flashd: writing them",
		db_pending_count(s->pending), db_pending_units(s->pending), path);
	s->recover_deferred = true;
	s->today_pending = (int)db_pending_finishes(s->pending);
	if (db_try_replay(s) < 0)
		db_enter_blocked(s);
	return 0;
}

/* ---- status ----------------------------------------------------------- */

static void thousands(unsigned v, char *buf, size_t size)
{
	if (v >= 1000000)
		snprintf(buf, size, "%u,%03u,%03u", v / 1000000, v / 1000 % 1000, v % 1000);
	else if (v >= 1000)
		snprintf(buf, size, "%u,%03u", v / 1000, v % 1000);
	else
		snprintf(buf, size, "%u", v);
}

void station_status_line(struct station *s, char *buf, size_t size)
{
	unsigned flashing = 0, awaiting = 0, queued = 0, present = 0;
	char pass[16], fail[16], db[96] = "", pend[48] = "";

	db_watch(s);
	for (size_t i = 0; i < s->ports.n; i++) {
		struct port *p = s->ports.v[i];

		present += p->present || p->job;
		flashing += p->state == PORT_FLASHING;
		awaiting += p->state == PORT_AWAITING;
		queued += p->state == PORT_QUEUED;
	}
	thousands(s->today_pass, pass, sizeof(pass));
	thousands(s->today_fail, fail, sizeof(fail));
	if (s->db_blocked)
		snprintf(db, sizeof(db),
			 "Database not writable: %zu result(s) pending, not taking boards; ",
			 s->pending ? db_pending_units(s->pending) : 0);
	if (s->today_pending > 0)
		snprintf(pend, sizeof(pend), ", %d not recorded yet", s->today_pending);
	snprintf(
		buf, size,
		"%s%s%s%zu ports: %u flashing, %u waiting re-enumeration%s%.0u%s; today %s pass, %s fail%s%s",
		s->loader.running ? "Loading recipes…; " : "", s->stopping ? "stopping: " : "", db,
		s->ports.n, flashing, awaiting, queued ? ", " : "", queued, queued ? " queued" : "",
		pass, fail, pend, s->recipe_errors ? " (recipe errors: see journal)" : "");
	status_pools(s, buf, size);
	(void)present;
}

static int on_status_timer(sd_event_source *src, uint64_t usec, void *userdata);

/* Send STATUS= if its text changed; within STATION_STATUS_MIN_MS of the last, later. */
static void notify_status(struct station *s)
{
	char line[sizeof(s->status_sent)];
	uint64_t now = mono_ms(), next = s->status_sent_ms + STATION_STATUS_MIN_MS;

	station_status_line(s, line, sizeof(line));
	if (s->status_sent_ms && strcmp(line, s->status_sent) == 0)
		return;
	if (s->status_sent_ms && now < next) {
		timer_arm(s, &s->status_timer, CLOCK_MONOTONIC, next * 1000ull, on_status_timer);
		return;
	}
	sd_notifyf(0, "STATUS=%s", line);
	snprintf(s->status_sent, sizeof(s->status_sent), "%s", line);
	s->status_sent_ms = now;
}

static int on_status_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	(void)src;
	(void)usec;
	notify_status(userdata);
	return 0;
}

/* After any event the loop handled: the status may have changed. */
static int on_post(sd_event_source *src, void *userdata)
{
	(void)src;
	notify_status(userdata);
	return 0;
}

/* ---- jobs ---------------------------------------------------------------- */

/* Job thread: the loop has news (a deadline, a state); eventfd_write() of 1 cannot fail short. */
static struct log_ctx port_ctx(const struct port *p, const char *result)
{
	return (struct log_ctx){ .port = p->path,
				 .slot = p->slot,
				 .unit = p->unit_id,
				 .serial = p->last_serial[0] ? p->last_serial : NULL,
				 .result = result };
}

/*
 * After job_start() (or job_begin_units() + job_run()) returned rr for the
 * job on p: a failure is logged and leaves the port DONE with the reason
 * (QUEUED, untouched, when no row could be written to a full disk); if the
 * unit row was already written, the job layer finalised it.
 */
static void job_started(struct station *s, struct port *p, const struct recipe *r, int rr,
			const struct err *ep)
{
	struct err e = *ep;
	struct log_ctx c;

	if (rr < 0 && p->job && !job_unit_id(p->job) && db_error_is_storage(rr)) {
		/* No row, so the board was not touched: it waits for the database. */
		c = port_ctx(p, NULL);
		log_ev(LOG_WARNING, LOG_ID_BOARD_ARRIVED, &c,
		       "Not starting recipe '%s' on port '%s': %s; the board waits until the database takes writes",
		       r->name, p->path, e.msg);
		p->job = job_free(p->job);
		p->state = PORT_QUEUED;
		atomic_fetch_add(&s->db_write_errors, 1); /* the 'running' row */
		db_pending_block(s->pending, e.msg);
		db_enter_blocked(s);
		return;
	}
	if (rr < 0) {
		c = port_ctx(p, "fail");
		log_ev(LOG_ERR, LOG_ID_JOB_FINISHED, &c,
		       "Cannot start recipe '%s' on port '%s': %s", r->name, p->path, e.msg);
		p->unit_id = p->job ? job_unit_id(p->job) : 0;
		p->job = job_free(p->job);
		snprintf(p->last_result, sizeof(p->last_result), "fail");
		snprintf(p->last_error, sizeof(p->last_error), "%s", e.msg);
		p->state = PORT_DONE;
		if (p->unit_id)
			s->today_fail++;
		return;
	}
	p->rs = recipe_set_ref(s->recipes);
	p->recipe = r;
	p->unit_id = job_unit_id(p->job);
	p->started_ms = mono_ms();
	p->rate_prev_done = 0;
	p->rate_prev_ms = p->started_ms;
	p->rate_bps = 0;
	p->deadline_ms = 0;
	port_progress_start(p, p->started_ms);
	p->last_result[0] = '\0';
	p->last_error[0] = '\0';
	p->state = PORT_FLASHING;
	s->n_jobs++;
}

/*
 * Start the jobs of the burst: all their unit rows in one commit (one
 * fsync for a burst of boards, not one each, which kept the last board of
 * 32 waiting behind 31 commits), then their threads, only once the commit
 * succeeded: no board is touched unless its row is durable.  A failed
 * commit fails every job of the burst as a failed job_start() would.
 */
static void start_burst(struct station *s)
{
	struct job *jobs[STATION_BURST_MAX];
	size_t n = s->n_burst;
	struct err e = { 0 };
	int rr;

	if (!n)
		return;
	s->n_burst = 0;
	s->n_jobs -= (unsigned)n; /* job_started() counts the ones that run */
	for (size_t i = 0; i < n; i++)
		jobs[i] = s->burst[i].port->job;
	rr = job_begin_units(jobs, n, &e);
	if (rr >= 0)
		log_msg(LOG_DEBUG, "Unit rows of %zu board(s) written in one commit", n);
	for (size_t i = 0; i < n; i++) {
		struct err ei = e;
		int ri = rr >= 0 ? job_run(jobs[i], &ei) : rr;

		job_started(s, s->burst[i].port, s->burst[i].recipe, ri, &ei);
	}
}

/* The job on p is created: it starts with the others when the burst ends. */
static void defer_job(struct station *s, struct port *p, const struct recipe *r)
{
	if (s->n_burst == STATION_BURST_MAX)
		start_burst(s);
	s->burst[s->n_burst++] = (struct station_burst){ .port = p, .recipe = r };
	/* Counted now so max_jobs holds; FLASHING keeps start_queued() off it. */
	s->n_jobs++;
	p->state = PORT_FLASHING;
}

static void burst_begin(struct station *s)
{
	s->burst_depth++;
}

static void burst_end(struct station *s)
{
	if (s->burst_depth && --s->burst_depth == 0)
		start_burst(s);
}

static void on_hotplug_burst(void *userdata, bool begin)
{
	if (begin)
		burst_begin(userdata);
	else
		burst_end(userdata);
}

/*
 * Start the recipe on the board now on port p.  Any failure to start is
 * logged and leaves the port DONE with the reason; if the unit row was
 * already written, the job layer finalised it.  Inside a burst the job
 * starts when the burst ends (start_burst()).
 */
static void start_job(struct station *s, struct port *p, const struct recipe *r)
{
	struct job_observer obs = port_job_observer(p);
	struct err e = { 0 };
	int rr;

	pthread_mutex_lock(&p->live_lock);
	p->live = (struct port_live){ 0 };
	snprintf(p->live.serial, sizeof(p->live.serial), "%s", p->dev.usb_serial);
	pthread_mutex_unlock(&p->live_lock);

	rr = job_new(&s->env, r, &p->dev, p->slot, &obs, &p->job);
	if (rr >= 0 && s->burst_depth) {
		defer_job(s, p, r);
		return;
	}
	if (rr >= 0)
		rr = job_start(p->job, &e);
	else
		err_set(&e, rr, "out of memory");
	job_started(s, p, r, rr, &e);
}

/* A board is on port p and the port is free: pick its recipe and start (or queue). */
static void consider_port(struct station *s, struct port *p)
{
	const struct recipe *r = NULL;
	struct err e = { 0 };
	struct log_ctx c = port_ctx(p, NULL);
	int rr;

	if (!s->recipes) {
		/* The first set is still loading: the board waits; the loader
		 * starts queued ports once the set is in (on_recipes_loaded()). */
		p->state = PORT_QUEUED;
		return;
	}
	rr = recipe_set_match(s->recipes->set, p->dev.vid, p->dev.pid, p->dev.bcd, p->path, &r, &e);
	if (rr == -ENOENT) {
		log_ev(LOG_NOTICE, LOG_ID_BOARD_ARRIVED, &c,
		       "No recipe for %04x:%04x (bcdDevice %04x) on port '%s', ignoring",
		       p->dev.vid, p->dev.pid, p->dev.bcd, p->path);
		p->state = PORT_IDLE;
		return;
	}
	if (rr < 0) {
		log_ev(LOG_ERR, LOG_ID_BOARD_ARRIVED, &c, "Not flashing port '%s': %s", p->path,
		       e.msg);
		snprintf(p->last_error, sizeof(p->last_error), "%s", e.msg);
		p->state = PORT_IDLE;
		return;
	}
	if (s->n_jobs >= s->cfg.max_jobs) {
		p->state = PORT_QUEUED;
		return;
	}
	db_watch(s);
	if (s->db_blocked) {
		/* Its row could not be written: the board waits, untouched. */
		if (p->state != PORT_QUEUED)
			log_ev(LOG_NOTICE, LOG_ID_BOARD_ARRIVED, &c,
			       "Board on port '%s' waits: the database does not take writes",
			       p->path);
		p->state = PORT_QUEUED;
		return;
	}
	start_job(s, p, r);
}

static void start_queued(struct station *s)
{
	/* One burst: the boards that waited (coldplugged ones at start, the
	 * database back) get their rows in one commit. */
	burst_begin(s);
	for (size_t i = 0;
	     i < s->ports.n && s->n_jobs < s->cfg.max_jobs && !s->stopping && !s->db_blocked; i++)
		if (s->ports.v[i]->state == PORT_QUEUED)
			consider_port(s, s->ports.v[i]);
	burst_end(s);
}

/* ---- a passed unit coming back ------------------------------------------ */

/* The newest unit on a port, copied out of the query's row. */
struct last_unit {
	int64_t id;
	bool passed;
	int64_t finished_at; /* ms since the epoch, -1 if unknown */
	char recipe[128];
	char serial[128];
};

static int copy_last_unit(const struct db_unit_row *row, void *ud)
{
	struct last_unit *u = ud;

	u->id = row->id;
	u->passed = row->result && !strcmp(row->result, "pass");
	u->finished_at = row->finished_at;
	snprintf(u->recipe, sizeof(u->recipe), "%s", row->recipe ? row->recipe : "");
	snprintf(u->serial, sizeof(u->serial), "%s", row->serial ? row->serial : "");
	return 0;
}

/*
 * A unit whose result could not be written yet (database not writable):
 * its row says 'running', its queued finish record says what happened.
 */
static void pending_finish(struct station *s, struct last_unit *u)
{
	enum db_result result;
	int64_t at;

	if (s->pending && db_pending_finish(s->pending, u->id, &result, &at) > 0) {
		u->passed = result == DB_RESULT_PASS;
		u->finished_at = at;
	}
}

/* One indexed read (units_by_port) on the loop thread. */
static int port_last_unit(struct station *s, const char *port, struct last_unit *u)
{
	struct db_filter f = { .port = port };
	struct err e = { 0 };
	int r;

	*u = (struct last_unit){ 0 };
	pthread_mutex_lock(&s->db_lock);
	r = db_query_units(s->db, &f, true, 1, copy_last_unit, u, &e);
	pthread_mutex_unlock(&s->db_lock);
	if (r < 0)
		log_msg(LOG_WARNING,
			"Cannot read the last unit of port '%s': %s; taking the board for a new one",
			port, e.msg);
	if (r > 0 && !u->passed)
		pending_finish(s, u);
	return r;
}

/*
 * How long ago unit u passed, in ms: this process's monotonic stamp if it
 * reaped u, else u's finished_at (wall clock: the unit may predate this
 * flashd).  Negative if the wall clock went back since.
 */
static int64_t ms_since_pass(const struct port *p, const struct last_unit *u)
{
	if (u->id == p->unit_id && p->passed_ms)
		return (int64_t)(mono_ms() - p->passed_ms);
	return db_now_ms() - u->finished_at;
}

/*
 * How long after unit u passed the board now on p enumerated, in ms
 * (negative: before).  The board enumerated ev->age_ms ago (udev's stamp,
 * what makes a board that sat through a flashd restart known), else now.
 */
static int64_t ms_after_pass(const struct port *p, const struct last_unit *u,
			     const struct hotplug_event *ev)
{
	return ms_since_pass(p, u) - (ev->age_ms > 0 ? ev->age_ms : 0);
}

/*
 * Is the board that arrived on p (no job there) the port's last unit back
 * after its pass, e.g. an i.MX whose boot pins select USB returning to its
 * ROM after fastboot reboot?  Flashing it again would loop, and with a
 * recipe that cannot run twice would turn its 'pass' into a 'fail'.  Yes
 * when that unit passed, the board enumerated no later than rearm_sec after
 * the pass, it matches the same recipe (or none: nothing to flash), and its
 * USB serial does not say it is another board (only comparable when the
 * recipe takes the unit's serial from USB).  Read from the database, so the
 * answer survives a flashd restart.
 */
static bool passed_unit_back(struct station *s, const struct port *p,
			     const struct hotplug_event *ev, struct last_unit *u)
{
	const struct recipe *r = NULL;
	struct err e = { 0 };
	int rr;

	if (!s->recipes)
		return false; /* decided once the set is in: decide_early_arrivals() */
	rr = recipe_set_match(s->recipes->set, ev->vid, ev->pid, ev->bcd, p->path, &r, &e);
	if (rr < 0 && rr != -ENOENT)
		return false; /* consider_port() reports it */
	if (port_last_unit(s, p->path, u) <= 0 || !u->passed || u->finished_at < 0)
		return false;
	/* A pass "in the future": the clock went back, the window means
	 * nothing; flashing again is the side that cannot ship a blank board. */
	if (ms_since_pass(p, u) < 0)
		return false;
	if (ms_after_pass(p, u, ev) > (int64_t)s->cfg.rearm_sec * 1000)
		return false;
	if (r && strcmp(r->name, u->recipe))
		return false;
	if (r && r->serial.source == RECIPE_SERIAL_USB_SERIAL && ev->serial[0] && u->serial[0] &&
	    strcmp(ev->serial, u->serial))
		return false;
	return true;
}

/* Show the unit the board belongs to, as if this flashd had just reaped it. */
static void hold_passed_unit(struct station *s, struct port *p, const struct hotplug_event *ev,
			     const struct last_unit *u)
{
	int64_t since_pass = ms_since_pass(p, u);
	uint64_t now = mono_ms();
	struct log_ctx c;
	char when[160];
	int64_t after;

	if (u->id != p->unit_id) {
		p->unit_id = u->id;
		snprintf(p->last_result, sizeof(p->last_result), "pass");
		p->last_error[0] = '\0';
		snprintf(p->last_serial, sizeof(p->last_serial), "%s", u->serial);
		/* Later arrivals measure the window from the same pass. */
		p->passed_ms = 0;
		if (since_pass >= 0 && (uint64_t)since_pass < now)
			p->passed_ms = now - (uint64_t)since_pass;
	}
	p->state = PORT_DONE;
	c = port_ctx(p, "pass");
	after = ms_after_pass(p, u, ev);
	if (after < 0)
		snprintf(when, sizeof(when), "has been on port '%s' since before unit %lld passed",
			 p->path, (long long)u->id);
	else
		snprintf(when, sizeof(when), "came to port '%s' %lld ms after unit %lld passed",
			 p->path, (long long)after, (long long)u->id);
	log_ev(LOG_NOTICE, LOG_ID_BOARD_ARRIVED, &c,
	       "Board%s %s: taken for that unit, not flashed again (to flash it again, replug it more than rearm_sec, %u s, after the pass)",
	       ev->coldplug ? " present at start" : "", when, s->cfg.rearm_sec);
}

static void on_hotplug(void *userdata, const struct hotplug_event *ev)
{
	struct last_unit last;
	struct station *s = userdata;
	struct port *p;
	struct log_ctx c = { .port = ev->port };

	if (!config_port_allowed(&s->cfg, ev->port)) {
		if (ev->action == HOTPLUG_ADD)
			log_ev(LOG_INFO, LOG_ID_BOARD_ARRIVED, &c,
			       "Board %04x:%04x on port '%s' is outside allow_ports, ignoring",
			       ev->vid, ev->pid, ev->port);
		return;
	}
	p = ports_get(&s->ports, ev->port, config_slot_label(&s->cfg, ev->port), s->wake_fd);
	if (!p) {
		log_msg(LOG_ERR, "Out of memory tracking port '%s'", ev->port);
		return;
	}
	c = port_ctx(p, NULL);
	if (ev->action == HOTPLUG_REMOVE) {
		p->present = false;
		log_ev(LOG_INFO, LOG_ID_BOARD_LEFT, &c, "Board %04x:%04x left port '%s'", ev->vid,
		       ev->pid, ev->port);
		if (p->job)
			job_device_gone(p->job);
		else
			p->state = PORT_EMPTY;
		return;
	}

	p->present = true;
	p->dev = (struct job_device){ .vid = ev->vid,
				      .pid = ev->pid,
				      .bcd = ev->bcd,
				      .busnum = ev->busnum,
				      .devnum = ev->devnum };
	snprintf(p->dev.port, sizeof(p->dev.port), "%s", ev->port);
	snprintf(p->dev.devnode, sizeof(p->dev.devnode), "%s", ev->devnode);
	snprintf(p->dev.usb_serial, sizeof(p->dev.usb_serial), "%s", ev->serial);
	log_ev(LOG_INFO, LOG_ID_BOARD_ARRIVED, &c, "Board %04x:%04x%s%s arrived on port '%s' (%s)",
	       ev->vid, ev->pid, ev->serial[0] ? " serial " : "", ev->serial, ev->port,
	       ev->devnode);
	if (p->job) {
		/* Re-enumeration: the running job gets it; never a second job. */
		job_device_arrived(p->job, &p->dev);
		return;
	}
	if (s->stopping) {
		p->state = PORT_IDLE;
		return;
	}
	p->arrival_undecided = false;
	if (!s->recipes) {
		/* The first set is loading: which recipe the board takes, and so
		 * whether it is a passed unit back, is decided once it is in. */
		uint64_t now = mono_ms();

		p->arrival_undecided = true;
		p->arrival_coldplug = ev->coldplug;
		p->arrival_enumerated_ms =
			now -
			(ev->age_ms > 0 && (uint64_t)ev->age_ms < now ? (uint64_t)ev->age_ms : 0);
		p->state = PORT_QUEUED;
		return;
	}
	/* A unit that just passed and reboots (fastboot reboot, a ROM that
	 * comes back after leave) re-enumerates on its port; so does, to a
	 * restarted flashd, one that sat on its port meanwhile. */
	if (passed_unit_back(s, p, ev, &last)) {
		hold_passed_unit(s, p, ev, &last);
		return;
	}
	consider_port(s, p);
}

/*
 * Boards that arrived while the first recipe set loaded (at start, the
 * coldplugged ones): the passed-unit rule of on_hotplug(), with the time
 * they enumerated, now that their recipe is known.  The others stay queued
 * for start_queued().
 */
static void decide_early_arrivals(struct station *s)
{
	uint64_t now = mono_ms();

	for (size_t i = 0; i < s->ports.n; i++) {
		struct port *p = s->ports.v[i];
		struct hotplug_event ev = { .action = HOTPLUG_ADD };
		struct last_unit last;

		if (!p->arrival_undecided)
			continue;
		p->arrival_undecided = false;
		if (p->job || !p->present || p->state != PORT_QUEUED)
			continue;
		ev.vid = p->dev.vid;
		ev.pid = p->dev.pid;
		ev.bcd = p->dev.bcd;
		ev.coldplug = p->arrival_coldplug;
		ev.age_ms = (int64_t)(now - p->arrival_enumerated_ms);
		snprintf(ev.serial, sizeof(ev.serial), "%s", p->dev.usb_serial);
		snprintf(ev.port, sizeof(ev.port), "%s", p->path);
		if (passed_unit_back(s, p, &ev, &last))
			hold_passed_unit(s, p, &ev, &last);
	}
}

/* A job ended: join it, account for it, free its slot. */
static void reap_port(struct station *s, struct port *p)
{
	struct port_live live;
	struct log_ctx c;
	bool unused, pending;

	pthread_mutex_lock(&p->live_lock);
	live = p->live;
	pthread_mutex_unlock(&p->live_lock);
	job_join(p->job);
	unused = job_has_unused_device(p->job);
	pending = job_result_pending(p->job);
	events_unit(s->events, p, &live, pending);
	p->job = job_free(p->job);
	recipe_set_unref(p->rs);
	p->rs = NULL;
	p->recipe = NULL;
	s->n_jobs--;
	snprintf(p->last_result, sizeof(p->last_result), "%s", job_result_name(live.result));
	snprintf(p->last_error, sizeof(p->last_error), "%s", live.error);
	snprintf(p->last_serial, sizeof(p->last_serial), "%s", live.serial);
	p->passed_ms = live.result == JOB_PASS ? mono_ms() : 0;
	count_result(s, pending, live.result);
	refresh_pools(s);
	p->state = p->present ? PORT_DONE : PORT_EMPTY;
	c = port_ctx(p, p->last_result);
	log_ev(LOG_DEBUG, NULL, &c, "Port '%s' free", p->path);
	/* A board that arrived while a failing job still held the port (the
	 * job took it for a re-enumeration it did not want) is a new board:
	 * flash it.  After a pass, a device back on the port is the unit that
	 * was just flashed (e.g. a ROM after fastboot.reboot): left alone. */
	if (unused && p->present && live.result == JOB_FAIL && !s->stopping) {
		log_ev(LOG_INFO, LOG_ID_BOARD_ARRIVED, &c,
		       "Board %04x:%04x arrived on port '%s' while the failed job ran: starting it",
		       p->dev.vid, p->dev.pid, p->path);
		consider_port(s, p);
	}
}

static int on_deadline(sd_event_source *src, uint64_t usec, void *userdata);

/* Arm the deadline timer for the earliest deadline of a running stage, or stop it. */
static void arm_deadline(struct station *s)
{
	uint64_t next = 0;

	for (size_t i = 0; i < s->ports.n; i++) {
		struct port *p = s->ports.v[i];

		if (p->job && p->deadline_ms && (!next || p->deadline_ms < next))
			next = p->deadline_ms;
	}
	if (next)
		timer_arm(s, &s->deadline_timer, CLOCK_MONOTONIC, next * 1000ull, on_deadline);
	else
		timer_disarm(s->deadline_timer);
}

/* Enforce the deadlines that are due; each is enforced once. */
static int on_deadline(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct station *s = userdata;
	uint64_t now = mono_ms();

	(void)src;
	(void)usec;
	for (size_t i = 0; i < s->ports.n; i++) {
		struct port *p = s->ports.v[i];

		if (!p->job || !p->deadline_ms || p->deadline_ms > now)
			continue;
		job_check_deadline(p->job, now);
		p->deadline_ms = 0;
	}
	arm_deadline(s);
	return 0;
}

/* What a running job told the loop: a new stage deadline, whether it awaits a device. */
static void sync_port(struct port *p)
{
	bool awaiting;

	pthread_mutex_lock(&p->live_lock);
	awaiting = p->live.awaiting;
	if (p->live.new_deadline)
		p->deadline_ms = p->live.deadline_ms;
	p->live.new_deadline = false;
	pthread_mutex_unlock(&p->live_lock);
	if (p->state == PORT_FLASHING || p->state == PORT_AWAITING)
		p->state = awaiting ? PORT_AWAITING : PORT_FLASHING;
}

static int on_wake(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct station *s = userdata;
	uint64_t n;

	(void)src;
	(void)revents;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARNING, "Cannot read the wake-up eventfd: %s, ignoring",
			strerror(errno));
	for (size_t i = 0; i < s->ports.n; i++) {
		struct port *p = s->ports.v[i];
		bool finished;

		if (!p->job)
			continue;
		pthread_mutex_lock(&p->live_lock);
		finished = p->live.finished;
		pthread_mutex_unlock(&p->live_lock);
		if (finished)
			reap_port(s, p);
		else
			sync_port(p);
	}
	arm_deadline(s);
	db_watch(s);
	start_queued(s);
	notify_status(s);
	if (s->stopping && s->n_jobs == 0)
		sd_event_exit(s->loop, 0);
	return 0;
}

/* ---- recipe loader ------------------------------------------------------ */

/* The loader thread: touches only l, never the station. */
static void *loader_main(void *userdata)
{
	struct recipe_loader *l = userdata;
	uint64_t one = 1;

	l->r = recipe_set_load_dir_cancellable(l->dir, &l->cancel, &l->set, &l->diags);
	/* An eventfd write of 1 cannot fail short; a full counter (2^64) cannot happen. */
	if (write(l->fd, &one, sizeof(one)) != sizeof(one))
		log_msg(LOG_WARNING, "Cannot wake the main loop after loading recipes, ignoring");
	return NULL;
}

/* Load the recipe directory on the loader thread; the loop hears from it in on_recipes_loaded(). */
static int loader_start(struct station *s)
{
	struct recipe_loader *l = &s->loader;
	int r;

	l->set = NULL;
	l->diags = RECIPE_DIAGS_INIT;
	l->r = 0;
	r = -pthread_create(&l->thread, NULL, loader_main, l);
	if (r < 0) {
		log_msg(LOG_ERR, "Cannot start loading recipes: %s", strerror(-r));
		return r;
	}
	l->running = true;
	notify_status(s);
	return 0;
}

/* Wait for the thread (it is done or cancelled) and drop what it loaded. */
static void loader_stop(struct recipe_loader *l)
{
	if (!l->running)
		return;
	atomic_store(&l->cancel, true);
	pthread_join(l->thread, NULL);
	l->running = false;
	l->set = recipe_set_free(l->set);
	recipe_diags_release(&l->diags);
}

static int on_recipes_loaded(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct station *s = userdata;
	struct recipe_loader *l = &s->loader;
	bool first = !s->recipes;
	uint64_t n;
	int r;

	(void)src;
	(void)revents;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARNING, "Cannot read the loader eventfd: %s, ignoring",
			strerror(errno));
	if (!l->running)
		return 0;
	/* The thread wrote its result before the eventfd: joining is immediate. */
	pthread_join(l->thread, NULL);
	l->running = false;
	if (s->stopping) {
		l->set = recipe_set_free(l->set);
		recipe_diags_release(&l->diags);
		return 0;
	}
	r = adopt_recipes(s, l);
	if (r < 0 && first && !l->again) {
		log_msg(LOG_ERR, "No recipes loaded: exiting");
		return sd_event_exit(s->loop, 1);
	}
	if (r < 0 && !first)
		log_msg(LOG_ERR, "Reload failed, keeping the recipes loaded before");
	if (l->again) {
		l->again = false;
		log_msg(LOG_INFO, "Reloading recipes from '%s' again: SIGHUP came during the load",
			l->dir);
		if (loader_start(s) == 0)
			return 0;
	}
	if (l->reload)
		sd_notify(0, "READY=1");
	l->reload = false;
	decide_early_arrivals(s);
	start_queued(s);
	notify_status(s);
	return 0;
}

static int setup_loader(struct station *s)
{
	struct recipe_loader *l = &s->loader;
	int r;

	l->dir = s->cfg.recipe_dir;
	l->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->fd < 0)
		return -errno;
	r = sd_event_add_io(s->loop, &l->src, l->fd, EPOLLIN, on_recipes_loaded, s);
	if (r < 0)
		return r;
	log_msg(LOG_INFO, "Loading recipes from '%s'", l->dir);
	return loader_start(s);
}

/* ---- reload and stop --------------------------------------------------- */

static int on_sighup(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct station *s = userdata;

	(void)src;
	(void)si;
	if (s->stopping)
		return 0;
	/* Never two loads at once; signals during one make one more load. */
	if (s->loader.running) {
		s->loader.again = true;
		log_msg(LOG_INFO, "Reload requested while recipes load: one more load follows");
		return 0;
	}
	sd_notify(0, "RELOADING=1");
	log_msg(LOG_INFO, "Reloading recipes from '%s'", s->cfg.recipe_dir);
	/* Running jobs keep the set they started with (refcounted); only new
	 * boards see the new one, and the old set serves them until the new
	 * one is loaded (on_recipes_loaded()).  A directory that cannot be
	 * read keeps the old set: flashing on with known recipes beats
	 * stopping the line. */
	s->loader.reload = true;
	if (loader_start(s) < 0) {
		log_msg(LOG_ERR, "Reload failed, keeping the recipes loaded before");
		s->loader.reload = false;
		sd_notify(0, "READY=1");
	}
	return 0;
}

static void cancel_all(struct station *s)
{
	s->cancelled = true;
	for (size_t i = 0; i < s->ports.n; i++)
		if (s->ports.v[i]->job)
			job_cancel(s->ports.v[i]->job);
}

static int on_grace_over(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct station *s = userdata;

	(void)src;
	(void)usec;
	if (!s->cancelled) {
		log_msg(LOG_WARNING, "Grace time over: interrupting %u running job(s)", s->n_jobs);
		cancel_all(s);
		sd_event_source_set_time(s->grace_timer, usec + STATION_CANCEL_WAIT_MS * 1000ull);
		sd_event_source_set_enabled(s->grace_timer, SD_EVENT_ONESHOT);
		return 0;
	}
	log_msg(LOG_ERR, "%u job(s) did not stop; exiting anyway", s->n_jobs);
	sd_event_exit(s->loop, 1);
	return 0;
}

static int on_sigterm(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct station *s = userdata;
	uint64_t now;

	(void)src;
	if (s->stopping) {
		/* A second signal: do not wait out the grace time. */
		if (!s->cancelled)
			cancel_all(s);
		return 0;
	}
	s->stopping = true;
	/* A load hashing a huge image gives up between chunks. */
	atomic_store(&s->loader.cancel, true);
	sd_notify(0, "STOPPING=1");
	log_msg(LOG_INFO, "Got %s: no new boards; %u running job(s) get %u s to finish",
		si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM", s->n_jobs, s->cfg.grace_sec);
	for (size_t i = 0; i < s->ports.n; i++)
		if (s->ports.v[i]->state == PORT_QUEUED)
			s->ports.v[i]->state = PORT_IDLE;
	notify_status(s);
	if (s->n_jobs == 0)
		return sd_event_exit(s->loop, 0);
	sd_event_now(s->loop, CLOCK_MONOTONIC, &now);
	return sd_event_add_time(s->loop, &s->grace_timer, CLOCK_MONOTONIC,
				 now + s->cfg.grace_sec * 1000000ull, 0, on_grace_over, s);
}

/* ---- set-up ---------------------------------------------------------------- */

static int override(char **dst, const char *v)
{
	char *n;

	if (!v)
		return 0;
	n = strdup(v);
	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

static int setup_config(struct station *s, const struct station_options *o)
{
	const char *path = o->config_path;
	struct err e = { 0 };
	int r;

	r = config_defaults(&s->cfg);
	if (r < 0)
		return r;
	if (!path && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;
	if (path) {
		r = config_load(path, &s->cfg, &e);
		if (r < 0) {
			log_msg(LOG_ERR, "Bad configuration: %s", e.msg);
			return r;
		}
	}
	if (override(&s->cfg.recipe_dir, o->recipe_dir) < 0 ||
	    override(&s->cfg.database, o->database) < 0 ||
	    override(&s->cfg.control_socket, o->control_socket) < 0 ||
	    override(&s->cfg.station, o->station) < 0)
		return -ENOMEM;
	return 0;
}

static int setup_db(struct station *s)
{
	struct err e = { 0 };
	int r;

	r = db_open(s->cfg.database, DB_OPEN_CREATE, &s->db, &e);
	if (r < 0) {
		log_msg(LOG_ERR, "Cannot open the database: %s", e.msg);
		return r;
	}
	/* Before recovery: it must never run while this station's units are live. */
	r = db_station_lock(s->cfg.database, s->cfg.station, &e);
	if (r < 0) {
		log_msg(LOG_ERR, "Refusing to start: %s", e.msg);
		return r;
	}
	s->station_lock = r;
	r = setup_pending(s);
	if (r < 0)
		return r;
	r = s->recover_deferred ? 0 : db_recover_interrupted(s->db, s->cfg.station, &e);
	if (r < 0) {
		log_msg(LOG_ERR, "Cannot recover interrupted units: %s", e.msg);
		return r;
	}
	if (r > 0)
		log_msg(LOG_WARNING,
			"%d unit(s) left running by a previous flashd are now 'interrupted'", r);
	if (!s->recover_deferred)
		recover_pools(s);
	refresh_today(s);
	refresh_pools(s);
	return 0;
}

static int setup_usb(struct station *s)
{
	int r;

	/* We open boards by their device node (libusb_wrap_sys_device), so
	 * libusb needs no bus scan and no hotplug thread of its own. */
	r = libusb_set_option(NULL, LIBUSB_OPTION_NO_DEVICE_DISCOVERY);
	if (r < 0)
		log_msg(LOG_WARNING, "libusb: cannot disable device discovery: %s, ignoring",
			libusb_strerror(r));
	r = libusb_init(&s->usb);
	if (r < 0) {
		log_msg(LOG_ERR, "libusb_init failed: %s", libusb_strerror(r));
		return -EIO;
	}
	return 0;
}

int station_new(const struct station_options *o, struct station **ret)
{
	struct station *s;
	/* The step that failed when it logs nothing itself, for the one
	 * start-up error message (steps that log say why themselves). */
	const char *what = NULL;
	sigset_t mask;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->wake_fd = -1;
	s->loader.fd = -1;
	s->station_lock = -1;
	pthread_mutex_init(&s->db_lock, NULL);
	s->deadline_pct = o->deadline_pct ? o->deadline_pct : 100;

	r = setup_config(s, o);
	if (r < 0)
		goto fail;
	what = "the event loop";
	r = sd_event_default(&s->loop);
	if (r < 0)
		goto fail;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((r = sd_event_add_signal(s->loop, &s->sig_term, SIGTERM, on_sigterm, s)) < 0 ||
	    (r = sd_event_add_signal(s->loop, &s->sig_int, SIGINT, on_sigterm, s)) < 0 ||
	    (r = sd_event_add_signal(s->loop, &s->sig_hup, SIGHUP, on_sighup, s)) < 0)
		goto fail;
	r = sd_event_set_watchdog(s->loop, true);
	if (r < 0)
		goto fail;

	what = NULL;
	r = setup_db(s);
	if (r < 0)
		goto fail;
	what = "the recipe loader";
	r = setup_loader(s);
	if (r < 0)
		goto fail;
	what = NULL;
	r = setup_usb(s);
	if (r < 0)
		goto fail;
	what = "the image cache";
	r = image_cache_new(&s->images);
	if (r < 0)
		goto fail;
	s->env = (struct job_env){ .usb = s->usb,
				   .db = s->db,
				   .db_lock = &s->db_lock,
				   .pending = s->pending,
				   .db_write_errors = &s->db_write_errors,
				   .images = s->images,
				   .station = s->cfg.station,
				   .version = FLASHD_VERSION,
				   .deadline_pct = s->deadline_pct };

	what = "the main loop's event sources";
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_io(s->loop, &s->wake_src, s->wake_fd, EPOLLIN, on_wake, s);
	if (r < 0)
		goto fail;
	r = sd_event_add_post(s->loop, &s->post_src, on_post, s);
	if (r < 0)
		goto fail;
	r = arm_midnight(s);
	if (r < 0)
		goto fail;

	what = NULL;
	r = control_new(s, &s->control);
	if (r < 0)
		goto fail;
	/* Monitoring only: flashing goes on without it. */
	if (events_new(s, &s->events) < 0)
		log_msg(LOG_WARNING, "No event stream: flashing goes on without it");
	r = hotplug_new(s->loop, on_hotplug, s, &s->hotplug);
	if (r < 0) {
		log_msg(LOG_ERR, "Cannot monitor udev: %s", strerror(-r));
		goto fail;
	}
	hotplug_set_burst(s->hotplug, on_hotplug_burst);
	r = hotplug_coldplug(s->hotplug);
	if (r < 0)
		log_msg(LOG_WARNING, "Coldplug scan failed: %s, ignoring", strerror(-r));
	*ret = s;
	return 0;
fail:
	if (what || r == -ENOMEM)
		log_msg(LOG_ERR, "Start-up failed: %s: %s", what ? what : "memory", strerror(-r));
	station_free(s);
	return r;
}

/* Stopping with records pending: one last try, else the journal keeps them. */
static void db_flush_at_exit(struct station *s)
{
	_cleanup_free_ char *path = NULL;
	size_t n = db_pending_count(s->pending);
	char jerr[ERR_MSG_MAX];

	if (!db_pending_blocked(s->pending) || db_try_replay(s) >= 0 || n == 0)
		return;
	db_pending_journal_error(s->pending, jerr, sizeof(jerr));
	if (jerr[0]) {
		log_ev(LOG_ERR, LOG_ID_DB_UNWRITABLE, NULL,
		       "Stopping with %zu result record(s) the database did not take, lost: %s", n,
		       jerr);
		return;
	}
	if (pending_path(s, &path) < 0)
		return;
	log_ev(LOG_ERR, LOG_ID_DB_UNWRITABLE, NULL,
	       "Stopping with %zu result record(s) the database did not take: kept in '%s', written at the next start",
	       n, path);
}

int station_run(struct station *s)
{
	char line[sizeof(s->status_sent)];
	int r;

	station_status_line(s, line, sizeof(line));
	sd_notifyf(0, "READY=1\nSTATUS=%s", line);
	snprintf(s->status_sent, sizeof(s->status_sent), "%s", line);
	s->status_sent_ms = mono_ms();
	log_ev(LOG_INFO, LOG_ID_STARTED, NULL,
	       "flashd %s ready: station '%s', recipes from '%s'%s, database '%s'", FLASHD_VERSION,
	       s->cfg.station, s->cfg.recipe_dir, s->loader.running ? " (loading)" : "",
	       s->cfg.database);
	r = sd_event_loop(s->loop);
	/* Jobs that could not be stopped: their rows must not stay 'running'. */
	for (size_t i = 0; i < s->ports.n; i++) {
		struct port *p = s->ports.v[i];
		struct err e = { 0 };

		if (!p->job)
			continue;
		pthread_mutex_lock(&s->db_lock);
		db_unit_finish(s->db, p->unit_id, DB_RESULT_INTERRUPTED, NULL,
			       "flashd stopped before the job could finish", &e);
		pthread_mutex_unlock(&s->db_lock);
	}
	db_flush_at_exit(s);
	return r < 0 ? 1 : r;
}

struct station *station_free(struct station *s)
{
	bool stuck = false;

	if (!s)
		return NULL;
	loader_stop(&s->loader);
	for (size_t i = 0; i < s->ports.n; i++)
		if (s->ports.v[i]->job)
			stuck = true;
	if (stuck) {
		/* A job thread still blocks in USB I/O: leave everything it may
		 * touch in place; the process is about to exit. */
		return NULL;
	}
	s->hotplug = hotplug_free(s->hotplug);
	s->control = control_free(s->control);
	s->events = events_free(s->events);
	sd_event_source_disable_unref(s->deadline_timer);
	sd_event_source_disable_unref(s->midnight_timer);
	sd_event_source_disable_unref(s->db_timer);
	sd_event_source_disable_unref(s->status_timer);
	sd_event_source_disable_unref(s->post_src);
	sd_event_source_disable_unref(s->grace_timer);
	sd_event_source_disable_unref(s->wake_src);
	sd_event_source_disable_unref(s->sig_term);
	sd_event_source_disable_unref(s->sig_int);
	sd_event_source_disable_unref(s->sig_hup);
	sd_event_source_disable_unref(s->loader.src);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->loader.fd >= 0)
		close(s->loader.fd);
	sd_event_unref(s->loop);
	ports_free(&s->ports);
	recipe_set_unref(s->recipes);
	image_cache_free(s->images);
	if (s->usb)
		libusb_exit(s->usb);
	db_close(s->db);
	if (s->station_lock >= 0)
		close(s->station_lock); /* after the database: no unit of ours is live */
	db_pending_free(s->pending);
	pool_watch_clear(&s->pools);
	pthread_mutex_destroy(&s->db_lock);
	config_free(&s->cfg);
	free(s->config_path);
	free(s);
	return NULL;
}
