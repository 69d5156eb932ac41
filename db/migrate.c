/*
 * This file implements schema migrations keyed on PRAGMA user_version.
 *
 * db/schema.sql is always the current schema and is what an empty database
 * (user_version 0, no tables) gets.  A database at an older version gets
 * the steps below, in order, each bringing version N to N + 1 and setting
 * user_version itself; the whole walk is one IMMEDIATE transaction, so a
 * crash leaves either the old or the new schema, and two processes opening
 * the same old file migrate it once.
 *
 * To change the schema: edit db/schema.sql (including its user_version),
 * bump DB_SCHEMA_VERSION in db/db.h, and append the step from the previous
 * version here, with a test in tests/db/test-db.c that builds the old
 * version by hand, migrates it and compares it with a fresh database.
 */
#include "db/db-private.h"

#include <errno.h>
#include <string.h>

/*
 * 1 to 2: units.slot was INTEGER and kept only the digits of the label, so
 * slots A3, B3 and C3 were all 3; it is now the label as configured (TEXT).
 * SQLite cannot change a column's type: rebuild the table.  legacy_alter_table
 * keeps the rename from rewriting the foreign keys of unit_stages and
 * unit_images and the views, which name "units" and so follow the new table.
 * The CREATE TABLE text is db/schema.sql's, byte for byte (the migration test
 * compares the two schemas).  Old numbers become their text: 3 -> '3'.
 */
static const char step_1_to_2[] =
	"PRAGMA legacy_alter_table = ON;\n"
	"ALTER TABLE units RENAME TO units_v1;\n"
	"DROP INDEX units_by_serial;\n"
	"DROP INDEX units_by_time;\n"
	"DROP INDEX units_running;\n"
	"CREATE TABLE units (\n"
	"\tid\t\tINTEGER PRIMARY KEY,\n"
	"\tstation\t\tTEXT NOT NULL,\t\t-- host name of the flashing station\n"
	"\tport\t\tTEXT NOT NULL,\t\t-- USB port path, e.g. '1-1.2.3'\n"
	"\tslot\t\tTEXT,\t\t\t-- fixture slot label as configured ('A3'), NULL if unmapped\n"
	"\trecipe\t\tTEXT NOT NULL,\t\t-- recipe name\n"
	"\trecipe_sha256\tTEXT,\t\t\t-- hex SHA-256 of the recipe file\n"
	"\tvid\t\tINTEGER,\t\t-- USB ids when the job started\n"
	"\tpid\t\tINTEGER,\n"
	"\tserial\t\tTEXT,\t\t\t-- board serial, NULL until learned\n"
	"\tchip_uid\tTEXT,\t\t\t-- SoC unique id (hex)\n"
	"\tjedec_id\tTEXT,\t\t\t-- flash JEDEC id (hex)\n"
	"\tresult\t\tTEXT NOT NULL DEFAULT 'running'\n"
	"\t\t\tCHECK (result IN ('running', 'pass', 'fail', 'interrupted')),\n"
	"\tfailed_stage\tTEXT,\t\t\t-- stage that failed, NULL on pass\n"
	"\terror\t\tTEXT,\t\t\t-- error message, NULL on pass\n"
	"\tstarted_at\tINTEGER NOT NULL,\t-- ms since epoch, UTC\n"
	"\tfinished_at\tINTEGER,\t\t-- NULL while running or if unknown\n"
	"\tduration_ms\tINTEGER,\t\t-- NULL while running or if unknown\n"
	"\tflashd_version\tTEXT NOT NULL\n"
	");\n"
	"INSERT INTO units SELECT id, station, port, CAST(slot AS TEXT), recipe, recipe_sha256,\n"
	"\tvid, pid, serial, chip_uid, jedec_id, result, failed_stage, error, started_at,\n"
	"\tfinished_at, duration_ms, flashd_version FROM units_v1;\n"
	"DROP TABLE units_v1;\n"
	"CREATE INDEX units_by_serial ON units (serial, started_at);\n"
	"CREATE INDEX units_by_time ON units (started_at);\n"
	"CREATE INDEX units_running ON units (id) WHERE result = 'running';\n"
	"PRAGMA legacy_alter_table = OFF;\n"
	"PRAGMA user_version = 2;\n";

