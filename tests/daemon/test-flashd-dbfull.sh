#!/usr/bin/env bash
# The database's filesystem fills up while flashd flashes (issue #13 item
# 4).  The database lives on a small tmpfs of its own (a private mount
# namespace, so root only), filled with dd while a job runs under flashsim:
#   - the running job goes on; its results are kept pending, not dropped;
#   - STATUS=, flashctl status and the journal say the database is not
#     writable, and no pass is claimed that the database does not hold;
#   - a board plugged in meanwhile is not touched (no row, no job);
#   - once space is freed, the pending records are written (the unit is
#     'pass' with every stage and image row), no row stays 'running', and
#     the waiting board is flashed without a replug;
#   - flashd stopped while records are pending writes them at its next start.
. "$(dirname "$0")/../lib/testlib.sh"

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "ok - flashd_dbfull # SKIP needs root (a tmpfs mounted in a private mount namespace)"
	exit 0
fi
if [ -z "${FLASHD_DBFULL_NS:-}" ]; then
	if ! FLASHD_DBFULL_NS=1 unshare -m --propagation private true 2>/dev/null; then
		echo "ok - flashd_dbfull # SKIP cannot create a mount namespace here"
		exit 0
	fi
	FLASHD_DBFULL_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi

trap '[ -n "${KEEP:-}" ] || { umount "$tmp"/*/dbfs 2>/dev/null; rm -rf "$tmp"; }' EXIT


mkdir -p "$tmp/recipes/images"
head -c 24576 /dev/urandom >"$tmp/recipes/images/boot.bin"
head -c 81920 /dev/urandom >"$tmp/recipes/images/app.bin"
cat >"$tmp/recipes/stm32.json" <<EOF
{ "name": "stm32", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", "file": "images/boot.bin",
      "sha256": "$(sha "$tmp/recipes/images/boot.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "app", "address": "0x08020000", "file": "images/app.bin",
      "sha256": "$(sha "$tmp/recipes/images/app.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
python3 - "$tmp/recipes/images/boot.bin" "$tmp/recipes/images/app.bin" "$tmp/expect.bin" <<'EOF'
import sys
boot, app = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
img = bytearray(b'\xff' * (1024 * 1024))
img[0:len(boot)] = boot
img[0x20000:0x20000 + len(app)] = app
open(sys.argv[3], 'wb').write(img)
EOF

# STATUS= as systemd would get it: a datagram socket, one line per message.
cat >"$tmp/notify.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'a') as f:
    while True:
        m = s.recv(4096).decode(errors='replace')
        for l in m.split('\n'):
            if l.startswith('STATUS='):
                f.write(l + '\n')
                f.flush()
EOF

# The program flashsim runs: flashd plus a script of actions.
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
# usage: driver.sh DIR ACTIONS...
#   wait-running N | wait-rows N | wait-log TEXT | sleep S | fill | free | status TAG | term | restart
set -u
dir=$1
shift
B=$FLASHD_BUILD
start() {
	NOTIFY_SOCKET=$dir/notify "$B/flashd" --config "$dir/flashd.conf" --recipes "$dir/recipes" \
		--db "$dir/dbfs/f.db" --control "$dir/ctl" --deadline-pct 20 --log-stderr 2>>"$dir/flashd.log" &
	pid=$!
	for _ in $(seq 100); do [ -S "$dir/ctl" ] && break; sleep 0.05; done
}
count() { sqlite3 "$dir/dbfs/f.db" "SELECT count(*) FROM units WHERE $1" 2>/dev/null || echo 0; }
python3 "$dir/../notify.py" "$dir/notify" "$dir/status-notify.txt" &
npid=$!
for _ in $(seq 50); do [ -S "$dir/notify" ] && break; sleep 0.02; done
start
while [ $# -gt 0 ]; do
	case $1 in
	wait-running) for _ in $(seq 600); do [ "$(count "result='running'")" -ge "$2" ] && break; sleep 0.05; done; shift ;;
	wait-rows) for _ in $(seq 600); do [ "$(count "result!='running'")" -ge "$2" ] && break; sleep 0.05; done; shift ;;
	wait-log) for _ in $(seq 600); do grep -qF -- "$2" "$dir/flashd.log" && break; sleep 0.05; done; shift ;;
	sleep) sleep "$2"; shift ;;
	fill) dd if=/dev/zero of="$dir/dbfs/fill" bs=16k 2>/dev/null; echo "--- disk full" >>"$dir/flashd.log" ;;
	free) rm -f "$dir/dbfs/fill"; echo "--- disk freed" >>"$dir/flashd.log" ;;
	status) "$B/flashctl" status --socket "$dir/ctl" --json >"$dir/status-$2.json" 2>&1
		"$B/flashctl" status --socket "$dir/ctl" >"$dir/status-$2.txt" 2>&1; shift ;;
	term) kill -TERM "$pid"; wait "$pid"; echo "$?" >"$dir/exit"; pid= ;;
	restart) start ;;
	esac
	shift
