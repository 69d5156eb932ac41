/*
 * Tests for db/pending.c: unit records the database could not take are
 * queued (memory and journal file), written in order once it takes writes
 * again, survive a restart through the journal file, and a replay done twice
 * writes nothing twice.  The database is made unwritable the way a full disk
 * does it: RLIMIT_FSIZE at the size of its WAL (writes fail with EFBIG,
 * SQLite reports "disk I/O error"), no root needed; tests/daemon/
 * test-flashd-dbfull.sh fills a real filesystem.
 */
#include "db/pending.h"
#include "db/units.h"
#include "tests/db/db-test-util.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

static struct rlimit saved_limit;

/* Files may not grow past the WAL's size: every commit fails from now on. */
static void disk_full(const char *db_path)
{
	char wal[600];
	struct stat st;
	struct rlimit rl;

	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	if (stat(wal, &st) < 0)
		TEST_FAIL("stat %s: %s", wal, strerror(errno));
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &saved_limit);
	rl = saved_limit;
	rl.rlim_cur = (rlim_t)st.st_size;
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		TEST_FAIL("setrlimit: %s", strerror(errno));
}

static void disk_freed(void)
{
	if (setrlimit(RLIMIT_FSIZE, &saved_limit) < 0)
		TEST_FAIL("setrlimit: %s", strerror(errno));
}

static struct db *open_db(const char *path)
{
	struct err e = { 0 };
	struct db *db = NULL;

	if (db_open(path, DB_OPEN_CREATE, &db, &e) < 0)
		TEST_FAIL("db_open: %s", e.msg);
	return db;
}

static int64_t begin(struct db *db)
{
	struct db_unit_start st = { .station = "s1",
				    .port = "1-1.2",
				    .recipe = "r",
				    .flashd_version = "t",
				    .vid = 0x0483,
				    .pid = 0xdf11 };
	struct err e = { 0 };
	int64_t id = 0;

	if (db_unit_begin(db, &st, &id, &e) < 0)
		TEST_FAIL("db_unit_begin: %s", e.msg);
	return id;
}

static struct db_pending *new_queue(const char *journal, const char *db_path)
{
	struct db_pending *q = NULL;
	struct err e = { 0 };
	int r = db_pending_new(journal, db_path, &q, &e);

	if (r < 0)
		TEST_FAIL("db_pending_new: %d %s", r, e.msg);
	return q;
}

static int submit(struct db_pending *q, struct db *db, const struct db_rec *rec)
{
	struct err e = { 0 };

	return db_pending_submit(q, db, rec, &e);
}

/* A unit's records after its row began: identity, two stages, an image, the finish. */
static void submit_unit(struct db_pending *q, struct db *db, int64_t id, int expect)
{
	struct db_rec recs[] = {
		{ .kind = DB_REC_IDENTITY,
		  .unit_id = id,
		  .u.identity = { .serial = "SN\t1\\x", .chip_uid = "UID1" } },
		{ .kind = DB_REC_STAGE,
		  .unit_id = id,
		  .u.stage = { .idx = 0,
			       .name = "boot",
			       .result = DB_RESULT_PASS,
			       .started_at = 1000,
			       .duration_ms = 5 } },
		{ .kind = DB_REC_IMAGE,
		  .unit_id = id,
		  .u.image = { .stage = "boot",
			       .target = "0x08000000",
			       .file = "images/boot.bin",
			       .size = 24576,
			       .sha256 = "ab",
			       .has_host_crc32 = true,
			       .host_crc32 = 0xdeadbeef,
			       .has_device_crc32 = true,
			       .device_crc32 = 0xdeadbeef,
			       .verified = true } },
		{ .kind = DB_REC_STAGE,
		  .unit_id = id,
		  .u.stage = { .idx = 1,
			       .name = "leave",
			       .result = DB_RESULT_PASS,
			       .error = "line1\nline2",
			       .started_at = 2000,
			       .duration_ms = -1 } },
		{ .kind = DB_REC_FINISH,
		  .unit_id = id,
		  .u.finish = { .result = DB_RESULT_PASS, .finished_at = 123456 } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(recs); i++)
		ASSERT_EQ(submit(q, db, &recs[i]), expect);
}

static void assert_unit_complete(const char *path, int64_t id)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT result || ' ' || finished_at FROM units WHERE id = %lld",
		 (long long)id);
	ASSERT_SQL_TEXT(path, sql, "pass 123456");
	snprintf(sql, sizeof(sql), "SELECT serial FROM units WHERE id = %lld", (long long)id);
	ASSERT_SQL_TEXT(path, sql, "SN\t1\\x");
	snprintf(
		sql, sizeof(sql),
		"SELECT group_concat(idx || ':' || name || ':' || coalesce(error, '-'), ',') FROM unit_stages WHERE unit_id = %lld",
		(long long)id);
	ASSERT_SQL_TEXT(path, sql, "0:boot:-,1:leave:line1\nline2");
	snprintf(
		sql, sizeof(sql),
		"SELECT count(*) || ' ' || min(host_crc32) || ' ' || min(verified) FROM unit_images WHERE unit_id = %lld",
		(long long)id);
	ASSERT_SQL_TEXT(path, sql, "1 3735928559 1");
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