/*
 * 2 to 3: index units by port, for the "last unit on this port" lookup the
 * daemon makes on every board arrival (a board back on its port after its
 * unit passed is that unit, not a new one: daemon/station.c).
 */
static const char step_2_to_3[] = "CREATE INDEX units_by_port ON units (port, started_at);\n"
				  "PRAGMA user_version = 3;\n";

/*
 * 3 to 4: identity pools (issue 18): tables pools, pool_values and
 * unit_identities, created as db/schema.sql has them, byte for byte.
 */
static const char step_3_to_4[] =
	"CREATE TABLE pools (\n"
	"\tname\t\tTEXT PRIMARY KEY,\n"
	"\tkind\t\tTEXT NOT NULL CHECK (kind IN ('counter', 'mac', 'list')),\n"
	"\tformat\t\tTEXT,\t\t\t-- counter: 'SN{yy}{ww}{seq:6}{luhn}', else NULL\n"
	"\tfirst_seq\tINTEGER,\t\t-- counter, mac: first number (mac: 48-bit address)\n"
	"\tlast_seq\tINTEGER,\t\t-- counter, mac: last number, inclusive\n"
	"\tnext_seq\tINTEGER,\t\t-- counter, mac: lowest number never issued\n"
	"\tper_unit\tINTEGER NOT NULL DEFAULT 1 CHECK (per_unit >= 1),\n"
	"\tpolicy\t\tTEXT NOT NULL DEFAULT 'burn' CHECK (policy IN ('reuse', 'burn')),\n"
	"\tlow_water\tINTEGER NOT NULL DEFAULT 0 CHECK (low_water >= 0),\n"
	"\tstation\t\tTEXT,\t\t\t-- block reserved for this station; NULL: any\n"
	"\tcreated_at\tINTEGER NOT NULL\t-- ms since epoch, UTC\n"
	");\n"
	"\n"
	"CREATE TABLE pool_values (\n"
	"\tpool\t\tTEXT NOT NULL REFERENCES pools (name) ON DELETE CASCADE,\n"
	"\tseq\t\tINTEGER NOT NULL,\t-- number (counter, mac) or import order (list)\n"
	"\tvalue\t\tTEXT NOT NULL,\t\t-- 'SN26100000012', '02:00:00:00:00:01', list text\n"
	"\tfile\t\tTEXT,\t\t\t-- list value naming a file (key, certificate): absolute path\n"
	"\tfile_sha256\tTEXT,\t\t\t-- hex SHA-256 of that file at import\n"
	"\tstate\t\tTEXT NOT NULL DEFAULT 'free'\n"
	"\t\t\tCHECK (state IN ('free', 'allocated', 'used', 'burned')),\n"
	"\tunit_id\t\tINTEGER REFERENCES units (id),\n"
	"\tPRIMARY KEY (pool, seq),\n"
	"\tUNIQUE (pool, value)\n"
	") WITHOUT ROWID;\n"
	"\n"
	"CREATE INDEX pool_values_free ON pool_values (pool, seq) WHERE state = 'free';\n"
	"\n"
	"CREATE TABLE unit_identities (\n"
	"\tid\t\tINTEGER PRIMARY KEY,\n"
	"\tunit_id\t\tINTEGER NOT NULL REFERENCES units (id) ON DELETE CASCADE,\n"
	"\tpool\t\tTEXT NOT NULL,\n"
	"\tseq\t\tINTEGER NOT NULL,\n"
	"\tvalue\t\tTEXT NOT NULL,\n"
	"\tfile\t\tTEXT,\n"
	"\tfile_sha256\tTEXT,\n"
	"\tstate\t\tTEXT NOT NULL DEFAULT 'allocated'\n"
	"\t\t\tCHECK (state IN ('allocated', 'used', 'burned', 'released')),\n"
	"\tdevice_written\tINTEGER NOT NULL DEFAULT 0 CHECK (device_written IN (0, 1)),\n"
	"\tallocated_at\tINTEGER NOT NULL,\t-- ms since epoch, UTC\n"
	"\tfinished_at\tINTEGER\n"
	");\n"
	"\n"
	"CREATE INDEX unit_identities_by_unit ON unit_identities (unit_id);\n"
	"CREATE INDEX unit_identities_by_value ON unit_identities (value);\n"
	"CREATE INDEX unit_identities_allocated ON unit_identities (unit_id) WHERE state = 'allocated';\n"
	"PRAGMA user_version = 4;\n";

