/*
 * This file implements flashctl's QA commands over the unit database:
 * log, show, stats and export (db/query.h does the SQL; this file parses
 * options and formats).  The database is opened read-only.
 *
 * CSV and JSON column set of log and export, stable (append only; never
 * reordered or renamed):
 *   id, station, port, slot, recipe, recipe_sha256, vid, pid, serial,
 *   chip_uid, jedec_id, result, failed_stage, error, started_at,
 *   finished_at, duration_ms, flashd_version
 * started_at/finished_at are ISO-8601 UTC with milliseconds
 * ("2026-01-01T00:00:01.000Z"), vid/pid 4 lower-case hex digits, slot the
 * label as configured ("A3"), id and duration_ms integers; absent values are empty in CSV and null in
 * JSON.  CSV follows RFC 4180 (quotes only where needed, CRLF-free: rows end
 * in LF).  JSON is one array of objects.  stats has the columns
 * recipe|day|port (per --by), units, pass, fail, interrupted, running,
 * yield (0..1, empty/null if nothing finished), mean_ms, p95_ms (over
 * finished units with a known duration; nearest-rank percentile).
 */
#include "daemon/flashctl.h"
#include "daemon/flashctl-source.h"
#include "db/db.h"
#include "db/query.h"
#include "db/unit-format.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum qa_format {
	QA_FORMAT_TABLE,
	QA_FORMAT_CSV,
	QA_FORMAT_JSON,
};

struct qa_opts {
	const char *cmd;
	const char *db_path;
	const struct flashctl_source_ops *ops; /* the station database, or the fleet's */
	const char *station;		       /* fleet --station */
	struct db_filter filter;
	enum qa_format format;
	enum db_stats_by by;
	unsigned limit;
	bool by_serial;
	bool images; /* export --images */
};

/* Which options a command takes. */
enum {
	OPT_FILTER = 1 << 0,
	OPT_LIMIT = 1 << 1,
	OPT_BY = 1 << 2,
	OPT_SERIAL_FLAG = 1 << 3, /* show --serial: the argument is a serial */
	OPT_IMAGES = 1 << 4,	  /* export --images */
};

#define ISO_MAX DB_ISO_MAX

/* ms since the epoch as "2026-01-01T00:00:01.000Z"; "" for -1. */
static const char *fmt_iso(int64_t ms, char buf[ISO_MAX])
{
	return db_fmt_iso(ms, buf);
}

/*
 * --since/--until: YYYY-MM-DD[(T| )HH:MM[:SS]] in the station's local
 * time, the same with a trailing Z in UTC, @UNIX-SECONDS, "now", "today"
 * (local midnight: the day STATUS= counts) or -N{d,h,m} before now.
 */
static int parse_time(const char *s, int64_t *ret)
{
	struct tm tm = { 0 };
	int64_t now = db_now_ms();
	const char *end;
	char *e;
	long long v;

	if (strcmp(s, "now") == 0) {
		*ret = now;
		return 0;
	}
	if (strcmp(s, "today") == 0) {
		time_t t = (time_t)(now / 1000);

		localtime_r(&t, &tm);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		*ret = (int64_t)mktime(&tm) * 1000;
		return 0;
	}
	if (s[0] == '@' || s[0] == '-') {
		errno = 0;
		v = strtoll(s + 1, &e, 10);
		if (errno || e == s + 1 || v < 0)
			return -EINVAL;
		if (s[0] == '@' && !*e) {
			*ret = v * 1000;
			return 0;
		}
		if (s[0] == '-' && e[0] && !e[1]) {
			int64_t unit = e[0] == 'd'   ? 86400000
				       : e[0] == 'h' ? 3600000
				       : e[0] == 'm' ? 60000
						     : 0;

			if (!unit)
				return -EINVAL;
			*ret = now - v * unit;
			return 0;
		}
		return -EINVAL;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end)
		return -EINVAL;
	if (*end == 'T' || *end == ' ') {
		const char *t = strptime(end + 1, "%H:%M:%S", &tm);

		if (!t)
			t = strptime(end + 1, "%H:%M", &tm);
		if (!t)
			return -EINVAL;
		end = t;
	}
	if (*end == 'Z' && !end[1]) {
		*ret = (int64_t)timegm(&tm) * 1000;
		return 0;
	}
	if (*end)
		return -EINVAL;
	tm.tm_isdst = -1;
	*ret = (int64_t)mktime(&tm) * 1000;
	return 0;
}

/* The station database as a source: db/query.h as it is. */
static int sqlite_open(const char *where, const char *station, void **h, struct err *err)
{
	(void)station;
	return db_open(where, DB_OPEN_READONLY, (struct db **)h, err);
}

static void sqlite_close(void *h)
{
	db_close(h);
}

static int sqlite_units(void *h, const struct db_filter *filter, bool newest_first, unsigned limit,
			db_unit_cb_t cb, void *userdata, struct err *err)
{
	return db_query_units(h, filter, newest_first, limit, cb, userdata, err);
}

static int sqlite_find_unit(void *h, const char *key, bool by_serial, int64_t *unit_id,
			    struct err *err)
{
	return db_query_find_unit(h, key, by_serial, unit_id, err);
}

