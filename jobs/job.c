/*
 * This file implements the job runner (jobs/job.h): the worker thread that
 * runs a recipe's stages in order on one unit, with per-stage deadlines and
 * bounded retries, carrying the unit across re-enumeration, and writing the
 * unit's database row from 'running' to its final result.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "db/pending.h"
#include "db/units.h"
#include "jobs/job-identity.h"
#include "jobs/job-private.h"

const char *job_result_name(enum job_result r)
{
	switch (r) {
	case JOB_PASS:
		return "pass";
	case JOB_FAIL:
		return "fail";
	case JOB_INTERRUPTED:
		return "interrupted";
	}
	return "?";
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int job_new(const struct job_env *env, const struct recipe *recipe, const struct job_device *dev,
	    const char *slot, const struct job_observer *obs, struct job **ret)
{
	struct job *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;

	if (!j)
		return -ENOMEM;
	if (slot && !(j->slot = strdup(slot))) {
		free(j);
		return -ENOMEM;
	}
	j->env = env;
	j->recipe = recipe;
	if (obs)
		j->obs = *obs;
	j->dev = *dev;
	j->cur = *dev;
	j->dev_present = true;
	j->dev_gen = 1;
	j->used_gen = 1;
	j->s.fd = -1;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&j->cancel, 0);
	snprintf(j->serial, sizeof(j->serial), "%s", dev->usb_serial);
	*ret = j;
	return 0;
}

int64_t job_unit_id(const struct job *j)
{
	return j->unit_id;
}

bool job_result_pending(const struct job *j)
{
	return j->result_pending;
}

static struct log_ctx job_log_ctx(const struct job *j, const char *stage, const char *result)
{
	return (struct log_ctx){ .port = j->cur.port,
				 .slot = j->slot,
				 .unit = j->unit_id,
				 .serial = j->serial[0] ? j->serial : NULL,
				 .stage = stage,
				 .result = result };
}

/* Every db call from a job thread goes through here: one lock, short writes. */
#define JOB_DB(j, call)                                                                            \
	({                                                                                         \
		int _r;                                                                            \
		pthread_mutex_lock((j)->env->db_lock);                                             \
		_r = (call);                                                                       \
		pthread_mutex_unlock((j)->env->db_lock);                                           \
		_r;                                                                                \
	})

/* A write was tried and refused (queued behind others is no error). */
static void job_count_write_error(struct job *j, bool refused, int r)
{
	if ((refused || r < 0) && j->env->db_write_errors)
		atomic_fetch_add(j->env->db_write_errors, 1);
}

/*
 * Every write of the unit's row after it began goes through here: written
 * now, or kept pending (db/pending.h) while the database cannot take
 * writes, and written by the daemon once it can.  Returns true when the
 * record is not in the database yet.
 */
static bool job_record(struct job *j, const struct db_rec *rec, const char *what)
{
	struct log_ctx c = job_log_ctx(j, NULL, NULL);
	struct err e = { 0 };
	int r;

	pthread_mutex_lock(j->env->db_lock);
	r = j->env->pending ? db_pending_submit(j->env->pending, j->env->db, rec, &e)
			    : db_rec_write(j->env->db, rec, &e);
	pthread_mutex_unlock(j->env->db_lock);
	job_count_write_error(j, r == 1 && e.msg[0], r);
	if (r == 1 && e.msg[0])
		log_ev(LOG_WARNING, NULL, &c,
		       "Cannot record %s for unit %lld now: %s; kept pending until the database takes writes",
		       what, (long long)j->unit_id, e.msg);
	else if (r == 1)
		log_ev(LOG_INFO, NULL, &c, "Record of %s for unit %lld kept pending", what,
		       (long long)j->unit_id);
	else if (r < 0)
		log_ev(LOG_ERR, NULL, &c, "Failed to record %s for unit %lld: %s", what,
		       (long long)j->unit_id, e.msg);
	return r == 1;
}