TEST(pending_writes_at_once_while_the_database_takes_writes)
{
	const char *path = tpath("ok.db"), *jr = tpath("ok.journal");
	_cleanup_db_ struct db *db = open_db(path);
	struct db_pending *q = new_queue(jr, path);
	int64_t id = begin(db);

	submit_unit(q, db, id, 0);
	assert_unit_complete(path, id);
	ASSERT_TRUE(!db_pending_blocked(q));
	ASSERT_EQ(db_pending_count(q), 0);
	ASSERT_TRUE(!exists(jr));
	db_pending_free(q);
}

TEST(pending_queues_on_disk_full_and_replays_in_order_when_freed)
{
	const char *path = tpath("full.db"), *jr = tpath("full.journal");
	_cleanup_db_ struct db *db = open_db(path);
	struct db_pending *q = new_queue(jr, path);
	struct db_pending_replay_stats st;
	struct err e = { 0 };
	int64_t id = begin(db);
	char why[ERR_MSG_MAX];

	disk_full(path);
	submit_unit(q, db, id, 1);
	ASSERT_TRUE(db_pending_blocked(q));
	ASSERT_EQ(db_pending_count(q), 5);
	ASSERT_EQ(db_pending_units(q), 1);
	ASSERT_TRUE(db_pending_has_unit(q, id));
	db_pending_why(q, why, sizeof(why));
	ASSERT_TRUE(strstr(why, "set identity") != NULL); /* the first failure */
	ASSERT_TRUE(exists(jr));
	ASSERT_SQL_TEXT(path, "SELECT result FROM units", "running");

	/* Still full: nothing moves, nothing is lost. */
	ASSERT_TRUE(db_error_is_storage(db_pending_replay(q, db, &st, &e)));
	ASSERT_EQ(db_pending_count(q), 5);
	ASSERT_TRUE(db_pending_blocked(q));

	disk_freed();
	if (db_pending_replay(q, db, &st, &e) < 0)
		TEST_FAIL("replay: %s", e.msg);
	ASSERT_EQ(st.written, 5);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_TRUE(!db_pending_blocked(q));
	ASSERT_EQ(db_pending_count(q), 0);
	ASSERT_TRUE(!db_pending_has_unit(q, id));
	ASSERT_TRUE(!exists(jr));
	assert_unit_complete(path, id);
	db_pending_free(q);
}

/* The station asks it for a unit whose row still says 'running' (the rearm rule). */
TEST(pending_finish_of_a_queued_unit_is_known_across_a_restart)
{
	const char *path = tpath("fin.db"), *jr = tpath("fin.journal");
	_cleanup_db_ struct db *db = open_db(path);
	struct db_pending *q = new_queue(jr, path);
	struct db_pending_replay_stats st;
	struct err e = { 0 };
	enum db_result result = DB_RESULT_RUNNING;
	int64_t at = 0, id = begin(db);

	ASSERT_EQ(db_pending_finish(q, id, &result, &at), 0);
	disk_full(path);
	submit_unit(q, db, id, 1);
	ASSERT_EQ(db_pending_finish(q, id, &result, &at), 1);
	ASSERT_EQ(result, DB_RESULT_PASS);
	ASSERT_EQ(at, 123456);
	ASSERT_EQ(db_pending_finish(q, id + 1, &result, &at), 0);
	/* A flashd restarted meanwhile reads it from the journal file. */
	db_pending_free(q);
	q = new_queue(jr, path);
	result = DB_RESULT_RUNNING;
	at = 0;
	ASSERT_EQ(db_pending_finish(q, id, &result, &at), 1);
	ASSERT_EQ(result, DB_RESULT_PASS);
	ASSERT_EQ(at, 123456);
	disk_freed();
	if (db_pending_replay(q, db, &st, &e) < 0)
		TEST_FAIL("replay: %s", e.msg);
	ASSERT_EQ(db_pending_finish(q, id, &result, &at), 0);
	assert_unit_complete(path, id);
	db_pending_free(q);
}

TEST(pending_journal_survives_a_restart_and_replay_twice_writes_once)
{
	const char *path = tpath("restart.db"), *jr = tpath("restart.journal");
	const char *copy = tpath("restart.journal.copy");
	_cleanup_db_ struct db *db = open_db(path);
	struct db_pending *q = new_queue(jr, path);
	struct db_pending_replay_stats st;
	struct err e = { 0 };
	int64_t id = begin(db);
	char cmd[1200];

	disk_full(path);
	submit_unit(q, db, id, 1);
	disk_freed();
	db_pending_free(q); /* flashd stops with records pending */

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", jr, copy);
	ASSERT_EQ(system(cmd), 0);
	q = new_queue(jr, path);
	ASSERT_TRUE(db_pending_blocked(q));
	ASSERT_EQ(db_pending_count(q), 5);
	ASSERT_TRUE(db_pending_has_unit(q, id));
	if (db_pending_replay(q, db, &st, &e) < 0)
		TEST_FAIL("replay: %s", e.msg);
	ASSERT_EQ(st.written, 5);
	db_pending_free(q);
	assert_unit_complete(path, id);

	/* Killed after the writes, before the file went away: the same records again. */
	snprintf(cmd, sizeof(cmd), "mv '%s' '%s'", copy, jr);
	ASSERT_EQ(system(cmd), 0);
	q = new_queue(jr, path);
	if (db_pending_replay(q, db, &st, &e) < 0)
		TEST_FAIL("replay: %s", e.msg);
	ASSERT_EQ(st.written, 5);
	ASSERT_EQ(st.dropped, 0);
	assert_unit_complete(path, id);
	ASSERT_EQ(raw_int(path, "SELECT count(*) FROM unit_stages"), 2);
	db_pending_free(q);
}