static int sqlite_unit(void *h, int64_t unit_id, db_unit_cb_t unit_cb, db_stage_cb_t stage_cb,
		       db_image_cb_t image_cb, void *userdata, struct err *err)
{
	return db_query_unit(h, unit_id, unit_cb, stage_cb, image_cb, userdata, err);
}

static int sqlite_units_images(void *h, const struct db_filter *filter, db_unit_image_cb_t cb,
			       void *userdata, struct err *err)
{
	return db_query_units_images(h, filter, cb, userdata, err);
}

static int sqlite_unit_identities(void *h, const struct db_unit_row *unit, db_identity_cb_t cb,
				  void *userdata, struct err *err)
{
	return db_query_unit_identities(h, unit->id, cb, userdata, err);
}

static int sqlite_stats(void *h, enum db_stats_by by, const struct db_filter *filter,
			db_stats_cb_t cb, void *userdata, struct err *err)
{
	return db_query_stats(h, by, filter, cb, userdata, err);
}

static const struct flashctl_source_ops sqlite_source = {
	.name = "station",
	.open = sqlite_open,
	.close = sqlite_close,
	.units = sqlite_units,
	.find_unit = sqlite_find_unit,
	.unit = sqlite_unit,
	.units_images = sqlite_units_images,
	.unit_identities = sqlite_unit_identities,
	.stats = sqlite_stats,
};

static int usage_err(const struct qa_opts *o, const char *fmt, const char *arg)
{
	fprintf(stderr, "flashctl %s: ", o->cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see 'flashctl --help')\n");
	return FLASHCTL_EXIT_USAGE;
}

/* Parse options into o; returns -1 to go on (optind at the operands) or an exit code. */
static int parse_opts(struct qa_opts *o, unsigned allowed, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "result", required_argument, NULL, 'r' },
		{ "recipe", required_argument, NULL, 'R' },
		{ "port", required_argument, NULL, 'p' },
		{ "slot", required_argument, NULL, 'L' },
		{ "format", required_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'n' },
		{ "by", required_argument, NULL, 'b' },
		{ "images", no_argument, NULL, 'I' },
		{ "db", required_argument, NULL, 'd' },
		{ "db-url", required_argument, NULL, 'u' },
		{ "station", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* show --serial takes no argument: its operand is the serial. */
	static const struct option showopts[] = {
		{ "serial", no_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "db", required_argument, NULL, 'd' },
		{ "db-url", required_argument, NULL, 'u' },
		{ "station", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool fleet = o->ops != &sqlite_source;
	bool filter = allowed & OPT_FILTER;
	int c;

	opterr = 0;
	optind = 0; /* GNU: reinitialise */
	while ((c = getopt_long(argc, argv, "+:hn:",
				allowed & OPT_SERIAL_FLAG ? showopts : longopts, NULL)) != -1) {
		char *e;

		switch (c) {
		case 's':
			if (allowed & OPT_SERIAL_FLAG)
				o->by_serial = true;
			else if (filter)
				o->filter.serial = optarg;
			else
				goto unknown;
			break;
		case 'S':
		case 'U':
			if (!filter)
				goto unknown;
			if (parse_time(optarg, c == 'S' ? &o->filter.since : &o->filter.until) < 0)
				return usage_err(
					o,
					"invalid time '%s' (expected YYYY-MM-DD[THH:MM[:SS]][Z], @UNIX-SECONDS, now, today or -N{d,h,m})",
					optarg);
			break;
		case 'r':
			if (!filter)
				goto unknown;
			if (db_result_from_name(optarg) < 0)
				return usage_err(
					o,
					"invalid result '%s' (expected pass, fail, interrupted or running)",
					optarg);
			o->filter.result = optarg;
			break;
		case 'R':
			if (!filter)
				goto unknown;
			o->filter.recipe = optarg;
			break;
		case 'p':
			if (!filter)
				goto unknown;
			o->filter.port = optarg;
			break;
		case 'L':
			if (!filter)
				goto unknown;
			o->filter.slot = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "table") == 0 || strcmp(optarg, "text") == 0)
				o->format = QA_FORMAT_TABLE;
			else if (strcmp(optarg, "csv") == 0)
				o->format = QA_FORMAT_CSV;
			else if (strcmp(optarg, "json") == 0)
				o->format = QA_FORMAT_JSON;
			else
				return usage_err(
					o, "invalid format '%s' (expected table, csv or json)",
					optarg);
			break;
		case 'n':
			if (!(allowed & OPT_LIMIT))
				goto unknown;
			errno = 0;
			o->limit = (unsigned)strtoul(optarg, &e, 10);
			if (errno || e == optarg || *e || optarg[0] == '-')
				return usage_err(o, "invalid limit '%s'", optarg);
			break;
		case 'I':
			if (!(allowed & OPT_IMAGES))
				goto unknown;
			o->images = true;
			break;
		case 'b':
			if (!(allowed & OPT_BY))
				goto unknown;
			o->by = db_stats_by_from_name(optarg);
			if (o->by < 0)
				return usage_err(
					o,
					"invalid grouping '%s' (expected recipe, day, port or slot)",
					optarg);
			break;
		case 'd':
			if (fleet)
				return usage_err(o, "%s",
						 "the fleet database is given with --db-url");
			o->db_path = optarg;
			break;
		case 'u':
		case 'T':
			if (!fleet)
				goto unknown;
			*(c == 'u' ? &o->db_path : &o->station) = optarg;
			break;
		case 'h':
			printf("see 'flashctl --help'\n");
			return FLASHCTL_EXIT_OK;
		case ':':
			return usage_err(o, "option '%s' needs a value", argv[optind - 1]);
		default:
unknown:
			return usage_err(o, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (o->filter.since && o->filter.until && o->filter.until <= o->filter.since)
		return usage_err(o, "%s", "--until must be after --since");
	return -1;
}

/* An open source: the printers query it for the identities of each unit. */
struct qa_src {
	const struct flashctl_source_ops *ops;
	void *h;
};

static void src_close(struct qa_src *src)
{
	if (src->h)
		src->ops->close(src->h);
	src->h = NULL;
}
#define _cleanup_src_ __attribute__((cleanup(src_close)))

static int open_src(const struct qa_opts *o, struct qa_src *src)
{
	struct err e = { 0 };

	src->ops = o->ops;
	if (o->ops->open(o->db_path, o->station, &src->h, &e) < 0) {
		fprintf(stderr, "flashctl: %s\n", e.msg);
		return FLASHCTL_EXIT_ERROR;
	}
	return FLASHCTL_EXIT_OK;
}

/* After printing: a full disk or closed pipe is an error, not success. */
static int finish_output(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "flashctl: write error on standard output\n");
		return FLASHCTL_EXIT_ERROR;
	}
	return rc;
}

/* One CSV field (RFC 4180 quoting when needed), then ',' or the line end. */
void flashctl_csv_field(const char *s, bool last)
{
	db_csv_field(stdout, s, last);
}

/* The stable columns live in db/unit-format.c, shared with flashd-web. */
#define unit_columns db_unit_columns
#define N_UNIT_COLUMNS DB_UNIT_N_COLUMNS
#define unit_fields db_unit_fields

struct unit_out {
	enum qa_format format;
	int rows;
	struct qa_src *src; /* for the identities of each unit */
	bool identities;    /* CSV: the "identities" column (export) */
	struct err *err;
};

/* db_unit_identities_text() over either source (station or fleet). */
static int identities_text(struct qa_src *src, const struct db_unit_row *unit, char **text,
			   struct err *e)
{
	size_t len;
	FILE *f = open_memstream(text, &len);
	int rc;

	if (!f)
		return -ENOMEM;
	rc = src->ops->unit_identities(src->h, unit, db_unit_identity_append, f, e);
	if (fclose(f) != 0 && rc >= 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
}

static cJSON *identity_json(const struct db_identity_row *r);

static int identity_add(const struct db_identity_row *r, void *ud)
{
	cJSON *j = identity_json(r);

	if (!j)
		return -ENOMEM;
	cJSON_AddItemToArray(ud, j);
	return 0;
}

/* JSON: every identity record of the unit, with its state. */
static int add_identities_json(cJSON *o, struct qa_src *src, const struct db_unit_row *unit,
			       struct err *e)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "identities");
	int rc;

	if (!arr)
		return -ENOMEM;
	rc = src->ops->unit_identities(src->h, unit, identity_add, arr, e);
	return rc < 0 ? rc : 0;
}

