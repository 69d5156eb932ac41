/*
 * This file implements "flashctl pool": identity pools in the unit
 * database (db/pool.h, issue 18).
 *
 *   pool create NAME --kind K [...]   write: a new pool
 *   pool import NAME FILE [--files|--csv]   write: values of a list pool
 *   pool list|status [NAME] [--json]  read: pools and their counts
 *   pool export NAME [--format csv|json]   read: every issued value
 *   pool audit                        read: exit 1 unless every value is in one state
 *
 * Writing opens the database directly, read-write, as flashd does: SQLite
 * in WAL mode lets it run beside the daemon (both wait up to the busy
 * timeout for the other's short transactions).  Only a user who may write
 * the file (flashd's user, root) manages pools; anyone else gets a message
 * saying so.  Reading opens it read-only, as the QA commands do.
 */
#include "daemon/flashctl.h"
#include "db/db.h"
#include "db/pool.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pool_opts {
	const struct flashctl *ctl;
	const char *verb;
	struct db_pool_spec spec;
	const char *first, *last; /* as typed: numbers, or MACs for --kind mac */
	enum db_pool_import_format import;
	bool json, csv_out;
	int nargs;
	char **args;
};

static int usage_err(const struct pool_opts *o, const char *fmt, const char *arg)
{
	fprintf(stderr, "flashctl pool %s: ", o->verb);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(flashctl pool --help for usage)\n");
	return FLASHCTL_EXIT_USAGE;
}

static int open_db(const struct pool_opts *o, bool write, struct db **db)
{
	struct err e = { 0 };
	int rc = db_open(o->ctl->db_path, write ? 0 : DB_OPEN_READONLY, db, &e);

	if (rc == -EACCES && write)
		fprintf(stderr,
			"flashctl pool %s: %s\n(pool management writes the database: run it as flashd's user or root)\n",
			o->verb, e.msg);
	else if (rc < 0)
		fprintf(stderr, "flashctl pool %s: %s\n", o->verb, e.msg);
	return rc < 0 ? FLASHCTL_EXIT_ERROR : FLASHCTL_EXIT_OK;
}

static int fail(const struct pool_opts *o, const struct err *e)
{
	fprintf(stderr, "flashctl pool %s: %s\n", o->verb, e->msg);
	return FLASHCTL_EXIT_ERROR;
}

static int finish_output(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "flashctl: write error on standard output\n");
		return FLASHCTL_EXIT_ERROR;
	}
	return rc;
}

/* ---- options ---- */

static int parse_number(const char *s, int64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 0);
	return errno || !*s || *end || *v < 0 ? -EINVAL : 0;
}

enum {
	OPT_KIND = 256,
	OPT_FIRST,
	OPT_LAST,
	OPT_PER_UNIT,
	OPT_POLICY,
	OPT_LOW_WATER,
	OPT_STATION,
	OPT_FILES,
	OPT_CSV,
	OPT_JSON,
	OPT_FORMAT
};

static const struct option long_opts[] = {
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "first", required_argument, NULL, OPT_FIRST },
	{ "last", required_argument, NULL, OPT_LAST },
	{ "per-unit", required_argument, NULL, OPT_PER_UNIT },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "low-water", required_argument, NULL, OPT_LOW_WATER },
	{ "station", required_argument, NULL, OPT_STATION },
	{ "files", no_argument, NULL, OPT_FILES },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "json", no_argument, NULL, OPT_JSON },
	{ 0 },
};

static int parse_opt(struct pool_opts *o, int c, const char *arg)
{
	int64_t v;

	switch (c) {
	case OPT_KIND:
		o->spec.kind = db_pool_kind_from_name(arg);
		return o->spec.kind < 0
			       ? usage_err(o, "invalid kind '%s' (counter, mac or list)", arg)
			       : 0;
	case OPT_FORMAT:
		/* A counter's value format for create; the output format for export. */
		if (strcmp(o->verb, "export") != 0) {
			o->spec.format = arg;
			return 0;
		}
		if (strcmp(arg, "csv") && strcmp(arg, "json"))
			return usage_err(o, "invalid format '%s' (expected csv or json)", arg);
		o->json = strcmp(arg, "json") == 0;
		return 0;
	case OPT_FIRST:
		o->first = arg;
		return 0;
	case OPT_LAST:
		o->last = arg;
		return 0;
	case OPT_PER_UNIT:
		if (parse_number(arg, &v) < 0 || v < 1 || v > 64)
			return usage_err(o, "invalid --per-unit '%s' (1..64)", arg);
		o->spec.per_unit = (unsigned)v;
		return 0;
	case OPT_POLICY:
		o->spec.policy = db_pool_policy_from_name(arg);
		return o->spec.policy < 0 ? usage_err(o, "invalid policy '%s' (burn or reuse)", arg)
					  : 0;
	case OPT_LOW_WATER:
		if (parse_number(arg, &o->spec.low_water) < 0)
			return usage_err(o, "invalid --low-water '%s'", arg);
		return 0;
	case OPT_STATION:
		o->spec.station = arg;
		return 0;
	case OPT_FILES:
		o->import = DB_POOL_IMPORT_FILES;
		return 0;
	case OPT_CSV:
		o->import = DB_POOL_IMPORT_CSV;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	}
	return usage_err(o, "%s", "unknown option");
}

