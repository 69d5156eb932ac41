/*
 * Tests for db/pool*.c (identity pools, issue 18) against real SQLite
 * files: counter formats and the Luhn digit, MAC ranges, allocation (in
 * order, per unit, all pools or none, exhausted, station blocks), reuse
 * against burn on fail, interrupt and crash recovery, list import with
 * files, the audit on clean and planted-corrupt databases, and many
 * processes allocating from the same pools at once.
 */
#include "db/db.h"
#include "db/pool.h"
#include "db/query.h"
#include "db/units.h"
#include "tests/db/db-test-util.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* 2026-03-02 12:00 UTC: ISO week 10 of 2026. */
#define T_WEEK10 INT64_C(1772452800000)

static const char *sqlf_unit(const char *fmt, long long v)
{
	static char buf[4][512];
	static int i;
	char *p = buf[i++ % 4];

	snprintf(p, 512, fmt, v);
	return p;
}

static struct db *open_db(const char *name, bool create)
{
	struct err e = { 0 };
	struct db *db = NULL;
	int rc = db_open(tpath(name), create ? DB_OPEN_CREATE : 0, &db, &e);

	if (rc < 0)
		TEST_FAIL("db_open: %d %s", rc, e.msg);
	return db;
}

static int64_t unit(struct db *db, const char *port)
{
	struct db_unit_start st = {
		.station = "station-1", .port = port, .recipe = "r", .flashd_version = "test"
	};
	struct err e = { 0 };
	int64_t id = -1;

	if (db_unit_begin(db, &st, &id, &e) < 0)
		TEST_FAIL("db_unit_begin: %s", e.msg);
	return id;
}

static void create(struct db *db, const struct db_pool_spec *sp)
{
	struct err e = { 0 };

	if (db_pool_create(db, sp, &e) < 0)
		TEST_FAIL("db_pool_create %s: %s", sp->name, e.msg);
}

static const struct db_pool_spec serials = {
	.name = "serials",
	.kind = DB_POOL_COUNTER,
	.format = "SN{yy}{ww}{seq:6}{luhn}",
	.first = 1,
	.last = 1000,
};

static const struct db_pool_spec macs = {
	.name = "macs",
	.kind = DB_POOL_MAC,
	.first = INT64_C(0x020000000000),
	.last = INT64_C(0x0200000000ff),
	.per_unit = 2,
};

/* Allocate from pools for unit id; fails the test on error. */
static struct db_identities take(struct db *db, int64_t id, const char *const *pools, size_t n)
{
	struct db_identities ids = { 0 };
	struct err e = { 0 };

	if (db_pool_allocate(db, id, "station-1", pools, n, T_WEEK10, &ids, &e) < 0)
		TEST_FAIL("db_pool_allocate unit %lld: %s", (long long)id, e.msg);
	return ids;
}

static int count_problems(struct db *db)
{
	struct err e = { 0 };
	int n = db_pool_audit(db, NULL, NULL, &e);

	if (n < 0)
		TEST_FAIL("db_pool_audit: %s", e.msg);
	return n;
}

