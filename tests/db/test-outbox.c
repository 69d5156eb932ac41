/*
 * Tests for the station outbox (db/schema.sql version 5, db/outbox.h): a
 * unit that finishes gets exactly one outbox entry, carrying its stages,
 * images and identities, in the same transaction (a rolled-back finish
 * leaves none, whichever path wrote it: db_unit_finish(), the pending
 * replay, crash recovery); pool values given and settled get entries too;
 * seq only grows, and the station uuid is made once.
 */
#include "db/outbox.h"
#include "db/pending.h"
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

static int64_t begin(struct db *db, const char *serial)
{
	struct db_unit_start st = { .station = "st1",
				    .port = "1-1.2",
				    .recipe = "r",
				    .serial = serial,
				    .flashd_version = "t" };
	struct db_unit_stage sg = { .idx = 0,
				    .name = "flash",
				    .result = DB_RESULT_PASS,
				    .started_at = 5,
				    .duration_ms = 7 };
	struct db_unit_image im = { .stage = "flash",
				    .file = "app.bin",
				    .size = 10,
				    .has_host_crc32 = true,
				    .host_crc32 = 0xdeadbeef,
				    .verified = true };
	struct err e = { 0 };
	int64_t id = -1;

	if (db_unit_begin(db, &st, &id, &e) < 0 || db_unit_stage(db, id, &sg, &e) < 0 ||
	    db_unit_image(db, id, &im, &e) < 0)
		TEST_FAIL("unit: %s", e.msg);
	return id;
}

static long long entries(const char *p, int64_t unit)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE kind = 'unit' AND ref = %lld",
		 (long long)unit);
	return raw_int(p, sql);
}

TEST(outbox_finish_writes_one_entry_with_stages_and_images)
{
	const char *p = tpath("finish.db");
	struct db *db = open_db("finish.db");
	struct err e = { 0 };
	int64_t id = begin(db, "SN1");

	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM outbox"), 0);
	ASSERT_OK(db_unit_finish(db, id, DB_RESULT_PASS, NULL, NULL, &e));
	ASSERT_EQ(entries(p, id), 1);
	ASSERT_SQL_TEXT(p,
			"SELECT json_extract(payload, '$.serial') || ':' || "
			"json_extract(payload, '$.result') || ':' || "
			"json_extract(payload, '$.stages[0].name') || ':' || "
			"json_extract(payload, '$.images[0].host_crc32') || ':' || "
			"json_array_length(payload, '$.identities') FROM outbox",
			"SN1:pass:flash:3735928559:0");

	/* A second finish is refused and writes nothing. */
	ASSERT_EQ(db_unit_finish(db, id, DB_RESULT_FAIL, "x", "y", &e), -EALREADY);
	ASSERT_EQ(entries(p, id), 1);
	db_close(db);
}

TEST(outbox_rolled_back_finish_leaves_no_entry)
{
	const char *p = tpath("rollback.db");
	struct db *db = open_db("rollback.db");
	int64_t id = begin(db, "SN2");
	char sql[300];

	db_close(db);
	/*
	 * The finish and the entry are one transaction: both or neither.  Inside
	 * it the entry is there (abs() of the smallest integer fails the exec if
	 * not); after the rollback neither is.
	 */
	snprintf(sql, sizeof(sql),
		 "BEGIN; UPDATE units SET result = 'pass' WHERE id = %lld; "
		 "SELECT CASE WHEN (SELECT count(*) FROM outbox) = 1 THEN 1 "
		 "ELSE abs(-9223372036854775807 - 1) END; ROLLBACK;",
		 (long long)id);
	raw_exec(p, sql);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM outbox"), 0);
	ASSERT_SQL_TEXT(p, "SELECT result FROM units", "running");
}

TEST(outbox_replayed_finish_writes_one_entry)
{
	const char *p = tpath("replay.db");
	struct db *db = open_db("replay.db");
	struct err e = { 0 };
	int64_t id = begin(db, "SN3");
	struct db_rec r = { .kind = DB_REC_FINISH,
			    .unit_id = id,
			    .u.finish = { .result = DB_RESULT_FAIL,
					  .failed_stage = "flash",
					  .error = "boom",
					  .finished_at = 1234 } };

	ASSERT_OK(db_rec_write(db, &r, &e));
	/* A replay writes a record twice after a crash: still one entry. */
	db_rec_write(db, &r, &e);
	db_close(db);
	ASSERT_EQ(entries(p, id), 1);
	ASSERT_SQL_TEXT(p,
			"SELECT json_extract(payload, '$.result') || ':' || "
			"json_extract(payload, '$.finished_at') FROM outbox",
			"fail:1234");
}

TEST(outbox_recovered_unit_writes_one_entry)
{
	const char *p = tpath("recover.db");
	struct db *db = open_db("recover.db");
	struct err e = { 0 };
	int64_t id = begin(db, "SN4");

	ASSERT_EQ(db_recover_interrupted(db, NULL, &e), 1);
	ASSERT_EQ(db_recover_interrupted(db, NULL, &e), 0);
	db_close(db);
	ASSERT_EQ(entries(p, id), 1);
	ASSERT_SQL_TEXT(p, "SELECT json_extract(payload, '$.result') FROM outbox", "interrupted");
}

