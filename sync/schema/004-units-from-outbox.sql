-- flashd fleet database, migration 4: units, stages and images are read
-- from the outbox entries themselves (issue 20: a 1,000,000-unit backlog at
-- 20,000 units/s).  Before, the outbox trigger copied every unit entry into
-- flashd.units (five indexes), flashd.unit_stages and flashd.unit_images:
-- four more heap rows per unit and their index entries and WAL, most of the
-- server's work per unit (tests/bench/README.md, "Fleet sync").  Now an
-- entry is written once, with an index per key QA looks units up by, and
-- flashd.units, unit_stages and unit_images are views over it with the
-- same names, columns and types (flashctl fleet, the QA views and psql
-- sessions read them as before).  flashd.unit_identities stays a table:
-- an identity changes state in later entries of its own.
--
-- A later entry for a unit (its serial or chip UID learned after the
-- finish) replaces the earlier one: the earlier entry is marked replaced,
-- and the views show the latest entry of each unit, whole (each entry is the
-- station's whole unit row).
--
-- Existing installs keep everything: the outbox already holds every entry
-- the old tables were unpacked from; this migration marks the replaced
-- entries, drops the copies and builds the indexes.
--
-- Idempotency, the high-water mark (max(seq) of the station in
-- flashd.outbox), the ingest role's rights (INSERT on flashd.outbox and
-- the two functions) and the refusals are unchanged.  The foreign key
-- from the outbox to flashd.stations goes: the trigger refuses entries of
-- a station whose row is not the inserting role's, which includes a
-- station with no row.

DROP VIEW flashd.yield_daily, flashd.unit_lookup;
DROP TABLE flashd.units, flashd.unit_stages, flashd.unit_images;

ALTER TABLE flashd.outbox DROP CONSTRAINT outbox_station_fkey,
	ADD COLUMN replaced boolean NOT NULL DEFAULT false;

UPDATE flashd.outbox o SET replaced = true
FROM (SELECT station, (payload->>'id')::bigint AS id, max(seq) AS last
      FROM flashd.outbox WHERE kind = 'unit' GROUP BY 1, 2 HAVING count(*) > 1) k
WHERE o.kind = 'unit' AND o.station = k.station AND (o.payload->>'id')::bigint = k.id
	AND o.seq < k.last;

-- A unit's entries; and the keys flashctl fleet and unit_lookup find units by.
CREATE INDEX outbox_unit ON flashd.outbox (station, ((payload->>'id')::bigint), seq)
WHERE kind = 'unit';
CREATE INDEX outbox_unit_serial ON flashd.outbox ((payload->>'serial'))
WHERE kind = 'unit' AND NOT replaced;
CREATE INDEX outbox_unit_chip_uid ON flashd.outbox (lower(payload->>'chip_uid'))
WHERE kind = 'unit' AND NOT replaced;
CREATE INDEX outbox_unit_time ON flashd.outbox (flashd.ms(payload->>'started_at'))
WHERE kind = 'unit' AND NOT replaced;

-- The planner takes no statistics from a partial index's expressions: these
-- (statistics on expressions: PostgreSQL 14 or later) give it the keys'
-- selectivity, so a lookup by serial or chip UID uses its
-- index instead of walking the time index (1.6 s for 1,000,000 units).
CREATE STATISTICS flashd.outbox_unit_id ON ((payload->>'id')::bigint) FROM flashd.outbox;
CREATE STATISTICS flashd.outbox_serial ON (payload->>'serial') FROM flashd.outbox;
CREATE STATISTICS flashd.outbox_chip_uid ON (lower(payload->>'chip_uid')) FROM flashd.outbox;
ANALYZE flashd.outbox;

-- The typed fields of a unit entry, as the views read them: the trigger
-- reads each entry into these once, so a value the views could not cast is
-- refused with its batch instead of failing every later query.
CREATE TYPE flashd.stage_entry AS (idx integer, name text, result text, started_at bigint,
	duration_ms bigint);
