#!/usr/bin/env bash
# tests/jobs/test-job-states.c again, built with ThreadSanitizer into
# build/tsan (make tsan-tests, a prerequisite of make check and
# make check-tsan): the job thread against the loop thread's calls
# (arrived/gone, cancel, deadline) must show no data race.  A race report
# makes the program exit non-zero, which tests/run-tests.sh counts as a
# failure.  TSan's shadow memory needs a fixed layout: on kernels whose
# mmap randomisation is wider than this TSan knows ("FATAL: ThreadSanitizer:
# unexpected memory mapping"), the program runs with ASLR off (setarch -R).
. "$(dirname "$0")/../lib/testlib.sh"
prog=$top/build/tsan/tests/jobs/test-job-states
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

if [ ! -x "$prog" ]; then
	echo "not ok - TSan build of test-job-states: $prog missing (make tsan-tests)"
	exit 1
fi
run=("$prog")
if setarch "$(uname -m)" -R true 2>/dev/null; then
	run=(setarch "$(uname -m)" -R "$prog")
fi
exec "${run[@]}"
