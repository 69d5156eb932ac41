/*
 * This file implements the hello and the batches of flashd-sync (see
 * sync/ship.h).  A batch goes by COPY into a session-private staging
 * table, then into the outbox by one INSERT … SELECT that the server's
 * trigger checks: one transaction, whatever its size.  The INSERT is sent
 * without waiting, so flashd-sync reads its next batch meanwhile.
 */
#include "sync/ship.h"
#include "sync/pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of COPY data handed to libpq at a time. */
#define COPY_PIECE (1 << 20)

/* Run a one-row query with text parameters; *ret owns the result. */
static int query1(PGconn *pg, const char *sql, int n, const char *const *params, PGresult **ret,
		  const char *what, struct err *err)
{
	PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		int rc = sync_pg_err(pg, r, err, what);

		PQclear(r);
		return rc;
	}
	*ret = r;
	return 0;
}

/* The station database must hold the server's entry hw, with the same payload. */
static int check_same(PGconn *pg, struct db *db, const char *station, int64_t hw, struct err *err)
{
	_cleanup_free_ char *payload = NULL;
	char seq[24];
	const char *params[3] = { station, seq, NULL };
	int64_t last = 0;
	PGresult *r = NULL;
	bool same;
	int rc;

	rc = db_outbox_last_seq(db, &last, err);
	if (rc < 0)
		return rc;
	if (last < hw)
		return err_set(
			err, -ESTALE,
			"station database is at seq %lld but the server holds station '%s' up to %lld: restored from an old backup? Refusing to sync",
			(long long)last, station, (long long)hw);
	rc = db_outbox_payload(db, hw, &payload, err);
	if (rc < 0)
		return rc;
	snprintf(seq, sizeof(seq), "%lld", (long long)hw);
	params[2] = payload;
	rc = query1(pg, "SELECT flashd.ingest_same($1, $2, $3::jsonb)", 3, params, &r,
		    "compare with the server", err);
	if (rc < 0)
		return rc;
	same = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!same)
		return err_set(
			err, -ESTALE,
			"station database differs from the server at seq %lld of station '%s': restored from an old backup and written since? Refusing to sync",
			(long long)hw, station);
	return 0;
}

int sync_hello(PGconn *pg, struct db *db, const struct sync_config *c, int64_t *hw, struct err *err)
{
	char uuid[DB_UUID_LEN];
	const char *params[3] = { c->station, uuid, c->line[0] ? c->line : NULL };
	PGresult *r = NULL;
	int rc;

	rc = db_outbox_station_uuid(db, uuid, err);
	if (rc < 0)
		return rc;
	rc = query1(pg, "SELECT flashd.ingest_hello($1, $2::uuid, $3)", 3, params, &r, "hello",
		    err);
	if (rc < 0)
		return rc;
	*hw = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (*hw == 0)
		return 0;
	return check_same(pg, db, c->station, *hw, err);
}

/* Run sql without rows or parameters; what names it in errors. */
static int exec0(PGconn *pg, const char *sql, const char *what, struct err *err)
{
	PGresult *r = PQexec(pg, sql);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = sync_pg_err(pg, r, err, what);
	PQclear(r);
	return rc;
}

int sync_stage_init(PGconn *pg, struct err *err)
{
	/*
	 * Session-private (the TEMP right every role has by default), emptied
	 * by every commit.  temp_buffers first: a batch of several thousand
	 * entries then stays in memory.
	 */
	return exec0(pg,
		     "SET temp_buffers = '64MB'; "
		     "CREATE TEMP TABLE ingest_batch (seq bigint NOT NULL, kind text NOT NULL, "
		     "payload jsonb NOT NULL) ON COMMIT DELETE ROWS",
		     "staging table", err);
}

/* COPY the rows of b into the staging table (inside the batch's transaction). */
static int copy_in(PGconn *pg, const struct db_outbox_batch *b, struct err *err)
{
	PGresult *r = PQexec(pg, "COPY pg_temp.ingest_batch (seq, kind, payload) FROM STDIN");
	int rc = 0;

	if (PQresultStatus(r) != PGRES_COPY_IN) {
		rc = sync_pg_err(pg, r, err, "copy");
		PQclear(r);
		return rc;
	}
	PQclear(r);
	/* In pieces: PQputCopyData() takes an int length. */
	for (size_t off = 0, n; off < b->copy_len; off += n) {
		n = b->copy_len - off < COPY_PIECE ? b->copy_len - off : COPY_PIECE;
		if (PQputCopyData(pg, b->copy + off, (int)n) != 1)
			return sync_pg_err(pg, NULL, err, "copy");
	}
	if (PQputCopyEnd(pg, NULL) != 1)
		return sync_pg_err(pg, NULL, err, "copy");
	while ((r = PQgetResult(pg))) {
		if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = sync_pg_err(pg, r, err, "copy");
		PQclear(r);
	}
	return rc;
}

/*
 * The staging table into the outbox: one statement, so the server's
 * statement trigger handles the whole batch set-based, once; entries the
 * server already holds (a re-send) insert nothing.  Sent without waiting:
 * sync_send_finish() collects it.
 */
static int stage_to_outbox(PGconn *pg, const char *station, struct err *err)
{
	const char *params[1] = { station };

	if (!PQsendQueryParams(pg,
			       "INSERT INTO flashd.outbox (station, seq, kind, payload) "
			       "SELECT $1, seq, kind, payload FROM pg_temp.ingest_batch "
			       "ON CONFLICT DO NOTHING",
			       1, NULL, params, NULL, NULL, 0))
		return sync_pg_err(pg, NULL, err, "send");
	return 0;
}

/* The INSERT's outcome, once the server has done it. */
static int outbox_result(PGconn *pg, struct err *err)
{
	PGresult *r;
	int rc = 0;

	while ((r = PQgetResult(pg))) {
		if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = sync_pg_err(pg, r, err, "send");
		PQclear(r);
	}
	return rc;
}

static int batch_err(const struct db_outbox_batch *b, int rc, struct err *err)
{
	return err_prefix(err, rc, "seq %lld..%lld", (long long)b->first_seq,
			  (long long)b->last_seq);
}

int sync_send_start(PGconn *pg, const char *station, const struct db_outbox_batch *b,
		    struct err *err)
{
	int rc;

	/* On failure the caller drops the connection, which rolls back. */
	rc = exec0(pg, "BEGIN", "send", err);
	if (rc == 0)
		rc = copy_in(pg, b, err);
	if (rc == 0)
		rc = stage_to_outbox(pg, station, err);
	return rc < 0 ? batch_err(b, rc, err) : 0;
}

int sync_send_finish(PGconn *pg, const struct db_outbox_batch *b, struct err *err)
{
	int rc;

	rc = outbox_result(pg, err);
	if (rc == 0)
		rc = exec0(pg, "COMMIT", "commit", err);
	return rc < 0 ? batch_err(b, rc, err) : 0;
}
