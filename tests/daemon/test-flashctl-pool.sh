#!/usr/bin/env bash
# Tests for "flashctl pool" (daemon/flashctl-pool.c, issue 18) against a
# database created by the real db_open() (tests/tools/db-init), with units
# drawing values through the real db/pool.c (tests/tools/pool-tool):
# create, import (a missing file refused), list/status with low-water,
# export, audit clean and audit of a row corrupted with the sqlite3 CLI,
# exit codes (0 ok, 1 error, 2 usage) and the write-access message.
. "$(dirname "$0")/../lib/testlib.sh"
flashctl=$build/flashctl
dbinit=$build/tests/tools/db-init
pooltool=$build/tests/tools/pool-tool
db=$tmp/flashd.db
unset FLASHD_DB
F=("$flashctl" --db "$db")

# run WANT-RC NAME CMD...: stdout in $out, stderr in $errout; reports a wrong exit code.
run() {
	local want=$1 name=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	errout=$(cat "$tmp/err")
	if [ "$rc" -ne "$want" ]; then
		echo "not ok - $name"
		echo "#   exit $rc, expected $want: $*"
		sed 's/^/#   stdout: /' "$tmp/out" | head -10
		sed 's/^/#   stderr: /' "$tmp/err" | head -10
		fails=$((fails + 1))
		return 1
	fi
}

# has NAME HAYSTACK NEEDLE...
has() {
	local name=$1 hay=$2 n
	shift 2
	for n in "$@"; do
		if [[ $hay != *"$n"* ]]; then
			echo "not ok - $name"
			echo "#   missing: $n"
			printf '%s\n' "$hay" | sed 's/^/#   got: /' | head -20
			fails=$((fails + 1))
			return 1
		fi
	done
	echo "ok - $name"
}

for x in "$flashctl" "$dbinit" "$pooltool"; do
	[ -x "$x" ] || { echo "not ok - $x not built"; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "not ok - sqlite3 CLI needed"; exit 1; }
"$dbinit" "$db" || { echo "not ok - db-init"; exit 1; }

# --- create ---
run 0 "create counter" "${F[@]}" pool create serials --kind counter \
	--format 'SN{yyyy}-{seq:5}{luhn}' --first 1 --last 99999 &&
	has "create counter says so" "$out" "pool 'serials' created"
run 0 "create mac" "${F[@]}" pool create macs --kind mac --first 02:00:00:00:00:00 \
	--last 02:00:00:00:00:07 --per-unit 2 --policy reuse --low-water 3 --station station-1
run 1 "create twice" "${F[@]}" pool create macs --kind mac --first 02:00:00:00:01:00 \
	--last 02:00:00:00:01:07 && has "create twice names the pool" "$errout" "pool 'macs' exists"
run 1 "overlapping block" "${F[@]}" pool create macs2 --kind mac --first 02:00:00:00:00:06 \
	--last 02:00:00:00:00:ff && has "overlap is refused" "$errout" "overlaps pool 'macs'"
run 2 "bad kind" "${F[@]}" pool create x --kind nope && has "bad kind message" "$errout" "invalid kind 'nope'"
run 2 "counter without range" "${F[@]}" pool create x --kind counter --format '{seq}' &&
	has "range required" "$errout" "--first is required"
run 1 "bad format" "${F[@]}" pool create x --kind counter --format 'SN{seq:2}' --first 1 --last 100 &&
	has "format width checked" "$errout" "does not fit"

# --- import ---
run 0 "create list" "${F[@]}" pool create certs --kind list
printf 'cert one\n' >"$tmp/a.pem"
printf 'a.pem\nmissing.pem\n' >"$tmp/bad.txt"
run 1 "import with a missing file" "${F[@]}" pool import certs "$tmp/bad.txt" --files &&
	has "missing file named with its line" "$errout" "bad.txt:2: value file '" "missing.pem': No such file or directory"
run 0 "nothing imported" "${F[@]}" pool export certs &&
	has "export after failed import has only the header" "$out" "pool,seq,value,file,file_sha256,state,unit_id" &&
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "not ok - failed import left values"; fails=$((fails + 1)); }
printf 'a.pem\n' >"$tmp/good.txt"
run 0 "import files" "${F[@]}" pool import certs "$tmp/good.txt" --files &&
	has "import counts" "$out" "1 values imported into pool 'certs'"
