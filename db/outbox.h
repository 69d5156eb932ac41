/*
 * The station outbox (db/schema.sql, schema version 5), read side: what
 * flashd-sync ships to the fleet server.  Entries are written by triggers
 * in the transaction that records the change (a finished unit, a pool
 * value given to or settled for a unit), so flashd itself calls nothing
 * here.  Every call reads only: flashd-sync opens the database with
 * DB_OPEN_READONLY.
 */
#ifndef FLASHD_DB_OUTBOX_H
#define FLASHD_DB_OUTBOX_H

#include "common/err.h"
#include "db/db.h"

#include <stddef.h>
#include <stdint.h>

/* A UUID in text: 36 characters and the NUL. */
#define DB_UUID_LEN 37

/* Entries after a given seq, as one JSON array (owned, free() it). */
struct db_outbox_batch {
	char *json; /* [{"seq":N,"kind":"unit","payload":{...}}, ...] */
	int count;  /* entries in json; 0 when there is nothing newer */
	int64_t first_seq, last_seq;
	char *copy; /* db_outbox_read_copy(): "seq\tkind\tpayload\n" rows */
	size_t copy_len;
};

/* This database's station uuid (table station_identity) into buf. */
int db_outbox_station_uuid(struct db *db, char buf[DB_UUID_LEN], struct err *err);

/* The highest seq in the outbox (0 if empty). */
int db_outbox_last_seq(struct db *db, int64_t *seq, struct err *err);

/* How many entries come after seq, and created_at of the first of them (0 if none); cheap. */
int db_outbox_lag(struct db *db, int64_t after, int64_t *count, int64_t *oldest_ms,
		  struct err *err);

/* Up to limit entries with seq > after, in seq order, into *b (cleared first). */
int db_outbox_read(struct db *db, int64_t after, int limit, struct db_outbox_batch *b,
		   struct err *err);

/*
 * The same entries as rows of PostgreSQL's COPY text format (seq, kind,
 * payload; backslash, tab, newline and carriage return escaped) into
 * b->copy, b->copy_len; b->json stays NULL.  The server parses each payload
 * once, as it arrives, instead of one array of the whole batch.
 */
int db_outbox_read_copy(struct db *db, int64_t after, int limit, struct db_outbox_batch *b,
			struct err *err);

void db_outbox_batch_clear(struct db_outbox_batch *b);

/* The payload of entry seq (owned, free() it); -ENOENT if there is none. */
int db_outbox_payload(struct db *db, int64_t seq, char **payload, struct err *err);

#endif
