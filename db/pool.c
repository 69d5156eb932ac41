/*
 * This file implements identity pools (see db/pool.h): creating pools,
 * allocating values to a unit in the transaction that records them,
 * settling them when the unit ends or after a crash, and the pool counts.
 * Import is in db/pool-import.c, the audit in db/pool-audit.c, value text
 * in db/pool-format.c.
 */
#include "db/pool.h"
#include "db/db-private.h"
#include "db/pool-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_MAX ((INT64_C(1) << 48) - 1)

int pool_prep(struct db *db, const char *sql, sqlite3_stmt **s, struct err *err)
{
	int rc = sqlite3_prepare_v2(db->sql, sql, -1, s, NULL);

	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "prepare '%.60s'", sql);
	return 0;
}

int pool_begin(struct db *db, struct err *err)
{
	return db_exec(db, "BEGIN IMMEDIATE", "begin pool transaction", err);
}

/* Commit if rc >= 0, else roll back; returns rc or the commit's error. */
int pool_end(struct db *db, int rc, struct err *err)
{
	int c;

	if (rc < 0) {
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	c = db_exec(db, "COMMIT", "commit pool transaction", err);
	if (c < 0) {
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
		return c;
	}
	return rc;
}

int pool_load(struct db *db, const char *name, struct pool *p, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = pool_prep(db,
		       "SELECT kind, format, first_seq, last_seq, next_seq, per_unit, policy, "
		       "station FROM pools WHERE name = ?",
		       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return err_set(err, -ENOENT, "no pool '%s'", name);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "pool '%s'", name);
	*p = (struct pool){
		.kind = db_pool_kind_from_name(db_col_text(s, 0)),
		.first = db_col_int(s, 2, -1),
		.last = db_col_int(s, 3, -1),
		.next = db_col_int(s, 4, -1),
		.per_unit = (unsigned)db_col_int(s, 5, 1),
		.policy = db_pool_policy_from_name(db_col_text(s, 6)),
	};
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->format, sizeof(p->format), "%s", db_col_text(s, 1) ? db_col_text(s, 1) : "");
	snprintf(p->station, sizeof(p->station), "%s", db_col_text(s, 7) ? db_col_text(s, 7) : "");
	return 0;
}

/* ---- create ---- */

static int check_name(const char *name, struct err *err)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= POOL_NAME_MAX ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
		return err_set(err, -EINVAL,
			       "pool name '%s': 1 to %d characters of A-Z a-z 0-9 _ . -",
			       name ? name : "", POOL_NAME_MAX - 1);
	return 0;
}

static int check_counter(const struct db_pool_spec *sp, struct err *err)
{
	char buf[DB_POOL_VALUE_MAX];

	if (strlen(sp->format ? sp->format : "") >= DB_POOL_VALUE_MAX)
		return err_set(err, -EINVAL, "pool '%s': format longer than %d characters",
			       sp->name, DB_POOL_VALUE_MAX - 1);
	if (sp->first < 0 || sp->first > sp->last)
		return err_set(err, -EINVAL,
			       "pool '%s': counter range %" PRId64 "..%" PRId64
			       " is empty or negative",
			       sp->name, sp->first, sp->last);
	/* The last number must fit the format's width, or values would collide. */
	return err_prefix(err,
			  db_pool_format_counter(sp->format, sp->last, 0, buf, sizeof(buf), err),
			  "pool '%s'", sp->name);
}

static int check_mac(const struct db_pool_spec *sp, struct err *err)
{
	const int64_t ula = INT64_C(2) << 40, mcast = INT64_C(1) << 40;

	if (sp->first < 0 || sp->last > MAC_MAX || sp->first > sp->last)
		return err_set(err, -EINVAL, "pool '%s': MAC range is empty or not 48-bit",
			       sp->name);
	if ((sp->first | sp->last) & mcast)
		return err_set(
			err, -EINVAL,
			"pool '%s': multicast addresses (bit 0 of the first octet) are not unit addresses",
			sp->name);
	if ((sp->first & ula) != (sp->last & ula))
		return err_set(
			err, -EINVAL,
			"pool '%s': the range mixes universal and locally administered addresses",
			sp->name);
	/* A universal range is one vendor's OUI block: it may not cross into the next OUI. */
	if (!(sp->first & ula) && sp->first >> 24 != sp->last >> 24)
		return err_set(err, -EINVAL,
			       "pool '%s': a universal MAC range must stay within one OUI",
			       sp->name);
	if (sp->last - sp->first + 1 < (int64_t)(sp->per_unit ? sp->per_unit : 1))
		return err_set(err, -EINVAL,
			       "pool '%s': range smaller than one unit's %u addresses", sp->name,
			       sp->per_unit);
	return 0;
}