void job_set_identity(struct job *j, const struct db_unit_identity *in)
{
	struct db_rec rec = { .kind = DB_REC_IDENTITY, .unit_id = j->unit_id };
	struct db_unit_identity *id = &rec.u.identity;
	const char *serial = in->serial, *chip_uid = in->chip_uid, *jedec = in->jedec_id;

	if (serial && *serial) {
		if (serial != j->serial)
			snprintf(j->serial, sizeof(j->serial), "%s", serial);
		id->serial = j->serial;
		if (j->obs.identity)
			j->obs.identity(j->obs.userdata, j->serial);
	}
	if (chip_uid && *chip_uid) {
		snprintf(j->chip_uid, sizeof(j->chip_uid), "%s", chip_uid);
		id->chip_uid = j->chip_uid;
	}
	if (jedec && *jedec) {
		snprintf(j->jedec, sizeof(j->jedec), "%s", jedec);
		id->jedec_id = j->jedec;
	}
	job_record(j, &rec, "the identity");
}

void job_record_image(struct job *j, const struct job_image_row *row)
{
	char hex[65];
	struct db_rec rec = { .kind = DB_REC_IMAGE, .unit_id = j->unit_id };
	const struct recipe_image *ri = job_identity_row_image(j, row->image);
	struct db_unit_image im = {
		.stage = row->stage,
		.target = row->target,
		.file = ri->file,
		.size = (int64_t)ri->size,
		.sha256 = hex,
		.has_host_crc32 = row->has_host_crc,
		.host_crc32 = row->host_crc,
		.has_device_crc32 = row->has_dev_crc,
		.device_crc32 = row->dev_crc,
		.verified = row->verified,
	};

	recipe_sha256_hex(ri->sha256, hex);
	rec.u.image = im;
	job_record(j, &rec, "an image");
}

int job_image_get(struct job *j, const struct recipe_image *ri, struct image **ret, struct err *e)
{
	if (ri->identity)
		return job_identity_image(j, ri, ret, e);
	return image_get(j->env->images, ri->path, ri->sha256, ret, e);
}

void job_progress_cb(void *ud, uint64_t done, uint64_t total)
{
	job_progress_bytes(ud, done, total);
}

/*
 * Wait for the device the await stage expects: it must appear on our port
 * after the previous device was told to leave, with the expected VID/PID.
 * Other devices seen meanwhile (e.g. an SPL stage with another PID) are
 * skipped.  The stage deadline ends the wait through job_check_deadline().
 */
