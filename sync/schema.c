/*
 * This file implements the fleet schema's migrations (see sync/schema.h).
 * An advisory lock makes two concurrent --migrate runs apply each step once.
 */
#include "sync/schema.h"
#include "sync/pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char prologue[] = "SELECT pg_advisory_xact_lock(hashtext('flashd-sync migrate'));\n"
			       "CREATE SCHEMA IF NOT EXISTS flashd;\n"
			       "CREATE TABLE IF NOT EXISTS flashd.schema_migrations (\n"
			       "\tversion\t\tinteger PRIMARY KEY,\n"
			       "\tname\t\ttext NOT NULL,\n"
			       "\tapplied_at\ttimestamptz NOT NULL DEFAULT now()\n"
			       ");\n";

/* Run sql (no parameters, no rows wanted). */
static int exec(PGconn *pg, const char *sql, const char *what, struct err *err)
{
	PGresult *r = PQexec(pg, sql);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = sync_pg_err(pg, r, err, what);
	PQclear(r);
	return rc;
}

/* The highest version applied, 0 if none; -errno if the table is missing or unreadable. */
static int server_version(PGconn *pg, struct err *err)
{
	PGresult *r = PQexec(pg, "SELECT coalesce(max(version), 0) FROM flashd.schema_migrations");
	int v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		v = sync_pg_err(pg, r, err, "schema version");
		PQclear(r);
		return v;
	}
	v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static int apply(PGconn *pg, const struct sync_migration *m, struct err *err)
{
	const char *params[] = { NULL, m->name };
	char version[16];
	PGresult *r;
	int rc;

	rc = exec(pg, m->sql, m->name, err);
	if (rc < 0)
		return rc;
	snprintf(version, sizeof(version), "%d", m->version);
	params[0] = version;
	r = PQexecParams(pg, "INSERT INTO flashd.schema_migrations (version, name) VALUES ($1, $2)",
			 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = sync_pg_err(pg, r, err, m->name);
	PQclear(r);
	return rc;
}

static int migrate_locked(PGconn *pg, struct err *err)
{
	int v, rc, n = 0;

	rc = exec(pg, prologue, "migrations table", err);
	if (rc < 0)
		return rc;
	v = server_version(pg, err);
	if (v < 0)
		return v;
	for (size_t i = 0; i < sync_n_migrations; i++) {
		if (sync_migrations[i].version <= v)
			continue;
		rc = apply(pg, &sync_migrations[i], err);
		if (rc < 0)
			return rc;
		n++;
	}
	return n;
}

int sync_schema_migrate(PGconn *pg, struct err *err)
{
	int rc, n;

	rc = exec(pg, "BEGIN", "migrate: begin", err);
	if (rc < 0)
		return rc;
	n = migrate_locked(pg, err);
	if (n < 0) {
		PQclear(PQexec(pg, "ROLLBACK"));
		return n;
	}
	rc = exec(pg, "COMMIT", "migrate: commit", err);
	return rc < 0 ? rc : n;
}

int sync_schema_check(PGconn *pg, struct err *err)
{
	int want = sync_n_migrations ? sync_migrations[sync_n_migrations - 1].version : 0;
	int v = server_version(pg, err);

	if (v < 0)
		return err_prefix(err, v,
				  "no fleet schema (run flashd-sync --migrate as its owner)");
	if (v < want)
		return err_set(
			err, -EPROTO,
			"fleet schema is at version %d, this flashd-sync needs %d: run flashd-sync --migrate as its owner",
			v, want);
	return 0;
}
