/*
 * Tests for daemon/pool-watch.c (issue 18 low-water reporting) against a
 * real database: a pool that drops below its low_water is reported once
 * per crossing, not once per unit; exhausted is a crossing of its own; a
 * pool replenished (values freed under 'reuse') and low again is reported
 * again; the status text names the low and exhausted pools.
 */
#include "daemon/pool-watch.h"
#include "db/db.h"
#include "db/pool.h"
#include "db/units.h"
#include "tests/db/db-test-util.h"

#include <errno.h>

static struct db *open_db(const char *name)
{
	struct err e = { 0 };
	struct db *db = NULL;

	if (db_open(tpath(name), DB_OPEN_CREATE, &db, &e) < 0)
		TEST_FAIL("db_open: %s", e.msg);
	return db;
}

/* One unit drawing from pool and ending with result (written: no reuse). */
static int unit(struct db *db, const char *pool, enum db_result result, bool written)
{
	struct db_unit_start st = {
		.station = "station-1", .port = "1-1", .recipe = "r", .flashd_version = "test"
	};
	const char *pools[] = { pool };
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int64_t id;
	int r;

	if (db_unit_begin(db, &st, &id, &e) < 0)
		TEST_FAIL("db_unit_begin: %s", e.msg);
	r = db_pool_allocate(db, id, "station-1", pools, 1, 0, &ids, &e);
	db_identities_clear(&ids);
	if (r < 0)
		return r;
	if (db_unit_finish(db, id, result, NULL, NULL, &e) < 0 ||
	    db_pool_unit_finish(db, id, result, written, &e) < 0)
		TEST_FAIL("finish: %s", e.msg);
	return 0;
}

static int refresh(struct pool_watch *w, struct db *db)
{
	struct err e = { 0 };
	int n = pool_watch_refresh(w, db, &e);

	if (n < 0)
		TEST_FAIL("pool_watch_refresh: %s", e.msg);
	return n;
}

TEST(pool_watch_reports_low_once_per_crossing)
{
	_cleanup_db_ struct db *db = open_db("low.db");
	struct db_pool_spec sp = { .name = "serial",
				   .kind = DB_POOL_COUNTER,
				   .format = "S{seq:3}",
				   .first = 1,
				   .last = 10,
				   .low_water = 4,
				   .policy = DB_POOL_REUSE };
	struct pool_watch w = { 0 };
	struct err e = { 0 };
	char buf[256];

	ASSERT_OK(db_pool_create(db, &sp, &e));
	ASSERT_EQ(refresh(&w, db), 0); /* 10 left: ok */
	ASSERT_EQ(w.n, 1);
	ASSERT_EQ(w.v[0].units_left, 10);
	pool_watch_status(&w, buf, sizeof(buf));
	ASSERT_STREQ(buf, "");
	for (int i = 0; i < 6; i++) { /* down to 4: not below low_water yet */
		ASSERT_OK(unit(db, "serial", DB_RESULT_PASS, true));
		ASSERT_EQ(refresh(&w, db), 0);
	}
	ASSERT_OK(unit(db, "serial", DB_RESULT_PASS, true)); /* 3 left: the crossing */
	ASSERT_EQ(refresh(&w, db), 1);
	ASSERT_EQ(w.v[0].level, POOL_LEVEL_LOW);
	pool_watch_status(&w, buf, sizeof(buf));
	ASSERT_STREQ(buf, "pool serial low: 3 units left");
	ASSERT_OK(unit(db, "serial", DB_RESULT_PASS, true)); /* 2 left: still low, no repeat */
	ASSERT_EQ(refresh(&w, db), 0);
	ASSERT_EQ(refresh(&w, db), 0);
	/* A unit that failed before any write gives its value back: 2 left again. */
	ASSERT_OK(unit(db, "serial", DB_RESULT_FAIL, false));
	ASSERT_EQ(refresh(&w, db), 0);
	ASSERT_EQ(w.v[0].units_left, 2);
	ASSERT_OK(unit(db, "serial", DB_RESULT_PASS, true));
	ASSERT_OK(unit(db, "serial", DB_RESULT_PASS, true)); /* 0 left: exhausted, a crossing */
	ASSERT_EQ(refresh(&w, db), 1);
	ASSERT_EQ(w.v[0].level, POOL_LEVEL_EXHAUSTED);
	pool_watch_status(&w, buf, sizeof(buf));
	ASSERT_STREQ(buf, "pool serial exhausted");
	ASSERT_EQ(unit(db, "serial", DB_RESULT_PASS, true), -ENOSPC);
	ASSERT_EQ(refresh(&w, db), 0);
	pool_watch_clear(&w);
}

TEST(pool_watch_reports_again_after_replenish)
{
	_cleanup_db_ struct db *db = open_db("list.db");
	struct db_pool_spec sp = { .name = "keys", .kind = DB_POOL_LIST, .low_water = 2 };
	struct pool_watch w = { 0 };
	struct err e = { 0 };
	FILE *f;
	char buf[256];

	ASSERT_OK(db_pool_create(db, &sp, &e));
	ASSERT_EQ(refresh(&w, db), 1); /* empty at first sight: exhausted */
	ASSERT_EQ(w.v[0].level, POOL_LEVEL_EXHAUSTED);
	f = fopen(tpath("keys.txt"), "w");
	ASSERT_TRUE(f != NULL);
	fputs("k1\nk2\nk3\n", f);
	fclose(f);
	ASSERT_EQ(db_pool_import(db, "keys", tpath("keys.txt"), DB_POOL_IMPORT_LINES, &e), 3);
	ASSERT_EQ(refresh(&w, db), 0); /* better: silent */
	ASSERT_EQ(w.v[0].level, POOL_LEVEL_OK);
	ASSERT_OK(unit(db, "keys", DB_RESULT_PASS, true)); /* 2 left: not below 2 */
	ASSERT_EQ(refresh(&w, db), 0);
	ASSERT_OK(unit(db, "keys", DB_RESULT_PASS, true)); /* 1 left: low again, reported */
	ASSERT_EQ(refresh(&w, db), 1);
	pool_watch_status(&w, buf, sizeof(buf));
	ASSERT_STREQ(buf, "pool keys low: 1 unit left");
	pool_watch_clear(&w);
}

TEST(pool_watch_status_lists_every_low_pool)
{
	_cleanup_db_ struct db *db = open_db("two.db");
	struct db_pool_spec a = { .name = "a",
				  .kind = DB_POOL_COUNTER,
				  .format = "A{seq:2}",
				  .first = 1,
				  .last = 5,
				  .low_water = 10 };
	struct db_pool_spec b = { .name = "b", .kind = DB_POOL_LIST };
	struct db_pool_spec c = { .name = "c",
				  .kind = DB_POOL_COUNTER,
				  .format = "C{seq:2}",
				  .first = 1,
				  .last = 50,
				  .low_water = 10 };
	struct pool_watch w = { 0 };
	struct err e = { 0 };
	char buf[256], small[12];

	ASSERT_OK(db_pool_create(db, &a, &e));
	ASSERT_OK(db_pool_create(db, &b, &e));
	ASSERT_OK(db_pool_create(db, &c, &e));
	ASSERT_EQ(refresh(&w, db), 2);
	pool_watch_status(&w, buf, sizeof(buf));
	ASSERT_STREQ(buf, "pool a low: 5 units left; pool b exhausted");
	pool_watch_status(&w, small, sizeof(small)); /* truncated, terminated */
	ASSERT_STREQ(small, "pool a low:");
	pool_watch_clear(&w);
}

TEST_MAIN()
