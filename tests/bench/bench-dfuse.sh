#!/usr/bin/env bash
# Benchmark, not a test: wall and CPU time of dfu-util 0.11 versus
# dfuse-tool (protocols/dfuse.c) writing the same 512 KiB image to the same
# simulated STM32F405 at time scale 1.0 (real ROM timings), then the ratio.
# dfu-util does Set-Address per chunk and sleeps bwPollTimeout after every
# poll; dfuse-tool uses one Set-Address per run and the capped poll policy
# (dfu.h), and also reads everything back to verify.
#   usage: tests/bench/bench-dfuse.sh [BUILD_DIR]   (SIZE_KIB=512 by default)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
sim=$build/flashsim
tool=$build/tests/tools/dfuse-tool
size_kib=${SIZE_KIB:-512}
for x in "$sim" "$tool"; do
	[ -x "$x" ] || { echo "bench-dfuse: $x not built (run make)" >&2; exit 1; }
done
command -v dfu-util >/dev/null || { echo "bench-dfuse: dfu-util not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c $((size_kib * 1024)) /dev/urandom >"$tmp/img.bin"
cat >"$tmp/s.json" <<JSON
{"time_scale":1.0,"boards":[{"id":"b1","type":"stm32f405-dfuse","port":"1-1","fill":"random:7"}]}
JSON

# measure NAME CMD...: prints "NAME wall=S user=S sys=S" and checks the dump
measure() {
	local name=$1
	shift
	/usr/bin/time -f "%e %U %S" -o "$tmp/$name.time" \
		"$sim" --scenario "$tmp/s.json" --dump-dir "$tmp/$name.dump" -- "$@" >"$tmp/$name.log" 2>&1 ||
		{ echo "$name failed:"; tail -5 "$tmp/$name.log"; exit 1; }
	cmp -s <(head -c $((size_kib * 1024)) "$tmp/$name.dump/b1.flash.bin") "$tmp/img.bin" ||
		{ echo "$name: flash dump differs from the image"; exit 1; }
	read -r wall user sys <"$tmp/$name.time"
	echo "$name wall=${wall}s user=${user}s sys=${sys}s (flashsim + client)"
	eval "${name}_wall=$wall"
}

measure dfu_util dfu-util -p 1-1 -a 0 -s 0x08000000:leave -D "$tmp/img.bin"
measure dfuse_tool "$tool" -q -p 1-1 download "$tmp/img.bin" 0x08000000 --leave 0x08000000
awk -v a="$dfu_util_wall" -v b="$dfuse_tool_wall" \
	'BEGIN { printf "ratio dfu-util/dfuse-tool wall = %.2f (dfuse-tool also verified every byte)\n", a / b }'
