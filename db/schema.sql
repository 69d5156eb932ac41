-- flashd unit database, schema version 5: the current schema of record.
--
-- db_open() runs this file (compiled in as db_schema_sql[]) on an empty
-- database, in one transaction; db/migrate.c brings older versions up to
-- the user_version set at the end.  Change it only together with a
-- migration step in db/migrate.c and DB_SCHEMA_VERSION in db/db.h.
--
-- Conventions, relied on by QA scripts:
--   * Timestamps (*_at) are INTEGER milliseconds since the Unix epoch, UTC.
--     The *_iso columns of the views give the same instant as ISO-8601 UTC
--     text ("2026-03-01T12:34:56.789Z"); days in the views are UTC days.
--   * duration_ms is finished_at - started_at of the unit (or stage).
--   * CRC-32 values are INTEGER 0..4294967295; the views add hex text.
--   * A unit row is written when the job starts (result 'running') and
--     updated once when it ends ('pass', 'fail' or 'interrupted').  At start,
--     flashd turns rows left 'running' by a crash into 'interrupted'.
--
-- Try: sqlite3 -readonly /var/lib/flashd/flashd.db \
--        "SELECT * FROM unit_latest WHERE serial = 'ABC123'"

CREATE TABLE units (
	id		INTEGER PRIMARY KEY,
	station		TEXT NOT NULL,		-- host name of the flashing station
	port		TEXT NOT NULL,		-- USB port path, e.g. '1-1.2.3'
	slot		TEXT,			-- fixture slot label as configured ('A3'), NULL if unmapped
	recipe		TEXT NOT NULL,		-- recipe name
	recipe_sha256	TEXT,			-- hex SHA-256 of the recipe file
	vid		INTEGER,		-- USB ids when the job started
	pid		INTEGER,
	serial		TEXT,			-- board serial, NULL until learned
	chip_uid	TEXT,			-- SoC unique id (hex)
	jedec_id	TEXT,			-- flash JEDEC id (hex)
	result		TEXT NOT NULL DEFAULT 'running'
			CHECK (result IN ('running', 'pass', 'fail', 'interrupted')),
	failed_stage	TEXT,			-- stage that failed, NULL on pass
	error		TEXT,			-- error message, NULL on pass
	started_at	INTEGER NOT NULL,	-- ms since epoch, UTC
	finished_at	INTEGER,		-- NULL while running or if unknown
	duration_ms	INTEGER,		-- NULL while running or if unknown
	flashd_version	TEXT NOT NULL
);

CREATE INDEX units_by_serial ON units (serial, started_at);
CREATE INDEX units_by_time ON units (started_at);
-- Recovery at start looks only for 'running' rows: keep that index tiny.
CREATE INDEX units_running ON units (id) WHERE result = 'running';
-- The last unit on a port: flashd asks on every board arrival whether the
-- board is that unit coming back after its pass (daemon/flashd.8, rearm_sec).
CREATE INDEX units_by_port ON units (port, started_at);

-- One row per stage of the recipe that ran, written when the stage ends.
CREATE TABLE unit_stages (
	unit_id		INTEGER NOT NULL REFERENCES units (id) ON DELETE CASCADE,
	idx		INTEGER NOT NULL,	-- position in the recipe, from 0
	name		TEXT NOT NULL,
	result		TEXT NOT NULL CHECK (result IN ('pass', 'fail', 'interrupted')),
	error		TEXT,
	started_at	INTEGER NOT NULL,	-- ms since epoch, UTC
	duration_ms	INTEGER,
	PRIMARY KEY (unit_id, idx)
) WITHOUT ROWID;

-- One row per image written to the unit.
CREATE TABLE unit_images (
	id		INTEGER PRIMARY KEY,
	unit_id		INTEGER NOT NULL REFERENCES units (id) ON DELETE CASCADE,
	stage		TEXT NOT NULL,		-- stage name that wrote it
	target		TEXT,			-- where: '0x08004000', 'boot0', 'mmc0p2'
	file		TEXT NOT NULL,		-- image file as named in the recipe
	size		INTEGER,		-- bytes written
	sha256		TEXT,			-- hex SHA-256 of the file
	host_crc32	INTEGER,		-- CRC-32 computed by flashd
	device_crc32	INTEGER,		-- CRC-32 read back or reported by the device
	verified	INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1))
);

