#!/usr/bin/env bash
# Stations sharing one database file (tests/jobs/test-job-identity-many-sim.sh
# runs two flashd so): a flashd starting recovers only its own station's
# units.  A unit of station-1 is left 'running' with a pool value allocated
# (tests/tools/pool-crash-tool, as a live flashd of station-1 mid-job holds
# it); flashd of station line-2 starts and stops on that database: the unit
# stays 'running' and its value 'allocated'.  Then flashd of station-1
# starts: its unit becomes 'interrupted' and the value is freed (policy
# reuse, nothing written), as before.  Runtime ~5 s.
. "$(dirname "$0")/../lib/testlib.sh"
need flashd_shared_db "$sim" "$build/flashd" "$build/tests/tools/pool-crash-tool" sqlite3
db=$tmp/f.db
"$build/tests/tools/db-init" "$db" >/dev/null &&
	"$build/flashctl" --db "$db" pool create rs --kind counter --format 'R{seq:4}' --first 1 \
		--last 99 --policy reuse >/dev/null || { nok flashd_shared_db_setup; exit 1; }
unit=$("$build/tests/tools/pool-crash-tool" "$db" leave rs | sed -n 's/^unit //p')
[ -n "$unit" ] || { nok flashd_shared_db_setup "no unit left running"; exit 1; }
state() { q "$db" "SELECT u.result || ' ' || i.state FROM units u JOIN unit_identities i ON i.unit_id = u.id WHERE u.id = $unit"; }

printf 'allow_ports = 1-1.*\n' >"$tmp/flashd.conf"
mkdir -p "$tmp/recipes"
echo '{ "boards": [] }' >"$tmp/scenario.json"
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
# STATION: flashd started (control socket up) and stopped.
set -u
t=$1 B=$FLASHD_BUILD
"$B/flashd" --config "$t/flashd.conf" --recipes "$t/recipes" --db "$t/f.db" --control "$t/ctl" \
	--station "$2" --log-stderr 2>"$t/flashd-$2.log" &
pid=$!
for _ in $(seq 400); do [ -S "$t/ctl" ] && break; sleep 0.05; done
"$B/flashctl" status --socket "$t/ctl" >/dev/null 2>&1
kill -TERM "$pid"
wait "$pid"
EOF
chmod +x "$tmp/driver.sh"

timeout 60 "$sim" --scenario "$tmp/scenario.json" -- "$tmp/driver.sh" "$tmp" line-2 >"$tmp/sim2.log" 2>&1
rc=$?
got=$(state)
check flashd_start_leaves_another_stations_running_unit_alone \
	"$([ $rc -eq 0 ] && [ "$got" = "running allocated" ] && echo 0 || echo 1)" \
	"rc=$rc unit $unit: $got (want: running allocated)" "$(tail -3 "$tmp/flashd-line-2.log")"

rm -f "$tmp/ctl"
timeout 60 "$sim" --scenario "$tmp/scenario.json" -- "$tmp/driver.sh" "$tmp" station-1 >"$tmp/sim1.log" 2>&1
rc=$?
got=$(state)
check flashd_start_recovers_its_own_stations_units \
	"$([ $rc -eq 0 ] && [ "$got" = "interrupted released" ] && echo 0 || echo 1)" \
	"rc=$rc unit $unit: $got (want: interrupted released)" "$(tail -3 "$tmp/flashd-station-1.log")"
# Two flashd with one station name on one database would take each other's
# live units for a crashed predecessor's: the second refuses to start.
cat >"$tmp/twice.sh" <<'EOF'
#!/usr/bin/env bash
set -u
t=$1 B=$FLASHD_BUILD
run() { exec "$B/flashd" --config "$t/flashd.conf" --recipes "$t/recipes" --db "$t/f.db" --control "$t/ctl-$1" \
	--station station-1 --log-stderr 2>"$t/twice-$1.log"; }
run a &
a=$!
for _ in $(seq 400); do [ -S "$t/ctl-a" ] && break; sleep 0.05; done
run b &
b=$!
for _ in $(seq 400); do kill -0 "$b" 2>/dev/null || break; sleep 0.05; done
kill -0 "$b" 2>/dev/null && { kill -TERM "$b"; echo "still running" >"$t/twice-b.state"; }
wait "$b"
echo "$?" >"$t/twice-b.rc"
kill -0 "$a" && echo alive >"$t/twice-a.state"
kill -TERM "$a"
wait "$a"
echo "$?" >"$t/twice-a.rc"
EOF
chmod +x "$tmp/twice.sh"
timeout 60 "$sim" --scenario "$tmp/scenario.json" -- "$tmp/twice.sh" "$tmp" >"$tmp/twice.log" 2>&1
brc=$(cat "$tmp/twice-b.rc" 2>/dev/null)
check flashd_second_instance_of_a_station_refuses_to_start \
	"$([ -n "$brc" ] && [ "$brc" != 0 ] && [ ! -e "$tmp/twice-b.state" ] &&
		grep -q "another flashd (pid [1-9][0-9]*) runs station 'station-1' on database" "$tmp/twice-b.log" &&
		[ "$(cat "$tmp/twice-a.state" 2>/dev/null)" = alive ] && [ "$(cat "$tmp/twice-a.rc")" = 0 ] &&
		echo 0 || echo 1)" "second flashd rc ${brc:-?}" "$(tail -2 "$tmp/twice-b.log")"
exit 0
