/*
 * Tests for db/db.c, db/migrate.c, db/units.c and db/query.c against real
 * SQLite files: schema and version, WAL, the life of a unit row, crash
 * recovery, refusing newer schemas, migrating older ones, and the queries
 * behind flashctl.  The SIGKILL test is tests/db/test-db-crash.c.
 */
#include "db/db.h"
#include "db/pending.h"
#include "db/query.h"
#include "db/units.h"
#include "tests/db/db-test-util.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

static struct db *open_new(const char *name)
{
	struct err e = { 0 };
	struct db *db = NULL;
	int rc = db_open(tpath(name), DB_OPEN_CREATE, &db, &e);

	if (rc < 0)
		TEST_FAIL("db_open: %d %s", rc, e.msg);
	return db;
}

static int64_t begin(struct db *db, const char *port, const char *recipe, const char *serial,
		     int64_t started_at)
{
	struct db_unit_start st = {
		.station = "station-1",
		.port = port,
		.slot = "A3",
		.recipe = recipe,
		.recipe_sha256 = "ab12",
		.vid = 0x0483,
		.pid = 0xdf11,
		.serial = serial,
		.flashd_version = "0.1-test",
		.started_at = started_at,
	};
	struct err e = { 0 };
	int64_t id = -1;
	int rc = db_unit_begin(db, &st, &id, &e);

	if (rc < 0)
		TEST_FAIL("db_unit_begin: %d %s", rc, e.msg);
	return id;
}

static const char *sqlf(const char *fmt, long long v)
{
	static char buf[4][512];
	static int i;
	char *p = buf[i++ % 4];

	snprintf(p, 512, fmt, v);
	return p;
}

TEST(db_create_sets_schema_and_user_version)
{
	_cleanup_db_ struct db *db = open_new("create.db");
	const char *p = tpath("create.db");

	ASSERT_EQ(db_schema_version(db, NULL), DB_SCHEMA_VERSION);
	ASSERT_EQ(raw_int(p, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
			     "('units', 'unit_images', 'unit_stages')"),
		  3);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name IN "
			     "('unit_log', 'unit_latest', 'yield_daily', 'unit_images_hex')"),
		  4);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
			     "('units_by_serial', 'units_by_time')"),
		  2);
}

TEST(db_open_sets_wal_mode)
{
	_cleanup_db_ struct db *db = open_new("wal.db");

	ASSERT_SQL_TEXT(tpath("wal.db"), "PRAGMA journal_mode", "wal");
}

TEST(db_open_missing_file_gives_enoent)
{
	struct err e = { 0 };
	struct db *db = NULL;

	ASSERT_EQ(db_open(tpath("missing.db"), 0, &db, &e), -ENOENT);
	ASSERT_CONTAINS(e.msg, "missing.db' does not exist");
	ASSERT_EQ(db_open(tpath("missing.db"), DB_OPEN_READONLY, &db, &e), -ENOENT);
	ASSERT_TRUE(db == NULL);
	ASSERT_TRUE(access(tpath("missing.db"), F_OK) != 0);
}

TEST(db_unit_begin_writes_running_row)
{
	_cleanup_db_ struct db *db = open_new("begin.db");
	const char *p = tpath("begin.db");
	int64_t id = begin(db, "1-1.2", "stm32-app", NULL, 0);

	ASSERT_TRUE(id > 0);
	ASSERT_SQL_TEXT(p, sqlf("SELECT result FROM units WHERE id = %lld", id), "running");
	ASSERT_SQL_TEXT(p,
			sqlf("SELECT port || '|' || recipe || '|' || vid || '|' || slot "
			     "FROM units WHERE id = %lld",
			     id),
			"1-1.2|stm32-app|1155|A3");
	ASSERT_SQL_TEXT(p, sqlf("SELECT typeof(finished_at) FROM units WHERE id = %lld", id),
			"null");
	ASSERT_TRUE(llabs(raw_int(p, sqlf("SELECT started_at FROM units WHERE id = %lld", id)) -
			  db_now_ms()) < 5000);
}

/* n unit starts on ports 1-1.1 ... 1-1.n; ports holds their names. */
static void burst_starts(struct db_unit_start *st, char (*ports)[16], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(ports[i], sizeof(ports[i]), "1-1.%zu", i + 1);
		st[i] = (struct db_unit_start){ .station = "station-1",
						.port = ports[i],
						.recipe = "stm32-app",
						.recipe_sha256 = "ab12",
						.vid = 0x0483,
						.pid = 0xdf11,
						.flashd_version = "0.1-test" };
	}
}

TEST(db_units_begin_many_writes_a_burst_in_one_commit)
{
	_cleanup_db_ struct db *db = open_new("many.db");
	const char *p = tpath("many.db");
	struct db_unit_start st[32];
	char ports[32][16];
	int64_t ids[32], one;
	struct err e = { 0 };
	long c0;

	burst_starts(st, ports, 32);
	c0 = wal_commits(p);
	ASSERT_OK(db_units_begin_many(db, st, 32, ids, &e));
	/* 32 rows, one commit (one fsync): what a burst of boards costs. */
	ASSERT_EQ(wal_commits(p) - c0, 1);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM units WHERE result = 'running'"), 32);
	for (size_t i = 0; i < 32; i++)
		ASSERT_SQL_TEXT(p,
				sqlf("SELECT port FROM units WHERE id = %lld", (long long)ids[i]),
				ports[i]);
	/* The measure itself: db_unit_begin() is one commit per row. */
	c0 = wal_commits(p);
	ASSERT_OK(db_unit_begin(db, &st[0], &one, &e));
	ASSERT_OK(db_unit_begin(db, &st[1], &one, &e));
	ASSERT_EQ(wal_commits(p) - c0, 2);
}

