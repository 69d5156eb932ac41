#!/usr/bin/env bash
# Central pool blocks (issue 20 item 4) against a real PostgreSQL started
# here (tests/sync/pg-lib.sh): "flashctl fleet pool create|lease|status"
# with two station databases made by the real db code.  Leases, 8 of them
# at once, never overlap; a retried lease returns its block and never a
# second one; stations assign values offline (server stopped) from their
# blocks with the real db/pool.c (tests/tools/pool-tool), and the values
# used across stations are all distinct; a station whose blocks are used
# up fails the unit naming the pool until it leases another block.
. "$(dirname "$0")/../lib/testlib.sh"
. "$top/tests/sync/pg-lib.sh"
sync=$build/flashd-sync
ctl=$build/flashctl
tool=$build/tests/tools/pool-tool
init=$build/tests/tools/db-init

pg_need "fleet pools"
cleanup() {
	wait 2>/dev/null
	pg_cleanup
}
trap cleanup EXIT

pg_up
pg_migrate
# The pool manager: a login of group flashd_pools, with a password (SCRAM).
q -c "CREATE ROLE pooladmin LOGIN PASSWORD 'pw-pools' IN ROLE flashd_pools"
export FLASHD_FLEET_URL="host=$tmp/pg/sock dbname=fleet user=pooladmin password=pw-pools"

"$init" "$tmp/a.db" >/dev/null && "$init" "$tmp/b.db" >/dev/null || {
	nok "station databases"
	exit 1
}
fpool() { "$ctl" fleet pool "$@"; }
lease() { # STATION-LETTER POOL [options]: lease into station X's database as st-X
	local s=$1
	shift
	"$ctl" --db "$tmp/$s.db" fleet pool lease "$@" --station "st-$s"
}

# --- create ------------------------------------------------------------------
fpool create serials --kind counter --format 'SN{seq:5}' --first 1 --last 200 --block 10 \
	--low-water 3 >"$tmp/out" 2>&1 &&
	fpool create macs --kind mac --first 02:00:00:00:10:00 --last 02:00:00:00:10:ff \
		--per-unit 2 --block 8 >>"$tmp/out" 2>&1
check_eq "central pools created" "$?" 0
"$ctl" fleet pool create bad --kind mac --first 02:00:00:00:20:00 --last 02:00:00:00:20:ff \
	--per-unit 2 --block 7 >/dev/null 2>&1
check_eq "a block that is not a multiple of --per-unit is a usage error" "$?" 2
out=$(fpool create other --kind mac --first 02:00:00:00:10:80 --last 02:00:00:00:11:ff \
	--block 8 2>&1)
rc=$?
if [ $rc = 1 ] && [[ $out == *"conflicting key value violates exclusion constraint"* ]]; then
	ok "a central pool overlapping another of its range is refused"
else
	nok "overlapping central pool refused" "rc=$rc: $out"
fi
out=$(fpool create mc --kind mac --first 03:00:00:00:00:00 --last 03:00:00:00:00:ff --block 8 2>&1)
check_eq "a central pool is checked as a station's would be" "$?:$out" \
	"1:flashctl fleet pool create: pool 'mc': multicast addresses (bit 0 of the first octet) are not unit addresses"

# --- lease: idempotent per request key ----------------------------------------
out=$(lease a serials --request first-a 2>&1)
check_eq "first lease creates the station's pool with the block" "$?:$out" \
	"0:pool 'serials': block 1..10 leased to station 'st-a'"
out=$(lease a serials --request first-a 2>&1)
check_eq "the same request key returns the same block, leased once" "$?:$out" \
	"0:pool 'serials': block 1..10 (leased before) held by station 'st-a'"
out=$(lease b serials --request first-a 2>&1)
check_eq "another station's request key is refused" "$?:$out" \
	"1:flashctl fleet pool lease: pool 'serials': request 'first-a' was made by station 'st-a'"
