/*
 * Shared by db/pool*.c only: a pool's row and the transaction helpers.
 */
#ifndef FLASHD_DB_POOL_PRIVATE_H
#define FLASHD_DB_POOL_PRIVATE_H

#include "db/db-private.h"
#include "db/pool.h"

#define POOL_NAME_MAX 65

struct pool {
	char name[POOL_NAME_MAX];
	enum db_pool_kind kind;
	char format[DB_POOL_VALUE_MAX];
	int64_t first, last, next; /* -1 for list pools */
	unsigned per_unit;
	enum db_pool_policy policy;
	char station[256]; /* "" if any station */
};

/* Prepare sql (not cached: pools are off the daemon's hot path). */
int pool_prep(struct db *db, const char *sql, sqlite3_stmt **s, struct err *err);

/* BEGIN IMMEDIATE: take the write lock first, so the busy timeout applies. */
int pool_begin(struct db *db, struct err *err);

/* COMMIT if rc >= 0, else ROLLBACK; returns rc, or the failed commit's error. */
int pool_end(struct db *db, int rc, struct err *err);

/* The pool called name; -ENOENT "no pool" if none. */
int pool_load(struct db *db, const char *name, struct pool *p, struct err *err);

/* Append one value to out (strings copied); -ENOMEM. */
int pool_append_identity(struct db_identities *out, const char *pool, int64_t seq,
			 const char *value, const char *file, const char *sha, struct err *err);

/* -EEXIST if [first, last] overlaps a block of any pool of kind (counter: of format). */
int pool_check_overlap(struct db *db, const char *name, enum db_pool_kind kind, const char *format,
		       int64_t first, int64_t last, struct err *err);

/* Insert block [first, last] of pool name (lease may be NULL); db/pool-blocks.c. */
int pool_insert_block(struct db *db, const char *name, int64_t first, int64_t last,
		      const char *lease, struct err *err);

/* pools.next_seq := the highest next_seq of the pool's blocks (db/schema.sql). */
int pool_sync_next(struct db *db, const char *name, struct err *err);

#endif