done
[ -n "${pid:-}" ] && { kill -TERM "$pid"; wait "$pid"; echo "$?" >"$dir/exit"; }
kill "$npid" 2>/dev/null
exit 0
EOF
chmod +x "$tmp/driver.sh"

run() { # NAME SCENARIO-JSON ACTIONS...
	local name=$1 scn=$2 d=$tmp/$1
	shift 2
	mkdir -p "$d/dbfs"
	cp -r "$tmp/recipes" "$d/recipes"
	mount -t tmpfs -o size=4m flashd-dbfull "$d/dbfs" || { echo "not ok - $name: cannot mount a tmpfs"; return 1; }
	printf 'station = test-line\nmax_jobs = 8\ngrace_sec = 30\n' >"$d/flashd.conf"
	echo "$scn" >"$d/scenario.json"
	timeout 300 "$sim" --scenario "$d/scenario.json" --dump-dir "$d/out" -- \
		"$tmp/driver.sh" "$d" "$@" >"$d/sim.log" 2>&1
	echo $? >"$d/sim.rc"
}
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@" 2>&1; }

# ---- 1: full mid-job, a board arrives meanwhile, space freed -----------------
# The disk fills while board A's job (~2.5 s at time scale 1) runs; board B
# plugs in later (10 s after start, long after A ended) while it is still
# full and must wait untouched.
scn='{ "time_scale": 1.0, "boards": [
  { "id": "a", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "FULL-A" },
  { "id": "b", "type": "stm32f405-dfuse", "port": "1-1.2", "serial": "FULL-B", "plug_ms": 10000 } ] }'
run full "$scn" wait-running 1 sleep 0.3 fill wait-log "(not in the database yet: pending)" \
	wait-log "Board on port '1-1.2' waits" sleep 0.5 status full free wait-rows 2 status freed
d=$tmp/full
db=$d/dbfs/f.db
log=$d/flashd.log

st=$(jget "$d/status-full.json" 'd["status"]')
check "dbfull_status_says_database_not_writable" \
	"$([[ $st == "Database not writable: 1 result(s) pending, not taking boards;"* ]] && echo 0 || echo 1)" "status: $st"
check "dbfull_status_notify_says_database_not_writable" \
	"$(grep -q '^STATUS=Database not writable: 1 result(s) pending, not taking boards' "$d/status-notify.txt" && echo 0 || echo 1)" \
	"$(sort -u "$d/status-notify.txt" | head -5)"
today=$(jget "$d/status-full.json" '"%d %d %d" % (d["today"]["pass"], d["today"]["fail"], d["today"]["pending"])')
check "dbfull_status_claims_no_pass_the_database_lacks" \
	"$([ "$today" = "0 0 1" ] && echo 0 || echo 1)" "today pass/fail/pending: $today" "status: $st"
check "dbfull_flashctl_status_shows_database_not_writable" \
	"$(grep -q '^DATABASE NOT WRITABLE: .*f.db' "$d/status-full.txt" && grep -q '^1-1.1 .*pass (not in the database yet)' "$d/status-full.txt" && echo 0 || echo 1)" \
	"$(head -5 "$d/status-full.txt")"
n=$(grep -c 'not writable (' "$log")
m=$(grep -c 'writable again' "$log")
check "dbfull_journal_says_so_once_per_episode" "$([ "$n" = 1 ] && [ "$m" = 1 ] && echo 0 || echo 1)" \
	"not writable: $n, writable again: $m" "$(grep -i 'database\|pending' "$log" | head -8)"
started=$(sed -n '/--- disk full/,/--- disk freed/p' "$log" | grep -c "started on port '1-1.2'")
state=$(jget "$d/status-full.json" '[p["state"] for p in d["ports"] if p["port"] == "1-1.2"][0]')
check "dbfull_no_board_started_while_full" "$([ "$started" = 0 ] && [ "$state" = queued ] && echo 0 || echo 1)" \
	"units started on 1-1.2 while full: $started, port state: $state" "$(grep "1-1.2" "$log" | head -5)"

row=$(q "$db" "SELECT result || ' ' || (finished_at IS NOT NULL) FROM units WHERE serial='FULL-A'")
stages=$(q "$db" "SELECT group_concat(name || ':' || result, ' ') FROM (SELECT s.* FROM unit_stages s JOIN units u ON u.id = s.unit_id WHERE u.serial='FULL-A' ORDER BY idx)")
imgs=$(q "$db" "SELECT count(*) FROM unit_images i JOIN units u ON u.id = i.unit_id WHERE u.serial='FULL-A' AND i.verified = 1 AND i.host_crc32 = i.device_crc32")
check "dbfull_pending_results_written_when_space_is_freed" \
	"$([ "$row" = "pass 1" ] && [ "$stages" = "boot:pass app:pass dfuse.leave:pass verify:pass" ] && [ "$imgs" = 4 ] && echo 0 || echo 1)" \
	"row: $row" "stages: $stages" "verified images: $imgs" "$(tail -5 "$log")"