static int check_spec(const struct db_pool_spec *sp, struct err *err)
{
	int rc = check_name(sp->name, err);

	if (rc < 0)
		return rc;
	if (!db_pool_kind_name(sp->kind) || !db_pool_policy_name(sp->policy))
		return err_set(err, -EINVAL, "pool '%s': bad kind or policy", sp->name);
	if (sp->low_water < 0 || sp->per_unit > 64)
		return err_set(err, -EINVAL,
			       "pool '%s': low-water < 0 or more than 64 values a unit", sp->name);
	if (sp->station &&
	    (!*sp->station || strlen(sp->station) >= sizeof(((struct pool *)0)->station)))
		return err_set(err, -EINVAL, "pool '%s': station name empty or too long", sp->name);
	if (sp->kind != DB_POOL_COUNTER && sp->format)
		return err_set(err, -EINVAL, "pool '%s': only counter pools have a format",
			       sp->name);
	if (sp->kind == DB_POOL_COUNTER)
		return check_counter(sp, err);
	if (sp->kind == DB_POOL_MAC)
		return check_mac(sp, err);
	return 0;
}

/*
 * Two blocks of one range must not overlap: their values would be handed
 * out twice.  Blocks of every pool count, the pool's own included.
 */
int pool_check_overlap(struct db *db, const char *name, enum db_pool_kind kind, const char *format,
		       int64_t first, int64_t last, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	if (kind == DB_POOL_LIST)
		return 0;
	rc = pool_prep(db,
		       "SELECT b.pool FROM pool_blocks b JOIN pools p ON p.name = b.pool "
		       "WHERE p.kind = ?1 AND (p.kind = 'mac' OR p.format = ?2) "
		       "AND b.first_seq <= ?4 AND b.last_seq >= ?3",
		       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, db_pool_kind_name(kind));
	db_bind_text(s, 2, format);
	sqlite3_bind_int64(s, 3, first);
	sqlite3_bind_int64(s, 4, last);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return err_set(err, -EEXIST, "pool '%s': range overlaps pool '%s'", name,
			       db_col_text(s, 0));
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': check overlap", name);
	return 0;
}

static int check_overlap(struct db *db, const struct db_pool_spec *sp, struct err *err)
{
	return pool_check_overlap(db, sp->name, sp->kind, sp->format, sp->first, sp->last, err);
}

static int insert_pool(struct db *db, const struct db_pool_spec *sp, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	bool ranged = sp->kind != DB_POOL_LIST;
	int rc;

	rc = pool_prep(db,
		       "INSERT INTO pools (name, kind, format, first_seq, last_seq, next_seq, "
		       "per_unit, policy, low_water, station, created_at) "
		       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, sp->name);
	db_bind_text(s, 2, db_pool_kind_name(sp->kind));
	db_bind_text(s, 3, sp->format);
	if (ranged) {
		sqlite3_bind_int64(s, 4, sp->first);
		sqlite3_bind_int64(s, 5, sp->last);
		sqlite3_bind_int64(s, 6, sp->first);
	}
	sqlite3_bind_int(s, 7, sp->per_unit ? (int)sp->per_unit : 1);
	db_bind_text(s, 8, db_pool_policy_name(sp->policy));
	sqlite3_bind_int64(s, 9, sp->low_water);
	db_bind_text(s, 10, sp->station);
	sqlite3_bind_int64(s, 11, db_now_ms());
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return err_set(err, -EEXIST, "pool '%s' exists", sp->name);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "create pool '%s'", sp->name);
	/* A range is the pool's first block (db/schema.sql, pool_blocks). */
	return ranged ? pool_insert_block(db, sp->name, sp->first, sp->last, NULL, err) : 0;
}

int db_pool_create(struct db *db, const struct db_pool_spec *spec, struct err *err)
{
	int rc;

	if (!spec)
		return err_set(err, -EINVAL, "create pool: no spec");
	rc = check_spec(spec, err);
	if (rc < 0)
		return rc;
	rc = pool_begin(db, err);
	if (rc < 0)
		return rc;
	rc = check_overlap(db, spec, err);
	if (rc >= 0)
		rc = insert_pool(db, spec, err);
	return pool_end(db, rc, err);
}