static void json_print(cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	if (s) {
		fputs(s, stdout);
		free(s);
	}
}

static cJSON *unit_json(const struct db_unit_row *r)
{
	const char *f[N_UNIT_COLUMNS];
	char bufs[8][ISO_MAX];
	cJSON *o = cJSON_CreateObject();

	unit_fields(r, f, bufs);
	for (size_t i = 0; o && i < N_UNIT_COLUMNS; i++) {
		const char *k = unit_columns[i];
		bool number = strcmp(k, "id") == 0 || strcmp(k, "duration_ms") == 0;

		if (!f[i])
			cJSON_AddNullToObject(o, k);
		else if (number)
			cJSON_AddNumberToObject(o, k, strtod(f[i], NULL));
		else
			cJSON_AddStringToObject(o, k, f[i]);
	}
	return o;
}

static void fmt_duration(int64_t ms, char *buf, size_t size)
{
	if (ms < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%" PRId64 ".%01" PRId64 "s", ms / 1000, ms % 1000 / 100);
}

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

static int print_unit(const struct db_unit_row *r, void *ud)
{
	struct unit_out *out = ud;
	const char *f[N_UNIT_COLUMNS];
	char bufs[8][ISO_MAX], dur[32], when[ISO_MAX];
	cJSON *j;

	switch (out->format) {
	case QA_FORMAT_TABLE:
		fmt_duration(r->duration_ms, dur, sizeof(dur));
		fmt_iso(r->started_at, when);
		when[19] = '\0'; /* table: to the second */
		if (when[10] == 'T')
			when[10] = ' ';
		printf("%7" PRId64 "  %-19s  %-10s  %-6s  %-16s  %-16s  %-11s  %8s", r->id, when,
		       r->port, dash(r->slot), r->recipe, dash(r->serial), r->result, dur);
		if (r->failed_stage || r->error)
			printf("  %s: %s", dash(r->failed_stage), dash(r->error));
		putchar('\n');
		break;
	case QA_FORMAT_CSV:
		if (out->identities) {
			_cleanup_free_ char *ids = NULL;
			int rc = identities_text(out->src, r, &ids, out->err);

			if (rc < 0)
				return rc;
			db_unit_csv_row(stdout, r, ids);
			break;
		}
		unit_fields(r, f, bufs);
		for (size_t i = 0; i < N_UNIT_COLUMNS; i++)
			flashctl_csv_field(f[i], i + 1 == N_UNIT_COLUMNS);
		break;
	case QA_FORMAT_JSON:
		j = unit_json(r);
		if (!j)
			return -ENOMEM;
		if (add_identities_json(j, out->src, r, out->err) < 0) {
			cJSON_Delete(j);
			return -ENOMEM;
		}
		fputs(out->rows ? ",\n" : "\n", stdout);
		json_print(j);
		cJSON_Delete(j);
		break;
	}
	out->rows++;
	return ferror(stdout) ? -EIO : 0;
}

static void print_units_header(enum qa_format format, bool identities)
{
	switch (format) {
	case QA_FORMAT_TABLE:
		printf("%7s  %-19s  %-10s  %-6s  %-16s  %-16s  %-11s  %8s  %s\n", "ID",
		       "STARTED (UTC)", "PORT", "SLOT", "RECIPE", "SERIAL", "RESULT", "DURATION",
		       "FAILED STAGE: ERROR");
		break;
	case QA_FORMAT_CSV:
		if (identities) {
			db_unit_csv_header(stdout);
			break;
		}
		for (size_t i = 0; i < N_UNIT_COLUMNS; i++)
			flashctl_csv_field(unit_columns[i], i + 1 == N_UNIT_COLUMNS);
		break;
	case QA_FORMAT_JSON:
		putchar('[');
		break;
	}
}

/* identities: the CSV "identities" column (export; JSON always has them). */
static int list_units(struct qa_opts *o, bool newest_first, bool identities)
{
	_cleanup_src_ struct qa_src src = { 0 };
	struct err e = { 0 };
	struct unit_out out = { .format = o->format, .identities = identities, .err = &e };
	int rc;

	rc = open_src(o, &src);
	if (rc)
		return rc;
	out.src = &src;
	print_units_header(o->format, identities);
	rc = src.ops->units(src.h, &o->filter, newest_first, o->limit, print_unit, &out, &e);
	if (o->format == QA_FORMAT_JSON)
		fputs(out.rows ? "\n]\n" : "]\n", stdout);
	if (rc < 0) {
		fflush(stdout);
		if (e.msg[0])
			fprintf(stderr, "flashctl %s: %s\n", o->cmd, e.msg);
		else
			fprintf(stderr, "flashctl %s: %s\n", o->cmd, strerror(-rc));
		return FLASHCTL_EXIT_ERROR;
	}
	return finish_output(FLASHCTL_EXIT_OK);
}

static int no_operands(struct qa_opts *o, int argc, char **argv)
{
	if (optind < argc)
		return usage_err(o, "unexpected argument '%s'", argv[optind]);
	return -1;
}

/* Each verb takes the options with the source set (o.ops, o.db_path), by value. */
static int qa_log(struct qa_opts o, int argc, char **argv)
{
	int rc;

	if ((rc = parse_opts(&o, OPT_FILTER | OPT_LIMIT, argc, argv)) >= 0 ||
	    (rc = no_operands(&o, argc, argv)) >= 0)
		return rc;
	return list_units(&o, true, false);
}

/* export with images: CSV one row per image; JSON each unit with "images". */
static const char *const image_columns[] = {
	"image_stage",	"image_target", "image_file",	"image_size",
	"image_sha256", "host_crc32",	"device_crc32", "verified",
};
#define N_IMAGE_COLUMNS (sizeof(image_columns) / sizeof(image_columns[0]))

struct export_out {
	enum qa_format format;
	int64_t unit_id; /* unit of `pending` */
	cJSON *pending;	 /* JSON: the unit being assembled, printed when the next starts */
	int units;
	struct qa_src *src;
	struct err *err;
	int64_t ids_unit; /* CSV: unit of ids */
	char *ids;	  /* CSV: its db_unit_identities_text() */
};

static void image_fields(const struct db_image_row *im, const char *out[N_IMAGE_COLUMNS],
			 char bufs[3][24])
{
	snprintf(bufs[0], 24, "%" PRId64, im->size);
	snprintf(bufs[1], 24, "%08x", im->host_crc32);
	snprintf(bufs[2], 24, "%08x", im->device_crc32);
	out[0] = im->stage;
	out[1] = im->target;
	out[2] = im->file;
	out[3] = im->size >= 0 ? bufs[0] : NULL;
	out[4] = im->sha256;
	out[5] = im->has_host_crc32 ? bufs[1] : NULL;
	out[6] = im->has_device_crc32 ? bufs[2] : NULL;
	out[7] = im->verified ? "1" : "0";
}

static void flush_unit(struct export_out *x)
{
	if (!x->pending)
		return;
	fputs(x->units++ ? ",\n" : "\n", stdout);
	json_print(x->pending);
	cJSON_Delete(x->pending);
	x->pending = NULL;
}

static int export_image(const struct db_unit_row *u, const struct db_image_row *im, void *ud)
{
	struct export_out *x = ud;
	const char *uf[N_UNIT_COLUMNS], *imf[N_IMAGE_COLUMNS] = { 0 };
	char ubufs[8][ISO_MAX], ibufs[3][24];
	cJSON *o, *arr;

	if (im)
		image_fields(im, imf, ibufs);
	if (x->format == QA_FORMAT_CSV) {
		unit_fields(u, uf, ubufs);
		for (size_t i = 0; i < N_UNIT_COLUMNS; i++)
			flashctl_csv_field(uf[i], false);
		for (size_t i = 0; i < N_IMAGE_COLUMNS; i++)
			flashctl_csv_field(im ? imf[i] : NULL, false);
		if (!x->ids || x->ids_unit != u->id) {
			free(x->ids);
			x->ids = NULL;
			if (identities_text(x->src, u, &x->ids, x->err) < 0)
				return -ENOMEM;
			x->ids_unit = u->id;
		}
		flashctl_csv_field(x->ids, true);
		return ferror(stdout) ? -EIO : 0;
	}
	if (!x->pending || x->unit_id != u->id) {
		flush_unit(x);
		x->pending = unit_json(u);
		x->unit_id = u->id;
		if (!x->pending || !cJSON_AddArrayToObject(x->pending, "images") ||
		    add_identities_json(x->pending, x->src, u, x->err) < 0)
			return -ENOMEM;
	}
	if (!im)
		return 0;
	arr = cJSON_GetObjectItem(x->pending, "images");
	o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	cJSON_AddItemToArray(arr, o);
	for (size_t i = 0; i < N_IMAGE_COLUMNS; i++) {
		const char *k = image_columns[i] + (strncmp(image_columns[i], "image_", 6) ? 0 : 6);

		if (!imf[i])
			cJSON_AddNullToObject(o, k);
		else if (!strcmp(k, "size"))
			cJSON_AddNumberToObject(o, k, (double)im->size);
		else if (!strcmp(k, "verified"))
			cJSON_AddBoolToObject(o, k, im->verified);
		else
			cJSON_AddStringToObject(o, k, imf[i]);
	}
	return ferror(stdout) ? -EIO : 0;
}

static int export_units_images(struct qa_opts *o)
{
	_cleanup_src_ struct qa_src src = { 0 };
	struct err e = { 0 };
	struct export_out x = { .format = o->format, .err = &e };
	int rc;

	rc = open_src(o, &src);
	if (rc)
		return rc;
	x.src = &src;
	if (o->format == QA_FORMAT_CSV) {
		for (size_t i = 0; i < N_UNIT_COLUMNS + N_IMAGE_COLUMNS; i++)
			flashctl_csv_field(i < N_UNIT_COLUMNS ? unit_columns[i]
							      : image_columns[i - N_UNIT_COLUMNS],
					   false);
		flashctl_csv_field("identities", true);
	} else
		putchar('[');
	rc = src.ops->units_images(src.h, &o->filter, export_image, &x, &e);
	if (o->format == QA_FORMAT_JSON) {
		flush_unit(&x);
		fputs(x.units ? "\n]\n" : "]\n", stdout);
	}
	cJSON_Delete(x.pending);
	free(x.ids);
	if (rc < 0) {
		fflush(stdout);
		fprintf(stderr, "flashctl export: %s\n", e.msg[0] ? e.msg : strerror(-rc));
		return FLASHCTL_EXIT_ERROR;
	}
	return finish_output(FLASHCTL_EXIT_OK);
}

static int qa_export(struct qa_opts o, int argc, char **argv)
{
	int rc;

	o.format = QA_FORMAT_CSV;

	if ((rc = parse_opts(&o, OPT_FILTER | OPT_IMAGES, argc, argv)) >= 0 ||
	    (rc = no_operands(&o, argc, argv)) >= 0)
		return rc;
	if (o.format == QA_FORMAT_TABLE)
		return usage_err(&o, "invalid format '%s' (expected csv or json)", "table");
	/* JSON always nests the images; CSV has one row per image on request. */
	if (o.images || o.format == QA_FORMAT_JSON)
		return export_units_images(&o);
	return list_units(&o, false, true);
}

/* show: text goes out as rows arrive; JSON is built whole (one unit is small). */
struct show_out {
	enum qa_format format;
	int stages, images;
	cJSON *root, *jstages, *jimages, *jidentities;
	struct qa_src *src;
	struct err *err;
};

static cJSON *identity_json(const struct db_identity_row *r)
{
	cJSON *j = cJSON_CreateObject();

	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "pool", r->pool);
	cJSON_AddStringToObject(j, "value", r->value);
	r->file ? cJSON_AddStringToObject(j, "file", r->file) : cJSON_AddNullToObject(j, "file");
	r->file_sha256 ? cJSON_AddStringToObject(j, "file_sha256", r->file_sha256)
		       : cJSON_AddNullToObject(j, "file_sha256");
	cJSON_AddStringToObject(j, "state", r->state);
	cJSON_AddBoolToObject(j, "device_written", r->device_written);
	return j;
}

