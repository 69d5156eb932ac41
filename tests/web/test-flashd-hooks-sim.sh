#!/usr/bin/env bash
# flashd-hooks (web/hooks*.c, flashd-hooks(8)) against flashd and flashsim
# boards: pass, fail and any hooks get the unit's JSON (as its row says) on
# stdin; a hook that sleeps past hook.timeout is killed (its whole process
# group) and logged while the next unit's hook runs on time; a failing
# hook's exit status is logged; flashd-hooks started before flashd, and
# flashd restarted, are reconnected to; a bad configuration is refused.
. "$(dirname "$0")/../lib/testlib.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)

# ---- configuration errors -------------------------------------------------
bad() { # NAME LINE EXPECTED-MESSAGE
	printf '%s\n' "$2" >"$tmp/bad.conf"
	out=$("$build/flashd-hooks" --config "$tmp/bad.conf" --log-stderr 2>&1)
	rc=$?
	check "hooks_config_refuses_$1" "$([ $rc = 1 ] && [[ $out == *"bad.conf:1"*"$3"* ]] && echo 0 || echo 1)" "rc $rc: $out"
}
bad relative_command "hook.pass = lp -d labels" "not an absolute path"
bad unterminated_quote "hook.fail = /bin/sh -c 'echo" "unterminated"
bad bad_timeout "hook.timeout = soon" "not a duration"
bad unknown_key "hook.sometimes = /bin/true" "unknown key"

# ---- a station with hooks ----------------------------------------------------
mkdir -p "$tmp/recipes/images" "$tmp/out dir"
out="$tmp/out dir"
head -c 196608 /dev/urandom >"$tmp/recipes/images/app.bin"
cat >"$tmp/recipes/stm32.json" <<EOF
{ "name": "stm32-hk", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "app", "address": "0x08000000", "file": "images/app.bin",
      "sha256": "$(sha "$tmp/recipes/images/app.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
cat >"$tmp/hook.sh" <<'EOF'
#!/bin/sh
# hook.sh KIND DIR: when it started, and what it read.
date +%s%3N >"$2/$1-$FLASHD_UNIT_ID.start"
cat >"$2/$1-$FLASHD_UNIT_ID.json"
EOF
chmod +x "$tmp/hook.sh"
cat >"$tmp/hooks.conf" <<EOF
# Quoting: the directory has a space; the slow hook is an explicit sh -c.
events_socket = $tmp/st/events
hook.timeout = 4s
hook.pass = $tmp/hook.sh pass "$out"
hook.fail = $tmp/hook.sh fail '$out'
hook.any = $tmp/hook.sh any $(printf '%s' "$out" | sed 's/ /\\ /g')
hook.any = /bin/sh -c 'if [ "\$FLASHD_SERIAL" = HKA ]; then sleep 31.5; fi; date +%s%3N >"\$0/slow-\$FLASHD_UNIT_ID.done"' "$out"
hook.fail = /bin/sh -c 'exit 7'
EOF
printf 'station = hook-line\nslot.1-1.1 = A1\n' >"$tmp/flashd.conf"

cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
dir=$1
B=$FLASHD_BUILD
# flashd-hooks first: it has to wait for flashd's socket.
"$B/flashd-hooks" --config "$dir/hooks.conf" --log-stderr 2>"$dir/hooks.log" &
hk=$!
start() {
	"$B/flashd" --config "$dir/flashd.conf" --recipes "$dir/recipes" --db "$dir/st/f.db" \
		--control "$dir/st/ctl" --log-stderr 2>>"$dir/flashd.log" &
	pid=$!
	for _ in $(seq 200); do grep -q "connected" "$dir/hooks.log" && [ "$(grep -c connected "$dir/hooks.log")" -ge "$1" ] && break; sleep 0.05; done
}
rows() { sqlite3 "$dir/st/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
sleep 0.5
start 1
date +%s%3N >"$dir/flashd-ready"
for _ in $(seq 1200); do [ "$(rows)" -ge 2 ] && break; sleep 0.05; done
# The failed board leaves first: a restarted flashd would flash it again.
for _ in $(seq 400); do grep -q "left port '1-1.2'" "$dir/flashd.log" && break; sleep 0.05; done
kill -TERM "$pid"; wait "$pid"
start 2
date +%s%3N >"$dir/flashd-restarted"
for _ in $(seq 1200); do [ "$(rows)" -ge 3 ] && break; sleep 0.05; done
sleep 3 # the last unit's hooks
kill -TERM "$pid"; wait "$pid"
kill -TERM "$hk"; wait "$hk"; echo $? >"$dir/hooks.exit"
exit 0
EOF
chmod +x "$tmp/driver.sh"
mkdir -p "$tmp/st"
# a passes, b fails (1.5 s later: its hooks run while a's slow hook hangs)
# and is unplugged,
# c passes after flashd's restart.
scn='{"time_scale": 0.2, "boards": [
 {"id": "a", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "HKA", "plug_ms": 3000},
 {"id": "b", "type": "stm32f405-dfuse", "port": "1-1.2", "serial": "HKB", "plug_ms": 4500, "unplug_ms": 8000,
  "faults": [{"kind": "program_error", "step": "download", "skip": 40}]},
 {"id": "c", "type": "stm32f405-dfuse", "port": "1-1.3", "serial": "HKC", "plug_ms": 12000}]}'
