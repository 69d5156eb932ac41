/*
 * Identity pools (issue 18): serial numbers, MAC addresses and list values
 * (pre-assigned serials, key or certificate files) that the station hands
 * to units, each value to one unit at most.  Tables pools, pool_values and
 * unit_identities of db/schema.sql.
 *
 * Kinds:
 *   counter  numbers first..last, formatted by a format string (below);
 *   mac      48-bit addresses first..last, per_unit consecutive ones a unit;
 *   list     values imported from a file (db_pool_import()), in file order.
 * A pool may be a block [first, last] of a wider range reserved for one
 * station (spec.station): only that station allocates from it, so stations
 * sharing a range never talk to each other.  Overlapping mac pools, and
 * overlapping counter pools of the same format, are refused at creation.
 * A counter or mac pool issues from its blocks, lowest first: its own
 * range and blocks added later (db_pool_add_block(): leased from a central
 * pool by `flashctl fleet pool lease`); it is exhausted when every block is.
 *
 * Life of a value (every value in exactly one state; db_pool_audit() proves it):
 *     free --db_pool_allocate()--> allocated --pass--> used
 *                                            --fail/interrupted--> burned
 *                                            --fail/interrupted, policy 'reuse',
 *                                              no device write started--> free
 * The unit's record of it (unit_identities) stays, as 'released' when the
 * value went back to the pool.  Numbers of counter and mac pools from
 * next_seq on were never issued and are free without a row.
 *
 * Order of calls for a job (the wiring into jobs/ is a later step):
 *     db_unit_begin()          the unit row
 *     db_pool_allocate()       before the first USB transfer; an exhausted
 *                              pool fails the unit here, naming the pool
 *     db_pool_mark_written()   before the first write to the device
 *     db_unit_finish() and db_pool_unit_finish()
 * and at daemon start, after db_recover_interrupted(): db_pool_recover(),
 * which settles the values of units that ended without
 * db_pool_unit_finish() (crash between the two calls, or during the job).
 * "Nothing was written" is known only from db_pool_mark_written(): a
 * value whose unit crashed is released under 'reuse' only if the mark is
 * absent, which proves no write had begun.
 *
 * Counter format: literal text (printable ASCII, no braces) and fields
 *     {seq} {seq:N}   the number, zero-padded to N digits (required once)
 *     {yy} {yyyy}     ISO 8601 week-numbering year at allocation, UTC
 *     {ww}            ISO 8601 week, 01..53, UTC
 *     {luhn}          Luhn mod-10 check digit over every digit before it
 * e.g. "SN{yy}{ww}{seq:6}{luhn}" -> "SN26100000012".
 *
 * Each call is one transaction (BEGIN IMMEDIATE where it writes), durable
 * when it returns; concurrent processes on the same file wait up to the
 * busy timeout.  Errors besides those of db/db.h:
 *   -EINVAL   bad spec, format or value           -ENOENT  no such pool or unit
 *   -EEXIST   pool exists / overlaps, duplicate value, unit already holds values of the pool
 *   -ENOSPC   pool exhausted (the message names the pool)
 *   -EPERM    pool reserved for another station   -EALREADY unit not running
 */
#ifndef FLASHD_DB_POOL_H
#define FLASHD_DB_POOL_H

#include "common/err.h"
#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_pool_kind {
	DB_POOL_COUNTER,
	DB_POOL_MAC,
	DB_POOL_LIST,
	_DB_POOL_KIND_MAX,
	_DB_POOL_KIND_INVALID = -22,
};

enum db_pool_policy {
	DB_POOL_BURN, /* the default: a failed unit's values are never used again */
	DB_POOL_REUSE,
	_DB_POOL_POLICY_MAX,
	_DB_POOL_POLICY_INVALID = -22,
};

#define DB_POOL_VALUE_MAX 128 /* longest counter value or MAC text, with NUL */

struct db_pool_spec {
	const char *name; /* required: [A-Za-z0-9_.-], at most 64 characters */
	enum db_pool_kind kind;
	const char *format;	    /* counter: required; else NULL */
	int64_t first, last;	    /* counter: 0 <= first <= last; mac: 48-bit addresses */
	unsigned per_unit;	    /* values per unit; 0 means 1 */
	enum db_pool_policy policy; /* DB_POOL_BURN unless asked */
	int64_t low_water;	    /* warn when fewer units than this are left; 0: never */
	const char *station;	    /* block reserved for this station, or NULL */
};