TEST(db_units_begin_many_writes_none_when_one_is_refused)
{
	_cleanup_db_ struct db *db = open_new("many-bad.db");
	const char *p = tpath("many-bad.db");
	struct db_unit_start st[4];
	char ports[4][16];
	int64_t ids[4] = { -1, -1, -1, -1 };
	struct err e = { 0 };

	burst_starts(st, ports, 4);
	st[2].recipe = NULL;
	ASSERT_EQ(db_units_begin_many(db, st, 4, ids, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "recipe");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM units"), 0);
	for (size_t i = 0; i < 4; i++)
		ASSERT_EQ(ids[i], 0);
}

/* A commit the disk refuses (RLIMIT_FSIZE at the WAL's size, as
 * tests/db/test-pending.c fills it): no row, no id. */
TEST(db_units_begin_many_writes_none_when_the_commit_fails)
{
	_cleanup_db_ struct db *db = open_new("many-full.db");
	const char *p = tpath("many-full.db");
	struct db_unit_start st[8];
	char ports[8][16], wal[600];
	int64_t ids[8];
	struct err e = { 0 };
	struct rlimit saved, rl;
	struct stat sb;
	int rc;

	burst_starts(st, ports, 8);
	snprintf(wal, sizeof(wal), "%s-wal", p);
	ASSERT_OK(stat(wal, &sb));
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &saved);
	rl = saved;
	rl.rlim_cur = (rlim_t)sb.st_size;
	ASSERT_OK(setrlimit(RLIMIT_FSIZE, &rl));
	rc = db_units_begin_many(db, st, 8, ids, &e);
	ASSERT_OK(setrlimit(RLIMIT_FSIZE, &saved));
	ASSERT_TRUE(rc < 0);
	ASSERT_TRUE(db_error_is_storage(rc));
	for (size_t i = 0; i < 8; i++)
		ASSERT_EQ(ids[i], 0);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM units"), 0);
	/* The handle is usable again once the disk has room. */
	ASSERT_OK(db_units_begin_many(db, st, 8, ids, &e));
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM units"), 8);
}

TEST(db_unit_finish_sets_pass_and_duration)
{
	_cleanup_db_ struct db *db = open_new("finish.db");
	const char *p = tpath("finish.db");
	struct err e = { 0 };
	int64_t id = begin(db, "1-1.2", "stm32-app", "SN1", db_now_ms() - 1500);

	ASSERT_OK(db_unit_finish(db, id, DB_RESULT_PASS, NULL, NULL, &e));
	ASSERT_SQL_TEXT(p, sqlf("SELECT result FROM units WHERE id = %lld", id), "pass");
	ASSERT_TRUE(raw_int(p, sqlf("SELECT duration_ms FROM units WHERE id = %lld", id)) >= 1500);
	ASSERT_TRUE(raw_int(p, sqlf("SELECT duration_ms FROM units WHERE id = %lld", id)) < 10000);
	ASSERT_EQ(raw_int(p, sqlf("SELECT finished_at - started_at - duration_ms FROM units "
				  "WHERE id = %lld",
				  id)),
		  0);

	/* Finishing twice keeps the first result. */
	ASSERT_EQ(db_unit_finish(db, id, DB_RESULT_FAIL, "flash", "x", &e), -EALREADY);
	ASSERT_CONTAINS(e.msg, "already finished (pass)");
	ASSERT_SQL_TEXT(p, sqlf("SELECT result FROM units WHERE id = %lld", id), "pass");
	ASSERT_EQ(db_unit_finish(db, 999, DB_RESULT_PASS, NULL, NULL, &e), -ENOENT);
	ASSERT_EQ(db_unit_finish(db, id, DB_RESULT_RUNNING, NULL, NULL, &e), -EINVAL);
}

TEST(db_unit_finish_fail_records_stage_and_error)
{
	_cleanup_db_ struct db *db = open_new("fail.db");
	const char *p = tpath("fail.db");
	int64_t id = begin(db, "1-1.3", "t31", NULL, 0);

	ASSERT_OK(db_unit_finish(db, id, DB_RESULT_FAIL, "flash-app",
				 "CRC mismatch (host 0x1a2b3c4d, device 0x9f000000)", NULL));
	ASSERT_SQL_TEXT(p,
			sqlf("SELECT result || '|' || failed_stage || '|' || error FROM units "
			     "WHERE id = %lld",
			     id),
			"fail|flash-app|CRC mismatch (host 0x1a2b3c4d, device 0x9f000000)");
}

struct seen {
	int units, stages, images;
	char serial[64], chip_uid[64], jedec[64], stage_names[256];
	uint32_t host[4], dev[4];
	bool has_dev[4], verified[4];
	int64_t size[4];
};

static int seen_unit(const struct db_unit_row *r, void *ud)
{
	struct seen *s = ud;

	s->units++;
	snprintf(s->serial, sizeof(s->serial), "%s", r->serial ? r->serial : "(null)");
	snprintf(s->chip_uid, sizeof(s->chip_uid), "%s", r->chip_uid ? r->chip_uid : "(null)");
	snprintf(s->jedec, sizeof(s->jedec), "%s", r->jedec_id ? r->jedec_id : "(null)");
	return 0;
}

static int seen_stage(const struct db_stage_row *r, void *ud)
{
	struct seen *s = ud;
	size_t n = strlen(s->stage_names);

	s->stages++;
	snprintf(s->stage_names + n, sizeof(s->stage_names) - n, "%d:%s:%s;", r->idx, r->name,
		 r->result);
	return 0;
}

static int seen_image(const struct db_image_row *r, void *ud)
{
	struct seen *s = ud;

	if (s->images < 4) {
		s->host[s->images] = r->host_crc32;
		s->dev[s->images] = r->device_crc32;
		s->has_dev[s->images] = r->has_device_crc32;
		s->verified[s->images] = r->verified;
		s->size[s->images] = r->size;
	}
	s->images++;
	return 0;
}

