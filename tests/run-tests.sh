#!/usr/bin/env bash
# Runs every test program and test script, counts the "ok - " / "not ok - "
# lines they print, and ends with "N passed, N failed, N skipped".  A case
# reported as "ok - name # SKIP reason" counts as skipped, never as passed:
# a suite that could not run must not look green.  A program that exits
# non-zero without reporting a failing case counts as one failure (a crash or
# a sanitizer report must never pass silently).
#   usage: tests/run-tests.sh BUILD_DIR
#   TESTS=substr     run only cases whose name contains substr (C tests)
#   SUITES=substr    run only programs/scripts whose path below the build or
#                    source top (tests/...) contains substr; "a,b" runs
#                    those that contain a or b
set -u
build=${1:?build dir}
top=$(cd "$(dirname "$0")/.." && pwd)
export FLASHD_TOP=$top FLASHD_BUILD=$(cd "$build" && pwd)
# Programs under the umockdev preload cannot have ASan's runtime first.
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0 skipped=0
logdir=$FLASHD_BUILD/test-logs
mkdir -p "$logdir"

run_one() {
	local prog=$1 name log rc p f s
	name=${prog#"$FLASHD_BUILD"/}
	name=${name#"$top"/}
	log=$logdir/$(echo "$name" | tr '/' '_').log
	echo "== $name"
	if [[ $prog == *.sh ]]; then
		timeout 900 bash "$prog" >"$log" 2>&1
	else
		timeout 900 "$prog" >"$log" 2>&1
	fi
	rc=$?
	s=$(grep -c '^ok - .*# *SKIP' "$log")
	p=$(($(grep -c '^ok - ' "$log") - s))
	f=$(grep -c '^not ok - ' "$log")
	grep -E '^(not ok - |ok - |#)' "$log" | sed 's/^/   /'
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "   not ok - $name exited with status $rc (log: $log)"
		tail -20 "$log" | sed 's/^/   | /'
		f=1
	elif [ "$f" -ne 0 ]; then
		echo "   (full log: $log)"
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
		echo "   not ok - $name ran no test case"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

mapfile -t progs < <(
	find "$FLASHD_BUILD/tests" -type f -name 'test-*' -perm -u+x 2>/dev/null | sort
	find "$top/tests" -type f -name 'test-*.sh' 2>/dev/null | sort
)
suite_selected() { # REL_PATH
	local want
	IFS=, read -ra want <<<"$SUITES"
	for w in "${want[@]}"; do [[ $1 == *"$w"* ]] && return 0; done
	return 1
}
for prog in "${progs[@]}"; do
	# Below the top only: a checkout in /work/x-ingenic must not match all.
	rel=${prog#"$FLASHD_BUILD"/}
	rel=${rel#"$top"/}
	if [ -n "${SUITES:-}" ] && ! suite_selected "$rel"; then
		continue
	fi
	run_one "$prog"
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
