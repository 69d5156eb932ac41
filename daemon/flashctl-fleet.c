/*
 * This file implements "flashctl fleet log|show|stats|export": the station
 * QA verbs (daemon/flashctl-qa.c prints) over the fleet's PostgreSQL that
 * flashd-sync(8) fills (sync/schema/001-fleet.sql).  Rows of flashd.units,
 * unit_stages, unit_images and unit_identities are handed out as the row
 * structs of db/query.h, with the station's own unit ids, so every format
 * is the station's.  Linked into flashctl only: flashd never links libpq.
 *
 * Units are keyed by (station, id): "show" finds one (an id needs
 * --station when several stations have it) and remembers its station.
 * Filters are the station's (db/query.c): port and slot globs become
 * anchored regular expressions; times are compared in ms since the epoch.
 * stats groups on this side, as db_query_stats() does (byte order of keys,
 * the day in flashctl's local time zone, nearest-rank p95).
 */
#include "daemon/flashctl-source.h"
#include "daemon/flashctl.h"
#include "db/pool.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fleet {
	PGconn *conn;
	const char *station;	 /* --station, NULL = every station */
	char found_station[256]; /* the station of find_unit()'s unit */
	/* While units()/units_images() hand out a list without a limit: its filter, and
	 * the identities of all its units once the printer asks for the first. */
	bool listing;
	const struct db_filter *list_filter;
	PGresult *list_ids;
};

static void list_begin(struct fleet *f, const struct db_filter *filter, bool whole)
{
	f->listing = whole;
	f->list_filter = filter;
}

static void list_end(struct fleet *f)
{
	f->listing = false;
	PQclear(f->list_ids);
	f->list_ids = NULL;
}

/* ms since the epoch of a timestamptz column, exactly (extract() is numeric). */
#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"
#define UNIT_COLUMNS                                                                               \
	"u.unit_id, u.station, u.port, u.slot, u.recipe, u.recipe_sha256, u.vid, u.pid, "          \
	"u.serial, u.chip_uid, u.jedec_id, u.result, u.failed_stage, u.error, " MS(                \
		"u.started_at") ", " MS("u.finished_at") ", u.duration_ms, u.flashd_version"
#define N_UNIT_COLS 18

/* Parameters of one statement, as text. */
struct params {
	const char *v[16];
	char bufs[16][24];
	int n;
};

/* v as the next parameter; returns its name ("$3").  At most 16 (a filter needs 9). */
static const char *param(struct params *p, const char *v)
{
	static const char *const names[16] = {
		"$1", "$2",  "$3",  "$4",  "$5",  "$6",	 "$7",	"$8",
		"$9", "$10", "$11", "$12", "$13", "$14", "$15", "$16"
	};

	p->v[p->n] = v;
	return names[p->n++];
}

static const char *param_int(struct params *p, int64_t v)
{
	snprintf(p->bufs[p->n], sizeof(p->bufs[p->n]), "%lld", (long long)v);
	return param(p, p->bufs[p->n]);
}

static const char *col(const PGresult *r, int row, int c)
{
	return PQgetisnull(r, row, c) ? NULL : PQgetvalue(r, row, c);
}

static int64_t col_int(const PGresult *r, int row, int c, int64_t absent)
{
	return PQgetisnull(r, row, c) ? absent : strtoll(PQgetvalue(r, row, c), NULL, 10);
}

static void unit_row(const PGresult *r, int i, int c0, struct db_unit_row *u)
{
	*u = (struct db_unit_row){
		.id = col_int(r, i, c0 + 0, -1),
		.station = col(r, i, c0 + 1),
		.port = col(r, i, c0 + 2),
		.slot = col(r, i, c0 + 3),
		.recipe = col(r, i, c0 + 4),
		.recipe_sha256 = col(r, i, c0 + 5),
		.vid = (int)col_int(r, i, c0 + 6, -1),
		.pid = (int)col_int(r, i, c0 + 7, -1),
		.serial = col(r, i, c0 + 8),
		.chip_uid = col(r, i, c0 + 9),
		.jedec_id = col(r, i, c0 + 10),
		.result = col(r, i, c0 + 11),
		.failed_stage = col(r, i, c0 + 12),
		.error = col(r, i, c0 + 13),
		.started_at = col_int(r, i, c0 + 14, -1),
		.finished_at = col_int(r, i, c0 + 15, -1),
		.duration_ms = col_int(r, i, c0 + 16, -1),
		.flashd_version = col(r, i, c0 + 17),
	};
}

