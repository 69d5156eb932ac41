#!/usr/bin/env bash
# Benchmark of the unit database (not a test): builds a database of N units
# (default 1,000,000, each with 2 stages and 1 image) spread over 30 days,
# then times flashctl show SERIAL, log --serial and stats over one day and
# over everything.  Target: lookup by serial < 10 ms.  Figures go in
# tests/bench/README.md.
#   usage: tests/bench/bench-db.sh [BUILD_DIR]     (default build/default)
#   UNITS=n  KEEP=1 (keep the database)  RUNS=n (repetitions, median shown)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
units=${UNITS:-1000000}
runs=${RUNS:-21}
flashctl=$build/flashctl
dbinit=$build/tests/tools/db-init
for f in "$flashctl" "$dbinit"; do
	[ -x "$f" ] || { echo "bench-db: missing $f (run make first)" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "bench-db: needs the sqlite3 CLI" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-db.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
db=$tmp/flashd.db

now_ns() { date +%s%N; }

t0=$(now_ns)
"$dbinit" "$db"
# One transaction, generated rows; 2026-01-01T00:00:00Z = 1767225600000 ms, a unit every
# ~2.6 s for 30 days.  Results: ~96.5 % pass, 2.5 % fail, 1 % interrupted.
sqlite3 "$db" <<SQL
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $units)
INSERT INTO units (id, station, port, slot, recipe, recipe_sha256, vid, pid, serial, chip_uid,
		   jedec_id, result, failed_stage, error, started_at, finished_at, duration_ms,
		   flashd_version)
SELECT x, 'bench', '1-1.' || (x % 16), x % 16,
	CASE x % 3 WHEN 0 THEN 'stm32-app' WHEN 1 THEN 't31-nor' ELSE 'imx8-emmc' END,
	'00ff', 1155, 57105, printf('SN%08d', x), printf('%016x', x * 2654435761), 'ef4018',
	CASE WHEN x % 100 = 7 THEN 'interrupted' WHEN x % 40 = 3 THEN 'fail' ELSE 'pass' END,
	CASE WHEN x % 40 = 3 THEN 'flash' END,
	CASE WHEN x % 40 = 3 THEN 'CRC mismatch' WHEN x % 100 = 7 THEN 'flashd stopped' END,
	1767225600000 + x * (2592000000 / $units),
	CASE WHEN x % 100 = 7 THEN NULL ELSE 1767225600000 + x * (2592000000 / $units) + 5000 + (x * 7919) % 20000 END,
	CASE WHEN x % 100 = 7 THEN NULL ELSE 5000 + (x * 7919) % 20000 END,
	'0.1'
FROM n;
INSERT INTO unit_stages (unit_id, idx, name, result, error, started_at, duration_ms)
SELECT id, 0, 'boot', 'pass', NULL, started_at, 1000 FROM units;
INSERT INTO unit_stages (unit_id, idx, name, result, error, started_at, duration_ms)
SELECT id, 1, 'flash', CASE result WHEN 'fail' THEN 'fail' ELSE 'pass' END, error,
	started_at + 1000, duration_ms - 1000 FROM units WHERE duration_ms IS NOT NULL;
INSERT INTO unit_images (unit_id, stage, target, file, size, sha256, host_crc32, device_crc32,
			 verified)
SELECT id, 'flash', '0x08004000', 'app.bin', 262144, '00ff', 439041101,
	CASE result WHEN 'fail' THEN 0 ELSE 439041101 END, result != 'fail' FROM units;
COMMIT;
SQL
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
t1=$(now_ns)
size=$(du -m "$db" | cut -f1)
echo "generated $units units (+ stages, images) in $(( (t1 - t0) / 1000000 )) ms, $size MiB"

# median_ms CMD...: median wall time of $runs runs, in ms with 2 decimals (process start included).
median_ms() {
	local i t s times=()
	for ((i = 0; i < runs; i++)); do
		s=$(now_ns)
		"$@" >/dev/null
		t=$(now_ns)
		times+=($((t - s)))
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p" |
		awk '{ printf "%.2f", $1 / 1e6 }'
}

mid=$(printf 'SN%08d' $((units / 2)))
F=("$flashctl" --db "$db")
echo
echo "median of $runs runs, wall time of the whole flashctl process:"
printf '  %-52s %8s ms\n' "flashctl show $mid" "$(median_ms "${F[@]}" show "$mid")"
printf '  %-52s %8s ms\n' "flashctl show $((units / 2)) (by id)" "$(median_ms "${F[@]}" show $((units / 2)))"
printf '  %-52s %8s ms\n' "flashctl log --serial $mid" "$(median_ms "${F[@]}" log --serial "$mid")"
printf '  %-52s %8s ms\n' "flashctl --help (process start, no database)" "$(median_ms "$flashctl" --help)"
# The SQL of 'show SERIAL' alone, without process start (sqlite3 CLI timer, warm cache).
sql_ms=$(sqlite3 "$db" <<SQL | awk '/^Run Time/ { t = $4 } END { printf "%.2f", t * 1000 }'
SELECT id FROM units WHERE serial = '$mid' ORDER BY started_at DESC, id DESC LIMIT 1;
.timer on
SELECT u.*, (SELECT count(*) FROM unit_stages s WHERE s.unit_id = u.id),
	(SELECT count(*) FROM unit_images i WHERE i.unit_id = u.id)
FROM units u WHERE u.id = (SELECT id FROM units WHERE serial = '$mid'
			   ORDER BY started_at DESC, id DESC LIMIT 1);
SQL
)
printf '  %-52s %8s ms\n' "  of which the SQL (unit + stages + images, real)" "$sql_ms"
runs=5
day=(--since 2026-01-15 --until 2026-01-16)
printf '  %-52s %8s ms\n' "flashctl stats --by recipe (one day, $((units / 30)) units)" "$(median_ms "${F[@]}" stats "${day[@]}")"
printf '  %-52s %8s ms\n' "flashctl stats --by port (one day)" "$(median_ms "${F[@]}" stats --by port "${day[@]}")"
runs=3
printf '  %-52s %8s ms\n' "flashctl stats --by day (all $units units)" "$(median_ms "${F[@]}" stats --by day)"
printf '  %-52s %8s ms\n' "flashctl export --format csv (all units)" "$(median_ms "${F[@]}" export)"
echo
"${F[@]}" stats "${day[@]}"
[ -z "${KEEP:-}" ] || echo "database kept: $db"
