/*
 * This file implements the read-only queries of flashctl (see db/query.h):
 * filtered unit lists, one unit in full, and grouped statistics.  SQL is
 * built from a fixed set of clauses; every value is a bound parameter.
 */
#include "db/query.h"
#include "db/db-private.h"
#include "db/pool.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define UNIT_COLUMNS                                                                               \
	"id, station, port, slot, recipe, recipe_sha256, vid, pid, serial, chip_uid, jedec_id, "   \
	"result, failed_stage, error, started_at, finished_at, duration_ms, flashd_version"

static void unit_row(sqlite3_stmt *s, struct db_unit_row *r)
{
	*r = (struct db_unit_row){
		.id = sqlite3_column_int64(s, 0),
		.station = db_col_text(s, 1),
		.port = db_col_text(s, 2),
		.slot = db_col_text(s, 3),
		.recipe = db_col_text(s, 4),
		.recipe_sha256 = db_col_text(s, 5),
		.vid = (int)db_col_int(s, 6, -1),
		.pid = (int)db_col_int(s, 7, -1),
		.serial = db_col_text(s, 8),
		.chip_uid = db_col_text(s, 9),
		.jedec_id = db_col_text(s, 10),
		.result = db_col_text(s, 11),
		.failed_stage = db_col_text(s, 12),
		.error = db_col_text(s, 13),
		.started_at = db_col_int(s, 14, -1),
		.finished_at = db_col_int(s, 15, -1),
		.duration_ms = db_col_int(s, 16, -1),
		.flashd_version = db_col_text(s, 17),
	};
}

/* Appends " AND ..." per set filter field; bind_filter() binds in the same order. */
static void append_filter(char *sql, size_t size, const struct db_filter *f)
{
	size_t n = strlen(sql);

#define ADD(cond, clause)                                                                          \
	do {                                                                                       \
		if ((cond) && n < size)                                                            \
			n += (size_t)snprintf(sql + n, size - n, "%s", clause);                    \
	} while (0)
	if (!f)
		return;
	ADD(f->serial, " AND serial = ?");
	ADD(f->recipe, " AND recipe = ?");
	ADD(f->port, " AND port GLOB ?");
	ADD(f->slot, " AND slot GLOB ?");
	ADD(f->result, " AND result = ?");
	ADD(f->since, " AND started_at >= ?");
	ADD(f->until, " AND started_at < ?");
#undef ADD
}

/* bind_filter() from parameter i on, for a query with parameters of its own first. */
static void bind_filter_from(sqlite3_stmt *s, const struct db_filter *f, int i)
{
	if (!f)
		return;
	if (f->serial)
		db_bind_text(s, i++, f->serial);
	if (f->recipe)
		db_bind_text(s, i++, f->recipe);
	if (f->port)
		db_bind_text(s, i++, f->port);
	if (f->slot)
		db_bind_text(s, i++, f->slot);
	if (f->result)
		db_bind_text(s, i++, f->result);
	if (f->since)
		sqlite3_bind_int64(s, i++, f->since);
	if (f->until)
		sqlite3_bind_int64(s, i++, f->until);
}

static void bind_filter(sqlite3_stmt *s, const struct db_filter *f)
{
	bind_filter_from(s, f, 1);
}

static int check_filter(const struct db_filter *f, struct err *err)
{
	if (f && f->result && db_result_from_name(f->result) < 0)
		return err_set(err, -EINVAL,
			       "invalid result '%s' (expected running, pass, fail or interrupted)",
			       f->result);
	if (f && f->since && f->until && f->until <= f->since)
		return err_set(err, -EINVAL, "empty time range: until is not after since");
	return 0;
}

/*
 * The units matching filter (and, with after, of id > *after), in order,
 * at most limit (0: all), each to cb.  Returns the count.
 */
static int select_units(struct db *db, const struct db_filter *filter, const int64_t *after,
			const char *order, unsigned limit, db_unit_cb_t cb, void *userdata,
			struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct db_unit_row row;
	char sql[1024];
	size_t n;
	int rc, count = 0;

	rc = check_filter(filter, err);
	if (rc < 0)
		return rc;
	/* The cursor is parameter 1, the filter's follow. */
	snprintf(sql, sizeof(sql), "SELECT " UNIT_COLUMNS " FROM units WHERE %s",
		 after ? "id > ?" : "1");
	append_filter(sql, sizeof(sql), filter);
	n = strlen(sql);
	snprintf(sql + n, sizeof(sql) - n, " ORDER BY %s", order);
	if (limit) {
		n = strlen(sql);
		snprintf(sql + n, sizeof(sql) - n, " LIMIT %u", limit);
	}
	rc = sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "query units");
	if (after)
		sqlite3_bind_int64(s, 1, *after);
	bind_filter_from(s, filter, after ? 2 : 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		unit_row(s, &row);
		if (cb && (rc = cb(&row, userdata)) < 0)
			return rc;
		count++;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "query units");
	return count;
}