CREATE TYPE flashd.image_entry AS (size bigint, host_crc32 bigint, device_crc32 bigint,
	verified integer);
CREATE TYPE flashd.unit_entry AS (id bigint, vid integer, pid integer, result text,
	started_at bigint, finished_at bigint, duration_ms bigint,
	stages flashd.stage_entry[], images flashd.image_entry[]);

CREATE VIEW flashd.units AS
SELECT o.station, (o.payload->>'id')::bigint AS unit_id, o.seq, o.payload->>'port' AS port,
	o.payload->>'slot' AS slot, o.payload->>'recipe' AS recipe,
	o.payload->>'recipe_sha256' AS recipe_sha256, (o.payload->>'vid')::integer AS vid,
	(o.payload->>'pid')::integer AS pid, o.payload->>'serial' AS serial,
	o.payload->>'chip_uid' AS chip_uid, o.payload->>'jedec_id' AS jedec_id,
	o.payload->>'result' AS result, o.payload->>'failed_stage' AS failed_stage,
	o.payload->>'error' AS error, flashd.ms(o.payload->>'started_at') AS started_at,
	flashd.ms(o.payload->>'finished_at') AS finished_at,
	(o.payload->>'duration_ms')::bigint AS duration_ms,
	o.payload->>'flashd_version' AS flashd_version
FROM flashd.outbox o WHERE o.kind = 'unit' AND NOT o.replaced;

CREATE VIEW flashd.unit_stages AS
SELECT o.station, (o.payload->>'id')::bigint AS unit_id, (s->>'idx')::integer AS idx,
	s->>'name' AS name, s->>'result' AS result, s->>'error' AS error,
	flashd.ms(s->>'started_at') AS started_at, (s->>'duration_ms')::bigint AS duration_ms
FROM flashd.outbox o, jsonb_array_elements(o.payload->'stages') s
WHERE o.kind = 'unit' AND NOT o.replaced;

CREATE VIEW flashd.unit_images AS
SELECT o.station, (o.payload->>'id')::bigint AS unit_id, i.n::integer AS n,
	i.j->>'stage' AS stage, i.j->>'target' AS target, i.j->>'file' AS file,
	(i.j->>'size')::bigint AS size, i.j->>'sha256' AS sha256,
	(i.j->>'host_crc32')::bigint AS host_crc32, (i.j->>'device_crc32')::bigint AS device_crc32,
	(i.j->>'verified')::integer <> 0 AS verified
FROM flashd.outbox o, jsonb_array_elements(o.payload->'images') WITH ORDINALITY i (j, n)
WHERE o.kind = 'unit' AND NOT o.replaced;