TEST(db_unit_images_stages_identity_roundtrip)
{
	_cleanup_db_ struct db *db = open_new("images.db");
	const char *p = tpath("images.db");
	struct err e = { 0 };
	struct seen s = { 0 };
	int64_t id = begin(db, "1-1.4", "imx8", NULL, 0);
	struct db_unit_image boot = {
		.stage = "boot",
		.target = "sdp",
		.file = "u-boot.imx",
		.size = 1048576,
		.sha256 = "00ff",
		.has_host_crc32 = true,
		.host_crc32 = 0xffffffffu,
		.has_device_crc32 = true,
		.device_crc32 = 0xffffffffu,
		.verified = true,
	};
	struct db_unit_image app = {
		.stage = "flash",
		.target = "0x08004000",
		.file = "app.bin",
		.size = -1,
		.has_host_crc32 = true,
		.host_crc32 = 0x1a2b3c4du,
	};
	struct db_unit_stage st0 = { .idx = 0,
				     .name = "boot",
				     .result = DB_RESULT_PASS,
				     .started_at = 1000,
				     .duration_ms = 250 };
	struct db_unit_stage st1 = { .idx = 1,
				     .name = "flash",
				     .result = DB_RESULT_FAIL,
				     .error = "stall",
				     .started_at = 2000,
				     .duration_ms = -1 };
	struct db_unit_identity ident = { .serial = "SN-42", .jedec_id = "ef4018" };
	struct db_unit_identity uid = { .chip_uid = "0011223344" };

	ASSERT_OK(db_unit_image(db, id, &boot, &e));
	ASSERT_OK(db_unit_image(db, id, &app, &e));
	ASSERT_OK(db_unit_stage(db, id, &st0, &e));
	ASSERT_OK(db_unit_stage(db, id, &st1, &e));
	ASSERT_EQ(db_unit_stage(db, id, &st1, &e), -EEXIST);
	ASSERT_OK(db_unit_set_identity(db, id, &ident, &e));
	ASSERT_OK(db_unit_set_identity(db, id, &uid, &e)); /* NULL serial keeps SN-42 */
	ASSERT_EQ(db_unit_set_identity(db, 12345, &uid, &e), -ENOENT);

	ASSERT_SQL_TEXT(p, "SELECT host_crc32 FROM unit_images WHERE file = 'u-boot.imx'",
			"4294967295");
	ASSERT_SQL_TEXT(p,
			"SELECT host_crc32 || '/' || coalesce(device_crc32, '-') "
			"FROM unit_images_hex WHERE file = 'app.bin'",
			"1a2b3c4d/-");

	ASSERT_OK(db_query_unit(db, id, seen_unit, seen_stage, seen_image, &s, &e));
	ASSERT_EQ(s.units, 1);
	ASSERT_STREQ(s.serial, "SN-42");
	ASSERT_STREQ(s.chip_uid, "0011223344");
	ASSERT_STREQ(s.jedec, "ef4018");
	ASSERT_STREQ(s.stage_names, "0:boot:pass;1:flash:fail;");
	ASSERT_EQ(s.images, 2);
	ASSERT_EQ(s.host[0], 0xffffffffu);
	ASSERT_EQ(s.dev[0], 0xffffffffu);
	ASSERT_TRUE(s.verified[0]);
	ASSERT_EQ(s.size[0], 1048576);
	ASSERT_EQ(s.host[1], 0x1a2b3c4du);
	ASSERT_TRUE(!s.has_dev[1]);
	ASSERT_EQ(s.size[1], -1);

	/* Nothing is added to a finished unit. */
	ASSERT_OK(db_unit_finish(db, id, DB_RESULT_FAIL, "flash", "stall", &e));
	ASSERT_EQ(db_unit_image(db, id, &app, &e), -EALREADY);
	ASSERT_EQ(db_unit_image(db, 777, &app, &e), -ENOENT);
	ASSERT_EQ(db_query_unit(db, 777, NULL, NULL, NULL, NULL, &e), -ENOENT);
}

