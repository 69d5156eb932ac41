#!/usr/bin/env bash
# Tests for flashctl's QA commands (daemon/flashctl-qa.c) against a database
# created by the real db_open() (tests/tools/db-init) and filled with fixed
# rows by the sqlite3 CLI: output text, CSV header and quoting, JSON that
# parses, filters, exit codes (0 ok, 1 error, 2 usage) and error messages.
. "$(dirname "$0")/../lib/testlib.sh"
flashctl=$build/flashctl
dbinit=$build/tests/tools/db-init
db=$tmp/flashd.db
unset FLASHD_DB

# check NAME EXPECTED-RC CMD...: runs CMD, keeps stdout in $out, stderr in $errout.
check() {
	local name=$1 want=$2 rc
	shift 2
	# The previous command's stdout, for a parser run as the next command.
	cp "$tmp/out" "$tmp/prev" 2>/dev/null
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	errout=$(cat "$tmp/err")
	if [ "$rc" -ne "$want" ]; then
		echo "not ok - $name"
		echo "#   exit $rc, expected $want: $*"
		sed 's/^/#   stdout: /' "$tmp/out" | head -20
		sed 's/^/#   stderr: /' "$tmp/err" | head -20
		return 1
	fi
	return 0
}

# A check whose chain stops early at a plain [ ] prints nothing: the count at the end catches it.
reported=0
ok() {
	echo "ok - $1"
	reported=$((reported + 1))
}

# expect NAME HAYSTACK NEEDLE...: every needle is in haystack.
expect() {
	local name=$1 hay=$2 n
	shift 2
	for n in "$@"; do
		if [[ $hay != *"$n"* ]]; then
			echo "not ok - $name"
			echo "#   missing: $n"
			printf '%s\n' "$hay" | sed 's/^/#   got: /' | head -30
			return 1
		fi
	done
	ok "$name"
}

# refute NAME HAYSTACK NEEDLE: needle is not in haystack.
refute() {
	if [[ $2 == *"$3"* ]]; then
		echo "not ok - $1"
		echo "#   unexpected: $3"
		return 1
	fi
	ok "$1"
}

if [ ! -x "$flashctl" ] || [ ! -x "$dbinit" ] || ! command -v sqlite3 >/dev/null; then
	echo "not ok - flashctl, tests/tools/db-init and sqlite3 are needed"
	exit 1
fi

"$dbinit" "$db" || { echo "not ok - db-init"; exit 1; }
# 2026-01-01T00:00:00Z = 1767225600000 ms.
sqlite3 "$db" <<'SQL' || { echo "not ok - fill fixture"; exit 1; }
INSERT INTO units (id, station, port, slot, recipe, recipe_sha256, vid, pid, serial, chip_uid,
		   jedec_id, result, failed_stage, error, started_at, finished_at, duration_ms,
		   flashd_version) VALUES
 (1, 'st1', '1-1', 'A3', 'stm32-app', 'aa11', 1155, 57105, 'SN001', 'uid1', 'ef4018', 'pass',
  NULL, NULL, 1767225601000, 1767225613000, 12000, '0.1'),
 (2, 'st1', '1-2', 'B3', 'stm32-app', 'aa11', 1155, 57105, 'SN002', NULL, NULL, 'fail', 'flash',
  'CRC mismatch (host 0x1a2b3c4d, device 0x9f000000)', 1767225602000, 1767225605000, 3000, '0.1'),
 (3, 'st1', '1-1', 'A3', 't31-nor', 'bb22', 42258, 61713, 'SN, "odd"', NULL, NULL, 'interrupted',
  NULL, 'flashd stopped', 1767312001000, NULL, NULL, '0.1'),
 (4, 'st1', '1-2', 'B3', 'stm32-app', 'aa11', 1155, 57105, 'SN002', NULL, NULL, 'pass', NULL, NULL,
  1767312002000, 1767312012000, 10000, '0.1'),
 (5, 'st1', '1-3', NULL, 't31-nor', 'bb22', 42258, 61713, NULL, NULL, NULL, 'running', NULL,
  NULL, 1767312003000, NULL, NULL, '0.1');