-- Nobody writes these views (their rows are the outbox's).  The trigger
-- makes a write a matter of rights, as it was on the tables: "permission
-- denied" for the ingest role, not a remark on which view columns are
-- updatable; an owner who tries gets told where the rows come from.
CREATE FUNCTION flashd.read_only_view() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is a view over flashd.outbox: rows come from outbox entries', TG_TABLE_NAME;
END $$;
CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON flashd.units
FOR EACH ROW EXECUTE FUNCTION flashd.read_only_view();
CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON flashd.unit_stages
FOR EACH ROW EXECUTE FUNCTION flashd.read_only_view();
CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON flashd.unit_images
FOR EACH ROW EXECUTE FUNCTION flashd.read_only_view();

-- Refuse what the views could not read, mark the units' earlier entries
-- replaced, and unpack identities (as before).  A station's entries come
-- from the login that first said hello for it (SQLSTATE FD003 otherwise).
CREATE OR REPLACE FUNCTION flashd.apply_outbox() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = flashd, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM fresh f LEFT JOIN flashd.stations s USING (station)
		   WHERE s.ingest_role IS DISTINCT FROM session_user) THEN
		RAISE EXCEPTION USING ERRCODE = 'FD003', MESSAGE = format(
			'role %s may not insert entries of another role''s station', session_user);
	END IF;
	IF EXISTS (SELECT 1 FROM fresh f, jsonb_populate_record(NULL::flashd.unit_entry, f.payload) r
		   WHERE f.kind = 'unit' AND (r.id IS NULL OR r.result IS NULL)) THEN
		RAISE EXCEPTION USING ERRCODE = 'FD004', MESSAGE = 'unit entry without id or result';
	END IF;

	UPDATE flashd.outbox o SET replaced = true
	FROM fresh f
	WHERE f.kind = 'unit' AND o.kind = 'unit' AND o.station = f.station
		AND (o.payload->>'id')::bigint = (f.payload->>'id')::bigint AND NOT o.replaced
		AND EXISTS (SELECT 1 FROM flashd.outbox m WHERE m.kind = 'unit'
			    AND m.station = o.station
			    AND (m.payload->>'id')::bigint = (o.payload->>'id')::bigint AND m.seq > o.seq);

	INSERT INTO flashd.unit_identities AS d
	SELECT DISTINCT ON (x.station, (x.j->>'id')::bigint)
		x.station, (x.j->>'id')::bigint, x.seq, x.unit_id, x.j->>'pool',
		(x.j->>'seq')::bigint, x.j->>'value', x.j->>'file', x.j->>'file_sha256',
		x.j->>'state', (x.j->>'device_written')::integer <> 0
	FROM (SELECT f.station, f.seq, (f.payload->>'id')::bigint AS unit_id, e AS j
	      FROM fresh f, jsonb_array_elements(f.payload->'identities') e WHERE f.kind = 'unit'
	      UNION ALL
	      SELECT f.station, f.seq, (f.payload->>'unit_id')::bigint, f.payload
	      FROM fresh f WHERE f.kind = 'identity') x
	ORDER BY x.station, (x.j->>'id')::bigint, x.seq DESC
	ON CONFLICT (station, identity_id) DO UPDATE SET seq = excluded.seq,
		state = excluded.state, device_written = excluded.device_written
	WHERE d.seq < excluded.seq;
	RETURN NULL;
END $$
-- Index probes per entry of the batch, never a scan of the whole outbox:
-- the planner prices the jsonb key of each outbox row far too cheaply.
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;

-- QA views, as in migration 1 (they read the views above now).
CREATE VIEW flashd.yield_daily AS
SELECT (u.started_at AT TIME ZONE 'UTC')::date AS day, u.station, s.line, u.recipe,
	count(*) AS units,
	count(*) FILTER (WHERE u.result = 'pass') AS pass,
	count(*) FILTER (WHERE u.result = 'fail') AS fail,
	count(*) FILTER (WHERE u.result = 'interrupted') AS interrupted,
	round(100.0 * count(*) FILTER (WHERE u.result = 'pass') / nullif(count(*), 0), 2) AS yield_pct
FROM flashd.units u JOIN flashd.stations s USING (station)
GROUP BY 1, 2, 3, 4;

CREATE VIEW flashd.unit_lookup AS
SELECT 'serial' AS key_kind, u.serial AS key, u.station, u.unit_id, u.recipe, u.result,
	u.started_at, u.finished_at
FROM flashd.units u WHERE u.serial IS NOT NULL
UNION ALL
SELECT 'chip_uid', lower(u.chip_uid), u.station, u.unit_id, u.recipe, u.result,
	u.started_at, u.finished_at
FROM flashd.units u WHERE u.chip_uid IS NOT NULL
UNION ALL
SELECT 'pool:' || i.pool, lower(i.value), u.station, u.unit_id, u.recipe, u.result,
	u.started_at, u.finished_at
FROM flashd.unit_identities i JOIN flashd.units u USING (station, unit_id);

GRANT SELECT ON flashd.units, flashd.unit_stages, flashd.unit_images, flashd.yield_daily,
	flashd.unit_lookup TO flashd_qa;
