#!/usr/bin/env bash
# Tests for flashd-sync (sync/) against a real PostgreSQL started here
# (tests/sync/pg-lib.sh): 8 station databases written by the real db code
# (tests/tools/unit-gen) sync into one server while they keep producing,
# through faults: the server stopped (crashed) mid-production and restarted,
# connections killed inside a transaction (pg_terminate_backend while the
# batch's INSERT waits for a lock), duplicate delivery (two flashd-sync
# processes for one station the whole time), and flashd-sync killed with
# SIGKILL at random 20 times.  At the end the server holds exactly the union
# of the stations: same outbox entries (payload by payload), units, stages,
# images and identities, nothing lost and nothing twice.  Also: the
# migrations, the ingest role's least privilege, the password from a
# credential never in the logs, STATUS= and the bounded backoff during the
# outage.
. "$(dirname "$0")/../lib/testlib.sh"
. "$top/tests/sync/pg-lib.sh"
sync=$build/flashd-sync
gen=$build/tests/tools/unit-gen

pg_need "fleet sync" python3
pids=()
cleanup() {
	local p
	for p in "${pids[@]}" ${notify_pid:-}; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	pg_cleanup
}
trap cleanup EXIT

STATIONS=8
INITIAL=10	# units per station before the sync starts
PRODUCED=30	# units per station during the faults
# One unit every PRODUCE_MS: production must outlast the faults (~10 s), or
# an idle machine finishes it before the server goes down and the outage
# has nothing to ship (no "unreachable" STATUS, no back-off to see).
PRODUCE_MS=500

pg_up
ok "a PostgreSQL server runs on a unix socket in $tmp/pg"
echo "# $SECONDS s: server up"

# --- the schema: migrations, roles ---------------------------------------
cat >"$tmp/owner.conf" <<CONF
server = host=$tmp/pg/sock dbname=fleet user=fleet_owner
CONF
out1=$("$sync" -c "$tmp/owner.conf" --migrate 2>&1)
out2=$("$sync" -c "$tmp/owner.conf" --migrate 2>&1)
# Every file of sync/schema/ once, up to the highest version.
migs=$(ls "$top"/sync/schema/[0-9]*.sql | sort)
n_migs=$(echo "$migs" | wc -l)
last_mig=$(basename "$(echo "$migs" | tail -1)" | sed 's/^0*\([0-9][0-9]*\).*/\1/')
[ "$n_migs" = 1 ] && applied="1 migration applied" || applied="$n_migs migrations applied"
if [[ $out1 == *"$applied"* && $out2 == *"0 migrations applied"* ]] &&
	[ "$(q -c 'SELECT max(version) FROM flashd.schema_migrations')" = "$last_mig" ]; then
	ok "--migrate applies the fleet schema once (again: nothing)"
else
	nok "--migrate applies the fleet schema once" "$out1" "$out2"
fi

mkdir -m 700 "$tmp/cred"
for i in $(seq $STATIONS); do
	q -c "CREATE ROLE ingest_$i LOGIN PASSWORD 'pw-secret-$i' IN ROLE flashd_ingest"
done
q -c "CREATE ROLE qa LOGIN IN ROLE flashd_qa"

# The ingest role may insert into the outbox and say hello, nothing else.
denied=0
for sql in "SELECT count(*) FROM flashd.units" "SELECT count(*) FROM flashd.outbox" \
	"DELETE FROM flashd.outbox" "UPDATE flashd.stations SET line = 'x'" \
	"INSERT INTO flashd.units (station, unit_id, seq, result) VALUES ('x', 1, 1, 'pass')"; do
	if PGPASSWORD=pw-secret-1 psql -h "$tmp/pg/sock" -U ingest_1 -d fleet -X -q -At -c "$sql" \
		2>&1 | grep -q "permission denied"; then
		denied=$((denied + 1))
	fi
done
if [ $denied = 5 ] &&
	PGPASSWORD=pw-secret-1 psql -h "$tmp/pg/sock" -U ingest_1 -d fleet -X -q -At \
		-c "SELECT 1 FROM flashd.schema_migrations LIMIT 1" >/dev/null 2>&1; then
	ok "the ingest role cannot read units, read or delete the outbox, or write elsewhere"
