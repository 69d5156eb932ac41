/*
 * This file implements "flashctl fleet pool": identity pools that live in
 * the fleet's PostgreSQL (sync/schema/003-pools.sql) and lease blocks to
 * stations (issue 20 item 4).
 *
 *   fleet pool create NAME --kind counter|mac --first N --last N --block N [...]
 *   fleet pool lease NAME --station S [--request KEY]   (flashctl --db STATION.db)
 *   fleet pool status NAME
 *
 * A lease is one PostgreSQL transaction (flashd.pool_lease(): the pool's
 * row lock serialises leases, an exclusion constraint keeps any two
 * leases of a pool apart); then the block is added to the station
 * database's pool of the same name (created from the central pool's
 * settings on the first lease), where flashd assigns from it offline.
 * The request key makes a retry safe: by default it is the station
 * database's uuid, the pool and the number of blocks it has leased so far,
 * so a lease whose block never reached the station database (crash, lost
 * connection) returns that same block when run again, and one that did
 * asks for the next.  Linked into flashctl only: flashd never links libpq.
 */
#include "daemon/flashctl-source.h"
#include "daemon/flashctl.h"
#include "db/db.h"
#include "db/outbox.h"
#include "db/pool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fpool {
	const struct flashctl *ctl;
	const char *verb;
	const char *url, *station, *request;
	const char *first, *last; /* as typed: numbers, or MACs for --kind mac */
	struct db_pool_spec spec;
	int64_t block;
	int nargs;
	char **args;
};

static int usage_err(const struct fpool *o, const char *fmt, const char *arg)
{
	fprintf(stderr, "flashctl fleet pool %s: ", o->verb);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(flashctl fleet --help for usage)\n");
	return FLASHCTL_EXIT_USAGE;
}

static int fail(const struct fpool *o, const char *msg)
{
	fprintf(stderr, "flashctl fleet pool %s: %.*s\n", o->verb, (int)strcspn(msg, "\n"), msg);
	return FLASHCTL_EXIT_ERROR;
}

static int parse_number(const char *s, int64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 0);
	return errno || !*s || *end || *v < 0 ? -EINVAL : 0;
}

/* ---- options ---- */

enum {
	OPT_KIND = 256,
	OPT_FORMAT,
	OPT_FIRST,
	OPT_LAST,
	OPT_PER_UNIT,
	OPT_POLICY,
	OPT_LOW_WATER,
	OPT_BLOCK,
	OPT_STATION,
	OPT_REQUEST,
	OPT_URL,
};

static const struct option long_opts[] = {
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "first", required_argument, NULL, OPT_FIRST },
	{ "last", required_argument, NULL, OPT_LAST },
	{ "per-unit", required_argument, NULL, OPT_PER_UNIT },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "low-water", required_argument, NULL, OPT_LOW_WATER },
	{ "block", required_argument, NULL, OPT_BLOCK },
	{ "station", required_argument, NULL, OPT_STATION },
	{ "request", required_argument, NULL, OPT_REQUEST },
	{ "db-url", required_argument, NULL, OPT_URL },
	{ 0 },
};

static int parse_opt(struct fpool *o, int c, const char *arg)
{
	int64_t v;

	switch (c) {
	case OPT_KIND:
		o->spec.kind = db_pool_kind_from_name(arg);
		return o->spec.kind != DB_POOL_COUNTER && o->spec.kind != DB_POOL_MAC
			       ? usage_err(o, "invalid kind '%s' (counter or mac)", arg)
			       : 0;
	case OPT_FORMAT:
		o->spec.format = arg;
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
		return parse_number(arg, &o->spec.low_water) < 0
			       ? usage_err(o, "invalid --low-water '%s'", arg)
			       : 0;
	case OPT_BLOCK:
		return parse_number(arg, &o->block) < 0 || o->block < 1
			       ? usage_err(o, "invalid --block '%s' (numbers a lease, >= 1)", arg)
			       : 0;
	case OPT_STATION:
		o->station = arg;
		return 0;
	case OPT_REQUEST:
		o->request = arg;
		return 0;
	case OPT_URL:
		o->url = arg;
		return 0;
	}
	return usage_err(o, "%s", "unknown option");
}

static int parse_opts(struct fpool *o, int argc, char **argv)
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
	if (o->nargs != 1)
		return usage_err(o, "%s", "needs one pool NAME");
	o->spec.name = o->args[0];
	return 0;
}

/* ---- PostgreSQL ---- */