/*
 * 4 to 5: the station outbox (issue 20): tables outbox and station_identity,
 * the payload views and the triggers, as db/schema.sql has them, byte for
 * byte.  Units and identities recorded before the migration are entered
 * in the outbox too, in id order, so the fleet server sees the whole
 * history of the station and not only what came after the upgrade.
 */
static const char step_4_to_5[] =
	"-- Station outbox (schema version 5): every change fleet QA cares about\n"
	"-- gets a sequence number in the same transaction that records it, written\n"
	"-- by the triggers below (so no writer can forget it, and a rolled-back\n"
	"-- transaction leaves no entry).  flashd-sync (sync/flashd-sync.8) reads it\n"
	"-- read-only and ships it to PostgreSQL keyed by (station, seq); flashd\n"
	"-- never deletes from it.  AUTOINCREMENT: a seq is never used twice, so a\n"
	"-- sequence lower than the server's means a restored old backup.\n"
	"--   kind 'unit'      a unit finished (result left 'running'), or its serial,\n"
	"--                    chip UID or JEDEC id changed after it finished;\n"
	"--                    payload: the unit with its stages, images, identities\n"
	"--   kind 'identity'  a unit was given a pool value, or its state changed\n"
	"CREATE TABLE outbox (\n"
	"\tseq\t\tINTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"\tkind\t\tTEXT NOT NULL CHECK (kind IN ('unit', 'identity')),\n"
	"\tref\t\tINTEGER NOT NULL,\t-- units.id or unit_identities.id\n"
	"\tpayload\t\tTEXT NOT NULL,\t\t-- JSON object (views outbox_*_json)\n"
	"\tcreated_at\tINTEGER NOT NULL\t-- ms since epoch, UTC\n"
	");\n"
	"\n"
	"-- This database's identity, made once when it is created or migrated to\n"
	"-- version 5: a copy of the file on a second station carries the same uuid,\n"
	"-- which the central server refuses for a second station name.\n"
	"CREATE TABLE station_identity (\n"
	"\tone\t\tINTEGER PRIMARY KEY CHECK (one = 1),\n"
	"\tuuid\t\tTEXT NOT NULL,\t\t-- random UUID (version 4), lower-case\n"
	"\tcreated_at\tINTEGER NOT NULL\t-- ms since epoch, UTC\n"
	");\n"
	"\n"
	"INSERT INTO station_identity (one, uuid, created_at) VALUES (1,\n"
	"\tlower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||\n"
	"\t      substr('89AB', 1 + abs(random() % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),\n"
	"\tCAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));\n"
	"\n"
	"-- The payload of a 'unit' entry: the unit row, its stages, images and identities.\n"
	"CREATE VIEW outbox_unit_json AS\n"
	"SELECT u.id, json_object('id', u.id, 'station', u.station, 'port', u.port, 'slot', u.slot,\n"
	"\t'recipe', u.recipe, 'recipe_sha256', u.recipe_sha256, 'vid', u.vid, 'pid', u.pid,\n"
	"\t'serial', u.serial, 'chip_uid', u.chip_uid, 'jedec_id', u.jedec_id, 'result', u.result,\n"
	"\t'failed_stage', u.failed_stage, 'error', u.error, 'started_at', u.started_at,\n"
	"\t'finished_at', u.finished_at, 'duration_ms', u.duration_ms, 'flashd_version', u.flashd_version,\n"
	"\t'stages', json((SELECT json_group_array(json_object('idx', idx, 'name', name, 'result', result,\n"
	"\t\t\t'error', error, 'started_at', started_at, 'duration_ms', duration_ms))\n"
	"\t\tFROM (SELECT * FROM unit_stages WHERE unit_id = u.id ORDER BY idx))),\n"
	"\t'images', json((SELECT json_group_array(json_object('stage', stage, 'target', target,\n"
	"\t\t\t'file', file, 'size', size, 'sha256', sha256, 'host_crc32', host_crc32,\n"
	"\t\t\t'device_crc32', device_crc32, 'verified', verified))\n"
	"\t\tFROM (SELECT * FROM unit_images WHERE unit_id = u.id ORDER BY id))),\n"
	"\t'identities', json((SELECT json_group_array(json_object('id', id, 'pool', pool, 'seq', seq,\n"
	"\t\t\t'value', value, 'file', file, 'file_sha256', file_sha256, 'state', state,\n"
	"\t\t\t'device_written', device_written))\n"
	"\t\tFROM (SELECT * FROM unit_identities WHERE unit_id = u.id ORDER BY id)))) AS payload\n"
	"FROM units u;\n"
	"\n"
	"-- The payload of an 'identity' entry.\n"
	"CREATE VIEW outbox_identity_json AS\n"
	"SELECT id, json_object('id', id, 'unit_id', unit_id, 'pool', pool, 'seq', seq, 'value', value,\n"
	"\t'file', file, 'file_sha256', file_sha256, 'state', state, 'device_written', device_written,\n"
	"\t'allocated_at', allocated_at, 'finished_at', finished_at) AS payload\n"
	"FROM unit_identities;\n"
	"\n"
	"CREATE TRIGGER outbox_unit_finished AFTER UPDATE OF result ON units\n"
	"WHEN old.result = 'running' AND new.result != 'running'\n"
	"BEGIN\n"
	"\tINSERT INTO outbox (kind, ref, payload, created_at)\n"
	"\tSELECT 'unit', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)\n"
	"\tFROM outbox_unit_json WHERE id = new.id;\n"
	"END;\n"
	"\n"
	"CREATE TRIGGER outbox_unit_identified AFTER UPDATE OF serial, chip_uid, jedec_id ON units\n"
	"WHEN old.result != 'running' AND (old.serial IS NOT new.serial OR\n"
	"\told.chip_uid IS NOT new.chip_uid OR old.jedec_id IS NOT new.jedec_id)\n"
	"BEGIN\n"
	"\tINSERT INTO outbox (kind, ref, payload, created_at)\n"
	"\tSELECT 'unit', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)\n"
	"\tFROM outbox_unit_json WHERE id = new.id;\n"
	"END;\n"
	"\n"
	"CREATE TRIGGER outbox_identity_allocated AFTER INSERT ON unit_identities\n"
	"BEGIN\n"
	"\tINSERT INTO outbox (kind, ref, payload, created_at)\n"
	"\tSELECT 'identity', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)\n"
	"\tFROM outbox_identity_json WHERE id = new.id;\n"
	"END;\n"
	"\n"
	"CREATE TRIGGER outbox_identity_changed AFTER UPDATE OF state, device_written ON unit_identities\n"
	"WHEN old.state IS NOT new.state OR old.device_written IS NOT new.device_written\n"
	"BEGIN\n"
	"\tINSERT INTO outbox (kind, ref, payload, created_at)\n"
	"\tSELECT 'identity', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)\n"
	"\tFROM outbox_identity_json WHERE id = new.id;\n"
	"END;\n"
	"\n"
	"INSERT INTO outbox (kind, ref, payload, created_at)\n"
	"\tSELECT 'unit', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)\n"
	"\tFROM outbox_unit_json WHERE id IN (SELECT id FROM units WHERE result != 'running') ORDER BY id;\n"
	"INSERT INTO outbox (kind, ref, payload, created_at)\n"
	"\tSELECT 'identity', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)\n"
	"\tFROM outbox_identity_json ORDER BY id;\n"
	"PRAGMA user_version = 5;\n";