else
	nok "the ingest role has least privilege" "$denied of 5 statements denied"
fi

# --- stations ------------------------------------------------------------
# station_conf I [DB [STATION]]: config of flashd-sync for station I.
station_conf() {
	local i=$1 db=${2:-$tmp/st$1.db} name=${3:-st-$1}
	cat >"$tmp/st$i.conf" <<CONF
server = host=$tmp/pg/sock dbname=fleet user=ingest_$i
station = $name
line = line-$((i % 2 + 1))
database = $db
batch = 7
poll_ms = 50
backoff_min_ms = 50
backoff_max_ms = 1000
lag_log_sec = 1
CONF
	mkdir -p "$tmp/cred/$i"
	printf 'pw-secret-%s\n' "$i" >"$tmp/cred/$i/pgpassword"
}

# start_sync I [TAG]: a flashd-sync for station I in the background; its pid in $spid.
start_sync() {
	local i=$1 tag=${2:-}
	CREDENTIALS_DIRECTORY=$tmp/cred/$i NOTIFY_SOCKET=${notify_sock:-} \
		"$sync" -c "$tmp/st$i.conf" >>"$tmp/st$i$tag.log" 2>&1 &
	spid=$!
	pids+=("$spid")
}

gen_pids=()
for i in $(seq $STATIONS); do
	station_conf "$i"
	"$gen" "$tmp/st$i.db" "st-$i" $INITIAL "$(printf '02%02x00000000' "$i")" >/dev/null &
	gen_pids+=($!)
done
wait "${gen_pids[@]}"
echo "# $SECONDS s: stations written"
# An old backup of station 2, for the refusals at the end.
sqlite3 "$tmp/st2.db" ".backup '$tmp/st2-old.db'"

# STATUS= of station 2's flashd-sync, as systemd would get it.
notify_sock=$tmp/notify.sock
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(65536).decode() + "\n")
' "$notify_sock" "$tmp/notify.log" &
notify_pid=$!
for _ in $(seq 50); do [ -S "$notify_sock" ] && break; sleep 0.1; done

declare -A spids
for i in $(seq $STATIONS); do
	[ "$i" = 2 ] || { nsave=$notify_sock; notify_sock=; }
	start_sync "$i"
	spids[$i]=$spid
	[ "$i" = 2 ] || notify_sock=$nsave
done
# Duplicate delivery: a second flashd-sync for station 1, all along.
start_sync 1 -twin
twin=$spid

# synced: every station's last seq is on the server.
synced() {
	local i l s
	for i in $(seq $STATIONS); do
		l=$(sqlite3 -cmd '.timeout 10000' "$tmp/st$i.db" "SELECT coalesce(max(seq), 0) FROM outbox")
		s=$(q -c "SELECT coalesce(max(seq), 0) FROM flashd.outbox WHERE station = 'st-$i'")
		[ "$l" = "$s" ] || return 1
	done
}
wait_synced() {
	local n
	for n in $(seq "$1"); do
		synced && return 0
		sleep 0.2
	done
	return 1
}

if wait_synced 150; then
	ok "8 stations ship their backlog"
echo "# $SECONDS s: backlog shipped"
else
	nok "8 stations ship their backlog" "$(q -c "SELECT station, max(seq) FROM flashd.outbox GROUP BY 1")"
fi

# --- production with faults ----------------------------------------------
gen_pids=()
for i in $(seq $STATIONS); do
	"$gen" "$tmp/st$i.db" "st-$i" $PRODUCED "$(printf '02%02x00000000' "$i")" $PRODUCE_MS $((INITIAL + 1)) \
		>/dev/null 2>"$tmp/gen$i.err" &
	gen_pids+=($!)
done

