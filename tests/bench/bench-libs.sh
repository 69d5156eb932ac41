#!/usr/bin/env bash
# Benchmark, not a test (make check does not run it): the CPU that hashing
# costs flashd, two builds side by side (issue 21 item 6), each A/B pair run
# in turn by farm-bench so the machine's drift hits both alike:
#
#   1. sparse64   one i.MX job (tests/tools/job-tool, flashd's job runner)
#                 flashing the 64 MiB sparse image of bench-imx.sh (RAW 48 MiB,
#                 FILL 8 MiB, DONT_CARE 8 MiB) to "rootfs" of an imx6q-sdp in
#                 fastboot under flashsim at time scale 0.001, then the
#                 whole-unit read-back by device CRC (host CRC of every RAW
#                 and FILL range, device CRC pieces combined).  Figures: the
#                 job-tool process alone (/usr/bin/time inside flashsim) and
#                 flashsim + job-tool (farm-bench).
#   2. load1g     `flashctl recipe check` of a recipe pinning a 1 GiB image by
#                 SHA-256 (recipe loading reads and hashes every image).
#   3. imxsparse  bench-imx.sh's job 2 (`imx-tool flash rootfs big.simg`, time
#                 scale 1.0), A's imx-tool under A's flashsim vs B's under B's:
#                 shows the rig's GET_CAPABILITIES answer (one URB per libusb
#                 bulk transfer with BULK_SCATTER_GATHER, 64 without).
#
#   usage: tests/bench/bench-libs.sh BUILD_A BUILD_B     RUNS=5 KEEP=1 SKIP=1,2
#          RIG=BUILD (both sides run under BUILD's flashsim: compares the
#          clients alone; default: each side under its own flashsim)
# A is the candidate, B the baseline; ratios are A/B per pair (farm-bench).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
A=${1:?usage: bench-libs.sh BUILD_A BUILD_B}
B=${2:?usage: bench-libs.sh BUILD_A BUILD_B}
runs=${RUNS:-5}
for b in "$A" "$B"; do
	for x in flashsim flashctl tests/tools/job-tool tests/tools/imx-tool; do
		[ -x "$b/$x" ] || { echo "bench-libs: $b/$x not built" >&2; exit 1; }
	done
done
command -v farm-bench >/dev/null || { echo "bench-libs: farm-bench not found" >&2; exit 1; }
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
MIB=1048576

