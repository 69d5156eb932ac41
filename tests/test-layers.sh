#!/usr/bin/env bash
# Layering enforced by the link (issue 16): every symbol an object of one
# layer's archive needs must come from a layer below it, from its own, or
# from outside the product (libc, libusb, sqlite...).  An include rule
# (tests/test-includes.sh) cannot see a call upward through a local
# prototype; the archives' symbol tables can.
#
#   common      <- nothing
#   protocols   <- common
#   db          <- common
#   jobs        <- protocols, db, common
#   daemon      <- jobs, protocols, db, common
. "$(dirname "$0")/lib/testlib.sh"
top=${FLASHD_TOP:-$(cd "$(dirname "$0")/.." && pwd)}

declare -A allowed=(
	[common]="common"
	[protocols]="protocols common"
	[db]="db common"
	[jobs]="jobs protocols db common"
	[daemon]="daemon jobs protocols db common"
)
layers="common protocols db jobs daemon"

for l in $layers; do
	[ -f "$build/lib$l.a" ] || { echo "not ok - layers: $build/lib$l.a not built"; exit 1; }
done
# symbol -> layer that defines it
declare -A owner
for l in $layers; do
	while read -r sym; do
		owner[$sym]=$l
	done < <(nm --defined-only --extern-only "$build/lib$l.a" 2>/dev/null | awk 'NF == 3 { print $3 }')
done
for l in $layers; do
	bad=
	while read -r obj sym; do
		o=${owner[$sym]:-}
		[ -z "$o" ] && continue # outside the product
		[[ " ${allowed[$l]} " == *" $o "* ]] && continue
		bad+="$obj needs $sym from $o/; "
	done < <(nm --undefined-only -A "$build/lib$l.a" 2>/dev/null |
		sed -nE 's#^[^:]*:([^:]*):[[:space:]]+U[[:space:]]+(.*)$#\1 \2#p')
	if [ -z "$bad" ]; then
		echo "ok - layers: $l/ links only against ${allowed[$l]// /, }"
	else
		echo "not ok - layers: $l/ links only against ${allowed[$l]// /, }"
		echo "#   ${bad%; }" | sed 's/; /\n#   /g'
		fails=$((fails + 1))
	fi
done
exit $((fails > 0))
