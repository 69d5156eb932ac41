#!/usr/bin/env bash
# A unit that passed is not flashed again by a restarted flashd (issue #13
# item 5).  An i.MX6Q whose recipe ends in fastboot.reboot is back in its
# SDP ROM on its port after the pass (boot pins select USB), and an STM32
# whose recipe does not leave stays in DFU; flashd is stopped (SIGTERM) and
# started again on the same database well after rearm_sec: both boards have
# sat on their ports since their units passed, so neither is flashed again
# (no new row, status shows DONE with the unit's pass).  A power cycle of
# the i.MX after the window is a new arrival: flashed again.  Then, in
# fresh rigs on the same database, with a long window: another STM32
# (another USB serial) on the port is flashed although it arrives within
# the window; the same serial arriving again within it is not.
# Runtime ~40 s (mostly waiting for the power cycle at 20 s).
. "$(dirname "$0")/../lib/testlib.sh"
if [ ! -x "$sim" ] || [ ! -x "$build/flashd" ] || [ ! -f "$top/tests/sim/boards/imx_sdp.c" ] ||
	! command -v python3 >/dev/null || ! command -v sqlite3 >/dev/null; then
	echo "ok - flashd_restart # SKIP flashsim, flashd, board models, python3 or sqlite3 missing"
	exit 0
fi


# ---- recipes ------------------------------------------------------------------
R=$tmp/recipes
I=$R/images
mkdir -p "$I/imx"
python3 "$top/tests/fixtures/imx/mkfixtures.py" "$I/imx" >/dev/null || { nok flashd_restart_fixtures; exit 1; }
head -c 300000 /dev/urandom >"$I/imx/boot.img"
head -c 24576 /dev/urandom >"$I/app.bin"
img() { echo "\"file\": \"images/$1\", \"sha256\": \"$(sha "$I/$1")\""; }
# fastboot.reboot: the ROM comes back on the port once the unit passed.
cat >"$R/imx.json" <<EOF
{ "name": "imx6q-reboot", "match": { "vid": "15a2", "pid": "0054", "ports": ["1-2.*"] },
  "serial": { "source": "fastboot_getvar", "var": "serialno" },
  "stages": [
    { "op": "sdp.boot", $(img imx/u-boot-imx6q.imx) },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 3000 },
    { "op": "fastboot.getvar", "var": "serialno" },
    { "op": "fastboot.flash", "name": "boot", "partition": "boot", $(img imx/boot.img) },
    { "op": "fastboot.reboot" } ] }
EOF
# No dfuse.leave: the board stays in its DFU ROM, with its USB serial.
cat >"$R/stm32.json" <<EOF
{ "name": "stm32-stay", "match": { "vid": "0483", "pid": "df11", "ports": ["1-1.*"] },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "app", "address": "0x08000000", $(img app.bin), "erase": "pages", "verify": "readback" } ] }
EOF

conf() { # FILE REARM_SEC
	cat >"$1" <<EOF
station = restart-line
allow_ports = 1-1.* 1-2.*
grace_sec = 10
rearm_sec = $2
EOF
}

# The program flashsim runs.  Actions: wait-rows N | sleep S | term | start
# | snap NAME (flashctl status --json, row count, unit_latest, seconds since
# the driver started).
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
dir=$1 conf=$2
shift 2
B=$FLASHD_BUILD
t0=$(date +%s.%N)
start() {
	"$B/flashd" --config "$conf" --recipes "$dir/recipes" --db "$dir/f.db" --control "$dir/ctl" \
		--log-stderr 2>>"$dir/flashd.log" &
	pid=$!
	for _ in $(seq 100); do [ -S "$dir/ctl" ] && break; sleep 0.05; done
}
rows() { sqlite3 "$dir/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
start
while [ $# -gt 0 ]; do
	case $1 in
	wait-rows) for _ in $(seq 600); do [ "$(rows)" -ge "$2" ] && break; sleep 0.05; done; shift ;;
	sleep) sleep "$2"; shift ;;
	term) kill -TERM "$pid"; wait "$pid"; echo "$?" >>"$dir/exit"; pid= ;;
	start) start ;;
	snap) "$B/flashctl" status --socket "$dir/ctl" --json >"$dir/$2.json" 2>&1
		sqlite3 "$dir/f.db" "SELECT count(*) FROM units" >"$dir/$2.rows" 2>&1
		sqlite3 "$dir/f.db" "SELECT group_concat(serial || '|' || result || '|' || attempts, ' ') FROM (SELECT * FROM unit_latest ORDER BY serial)" >"$dir/$2.latest" 2>&1
		python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)" >"$dir/$2.at"
		shift ;;
	esac
	shift
