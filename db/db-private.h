/*
 * Shared by the files of db/ only, never included outside it: the handle,
 * the statement cache of the write path, and SQLite-to-errno helpers.
 */
#ifndef FLASHD_DB_DB_PRIVATE_H
#define FLASHD_DB_DB_PRIVATE_H

#include "common/err.h"
#include "common/macro.h"
#include "db/db.h"

#include <sqlite3.h>
#include <stdint.h>

/* Statements prepared once per handle (the daemon's hot path). */
enum db_stmt {
	DB_STMT_UNIT_BEGIN,
	DB_STMT_UNIT_IDENTITY,
	DB_STMT_UNIT_STAGE,
	DB_STMT_UNIT_IMAGE,
	DB_STMT_UNIT_FINISH,
	DB_STMT_UNIT_STATE,
	_DB_STMT_MAX,
};

struct db {
	sqlite3 *sql;
	char *path;
	unsigned flags;			  /* enum db_open_flags */
	sqlite3_stmt *stmt[_DB_STMT_MAX]; /* lazily prepared, owned */
};

DEFINE_CLEANUP_FUNC(sqlite3_stmt *, sqlite3_finalize);
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

/* Reset a cached statement after use so it holds no lock; NULL allowed. */
static inline void db_stmt_resetp(sqlite3_stmt **s)
{
	if (*s) {
		sqlite3_reset(*s);
		sqlite3_clear_bindings(*s);
	}
}
#define _cleanup_reset_ _cleanup_(db_stmt_resetp)

/*
 * Map SQLite result code rc (extended codes are on) to a negative errno and
 * set err to "<what>: <sqlite message>".  Returns the errno.
 */
int db_sql_err(struct db *db, int rc, struct err *err, const char *fmt, ...) _printf_(4, 5);

/* The cached statement id, prepared from sql on first use. */
int db_stmt(struct db *db, enum db_stmt id, const char *sql, sqlite3_stmt **ret, struct err *err);

/* Run SQL without results (BEGIN, COMMIT, pragmas); what names it in errors. */
int db_exec(struct db *db, const char *sql, const char *what, struct err *err);

/* PRAGMA user_version, or -errno. */
int db_read_version(struct db *db, struct err *err);

/* Bind text, or NULL when s is NULL. */
int db_bind_text(sqlite3_stmt *s, int idx, const char *s_val);

/* Column as text, NULL when NULL. */
static inline const char *db_col_text(sqlite3_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s, col);
}

/* Column as integer, dflt when NULL. */
static inline int64_t db_col_int(sqlite3_stmt *s, int col, int64_t dflt)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return dflt;
	return sqlite3_column_int64(s, col);
}

/* db/migrate.c: bring a writable database to DB_SCHEMA_VERSION. */
int db_migrate(struct db *db, struct err *err);

/* The schema of record, generated from db/schema.sql by the Makefile. */
extern const char db_schema_sql[];

#endif
