#!/usr/bin/env bash
# flashd-web (web/) against a station database written by real flashd runs
# under flashsim and flashd's real control socket: the JSON API and its
# paging and filters, the CSV export (byte-identical to `flashctl export`),
# /metrics checked by promtool and against the database, read-only method
# and parameter errors.  Then against tests/web/peer.py standing in for
# flashd's event stream: 200 /events clients and a stalled one all get
# every event, Last-Event-ID resumes (or gets a snapshot when too old), and
# a "dropped" event makes flashd-web re-sync with a fresh snapshot.
set -u
. "$(dirname "$0")/lib.sh"
trap 'web_stop; [ -n "${peer_pid:-}" ] && kill "$peer_pid" 2>/dev/null; testlib_cleanup' EXIT
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>&1; }

if [ ! -x "$build/flashd-web" ]; then
	nok "web_flashd_web_is_built" "no $build/flashd-web"
	exit 1
fi

# ---- a station: 4 boards flashed by flashd, one fails -----------------------
d=$tmp/station
port=$(free_port)
station_setup "$d" "$port"
# The URLs fetched while flashd still runs (its control socket answers).
urls="api/ports metrics api/units api/units.csv"
cat >"$d/driver.sh" <<DRIVER
#!/usr/bin/env bash
set -u
. "$top/tests/web/lib.sh"
"$build/flashd" --config "$d/flashd.conf" --deadline-pct 20 --log-stderr 2>"$d/flashd.log" &
pid=\$!
for _ in \$(seq 600); do
	[ "\$(sqlite3 "$d/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0)" -ge 4 ] && break
	sleep 0.05
done
if web_start "$d" "$d/web.conf" $port; then
	for u in $urls; do get "http://127.0.0.1:$port/\$u" "$d/live-\$(echo \$u | tr / _)" >"$d/live-\$(echo \$u | tr / _).code"; done
fi
web_stop
kill -TERM \$pid
wait \$pid
DRIVER
chmod +x "$d/driver.sh"
timeout 300 "$sim" --scenario "$d/scenario.json" --dump-dir "$d/out" -- "$d/driver.sh" >"$d/sim.log" 2>&1
rows=$(q "$d/f.db" "SELECT group_concat(serial || ':' || result, ' ') FROM units")
check "web_station_db_from_flashd_runs" "$([ "$rows" = "SNW001:pass SNW002:pass SNW003:fail SNW004:pass" ] && echo 0 || echo 1)" "rows: $rows" "$(tail -3 "$d/flashd.log")"

# ---- the API while flashd runs: ports from its control socket ---------------
# Passed boards left after dfuse.leave (empty); the failed one stays (done).
f=$d/live-api_ports
res=$(jq_ "$f" '" ".join("%s=%s:%s" % (p["port"], p["slot"], p["state"]) for p in sorted(d["ports"], key=lambda p: p["port"]))')
check "web_api_ports_from_control_socket_with_empty_slots" \
	"$([ "$(cat "$f.code")" = 200 ] && [ "$res" = "1-1.1=A1:empty 1-1.2=A2:empty 1-1.3=A3:done 1-1.4=A4:empty 1-1.5=A5:empty" ] && echo 0 || echo 1)" \
	"code $(cat "$f.code"): $res" "$(head -c 300 "$f")"
check "web_metrics_while_flashd_runs_counts_ports" \
	"$(grep -qx 'flashd_ports{state="done"} 1' "$d/live-metrics" && grep -qx 'flashd_ports{state="empty"} 4' "$d/live-metrics" && grep -qx 'flashd_up 1' "$d/live-metrics" && echo 0 || echo 1)" \
	"$(grep '^flashd_ports\|^flashd_up' "$d/live-metrics")"

