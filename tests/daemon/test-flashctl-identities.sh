#!/usr/bin/env bash
# QA view of the identities units were given from pools (issue 18): `flashctl
# show` lists a unit's identities (pool, value, state, file and SHA-256),
# `flashctl show VALUE` finds the unit holding a counter serial, a list
# value or a MAC typed in any case with ':' or '-' (the unit that holds it,
# not the one that gave it back), `flashctl export` has them in CSV (an
# "identities" column) and JSON, `flashctl log` in JSON.  Units draw values
# through the real db/pool.c (tests/tools/pool-tool).
. "$(dirname "$0")/../lib/testlib.sh"
flashctl=$build/flashctl
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
		nok "$name" "exit $rc, expected $want: $*"
		sed 's/^/#   stdout: /' "$tmp/out" | head -10
		sed 's/^/#   stderr: /' "$tmp/err" | head -10
		return 1
	fi
}

# has NAME HAYSTACK NEEDLE...
has() {
	local name=$1 hay=$2 n
	shift 2
	for n in "$@"; do
		if [[ $hay != *"$n"* ]]; then
			nok "$name" "missing: $n"
			printf '%s\n' "$hay" | sed 's/^/#   got: /' | head -30
			return 1
		fi
	done
	ok "$name"
}

# pycheck NAME SCRIPT [ARGS...]: python3 SCRIPT reads $out on stdin.
pycheck() {
	local name=$1
	shift
	python3 -c "$@" <<<"$out"
	check "$name" $?
}

for x in "$flashctl" "$build/tests/tools/db-init" "$pooltool"; do
	[ -x "$x" ] || { nok "$x not built"; exit 1; }
done
command -v python3 >/dev/null || { nok "python3 needed"; exit 1; }
"$build/tests/tools/db-init" "$db" || { nok "db-init"; exit 1; }

"${F[@]}" pool create serials --kind counter --format 'SN{seq:5}' --first 1 --last 99999 >/dev/null &&
	"${F[@]}" pool create macs --kind mac --first 02:00:00:00:0a:00 --last 02:00:00:00:0a:ff \
		--per-unit 2 --policy reuse >/dev/null &&
	"${F[@]}" pool create certs --kind list >/dev/null || { nok "pool create"; exit 1; }
printf 'cert one\n' >"$tmp/a.pem"
printf 'a.pem\n' >"$tmp/files.txt"
"${F[@]}" pool import certs "$tmp/files.txt" --files >/dev/null || { nok "import"; exit 1; }
sha=$(sha "$tmp/a.pem")

"$pooltool" "$db" pass serials macs certs >/dev/null # unit 1: SN00001, ..:0a:00 ..:0a:01, a.pem
"$pooltool" "$db" fail macs >/dev/null              # unit 2: ..:0a:02 ..:0a:03, released
"$pooltool" "$db" pass macs serials >/dev/null      # unit 3: unit 2's macs again, SN00002
"$pooltool" "$db" written-fail serials >/dev/null   # unit 4: SN00003 burned

# --- show ---
run 0 "show 1" "${F[@]}" show 1 &&
	has "show lists the identities with file and sha256" "$out" "identities" \
		"  serials           SN00001                   used       no" \
		"  macs              02:00:00:00:0a:00         used       no" \
		"  macs              02:00:00:00:0a:01         used       no" \
		"  certs             a.pem                     used       no       $(realpath "$tmp/a.pem")  $sha"
run 0 "show 4" "${F[@]}" show 4 &&
	has "a burned value after a write shows so" "$out" "  serials           SN00003                   burned     yes"
run 0 "show by counter serial" "${F[@]}" show SN00002 && has "counter value finds its unit" "$out" "unit 3"
for mac in 02:00:00:00:0a:01 02-00-00-00-0A-01 02:00:00:00:0A:01; do
	run 0 "show by MAC $mac" "${F[@]}" show "$mac" && has "MAC $mac finds unit 1" "$out" "unit 1"
done
run 0 "show by a reused MAC" "${F[@]}" show 02:00:00:00:0a:03 &&
	has "a reused MAC finds the unit holding it, not the one that gave it back" "$out" "unit 3"
run 0 "show by list value" "${F[@]}" show a.pem && has "list value finds its unit" "$out" "unit 1"
run 1 "show an unknown value" "${F[@]}" show 02:00:00:00:0b:00 &&
	has "unknown value is an error" "$errout" "no unit with serial, chip UID or identity '02:00:00:00:0b:00'"
run 0 "show 2" "${F[@]}" show 2 &&
	has "released values are listed as such" "$out" "  macs              02:00:00:00:0a:02         released   no"
run 0 "show json" "${F[@]}" show --format json 02-00-00-00-0a-00 &&
	pycheck "show json has the identities" '
import json, sys
u = json.load(sys.stdin)
assert u["id"] == 1, u
ids = u["identities"]
assert [(i["pool"], i["value"], i["state"]) for i in ids] == [("serials", "SN00001", "used"),
	("macs", "02:00:00:00:0a:00", "used"), ("macs", "02:00:00:00:0a:01", "used"),
	("certs", "a.pem", "used")], ids
assert ids[3]["file"].endswith("/a.pem") and ids[3]["file_sha256"] == sys.argv[1], ids
assert ids[0]["file"] is None and ids[0]["device_written"] is False, ids
' "$sha"

# --- export ---
run 0 "export csv" "${F[@]}" export &&
	pycheck "export csv has an identities column (released values left out)" '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
ids = {r["id"]: r["identities"] for r in rows}
assert ids == {"1": "serials=SN00001;macs=02:00:00:00:0a:00;macs=02:00:00:00:0a:01;certs=a.pem",
	       "2": "", "3": "macs=02:00:00:00:0a:02;macs=02:00:00:00:0a:03;serials=SN00002",
	       "4": "serials=SN00003"}, ids
'
run 0 "export --images csv" "${F[@]}" export --images &&
	has "export --images ends with identities" "$(head -1 <<<"$out")" "verified,identities" &&
	has "export --images row" "$out" ",serials=SN00003"
run 0 "export json" "${F[@]}" export --format json &&
	pycheck "export json has every identity record with its state" '
import json, sys
rows = json.load(sys.stdin)
assert [len(r["identities"]) for r in rows] == [4, 2, 3, 1], rows
assert rows[1]["identities"][0]["state"] == "released", rows[1]
'
run 0 "log json" "${F[@]}" log --format json &&
	pycheck "log json has the identities" '
import json, sys
rows = json.load(sys.stdin)
assert rows[0]["id"] == 4 and rows[0]["identities"][0]["value"] == "SN00003", rows[0]
'
run 0 "log table" "${F[@]}" log && pycheck "log table does not" 'import sys; assert "SN00003" not in sys.stdin.read()'
exit $((fails > 0))
