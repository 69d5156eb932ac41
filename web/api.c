/*
 * This file implements flashd-web's read-only API (web/web.h) for MES and
 * QA tools, over the queries flashctl uses (db/query.h):
 *
 *   GET /api/ports        flashd's ports now, plus configured slots without a board
 *   GET /api/units        units as `flashctl log --format json` rows, oldest first by id:
 *                         since, until, result, recipe, serial, port, slot (as
 *                         flashctl's options), after=ID&limit=N (cursor paging,
 *                         limit 1..1000, default 100); {"units": [...], "next": ID|null}
 *   GET /api/units/ID     one unit with its stages and images (as `flashctl show --format json`)
 *   GET /api/units.csv    `flashctl export` CSV with the same filters (no paging)
 *
 * A bad or unknown parameter is 400 naming it; the database is opened
 * read-only for each request (WAL: never blocks flashd).
 */
#include "web/web.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/flashctl.h"
#include "db/db.h"
#include "db/query.h"
#include "db/unit-format.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

struct params {
	struct db_filter filter;
	int64_t after;
	unsigned limit;
	bool paging; /* after and limit are allowed */
	char bad[300];
};

static int parse_uint(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (!*v || *v == '-' || *v == '+')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static enum MHD_Result one_param(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	struct params *p = cls;
	struct db_filter *f = &p->filter;
	uint64_t n;

	(void)kind;
	if (!v)
		v = "";
#define BAD(...) (snprintf(p->bad, sizeof(p->bad), __VA_ARGS__), MHD_NO)
	if (!strcmp(k, "since") || !strcmp(k, "until")) {
		if (flashctl_parse_time(v, !strcmp(k, "since") ? &f->since : &f->until) < 0)
			return BAD(
				"invalid %s '%s' (expected YYYY-MM-DD[THH:MM[:SS]][Z], @UNIX-SECONDS, now, today or -N{d,h,m})",
				k, v);
	} else if (!strcmp(k, "result")) {
		if (db_result_from_name(v) < 0)
			return BAD(
				"invalid result '%s' (expected pass, fail, interrupted or running)",
				v);
		f->result = v;
	} else if (!strcmp(k, "recipe") || !strcmp(k, "serial") || !strcmp(k, "port") ||
		   !strcmp(k, "slot")) {
		if (!*v)
			return BAD("empty %s", k);
		*(!strcmp(k, "recipe")	 ? &f->recipe
		  : !strcmp(k, "serial") ? &f->serial
		  : !strcmp(k, "port")	 ? &f->port
					 : &f->slot) = v;
	} else if (p->paging && !strcmp(k, "after")) {
		if (parse_uint(v, INT64_MAX, &n) < 0)
			return BAD("invalid after '%s' (expected a unit id)", v);
		p->after = (int64_t)n;
	} else if (p->paging && !strcmp(k, "limit")) {
		if (parse_uint(v, PAGE_MAX, &n) < 0 || n == 0)
			return BAD("invalid limit '%s' (expected 1..%d)", v, PAGE_MAX);
		p->limit = (unsigned)n;
	} else {
		return BAD("unknown parameter '%s'", k);
	}
#undef BAD
	return MHD_YES;
}

/* Parse the query string into p; false (p->bad says why) if it is not valid. */
static bool parse_params(struct MHD_Connection *conn, struct params *p)
{
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, one_param, p);
	if (!p->bad[0] && p->filter.since && p->filter.until && p->filter.until <= p->filter.since)
		snprintf(p->bad, sizeof(p->bad), "until must be after since");
	return !p->bad[0];
}

static enum MHD_Result db_failed(struct MHD_Connection *conn, int rc, const struct err *e)
{
	return web_error(conn, rc == -ENOENT ? MHD_HTTP_NOT_FOUND : MHD_HTTP_SERVICE_UNAVAILABLE,
			 "%s", e->msg[0] ? e->msg : strerror(-rc));
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, cJSON *root)
{
	char *s = root ? cJSON_PrintUnformatted(root) : NULL;

	cJSON_Delete(root);
	if (!s)
		return MHD_NO;
	return web_reply(conn, MHD_HTTP_OK, "application/json", s, strlen(s));
}

