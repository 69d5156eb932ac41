#!/usr/bin/env bash
# flashd-web end to end: the real flashd under flashsim with three boards
# (the third fails in stage app), the real flashd-web reading flashd's
# events socket (its default: "events" next to flashd.conf's control
# socket) and database, headless Chromium on the line page.  Tiles go
# flashing -> pass/fail as the boards finish, progress moves, the fail tile
# shows its stage and reason; /events carries flashd's events with
# increasing ids and one unit event per unit agreeing with the database.
# Screenshots in $FLASHD_BUILD/test-logs/web-e2e-screenshots/ (README.md
# shows e2e-1920x1080.png as web/screenshot-line.png).
set -u
. "$(dirname "$0")/lib.sh"
shots=${WEB_E2E_SHOTS:-$build/test-logs/web-e2e-screenshots}
mkdir -p "$shots"
rm -f "$shots"/e2e-*
if [ ! -x /usr/bin/chromium ] || [ ! -x "$build/flashd-web" ]; then
	nok "web_e2e_prerequisites" "chromium: $(ls /usr/bin/chromium 2>&1) flashd-web: $(ls "$build/flashd-web" 2>&1)"
	exit 1
fi

d=$tmp/station
port=$(free_port)
# A 384 KiB app (three 128 KiB sectors) and the third board failing late in
# it: the app stage lasts seconds, so the page sees progress move on every
# tile even when the machine stalls the browser for a second (a 80 KiB app
# gave the failing tile one progress event: seen once in CI).
station_setup "$d" "$port" 393216
# No events_socket: flashd-web finds flashd's stream where flashd puts it.
printf 'listen = 127.0.0.1:%s\nflashd_conf = %s\n' "$port" "$d/flashd.conf" >"$d/web.conf"
# The boards are there from the start; flashd starts once the page is up
# (flashd-web waits for its stream, as after a reboot in either order, and
# connects within a second: the jobs last several seconds).
cat >"$d/scenario.json" <<JSON
{ "time_scale": 0.6, "boards": [
  { "id": "b1", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "SNE001" },
  { "id": "b2", "type": "stm32f405-dfuse", "port": "1-1.2", "serial": "SNE002" },
  { "id": "b3", "type": "stm32f405-dfuse", "port": "1-1.3", "serial": "SNE003",
    "faults": [ { "kind": "program_error", "step": "download", "skip": 168 } ] } ] }
