#!/usr/bin/env bash
# The main job, as an operator would see it: flashd serving a station of
# simulated boards (tests/demo/scenario.json) under flashsim.  While boards
# are flashed it prints `flashctl status`; at the end `flashctl stats` and
# `flashctl log` from the database.  Everything stays in demo-out/ for a look
# afterwards (database, flashd log, board dumps, summary.json).
#   usage: tests/demo/run-demo.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build/default}" && pwd)
out=$top/demo-out
rm -rf "$out"
mkdir -p "$out"
cp -r "$top/jobs/recipes" "$out/recipes"
# The station has F405 boards only: the L476 example matches the same
# VID:PID and bcdDevice, and two equal matches flash neither.
rm -f "$out/recipes/stm32-l476.json"
# The identity examples (*-identity.json) need pools made with `flashctl
# pool create` and match 1-2.*, the demo's i.MX hub: not on this line.
rm -f "$out/recipes/"*-identity.json
cat >"$out/flashd.conf" <<CONF
station = demo-line-1
recipe_dir = $out/recipes
database = $out/flashd.db
control_socket = $out/control
grace_sec = 30
slot.1-1.1 = A1
slot.1-1.2 = A2
slot.1-1.3 = A3
slot.1-1.4 = A4
slot.1-2.1 = B1
slot.1-2.2 = B2
slot.1-2.3 = B3
slot.1-2.4 = B4
slot.1-3.1 = C1
slot.1-3.2 = C2
slot.1-3.3 = C3
slot.1-3.4 = C4
CONF
# flashd-web shows the station at http://127.0.0.1:$web_port/ while it runs
# (DEMO_WEB_PORT, default 9180); DEMO_HOLD=1 keeps it up until Ctrl-C.
web_port=${DEMO_WEB_PORT:-9180}
cat >"$out/web.conf" <<CONF
listen = 127.0.0.1:$web_port
flashd_conf = $out/flashd.conf
events_socket = $out/events
CONF
boards=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["boards"]))' "$top/tests/demo/scenario.json")
# Every board passes once, and the one unplugged mid-write also leaves a fail row.
expect=$((boards + 1))

cat >"$out/driver.sh" <<DRIVER
#!/usr/bin/env bash
set -u
"$build/flashd" --config "$out/flashd.conf" --deadline-pct 20 --log-stderr 2>"$out/flashd.log" &
pid=\$!
web=
if [ -x "$build/flashd-web" ]; then
	"$build/flashd-web" --config "$out/web.conf" --log-stderr 2>"$out/flashd-web.log" &
	web=\$!
	echo "== line page: http://127.0.0.1:$web_port/  (metrics: /metrics, API: /api/units)"
fi
finished() { sqlite3 "$out/flashd.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
for i in \$(seq 120); do
	sleep 1
	echo
	"$build/flashctl" status --socket "$out/control" || true
	[ "\$(finished)" -ge $expect ] && break
done
if [ "${DEMO_HOLD:-}" = 1 ]; then
	echo "== DEMO_HOLD=1: station up at http://127.0.0.1:$web_port/ until Ctrl-C"
	trap 'echo; echo "== stopping"' INT
	while kill -0 \$pid 2>/dev/null; do sleep 1 || break; done
fi
[ -n "\$web" ] && kill -TERM \$web && wait \$web
kill -TERM \$pid
wait \$pid
DRIVER
chmod +x "$out/driver.sh"

echo "== flashd demo: $boards boards on station demo-line-1 (flashsim, time scale from the scenario)"
"$build/flashsim" --scenario "$top/tests/demo/scenario.json" --dump-dir "$out/boards" -- "$out/driver.sh"
echo
echo "== flashctl stats"
"$build/flashctl" --db "$out/flashd.db" stats
echo
echo "== flashctl log"
"$build/flashctl" --db "$out/flashd.db" log
echo
echo "Database, flashd log and board dumps: $out"
