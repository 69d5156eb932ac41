#!/usr/bin/env bash
# Benchmark, not a test (make check does not run it): the rig's shared-bus
# model (tests/sim/README.md "Shared bus") with unmodified clients.
#
#   1. 8 i.MX6Q fastboot gadgets (high speed) behind one high-speed hub, each
#      running `fastboot stage` of a 16 MiB image ROUNDS times (the download
#      phase of a flash): aggregate throughput on the hub's upstream link over
#      its busy span, as % of the modelled 53.248 MB/s.  Target >= 95 %.
#   1b. the same 8 boards with flashd's own fastboot engine as the client
#      (tests/tools/imx-tool `stage`, protocols/fastboot.c fb_download(): 1 MiB
#      bulk transfers, one URB each since the rig reports
#      BULK_SCATTER_GATHER), each downloading a TOOL_MIB MiB image
#      TOOL_ROUNDS times in one process (fb_buf_size = TOOL_MIB MiB; 16 MiB
#      x 4 by default, as 1.), then one `flash boot` of a 16 MiB image,
#      checked byte-exact in the eMMC dump.
#      Same figure: the upstream link's throughput over its busy span.
#   2. 8 STM32F405 DFU ROMs (full speed) behind one high-speed hub, each
#      uploading UP_KIB KiB with dfu-util at the same time: single-TT vs
#      multi-TT makespans (first transfer to last, from the dump) and ratio;
#      1 board alone for reference.
#
# Figures are model time (real time / time_scale; TIME_SCALE, 1.0 by default),
# taken from flashsim's dump (hub_links, boards[].first_request_ns).  A time
# scale above 1 stretches the model's delays so that the rig's and the
# clients' CPU time (2 shared cores here) weighs less against them.
#   usage: tests/bench/bench-hub.sh [BUILD_DIR]      ROUNDS=4 UP_KIB=256
#          PARTS="fastboot imx-tool dfu" (which of 1, 1b, 2 to run)
#          TOOL_MIB=16 TOOL_ROUNDS=4 TIME_SCALE=1.0
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
sim=$build/flashsim
rounds=${ROUNDS:-4}
up_kib=${UP_KIB:-256}
parts=" ${PARTS:-fastboot imx-tool dfu} "
tool_mib=${TOOL_MIB:-16}
tool_rounds=${TOOL_ROUNDS:-4}
tool=$build/tests/tools/imx-tool
[ -x "$sim" ] || { echo "bench-hub: $sim not built (run make)" >&2; exit 1; }
for c in fastboot dfu-util python3; do
	command -v $c >/dev/null || { echo "bench-hub: $c not installed (make deps)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT

# scenario FILE TYPE N TT [BOARD_JSON_EXTRA]: N boards on ports 1..N of hub 1-3
scenario() {
	python3 - "$@" <<'PY'
import json, os, sys
path, typ, n, tt = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
boards = []
for i in range(1, n + 1):
    b = {"id": "b%d" % i, "type": typ, "port": "1-3.%d" % i}
    if typ.startswith("imx"):
        b["uid"] = "%08x%08x" % (0x1000 + i, i)  # serial: the halves swapped
    else:
        b["serial"] = "%012d" % i
    b.update(extra)
    boards.append(b)
json.dump({"time_scale": float(os.environ.get("TIME_SCALE", "1.0")), "hubs": ["1-3"],
           "hub_bandwidth": {"1-3": {"speed": "high", "tt": tt}},
           "boards": boards}, open(path, "w"))
PY
}

# --- 1. i.MX fastboot downloads through one high-speed hub
head -c $((16 << 20)) /dev/urandom >"$tmp/img16"
scenario "$tmp/imx.json" imx6q-sdp 8 single \
	'{"start": "fastboot", "fb_buf_size": 16777216, "emmc_mib": 32}'

# hub_figure DUMP_DIR LABEL: the hub upstream's throughput over its busy span
hub_figure() {
	python3 - "$1/summary.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
up = [l for l in d["hub_links"] if l["link"] == "1-3"][0]
span = (up["last_ns"] - up["first_ns"]) / d["time_scale"] / 1e9
mbs = up["bytes"] / span / 1e6
print("%s: %.1f MiB in %.2f s = %.2f MB/s" % (sys.argv[2], up["bytes"] / 1048576, span, mbs))
print("  = %.1f %% of the modelled hub bandwidth (53.248 MB/s); link busy %.1f %%, queued %.2f s in all"
      % (100 * mbs * 1e6 / up["capacity"], 100 * up["busy_ns"] / 1e9 / span, up["wait_ns"] / 1e9))
starts = sorted(b["first_request_ns"] for b in d["boards"])
print("  boards started over %.2f s (client start-up): while fewer than 8 run, one alone gets its own wire rate"
      % ((starts[-1] - starts[0]) / d["time_scale"] / 1e9))
PY
}

if [ "${parts#* imx-tool }" != "$parts" ]; then
	[ -x "$tool" ] || { echo "bench-hub: $tool not built (run make)" >&2; exit 1; }
	head -c $((tool_mib << 20)) /dev/urandom >"$tmp/imgT"
	scenario "$tmp/tool.json" imx6q-sdp 8 single \
		"{\"start\": \"fastboot\", \"fb_buf_size\": $((tool_mib << 20)), \"emmc_mib\": 32}"
	steps=$(for r in $(seq "$tool_rounds"); do printf 'stage %s + ' "$tmp/imgT"; done)
	cat >"$tmp/tool.sh" <<SH
for i in 1 2 3 4 5 6 7 8; do
	"$tool" -q -p 1-3.\$i $steps flash boot "$tmp/img16" >"$tmp/tool\$i.log" 2>&1 &
done
wait
SH
	"$sim" --scenario "$tmp/tool.json" --dump-dir "$tmp/tool" -- sh "$tmp/tool.sh" &&
		[ "$(cat "$tmp"/tool*.log | grep -c '^result=ok')" = 8 ] ||
		{ echo "bench-hub: imx-tool run failed"; grep -h error= "$tmp"/tool*.log | head -n 5; exit 1; }
	for i in 1 2 3 4 5 6 7 8; do
		cmp -s -n $((16 << 20)) <(tail -c +$((2 * 1048576 + 1)) "$tmp/tool/b$i.emmc.bin") "$tmp/img16" ||
			{ echo "bench-hub: board $i: eMMC boot partition differs from the image"; exit 1; }
	done
	hub_figure "$tmp/tool" "imx-tool (flashd's fastboot engine): 8 boards x $tool_rounds x $tool_mib MiB stage (+ 16 MiB flash) through one high-speed hub"
fi

if [ "${parts#* fastboot }" != "$parts" ]; then
cat >"$tmp/imx.sh" <<SH
for i in 1 2 3 4 5 6 7 8; do
	s=\$(printf '%08x%08x' \$i \$((0x1000 + i)))
	( for r in \$(seq $rounds); do fastboot -s \$s stage "$tmp/img16" || exit 1; done ) >"$tmp/fb\$i.log" 2>&1 &
done
wait
SH
"$sim" --scenario "$tmp/imx.json" --dump-dir "$tmp/imx" -- sh "$tmp/imx.sh" &&
	[ "$(cat "$tmp"/fb*.log | grep -c '^Sending.*OKAY')" = $((8 * rounds)) ] ||
	{ echo "bench-hub: fastboot run failed"; cat "$tmp"/fb*.log | tail -n 5; exit 1; }
hub_figure "$tmp/imx" "imx fastboot (Debian's client): 8 boards x $rounds x 16 MiB stage through one high-speed hub"
fi

if [ "${parts#* dfu }" = "$parts" ]; then exit 0; fi
# --- 2. STM32 DFU uploads behind a single-TT vs a multi-TT hub
# makespan DIR: first transfer of any board to the last link occupancy
makespan() {
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1] + "/summary.json"))
t0 = min(b["first_request_ns"] for b in d["boards"])
t1 = max(l["last_ns"] for l in d["hub_links"])
print("%.3f" % ((t1 - t0) / d["time_scale"] / 1e9))' "$1"
}
for run in 1:single 8:single 8:multi; do
	n=${run%%:*} tt=${run#*:}
	scenario "$tmp/dfu-$n-$tt.json" stm32f405-dfuse "$n" "$tt"
	cmd="for p in \$(seq $n); do dfu-util -p 1-3.\$p -a 0 -s 0x08000000:$((up_kib * 1024)) -U $tmp/up-$n-$tt-\$p.bin >/dev/null 2>&1 & done; wait"
	"$sim" --scenario "$tmp/dfu-$n-$tt.json" --dump-dir "$tmp/dfu-$n-$tt" -- sh -c "$cmd" ||
		{ echo "bench-hub: dfu-util run $run failed"; exit 1; }
	for p in $(seq "$n"); do
		[ "$(stat -c %s "$tmp/up-$n-$tt-$p.bin")" = $((up_kib * 1024)) ] ||
			{ echo "bench-hub: board $p of run $run uploaded a short file"; exit 1; }
	done
	eval "ms_${n}_$tt=$(makespan "$tmp/dfu-$n-$tt")"
done
awk -v one="$ms_1_single" -v s="$ms_8_single" -v m="$ms_8_multi" -v k="$up_kib" 'BEGIN {
	printf "stm32 dfu upload %d KiB: 1 board %.2f s; 8 boards single-TT %.2f s, multi-TT %.2f s\n", k, one, s, m
	printf "  single/multi = %.2f; single-TT 8 boards / 1 board = %.2f; multi-TT = %.2f\n", s / m, s / one, m / one
}'
