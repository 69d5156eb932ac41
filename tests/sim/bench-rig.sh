#!/usr/bin/env bash
# Benchmark of the flashsim rig (not a test; not run by make check).
#   tests/sim/bench-rig.sh [BUILD_DIR]
# Prints, for dfu-util downloads of 1 MiB to 1 and to 16 boards at once:
# wall time, KiB/s (total), ioctls/s (total, from summary.json), CPU of
# flashsim + clients; and the CPU an opened, idle board costs over 3 s
# (a libusb client with its event loop running, via python3 ctypes).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${FLASHD_BUILD:-$top/build/default}}
sim=$build/flashsim
scn=$top/tests/sim/scenarios
tmp=$(mktemp -d /tmp/bench-rig.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
size=$((1024 * 1024 - 64 * 1024)) # fits the 1 MiB STM32F405 layout with room

sum_ioctls() { python3 -c 'import json,sys; print(sum(b["ioctls"] for b in json.load(open(sys.argv[1]))["boards"]))' "$1"; }

run() { # name scenario n_boards
	local name=$1 s=$2 n=$3
	head -c $size /dev/urandom >"$tmp/fw.bin"
	{
		echo 'pids=()'
		python3 -c 'import json,sys; [print(b["port"]) for b in json.load(open(sys.argv[1]))["boards"]]' "$s" |
			head -n "$n" | while read -r p; do
			echo "dfu-util -p $p -a 0 -s 0x08000000 -D $tmp/fw.bin >/dev/null 2>&1 & pids+=(\$!)"
		done
		echo 'rc=0; for p in "${pids[@]}"; do wait $p || rc=1; done; exit $rc'
	} >"$tmp/run.sh"
	/usr/bin/time -f '%e %U %S' -o "$tmp/time" "$sim" --scenario "$s" --dump-dir "$tmp/d" -- bash "$tmp/run.sh"
	read -r wall user sys <"$tmp/time"
	ioctls=$(sum_ioctls "$tmp/d/summary.json")
	python3 - "$name" "$n" "$wall" "$user" "$sys" "$ioctls" "$size" <<'P'
import sys
name, n, wall, user, sys_, ioctls, size = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:7]), int(sys.argv[7])
print(f"| {name} | {wall:.2f} s | {n*size/1024/wall:.0f} | {ioctls/wall:.0f} ({int(ioctls)} ioctls) | {user+sys_:.2f} s |")
P
}

echo "| Workload | Wall | KiB/s total | ioctls/s total | CPU (rig + clients) |"
echo "|---|---|---|---|---|"
run "1 board x 960 KiB" "$scn/one-dfuse.json" 1
run "16 boards x 960 KiB in parallel" "$scn/sixteen-dfuse.json" 16

cat >"$tmp/idle.py" <<'P'
import ctypes, resource, time
u = ctypes.CDLL("libusb-1.0.so.0")
u.libusb_open_device_with_vid_pid.restype = ctypes.c_void_p
u.libusb_open_device_with_vid_pid.argtypes = [ctypes.c_void_p, ctypes.c_uint16, ctypes.c_uint16]
u.libusb_handle_events_timeout.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
ctx = ctypes.c_void_p()
assert u.libusb_init(ctypes.byref(ctx)) == 0
h = u.libusb_open_device_with_vid_pid(ctx, 0x0483, 0xdf11) if OPEN else None
assert h or not OPEN
class tv(ctypes.Structure): _fields_ = [("s", ctypes.c_long), ("us", ctypes.c_long)]
t = tv(0, 200000)
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.time()
while time.time() - t0 < 3.0:
    u.libusb_handle_events_timeout(ctx, ctypes.byref(t))
r1 = resource.getrusage(resource.RUSAGE_SELF)
print("client_cpu %.3f" % (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime))
P
for open in 0 1; do
	(echo "OPEN = $open"; cat "$tmp/idle.py") >"$tmp/idle$open.py"
	/usr/bin/time -f '%U %S' -o "$tmp/time" "$sim" --scenario "$scn/one-dfuse.json" --dump-dir "$tmp/i$open" -- python3 "$tmp/idle$open.py" >"$tmp/idle$open.out"
	read -r user sys <"$tmp/time"
	echo "idle, device open=$open, 3 s: $(cat "$tmp/idle$open.out"), rig+client total CPU $(python3 -c "print('%.2f' % ($user + $sys))") s, ioctls $(sum_ioctls "$tmp/i$open/summary.json")"
done