TEST(db_unit_begin_rejects_missing_fields)
{
	_cleanup_db_ struct db *db = open_new("args.db");
	struct db_unit_start st = { .station = "s", .port = "1-1", .flashd_version = "v" };
	struct err e = { 0 };
	int64_t id = -1;

	ASSERT_EQ(db_unit_begin(db, &st, &id, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "no recipe");
	ASSERT_EQ(id, -1);
}

TEST(db_recover_interrupted_turns_running_into_interrupted)
{
	const char *p = tpath("recover.db");
	struct err e = { 0 };
	struct db *db = open_new("recover.db");
	int64_t a = begin(db, "1-1", "r", "A", 0);
	int64_t b = begin(db, "1-2", "r", "B", 0);
	int64_t c = begin(db, "1-3", "r", "C", 0);

	ASSERT_OK(db_unit_finish(db, b, DB_RESULT_PASS, NULL, NULL, &e));
	db = db_close(db); /* the daemon dies with a and c running */

	ASSERT_OK(db_open(p, 0, &db, &e));
	ASSERT_EQ(db_recover_interrupted(db, NULL, &e), 2);
	ASSERT_EQ(db_recover_interrupted(db, NULL, &e), 0);
	db = db_close(db);
	ASSERT_SQL_TEXT(p, sqlf("SELECT result FROM units WHERE id = %lld", a), "interrupted");
	ASSERT_SQL_TEXT(p, sqlf("SELECT result FROM units WHERE id = %lld", b), "pass");
	ASSERT_SQL_TEXT(p, sqlf("SELECT result FROM units WHERE id = %lld", c), "interrupted");
	ASSERT_SQL_TEXT(p, sqlf("SELECT error FROM units WHERE id = %lld", c),
			"flashd stopped while the unit was running (recovered at start)");
	ASSERT_SQL_TEXT(p, sqlf("SELECT typeof(duration_ms) FROM units WHERE id = %lld", c),
			"null");
}

/* Stations sharing one file: a flashd starting recovers its own units only. */
TEST(db_recover_interrupted_scoped_to_the_station)
{
	const char *p = tpath("recover-st.db");
	struct err e = { 0 };
	struct db *db = open_new("recover-st.db");
	int64_t a = begin(db, "1-1", "r", "A", 0); /* station-1 */

	ASSERT_EQ(db_recover_interrupted(db, "line-2", &e), 0);
	ASSERT_SQL_TEXT(p, sqlf("SELECT result FROM units WHERE id = %lld", a), "running");
	ASSERT_EQ(db_recover_interrupted(db, "station-1", &e), 1);
	ASSERT_SQL_TEXT(p, sqlf("SELECT result FROM units WHERE id = %lld", a), "interrupted");
	db_close(db);
}

TEST(db_open_refuses_newer_schema)
{
	const char *p = tpath("newer.db");
	struct err e = { 0 };
	struct db *db = NULL;
	char sql[64];

	/* A rollback-journal file from "a future flashd": opening must not even switch it to WAL. */
	snprintf(sql, sizeof(sql), "CREATE TABLE future (x); PRAGMA user_version = %d",
		 DB_SCHEMA_VERSION + 1);
	raw_exec(p, sql);

	ASSERT_EQ(db_open(p, DB_OPEN_CREATE, &db, &e), -EPROTONOSUPPORT);
	ASSERT_CONTAINS(e.msg, "newer than this build supports");
	ASSERT_CONTAINS(e.msg, "refusing to write");
	ASSERT_TRUE(db == NULL);
	err_clear(&e);
	ASSERT_EQ(db_open(p, DB_OPEN_READONLY, &db, &e), -EPROTONOSUPPORT);
	snprintf(sql, sizeof(sql), "schema version %d, newer", DB_SCHEMA_VERSION + 1);
	ASSERT_CONTAINS(e.msg, sql);
	ASSERT_SQL_TEXT(p, "PRAGMA journal_mode", "delete");
	ASSERT_EQ(raw_int(p, "PRAGMA user_version"), DB_SCHEMA_VERSION + 1);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM sqlite_master"), 1);
}

static char *schema_dump(const char *path)
{
	return raw_text(path, "SELECT group_concat(type || ' ' || name || ': ' || sql, char(10)) "
			      "FROM (SELECT * FROM sqlite_master ORDER BY type, name)");
}

TEST(db_open_migrates_empty_v0_file)
{
	const char *p = tpath("v0.db");
	struct err e = { 0 };
	struct db *db = NULL;
	FILE *f = fopen(p, "w");
	char *got, *want;

	/* An empty file is a valid SQLite database at user_version 0. */
	ASSERT_TRUE(f != NULL);
	fclose(f);
	ASSERT_OK(db_open(p, 0, &db, &e));
	ASSERT_EQ(db_schema_version(db, &e), DB_SCHEMA_VERSION);
	db = db_close(db);

	db = open_new("v0-fresh.db");
	db = db_close(db);
	got = schema_dump(p);
	want = schema_dump(tpath("v0-fresh.db"));
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
}

TEST(db_open_migration_is_idempotent_and_keeps_rows)
{
	const char *p = tpath("reopen.db");
	struct err e = { 0 };
	struct db *db = open_new("reopen.db");
	int64_t id = begin(db, "1-1", "r", "KEEP", 0);

	ASSERT_OK(db_unit_finish(db, id, DB_RESULT_PASS, NULL, NULL, &e));
	db = db_close(db);
	ASSERT_OK(db_open(p, 0, &db, &e));
	db = db_close(db);
	ASSERT_SQL_TEXT(p, "SELECT result FROM units WHERE serial = 'KEEP'", "pass");
}

TEST(db_open_refuses_foreign_database)
{
	const char *p = tpath("foreign.db");
	struct err e = { 0 };
	struct db *db = NULL;

	raw_exec(p, "CREATE TABLE something_else (x)");
	ASSERT_EQ(db_open(p, 0, &db, &e), -EBADMSG);
	ASSERT_CONTAINS(e.msg, "not a flashd database");
	ASSERT_EQ(db_open(p, DB_OPEN_READONLY, &db, &e), -EBADMSG);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM sqlite_master"), 1);
}

TEST(db_open_refuses_garbage_file)
{
	const char *p = tpath("garbage.db");
	struct err e = { 0 };
	struct db *db = NULL;
	FILE *f = fopen(p, "w");

	ASSERT_TRUE(f != NULL);
	fputs("this is not an sqlite database, not at all, no sir......................\n", f);
	fclose(f);
	ASSERT_EQ(db_open(p, 0, &db, &e), -EBADMSG);
	ASSERT_CONTAINS(e.msg, "garbage.db");
}

TEST(db_readonly_handle_cannot_write)
{
	const char *p = tpath("ro.db");
	struct db_unit_start st = {
		.station = "s", .port = "1-1", .recipe = "r", .flashd_version = "v"
	};
	struct err e = { 0 };
	struct db *db = open_new("ro.db");
	int64_t id;

	db = db_close(db);
	ASSERT_OK(db_open(p, DB_OPEN_READONLY, &db, &e));
	ASSERT_EQ(db_unit_begin(db, &st, &id, &e), -EACCES);
	ASSERT_EQ(db_recover_interrupted(db, NULL, &e), -EACCES);
	db = db_close(db);
}

TEST(db_reader_does_not_block_writer)
{
	const char *p = tpath("readers.db");
	struct err e = { 0 };
	_cleanup_db_ struct db *db = open_new("readers.db");
	sqlite3 *reader = NULL;
	sqlite3_stmt *s = NULL;
	int64_t id, t0;

	begin(db, "1-1", "r", "X", 0);
	/* QA holds a read transaction open (a slow export) while the daemon writes. */
	ASSERT_EQ(sqlite3_open_v2(p, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(reader, "SELECT count(*) FROM units", -1, &s, NULL),
		  SQLITE_OK);
	ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
	ASSERT_EQ(sqlite3_column_int(s, 0), 1);
	sqlite3_reset(s);

	t0 = db_now_ms();
	id = begin(db, "1-2", "r", "Y", 0);
	ASSERT_OK(db_unit_finish(db, id, DB_RESULT_PASS, NULL, NULL, &e));
	ASSERT_TRUE(db_now_ms() - t0 < 1000);

	/* The reader's snapshot is stable; a new transaction sees the write. */
	ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
	ASSERT_EQ(sqlite3_column_int(s, 0), 1);
	sqlite3_reset(s);
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
	ASSERT_EQ(sqlite3_column_int(s, 0), 2);
	sqlite3_finalize(s);
	sqlite3_close(reader);
}

/* Fixture for the query tests: fixed times, results and durations. */
#define DAY1 1767225600000LL /* 2026-01-01T00:00:00Z */
#define DAY2 (DAY1 + 86400000LL)

static struct db *query_fixture(const char *name)
{
	struct db *db = open_new(name);
	static const struct {
		const char *port, *recipe, *serial;
		int64_t at;
		enum db_result result;
		int64_t duration;
	} u[] = {
		{ "1-1", "stm32", "S1", DAY1 + 1000, DB_RESULT_PASS, 10000 },
		{ "1-2", "stm32", "S2", DAY1 + 2000, DB_RESULT_FAIL, 3000 },
		{ "1-1", "stm32", "S1", DAY1 + 3000, DB_RESULT_PASS, 12000 },
		{ "1-2", "t31", "T1", DAY1 + 4000, DB_RESULT_INTERRUPTED, -1 },
		{ "1-1", "t31", "T2", DAY2 + 1000, DB_RESULT_PASS, 20000 },
		{ "1-2", "t31", "T3", DAY2 + 2000, DB_RESULT_RUNNING, -1 },
	};
	char sql[256];

	for (size_t i = 0; i < ARRAY_SIZE(u); i++) {
		int64_t id = begin(db, u[i].port, u[i].recipe, u[i].serial, u[i].at);

		if (u[i].result != DB_RESULT_RUNNING)
			ASSERT_OK(db_unit_finish(db, id, u[i].result, NULL, NULL, NULL));
		/* Fixed durations instead of "now - started_at". */
		if (u[i].duration >= 0)
			snprintf(
				sql, sizeof(sql),
				"UPDATE units SET duration_ms = %lld, finished_at = started_at + %lld "
				"WHERE id = %lld",
				(long long)u[i].duration, (long long)u[i].duration, (long long)id);
		else
			snprintf(sql, sizeof(sql),
				 "UPDATE units SET duration_ms = NULL, finished_at = NULL "
				 "WHERE id = %lld",
				 (long long)id);
		raw_exec(tpath(name), sql);
	}
	return db;
}

struct ids {
	int n;
	int64_t id[16];
};

static int collect_id(const struct db_unit_row *r, void *ud)
{
	struct ids *ids = ud;

	if (ids->n < 16)
		ids->id[ids->n] = r->id;
	ids->n++;
	return 0;
}

static int stop_at_two(const struct db_unit_row *r, void *ud)
{
	struct ids *ids = ud;

	(void)r;
	return ++ids->n == 2 ? -ECANCELED : 0;
}

TEST(db_query_units_filters_and_orders)
{
	_cleanup_db_ struct db *db = query_fixture("query.db");
	struct db_filter f;
	struct err e = { 0 };
	struct ids ids = { 0 };

	ASSERT_EQ(db_query_units(db, NULL, false, 0, collect_id, &ids, &e), 6);
	ASSERT_EQ(ids.id[0], 1);
	ASSERT_EQ(ids.id[5], 6);

	ids = (struct ids){ 0 };
	f = (struct db_filter){ .serial = "S1" };
	ASSERT_EQ(db_query_units(db, &f, true, 0, collect_id, &ids, &e), 2);
	ASSERT_EQ(ids.id[0], 3);
	ASSERT_EQ(ids.id[1], 1);

	f = (struct db_filter){ .recipe = "t31", .result = "pass" };
	ASSERT_EQ(db_query_units(db, &f, false, 0, NULL, NULL, &e), 1);
	f = (struct db_filter){ .port = "1-2", .since = DAY1 + 2000, .until = DAY2 };
	ASSERT_EQ(db_query_units(db, &f, false, 0, NULL, NULL, &e), 2);
	f = (struct db_filter){ .since = DAY2 };
	ASSERT_EQ(db_query_units(db, &f, false, 0, NULL, NULL, &e), 2);
	ASSERT_EQ(db_query_units(db, NULL, true, 3, NULL, NULL, &e), 3);

	f = (struct db_filter){ .result = "bogus" };
	ASSERT_EQ(db_query_units(db, &f, false, 0, NULL, NULL, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "invalid result 'bogus'");

	ids = (struct ids){ 0 };
	ASSERT_EQ(db_query_units(db, NULL, false, 0, stop_at_two, &ids, &e), -ECANCELED);
}

TEST(db_query_find_unit_by_id_or_serial)
{
	_cleanup_db_ struct db *db = query_fixture("find.db");
	struct err e = { 0 };
	int64_t id = 0;

	ASSERT_OK(db_query_find_unit(db, "2", false, &id, &e));
	ASSERT_EQ(id, 2);
	ASSERT_OK(db_query_find_unit(db, "S1", false, &id, &e));
	ASSERT_EQ(id, 3); /* the latest attempt */
	ASSERT_EQ(db_query_find_unit(db, "2", true, &id, &e), -ENOENT);
	ASSERT_CONTAINS(e.msg, "no unit with serial '2'");
	err_clear(&e);
	ASSERT_EQ(db_query_find_unit(db, "NOPE", false, &id, &e), -ENOENT);
	ASSERT_CONTAINS(e.msg, "no unit with serial, chip UID or identity 'NOPE'");
}

struct stats_seen {
	int n;
	char keys[128];
	struct db_stats_row rows[8];
};

static int collect_stats(const struct db_stats_row *r, void *ud)
{
	struct stats_seen *s = ud;
	size_t n = strlen(s->keys);

	snprintf(s->keys + n, sizeof(s->keys) - n, "%s;", r->key);
	if (s->n < 8)
		s->rows[s->n] = *r;
	s->rows[s->n].key = NULL; /* valid only during the callback */
	s->n++;
	return 0;
}

TEST(db_query_stats_groups_yield_and_percentiles)
{
	_cleanup_db_ struct db *db = query_fixture("stats.db");
	struct stats_seen s = { 0 };
	struct err e = { 0 };
	struct db_filter day1 = { .since = DAY1, .until = DAY2 };

	ASSERT_EQ(db_query_stats(db, DB_STATS_BY_RECIPE, NULL, collect_stats, &s, &e), 2);
	ASSERT_STREQ(s.keys, "stm32;t31;");
	ASSERT_EQ(s.rows[0].units, 3);
	ASSERT_EQ(s.rows[0].pass, 2);
	ASSERT_EQ(s.rows[0].fail, 1);
	ASSERT_TRUE(fabs(s.rows[0].yield - 2.0 / 3.0) < 1e-9);
	ASSERT_EQ(s.rows[0].n_timed, 3);
	ASSERT_TRUE(fabs(s.rows[0].mean_ms - 25000.0 / 3.0) < 1e-6);
	ASSERT_EQ(s.rows[0].p95_ms, 12000);
	ASSERT_EQ(s.rows[1].units, 3);
	ASSERT_EQ(s.rows[1].interrupted, 1);
	ASSERT_EQ(s.rows[1].running, 1);
	ASSERT_TRUE(fabs(s.rows[1].yield - 0.5) < 1e-9);
	ASSERT_EQ(s.rows[1].n_timed, 1);
	ASSERT_EQ(s.rows[1].p95_ms, 20000);

	s = (struct stats_seen){ 0 };
	ASSERT_EQ(db_query_stats(db, DB_STATS_BY_DAY, NULL, collect_stats, &s, &e), 2);
	ASSERT_STREQ(s.keys, "2026-01-01;2026-01-02;");

	s = (struct stats_seen){ 0 };
	ASSERT_EQ(db_query_stats(db, DB_STATS_BY_PORT, &day1, collect_stats, &s, &e), 2);
	ASSERT_STREQ(s.keys, "1-1;1-2;");
	ASSERT_EQ(s.rows[1].units, 2);
	ASSERT_EQ(s.rows[1].n_timed, 1);
	ASSERT_EQ(s.rows[1].p95_ms, 3000);

	s = (struct stats_seen){ 0 };
	day1.recipe = "nothing";
	ASSERT_EQ(db_query_stats(db, DB_STATS_BY_DAY, &day1, collect_stats, &s, &e), 0);
	ASSERT_EQ(db_query_stats(db, (enum db_stats_by)7, NULL, collect_stats, &s, &e), -EINVAL);
}

TEST(db_stats_p95_is_nearest_rank)
{
	_cleanup_db_ struct db *db = open_new("p95.db");
	struct stats_seen s = { 0 };
	struct err e = { 0 };

	/* Durations 1..100 s: nearest-rank p95 is the 95th value. */
	for (int i = 1; i <= 100; i++)
		ASSERT_OK(db_unit_finish(db, begin(db, "1-1", "r", NULL, DAY1 + i), DB_RESULT_PASS,
					 NULL, NULL, &e));
	raw_exec(tpath("p95.db"), "UPDATE units SET duration_ms = id * 1000");
	ASSERT_EQ(db_query_stats(db, DB_STATS_BY_RECIPE, NULL, collect_stats, &s, &e), 1);
	ASSERT_EQ(s.rows[0].p95_ms, 95000);
	ASSERT_TRUE(fabs(s.rows[0].mean_ms - 50500.0) < 1e-6);
	ASSERT_TRUE(fabs(s.rows[0].yield - 1.0) < 1e-9);
}

TEST(db_views_latest_and_yield)
{
	_cleanup_db_ struct db *db = query_fixture("views.db");
	const char *p = tpath("views.db");

	ASSERT_SQL_TEXT(p,
			"SELECT id || '|' || result || '|' || attempts FROM unit_latest "
			"WHERE serial = 'S1'",
			"3|pass|2");
	ASSERT_SQL_TEXT(p, "SELECT started_iso FROM unit_latest WHERE serial = 'S1'",
			"2026-01-01T00:00:03.000Z");
	ASSERT_SQL_TEXT(p,
			"SELECT units || '|' || pass || '|' || fail || '|' || yield_pct "
			"FROM yield_daily WHERE day = '2026-01-01' AND recipe = 'stm32'",
			"3|2|1|66.67");
	ASSERT_SQL_TEXT(p,
			"SELECT units || '|' || running || '|' || yield_pct FROM yield_daily "
			"WHERE day = '2026-01-02' AND recipe = 't31'",
			"2|1|100.0");
}

static char *query_plan(const char *path, const char *sql)
{
	static char plan[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char eqp[512];

	plan[0] = '\0';
	snprintf(eqp, sizeof(eqp), "EXPLAIN QUERY PLAN %s", sql);
	ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, eqp, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		size_t n = strlen(plan);

		snprintf(plan + n, sizeof(plan) - n, "%s;", sqlite3_column_text(s, 3));
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return plan;
}

TEST(db_serial_and_time_lookups_use_indexes)
{
	_cleanup_db_ struct db *db = query_fixture("plan.db");
	const char *p = tpath("plan.db");

	/* Latest by serial: an index search, no sort (what flashctl show runs). */
	ASSERT_STREQ(query_plan(p, "SELECT id FROM units WHERE serial = 'S1' "
				   "ORDER BY started_at DESC, id DESC LIMIT 1"),
		     "SEARCH units USING COVERING INDEX units_by_serial (serial=?);");
	ASSERT_CONTAINS(
		query_plan(p, "SELECT * FROM units WHERE started_at >= 1 AND started_at < 2"),
		"USING INDEX units_by_time");
	ASSERT_CONTAINS(query_plan(p, "SELECT * FROM unit_latest WHERE serial = 'S1'"),
			"INDEX units_by_serial (serial=?)");
}

static int copy_row(const struct db_unit_row *r, void *ud)
{
	struct db_unit_row *out = ud;

	/* Strings die with the callback: keep the numbers and the result's first letter. */
	*out = (struct db_unit_row){ .id = r->id,
				     .finished_at = r->finished_at,
				     .result =
					     r->result && r->result[0] == 'p' ? "pass" : "other" };
	return 0;
}

/*
 * flashd asks on every board arrival for the newest unit on the port (is
 * the board that unit back after its pass?): on the loop thread, so one
 * index search, never a scan of the units table.
 */
TEST(db_last_unit_of_a_port_is_one_index_search)
{
	_cleanup_db_ struct db *db = query_fixture("port-last.db");
	const char *p = tpath("port-last.db");
	struct db_filter f = { .port = "1-1" };
	struct db_unit_row row = { 0 };
	struct err e = { 0 };

	ASSERT_EQ(db_query_units(db, &f, true, 1, copy_row, &row, &e), 1);
	ASSERT_EQ(row.id, 5);
	ASSERT_STREQ(row.result, "pass");
	ASSERT_EQ(row.finished_at, DAY2 + 1000 + 20000);
	f.port = "1-2";
	ASSERT_EQ(db_query_units(db, &f, true, 1, copy_row, &row, &e), 1);
	ASSERT_EQ(row.id, 6);
	f.port = "9-9";
	ASSERT_EQ(db_query_units(db, &f, true, 1, copy_row, &row, &e), 0);

	/* The statement db_query_units() builds for that filter. */
	ASSERT_STREQ(query_plan(p, "SELECT * FROM units WHERE 1 AND port = '1-1' "
				   "ORDER BY started_at DESC, id DESC LIMIT 1"),
		     "SEARCH units USING INDEX units_by_port (port=?);");
}

TEST(db_result_names_roundtrip)
{
	for (int i = 0; i < _DB_RESULT_MAX; i++)
		ASSERT_EQ(db_result_from_name(db_result_name((enum db_result)i)), i);
	ASSERT_EQ(db_result_from_name("nope"), _DB_RESULT_INVALID);
	ASSERT_TRUE(db_result_name(_DB_RESULT_MAX) == NULL);
	ASSERT_EQ(db_stats_by_from_name("day"), DB_STATS_BY_DAY);
	ASSERT_EQ(db_stats_by_from_name("week"), _DB_STATS_BY_INVALID);
}

static int collect_slot(const struct db_unit_row *r, void *ud)
{
	char *out = ud;

	strcat(out, r->slot ? r->slot : "-");
	strcat(out, ",");
	return 0;
}

TEST(db_slot_labels_are_kept_as_written)
{
	_cleanup_db_ struct db *db = open_new("slots.db");
	const char *p = tpath("slots.db");
	const char *labels[] = { "A3", "B3", "C3" };
	struct err e = { 0 };
	char got[64] = "";

	/* A3, B3 and C3 are three fixture positions, not three times slot 3. */
	for (size_t i = 0; i < ARRAY_SIZE(labels); i++) {
		struct db_unit_start st = { .station = "s",
					    .port = "1-1",
					    .slot = labels[i],
					    .recipe = "r",
					    .flashd_version = "v" };
		int64_t id;

		ASSERT_OK(db_unit_begin(db, &st, &id, &e));
	}
	ASSERT_EQ(db_query_units(db, NULL, false, 0, collect_slot, got, &e), 3);
	ASSERT_STREQ(got, "A3,B3,C3,");
	ASSERT_EQ(raw_int(p, "SELECT count(DISTINCT slot) FROM units"), 3);
	ASSERT_SQL_TEXT(p, "SELECT group_concat(slot) FROM unit_log", "A3,B3,C3");
}

extern const char db_schema_sql[];

/* s with its one occurrence of old replaced by new (malloc'd). */
static char *replace_once(const char *s, const char *old, const char *new)
{
	const char *at = strstr(s, old);
	size_t n = strlen(s) - strlen(old) + strlen(new) + 1;
	char *out = malloc(n);

	if (!at || !out)
		TEST_FAIL("replace_once: '%s' not found", old);
	snprintf(out, n, "%.*s%s%s", (int)(at - s), s, new, at + strlen(old));
	return out;
}

/* Today's schema cut before the block starting with marker, at version v (malloc'd). */
static char *schema_before(const char *marker, int v)
{
	const char *from = strstr(db_schema_sql, marker);
	const char *to = strstr(db_schema_sql, "PRAGMA user_version = 6;");
	size_t n = strlen(db_schema_sql) + 1;
	char *out = malloc(n);

	if (!from || !to || !out)
		TEST_FAIL("schema_before: '%s' not found in db/schema.sql", marker);
	snprintf(out, n, "%.*sPRAGMA user_version = %d;%s", (int)(from - db_schema_sql),
		 db_schema_sql, v, to + strlen("PRAGMA user_version = 6;"));
	return out;
}

/* The schema of version 3: today's without the identity pools of version 4 (malloc'd). */
static char *schema_v3(void)
{
	return schema_before("-- Identity pools (schema version 4)", 3);
}

/* The schema of version 4: today's without the outbox of version 5 (malloc'd). */
static char *schema_v4(void)
{
	return schema_before("-- Station outbox (schema version 5)", 4);
}

/* The schema of version 5: today's without the pool blocks of version 6 (malloc'd). */
static char *schema_v5(void)
{
	return schema_before("-- Pool blocks (schema version 6)", 5);
}

TEST(db_open_migrates_v1_integer_slot_to_text)
{
	const char *p = tpath("v1.db");
	struct err e = { 0 };
	struct db *db = NULL;
	char *v3 = schema_v3(), *a, *b, *v1, *got, *want;

	/* Schema version 1 had "slot INTEGER", no units_by_port, and is otherwise version 3. */
	a = replace_once(
		v3,
		"\tslot\t\tTEXT,\t\t\t-- fixture slot label as configured ('A3'), NULL if unmapped\n",
		"\tslot\t\tINTEGER,\t\t-- fixture slot number, NULL if unmapped\n");
	b = replace_once(a, "CREATE INDEX units_by_port ON units (port, started_at);\n", "");
	v1 = replace_once(b, "PRAGMA user_version = 3;", "PRAGMA user_version = 1;");
	raw_exec(p, v1);
	free(v3);
	free(a);
	free(b);
	free(v1);
	raw_exec(p,
		 "INSERT INTO units (id, station, port, slot, recipe, started_at, flashd_version) "
		 "VALUES (1, 's', '1-1', 3, 'r', 1, 'v'), (2, 's', '1-2', NULL, 'r', 2, 'v');"
		 "INSERT INTO unit_stages VALUES (1, 0, 'flash', 'pass', NULL, 1, 5);"
		 "INSERT INTO unit_images (unit_id, stage, file) VALUES (1, 'flash', 'app.bin');");
	ASSERT_SQL_TEXT(p, "SELECT typeof(slot) FROM units WHERE id = 1", "integer");

	ASSERT_OK(db_open(p, 0, &db, &e));
	ASSERT_EQ(db_schema_version(db, &e), DB_SCHEMA_VERSION);
	db = db_close(db);

	/* Old numbers become their text; rows, stages and images survive the rebuild. */
	ASSERT_SQL_TEXT(p, "SELECT typeof(slot) || ':' || slot FROM units WHERE id = 1", "text:3");
	ASSERT_SQL_TEXT(p, "SELECT typeof(slot) FROM units WHERE id = 2", "null");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM unit_stages WHERE unit_id = 1"), 1);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM unit_images WHERE unit_id = 1"), 1);
	ASSERT_SQL_TEXT(p, "SELECT slot FROM unit_log WHERE id = 1", "3");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

	/* Same schema as a database created by this build. */
	db = open_new("v1-fresh.db");
	db = db_close(db);
	got = schema_dump(p);
	want = schema_dump(tpath("v1-fresh.db"));
	ASSERT_STREQ(got, want);
	free(got);
	free(want);

	/* And it takes labels now. */
	ASSERT_OK(db_open(p, 0, &db, &e));
	{
		struct db_unit_start st = { .station = "s",
					    .port = "1-3",
					    .slot = "B3",
					    .recipe = "r",
					    .flashd_version = "v" };
		int64_t id;

		ASSERT_OK(db_unit_begin(db, &st, &id, &e));
	}
	db = db_close(db);
	ASSERT_SQL_TEXT(p, "SELECT group_concat(slot) FROM units", "3,B3");
}

TEST(db_open_migrates_v2_adding_the_port_index)
{
	const char *p = tpath("v2.db");
	struct err e = { 0 };
	struct db *db = NULL;
	char *v3 = schema_v3(), *a, *v2, *got, *want;

	/* Schema version 2 is version 3 without units_by_port. */
	a = replace_once(v3, "CREATE INDEX units_by_port ON units (port, started_at);\n", "");
	v2 = replace_once(a, "PRAGMA user_version = 3;", "PRAGMA user_version = 2;");
	raw_exec(p, v2);
	free(v3);
	free(a);
	free(v2);
	raw_exec(
		p,
		"INSERT INTO units (id, station, port, slot, recipe, result, started_at, "
		"finished_at, flashd_version) VALUES (7, 's', '1-1', 'A1', 'r', 'pass', 1, 2, 'v')");

	ASSERT_OK(db_open(p, 0, &db, &e));
	ASSERT_EQ(db_schema_version(db, &e), DB_SCHEMA_VERSION);
	db = db_close(db);
	ASSERT_SQL_TEXT(p, "SELECT id || ':' || result FROM units WHERE port = '1-1'", "7:pass");
	ASSERT_CONTAINS(query_plan(p, "SELECT id FROM units WHERE port = '1-1' "
				      "ORDER BY started_at DESC LIMIT 1"),
			"units_by_port");

	db = open_new("v2-fresh.db");
	db = db_close(db);
	got = schema_dump(p);
	want = schema_dump(tpath("v2-fresh.db"));
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
}

TEST(db_open_migrates_v3_adding_identity_pools)
{
	const char *p = tpath("v3.db");
	struct err e = { 0 };
	struct db *db = NULL;
	char *v3 = schema_v3(), *got, *want;

	raw_exec(p, v3);
	free(v3);
	raw_exec(
		p,
		"INSERT INTO units (id, station, port, slot, recipe, result, started_at, "
		"finished_at, flashd_version) VALUES (9, 's', '1-1', 'A1', 'r', 'pass', 1, 2, 'v')");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'pools'"), 0);

	ASSERT_OK(db_open(p, 0, &db, &e));
	ASSERT_EQ(db_schema_version(db, &e), DB_SCHEMA_VERSION);
	db = db_close(db);
	ASSERT_SQL_TEXT(p, "SELECT id || ':' || result FROM units", "9:pass");
	raw_exec(p, "INSERT INTO pools (name, kind, created_at) VALUES ('l', 'list', 1);"
		    "INSERT INTO pool_values (pool, seq, value) VALUES ('l', 1, 'x');"
		    "INSERT INTO unit_identities (unit_id, pool, seq, value, allocated_at) "
		    "VALUES (9, 'l', 1, 'x', 1)");

	db = open_new("v3-fresh.db");
	db = db_close(db);
	got = schema_dump(p);
	want = schema_dump(tpath("v3-fresh.db"));
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
}

TEST(db_open_migrates_v4_adding_the_outbox_with_the_history)
{
	const char *p = tpath("v4.db");
	struct err e = { 0 };
	struct db *db = NULL;
	char *v4 = schema_v4(), *got, *want;

	raw_exec(p, v4);
	free(v4);
	raw_exec(
		p,
		"INSERT INTO units (id, station, port, slot, recipe, result, started_at, "
		"finished_at, flashd_version) VALUES (9, 's', '1-1', 'A1', 'r', 'pass', 1, 2, 'v'),"
		"(10, 's', '1-2', 'A2', 'r', 'running', 3, NULL, 'v');"
		"INSERT INTO unit_stages VALUES (9, 0, 'flash', 'pass', NULL, 1, 1);"
		"INSERT INTO pools (name, kind, created_at) VALUES ('l', 'list', 1);"
		"INSERT INTO pool_values (pool, seq, value) VALUES ('l', 1, 'x');"
		"INSERT INTO unit_identities (unit_id, pool, seq, value, state, allocated_at) "
		"VALUES (9, 'l', 1, 'x', 'used', 1)");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'outbox'"), 0);

	ASSERT_OK(db_open(p, 0, &db, &e));
	ASSERT_EQ(db_schema_version(db, &e), DB_SCHEMA_VERSION);
	db = db_close(db);
	/* Finished units and identities before the upgrade are in the outbox, in order. */
	ASSERT_SQL_TEXT(p,
			"SELECT group_concat(seq || kind || ref || coalesce(json_extract(payload, "
			"'$.stages[0].name'), ''), ',') FROM outbox",
			"1unit9flash,2identity1");
	ASSERT_EQ(raw_int(p, "SELECT length(uuid) FROM station_identity"), 36);

	db = open_new("v4-fresh.db");
	db = db_close(db);
	got = schema_dump(p);
	want = schema_dump(tpath("v4-fresh.db"));
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
}

TEST(db_open_migrates_v5_giving_each_ranged_pool_its_range_as_a_block)
{
	const char *p = tpath("v5.db");
	struct err e = { 0 };
	struct db *db = NULL;
	char *v5 = schema_v5(), *got, *want;

	raw_exec(p, v5);
	free(v5);
	raw_exec(
		p,
		"INSERT INTO pools (name, kind, format, first_seq, last_seq, next_seq, created_at) "
		"VALUES ('c', 'counter', 'S{seq:4}', 10, 99, 12, 7),"
		"('l', 'list', NULL, NULL, NULL, NULL, 8)");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'pool_blocks'"), 0);

	ASSERT_OK(db_open(p, 0, &db, &e));
	ASSERT_EQ(db_schema_version(db, &e), DB_SCHEMA_VERSION);
	db = db_close(db);
	/* The counter's range is its one block; a list pool has none. */
	ASSERT_SQL_TEXT(
		p,
		"SELECT group_concat(pool || ':' || first_seq || '..' || last_seq || ':' || "
		"next_seq || ':' || coalesce(lease, '-') || ':' || added_at, ',') FROM pool_blocks",
		"c:10..99:12:-:7");

	db = open_new("v5-fresh.db");
	db = db_close(db);
	got = schema_dump(p);
	want = schema_dump(tpath("v5-fresh.db"));
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
}

TEST_MAIN()