static int parse_opts(struct pool_opts *o, int argc, char **argv)
{
	int c, rc;

	o->spec.kind = _DB_POOL_KIND_INVALID;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return usage_err(o, "bad option '%s'", argv[optind - 1]);
		rc = parse_opt(o, c, optarg);
		if (rc)
			return rc;
	}
	o->nargs = argc - optind;
	o->args = argv + optind;
	return 0;
}

/* ---- create ---- */

static int range_end(const struct pool_opts *o, const char *s, const char *what, int64_t *v)
{
	if (!s)
		return usage_err(o, "%s is required for counter and mac pools", what);
	if (o->spec.kind == DB_POOL_MAC ? db_pool_parse_mac(s, v) < 0 : parse_number(s, v) < 0)
		return usage_err(o,
				 o->spec.kind == DB_POOL_MAC
					 ? "invalid MAC address '%s' (aa:bb:cc:dd:ee:ff)"
					 : "invalid number '%s'",
				 s);
	return 0;
}

static int cmd_create(struct pool_opts *o)
{
	_cleanup_db_ struct db *db = NULL;
	struct err e = { 0 };
	int rc;

	if (o->nargs != 1)
		return usage_err(o, "%s", "needs one pool NAME");
	if (o->spec.kind < 0)
		return usage_err(o, "%s", "--kind counter|mac|list is required");
	o->spec.name = o->args[0];
	if (o->spec.kind != DB_POOL_LIST) {
		if ((rc = range_end(o, o->first, "--first", &o->spec.first)) ||
		    (rc = range_end(o, o->last, "--last", &o->spec.last)))
			return rc;
	} else if (o->first || o->last) {
		return usage_err(o, "%s", "a list pool has no --first/--last: import its values");
	}
	if (open_db(o, true, &db))
		return FLASHCTL_EXIT_ERROR;
	if (db_pool_create(db, &o->spec, &e) < 0)
		return fail(o, &e);
	printf("pool '%s' created\n", o->spec.name);
	return finish_output(FLASHCTL_EXIT_OK);
}

/* ---- import ---- */

static int cmd_import(struct pool_opts *o)
{
	_cleanup_db_ struct db *db = NULL;
	struct err e = { 0 };
	int n;

	if (o->nargs != 2)
		return usage_err(o, "%s", "needs a pool NAME and a FILE");
	if (open_db(o, true, &db))
		return FLASHCTL_EXIT_ERROR;
	n = db_pool_import(db, o->args[0], o->args[1], o->import, &e);
	if (n < 0)
		return fail(o, &e);
	printf("%d values imported into pool '%s'\n", n, o->args[0]);
	return finish_output(FLASHCTL_EXIT_OK);
}

/* ---- list, status ---- */

static cJSON *pool_json(const struct db_pool_row *r)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "name", r->name);
	cJSON_AddStringToObject(j, "kind", r->kind);
	cJSON_AddStringToObject(j, "policy", r->policy);
	if (r->format)
		cJSON_AddStringToObject(j, "format", r->format);
	if (r->station)
		cJSON_AddStringToObject(j, "station", r->station);
	cJSON_AddNumberToObject(j, "per_unit", r->per_unit);
	cJSON_AddNumberToObject(j, "total", (double)r->total);
	cJSON_AddNumberToObject(j, "free", (double)r->free);
	cJSON_AddNumberToObject(j, "allocated", (double)r->allocated);
	cJSON_AddNumberToObject(j, "used", (double)r->used);
	cJSON_AddNumberToObject(j, "burned", (double)r->burned);
	cJSON_AddNumberToObject(j, "units_left", (double)r->units_left);
	cJSON_AddNumberToObject(j, "low_water", (double)r->low_water);
	cJSON_AddBoolToObject(j, "low", r->low);
	if (r->blocks)
		cJSON_AddNumberToObject(j, "blocks", (double)r->blocks);
	return j;
}

