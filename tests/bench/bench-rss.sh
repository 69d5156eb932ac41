#!/usr/bin/env bash
# Benchmark, not a test (make check does not run it), issue 21 item 5:
# "64 units sharing one 64 MiB image: flashd RSS <= 80 MiB".  BOARDS
# (default 64) i.MX6Q boards already in U-Boot fastboot (start=fastboot,
# 96 MiB eMMC) plugged at once; one recipe writes the same 64 MiB raw image
# (random bytes, so nothing is sparse) to each board's rootfs and reads its
# CRC back.  flashd maps the image once (jobs/image.c) and streams it from
# the mapping, so its resident set should be the image's pages (file-backed,
# shared with the page cache) plus per-job buffers, not 64 copies.
# Printed: flashd's peak RSS (VmHWM) with its file and anonymous parts at
# the peak sample, and every board's eMMC checked byte for byte.
#
#   usage: tests/bench/bench-rss.sh [BUILD_DIR]      BOARDS=64 MIB=64 SCALE=0.05 KEEP=1
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
build=$(cd "$build" && pwd)
sim=$build/flashsim
boards=${BOARDS:-64}
mib=${MIB:-64}
scale=${SCALE:-0.05}
for x in "$sim" "$build/flashd"; do
	[ -x "$x" ] || { echo "bench-rss: $x not built (run make)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
mkdir -p "$tmp/recipes/images"
head -c $((mib << 20)) /dev/urandom >"$tmp/recipes/images/rootfs.img"
sum=$(sha256sum "$tmp/recipes/images/rootfs.img" | cut -d' ' -f1)
cat >"$tmp/recipes/imx-rss.json" <<JSON
{ "name": "imx-rss", "match": { "vid": "0525", "pid": "a4a5" },
  "serial": { "source": "fastboot_getvar", "var": "serialno" },
  "stages": [
    { "op": "fastboot.getvar", "var": "serialno" },
    { "op": "fastboot.flash", "name": "rootfs", "offset": "0x1200000", "file": "images/rootfs.img", "sha256": "$sum",
      "verify": "crc32", "timeout_ms": 600000 } ] }
JSON
"$build/flashctl" recipe check "$tmp/recipes/imx-rss.json" >/dev/null || exit 1
# 7-port hubs under root ports 1-1..1-N: boards 1-R.P.
python3 - "$tmp/scenario.json" "$boards" "$scale" <<'PY'
import json, sys
path, n, scale = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
b = []
for i in range(n):
    hub, port = divmod(i, 7)
    b.append({"id": "b%d" % i, "type": "imx6q-sdp", "port": "1-%d.%d.%d" % (hub // 7 + 1, hub % 7 + 1, port + 1),
              "uid": "%016x" % (0x906709d4d72d0000 + i), "start": "fastboot", "emmc_mib": 96,
              "plug_ms": 1000})
json.dump({"time_scale": scale, "usbfs_memory_mb": 0, "boards": b}, open(path, "w"))
PY
cat >"$tmp/flashd.conf" <<EOF
station = rss-bench
allow_ports = 1-*
max_jobs = $boards
EOF
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
t=$1 n=$2 B=$FLASHD_BUILD
"$B/flashd" --config "$t/flashd.conf" --recipes "$t/recipes" --db "$t/f.db" --control "$t/ctl" \
	--log-stderr 2>"$t/flashd.log" &
pid=$!
done_units() { sqlite3 "$t/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
peak=0
while [ "$(done_units)" -lt "$n" ] && [ $SECONDS -lt 900 ]; do
	# VmRSS = RssAnon + RssFile + RssShmem; keep the sample with the largest total.
	read -r rss anon file < <(awk '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } /^RssFile/ { f = $2 }
		END { print r + 0, a + 0, f + 0 }' /proc/$pid/status 2>/dev/null)
	[ "${rss:-0}" -gt "$peak" ] && { peak=$rss; echo "$rss $anon $file" >"$t/peak"; }
	sleep 0.1
done
grep VmHWM /proc/$pid/status >"$t/hwm"
kill -TERM "$pid"
wait "$pid"
echo $? >"$t/exit"
EOF
chmod +x "$tmp/driver.sh"
echo "bench-rss: $boards boards, one ${mib} MiB image, time scale $scale, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
FLASHD_BUILD=$build "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/dump" -- \
	"$tmp/driver.sh" "$tmp" "$boards" >"$tmp/sim.log" 2>&1 ||
	{ echo "bench-rss: run failed" >&2; tail -n 5 "$tmp/sim.log" "$tmp/flashd.log" >&2; exit 1; }
pass=$(sqlite3 "$tmp/f.db" "SELECT count(*) FROM units WHERE result = 'pass'")
# rootfs starts at 18 MiB (1 MiB + env 1 MiB + boot 16 MiB: boards/README.md).
bad=0
for i in $(seq 0 $((boards - 1))); do
	cmp -s -n $((mib << 20)) <(tail -c +$((18 * 1048576 + 1)) "$tmp/dump/b$i.emmc.bin") \
		"$tmp/recipes/images/rootfs.img" || bad=$((bad + 1))
done
read -r rss anon file <"$tmp/peak"
echo "units: $pass pass of $boards; eMMC byte-exact: $((boards - bad)) of $boards; flashd exit $(cat "$tmp/exit")"
awk -v r="$rss" -v a="$anon" -v f="$file" -v h="$(awk '{ print $2 }' "$tmp/hwm")" 'BEGIN {
	printf "flashd RSS peak %.1f MiB (VmHWM %.1f MiB): anonymous %.1f MiB, file-backed %.1f MiB; target <= 80 MiB: %s\n",
		r / 1024, h / 1024, a / 1024, f / 1024, (h / 1024 <= 80) ? "met" : "NOT met" }'
[ "$pass" = "$boards" ] && [ $bad = 0 ]