check_eq "station a holds one block" \
	"$(sqlite3 "$tmp/a.db" "SELECT group_concat(first_seq || '..' || last_seq || '=' || lease) FROM pool_blocks WHERE pool = 'serials'")" \
	"1..10=first-a"
# A lease that committed centrally but never reached the station database
# (flashctl killed in between): the default key asks for it again.
uuid=$(sqlite3 "$tmp/b.db" "SELECT uuid FROM station_identity")
lost=$(q -c "SELECT lease_first || '..' || lease_last FROM flashd.pool_lease('serials', 'st-b', '$uuid/serials/1')")
out=$(lease b serials 2>&1)
check_eq "a retried default lease gets the block its lost run took" "$?:$out" \
	"0:pool 'serials': block $lost (leased before) held by station 'st-b'"
out=$(lease b serials 2>&1)
check_eq "the next default lease takes a new block" "$?:$out" \
	"0:pool 'serials': block 21..30 leased to station 'st-b'"

# --- 8 leases at once, 4 per station -------------------------------------------
for i in 1 2 3 4; do
	for s in a b; do
		lease $s serials --request "burst-$s-$i" >"$tmp/burst-$s-$i.out" 2>&1 &
	done
done
wait
bad=$(grep -L "leased to station" "$tmp"/burst-*.out)
check_eq "8 concurrent leases all succeed" "${bad:+$(cat $bad)}" ""
check_eq "leases of one pool never overlap" \
	"$(q -c "SELECT count(*) FROM flashd.pool_leases x JOIN flashd.pool_leases y ON x.pool = y.pool AND x.id < y.id AND x.first_seq <= y.last_seq AND y.first_seq <= x.last_seq")" 0
check_eq "11 blocks of 10 leased, 1..110 without a gap" \
	"$(q -c "SELECT count(*), min(first_seq), max(last_seq), sum(last_seq - first_seq + 1) FROM flashd.pool_leases WHERE pool = 'serials'")" \
	"11|1|110|110"
for s in a b; do
	check_eq "station $s's blocks are exactly its central leases" \
		"$(sqlite3 "$tmp/$s.db" "SELECT group_concat(first_seq || '..' || last_seq || '=' || lease, ' ') FROM (SELECT * FROM pool_blocks WHERE pool = 'serials' ORDER BY first_seq)")" \
		"$(q -c "SELECT string_agg(first_seq || '..' || last_seq || '=' || request, ' ' ORDER BY first_seq) FROM flashd.pool_leases WHERE pool = 'serials' AND station = 'st-$s'")"
done
lease a macs >/dev/null 2>&1 && lease b macs >/dev/null 2>&1 && lease a macs >/dev/null 2>&1
check_eq "mac blocks leased" "$?" 0

# --- status ---------------------------------------------------------------------
fpool status serials >"$tmp/status" 2>&1
if grep -q "left: *90 numbers not leased" "$tmp/status" &&
	grep -Eq "^  st-a +5 +50 " "$tmp/status" && grep -Eq "^  st-b +6 +60 " "$tmp/status"; then
	ok "fleet pool status: leases per station and what is left centrally"
else
	nok "fleet pool status" "$(cat "$tmp/status")"
fi
# The station's low-water counts every block: 50 free, 3 units under the mark is far off.
check_eq "the station's pool counts all its blocks" \
	"$("$ctl" --db "$tmp/a.db" pool list serials --json | grep -o '"units_left":[0-9]*,"low_water":3,"low":false')" \
	'"units_left":50,"low_water":3,"low":false'

out=$("$ctl" --db "$tmp/a.db" pool status serials)
if [[ $out == *"  blocks:     5"* ]] && [[ $out == *"    1..10  0 issued, lease first-a"* ]]; then
	ok "pool status lists the station's blocks"
else
	nok "pool status lists the blocks" "$out"
fi