/*
 * 5 to 6: pool blocks (issue 20 item 4): table pool_blocks as db/schema.sql
 * has it, byte for byte; every counter and mac pool gets its range as its
 * one block, so it issues exactly what it did before.
 */
static const char step_5_to_6[] =
	"-- Pool blocks (schema version 6): the ranges a counter or mac pool issues\n"
	"-- from, lowest first_seq first: the pool's own range from 'flashctl pool\n"
	"-- create', and blocks leased from a central pool ('flashctl fleet pool\n"
	"-- lease'), so a station keeps assigning offline from ranges no other\n"
	"-- station holds.  Each block issues its numbers in order from next_seq\n"
	"-- (its lowest never issued).  pools.first_seq and last_seq span the\n"
	"-- blocks; pools.next_seq is the highest next_seq of them (no number from\n"
	"-- it on was issued).  lease: the central lease's request key, NULL for a\n"
	"-- range made here.\n"
	"CREATE TABLE pool_blocks (\n"
	"\tpool\t\tTEXT NOT NULL REFERENCES pools (name) ON DELETE CASCADE,\n"
	"\tfirst_seq\tINTEGER NOT NULL,\n"
	"\tlast_seq\tINTEGER NOT NULL CHECK (last_seq >= first_seq),\n"
	"\tnext_seq\tINTEGER NOT NULL CHECK (next_seq BETWEEN first_seq AND last_seq + 1),\n"
	"\tlease\t\tTEXT UNIQUE,\n"
	"\tadded_at\tINTEGER NOT NULL,\t-- ms since epoch, UTC\n"
	"\tPRIMARY KEY (pool, first_seq)\n"
	") WITHOUT ROWID;\n"
	"INSERT INTO pool_blocks (pool, first_seq, last_seq, next_seq, lease, added_at)\n"
	"\tSELECT name, first_seq, last_seq, next_seq, NULL, created_at FROM pools WHERE first_seq IS NOT NULL;\n"
	"PRAGMA user_version = 6;\n";