done
[ -n "${pid:-}" ] && { kill -TERM "$pid"; wait "$pid"; echo "$?" >>"$dir/exit"; }
exit 0
EOF
chmod +x "$tmp/driver.sh"

d=$tmp/run
mkdir -p "$d"
cp -r "$R" "$d/recipes"
run() { # NAME REARM_SEC SCENARIO-JSON ACTIONS...
	local name=$1
	conf "$d/$name.conf" "$2"
	echo "$3" >"$d/$name.scn.json"
	shift 3
	timeout 120 "$sim" --scenario "$d/$name.scn.json" --dump-dir "$d/$name.out" -- \
		"$tmp/driver.sh" "$d" "$d/$name.conf" "$@" >"$d/$name.sim.log" 2>&1
	echo $? >"$d/$name.rc"
}
# port|state|last_result|unit of flashctl status --json, sorted by port.
ports() {
	python3 -c 'import json, sys
for p in sorted(json.load(open(sys.argv[1]))["ports"], key=lambda p: p["port"]):
    print("%s|%s|%s|%d" % (p["port"], p["state"], p["last_result"], p["unit"]))' "$1" 2>&1 | tr '\n' ' '
}
hist() { q "$d/f.db" "SELECT group_concat(result, ' ') FROM (SELECT * FROM units WHERE port = '$1' ORDER BY id)"; }

# ---- 1: restart well after the window, boards still on their ports ----------
# Replug (a power cycle) of the i.MX at 20 s: after the snapshot, after the window.
REPLUG_MS=20000
scn='{ "time_scale": 0.01, "boards": [
  { "id": "m0", "type": "imx6q-sdp", "port": "1-2.1", "uid": "906709d4d72d7372", "emmc_mib": 8,
    "ddr_mib": 256, "partitions": "env:512,boot:1024,rootfs:-", "replug_ms": '$REPLUG_MS' },
  { "id": "s0", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "STAY0001" } ] }'
run restart 2 "$scn" wait-rows 2 sleep 3 snap before term start sleep 2 snap after wait-rows 3
imx_sn=d72d7372906709d4
check "restart_first_run_passes_both_units" \
	"$([ "$(cat "$d/before.rows")" = 2 ] && [ "$(hist 1-2.1 | cut -d' ' -f1)" = pass ] && [ "$(hist 1-1.1 | cut -d' ' -f1)" = pass ] && echo 0 || echo 1)" \
	"rows: $(cat "$d/before.rows")" "$(q "$d/f.db" "SELECT port, serial, result, failed_stage, error FROM units")" "$(tail -3 "$d/flashd.log")"
check "restart_imx_back_in_its_rom_after_the_pass_is_held_by_the_running_flashd" \
	"$([ "$(ports "$d/before.json")" = "1-1.1|done|pass|2 1-2.1|done|pass|1 " ] || [ "$(ports "$d/before.json")" = "1-1.1|done|pass|1 1-2.1|done|pass|2 " ] && echo 0 || echo 1)" \
	"status: $(ports "$d/before.json")"
at=$(cat "$d/after.at" 2>/dev/null || echo 999)
check "restart_snapshot_came_before_the_power_cycle" \
	"$(python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) * 1000 < int(sys.argv[2]) else 1)' "$at" "$REPLUG_MS" && echo 0 || echo 1)" \
	"snapshot at ${at} s, power cycle at $REPLUG_MS ms: machine too slow for this test's timeline"
