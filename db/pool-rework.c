/*
 * This file implements db_pool_reuse_identity() (see db/pool.h): a board
 * flashed again gets the values it already holds.  One transaction: find
 * the earlier passed unit of the same board, give the running unit that
 * unit's used values of each recipe pool, and send the values the running
 * unit had been allocated for those pools back to the pool (nothing was
 * written with them).
 */
#include "db/pool-private.h"

#include <errno.h>
#include <string.h>

/* The latest other unit that passed on this board and still holds used values. */
static int find_earlier(struct db *db, int64_t unit_id, const char *serial, const char *chip_uid,
			int64_t *ret, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc = pool_prep(
		db,
		"SELECT u.id FROM units u WHERE u.id != ?1 AND u.result = 'pass' "
		"AND ((?2 IS NOT NULL AND upper(u.chip_uid) = upper(?2)) "
		"OR (?3 IS NOT NULL AND u.serial = ?3)) "
		"AND EXISTS (SELECT 1 FROM pool_values v WHERE v.unit_id = u.id AND v.state = 'used') "
		"ORDER BY u.id DESC LIMIT 1",
		&s, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	db_bind_text(s, 2, chip_uid && *chip_uid ? chip_uid : NULL);
	db_bind_text(s, 3, serial && *serial ? serial : NULL);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "unit %lld: look up an earlier unit of the board",
				  (long long)unit_id);
	*ret = sqlite3_column_int64(s, 0);
	return 1;
}

static int run(struct db *db, const char *sql, int64_t a, int64_t b, const char *pool, int64_t now,
	       struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc = pool_prep(db, sql, &s, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	db_bind_text(s, 3, pool);
	sqlite3_bind_int64(s, 4, now);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': hand unit %lld's values to unit %lld",
				  pool, (long long)b, (long long)a);
	return sqlite3_changes(db->sql);
}

/*
 * ?1 the running unit, ?2 the earlier one, ?3 the pool, ?4 now.  The pool's
 * rows change first, while the units' rows still say which values.
 */
static const char *const hand_over[] = {
	/* The fresh values go back: no write was made with them. */
	"UPDATE pool_values SET state = 'free', unit_id = NULL WHERE pool = ?3 AND unit_id = ?1 "
	"AND state = 'allocated'",
	"UPDATE unit_identities SET state = 'released', finished_at = ?4 "
	"WHERE unit_id = ?1 AND pool = ?3 AND state = 'allocated'",
	/* The board's own values move to the running unit, already on the device. */
	"INSERT INTO unit_identities (unit_id, pool, seq, value, file, file_sha256, state, "
	"device_written, allocated_at) SELECT ?1, pool, seq, value, file, file_sha256, "
	"'allocated', 1, ?4 FROM unit_identities WHERE unit_id = ?2 AND pool = ?3 "
	"AND state = 'used' ORDER BY id",
	"UPDATE pool_values SET state = 'allocated', unit_id = ?1 WHERE pool = ?3 AND unit_id = ?2 "
	"AND state = 'used'",
	"UPDATE unit_identities SET state = 'released', finished_at = ?4 "
	"WHERE unit_id = ?2 AND pool = ?3 AND state = 'used'",
	NULL,
};

/* Whether the earlier unit holds used values of pool. */
static int holds(struct db *db, int64_t unit, const char *pool, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc = pool_prep(db,
			   "SELECT count(*) FROM pool_values WHERE unit_id = ? AND pool = ? "
			   "AND state = 'used'",
			   &s, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit);
	db_bind_text(s, 2, pool);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "pool '%s': values of unit %lld", pool,
				  (long long)unit);
	return sqlite3_column_int64(s, 0) > 0;
}

/* No write was made with the running unit's values: else they cannot go back. */
static int not_written(struct db *db, int64_t unit_id, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc = pool_prep(db,
			   "SELECT count(*) FROM unit_identities WHERE unit_id = ? "
			   "AND state = 'allocated' AND device_written = 1",
			   &s, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "unit %lld: identity state", (long long)unit_id);
	if (sqlite3_column_int64(s, 0) > 0)
		return err_set(
			err, -EBUSY,
			"unit %lld: its values were marked written: too late to take the board's own",
			(long long)unit_id);
	return 0;
}

/* The running unit's allocated values, in the order of pools. */
static int held_values(struct db *db, int64_t unit_id, const char *const *pools, size_t n_pools,
		       struct db_identities *out, struct err *err)
{
	for (size_t i = 0; i < n_pools; i++) {
		_cleanup_stmt_ sqlite3_stmt *s = NULL;
		int rc = pool_prep(
			db,
			"SELECT seq, value, file, file_sha256 FROM unit_identities "
			"WHERE unit_id = ? AND pool = ? AND state = 'allocated' ORDER BY id",
			&s, err);

		if (rc < 0)
			return rc;
		sqlite3_bind_int64(s, 1, unit_id);
		db_bind_text(s, 2, pools[i]);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			rc = pool_append_identity(out, pools[i], sqlite3_column_int64(s, 0),
						  db_col_text(s, 1), db_col_text(s, 2),
						  db_col_text(s, 3), err);
			if (rc < 0)
				return rc;
		}
		if (rc != SQLITE_DONE)
			return db_sql_err(db, rc, err, "unit %lld: values", (long long)unit_id);
	}
	return 0;
}

static int reuse_locked(struct db *db, int64_t unit_id, const char *serial, const char *chip_uid,
			const char *const *pools, size_t n_pools, struct db_identities *out,
			int64_t *from, struct err *err)
{
	int64_t now = db_now_ms(), earlier = 0;
	int rc, moved = 0;

	rc = find_earlier(db, unit_id, serial, chip_uid, &earlier, err);
	if (rc <= 0)
		return rc;
	rc = not_written(db, unit_id, err);
	for (size_t i = 0; rc >= 0 && i < n_pools; i++) {
		rc = holds(db, earlier, pools[i], err);
		if (rc <= 0)
			continue; /* a pool the board has no value of yet: keep the fresh one */
		for (const char *const *q = hand_over; rc >= 0 && *q; q++)
			rc = run(db, *q, unit_id, earlier, pools[i], now, err);
		moved++;
	}
	if (rc < 0)
		return rc;
	if (!moved)
		return 0;
	*from = earlier;
	rc = held_values(db, unit_id, pools, n_pools, out, err);
	return rc < 0 ? rc : 1;
}

int db_pool_reuse_identity(struct db *db, int64_t unit_id, const char *serial, const char *chip_uid,
			   const char *const *pools, size_t n_pools, struct db_identities *out,
			   int64_t *from_unit, struct err *err)
{
	struct db_identities got = { 0 };
	int64_t from = 0;
	int rc;

	if (!out || (n_pools && !pools))
		return err_set(err, -EINVAL, "reuse identity: no arguments");
	if (!(serial && *serial) && !(chip_uid && *chip_uid))
		return 0;
	rc = pool_begin(db, err);
	if (rc < 0)
		return rc;
	rc = reuse_locked(db, unit_id, serial, chip_uid, pools, n_pools, &got, &from, err);
	rc = pool_end(db, rc, err);
	if (rc <= 0) {
		db_identities_clear(&got);
		return rc;
	}
	db_identities_clear(out);
	*out = got;
	if (from_unit)
		*from_unit = from;
	return 1;
}