JSON
cat >"$d/driver.sh" <<DRIVER
#!/usr/bin/env bash
"$build/flashd-web" --config "$d/web.conf" --log-stderr 2>"$d/web.log" &
web=\$!
for _ in \$(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.05; done
curl -sN "http://127.0.0.1:$port/events" >"$d/sse.txt" &
sse=\$!
# The browser needs no testbed, and must not run under umockdev's preload:
# Chromium forks from a threaded process, and a child forked while another
# thread held the preload's path lock hangs in open("/dev/null") before its
# exec (seen twice in full runs: the page never answered, DevTools read timed
# out after 60 s; tests/sim/README.md: never fork under the preload).
env -u LD_PRELOAD -u UMOCKDEV_DIR timeout 200 python3 "$top/tests/web/e2e-browser.py" "http://127.0.0.1:$port" "$shots" "$d/go" \
	"1-1.1=pass,1-1.2=pass,1-1.3=fail" >"$d/browser.tap" 2>"$d/browser.err" &
browser=\$!
for _ in \$(seq 1200); do [ -e "$d/go" ] && break; sleep 0.05; done
"$build/flashd" --config "$d/flashd.conf" --log-stderr 2>"$d/flashd.log" &
pid=\$!
wait \$browser
for _ in \$(seq 200); do
	[ "\$(sqlite3 "$d/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0)" -ge 3 ] && break
	sleep 0.05
done
sleep 0.5
curl -s "http://127.0.0.1:$port/metrics" >"$d/metrics.txt"
kill \$sse; wait \$sse
kill -TERM \$web; wait \$web
kill -TERM \$pid; wait \$pid
DRIVER
chmod +x "$d/driver.sh"
timeout 300 "$build/flashsim" --scenario "$d/scenario.json" --dump-dir "$d/out" -- "$d/driver.sh" >"$d/sim.log" 2>&1
cat "$d/browser.tap"
[ -s "$d/browser.tap" ] || nok "web_e2e_browser_ran" "$(tail -5 "$d/browser.err")" "$(tail -5 "$d/web.log")"
grep -q '^not ok' "$d/browser.tap" && echo "#   web.log: $(tail -3 "$d/web.log" | tr '\n' ' ')" && echo "#   flashd.log: $(tail -3 "$d/flashd.log" | tr '\n' ' ')"
rows=$(sqlite3 "$d/f.db" "SELECT group_concat(serial || ':' || result, ' ') FROM (SELECT * FROM units ORDER BY port)" 2>&1)
check "web_e2e_flashd_rows" "$([ "$rows" = "SNE001:pass SNE002:pass SNE003:fail" ] && echo 0 || echo 1)" "$rows"

# /events as a client saw it: flashd's events, ids increasing, unit events agree with the rows.
python3 - "$d/sse.txt" "$d/f.db" <<'PY'
import json, sqlite3, sys
ev, cur = [], {}
for l in open(sys.argv[1]).read().split('\n'):
    if l.startswith('id: '): cur['id'] = int(l[4:])
    elif l.startswith('event: '): cur['event'] = l[7:]
    elif l.startswith('data: '): cur['data'] = json.loads(l[6:])
    elif l == '' and cur:
        ev.append(cur); cur = {}
def case(name, good, detail=""):
    print(("ok - " if good else "not ok - ") + name + ("" if good else "\n#   " + str(detail)[:800]))
types = [e.get('event') for e in ev]
# The first snapshot is from before flashd ran (no status); flashd's hello brings one with its status.
snaps = [e['data'] for e in ev if e.get('event') == 'snapshot']
case("web_e2e_sse_snapshot_first_then_flashd_hello", types[:1] == ['snapshot'] and
     any(isinstance(s.get('status'), dict) and s['status'].get('station') == 'web-line' for s in snaps), types[:3])
ids = [e['id'] for e in ev if 'id' in e]
case("web_e2e_sse_ids_increasing", len(ids) > 3 and all(b > a for a, b in zip(ids, ids[1:])), ids[:30])
flashd_ev = [e for e in ev if e.get('event') != 'snapshot']
case("web_e2e_sse_ids_are_flashd_seqs", flashd_ev and all(e.get('id') == e['data'].get('seq') for e in flashd_ev),
     [(e.get('id'), e['data'].get('seq')) for e in flashd_ev[:6]])
case("web_e2e_sse_carries_port_stage_progress", {'port', 'stage', 'progress', 'unit'} <= set(types), sorted(set(types)))
db = sqlite3.connect(sys.argv[2]); db.row_factory = sqlite3.Row
units = [e['data'] for e in ev if e['event'] == 'unit']
bad = []
for e in units:
    u = e['unit']
    r = db.execute("SELECT * FROM units WHERE id = ?", (u['id'],)).fetchone()
    want = {k: r[k] for k in ('id', 'serial', 'chip_uid', 'recipe', 'result', 'failed_stage', 'error', 'slot', 'started_at', 'finished_at')}
    want['pending'] = False
    if u != want or e['port'] != r['port']:
        bad.append((u, want))
ids = sorted(e['unit']['id'] for e in units)
nrows = db.execute("SELECT count(*) FROM units").fetchone()[0]
case("web_e2e_sse_one_unit_event_per_unit_agreeing_with_db", len(units) == nrows == 3 and ids == sorted(set(ids)) and not bad, (len(units), nrows, bad))
PY
# The metrics come from flashd's database and status.
check "web_e2e_metrics_count_units" "$(grep -q '^flashd_units_total{recipe="stm32-web",result="pass"} 2$' "$d/metrics.txt" &&
	grep -q '^flashd_units_total{recipe="stm32-web",result="fail"} 1$' "$d/metrics.txt" && echo 0 || echo 1)" "$(grep units_total "$d/metrics.txt")"
echo "# screenshots: $(cd "$shots" && ls e2e-*.png | tr '\n' ' ')"
exit 0
