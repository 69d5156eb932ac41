/*
 * Read-only queries behind flashctl's QA commands (log, show, stats,
 * export).  Nothing here prints: rows are handed to callbacks one at a
 * time, so an export of a million units needs no memory for them.
 *
 * Row strings point into SQLite's buffers and are valid only during the
 * callback; copy what you keep.  A callback returning < 0 stops the query,
 * which then returns that value (err untouched: the callback owns the
 * message).  Each query runs in one read transaction: in WAL mode it never
 * blocks the daemon, but a very long one delays WAL checkpoints.
 *
 * Times are ms since the epoch, UTC (db/schema.sql).  Errors are those of
 * db/db.h, plus -EINVAL for a bad argument and -ENOENT for "no such unit".
 */
#ifndef FLASHD_DB_QUERY_H
#define FLASHD_DB_QUERY_H

#include "common/err.h"
#include "db/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Which units: NULL / 0 fields do not filter.  since <= started_at < until. */
struct db_filter {
	const char *serial;
	const char *recipe;
	const char *port;   /* a glob (SQLite GLOB: * ? [...]); a plain path matches itself */
	const char *slot;   /* a glob over the slot label ("A*") */
	const char *result; /* "pass", "fail", "interrupted", "running" */
	int64_t since;	    /* ms; 0 = from the beginning */
	int64_t until;	    /* ms; 0 = to the end */
};

/* A units row.  Absent values: NULL strings, -1 numbers (vid, pid, times). */
struct db_unit_row {
	int64_t id;
	const char *station, *port;
	const char *slot; /* label as configured ("A3") */
	const char *recipe, *recipe_sha256;
	int vid, pid;
	const char *serial, *chip_uid, *jedec_id;
	const char *result, *failed_stage, *error;
	int64_t started_at, finished_at, duration_ms;
	const char *flashd_version;
};

struct db_stage_row {
	int idx;
	const char *name, *result, *error;
	int64_t started_at, duration_ms; /* -1 if unknown */
};

struct db_image_row {
	const char *stage, *target, *file, *sha256;
	int64_t size; /* -1 if unknown */
	bool has_host_crc32, has_device_crc32;
	uint32_t host_crc32, device_crc32;
	bool verified;
};

typedef int (*db_unit_cb_t)(const struct db_unit_row *row, void *userdata);
typedef int (*db_stage_cb_t)(const struct db_stage_row *row, void *userdata);
typedef int (*db_image_cb_t)(const struct db_image_row *row, void *userdata);

/*
 * Units matching filter (NULL = all), oldest first (started_at, id), or
 * newest first if newest_first; at most limit rows (0 = no limit).
 * Returns the number of rows handed to cb.
 */
int db_query_units(struct db *db, const struct db_filter *filter, bool newest_first, unsigned limit,
		   db_unit_cb_t cb, void *userdata, struct err *err);

/*
 * Resolve what a user typed after "flashctl show": a unit id if key is all
 * digits and such a unit exists (unless by_serial), else the newest unit
 * with that serial, else (unless by_serial) the newest with that chip UID,
 * else the unit holding that identity value (a counter serial, a list
 * value, a MAC in any case with ':' or '-'; a unit that gave the value
 * back to its pool only if no other has it).  -ENOENT with a message
 * naming key if none.
 */
int db_query_find_unit(struct db *db, const char *key, bool by_serial, int64_t *unit_id,
		       struct err *err);

/*
 * One unit in full: its row, then every stage (by idx), then every image
 * (in the order written).  Callbacks may be NULL.  -ENOENT if no such unit.
 */
int db_query_unit(struct db *db, int64_t unit_id, db_unit_cb_t unit_cb, db_stage_cb_t stage_cb,
		  db_image_cb_t image_cb, void *userdata, struct err *err);

/*
 * Units matching filter, oldest first, each with its images (in the order
 * written), from one read transaction: cb once per image, or once with
 * image NULL for a unit without images.  Returns the number of callbacks.
 */
typedef int (*db_unit_image_cb_t)(const struct db_unit_row *unit, const struct db_image_row *image,
				  void *userdata);
int db_query_units_images(struct db *db, const struct db_filter *filter, db_unit_image_cb_t cb,
			  void *userdata, struct err *err);

/* A value a unit was given from an identity pool (db/pool.h), as kept with the unit. */
struct db_identity_row {
	int64_t unit_id;
	const char *pool, *value;
	const char *file, *file_sha256; /* a list value naming a file, else NULL */
	const char *state;		/* "allocated", "used", "burned", "released" */
	bool device_written;		/* a write to the device had started */
};
typedef int (*db_identity_cb_t)(const struct db_identity_row *row, void *userdata);

/*
 * The identities of unit_id in the order given (a unit without any: 0
 * callbacks).  One statement, no transaction of its own: it may run from
 * inside another query's callback, in that query's snapshot.  Returns the
 * number of rows.
 */
int db_query_unit_identities(struct db *db, int64_t unit_id, db_identity_cb_t cb, void *userdata,
			     struct err *err);

enum db_stats_by {
	DB_STATS_BY_RECIPE,
	DB_STATS_BY_DAY, /* the station's local day of started_at, "YYYY-MM-DD" */
	DB_STATS_BY_PORT,
	DB_STATS_BY_SLOT, /* slot label; units without one are grouped under "-" */
	_DB_STATS_BY_MAX,
	_DB_STATS_BY_INVALID = -22,
};

/*
 * One group of db_query_stats().  yield = pass / (pass + fail +
 * interrupted), NaN if that is 0; running units are counted in units only.
 * Durations are over finished units with a known duration (n_timed of
 * them); p95 is the nearest-rank 95th percentile; both -1 if n_timed is 0.
 */
struct db_stats_row {
	const char *key;
	int64_t units, pass, fail, interrupted, running;
	double yield;
	int64_t n_timed;
	double mean_ms;
	int64_t p95_ms;
};
typedef int (*db_stats_cb_t)(const struct db_stats_row *row, void *userdata);

/*
 * Statistics of the units matching filter, one callback per group in key
 * order.  Sorts the matching durations in memory: 8 bytes per unit of the
 * largest group.  Returns the number of groups.
 */
int db_query_stats(struct db *db, enum db_stats_by by, const struct db_filter *filter,
		   db_stats_cb_t cb, void *userdata, struct err *err);

/* "recipe", "day", "port", "slot" and back; _DB_STATS_BY_INVALID if unknown. */
const char *db_stats_by_name(enum db_stats_by by);
enum db_stats_by db_stats_by_from_name(const char *s);

/*
 * Cursor paging for flashd-web's /api/units: units matching filter with id
 * greater than after_id, in id order (the order flashd inserts them, so a
 * page boundary never skips a unit even across a clock step), at most limit
 * (0 = no limit).  Returns the number of rows handed to cb.
 */
int db_query_units_after(struct db *db, const struct db_filter *filter, int64_t after_id,
			 unsigned limit, db_unit_cb_t cb, void *userdata, struct err *err);

/* One finished stage with its unit's recipe, for per-stage duration metrics. */
struct db_stage_time_row {
	const char *recipe, *stage, *result;
	int64_t duration_ms; /* -1 if unknown */
};
typedef int (*db_stage_time_cb_t)(const struct db_stage_time_row *row, void *userdata);

/* Every stage row of the units matching filter, unit by unit.  Returns the count. */
int db_query_stage_times(struct db *db, const struct db_filter *filter, db_stage_time_cb_t cb,
			 void *userdata, struct err *err);

#endif
