-- flashd fleet database, migration 3: central identity pools whose blocks
-- are leased to stations (issue 20 item 4; `flashctl fleet pool`,
-- flashctl(1) FLEET POOLS).  A station adds each block it leases to its
-- own pool of the same name (station database, table pool_blocks) and
-- assigns from it offline; two leases of one pool never overlap, so no
-- two stations ever hand out the same value.
--
-- Managing pools needs a login of group flashd_pools:
--   CREATE ROLE pooladmin LOGIN PASSWORD '...' IN ROLE flashd_pools;
-- QA (flashd_qa) may read them.

-- The exclusion constraint below compares the pool name (=) in a GiST
-- index: btree_gist, a trusted extension the database owner may create.
CREATE EXTENSION IF NOT EXISTS btree_gist;

DO $$ BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flashd_pools') THEN
		CREATE ROLE flashd_pools NOLOGIN;
	END IF;
END $$;

-- A central pool: numbers first..last (mac: 48-bit addresses), leased in
-- blocks of block_size numbers, from next_seq on (the lowest never leased).
-- format, per_unit, policy and low_water are what the stations' pools get.
CREATE TABLE flashd.pools (
	name		text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
	kind		text NOT NULL CHECK (kind IN ('counter', 'mac')),
	format		text CHECK ((kind = 'counter') = (format IS NOT NULL)),
	first_seq	bigint NOT NULL CHECK (first_seq >= 0),
	last_seq	bigint NOT NULL CHECK (last_seq >= first_seq),
	per_unit	integer NOT NULL DEFAULT 1 CHECK (per_unit BETWEEN 1 AND 64),
	block_size	bigint NOT NULL CHECK (block_size >= per_unit AND block_size % per_unit = 0),
	policy		text NOT NULL DEFAULT 'burn' CHECK (policy IN ('reuse', 'burn')),
	low_water	bigint NOT NULL DEFAULT 0 CHECK (low_water >= 0),
	next_seq	bigint NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (next_seq BETWEEN first_seq AND last_seq + 1),
	-- Two pools of one range (mac, or counter of one format) would lease a number twice.
	EXCLUDE USING gist (kind WITH =, coalesce(format, '') WITH =,
		int8range(first_seq, last_seq, '[]') WITH &&)
);

-- One block of a pool leased to a station.  request is the key the
-- station asked with: asking again with it returns the same block, so a
-- lease whose answer was lost is never handed out twice.
CREATE TABLE flashd.pool_leases (
	id		bigserial PRIMARY KEY,
	pool		text NOT NULL REFERENCES flashd.pools (name),
	station		text NOT NULL,
	request		text NOT NULL,
	first_seq	bigint NOT NULL,
	last_seq	bigint NOT NULL CHECK (last_seq >= first_seq),
	leased_at	timestamptz NOT NULL DEFAULT now(),
	leased_by	name NOT NULL DEFAULT session_user,
	UNIQUE (pool, request),
	-- Two leases of one pool never share a number, whoever writes the rows.
	EXCLUDE USING gist (pool WITH =, int8range(first_seq, last_seq, '[]') WITH &&)
);

CREATE INDEX pool_leases_by_station ON flashd.pool_leases (pool, station);

-- Lease the next block of pool to station, atomically: the pool's row lock
-- serialises concurrent leases (each waits for the one before to commit),
-- so blocks are handed out in order and the cursor never goes back.  A
-- request key already used returns its block again (fresh false); used by
-- another station it is an error.  The last block may be short; an
-- exhausted pool raises 'central pool ... is exhausted'.
CREATE FUNCTION flashd.pool_lease(p_pool text, p_station text, p_request text)
RETURNS TABLE (lease_id bigint, lease_first bigint, lease_last bigint, fresh boolean)
LANGUAGE plpgsql AS $$
DECLARE
	p flashd.pools;
	l flashd.pool_leases;
BEGIN
	IF coalesce(p_station, '') = '' OR coalesce(p_request, '') = '' THEN
		RAISE EXCEPTION 'lease: station and request key are required';
	END IF;
	SELECT * INTO p FROM flashd.pools WHERE name = p_pool FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no central pool ''%''', p_pool;
	END IF;
	SELECT * INTO l FROM flashd.pool_leases WHERE pool = p_pool AND request = p_request;
	IF FOUND THEN
		IF l.station <> p_station THEN
			RAISE EXCEPTION 'pool ''%'': request ''%'' was made by station ''%''',
				p_pool, p_request, l.station;
		END IF;
		RETURN QUERY SELECT l.id, l.first_seq, l.last_seq, false;
		RETURN;
	END IF;
	IF p.next_seq + p.per_unit - 1 > p.last_seq THEN
		RAISE EXCEPTION 'central pool ''%'' is exhausted: all of %..% leased',
			p_pool, p.first_seq, p.last_seq;
	END IF;
	INSERT INTO flashd.pool_leases (pool, station, request, first_seq, last_seq)
	VALUES (p_pool, p_station, p_request, p.next_seq,
		least(p.next_seq + p.block_size - 1, p.last_seq))
	RETURNING * INTO l;
	UPDATE flashd.pools SET next_seq = l.last_seq + 1 WHERE name = p_pool;
	RETURN QUERY SELECT l.id, l.first_seq, l.last_seq, true;
END $$;

-- Per pool and station: blocks and numbers leased; and what is left centrally.
CREATE VIEW flashd.pool_status AS
SELECT p.name AS pool, l.station, count(l.id) AS blocks,
	coalesce(sum(l.last_seq - l.first_seq + 1), 0) AS leased,
	min(l.first_seq) AS first_seq, max(l.last_seq) AS last_seq, max(l.leased_at) AS last_leased
FROM flashd.pools p LEFT JOIN flashd.pool_leases l ON l.pool = p.name
GROUP BY p.name, l.station;

GRANT USAGE ON SCHEMA flashd TO flashd_pools;
GRANT SELECT, INSERT ON flashd.pools TO flashd_pools;
GRANT SELECT ON flashd.pool_leases, flashd.pool_status TO flashd_pools, flashd_qa;
GRANT SELECT ON flashd.pools TO flashd_qa;
-- Leases are written by flashd.pool_lease() only: it runs as its owner.
ALTER FUNCTION flashd.pool_lease(text, text, text) SECURITY DEFINER SET search_path = pg_catalog, flashd;
REVOKE EXECUTE ON FUNCTION flashd.pool_lease(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION flashd.pool_lease(text, text, text) TO flashd_pools;
