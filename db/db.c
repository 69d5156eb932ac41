/*
 * This file implements opening and closing the unit database, its pragmas
 * (WAL, synchronous=FULL, busy timeout: why in db/db.h), crash recovery,
 * and the SQLite-to-errno mapping shared by db/.
 */
#include "db/db.h"
#include "db/db-private.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const result_names[_DB_RESULT_MAX] = {
	[DB_RESULT_RUNNING] = "running",
	[DB_RESULT_PASS] = "pass",
	[DB_RESULT_FAIL] = "fail",
	[DB_RESULT_INTERRUPTED] = "interrupted",
};

const char *db_result_name(enum db_result r)
{
	if (r < 0 || r >= _DB_RESULT_MAX)
		return NULL;
	return result_names[r];
}

enum db_result db_result_from_name(const char *s)
{
	if (!s)
		return _DB_RESULT_INVALID;
	for (int i = 0; i < _DB_RESULT_MAX; i++)
		if (strcmp(s, result_names[i]) == 0)
			return (enum db_result)i;
	return _DB_RESULT_INVALID;
}

int64_t db_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sql_errno(struct db *db, int rc)
{
	int sys;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		sys = db && db->sql ? sqlite3_system_errno(db->sql) : 0;
		return sys > 0 ? -sys : -EACCES;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return -EBADMSG;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			return -EEXIST;
		return -EINVAL;
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
		return -EINVAL;
	default:
		return -EIO;
	}
}

int db_sql_err(struct db *db, int rc, struct err *err, const char *fmt, ...)
{
	char what[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(err, sql_errno(db, rc), "%s: %s", what,
		       db && db->sql ? sqlite3_errmsg(db->sql) : sqlite3_errstr(rc));
}

int db_stmt(struct db *db, enum db_stmt id, const char *sql, sqlite3_stmt **ret, struct err *err)
{
	int rc;

	if (!db->stmt[id]) {
		rc = sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, &db->stmt[id],
					NULL);
		if (rc != SQLITE_OK)
			return db_sql_err(db, rc, err, "prepare '%.60s'", sql);
	}
	*ret = db->stmt[id];
	return 0;
}

int db_exec(struct db *db, const char *sql, const char *what, struct err *err)
{
	int rc = sqlite3_exec(db->sql, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "%s", what);
	return 0;
}

int db_bind_text(sqlite3_stmt *s, int idx, const char *val)
{
	if (!val)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, val, -1, SQLITE_TRANSIENT);
}

int db_read_version(struct db *db, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, "PRAGMA user_version", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "database '%s': read schema version", db->path);
	return sqlite3_column_int(s, 0);
}

int db_schema_version(struct db *db, struct err *err)
{
	return db_read_version(db, err);
}

struct db *db_close(struct db *db)
{
	if (!db)
		return NULL;
	for (int i = 0; i < _DB_STMT_MAX; i++)
		sqlite3_finalize(db->stmt[i]);
	/* The last connection to close checkpoints and removes the WAL. */
	sqlite3_close_v2(db->sql);
	free(db->path);
	free(db);
	return NULL;
}

/* A read-only handle works only on the exact current schema. */
static int check_readonly_version(struct db *db, int v, struct err *err)
{
	if (v > DB_SCHEMA_VERSION)
		return err_set(
			err, -EPROTONOSUPPORT,
			"database '%s' has schema version %d, newer than this build supports (%d): upgrade flashd",
			db->path, v, DB_SCHEMA_VERSION);
	if (v == 0)
		return err_set(err, -EBADMSG, "database '%s' is not a flashd database (no schema)",
			       db->path);
	if (v < DB_SCHEMA_VERSION)
		return err_set(
			err, -EPROTO,
			"database '%s' has schema version %d, older than %d: start flashd once to migrate it",
			db->path, v, DB_SCHEMA_VERSION);
	return 0;
}

static int set_pragmas(struct db *db, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *mode;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "database '%s': set WAL mode", db->path);
	mode = db_col_text(s, 0);
	if (!mode || strcmp(mode, "wal") != 0)
		return err_set(err, -EIO, "database '%s': journal mode is '%s', not 'wal'",
			       db->path, mode ? mode : "?");
	return db_exec(db, "PRAGMA synchronous = FULL", "set pragmas", err);
}

/*
 * A read-only reader that cannot create the -shm file (a QA user without
 * write access to the directory while flashd is stopped, a read-only
 * filesystem, a copy on a CD) can still read a database whose WAL is empty:
 * everything is in the main file, so it is opened as immutable.  With a
 * WAL present its frames would be missed, so then the error stands.
 */