/* One identity of the unit shown: a row of the "identities" table, or JSON. */
static int show_identity(const struct db_identity_row *r, void *ud)
{
	struct show_out *s = ud;
	cJSON *j;

	if (s->format == QA_FORMAT_JSON) {
		j = identity_json(r);
		if (!j)
			return -ENOMEM;
		cJSON_AddItemToArray(s->jidentities, j);
		return 0;
	}
	printf("  %-16s  %-24s  %-9s  ", r->pool, r->value, r->state);
	if (r->file)
		printf("%-7s  %s  %s\n", r->device_written ? "yes" : "no", r->file,
		       dash(r->file_sha256));
	else
		printf("%s\n", r->device_written ? "yes" : "no");
	return 0;
}

/* Between the unit's fields and its stages, from the same read snapshot. */
static int show_identities(struct show_out *s, const struct db_unit_row *unit)
{
	int n;

	if (s->format == QA_FORMAT_JSON) {
		s->jidentities = cJSON_AddArrayToObject(s->root, "identities");
		if (!s->jidentities)
			return -ENOMEM;
	} else {
		n = s->src->ops->unit_identities(s->src->h, unit, NULL, NULL, s->err);
		if (n <= 0)
			return n;
		printf("identities\n  %-16s  %-24s  %-9s  %-7s  %s\n", "POOL", "VALUE", "STATE",
		       "WRITTEN", "FILE  SHA256");
	}
	n = s->src->ops->unit_identities(s->src->h, unit, show_identity, s, s->err);
	return n < 0 ? n : 0;
}

