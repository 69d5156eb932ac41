/*
 * This file implements schema migrations keyed on PRAGMA user_version.
 *
 * db/schema.sql is always the current schema and is what an empty database
 * (user_version 0, no tables) gets.  A database at an older version gets
 * the steps below, in order, each bringing version N to N + 1 and setting
 * user_version itself; the whole walk is one IMMEDIATE transaction, so a
 * crash leaves either the old or the new schema, and two processes opening
 * the same old file migrate it once.
 *
 * To change the schema: edit db/schema.sql (including its user_version),
 * bump DB_SCHEMA_VERSION in db/db.h, and append the step from the previous
 * version here, with a test in tests/db/test-db.c that builds the old
 * version by hand, migrates it and compares it with a fresh database.
 */
#include "db/db-private.h"

#include <errno.h>
#include <string.h>

/* steps[N - 1] migrates version N to N + 1; version 1 is the first release. */
static const char *const steps[] = {
	NULL, /* sentinel: no migration exists yet (schema version 1) */
};

static int count_tables(struct db *db, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, "SELECT count(*) FROM sqlite_master", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "database '%s': list tables", db->path);
	return sqlite3_column_int(s, 0);
}

static int migrate_locked(struct db *db, struct err *err)
{
	int v, n, rc;

	/* Read again under the write lock: another process may have migrated. */
	v = db_read_version(db, err);
	if (v < 0)
		return v;
	if (v > DB_SCHEMA_VERSION)
		return err_set(err, -EPROTONOSUPPORT,
			       "database '%s' has schema version %d, newer than this build supports (%d): refusing to write",
			       db->path, v, DB_SCHEMA_VERSION);
	if (v == DB_SCHEMA_VERSION)
		return 0;

	if (v == 0) {
		n = count_tables(db, err);
		if (n < 0)
			return n;
		if (n > 0)
			return err_set(err, -EBADMSG,
				       "database '%s' is not a flashd database (tables but no schema version)",
				       db->path);
		rc = db_exec(db, db_schema_sql, "create schema", err);
		if (rc < 0)
			return err_prefix(err, rc, "database '%s'", db->path);
	} else {
		for (; v < DB_SCHEMA_VERSION; v++) {
			if ((size_t)v > ARRAY_SIZE(steps) || !steps[v - 1])
				return err_set(err, -EPROTO,
					       "database '%s': no migration from schema version %d",
					       db->path, v);
			rc = db_exec(db, steps[v - 1], "migrate", err);
			if (rc < 0)
				return err_prefix(err, rc, "database '%s': version %d to %d",
						  db->path, v, v + 1);
		}
	}

	v = db_read_version(db, err);
	if (v < 0)
		return v;
	if (v != DB_SCHEMA_VERSION)
		return err_set(err, -EPROTO,
			       "database '%s': schema version is %d after migration, expected %d",
			       db->path, v, DB_SCHEMA_VERSION);
	return 0;
}

int db_migrate(struct db *db, struct err *err)
{
	int rc;

	rc = db_exec(db, "BEGIN IMMEDIATE", "begin migration", err);
	if (rc < 0)
		return err_prefix(err, rc, "database '%s'", db->path);
	rc = migrate_locked(db, err);
	if (rc < 0) {
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	rc = db_exec(db, "COMMIT", "commit migration", err);
	if (rc < 0)
		return err_prefix(err, rc, "database '%s'", db->path);
	return 0;
}