int db_pool_create(struct db *db, const struct db_pool_spec *spec, struct err *err);

enum db_pool_import_format {
	DB_POOL_IMPORT_LINES, /* one value per line */
	DB_POOL_IMPORT_FILES, /* one file name per line: the value, naming that file */
	DB_POOL_IMPORT_CSV,   /* header line naming "value" and optionally "file" columns */
};

/*
 * Append the values of path to list pool: blank lines and lines starting
 * with '#' are skipped (CSV: after the header).  A file named by a value
 * (relative paths: to the directory of path) must be readable: its
 * absolute path and SHA-256 are stored.  All or nothing: a missing or
 * unreadable file, or a duplicate value, fails the import naming the line.
 * Returns the number of values added.
 */
int db_pool_import(struct db *db, const char *pool, const char *path,
		   enum db_pool_import_format format, struct err *err);

/* One value given to a unit; strings owned by the struct db_identities. */
struct db_identity {
	char *pool;
	int64_t seq;
	char *value;	   /* "SN26100000012", "02:00:00:00:00:01", list text */
	char *file;	   /* list value naming a file: absolute path, else NULL */
	char *file_sha256; /* hex, with file */
};

struct db_identities {
	struct db_identity *v;
	size_t n;
};

void db_identities_clear(struct db_identities *ids);

/*
 * Take per_unit values from each of pools[0..n_pools) for the running
 * unit, all in one transaction that also records them against the unit:
 * all pools or none.  A pool's 'free' values (released by 'reuse') go
 * first, then never-issued numbers in order.  station is this station's
 * name (a block reserved for another one is -EPERM).  now_ms dates
 * counter date codes; 0 = now.  On success out holds the values in pool
 * order (clear it with db_identities_clear()).
 */
int db_pool_allocate(struct db *db, int64_t unit_id, const char *station, const char *const *pools,
		     size_t n_pools, int64_t now_ms, struct db_identities *out, struct err *err);

/*
 * Rework keeps identity: the running unit unit_id is a board flashed
 * before when an earlier unit that passed has the same chip UID (any case)
 * or the same serial (either may be NULL or empty) and still holds 'used'
 * values; the latest such unit is the board's.  For each of pools[] it
 * holds values of, in one transaction: the values unit_id was allocated
 * from that pool go back to free (rows 'released': no write was made with
 * them), and the board's own values pass to unit_id — new unit_identities
 * rows of unit_id, 'allocated' with device_written 1 (they are on the
 * device already, so policy 'reuse' never frees them), the earlier unit's
 * rows become 'released' (it no longer holds them), the pool's rows name
 * unit_id.  They then settle with unit_id as any allocated value: used on
 * pass, burned otherwise.  Pools the earlier unit has no value of keep the
 * fresh ones.  Call before db_pool_mark_written() (-EBUSY after it).
 * Returns 0 when no earlier unit was found (nothing changed), or 1 with
 * out (cleared first) holding unit_id's values in pool order and
 * *from_unit (may be NULL) the earlier unit.
 */
int db_pool_reuse_identity(struct db *db, int64_t unit_id, const char *serial, const char *chip_uid,
			   const char *const *pools, size_t n_pools, struct db_identities *out,
			   int64_t *from_unit, struct err *err);

/* A write to the device is about to start: the unit's values may no longer be reused. */
int db_pool_mark_written(struct db *db, int64_t unit_id, struct err *err);

/*
 * Settle the unit's allocated values: result PASS makes them used; FAIL or
 * INTERRUPTED burns them, or, under policy 'reuse' when device_written is
 * false and db_pool_mark_written() was not called, frees them.  Returns
 * the number of values settled (0 if the unit holds none).
 */
int db_pool_unit_finish(struct db *db, int64_t unit_id, enum db_result result, bool device_written,
			struct err *err);

/*
 * Settle, as db_pool_unit_finish() would with device_written false, the
 * allocated values of every unit of station no longer 'running' (call after
 * db_recover_interrupted(), with the same station; NULL: every station's).
 * Returns the number of values settled.
 */
int db_pool_recover(struct db *db, const char *station, struct err *err);