TEST(pending_later_records_wait_behind_queued_ones)
{
	const char *path = tpath("order.db");
	_cleanup_db_ struct db *db = open_db(path);
	struct db_pending *q = new_queue(NULL, path);
	struct db_rec fin = { .kind = DB_REC_FINISH,
			      .unit_id = 0,
			      .u.finish = { .result = DB_RESULT_FAIL } };
	struct db_rec stage = {
		.kind = DB_REC_STAGE,
		.u.stage = { .idx = 0, .name = "boot", .result = DB_RESULT_FAIL, .duration_ms = 1 }
	};
	struct db_pending_replay_stats st;
	struct err e = { 0 };
	int64_t id = begin(db);

	stage.unit_id = fin.unit_id = id;
	disk_full(path);
	ASSERT_EQ(submit(q, db, &stage), 1);
	disk_freed();
	/* The disk has room again, but the finish may not overtake its stage. */
	ASSERT_EQ(submit(q, db, &fin), 1);
	ASSERT_SQL_TEXT(path, "SELECT result FROM units", "running");
	if (db_pending_replay(q, db, &st, &e) < 0)
		TEST_FAIL("replay: %s", e.msg);
	ASSERT_SQL_TEXT(path, "SELECT result FROM units", "fail");
	ASSERT_EQ(raw_int(path, "SELECT count(*) FROM unit_stages"), 1);
	/* Unblocked: the next record is written at once. */
	ASSERT_EQ(submit(q, db, &fin), -EALREADY);
	db_pending_free(q);
}

TEST(pending_block_without_records_clears_only_when_a_write_succeeds)
{
	const char *path = tpath("block.db");
	_cleanup_db_ struct db *db = open_db(path);
	struct db_pending *q = new_queue(NULL, path);
	struct err e = { 0 };

	begin(db);
	disk_full(path);
	db_pending_block(q, "unit begin: database or disk is full");
	ASSERT_TRUE(db_pending_blocked(q));
	ASSERT_TRUE(db_error_is_storage(db_pending_replay(q, db, NULL, &e)));
	ASSERT_TRUE(db_pending_blocked(q));
	disk_freed();
	ASSERT_OK(db_pending_replay(q, db, NULL, &e));
	ASSERT_TRUE(!db_pending_blocked(q));
	db_pending_free(q);
}

TEST(pending_journal_of_another_database_is_refused)
{
	const char *path = tpath("a.db"), *other = tpath("b.db"), *jr = tpath("ab.journal");
	_cleanup_db_ struct db *db = open_db(path);
	_cleanup_db_ struct db *db2 = open_db(other);
	struct db_pending *q = new_queue(jr, path), *q2 = NULL;
	struct err e = { 0 };
	int64_t id = begin(db);

	disk_full(path);
	db_pending_block(q, "full");
	ASSERT_EQ(submit(q, db,
			 &(struct db_rec){ .kind = DB_REC_FINISH,
					   .unit_id = id,
					   .u.finish = { .result = DB_RESULT_PASS } }),
		  1);
	disk_freed();
	db_pending_free(q);
	ASSERT_EQ(db_pending_new(jr, other, &q2, &e), -EXDEV);
	ASSERT_TRUE(strstr(e.msg, "a.db") != NULL);
	ASSERT_TRUE(exists(jr));
}

TEST(pending_journal_torn_last_line_is_ignored)
{
	const char *path = tpath("torn.db"), *jr = tpath("torn.journal");
	_cleanup_db_ struct db *db = open_db(path);
	struct db_pending *q = new_queue(jr, path);
	struct db_pending_replay_stats st;
	struct err e = { 0 };
	int64_t id = begin(db);
	FILE *f;

	disk_full(path);
	submit_unit(q, db, id, 1);
	disk_freed();
	db_pending_free(q);
	f = fopen(jr, "a");
	ASSERT_TRUE(f != NULL);
	fprintf(f, "F\t%lld\t3", (long long)id); /* the crash cut this append */
	fclose(f);
	q = new_queue(jr, path);
	ASSERT_EQ(db_pending_count(q), 5);
	if (db_pending_replay(q, db, &st, &e) < 0)
		TEST_FAIL("replay: %s", e.msg);
	assert_unit_complete(path, id);
	db_pending_free(q);
}

TEST_MAIN()
