#!/usr/bin/env bash
# Benchmark, not a test: a 4 MiB write through the Ingenic burner engine
# (protocols/ingenic_burner.c, via ingenic-tool) to a simulated T31 at time
# scale 1.0, against the modelled minimum: what the board model itself
# charges for the same work (tests/sim/boards/spinor.c W25Q128JV times,
# tests/sim/boards/ingenic.c bulk and command times):
#   erase   the 4 MiB partition in 64 KiB blocks     64 x 150 ms
#   program 16384 pages                              16384 x 400 us
#   command one per WRITE (and the config)           100 us each
#   bus     each bulk OUT: 125 us + 512-byte packets at 480 Mbit/s (+13 B, +1/12)
# Control-transfer bus time is not modelled for this board, so it is left
# out.  Target: wall time of the write step within 5 % of the minimum.
#   usage: tests/bench/bench-ingenic.sh [BUILD_DIR]   (TSIZE=131072 by default)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
sim=$build/flashsim
tool=$build/tests/tools/ingenic-tool
tsize=${TSIZE:-131072}
for x in "$sim" "$tool"; do
	[ -x "$x" ] || { echo "bench-ingenic: $x not built (run make)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$top/tests/fixtures/ingenic/mkfixtures.py" "$tmp/fx"
size=$((4 * 1024 * 1024))
head -c $size /dev/urandom >"$tmp/img.bin"
cat >"$tmp/s.json" <<JSON
{"time_scale":1.0,"boards":[{"id":"b1","type":"ingenic-t31","port":"1-1"}]}
JSON
"$sim" --scenario "$tmp/s.json" --dump-dir "$tmp/d" -- "$tool" -q -p 1-1 -T "$tsize" \
	boot "$tmp/fx/ginfo.bin" "$tmp/fx/spl.bin" "$tmp/fx/burner.bin" 0x7000 jedec \
	config app:0:$size write 0 "$tmp/img.bin" >"$tmp/out" 2>&1 ||
	{ echo "bench-ingenic: run failed:"; tail -5 "$tmp/out"; exit 1; }
cmp -s <(head -c $size "$tmp/d/b1.nor.bin") "$tmp/img.bin" ||
	{ echo "bench-ingenic: NOR dump differs from the image"; exit 1; }
ms=$(sed -n 's/.*write_ms=\([0-9]*\).*/\1/p' "$tmp/out")
chunks=$(sed -n 's/.* chunks=\([0-9]*\).*/\1/p' "$tmp/out")
python3 - "$ms" "$chunks" "$size" "$tsize" <<'PY'
import sys
ms, chunks, size, tsize = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def bulk_us(n):
    packets = max(1, (n + 511) // 512)
    ps = (n + packets * 13) * 8 * 2083
    return 125 + (ps + ps / 12) / 1e6
erase = (size // 65536) * 150e3
program = (size // 256) * 400
command = (chunks + 1) * 100
bus = sum(bulk_us(min(tsize, size - o)) for o in range(0, size, tsize))
minimum = (erase + program + command + bus) / 1000
print(f"write 4 MiB in {chunks} chunks of {tsize} bytes: {ms} ms wall")
print(f"modelled minimum {minimum:.0f} ms (erase {erase/1000:.0f}, program {program/1000:.0f}, "
      f"command {command/1000:.1f}, bus {bus/1000:.1f})")
over = (ms / minimum - 1) * 100
print(f"overhead {over:+.2f} % (target < 5 %): {'ok' if over < 5 else 'MISSED'}")
PY