# ---- after flashd: the database alone ---------------------------------------
dbsum=$(sha "$d/f.db")
web_start "$d" "$d/web.conf" "$port" || nok "web_starts" "$(tail -5 "$d/web.log")"
base=http://127.0.0.1:$port
code=$(get "$base/api/units" "$d/units.json")
ids=$(jq_ "$d/units.json" '" ".join(str(u["id"]) for u in d["units"]) + " next=" + str(d["next"])')
want=$(q "$d/f.db" "SELECT group_concat(id, ' ') FROM units ORDER BY id")
check "web_api_units_lists_every_unit" "$([ "$code" = 200 ] && [ "$ids" = "$want next=None" ] && echo 0 || echo 1)" "code $code: $ids (want $want)"
fl=$(jq_ "$d/units.json" 'sorted(d["units"][0].keys()) == sorted("id station port slot recipe recipe_sha256 vid pid serial chip_uid jedec_id result failed_stage error started_at finished_at duration_ms flashd_version".split())')
check "web_api_units_rows_have_flashctl_columns" "$([ "$fl" = True ] && echo 0 || echo 1)" "$fl"

# Cursor paging: limit=1 pages, following "next", give the same ids in order.
paged=$(python3 - "$base" <<'PY'
import json, sys, urllib.request
after, ids = 0, []
for _ in range(10):
    d = json.load(urllib.request.urlopen("%s/api/units?limit=1&after=%d" % (sys.argv[1], after)))
    ids += [str(u["id"]) for u in d["units"]]
    if d["next"] is None:
        break
    after = d["next"]
print(" ".join(ids))
PY
)
check "web_api_units_cursor_paging" "$([ "$paged" = "$want" ] && echo 0 || echo 1)" "paged: '$paged' want '$want'"

get "$base/api/units?result=fail" "$d/fail.json" >/dev/null
res=$(jq_ "$d/fail.json" '"|".join("%s:%s:%s" % (u["serial"], u["failed_stage"], u["slot"]) for u in d["units"])')
err=$(jq_ "$d/fail.json" 'd["units"][0]["error"]')
check "web_api_units_filters_by_result" "$([ "$res" = "SNW003:app:A3" ] && [[ $err == *errPROG* ]] && echo 0 || echo 1)" "$res / $err"
get "$base/api/units?serial=SNW002&since=-1d&until=now&recipe=stm32-web&port=1-1.*&slot=A*" "$d/f2.json" >/dev/null
res=$(jq_ "$d/f2.json" '" ".join(u["serial"] for u in d["units"])')
check "web_api_units_filters_as_flashctl_log" "$([ "$res" = SNW002 ] && echo 0 || echo 1)" "$res"

id=$(q "$d/f.db" "SELECT id FROM units WHERE serial='SNW003'")
code=$(get "$base/api/units/$id" "$d/unit.json")
res=$(jq_ "$d/unit.json" '"%s %s %d %d" % (d["serial"], d["result"], len(d["stages"]), len(d["images"]))')
want="SNW003 fail $(q "$d/f.db" "SELECT count(*) FROM unit_stages WHERE unit_id=$id") $(q "$d/f.db" "SELECT count(*) FROM unit_images WHERE unit_id=$id")"
check "web_api_unit_has_stages_and_images" "$([ "$code" = 200 ] && [ "$res" = "$want" ] && echo 0 || echo 1)" "code $code: $res (want $want)"

get "$base/api/units.csv" "$d/units.csv" >/dev/null
"$build/flashctl" --db "$d/f.db" export >"$d/export.csv"
get "$base/api/units.csv?result=pass" "$d/pass.csv" >/dev/null
"$build/flashctl" --db "$d/f.db" export --result pass >"$d/export-pass.csv"
check "web_api_units_csv_is_flashctl_export" \
	"$(cmp -s "$d/units.csv" "$d/export.csv" && cmp -s "$d/pass.csv" "$d/export-pass.csv" && cmp -s "$d/live-api_units.csv" "$d/export.csv" && [ "$(wc -l <"$d/units.csv")" = 5 ] && echo 0 || echo 1)" \
	"$(diff "$d/units.csv" "$d/export.csv" | head -5)"