struct page {
	cJSON *units;
	int64_t last;
};

static int add_unit(const struct db_unit_row *r, void *ud)
{
	struct page *pg = ud;
	cJSON *o = flashctl_unit_json(r);

	if (!o)
		return -ENOMEM;
	cJSON_AddItemToArray(pg->units, o);
	pg->last = r->id;
	return 0;
}

enum MHD_Result web_api_units(struct web_request *rq)
{
	struct params p = { .paging = true, .limit = PAGE_DEFAULT };
	_cleanup_db_ struct db *db = NULL;
	struct err e = { 0 };
	cJSON *root;
	struct page pg;
	int rc;

	if (!parse_params(rq->conn, &p))
		return web_error(rq->conn, MHD_HTTP_BAD_REQUEST, "%s", p.bad);
	rc = db_open(rq->web->cfg.database, DB_OPEN_READONLY, &db, &e);
	if (rc < 0)
		return db_failed(rq->conn, rc, &e);
	root = cJSON_CreateObject();
	pg = (struct page){ .units = cJSON_AddArrayToObject(root, "units") };
	if (!pg.units) {
		cJSON_Delete(root);
		return MHD_NO;
	}
	rc = db_query_units_after(db, &p.filter, p.after, p.limit, add_unit, &pg, &e);
	if (rc < 0) {
		cJSON_Delete(root);
		return db_failed(rq->conn, rc, &e);
	}
	/* A full page may have more after it; a short one is the end. */
	if ((unsigned)rc == p.limit)
		cJSON_AddNumberToObject(root, "next", (double)pg.last);
	else
		cJSON_AddNullToObject(root, "next");
	return reply_json(rq->conn, root);
}

struct full_unit {
	cJSON *root, *stages, *images;
};

static int full_unit_row(const struct db_unit_row *r, void *ud)
{
	struct full_unit *u = ud;

	u->root = flashctl_unit_json(r);
	u->stages = cJSON_AddArrayToObject(u->root, "stages");
	u->images = cJSON_AddArrayToObject(u->root, "images");
	return u->root && u->stages && u->images ? 0 : -ENOMEM;
}

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static void add_num(cJSON *o, const char *k, int64_t v)
{
	if (v >= 0)
		cJSON_AddNumberToObject(o, k, (double)v);
	else
		cJSON_AddNullToObject(o, k);
}

static int full_unit_stage(const struct db_stage_row *r, void *ud)
{
	struct full_unit *u = ud;
	cJSON *o = cJSON_CreateObject();
	char iso[DB_ISO_MAX];

	if (!o)
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "index", r->idx);
	add_str(o, "name", r->name);
	add_str(o, "result", r->result);
	add_str(o, "error", r->error);
	add_str(o, "started_at", r->started_at >= 0 ? db_fmt_iso(r->started_at, iso) : NULL);
	add_num(o, "duration_ms", r->duration_ms);
	cJSON_AddItemToArray(u->stages, o);
	return 0;
}

static int full_unit_image(const struct db_image_row *r, void *ud)
{
	struct full_unit *u = ud;
	cJSON *o = cJSON_CreateObject();
	char crc[16];

	if (!o)
		return -ENOMEM;
	add_str(o, "stage", r->stage);
	add_str(o, "target", r->target);
	add_str(o, "file", r->file);
	add_num(o, "size", r->size);
	add_str(o, "sha256", r->sha256);
	snprintf(crc, sizeof(crc), "%08x", r->host_crc32);
	add_str(o, "host_crc32", r->has_host_crc32 ? crc : NULL);
	snprintf(crc, sizeof(crc), "%08x", r->device_crc32);
	add_str(o, "device_crc32", r->has_device_crc32 ? crc : NULL);
	cJSON_AddBoolToObject(o, "verified", r->verified);
	cJSON_AddItemToArray(u->images, o);
	return 0;
}

enum MHD_Result web_api_unit(struct web_request *rq)
{
	_cleanup_db_ struct db *db = NULL;
	struct full_unit u = { 0 };
	struct err e = { 0 };
	uint64_t id;
	int rc;

