# What the shell tests share (tests/*/test-*.sh).  Source it first:
#   . "$(dirname "$0")/../lib/testlib.sh"
# It sets
#   top    the checkout (FLASHD_TOP overrides)
#   build  the build directory (FLASHD_BUILD overrides; exported for flashsim scenarios)
#   sim    flashsim in it
#   tmp    a fresh directory, removed at exit unless KEEP=1 (a script that sets
#          its own EXIT trap calls testlib_cleanup from it)
#   fails  the number of "not ok" lines so far
# and prints TAP-style lines that tests/run-tests.sh counts:
#   "ok - NAME", "not ok - NAME" (+ "#   detail" lines), "ok - NAME # SKIP why".
# check NAME STATUS passes on exit status 0; check_eq NAME GOT WANT on equal strings.
# Sourced twice (a script and the family library it sources, such as
# tests/web/lib.sh), the second time changes nothing: not tmp, not the trap,
# not a helper the script or another library has replaced since.
[ -n "${TESTLIB_LOADED:-}" ] && return 0
TESTLIB_LOADED=1
set -u
top=${FLASHD_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${FLASHD_BUILD:-$top/build/default}
export FLASHD_BUILD=$build
sim=$build/flashsim
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flashd-test.XXXXXX")
fails=0

testlib_cleanup() { [ -n "${KEEP:-}" ] || rm -rf "$tmp"; }
trap testlib_cleanup EXIT

ok() { echo "ok - $1"; }
nok() { # NAME DETAIL...
	echo "not ok - $1"
	shift
	for l in "$@"; do echo "#   $l"; done
	fails=$((fails + 1))
}
skip() { echo "ok - $1 # SKIP $2"; }
check() { # NAME STATUS(0 = ok) DETAIL...
	local name=$1 res=$2
	shift 2
	if [ "$res" -eq 0 ]; then ok "$name"; else nok "$name" "$@"; fi
}
check_eq() { # NAME GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "got:  $2" "want: $3"; fi
}

# SKIP the whole script (one line, exit 0) unless every program is there.
# A path must be executable; a bare name must be on PATH.
need() { # SCRIPT_NAME PROGRAM...
	local name=$1 p
	shift
	for p in "$@"; do
		if [[ $p == */* ]]; then [ -x "$p" ] && continue; else command -v "$p" >/dev/null && continue; fi
		skip "$name" "$p not available"
		exit 0
	done
}

q() { sqlite3 "$1" "$2" 2>&1; }                  # DB SQL
sha() { sha256sum "$1" | cut -d' ' -f1; }        # FILE -> hex SHA-256
wait_for() { # SECONDS COMMAND...: poll every 50 ms until COMMAND succeeds
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
}
