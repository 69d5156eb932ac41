#!/usr/bin/env bash
# Benchmark, not a test (make check does not run it): flashd serving 1, 8 and
# 32 simulated STM32F405 ROMs (stm32f405-dfuse) plugged at the same moment,
# at time scale 1.0 (real device times, tests/sim/boards/README.md).  The
# recipe erases (per sector), writes and reads back a KIB KiB image at
# 0x08000000, then leaves.  Printed per run:
#
#   makespan ratio   (last unit finished - first add uevent) / the modelled
#                    minimum of one board: what the board model itself charges
#                    for this job, summed from tests/sim/boards/stm32_dfuse*.c
#                    and board.c (defaults in the boards README):
#                      erase    4 x 16 KiB 250 ms, 64 KiB 550 ms, 128 KiB 1000 ms
#                      program  per 2 KiB block: command 100 us + 512 words x 16 us
#                      command  100 us per Set-Address
#                      bus      every control transfer the DfuSe protocol needs:
#                               1 ms + (8 + 13 + len + 13 per 64-byte packet) bytes
#                               x 8 bits at 12 Mbit/s, + 1/12 bit stuffing
#                      leave    1 ms
#                    The transfers counted are the minimum the protocol needs:
#                    engine open (4 alt strings, SET_INTERFACE, GETSTATUS),
#                    SET_INTERFACE, per command/block DNLOAD + GETSTATUS (busy)
#                    + GETSTATUS (idle, held by the ROM until the work is
#                    done), Set-Address + ABORT + UPLOADs + ABORT for the
#                    read-back, GETSTATUS, and Set-Address + zero DNLOAD +
#                    GETSTATUS to leave.  Target <= 1.05 at 32 boards.
#   hotplug latency  flashsim's plugged_at_ns (add uevent) -> first_request_ns
#                    (first transfer a client submitted), median and p99.
#                    Target median <= 10 ms.
#
#   topology         tiered 7-port hubs, as a line is built: root port R ->
#                    hub B-R -> hubs B-R.N -> boards B-R.N.M (49 boards per
#                    root port).  Up to 98 boards on bus 1; more are split
#                    over bus 1 and bus 3, a second xHCI (a PCIe card): one
#                    bus has 127 addresses (USB 2.0 9.4.6) for its root hub,
#                    hubs and boards, so 128 boards with their hubs (151
#                    devices) cannot be on one bus.  max_jobs = the count.
#
#   usage: tests/bench/bench-flashd.sh [BUILD_DIR]
#          COUNTS="1 8 32" KIB=512 PLUG_MS=1500 KEEP=1
#          RIG_ON_DISK=1 (testbed in $TMPDIR, not on a private tmpfs)
#          FLASHD_WRAP="strace -f -ttt -o F" (a command prefix for flashd, to profile)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
build=$(cd "$build" && pwd)
sim=$build/flashsim
counts=${COUNTS:-1 8 32}
kib=${KIB:-512}
plug_ms=${PLUG_MS:-1500}
for x in "$sim" "$build/flashd"; do
	[ -x "$x" ] || { echo "bench-flashd: $x not built (run make)" >&2; exit 1; }
done
tmp=$(mktemp -d)
# The testbed (simulated sysfs and /dev) goes to memory, as a kernel's sysfs
# is: on a disk-backed /tmp umockdev's attribute writes (a rename each) take
# ~10 ms per board, so 32 "simultaneous" plugs arrive over ~0.3 s.  A tmpfs
# mounted in a private mount namespace (needs root; otherwise, or with
# RIG_ON_DISK=1, the testbed stays in $tmp).  Not /dev/shm: the preload takes
# every path under /dev/ for a device node, and each file flashd has open
# there takes a slot of its 50-entry fd table, which overflows at 32 boards.
rig_wrap=()
if [ -z "${RIG_ON_DISK:-}" ] && [ "$(id -u)" = 0 ] &&
	unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs "$0"' "$tmp" 2>/dev/null; then
	mkdir -p "$tmp/rig"
	rig_wrap=(unshare -m --propagation private sh -c 'mount -t tmpfs -o size=2g tmpfs "$0" && TMPDIR=$0 exec "$@"' "$tmp/rig")
fi
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT

mkdir -p "$tmp/recipes/images"
head -c $((kib * 1024)) /dev/urandom >"$tmp/recipes/images/app.bin"
cat >"$tmp/recipes/bench.json" <<EOF
{ "name": "bench", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "app", "address": "0x08000000", "file": "images/app.bin",
      "sha256": "$(sha256sum "$tmp/recipes/images/app.bin" | cut -d' ' -f1)",
      "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
cat >"$tmp/flashd.conf" <<EOF
station = bench
allow_ports = 1-* 3-*
max_jobs = MAX_JOBS
EOF

# Run under flashsim: flashd, wait for N finished rows, SIGTERM.  Also notes
# CLOCK_REALTIME - CLOCK_MONOTONIC, to put the rows' times on flashsim's clock.
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
B=$1 dir=$2 n=$3
${FLASHD_WRAP:-} "$B/flashd" --config "$dir/flashd.conf" --recipes "$dir/../recipes" --db "$dir/f.db" \
	--control "$dir/ctl" --log-stderr 2>"$dir/flashd.log" &
pid=$!
python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_MONOTONIC))' >"$dir/clock_offset"
for _ in $(seq 1200); do
	sleep 0.25
	[ "$(sqlite3 "$dir/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0)" -ge "$n" ] && break
done
# flashd's own CPU (utime, stime in clock ticks), to tell it from the rig's
awk '{ print $14, $15 }' "/proc/$pid/stat" >"$dir/flashd_cpu" 2>/dev/null
kill -TERM "$pid"
wait "$pid"
EOF
chmod +x "$tmp/driver.sh"

printf 'flashd bench: %s KiB per board (erase pages, write, read back, leave), time scale 1.0, %s CPUs\n' \
	"$kib" "$(nproc)"
for n in $counts; do
	d=$tmp/run$n
	mkdir -p "$d"
	# max_jobs = the board count (default 32 would queue the rest)
	sed "s/^max_jobs = .*/max_jobs = $((n > 32 ? n : 32))/" "$tmp/flashd.conf" >"$d/flashd.conf"
	python3 - "$n" "$plug_ms" >"$d/scenario.json" <<'EOF'
