#!/usr/bin/env bash
# Benchmark, not a test (make check does not run it): flashd's i.MX engines
# (protocols/sdp.c, fastboot.c, sparse.c, driven by tests/tools/imx-tool)
# against the unmodified Debian clients, each pair on the same simulated
# board and job under flashsim at time scale 1.0 (real device times from the
# model, tests/sim/boards/README.md "imx6q-sdp"):
#
#   1. sdp+fastboot 8 MiB   imx6q-sdp in its boot ROM: SDP boot of the fixture
#                           u-boot-imx6q.imx (re-enumerates as the fastboot
#                           gadget), then flash of an 8 MiB raw image to the
#                           "boot" partition.
#                           peer: uuu "SDP: boot -f", "FB: flash boot", "FB: done"
#                           flashd: imx-tool boot + wait + flash boot
#   2. fastboot 64 MiB sparse
#                           imx6q-sdp with start=fastboot, emmc_mib=128,
#                           fb_buf_size=16 MiB: a sparse image expanding to
#                           64 MiB (RAW, DONT_CARE and FILL chunks, 48 MiB of
#                           data) flashed to "rootfs", split by both clients
#                           into 4 pieces of at most 16 MiB.
#                           peer: fastboot flash rootfs big.simg
#                           flashd: imx-tool flash rootfs big.simg
#
# Wall time and CPU time (user+sys of flashsim + client: /usr/bin/time of
# flashsim, which waits for the client) per run, and the ratio flashd/peer
# (below 1 = flashd faster).  After every run the dumped eMMC must hold the
# expected bytes, else the script stops.  RUNS=n repeats each pair (medians).
#   usage: tests/bench/bench-imx.sh [BUILD_DIR]     RUNS=3 KEEP=1
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
sim=$build/flashsim
tool=$build/tests/tools/imx-tool
runs=${RUNS:-3}
for x in "$sim" "$tool"; do
	[ -x "$x" ] || { echo "bench-imx: $x not built (run make)" >&2; exit 1; }