/* steps[N - 1] migrates version N to N + 1; version 1 is the first release. */
static const char *const steps[] = {
	step_1_to_2, step_2_to_3, step_3_to_4, step_4_to_5, step_5_to_6,
};

static int count_tables(struct db *db, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, "SELECT count(*) FROM sqlite_master", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "database '%s': list tables", db->path);
	return sqlite3_column_int(s, 0);
}

static int migrate_locked(struct db *db, struct err *err)
{
	int v, n, rc;

	/* Read again under the write lock: another process may have migrated. */
	v = db_read_version(db, err);
	if (v < 0)
		return v;
	if (v > DB_SCHEMA_VERSION)
		return err_set(
			err, -EPROTONOSUPPORT,
			"database '%s' has schema version %d, newer than this build supports (%d): refusing to write",
			db->path, v, DB_SCHEMA_VERSION);
	if (v == DB_SCHEMA_VERSION)
		return 0;

	if (v == 0) {
		n = count_tables(db, err);
		if (n < 0)
			return n;
		if (n > 0)
			return err_set(
				err, -EBADMSG,
				"database '%s' is not a flashd database (tables but no schema version)",
				db->path);
		rc = db_exec(db, db_schema_sql, "create schema", err);
		if (rc < 0)
			return err_prefix(err, rc, "database '%s'", db->path);
	} else {
		for (; v < DB_SCHEMA_VERSION; v++) {
			if ((size_t)v > ARRAY_SIZE(steps) || !steps[v - 1])
				return err_set(err, -EPROTO,
					       "database '%s': no migration from schema version %d",
					       db->path, v);
			rc = db_exec(db, steps[v - 1], "migrate", err);
			if (rc < 0)
				return err_prefix(err, rc, "database '%s': version %d to %d",
						  db->path, v, v + 1);
		}
	}

	v = db_read_version(db, err);
	if (v < 0)
		return v;
	if (v != DB_SCHEMA_VERSION)
		return err_set(err, -EPROTO,
			       "database '%s': schema version is %d after migration, expected %d",
			       db->path, v, DB_SCHEMA_VERSION);
	return 0;
}

int db_migrate(struct db *db, struct err *err)
{
	int rc;

	rc = db_exec(db, "BEGIN IMMEDIATE", "begin migration", err);
	if (rc < 0)
		return err_prefix(err, rc, "database '%s'", db->path);
	rc = migrate_locked(db, err);
	if (rc < 0) {
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	rc = db_exec(db, "COMMIT", "commit migration", err);
	if (rc < 0)
		return err_prefix(err, rc, "database '%s'", db->path);
	return 0;
}
