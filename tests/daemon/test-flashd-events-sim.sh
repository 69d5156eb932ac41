#!/usr/bin/env bash
# flashd's live event stream (daemon/events.h, flashd(8) EVENT STREAM)
# against flashsim boards: a subscriber sees the hello, then port, stage,
# progress and unit events with increasing seqs, and the unit events agree
# with the database rows; 200 subscribers and a stalled one do not hold the
# boards up (the makespan with and without them is printed), the stalled
# one is told what it missed (or closed); clients that reset the
# connection mid-stream do not hurt flashd.
. "$(dirname "$0")/../lib/testlib.sh"
sub=$top/tests/daemon/events-sub.py
# The system's python starts in 0.3 s where a version manager's shim may take seconds.
PY=$(command -v /usr/bin/python3 || command -v python3)
export PY

mkdir -p "$tmp/recipes/images"
head -c 65536 /dev/urandom >"$tmp/recipes/images/boot.bin"
head -c 196608 /dev/urandom >"$tmp/recipes/images/app.bin"
cat >"$tmp/recipes/stm32.json" <<EOF
{ "name": "stm32-ev", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", "file": "images/boot.bin",
      "sha256": "$(sha "$tmp/recipes/images/boot.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "app", "address": "0x08020000", "file": "images/app.bin",
      "sha256": "$(sha "$tmp/recipes/images/app.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF

# The program flashsim runs: flashd plus actions (see the case below).
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
dir=$1 recipes=$2 conf=$3 sub=$4
shift 4
B=$FLASHD_BUILD
"$B/flashd" --config "$conf" --recipes "$recipes" --db "$dir/f.db" --control "$dir/ctl" \
	--log-stderr 2>>"$dir/flashd.log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/events" ] && break; sleep 0.05; done
ready() { for _ in $(seq 400); do [ -e "$dir/$1" ] && break; sleep 0.05; done; }
rows() { sqlite3 "$dir/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
clients=()
while [ $# -gt 0 ]; do
	case $1 in
	record) READY=$dir/rec.ready "$PY" "$sub" record "$dir/events" "$dir/rec.jsonl" & clients+=($!)
		ready rec.ready ;;
	crowd) READY=$dir/crowd.ready "$PY" "$sub" crowd "$dir/events" 200 & clients+=($!)
		ready crowd.ready ;;
	stall) READY=$dir/stall.ready "$PY" "$sub" stall "$dir/events" "$dir/stall.out" & stall=$!
		ready stall.ready ;;
	quitters) for _ in $(seq 5); do "$PY" "$sub" quitter "$dir/events" & done ;;
	ready) date +%s%3N >"$dir/clients-ready" ;;
	settle) sleep 0.3 ;;
	wait-rows) for _ in $(seq 1200); do [ "$(rows)" -ge "$2" ] && break; sleep 0.05; done; shift ;;
	status) sleep 0.5; "$B/flashctl" status --socket "$dir/ctl" --json >"$dir/status.json" 2>&1 ;;
	release) kill -USR1 "$stall"; wait "$stall" ;;
	esac
	shift
done
for c in "${clients[@]}"; do kill -TERM "$c"; wait "$c"; done
kill -0 "$pid" 2>/dev/null && echo alive >"$dir/alive"
kill -TERM "$pid"; wait "$pid"; echo "$?" >"$dir/exit"
exit 0
EOF
chmod +x "$tmp/driver.sh"

run() { # NAME SCENARIO-JSON CONF-EXTRA ACTIONS...
	local name=$1 scn=$2 extra=$3 d=$tmp/$1
	shift 3
	mkdir -p "$d"
	printf 'station = test-line\nslot.1-1.1 = A1\nslot.1-1.2 = A2\n%s\n' "$extra" >"$d/flashd.conf"
	echo "$scn" >"$d/scenario.json"
	timeout 300 "$sim" --scenario "$d/scenario.json" --dump-dir "$d/out" -- \
		"$tmp/driver.sh" "$d" "$tmp/recipes" "$d/flashd.conf" "$sub" "$@" >"$d/sim.log" 2>&1
}