TEST(pool_counter_format_fields_and_luhn)
{
	char buf[DB_POOL_VALUE_MAX];
	struct err e = { 0 };

	/* The textbook Luhn example: 7992739871 takes check digit 3. */
	ASSERT_OK(db_pool_format_counter("{seq:10}{luhn}", 7992739871, T_WEEK10, buf, sizeof(buf),
					 &e));
	ASSERT_STREQ(buf, "79927398713");
	ASSERT_OK(db_pool_format_counter("SN{yy}{ww}{seq:6}{luhn}", 1, T_WEEK10, buf, sizeof(buf),
					 &e));
	ASSERT_STREQ(buf, "SN26100000012");
	ASSERT_OK(db_pool_format_counter("{yyyy}-{seq}", 42, T_WEEK10, buf, sizeof(buf), &e));
	ASSERT_STREQ(buf, "2026-42");

	ASSERT_EQ(db_pool_format_counter("SN{seq:3}", 1000, 0, buf, sizeof(buf), &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "does not fit");
	err_clear(&e);
	ASSERT_EQ(db_pool_format_counter("SN{yy}", 1, 0, buf, sizeof(buf), &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "needs {seq}");
	err_clear(&e);
	ASSERT_EQ(db_pool_format_counter("SN{bogus}{seq}", 1, 0, buf, sizeof(buf), &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "unknown field {bogus}");
}

TEST(pool_mac_text_and_ranges)
{
	struct db *db = open_db("mac.db", true);
	struct err e = { 0 };
	struct db_pool_spec sp = macs;
	char t[18];
	int64_t m;

	ASSERT_OK(db_pool_parse_mac("00:1A:2b:3c:4d:5e", &m));
	ASSERT_EQ(m, INT64_C(0x001a2b3c4d5e));
	db_pool_mac_text(m, t);
	ASSERT_STREQ(t, "00:1a:2b:3c:4d:5e");
	ASSERT_EQ(db_pool_parse_mac("00:1a:2b:3c:4d", &m), -EINVAL);
	ASSERT_EQ(db_pool_parse_mac("00:1a-2b:3c:4d:5e", &m), -EINVAL);

	sp.first = INT64_C(0x010000000000); /* multicast */
	ASSERT_EQ(db_pool_create(db, &sp, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "multicast");
	err_clear(&e);
	sp.first = INT64_C(0x001a2bffff00), sp.last = INT64_C(0x001a2c0000ff); /* two OUIs */
	ASSERT_EQ(db_pool_create(db, &sp, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "one OUI");
	err_clear(&e);
	sp.first = INT64_C(0x001a2b000000), sp.last = INT64_C(0x021a2b0000ff);
	ASSERT_EQ(db_pool_create(db, &sp, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "mixes universal and locally administered");
	db_close(db);
}

TEST(pool_allocate_counter_and_mac_in_order_and_recorded)
{
	struct db *db = open_db("alloc.db", true);
	const char *pools[] = { "serials", "macs" };
	struct db_identities a, b;

	create(db, &serials);
	create(db, &macs);
	a = take(db, unit(db, "1-1"), pools, 2);
	b = take(db, unit(db, "1-2"), pools, 2);
	ASSERT_EQ(a.n, 3);
	ASSERT_STREQ(a.v[0].pool, "serials");
	ASSERT_STREQ(a.v[0].value, "SN26100000012");
	ASSERT_STREQ(a.v[1].value, "02:00:00:00:00:00");
	ASSERT_STREQ(a.v[2].value, "02:00:00:00:00:01");
	ASSERT_STREQ(b.v[0].value, "SN26100000020");
	ASSERT_STREQ(b.v[1].value, "02:00:00:00:00:02");
	ASSERT_STREQ(b.v[2].value, "02:00:00:00:00:03");
	db_identities_clear(&a);
	db_identities_clear(&b);

	const char *p = tpath("alloc.db");
	ASSERT_SQL_TEXT(p,
			"SELECT group_concat(unit_id || '=' || value, ' ') FROM "
			"(SELECT * FROM unit_identities ORDER BY id)",
			"1=SN26100000012 1=02:00:00:00:00:00 1=02:00:00:00:00:01 "
			"2=SN26100000020 2=02:00:00:00:00:02 2=02:00:00:00:00:03");
	ASSERT_SQL_TEXT(p, "SELECT group_concat(state) FROM pool_values",
			"allocated,allocated,"
			"allocated,allocated,allocated,allocated");
	ASSERT_EQ(raw_int(p, "SELECT next_seq FROM pools WHERE name = 'serials'"), 3);
	ASSERT_EQ(count_problems(db), 0);
	db_close(db);
}

TEST(pool_allocate_twice_for_a_unit_or_a_finished_unit_is_refused)
{
	struct db *db = open_db("twice.db", true);
	const char *pools[] = { "serials" };
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int64_t u = unit(db, "1-1");

	create(db, &serials);
	ids = take(db, u, pools, 1);
	db_identities_clear(&ids);
	ASSERT_EQ(db_pool_allocate(db, u, "station-1", pools, 1, 0, &ids, &e), -EEXIST);
	err_clear(&e);
	ASSERT_OK(db_unit_finish(db, u, DB_RESULT_PASS, NULL, NULL, &e));
	ASSERT_EQ(db_pool_allocate(db, u, "station-1", pools, 1, 0, &ids, &e), -EALREADY);
	err_clear(&e);
	ASSERT_EQ(db_pool_allocate(db, unit(db, "1-2"), "station-1", (const char *[]){ "nope" }, 1,
				   0, &ids, &e),
		  -ENOENT);
	ASSERT_CONTAINS(e.msg, "no pool 'nope'");
	db_close(db);
}

TEST(pool_exhausted_names_the_pool_and_takes_nothing)
{
	struct db *db = open_db("exhausted.db", true);
	struct db_pool_spec small = macs;
	const char *pools[] = { "serials", "small" };
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int64_t u;

	small.name = "small";
	small.last = small.first + 3; /* two units of two */
	create(db, &serials);
	create(db, &small);
	for (int i = 0; i < 2; i++) {
		ids = take(db, unit(db, i ? "1-2" : "1-1"), pools, 2);
		db_identities_clear(&ids);
	}
	u = unit(db, "1-3");
	ASSERT_EQ(db_pool_allocate(db, u, "station-1", pools, 2, 0, &ids, &e), -ENOSPC);
	ASSERT_CONTAINS(e.msg, "pool 'small' is exhausted");
	ASSERT_EQ(ids.n, 0);
	/* All pools or none: the serial taken before 'small' failed was rolled back. */
	ASSERT_EQ(
		raw_int(tpath("exhausted.db"), "SELECT next_seq FROM pools WHERE name = 'serials'"),
		3);
	ASSERT_EQ(
		raw_int(tpath("exhausted.db"),
			sqlf_unit("SELECT count(*) FROM unit_identities WHERE unit_id = %lld", u)),
		0);
	db_close(db);
}

struct low_row {
	int64_t free, units_left;
	bool low;
};

static int low_cb(const struct db_pool_row *row, void *ud)
{
	struct low_row *o = ud;

	*o = (struct low_row){ row->free, row->units_left, row->low };
	return 0;
}

TEST(pool_low_water_counts_units_left)
{
	struct db *db = open_db("low.db", true);
	struct db_pool_spec sp = macs;
	const char *pools[] = { "macs" };
	struct db_identities ids;
	struct err e = { 0 };
	struct low_row r = { 0 };

	sp.last = sp.first + 9; /* five units of two */
	sp.low_water = 3;
	create(db, &sp);
	for (int i = 0; i < 2; i++) {
		ids = take(db, unit(db, "1-1"), pools, 1);
		db_identities_clear(&ids);
	}
	/* Three units left: not below the low-water mark of 3 yet. */
	ASSERT_EQ(db_pool_list(db, "macs", low_cb, &r, &e), 1);
	ASSERT_EQ(r.free, 6);
	ASSERT_EQ(r.units_left, 3);
	ASSERT_TRUE(!r.low);
	ids = take(db, unit(db, "1-1"), pools, 1);
	db_identities_clear(&ids);
	ASSERT_EQ(db_pool_list(db, "macs", low_cb, &r, &e), 1);
	ASSERT_EQ(r.units_left, 2);
	ASSERT_TRUE(r.low);
	ASSERT_EQ(db_pool_list(db, "nope", low_cb, &r, &e), -ENOENT);
	db_close(db);
}

/* The state of value seq of pool in the pool's table. */
static char *state_of(const char *path, const char *pool, int seq)
{
	char sql[200];

	snprintf(sql, sizeof(sql),
		 "SELECT state || ':' || coalesce(unit_id, '-') FROM pool_values "
		 "WHERE pool = '%s' AND seq = %d",
		 pool, seq);
	return raw_text(path, sql);
}

#define ASSERT_STATE(path, pool, seq, want)                                                        \
	do {                                                                                       \
		char *_s = state_of(path, pool, seq);                                              \
		int _ok = _s && strcmp(_s, want) == 0;                                             \
		if (!_ok)                                                                          \
			TEST_FAIL("%s #%d is %s, expected %s", pool, seq, _s ? _s : "(no row)",    \
				  want);                                                           \
		free(_s);                                                                          \
	} while (0)

TEST(pool_reuse_frees_values_only_when_nothing_was_written)
{
	const char *p = tpath("reuse.db");
	struct db *db = open_db("reuse.db", true);
	struct db_pool_spec sp = serials;
	const char *pools[] = { "serials" };
	struct db_identities ids;
	struct err e = { 0 };
	int64_t u1, u2, u3;

	sp.policy = DB_POOL_REUSE;
	create(db, &sp);

	/* Fail before any write: the serial goes back and the next unit gets it. */
	u1 = unit(db, "1-1");
	ids = take(db, u1, pools, 1);
	db_identities_clear(&ids);
	ASSERT_EQ(db_pool_unit_finish(db, u1, DB_RESULT_FAIL, false, &e), 1);
	ASSERT_STATE(p, "serials", 1, "free:-");
	ASSERT_SQL_TEXT(p, sqlf_unit("SELECT state FROM unit_identities WHERE unit_id = %lld", u1),
			"released");
	u2 = unit(db, "1-2");
	ids = take(db, u2, pools, 1);
	ASSERT_EQ(ids.v[0].seq, 1);
	db_identities_clear(&ids);
	ASSERT_STATE(p, "serials", 1, "allocated:2");

	/* The caller says a write started: burned although the policy is reuse. */
	ASSERT_EQ(db_pool_unit_finish(db, u2, DB_RESULT_FAIL, true, &e), 1);
	ASSERT_STATE(p, "serials", 1, "burned:2");

	/* Marked written earlier, interrupted later: burned too. */
	u3 = unit(db, "1-3");
	ids = take(db, u3, pools, 1);
	ASSERT_EQ(ids.v[0].seq, 2);
	db_identities_clear(&ids);
	ASSERT_OK(db_pool_mark_written(db, u3, &e));
	ASSERT_EQ(db_pool_unit_finish(db, u3, DB_RESULT_INTERRUPTED, false, &e), 1);
	ASSERT_STATE(p, "serials", 2, "burned:3");

	ids = take(db, unit(db, "1-4"), pools, 1);
	ASSERT_EQ(ids.v[0].seq, 3);
	db_identities_clear(&ids);
	ASSERT_EQ(count_problems(db), 0);
	db_close(db);
}

TEST(pool_burn_is_the_default_and_pass_makes_used)
{
	const char *p = tpath("burn.db");
	struct db *db = open_db("burn.db", true);
	const char *pools[] = { "serials" };
	struct db_identities ids;
	struct err e = { 0 };
	int64_t u1, u2;

	create(db, &serials);
	u1 = unit(db, "1-1");
	ids = take(db, u1, pools, 1);
	db_identities_clear(&ids);
	ASSERT_EQ(db_pool_unit_finish(db, u1, DB_RESULT_FAIL, false, &e), 1);
	ASSERT_STATE(p, "serials", 1, "burned:1");
	u2 = unit(db, "1-2");
	ids = take(db, u2, pools, 1);
	ASSERT_EQ(ids.v[0].seq, 2);
	db_identities_clear(&ids);
	ASSERT_EQ(db_pool_unit_finish(db, u2, DB_RESULT_PASS, true, &e), 1);
	ASSERT_STATE(p, "serials", 2, "used:2");
	ASSERT_SQL_TEXT(p, "SELECT policy FROM pools", "burn");
	ASSERT_EQ(count_problems(db), 0);
	db_close(db);
}

TEST(pool_recover_settles_values_of_crashed_units_by_policy)
{
	const char *p = tpath("recover.db");
	struct db *db = open_db("recover.db", true);
	struct db_pool_spec sp = serials;
	const char *pools[] = { "serials" };
	struct db_identities ids;
	struct err e = { 0 };
	int64_t u1, u2, u3;

	sp.policy = DB_POOL_REUSE;
	create(db, &sp);
	u1 = unit(db, "1-1"); /* crashed before writing */
	u2 = unit(db, "1-2"); /* crashed while writing */
	u3 = unit(db, "1-3"); /* passed, crash before its values were settled */
	for (int64_t u = u1; u <= u3; u++) {
		ids = take(db, u, pools, 1);
		db_identities_clear(&ids);
	}
	ASSERT_OK(db_pool_mark_written(db, u2, &e));
	ASSERT_OK(db_unit_finish(db, u3, DB_RESULT_PASS, NULL, NULL, &e));
	db_close(db);

	db = open_db("recover.db", false);
	ASSERT_EQ(db_recover_interrupted(db, NULL, &e), 2);
	ASSERT_EQ(db_pool_recover(db, NULL, &e), 3);
	ASSERT_STATE(p, "serials", 1, "free:-");
	ASSERT_STATE(p, "serials", 2, "burned:2");
	ASSERT_STATE(p, "serials", 3, "used:3");
	ASSERT_EQ(db_pool_recover(db, NULL, &e), 0);
	ASSERT_EQ(count_problems(db), 0);
	db_close(db);
}

TEST(pool_station_blocks_and_overlaps)
{
	struct db *db = open_db("blocks.db", true);
	struct db_pool_spec a = macs, b = macs, c = macs;
	struct db_identities ids = { 0 };
	struct err e = { 0 };

	/* Two stations, two halves of one range. */
	a.name = "macs-s1", a.last = a.first + 0x7f, a.station = "station-1";
	b.name = "macs-s2", b.first = a.last + 1, b.station = "station-2";
	create(db, &a);
	create(db, &b);
	c.name = "macs-s3", c.first = a.last - 1, c.last = a.last + 2;
	ASSERT_EQ(db_pool_create(db, &c, &e), -EEXIST);
	ASSERT_CONTAINS(e.msg, "overlaps pool 'macs-s");
	err_clear(&e);
	ASSERT_EQ(db_pool_create(db, &a, &e), -EEXIST);
	err_clear(&e);

	ids = take(db, unit(db, "1-1"), (const char *[]){ "macs-s1" }, 1);
	db_identities_clear(&ids);
	ASSERT_EQ(db_pool_allocate(db, unit(db, "1-2"), "station-1", (const char *[]){ "macs-s2" },
				   1, 0, &ids, &e),
		  -EPERM);
	ASSERT_CONTAINS(e.msg, "pool 'macs-s2' is reserved for station 'station-2'");
	db_close(db);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		TEST_FAIL("write %s", path);
}

static const struct db_pool_spec keys = { .name = "keys", .kind = DB_POOL_LIST };

TEST(pool_import_lines_csv_and_files)
{
	_cleanup_free_ char *p = strdup(tpath("import.db"));
	struct db *db = open_db("import.db", true);
	struct err e = { 0 };
	struct db_identities ids;
	char sql[600];

	create(db, &keys);
	write_file(tpath("k1.pem"), "key one\n");
	write_file(tpath("k2.pem"), "key two\n");
	write_file(tpath("files.txt"), "# keys\nk1.pem\n\n");
	write_file(tpath("values.csv"), "file,value\nk2.pem,\"KEY,2\"\n");
	write_file(tpath("plain.txt"), "A-1\r\nA-2\n");
	ASSERT_EQ(db_pool_import(db, "keys", tpath("files.txt"), DB_POOL_IMPORT_FILES, &e), 1);
	ASSERT_EQ(db_pool_import(db, "keys", tpath("values.csv"), DB_POOL_IMPORT_CSV, &e), 1);
	ASSERT_EQ(db_pool_import(db, "keys", tpath("plain.txt"), DB_POOL_IMPORT_LINES, &e), 2);

	{
		_cleanup_free_ char *abs = realpath(tpath("k1.pem"), NULL);

		snprintf(sql, sizeof(sql),
			 "SELECT value = 'k1.pem' AND file = '%s' FROM pool_values WHERE seq = 1",
			 abs);
	}
	ASSERT_SQL_TEXT(p, sql, "1");
	/* sha256("key one\n"), from sha256sum(1) */
	ASSERT_SQL_TEXT(p, "SELECT file_sha256 FROM pool_values WHERE seq = 1",
			"9d1caab4deaaaa1604199453b6125b8985d010a43e602a883ebf6359f71412f6");
	ASSERT_SQL_TEXT(
		p, "SELECT value || ' ' || (file LIKE '%/k2.pem') FROM pool_values WHERE seq = 2",
		"KEY,2 1");
	ASSERT_SQL_TEXT(p, "SELECT group_concat(value) FROM pool_values WHERE seq > 2", "A-1,A-2");

	/* In file order, each once. */
	ids = take(db, unit(db, "1-1"), (const char *[]){ "keys" }, 1);
	ASSERT_EQ(ids.v[0].seq, 1);
	ASSERT_TRUE(ids.v[0].file && ids.v[0].file_sha256);
	db_identities_clear(&ids);

	/* A duplicate refuses the whole file. */
	write_file(tpath("dup.txt"), "B-1\nA-2\n");
	ASSERT_EQ(db_pool_import(db, "keys", tpath("dup.txt"), DB_POOL_IMPORT_LINES, &e), -EEXIST);
	ASSERT_CONTAINS(e.msg, "dup.txt:2: value 'A-2' is already in pool 'keys'");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM pool_values WHERE value = 'B-1'"), 0);
	db_close(db);
}

TEST(pool_import_refuses_a_missing_or_unreadable_file)
{
	_cleanup_free_ char *p = strdup(tpath("missing.db"));
	struct db *db = open_db("missing.db", true);
	struct err e = { 0 };

	create(db, &keys);
	write_file(tpath("ok.pem"), "ok\n");
	write_file(tpath("locked.pem"), "secret\n");
	write_file(tpath("missing.txt"), "ok.pem\nnot-there.pem\n");
	ASSERT_EQ(db_pool_import(db, "keys", tpath("missing.txt"), DB_POOL_IMPORT_FILES, &e),
		  -ENOENT);
	ASSERT_CONTAINS(e.msg, "missing.txt:2: value file '");
	ASSERT_CONTAINS(e.msg, "not-there.pem': No such file or directory");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM pool_values"), 0);

	if (geteuid() != 0) {
		err_clear(&e);
		chmod(tpath("locked.pem"), 0);
		write_file(tpath("locked.txt"), "locked.pem\n");
		ASSERT_EQ(db_pool_import(db, "keys", tpath("locked.txt"), DB_POOL_IMPORT_FILES, &e),
			  -EACCES);
		ASSERT_CONTAINS(e.msg, "Permission denied");
	}
	err_clear(&e);
	ASSERT_EQ(db_pool_import(db, "serials-not", tpath("ok.pem"), DB_POOL_IMPORT_LINES, &e),
		  -ENOENT);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM pool_values"), 0);
	db_close(db);
}

TEST(pool_list_exhausted_names_the_pool)
{
	struct db *db = open_db("listx.db", true);
	struct db_identities ids = { 0 };
	struct err e = { 0 };

	create(db, &keys);
	write_file(tpath("one.txt"), "only\n");
	ASSERT_EQ(db_pool_import(db, "keys", tpath("one.txt"), DB_POOL_IMPORT_LINES, &e), 1);
	ids = take(db, unit(db, "1-1"), (const char *[]){ "keys" }, 1);
	db_identities_clear(&ids);
	ASSERT_EQ(db_pool_allocate(db, unit(db, "1-2"), NULL, (const char *[]){ "keys" }, 1, 0,
				   &ids, &e),
		  -ENOSPC);
	ASSERT_CONTAINS(e.msg, "pool 'keys' is exhausted");
	db_close(db);
}

static int collect(const struct db_pool_problem *pr, void *ud)
{
	char *buf = ud;
	size_t n = strlen(buf);

	snprintf(buf + n, 2048 - n, "%s %s: %s\n", pr->pool, pr->value, pr->what);
	return 0;
}

TEST(pool_audit_finds_planted_corruption)
{
	const char *p = tpath("audit.db");
	struct db *db = open_db("audit.db", true);
	const char *pools[] = { "serials" };
	struct db_identities ids;
	struct err e = { 0 };
	char found[2048] = "";

	create(db, &serials);
	for (int i = 0; i < 3; i++) {
		int64_t u = unit(db, "1-1");

		ids = take(db, u, pools, 1);
		db_identities_clear(&ids);
		ASSERT_OK(db_pool_unit_finish(db, u, DB_RESULT_PASS, true, &e));
	}
	ASSERT_EQ(count_problems(db), 0);

	/* A used value set free behind flashd's back: it would be handed out again. */
	raw_exec(p, "UPDATE pool_values SET state = 'free', unit_id = NULL WHERE seq = 2");
	ASSERT_TRUE(db_pool_audit(db, collect, found, &e) > 0);
	ASSERT_CONTAINS(found, "serials SN26100000020: free in the pool but assigned to unit 2");
	raw_exec(p, "UPDATE pool_values SET state = 'used', unit_id = 2 WHERE seq = 2");
	ASSERT_EQ(count_problems(db), 0);

	/* The same value recorded for a second unit. */
	raw_exec(p, "INSERT INTO unit_identities (unit_id, pool, seq, value, state, allocated_at) "
		    "VALUES (3, 'serials', 1, 'SN26100000012', 'used', 1)");
	found[0] = '\0';
	ASSERT_TRUE(db_pool_audit(db, collect, found, &e) > 0);
	ASSERT_CONTAINS(found, "SN26100000012: assigned twice (units 1,3)");
	raw_exec(p, "DELETE FROM unit_identities WHERE unit_id = 3 AND seq = 1");
	ASSERT_EQ(count_problems(db), 0);

	/* The counter moved back: issued numbers would come again. */
	raw_exec(p, "UPDATE pools SET next_seq = 2");
	found[0] = '\0';
	ASSERT_TRUE(db_pool_audit(db, collect, found, &e) > 0);
	ASSERT_CONTAINS(found, "outside the issued range");
	db_close(db);
}

/* One of the concurrent allocators: its own process, handle and units. */
static int allocator(const char *path, int n, int ready, int go)
{
	unsigned seed = (unsigned)getpid();
	char c = 0;

	const char *pools[] = { "serials", "macs" };
	struct db *db = NULL;
	struct err e = { 0 };

	if (db_open(path, 0, &db, &e) < 0) {
		fprintf(stdout, "#   child %d: %s\n", (int)getpid(), e.msg);
		return 1;
	}
	/* Everyone opened (each open takes the write lock once): now race. */
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 0)
		return 1;
	for (int i = 0; i < n; i++) {
		struct db_unit_start st = { .station = "station-1",
					    .port = "1-1",
					    .recipe = "r",
					    .flashd_version = "test" };
		struct db_identities ids = { 0 };
		int64_t id;

		if (db_unit_begin(db, &st, &id, &e) < 0 ||
		    db_pool_allocate(db, id, "station-1", pools, 2, 0, &ids, &e) < 0 ||
		    db_pool_unit_finish(db, id, i % 3 ? DB_RESULT_PASS : DB_RESULT_FAIL, false,
					&e) < 0) {
			fprintf(stdout, "#   child %d: %s\n", (int)getpid(), e.msg);
			return 1;
		}
		db_identities_clear(&ids);
		usleep((useconds_t)(rand_r(&seed) % 4000)); /* a board takes a while */
	}
	db_close(db);
	return 0;
}

TEST(pool_concurrent_allocations_are_distinct)
{
	enum { PROCS = 4, EACH = 15 };
	const char *p = tpath("concurrent.db");
	struct db *db = open_db("concurrent.db", true);
	struct db_pool_spec sp = serials, m = macs;
	pid_t pids[PROCS];
	int status, ready[2], go[2];
	char c;

	sp.policy = DB_POOL_REUSE; /* fails give values back: reuse races too */
	m.last = m.first + 0xfff;
	create(db, &sp);
	create(db, &m);
	db_close(db);
	ASSERT_OK(pipe(ready));
	ASSERT_OK(pipe(go));
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			_exit(allocator(p, EACH, ready[1], go[0]));
		}
		ASSERT_TRUE(pids[i] > 0);
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < PROCS; i++)
		ASSERT_EQ(read(ready[0], &c, 1), 1);
	close(go[1]); /* EOF: go */
	close(ready[0]);
	for (int i = 0; i < PROCS; i++) {
		ASSERT_EQ(waitpid(pids[i], &status, 0), pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			TEST_FAIL("allocator %d: wait status 0x%x", i, status);
	}
	/* Every unit that passed holds its own serial and two MACs of its own. */
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM units"), PROCS * EACH);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM unit_identities WHERE state = 'used'"),
		  PROCS * (EACH - (EACH + 2) / 3) * 3);
	ASSERT_EQ(raw_int(p,
			  "SELECT count(DISTINCT value) FROM unit_identities WHERE state = 'used'"),
		  PROCS * (EACH - (EACH + 2) / 3) * 3);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM unit_identities WHERE state = 'allocated'"), 0);
	db = open_db("concurrent.db", false);
	ASSERT_EQ(count_problems(db), 0);
	db_close(db);
}

/* A job stream as flashd will run it, until killed: values, a write, a result. */
static void crash_child(const char *path, unsigned seed, int fd)
{
	const char *pools[] = { "serials", "macs" };
	struct db *db = NULL;
	struct err e = { 0 };

	if (db_open(path, 0, &db, &e) < 0)
		_exit(2);
	for (;;) {
		struct db_unit_start st = { .station = "station-1",
					    .port = "1-1",
					    .recipe = "r",
					    .flashd_version = "test" };
		struct db_identities ids = { 0 };
		unsigned r = rand_r(&seed);
		bool writes = r % 4 != 0; /* a quarter fail before any write */
		enum db_result res = r % 3 ? DB_RESULT_PASS : DB_RESULT_FAIL;
		int64_t id;

		if (db_unit_begin(db, &st, &id, &e) < 0 ||
		    db_pool_allocate(db, id, "station-1", pools, 2, 0, &ids, &e) < 0)
			_exit(3);
		db_identities_clear(&ids);
		if (writes && db_pool_mark_written(db, id, &e) < 0)
			_exit(4);
		if (!writes)
			res = DB_RESULT_FAIL;
		if (db_unit_finish(db, id, res, NULL, NULL, &e) < 0 ||
		    db_pool_unit_finish(db, id, res, writes, &e) < 0)
			_exit(5);
		if (write(fd, "u", 1) != 1)
			_exit(6);
	}
}

TEST(pool_sigkill_at_random_moments_keeps_every_value_in_one_state)
{
	_cleanup_free_ char *p = strdup(tpath("kill.db"));
	struct db *db = open_db("kill.db", true);
	struct db_pool_spec sp = serials, m = macs;
	unsigned seed = 18;
	struct err e = { 0 };

	sp.policy = DB_POOL_REUSE;
	m.last = m.first + 0xffff;
	create(db, &sp);
	create(db, &m);
	db_close(db);
	for (int round = 0; round < 20; round++) {
		int status, fds[2], units = 1 + rand_r(&seed) % 4;
		pid_t pid;
		char c;

		ASSERT_OK(pipe(fds));
		pid = fork();
		ASSERT_TRUE(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(p, seed + (unsigned)round, fds[1]);
		}
		close(fds[1]);
		/* A few units done, then anywhere in the next one or two. */
		for (int i = 0; i < units; i++)
			ASSERT_EQ(read(fds[0], &c, 1), 1);
		usleep((useconds_t)(rand_r(&seed) % 30000));
		kill(pid, SIGKILL);
		close(fds[0]);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			TEST_FAIL("round %d: child exited with 0x%x before the kill", round,
				  status);

		/* flashd starts again. */
		db = open_db("kill.db", false);
		ASSERT_OK(db_recover_interrupted(db, NULL, &e));
		ASSERT_OK(db_pool_recover(db, NULL, &e));
		ASSERT_EQ(count_problems(db), 0);
		db_close(db);
		ASSERT_EQ(raw_int(p,
				  "SELECT count(*) FROM unit_identities WHERE state = 'allocated'"),
			  0);
		/* Only values of 'reuse' pools whose unit never started a write came back. */
		ASSERT_EQ(raw_int(p,
				  "SELECT count(*) FROM unit_identities WHERE state = 'released' "
				  "AND (device_written = 1 OR pool != 'serials')"),
			  0);
		ASSERT_EQ(
			raw_int(p,
				"SELECT count(*) FROM unit_identities i JOIN units u "
				"ON u.id = i.unit_id WHERE i.state = 'used' AND u.result != 'pass'"),
			0);
	}
	ASSERT_TRUE(raw_int(p, "SELECT count(*) FROM units WHERE result = 'interrupted'") > 0);
	ASSERT_TRUE(raw_int(p, "SELECT count(*) FROM unit_identities WHERE state = 'released'") >
		    0);
	ASSERT_SQL_TEXT(p, "PRAGMA integrity_check", "ok");
}

struct levels_seen {
	char names[4][16];
	int64_t left[4];
	bool low[4];
	int n;
};

static int level_cb(const struct db_pool_level *r, void *ud)
{
	struct levels_seen *l = ud;

	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", r->name);
	l->left[l->n] = r->units_left;
	l->low[l->n++] = r->low;
	return 0;
}

static int list_cb(const struct db_pool_row *r, void *ud)
{
	struct levels_seen *l = ud;

	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", r->name);
	l->left[l->n] = r->units_left;
	l->low[l->n++] = r->low;
	return 0;
}

/* The daemon's cheap view (db_pool_levels, after every unit) agrees with db_pool_list. */
TEST(pool_levels_agree_with_the_list)
{
	struct db *db = open_db("levels.db", true);
	struct db_pool_spec sp = serials, m = macs, k = keys;
	const char *both[] = { "serials", "macs" };
	struct levels_seen a = { 0 }, b = { 0 };
	struct db_identities ids;
	struct err e = { 0 };
	FILE *f;

	sp.policy = DB_POOL_REUSE;
	sp.low_water = 999;
	m.low_water = 200;
	k.low_water = 1;
	create(db, &sp);
	create(db, &m);
	create(db, &k);
	f = fopen(tpath("levels.txt"), "w");
	ASSERT_TRUE(f != NULL);
	fputs("k1\nk2\n", f);
	fclose(f);
	ASSERT_EQ(db_pool_import(db, "keys", tpath("levels.txt"), DB_POOL_IMPORT_LINES, &e), 2);
	for (int i = 0; i < 5; i++) { /* used, burned and freed values, per_unit 2 */
		int64_t id = unit(db, "1-1");
		enum db_result r = i % 3 == 0 ? DB_RESULT_PASS : DB_RESULT_FAIL;

		ids = take(db, id, both, 2);
		db_identities_clear(&ids);
		ASSERT_OK(db_unit_finish(db, id, r, NULL, NULL, &e));
		ASSERT_TRUE(db_pool_unit_finish(db, id, r, i == 4, &e) >= 0);
	}
	ASSERT_EQ(db_pool_levels(db, level_cb, &a, &e), 3);
	ASSERT_EQ(db_pool_list(db, NULL, list_cb, &b, &e), 3);
	for (int i = 0; i < 3; i++) {
		ASSERT_STREQ(a.names[i], b.names[i]);
		ASSERT_EQ(a.left[i], b.left[i]);
		ASSERT_EQ(a.low[i], b.low[i]);
	}
	ASSERT_STREQ(a.names[0], "keys");
	ASSERT_EQ(a.left[0], 2);
	ASSERT_EQ(a.low[0], false);
	ASSERT_EQ(a.left[1], 123); /* 256 addresses, 10 taken (burn): 246 / 2 */
	ASSERT_EQ(a.low[1], true);
	ASSERT_EQ(a.left[2], 1000 - 5 + 2); /* 2 failed before a write: back (reuse) */
	db_close(db);
}

static int ident_cb(const struct db_identity_row *r, void *ud)
{
	char *buf = ud;
	size_t n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s%s=%s/%s/%d", n ? " " : "", r->pool, r->value, r->state,
		 r->device_written);
	return 0;
}

/* flashctl show VALUE: the unit holding an identity, any MAC spelling. */
TEST(pool_find_unit_by_identity_value)
{
	struct db *db = open_db("find.db", true);
	struct db_pool_spec m = macs;
	const char *pools[] = { "macs" };
	struct db_identities ids;
	struct err e = { 0 };
	int64_t u1, u2, u3, id = 0;
	char buf[512] = "";

	m.policy = DB_POOL_REUSE;
	create(db, &m);
	u1 = unit(db, "1-1");
	ids = take(db, u1, pools, 1);
	db_identities_clear(&ids);
	ASSERT_OK(db_unit_finish(db, u1, DB_RESULT_PASS, NULL, NULL, &e));
	ASSERT_EQ(db_pool_unit_finish(db, u1, DB_RESULT_PASS, true, &e), 2);
	u2 = unit(db, "1-2"); /* fails before a write: gives 02..02, 02..03 back */
	ids = take(db, u2, pools, 1);
	db_identities_clear(&ids);
	ASSERT_OK(db_unit_finish(db, u2, DB_RESULT_FAIL, "x", "y", &e));
	ASSERT_EQ(db_pool_unit_finish(db, u2, DB_RESULT_FAIL, false, &e), 2);

	ASSERT_OK(db_query_find_unit(db, "02-00-00-00-00-03", false, &id, &e));
	ASSERT_EQ(id, u2); /* no one else has it: the unit that gave it back */
	u3 = unit(db, "1-3");
	ids = take(db, u3, pools, 1);
	db_identities_clear(&ids);
	ASSERT_OK(db_query_find_unit(db, "02-00-00-00-00-03", false, &id, &e));
	ASSERT_EQ(id, u3);
	ASSERT_OK(db_query_find_unit(db, "02:00:00:00:00:01", false, &id, &e));
	ASSERT_EQ(id, u1);
	ASSERT_EQ(db_query_find_unit(db, "02:00:00:00:00:0A", false, &id, &e), -ENOENT);
	ASSERT_CONTAINS(e.msg, "no unit with serial, chip UID or identity '02:00:00:00:00:0A'");
	err_clear(&e);
	ASSERT_EQ(db_query_find_unit(db, "02:00:00:00:00:01", true, &id, &e), -ENOENT);
	err_clear(&e);

	ASSERT_EQ(db_query_unit_identities(db, u2, ident_cb, buf, &e), 2);
	ASSERT_STREQ(buf, "macs=02:00:00:00:00:02/released/0 macs=02:00:00:00:00:03/released/0");
	buf[0] = '\0';
	ASSERT_EQ(db_query_unit_identities(db, u1, ident_cb, buf, &e), 2);
	ASSERT_STREQ(buf, "macs=02:00:00:00:00:00/used/1 macs=02:00:00:00:00:01/used/1");
	db_close(db);
}

/* ---- blocks (issue 20 item 4) ---- */

static int leased_level_cb(const struct db_pool_level *row, void *ud)
{
	if (strcmp(row->name, "leased") == 0)
		*(int64_t *)ud = row->units_left;
	return 0;
}

struct block_list {
	char text[256];
};

static int block_cb(const struct db_pool_block_row *b, void *ud)
{
	struct block_list *l = ud;
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof(l->text) - n, "%s%lld..%lld:%lld:%s", n ? "," : "",
		 (long long)b->first, (long long)b->last, (long long)b->issued,
		 b->lease ? b->lease : "-");
	return 0;
}

