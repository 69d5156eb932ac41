#!/usr/bin/env bash
# Identity pools survive kill -9 (issue 18): a process drawing units from
# three pools through the real db/pool.c (tests/tools/pool-crash-tool loop:
# begin, allocate, maybe mark written, finish, settle, with random pauses)
# is killed with SIGKILL at a random moment, 20 times; after each kill the
# start-up recovery flashd runs (db_recover_interrupted() then
# db_pool_recover(), as daemon/station.c setup_db does; here through the
# tool, so no USB rig is needed) and the next run draws on.  Then:
# `flashctl pool audit` is clean, nothing is left running or allocated, no
# value is held by two units, a value went back to its pool only under
# policy 'reuse' and only when no written mark existed (checked against the
# tool's own log of what it had done when it was killed), every value the
# tool was given is recorded with its unit, and passed units keep theirs.
# The same with flashd itself killed mid-job on simulated boards comes with
# the wiring of the pools into the job runner (jobs/).
# Runtime ~10 s.
. "$(dirname "$0")/../lib/testlib.sh"
flashctl=$build/flashctl
tool=$build/tests/tools/pool-crash-tool
if ! command -v sqlite3 >/dev/null; then
	skip pool_crash "sqlite3 missing"
	exit 0
fi
for x in "$flashctl" "$tool" "$build/tests/tools/db-init"; do
	[ -x "$x" ] || { nok "$x not built"; exit 1; }
done
db=$tmp/flashd.db
log=$tmp/tool.log
F=("$flashctl" --db "$db")

"$build/tests/tools/db-init" "$db" >/dev/null || { nok "db-init"; exit 1; }
seq -f 'KEY-%05g' 1 5000 >"$tmp/keys.txt"
"${F[@]}" pool create ser --kind counter --format 'SN{seq:6}' --first 1 --last 999999 >/dev/null &&
	"${F[@]}" pool create mac --kind mac --first 02:00:00:00:00:00 --last 02:00:00:00:ff:ff \
		--per-unit 2 --policy reuse >/dev/null &&
	"${F[@]}" pool create keys --kind list --policy reuse >/dev/null &&
	"${F[@]}" pool import keys "$tmp/keys.txt" >/dev/null || { nok "pools"; exit 1; }

# ---- 20 kills at random moments, each followed by the start-up recovery ----
settled=0 hit=0
for i in $(seq 20); do
	"$tool" "$db" loop "$log" "$i" ser mac keys 2>>"$tmp/tool.err" &
	pid=$!
	sleep "0.$((RANDOM % 30 + 5))"
	if ! kill -KILL "$pid" 2>/dev/null; then
		wait "$pid"
		nok "run $i: the tool ended before the kill (exit $?)" "$(tail -3 "$tmp/tool.err")"
		break
	fi
	wait "$pid" 2>/dev/null
	r=$("$tool" "$db" recover) || { nok "recover after kill $i" "$r"; break; }
	settled=$((settled + $(sed -n 's/.* settled //p' <<<"$r")))
	[ "$r" = "interrupted 0 settled 0" ] || hit=$((hit + 1))
done
units=$(q "$db" "SELECT count(*) FROM units")
killed=$(q "$db" "SELECT count(*) FROM units WHERE result = 'interrupted'")
echo "# $units units, $killed interrupted by a kill, $hit kills left work for the recovery, $settled values settled by it"
[ "$units" -gt 40 ] && [ "$hit" -ge 8 ] && ok "the kills landed inside units" ||
	nok "the kills landed inside units" "$units units, $hit of 20 kills left work for the recovery"

# ---- the pools after it all ----------------------------------------------
out=$("${F[@]}" pool audit 2>&1)
check_eq "pool audit clean" "$?" 0
check_eq "no unit left running" "$(q "$db" "SELECT count(*) FROM units WHERE result = 'running'")" 0
check_eq "no value left allocated" \
	"$(q "$db" "SELECT (SELECT count(*) FROM pool_values WHERE state = 'allocated') +
	   (SELECT count(*) FROM unit_identities WHERE state = 'allocated')")" 0
check_eq "no value held by two units" \
	"$(q "$db" "SELECT count(*) FROM (SELECT 1 FROM unit_identities WHERE state != 'released'
	   GROUP BY pool, value HAVING count(*) > 1)")" 0
check_eq "nothing released after a written mark" \
	"$(q "$db" "SELECT count(*) FROM unit_identities WHERE state = 'released' AND device_written")" 0
check_eq "the burn pool released nothing" \
	"$(q "$db" "SELECT count(*) FROM unit_identities WHERE pool = 'ser' AND state = 'released'")" 0

# The tool's log, as a table: kind, unit, pool, value (A: allocated, M: about
# to mark, W: marked, U: unit finished, F: settled).
awk '{ printf "%s,%s,%s,%s\n", $1, $2, $3, $4 }' "$log" >"$tmp/log.csv"
qlog() {
	sqlite3 "$tmp/check.db" ".mode csv" "CREATE TABLE IF NOT EXISTS log (kind, unit INTEGER, pool, value)" \
		".import $tmp/log.csv log" "ATTACH '$db' AS f" ".mode list" "$1" 2>&1
}
rm -f "$tmp/check.db"
check_eq "every value the tool was given is recorded with its unit" \
	"$(qlog "SELECT count(*) FROM log l WHERE kind = 'A' AND NOT EXISTS (SELECT 1 FROM
	   f.unit_identities i WHERE i.unit_id = l.unit AND i.pool = l.pool AND i.value = l.value)")" 0
rm -f "$tmp/check.db"
check_eq "a unit marked written released nothing" \
	"$(qlog "SELECT count(*) FROM f.unit_identities WHERE state = 'released'
	   AND unit_id IN (SELECT unit FROM log WHERE kind = 'W')")" 0
rm -f "$tmp/check.db"
check_eq "a unit never marked had its reuse values freed, its burn values burned" \
	"$(qlog "SELECT count(*) FROM f.unit_identities i JOIN f.units u ON u.id = i.unit_id
	   WHERE u.result != 'pass' AND i.unit_id NOT IN (SELECT unit FROM log WHERE kind = 'M')
	   AND i.state != CASE i.pool WHEN 'ser' THEN 'burned' ELSE 'released' END")" 0
rm -f "$tmp/check.db"
check_eq "passed units keep their values" \
	"$(qlog "SELECT count(*) FROM f.unit_identities WHERE state != 'used'
	   AND unit_id IN (SELECT unit FROM log WHERE kind = 'U' AND pool = 'pass')")" 0
check_eq "freed values were given again" \
	"$(q "$db" "SELECT count(*) > 0 FROM (SELECT 1 FROM unit_identities WHERE pool != 'ser'
	   GROUP BY pool, value HAVING count(*) > 1)")" 1
exit $((fails > 0))