# 1. The server crashes mid-production (mid-batch) and comes back 3 s later.
sleep 1
pg_stop immediate
# Down at least 2 s, and until station 2's flashd-sync has said so in
# STATUS= and retried three times (the checks below): on a loaded machine
# that takes longer than 2 s.  At most 30 s.
outage_status() { grep -c 'STATUS=server unreachable, retrying: .*; lag [1-9][0-9]* entries' "$tmp/notify.log"; }
outage_seen() {
	[ "$(outage_status)" -gt 0 ] && [ "$(grep -c 'retrying in [0-9]* ms$' "$tmp/st2.log")" -ge 3 ]
}
sleep 2
for _ in $(seq 280); do outage_seen && break; sleep 0.1; done
down_status=$(outage_status)
pg_start
if [ "$down_status" -gt 0 ]; then
	ok "while the server is down, STATUS= says so and shows the lag"
else
	nok "STATUS= during the outage" "$(tail -3 "$tmp/notify.log")"
fi
delays=$(sed -n 's/.*retrying in \([0-9]*\) ms$/\1/p' "$tmp/st2.log")
max_delay=$(echo "$delays" | sort -n | tail -1)
if [ "$(echo "$delays" | wc -l)" -ge 3 ] && [ "${max_delay:-9999}" -le 1000 ] &&
	[ "$(echo "$delays" | head -1)" -le 50 ]; then
	ok "retries back off from backoff_min_ms, bounded by backoff_max_ms ($(echo $delays | tr ' ' ,) ms)"
else
	nok "bounded backoff" "delays: $(echo $delays)"
fi

# 2. Connections killed inside a transaction: a lock makes the next batches'
# INSERT wait inside their transaction (station 5 is given new units to
# ship), and those backends are terminated.
PGAPPNAME=lockholder q -c "BEGIN; LOCK TABLE flashd.outbox IN SHARE MODE; SELECT pg_sleep(60); COMMIT;" \
	>"$tmp/lock.log" 2>&1 &
lock_pid=$!
for _ in $(seq 100); do
	[ "$(q -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name = 'lockholder' AND l.mode = 'ShareLock' AND l.granted")" = 1 ] && break
	sleep 0.1