INSERT INTO unit_stages VALUES
 (4, 0, 'boot', 'pass', NULL, 1767312002000, 1000),
 (4, 1, 'flash', 'pass', NULL, 1767312003000, 9000);
INSERT INTO unit_images (unit_id, stage, target, file, size, sha256, host_crc32, device_crc32,
			 verified) VALUES
 (4, 'flash', '0x08004000', 'app.bin', 65536, 'cafe', 439041101, 439041101, 1);
SQL
F=("$flashctl" --db "$db")

# --- log -----------------------------------------------------------------
check "log table" 0 "${F[@]}" log &&
	expect "log table lists every unit newest first" "$out" \
		"ID  STARTED (UTC)" "2026-01-02 00:00:03  1-3" \
		"2  2026-01-01 00:00:02  1-2         B3      stm32-app         SN002             fail             3.0s  flash: CRC mismatch" \
		"5  2026-01-02 00:00:03  1-3         -       t31-nor" &&
	[ "$(echo "$out" | sed -n 2p | awk '{print $1}')" = 5 ] && ok "log newest first"

check "log --serial" 0 "${F[@]}" log --serial SN002 &&
	[ "$(echo "$out" | wc -l)" -eq 3 ] && expect "log --serial filters" "$out" "SN002"
check "log --result" 0 "${F[@]}" log --result fail &&
	[ "$(echo "$out" | wc -l)" -eq 2 ] && expect "log --result filters" "$out" "CRC mismatch"
check "log --recipe --port" 0 "${F[@]}" log --recipe t31-nor --port 1-1 &&
	[ "$(echo "$out" | wc -l)" -eq 2 ] && expect "log --recipe --port filter" "$out" "interrupted"
check "log --since --until" 0 "${F[@]}" log --since 2026-01-01 --until 2026-01-02 &&
	[ "$(echo "$out" | wc -l)" -eq 3 ] && refute "log --until is exclusive" "$out" "2026-01-02 "
check "log --since time" 0 "${F[@]}" log --since 2026-01-02T00:00:02Z &&
	[ "$(echo "$out" | wc -l)" -eq 3 ] && ok "log --since with time of day"
check "log --since @seconds" 0 "${F[@]}" log --since @1767312002 --limit 1 &&
	[ "$(echo "$out" | wc -l)" -eq 2 ] && expect "log --limit" "$out" "1-3"
check "log env FLASHD_DB" 0 env FLASHD_DB="$db" "$flashctl" log --result running &&
	expect "FLASHD_DB selects the database" "$out" "running"
check "log --db after command" 0 "$flashctl" log --db "$db" --result running &&
	expect "--db after the command" "$out" "running"

# --- CSV and JSON --------------------------------------------------------
header='id,station,port,slot,recipe,recipe_sha256,vid,pid,serial,chip_uid,jedec_id,result,failed_stage,error,started_at,finished_at,duration_ms,flashd_version'
check "log csv" 0 "${F[@]}" log --format csv &&
	[ "$(echo "$out" | head -1)" = "$header" ] && ok "csv header is the stable column set" &&
	expect "csv quoting and values" "$out" \
		'3,st1,1-1,A3,t31-nor,bb22,a512,f111,"SN, ""odd""",,,interrupted,,flashd stopped,2026-01-02T00:00:01.000Z,,,0.1' \
		'5,st1,1-3,,t31-nor,bb22,a512,f111,,,,running,,,2026-01-02T00:00:03.000Z,,,0.1'
check "csv parses" 0 python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 5, rows
assert rows[2]["serial"] == "SN, \"odd\"", rows[2]
assert rows[3]["error"] == "CRC mismatch (host 0x1a2b3c4d, device 0x9f000000)"
' "$tmp/prev" && ok "csv parses with python csv"

