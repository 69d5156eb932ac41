#!/usr/bin/env bash
# The layering checkers have teeth (issue 16): a planted upward include and a
# planted upward call must each make them fail, and the tree as it is must
# pass them.  The plants go into copies (a copy of the sources for
# tests/test-includes.sh, copies of the archives for tests/test-layers.sh),
# never into the tree.
. "$(dirname "$0")/lib/testlib.sh"
top=${FLASHD_TOP:-$(cd "$(dirname "$0")/.." && pwd)}

# expect NAME WANT(pass|fail) PATTERN OUTPUT-FILE RC
expect() {
	local name=$1 want=$2 pat=$3 out=$4 rc=$5
	if [ "$want" = fail ]; then
		if grep -q "^not ok - $pat" "$out"; then ok "$name"; else nok "$name" "the checker did not flag it:" "$(cat "$out")"; fi
	else
		if [ "$rc" -eq 0 ] && ! grep -q '^not ok' "$out"; then ok "$name"; else nok "$name" "$(grep '^not ok' "$out")"; fi
	fi
}

# ---- includes: a planted "../jobs/job.h" in protocols/ and <cJSON.h> in db/
src=$tmp/src
mkdir -p "$src"
for d in common protocols db jobs daemon tests/sim; do
	mkdir -p "$src/$(dirname "$d")"
	cp -r "$top/$d" "$src/$d"
done
cp "$top/tests/test-includes.sh" "$src/tests/"
FLASHD_TOP=$src bash "$src/tests/test-includes.sh" >"$tmp/inc0" 2>&1
expect "checkers: the tree passes the include rules" pass "" "$tmp/inc0" $?
printf '#include "../jobs/job.h"\n' >"$src/protocols/planted.c"
FLASHD_TOP=$src bash "$src/tests/test-includes.sh" >"$tmp/inc1" 2>&1
expect "checkers: an upward include (protocols/ -> ../jobs/job.h) fails" fail "includes: protocols/" "$tmp/inc1" $?
rm "$src/protocols/planted.c"
printf '#include <cJSON.h>\n' >"$src/db/planted.h"
FLASHD_TOP=$src bash "$src/tests/test-includes.sh" >"$tmp/inc2" 2>&1
expect "checkers: a forbidden library include (db/ -> <cJSON.h>) fails" fail "includes: db/" "$tmp/inc2" $?

# ---- calls: a protocols/ object calling into db/ through a local prototype
libs=$tmp/build
mkdir -p "$libs"
for l in common protocols db jobs daemon; do
	if [ ! -f "$build/lib$l.a" ]; then
		echo "ok - checkers # SKIP $build/lib$l.a not built"
		exit 0
	fi
	cp "$build/lib$l.a" "$libs/"
done
FLASHD_BUILD=$libs bash "$top/tests/test-layers.sh" >"$tmp/lay0" 2>&1
expect "checkers: the archives pass the layer rules" pass "" "$tmp/lay0" $?
sym=$(nm --defined-only --extern-only "$libs/libdb.a" | awk 'NF == 3 && $2 == "T" { print $3; exit }')
cat >"$tmp/planted.c" <<EOF
int $sym(void); /* a local prototype: no include rule can see this */
int planted_upward_call(void) { return $sym(); }
EOF
if ! cc -c -o "$tmp/planted.o" "$tmp/planted.c" 2>"$tmp/cc.err"; then
	nok "checkers: planted object compiles" "$(cat "$tmp/cc.err")"
	exit 1
fi
ar rc "$libs/libprotocols.a" "$tmp/planted.o"
FLASHD_BUILD=$libs bash "$top/tests/test-layers.sh" >"$tmp/lay1" 2>&1
expect "checkers: an upward call (protocols/ -> db/ $sym) fails" fail "layers: protocols/" "$tmp/lay1" $?