static int stage_await(struct job *j, const struct recipe_stage *st, struct err *e)
{
	uint16_t vid = st->u.await.vid, pid = st->u.await.pid;
	int r = 0;

	job_session_close(j);
	if (j->obs.awaiting)
		j->obs.awaiting(j->obs.userdata, vid, pid);
	pthread_mutex_lock(&j->lock);
	for (;;) {
		struct timespec ts;

		if (j->stop_reason) {
			r = j->stop_reason;
			break;
		}
		if (j->dev_present && j->dev_gen > j->leave_gen && j->dev.vid == vid &&
		    j->dev.pid == pid) {
			j->cur = j->dev;
			j->used_gen = j->dev_gen;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1; /* re-check the stop reason at least every second */
		pthread_cond_timedwait(&j->cond, &j->lock, &ts);
	}
	pthread_mutex_unlock(&j->lock);
	if (r == -ETIMEDOUT)
		return err_set(e, r, "no %04x:%04x appeared on port %s within %u ms", vid, pid,
			       j->cur.port, st->timeout_ms);
	if (r < 0)
		return err_set(e, r, "stopped while waiting for %04x:%04x", vid, pid);
	return 0;
}

void job_expect_reset(struct job *j)
{
	pthread_mutex_lock(&j->lock);
	j->leave_gen = j->dev_gen;
	pthread_mutex_unlock(&j->lock);
}

/*
 * The device job_expect_reset() announced: back = it reappears on our port
 * with the same VID/PID (it becomes the session's device), !back = it is
 * gone from the port (and stays away: nothing waits for it).  Ended by the
 * stage deadline like an await.
 */
int job_await_reset(struct job *j, bool back, struct err *e)
{
	uint16_t vid = j->cur.vid, pid = j->cur.pid;
	uint64_t t0 = now_ms();
	int r = 0;

	/* The old session is closed once the port changed, not before: the
	 * simulated rig's uevent sender aborts on a socket closing under it
	 * (tests/sim/testbed.c), and a real libusb handle just goes stale. */
	pthread_mutex_lock(&j->lock);
	for (;;) {
		struct timespec ts;

		if (j->stop_reason) {
			r = j->stop_reason;
			break;
		}
		if (back && j->dev_present && j->dev_gen > j->leave_gen && j->dev.vid == vid &&
		    j->dev.pid == pid) {
			j->cur = j->dev;
			j->used_gen = j->dev_gen;
			break;
		}
		if (!back && (!j->dev_present || j->dev_gen > j->leave_gen))
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&j->cond, &j->lock, &ts);
	}
	pthread_mutex_unlock(&j->lock);
	job_session_close(j);
	if (r == -ETIMEDOUT)
		return err_set(e, r, "%04x:%04x did not %s port %s after its reset within %llu ms",
			       vid, pid, back ? "come back on" : "leave", j->cur.port,
			       (unsigned long long)(now_ms() - t0));
	if (r < 0)
		return err_set(e, r, "stopped while waiting for %04x:%04x", vid, pid);
	return back ? job_session_open(j, e) : 0;
}

void job_stage_note(struct job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->stage_note, sizeof(j->stage_note), fmt, ap);
	va_end(ap);
}

/* The await op's runner (jobs/recipe-op-list.h). */
int job_run_await(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	(void)name;
	return stage_await(j, st, e);
}

static int run_op(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	const struct recipe_op_desc *d = recipe_op_desc(st->op);

	if (d && d->run)
		return d->run(j, st, name, e);
	return err_set(e, -EOPNOTSUPP, "operation '%s' is not supported by this flashd build",
		       recipe_op_name(st->op) ? recipe_op_name(st->op) : "?");
}

/* Errors after which another attempt cannot help. */
static bool retryable(int r)
{
	return r != -ENODEV && r != -ECANCELED && r != -ETIMEDOUT && r != -EOPNOTSUPP &&
	       r != -EILSEQ && r != -EACCES;
}

/* The stop reason replaces the engine's -ECANCELED with what really happened. */
static int stopped(struct job *j, int r, const char *name, struct err *e)
{
	int reason;

	pthread_mutex_lock(&j->lock);
	reason = j->stop_reason;
	pthread_mutex_unlock(&j->lock);
	if (reason == -ETIMEDOUT && r == -ECANCELED)
		return err_replace(e, -ETIMEDOUT, "stage '%s' exceeded its timeout", name);
	if (reason == -ECANCELED && r < 0)
		return err_replace(e, -ECANCELED, "flashd stopping: job interrupted in stage '%s'",
				   name);
	return r;
}

/*
 * A stage row's started_at: now, but strictly after the unit's previous
 * stage, so that ORDER BY started_at is the order the stages ran even when
 * one took less than a millisecond (a verify pass with nothing left to
 * read back, then dfuse.read_protect): a tie would sort by idx, which puts
 * verify rows last.  The skew is at most a millisecond per such stage.
 */
static int64_t stage_started_at(struct job *j)
{
	int64_t now = db_now_ms();

	if (now <= j->last_stage_ms)
		now = j->last_stage_ms + 1;
	j->last_stage_ms = now;
	return now;
}