check "export csv" 0 "${F[@]}" export &&
	[ "$(echo "$out" | head -1)" = "$header,identities" ] && [ "$(echo "$out" | sed -n 2p | cut -d, -f1)" = 1 ] &&
	[ "$(echo "$out" | wc -l)" -eq 6 ] && ok "export defaults to csv, oldest first"
check "export json" 0 "${F[@]}" export --format json --recipe stm32-app &&
	check "export json parses" 0 python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
assert [r["id"] for r in rows] == [1, 2, 4], rows
assert list(rows[0].keys()) == sys.argv[2].split(",") + ["images", "identities"], list(rows[0].keys())
assert rows[0]["images"] == [] and len(rows[2]["images"]) == 1, rows
im = rows[2]["images"][0]
assert im == {"stage": "flash", "target": "0x08004000", "file": "app.bin", "size": 65536,
	      "sha256": "cafe", "host_crc32": "1a2b3c4d", "device_crc32": "1a2b3c4d",
	      "verified": True}, im
assert rows[0]["vid"] == "0483" and rows[0]["duration_ms"] == 12000
assert [r["slot"] for r in rows] == ["A3", "B3", "B3"], rows
assert rows[1]["failed_stage"] == "flash" and rows[0]["error"] is None
' "$tmp/prev" "$header" && ok "export json parses with the stable keys"
check "export --images csv" 0 "${F[@]}" export --images &&
	[ "$(echo "$out" | head -1)" = "$header,image_stage,image_target,image_file,image_size,image_sha256,host_crc32,device_crc32,verified,identities" ] &&
	[ "$(echo "$out" | wc -l)" -eq 6 ] &&
	expect "export --images: one row per image with the unit's columns" "$out" \
		'4,st1,1-2,B3,stm32-app,aa11,0483,df11,SN002,,,pass,,,2026-01-02T00:00:02.000Z,2026-01-02T00:00:12.000Z,10000,0.1,flash,0x08004000,app.bin,65536,cafe,1a2b3c4d,1a2b3c4d,1,' \
		'1,st1,1-1,A3,stm32-app,aa11,0483,df11,SN001,uid1,ef4018,pass,,,2026-01-01T00:00:01.000Z,2026-01-01T00:00:13.000Z,12000,0.1,,,,,,,,,'
check "log json empty" 0 "${F[@]}" log --format json --serial NOPE &&
	check "empty json parses" 0 python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == []' "$tmp/prev" &&
	ok "log json with no rows is []"

# --- show ----------------------------------------------------------------
check "show serial" 0 "${F[@]}" show SN002 &&
	expect "show by serial gives the latest unit with stages and images" "$out" \
		"unit 4" "result          pass" "usb id          0483:df11" "port            1-2 (slot B3)" \
		"    0  boot              pass             1.0s  -" \
		"  flash             0x08004000    app.bin                        65536  1a2b3c4d  1a2b3c4d  yes       cafe"
check "show id" 0 "${F[@]}" show 2 &&
	expect "show by id, failed unit" "$out" "unit 2" "failed stage    flash" "CRC mismatch" \
		"(none recorded)"
check "show json" 0 "${F[@]}" show --format json SN002 &&
	check "show json parses" 0 python3 -c '
import json, sys
u = json.load(open(sys.argv[1]))
assert u["id"] == 4 and len(u["stages"]) == 2 and u["images"][0]["host_crc32"] == "1a2b3c4d", u
' "$tmp/prev" && ok "show json parses"
check "show chip uid" 0 "${F[@]}" show UID1 &&
	expect "show by chip UID (any case) gives its unit" "$out" "unit 1" "chip uid        uid1"
check "show missing" 1 "${F[@]}" show NOPE &&
	expect "show unknown serial is an error" "$errout" "flashctl show: no unit with serial, chip UID or identity 'NOPE'"