done
for c in uuu fastboot simg2img; do
	command -v $c >/dev/null || { echo "bench-imx: $c not installed (make deps)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
fx=$tmp/fx
python3 "$top/tests/fixtures/imx/mkfixtures.py" "$fx" >/dev/null
MIB=1048576
BOOT_OFF=$((2 * MIB))    # default GPT: env 1 MiB at 1 MiB, boot 16 MiB at 2 MiB,
ROOTFS_OFF=$((18 * MIB)) # rootfs after

# Deterministic images: img8.bin, 8 MiB random; big.simg, a sparse image of
# 4 KiB blocks expanding to 64 MiB, written here chunk by chunk: per 4 MiB,
# RAW 3 MiB random, DONT_CARE 512 KiB, FILL 512 KiB of a 32-bit pattern
# (16 x 3 chunks, 48 MiB of data); big64.raw is its expansion over a zeroed
# partition, cross-checked with AOSP's simg2img.
python3 - "$fx" <<'PY'
import random, struct, sys
d = sys.argv[1]
MIB, BLK = 1 << 20, 4096
r = random.Random(8)
open(d + "/img8.bin", "wb").write(r.randbytes(8 * MIB))
r = random.Random(64)
chunks, raw = [], bytearray()
for i in range(16):
    data = r.randbytes(3 * MIB)
    fill = bytes([0x5a, 0xa5, i, 0x3c])
    chunks += [struct.pack("<HHII", 0xCAC1, 0, len(data) // BLK, 12 + len(data)) + data,
               struct.pack("<HHII", 0xCAC3, 0, MIB // 2 // BLK, 12),
               struct.pack("<HHII", 0xCAC2, 0, MIB // 2 // BLK, 16) + fill]
    raw += data + bytes(MIB // 2) + fill * (MIB // 8)
with open(d + "/big.simg", "wb") as f:
    f.write(struct.pack("<IHHHHIIII", 0xED26FF3A, 1, 0, 28, 12, BLK, len(raw) // BLK, len(chunks), 0))
    f.writelines(chunks)
open(d + "/big64.raw", "wb").write(raw)
PY
simg2img "$fx/big.simg" "$fx/big64.check"
cmp -s "$fx/big64.raw" "$fx/big64.check" || { echo "bench-imx: simg2img expands big.simg differently" >&2; exit 1; }
rm -f "$fx/big64.check"

cat >"$fx/boot-flash.lst" <<'LST'
uuu_version 1.2.39
SDP: boot -f u-boot-imx6q.imx
FB: flash boot img8.bin
FB: done
LST
cat >"$tmp/rom.json" <<'JSON'
{"time_scale":1.0,"boards":[{"id":"b1","type":"imx6q-sdp","port":"1-1","uid":"906709d4d72d7372"}]}
JSON
cat >"$tmp/fb.json" <<'JSON'
{"time_scale":1.0,"boards":[{"id":"b1","type":"imx6q-sdp","port":"1-1","uid":"906709d4d72d7372",
  "start":"fastboot","emmc_mib":128,"fb_buf_size":16777216}]}
JSON

# region_eq DUMP OFFSET FILE: DUMP holds FILE's bytes at OFFSET
region_eq() {
	cmp -s -n "$(stat -c %s "$3")" <(tail -c +$(($2 + 1)) "$1") "$3"
}

# measure NAME SCENARIO CHECK_OFF CHECK_FILE CMD...: runs CMD (in $fx) under
# flashsim, checks the eMMC dump, appends "wall cpu" to $tmp/NAME.times
measure() {
	local name=$1 scn=$2 off=$3 want=$4 d=$tmp/$1.dump
	shift 4
	rm -rf "$d"
	(cd "$fx" && /usr/bin/time -f "%e %U %S" -o "$tmp/$name.time" \
		"$sim" --scenario "$scn" --dump-dir "$d" -- "$@") >"$tmp/$name.log" 2>&1 ||
		{ echo "bench-imx: $name failed:" >&2; tr '\r' '\n' <"$tmp/$name.log" | tail -8 >&2; exit 1; }
	region_eq "$d/b1.emmc.bin" "$off" "$want" ||
		{ echo "bench-imx: $name: eMMC dump at $off differs from $(basename "$want")" >&2; exit 1; }
	local wall user sys
	read -r wall user sys <"$tmp/$name.time"
	printf '%-28s wall %7.2f s   cpu %6.2f s (user %.2f + sys %.2f)\n' "$name" "$wall" \
		"$(echo "$user + $sys" | bc)" "$user" "$sys"
	echo "$wall $(echo "$user + $sys" | bc)" >>"$tmp/$name.times"
}

median() { # median FILE COLUMN
	sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { # ratio LABEL PEER FLASHD
	local pw pc fw fc
	pw=$(median "$tmp/$2.times" 1) pc=$(median "$tmp/$2.times" 2)
	fw=$(median "$tmp/$3.times" 1) fc=$(median "$tmp/$3.times" 2)
	awk -v l="$1" -v pw="$pw" -v pc="$pc" -v fw="$fw" -v fc="$fc" -v n="$runs" 'BEGIN {
		printf "%s (median of %d): peer wall %.2f s cpu %.2f s | flashd wall %.2f s cpu %.2f s | flashd/peer wall %.3f cpu %.3f\n",
			l, n, pw, pc, fw, fc, fw / pw, fc / pc }'
}

for i in $(seq "$runs"); do
	measure uuu_sdp_fb_8m "$tmp/rom.json" $BOOT_OFF "$fx/img8.bin" \
		uuu boot-flash.lst
	measure imx_tool_sdp_fb_8m "$tmp/rom.json" $BOOT_OFF "$fx/img8.bin" \
		"$tool" -q -p 1-1 boot u-boot-imx6q.imx + wait 10000 + flash boot img8.bin
	measure fastboot_sparse_64m "$tmp/fb.json" $ROOTFS_OFF "$fx/big64.raw" \
		fastboot flash rootfs big.simg
	measure imx_tool_sparse_64m "$tmp/fb.json" $ROOTFS_OFF "$fx/big64.raw" \
		"$tool" -q -p 1-1 flash rootfs big.simg
done
pieces_fb=$(tr '\r' '\n' <"$tmp/fastboot_sparse_64m.log" | grep -c "^Sending sparse 'rootfs'" || true)
pieces_tool=$(sed -n 's/^pieces=\([0-9]*\).*/\1/p' "$tmp/imx_tool_sparse_64m.log")
echo "sparse image: $(stat -c %s "$fx/big.simg") bytes, expands to 64 MiB; pieces: fastboot $pieces_fb, imx-tool $pieces_tool"
ratio "1. SDP boot + fastboot flash 8 MiB raw (uuu)" uuu_sdp_fb_8m imx_tool_sdp_fb_8m
ratio "2. fastboot flash 64 MiB sparse (fastboot)" fastboot_sparse_64m imx_tool_sparse_64m
