/*
 * Pending unit records: what a job could not write to the database (disk
 * full, I/O error, read-only file, locked too long), kept until it can.
 *
 * A record is one write of db/units.h after the 'running' row exists: an
 * identity, a stage, an image or the finish.  db_pending_submit() writes it
 * at once when nothing is pending; when the write fails for a storage
 * reason (db_error_is_storage()), or when records are already pending (the
 * order of a unit's records must hold: a finish may not overtake its
 * stages), the record is queued instead and the queue turns "blocked".
 * db_pending_replay() writes the queue in order once the database takes
 * writes again; the daemon stops starting boards while it is blocked.
 *
 * Where records are kept: in memory (at most DB_PENDING_MAX records and
 * DB_PENDING_MAX_BYTES of text) and, when a journal path is given, also
 * appended to that file, one text line per record, fsync'd, so a flashd
 * stopped (or killed) with records pending replays them at its next start.
 * The file belongs to one database: its first line names the database
 * path, and a file naming another database is refused (-EXDEV) rather than
 * replayed into the wrong one.  The file is removed once the queue is
 * written.  It must live on another filesystem than the database (default
 * /run/flashd/pending.journal): the database's filesystem is the full one.
 *
 * Replay is idempotent, so a record written twice (flashd killed after the
 * write and before the file was removed) changes nothing: a stage whose idx
 * is recorded, an image row already present, a finish of a unit no longer
 * 'running' are taken as written.  A finish keeps the time it happened
 * (finished_at), not the time of the replay.
 *
 * Threads: the queue has its own lock; every function may be called from
 * any thread.  The struct db passed in must be owned by the caller (the
 * daemon's db_lock), as everywhere in db/.
 */
#ifndef FLASHD_DB_PENDING_H
#define FLASHD_DB_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "db/db.h"
#include "db/units.h"

#define DB_PENDING_MAX 65536
#define DB_PENDING_MAX_BYTES (16u << 20)

enum db_rec_kind {
	DB_REC_IDENTITY,
	DB_REC_STAGE,
	DB_REC_IMAGE,
	DB_REC_FINISH,
	_DB_REC_MAX,
};

struct db_rec_finish {
	enum db_result result;	  /* PASS, FAIL or INTERRUPTED */
	const char *failed_stage; /* may be NULL */
	const char *error;	  /* may be NULL */
	int64_t finished_at;	  /* ms since epoch; 0 = now */
};

/* One write of a unit's row; strings are copied when queued. */
struct db_rec {
	enum db_rec_kind kind;
	int64_t unit_id;
	union {
		struct db_unit_identity identity;
		struct db_unit_stage stage;
		struct db_unit_image image;
		struct db_rec_finish finish;
	} u;
};

struct db_pending;

/* What a replay did. */
struct db_pending_replay_stats {
	unsigned written; /* records written (or found already written) */
	unsigned dropped; /* records the database refused for good (message in last_drop) */
	unsigned finished[_DB_RESULT_MAX]; /* finish records written, by result */
	unsigned finish_dropped;	   /* finish records among the dropped */
	char last_drop[ERR_MSG_MAX];
};

/*
 * A queue for the database at db_path.  journal_path may be NULL (memory
 * only).  Records left in an existing journal file are loaded into the
 * queue (it is then blocked).  -EXDEV if the file names another database,
 * -EBADMSG if it is not a pending journal, -errno if it cannot be read.
 */
int db_pending_new(const char *journal_path, const char *db_path, struct db_pending **ret,
		   struct err *e);
struct db_pending *db_pending_free(struct db_pending *q);

/*
 * Write rec to db, or queue it (see above).  Returns 0 when written, 1
 * when queued (e holds why, if a write failed), or -errno when the record
 * is lost: the database refused it for good (-EINVAL, -ENOENT, -EALREADY,
 * -EEXIST: the same as db/units.h) or the queue is full (-ENOBUFS).
 */
int db_pending_submit(struct db_pending *q, struct db *db, const struct db_rec *rec, struct err *e);

/*
 * Mark the queue blocked without a record: a write outside the queue (the
 * 'running' row of a unit) failed for a storage reason; why is kept.
 */
void db_pending_block(struct db_pending *q, const char *why);

/*
 * Write the queue in order.  Stops at the first storage failure (returns
 * its -errno; the rest stays queued and the queue blocked).  When every
 * record is written (or the queue held none), a probe write checks the
 * database takes writes; on success the queue is unblocked, the journal
 * file removed, and 0 returned.
 */
int db_pending_replay(struct db_pending *q, struct db *db, struct db_pending_replay_stats *st,
		      struct err *e);

/* Blocked: a storage failure happened and no replay succeeded since. */
bool db_pending_blocked(struct db_pending *q);
/* Records queued, and distinct units they belong to. */
size_t db_pending_count(struct db_pending *q);
size_t db_pending_units(struct db_pending *q);
/* Finish records queued: units that ended with their result pending. */
size_t db_pending_finishes(struct db_pending *q);
/* True if a record of unit_id is queued (its row is not complete yet). */
bool db_pending_has_unit(struct db_pending *q, int64_t unit_id);
/*
 * The queued finish record of unit_id (its row still says 'running'):
 * 1 with *result and *finished_at set, 0 if none is queued, -ENOMEM.
 */
int db_pending_finish(struct db_pending *q, int64_t unit_id, enum db_result *result,
		      int64_t *finished_at);
/* The failure that blocked the queue ("" if not blocked). */
void db_pending_why(struct db_pending *q, char *buf, size_t size);
/* Why the journal file could not be written ("" if it could, or none). */
void db_pending_journal_error(struct db_pending *q, char *buf, size_t size);

/* Write rec at once, nothing queued (no queue at hand: tools, tests). */
int db_rec_write(struct db *db, const struct db_rec *rec, struct err *e);

/* A failure that another attempt may cure (disk full, I/O, locked, read-only). */
bool db_error_is_storage(int r);

#endif