int db_query_units(struct db *db, const struct db_filter *filter, bool newest_first, unsigned limit,
		   db_unit_cb_t cb, void *userdata, struct err *err)
{
	return select_units(db, filter, NULL,
			    newest_first ? "started_at DESC, id DESC" : "started_at ASC, id ASC",
			    limit, cb, userdata, err);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/*
 * The unit holding identity value key (db/pool.h), after serial and chip
 * UID found none.  A MAC is stored in one form (lower case, ':'), so any
 * typed form is normalised first.  A unit that holds the value comes
 * before one that released it; then the latest record.
 */
static int find_by_identity(struct db *db, const char *key, int64_t *unit_id, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	char mac[18];
	int64_t n;
	int rc;

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT unit_id FROM unit_identities WHERE value IN (?1, ?2) "
				"ORDER BY state = 'released', id DESC LIMIT 1",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "find unit '%s'", key);
	db_bind_text(s, 1, key);
	if (db_pool_parse_mac(key, &n) == 0) {
		db_pool_mac_text(n, mac);
		db_bind_text(s, 2, mac);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return err_set(err, -ENOENT, "no unit with %s '%s'",
			       all_digits(key) ? "id, serial, chip UID or identity"
					       : "serial, chip UID or identity",
			       key);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "find unit '%s'", key);
	*unit_id = sqlite3_column_int64(s, 0);
	return 0;
}

/* The newest unit whose chip UID is key (any case: UIDs are hex), after
 * the serial found none; a scan, which is fine for a command a person types. */
static int find_by_chip_uid(struct db *db, const char *key, int64_t *unit_id, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT id FROM units WHERE chip_uid = ? COLLATE NOCASE "
				"ORDER BY started_at DESC, id DESC LIMIT 1",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "find unit '%s'", key);
	db_bind_text(s, 1, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return find_by_identity(db, key, unit_id, err);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "find unit '%s'", key);
	*unit_id = sqlite3_column_int64(s, 0);
	return 0;
}

int db_query_find_unit(struct db *db, const char *key, bool by_serial, int64_t *unit_id,
		       struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *byid = NULL, *byserial = NULL;
	int rc;

	if (!key || !*key || !unit_id)
		return err_set(err, -EINVAL, "no unit id or serial");

	if (!by_serial && all_digits(key) && strlen(key) < 19) {
		rc = sqlite3_prepare_v2(db->sql, "SELECT id FROM units WHERE id = ?", -1, &byid,
					NULL);
		if (rc != SQLITE_OK)
			return db_sql_err(db, rc, err, "find unit '%s'", key);
		sqlite3_bind_int64(byid, 1, strtoll(key, NULL, 10));
		rc = sqlite3_step(byid);
		if (rc == SQLITE_ROW) {
			*unit_id = sqlite3_column_int64(byid, 0);
			return 0;
		}
		if (rc != SQLITE_DONE)
			return db_sql_err(db, rc, err, "find unit '%s'", key);
	}

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT id FROM units WHERE serial = ? "
				"ORDER BY started_at DESC, id DESC LIMIT 1",
				-1, &byserial, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "find unit '%s'", key);
	db_bind_text(byserial, 1, key);
	rc = sqlite3_step(byserial);
	if (rc == SQLITE_DONE && !by_serial)
		return find_by_chip_uid(db, key, unit_id, err);
	if (rc == SQLITE_DONE)
		return err_set(err, -ENOENT, "no unit with serial '%s'", key);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "find unit '%s'", key);
	*unit_id = sqlite3_column_int64(byserial, 0);
	return 0;
}

