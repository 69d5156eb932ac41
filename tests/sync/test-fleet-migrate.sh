#!/usr/bin/env bash
# The fleet schema's migration 4 (sync/schema/004-units-from-outbox.sql,
# issue 20's throughput) on a database that already holds units: a server
# at migrations 1 and 3, filled as those shipped (entries inserted by the
# ingest role, unpacked by the old trigger into flashd.units, unit_stages
# and unit_images, a unit re-identified after its finish, identities), is
# migrated by `flashd-sync --migrate`.  Then every fleet query prints what
# it printed before (flashctl fleet log/export/stats/show, the QA views and
# the tables' rows), the copies are gone (units, stages and images are
# views over the outbox), and the stations ship on: a new backlog arrives
# once, and a batch sent again (the same entries inserted a second time)
# adds nothing.  And the new trigger's two jobs: a unit's row is its latest
# entry whatever order the entries arrive in, and an entry the views could
# not read is refused.
. "$(dirname "$0")/../lib/testlib.sh"
. "$top/tests/sync/pg-lib.sh"
sync=$build/flashd-sync
gen=$build/tests/tools/unit-gen
ctl=$build/flashctl

pg_need "fleet migration"

STATIONS=2
export TZ=UTC
pg_up
owner() { psql -h "$pg_sock" -U fleet_owner -d fleet -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# The schema as an install made before migration 4 has it: migrations 1
# and 3 applied the way sync/schema.c applies them.
old_schema() {
	local f v
	owner -c "CREATE SCHEMA flashd; CREATE TABLE flashd.schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())" || return 1
	for f in "$top"/sync/schema/00[13]-*.sql; do
		v=$(basename "$f" | sed 's/^0*\([0-9]*\)-.*/\1/')
		owner -1 -f "$f" -c "INSERT INTO flashd.schema_migrations VALUES ($v, '$(basename "$f")')" ||
			return 1
	done
}
old_schema || {
	nok "migrations 1 and 3 apply"
	exit 1
}
q -c "CREATE ROLE qa LOGIN IN ROLE flashd_qa"
url="postgresql://qa@/fleet?host=$tmp/pg/sock"

# send I: station st-I's entries after the server's mark, as flashd-sync
# sends them (COPY into a staging table, one INSERT into the outbox), as
# its ingest role; with ALL, every entry again (a duplicate delivery).
send() {
	local i=$1 all=${2:-} hw
	hw=$(q -c "SELECT coalesce(max(seq), 0) FROM flashd.outbox WHERE station = 'st-$i'")
	[ -n "$all" ] && hw=0
	sqlite3 -separator $'\t' "$tmp/st$i.db" "SELECT seq, kind, payload FROM outbox WHERE seq > $hw" \
		>"$tmp/batch.tsv"
	PGPASSWORD=pw-$i psql -h "$pg_sock" -U "ingest_$i" -d fleet -X -q -At -v ON_ERROR_STOP=1 \
		-c "SELECT flashd.ingest_hello('st-$i', '$(sqlite3 "$tmp/st$i.db" "SELECT uuid FROM station_identity")', 'line-1')" \
		-c "CREATE TEMP TABLE b (seq bigint, kind text, payload jsonb)" \
		-c "\\copy b FROM '$tmp/batch.tsv'" \
		-c "INSERT INTO flashd.outbox (station, seq, kind, payload) SELECT 'st-$i', seq, kind, payload FROM b ON CONFLICT DO NOTHING" \
		>/dev/null
}
for i in $(seq $STATIONS); do
	q -c "CREATE ROLE ingest_$i LOGIN PASSWORD 'pw-$i' IN ROLE flashd_ingest"
	"$gen" "$tmp/st$i.db" "st-$i" 30 "$(printf '02%02x00000000' "$i")" >/dev/null || nok "unit-gen $i"
	# A serial set after the finish: a second entry for the unit, which replaces the first.
	sqlite3 "$tmp/st$i.db" "UPDATE units SET serial = 'late-$i' WHERE id = 4"
	send "$i" || nok "station $i ships into the old schema"
done

# Everything QA reads, ordered.
queries() {
	local key
	"$ctl" fleet log --format csv --db-url "$url"
	"$ctl" fleet export --format json --db-url "$url"
	"$ctl" fleet export --images --db-url "$url"
	"$ctl" fleet stats --by recipe --format csv --db-url "$url"
	"$ctl" fleet log --serial late-2 --format csv --db-url "$url"
	for key in late-1 st-2-000005 "$(sqlite3 "$tmp/st1.db" "SELECT chip_uid FROM units WHERE id = 9")" \
		"$(sqlite3 "$tmp/st2.db" "SELECT value FROM unit_identities WHERE unit_id = 3")"; do
		"$ctl" fleet show --format json --db-url "$url" "$key"
	done
	q -c "SELECT * FROM flashd.units ORDER BY station, unit_id"
	q -c "SELECT * FROM flashd.unit_stages ORDER BY station, unit_id, idx"
	q -c "SELECT * FROM flashd.unit_images ORDER BY station, unit_id, n"
	q -c "SELECT * FROM flashd.unit_identities ORDER BY station, identity_id"
	q -c "SELECT * FROM flashd.yield_daily ORDER BY 1, 2, 3, 4"
	q -c "SELECT * FROM flashd.unit_lookup ORDER BY 1, 2, 3, 4"
	q -c "SELECT station, high_water FROM flashd.station_sync ORDER BY 1"
	q -c "SELECT station, seq, kind, payload FROM flashd.outbox ORDER BY 1, 2"
}
queries >"$tmp/before.out" 2>&1
if [ "$(q -c "SELECT count(*) FROM flashd.units WHERE serial LIKE 'late-%'")" = $STATIONS ] &&
	[ "$(wc -l <"$tmp/before.out")" -gt 200 ] && ! grep -q '^flashctl\|ERROR' "$tmp/before.out"; then
	ok "the old schema holds the stations' units, a re-identified unit each"
else
	nok "old schema filled" "$(grep -m3 '^flashctl\|ERROR' "$tmp/before.out")"
fi

echo "server = host=$pg_sock dbname=fleet user=fleet_owner" >"$tmp/owner.conf"
"$sync" -c "$tmp/owner.conf" --migrate \
	>"$tmp/migrate.log" 2>&1 || nok "--migrate" "$(cat "$tmp/migrate.log")"
queries >"$tmp/after.out" 2>&1
if cmp -s "$tmp/before.out" "$tmp/after.out"; then
	ok "after --migrate every fleet query prints what it printed before ($(wc -l <"$tmp/after.out") lines)"
else
	nok "fleet queries unchanged by the migration" "$(diff "$tmp/before.out" "$tmp/after.out" | head -8)"
fi
kinds=$(q -c "SELECT string_agg(relname || ':' || relkind::text, ' ' ORDER BY relname) FROM pg_class
	WHERE relnamespace = 'flashd'::regnamespace AND relname IN ('units', 'unit_stages', 'unit_images')")
if [ "$kinds" = "unit_images:v unit_stages:v units:v" ]; then
	ok "units, stages and images are views over the outbox: no copies to write per unit"
else
	nok "units, stages and images are views" "$kinds"
fi

# The stations ship on with flashd-sync; a batch sent twice adds nothing.
counts() {
	q -c "SELECT (SELECT count(*) FROM flashd.outbox) || ' ' || (SELECT count(*) FROM flashd.units)
		|| ' ' || (SELECT count(*) FROM flashd.unit_stages) || ' ' ||
		(SELECT count(*) FROM flashd.unit_images) || ' ' || (SELECT count(*) FROM flashd.unit_identities)"
}
local_counts() {
	local i
	for i in $(seq $STATIONS); do
		sqlite3 "$tmp/st$i.db" "SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM units),
			(SELECT count(*) FROM unit_stages), (SELECT count(*) FROM unit_images),
			(SELECT count(*) FROM unit_identities)"
	done | awk -F'|' '{for (c = 1; c <= 5; c++) s[c] += $c} END {print s[1], s[2], s[3], s[4], s[5]}'
}
for i in $(seq $STATIONS); do
	mkdir -p "$tmp/cred/$i" && echo "pw-$i" >"$tmp/cred/$i/pgpassword"
	cat >"$tmp/st$i.conf" <<CONF
server = host=$tmp/pg/sock dbname=fleet user=ingest_$i
station = st-$i
line = line-1
database = $tmp/st$i.db
batch = 7
CONF
	"$gen" "$tmp/st$i.db" "st-$i" 12 "$(printf '02%02x00000000' "$i")" 0 31 >/dev/null
	sqlite3 "$tmp/st$i.db" "UPDATE units SET chip_uid = 'LATE$i' WHERE id = 35"
	CREDENTIALS_DIRECTORY=$tmp/cred/$i "$sync" -c "$tmp/st$i.conf" --once >"$tmp/ship$i.log" 2>&1 ||
		nok "flashd-sync ships st-$i after the migration" "$(tail -3 "$tmp/ship$i.log")"
done
shipped=$(counts)
if [ "$shipped" = "$(local_counts)" ] &&
	[ "$(q -c "SELECT count(*) FROM flashd.units WHERE chip_uid LIKE 'LATE%' OR serial LIKE 'late-%'")" = $((2 * STATIONS)) ]; then
	ok "after the migration the stations' new units arrive once ($shipped)"
else
	nok "new units after the migration" "station: $(local_counts)" "server:  $shipped"
fi
for i in $(seq $STATIONS); do
	send "$i" all || nok "a re-sent batch is accepted"
done
if [ "$(counts)" = "$shipped" ]; then
	ok "a batch sent again adds no entry, unit, stage, image or identity"
else
	nok "a re-sent batch adds nothing" "before: $shipped" "after:  $(counts)"
fi

# The views show a unit's latest entry whatever the order its entries come
# in (two in one batch; an older one after a newer); an entry they could
# not read is refused with its batch.  (Last: these seqs are past st-1's
# database.)
hw=$(q -c "SELECT max(seq) FROM flashd.outbox WHERE station = 'st-1'")
entry() { echo "('st-1', $((hw + $1)), 'unit', '{\"id\": 900, \"result\": \"pass\", \"serial\": \"$2\", \"started_at\": 1767225600000${3:-}}')"; }
as_ingest() {
	PGPASSWORD=pw-1 psql -h "$pg_sock" -U ingest_1 -d fleet -X -q -At -c "$1" 2>&1
}
as_ingest "INSERT INTO flashd.outbox (station, seq, kind, payload) VALUES $(entry 1 a), $(entry 2 b), $(entry 4 d)" >"$tmp/order.log"
as_ingest "INSERT INTO flashd.outbox (station, seq, kind, payload) VALUES $(entry 3 c)" >>"$tmp/order.log"
latest=$(q -c "SELECT string_agg(serial || '@' || (seq - $hw), ' ') FROM flashd.units WHERE station = 'st-1' AND unit_id = 900")
if [ "$latest" = "d@4" ] && [ ! -s "$tmp/order.log" ]; then
	ok "a unit's latest entry is its row, whatever order its entries arrive in"
else
	nok "latest entry of a unit" "$latest" "$(cat "$tmp/order.log")"
fi
before=$(counts)
bad=$(as_ingest "INSERT INTO flashd.outbox (station, seq, kind, payload) VALUES $(entry 5 e ', "vid": "x"')")
if [[ $bad == *"invalid input syntax for type integer"* ]] && [ "$(counts)" = "$before" ]; then
	ok "an entry the views could not read is refused with its batch"
else
	nok "unreadable entry refused" "$bad" "$before -> $(counts)"
fi
exit $((fails > 0))
