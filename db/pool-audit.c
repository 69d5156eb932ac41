/*
 * This file implements db_pool_audit() (see db/pool.h): one query per
 * invariant, each returning the offending values as (pool, value, what),
 * all in one read transaction so the checks see one state of the file.
 */
#include "db/pool-private.h"

#include <errno.h>

/* Each check selects pool, value, what. */
static const char *const checks[] = {
	/* A value in the hands of two units (or two pools' units) at once, or ever used twice. */
	"SELECT min(pool), value, 'assigned twice (units ' || group_concat(unit_id) || ')' "
	"FROM unit_identities WHERE state != 'released' GROUP BY value HAVING count(*) > 1",
	/* The pool says free, a unit holds it. */
	"SELECT v.pool, v.value, 'free in the pool but assigned to unit ' || i.unit_id "
	"FROM pool_values v JOIN unit_identities i ON i.pool = v.pool AND i.seq = v.seq "
	"WHERE v.state = 'free' AND i.state != 'released'",
	"SELECT pool, value, 'free but names unit ' || unit_id FROM pool_values "
	"WHERE state = 'free' AND unit_id IS NOT NULL",
	/* The pool says taken, no unit's record agrees. */
	"SELECT v.pool, v.value, v.state || ' in the pool but unit ' || "
	"coalesce(v.unit_id, '(none)') || ' has no such record' FROM pool_values v "
	"WHERE v.state != 'free' AND NOT EXISTS (SELECT 1 FROM unit_identities i "
	"WHERE i.pool = v.pool AND i.seq = v.seq AND i.unit_id = v.unit_id "
	"AND i.state = v.state)",
	/* A unit holds a value its pool does not know as its own. */
	"SELECT i.pool, i.value, 'unit ' || i.unit_id || ' holds it (' || i.state || ') but the pool "
	"has it ' || coalesce(v.state || ' for unit ' || coalesce(v.unit_id, '(none)'), 'never issued') "
	"FROM unit_identities i LEFT JOIN pool_values v ON v.pool = i.pool AND v.seq = i.seq "
	"WHERE i.state != 'released' AND (v.seq IS NULL OR v.unit_id IS NOT i.unit_id "
	"OR v.state != i.state OR v.value != i.value)",
	/* A number issued beyond the counter is also counted free: handed out twice to come. */
	"SELECT v.pool, v.value, 'number ' || v.seq || ' outside the issued range ' || p.first_seq "
	"|| '..' || (p.next_seq - 1) FROM pool_values v JOIN pools p ON p.name = v.pool "
	"WHERE p.next_seq IS NOT NULL AND (v.seq < p.first_seq OR v.seq >= p.next_seq)",
	"SELECT name, '-', 'counter ' || next_seq || ' outside ' || first_seq || '..' || "
	"(last_seq + 1) FROM pools WHERE next_seq IS NOT NULL "
	"AND (next_seq < first_seq OR next_seq > last_seq + 1)",
	/* A number outside the issued part of every block: no other station was kept from it,
	 * or its block will issue it again. */
	"SELECT v.pool, v.value, 'number ' || v.seq || ' not in the issued part of a block' "
	"FROM pool_values v JOIN pools p ON p.name = v.pool WHERE p.kind != 'list' "
	"AND NOT EXISTS (SELECT 1 FROM pool_blocks b WHERE b.pool = v.pool "
	"AND v.seq BETWEEN b.first_seq AND b.next_seq - 1)",
	/* Two blocks of one range: their numbers would be issued twice. */
	"SELECT a.pool, '-', 'block ' || a.first_seq || '..' || a.last_seq || ' overlaps block ' "
	"|| b.first_seq || '..' || b.last_seq || ' of pool ' || b.pool "
	"FROM pool_blocks a JOIN pools pa ON pa.name = a.pool "
	"JOIN pool_blocks b ON (b.pool, b.first_seq) > (a.pool, a.first_seq) "
	"AND b.first_seq <= a.last_seq AND b.last_seq >= a.first_seq "
	"JOIN pools pb ON pb.name = b.pool WHERE pa.kind = pb.kind "
	"AND (pa.kind = 'mac' OR pa.format = pb.format)",
	NULL,
};

static int run_check(struct db *db, const char *sql, db_pool_problem_cb_t cb, void *userdata,
		     struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc, n = 0;

	rc = pool_prep(db, sql, &s, err);
	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct db_pool_problem p = {
			.pool = db_col_text(s, 0),
			.value = db_col_text(s, 1),
			.what = db_col_text(s, 2),
		};

		n++;
		if (cb && (rc = cb(&p, userdata)) < 0)
			return rc;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool audit");
	return n;
}

int db_pool_audit(struct db *db, db_pool_problem_cb_t cb, void *userdata, struct err *err)
{
	int rc, total = 0;

	rc = db_exec(db, "BEGIN", "pool audit", err);
	if (rc < 0)
		return rc;
	for (const char *const *c = checks; *c; c++) {
		rc = run_check(db, *c, cb, userdata, err);
		if (rc < 0)
			break;
		total += rc;
	}
	sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
	return rc < 0 ? rc : total;
}