check "show --serial numeric" 1 "${F[@]}" show --serial 4 &&
	expect "show --serial does not take ids" "$errout" "no unit with serial '4'"
check "show no arg" 2 "${F[@]}" show && expect "show needs an argument" "$errout" "needs a unit id or serial"

# --- stats ---------------------------------------------------------------
check "stats" 0 "${F[@]}" stats &&
	expect "stats by recipe" "$out" \
		"recipe              UNITS     PASS     FAIL     INTR  RUNNING    YIELD      MEAN       P95" \
		"stm32-app               3        2        1        0        0    66.7%      8.3s     12.0s" \
		"t31-nor                 2        0        0        1        1     0.0%         -         -"
check "stats day csv" 0 "${F[@]}" stats --by day --format csv &&
	expect "stats by day csv" "$out" "day,units,pass,fail,interrupted,running,yield,mean_ms,p95_ms" \
		"2026-01-01,2,1,1,0,0,0.5000,7500,12000" "2026-01-02,3,1,0,1,1,0.5000,10000,10000"
check "stats port json" 0 "${F[@]}" stats --by port --since 2026-01-02 --format json &&
	check "stats json parses" 0 python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert [g["port"] for g in s] == ["1-1", "1-2", "1-3"], s
assert s[1]["yield"] == 1 and s[1]["p95_ms"] == 10000 and s[2]["mean_ms"] is None, s
' "$tmp/prev" && ok "stats by port json, filtered by time"

# --- slot and port patterns, the station's local day ----------------------
check "log --slot glob" 0 "${F[@]}" log --slot 'B*' --format csv &&
	[ "$(echo "$out" | sed 1d | cut -d, -f1 | tr '\n' ' ')" = "4 2 " ] &&
	ok "log --slot B* gives the B row's units"
check "log --port glob" 0 "${F[@]}" log --port '1-[12]' --format csv &&
	[ "$(echo "$out" | sed 1d | wc -l)" -eq 4 ] && ok "log --port takes a glob"
check "stats --by slot" 0 "${F[@]}" stats --by slot --format csv &&
	expect "stats by slot, no slot as -" "$out" "slot,units,pass" "-,1,0,0,0,1" "A3,2,1,0,1,0" \
		"B3,2,1,1,0,0"
# EST5: UTC-5 all year, no tzdata needed.  Unit 1 started 2025-12-31 19:00 there.
check "stats --by day local" 0 env TZ=EST5 "${F[@]}" stats --by day --format csv &&
	expect "stats by day groups by the local day" "$out" "2025-12-31,2,1,1" "2026-01-01,3,1,0,1,1"
check "log --since local date" 0 env TZ=EST5 "${F[@]}" log --since 2026-01-01 --format csv &&
	[ "$(echo "$out" | sed 1d | wc -l)" -eq 3 ] && ok "--since DATE is local midnight"
check "log --since UTC date" 0 env TZ=EST5 "${F[@]}" log --since 2026-01-01T00:00:00Z --format csv &&
	[ "$(echo "$out" | sed 1d | wc -l)" -eq 5 ] && ok "--since DATE...Z is UTC"
# Two units either side of today's midnight in UTC-5: only the later is "today".
mid=$(TZ=EST5 date -d 'today 00:00' +%s)
cp "$db" "$tmp/today.db"
sqlite3 "$tmp/today.db" "INSERT INTO units (id, station, port, recipe, vid, pid, result, started_at,
	flashd_version) VALUES (10, 'st1', '1-9', 'r', 1, 1, 'pass', $(((mid - 1) * 1000)), '0.1'),
	(11, 'st1', '1-9', 'r', 1, 1, 'pass', $(((mid + 1) * 1000)), '0.1')"