CREATE INDEX unit_images_by_unit ON unit_images (unit_id);

-- Units with readable times, for QA.
CREATE VIEW unit_log AS
SELECT id, station, port, slot, recipe, serial, chip_uid, jedec_id, result, failed_stage, error,
	strftime('%Y-%m-%dT%H:%M:%fZ', started_at / 1000.0, 'unixepoch') AS started_iso,
	strftime('%Y-%m-%dT%H:%M:%fZ', finished_at / 1000.0, 'unixepoch') AS finished_iso,
	duration_ms, flashd_version
FROM units;

-- Latest unit per serial: what QA asks first ("did board X pass?").
CREATE VIEW unit_latest AS
SELECT u.id, u.serial, u.result, u.recipe, u.station, u.port, u.failed_stage, u.error,
	strftime('%Y-%m-%dT%H:%M:%fZ', u.started_at / 1000.0, 'unixepoch') AS started_iso,
	u.duration_ms,
	(SELECT count(*) FROM units a WHERE a.serial = u.serial) AS attempts
FROM units u
WHERE u.serial IS NOT NULL
  AND u.id = (SELECT l.id FROM units l WHERE l.serial = u.serial
	      ORDER BY l.started_at DESC, l.id DESC LIMIT 1);

-- Yield per UTC day and recipe.  Yield is pass / (pass + fail + interrupted);
-- units still running are counted but not part of the yield.
CREATE VIEW yield_daily AS
SELECT date(started_at / 1000, 'unixepoch') AS day, recipe,
	count(*) AS units,
	sum(result = 'pass') AS pass,
	sum(result = 'fail') AS fail,
	sum(result = 'interrupted') AS interrupted,
	sum(result = 'running') AS running,
	round(100.0 * sum(result = 'pass') / nullif(sum(result != 'running'), 0), 2) AS yield_pct
FROM units
GROUP BY day, recipe;

-- Images with CRCs as hex text.
CREATE VIEW unit_images_hex AS
SELECT unit_id, stage, target, file, size, sha256,
	CASE WHEN host_crc32 IS NOT NULL THEN printf('%08x', host_crc32) END AS host_crc32,
	CASE WHEN device_crc32 IS NOT NULL THEN printf('%08x', device_crc32) END AS device_crc32,
	verified
FROM unit_images;

-- Identity pools (schema version 4): serial numbers, MAC addresses and list
-- values (pre-assigned serials, key or certificate files) handed to units,
-- each value at most once (db/pool.h).  A counter or mac pool issues
-- numbers first..last in order; numbers from next_seq on were never issued
-- and are free.  A pool may be a block of a wider range reserved for one
-- station.  policy says what a failed or interrupted unit's values become:
-- 'burn' (never again) or 'reuse' (free again, only if no write to the
-- device had started).  low_water is in units (allocations) left.
CREATE TABLE pools (
	name		TEXT PRIMARY KEY,
	kind		TEXT NOT NULL CHECK (kind IN ('counter', 'mac', 'list')),
	format		TEXT,			-- counter: 'SN{yy}{ww}{seq:6}{luhn}', else NULL
	first_seq	INTEGER,		-- counter, mac: first number (mac: 48-bit address)
	last_seq	INTEGER,		-- counter, mac: last number, inclusive
	next_seq	INTEGER,		-- counter, mac: lowest number never issued
	per_unit	INTEGER NOT NULL DEFAULT 1 CHECK (per_unit >= 1),
	policy		TEXT NOT NULL DEFAULT 'burn' CHECK (policy IN ('reuse', 'burn')),
	low_water	INTEGER NOT NULL DEFAULT 0 CHECK (low_water >= 0),
	station		TEXT,			-- block reserved for this station; NULL: any
	created_at	INTEGER NOT NULL	-- ms since epoch, UTC
);

