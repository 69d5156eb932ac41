#!/usr/bin/env bash
# The fault script of issue #13: one flashd under flashsim while, mid-job,
# the database's filesystem fills up and is freed, flashd is killed
# (SIGKILL) and started again, and then an image is truncated in place and
# another rewritten in place (same size).  Afterwards: flashd never crashed (only our
# SIGKILL), no row is 'running', every 'pass' row's board holds the pinned
# images byte for byte (the bytes hashed are the bytes sent), and every
# other row says why.  Root only (a tmpfs in a private mount namespace).
. "$(dirname "$0")/../lib/testlib.sh"

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "ok - flashd_faults # SKIP needs root (a tmpfs mounted in a private mount namespace)"
	exit 0
fi
if [ -z "${FLASHD_FAULTS_NS:-}" ]; then
	if ! FLASHD_FAULTS_NS=1 unshare -m --propagation private true 2>/dev/null; then
		echo "ok - flashd_faults # SKIP cannot create a mount namespace here"
		exit 0
	fi
	FLASHD_FAULTS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi

trap '[ -n "${KEEP:-}" ] || { umount "$tmp/dbfs" 2>/dev/null; rm -rf "$tmp"; }' EXIT

mkdir -p "$tmp/recipes/images" "$tmp/dbfs"
head -c 24576 /dev/urandom >"$tmp/recipes/images/boot.bin"
head -c 81920 /dev/urandom >"$tmp/recipes/images/app.bin"
cp "$tmp/recipes/images/boot.bin" "$tmp/boot.orig"
cp "$tmp/recipes/images/app.bin" "$tmp/app.orig"
cat >"$tmp/recipes/stm32.json" <<EOF
{ "name": "stm32", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", "file": "images/boot.bin",
      "sha256": "$(sha "$tmp/boot.orig")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "app", "address": "0x08020000", "file": "images/app.bin",
      "sha256": "$(sha "$tmp/app.orig")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
python3 - "$tmp/boot.orig" "$tmp/app.orig" "$tmp/expect.bin" <<'EOF'
import sys
boot, app = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
img = bytearray(b'\xff' * (1024 * 1024))
img[0:len(boot)] = boot
img[0x20000:0x20000 + len(app)] = app
open(sys.argv[3], 'wb').write(img)
EOF
mount -t tmpfs -o size=4m flashd-faults "$tmp/dbfs" || { echo "not ok - flashd_faults: cannot mount a tmpfs"; exit 1; }
printf 'station = test-line\nmax_jobs = 8\ngrace_sec = 30\n' >"$tmp/flashd.conf"

cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
dir=$1
shift
B=$FLASHD_BUILD
start() {
	"$B/flashd" --config "$dir/flashd.conf" --recipes "$dir/recipes" --db "$dir/dbfs/f.db" \
		--control "$dir/ctl" --deadline-pct 20 --log-stderr 2>>"$dir/flashd.log" &
	pid=$!
	for _ in $(seq 100); do [ -S "$dir/ctl" ] && break; sleep 0.05; done
}
count() { sqlite3 "$dir/dbfs/f.db" "SELECT count(*) FROM units WHERE $1" 2>/dev/null || echo 0; }
alive() { kill -0 "$pid" 2>/dev/null || echo "flashd died before '$1'" >>"$dir/deaths"; }
start
while [ $# -gt 0 ]; do
	case $1 in
	wait-running) for _ in $(seq 600); do [ "$(count "result='running'")" -ge 1 ] && break; sleep 0.02; done ;;
	sleep) sleep "$2"; shift ;;
	wait-log) for _ in $(seq 600); do grep -qF -- "$2" "$dir/flashd.log" && break; sleep 0.02; done; shift ;;
	truncate) alive truncate; : >"$dir/recipes/images/app.bin" ;;
	rewrite) alive rewrite; dd if=/dev/urandom of="$dir/recipes/images/boot.bin" bs=24576 count=1 conv=notrunc 2>/dev/null ;;
	fill) alive fill; dd if=/dev/zero of="$dir/dbfs/fill" bs=16k 2>/dev/null ;;
	free) alive free; rm -f "$dir/dbfs/fill" ;;
	kill9) alive kill9; kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid= ;;
	restart) start ;;
	esac
	shift
done
alive term
kill -TERM "$pid"; wait "$pid"; echo "$?" >"$dir/exit"
exit 0
EOF
chmod +x "$tmp/driver.sh"

