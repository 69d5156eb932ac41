/*
 * This file implements the blocks of counter and mac pools (see db/pool.h,
 * db_pool_add_block()): a pool issues from its blocks, lowest first, each
 * in order from its own next_seq; the first is its own range, later ones
 * are leased from a central pool (issue 20 item 4), so a station assigns
 * offline from ranges no other one holds.  Leases may arrive in any order
 * (two runs of `flashctl fleet pool lease` at once), so a block may lie
 * below blocks already issued from.
 */
#include "db/pool-private.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

int pool_sync_next(struct db *db, const char *name, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = pool_prep(db,
		       "UPDATE pools SET next_seq = (SELECT max(next_seq) FROM pool_blocks "
		       "WHERE pool = ?1) WHERE name = ?1",
		       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, name);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': next number", name);
	return 0;
}

int pool_insert_block(struct db *db, const char *name, int64_t first, int64_t last,
		      const char *lease, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = pool_prep(
		db,
		"INSERT INTO pool_blocks (pool, first_seq, last_seq, next_seq, lease, added_at) "
		"VALUES (?1, ?2, ?3, ?2, ?4, ?5)",
		&s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, first);
	sqlite3_bind_int64(s, 3, last);
	db_bind_text(s, 4, lease);
	sqlite3_bind_int64(s, 5, db_now_ms());
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': add block %" PRId64 "..%" PRId64, name,
				  first, last);
	return 0;
}

/*
 * A block already recorded for lease, or with this very range: 0 when it
 * is this block (recording lease on a range that had none), -EEXIST when
 * the lease names another range, 1 when neither exists.
 */
static int find_same(struct db *db, const char *name, int64_t first, int64_t last,
		     const char *lease, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL, *u = NULL;
	int rc;

	rc = pool_prep(db,
		       "SELECT pool, first_seq, last_seq, lease FROM pool_blocks "
		       "WHERE (lease = ?1) OR (pool = ?2 AND first_seq = ?3 AND last_seq = ?4) "
		       "ORDER BY lease IS NULL LIMIT 1",
		       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, lease);
	db_bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, first);
	sqlite3_bind_int64(s, 4, last);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "pool '%s': blocks", name);
	if (strcmp(db_col_text(s, 0), name) != 0 || sqlite3_column_int64(s, 1) != first ||
	    sqlite3_column_int64(s, 2) != last)
		return err_set(err, -EEXIST,
			       "pool '%s': lease '%s' is recorded as pool '%s' block %" PRId64
			       "..%" PRId64,
			       name, lease, db_col_text(s, 0), (int64_t)sqlite3_column_int64(s, 1),
			       (int64_t)sqlite3_column_int64(s, 2));
	if (!lease || db_col_text(s, 3))
		return 0;
	rc = pool_prep(db, "UPDATE pool_blocks SET lease = ? WHERE pool = ? AND first_seq = ?", &u,
		       err);
	if (rc < 0)
		return rc;
	db_bind_text(u, 1, lease);
	db_bind_text(u, 2, name);
	sqlite3_bind_int64(u, 3, first);
	rc = sqlite3_step(u);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': record lease", name);
	return 0;
}

static int add_locked(struct db *db, const char *name, int64_t first, int64_t last,
		      const char *lease, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct pool p;
	int rc;

	rc = pool_load(db, name, &p, err);
	if (rc < 0)
		return rc;
	if (p.kind == DB_POOL_LIST)
		return err_set(err, -EINVAL, "pool '%s' is a list pool: it has no blocks", name);
	rc = find_same(db, name, first, last, lease, err);
	if (rc <= 0)
		return rc;
	rc = pool_check_overlap(db, name, p.kind, p.format[0] ? p.format : NULL, first, last, err);
	if (rc >= 0)
		rc = pool_insert_block(db, name, first, last, lease, err);
	if (rc >= 0)
		rc = pool_prep(db,
			       "UPDATE pools SET first_seq = min(first_seq, ?2), "
			       "last_seq = max(last_seq, ?3) WHERE name = ?1",
			       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, first);
	sqlite3_bind_int64(s, 3, last);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': extend range", name);
	rc = pool_sync_next(db, name, err);
	return rc < 0 ? rc : 1;
}

int db_pool_add_block(struct db *db, const char *name, int64_t first, int64_t last,
		      const char *lease, struct err *err)
{
	int rc;

	if (!name || first < 0 || last < first)
		return err_set(err, -EINVAL, "pool '%s': block %" PRId64 "..%" PRId64 " is empty",
			       name ? name : "", first, last);
	if (lease && !*lease)
		return err_set(err, -EINVAL, "pool '%s': empty lease key", name);
	rc = pool_begin(db, err);
	if (rc < 0)
		return rc;
	return pool_end(db, add_locked(db, name, first, last, lease, err), err);
}

int db_pool_blocks(struct db *db, const char *pool, db_pool_block_cb_t cb, void *userdata,
		   struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct pool p;
	int rc, n = 0;

	rc = pool_load(db, pool, &p, err);
	if (rc < 0)
		return rc;
	rc = pool_prep(db,
		       "SELECT first_seq, last_seq, lease, added_at, next_seq - first_seq "
		       "FROM pool_blocks WHERE pool = ?1 ORDER BY first_seq",
		       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, pool);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct db_pool_block_row r = {
			.pool = pool,
			.first = sqlite3_column_int64(s, 0),
			.last = sqlite3_column_int64(s, 1),
			.lease = db_col_text(s, 2),
			.added_at = sqlite3_column_int64(s, 3),
			.issued = sqlite3_column_int64(s, 4),
		};

		n++;
		if (cb && (rc = cb(&r, userdata)) < 0)
			return rc;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': blocks", pool);
	return n;
}
