/*
 * What the daemon knows of the identity pools (issue 18, db/pool.h): each
 * pool's units left and whether it is low (fewer than its low_water) or
 * exhausted (none left).  The loop re-reads the pools at start and after
 * each unit ends (db_pool_levels(): one query over the free values only,
 * so a pool that issued a million serials costs nothing; no thread of its
 * own), logs a pool that
 * got low or exhausted once per crossing (LOG_ID_POOL_LOW), and gives the
 * low ones to STATUS= and the control socket's status.
 */
#ifndef FLASHD_DAEMON_POOL_WATCH_H
#define FLASHD_DAEMON_POOL_WATCH_H

#include "common/err.h"
#include "db/db.h"

#include <stddef.h>
#include <stdint.h>

enum pool_level {
	POOL_LEVEL_OK,
	POOL_LEVEL_LOW,	      /* units_left < low_water */
	POOL_LEVEL_EXHAUSTED, /* units_left == 0 */
};

struct pool_seen {
	char *name;
	char kind[8];
	int64_t units_left, low_water;
	enum pool_level level;
};

struct pool_watch {
	struct pool_seen *v;
	size_t n;
};

/*
 * Re-read every pool; log each one whose level got worse since the last
 * read (a pool seen for the first time counts as coming from ok).  A level
 * that got better (values imported, reused) is remembered silently, so the
 * next crossing is logged again.  On error w is left as it was.  Returns
 * the number of crossings logged.
 */
int pool_watch_refresh(struct pool_watch *w, struct db *db, struct err *err);

/* "pool serial low: 12 units left; pool macs exhausted" ("" if none); buf always terminated. */
void pool_watch_status(const struct pool_watch *w, char *buf, size_t size);

const char *pool_level_name(enum pool_level l);

void pool_watch_clear(struct pool_watch *w);

#endif