/* ---- allocate ---- */

/* Drop the values from index n on. */
static void truncate_ids(struct db_identities *ids, size_t n)
{
	while (ids->n > n) {
		struct db_identity *v = &ids->v[--ids->n];

		free(v->pool);
		free(v->value);
		free(v->file);
		free(v->file_sha256);
	}
}

void db_identities_clear(struct db_identities *ids)
{
	if (!ids)
		return;
	truncate_ids(ids, 0);
	free(ids->v);
	*ids = (struct db_identities){ 0 };
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int append(struct db_identities *out, const char *pool, int64_t seq, const char *value,
		  const char *file, const char *sha, struct err *err)
{
	struct db_identity *v = realloc(out->v, (out->n + 1) * sizeof(*v));

	if (!v)
		return err_set(err, -ENOMEM, "out of memory");
	out->v = v;
	v = &v[out->n++];
	*v = (struct db_identity){ .pool = strdup(pool),
				   .seq = seq,
				   .value = strdup(value),
				   .file = dup_or_null(file),
				   .file_sha256 = dup_or_null(sha) };
	if (!v->pool || !v->value || (file && !v->file) || (sha && !v->file_sha256))
		return err_set(err, -ENOMEM, "out of memory");
	return 0;
}

int pool_append_identity(struct db_identities *out, const char *pool, int64_t seq,
			 const char *value, const char *file, const char *sha, struct err *err)
{
	return append(out, pool, seq, value, file, sha, err);
}

static int record(struct db *db, int64_t unit_id, const char *pool, int64_t seq, const char *value,
		  const char *file, const char *sha, int64_t now, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = pool_prep(db,
		       "INSERT INTO unit_identities (unit_id, pool, seq, value, file, file_sha256, "
		       "state, allocated_at) VALUES (?, ?, ?, ?, ?, ?, 'allocated', ?)",
		       &s, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	db_bind_text(s, 2, pool);
	sqlite3_bind_int64(s, 3, seq);
	db_bind_text(s, 4, value);
	db_bind_text(s, 5, file);
	db_bind_text(s, 6, sha);
	sqlite3_bind_int64(s, 7, now);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': record value for unit %lld", pool,
				  (long long)unit_id);
	return 0;
}

/* Values released by 'reuse' first: a whole unit's worth, consecutive for ranges. */
static int take_free(struct db *db, const struct pool *p, int64_t unit_id, int64_t now,
		     struct db_identities *out, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL, *u = NULL;
	size_t base = out->n;
	int64_t first_seq = -1;
	int rc;

	rc = pool_prep(db,
		       "SELECT seq, value, file, file_sha256 FROM pool_values "
		       "WHERE pool = ? AND state = 'free' ORDER BY seq LIMIT ?",
		       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, p->name);
	sqlite3_bind_int(s, 2, (int)p->per_unit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(s, 0);

		if (first_seq < 0)
			first_seq = seq;
		if (p->kind != DB_POOL_LIST && seq != first_seq + (int64_t)(out->n - base))
			break; /* not consecutive: issue new numbers instead */
		rc = append(out, p->name, seq, db_col_text(s, 1), db_col_text(s, 2),
			    db_col_text(s, 3), err);
		if (rc < 0)
			return rc;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "pool '%s': free values", p->name);
	if (out->n - base < p->per_unit) {
		truncate_ids(out, base); /* not enough for a unit */
		return 0;
	}
	rc = pool_prep(db,
		       "UPDATE pool_values SET state = 'allocated', unit_id = ? "
		       "WHERE pool = ? AND seq = ? AND state = 'free'",
		       &u, err);
	for (size_t i = base; rc >= 0 && i < out->n; i++) {
		sqlite3_reset(u);
		sqlite3_bind_int64(u, 1, unit_id);
		db_bind_text(u, 2, p->name);
		sqlite3_bind_int64(u, 3, out->v[i].seq);
		rc = sqlite3_step(u);
		if (rc != SQLITE_DONE)
			return db_sql_err(db, rc, err, "pool '%s': allocate", p->name);
		rc = record(db, unit_id, p->name, out->v[i].seq, out->v[i].value, out->v[i].file,
			    out->v[i].file_sha256, now, err);
	}
	return rc < 0 ? rc : (int)p->per_unit;
}

static int value_text(const struct pool *p, int64_t seq, int64_t now, char *buf, size_t n,
		      struct err *err)
{
	if (p->kind == DB_POOL_MAC) {
		db_pool_mac_text(seq, buf);
		return 0;
	}
	return err_prefix(err, db_pool_format_counter(p->format, seq, now, buf, n, err),
			  "pool '%s'", p->name);
}

/*
 * The next never-issued number of the blocks, lowest block first, that
 * starts a unit's per_unit consecutive numbers inside one block (a block's
 * tail too short for a unit is skipped); -ENOSPC when no block has one.
 */
static int next_start(struct db *db, const struct pool *p, int64_t *start, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = pool_prep(db,
		       "SELECT next_seq FROM pool_blocks WHERE pool = ?1 "
		       "AND next_seq + ?2 - 1 <= last_seq ORDER BY first_seq LIMIT 1",
		       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, p->name);
	sqlite3_bind_int64(s, 2, p->per_unit);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return -ENOSPC;
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "pool '%s': blocks", p->name);
	*start = sqlite3_column_int64(s, 0);
	return 0;
}

