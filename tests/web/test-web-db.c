/*
 * The database pieces flashd-web adds (db/query.h, db/unit-format.h): cursor
 * paging in id order with filters, per-stage times with filters that would
 * be ambiguous in a join, and the CSV line shared with `flashctl export`.
 */
#include "db/db.h"
#include "db/query.h"
#include "db/unit-format.h"
#include "db/units.h"
#include "tests/db/db-test-util.h"

#include <errno.h>

static struct db *open_new(const char *name)
{
	struct err e = { 0 };
	struct db *db = NULL;

	if (db_open(tpath(name), DB_OPEN_CREATE, &db, &e) < 0)
		TEST_FAIL("db_open: %s", e.msg);
	return db;
}

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

/* A unit started at `at` with stages boot and app; result pass or fail (in app). */
static int64_t unit(struct db *db, const char *recipe, const char *serial, int64_t at, bool pass)
{
	struct db_unit_start st = {
		.station = "s",
		.port = "1-1.1",
		.slot = "A1",
		.recipe = recipe,
		.vid = 0x0483,
		.pid = 0xdf11,
		.serial = serial,
		.flashd_version = "t",
		.started_at = at,
	};
	struct db_unit_stage boot = { .idx = 0,
				      .name = "boot",
				      .result = DB_RESULT_PASS,
				      .started_at = at,
				      .duration_ms = 1500 };
	struct db_unit_stage app = { .idx = 1,
				     .name = "app",
				     .result = pass ? DB_RESULT_PASS : DB_RESULT_FAIL,
				     .error = pass ? NULL : "errPROG",
				     .started_at = at + 1500,
				     .duration_ms = 2500 };
	struct err e = { 0 };
	int64_t id;

	ASSERT_OK(db_unit_begin(db, &st, &id, &e));
	ASSERT_OK(db_unit_stage(db, id, &boot, &e));
	ASSERT_OK(db_unit_stage(db, id, &app, &e));
	ASSERT_OK(db_unit_finish(db, id, pass ? DB_RESULT_PASS : DB_RESULT_FAIL,
				 pass ? NULL : "app", pass ? NULL : "errPROG, \"at\" 0x0", &e));
	return id;
}

struct ids {
	int n;
	int64_t id[16];
};

static int collect(const struct db_unit_row *r, void *ud)
{
	struct ids *ids = ud;

	if (ids->n < 16)
		ids->id[ids->n] = r->id;
	ids->n++;
	return 0;
}

TEST(web_units_after_pages_in_id_order_with_filters)
{
	_cleanup_db_ struct db *db = open_new("after.db");
	struct db_filter f = { .result = "pass", .recipe = "r1" };
	struct err e = { 0 };
	struct ids ids = { 0 };

	/* Unit 2 starts before unit 1 (a clock step): id order still pages it once. */
	unit(db, "r1", "S1", T0 + 5000, true);
	unit(db, "r1", "S2", T0 + 1000, true);
	unit(db, "r1", "S3", T0 + 6000, false);
	unit(db, "r2", "S4", T0 + 7000, true);
	unit(db, "r1", "S5", T0 + 8000, true);

	ASSERT_EQ(db_query_units_after(db, NULL, 0, 2, collect, &ids, &e), 2);
	ASSERT_EQ(ids.id[0], 1);
	ASSERT_EQ(ids.id[1], 2);
	ids = (struct ids){ 0 };
	ASSERT_EQ(db_query_units_after(db, NULL, 2, 0, collect, &ids, &e), 3);
	ASSERT_EQ(ids.id[0], 3);
	/* The cursor is bound before the filter's values. */
	ids = (struct ids){ 0 };
	ASSERT_EQ(db_query_units_after(db, &f, 1, 0, collect, &ids, &e), 2);
	ASSERT_EQ(ids.id[0], 2);
	ASSERT_EQ(ids.id[1], 5);
	f = (struct db_filter){ .since = T0 + 5000, .serial = "S5" };
	ASSERT_EQ(db_query_units_after(db, &f, 0, 0, NULL, NULL, &e), 1);
	f = (struct db_filter){ .result = "maybe" };
	ASSERT_EQ(db_query_units_after(db, &f, 0, 0, NULL, NULL, &e), -EINVAL);
}

struct times {
	int n;
	int64_t total_ms;
	char last[64];
};

static int collect_time(const struct db_stage_time_row *r, void *ud)
{
	struct times *t = ud;

	t->n++;
	t->total_ms += r->duration_ms;
	snprintf(t->last, sizeof(t->last), "%s/%s/%s", r->recipe, r->stage, r->result);
	return 0;
}

TEST(web_stage_times_filter_by_unit_columns)
{
	_cleanup_db_ struct db *db = open_new("stages.db");
	struct db_filter f = { .result = "fail", .since = T0 };
	struct err e = { 0 };
	struct times t = { 0 };

	unit(db, "r1", "S1", T0 + 1000, true);
	unit(db, "r1", "S2", T0 + 2000, false);
	ASSERT_EQ(db_query_stage_times(db, NULL, collect_time, &t, &e), 4);
	ASSERT_EQ(t.total_ms, 8000);
	/* result and started_at exist in both tables: the filter means the unit's. */
	t = (struct times){ 0 };
	ASSERT_EQ(db_query_stage_times(db, &f, collect_time, &t, &e), 2);
	ASSERT_STREQ(t.last, "r1/app/fail");
}

static int csv_row(const struct db_unit_row *r, void *ud)
{
	db_unit_csv_row(ud, r, "serial=SN1;mac=02:00:00:00:00:01");
	return 0;
}

TEST(web_unit_csv_row_is_quoted_as_export)
{
	_cleanup_db_ struct db *db = open_new("csv.db");
	struct err e = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int64_t id = unit(db, "r1", "S,1", T0, false);

	f = open_memstream(&buf, &len);
	db_unit_csv_header(f);
	ASSERT_EQ(db_query_unit(db, id, csv_row, NULL, NULL, f, &e), 0);
	fclose(f);
	ASSERT_CONTAINS(buf,
			"id,station,port,slot,recipe,recipe_sha256,vid,pid,serial,chip_uid,"
			"jedec_id,result,failed_stage,error,started_at,finished_at,duration_ms,"
			"flashd_version,identities\n1,s,1-1.1,A1,r1,,0483,df11,\"S,1\",,,fail,app,"
			"\"errPROG, \"\"at\"\" 0x0\",2026-01-01T00:00:00.000Z,");
	ASSERT_CONTAINS(buf, ",serial=SN1;mac=02:00:00:00:00:01\n");
	free(buf);
}

TEST_MAIN()
