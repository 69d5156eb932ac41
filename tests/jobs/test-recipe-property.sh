#!/usr/bin/env bash
# Property test of recipes (issue 12, "a pass row is true"): from one seed,
# N random recipes per family (DfuSe on stm32f405/l476, Ingenic T31, i.MX6Q),
# valid ones and ones broken on purpose, with random images.  Every recipe
# flashctl recipe check accepts must run under flashsim to a 'pass' unit row
# with the board's memory equal to the plan byte for byte; every one it
# refuses must be refused with messages naming the file and a JSON path.
# The generator and its memory oracle are tests/jobs/property_recipes.py.
#   SEED=N       replay a run (the seed is the first line of the output)
#   N=count      recipes per family (default 200)
#   ONLY=fam:K   replay recipe K of family fam only (from a failure line)
#   FAMILIES=a,b families to run (default all)
#   KEEP=1       keep the temporary directory
. "$(dirname "$0")/../lib/testlib.sh"
for f in "$build/flashsim" "$build/flashctl" "$build/tests/tools/job-tool"; do
	if [ ! -x "$f" ]; then
		echo "ok - recipe_property # SKIP $f not built"
		exit 0
	fi
done
if ! command -v python3 >/dev/null; then
	echo "ok - recipe_property # SKIP python3 not available"
	exit 0
fi
seed=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
args=(--seed "$seed" --n "${N:-200}")
[ -n "${ONLY:-}" ] && args+=(--only "$ONLY")
[ -n "${FAMILIES:-}" ] && args+=(--families "$FAMILIES")
[ -n "${KEEP:-}" ] && args+=(--keep)
FLASHD_TOP=$top FLASHD_BUILD=$build exec python3 "$top/tests/jobs/property_recipes.py" "${args[@]}"