/* Never-issued numbers start..start+per_unit-1 of a counter or mac pool. */
static int issue_new(struct db *db, const struct pool *p, int64_t unit_id, int64_t now,
		     struct db_identities *out, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *ins = NULL, *upd = NULL;
	char value[DB_POOL_VALUE_MAX];
	int64_t start = 0;
	int rc;

	rc = next_start(db, p, &start, err);
	if (rc < 0)
		return rc;
	rc = pool_prep(db,
		       "INSERT INTO pool_values (pool, seq, value, state, unit_id) "
		       "VALUES (?, ?, ?, 'allocated', ?)",
		       &ins, err);
	for (unsigned i = 0; rc >= 0 && i < p->per_unit; i++) {
		int64_t seq = start + i;

		rc = value_text(p, seq, now, value, sizeof(value), err);
		if (rc < 0)
			return rc;
		sqlite3_reset(ins);
		db_bind_text(ins, 1, p->name);
		sqlite3_bind_int64(ins, 2, seq);
		db_bind_text(ins, 3, value);
		sqlite3_bind_int64(ins, 4, unit_id);
		rc = sqlite3_step(ins);
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			return err_set(err, -EEXIST,
				       "pool '%s': value '%s' (number %" PRId64
				       ") was issued before: run 'flashctl pool audit'",
				       p->name, value, seq);
		if (rc != SQLITE_DONE)
			return db_sql_err(db, rc, err, "pool '%s': issue %s", p->name, value);
		rc = record(db, unit_id, p->name, seq, value, NULL, NULL, now, err);
		if (rc >= 0)
			rc = append(out, p->name, seq, value, NULL, NULL, err);
	}
	if (rc < 0)
		return rc;
	rc = pool_prep(db,
		       /* The block holding start: the one before may end at start - 1. */
		       "UPDATE pool_blocks SET next_seq = ?2 + ?3 "
		       "WHERE pool = ?1 AND first_seq <= ?2 AND last_seq >= ?2",
		       &upd, err);
	if (rc < 0)
		return rc;
	db_bind_text(upd, 1, p->name);
	sqlite3_bind_int64(upd, 2, start);
	sqlite3_bind_int64(upd, 3, p->per_unit);
	rc = sqlite3_step(upd);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': advance counter", p->name);
	rc = pool_sync_next(db, p->name, err);
	return rc < 0 ? rc : (int)p->per_unit;
}

/* Blocks of pool p leased from a central pool (0 if none, or unknown). */
static int64_t leased_blocks(struct db *db, const struct pool *p)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(
		    db->sql,
		    "SELECT count(*) FROM pool_blocks WHERE pool = ? AND lease IS NOT NULL", -1, &s,
		    NULL) != SQLITE_OK)
		return 0;
	db_bind_text(s, 1, p->name);
	return sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
}

static int exhausted(struct db *db, const struct pool *p, struct err *err)
{
	if (p->kind != DB_POOL_LIST && leased_blocks(db, p) > 0)
		return err_set(
			err, -ENOSPC,
			"pool '%s' is exhausted: every block issued and fewer than %u free again (lease another with 'flashctl fleet pool lease')",
			p->name, p->per_unit);
	if (p->kind == DB_POOL_LIST)
		return err_set(
			err, -ENOSPC,
			"pool '%s' is exhausted: fewer than %u free values (import more with 'flashctl pool import')",
			p->name, p->per_unit);
	return err_set(err, -ENOSPC,
		       "pool '%s' is exhausted: all of %" PRId64 "..%" PRId64
		       " issued and fewer than %u free again",
		       p->name, p->first, p->last, p->per_unit);
}