# --- offline: the server is gone, stations assign from their blocks --------------
pg_stop fast
n_a=$(sqlite3 "$tmp/a.db" "SELECT sum(last_seq - first_seq + 1) FROM pool_blocks WHERE pool = 'serials'")
n_b=$(sqlite3 "$tmp/b.db" "SELECT sum(last_seq - first_seq + 1) FROM pool_blocks WHERE pool = 'serials'")
: >"$tmp/values"
errs=0
for s in a b; do
	n=$n_a
	[ $s = b ] && n=$n_b
	for i in $(seq "$n"); do
		how=pass
		[ $((i % 7)) = 0 ] && how=written-fail # burned: never given again
		POOL_TOOL_STATION=st-$s "$tool" "$tmp/$s.db" $how serials >>"$tmp/values" 2>"$tmp/tool.err" ||
			errs=$((errs + 1))
	done
done
check_eq "both stations assign every value of their blocks offline" "$errs:$(wc -l <"$tmp/values")" \
	"0:$((n_a + n_b))"
check_eq "no value given twice across stations" "$(sort "$tmp/values" | uniq -d | head -3)" ""
check_eq "the values are exactly the leased numbers" \
	"$(awk '{print $2}' "$tmp/values" | sort | head -1)..$(awk '{print $2}' "$tmp/values" | sort | tail -1)" \
	"SN00001..SN00110"
out=$(POOL_TOOL_STATION=st-a "$tool" "$tmp/a.db" pass serials 2>&1)
rc=$?
if [ $rc = 1 ] && [[ $out == "pool-tool: pool 'serials' is exhausted: every block issued"*"flashctl fleet pool lease"* ]]; then
	ok "a station whose blocks are used up fails the unit naming the pool"
else
	nok "exhausted station blocks fail the unit naming the pool" "rc=$rc: $out"
fi
for s in a b; do
	out=$("$ctl" --db "$tmp/$s.db" pool audit 2>&1)
	check_eq "station $s: pool audit clean" "$?" 0
done

# --- back online: another block, and the station assigns again --------------------
pg_start || nok "PostgreSQL restarts"
out=$(lease a serials 2>&1)
check_eq "station a leases another block" "$?:$out" "0:pool 'serials': block 111..120 leased to station 'st-a'"
out=$(POOL_TOOL_STATION=st-a "$tool" "$tmp/a.db" pass serials 2>&1)
check_eq "and assigns from it" "$?:$out" "0:serials SN00111"

# --- the central pool runs out -----------------------------------------------------
fpool create tiny --kind counter --format 'T{seq:3}' --first 1 --last 15 --block 10 >/dev/null
lease a tiny >/dev/null && out=$(lease a tiny 2>&1)
check_eq "the last block is what is left" "$?:$out" "0:pool 'tiny': block 11..15 leased to station 'st-a'"
out=$(lease b tiny 2>&1)
check_eq "an exhausted central pool is an error naming it" "$?:$out" \
	"1:flashctl fleet pool lease: central pool 'tiny' is exhausted: all of 1..15 leased"
check_eq "station b got no pool from the failed lease" \
	"$(sqlite3 "$tmp/b.db" "SELECT count(*) FROM pools WHERE name = 'tiny'")" 0

# --- the server keeps leases apart whoever writes them ----------------------------
out=$(q -c "INSERT INTO flashd.pool_leases (pool, station, request, first_seq, last_seq) VALUES ('serials', 'x', 'x', 105, 125)" 2>&1)
[[ $out == *"exclusion constraint"* ]] && ok "an overlapping lease row is refused by the server" ||
	nok "overlapping lease row refused" "$out"
out=$(psql "$FLASHD_FLEET_URL" -X -q -c "INSERT INTO flashd.pool_leases (pool, station, request, first_seq, last_seq) VALUES ('serials', 'x', 'y', 500, 510)" 2>&1)
[[ $out == *"permission denied"* ]] && ok "pool managers lease only through flashd.pool_lease()" ||
	nok "pool managers may not write leases" "$out"

exit $((fails > 0))