# Eight boards, one every 700 ms, each job about 2 s (time scale 0.8).
scn=$(python3 -c '
import json
print(json.dumps({"time_scale": 0.8, "boards": [
    {"id": "b%d" % i, "type": "stm32f405-dfuse", "port": "1-1.%d" % (i + 1),
     "serial": "FAULT%02d" % i, "plug_ms": 700 * i} for i in range(8)]}))')
echo "$scn" >"$tmp/scenario.json"
timeout 300 "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/out" -- "$tmp/driver.sh" "$tmp" \
	wait-running fill sleep 1.5 free wait-log "writable again" wait-log "Unit 5 started" sleep 0.4 \
	kill9 sleep 0.3 restart sleep 0.8 truncate sleep 0.3 rewrite sleep 8 >"$tmp/sim.log" 2>&1
rc=$?

db=$tmp/dbfs/f.db
q() { sqlite3 "$db" "$1" 2>&1; }
[ "$rc" -eq 0 ] && [ ! -e "$tmp/deaths" ] && [ "$(cat "$tmp/exit" 2>/dev/null)" = 0 ] &&
	ok "faults_flashd_alive_through_every_fault_and_exits_0" ||
	nok "faults_flashd_alive_through_every_fault_and_exits_0" "sim rc=$rc exit=$(cat "$tmp/exit" 2>/dev/null)" \
		"$(cat "$tmp/deaths" 2>/dev/null)" "$(grep -i 'segmentation\|abort\|sanitizer' "$tmp/sim.log" | head -3)"
n_running=$(q "SELECT count(*) FROM units WHERE result = 'running'")
n_units=$(q "SELECT count(*) FROM units")
[ "$n_running" = 0 ] && [ "$n_units" -ge 3 ] && ok "faults_no_row_left_running" ||
	nok "faults_no_row_left_running" "running=$n_running units=$n_units" "$(q "SELECT id, port, result FROM units")"
# Every pass row: its board holds the pinned bytes (never the rewritten or
# truncated file) and its images rows carry the pinned sha256, verified.
bad=
npass=0
while IFS='|' read -r id port; do
	[ -n "$id" ] || continue
	npass=$((npass + 1))
	b=b$(( ${port##*.} - 1 ))
	cmp -s "$tmp/expect.bin" "$tmp/out/$b.flash.bin" || bad+=" unit $id ($b): flash differs;"
	shas=$(q "SELECT group_concat(sha256 || ':' || verified, ' ') FROM (SELECT * FROM unit_images WHERE unit_id = $id AND stage != 'verify' ORDER BY id)")
	[ "$shas" = "$(sha "$tmp/boot.orig"):1 $(sha "$tmp/app.orig"):1" ] || bad+=" unit $id: images $shas;"
done < <(q "SELECT id, port FROM units WHERE result = 'pass'")
[ -z "$bad" ] && [ "$npass" -ge 1 ] && ok "faults_every_pass_row_is_true_byte_exact_with_pinned_images" ||
	nok "faults_every_pass_row_is_true_byte_exact_with_pinned_images" "pass rows: $npass" "$bad"
# Every other row says why.
mute=$(q "SELECT id || ':' || result FROM units WHERE result != 'pass' AND (error IS NULL OR error = '')")
[ -z "$mute" ] && ok "faults_every_other_row_says_why" || nok "faults_every_other_row_says_why" "$mute"
# The station resumed by itself once space was freed, and the SIGKILL hit
# units mid-job: their rows became 'interrupted' at the restart, not 'pass'.
n_int=$(q "SELECT count(*) FROM units WHERE result = 'interrupted'")
grep -q "writable again" "$tmp/flashd.log" && [ "$n_int" -ge 1 ] &&
	ok "faults_resumed_after_disk_full_and_killed_jobs_are_interrupted" ||
	nok "faults_resumed_after_disk_full_and_killed_jobs_are_interrupted" "interrupted rows: $n_int" \
		"$(grep -n 'writable' "$tmp/flashd.log")"
# Files changed under running jobs: the jobs go on with the bytes they
# hashed (checked above for every pass row); a unit started after the change
# fails before touching the board, naming the file.
late=$(q "SELECT count(*) FROM units WHERE result = 'fail' AND error NOT LIKE '%images/%'")
[ "$late" = 0 ] && ok "faults_units_after_the_change_fail_naming_the_image" ||
	nok "faults_units_after_the_change_fail_naming_the_image" "$(q "SELECT id, error FROM units WHERE result = 'fail'")"
echo "# units: $(q "SELECT group_concat(result, ' ') FROM (SELECT result FROM units ORDER BY id)")"
exit $((fails > 0))