# ---- 1: one subscriber sees everything; quitters reset mid-stream -----------
scn='{"time_scale": 0.2, "boards": [
 {"id": "a", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "EVA", "plug_ms": 3000},
 {"id": "b", "type": "stm32f405-dfuse", "port": "1-1.2", "serial": "EVB", "plug_ms": 3100},
 {"id": "c", "type": "stm32f405-dfuse", "port": "1-1.3", "serial": "EVC", "plug_ms": 3200,
  "faults": [{"kind": "program_error", "step": "download", "skip": 40}]}]}'
run live "$scn" "" record quitters ready wait-rows 3 status
d=$tmp/live
python3 - "$d/rec.jsonl" "$d/f.db" "$d/status.json" >"$d/check.txt" 2>&1 <<'EOF'
import json, os, sqlite3, sys
if not os.path.exists(sys.argv[1]):
    print("not ok - events_recorded\n#   no subscriber could connect: " + sys.argv[1])
    sys.exit(0)
lines = open(sys.argv[1]).read().splitlines()
ev = [json.loads(l) for l in lines]
out = []
def case(name, good, detail=""):
    out.append(("ok - " if good else "not ok - ") + name + ("" if good else "\n#   " + str(detail)))
h = ev[0] if ev else {}
case("events_subscriber_connected_before_boards", h.get("status", {}).get("ports") == [], h)
case("events_hello_first", h.get("type") == "hello" and h.get("station") == "test-line"
     and isinstance(h.get("status", {}).get("ports"), list) and "version" in h, h)
seqs = [e.get("seq") for e in ev[1:]]
case("events_seq_increasing_after_hello",
     len(seqs) > 0 and seqs[0] > h.get("seq", 1 << 62) and all(b > a for a, b in zip(seqs, seqs[1:]))
     and all(isinstance(e.get("t"), int) for e in ev[1:]), seqs[:20])
ports = ["1-1.1", "1-1.2", "1-1.3"]
st = {p: [e["state"] for e in ev if e["type"] == "port" and e["port"] == p] for p in ports}
# A board that leaves (dfuse.leave) before its job is reaped goes straight to 'empty'.
case("events_port_states", all(st[p][0] == "flashing" and st[p][1] in ("done", "empty") for p in ports), st)
slot = {e["port"]: e["slot"] for e in ev if e["type"] == "port"}
case("events_port_slot", slot.get("1-1.1") == "A1" and slot.get("1-1.3") is None, slot)
stg = {p: [(e["index"], e["stage"], e["stages"]) for e in ev if e["type"] == "stage" and e["port"] == p] for p in ports}
good = [(0, "boot", 3), (1, "app", 3), (2, "dfuse.leave", 3)]
case("events_stages_in_order", all([x for x in stg[p] if x[1] != "verify"] == good for p in ports[:2]), stg)
pr = {p: [e for e in ev if e["type"] == "progress" and e["port"] == p] for p in ports}
case("events_progress_seen", all(len(pr[p]) >= 3 and all(0 <= e["done"] <= e["total"] for e in pr[p]) for p in ports[:2]),
     {p: len(pr[p]) for p in ports})
gaps = [b["t"] - a["t"] for p in ports for a, b in zip(pr[p], pr[p][1:])]
case("events_progress_at_most_4_per_second", all(g >= 200 for g in gaps), sorted(gaps)[:5])
units = [e for e in ev if e["type"] == "unit"]
db = sqlite3.connect(sys.argv[2])
db.row_factory = sqlite3.Row
bad = []
for e in units:
    u = e["unit"]
    r = db.execute("SELECT * FROM units WHERE id = ?", (u["id"],)).fetchone()
    want = {"id": r["id"], "serial": r["serial"], "chip_uid": r["chip_uid"], "recipe": r["recipe"],
            "result": r["result"], "failed_stage": r["failed_stage"], "error": r["error"],
            "slot": r["slot"], "started_at": r["started_at"], "finished_at": r["finished_at"],
            "pending": False}
    if u != want or e["port"] != r["port"]:
        bad.append((u, want))
res = sorted((e["port"], e["unit"]["result"]) for e in units)
case("events_unit_events_agree_with_rows", len(units) == 3 and not bad and
     res == [("1-1.1", "pass"), ("1-1.2", "pass"), ("1-1.3", "fail")], (res, bad))