check "log --since today" 0 env TZ=EST5 "$flashctl" --db "$tmp/today.db" log --since today --format csv &&
	[ "$(echo "$out" | sed 1d | cut -d, -f1 | tr '\n' ' ')" = "11 " ] &&
	ok "--since today is the station's local midnight"

# --- QA reading while flashd is stopped ------------------------------------
check "db is a directory" 1 "$flashctl" --db "$tmp" log &&
	expect "a directory as database is named as such" "$errout" "database '$tmp' is a directory"
# A QA user with read access to the file but not the directory (no -shm can be
# created) used to get "attempt to write a readonly database"; a read-only
# filesystem "unable to open database file".  Needs root to become another user.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v unshare >/dev/null; then
	mkdir -m 0755 "$tmp/qa" && cp "$db" "$tmp/qa/f.db" && chmod 0644 "$tmp/qa/f.db" && chmod o+x "$tmp"
	check "qa user, stopped daemon" 0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$flashctl" --db "$tmp/qa/f.db" log --serial SN002 &&
		expect "a reader without write access reads a quiet database" "$out" "SN002"
	check "read-only filesystem" 0 unshare -m sh -c 'mount -t tmpfs -o size=4m tmpfs "$1" &&
		cp "$2" "$1/f.db" && mount -o remount,ro "$1" && "$3" --db "$1/f.db" log --serial SN002' \
		sh "$tmp/qa" "$db" "$flashctl" &&
		expect "a database on a read-only filesystem is read" "$out" "SN002"
else
	echo "ok - qa user, stopped daemon # SKIP needs root"
	echo "ok - read-only filesystem # SKIP needs root"
fi

# --- status columns fit the data (issue 17: a 32-character Ingenic UID) ----
# A control socket answering one status document, as flashd's does.
python3 - "$tmp/st.sock" <<'PY' &
import json, socket, sys
doc = {"station": "line", "status": "1 ports", "ports": [
    {"port": "1-3.10.2", "slot": "C12", "state": "done", "recipe": "ingenic-t31-production-v2",
     "stage": "", "stage_index": 0, "stages": 7, "done": 0, "total": 0, "rate_bps": 0,
     "elapsed_ms": 0, "unit": 7, "serial": "0123456789ABCDEF0123456789ABCDEF",
     "last_result": "pass", "last_error": ""},
    {"port": "1-1", "slot": "A1", "state": "empty", "recipe": "", "stage": "", "stage_index": 0,
     "stages": 0, "done": 0, "total": 0, "rate_bps": 0, "elapsed_ms": 0, "unit": 0,
     "serial": "", "last_result": "", "last_error": ""}]}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
c.sendall((json.dumps(doc) + "\n").encode()); c.close()
PY
for _ in $(seq 50); do [ -S "$tmp/st.sock" ] && break; sleep 0.05; done
check "status columns" 0 "$flashctl" status --socket "$tmp/st.sock" &&
	check "status columns align" 0 python3 -c '
import sys
lines = open(sys.argv[1]).read().splitlines()[1:]
head, row = lines[0], lines[1]
assert "0123456789ABCDEF0123456789ABCDEF pass" in row, row
assert head.index("LAST") == row.index("pass"), (head, row)
assert head.index("SERIAL") == row.index("0123456789ABCDEF"), (head, row)
assert head.index("STATE") == row.index("done"), (head, row)
' "$tmp/prev" && ok "status columns are as wide as their data (full chip UID, aligned)"
wait

# --- errors and exit codes ----------------------------------------------
# "--watch 1" as the usage writes it (old: "unexpected argument '1'", exit 2);
# no daemon on that socket, so the first refresh fails with exit 1.
check "status --watch 1" 1 timeout 5 "$flashctl" status --socket "$tmp/no-socket" --watch 1 &&
	refute "status --watch N takes N as the interval" "$errout" "unexpected argument"
check "status --watch=x" 2 "$flashctl" status --watch=x