	if (parse_uint(rq->arg, INT64_MAX, &id) < 0)
		return web_error(rq->conn, MHD_HTTP_BAD_REQUEST, "invalid unit id '%s'", rq->arg);
	if (MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
		return web_error(rq->conn, MHD_HTTP_BAD_REQUEST,
				 "/api/units/ID takes no parameters");
	rc = db_open(rq->web->cfg.database, DB_OPEN_READONLY, &db, &e);
	if (rc >= 0)
		rc = db_query_unit(db, (int64_t)id, full_unit_row, full_unit_stage, full_unit_image,
				   &u, &e);
	if (rc < 0) {
		cJSON_Delete(u.root);
		return db_failed(rq->conn, rc, &e);
	}
	return reply_json(rq->conn, u.root);
}

struct csv_out {
	FILE *f;
	struct db *db;
	struct err *e;
};

static int csv_unit(const struct db_unit_row *r, void *ud)
{
	struct csv_out *o = ud;
	_cleanup_free_ char *ids = NULL;
	int rc = db_unit_identities_text(o->db, r->id, &ids, o->e);

	if (rc < 0)
		return rc;
	db_unit_csv_row(o->f, r, ids);
	return 0;
}

enum MHD_Result web_api_units_csv(struct web_request *rq)
{
	struct params p = { 0 };
	_cleanup_db_ struct db *db = NULL;
	struct err e = { 0 };
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (!parse_params(rq->conn, &p))
		return web_error(rq->conn, MHD_HTTP_BAD_REQUEST, "%s", p.bad);
	rc = db_open(rq->web->cfg.database, DB_OPEN_READONLY, &db, &e);
	if (rc < 0)
		return db_failed(rq->conn, rc, &e);
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	/* flashctl export: the header, then the units oldest first. */
	db_unit_csv_header(f);
	rc = db_query_units(db, &p.filter, false, 0, csv_unit,
			    &(struct csv_out){ .f = f, .db = db, .e = &e }, &e);
	if (fclose(f) != 0 && rc >= 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(body);
		return db_failed(rq->conn, rc, &e);
	}
	return web_reply(rq->conn, MHD_HTTP_OK, "text/csv; charset=utf-8", body, len);
}

/* A port object for a configured slot flashd has not seen a board on. */
static cJSON *empty_slot(const struct config_slot *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "port", s->port);
	cJSON_AddStringToObject(o, "slot", s->label);
	cJSON_AddStringToObject(o, "state", "empty");
	return o;
}

static bool has_port(cJSON *ports, const char *port)
{
	cJSON *p;

	cJSON_ArrayForEach(p, ports)
	{
		cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "port");

		if (cJSON_IsString(name) && strcmp(name->valuestring, port) == 0)
			return true;
	}
	return false;
}

enum MHD_Result web_api_ports(struct web_request *rq)
{
	const struct config *fc = &rq->web->cfg.flashd;
	_cleanup_free_ char *doc = NULL;
	cJSON *status, *root, *ports;

	if (MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
		return web_error(rq->conn, MHD_HTTP_BAD_REQUEST, "/api/ports takes no parameters");
	doc = web_status_json(rq->web);
	if (!doc)
		return web_error(rq->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				 "flashd does not answer on '%s'", rq->web->cfg.control_socket);
	status = cJSON_Parse(doc);
	ports = cJSON_DetachItemFromObjectCaseSensitive(status, "ports");
	if (!cJSON_IsArray(ports)) {
		cJSON_Delete(ports);
		ports = cJSON_CreateArray();
	}
	for (size_t i = 0; ports && i < fc->n_slots; i++)
		if (!has_port(ports, fc->slots[i].port))
			cJSON_AddItemToArray(ports, empty_slot(&fc->slots[i]));
	root = cJSON_CreateObject();
	cJSON_AddItemToObject(root, "station",
			      cJSON_DetachItemFromObjectCaseSensitive(status, "station"));
	cJSON_AddItemToObject(root, "ports", ports);
	cJSON_Delete(status);
	return reply_json(rq->conn, root);
}