static int show_unit(const struct db_unit_row *r, void *ud)
{
	struct show_out *s = ud;
	char started[ISO_MAX], finished[ISO_MAX], dur[32];

	if (s->format == QA_FORMAT_JSON) {
		s->root = unit_json(r);
		s->jstages = cJSON_AddArrayToObject(s->root, "stages");
		s->jimages = cJSON_AddArrayToObject(s->root, "images");
		if (!s->root || !s->jstages || !s->jimages)
			return -ENOMEM;
		return show_identities(s, r);
	}
	fmt_duration(r->duration_ms, dur, sizeof(dur));
	printf("unit %" PRId64 "\n", r->id);
	printf("  serial          %s\n", dash(r->serial));
	printf("  result          %s\n", r->result);
	if (r->failed_stage || r->error)
		printf("  failed stage    %s\n  error           %s\n", dash(r->failed_stage),
		       dash(r->error));
	printf("  recipe          %s\n", r->recipe);
	printf("  recipe sha256   %s\n", dash(r->recipe_sha256));
	printf("  station         %s\n", r->station);
	if (r->slot)
		printf("  port            %s (slot %s)\n", r->port, r->slot);
	else
		printf("  port            %s\n", r->port);
	if (r->vid >= 0 && r->pid >= 0)
		printf("  usb id          %04x:%04x\n", r->vid & 0xffff, r->pid & 0xffff);
	printf("  chip uid        %s\n", dash(r->chip_uid));
	printf("  jedec id        %s\n", dash(r->jedec_id));
	printf("  started         %s\n", fmt_iso(r->started_at, started));
	printf("  finished        %s\n", dash(fmt_iso(r->finished_at, finished)));
	printf("  duration        %s\n", dur);
	printf("  flashd          %s\n", dash(r->flashd_version));
	return show_identities(s, r);
}