static PGconn *connect_fleet(const struct fpool *o)
{
	const char *url = o->url ? o->url : getenv("FLASHD_FLEET_URL");
	PGconn *pg;

	if (!url || !*url) {
		fail(o, "no fleet database: give --db-url or $FLASHD_FLEET_URL");
		return NULL;
	}
	pg = PQconnectdb(url);
	if (PQstatus(pg) != CONNECTION_OK) {
		/* PQerrorMessage names host and database, never the password. */
		fprintf(stderr, "flashctl fleet pool %s: fleet database: %.*s\n", o->verb,
			(int)strcspn(PQerrorMessage(pg), "\n"), PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* Run sql with n text parameters; NULL (message printed) unless it succeeded. */
static PGresult *run(const struct fpool *o, PGconn *pg, const char *sql, int n,
		     const char *const *params)
{
	PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
	const char *msg;

	if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
		return r;
	/* The server's primary message ("central pool 'x' is exhausted ..."), else libpq's. */
	msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	fail(o, msg ? msg : PQerrorMessage(pg));
	PQclear(r);
	return NULL;
}

/* ---- create ---- */

static int range_end(const struct fpool *o, const char *s, const char *what, int64_t *v)
{
	if (!s)
		return usage_err(o, "%s is required", what);
	if (o->spec.kind == DB_POOL_MAC ? db_pool_parse_mac(s, v) < 0 : parse_number(s, v) < 0)
		return usage_err(o,
				 o->spec.kind == DB_POOL_MAC
					 ? "invalid MAC address '%s' (aa:bb:cc:dd:ee:ff)"
					 : "invalid number '%s'",
				 s);
	return 0;
}

/* rm -r of the scratch directory of check_spec(): the database and its WAL files. */
static void remove_scratch(const char *dir)
{
	static const char *const files[] = { "check.db", "check.db-wal", "check.db-shm" };
	char path[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

/*
 * The checks of a station's pool (format, range, MAC rules) on the central
 * one, by creating it in a scratch database: a pool every station can hold.
 */
static int check_spec(const struct fpool *o)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct db *db = NULL;
	struct err e = { 0 };
	int rc;

	snprintf(dir, sizeof(dir), "%s/flashctl-pool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return fail(o, "cannot make a scratch directory to check the pool");
	snprintf(path, sizeof(path), "%s/check.db", dir);
	rc = db_open(path, DB_OPEN_CREATE, &db, &e);
	if (rc >= 0)
		rc = db_pool_create(db, &o->spec, &e);
	db_close(db);
	remove_scratch(dir);
	return rc < 0 ? fail(o, e.msg) : 0;
}

static int cmd_create(struct fpool *o)
{
	unsigned per_unit = o->spec.per_unit ? o->spec.per_unit : 1;
	char first[24], last[24], pu[16], block[24], low[24];
	const char *params[] = { o->spec.name, NULL,  o->spec.format, first, last,
				 pu,	       block, NULL,	      low };
	PGconn *pg;
	PGresult *r;
	int rc;

	if (o->spec.kind < 0)
		return usage_err(o, "%s", "--kind counter|mac is required");
	if ((rc = range_end(o, o->first, "--first", &o->spec.first)) ||
	    (rc = range_end(o, o->last, "--last", &o->spec.last)))
		return rc;
	if (!o->block || o->block % per_unit)
		return usage_err(o, "%s", "--block N is required, a multiple of --per-unit");
	if (o->station || o->request)
		return usage_err(o, "%s", "--station and --request are options of lease");
	if (check_spec(o))
		return FLASHCTL_EXIT_ERROR;
	snprintf(first, sizeof(first), "%" PRId64, o->spec.first);
	snprintf(last, sizeof(last), "%" PRId64, o->spec.last);
	snprintf(pu, sizeof(pu), "%u", per_unit);
	snprintf(block, sizeof(block), "%" PRId64, o->block);
	snprintf(low, sizeof(low), "%" PRId64, o->spec.low_water);
	params[1] = db_pool_kind_name(o->spec.kind);
	params[7] = db_pool_policy_name(o->spec.policy);
	pg = connect_fleet(o);
	if (!pg)
		return FLASHCTL_EXIT_ERROR;
	r = run(o, pg,
		"INSERT INTO flashd.pools (name, kind, format, first_seq, last_seq, per_unit, "
		"block_size, policy, low_water, next_seq) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $4)",
		9, params);
	PQclear(r);
	PQfinish(pg);
	if (!r)
		return FLASHCTL_EXIT_ERROR;
	printf("central pool '%s' created: blocks of %" PRId64 "\n", o->spec.name, o->block);
	return FLASHCTL_EXIT_OK;
}

/* ---- lease ---- */

struct central {
	struct db_pool_spec spec;
	char kind[16], format[DB_POOL_VALUE_MAX], policy[16];
};

static int load_central(const struct fpool *o, PGconn *pg, struct central *c)
{
	const char *params[] = { o->spec.name };
	PGresult *r = run(o, pg,
			  "SELECT kind, coalesce(format, ''), per_unit, policy, low_water "
			  "FROM flashd.pools WHERE name = $1",
			  1, params);

	if (!r)
		return -EIO;
	if (PQntuples(r) != 1) {
		PQclear(r);
		fprintf(stderr, "flashctl fleet pool %s: no central pool '%s'\n", o->verb,
			o->spec.name);
		return -ENOENT;
	}
	snprintf(c->kind, sizeof(c->kind), "%s", PQgetvalue(r, 0, 0));
	snprintf(c->format, sizeof(c->format), "%s", PQgetvalue(r, 0, 1));
	snprintf(c->policy, sizeof(c->policy), "%s", PQgetvalue(r, 0, 3));
	c->spec = (struct db_pool_spec){
		.name = o->spec.name,
		.kind = db_pool_kind_from_name(c->kind),
		.format = c->format[0] ? c->format : NULL,
		.per_unit = (unsigned)atoi(PQgetvalue(r, 0, 2)),
		.policy = db_pool_policy_from_name(c->policy),
		.low_water = strtoll(PQgetvalue(r, 0, 4), NULL, 10),
		.station = o->station,
	};
	PQclear(r);
	return 0;
}

struct local {
	bool found, same; /* the station has the pool; of the central one's kind and format */
	int64_t leased;	  /* blocks it leased so far */
	const struct central *c;
};

static int local_row(const struct db_pool_row *r, void *ud)
{
	struct local *l = ud;

	l->found = true;
	l->same = strcmp(r->kind, l->c->kind) == 0 &&
		  strcmp(r->format ? r->format : "", l->c->format) == 0 &&
		  r->per_unit == l->c->spec.per_unit;
	return 0;
}

static int count_leased(const struct db_pool_block_row *b, void *ud)
{
	if (b->lease)
		((struct local *)ud)->leased++;
	return 0;
}

/* The station's pool: whether it exists, matches, and how many blocks it leased. */
static int load_local(const struct fpool *o, struct db *db, struct local *l)
{
	struct err e = { 0 };
	int rc = db_pool_list(db, o->spec.name, local_row, l, &e);

	if (rc == -ENOENT)
		return 0;
	if (rc >= 0)
		rc = db_pool_blocks(db, o->spec.name, count_leased, l, &e);
	if (rc < 0)
		return fail(o, e.msg);
	if (!l->same) {
		fprintf(stderr,
			"flashctl fleet pool %s: the station's pool '%s' is not of the central pool's kind, format and values a unit\n",
			o->verb, o->spec.name);
		return FLASHCTL_EXIT_ERROR;
	}
	return 0;
}

/* The default request key: this database, this pool, its next lease (see the top). */
static int default_request(const struct fpool *o, struct db *db, const struct local *l, char *buf,
			   size_t n)
{
	char uuid[DB_UUID_LEN];
	struct err e = { 0 };

	if (db_outbox_station_uuid(db, uuid, &e) < 0)
		return fail(o, e.msg);
	snprintf(buf, n, "%s/%s/%" PRId64, uuid, o->spec.name, l->leased + 1);
	return 0;
}

struct block {
	int64_t first, last;
	bool fresh;
};

/* The central transaction: flashd.pool_lease() commits on its own (autocommit). */
static int lease_central(const struct fpool *o, PGconn *pg, const char *request, struct block *b)
{
	const char *params[] = { o->spec.name, o->station, request };
	PGresult *r = run(
		o, pg, "SELECT lease_first, lease_last, fresh FROM flashd.pool_lease($1, $2, $3)",
		3, params);

	if (!r)
		return -EIO;
	b->first = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	b->last = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	b->fresh = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	PQclear(r);
	return 0;
}

/* Add the block to the station's pool, creating the pool with it on the first lease. */
static int add_local(const struct fpool *o, struct db *db, struct central *c, const struct local *l,
		     const struct block *b, const char *request)
{
	struct err e = { 0 };
	int rc = 0;

	if (!l->found) {
		c->spec.first = b->first;
		c->spec.last = b->last;
		rc = db_pool_create(db, &c->spec, &e);
		/* Made by a lease run at the same time ("pool 'x' exists"): add to it. */
		if (rc == -EEXIST && db_pool_list(db, o->spec.name, NULL, NULL, NULL) == 1) {
			e = (struct err){ 0 };
			rc = 0;
		}
	}
	if (rc >= 0)
		rc = db_pool_add_block(db, o->spec.name, b->first, b->last, request, &e);
	return rc < 0 ? fail(o, e.msg) : 0;
}

static void print_block(const struct fpool *o, const struct central *c, const struct block *b)
{
	char a[18], z[18];

	if (c->spec.kind == DB_POOL_MAC) {
		db_pool_mac_text(b->first, a);
		db_pool_mac_text(b->last, z);
	} else {
		snprintf(a, sizeof(a), "%" PRId64, b->first);
		snprintf(z, sizeof(z), "%" PRId64, b->last);
	}
	printf("pool '%s': block %s..%s %s station '%s'\n", o->spec.name, a, z,
	       b->fresh ? "leased to" : "(leased before) held by", o->station);
}

static int cmd_lease(struct fpool *o)
{
	_cleanup_db_ struct db *db = NULL;
	struct central c = { 0 };
	struct local l = { .c = &c };
	struct block b = { 0 };
	char request[256];
	struct err e = { 0 };
	PGconn *pg;
	int rc;

	if (!o->station || !*o->station)
		return usage_err(o, "%s", "--station NAME is required (the station's name)");
	if (o->spec.kind >= 0 || o->first || o->last || o->block)
		return usage_err(o, "%s", "the pool's settings are the central pool's");
	if (db_open(o->ctl->db_path, 0, &db, &e) < 0)
		return fail(o, e.msg);
	pg = connect_fleet(o);
	if (!pg)
		return FLASHCTL_EXIT_ERROR;
	rc = load_central(o, pg, &c) < 0 ? FLASHCTL_EXIT_ERROR : load_local(o, db, &l);
	if (!rc && !o->request)
		rc = default_request(o, db, &l, request, sizeof(request));
	if (!rc)
		rc = lease_central(o, pg, o->request ? o->request : request, &b) < 0
			     ? FLASHCTL_EXIT_ERROR
			     : 0;
	PQfinish(pg);
	if (!rc)
		rc = add_local(o, db, &c, &l, &b, o->request ? o->request : request);
	if (!rc)
		print_block(o, &c, &b);
	return rc;
}

/* ---- status ---- */

static int cmd_status(struct fpool *o)
{
	const char *params[] = { o->spec.name };
	PGconn *pg = connect_fleet(o);
	PGresult *p = NULL, *s = NULL;

	if (!pg)
		return FLASHCTL_EXIT_ERROR;
	p = run(o, pg,
		"SELECT kind, coalesce(format, '-'), first_seq, last_seq, per_unit, block_size, "
		"policy, last_seq - next_seq + 1 FROM flashd.pools WHERE name = $1",
		1, params);
	if (p && PQntuples(p) == 1)
		s = run(o, pg,
			"SELECT station, blocks, leased, first_seq, last_seq FROM flashd.pool_status "
			"WHERE pool = $1 AND station IS NOT NULL ORDER BY station",
			1, params);
	else if (p)
		fprintf(stderr, "flashctl fleet pool status: no central pool '%s'\n", o->spec.name);
	PQfinish(pg);
	if (!s) {
		PQclear(p);
		return FLASHCTL_EXIT_ERROR;
	}
	printf("pool %s\n  kind:       %s, format %s\n  range:      %s..%s\n", o->spec.name,
	       PQgetvalue(p, 0, 0), PQgetvalue(p, 0, 1), PQgetvalue(p, 0, 2), PQgetvalue(p, 0, 3));
	printf("  blocks of:  %s numbers (%s a unit), policy %s\n", PQgetvalue(p, 0, 5),
	       PQgetvalue(p, 0, 4), PQgetvalue(p, 0, 6));
	printf("  left:       %s numbers not leased\n", PQgetvalue(p, 0, 7));
	printf("  %-20s %6s %12s  %s\n", "STATION", "BLOCKS", "NUMBERS", "LOWEST..HIGHEST");
	for (int i = 0; i < PQntuples(s); i++)
		printf("  %-20s %6s %12s  %s..%s\n", PQgetvalue(s, i, 0), PQgetvalue(s, i, 1),
		       PQgetvalue(s, i, 2), PQgetvalue(s, i, 3), PQgetvalue(s, i, 4));
	PQclear(p);
	PQclear(s);
	return fflush(stdout) == 0 ? FLASHCTL_EXIT_OK : FLASHCTL_EXIT_ERROR;
}

static const struct {
	const char *verb;
	int (*fn)(struct fpool *o);
} verbs[] = {
	{ "create", cmd_create },
	{ "lease", cmd_lease },
	{ "status", cmd_status },
};

int flashctl_cmd_fleet_pool(const struct flashctl *ctl, int argc, char **argv)
{
	struct fpool o = { .ctl = ctl, .verb = "" };
	int rc;

	if (argc < 2) {
		fprintf(stderr, "flashctl fleet pool: needs create, lease or status\n");
		return FLASHCTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].verb) != 0)
			continue;
		o.verb = verbs[i].verb;
		rc = parse_opts(&o, argc - 1, argv + 1);
		return rc ? rc : verbs[i].fn(&o);
	}
	fprintf(stderr, "flashctl fleet pool: unknown subcommand '%s'\n", argv[1]);
	return FLASHCTL_EXIT_USAGE;
}