# ---- /metrics: promtool, then values against the database ------------------
get "$base/metrics" "$d/metrics.txt" >/dev/null
pt=$(promtool check metrics <"$d/metrics.txt" 2>&1)
check "web_metrics_pass_promtool" "$([ $? -eq 0 ] && [ -s "$d/metrics.txt" ] && echo 0 || echo 1)" "$pt"
pt=$(promtool check metrics <"$d/live-metrics" 2>&1)
check "web_metrics_with_flashd_pass_promtool" "$([ $? -eq 0 ] && echo 0 || echo 1)" "$pt"
m() { grep -F "$1 " "$d/metrics.txt" | awk '{print $NF}'; }
bytes=$(q "$d/f.db" "SELECT sum(size) FROM unit_images")
stages=$(q "$d/f.db" "SELECT count(*) FROM unit_stages WHERE duration_ms IS NOT NULL")
names=$(q "$d/f.db" "SELECT count(DISTINCT name) FROM unit_stages WHERE duration_ms IS NOT NULL")
boot=$(q "$d/f.db" "SELECT count(*) FROM unit_stages WHERE name='boot' AND duration_ms IS NOT NULL")
durs=$(q "$d/f.db" "SELECT sum(duration_ms) FROM units")
got="pass=$(m 'flashd_units_total{recipe="stm32-web",result="pass"}') fail=$(m 'flashd_units_total{recipe="stm32-web",result="fail"}') n=$(m 'flashd_unit_duration_seconds_count{recipe="stm32-web"}') inf=$(m 'flashd_unit_duration_seconds_bucket{recipe="stm32-web",le="+Inf"}') bytes=$(m 'flashd_bytes_written_total{family="stm32"}') boot=$(m 'flashd_stage_duration_seconds_count{recipe="stm32-web",stage="boot"}')"
want="pass=3 fail=1 n=4 inf=4 bytes=$bytes boot=$boot"
check "web_metrics_match_database" "$([ "$got" = "$want" ] && echo 0 || echo 1)" "got  $got" "want $want"
sum=$(m 'flashd_unit_duration_seconds_sum{recipe="stm32-web"}')
check "web_metrics_duration_sum_in_seconds" "$(python3 -c "import sys; sys.exit(0 if abs($sum - $durs/1000) < 1e-6 else 1)" && echo 0 || echo 1)" "sum $sum, db $durs ms"
st=$(grep -c '^flashd_stage_duration_seconds_count{' "$d/metrics.txt")
tot=$(grep '^flashd_stage_duration_seconds_count{' "$d/metrics.txt" | awk '{s+=$NF} END {print s}')
check "web_metrics_stage_histograms" "$([ "$st" = "$names" ] && [ "$tot" = "$stages" ] && echo 0 || echo 1)" "series $st, count $tot, db $names names $stages stages"
check "web_metrics_build_info_and_db_errors" \
	"$(grep -qx 'flashd_build_info{version="[0-9.]*"} 1' "$d/metrics.txt" && grep -qx 'flashd_db_write_errors_total 0' "$d/metrics.txt" && grep -q '^# HELP flashd_db_write_errors_total ' "$d/metrics.txt" && grep -qx 'flashd_up 0' "$d/metrics.txt" && echo 0 || echo 1)" \
	"$(grep 'build_info\|write_errors\|flashd_up' "$d/metrics.txt")"

