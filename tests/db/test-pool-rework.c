/*
 * Tests for db_pool_reuse_identity() (db/pool-rework.c, issue 18 item 3)
 * against real SQLite files: a board that passed before (same chip UID in
 * any case, or same serial) gets its used values back and its fresh ones go
 * back to the pool; pools it has no value of keep the fresh ones; a unit
 * already marked written is refused; no earlier passed unit changes
 * nothing; the audit stays clean throughout.
 */
#include "db/db.h"
#include "db/pool.h"
#include "db/units.h"
#include "tests/db/db-test-util.h"

#include <errno.h>

static struct db *open_db(const char *name)
{
	struct err e = { 0 };
	struct db *db = NULL;
	int rc = db_open(tpath(name), DB_OPEN_CREATE, &db, &e);

	if (rc < 0)
		TEST_FAIL("db_open: %d %s", rc, e.msg);
	return db;
}

static int64_t unit(struct db *db, const char *serial, const char *chip_uid)
{
	struct db_unit_start st = { .station = "station-1",
				    .port = "1-1",
				    .recipe = "r",
				    .serial = serial,
				    .flashd_version = "test" };
	struct err e = { 0 };
	int64_t id = -1;

	if (db_unit_begin(db, &st, &id, &e) < 0)
		TEST_FAIL("db_unit_begin: %s", e.msg);
	if (chip_uid && db_unit_set_identity(
				db, id, &(struct db_unit_identity){ .chip_uid = chip_uid }, &e) < 0)
		TEST_FAIL("db_unit_set_identity: %s", e.msg);
	return id;
}

static void pools(struct db *db, bool with_keys)
{
	struct db_pool_spec serial = { .name = "serial",
				       .kind = DB_POOL_COUNTER,
				       .format = "SN{seq:4}",
				       .first = 1,
				       .last = 99 };
	struct db_pool_spec mac = { .name = "mac",
				    .kind = DB_POOL_MAC,
				    .first = INT64_C(0x020000000000),
				    .last = INT64_C(0x0200000000ff),
				    .per_unit = 2 };
	struct db_pool_spec extra = { .name = "extra",
				      .kind = DB_POOL_COUNTER,
				      .format = "X{seq:3}",
				      .first = 1,
				      .last = 99 };
	struct err e = { 0 };

	ASSERT_OK(db_pool_create(db, &serial, &e));
	ASSERT_OK(db_pool_create(db, &mac, &e));
	if (with_keys)
		ASSERT_OK(db_pool_create(db, &extra, &e));
}

/* A unit that allocates from pools and ends with result. */
static int64_t run_unit(struct db *db, const char *serial, const char *uid,
			const char *const *names, size_t n, enum db_result result)
{
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int64_t id = unit(db, serial, uid);

	ASSERT_OK(db_pool_allocate(db, id, "station-1", names, n, 0, &ids, &e));
	db_identities_clear(&ids);
	ASSERT_OK(db_pool_mark_written(db, id, &e));
	ASSERT_OK(db_unit_finish(db, id, result, NULL, NULL, &e));
	ASSERT_TRUE(db_pool_unit_finish(db, id, result, true, &e) >= 0);
	return id;
}

static int problems(struct db *db)
{
	struct err e = { 0 };

	return db_pool_audit(db, NULL, NULL, &e);
}