static void range_text(const struct db_pool_row *r, char *buf, size_t n)
{
	char a[18], b[18];

	if (strcmp(r->kind, "mac") == 0) {
		db_pool_mac_text(r->first, a);
		db_pool_mac_text(r->last, b);
		snprintf(buf, n, "%s..%s", a, b);
	} else if (r->first >= 0) {
		snprintf(buf, n, "%" PRId64 "..%" PRId64, r->first, r->last);
	} else {
		snprintf(buf, n, "-");
	}
}

static int print_row(const struct db_pool_row *r, void *ud)
{
	char range[48];

	(void)ud;
	range_text(r, range, sizeof(range));
	printf("%-16s %-7s %-6s %-12s %-35s %9" PRId64 " %9" PRId64 " %9" PRId64 " %9" PRId64
	       " %10" PRId64 "%s\n",
	       r->name, r->kind, r->policy, r->station ? r->station : "-", range, r->free,
	       r->allocated, r->used, r->burned, r->units_left, r->low ? "  LOW" : "");
	return 0;
}

static int print_block(const struct db_pool_block_row *b, void *ud)
{
	(void)ud;
	printf("    %" PRId64 "..%" PRId64 "  %" PRId64 " issued%s%s\n", b->first, b->last,
	       b->issued, b->lease ? ", lease " : "", b->lease ? b->lease : "");
	return 0;
}

/* A pool of several blocks (leased from a central pool): each, in the order it issues. */
static int print_blocks(struct db *db, const struct db_pool_row *r)
{
	struct err e = { 0 };
	int rc;

	printf("  blocks:     %" PRId64 "\n", r->blocks);
	rc = db_pool_blocks(db, r->name, print_block, NULL, &e);
	if (rc < 0)
		fprintf(stderr, "flashctl pool status: %s\n", e.msg);
	return rc < 0 ? rc : 0;
}

static int print_status(const struct db_pool_row *r, void *ud)
{
	char range[48];

	(void)ud;
	range_text(r, range, sizeof(range));
	printf("pool %s\n  kind:       %s%s%s\n  range:      %s\n", r->name, r->kind,
	       r->format ? ", format " : "", r->format ? r->format : "", range);
	printf("  policy:     %s on fail or interrupt; %u value%s a unit\n", r->policy, r->per_unit,
	       r->per_unit == 1 ? "" : "s");
	printf("  station:    %s\n", r->station ? r->station : "any");
	printf("  values:     %" PRId64 " total, %" PRId64 " free, %" PRId64 " allocated, %" PRId64
	       " used, %" PRId64 " burned\n",
	       r->total, r->free, r->allocated, r->used, r->burned);
	printf("  units left: %" PRId64 "%s\n", r->units_left,
	       r->low ? "  LOW: below the low-water mark" : "");
	if (r->low_water)
		printf("  low-water:  %" PRId64 " units\n", r->low_water);
	if (r->blocks > 1)
		return print_blocks(ud, r);
	return 0;
}

static int add_json(const struct db_pool_row *r, void *ud)
{
	cJSON_AddItemToArray(ud, pool_json(r));
	return 0;
}

static int cmd_list(struct pool_opts *o)
{
	_cleanup_db_ struct db *db = NULL;
	bool status = strcmp(o->verb, "status") == 0;
	const char *name = o->nargs ? o->args[0] : NULL;
	cJSON *arr = NULL;
	struct err e = { 0 };
	int n;

	if (o->nargs > 1)
		return usage_err(o, "%s", "takes at most one pool NAME");
	if (open_db(o, false, &db))
		return FLASHCTL_EXIT_ERROR;
	if (o->json) {
		arr = cJSON_CreateArray();
		n = db_pool_list(db, name, add_json, arr, &e);
		if (n >= 0) {
			char *s = cJSON_PrintUnformatted(arr);

			puts(s ? s : "[]");
			free(s);
		}
		cJSON_Delete(arr);
	} else {
		if (!status)
			printf("%-16s %-7s %-6s %-12s %-35s %9s %9s %9s %9s %10s\n", "POOL", "KIND",
			       "POLICY", "STATION", "RANGE", "FREE", "ALLOCATED", "USED", "BURNED",
			       "UNITS-LEFT");
		n = db_pool_list(db, name, status ? print_status : print_row, db, &e);
	}
	if (n < 0)
		return fail(o, &e);
	return finish_output(FLASHCTL_EXIT_OK);
}