done
"$gen" "$tmp/st5.db" st-5 2 020500000000 0 500 >/dev/null
killed=0
for _ in $(seq 100); do
	killed=$(q -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'flashd-sync' AND wait_event_type = 'Lock' AND state = 'active'")
	[ "${killed:-0}" -ge 1 ] && break
	sleep 0.1
done
activity=$(q -c "SELECT application_name, state, wait_event_type, left(query, 40) FROM pg_stat_activity
	WHERE application_name <> ''")
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lockholder'" >/dev/null
wait $lock_pid
if [ "${killed:-0}" -ge 1 ]; then
	ok "$killed connection(s) killed inside their batch's transaction"
else
	nok "connections killed inside a transaction" "none was waiting in a batch:" "$activity" "$(cat "$tmp/lock.log")"
fi

# 3. SIGKILL at random, 20 times, to station 3's flashd-sync, while
# station 3 produces.
"$gen" "$tmp/st3.db" st-3 25 020300000000 30 600 >/dev/null 2>"$tmp/gen3b.err" &
gen_pids+=($!)
for k in $(seq 20); do
	sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
	kill -9 "${spids[3]}"
	wait "${spids[3]}" 2>/dev/null
	start_sync 3
	spids[3]=$spid
done
ok "station 3's flashd-sync killed with SIGKILL 20 times mid-production"

echo "# $SECONDS s: faults done"
wait "${gen_pids[@]}"
echo "# $SECONDS s: production done"
gen_err=$(cat "$tmp"/gen*.err)
[ -z "$gen_err" ] && ok "production went on during the faults" || nok "production" "$gen_err"

if wait_synced 300; then
	ok "the lag recovers: every station's last entry is on the server"
else
	nok "the lag recovers" "$(q -c "SELECT station, max(seq) FROM flashd.outbox GROUP BY 1")"
fi
if grep -q 'caught up' "$tmp/st2.log" && grep -q 'server back' "$tmp/st2.log" &&
	tail -1 "$tmp/notify.log" | grep -q 'lag 0 entries'; then
	ok "the journal says when the server is back and when caught up; STATUS= shows lag 0"
else
	nok "journal and STATUS after the outage" "$(tail -3 "$tmp/st2.log")" "$(tail -1 "$tmp/notify.log")"
fi

# --- the server holds exactly the union -----------------------------------
q -c "CREATE TABLE cmp (station text, seq bigint, payload jsonb)"
for i in $(seq $STATIONS); do
	sqlite3 -cmd '.timeout 10000' -csv "$tmp/st$i.db" "SELECT 'st-$i', seq, payload FROM outbox" |
		q -c "\\copy cmp FROM STDIN WITH (FORMAT csv)"
done
local_n=$(q -c "SELECT count(*) FROM cmp")
diff_n=$(q -c "SELECT count(*) FROM cmp c FULL JOIN flashd.outbox o USING (station, seq)
	WHERE c.payload IS DISTINCT FROM o.payload")
if [ "$diff_n" = 0 ] && [ "$local_n" = "$(q -c 'SELECT count(*) FROM flashd.outbox')" ] &&
	[ "$local_n" -gt $((STATIONS * (INITIAL + PRODUCED) * 3 - 1)) ]; then
	ok "the server's outbox equals the union of the stations' ($local_n entries, payload by payload)"
else
	nok "outbox union" "local $local_n, differing $diff_n"
fi

# The station databases are live (flashd, flashd-sync): a read may meet a
# checkpoint or WAL recovery, so every sqlite3 here waits (SQLITE_BUSY under
# load once left a station out of the comparison).
dump_local() {
	local i
	for i in $(seq $STATIONS); do
		sqlite3 -cmd '.timeout 10000' -separator '|' "$tmp/st$i.db" "$1" | sed "s/^/st-$i|/"
	done | LC_ALL=C sort
}
units_sql="SELECT id, serial, chip_uid, result, coalesce(failed_stage, ''), recipe,
	(SELECT count(*) FROM unit_stages s WHERE s.unit_id = u.id),
	(SELECT count(*) FROM unit_images m WHERE m.unit_id = u.id) FROM units u WHERE result != 'running'"
dump_local "$units_sql" >"$tmp/units.local"
q -F '|' -c "SELECT station, unit_id, serial, chip_uid, result, coalesce(failed_stage, ''), recipe,
	(SELECT count(*) FROM flashd.unit_stages s WHERE (s.station, s.unit_id) = (u.station, u.unit_id)),
	(SELECT count(*) FROM flashd.unit_images m WHERE (m.station, m.unit_id) = (u.station, u.unit_id))
	FROM flashd.units u" | LC_ALL=C sort >"$tmp/units.server"
n_units=$(wc -l <"$tmp/units.local")
if [ "$n_units" = $((STATIONS * (INITIAL + PRODUCED) + 2 + 25)) ] && cmp -s "$tmp/units.local" "$tmp/units.server"; then
	ok "units, stages and images on the server equal the union ($n_units units)"
else
	nok "units union" "$n_units local units" "$(diff "$tmp/units.local" "$tmp/units.server" | head -5)"
fi
dump_local "SELECT id, unit_id, value, state FROM unit_identities" >"$tmp/ids.local"
q -F '|' -c "SELECT station, identity_id, unit_id, value, state FROM flashd.unit_identities" |
	LC_ALL=C sort >"$tmp/ids.server"
if cmp -s "$tmp/ids.local" "$tmp/ids.server" && ! grep -q allocated "$tmp/ids.server"; then
	ok "identities on the server equal the union, in their final state"
else
	nok "identities union" "$(diff "$tmp/ids.local" "$tmp/ids.server" | head -5)"
fi

# QA views.
mac=$(q -c "SELECT value FROM flashd.unit_identities WHERE station = 'st-5' AND unit_id = 3")
look=$(psql -h "$tmp/pg/sock" -U qa -d fleet -X -At -F '|' -c \
	"SELECT key_kind, station, unit_id FROM flashd.unit_lookup WHERE key IN (lower('$mac'), 'st-4-000010', lower('0000000Ast-6')) ORDER BY 1")
yield=$(psql -h "$tmp/pg/sock" -U qa -d fleet -X -At -F '|' -c \
	"SELECT sum(units), sum(pass), sum(fail) FROM flashd.yield_daily")
pass=$(grep -c '|pass|' "$tmp/units.local")
if [ "$look" = "chip_uid|st-6|10
pool:mac|st-5|3
serial|st-4|10" ] && [ "$yield" = "$n_units|$pass|$((n_units - pass))" ]; then
	ok "QA: unit lookup by serial, chip UID and MAC; yield per day, station, line and recipe"
else
	nok "QA views" "lookup: $(echo $look)" "yield: $yield (pass $pass)"
fi

# The password came from the credential and is in no log.
if ! grep -q 'pw-secret' "$tmp"/st*.log && grep -q 'connected to ingest_1@' "$tmp/st1.log"; then
	ok "the password comes from the credential and no log shows it"
else
	nok "password never logged" "$(grep -h 'pw-secret\|connected' "$tmp"/st*.log | head -3)"
fi
timeout 3 "$sync" -c "$tmp/st1.conf" --once >"$tmp/nocred.log" 2>&1
if grep -q 'password' "$tmp/nocred.log" && ! grep -q 'connected to' "$tmp/nocred.log"; then
	ok "without the credential the ingest role cannot log in"
else
	nok "no credential" "$(head -3 "$tmp/nocred.log")"
fi

echo "# $SECONDS s: compared"
# --- refusals -------------------------------------------------------------
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait "${pids[@]}" 2>/dev/null
pids=()
before=$(q -c "SELECT count(*) FROM flashd.outbox")

# refuse NAME I DB STATION NEEDLE: flashd-sync --once exits 3 naming NEEDLE.
refuse() {
	local name=$1 i=$2 db=$3 st=$4 needle=$5 rc
	station_conf "$i" "$db" "$st"
	CREDENTIALS_DIRECTORY=$tmp/cred/$i timeout 20 "$sync" -c "$tmp/st$i.conf" --once \
		>"$tmp/refuse.log" 2>&1
	rc=$?
	if [ $rc = 3 ] && grep -q "refusing to sync: .*$needle" "$tmp/refuse.log"; then
		ok "$name: refused, exit 3"
	else
		nok "$name" "exit $rc" "$(head -3 "$tmp/refuse.log")"
	fi
}
refuse "a station database restored from an old backup" 2 "$tmp/st2-old.db" st-2 \
	"restored from an old backup"
last_old=$(sqlite3 "$tmp/st2-old.db" "SELECT max(seq) FROM outbox")
hw2=$(q -c "SELECT max(seq) FROM flashd.outbox WHERE station = 'st-2'")
"$gen" "$tmp/st2-old.db" st-2 $(((hw2 - last_old) / 3 + 2)) 020200000000 0 1000 >/dev/null
refuse "an old backup written past the server's mark" 2 "$tmp/st2-old.db" st-2 "differs from the server"
"$build/tests/tools/db-init" "$tmp/new.db"
refuse "another station database under a taken name" 1 "$tmp/new.db" st-1 "is fed by station database"
sqlite3 "$tmp/st4.db" ".backup '$tmp/st4-copy.db'"
refuse "a copied station database under another name" 4 "$tmp/st4-copy.db" st-99 "already syncs as station 'st-4'"
# One station's login cannot write another station's entries.
forged=$(PGPASSWORD=pw-secret-2 psql -h "$tmp/pg/sock" -U ingest_2 -d fleet -X -q -At -c \
	"INSERT INTO flashd.outbox (station, seq, kind, payload) VALUES ('st-1', 999999, 'unit', '{\"id\": 999999, \"result\": \"pass\"}')" 2>&1)
if [[ $forged == *"may not insert entries of another role's station"* ]]; then
	ok "an ingest role cannot insert entries of another station"
else
	nok "an ingest role cannot insert entries of another station" "$forged"
fi
if [ "$(q -c "SELECT count(*) FROM flashd.outbox")" = "$before" ] &&
	[ "$(q -c "SELECT count(*) FROM flashd.stations")" = $STATIONS ]; then
	ok "a refused station changes nothing on the server"
else
	nok "refusals change nothing" "$before -> $(q -c "SELECT count(*) FROM flashd.outbox")"
fi

exit $((fails > 0))
