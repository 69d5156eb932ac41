#!/usr/bin/env bash
# The line page (GET /) in headless Chromium against a simulated station:
# the database and the status snapshot come from real flashd runs under
# flashsim; flashd's live events from tests/web/peer.py replaying a round of
# flashing (flashd's event stream is not merged yet).  Tiles go from
# flashing to pass and fail, progress moves, a fail shows its stage and
# reason, the header counts; screenshots at 1920x1080 and 1280x720 are
# kept in $FLASHD_BUILD/test-logs/web-screenshots/.
set -u
. "$(dirname "$0")/lib.sh"
trap 'web_stop; [ -n "${peer_pid:-}" ] && kill "$peer_pid" 2>/dev/null; testlib_cleanup' EXIT
shots=${WEB_SHOTS:-$build/test-logs/web-screenshots}
rm -rf "$shots"
mkdir -p "$shots"
if [ ! -x /usr/bin/chromium ] || [ ! -x "$build/flashd-web" ]; then
	nok "web_browser_prerequisites" "chromium: $(ls /usr/bin/chromium 2>&1) flashd-web: $(ls "$build/flashd-web" 2>&1)"
	exit 1
fi

d=$tmp/station
port=$(free_port)
station_setup "$d" "$port"
cat >"$d/driver.sh" <<DRIVER
#!/usr/bin/env bash
"$build/flashd" --config "$d/flashd.conf" --deadline-pct 20 --log-stderr 2>"$d/flashd.log" &
pid=\$!
for _ in \$(seq 600); do
	[ "\$(sqlite3 "$d/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0)" -ge 4 ] && break
	sleep 0.05
done
"$build/flashctl" status --socket "$d/ctl" --json >"$d/status.json"
kill -TERM \$pid
wait \$pid
DRIVER
chmod +x "$d/driver.sh"
timeout 300 "$build/flashsim" --scenario "$d/scenario.json" --dump-dir "$d/out" -- "$d/driver.sh" >"$d/sim.log" 2>&1
rows=$(sqlite3 "$d/f.db" "SELECT group_concat(serial || ':' || result, ' ') FROM units" 2>&1)
check "web_browser_station_from_flashd_runs" "$([ "$rows" = "SNW001:pass SNW002:pass SNW003:fail SNW004:pass" ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))["ports"]' "$d/status.json" && echo 0 || echo 1)" "$rows" "$(head -c 200 "$d/status.json")"

# A round of flashing on A1 and A2, in three steps the browser test releases.
ev() { echo "emit $1 $2"; }
{
	echo "wait $tmp/go1"
	ev port '{"port":"1-1.1","slot":"A1","state":"flashing","recipe":"stm32-web","serial":"SNX101"}'
	ev port '{"port":"1-1.2","slot":"A2","state":"flashing","recipe":"stm32-web","serial":"SNX102"}'
	ev stage '{"port":"1-1.1","unit":5,"stage":"boot","index":0,"stages":3}'
	ev stage '{"port":"1-1.2","unit":6,"stage":"boot","index":0,"stages":3}'
	ev progress '{"port":"1-1.1","unit":5,"phase":"write","done":6144,"total":24576,"rate_bps":100000}'
	ev progress '{"port":"1-1.2","unit":6,"phase":"erase","done":2048,"total":24576,"rate_bps":100000}'
	echo "wait $tmp/go2"
	ev progress '{"port":"1-1.1","unit":5,"phase":"write","done":20480,"total":24576,"rate_bps":100000}'
	ev stage '{"port":"1-1.2","unit":6,"stage":"app","index":1,"stages":3}'
	ev progress '{"port":"1-1.2","unit":6,"phase":"write","done":40960,"total":81920,"rate_bps":100000}'
	echo "wait $tmp/go3"
	now=$(date +%s%3N)
	ev unit "{\"port\":\"1-1.1\",\"unit\":{\"id\":5,\"serial\":\"SNX101\",\"chip_uid\":null,\"recipe\":\"stm32-web\",\"result\":\"pass\",\"failed_stage\":null,\"error\":null,\"slot\":\"A1\",\"started_at\":$((now - 3000)),\"finished_at\":$now,\"pending\":false}}"
	ev port '{"port":"1-1.1","slot":"A1","state":"done","recipe":"stm32-web","serial":"SNX101"}'
	ev unit "{\"port\":\"1-1.2\",\"unit\":{\"id\":6,\"serial\":\"SNX102\",\"chip_uid\":null,\"recipe\":\"stm32-web\",\"result\":\"fail\",\"failed_stage\":\"app\",\"error\":\"download: DFU status errPROG at 0x08024000\",\"slot\":\"A2\",\"started_at\":$((now - 3000)),\"finished_at\":$now,\"pending\":false}}"
	ev port '{"port":"1-1.2","slot":"A2","state":"done","recipe":"stm32-web","serial":"SNX102"}'
} >"$d/script"
# The peer's hello carries the real status snapshot; flashd-web asks the
# (now absent) control socket first and falls back to it.
python3 "$top/tests/web/peer.py" --events "$d/events" --status "$d/status.json" --script "$d/script" 2>"$d/peer.log" &
peer_pid=$!
web_start "$d" "$d/web.conf" "$port" || nok "web_browser_flashd_web_starts" "$(tail -5 "$d/web.log")"
for _ in $(seq 100); do grep -q 'events: connected' "$d/web.log" && break; sleep 0.05; done
timeout 300 python3 "$top/tests/web/browser.py" "http://127.0.0.1:$port" "$tmp/go" "$shots"
echo "# screenshots: $(cd "$shots" && ls *.png | tr '\n' ' ')"
exit 0