TEST(pool_blocks_issue_in_order_and_count_in_the_levels)
{
	struct db *db = open_db("leased-blocks.db", true);
	struct db_pool_spec sp = macs;
	const char *pools[] = { "leased" };
	struct db_identities ids = { 0 };
	struct block_list bl = { { 0 } };
	struct low_row r = { 0 };
	struct err e = { 0 };
	int64_t left = -1;
	char got[512] = "";

	sp.name = "leased";
	sp.first = INT64_C(0x020000000010);
	sp.last = sp.first + 3; /* two units of two */
	sp.low_water = 4;
	create(db, &sp);
	/* A block leased from the central pool, above the own range, with a gap. */
	ASSERT_EQ(db_pool_add_block(db, "leased", sp.first + 10, sp.first + 15, "req-1", &e), 1);
	/* Added again under the same lease (a retried lease): nothing changes. */
	ASSERT_EQ(db_pool_add_block(db, "leased", sp.first + 10, sp.first + 15, "req-1", &e), 0);
	ASSERT_EQ(db_pool_list(db, "leased", low_cb, &r, &e), 1);
	ASSERT_EQ(r.free, 10);
	ASSERT_EQ(r.units_left, 5);
	ASSERT_TRUE(!r.low);
	ASSERT_EQ(db_pool_levels(db, leased_level_cb, &left, &e), 1);
	ASSERT_EQ(left, 5);

	/* Two units from the own range, then three from the leased block: no number of the gap. */
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(got);

		ids = take(db, unit(db, "1-1"), pools, 1);
		snprintf(got + n, sizeof(got) - n, "%s%s+%s", n ? "," : "", ids.v[0].value,
			 ids.v[1].value + 15);
		db_identities_clear(&ids);
	}
	ASSERT_STREQ(got, "02:00:00:00:00:10+11,02:00:00:00:00:12+13,02:00:00:00:00:1a+1b,"
			  "02:00:00:00:00:1c+1d,02:00:00:00:00:1e+1f");
	ASSERT_EQ(db_pool_levels(db, leased_level_cb, &left, &e), 1);
	ASSERT_EQ(left, 0);
	ASSERT_EQ(db_pool_list(db, "leased", low_cb, &r, &e), 1);
	ASSERT_TRUE(r.low);

	/* Every block used up: the unit fails naming the pool, until another block comes. */
	e = (struct err){ 0 };
	ASSERT_EQ(db_pool_allocate(db, unit(db, "1-2"), "station-1", pools, 1, 0, &ids, &e),
		  -ENOSPC);
	ASSERT_CONTAINS(e.msg, "pool 'leased' is exhausted: every block issued");
	ASSERT_CONTAINS(e.msg, "lease another");
	ASSERT_EQ(db_pool_add_block(db, "leased", sp.first + 32, sp.first + 33, "req-2", &e), 1);
	ids = take(db, unit(db, "1-2"), pools, 1);
	ASSERT_STREQ(ids.v[0].value, "02:00:00:00:00:30");
	db_identities_clear(&ids);

	ASSERT_EQ(db_pool_blocks(db, "leased", block_cb, &bl, &e), 3);
	ASSERT_STREQ(bl.text,
		     "2199023255568..2199023255571:4:-,2199023255578..2199023255583:6:req-1,"
		     "2199023255600..2199023255601:2:req-2");
	ASSERT_EQ(db_pool_values(db, "leased", NULL, NULL, &e), 12);
	ASSERT_EQ(count_problems(db), 0);
	db_close(db);
}