static int check_unit(struct db *db, int64_t unit_id, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc = pool_prep(db, "SELECT result FROM units WHERE id = ?", &s, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return err_set(err, -ENOENT, "allocate: no unit %lld", (long long)unit_id);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "allocate: unit %lld", (long long)unit_id);
	if (strcmp(db_col_text(s, 0), "running") != 0)
		return err_set(err, -EALREADY, "allocate: unit %lld is already finished (%s)",
			       (long long)unit_id, db_col_text(s, 0));
	return 0;
}

static int check_not_held(struct db *db, int64_t unit_id, const char *pool, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc = pool_prep(db,
			   "SELECT count(*) FROM unit_identities WHERE unit_id = ? AND pool = ? "
			   "AND state != 'released'",
			   &s, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	db_bind_text(s, 2, pool);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "pool '%s': values of unit %lld", pool,
				  (long long)unit_id);
	if (sqlite3_column_int64(s, 0) > 0)
		return err_set(err, -EEXIST, "unit %lld already holds values of pool '%s'",
			       (long long)unit_id, pool);
	return 0;
}

static int allocate_one(struct db *db, int64_t unit_id, const char *station, const char *name,
			int64_t now, struct db_identities *out, struct err *err)
{
	struct pool p;
	int rc;

	rc = pool_load(db, name, &p, err);
	if (rc < 0)
		return rc;
	if (p.station[0] && (!station || strcmp(station, p.station) != 0))
		return err_set(err, -EPERM, "pool '%s' is reserved for station '%s'", name,
			       p.station);
	rc = check_not_held(db, unit_id, name, err);
	if (rc < 0)
		return rc;
	rc = take_free(db, &p, unit_id, now, out, err);
	if (rc != 0)
		return rc;
	rc = p.kind == DB_POOL_LIST ? -ENOSPC : issue_new(db, &p, unit_id, now, out, err);
	return rc == -ENOSPC ? exhausted(db, &p, err) : rc;
}

int db_pool_allocate(struct db *db, int64_t unit_id, const char *station, const char *const *pools,
		     size_t n_pools, int64_t now_ms, struct db_identities *out, struct err *err)
{
	int64_t now = now_ms > 0 ? now_ms : db_now_ms();
	struct db_identities got = { 0 };
	int rc;

	if (!out || (n_pools && !pools))
		return err_set(err, -EINVAL, "allocate: no arguments");
	rc = pool_begin(db, err);
	if (rc < 0)
		return rc;
	rc = check_unit(db, unit_id, err);
	for (size_t i = 0; rc >= 0 && i < n_pools; i++)
		rc = allocate_one(db, unit_id, station, pools[i], now, &got, err);
	rc = pool_end(db, rc < 0 ? rc : 0, err);
	if (rc < 0) {
		db_identities_clear(&got);
		return rc;
	}
	*out = got;
	return 0;
}

/* ---- settle ---- */

int db_pool_mark_written(struct db *db, int64_t unit_id, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc = pool_prep(db,
			   "UPDATE unit_identities SET device_written = 1 "
			   "WHERE unit_id = ? AND state = 'allocated'",
			   &s, err);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "unit %lld: mark identity written",
				  (long long)unit_id);
	return 0;
}

/* The unit's allocated rows: ?1 unit id.  Used in every settling statement. */
#define HELD "SELECT pool, seq FROM unit_identities WHERE unit_id = ?1 AND state = 'allocated'"
#define REUSABLE                                                                                   \
	" AND device_written = 0 AND pool IN (SELECT name FROM pools WHERE policy = 'reuse')"

/*
 * Each outcome is a list of statements run in order; ?1 unit id, ?2 now.
 * The pool's row changes first, while the unit's rows still say which.
 */
static const char *const settle_pass[] = {
	"UPDATE pool_values SET state = 'used' WHERE unit_id = ?1 AND (pool, seq) IN (" HELD ")",
	"UPDATE unit_identities SET state = 'used', finished_at = ?2 "
	"WHERE unit_id = ?1 AND state = 'allocated'",
	NULL,
};