check "restart_does_not_flash_units_that_passed_and_sat_on_their_ports" \
	"$([ "$(cat "$d/after.rows")" = 2 ] && echo 0 || echo 1)" \
	"rows after the restart: $(cat "$d/after.rows")" "$(q "$d/f.db" "SELECT id, port, result, failed_stage, error FROM units")"
want=$(q "$d/f.db" "SELECT group_concat(port || '|done|pass|' || id, ' ') || ' ' FROM (SELECT * FROM units WHERE id <= 2 ORDER BY port)")
check "restart_status_shows_the_held_ports_done_with_their_pass_and_unit" \
	"$([ "$(ports "$d/after.json")" = "$want" ] && echo 0 || echo 1)" "status: $(ports "$d/after.json")" "want: $want"
check "restart_logs_why_a_board_present_at_start_is_not_flashed" \
	"$([ "$(grep -c "Board present at start has been on port .* since before unit [12] passed: taken for that unit, not flashed again\|Board present at start came to port .* ms after unit [12] passed: taken for that unit, not flashed again" "$d/flashd.log")" = 2 ] && echo 0 || echo 1)" \
	"$(grep -i "arrived\|same unit" "$d/flashd.log" | tail -6)"
check "restart_unit_latest_stays_pass_with_one_attempt" \
	"$([ "$(cat "$d/after.latest")" = "STAY0001|pass|1 $imx_sn|pass|1" ] && echo 0 || echo 1)" \
	"unit_latest after the restart: $(cat "$d/after.latest")"
check "restart_imx_power_cycled_after_the_window_is_flashed_again" \
	"$([ "$(hist 1-2.1)" = "pass pass" ] && [ "$(hist 1-1.1)" = pass ] && echo 0 || echo 1)" \
	"1-2.1: $(hist 1-2.1)" "1-1.1: $(hist 1-1.1)"
check "restart_flashd_exits_0_both_times" \
	"$([ "$(cat "$d/restart.rc")" = 0 ] && [ "$(tr '\n' ' ' <"$d/exit")" = "0 0 " ] && echo 0 || echo 1)" \
	"flashsim rc $(cat "$d/restart.rc"), flashd exits: $(tr '\n' ' ' <"$d/exit")" "$(tail -3 "$d/restart.sim.log")"

# ---- 2: new rigs on the same database, a window of 10 min -----------------------
# Another board (another USB serial) on 1-1.1 within the window: flashed.
rm -f "$d/exit"
run other 600 '{ "time_scale": 0.01, "boards": [
  { "id": "s1", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "STAY0002" } ] }' wait-rows 4 sleep 1
check "restart_another_serial_on_the_port_within_the_window_is_flashed" \
	"$([ "$(q "$d/f.db" "SELECT group_concat(serial || ':' || result, ' ') FROM (SELECT * FROM units WHERE port = '1-1.1' ORDER BY id)")" = "STAY0001:pass STAY0002:pass" ] && echo 0 || echo 1)" \
	"1-1.1: $(q "$d/f.db" "SELECT group_concat(serial || ':' || result, ' ') FROM (SELECT * FROM units WHERE port = '1-1.1' ORDER BY id)")" "$(tail -3 "$d/flashd.log")"
# The same board plugged in again within the window, after flashd started
# (a hotplug on a port this flashd has no memory of): not flashed.
run same 600 '{ "time_scale": 0.01, "boards": [
  { "id": "s1", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "STAY0002", "plug_ms": 1500 } ] }' \
	sleep 3 snap same
check "restart_the_same_serial_replugged_within_the_window_is_held" \
	"$([ "$(cat "$d/same.rows")" = 4 ] && [ "$(ports "$d/same.json")" = "1-1.1|done|pass|4 " ] && echo 0 || echo 1)" \
	"rows: $(cat "$d/same.rows")" "status: $(ports "$d/same.json")"
n=$(q "$d/f.db" "SELECT count(*) FROM units WHERE result = 'running'")
check "restart_no_row_left_running" "$([ "$n" = 0 ] && echo 0 || echo 1)" "running: $n"