static int show_stage(const struct db_stage_row *r, void *ud)
{
	struct show_out *s = ud;
	char dur[32], iso[ISO_MAX];
	cJSON *j;

	if (s->format == QA_FORMAT_JSON) {
		j = cJSON_CreateObject();
		if (!j)
			return -ENOMEM;
		cJSON_AddItemToArray(s->jstages, j);
		cJSON_AddNumberToObject(j, "idx", r->idx);
		cJSON_AddStringToObject(j, "name", r->name);
		cJSON_AddStringToObject(j, "result", r->result);
		if (r->error)
			cJSON_AddStringToObject(j, "error", r->error);
		else
			cJSON_AddNullToObject(j, "error");
		cJSON_AddStringToObject(j, "started_at", fmt_iso(r->started_at, iso));
		if (r->duration_ms >= 0)
			cJSON_AddNumberToObject(j, "duration_ms", (double)r->duration_ms);
		else
			cJSON_AddNullToObject(j, "duration_ms");
		return 0;
	}
	if (!s->stages++)
		printf("stages\n  %3s  %-16s  %-11s  %8s  %s\n", "#", "NAME", "RESULT", "DURATION",
		       "ERROR");
	fmt_duration(r->duration_ms, dur, sizeof(dur));
	printf("  %3d  %-16s  %-11s  %8s  %s\n", r->idx, r->name, r->result, dur, dash(r->error));
	return 0;
}