static int run_stage(struct job *j, unsigned idx, struct err *e)
{
	const struct recipe_stage *st = &j->recipe->stages[idx];
	const char *name = st->label ? st->label : recipe_op_name(st->op);
	int64_t started = stage_started_at(j);
	uint64_t t0 = now_ms();
	struct db_rec rec = { .kind = DB_REC_STAGE, .unit_id = j->unit_id };
	struct log_ctx c;
	int r = 0;

	if (j->obs.stage)
		j->obs.stage(j->obs.userdata, idx, name);
	job_progress_reset(j);
	c = job_log_ctx(j, name, NULL);
	log_ev(LOG_INFO, LOG_ID_STAGE, &c, "Stage %u '%s' started", idx, name);

	pthread_mutex_lock(&j->lock);
	j->deadline_ms = st->timeout_ms ? t0 + st->timeout_ms : 0;
	/* A device that appears from now on is the one this stage sends away
	 * and brings back (the await stage after it only takes newer ones). */
	if (recipe_op_device_leaves(st->op))
		j->leave_gen = j->dev_gen;
	pthread_mutex_unlock(&j->lock);
	if (j->obs.deadline)
		j->obs.deadline(j->obs.userdata, st->timeout_ms ? t0 + st->timeout_ms : 0);

	j->stage_note[0] = '\0';
	for (unsigned attempt = 0; attempt <= st->retries; attempt++) {
		err_clear(e);
		if (recipe_op_uses_device(st->op)) {
			r = job_session_open(j, e);
			if (r < 0)
				break;
		}
		r = run_op(j, st, name, e);
		r = stopped(j, r, name, e);
		if (r >= 0 || !retryable(r) || attempt == st->retries)
			break;
		c = job_log_ctx(j, name, NULL);
		log_ev(LOG_WARNING, LOG_ID_STAGE, &c, "Stage '%s' attempt %u failed: %s; retrying",
		       name, attempt + 1, e->msg);
		/* Start the retry from a fresh session: the engine re-reads the
		 * device state and brings it back to idle. */
		job_session_close(j);
	}

	pthread_mutex_lock(&j->lock);
	j->deadline_ms = 0;
	/* The deadline fired after the stage's last transfer: the stage is
	 * done, and the stop was meant for it alone, not for the next one. */
	if (r >= 0 && j->stop_reason == -ETIMEDOUT) {
		j->stop_reason = 0;
		atomic_store(&j->cancel, 0);
	}
	pthread_mutex_unlock(&j->lock);
	if (recipe_op_device_leaves(st->op) && r >= 0)
		job_session_close(j);

	rec.u.stage = (struct db_unit_stage){
		.idx = (int)idx,
		.name = name,
		.result = r < 0 ? (r == -ECANCELED ? DB_RESULT_INTERRUPTED : DB_RESULT_FAIL)
				: DB_RESULT_PASS,
		.error = r < 0		    ? e->msg
			 : j->stage_note[0] ? j->stage_note
					    : NULL,
		.started_at = started,
		.duration_ms = (int64_t)(now_ms() - t0),
	};
	job_record(j, &rec, "a stage");
	c = job_log_ctx(j, name, r < 0 ? "fail" : "pass");
	if (r < 0)
		log_ev(LOG_ERR, LOG_ID_STAGE, &c, "Stage %u '%s' failed on port '%s': %s", idx,
		       name, j->cur.port, e->msg);
	else
		log_ev(LOG_INFO, LOG_ID_STAGE, &c, "Stage %u '%s' done in %llu ms", idx, name,
		       (unsigned long long)(now_ms() - t0));
	return r;
}

/*
 * Whole-unit verification (job-verify.c) as a stage row of its own, named
 * "verify", with idx past the recipe's stages (n_stages + pass): the
 * recipe's indexes stay those of the file, and started_at orders the rows.
 * A pass that could not read some range back passes with a note in the
 * error column saying so: those rows are not verified.  The note also says
 * how many ranges the stages' own read-backs covered (not read twice).
 */
