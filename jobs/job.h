/*
 * The job runner: one recipe on one unit (board), on its own worker thread.
 *
 * A job is created by the daemon when a board appears on an idle port and a
 * recipe matches.  job_start() writes the unit's 'running' row to the
 * database *before* the thread starts, so every unit that started has a row;
 * the thread then runs the stages in order (per-stage deadline and bounded
 * retries from the recipe), records identity, stages and images as it goes,
 * and finalises the row (pass / fail / interrupted) before it reports done.
 *
 * Threads: the job thread does blocking USB I/O through the engines in
 * protocols/; no lock is held across USB I/O.  The daemon talks to a job
 * only through job_device_arrived(), job_device_gone(), job_cancel() and
 * job_check_deadline(), which are thread-safe and never block on USB.  The
 * observer callbacks run on the job thread; they must copy what they keep
 * and must not block.
 *
 * Re-enumeration: a stage that makes the device leave (dfuse.leave,
 * sdp.boot, reboot) closes the handle; the following "await" stage waits for
 * the daemon to hand in the device that appears on the same port path with
 * the expected VID/PID.  The unit's identity (unit id, serial) is carried
 * across.  A board unplugged while the job needs it ends the job as failed,
 * never hangs it: libusb fails the transfer in flight with NO_DEVICE and any
 * wait is woken by job_device_gone().
 *
 * Ownership: the daemon owns the job (job_free() after done was reported
 * and job_join()); the job keeps its own reference to nothing it was given:
 * recipe and env must outlive it (the daemon keeps a retired recipe set
 * alive until its last job is freed).
 */
#ifndef FLASHD_JOBS_JOB_H
#define FLASHD_JOBS_JOB_H

#include <libusb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "db/db.h"
#include "jobs/image.h"
#include "jobs/recipe.h"

struct db_pending;

/* Shared by every job; owned by the daemon; outlives every job. */
struct job_env {
	libusb_context *usb;
	struct db *db;
	pthread_mutex_t *db_lock; /* serialises db calls from job threads */
	/* Records the database could not take yet (db/pending.h), or NULL:
	 * then such a record is logged and lost. */
	struct db_pending *pending;
	/* Counts unit record writes the database refused (status
	 * database.write_errors), or NULL.  Job threads add to it. */
	atomic_ullong *db_write_errors;
	struct image_cache *images;
	const char *station;
	const char *version; /* flashd version stored with each unit */
	/*
	 * Percent applied to engine deadlines and open retries (100 = real
	 * boards).  Simulated boards at a small time scale finish faster, and
	 * a fault test should not wait out a real mass-erase deadline.
	 */
	unsigned deadline_pct;
};

/* The unit's USB device as the daemon saw it appear. */
struct job_device {
	char port[64];
	char devnode[64];
	uint16_t vid, pid, bcd;
	unsigned busnum, devnum;
	char usb_serial[128];
};

enum job_result {
	JOB_PASS,
	JOB_FAIL,
	JOB_INTERRUPTED,
};

/* Progress and outcome as the daemon shows them (STATUS=, flashctl status). */
struct job_observer {
	void *userdata;
	void (*stage)(void *ud, unsigned idx, const char *name);
	void (*progress)(void *ud, uint64_t done, uint64_t total);
	/*
	 * The phase now ("erase", "transfer", "write", "verify"; "" before
	 * the first) and its own done/total bytes; est_ms > 0: the device works
	 * about that long without reporting (the listener may advance with
	 * time).  Called with every progress call, just before it.
	 */
	void (*phase)(void *ud, const char *phase, uint64_t done, uint64_t total, uint64_t est_ms);
	void (*awaiting)(void *ud, uint16_t vid, uint16_t pid);
	void (*identity)(void *ud, const char *serial);
	void (*done)(void *ud, enum job_result result, const char *failed_stage, const char *error);
	/*
	 * A stage started with this deadline (monotonic ms, 0: none): the
	 * listener calls job_check_deadline() once it is reached.  The job
	 * sets it before the call, so a check at deadline_ms stops the stage.
	 */
	void (*deadline)(void *ud, uint64_t deadline_ms);
};

struct job;

/*
 * Create a job for `dev` running `recipe`; slot may be NULL.  Does not start
 * it.  Returns 0 or -ENOMEM.
 */
int job_new(const struct job_env *env, const struct recipe *recipe, const struct job_device *dev,
	    const char *slot, const struct job_observer *obs, struct job **ret);

/*
 * Write the unit's 'running' row, then start the thread.  On failure the row
 * (if written) is finalised as 'fail' with the reason, and -errno returned.
 */
int job_start(struct job *j, struct err *e);

/*
 * job_start() split for a burst of boards (all jobs of one env): the
 * 'running' rows of all n jobs in one transaction (one fsync), all or none;
 * then job_run() for each.  No job may run before its row is durable, so a
 * failed job_begin_units() leaves every job without a row (job_unit_id() 0)
 * and returns -errno (db_error_is_storage() tells a full disk).
 */
int job_begin_units(struct job *const *jobs, size_t n, struct err *e);
/* Start the thread of a job whose row is written (job_begin_units()). */
int job_run(struct job *j, struct err *e);

/* The database id of the unit (0 before job_start). */
int64_t job_unit_id(const struct job *j);
/* After job_join(): the unit's result could not be written yet and is
 * pending (db/pending.h); the daemon writes it later. */
bool job_result_pending(const struct job *j);

/* A device appeared on the job's port (re-enumeration).  Loop thread. */
void job_device_arrived(struct job *j, const struct job_device *dev);
/* The job's device was removed from the port.  Loop thread. */
void job_device_gone(struct job *j);
/*
 * True if the device now on the port arrived after the one the job took
 * last and the job never used it: a board plugged in (or power-cycled)
 * while the job was failing or waiting for another VID/PID, or a device
 * back after the last stage sent it away.  Loop thread.
 */
bool job_has_unused_device(struct job *j);
/* Stop: the running stage fails with -ECANCELED and the unit ends
 * 'interrupted' (daemon shutdown after the grace time). */
void job_cancel(struct job *j);
/* Enforce the running stage's deadline; call when it is reached (observer.deadline).  Returns true
 * when the deadline passed and the stage is being stopped. */
bool job_check_deadline(struct job *j, uint64_t now_ms);

/* Wait for the thread to end (after done was reported). */
void job_join(struct job *j);
struct job *job_free(struct job *j);

const char *job_result_name(enum job_result r);

#endif