static int show_image(const struct db_image_row *r, void *ud)
{
	struct show_out *s = ud;
	char host[16] = "-", dev[16] = "-", size[32] = "-";
	cJSON *j;

	if (r->has_host_crc32)
		snprintf(host, sizeof(host), "%08" PRIx32, r->host_crc32);
	if (r->has_device_crc32)
		snprintf(dev, sizeof(dev), "%08" PRIx32, r->device_crc32);
	if (r->size >= 0)
		snprintf(size, sizeof(size), "%" PRId64, r->size);

	if (s->format == QA_FORMAT_JSON) {
		j = cJSON_CreateObject();
		if (!j)
			return -ENOMEM;
		cJSON_AddItemToArray(s->jimages, j);
		cJSON_AddStringToObject(j, "stage", r->stage);
		r->target ? cJSON_AddStringToObject(j, "target", r->target)
			  : cJSON_AddNullToObject(j, "target");
		cJSON_AddStringToObject(j, "file", r->file);
		r->size >= 0 ? cJSON_AddNumberToObject(j, "size", (double)r->size)
			     : cJSON_AddNullToObject(j, "size");
		r->sha256 ? cJSON_AddStringToObject(j, "sha256", r->sha256)
			  : cJSON_AddNullToObject(j, "sha256");
		r->has_host_crc32 ? cJSON_AddStringToObject(j, "host_crc32", host)
				  : cJSON_AddNullToObject(j, "host_crc32");
		r->has_device_crc32 ? cJSON_AddStringToObject(j, "device_crc32", dev)
				    : cJSON_AddNullToObject(j, "device_crc32");
		cJSON_AddBoolToObject(j, "verified", r->verified);
		return 0;
	}
	if (!s->images++)
		printf("images\n  %-16s  %-12s  %-24s  %10s  %-8s  %-8s  %-8s  %s\n", "STAGE",
		       "TARGET", "FILE", "SIZE", "HOST CRC", "DEV CRC", "VERIFIED", "SHA256");
	printf("  %-16s  %-12s  %-24s  %10s  %-8s  %-8s  %-8s  %s\n", r->stage, dash(r->target),
	       r->file, size, host, dev, r->verified ? "yes" : "NO", dash(r->sha256));
	return 0;
}

static int qa_show(struct qa_opts o, int argc, char **argv)
{
	_cleanup_src_ struct qa_src src = { 0 };
	struct show_out s = { 0 };
	struct err e = { 0 };
	int64_t id;
	int rc;

	if ((rc = parse_opts(&o, OPT_SERIAL_FLAG, argc, argv)) >= 0)
		return rc;
	if (optind != argc - 1)
		return usage_err(&o, "%s",
				 optind == argc ? "needs a unit id or serial"
						: "takes one unit id or serial");
	if (o.format == QA_FORMAT_CSV)
		return usage_err(&o, "invalid format '%s' (expected text or json)", "csv");
	s.format = o.format;

	rc = open_src(&o, &src);
	if (rc)
		return rc;
	s.src = &src;
	s.err = &e;
	rc = src.ops->find_unit(src.h, argv[optind], o.by_serial, &id, &e);
	if (rc >= 0)
		rc = src.ops->unit(src.h, id, show_unit, show_stage, show_image, &s, &e);
	if (rc < 0) {
		cJSON_Delete(s.root);
		fprintf(stderr, "flashctl show: %s\n", e.msg[0] ? e.msg : strerror(-rc));
		return FLASHCTL_EXIT_ERROR;
	}
	if (s.format == QA_FORMAT_JSON) {
		char *t = cJSON_Print(s.root);

		cJSON_Delete(s.root);
		if (!t) {
			fprintf(stderr, "flashctl show: out of memory\n");
			return FLASHCTL_EXIT_ERROR;
		}
		puts(t);
		free(t);
	} else {
		if (!s.stages)
			printf("stages\n  (none recorded)\n");
		if (!s.images)
			printf("images\n  (none recorded)\n");
	}
	return finish_output(FLASHCTL_EXIT_OK);
}

struct stats_out {
	enum qa_format format;
	const char *by;
	int rows;
};

static int print_stats(const struct db_stats_row *r, void *ud)
{
	struct stats_out *s = ud;
	char yield[16] = "-", mean[32] = "-", p95[32] = "-";
	cJSON *j;

	if (!isnan(r->yield))
		snprintf(yield, sizeof(yield), "%.1f%%", 100.0 * r->yield);
	if (r->n_timed) {
		fmt_duration((int64_t)llround(r->mean_ms), mean, sizeof(mean));
		fmt_duration(r->p95_ms, p95, sizeof(p95));
	}
	switch (s->format) {
	case QA_FORMAT_TABLE:
		printf("%-16s  %7" PRId64 "  %7" PRId64 "  %7" PRId64 "  %7" PRId64 "  %7" PRId64
		       "  %7s  %8s  %8s\n",
		       r->key, r->units, r->pass, r->fail, r->interrupted, r->running, yield, mean,
		       p95);
		break;
	case QA_FORMAT_CSV:
		flashctl_csv_field(r->key, false);
		printf("%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",", r->units,
		       r->pass, r->fail, r->interrupted, r->running);
		if (!isnan(r->yield))
			printf("%.4f", r->yield);
		putchar(',');
		if (r->n_timed)
			printf("%.0f,%" PRId64, r->mean_ms, r->p95_ms);
		else
			putchar(',');
		putchar('\n');
		break;
	case QA_FORMAT_JSON:
		j = cJSON_CreateObject();
		if (!j)
			return -ENOMEM;
		cJSON_AddStringToObject(j, s->by, r->key);
		cJSON_AddNumberToObject(j, "units", (double)r->units);
		cJSON_AddNumberToObject(j, "pass", (double)r->pass);
		cJSON_AddNumberToObject(j, "fail", (double)r->fail);
		cJSON_AddNumberToObject(j, "interrupted", (double)r->interrupted);
		cJSON_AddNumberToObject(j, "running", (double)r->running);
		isnan(r->yield) ? cJSON_AddNullToObject(j, "yield")
				: cJSON_AddNumberToObject(j, "yield", round(r->yield * 1e4) / 1e4);
		r->n_timed ? cJSON_AddNumberToObject(j, "mean_ms", round(r->mean_ms))
			   : cJSON_AddNullToObject(j, "mean_ms");
		r->n_timed ? cJSON_AddNumberToObject(j, "p95_ms", (double)r->p95_ms)
			   : cJSON_AddNullToObject(j, "p95_ms");
		fputs(s->rows ? ",\n" : "\n", stdout);
		json_print(j);
		cJSON_Delete(j);
		break;
	}
	s->rows++;
	return ferror(stdout) ? -EIO : 0;
}