static int run_verify(struct job *j, unsigned next, struct err *e)
{
	unsigned idx = (unsigned)j->recipe->n_stages + j->plan.passes;
	int64_t started = stage_started_at(j);
	uint64_t t0 = now_ms();
	struct db_rec rec = { .kind = DB_REC_STAGE, .unit_id = j->unit_id };
	struct job_verify_note note = { 0 };
	struct log_ctx c;
	int r;

	/* Shown as part of the stage it precedes: status stays within the recipe's count. */
	if (j->obs.stage)
		j->obs.stage(j->obs.userdata, next < j->recipe->n_stages ? next : next - 1,
			     "verify");
	c = job_log_ctx(j, "verify", NULL);
	log_ev(LOG_INFO, LOG_ID_STAGE, &c, "Stage %u 'verify' started: re-reading what was written",
	       idx);
	err_clear(e);
	r = job_session_open(j, e);
	job_progress_unit_verify(j);
	if (r >= 0)
		r = job_verify(j, &note, e);
	r = stopped(j, r, "verify", e);
	rec.u.stage = (struct db_unit_stage){
		.idx = (int)idx,
		.name = "verify",
		.result = r < 0 ? (r == -ECANCELED ? DB_RESULT_INTERRUPTED : DB_RESULT_FAIL)
				: DB_RESULT_PASS,
		.error = r < 0		? e->msg
			 : note.text[0] ? note.text
					: NULL,
		.started_at = started,
		.duration_ms = (int64_t)(now_ms() - t0),
	};
	job_record(j, &rec, "a stage");
	c = job_log_ctx(j, "verify", r < 0 ? "fail" : "pass");
	if (r < 0)
		log_ev(LOG_ERR, LOG_ID_STAGE, &c, "Stage %u 'verify' failed on port '%s': %s", idx,
		       j->cur.port, e->msg);
	else
		log_ev(note.warning ? LOG_WARNING : LOG_INFO, LOG_ID_STAGE, &c,
		       "Stage %u 'verify' done in %llu ms%s%s", idx,
		       (unsigned long long)(now_ms() - t0), note.text[0] ? ": " : "", note.text);
	return r;
}

/*
 * Map every image of the recipe before touching the board: a missing or
 * changed file fails the unit before anything is erased, and the job keeps
 * these mappings to the end, so a recipe reload that replaces the files
 * (new inodes) does not change what a running job flashes.
 */
static int map_images(struct job *j, struct err *e)
{
	for (size_t i = 0; i < j->recipe->n_stages; i++) {
		const struct recipe_stage *st = &j->recipe->stages[i];
		const struct recipe_op_desc *d = recipe_op_desc(st->op);

		for (size_t k = 0; d && k < RECIPE_OP_IMAGES_MAX && d->images[k]; k++) {
			const struct recipe_image *img =
				(const void *)((const char *)st + d->images[k]);
			int r;

			if (!img->path)
				continue;
			if (j->n_images >= ARRAY_SIZE(j->images))
				return err_set(e, -E2BIG, "too many images");
			r = job_image_get(j, img, &j->images[j->n_images], e);
			if (r < 0)
				return r;
			j->n_images++;
		}
	}
	return 0;
}

static void unmap_images(struct job *j)
{
	while (j->n_images > 0)
		image_put(j->env->images, j->images[--j->n_images]);
}

