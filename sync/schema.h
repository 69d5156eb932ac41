/*
 * The fleet database's schema: the migrations in sync/schema/NNN-*.sql,
 * compiled in by the Makefile, applied in order by `flashd-sync --migrate`
 * (as the database owner), each in one transaction with its row in
 * flashd.schema_migrations.  The ingest role cannot migrate: flashd-sync
 * only checks the version it finds.
 */
#ifndef FLASHD_SYNC_SCHEMA_H
#define FLASHD_SYNC_SCHEMA_H

#include "common/err.h"
#include "common/macro.h"

#include <stddef.h>

struct sync_migration {
	int version;	  /* NNN of the file name */
	const char *name; /* file name */
	const char *sql;
};

/* Generated from sync/schema/ by the Makefile, in version order. */
extern const struct sync_migration sync_migrations[];
extern const size_t sync_n_migrations;

struct pg_conn; /* PGconn of libpq-fe.h */

/* Apply the migrations the server lacks; returns how many, or -errno. */
int sync_schema_migrate(struct pg_conn *pg, struct err *err);

/* 0 if the server's schema is at least this build's, else -EPROTO (message: run --migrate). */
int sync_schema_check(struct pg_conn *pg, struct err *err);

#endif
