#!/usr/bin/env bash
# Enforces the include table of ../shared/docs/style.md §3: which folder may
# include which.  Prints "ok - NAME" / "not ok - NAME" per rule so that
# tests/run-tests.sh counts it; lists every offending line.
. "$(dirname "$0")/lib/testlib.sh"
top=${FLASHD_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 1

# rule NAME FILES-GLOB FORBIDDEN-REGEX
rule() {
	local name=$1 files=$2 forbidden=$3 hits
	# Case-insensitive (<cJSON.h>), and a relative path ("../jobs/job.h")
	# counts as the folder it names.
	hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include' $files 2>/dev/null |
		sed -E 's#"(\./|\.\./)+#"#' | grep -iE "$forbidden")
	if [ -n "$hits" ]; then
		echo "not ok - includes: $name"
		echo "$hits" | sed 's/^/#   /'
	else
		echo "ok - includes: $name"
	fi
}

shopt -s nullglob globstar
rule "common/ is self-contained" "common/*.[ch]" '"(protocols|db|jobs|daemon|tests)/'
rule "protocols/ uses no jobs, db, daemon, cJSON, sqlite, udev, systemd" "protocols/*.[ch]" '"(jobs|db|daemon|tests)/|cjson|sqlite3|libudev|systemd/|common/log\.h'
rule "db/ uses no protocols, jobs, daemon" "db/*.[ch]" '"(protocols|jobs|daemon|tests)/|libusb|cjson|libudev|systemd/|common/log\.h'
rule "jobs/ uses no daemon or udev" "jobs/*.[ch]" '"(daemon|tests)/|libudev'
rule "daemon/ uses no tests" "daemon/*.[ch]" '"tests/'
rule "tests/sim/ uses no product folder" "tests/sim/**/*.[ch]" '"(daemon|protocols|jobs|db|common)/'
rule "tests/sim/boards/ is libc only" "tests/sim/boards/*.[ch]" 'umockdev|libusb|glib|gio/|cjson|sqlite'