import json, sys
n, plug = int(sys.argv[1]), int(sys.argv[2])
buses = [1] if n <= 98 else [1, 3]
per_bus = -(-n // len(buses))
def port(i):  # root port R -> hub B-R -> hubs B-R.N -> board B-R.N.M
    bus, j = buses[i // per_bus], i % per_bus
    return "%d-%d.%d.%d" % (bus, j // 49 + 1, j % 49 // 7 + 1, j % 7 + 1)
boards = [{"id": "b%03d" % i, "type": "stm32f405-dfuse", "port": port(i),
           "serial": "BENCH%04d" % i, "plug_ms": plug} for i in range(n)]
print(json.dumps({"time_scale": 1.0, "boards": boards}))
EOF
	${rig_wrap[@]+"${rig_wrap[@]}"} /usr/bin/time -f '%e %U %S' -o "$d/time" "$sim" --scenario "$d/scenario.json" \
		--dump-dir "$d/out" -- "$d/../driver.sh" "$build" "$d" "$n" >"$d/sim.log" 2>&1 ||
		{ echo "bench-flashd: run of $n boards failed:"; tail -n 5 "$d/sim.log" "$d/flashd.log"; exit 1; }
	python3 - "$n" "$kib" "$d" "$tmp/recipes/images/app.bin" <<'EOF'
import json, math, sqlite3, statistics, sys
n, kib, d, img = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
size = kib * 1024
image = open(img, 'rb').read()

# ---- the modelled minimum of one board (device times at scale 1.0) ----------
def bus_ms(length):  # board.c sim_board_bus_ns(), full speed, 64-byte EP0
    packets = (length + 63) // 64
    ps = (8 + 13 + length + packets * 13) * 8 * 83333
    ps += ps // 12
    return (1000000 + ps // 1000) / 1e6
GS, DN0, DN5, BLK = bus_ms(6), bus_ms(0), bus_ms(5), 2048
sectors = [16384] * 4 + [65536] + [131072] * 7
touched = [sz for i, sz in enumerate(sectors) if sum(sectors[:i]) < size]
erase_ms = sum({16384: 250, 65536: 550, 131072: 1000}[sz] for sz in touched)
blocks = [min(BLK, size - o) for o in range(0, size, BLK)]
program_ms = sum(0.1 + (b + 3) // 4 * 0.016 for b in blocks)
command_ms = 3 * 0.1                               # Set-Address: write, read-back, leave
cmd_bus = DN5 + 2 * GS                             # DNLOAD block 0 + GETSTATUS busy + idle
bus_total = (4 * bus_ms(255) + DN0 + GS            # open: alt strings, SET_INTERFACE, GETSTATUS
             + DN0                                 # SET_INTERFACE of the stage
             + len(touched) * cmd_bus              # erases
             + cmd_bus + sum(bus_ms(b) + 2 * GS for b in blocks)         # write
             + cmd_bus + DN0 + sum(bus_ms(b) for b in blocks) + DN0 + GS  # read back, GETSTATUS
             + cmd_bus + DN0 + GS)                 # leave
minimum = erase_ms + program_ms + command_ms + bus_total + 1.0   # + leave_ms

# ---- what happened ------------------------------------------------------------
summ = json.load(open(d + '/out/summary.json'))
off = int(open(d + '/clock_offset').read())
db = sqlite3.connect(d + '/f.db')
rows = db.execute("SELECT serial, result, started_at, finished_at, duration_ms FROM units").fetchall()
bad = [r for r in rows if r[1] != 'pass']
if len(rows) != n or bad:
    sys.exit("bench-flashd: %d boards: %d rows, not passed: %s" % (n, len(rows), bad))
wrong = []
for b in summ['boards']:
    if open('%s/out/%s.flash.bin' % (d, b['id']), 'rb').read(size) != image or not b['state'].startswith('left'):
        wrong.append(b['id'])
if wrong:
    sys.exit("bench-flashd: flash differs or board not left: %s" % wrong)
plug = [b['plugged_at_ns'] for b in summ['boards']]
lat = sorted((b['first_request_ns'] - b['plugged_at_ns']) / 1e6 for b in summ['boards'])
first_plug = min(plug)
last_done = max(r[3] for r in rows) * 1e6 - off
makespan = (last_done - first_plug) / 1e6
durs = sorted(r[4] for r in rows)
p99 = lat[min(len(lat) - 1, math.ceil(0.99 * len(lat)) - 1)]
reqs = sorted(b['requests'] for b in summ['boards'])
ioctls = sum(b['ioctls'] for b in summ['boards'])
wall, user, sys_ = (float(x) for x in open(d + '/time').read().split()[-3:])
print("\n== %d board%s ==" % (n, "" if n == 1 else "s"))
print("modelled minimum per board  %8.0f ms (erase %.0f, program %.0f, command %.1f, bus %.0f)"
      % (minimum, erase_ms, program_ms, command_ms, bus_total))
print("makespan (plug -> last row) %8.0f ms   ratio %.3f   (target <= 1.05 at 32 and 128: %s)"
      % (makespan, makespan / minimum, "ok" if makespan / minimum <= 1.05 else "MISSED"))
print("unit duration_ms            min %d  median %d  max %d  (max / minimum %.3f)"
      % (durs[0], statistics.median(durs), durs[-1], durs[-1] / minimum))
print("plug spread                 %.1f ms (first to last add uevent)" % ((max(plug) - first_plug) / 1e6))
print("hotplug -> first request    median %.2f ms  p99 %.2f ms  max %.2f ms  (target median <= 10: %s)"
      % (statistics.median(lat), p99, lat[-1], "ok" if statistics.median(lat) <= 10 else "MISSED"))
print("requests per board          %d..%d; ioctls total %d (%.0f/s over the makespan)"
      % (reqs[0], reqs[-1], ioctls, ioctls / (makespan / 1000)))
print("process CPU (rig + flashd)  %.2f s user + %.2f s sys over %.1f s wall" % (user, sys_, wall))
try:
    import os
    hz = os.sysconf('SC_CLK_TCK')
    fu, fs = (int(x) / hz for x in open(d + '/flashd_cpu').read().split())
    print("  of which flashd           %.2f s user + %.2f s sys" % (fu, fs))
except (OSError, ValueError):
    pass
EOF
done