# The unit event comes after the unit's last stage and before its port's 'done'.
order_ok = True
for p in ports:
    idx = [i for i, e in enumerate(ev) if e.get("port") == p]
    ui = [i for i in idx if ev[i]["type"] == "unit"]
    done = [i for i in idx if ev[i]["type"] == "port" and ev[i]["state"] in ("done", "empty")]
    stages = [i for i in idx if ev[i]["type"] in ("stage", "progress")]
    if not ui or not done or ui[0] > done[-1] or (stages and stages[-1] > ui[0]):
        order_ok = False
case("events_unit_after_stages_before_port_freed", order_ok)
s = json.load(open(sys.argv[3]))
case("events_status_has_counters", s.get("events", {}).get("subscribers", -1) >= 1
     and s["events"].get("dropped") == 0, s.get("events"))
print("\n".join(out))
EOF
cat "$d/check.txt"
grep -q '^ok - events_hello_first' "$d/check.txt" || echo "#   $(head -c 600 "$d/rec.jsonl") $(tail -5 "$d/flashd.log")"
check "events_quitters_do_not_hurt_flashd" "$([ -e "$d/alive" ] && [ "$(cat "$d/exit" 2>/dev/null)" = 0 ] && echo 0 || echo 1)" \
	"exit: $(cat "$d/exit" 2>/dev/null)" "$(tail -5 "$d/flashd.log")"

# ---- 2: a crowd and a stalled subscriber do not slow the boards -------------
scn='{"time_scale": 0.2, "boards": [
 {"id": "a", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "LDA", "plug_ms": 4000},
 {"id": "b", "type": "stm32f405-dfuse", "port": "1-1.2", "serial": "LDB", "plug_ms": 4000},
 {"id": "c", "type": "stm32f405-dfuse", "port": "1-1.3", "serial": "LDC", "plug_ms": 4000},
 {"id": "d", "type": "stm32f405-dfuse", "port": "1-1.4", "serial": "LDD", "plug_ms": 4000}]}'
makespan() { sqlite3 "$1/f.db" "SELECT max(finished_at) - min(started_at) FROM units"; }
passes() { sqlite3 "$1/f.db" "SELECT count(*) FROM units WHERE result = 'pass'"; }
run quiet "$scn" "events_queue = 4096" wait-rows 4
run loaded "$scn" "events_queue = 4096" record stall crowd ready wait-rows 4 status release
q=$(makespan "$tmp/quiet") l=$(makespan "$tmp/loaded")
echo "# makespan of 4 boards: ${q} ms without subscribers, ${l} ms with 200 + 1 stalled + 1 recording"
d=$tmp/loaded
check "events_load_all_units_pass" "$([ "$(passes "$tmp/quiet")" = 4 ] && [ "$(passes "$d")" = 4 ] && echo 0 || echo 1)" \
	"quiet: $(passes "$tmp/quiet"), loaded: $(passes "$d")" "$(tail -5 "$d/flashd.log")"
n=$(grep -c '"type":"unit"' "$d/rec.jsonl" 2>/dev/null)
check "events_load_live_subscriber_gets_every_unit" "$([ "$n" = 4 ] && echo 0 || echo 1)" \
	"unit events: $n" "$(grep -c . "$d/rec.jsonl") lines" "$(grep '"type":"dropped"' "$d/rec.jsonl")"
check "events_load_stalled_subscriber_told_or_closed" \
	"$(grep -q '"type":"dropped"' "$d/stall.out" || [ "$(tail -1 "$d/stall.out")" = closed ]; echo $?)" \
	"$(tail -c 300 "$d/stall.out")"
dropped=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"]["dropped"])' "$d/status.json" 2>&1)
echo "# status after the load: events dropped: $dropped"
check "events_load_dropped_counted" "$([ "$dropped" -gt 0 ] 2>/dev/null && echo 0 || echo 1)" "$(cat "$d/status.json" | head -c 400)"
check "events_load_flashd_ok" "$([ "$(cat "$d/exit" 2>/dev/null)" = 0 ] && echo 0 || echo 1)" "$(tail -5 "$d/flashd.log")"
