-- flashd fleet database, migration 1: what flashd-sync(8) ships from every
-- station's outbox (db/schema.sql, table outbox), and the views QA asks.
--
-- Applied by `flashd-sync --migrate` as the owner of the database (a role
-- with CREATE on the database and CREATEROLE, once per migration); the
-- stations then log in with a role of group flashd_ingest, which may only
-- insert into flashd.outbox and call flashd.ingest_hello/ingest_same.
-- Every migration runs in one transaction with its row in
-- flashd.schema_migrations.
--
-- Roles (run once, as a superuser or CREATEROLE role; the groups are made
-- here, the logins are yours):
--   CREATE ROLE station_a LOGIN PASSWORD '...' IN ROLE flashd_ingest;
--   CREATE ROLE qa LOGIN PASSWORD '...' IN ROLE flashd_qa;
-- Connect stations with sslmode=verify-full (flashd-sync(8)).
--
-- Keys: a station is its name (flashd-sync's station=); its database is
-- its uuid (station DB table station_identity).  Rows are keyed by
-- (station, seq): a re-sent batch inserts nothing (ON CONFLICT DO NOTHING).
-- Times are timestamptz; days in the views are UTC days.

DO $$ BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flashd_ingest') THEN
		CREATE ROLE flashd_ingest NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flashd_qa') THEN
		CREATE ROLE flashd_qa NOLOGIN;
	END IF;
END $$;

-- One row per station; the first database to sync under a name owns it.
CREATE TABLE flashd.stations (
	station		text PRIMARY KEY,
	station_uuid	uuid NOT NULL UNIQUE,
	line		text,			-- production line (flashd-sync's line=)
	ingest_role	name NOT NULL DEFAULT session_user, -- the login that ships it
	first_seen	timestamptz NOT NULL DEFAULT now(),
	last_seen	timestamptz NOT NULL DEFAULT now()
);

-- The outbox entries as shipped: the one table stations insert into.
CREATE TABLE flashd.outbox (
	station		text NOT NULL REFERENCES flashd.stations (station),
	seq		bigint NOT NULL CHECK (seq > 0),
	kind		text NOT NULL CHECK (kind IN ('unit', 'identity')),
	payload		jsonb NOT NULL,
	received_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (station, seq)
);

-- Units, stages, images and identities, unpacked from the outbox by the
-- trigger below; a later entry for the same unit or identity (higher seq)
-- replaces an earlier one.
CREATE TABLE flashd.units (
	station		text NOT NULL,
	unit_id		bigint NOT NULL,	-- units.id on the station
	seq		bigint NOT NULL,	-- outbox entry it came from
	port		text,
	slot		text,
	recipe		text,
	recipe_sha256	text,
	vid		integer,
	pid		integer,
	serial		text,
	chip_uid	text,
	jedec_id	text,
	result		text NOT NULL,
	failed_stage	text,
	error		text,
	started_at	timestamptz,
	finished_at	timestamptz,
	duration_ms	bigint,
	flashd_version	text,
	PRIMARY KEY (station, unit_id)
);
CREATE INDEX units_by_serial ON flashd.units (serial);
CREATE INDEX units_by_chip_uid ON flashd.units (lower(chip_uid));
CREATE INDEX units_by_time ON flashd.units (started_at);

CREATE TABLE flashd.unit_stages (
	station		text NOT NULL,
	unit_id		bigint NOT NULL,
	idx		integer NOT NULL,
	name		text NOT NULL,
	result		text NOT NULL,
	error		text,
	started_at	timestamptz,
	duration_ms	bigint,
	PRIMARY KEY (station, unit_id, idx)
);

CREATE TABLE flashd.unit_images (
	station		text NOT NULL,
	unit_id		bigint NOT NULL,
	n		integer NOT NULL,	-- order of the image in the unit, from 1
	stage		text NOT NULL,
	target		text,
	file		text NOT NULL,
	size		bigint,
	sha256		text,
	host_crc32	bigint,
	device_crc32	bigint,
	verified	boolean NOT NULL,
	PRIMARY KEY (station, unit_id, n)
);

CREATE TABLE flashd.unit_identities (
	station		text NOT NULL,
	identity_id	bigint NOT NULL,	-- unit_identities.id on the station
	seq		bigint NOT NULL,
	unit_id		bigint NOT NULL,
	pool		text NOT NULL,
	pool_seq	bigint,
	value		text NOT NULL,
	file		text,
	file_sha256	text,
	state		text NOT NULL,
	device_written	boolean NOT NULL,
	PRIMARY KEY (station, identity_id)
);
CREATE INDEX unit_identities_by_value ON flashd.unit_identities (lower(value));
CREATE INDEX unit_identities_by_unit ON flashd.unit_identities (station, unit_id);

CREATE FUNCTION flashd.ms(v text) RETURNS timestamptz LANGUAGE sql IMMUTABLE
AS $$ SELECT to_timestamp(v::bigint / 1000.0) $$;

-- Unpack the entries one INSERT added (only those: a duplicate adds none).
-- A station's entries come from the login that first said hello for it
-- (SQLSTATE FD003 otherwise): one station's role cannot write another's.
CREATE FUNCTION flashd.apply_outbox() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = flashd, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM fresh f JOIN flashd.stations s USING (station)
		   WHERE s.ingest_role <> session_user) THEN
		RAISE EXCEPTION USING ERRCODE = 'FD003', MESSAGE = format(
			'role %s may not insert entries of another role''s station', session_user);
	END IF;
	INSERT INTO flashd.units AS u
	SELECT DISTINCT ON (f.station, (f.payload->>'id')::bigint)
		f.station, (f.payload->>'id')::bigint, f.seq, f.payload->>'port', f.payload->>'slot',
		f.payload->>'recipe', f.payload->>'recipe_sha256', (f.payload->>'vid')::integer,
		(f.payload->>'pid')::integer, f.payload->>'serial', f.payload->>'chip_uid',
		f.payload->>'jedec_id', f.payload->>'result', f.payload->>'failed_stage',
		f.payload->>'error', flashd.ms(f.payload->>'started_at'),
		flashd.ms(f.payload->>'finished_at'), (f.payload->>'duration_ms')::bigint,
		f.payload->>'flashd_version'
	FROM fresh f WHERE f.kind = 'unit'
	ORDER BY f.station, (f.payload->>'id')::bigint, f.seq DESC
	ON CONFLICT (station, unit_id) DO UPDATE SET seq = excluded.seq, serial = excluded.serial,
		chip_uid = excluded.chip_uid, jedec_id = excluded.jedec_id
	WHERE u.seq < excluded.seq;

	INSERT INTO flashd.unit_stages
	SELECT f.station, (f.payload->>'id')::bigint, (s->>'idx')::integer, s->>'name',
		s->>'result', s->>'error', flashd.ms(s->>'started_at'), (s->>'duration_ms')::bigint
	FROM fresh f, jsonb_array_elements(f.payload->'stages') s WHERE f.kind = 'unit'
	ON CONFLICT DO NOTHING;

	INSERT INTO flashd.unit_images
	SELECT f.station, (f.payload->>'id')::bigint, i.n, i.j->>'stage', i.j->>'target',
		i.j->>'file', (i.j->>'size')::bigint, i.j->>'sha256', (i.j->>'host_crc32')::bigint,
		(i.j->>'device_crc32')::bigint, (i.j->>'verified')::integer <> 0
	FROM fresh f, jsonb_array_elements(f.payload->'images') WITH ORDINALITY i (j, n)
	WHERE f.kind = 'unit'
	ON CONFLICT DO NOTHING;

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
END $$;

CREATE TRIGGER outbox_apply AFTER INSERT ON flashd.outbox
REFERENCING NEW TABLE AS fresh FOR EACH STATEMENT EXECUTE FUNCTION flashd.apply_outbox();

-- A station says hello: its name owns its database uuid (first come), and
-- the answer is the highest seq the server holds from it.  Refused with
-- SQLSTATE FD001 (this database already syncs under another name: a copied
-- station), FD002 (the name is fed by another database) or FD003 (the name
-- ships as another login role).
CREATE FUNCTION flashd.ingest_hello(p_station text, p_uuid uuid, p_line text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = flashd, pg_temp AS $$
DECLARE
	owner_uuid uuid;
	owner_role name;
	other text;
BEGIN
	SELECT station INTO other FROM flashd.stations
	WHERE station_uuid = p_uuid AND station <> p_station;
	IF FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'FD001', MESSAGE = format(
			'station database %s already syncs as station ''%s'', not ''%s'' (a copied station database?)',
			p_uuid, other, p_station);
	END IF;
	INSERT INTO flashd.stations (station, station_uuid, line) VALUES (p_station, p_uuid, p_line)
	ON CONFLICT DO NOTHING;
	SELECT station_uuid, ingest_role INTO owner_uuid, owner_role FROM flashd.stations
	WHERE station = p_station;
	IF owner_uuid <> p_uuid THEN
		RAISE EXCEPTION USING ERRCODE = 'FD002', MESSAGE = format(
			'station ''%s'' is fed by station database %s; this one is %s (two stations with one name?)',
			p_station, owner_uuid, p_uuid);
	END IF;
	IF owner_role <> session_user THEN
		RAISE EXCEPTION USING ERRCODE = 'FD003', MESSAGE = format(
			'station ''%s'' ships as role %s, not %s', p_station, owner_role, session_user);
	END IF;
	UPDATE flashd.stations SET last_seen = now(), line = coalesce(p_line, line)
	WHERE station = p_station;
	RETURN coalesce((SELECT max(seq) FROM flashd.outbox WHERE station = p_station), 0);
END $$;

-- Whether the server's entry seq of the station has this payload: a station
-- database restored from a backup and grown again past the high-water mark
-- has other entries under the same numbers.
CREATE FUNCTION flashd.ingest_same(p_station text, p_seq bigint, p_payload jsonb)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = flashd, pg_temp AS $$
	SELECT coalesce((SELECT payload = p_payload FROM flashd.outbox
			 WHERE station = p_station AND seq = p_seq), false)
$$;

-- QA views.
-- Yield per UTC day, station, line and recipe; pass / all finished units.
CREATE VIEW flashd.yield_daily AS
SELECT (u.started_at AT TIME ZONE 'UTC')::date AS day, u.station, s.line, u.recipe,
	count(*) AS units,
	count(*) FILTER (WHERE u.result = 'pass') AS pass,
	count(*) FILTER (WHERE u.result = 'fail') AS fail,
	count(*) FILTER (WHERE u.result = 'interrupted') AS interrupted,
	round(100.0 * count(*) FILTER (WHERE u.result = 'pass') / nullif(count(*), 0), 2) AS yield_pct
FROM flashd.units u JOIN flashd.stations s USING (station)
GROUP BY 1, 2, 3, 4;

-- Where was unit X flashed: one row per unit and key (serial, chip UID,
-- each identity value such as a MAC).  WHERE key = lower('...') uses the
-- indexes; chip UIDs and identity values are compared in lower case.
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

-- How far each station has shipped.
CREATE VIEW flashd.station_sync AS
SELECT s.station, s.line, s.station_uuid, s.last_seen,
	(SELECT max(seq) FROM flashd.outbox o WHERE o.station = s.station) AS high_water
FROM flashd.stations s;

-- Least privilege: stations insert entries and say hello, nothing else.
REVOKE ALL ON SCHEMA flashd FROM PUBLIC;
GRANT USAGE ON SCHEMA flashd TO flashd_ingest, flashd_qa;
GRANT INSERT ON flashd.outbox TO flashd_ingest;
GRANT SELECT ON flashd.schema_migrations TO flashd_ingest, flashd_qa;
REVOKE EXECUTE ON FUNCTION flashd.ingest_hello(text, uuid, text), flashd.ingest_same(text, bigint, jsonb),
	flashd.apply_outbox() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION flashd.ingest_hello(text, uuid, text), flashd.ingest_same(text, bigint, jsonb)
	TO flashd_ingest;
GRANT SELECT ON flashd.stations, flashd.outbox, flashd.units, flashd.unit_stages, flashd.unit_images,
	flashd.unit_identities, flashd.yield_daily, flashd.unit_lookup, flashd.station_sync TO flashd_qa;