/* ---- export ---- */

static int export_value(const struct db_pool_value_row *r, void *ud)
{
	char seq[24], unit[24];

	snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
	snprintf(unit, sizeof(unit), "%" PRId64, r->unit_id);
	if (ud) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "pool", r->pool);
		cJSON_AddNumberToObject(j, "seq", (double)r->seq);
		cJSON_AddStringToObject(j, "value", r->value);
		if (r->file)
			cJSON_AddStringToObject(j, "file", r->file);
		if (r->file_sha256)
			cJSON_AddStringToObject(j, "file_sha256", r->file_sha256);
		cJSON_AddStringToObject(j, "state", r->state);
		if (r->unit_id >= 0)
			cJSON_AddNumberToObject(j, "unit_id", (double)r->unit_id);
		cJSON_AddItemToArray(ud, j);
		return 0;
	}
	flashctl_csv_field(r->pool, false);
	flashctl_csv_field(seq, false);
	flashctl_csv_field(r->value, false);
	flashctl_csv_field(r->file, false);
	flashctl_csv_field(r->file_sha256, false);
	flashctl_csv_field(r->state, false);
	flashctl_csv_field(r->unit_id >= 0 ? unit : NULL, true);
	return 0;
}

static int cmd_export(struct pool_opts *o)
{
	_cleanup_db_ struct db *db = NULL;
	cJSON *arr = NULL;
	struct err e = { 0 };
	int n;

	if (o->nargs != 1)
		return usage_err(o, "%s", "needs one pool NAME");
	if (open_db(o, false, &db))
		return FLASHCTL_EXIT_ERROR;
	if (o->json)
		arr = cJSON_CreateArray();
	else
		printf("pool,seq,value,file,file_sha256,state,unit_id\n");
	n = db_pool_values(db, o->args[0], export_value, arr, &e);
	if (n >= 0 && arr) {
		char *s = cJSON_PrintUnformatted(arr);

		puts(s ? s : "[]");
		free(s);
	}
	cJSON_Delete(arr);
	if (n < 0)
		return fail(o, &e);
	return finish_output(FLASHCTL_EXIT_OK);
}

/* ---- audit ---- */

static int print_problem(const struct db_pool_problem *p, void *ud)
{
	(void)ud;
	printf("pool %s: value %s: %s\n", p->pool ? p->pool : "?", p->value ? p->value : "?",
	       p->what ? p->what : "?");
	return 0;
}

static int cmd_audit(struct pool_opts *o)
{
	_cleanup_db_ struct db *db = NULL;
	struct err e = { 0 };
	int n;

	if (o->nargs)
		return usage_err(o, "%s", "takes no operands");
	if (open_db(o, false, &db))
		return FLASHCTL_EXIT_ERROR;
	n = db_pool_audit(db, print_problem, NULL, &e);
	if (n < 0)
		return fail(o, &e);
	if (n)
		printf("audit: %d problem%s\n", n, n == 1 ? "" : "s");
	else
		printf("audit: clean (every value in exactly one state, none assigned twice)\n");
	return finish_output(n ? FLASHCTL_EXIT_ERROR : FLASHCTL_EXIT_OK);
}

static const struct {
	const char *verb;
	int (*fn)(struct pool_opts *o);
} verbs[] = {
	{ "create", cmd_create }, { "import", cmd_import }, { "list", cmd_list },
	{ "status", cmd_list },	  { "export", cmd_export }, { "audit", cmd_audit },
};

int flashctl_cmd_pool(const struct flashctl *ctl, int argc, char **argv)
{
	struct pool_opts o = { .ctl = ctl, .verb = "" };
	int rc;

	if (argc < 2) {
		fprintf(stderr,
			"flashctl pool: needs create, list, status, import, export or audit\n");
		return FLASHCTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].verb) != 0)
			continue;
		o.verb = verbs[i].verb;
		rc = parse_opts(&o, argc - 1, argv + 1);
		return rc ? rc : verbs[i].fn(&o);
	}
	fprintf(stderr, "flashctl pool: unknown subcommand '%s'\n", argv[1]);
	return FLASHCTL_EXIT_USAGE;
}