/* A glob of SQLite's GLOB (* ? [...]) as an anchored regular expression. */
static char *glob_regex(const char *g)
{
	size_t n = strlen(g);
	char *re = malloc(2 * n + 3), *o = re;
	bool in_class = false;

	if (!re)
		return NULL;
	*o++ = '^';
	for (const char *s = g; *s; s++) {
		if (in_class) {
			*o++ = *s;
			in_class = *s != ']' || s[-1] == '[' || (s[-1] == '^' && s[-2] == '[');
		} else if (*s == '*' || *s == '?') {
			if (*s == '*')
				*o++ = '.';
			*o++ = *s == '*' ? '*' : '.';
		} else if (*s == '[') {
			*o++ = *s;
			in_class = true;
		} else {
			if (strchr(".^$|()+{}\\]", *s))
				*o++ = '\\';
			*o++ = *s;
		}
	}
	*o++ = '$';
	*o = '\0';
	return re;
}

struct where {
	char sql[1024];
	char *port_re, *slot_re;
};

static void where_free(struct where *w)
{
	free(w->port_re);
	free(w->slot_re);
}

static void add(struct where *w, const char *fmt, const char *p)
{
	size_t n = strlen(w->sql);

	snprintf(w->sql + n, sizeof(w->sql) - n, fmt, p);
}

/* " AND ..." per filter field and --station, in the station's order (db/query.c). */
static int build_where(struct fleet *f, const struct db_filter *flt, struct params *p,
		       struct where *w, struct err *err)
{
	w->sql[0] = '\0';
	if (f->station)
		add(w, " AND u.station = %s", param(p, f->station));
	if (!flt)
		return 0;
	if (flt->result && db_result_from_name(flt->result) < 0)
		return err_set(err, -EINVAL,
			       "invalid result '%s' (expected running, pass, fail or interrupted)",
			       flt->result);
	if (flt->since && flt->until && flt->until <= flt->since)
		return err_set(err, -EINVAL, "empty time range: until is not after since");
	if (flt->port && !(w->port_re = glob_regex(flt->port)))
		return err_set(err, -ENOMEM, "out of memory");
	if (flt->slot && !(w->slot_re = glob_regex(flt->slot)))
		return err_set(err, -ENOMEM, "out of memory");
	if (flt->serial)
		add(w, " AND u.serial = %s", param(p, flt->serial));
	if (flt->recipe)
		add(w, " AND u.recipe = %s", param(p, flt->recipe));
	if (w->port_re)
		add(w, " AND u.port ~ %s", param(p, w->port_re));
	if (w->slot_re)
		add(w, " AND u.slot ~ %s", param(p, w->slot_re));
	if (flt->result)
		add(w, " AND u.result = %s", param(p, flt->result));
	if (flt->since)
		add(w, " AND " MS("u.started_at") " >= %s", param_int(p, flt->since));
	if (flt->until)
		add(w, " AND " MS("u.started_at") " < %s", param_int(p, flt->until));
	return 0;
}

/* Run sql; *res holds the rows (PQclear() it).  Errors name what. */
static int run(struct fleet *f, const char *sql, const struct params *p, PGresult **res,
	       struct err *err, const char *what)
{
	PGresult *r =
		PQexecParams(f->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		int rc = err_set(err, -EIO, "%s: %s", what,
				 r ? PQresultErrorMessage(r) : PQerrorMessage(f->conn));

		/* libpq's messages end in a newline. */
		err->msg[strcspn(err->msg, "\n")] = '\0';
		PQclear(r);
		return rc;
	}
	*res = r;
	return 0;
}