static int qa_stats(struct qa_opts o, int argc, char **argv)
{
	_cleanup_src_ struct qa_src src = { 0 };
	struct stats_out s = { 0 };
	struct err e = { 0 };
	int rc;

	o.by = DB_STATS_BY_RECIPE;
	if ((rc = parse_opts(&o, OPT_FILTER | OPT_BY, argc, argv)) >= 0 ||
	    (rc = no_operands(&o, argc, argv)) >= 0)
		return rc;
	s.format = o.format;
	s.by = db_stats_by_name(o.by);
	rc = open_src(&o, &src);
	if (rc)
		return rc;

	switch (o.format) {
	case QA_FORMAT_TABLE:
		printf("%-16s  %7s  %7s  %7s  %7s  %7s  %7s  %8s  %8s\n", db_stats_by_name(o.by),
		       "UNITS", "PASS", "FAIL", "INTR", "RUNNING", "YIELD", "MEAN", "P95");
		break;
	case QA_FORMAT_CSV:
		printf("%s,units,pass,fail,interrupted,running,yield,mean_ms,p95_ms\n",
		       db_stats_by_name(o.by));
		break;
	case QA_FORMAT_JSON:
		putchar('[');
		break;
	}
	rc = src.ops->stats(src.h, o.by, &o.filter, print_stats, &s, &e);
	if (o.format == QA_FORMAT_JSON)
		fputs(s.rows ? "\n]\n" : "]\n", stdout);
	if (rc < 0) {
		fflush(stdout);
		fprintf(stderr, "flashctl stats: %s\n", e.msg[0] ? e.msg : strerror(-rc));
		return FLASHCTL_EXIT_ERROR;
	}
	return finish_output(FLASHCTL_EXIT_OK);
}

/* The verbs, by name: the station's (flashctl VERB) and the fleet's (flashctl fleet VERB). */
static const struct {
	const char *name;
	int (*fn)(struct qa_opts o, int argc, char **argv);
} qa_verbs[] = {
	{ "log", qa_log },
	{ "show", qa_show },
	{ "stats", qa_stats },
	{ "export", qa_export },
};

static int qa_verb(const struct flashctl_source_ops *ops, const char *where, const char *cmd,
		   int argc, char **argv)
{
	struct qa_opts o = { .cmd = cmd, .db_path = where, .ops = ops };
	const char *verb = strrchr(cmd, ' ') ? strrchr(cmd, ' ') + 1 : cmd;

	for (size_t i = 0; i < sizeof(qa_verbs) / sizeof(qa_verbs[0]); i++)
		if (strcmp(verb, qa_verbs[i].name) == 0)
			return qa_verbs[i].fn(o, argc, argv);
	fprintf(stderr, "flashctl: unknown command '%s'\n", cmd);
	return FLASHCTL_EXIT_USAGE;
}

int flashctl_cmd_log(const struct flashctl *ctl, int argc, char **argv)
{
	return qa_verb(&sqlite_source, ctl->db_path, "log", argc, argv);
}

int flashctl_cmd_show(const struct flashctl *ctl, int argc, char **argv)
{
	return qa_verb(&sqlite_source, ctl->db_path, "show", argc, argv);
}

int flashctl_cmd_stats(const struct flashctl *ctl, int argc, char **argv)
{
	return qa_verb(&sqlite_source, ctl->db_path, "stats", argc, argv);
}

int flashctl_cmd_export(const struct flashctl *ctl, int argc, char **argv)
{
	return qa_verb(&sqlite_source, ctl->db_path, "export", argc, argv);
}

int flashctl_qa_run(const struct flashctl_source_ops *ops, const char *default_where, int argc,
		    char **argv)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "%s %s", ops->name, argv[0]);
	return qa_verb(ops, default_where, cmd, argc, argv);
}

/* parse_time() for flashd-web's since/until parameters: the same syntax as --since. */
int flashctl_parse_time(const char *s, int64_t *ret)
{
	return parse_time(s, ret);
}

/* unit_json() for flashd-web's API: the same object as `log --format json`. */
struct cJSON *flashctl_unit_json(const struct db_unit_row *r)
{
	return unit_json(r);
}