static int query_unit_locked(struct db *db, int64_t unit_id, db_unit_cb_t unit_cb,
			     db_stage_cb_t stage_cb, db_image_cb_t image_cb, void *userdata,
			     struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *u = NULL, *st = NULL, *im = NULL;
	struct db_unit_row row;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, "SELECT " UNIT_COLUMNS " FROM units WHERE id = ?", -1, &u,
				NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "query unit %lld", (long long)unit_id);
	sqlite3_bind_int64(u, 1, unit_id);
	rc = sqlite3_step(u);
	if (rc == SQLITE_DONE)
		return err_set(err, -ENOENT, "no unit %lld", (long long)unit_id);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "query unit %lld", (long long)unit_id);
	unit_row(u, &row);
	if (unit_cb && (rc = unit_cb(&row, userdata)) < 0)
		return rc;

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT idx, name, result, error, started_at, duration_ms "
				"FROM unit_stages WHERE unit_id = ? ORDER BY idx",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "query stages of unit %lld", (long long)unit_id);
	sqlite3_bind_int64(st, 1, unit_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_stage_row r = {
			.idx = sqlite3_column_int(st, 0),
			.name = db_col_text(st, 1),
			.result = db_col_text(st, 2),
			.error = db_col_text(st, 3),
			.started_at = db_col_int(st, 4, -1),
			.duration_ms = db_col_int(st, 5, -1),
		};

		if (stage_cb && (rc = stage_cb(&r, userdata)) < 0)
			return rc;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "query stages of unit %lld", (long long)unit_id);

	rc = sqlite3_prepare_v2(
		db->sql,
		"SELECT stage, target, file, size, sha256, host_crc32, device_crc32, "
		"verified FROM unit_images WHERE unit_id = ? ORDER BY id",
		-1, &im, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "query images of unit %lld", (long long)unit_id);
	sqlite3_bind_int64(im, 1, unit_id);
	while ((rc = sqlite3_step(im)) == SQLITE_ROW) {
		struct db_image_row r = {
			.stage = db_col_text(im, 0),
			.target = db_col_text(im, 1),
			.file = db_col_text(im, 2),
			.size = db_col_int(im, 3, -1),
			.sha256 = db_col_text(im, 4),
			.has_host_crc32 = sqlite3_column_type(im, 5) != SQLITE_NULL,
			.host_crc32 = (uint32_t)sqlite3_column_int64(im, 5),
			.has_device_crc32 = sqlite3_column_type(im, 6) != SQLITE_NULL,
			.device_crc32 = (uint32_t)sqlite3_column_int64(im, 6),
			.verified = sqlite3_column_int(im, 7) != 0,
		};

		if (image_cb && (rc = image_cb(&r, userdata)) < 0)
			return rc;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "query images of unit %lld", (long long)unit_id);
	return 0;
}

int db_query_unit(struct db *db, int64_t unit_id, db_unit_cb_t unit_cb, db_stage_cb_t stage_cb,
		  db_image_cb_t image_cb, void *userdata, struct err *err)
{
	int rc;

	/* One read transaction: the unit, its stages and images from one snapshot. */
	rc = db_exec(db, "BEGIN", "begin read", err);
	if (rc < 0)
		return rc;
	rc = query_unit_locked(db, unit_id, unit_cb, stage_cb, image_cb, userdata, err);
	sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
	return rc;
}

/* Image columns after the unit's 18 (unit_row() reads those). */
static void image_row(sqlite3_stmt *s, int c, struct db_image_row *r)
{
	*r = (struct db_image_row){
		.stage = db_col_text(s, c),
		.target = db_col_text(s, c + 1),
		.file = db_col_text(s, c + 2),
		.size = db_col_int(s, c + 3, -1),
		.sha256 = db_col_text(s, c + 4),
		.has_host_crc32 = sqlite3_column_type(s, c + 5) != SQLITE_NULL,
		.host_crc32 = (uint32_t)sqlite3_column_int64(s, c + 5),
		.has_device_crc32 = sqlite3_column_type(s, c + 6) != SQLITE_NULL,
		.device_crc32 = (uint32_t)sqlite3_column_int64(s, c + 6),
		.verified = sqlite3_column_int(s, c + 7) != 0,
	};
}