-- Every value issued (counter, mac) or imported (list), in exactly one
-- state; unit_id is the unit holding it, NULL when free.
CREATE TABLE pool_values (
	pool		TEXT NOT NULL REFERENCES pools (name) ON DELETE CASCADE,
	seq		INTEGER NOT NULL,	-- number (counter, mac) or import order (list)
	value		TEXT NOT NULL,		-- 'SN26100000012', '02:00:00:00:00:01', list text
	file		TEXT,			-- list value naming a file (key, certificate): absolute path
	file_sha256	TEXT,			-- hex SHA-256 of that file at import
	state		TEXT NOT NULL DEFAULT 'free'
			CHECK (state IN ('free', 'allocated', 'used', 'burned')),
	unit_id		INTEGER REFERENCES units (id),
	PRIMARY KEY (pool, seq),
	UNIQUE (pool, value)
) WITHOUT ROWID;

CREATE INDEX pool_values_free ON pool_values (pool, seq) WHERE state = 'free';

-- The values each unit was given, kept after the unit ends: 'allocated'
-- while it runs, then 'used' (pass), 'burned' or 'released' (back to the
-- pool under policy 'reuse').  device_written: a write to the device had
-- started (set before the first write), so 'reuse' may not release them.
CREATE TABLE unit_identities (
	id		INTEGER PRIMARY KEY,
	unit_id		INTEGER NOT NULL REFERENCES units (id) ON DELETE CASCADE,
	pool		TEXT NOT NULL,
	seq		INTEGER NOT NULL,
	value		TEXT NOT NULL,
	file		TEXT,
	file_sha256	TEXT,
	state		TEXT NOT NULL DEFAULT 'allocated'
			CHECK (state IN ('allocated', 'used', 'burned', 'released')),
	device_written	INTEGER NOT NULL DEFAULT 0 CHECK (device_written IN (0, 1)),
	allocated_at	INTEGER NOT NULL,	-- ms since epoch, UTC
	finished_at	INTEGER
);

CREATE INDEX unit_identities_by_unit ON unit_identities (unit_id);
CREATE INDEX unit_identities_by_value ON unit_identities (value);
-- Recovery at start looks only for 'allocated' rows: keep that index tiny.
CREATE INDEX unit_identities_allocated ON unit_identities (unit_id) WHERE state = 'allocated';

-- Station outbox (schema version 5): every change fleet QA cares about
-- gets a sequence number in the same transaction that records it, written
-- by the triggers below (so no writer can forget it, and a rolled-back
-- transaction leaves no entry).  flashd-sync (sync/flashd-sync.8) reads it
-- read-only and ships it to PostgreSQL keyed by (station, seq); flashd
-- never deletes from it.  AUTOINCREMENT: a seq is never used twice, so a
-- sequence lower than the server's means a restored old backup.
--   kind 'unit'      a unit finished (result left 'running'), or its serial,
--                    chip UID or JEDEC id changed after it finished;
--                    payload: the unit with its stages, images, identities
--   kind 'identity'  a unit was given a pool value, or its state changed
CREATE TABLE outbox (
	seq		INTEGER PRIMARY KEY AUTOINCREMENT,
	kind		TEXT NOT NULL CHECK (kind IN ('unit', 'identity')),
	ref		INTEGER NOT NULL,	-- units.id or unit_identities.id
	payload		TEXT NOT NULL,		-- JSON object (views outbox_*_json)
	created_at	INTEGER NOT NULL	-- ms since epoch, UTC
);

-- This database's identity, made once when it is created or migrated to
-- version 5: a copy of the file on a second station carries the same uuid,
-- which the central server refuses for a second station name.
CREATE TABLE station_identity (
	one		INTEGER PRIMARY KEY CHECK (one = 1),
	uuid		TEXT NOT NULL,		-- random UUID (version 4), lower-case
	created_at	INTEGER NOT NULL	-- ms since epoch, UTC
);