static const char *const settle_fail[] = {
	"UPDATE pool_values SET state = 'free', unit_id = NULL "
	"WHERE unit_id = ?1 AND (pool, seq) IN (" HELD REUSABLE ")",
	"UPDATE unit_identities SET state = 'released', finished_at = ?2 "
	"WHERE unit_id = ?1 AND state = 'allocated'" REUSABLE,
	"UPDATE pool_values SET state = 'burned' WHERE unit_id = ?1 AND (pool, seq) IN (" HELD ")",
	"UPDATE unit_identities SET state = 'burned', finished_at = ?2 "
	"WHERE unit_id = ?1 AND state = 'allocated'",
	NULL,
};

static int settle_unit(struct db *db, int64_t unit_id, enum db_result result, int64_t now,
		       struct err *err)
{
	const char *const *steps = result == DB_RESULT_PASS ? settle_pass : settle_fail;
	int n = 0;

	for (; *steps; steps++) {
		_cleanup_stmt_ sqlite3_stmt *s = NULL;
		int rc = pool_prep(db, *steps, &s, err);

		if (rc < 0)
			return rc;
		sqlite3_bind_int64(s, 1, unit_id);
		sqlite3_bind_int64(s, 2, now);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			return db_sql_err(db, rc, err, "unit %lld: settle identities",
					  (long long)unit_id);
		/* Count each value once: by the unit's rows, not the pool's. */
		if (strncmp(*steps, "UPDATE unit_identities", 22) == 0)
			n += sqlite3_changes(db->sql);
	}
	return n;
}

int db_pool_unit_finish(struct db *db, int64_t unit_id, enum db_result result, bool device_written,
			struct err *err)
{
	int rc;

	if (result != DB_RESULT_PASS && result != DB_RESULT_FAIL && result != DB_RESULT_INTERRUPTED)
		return err_set(err, -EINVAL, "unit %lld: settle identities with result %d",
			       (long long)unit_id, result);
	rc = pool_begin(db, err);
	if (rc < 0)
		return rc;
	if (device_written)
		rc = db_pool_mark_written(db, unit_id, err);
	if (rc >= 0)
		rc = settle_unit(db, unit_id, result, db_now_ms(), err);
	return pool_end(db, rc, err);
}

struct held_unit {
	int64_t id;
	enum db_result result;
};

static int recover_locked(struct db *db, const char *station, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	_cleanup_free_ struct held_unit *units = NULL;
	size_t n = 0;
	int rc, total = 0;

	/* Another station's unit may be between its two finish calls now. */
	rc = pool_prep(db,
		       "SELECT DISTINCT i.unit_id, u.result FROM unit_identities i "
		       "JOIN units u ON u.id = i.unit_id "
		       "WHERE i.state = 'allocated' AND u.result != 'running' "
		       "AND (?1 IS NULL OR u.station = ?1)",
		       &s, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, station, -1, SQLITE_STATIC);
	/* Gather first: the settling statements change the rows this one walks. */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct held_unit *u = realloc(units, (n + 1) * sizeof(*u));

		if (!u)
			return err_set(err, -ENOMEM, "out of memory");
		units = u;
		units[n++] = (struct held_unit){ sqlite3_column_int64(s, 0),
						 db_result_from_name(db_col_text(s, 1)) };
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "recover identities");
	for (size_t i = 0; i < n; i++) {
		rc = settle_unit(db, units[i].id, units[i].result, db_now_ms(), err);
		if (rc < 0)
			return rc;
		total += rc;
	}
	return total;
}

int db_pool_recover(struct db *db, const char *station, struct err *err)
{
	int rc = pool_begin(db, err);

	if (rc < 0)
		return rc;
	return pool_end(db, recover_locked(db, station, err), err);
}

/* ---- counts ---- */

/* Numbers in the blocks of pool p, and those never issued (from each block's next_seq). */
#define BLOCK_SIZES                                                                                \
	"(SELECT coalesce(sum(b.last_seq - b.first_seq + 1), 0) FROM pool_blocks b "               \
	"WHERE b.pool = p.name)"
#define NEVER_ISSUED                                                                               \
	"(SELECT coalesce(sum(b.last_seq - b.next_seq + 1), 0) FROM pool_blocks b "                \
	"WHERE b.pool = p.name)"