n=$(q "$db" "SELECT count(*) FROM units WHERE result='running'")
check "dbfull_no_row_left_running" "$([ "$n" = 0 ] && echo 0 || echo 1)" "running: $n"
row=$(q "$db" "SELECT result FROM units WHERE serial='FULL-B'")
check "dbfull_waiting_board_flashed_once_writable_without_replug" \
	"$([ "$row" = pass ] && cmp -s "$d/out/b.flash.bin" "$tmp/expect.bin" && echo 0 || echo 1)" \
	"FULL-B: $row" "$(grep "1-1.2" "$log" | tail -4)"
st=$(jget "$d/status-freed.json" 'd["status"]')
check "dbfull_status_back_to_normal_with_true_counts" \
	"$([[ $st == "2 ports: 0 flashing, 0 waiting re-enumeration; today 2 pass, 0 fail" ]] && echo 0 || echo 1)" "status: $st"
# flashd-web's flashd_db_write_errors_total: refused writes, counted once each, kept after the episode.
we=$(jget "$d/status-full.json" 'd["database"]["write_errors"]')
we2=$(jget "$d/status-freed.json" 'd["database"]["write_errors"]')
check "dbfull_status_counts_write_errors" "$([ "$we" -ge 1 ] 2>/dev/null && [ "$we2" = "$we" ] && echo 0 || echo 1)" \
	"write_errors while full: $we, after: $we2"
check "dbfull_pending_journal_removed_once_written" "$([ ! -e "$d/pending.journal" ] && echo 0 || echo 1)" "$(cat "$d/pending.journal" 2>/dev/null | head -3)"

# ---- 2: flashd stopped while results are pending; started again later -------
scn='{ "time_scale": 1.0, "boards": [
  { "id": "r", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "RESTART-A" } ] }'
run restart "$scn" wait-running 1 sleep 0.3 fill wait-log "(not in the database yet: pending)" \
	term free restart wait-rows 1 status after
d=$tmp/restart
db=$d/dbfs/f.db
row=$(q "$db" "SELECT result FROM units WHERE serial='RESTART-A'")
n=$(q "$db" "SELECT count(*) FROM unit_stages s JOIN units u ON u.id = s.unit_id WHERE u.serial='RESTART-A' AND s.result='pass'")
check "dbfull_pending_results_survive_a_restart" "$([ "$row" = pass ] && [ "$n" = 4 ] && echo 0 || echo 1)" \
	"row: $row, stage rows: $n" "$(grep -i 'pending\|writable\|interrupted' "$d/flashd.log" | head -6)"
check "dbfull_stop_says_where_pending_results_are_kept" \
	"$(grep -q "kept in '.*pending.journal', written at the next start" "$d/flashd.log" && echo 0 || echo 1)" "$(grep -i 'stopping' "$d/flashd.log" | head -3)"

# ---- 3: full before any write failed: the unit's row cannot be written --------
# The first write to fail is the 'running' row of a board that just arrived:
# no row, so its job must not start and the board must not be touched.
scn='{ "time_scale": 1.0, "boards": [
  { "id": "c", "type": "stm32f405-dfuse", "port": "1-1.3", "serial": "BEGIN-C", "plug_ms": 10000 } ] }'
run begin "$scn" fill wait-log "Not starting recipe" sleep 0.5 status begin free wait-rows 1 status after
d=$tmp/begin
log=$d/flashd.log
touched=$(sed -n '/--- disk full/,/--- disk freed/p' "$log" | grep -c "started on port\|Stage 0")
st=$(jget "$d/status-begin.json" 'd["status"]')
check "dbfull_board_untouched_when_its_row_cannot_be_written" \
	"$([ "$touched" = 0 ] && grep -q "Not starting recipe 'stm32' on port '1-1.3': .*full.*the board waits" "$log" && [[ $st == "Database not writable: 0 result(s) pending, not taking boards;"* ]] && echo 0 || echo 1)" \
	"job started or stage ran while full: $touched" "status: $st" "$(grep "1-1.3" "$log" | head -4)"
we=$(jget "$d/status-begin.json" 'd["database"]["write_errors"]')
check "dbfull_status_counts_the_refused_running_row" "$([ "$we" = 1 ] && echo 0 || echo 1)" "write_errors: $we"
row=$(q "$d/dbfs/f.db" "SELECT group_concat(result, ' ') FROM units WHERE serial='BEGIN-C'")
check "dbfull_board_whose_row_failed_is_flashed_once_writable" \
	"$([ "$row" = pass ] && cmp -s "$d/out/c.flash.bin" "$tmp/expect.bin" && echo 0 || echo 1)" "rows: $row" "$(tail -4 "$log")"
