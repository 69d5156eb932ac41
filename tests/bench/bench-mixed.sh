#!/usr/bin/env bash
# Benchmark, not a test (make check does not run it): one flashd serving all
# three board families at once under flashsim (issue 21 item 3): PER_FAMILY
# STM32F405 DfuSe ROMs, PER_FAMILY i.MX6 (SDP -> U-Boot fastboot, 6Q and
# 6ULL alternating) and PER_FAMILY Ingenic T31 (SPI-NOR), all plugged within
# SPREAD_MS (default 100 ms).  The recipes and images are those of
# tests/daemon/test-flashd-families-sim.sh (so tests/lib/expected_memory.py
# knows what every memory must hold), without its faults.
#
# Printed per family:
#   ratio      (last unit of the family finished - first add uevent of the
#              family) / the family's minimum, where the minimum is the same
#              job on one board of that family with nothing else running
#              (a first "solo" run: one board of each family, same rig, same
#              build, same time scale).  That solo duration is the modelled
#              device time plus flashd's and the rig's own per-board cost, so
#              the ratio shows what running 3 x PER_FAMILY boards together
#              costs over one (for STM32 alone, bench-flashd.sh computes the
#              model's own minimum).
#   latency    add uevent -> first request: median, p99.
# Every board is checked byte for byte (flash, eMMC, NOR against the
# untouched memory of a reference run with the images laid over it) and must
# have exactly one 'pass' row; the script stops otherwise.
#
#   usage: tests/bench/bench-mixed.sh [BUILD_DIR]
#          PER_FAMILY=32 SCALE=1.0 SPREAD_MS=100 PLUG_MS=1500 KEEP=1 SEED=n
#          (PER_FAMILY=8 or SCALE=0.2 on a loaded 2-core machine)
# Boards per flashd: the shim serves usbfs nodes with a 4096-fd table
# (tests/sim/README.md, "The ioctl socket"), so 96 boards fit; umockdev
# 0.17.16's own preload held ~45 ("fd_map_add(): overflow").
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
build=$(cd "$build" && pwd)
sim=$build/flashsim
per=${PER_FAMILY:-32}
scale=${SCALE:-1.0}
spread=${SPREAD_MS:-100}
plug_ms=${PLUG_MS:-1500}
seed=${SEED:-20261207}
for x in "$sim" "$build/flashd"; do
	[ -x "$x" ] || { echo "bench-mixed: $x not built (run make)" >&2; exit 1; }
done
tmp=$(mktemp -d)
# The testbed on a private tmpfs when root, as in bench-flashd.sh (why there).
rig_wrap=()
if [ -z "${RIG_ON_DISK:-}" ] && [ "$(id -u)" = 0 ] &&
	unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs "$0"' "$tmp" 2>/dev/null; then
	mkdir -p "$tmp/rig"
	rig_wrap=(unshare -m --propagation private sh -c 'mount -t tmpfs -o size=4g tmpfs "$0" && TMPDIR=$0 exec "$@"' "$tmp/rig")
fi
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT

# ---- images and recipes (as test-flashd-families-sim.sh) --------------------
R=$tmp/recipes
I=$R/images
mkdir -p "$I/imx" "$I/ingenic"
python3 "$top/tests/fixtures/imx/mkfixtures.py" "$I/imx" >/dev/null
python3 "$top/tests/fixtures/ingenic/mkfixtures.py" "$I/ingenic" >/dev/null
head -c 24576 /dev/urandom >"$I/f4-boot.bin"
head -c 81920 /dev/urandom >"$I/f4-app.bin"
head -c 300000 /dev/urandom >"$I/imx/boot.img"
head -c 150000 /dev/urandom >"$I/ingenic/uboot.bin"
head -c 700000 /dev/urandom >"$I/ingenic/kernel.bin"
head -c 1300000 /dev/urandom >"$I/ingenic/rootfs.bin"
img() { echo "\"file\": \"images/$1\", \"sha256\": \"$(sha256sum "$I/$1" | cut -d' ' -f1)\""; }
cat >"$R/stm32.json" <<EOF
{ "name": "stm32-line", "match": { "vid": "0483", "pid": "df11", "ports": ["1-1.*"] },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.read_uid", "address": "0x1fff7a10" },
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", $(img f4-boot.bin), "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "app", "address": "0x08020000", $(img f4-app.bin), "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
imx_recipe() { # NAME PID UBOOT
	cat >"$R/$1.json" <<EOF
{ "name": "$1", "match": { "vid": "15a2", "pid": "$2", "ports": ["1-2.*"] },
  "serial": { "source": "fastboot_getvar", "var": "serialno" },
  "stages": [
    { "op": "sdp.boot", $(img "imx/$3") },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 30000 },
    { "op": "fastboot.getvar", "var": "serialno" },
    { "op": "fastboot.flash", "name": "rootfs", "partition": "rootfs", $(img imx/rootfs.simg), "sparse": "auto", "max_download": 8192 },
    { "op": "fastboot.flash", "name": "boot", "partition": "boot", $(img imx/boot.img) },
    { "op": "fastboot.flash", "name": "bootloader", "offset": "0x400", $(img imx/raw-env.img), "verify": "crc32" },
    { "op": "fastboot.continue" } ] }
EOF
}
imx_recipe imx6q-line 0054 u-boot-imx6q.imx
imx_recipe imx6ull-line 0080 u-boot-imx6ul.imx
cat >"$R/t31.json" <<EOF
{ "name": "t31-line", "match": { "vid": "a108", "pid": "c309", "ports": ["1-3.*"] },
  "serial": { "source": "ingenic_efuse" },
  "jedec": [ "ef4018", "ef7018" ],
  "stages": [
    { "op": "ingenic.boot", "soc": "t31", "ginfo": { $(img ingenic/ginfo.bin) },
      "spl": { $(img ingenic/spl.bin) }, "burner": { $(img ingenic/burner.bin) } },
    { "op": "ingenic.check_jedec" },
    { "op": "ingenic.config", "flash": "sfc_nor", "erase": "partition", "partitions": [
        { "name": "uboot", "offset": "0x0", "size": "0x40000" },
        { "name": "kernel", "offset": "0x40000", "size": "0x280000" },
        { "name": "rootfs", "offset": "0x2c0000", "size": "0x140000" } ] },
    { "op": "ingenic.write", "name": "uboot", "partition": "uboot", $(img ingenic/uboot.bin) },
    { "op": "ingenic.write", "name": "kernel", "partition": "kernel", $(img ingenic/kernel.bin) },
    { "op": "ingenic.write", "name": "rootfs", "partition": "rootfs", $(img ingenic/rootfs.bin), "verify": "readback" },
    { "op": "ingenic.reboot" } ] }
EOF

# Run under flashsim: flashd, wait for N finished rows, SIGTERM.
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
B=$1 dir=$2 n=$3 jobs=$4
# A crash leaves its core next to the database (core_pattern permitting).
cd "$2" && ulimit -c unlimited 2>/dev/null || true
printf 'station = mixed\nallow_ports = 1-*\nmax_jobs = %s\n' "$jobs" >"$dir/flashd.conf"
"$B/flashd" --config "$dir/flashd.conf" --recipes "$dir/../recipes" --db "$dir/f.db" \
	--control "$dir/ctl" --log-stderr 2>"$dir/flashd.log" &
pid=$!
python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_MONOTONIC))' >"$dir/clock_offset"
for _ in $(seq 2400); do
	sleep 0.25
	kill -0 "$pid" 2>/dev/null || break # died: wait says how, flashsim fails
	[ "$(sqlite3 "$dir/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0)" -ge "$n" ] && break
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
EOF
chmod +x "$tmp/driver.sh"

