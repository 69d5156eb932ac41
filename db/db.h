/*
 * The flashd unit database: one SQLite file (default /var/lib/flashd/flashd.db)
 * in which every unit that starts becomes a row QA can trust.
 *
 * This header opens, creates, migrates and closes the database and recovers
 * rows left 'running' by a crash.  Writing units is in db/units.h, the
 * queries of flashctl in db/query.h.  The schema of record is db/schema.sql
 * (documented there: timestamps are INTEGER ms since the epoch, UTC).
 *
 * Invariants:
 *   - The schema version is PRAGMA user_version.  db_open() creates an empty
 *     database at DB_SCHEMA_VERSION and migrates older ones (db/migrate.c);
 *     a database with a newer version is refused (-EPROTONOSUPPORT), never
 *     written to.
 *   - The journal is WAL, so readers (flashctl, sqlite3 -readonly) never
 *     block the daemon's writes, and the daemon's short transactions block
 *     readers not at all.  busy_timeout is DB_BUSY_TIMEOUT_MS.
 *   - synchronous=FULL: every committed write (a unit begun, an image, a
 *     unit finished) is on disk when the call returns, even across a power
 *     cut.  NORMAL would only risk the last commits on power loss, but a
 *     'pass' row lost after the label was printed is exactly what QA must
 *     never see; one WAL fsync per call costs a few ms, a job makes a
 *     handful of calls.
 *   - One struct db belongs to one thread at a time; it is not locked.
 *
 * Errors: 0 / negative errno, with the message in struct err:
 *   -ENOENT            the file does not exist (and DB_OPEN_CREATE not given)
 *   -EPROTONOSUPPORT   schema newer than this build knows
 *   -EPROTO            schema older and the database opened read-only
 *   -EBADMSG           not a flashd database, or corrupt
 *   -EACCES            permission denied / read-only file
 *   -EBUSY             locked longer than the busy timeout
 *   -ENOSPC -ENOMEM -EIO   as SQLite reports them
 */
#ifndef FLASHD_DB_DB_H
#define FLASHD_DB_DB_H

#include "common/err.h"

#include <stdint.h>

/* Version written by db/schema.sql; db/migrate.c knows every older one. */
#define DB_SCHEMA_VERSION 6

#define DB_DEFAULT_PATH "/var/lib/flashd/flashd.db"
#define DB_BUSY_TIMEOUT_MS 5000

enum db_open_flags {
	DB_OPEN_CREATE = 1 << 0,   /* create the file if missing (the daemon) */
	DB_OPEN_READONLY = 1 << 1, /* never write; refuse an older schema (flashctl) */
};

/* Result of a unit or a stage, stored as its name. */
enum db_result {
	DB_RESULT_RUNNING,
	DB_RESULT_PASS,
	DB_RESULT_FAIL,
	DB_RESULT_INTERRUPTED,
	_DB_RESULT_MAX,
	_DB_RESULT_INVALID = -22, /* -EINVAL */
};

struct db;

/*
 * Open the database at path, creating it if flags has DB_OPEN_CREATE, and
 * bring the schema to DB_SCHEMA_VERSION unless DB_OPEN_READONLY.  Blocks
 * for at most the busy timeout per step.  On success *ret owns the
 * handle (db_close() it); on failure *ret is untouched.
 */
int db_open(const char *path, unsigned flags, struct db **ret, struct err *err);

/* Close the handle; NULL is allowed.  Returns NULL. */
struct db *db_close(struct db *db);

static inline void db_closep(struct db **db)
{
	if (*db)
		db_close(*db);
}
#define _cleanup_db_ _cleanup_(db_closep)

/*
 * Turn every unit of station left 'running' (the daemon died during a job)
 * into 'interrupted', with an error saying so; finished_at and duration_ms
 * stay NULL because the time of the crash is unknown.  Call once at daemon
 * start, before any job begins.  Units of other stations are left alone:
 * stations may share one database file, and another station's flashd may
 * be running them.  station NULL: every station's (tools, with no flashd
 * running).  Returns the number of rows changed.
 */
int db_recover_interrupted(struct db *db, const char *station, struct err *err);

/* Schema version of the open database (PRAGMA user_version), or -errno. */
int db_schema_version(struct db *db, struct err *err);

/* "running", "pass", "fail", "interrupted"; NULL for an invalid value. */
const char *db_result_name(enum db_result r);

/* Inverse of db_result_name(); _DB_RESULT_INVALID if unknown. */
enum db_result db_result_from_name(const char *s);

/* Wall-clock time in ms since the epoch, the unit of every *_at column. */
int64_t db_now_ms(void);

#endif