# ---- read-only, bad requests -----------------------------------------------
bad=""
expect() { # CODE CURL-ARGS...
	local want=$1 got
	shift
	got=$(curl -s -o "$d/err.json" -w '%{http_code}' "$@")
	[ "$got" = "$want" ] || bad="$bad [$* -> $got, want $want]"
	case $want in 4*) grep -q '^{"error":"[^"]' "$d/err.json" || bad="$bad [$*: no reason]" ;; esac
}
for m_ in POST PUT DELETE PATCH; do expect 405 -X $m_ "$base/api/units"; done
expect 405 -X POST --data 'x=1' "$base/"
expect 405 -X OPTIONS "$base/metrics"
expect 400 "$base/api/units?result=maybe"
expect 400 "$base/api/units?since=yesterday"
expect 400 "$base/api/units?limit=0"
expect 400 "$base/api/units?limit=5000"
expect 400 "$base/api/units?after=-3"
expect 400 "$base/api/units?colour=red"
expect 400 "$base/api/units?since=2026-01-02&until=2026-01-01"
expect 400 "$base/api/units.csv?after=3"
expect 400 "$base/api/units/abc"
expect 400 "$base/metrics?x=1"
expect 404 "$base/api/units/999999"
expect 404 "$base/nope"
expect 404 "$base/api/unitsx"
expect 200 -I "$base/api/units"
allow=$(curl -s -o /dev/null -D - -X DELETE "$base/api/units" | tr -d '\r' | grep -i '^allow:')
reason=$(curl -s "$base/api/units?result=maybe")
check "web_read_only_and_bad_requests_get_4xx_with_reason" "$([ -z "$bad" ] && [ "$allow" = "Allow: GET, HEAD" ] && echo 0 || echo 1)" "$bad" "$allow" "$reason"
web_stop
check "web_never_writes_the_database" "$([ "$(sha "$d/f.db")" = "$dbsum" ] && [ ! -e "$d/f.db-journal" ] && echo 0 || echo 1)"

# ---- the event stream: tests/web/peer.py as flashd ---------------------------
p=$tmp/peer
mkdir -p "$p"
cp "$d/f.db" "$p/f.db"
sed -e "s|$d/f.db|$p/f.db|" -e "s|$d/ctl|$p/ctl|" "$d/flashd.conf" >"$p/flashd.conf"
port=$(free_port)
base=http://127.0.0.1:$port
cat >"$p/web.conf" <<CONF
listen = 127.0.0.1:$port
flashd_conf = $p/flashd.conf
events_socket = $p/events
CONF
python3 - "$p/status.json" "$p/status2.json" <<'PY'
import json, sys
port = lambda n, st: {"port": "1-1.%d" % n, "slot": "A%d" % n, "state": st, "vid": "0483", "pid": "df11",
    "serial": "", "recipe": "stm32-web", "stage": "", "stage_index": 0, "stages": 3, "phase": "",
    "done": 0, "total": 0, "rate_bps": 0, "eta_ms": None, "elapsed_ms": 0, "unit": 0,
    "last_result": "", "pending": False, "last_error": ""}
doc = {"station": "web-line", "version": "0.1.0", "status": "ok", "stopping": False, "jobs": 0,
       "today": {"pass": 3, "fail": 1, "pending": 0},
       "database": {"path": "x", "writable": True, "pending_units": 0, "pending_records": 0, "error": ""},
       "ports": [port(1, "flashing"), port(2, "idle")]}
json.dump(doc, open(sys.argv[1], "w"))
doc["ports"][0]["state"] = "awaiting"
doc["database"]["write_errors"] = 2
json.dump(doc, open(sys.argv[2], "w"))
PY
pad=$(head -c 300 /dev/zero | tr '\0' x)
N=1000
cat >"$p/script" <<SCRIPT
wait $p/go
burst $N progress {"port":"1-1.1","unit":7,"phase":"write","done":1,"total":2,"rate_bps":3,"pad":"$pad"}
wait $p/go2
status $p/status2.json
drop
wait $p/go3
emit port {"port":"1-1.2","slot":"A2","state":"flashing","recipe":"stm32-web","serial":"SNL1"}
SCRIPT
python3 "$top/tests/web/peer.py" --events "$p/events" --control "$p/ctl.peer" --status "$p/status.json" --script "$p/script" 2>"$p/peer.log" &
peer_pid=$!
web_start "$p" "$p/web.conf" "$port" || nok "web_starts_with_peer" "$(tail -5 "$p/web.log")"
for _ in $(seq 100); do grep -q 'events: connected' "$p/web.log" && break; sleep 0.05; done
# hello is seq 1, the burst 2..N+1.
last=$((N + 1))
timeout 120 python3 "$top/tests/web/sse-load.py" 127.0.0.1 "$port" --clients 200 --stalled 1 \
	--go "$p/go" --until-id $last --timeout 60 >"$p/load.json" 2>"$p/load.err"