TEST(rework_by_chip_uid_any_case_gets_the_boards_values_and_frees_the_fresh_ones)
{
	const char *p = tpath("uid.db");
	struct db *db = open_db("uid.db");
	const char *names[] = { "serial", "mac" };
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int64_t first, other, rw, from = 0;

	pools(db, false);
	first = run_unit(db, "A", "00ab", names, 2, DB_RESULT_PASS);
	other = run_unit(db, "B", "00cd", names, 2, DB_RESULT_PASS);
	(void)other;
	rw = unit(db, "C", "00AB");
	ASSERT_OK(db_pool_allocate(db, rw, "station-1", names, 2, 0, &ids, &e));
	ASSERT_STREQ(ids.v[0].value, "SN0003");
	ASSERT_EQ(db_pool_reuse_identity(db, rw, "C", "00AB", names, 2, &ids, &from, &e), 1);
	ASSERT_EQ(from, first);
	ASSERT_EQ(ids.n, 3);
	ASSERT_STREQ(ids.v[0].value, "SN0001");
	ASSERT_STREQ(ids.v[1].value, "02:00:00:00:00:00");
	ASSERT_STREQ(ids.v[2].value, "02:00:00:00:00:01");
	db_identities_clear(&ids);
	ASSERT_EQ(problems(db), 0);
	ASSERT_SQL_TEXT(
		p,
		"SELECT state || ':' || coalesce(unit_id, '-') FROM pool_values WHERE value = 'SN0003'",
		"free:-");
	/* The board's values are on it already: a failed rework burns, never frees them. */
	ASSERT_OK(db_unit_finish(db, rw, DB_RESULT_FAIL, "x", "y", &e));
	ASSERT_EQ(db_pool_unit_finish(db, rw, DB_RESULT_FAIL, false, &e), 3);
	ASSERT_SQL_TEXT(p, "SELECT state FROM pool_values WHERE value = 'SN0001'", "burned");
	ASSERT_EQ(problems(db), 0);
	db_close(db);
}

TEST(rework_by_serial_keeps_fresh_values_of_pools_the_board_lacks)
{
	struct db *db = open_db("serial.db");
	const char *old[] = { "serial", "mac" };
	const char *now[] = { "serial", "mac", "extra" };
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int64_t rw;

	pools(db, true);
	run_unit(db, "BOARD-1", NULL, old, 2, DB_RESULT_PASS);
	rw = unit(db, "BOARD-1", NULL);
	ASSERT_OK(db_pool_allocate(db, rw, "station-1", now, 3, 0, &ids, &e));
	ASSERT_EQ(db_pool_reuse_identity(db, rw, "BOARD-1", NULL, now, 3, &ids, NULL, &e), 1);
	ASSERT_EQ(ids.n, 4);
	ASSERT_STREQ(ids.v[0].value, "SN0001");
	ASSERT_STREQ(ids.v[3].value, "X001");
	db_identities_clear(&ids);
	ASSERT_OK(db_unit_finish(db, rw, DB_RESULT_PASS, NULL, NULL, &e));
	ASSERT_EQ(db_pool_unit_finish(db, rw, DB_RESULT_PASS, false, &e), 4);
	ASSERT_EQ(problems(db), 0);
	db_close(db);
}

TEST(rework_needs_an_earlier_passed_unit_and_comes_before_the_write)
{
	struct db *db = open_db("none.db");
	const char *names[] = { "serial", "mac" };
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int64_t rw;

	pools(db, false);
	run_unit(db, "FAILED", "ee", names, 2, DB_RESULT_FAIL);
	rw = unit(db, "FAILED", "ee");
	ASSERT_OK(db_pool_allocate(db, rw, "station-1", names, 2, 0, &ids, &e));
	/* Only a passed unit's values count: nothing changes. */
	ASSERT_EQ(db_pool_reuse_identity(db, rw, "FAILED", "ee", names, 2, &ids, NULL, &e), 0);
	ASSERT_STREQ(ids.v[0].value, "SN0002");
	ASSERT_EQ(db_pool_reuse_identity(db, rw, NULL, "", names, 2, &ids, NULL, &e), 0);
	db_identities_clear(&ids);
	ASSERT_OK(db_unit_finish(db, rw, DB_RESULT_PASS, NULL, NULL, &e));
	ASSERT_EQ(db_pool_unit_finish(db, rw, DB_RESULT_PASS, true, &e), 3);

	/* Marked written: too late to swap. */
	rw = unit(db, "FAILED", "ee");
	ASSERT_OK(db_pool_allocate(db, rw, "station-1", names, 2, 0, &ids, &e));
	db_identities_clear(&ids);
	ASSERT_OK(db_pool_mark_written(db, rw, &e));
	ASSERT_EQ(db_pool_reuse_identity(db, rw, "FAILED", "ee", names, 2, &ids, NULL, &e), -EBUSY);
	ASSERT_EQ(ids.n, 0);
	ASSERT_EQ(problems(db), 0);
	db_close(db);
}

TEST_MAIN()