static bool wal_is_empty(const char *path)
{
	char wal[PATH_MAX];
	struct stat st;

	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal))
		return false;
	return stat(wal, &st) < 0 ? errno == ENOENT : st.st_size == 0;
}

/* "file:" URI for path with immutable=1; %, ? and # escaped. */
static char *immutable_uri(const char *path)
{
	size_t n = strlen(path);
	char *uri = malloc(n * 3 + sizeof("file:?immutable=1"));
	char *o = uri;

	if (!uri)
		return NULL;
	o += sprintf(o, "file:");
	for (const char *p = path; *p; p++)
		o += strchr("%?#", *p) ? sprintf(o, "%%%02X", (unsigned char)*p)
				       : sprintf(o, "%c", *p);
	sprintf(o, "?immutable=1");
	return uri;
}

static int reopen_immutable(struct db *db, struct err *err)
{
	_cleanup_free_ char *uri = immutable_uri(db->path);
	int rc;

	if (!uri)
		return err_set(err, -ENOMEM, "out of memory");
	sqlite3_close_v2(db->sql);
	db->sql = NULL;
	rc = sqlite3_open_v2(uri, &db->sql,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "cannot open database '%s'", db->path);
	sqlite3_extended_result_codes(db->sql, 1);
	return 0;
}

int db_open(const char *path, unsigned flags, struct db **ret, struct err *err)
{
	_cleanup_db_ struct db *db = NULL;
	bool readonly = flags & DB_OPEN_READONLY;
	struct stat st;
	int oflags, rc, v;

	if (!path || !*path || !ret)
		return err_set(err, -EINVAL, "db_open: no path");
	if (readonly && (flags & DB_OPEN_CREATE))
		return err_set(err, -EINVAL, "db_open: CREATE and READONLY together");
	if (!(flags & DB_OPEN_CREATE) && stat(path, &st) < 0)
		return err_set(err, -errno, "database '%s' %s", path,
			       errno == ENOENT ? "does not exist" : strerror(errno));
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return err_set(err, -EINVAL, "database '%s' is %s, not a database file", path,
			       S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");

	db = calloc(1, sizeof(*db));
	if (!db)
		return err_set(err, -ENOMEM, "out of memory");
	db->path = strdup(path);
	if (!db->path)
		return err_set(err, -ENOMEM, "out of memory");
	db->flags = flags;

	oflags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	if (flags & DB_OPEN_CREATE)
		oflags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &db->sql, oflags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "cannot open database '%s'", path);
	sqlite3_extended_result_codes(db->sql, 1);
	sqlite3_busy_timeout(db->sql, DB_BUSY_TIMEOUT_MS);

	/* Read the version before writing anything: a newer database stays untouched. */
	v = db_read_version(db, err);
	if (v < 0 && readonly && wal_is_empty(path)) {
		struct err again = { 0 };
		int v2 = reopen_immutable(db, &again);

		if (v2 >= 0)
			v2 = db_read_version(db, &again);
		/* On failure the first cause stays the one shown. */
		if (v2 >= 0)
			v = v2;
	}
	if (v < 0)
		return v;
	if (readonly) {
		rc = check_readonly_version(db, v, err);
		if (rc < 0)
			return rc;
	} else {
		if (v > DB_SCHEMA_VERSION)
			return err_set(
				err, -EPROTONOSUPPORT,
				"database '%s' has schema version %d, newer than this build supports (%d): refusing to write",
				path, v, DB_SCHEMA_VERSION);
		rc = set_pragmas(db, err);
		if (rc < 0)
			return rc;
		rc = db_migrate(db, err);
		if (rc < 0)
			return rc;
		/* Only now: a migration that rebuilds units must not cascade to its children. */
		rc = db_exec(db, "PRAGMA foreign_keys = ON", "set pragmas", err);
		if (rc < 0)
			return rc;
	}
	*ret = TAKE_PTR(db);
	return 0;
}

int db_recover_interrupted(struct db *db, const char *station, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	/* Only this station's rows: another flashd sharing the file may be
	 * running its units right now (tests/jobs/test-job-identity-many-sim.sh). */
	rc = sqlite3_prepare_v2(db->sql,
				"UPDATE units SET result = 'interrupted', error = coalesce(error, "
				"'flashd stopped while the unit was running (recovered at start)') "
				"WHERE result = 'running' AND (?1 IS NULL OR station = ?1)",
				-1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 1, station, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "recover interrupted units");
	return sqlite3_changes(db->sql);
}