check "version" 0 "$flashctl" --version &&
	[ "$out" = "flashctl $(sed -n 's/^#define FLASHD_VERSION "\(.*\)"$/\1/p' "$top/common/version.h")" ] &&
	ok "flashctl --version prints flashd's version"

check "missing db" 1 "$flashctl" --db "$tmp/nope.db" log &&
	expect "missing database is named" "$errout" "flashctl: database '$tmp/nope.db' does not exist" &&
	[ ! -e "$tmp/nope.db" ] && ok "missing database is not created"
check "default db path" 1 env -u FLASHD_DB "$flashctl" log --serial x &&
	expect "default path is /var/lib/flashd/flashd.db" "$errout" "/var/lib/flashd/flashd.db" ||
	true # a station with a real database would pass this differently
cp "$db" "$tmp/newer.db"
cur=$(sqlite3 "$db" "PRAGMA user_version") # this build's schema version
sqlite3 "$tmp/newer.db" "PRAGMA user_version = 99"
check "newer schema" 1 "${F[0]}" --db "$tmp/newer.db" log &&
	expect "newer schema is refused clearly" "$errout" \
		"flashctl: database '$tmp/newer.db' has schema version 99, newer than this build supports ($cur)"
echo "not a database, not a database, not a database, not a database, not a database" >"$tmp/junk.db"
check "junk file" 1 "$flashctl" --db "$tmp/junk.db" stats &&
	expect "junk file is an error" "$errout" "flashctl: database '$tmp/junk.db'"
check "bad option" 2 "${F[@]}" log --bogus && expect "unknown option" "$errout" "flashctl log: unknown option '--bogus'"
check "bad result" 2 "${F[@]}" log --result maybe && expect "invalid result" "$errout" "invalid result 'maybe'"
check "bad time" 2 "${F[@]}" log --since yesterdayish && expect "invalid time" "$errout" "invalid time 'yesterdayish'"
check "bad range" 2 "${F[@]}" log --since 2026-01-02 --until 2026-01-01 && expect "empty range" "$errout" "--until must be after --since"
check "bad format" 2 "${F[@]}" log --format xml && expect "invalid format" "$errout" "invalid format 'xml'"
check "export table" 2 "${F[@]}" export --format table && ok "export refuses table format"
check "bad by" 2 "${F[@]}" stats --by week && expect "invalid grouping" "$errout" "invalid grouping 'week'"
check "missing value" 2 "${F[@]}" log --serial && expect "option needs a value" "$errout" "needs a value"
check "unknown command" 2 "${F[@]}" frobnicate && expect "unknown command" "$errout" "flashctl: unknown command 'frobnicate'"
check "no command" 2 "$flashctl" && expect "usage without command" "$errout" "usage: flashctl"
check "help" 0 "$flashctl" --help && expect "help lists commands" "$out" "flashctl log" "flashctl recipe check" "exit status"
check "extra operand" 2 "${F[@]}" stats extra && ok "stray operand is a usage error"

# flashctl never writes: the database is byte-identical afterwards (WAL checkpointed first).
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
sum1=$(sqlite3 "$db" "SELECT group_concat(id || result, ',') FROM units; PRAGMA user_version")
"${F[@]}" stats >/dev/null && "${F[@]}" show SN001 >/dev/null
sum2=$(sqlite3 "$db" "SELECT group_concat(id || result, ',') FROM units; PRAGMA user_version")
[ "$sum1" = "$sum2" ] && ok "flashctl leaves the database unchanged" || echo "not ok - database changed"

# The recipe command is dispatched (real or "not available" fallback).
"$flashctl" recipe >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -ne 0 ] && [ -s "$tmp/err" ] && ok "recipe is dispatched" || echo "not ok - recipe dispatch (rc $rc)"

expected_oks=59
[ "$reported" -eq "$expected_oks" ] ||
	echo "not ok - only $reported of $expected_oks checks passed (a silent [ ] failed?)"
