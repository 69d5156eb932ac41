# Shared helpers of the test-imx-*.sh conformance scripts (sourced, not run).
#   env: FLASHD_TOP, FLASHD_BUILD (set by tests/run-tests.sh)
top=${FLASHD_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${FLASHD_BUILD:-$top/build/default}
sim=$build/flashsim
scn=$top/tests/sim/scenarios
tmp=$(mktemp -d /tmp/test-imx.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fx=$tmp/fx
# Fixtures are generated at test time, never committed as binaries.
python3 "$top/tests/fixtures/imx/mkfixtures.py" "$fx" || {
	echo "not ok - fixtures are generated"
	exit 1
}

pass() { echo "ok - $1"; }
fail() {
	echo "not ok - $1"
	shift
	for f in "$@"; do
		[ -f "$f" ] && sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$f" | tr '\r' '\n' | tr -s ' ' |
			grep -v '^ *$' | tail -15 | sed 's/^/#   /'
	done
}

need() {
	command -v "$1" >/dev/null || {
		echo "not ok - $1 is installed (make deps)"
		exit 1
	}
}

# jget DIR KEY: a top-level field of board 0 in DIR/summary.json
jget() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]+"/summary.json"))["boards"][0][sys.argv[2]]; print(len(v) if isinstance(v,list) else v)' "$@" 2>/dev/null
}

# region_eq DUMP OFFSET FILE: DUMP holds FILE's bytes at OFFSET
region_eq() {
	cmp -s -n "$(stat -c %s "$3")" <(tail -c +$(($2 + 1)) "$1") "$3"
}

# all_zero DUMP OFFSET LEN
all_zero() {
	cmp -s <(tail -c +$(($2 + 1)) "$1" | head -c "$3") <(head -c "$3" /dev/zero)
}

MIB=1048576
# Default GPT of the boards (boards/README.md): env at 1 MiB, boot at
# 2 MiB, rootfs at 18 MiB.
ENV_OFF=$MIB
ROOTFS_OFF=$((18 * MIB))