INSERT INTO station_identity (one, uuid, created_at) VALUES (1,
	lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
	      substr('89AB', 1 + abs(random() % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
	CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

-- The payload of a 'unit' entry: the unit row, its stages, images and identities.
CREATE VIEW outbox_unit_json AS
SELECT u.id, json_object('id', u.id, 'station', u.station, 'port', u.port, 'slot', u.slot,
	'recipe', u.recipe, 'recipe_sha256', u.recipe_sha256, 'vid', u.vid, 'pid', u.pid,
	'serial', u.serial, 'chip_uid', u.chip_uid, 'jedec_id', u.jedec_id, 'result', u.result,
	'failed_stage', u.failed_stage, 'error', u.error, 'started_at', u.started_at,
	'finished_at', u.finished_at, 'duration_ms', u.duration_ms, 'flashd_version', u.flashd_version,
	'stages', json((SELECT json_group_array(json_object('idx', idx, 'name', name, 'result', result,
			'error', error, 'started_at', started_at, 'duration_ms', duration_ms))
		FROM (SELECT * FROM unit_stages WHERE unit_id = u.id ORDER BY idx))),
	'images', json((SELECT json_group_array(json_object('stage', stage, 'target', target,
			'file', file, 'size', size, 'sha256', sha256, 'host_crc32', host_crc32,
			'device_crc32', device_crc32, 'verified', verified))
		FROM (SELECT * FROM unit_images WHERE unit_id = u.id ORDER BY id))),
	'identities', json((SELECT json_group_array(json_object('id', id, 'pool', pool, 'seq', seq,
			'value', value, 'file', file, 'file_sha256', file_sha256, 'state', state,
			'device_written', device_written))
		FROM (SELECT * FROM unit_identities WHERE unit_id = u.id ORDER BY id)))) AS payload
FROM units u;

-- The payload of an 'identity' entry.
CREATE VIEW outbox_identity_json AS
SELECT id, json_object('id', id, 'unit_id', unit_id, 'pool', pool, 'seq', seq, 'value', value,
	'file', file, 'file_sha256', file_sha256, 'state', state, 'device_written', device_written,
	'allocated_at', allocated_at, 'finished_at', finished_at) AS payload
FROM unit_identities;

CREATE TRIGGER outbox_unit_finished AFTER UPDATE OF result ON units
WHEN old.result = 'running' AND new.result != 'running'
BEGIN
	INSERT INTO outbox (kind, ref, payload, created_at)
	SELECT 'unit', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM outbox_unit_json WHERE id = new.id;
END;

CREATE TRIGGER outbox_unit_identified AFTER UPDATE OF serial, chip_uid, jedec_id ON units
WHEN old.result != 'running' AND (old.serial IS NOT new.serial OR
	old.chip_uid IS NOT new.chip_uid OR old.jedec_id IS NOT new.jedec_id)
BEGIN
	INSERT INTO outbox (kind, ref, payload, created_at)
	SELECT 'unit', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM outbox_unit_json WHERE id = new.id;
END;

CREATE TRIGGER outbox_identity_allocated AFTER INSERT ON unit_identities
BEGIN
	INSERT INTO outbox (kind, ref, payload, created_at)
	SELECT 'identity', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM outbox_identity_json WHERE id = new.id;
END;

CREATE TRIGGER outbox_identity_changed AFTER UPDATE OF state, device_written ON unit_identities
WHEN old.state IS NOT new.state OR old.device_written IS NOT new.device_written
BEGIN
	INSERT INTO outbox (kind, ref, payload, created_at)
	SELECT 'identity', id, payload, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
	FROM outbox_identity_json WHERE id = new.id;
END;

-- Pool blocks (schema version 6): the ranges a counter or mac pool issues
-- from, lowest first_seq first: the pool's own range from 'flashctl pool
-- create', and blocks leased from a central pool ('flashctl fleet pool
-- lease'), so a station keeps assigning offline from ranges no other
-- station holds.  Each block issues its numbers in order from next_seq
-- (its lowest never issued).  pools.first_seq and last_seq span the
-- blocks; pools.next_seq is the highest next_seq of them (no number from
-- it on was issued).  lease: the central lease's request key, NULL for a
-- range made here.
CREATE TABLE pool_blocks (
	pool		TEXT NOT NULL REFERENCES pools (name) ON DELETE CASCADE,
	first_seq	INTEGER NOT NULL,
	last_seq	INTEGER NOT NULL CHECK (last_seq >= first_seq),
	next_seq	INTEGER NOT NULL CHECK (next_seq BETWEEN first_seq AND last_seq + 1),
	lease		TEXT UNIQUE,
	added_at	INTEGER NOT NULL,	-- ms since epoch, UTC
	PRIMARY KEY (pool, first_seq)
) WITHOUT ROWID;

PRAGMA user_version = 6;