static void *job_thread(void *arg)
{
	struct job *j = arg;
	enum job_result result = JOB_PASS;
	const char *failed = NULL;
	struct err e = { 0 };
	struct db_rec fin = { .kind = DB_REC_FINISH, .unit_id = j->unit_id };
	int64_t finished_at;
	bool pending;
	struct log_ctx c;
	int r = 0;

	/* The USB serial is already in the unit row (job_start() wrote it with
	 * the row): only the observer hears it.  A second write here was a
	 * commit (an fsync) between the add uevent and the first request. */
	if (j->recipe->serial.source == RECIPE_SERIAL_USB_SERIAL && j->serial[0] && j->obs.identity)
		j->obs.identity(j->obs.userdata, j->serial);

	c = job_log_ctx(j, NULL, NULL);
	r = job_identity_begin(j, &c, &e);
	if (r < 0) {
		failed = "identity";
		result = JOB_FAIL;
	}
	if (r >= 0)
		r = map_images(j, &e);
	if (r < 0 && !failed) {
		failed = "images";
		result = JOB_FAIL;
	}
	for (unsigned i = 0; r >= 0 && i < j->recipe->n_stages; i++) {
		if (job_verify_due(j, &j->recipe->stages[i])) {
			r = run_verify(j, i, &e);
			if (r < 0) {
				failed = "verify";
				result = r == -ECANCELED ? JOB_INTERRUPTED : JOB_FAIL;
				break;
			}
		}
		r = job_identity_before_stage(j, &j->recipe->stages[i], &e);
		if (r >= 0)
			r = run_stage(j, i, &e);
		if (r < 0) {
			const struct recipe_stage *st = &j->recipe->stages[i];

			failed = st->label ? st->label : recipe_op_name(st->op);
			result = r == -ECANCELED ? JOB_INTERRUPTED : JOB_FAIL;
			break;
		}
	}
	if (r >= 0 && result == JOB_PASS && job_verify_due(j, NULL)) {
		r = run_verify(j, (unsigned)j->recipe->n_stages, &e);
		if (r < 0) {
			failed = "verify";
			result = r == -ECANCELED ? JOB_INTERRUPTED : JOB_FAIL;
		}
	}
	job_session_close(j);
	unmap_images(j);

	/* Not before its last stage began (stage_started_at() may run ahead). */
	finished_at = db_now_ms();
	if (finished_at < j->last_stage_ms)
		finished_at = j->last_stage_ms;
	fin.u.finish = (struct db_rec_finish){
		.result = result == JOB_PASS   ? DB_RESULT_PASS
			  : result == JOB_FAIL ? DB_RESULT_FAIL
					       : DB_RESULT_INTERRUPTED,
		.failed_stage = failed,
		.error = r < 0 ? e.msg : NULL,
		.finished_at = finished_at,
	};
	pending = job_record(j, &fin, "the result");
	j->result_pending = pending;
	c = job_log_ctx(j, failed, job_result_name(result));
	job_identity_finish(j, fin.u.finish.result, &c);
	log_ev(result == JOB_PASS ? LOG_INFO : LOG_ERR, LOG_ID_JOB_FINISHED, &c,
	       "Unit %lld on port '%s' (%s): %s%s%s%s", (long long)j->unit_id, j->cur.port,
	       j->recipe->name, job_result_name(result), r < 0 ? ": " : "", r < 0 ? e.msg : "",
	       pending ? " (not in the database yet: pending)" : "");
	if (j->obs.done)
		j->obs.done(j->obs.userdata, result, failed, r < 0 ? e.msg : NULL);
	return NULL;
}

/* The unit's 'running' row as job_start() writes it; sha holds the recipe's digest. */
static struct db_unit_start unit_start(const struct job *j, char sha[65])
{
	recipe_sha256_hex(j->recipe->sha256, sha);
	return (struct db_unit_start){
		.station = j->env->station,
		.port = j->cur.port,
		.slot = j->slot,
		.recipe = j->recipe->name,
		.recipe_sha256 = sha,
		.vid = j->cur.vid,
		.pid = j->cur.pid,
		.serial = j->serial[0] ? j->serial : NULL,
		.flashd_version = j->env->version,
	};
}

int job_start(struct job *j, struct err *e)
{
	char sha[65];
	struct db_unit_start st = unit_start(j, sha);
	int r;

	r = JOB_DB(j, db_unit_begin(j->env->db, &st, &j->unit_id, e));
	if (r < 0)
		return err_prefix(e, r, "cannot record the unit on port '%s'", j->cur.port);
	return job_run(j, e);
}