# scenario.json (plugged) and ref.json (untouched, no client) for N per family.
scenario() { # DIR N
	python3 - "$1" "$2" "$scale" "$plug_ms" "$spread" "$seed" <<'EOF'
import json, random, sys
d, n, scale, plug, spread, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
random.seed(seed)
hexs = lambda k: "".join(random.choice("0123456789abcdef") for _ in range(k))
port = lambda hub, i: "1-%d.%d.%d" % (hub, i // 7 + 1, i % 7 + 1)   # 7-port hubs
boards = []
for i in range(n):
    boards.append({"id": "s%02d" % i, "type": "stm32f405-dfuse", "port": port(1, i),
                   "serial": "MIX%04d" % i, "uid": hexs(24), "uid_readable": 1})
for i in range(n):
    boards.append({"id": "m%02d" % i, "type": "imx6q-sdp" if i % 2 == 0 else "imx6ull-sdp",
                   "port": port(2, i), "uid": hexs(16), "emmc_mib": 8, "ddr_mib": 256,
                   "partitions": "env:512,boot:1024,rootfs:-"})
for i in range(n):
    boards.append({"id": "g%02d" % i, "type": "ingenic-t31", "port": port(3, i), "uid": hexs(32),
                   "flash": "w25q128jv" if i % 2 == 0 else "w25q128jv-m", "flash_mib": 4,
                   "fill": "random:%d" % (i + 7)})
json.dump({"time_scale": scale, "boards": boards}, open(d + "/ref.json", "w"))
for b in boards:
    b["plug_ms"] = plug + (random.randint(0, spread) if n > 1 else 0)
json.dump({"time_scale": scale, "boards": boards}, open(d + "/scenario.json", "w"))
EOF
}

run() { # NAME N
	local d=$tmp/$1 n=$(($2 * 3))
	mkdir -p "$d"
	scenario "$d" "$2"
	${rig_wrap[@]+"${rig_wrap[@]}"} "$sim" --scenario "$d/ref.json" --dump-dir "$d/ref" -- true >"$d/ref.log" 2>&1 ||
		{ echo "bench-mixed: reference run failed:"; tail -n 5 "$d/ref.log"; exit 1; }
	${rig_wrap[@]+"${rig_wrap[@]}"} /usr/bin/time -f '%e %U %S' -o "$d/time" "$sim" --scenario "$d/scenario.json" \
		--dump-dir "$d/out" -- "$tmp/driver.sh" "$build" "$d" "$n" "$n" >"$d/sim.log" 2>&1 ||
		{ echo "bench-mixed: run $1 failed:"; tail -n 5 "$d/sim.log" "$d/flashd.log"; exit 1; }
}

printf 'mixed bench: %s STM32 + %s i.MX + %s Ingenic within %s ms, time scale %s, %s CPUs, load %s\n' \
	"$per" "$per" "$per" "$spread" "$scale" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
run solo 1
run mixed "$per"
python3 - "$tmp" "$I" "$top/tests/lib" <<'EOF'
import json, math, sqlite3, statistics, sys
tmp, imgd = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from expected_memory import MEMORY, expected, family_of

def load(name):
    d = tmp + "/" + name
    summ = json.load(open(d + "/out/summary.json"))
    off = int(open(d + "/clock_offset").read())
    db = sqlite3.connect(d + "/f.db")
    rows = db.execute("SELECT port, result, finished_at, failed_stage, error FROM units").fetchall()
    bad = []
    by_port = {}
    for r in rows:
        by_port.setdefault(r[0], []).append(r)
    for b in summ["boards"]:
        fam = family_of(b["type"])
        rs = by_port.get(b["port"], [])
        if len(rs) != 1 or rs[0][1] != "pass":
            bad.append("%s (%s): rows %s" % (b["id"], b["port"], rs))
            continue
        mem = MEMORY[fam]
        ref = open("%s/ref/%s.%s.bin" % (d, b["id"], mem), "rb").read()
        got = open("%s/out/%s.%s.bin" % (d, b["id"], mem), "rb").read()
        if got != expected(fam, ref, imgd):
            bad.append("%s (%s): %s differs" % (b["id"], b["port"], mem))
        b["family"], b["done_ns"] = fam, rs[0][2] * 1e6 - off
    if bad or len(rows) != len(summ["boards"]):
        sys.exit("bench-mixed: %s: %d rows for %d boards; %s" % (name, len(rows), len(summ["boards"]), bad[:8]))
    wall, user, sys_ = (float(x) for x in open(d + "/time").read().split()[-3:])
    return summ["boards"], (wall, user, sys_)

def p99(v):
    v = sorted(v)
    return v[min(len(v) - 1, math.ceil(0.99 * len(v)) - 1)]

solo, _ = load("solo")
mixed, (wall, user, sys_) = load("mixed")
minimum = {b["family"]: (b["done_ns"] - b["plugged_at_ns"]) / 1e6 for b in solo}
print("\n%-8s %6s %12s %12s %8s %22s" % ("family", "boards", "solo ms", "makespan ms", "ratio",
                                          "plug->1st req med/p99"))
for fam in ("stm32", "imx", "ingenic"):
    bs = [b for b in mixed if b["family"] == fam]
    first = min(b["plugged_at_ns"] for b in bs)
    last = max(b["done_ns"] for b in bs)
    lat = [(b["first_request_ns"] - b["plugged_at_ns"]) / 1e6 for b in bs]
    span = (last - first) / 1e6
    print("%-8s %6d %12.0f %12.0f %8.3f %12.1f / %.1f ms" % (fam, len(bs), minimum[fam], span,
          span / minimum[fam], statistics.median(lat), p99(lat)))
print("all %d boards byte-exact, one pass row each; process CPU (rig + flashd) %.1f s user + %.1f s sys over %.1f s wall"
      % (len(mixed), user, sys_, wall))
EOF