echo "$scn" >"$tmp/scenario.json"
timeout 300 "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/dump" -- "$tmp/driver.sh" "$tmp" >"$tmp/sim.log" 2>&1

"$PY" - "$tmp/st/f.db" "$out" "$tmp/hooks.log" <<'EOF'
import json, os, sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.row_factory = sqlite3.Row
out, log = sys.argv[2], open(sys.argv[3]).read()
rows = {r["serial"]: r for r in db.execute("SELECT * FROM units ORDER BY id DESC")}
def case(name, good, detail=""):
    print(("ok - " if good else "not ok - ") + name + ("" if good else "\n#   " + str(detail)))
def read(kind, r):
    try:
        return json.load(open("%s/%s-%d.json" % (out, kind, r["id"])))
    except Exception as e:
        return repr(e)
def want(r):
    return {"id": r["id"], "serial": r["serial"], "chip_uid": r["chip_uid"], "recipe": r["recipe"],
            "result": r["result"], "failed_stage": r["failed_stage"], "error": r["error"],
            "slot": r["slot"], "started_at": r["started_at"], "finished_at": r["finished_at"],
            "pending": False, "port": r["port"], "station": "hook-line"}
res = {s: r["result"] for s, r in rows.items()}
case("hooks_units_flashed", res == {"HKA": "pass", "HKB": "fail", "HKC": "pass"}, res)
got = {(k, s): read(k, r) for s, r in rows.items() for k in ("pass", "fail", "any")}
exp = {(k, s): want(r) for s, r in rows.items() for k in ("pass", "fail", "any")
       if k == "any" or k == r["result"]}
case("hooks_pass_fail_any_get_the_unit_json",
     all(got[k] == v for k, v in exp.items()), {k: (got[k], v) for k, v in exp.items() if got[k] != v})
extra = [k for k in got if k not in exp and os.path.exists("%s/%s-%d.json" % (out, k[0], rows[k[1]]["id"]))]
case("hooks_only_matching_hooks_run", not extra, extra)
a, b = rows["HKA"], rows["HKB"]
case("hooks_slow_hook_killed_and_logged",
     ("Hook '/bin/sh -c" in log and "for unit %d killed: still running after hook.timeout" % a["id"] in log)
     and not os.path.exists("%s/slow-%d.done" % (out, a["id"])), log[-1500:])
bstart = int(open("%s/any-%d.start" % (out, b["id"])).read()) if os.path.exists("%s/any-%d.start" % (out, b["id"])) else None
lag = bstart - b["finished_at"] if bstart else None
print("# unit %d's hook started %s ms after its row's finished_at, while unit %d's slow hook hung" % (b["id"], lag, a["id"]))
case("hooks_next_unit_hook_runs_on_time", lag is not None and lag < 1500
     and b["finished_at"] < a["finished_at"] + 4000, (lag, a["finished_at"], b["finished_at"]))
case("hooks_failing_hook_exit_status_logged",
     "Hook '/bin/sh -c 'exit 7'' for unit %d failed: exit status 7" % b["id"] in log, log[-1500:])
case("hooks_reconnect_after_flashd_restart", log.count("connected") >= 2
     and isinstance(got[("pass", "HKC")], dict), log[-1500:])
EOF
n=$(pgrep -fc 'sleep 31.5')
check "hooks_killed_hook_leaves_no_process" "$([ "$n" = 0 ] && echo 0 || echo 1)" "$(pgrep -fa 'sleep 31.5')"
check "hooks_exit_0_on_sigterm" "$([ "$(cat "$tmp/hooks.exit" 2>/dev/null)" = 0 ] && echo 0 || echo 1)" "$(tail -5 "$tmp/hooks.log")" "$(tail -5 "$tmp/sim.log")"