# The sparse image of bench-imx.sh (same seed and layout).
mkdir -p "$tmp/r/images"
python3 - "$tmp/r/images" <<'PY'
import random, struct, sys
d = sys.argv[1]
MIB, BLK = 1 << 20, 4096
r = random.Random(64)
chunks, n = [], 0
for i in range(16):
    data = r.randbytes(3 * MIB)
    fill = bytes([0x5a, 0xa5, i, 0x3c])
    chunks += [struct.pack("<HHII", 0xCAC1, 0, len(data) // BLK, 12 + len(data)) + data,
               struct.pack("<HHII", 0xCAC3, 0, MIB // 2 // BLK, 12),
               struct.pack("<HHII", 0xCAC2, 0, MIB // 2 // BLK, 16) + fill]
    n += 4 * MIB
with open(d + "/big.simg", "wb") as f:
    f.write(struct.pack("<IHHHHIIII", 0xED26FF3A, 1, 0, 28, 12, BLK, n // BLK, len(chunks), 0))
    f.writelines(chunks)
PY
head -c $((1024 * MIB)) /dev/urandom >"$tmp/r/images/g1.bin"
sha() { sha256sum "$1" | cut -d' ' -f1; }

cat >"$tmp/r/sparse.json" <<EOF
{ "name": "sparse64", "match": { "vid": "0525", "pid": "a4a5" },
  "serial": { "source": "fastboot_getvar", "var": "serialno" },
  "stages": [
    { "op": "fastboot.getvar", "var": "serialno" },
    { "op": "fastboot.flash", "name": "rootfs", "partition": "rootfs", "file": "images/big.simg",
      "sha256": "$(sha "$tmp/r/images/big.simg")", "sparse": "auto" } ] }
EOF
cat >"$tmp/r/load.json" <<EOF
{ "name": "load1g", "match": { "vid": "0525", "pid": "a4a5" },
  "serial": { "source": "fastboot_getvar", "var": "serialno" },
  "stages": [
    { "op": "fastboot.getvar", "var": "serialno" },
    { "op": "fastboot.flash", "name": "rootfs", "partition": "rootfs", "file": "images/g1.bin",
      "sha256": "$(sha "$tmp/r/images/g1.bin")" } ] }
EOF
cat >"$tmp/fb.json" <<'EOF'
{ "time_scale": 0.001, "boards": [ { "id": "b1", "type": "imx6q-sdp", "port": "1-1",
  "uid": "906709d4d72d7372", "start": "fastboot", "emmc_mib": 128, "fb_buf_size": 16777216 } ] }
EOF

# job NAME BUILD: writes $tmp/NAME.sh, one run of the job for farm-bench; the
# job-tool process's own user+sys seconds are appended to $tmp/NAME.client.
job() {
	cat >"$tmp/$1.sh" <<EOF
rm -rf $tmp/$1.db $tmp/$1.dump
exec ${RIG:-$2}/flashsim --scenario $tmp/fb.json --dump-dir $tmp/$1.dump -- \\
	/usr/bin/time -a -o $tmp/$1.client -f "%U %S" \\
	$2/tests/tools/job-tool --db $tmp/$1.db --recipe $tmp/r/sparse.json --port 1-1 >>$tmp/$1.log 2>&1
EOF
}

# spread FILE: min / median / max of user+sys over the lines of FILE
spread() {
	grep -E '^[0-9.]+ [0-9.]+$' "$1" | awk '{ print $1 + $2 }' | sort -n |
		awk '{ v[NR] = $1 } END { printf "min %.3f  median %.3f  max %.3f s (%d runs)", v[1], (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[NR], NR }'
}

skip() { case ",${SKIP:-}," in *",$1,"*) return 0 ;; esac; return 1; }

if ! skip 1; then
echo "== 1. sparse64: flashsim + job-tool, A = $A, B = $B"
job a "$A"
job b "$B"
farm-bench -n "$runs" --timeout 1200 --vs "sh $tmp/b.sh" -- sh "$tmp/a.sh"
grep -q '^result pass' "$tmp/a.log" || { echo "bench-libs: job A did not pass:" >&2; tail -5 "$tmp/a.log" >&2; exit 1; }
echo "job-tool alone (warm-up included): A $(spread "$tmp/a.client")"
echo "                                   B $(spread "$tmp/b.client")"

fi

if ! skip 2; then
echo "== 2. load1g: flashctl recipe check of a recipe pinning a 1 GiB image"
cat "$tmp/r/images/g1.bin" >/dev/null # page cache: hashing, not the disk
"$A/flashctl" recipe check "$tmp/r/load.json" || { echo "bench-libs: recipe check failed" >&2; exit 1; }
farm-bench -n "$runs" --timeout 1200 --vs "$B/flashctl recipe check $tmp/r/load.json" -- \
	"$A/flashctl" recipe check "$tmp/r/load.json"
fi

if ! skip 3; then
echo "== 3. imxsparse: imx-tool flash rootfs big.simg at time scale 1.0 (bench-imx.sh job 2)"
sed 's/"time_scale": 0.001/"time_scale": 1.0/' "$tmp/fb.json" >"$tmp/fb1.json"
imx() {
	cat >"$tmp/$1.imx.sh" <<EOF
rm -rf $tmp/$1.idump
cd $tmp/r/images
exec ${RIG:-$2}/flashsim --scenario $tmp/fb1.json --dump-dir $tmp/$1.idump -- \\
	/usr/bin/time -a -o $tmp/$1.iclient -f "%U %S" \\
	$2/tests/tools/imx-tool -q -p 1-1 flash rootfs big.simg >>$tmp/$1.ilog 2>&1
EOF
}
imx a "$A"
imx b "$B"
farm-bench -n "$runs" --timeout 1200 --vs "sh $tmp/b.imx.sh" -- sh "$tmp/a.imx.sh"
echo "imx-tool alone (warm-up included): A $(spread "$tmp/a.iclient")"
echo "                                   B $(spread "$tmp/b.iclient")"
fi