int job_begin_units(struct job *const *jobs, size_t n, struct err *e)
{
	_cleanup_free_ struct db_unit_start *st = NULL;
	_cleanup_free_ int64_t *ids = NULL;
	_cleanup_free_ char(*sha)[65] = NULL;
	int r;

	if (!n)
		return 0;
	st = calloc(n, sizeof(*st));
	ids = calloc(n, sizeof(*ids));
	sha = calloc(n, sizeof(*sha));
	if (!st || !ids || !sha)
		return err_set(e, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		st[i] = unit_start(jobs[i], sha[i]);
	r = JOB_DB(jobs[0], db_units_begin_many(jobs[0]->env->db, st, n, ids, e));
	if (r < 0)
		return err_prefix(e, r, "cannot record the units of %zu boards", n);
	for (size_t i = 0; i < n; i++)
		jobs[i]->unit_id = ids[i];
	return 0;
}

int job_run(struct job *j, struct err *e)
{
	struct log_ctx c;
	int r;

	j->started_ms = db_now_ms();
	c = job_log_ctx(j, NULL, "running");
	log_ev(LOG_INFO, LOG_ID_JOB_STARTED, &c, "Unit %lld started on port '%s' with recipe '%s'",
	       (long long)j->unit_id, j->cur.port, j->recipe->name);

	r = -pthread_create(&j->thread, NULL, job_thread, j);
	if (r < 0) {
		struct db_rec fin = { .kind = DB_REC_FINISH,
				      .unit_id = j->unit_id,
				      .u.finish = { .result = DB_RESULT_FAIL } };

		err_set(e, r, "cannot start the job thread: %s", strerror(-r));
		fin.u.finish.error = e->msg;
		job_record(j, &fin, "the result");
		return r;
	}
	j->thread_started = true;
	return 0;
}

void job_device_arrived(struct job *j, const struct job_device *dev)
{
	pthread_mutex_lock(&j->lock);
	j->dev = *dev;
	j->dev_present = true;
	j->dev_gen++;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

void job_device_gone(struct job *j)
{
	/* Transfers in flight fail with NO_DEVICE by themselves; this only
	 * matters for waits, which re-check dev_present. */
	pthread_mutex_lock(&j->lock);
	j->dev_present = false;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

bool job_has_unused_device(struct job *j)
{
	bool r;

	pthread_mutex_lock(&j->lock);
	r = j->dev_present && j->dev_gen > j->used_gen;
	pthread_mutex_unlock(&j->lock);
	return r;
}

static void stop(struct job *j, int reason)
{
	pthread_mutex_lock(&j->lock);
	/* A shutdown outranks a deadline stop, which the stage may still clear. */
	if (!j->stop_reason || reason == -ECANCELED)
		j->stop_reason = reason;
	atomic_store(&j->cancel, 1);
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

void job_cancel(struct job *j)
{
	stop(j, -ECANCELED);
}

/*
 * Check and stop under one lock hold: deadline_ms is only set while its
 * stage runs (run_stage() sets and clears it under the lock), so the stop
 * reaches the stage whose deadline passed, never the next one.
 */
bool job_check_deadline(struct job *j, uint64_t now)
{
	bool passed;

	pthread_mutex_lock(&j->lock);
	passed = j->deadline_ms && now >= j->deadline_ms && !j->stop_reason;
	if (passed) {
		j->stop_reason = -ETIMEDOUT;
		atomic_store(&j->cancel, 1);
		pthread_cond_broadcast(&j->cond);
	}
	pthread_mutex_unlock(&j->lock);
	return passed;
}

void job_join(struct job *j)
{
	if (j->thread_started) {
		pthread_join(j->thread, NULL);
		j->thread_started = false;
	}
}

struct job *job_free(struct job *j)
{
	if (!j)
		return NULL;
	job_join(j);
	job_session_close(j);
	dfuse_erased_release(&j->dfuse_erased);
	job_plan_release(&j->plan);
	job_identity_free(j);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j->slot);
	free(j);
	return NULL;
}