int db_pool_list(struct db *db, const char *name, db_pool_cb_t cb, void *userdata, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc, n = 0;

	rc = pool_prep(
		db,
		"SELECT name, kind, format, policy, station, first_seq, last_seq, next_seq, "
		"per_unit, low_water, "
		"(SELECT count(*) FROM pool_values v WHERE v.pool = p.name), "
		"(SELECT count(*) FROM pool_values v WHERE v.pool = p.name AND state = 'free'), "
		"(SELECT count(*) FROM pool_values v WHERE v.pool = p.name AND state = 'allocated'), "
		"(SELECT count(*) FROM pool_values v WHERE v.pool = p.name AND state = 'used'), "
		"(SELECT count(*) FROM pool_values v WHERE v.pool = p.name AND state = 'burned'), "
		"(SELECT count(*) FROM pool_blocks b WHERE b.pool = p.name), " BLOCK_SIZES
		", " NEVER_ISSUED " FROM pools p WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
		&s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, name);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct db_pool_row r = {
			.name = db_col_text(s, 0),
			.kind = db_col_text(s, 1),
			.format = db_col_text(s, 2),
			.policy = db_col_text(s, 3),
			.station = db_col_text(s, 4),
			.first = db_col_int(s, 5, -1),
			.last = db_col_int(s, 6, -1),
			.next = db_col_int(s, 7, -1),
			.per_unit = (unsigned)db_col_int(s, 8, 1),
			.low_water = db_col_int(s, 9, 0),
			.total = sqlite3_column_int64(s, 10),
			.free = sqlite3_column_int64(s, 11),
			.allocated = sqlite3_column_int64(s, 12),
			.used = sqlite3_column_int64(s, 13),
			.burned = sqlite3_column_int64(s, 14),
			.blocks = sqlite3_column_int64(s, 15),
		};

		/* Never-issued numbers of the blocks are free without a row. */
		if (r.next >= 0) {
			r.total = sqlite3_column_int64(s, 16);
			r.free += sqlite3_column_int64(s, 17);
		}
		r.units_left = r.free / (r.per_unit ? r.per_unit : 1);
		r.low = r.units_left < r.low_water;
		n++;
		if (cb && (rc = cb(&r, userdata)) < 0)
			return rc;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "list pools");
	if (name && n == 0)
		return err_set(err, -ENOENT, "no pool '%s'", name);
	return n;
}

int db_pool_levels(struct db *db, db_pool_level_cb_t cb, void *userdata, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc, n = 0;

	rc = pool_prep(db,
		       "SELECT name, kind, per_unit, low_water, " NEVER_ISSUED ", next_seq, "
		       /* The planner would walk the pool's whole primary key. */
		       "(SELECT count(*) FROM pool_values v INDEXED BY pool_values_free "
		       "WHERE v.pool = p.name AND v.state = 'free') FROM pools p ORDER BY name",
		       &s, err);
	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t per_unit = db_col_int(s, 2, 1), next = db_col_int(s, 5, -1);
		int64_t free = sqlite3_column_int64(s, 6);
		struct db_pool_level r = {
			.name = db_col_text(s, 0),
			.kind = db_col_text(s, 1),
			.low_water = db_col_int(s, 3, 0),
		};

		/* Never-issued numbers of every block are free without a row. */
		if (next >= 0)
			free += db_col_int(s, 4, 0);
		r.units_left = free / (per_unit > 0 ? per_unit : 1);
		r.low = r.units_left < r.low_water;
		n++;
		if (cb && (rc = cb(&r, userdata)) < 0)
			return rc;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool levels");
	return n;
}

int db_pool_values(struct db *db, const char *pool, db_pool_value_cb_t cb, void *userdata,
		   struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct pool p;
	int rc, n = 0;

	rc = pool_load(db, pool, &p, err);
	if (rc < 0)
		return rc;
	rc = pool_prep(db,
		       "SELECT seq, value, file, file_sha256, state, unit_id FROM pool_values "
		       "WHERE pool = ? ORDER BY seq",
		       &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, pool);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct db_pool_value_row r = {
			.pool = pool,
			.seq = sqlite3_column_int64(s, 0),
			.value = db_col_text(s, 1),
			.file = db_col_text(s, 2),
			.file_sha256 = db_col_text(s, 3),
			.state = db_col_text(s, 4),
			.unit_id = db_col_int(s, 5, -1),
		};

		n++;
		if (cb && (rc = cb(&r, userdata)) < 0)
			return rc;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "pool '%s': values", pool);
	return n;
}