TEST(outbox_pool_values_and_identities_are_entered)
{
	const char *p = tpath("pool.db");
	struct db *db = open_db("pool.db");
	struct db_pool_spec sp = { .name = "macs",
				   .kind = DB_POOL_MAC,
				   .first = INT64_C(0x020000000000),
				   .last = INT64_C(0x0200000000ff),
				   .per_unit = 2 };
	const char *pools[] = { "macs" };
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int64_t id = begin(db, "SN5");

	ASSERT_OK(db_pool_create(db, &sp, &e));
	ASSERT_OK(db_pool_allocate(db, id, "st1", pools, 1, 0, &ids, &e));
	db_identities_clear(&ids);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM outbox WHERE kind = 'identity'"), 2);
	ASSERT_OK(db_unit_finish(db, id, DB_RESULT_PASS, NULL, NULL, &e));
	ASSERT_EQ(db_pool_unit_finish(db, id, DB_RESULT_PASS, false, &e), 2);
	db_close(db);
	/* The unit's entry names its values; settling them adds one entry each. */
	ASSERT_SQL_TEXT(p,
			"SELECT json_extract(payload, '$.identities[1].value') FROM outbox "
			"WHERE kind = 'unit'",
			"02:00:00:00:00:01");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM outbox WHERE kind = 'identity' AND "
			     "json_extract(payload, '$.state') = 'used'"),
		  2);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM outbox"), 5);
}

TEST(outbox_read_api_batches_in_seq_order)
{
	struct db *db = open_db("read.db"), *ro = NULL;
	struct db_outbox_batch b = { 0 };
	struct err e = { 0 };
	char uuid[DB_UUID_LEN], *pl = NULL;
	int64_t last = -1, n = -1, oldest = -1;

	for (int i = 0; i < 5; i++)
		ASSERT_OK(db_unit_finish(db, begin(db, NULL), DB_RESULT_PASS, NULL, NULL, &e));
	db_close(db);
	ASSERT_OK(db_open(tpath("read.db"), DB_OPEN_READONLY, &ro, &e));
	ASSERT_OK(db_outbox_station_uuid(ro, uuid, &e));
	ASSERT_EQ(strlen(uuid), 36);
	ASSERT_EQ(uuid[14], '4');
	ASSERT_OK(db_outbox_last_seq(ro, &last, &e));
	ASSERT_EQ(last, 5);
	ASSERT_OK(db_outbox_lag(ro, 2, &n, &oldest, &e));
	ASSERT_EQ(n, 3);
	ASSERT_TRUE(oldest > 0);
	ASSERT_OK(db_outbox_read(ro, 1, 2, &b, &e));
	ASSERT_EQ(b.count, 2);
	ASSERT_EQ(b.first_seq, 2);
	ASSERT_EQ(b.last_seq, 3);
	ASSERT_CONTAINS(b.json, "[{\"seq\":2,\"kind\":\"unit\",\"payload\":{\"id\":2,");
	ASSERT_OK(db_outbox_read(ro, 5, 100, &b, &e));
	ASSERT_EQ(b.count, 0);
	ASSERT_OK(db_outbox_payload(ro, 4, &pl, &e));
	ASSERT_CONTAINS(pl, "\"id\":4,");
	free(pl);
	ASSERT_EQ(db_outbox_payload(ro, 9, &pl, &e), -ENOENT);
	db_outbox_batch_clear(&b);
	db_close(ro);
}

/* COPY text rows: seq, kind, payload; the payload's backslashes doubled, one row a line. */
TEST(outbox_read_copy_escapes_rows_for_postgres)
{
	struct db *db = open_db("copy.db"), *ro = NULL;
	struct db_outbox_batch b = { 0 };
	struct err e = { 0 };
	const char *row2;

	ASSERT_OK(db_unit_finish(db, begin(db, NULL), DB_RESULT_PASS, NULL, NULL, &e));
	ASSERT_OK(db_unit_finish(db, begin(db, "S\"1\\"), DB_RESULT_FAIL, "flash", "a\tb\nc", &e));
	db_close(db);
	ASSERT_OK(db_open(tpath("copy.db"), DB_OPEN_READONLY, &ro, &e));
	ASSERT_OK(db_outbox_read_copy(ro, 0, 100, &b, &e));
	ASSERT_EQ(b.count, 2);
	ASSERT_EQ(b.first_seq, 1);
	ASSERT_EQ(b.last_seq, 2);
	ASSERT_TRUE(b.json == NULL);
	ASSERT_EQ(b.copy_len, strlen(b.copy));
	ASSERT_TRUE(strncmp(b.copy, "1\tunit\t{\"id\":1,", 15) == 0);
	row2 = strchr(b.copy, '\n');
	ASSERT_TRUE(row2 != NULL);
	row2++;
	ASSERT_TRUE(strncmp(row2, "2\tunit\t{\"id\":2,", 15) == 0);
	/* JSON's \" and \\ and \t and \n, each backslash doubled for COPY. */
	ASSERT_CONTAINS(row2, "\"serial\":\"S\\\\\"1\\\\\\\\\"");
	ASSERT_CONTAINS(row2, "\"error\":\"a\\\\tb\\\\nc\"");
	ASSERT_TRUE(strchr(row2, '\n') == b.copy + b.copy_len - 1);
	ASSERT_OK(db_outbox_read_copy(ro, 2, 100, &b, &e));
	ASSERT_EQ(b.count, 0);
	ASSERT_EQ(db_outbox_read_copy(ro, 0, 0, &b, &e), -EINVAL);
	db_outbox_batch_clear(&b);
	db_close(ro);
}

TEST_MAIN()