static int fleet_open(const char *where, const char *station, void **h, struct err *err)
{
	struct fleet *f;

	if (!where || !*where)
		return err_set(err, -EINVAL,
			       "no fleet database: give --db-url or $FLASHD_FLEET_URL");
	f = calloc(1, sizeof(*f));
	if (!f)
		return err_set(err, -ENOMEM, "out of memory");
	f->station = station;
	f->conn = PQconnectdb(where);
	if (PQstatus(f->conn) != CONNECTION_OK) {
		/* PQerrorMessage names host and database, never the password. */
		int rc = err_set(err, -ECONNREFUSED, "fleet database: %s", PQerrorMessage(f->conn));

		err->msg[strcspn(err->msg, "\n")] = '\0';
		PQfinish(f->conn);
		free(f);
		return rc;
	}
	*h = f;
	return 0;
}

static void fleet_close(void *h)
{
	struct fleet *f = h;

	PQfinish(f->conn);
	free(f);
}

static int fleet_units(void *h, const struct db_filter *filter, bool newest_first, unsigned limit,
		       db_unit_cb_t cb, void *userdata, struct err *err)
{
	struct fleet *f = h;
	struct params p = { 0 };
	struct where w = { 0 };
	struct db_unit_row row;
	PGresult *r = NULL;
	char sql[2048], lim[32] = "";
	int rc, i;

	rc = build_where(f, filter, &p, &w, err);
	if (rc >= 0) {
		const char *dir = newest_first ? "DESC" : "ASC";

		if (limit)
			snprintf(lim, sizeof(lim), " LIMIT %u", limit);
		snprintf(sql, sizeof(sql),
			 "SELECT " UNIT_COLUMNS " FROM flashd.units u WHERE true%s "
			 "ORDER BY u.started_at %s, u.station %s, u.unit_id %s%s",
			 w.sql, dir, dir, dir, lim);
		rc = run(f, sql, &p, &r, err, "query units");
	}
	where_free(&w);
	if (rc < 0)
		return rc;
	list_begin(f, filter, !limit);
	for (i = 0; i < PQntuples(r); i++) {
		unit_row(r, i, 0, &row);
		if (cb && (rc = cb(&row, userdata)) < 0)
			break;
	}
	list_end(f);
	PQclear(r);
	return rc < 0 ? rc : i;
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

/* One lookup of find_unit(): the (station, unit_id) of its first row, 1 if found. */
static int find_one(struct fleet *f, const char *sql, struct params *p, int64_t *unit_id,
		    struct err *err)
{
	PGresult *r = NULL;
	int rc = run(f, sql, p, &r, err, "find unit");

	if (rc < 0)
		return rc;
	rc = PQntuples(r) > 0;
	if (rc) {
		snprintf(f->found_station, sizeof(f->found_station), "%s", PQgetvalue(r, 0, 0));
		*unit_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	return rc;
}

/* A unit id on one station: --station's, or the only station that has it. */
static int find_by_id(struct fleet *f, const char *key, int64_t *unit_id, struct err *err)
{
	struct params p = { 0 };
	char sql[256];
	PGresult *r = NULL;
	int rc, n;

	snprintf(sql, sizeof(sql),
		 "SELECT station, unit_id FROM flashd.units u WHERE unit_id = %s%s LIMIT 2",
		 param(&p, key), f->station ? " AND station = $2" : "");
	if (f->station)
		param(&p, f->station);
	rc = run(f, sql, &p, &r, err, "find unit");
	if (rc < 0)
		return rc;
	n = PQntuples(r);
	if (n == 1) {
		snprintf(f->found_station, sizeof(f->found_station), "%s", PQgetvalue(r, 0, 0));
		*unit_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	if (n > 1)
		return err_set(err, -EINVAL, "unit id %s is on several stations: give --station",
			       key);
	return n;
}

/*
 * db_query_find_unit() over the fleet: a unit id, else the newest unit with
 * that serial, else with that chip UID (any case), else the unit holding
 * that identity value (a MAC in any form), one that holds it before one
 * that released it.  --station narrows every step.
 */
static int fleet_find_unit(void *h, const char *key, bool by_serial, int64_t *unit_id,
			   struct err *err)
{
	struct fleet *f = h;
	const char *st = f->station ? " AND u.station = $2" : "";
	char sql[512], mac[18] = "";
	struct params p = { 0 };
	int64_t m;
	int rc;

	if (!key || !*key)
		return err_set(err, -EINVAL, "no unit id or serial");
	if (!by_serial && all_digits(key) && strlen(key) < 19) {
		rc = find_by_id(f, key, unit_id, err);
		if (rc)
			return rc < 0 ? rc : 0;
	}
	param(&p, key);
	if (f->station)
		param(&p, f->station);
	snprintf(sql, sizeof(sql),
		 "SELECT station, unit_id FROM flashd.units u WHERE serial = $1%s "
		 "ORDER BY started_at DESC, station DESC, unit_id DESC LIMIT 1",
		 st);
	rc = find_one(f, sql, &p, unit_id, err);
	if (rc)
		return rc < 0 ? rc : 0;
	if (by_serial)
		return err_set(err, -ENOENT, "no unit with serial '%s'", key);
	snprintf(sql, sizeof(sql),
		 "SELECT station, unit_id FROM flashd.units u WHERE lower(chip_uid) = lower($1)%s "
		 "ORDER BY started_at DESC, station DESC, unit_id DESC LIMIT 1",
		 st);
	rc = find_one(f, sql, &p, unit_id, err);
	if (rc)
		return rc < 0 ? rc : 0;
	if (db_pool_parse_mac(key, &m) == 0)
		db_pool_mac_text(m, mac);
	snprintf(sql, sizeof(sql),
		 "SELECT station, unit_id FROM flashd.unit_identities u WHERE value IN ($1, $%d)%s "
		 "ORDER BY state = 'released', identity_id DESC LIMIT 1",
		 p.n + 1, st);
	param(&p, mac);
	rc = find_one(f, sql, &p, unit_id, err);
	if (rc)
		return rc < 0 ? rc : 0;
	return err_set(err, -ENOENT, "no unit with %s '%s'",
		       all_digits(key) ? "id, serial, chip UID or identity"
				       : "serial, chip UID or identity",
		       key);
}

static void image_row(const PGresult *r, int i, int c0, struct db_image_row *im)
{
	*im = (struct db_image_row){
		.stage = col(r, i, c0 + 0),
		.target = col(r, i, c0 + 1),
		.file = col(r, i, c0 + 2),
		.size = col_int(r, i, c0 + 3, -1),
		.sha256 = col(r, i, c0 + 4),
		.has_host_crc32 = !PQgetisnull(r, i, c0 + 5),
		.host_crc32 = (uint32_t)col_int(r, i, c0 + 5, 0),
		.has_device_crc32 = !PQgetisnull(r, i, c0 + 6),
		.device_crc32 = (uint32_t)col_int(r, i, c0 + 6, 0),
		.verified = strcmp(PQgetvalue(r, i, c0 + 7), "t") == 0,
	};
}

#define IMAGE_COLUMNS                                                                              \
	"i.stage, i.target, i.file, i.size, i.sha256, i.host_crc32, i.device_crc32, i.verified"

static int unit_stages(struct fleet *f, struct params *p, db_stage_cb_t cb, void *userdata,
		       struct err *err)
{
	PGresult *r = NULL;
	int rc = run(
		f,
		"SELECT idx, name, result, error, " MS(
			"started_at") ", duration_ms "
				      "FROM flashd.unit_stages WHERE station = $1 AND unit_id = $2 ORDER BY idx",
		p, &r, err, "query stages");

	for (int i = 0; rc >= 0 && cb && i < PQntuples(r); i++) {
		struct db_stage_row s = {
			.idx = (int)col_int(r, i, 0, 0),
			.name = col(r, i, 1),
			.result = col(r, i, 2),
			.error = col(r, i, 3),
			.started_at = col_int(r, i, 4, -1),
			.duration_ms = col_int(r, i, 5, -1),
		};

		rc = cb(&s, userdata);
	}
	PQclear(r);
	return rc;
}

static int unit_images(struct fleet *f, struct params *p, db_image_cb_t cb, void *userdata,
		       struct err *err)
{
	PGresult *r = NULL;
	int rc = run(f,
		     "SELECT " IMAGE_COLUMNS " FROM flashd.unit_images i "
		     "WHERE station = $1 AND unit_id = $2 ORDER BY n",
		     p, &r, err, "query images");

	for (int i = 0; rc >= 0 && cb && i < PQntuples(r); i++) {
		struct db_image_row im;

		image_row(r, i, 0, &im);
		rc = cb(&im, userdata);
	}
	PQclear(r);
	return rc;
}

/* The unit find_unit() found: its row, stages, images. */
static int fleet_unit(void *h, int64_t unit_id, db_unit_cb_t unit_cb, db_stage_cb_t stage_cb,
		      db_image_cb_t image_cb, void *userdata, struct err *err)
{
	struct fleet *f = h;
	struct params p = { 0 };
	struct db_unit_row row;
	PGresult *r = NULL;
	int rc;

	param(&p, f->found_station);
	param_int(&p, unit_id);
	rc = run(f,
		 "SELECT " UNIT_COLUMNS " FROM flashd.units u WHERE station = $1 AND unit_id = $2",
		 &p, &r, err, "query unit");
	if (rc < 0)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return err_set(err, -ENOENT, "no unit %lld", (long long)unit_id);
	}
	unit_row(r, 0, 0, &row);
	rc = unit_cb ? unit_cb(&row, userdata) : 0;
	PQclear(r);
	if (rc >= 0)
		rc = unit_stages(f, &p, stage_cb, userdata, err);
	if (rc >= 0)
		rc = unit_images(f, &p, image_cb, userdata, err);
	return rc < 0 ? rc : 0;
}

static int fleet_units_images(void *h, const struct db_filter *filter, db_unit_image_cb_t cb,
			      void *userdata, struct err *err)
{
	struct fleet *f = h;
	struct params p = { 0 };
	struct where w = { 0 };
	struct db_unit_row row;
	struct db_image_row im;
	PGresult *r = NULL;
	char sql[2048];
	int rc, i;

	rc = build_where(f, filter, &p, &w, err);
	if (rc >= 0) {
		snprintf(sql, sizeof(sql),
			 "SELECT " UNIT_COLUMNS ", i.n, " IMAGE_COLUMNS " FROM flashd.units u "
			 "LEFT JOIN flashd.unit_images i USING (station, unit_id) WHERE true%s "
			 "ORDER BY u.started_at, u.station, u.unit_id, i.n",
			 w.sql);
		rc = run(f, sql, &p, &r, err, "query units");
	}
	where_free(&w);
	if (rc < 0)
		return rc;
	list_begin(f, filter, true);
	for (i = 0; i < PQntuples(r); i++) {
		bool has_image = !PQgetisnull(r, i, N_UNIT_COLS);

		unit_row(r, i, 0, &row);
		if (has_image)
			image_row(r, i, N_UNIT_COLS + 1, &im);
		if (cb && (rc = cb(&row, has_image ? &im : NULL, userdata)) < 0)
			break;
	}
	list_end(f);
	PQclear(r);
	return rc < 0 ? rc : i;
}

/* An identity row: station and unit_id (the keys), then db_identity_row's fields. */
#define IDENTITY_SQL                                                                               \
	"SELECT i.station, i.unit_id, i.pool, i.value, i.file, i.file_sha256, i.state, "           \
	"i.device_written FROM flashd.unit_identities i"

static int identities_cb(const PGresult *r, int a, int b, db_identity_cb_t cb, void *userdata)
{
	int rc;

	for (int i = a; cb && i < b; i++) {
		struct db_identity_row id = {
			.unit_id = col_int(r, i, 1, -1),
			.pool = col(r, i, 2),
			.value = col(r, i, 3),
			.file = col(r, i, 4),
			.file_sha256 = col(r, i, 5),
			.state = col(r, i, 6),
			.device_written = strcmp(PQgetvalue(r, i, 7), "t") == 0,
		};

		if ((rc = cb(&id, userdata)) < 0)
			return rc;
	}
	return b - a;
}

static int key_cmp(const PGresult *r, int i, const char *station, int64_t unit_id)
{
	int c = strcmp(PQgetvalue(r, i, 0), station);
	int64_t u = strtoll(PQgetvalue(r, i, 1), NULL, 10);

	return c ? c : (u > unit_id) - (u < unit_id);
}

/* Rows [*a, *b) of r (ordered by station bytes, unit_id) that are the unit's. */
static void unit_range(const PGresult *r, const char *station, int64_t unit_id, int *a, int *b)
{
	int lo = 0, hi = PQntuples(r);

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (key_cmp(r, mid, station, unit_id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*a = lo;
	while (lo < PQntuples(r) && key_cmp(r, lo, station, unit_id) == 0)
		lo++;
	*b = lo;
}

/*
 * The identities of every unit of the running list, in one query: an
 * export of many units then costs two round trips, not one per unit.
 */
static int prefetch_identities(struct fleet *f, struct err *err)
{
	struct params p = { 0 };
	struct where w = { 0 };
	char sql[2048];
	int rc;

	rc = build_where(f, f->list_filter, &p, &w, err);
	if (rc >= 0) {
		snprintf(sql, sizeof(sql),
			 IDENTITY_SQL " JOIN flashd.units u USING (station, unit_id) WHERE true%s "
				      "ORDER BY i.station COLLATE \"C\", i.unit_id, i.identity_id",
			 w.sql);
		rc = run(f, sql, &p, &f->list_ids, err, "query identities");
	}
	where_free(&w);
	return rc;
}

static int fleet_unit_identities(void *h, const struct db_unit_row *unit, db_identity_cb_t cb,
				 void *userdata, struct err *err)
{
	struct fleet *f = h;
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc, a, b;

	if (f->listing) {
		if (!f->list_ids && (rc = prefetch_identities(f, err)) < 0)
			return rc;
		unit_range(f->list_ids, unit->station, unit->id, &a, &b);
		return identities_cb(f->list_ids, a, b, cb, userdata);
	}
	param(&p, unit->station);
	param_int(&p, unit->id);
	rc = run(f, IDENTITY_SQL " WHERE i.station = $1 AND i.unit_id = $2 ORDER BY i.identity_id",
		 &p, &r, err, "query identities");
	if (rc < 0)
		return rc;
	rc = identities_cb(r, 0, PQntuples(r), cb, userdata);
	PQclear(r);
	return rc;
}

/* stats: one unit's group key, result and duration, grouped on this side. */
struct stat_unit {
	char *key;
	enum db_result result;
	bool timed;
	int64_t duration_ms;
};

static int stat_cmp(const void *a, const void *b)
{
	const struct stat_unit *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->timed != y->timed)
		return x->timed ? 1 : -1;
	return (x->duration_ms > y->duration_ms) - (x->duration_ms < y->duration_ms);
}

/* The group key of row i (columns recipe, port, slot, started ms) as db/query.c has it. */
static char *stat_key(const PGresult *r, int i, enum db_stats_by by)
{
	char day[16];
	time_t t;
	struct tm tm;

	switch (by) {
	case DB_STATS_BY_RECIPE:
		return strdup(col(r, i, 0) ? col(r, i, 0) : "");
	case DB_STATS_BY_PORT:
		return strdup(col(r, i, 1) ? col(r, i, 1) : "");
	case DB_STATS_BY_SLOT:
		return strdup(col(r, i, 2) ? col(r, i, 2) : "-");
	case DB_STATS_BY_DAY:
	case _DB_STATS_BY_MAX:
	case _DB_STATS_BY_INVALID:
		break;
	}
	if (PQgetisnull(r, i, 3))
		return strdup("");
	/* The local day of flashctl's time zone, as SQLite's 'localtime'. */
	t = (time_t)(col_int(r, i, 3, 0) / 1000);
	localtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	return strdup(day);
}

/* One group of units [a, b) of the sorted array; as acc_emit() in db/query.c. */
static int stat_emit(const struct stat_unit *u, size_t n, db_stats_cb_t cb, void *userdata)
{
	struct db_stats_row row = { .key = u[0].key };
	int64_t finished, *dur = malloc((n ? n : 1) * sizeof(*dur));
	double sum = 0;
	size_t nd = 0;
	int rc;

	if (!dur)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		row.units++;
		row.pass += u[i].result == DB_RESULT_PASS;
		row.fail += u[i].result == DB_RESULT_FAIL;
		row.interrupted += u[i].result == DB_RESULT_INTERRUPTED;
		row.running += u[i].result == DB_RESULT_RUNNING;
		if (u[i].result == DB_RESULT_RUNNING || u[i].result < 0 || !u[i].timed)
			continue;
		dur[nd] = u[i].duration_ms;
		sum += (double)dur[nd++];
	}
	finished = row.pass + row.fail + row.interrupted;
	row.yield = finished ? (double)row.pass / (double)finished : NAN;
	row.n_timed = (int64_t)nd;
	row.mean_ms = nd ? sum / (double)nd : -1;
	/* Nearest rank: the smallest value with at least 95 % at or below it. */
	row.p95_ms = nd ? dur[(nd * 95 + 99) / 100 - 1] : -1;
	rc = cb ? cb(&row, userdata) : 0;
	free(dur);
	return rc;
}

static int fleet_stats(void *h, enum db_stats_by by, const struct db_filter *filter,
		       db_stats_cb_t cb, void *userdata, struct err *err)
{
	struct fleet *f = h;
	struct params p = { 0 };
	struct where w = { 0 };
	struct stat_unit *u = NULL;
	PGresult *r = NULL;
	char sql[2048];
	size_t n = 0, a;
	int rc, groups = 0;

	if (!db_stats_by_name(by))
		return err_set(err, -EINVAL, "invalid statistics grouping %d", by);
	rc = build_where(f, filter, &p, &w, err);
	if (rc >= 0) {
		snprintf(sql, sizeof(sql),
			 "SELECT u.recipe, u.port, u.slot, " MS(
				 "u.started_at") ", u.result, "
						 "u.duration_ms FROM flashd.units u WHERE true%s",
			 w.sql);
		rc = run(f, sql, &p, &r, err, "query statistics");
	}
	where_free(&w);
	if (rc < 0)
		return rc;
	u = calloc((size_t)PQntuples(r) + 1, sizeof(*u));
	for (int i = 0; u && i < PQntuples(r); i++, n++) {
		u[n] = (struct stat_unit){
			.key = stat_key(r, i, by),
			.result = db_result_from_name(col(r, i, 4)),
			.timed = !PQgetisnull(r, i, 5),
			.duration_ms = col_int(r, i, 5, 0),
		};
		if (!u[n].key)
			break;
	}
	if (!u || n < (size_t)PQntuples(r)) {
		PQclear(r);
		rc = err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	PQclear(r);
	qsort(u, n, sizeof(*u), stat_cmp);
	for (a = 0; a < n && rc >= 0; groups++) {
		size_t b = a + 1;

		while (b < n && strcmp(u[b].key, u[a].key) == 0)
			b++;
		rc = stat_emit(u + a, b - a, cb, userdata);
		a = b;
	}
out:
	for (size_t i = 0; u && i < n; i++)
		free(u[i].key);
	free(u);
	return rc < 0 ? rc : groups;
}

static const struct flashctl_source_ops fleet_source = {
	.name = "fleet",
	.open = fleet_open,
	.close = fleet_close,
	.units = fleet_units,
	.find_unit = fleet_find_unit,
	.unit = fleet_unit,
	.units_images = fleet_units_images,
	.unit_identities = fleet_unit_identities,
	.stats = fleet_stats,
};

int flashctl_cmd_fleet(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "flashctl fleet: needs log, show, stats or export\n");
		return FLASHCTL_EXIT_USAGE;
	}
	return flashctl_qa_run(&fleet_source, getenv("FLASHD_FLEET_URL"), argc - 1, argv + 1);
}