printf 'value,file\nCERT-2,a.pem\n' >"$tmp/more.csv"
run 0 "import csv" "${F[@]}" pool import certs "$tmp/more.csv" --csv
sha=$(sha256sum "$tmp/a.pem" | cut -d' ' -f1)
run 0 "export certs" "${F[@]}" pool export certs &&
	has "export has path and sha256" "$out" "certs,1,a.pem,$(realpath "$tmp/a.pem"),$sha,free," "certs,2,CERT-2,"
run 1 "import into a counter" "${F[@]}" pool import serials "$tmp/good.txt" &&
	has "only list pools import" "$errout" "only list pools import values"

# --- units draw values ---
run 0 "unit 1 passes" "$pooltool" "$db" pass serials macs certs &&
	has "unit 1 values" "$out" "serials SN$(date -u +%G)-00001" "macs 02:00:00:00:00:00" "macs 02:00:00:00:00:01" "certs a.pem"
run 0 "unit 2 fails before writing (reuse)" "$pooltool" "$db" fail macs
run 0 "unit 3 gets unit 2's macs back" "$pooltool" "$db" pass macs &&
	has "reused macs" "$out" "macs 02:00:00:00:00:02" "macs 02:00:00:00:00:03"
run 0 "unit 4 fails after writing" "$pooltool" "$db" written-fail macs serials
run 0 "status" "${F[@]}" pool status macs &&
	has "status counts" "$out" "pool macs" "8 total, 2 free, 0 allocated, 4 used, 2 burned" \
		"units left: 1  LOW: below the low-water mark" "station:    station-1"
run 0 "list" "${F[@]}" pool list && has "list marks the low pool" "$out" "LOW" "serials" "certs"
run 0 "list json" "${F[@]}" pool list --json &&
	python3 -c 'import json,sys; p={x["name"]: x for x in json.load(sys.stdin)}; assert p["macs"]["low"] and p["macs"]["units_left"] == 1 and not p["serials"]["low"], p' <<<"$out" &&
	echo "ok - list json parses"
run 1 "a unit takes one pool once" "$pooltool" "$db" pass macs macs &&
	has "second take of a pool refused" "$errout" "already holds values of pool 'macs'"
run 0 "last unit of macs" "$pooltool" "$db" pass macs
run 1 "exhausted" "$pooltool" "$db" pass serials macs &&
	has "exhausted names the pool" "$errout" "pool 'macs' is exhausted"
run 1 "status of a pool that does not exist" "${F[@]}" pool status nope &&
	has "no such pool" "$errout" "no pool 'nope'"
run 0 "export json" "${F[@]}" pool export macs --format json &&
	python3 -c 'import json,sys; v=json.load(sys.stdin); assert len(v) == 8 and v[4]["state"] == "burned", v' <<<"$out" &&
	echo "ok - export json parses"

# --- audit ---
run 0 "audit clean" "${F[@]}" pool audit && has "audit says clean" "$out" "audit: clean"
sqlite3 "$db" "UPDATE pool_values SET state = 'free', unit_id = NULL WHERE pool = 'serials' AND seq = 1"
run 1 "audit of a used value made free" "${F[@]}" pool audit &&
	has "audit names the value" "$out" "pool serials: value SN" "free in the pool but assigned to unit 1" "problem"
sqlite3 "$db" "UPDATE pool_values SET state = 'used', unit_id = 1 WHERE pool = 'serials' AND seq = 1;
	INSERT INTO unit_identities (unit_id, pool, seq, value, state, allocated_at)
	SELECT 3, pool, seq, value, 'used', 1 FROM unit_identities WHERE unit_id = 1 AND pool = 'certs'"
run 1 "audit of a value assigned twice" "${F[@]}" pool audit &&
	has "audit finds the double" "$out" "value a.pem: assigned twice (units 1,3)"

# --- usage and access ---
run 2 "unknown subcommand" "${F[@]}" pool frobnicate
run 2 "no subcommand" "${F[@]}" pool
run 0 "pool --help" "${F[@]}" pool --help && has "pool usage" "$out" "usage: flashctl pool create NAME"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod 755 "$tmp" && chmod 644 "$db" && rm -f "$db-wal" "$db-shm"
	sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	run 1 "create without write access" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"${F[@]}" pool create other --kind list &&
		has "write access message" "$errout" "run it as flashd's user or root"
	run 0 "read without write access" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"${F[@]}" pool list
elif [ "$(id -u)" != 0 ]; then
	chmod 444 "$db"
	run 1 "create without write access" "${F[@]}" pool create other --kind list &&
		has "write access message" "$errout" "run it as flashd's user or root"
	chmod 644 "$db"
fi
exit $((fails > 0))
