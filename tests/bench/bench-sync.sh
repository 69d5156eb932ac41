#!/usr/bin/env bash
# Benchmark of flashd-sync (not a test): a station database with a backlog
# of N finished units (default 1,000,000, each with 2 stages and 1 image;
# their outbox entries written by the real triggers, as flashd's finishes
# write them), shipped by `flashd-sync --once` into a PostgreSQL started
# here (tests/sync/pg-lib.sh).  Prints units/s; then the steady state:
# units finished one by one through the db API (tests/tools/unit-gen) and
# the median time until each is visible on the server.  Figures go in
# tests/bench/README.md.
#   usage: tests/bench/bench-sync.sh [BUILD_DIR]    (default build/default)
#   UNITS=n  BATCH=n (entries per transaction, default 5000)  STEADY=n (units, default 50)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
units=${UNITS:-1000000}
batch=${BATCH:-5000}
steady=${STEADY:-50}
sync=$build/flashd-sync
dbinit=$build/tests/tools/db-init
gen=$build/tests/tools/unit-gen
for f in "$sync" "$dbinit" "$gen"; do
	[ -x "$f" ] || { echo "bench-sync: missing $f (run make first)" >&2; exit 1; }
done
. "$top/tests/sync/pg-lib.sh"
pg_bin=$(pg_find_bin)
[ -n "$pg_bin" ] || { echo "bench-sync: no PostgreSQL server binaries" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-sync.XXXXXX")
chmod 755 "$tmp"
trap 'kill ${spid:-} 2>/dev/null; pg_stop immediate; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
db=$tmp/flashd.db
now_ns() { date +%s%N; }
# CPU time (clock ticks) the server used so far: the postmaster, the
# backends it has reaped and the ones still running.  With the client's CPU
# time it tells what the machine does when not shared: the load average of
# other jobs stretches the wall time, not these.
server_ticks() {
	local pm p t f
	pm=$(head -1 "$pg_dir/data/postmaster.pid")
	read -r -a f <"/proc/$pm/stat"
	t=$((f[13] + f[14] + f[15] + f[16]))
	for p in $(pgrep -P "$pm"); do
		read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
		t=$((t + f[13] + f[14]))
	done
	echo "$t"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

t0=$(now_ns)
"$dbinit" "$db"
sqlite3 "$db" <<SQL
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $units)
INSERT INTO units (id, station, port, slot, recipe, recipe_sha256, vid, pid, serial, chip_uid,
		   jedec_id, started_at, flashd_version)
SELECT x, 'bench', '1-1.' || (x % 16), 'A' || (x % 16),
	CASE x % 3 WHEN 0 THEN 'stm32-app' WHEN 1 THEN 't31-nor' ELSE 'imx8-emmc' END,
	'00ff', 1155, 57105, printf('SN%08d', x), printf('%016x', x * 2654435761), 'ef4018',
	1767225600000 + x * 2000, '0.1'
FROM n;
INSERT INTO unit_stages (unit_id, idx, name, result, error, started_at, duration_ms)
SELECT id, 0, 'boot', 'pass', NULL, started_at, 1000 FROM units;
INSERT INTO unit_stages (unit_id, idx, name, result, error, started_at, duration_ms)
SELECT id, 1, 'flash', CASE WHEN id % 40 = 3 THEN 'fail' ELSE 'pass' END,
	CASE WHEN id % 40 = 3 THEN 'CRC mismatch' END, started_at + 1000, 4000 FROM units;
INSERT INTO unit_images (unit_id, stage, target, file, size, sha256, host_crc32, device_crc32,
			 verified)
SELECT id, 'flash', '0x08004000', 'app.bin', 262144, '00ff', 439041101,
	CASE WHEN id % 40 = 3 THEN 0 ELSE 439041101 END, id % 40 != 3 FROM units;
-- The finish: the outbox trigger writes one entry per unit.
UPDATE units SET result = CASE WHEN id % 40 = 3 THEN 'fail' ELSE 'pass' END,
	failed_stage = CASE WHEN id % 40 = 3 THEN 'flash' END,
	finished_at = started_at + 5000, duration_ms = 5000;
COMMIT;
SQL
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
t1=$(now_ns)
entries=$(sqlite3 "$db" "SELECT count(*) FROM outbox")
echo "backlog: $units units, $entries outbox entries, $(du -m "$db" | cut -f1) MiB, built in $(( (t1 - t0) / 1000000 )) ms"

pg_init "$tmp/pg" && pg_start && pg_fleet
cat >"$tmp/owner.conf" <<CONF
server = host=$tmp/pg/sock dbname=fleet user=fleet_owner
CONF
"$sync" -c "$tmp/owner.conf" --migrate >/dev/null
q -c "CREATE ROLE bench LOGIN PASSWORD 'bench' IN ROLE flashd_ingest"
mkdir -p "$tmp/cred" && echo bench >"$tmp/cred/pgpassword"
cat >"$tmp/sync.conf" <<CONF
server = host=$tmp/pg/sock dbname=fleet user=bench
station = bench
database = $db
batch = $batch
poll_ms = 20
CONF

echo "load average before shipping: $(loadavg)"
s0=$(server_ticks)
t0=$(now_ns)
TIMEFORMAT='%3U %3S'
client=$( { time CREDENTIALS_DIRECTORY=$tmp/cred "$sync" -c "$tmp/sync.conf" --once 2>/dev/null; } 2>&1)
t1=$(now_ns)
sleep 1 # the postmaster reaps the backend
s1=$(server_ticks)
ms=$(( (t1 - t0) / 1000000 ))
got=$(q -c "SELECT count(*) FROM flashd.units")
echo "backlog shipped: $got units in $ms ms = $(( got * 1000 / (ms ? ms : 1) )) units/s (batch $batch), load average after: $(loadavg)"
cms=$(echo "$client" | awk '{printf "%d", ($1 + $2) * 1000}')
sms=$(( (s1 - s0) * 1000 / $(getconf CLK_TCK) ))
echo "CPU: flashd-sync $cms ms, server $sms ms = $(( got * 1000 / ((cms + sms) ? cms + sms : 1) )) units per CPU second"

# Steady state: one unit at a time, finished through the db API; time until
# the server has it (polled every 10 ms with psql, whose start-up counts too).
CREDENTIALS_DIRECTORY=$tmp/cred "$sync" -c "$tmp/sync.conf" 2>/dev/null &
spid=$!
sleep 1
lat=()
for i in $(seq "$steady"); do
	s=$(now_ns)
	"$gen" "$db" bench-s 1 020000000000 0 "$i" >/dev/null
	e=$(now_ns)
	# By its serial (an index lookup): a count(*) of a million units per poll
	# would add its own time.
	serial=$(printf 'bench-s-%06d' "$i")
	while [ -z "$(q -c "SELECT 1 FROM flashd.units WHERE serial = '$serial'")" ]; do sleep 0.01; done
	t=$(now_ns)
	lat+=($(( (t - e) / 1000000 )))
	: "$s"
done
med=$(printf '%s\n' "${lat[@]}" | sort -n | sed -n "$(( (steady + 1) / 2 ))p")
echo "steady state: unit finished -> visible on the server, median $med ms over $steady units"