res=$(jq_ "$p/load.json" '"%d/%d complete, %d contiguous, %s s" % (d["complete"], d["readers"], d["contiguous"], d["burst_s"])')
check "web_sse_200_clients_and_a_stalled_one_get_every_event" \
	"$(jq_ "$p/load.json" 'd["complete"] == 200 and d["contiguous"] == 200 and all(c["status"] == "200" for c in d["clients"])' | grep -qx True && echo 0 || echo 1)" \
	"$res" "$(head -c 300 "$p/load.err")"
sendq=$(jq_ "$p/load.json" 'd["stalled_unsent"][0]')
check "web_sse_stalled_client_really_stalled" "$([ "$sendq" -ge 100000 ] && echo 0 || echo 1)" "bytes flashd-web holds for the stalled client: $sendq"
first=$(jq_ "$p/load.json" 'd["clients"][0]["first"][0]')
snap=$(jq_ "$p/load.json" 'json.loads(d["clients"][0]["first_data"])["layout"][0]["label"] + " " + json.loads(d["clients"][0]["first_data"])["status"]["ports"][0]["state"]')
check "web_sse_new_client_starts_with_snapshot" "$([[ $first == snapshot:* ]] && [ "$snap" = "A1 flashing" ] && echo 0 || echo 1)" "$first / $snap"

python3 "$top/tests/web/sse-load.py" 127.0.0.1 "$port" --clients 1 --last-event-id 500 --until-id $last --timeout 10 >"$p/resume.json"
res=$(jq_ "$p/resume.json" '" ".join(d["clients"][0]["first"][:2]) + " n=%d" % d["clients"][0]["n"]')
check "web_sse_last_event_id_resumes_after_it" "$([ "$res" = "progress:501 progress:502 n=$((last - 500))" ] && echo 0 || echo 1)" "$res"
python3 "$top/tests/web/sse-load.py" 127.0.0.1 "$port" --clients 1 --last-event-id 123456 --until-id 1 --timeout 10 >"$p/old.json"
res=$(jq_ "$p/old.json" 'd["clients"][0]["first"][0]')
check "web_sse_unknown_last_event_id_gets_snapshot" "$([ "$res" = "snapshot:$last" ] && echo 0 || echo 1)" "$res"

# dropped: flashd-web reconnects and every client gets a fresh snapshot (seq last+2).
timeout 60 python3 "$top/tests/web/sse-load.py" 127.0.0.1 "$port" --clients 3 --go "$p/go2" --until-id $((last + 2)) --timeout 20 >"$p/drop.json"
res=$(jq_ "$p/drop.json" '" ".join(d["clients"][0]["last"][-2:])')
st=$(jq_ "$p/drop.json" 'd["complete"]')
check "web_sse_dropped_makes_flashd_web_resync" "$([ "$res" = "dropped:$((last + 1)) snapshot:$((last + 2))" ] && [ "$st" = 3 ] && echo 0 || echo 1)" "$res (complete $st)" "$(tail -3 "$p/web.log")"
# An event reaches a waiting client at once (push resumes it), not at the
# next keep-alive tick (5 s).
python3 "$top/tests/web/sse-load.py" 127.0.0.1 "$port" --clients 2 --go "$p/go3" --until-id $((last + 3)) --timeout 20 >"$p/latency.json"
res=$(jq_ "$p/latency.json" '"%s %s" % (d["clients"][0]["last"][-1], d["burst_s"])')
check "web_sse_event_reaches_waiting_clients_at_once" "$(jq_ "$p/latency.json" 'd["complete"] == 2 and d["burst_s"] < 2.5' | grep -qx True && echo 0 || echo 1)" "$res"
# The peer's control socket is not flashd-web's: status comes from the stream's hello.
get "$base/metrics" "$p/metrics.txt" >/dev/null
check "web_metrics_from_stream_status" "$(grep -qx 'flashd_db_write_errors_total 2' "$p/metrics.txt" && grep -qx 'flashd_ports{state="awaiting"} 1' "$p/metrics.txt" && echo 0 || echo 1)" \
	"$(grep 'write_errors_total \|^flashd_ports' "$p/metrics.txt")"
web_stop
exit 0