static int units_images_locked(struct db *db, const struct db_filter *filter, db_unit_image_cb_t cb,
			       void *userdata, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	/* Only "id" is in both tables: the filter's bare names are the unit's. */
	char sql[1024] =
		"SELECT u.id, station, port, slot, recipe, recipe_sha256, vid, pid, serial, "
		"chip_uid, jedec_id, result, failed_stage, error, started_at, finished_at, "
		"duration_ms, flashd_version, i.stage, i.target, i.file, i.size, i.sha256, "
		"i.host_crc32, i.device_crc32, i.verified, i.id FROM units u LEFT JOIN "
		"unit_images i ON i.unit_id = u.id WHERE 1";
	size_t n;
	int rc, count = 0;

	append_filter(sql, sizeof(sql), filter);
	n = strlen(sql);
	snprintf(sql + n, sizeof(sql) - n, " ORDER BY started_at, u.id, i.id");
	rc = sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "query units and images");
	bind_filter(s, filter);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct db_unit_row u;
		struct db_image_row im;
		bool has_image = sqlite3_column_type(s, 26) != SQLITE_NULL;

		unit_row(s, &u);
		image_row(s, 18, &im);
		if (cb && (rc = cb(&u, has_image ? &im : NULL, userdata)) < 0)
			return rc;
		count++;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "query units and images");
	return count;
}

int db_query_units_images(struct db *db, const struct db_filter *filter, db_unit_image_cb_t cb,
			  void *userdata, struct err *err)
{
	int rc = check_filter(filter, err);

	if (rc < 0)
		return rc;
	rc = db_exec(db, "BEGIN", "query units and images", err);
	if (rc < 0)
		return rc;
	rc = units_images_locked(db, filter, cb, userdata, err);
	sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int db_query_unit_identities(struct db *db, int64_t unit_id, db_identity_cb_t cb, void *userdata,
			     struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc, count = 0;

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT pool, value, file, file_sha256, state, device_written "
				"FROM unit_identities WHERE unit_id = ? ORDER BY id",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "query identities of unit %lld", (long long)unit_id);
	sqlite3_bind_int64(s, 1, unit_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct db_identity_row r = {
			.unit_id = unit_id,
			.pool = db_col_text(s, 0),
			.value = db_col_text(s, 1),
			.file = db_col_text(s, 2),
			.file_sha256 = db_col_text(s, 3),
			.state = db_col_text(s, 4),
			.device_written = sqlite3_column_int(s, 5) != 0,
		};

		if (cb && (rc = cb(&r, userdata)) < 0)
			return rc;
		count++;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "query identities of unit %lld", (long long)unit_id);
	return count;
}

static const char *const stats_by_names[_DB_STATS_BY_MAX] = {
	[DB_STATS_BY_RECIPE] = "recipe",
	[DB_STATS_BY_DAY] = "day",
	[DB_STATS_BY_PORT] = "port",
	[DB_STATS_BY_SLOT] = "slot",
};

/* Group keys.  The day is the station's local day (its TZ), as in STATUS=
 * and "--since today": a shift reads its own calendar, not UTC's. */
static const char *const stats_by_sql[_DB_STATS_BY_MAX] = {
	[DB_STATS_BY_RECIPE] = "recipe",
	[DB_STATS_BY_DAY] = "strftime('%Y-%m-%d', started_at / 1000, 'unixepoch', 'localtime')",
	[DB_STATS_BY_PORT] = "port",
	[DB_STATS_BY_SLOT] = "IFNULL(slot, '-')",
};

const char *db_stats_by_name(enum db_stats_by by)
{
	if (by < 0 || by >= _DB_STATS_BY_MAX)
		return NULL;
	return stats_by_names[by];
}

enum db_stats_by db_stats_by_from_name(const char *s)
{
	if (!s)
		return _DB_STATS_BY_INVALID;
	for (int i = 0; i < _DB_STATS_BY_MAX; i++)
		if (strcmp(s, stats_by_names[i]) == 0)
			return (enum db_stats_by)i;
	return _DB_STATS_BY_INVALID;
}

/* One group being accumulated; durations arrive sorted from SQL. */
struct stats_acc {
	struct db_stats_row row;
	char *key;
	int64_t *dur;
	size_t n_dur, cap_dur;
	double sum;
};

static int acc_emit(struct stats_acc *a, db_stats_cb_t cb, void *userdata)
{
	struct db_stats_row *r = &a->row;
	int64_t finished = r->pass + r->fail + r->interrupted;
	size_t rank;

	r->key = a->key;
	r->yield = finished ? (double)r->pass / (double)finished : NAN;
	r->n_timed = (int64_t)a->n_dur;
	if (a->n_dur) {
		r->mean_ms = a->sum / (double)a->n_dur;
		/* Nearest rank: the smallest value with at least 95 % at or below it. */
		rank = (a->n_dur * 95 + 99) / 100;
		r->p95_ms = a->dur[rank - 1];
	} else {
		r->mean_ms = -1;
		r->p95_ms = -1;
	}
	return cb ? cb(r, userdata) : 0;
}