TEST(pool_add_block_refuses_overlaps_and_takes_blocks_in_any_order)
{
	struct db *db = open_db("blocks-bad.db", true);
	struct db_pool_spec a = serials, b = serials, c, l = { .name = "l", .kind = DB_POOL_LIST };
	const char *pools[] = { "b" }, *adj[] = { "adj" };
	struct db_identities ids = { 0 };
	struct err e = { 0 };

	a.name = "a";
	a.last = 99;
	b.name = "b";
	b.first = 200;
	b.last = 299;
	create(db, &a);
	create(db, &b);
	create(db, &l);
	e = (struct err){ 0 };
	ASSERT_EQ(db_pool_add_block(db, "a", 250, 349, "r1", &e), -EEXIST);
	ASSERT_CONTAINS(e.msg, "overlaps pool 'b'");
	e = (struct err){ 0 };
	/* A block below the pool's own range (leases may come in any order) is issued first. */
	ASSERT_EQ(db_pool_add_block(db, "b", 150, 160, "r2", &e), 1);
	ids = take(db, unit(db, "1-1"), pools, 1);
	ASSERT_EQ(ids.v[0].seq, 150);
	db_identities_clear(&ids);
	e = (struct err){ 0 };
	ASSERT_EQ(db_pool_add_block(db, "l", 1000, 1010, "r3", &e), -EINVAL);
	e = (struct err){ 0 };
	ASSERT_EQ(db_pool_add_block(db, "nope", 1000, 1010, "r4", &e), -ENOENT);
	e = (struct err){ 0 };
	ASSERT_EQ(db_pool_add_block(db, "a", 100, 149, "r5", &e), 1);
	/* A lease recorded once names one range: the same key with another is refused. */
	e = (struct err){ 0 };
	ASSERT_EQ(db_pool_add_block(db, "b", 300, 399, "r5", &e), -EEXIST);
	ASSERT_CONTAINS(e.msg, "lease 'r5'");
	/* The pool's own range given again with a lease key: recorded, not added. */
	e = (struct err){ 0 };
	ASSERT_EQ(db_pool_add_block(db, "b", 200, 299, "r6", &e), 0);
	ASSERT_EQ(raw_int(tpath("blocks-bad.db"),
			  "SELECT count(*) FROM pool_blocks WHERE pool = 'b' AND lease = 'r6'"),
		  1);
	/* Adjacent blocks: the first one used up ends where the next begins. */
	c = serials;
	c.name = "adj";
	c.format = "J{seq:3}";
	c.last = 2;
	create(db, &c);
	e = (struct err){ 0 };
	ASSERT_EQ(db_pool_add_block(db, "adj", 3, 4, "r7", &e), 1);
	for (int i = 1; i <= 4; i++) {
		ids = take(db, unit(db, "1-2"), adj, 1);
		ASSERT_EQ(ids.v[0].seq, i);
		db_identities_clear(&ids);
	}
	ASSERT_EQ(db_pool_allocate(db, unit(db, "1-2"), "station-1", adj, 1, 0, &ids, &e), -ENOSPC);
	ASSERT_EQ(count_problems(db), 0);
	/* A number planted between two blocks is found by the audit. */
	raw_exec(
		tpath("blocks-bad.db"),
		"INSERT INTO pools (name, kind, format, first_seq, last_seq, next_seq, created_at) "
		"VALUES ('g', 'counter', 'G{seq:3}', 500, 520, 521, 1);"
		"INSERT INTO pool_blocks VALUES ('g', 500, 505, 506, NULL, 1), "
		"('g', 510, 520, 521, NULL, 1);"
		"INSERT INTO pool_values (pool, seq, value, state) VALUES ('g', 507, 'G507', 'free')");
	ASSERT_EQ(count_problems(db), 1);
	db_close(db);
}

TEST_MAIN()