/* A pool and its counts (values, not units).  Strings valid during the callback. */
struct db_pool_row {
	const char *name, *kind, *format, *policy, *station;
	int64_t first, last, next; /* counter, mac; -1 for list */
	unsigned per_unit;
	int64_t low_water;
	int64_t total, free, allocated, used, burned;
	int64_t units_left; /* free / per_unit */
	bool low;	    /* units_left < low_water */
	int64_t blocks;	    /* counter, mac: number of blocks (first..last spans them) */
};
typedef int (*db_pool_cb_t)(const struct db_pool_row *row, void *userdata);

/* Every pool (name NULL) or one (-ENOENT if none), by name.  Returns the count. */
int db_pool_list(struct db *db, const char *name, db_pool_cb_t cb, void *userdata, struct err *err);

/*
 * Units left of each pool, by name, for a daemon that looks after every
 * unit: counts only the free values (a partial index), never the used
 * ones, so it stays cheap when a pool has issued millions.  Strings valid
 * during the callback.  Returns the number of pools.
 */
struct db_pool_level {
	const char *name, *kind;
	int64_t units_left, low_water;
	bool low; /* units_left < low_water */
};
typedef int (*db_pool_level_cb_t)(const struct db_pool_level *row, void *userdata);
int db_pool_levels(struct db *db, db_pool_level_cb_t cb, void *userdata, struct err *err);

/* A value of a pool that was issued or imported; unit_id -1 when free. */
struct db_pool_value_row {
	const char *pool;
	int64_t seq;
	const char *value, *file, *file_sha256, *state;
	int64_t unit_id;
};
typedef int (*db_pool_value_cb_t)(const struct db_pool_value_row *row, void *userdata);

/* The values of pool by seq (never-issued numbers are not listed).  Returns the count. */
int db_pool_values(struct db *db, const char *pool, db_pool_value_cb_t cb, void *userdata,
		   struct err *err);

/*
 * Add block [first, last] to counter or mac pool name: the pool issues
 * from its blocks lowest first, so blocks may come in any order, but none
 * may overlap a block of this or another pool of the range (mac, or
 * counter of the same format): -EEXIST.  lease names where it came from
 * (a central lease's request key, unique in the database), NULL if
 * nowhere.  Idempotent: the block of this lease, or the same range
 * (recorded with lease if it had none), already in the pool changes
 * nothing and returns 0; a lease recorded with another range is -EEXIST.
 * Returns 1 when the block was added.
 */
int db_pool_add_block(struct db *db, const char *name, int64_t first, int64_t last,
		      const char *lease, struct err *err);

/* A block of a pool; lease NULL when made locally.  Strings valid during the callback. */
struct db_pool_block_row {
	const char *pool;
	int64_t first, last;
	int64_t issued; /* numbers of it issued (each block issues in order) */
	const char *lease;
	int64_t added_at; /* ms since epoch, UTC */
};
typedef int (*db_pool_block_cb_t)(const struct db_pool_block_row *row, void *userdata);

/* The blocks of pool in order (none for a list pool).  Returns the count. */
int db_pool_blocks(struct db *db, const char *pool, db_pool_block_cb_t cb, void *userdata,
		   struct err *err);

/* One violation of the pool invariants. */
struct db_pool_problem {
	const char *pool, *value;
	const char *what; /* "assigned twice (units 3,9)" */
};
typedef int (*db_pool_problem_cb_t)(const struct db_pool_problem *p, void *userdata);

/*
 * Check every value: none both free and assigned, none assigned twice, the
 * pool's state and the unit's record agree, no number issued outside its
 * range.  Read-only.  Returns the number of problems (0: clean).
 */
int db_pool_audit(struct db *db, db_pool_problem_cb_t cb, void *userdata, struct err *err);

/* The counter value of seq at now_ms (0 = now) into buf; checks the format. */
int db_pool_format_counter(const char *format, int64_t seq, int64_t now_ms, char *buf, size_t size,
			   struct err *err);

/* "02:00:00:00:00:01" (':' or '-' separated, any case) to its 48-bit number. */
int db_pool_parse_mac(const char *s, int64_t *mac);
/* Lower-case colon-separated text of a 48-bit address; buf holds 18 bytes. */
void db_pool_mac_text(int64_t mac, char buf[18]);

const char *db_pool_kind_name(enum db_pool_kind k);
enum db_pool_kind db_pool_kind_from_name(const char *s);
const char *db_pool_policy_name(enum db_pool_policy p);
enum db_pool_policy db_pool_policy_from_name(const char *s);

#endif