static void acc_reset(struct stats_acc *a)
{
	free(a->key);
	a->key = NULL;
	a->row = (struct db_stats_row){ 0 };
	a->n_dur = 0;
	a->sum = 0;
}

static int acc_add(struct stats_acc *a, const char *result, sqlite3_stmt *s, int col)
{
	enum db_result r = db_result_from_name(result);

	a->row.units++;
	switch (r) {
	case DB_RESULT_PASS:
		a->row.pass++;
		break;
	case DB_RESULT_FAIL:
		a->row.fail++;
		break;
	case DB_RESULT_INTERRUPTED:
		a->row.interrupted++;
		break;
	case DB_RESULT_RUNNING:
	case _DB_RESULT_MAX:
	case _DB_RESULT_INVALID:
		a->row.running += r == DB_RESULT_RUNNING;
		return 0;
	}
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return 0;
	if (a->n_dur == a->cap_dur) {
		size_t cap = a->cap_dur ? a->cap_dur * 2 : 1024;
		int64_t *d = realloc(a->dur, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		a->dur = d;
		a->cap_dur = cap;
	}
	a->dur[a->n_dur] = sqlite3_column_int64(s, col);
	a->sum += (double)a->dur[a->n_dur];
	a->n_dur++;
	return 0;
}

int db_query_stats(struct db *db, enum db_stats_by by, const struct db_filter *filter,
		   db_stats_cb_t cb, void *userdata, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	struct stats_acc a = { 0 };
	char sql[1024];
	size_t n;
	int rc, groups = 0;

	if (!db_stats_by_name(by))
		return err_set(err, -EINVAL, "invalid statistics grouping %d", by);
	rc = check_filter(filter, err);
	if (rc < 0)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT %s AS k, result, duration_ms FROM units WHERE 1",
		 stats_by_sql[by]);
	append_filter(sql, sizeof(sql), filter);
	n = strlen(sql);
	/* NULL durations sort first; acc_add() skips them. */
	snprintf(sql + n, sizeof(sql) - n, " ORDER BY k, duration_ms");

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "query statistics");
	bind_filter(s, filter);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = db_col_text(s, 0);

		if (!k)
			k = "";
		if (!a.key || strcmp(a.key, k) != 0) {
			if (a.key) {
				rc = acc_emit(&a, cb, userdata);
				groups++;
				if (rc < 0)
					goto out;
			}
			acc_reset(&a);
			a.key = strdup(k);
			if (!a.key) {
				rc = err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
		}
		if (acc_add(&a, db_col_text(s, 1), s, 2) < 0) {
			rc = err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = db_sql_err(db, rc, err, "query statistics");
		goto out;
	}
	rc = 0;
	if (a.key) {
		rc = acc_emit(&a, cb, userdata);
		groups++;
	}
out:
	acc_reset(&a);
	free(a.dur);
	return rc < 0 ? rc : groups;
}

int db_query_units_after(struct db *db, const struct db_filter *filter, int64_t after_id,
			 unsigned limit, db_unit_cb_t cb, void *userdata, struct err *err)
{
	return select_units(db, filter, &after_id, "id", limit, cb, userdata, err);
}

int db_query_stage_times(struct db *db, const struct db_filter *filter, db_stage_time_cb_t cb,
			 void *userdata, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	/* The filter's bare names would be ambiguous in a join: filter a subquery. */
	char sql[1024] = "SELECT u.recipe, st.name, st.result, st.duration_ms FROM unit_stages st "
			 "JOIN (SELECT id, recipe FROM units WHERE 1";
	size_t n;
	int rc, count = 0;

	rc = check_filter(filter, err);
	if (rc < 0)
		return rc;
	append_filter(sql, sizeof(sql), filter);
	n = strlen(sql);
	snprintf(sql + n, sizeof(sql) - n, ") u ON st.unit_id = u.id ORDER BY u.id, st.idx");
	rc = sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "query stage times");
	bind_filter(s, filter);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct db_stage_time_row r = {
			.recipe = db_col_text(s, 0),
			.stage = db_col_text(s, 1),
			.result = db_col_text(s, 2),
			.duration_ms = db_col_int(s, 3, -1),
		};

		if (cb && (rc = cb(&r, userdata)) < 0)
			return rc;
		count++;
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "query stage times");
	return count;
}
