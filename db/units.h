/*
 * Writing units: the job runner's record of one board being flashed.
 *
 * Life of a row (db/schema.sql, table units):
 *     db_unit_begin()          job starts: row with result 'running'
 *     db_units_begin_many()    the same for a burst of jobs, one commit
 *     db_unit_set_identity()   serial / chip UID / JEDEC id learned mid-job
 *     db_unit_stage()          each stage that ended (table unit_stages)
 *     db_unit_image()          each image written (table unit_images)
 *     db_unit_finish()         job ends: 'pass', 'fail' or 'interrupted'
 * A row still 'running' when the daemon starts again is made 'interrupted'
 * by db_recover_interrupted() (db/db.h).
 *
 * Each call is one short transaction, durable when it returns (WAL,
 * synchronous=FULL: see db/db.h); it blocks for at most the busy timeout if
 * a reader is checkpointing.  Strings are copied; NULL means "unknown" and
 * is stored as NULL.  Errors besides those of db/db.h:
 *   -EINVAL   bad argument (NULL required string, invalid result)
 *   -ENOENT   no unit with that id
 *   -EALREADY the unit is already finished (db_unit_finish, _stage, _image)
 */
#ifndef FLASHD_DB_UNITS_H
#define FLASHD_DB_UNITS_H

#include "common/err.h"
#include "db/db.h"

#include <stdbool.h>
#include <stdint.h>

struct db_unit_start {
	const char *station;	    /* required: host name of the station */
	const char *port;	    /* required: USB port path "1-1.2.3" */
	const char *slot;	    /* fixture slot label ("A3") as configured, or NULL */
	const char *recipe;	    /* required: recipe name */
	const char *recipe_sha256;  /* hex, or NULL */
	uint16_t vid, pid;	    /* USB ids at start */
	const char *serial;	    /* if already known, else NULL */
	const char *flashd_version; /* required */
	int64_t started_at;	    /* ms since epoch; 0 = now */
};

/* Identity learned during the job; NULL fields leave the stored value alone. */
struct db_unit_identity {
	const char *serial;
	const char *chip_uid;
	const char *jedec_id;
};

struct db_unit_stage {
	int idx;	       /* position in the recipe, from 0; unique per unit */
	const char *name;      /* required */
	enum db_result result; /* PASS, FAIL or INTERRUPTED */
	const char *error;     /* NULL on pass */
	int64_t started_at;    /* ms since epoch */
	int64_t duration_ms;   /* < 0 if unknown */
};

struct db_unit_image {
	const char *stage;  /* required: stage that wrote it */
	const char *target; /* "0x08004000", "boot0", or NULL */
	const char *file;   /* required: file as named in the recipe */
	int64_t size;	    /* bytes, < 0 if unknown */
	const char *sha256; /* hex, or NULL */
	bool has_host_crc32, has_device_crc32;
	uint32_t host_crc32, device_crc32;
	bool verified; /* device CRC or read-back matched */
};

/* Insert the 'running' row; *unit_id is set on success only. */
int db_unit_begin(struct db *db, const struct db_unit_start *start, int64_t *unit_id,
		  struct err *err);

/*
 * Insert the 'running' rows of n units in one transaction, all or none: a
 * burst of boards costs one commit (one fsync) instead of n.  On success
 * unit_ids[i] is starts[i]'s id; on failure every unit_ids[i] is 0 and no
 * row was written.
 */
int db_units_begin_many(struct db *db, const struct db_unit_start *starts, size_t n,
			int64_t *unit_ids, struct err *err);

/* Record serial, chip UID and/or JEDEC id; allowed after the unit finished too. */
int db_unit_set_identity(struct db *db, int64_t unit_id, const struct db_unit_identity *id,
			 struct err *err);

/* Record one stage that ended; -EEXIST if idx was already recorded. */
int db_unit_stage(struct db *db, int64_t unit_id, const struct db_unit_stage *stage,
		  struct err *err);

/* Record one image written. */
int db_unit_image(struct db *db, int64_t unit_id, const struct db_unit_image *image,
		  struct err *err);

/*
 * Finalise the unit: result PASS, FAIL or INTERRUPTED, finished_at now,
 * duration_ms from started_at (wall clock, clamped at 0).  failed_stage
 * and error may be NULL.  Only a 'running' row is changed: -EALREADY if
 * it was finished before (the stored result is kept).
 */
int db_unit_finish(struct db *db, int64_t unit_id, enum db_result result, const char *failed_stage,
		   const char *error, struct err *err);

#endif
