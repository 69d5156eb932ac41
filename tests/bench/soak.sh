#!/usr/bin/env bash
# Soak, not a test (make check does not run it; issue 21 item 5): UNITS units
# (default 10,000) through ONE flashd under flashsim, all three families, at
# a small time scale.  Each board loops by itself, as boards whose boot pins
# select the ROM do on a line: its recipe ends in a stage that resets it and
# its ROM comes back, a new arrival on the port (rearm_sec = 0, so flashd
# flashes it again rather than holding it as its passed unit):
#   STM32F405  write 24 KiB, then dfuse.option_bytes (factory values): the
#              ROM resets after an option-byte write (AN3156)
#   i.MX6Q     SDP boot of U-Boot, fastboot flash of boot, fastboot.reboot:
#              the boot pins select serial download, the ROM comes back
#   T31        boot, erase + write a 64 KiB uboot whose first 4 KiB are
#              blank, reboot: with a blank first 4 KiB the ROM comes back
# BOARDS per family (default 4) loop at once.  Every STEP units (default
# 1,000) the driver samples flashd: RSS, open fds, threads, database size
# (db + WAL) and the rows.  At the end (SIGTERM) it checks that no row was
# lost (ids 1..max all present, none left 'running'), that every finished
# unit passed (the units cut by the SIGTERM are 'interrupted'), and that
# every pass row has its image rows, then prints the table.
#
#   usage: tests/bench/soak.sh [BUILD_DIR]
#          UNITS=10000 STEP=1000 BOARDS=4 SCALE=0.02 KEEP=1
#          (UNITS=2000 for a shorter run)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
build=$(cd "$build" && pwd)
sim=$build/flashsim
units=${UNITS:-10000}
step=${STEP:-1000}
boards=${BOARDS:-4}
scale=${SCALE:-0.02}
for x in "$sim" "$build/flashd"; do
	[ -x "$x" ] || { echo "soak: $x not built (run make)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT

R=$tmp/recipes
I=$R/images
mkdir -p "$I/imx" "$I/ingenic"
python3 "$top/tests/fixtures/imx/mkfixtures.py" "$I/imx" >/dev/null
python3 "$top/tests/fixtures/ingenic/mkfixtures.py" "$I/ingenic" >/dev/null
head -c 24576 /dev/urandom >"$I/f4-boot.bin"
printf '\xe0\xaa\xff\xff\xff\xff\xff\xff\xff\x0e\xff\xff\xff\xff\xff\xff' >"$I/ob.bin"
head -c 65536 /dev/urandom >"$I/imx/boot.img"
{ head -c 4096 /dev/zero | tr '\0' '\377'; head -c 61440 /dev/urandom; } >"$I/ingenic/uboot.bin"
img() { echo "\"file\": \"images/$1\", \"sha256\": \"$(sha256sum "$I/$1" | cut -d' ' -f1)\""; }
cat >"$R/stm32.json" <<EOF
{ "name": "stm32-soak", "match": { "vid": "0483", "pid": "df11", "ports": ["1-1.*"] },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", $(img f4-boot.bin), "erase": "pages", "verify": "readback" },
    { "op": "dfuse.option_bytes", "name": "options", $(img ob.bin) } ] }
EOF
cat >"$R/imx.json" <<EOF
{ "name": "imx-soak", "match": { "vid": "15a2", "pid": "0054", "ports": ["1-2.*"] },
  "serial": { "source": "fastboot_getvar", "var": "serialno" },
  "stages": [
    { "op": "sdp.boot", $(img imx/u-boot-imx6q.imx) },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 30000 },
    { "op": "fastboot.getvar", "var": "serialno" },
    { "op": "fastboot.flash", "name": "boot", "partition": "boot", $(img imx/boot.img) },
    { "op": "fastboot.reboot" } ] }
EOF
cat >"$R/t31.json" <<EOF
{ "name": "t31-soak", "match": { "vid": "a108", "pid": "c309", "ports": ["1-3.*"] },
  "serial": { "source": "ingenic_efuse" },
  "stages": [
    { "op": "ingenic.boot", "soc": "t31", "ginfo": { $(img ingenic/ginfo.bin) },
      "spl": { $(img ingenic/spl.bin) }, "burner": { $(img ingenic/burner.bin) } },
    { "op": "ingenic.config", "flash": "sfc_nor", "erase": "partition", "partitions": [
        { "name": "uboot", "offset": "0x0", "size": "0x40000" } ] },
    { "op": "ingenic.write", "name": "uboot", "partition": "uboot", $(img ingenic/uboot.bin), "verify": "readback" },
    { "op": "ingenic.reboot" } ] }
EOF
cat >"$tmp/flashd.conf" <<EOF
station = soak
allow_ports = 1-*
rearm_sec = 0
max_jobs = $((boards * 3))
EOF
python3 - "$boards" "$scale" >"$tmp/scenario.json" <<'EOF'
import json, random, sys
n, scale = int(sys.argv[1]), float(sys.argv[2])
random.seed(21)
hexs = lambda k: "".join(random.choice("0123456789abcdef") for _ in range(k))
b = []
for i in range(n):
    b.append({"id": "s%d" % i, "type": "stm32f405-dfuse", "port": "1-1.%d" % (i + 1), "serial": "SOAK%04d" % i})
    b.append({"id": "m%d" % i, "type": "imx6q-sdp", "port": "1-2.%d" % (i + 1), "uid": hexs(16),
              "emmc_mib": 8, "ddr_mib": 256, "partitions": "env:512,boot:1024,rootfs:-"})
    b.append({"id": "g%d" % i, "type": "ingenic-t31", "port": "1-3.%d" % (i + 1), "uid": hexs(32),
              "flash": "w25q128jv", "flash_mib": 4})
for x in b:
    x["plug_ms"] = 500
    # The ROM back after the reset no sooner than 300 ms real time: at a
    # small scale it would enumerate before the unit's pass is committed,
    # and flashd rightly holds a board that was back before its pass.
    if not x["type"].startswith("stm32"):
        x["timing.rom_boot_ms"] = int(300 / scale)
print(json.dumps({"time_scale": scale, "boards": b}))
EOF

# Under flashsim: flashd, a sample every STEP finished units, SIGTERM at UNITS.
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
B=$1 d=$2 units=$3 step=$4
# A crash leaves its core next to the database (core_pattern permitting).
cd "$2" && ulimit -c unlimited 2>/dev/null || true
"$B/flashd" --config "$d/flashd.conf" --recipes "$d/recipes" --db "$d/f.db" --control "$d/ctl" \
	--log-stderr 2>"$d/flashd.log" &
pid=$!
t0=$(date +%s.%N)
sample() { # UNITS-DONE
	local st rss thr fds db
	st=/proc/$pid/status
	rss=$(awk '/^VmRSS/ {print $2}' "$st")
	thr=$(awk '/^Threads/ {print $2}' "$st")
	fds=$(ls "/proc/$pid/fd" | wc -l)
	db=$(cat "$d/f.db" "$d/f.db-wal" 2>/dev/null | wc -c)
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)")" \
		"$rss" "$fds" "$thr" "$db" >>"$d/samples.tsv"
}
sleep 0.3
sample 0
next=$step
while kill -0 "$pid" 2>/dev/null; do
	sleep 0.5
	n=$(sqlite3 "$d/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0)
	while [ "$n" -ge "$next" ] && [ "$next" -le "$units" ]; do
		sample "$n"
		next=$((next + step))
	done
	[ "$n" -ge "$units" ] && break
done
kill -TERM "$pid"
wait "$pid"
echo $? >"$d/exit"
EOF
chmod +x "$tmp/driver.sh"

printf 'soak: %s units, %s boards per family looping, time scale %s, %s CPUs, load %s\n' \
	"$units" "$boards" "$scale" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f '%e %U %S' -o "$tmp/time" "$sim" --scenario "$tmp/scenario.json" -- \
	"$tmp/driver.sh" "$build" "$tmp" "$units" "$step" >"$tmp/sim.log" 2>&1 ||
	{ echo "soak: run failed:"; tail -n 5 "$tmp/sim.log" "$tmp/flashd.log"; exit 1; }
python3 - "$tmp" <<'EOF'
import sqlite3, sys
d = sys.argv[1]
db = sqlite3.connect(d + "/f.db")
q = lambda s: db.execute(s).fetchall()
print("\n%8s %9s %9s %5s %8s %10s %8s" % ("units", "elapsed s", "RSS KiB", "fds", "threads", "DB bytes", "DB/unit"))
for line in open(d + "/samples.tsv"):
    n, el, rss, fds, thr, size = line.split()
    per = int(size) / int(n) if int(n) else 0
    print("%8s %9s %9s %5s %8s %10s %8.0f" % (n, el, rss, fds, thr, size, per))
n, mx = q("SELECT count(*), max(id) FROM units")[0]
res = dict(q("SELECT result, count(*) FROM units GROUP BY result"))
fam = q("SELECT recipe, count(*), sum(result = 'pass') FROM units GROUP BY recipe ORDER BY recipe")
want_images = {"stm32-soak": 3, "imx-soak": 3, "t31-soak": 2}  # written + verified
short = q("SELECT u.id, u.recipe, count(i.id) FROM units u LEFT JOIN unit_images i ON i.unit_id = u.id "
          "WHERE u.result = 'pass' GROUP BY u.id")
short = [r for r in short if r[2] < want_images.get(r[1], 1)]
exit_code = open(d + "/exit").read().strip()
print("\nrows %d, ids 1..%d; by result %s; per recipe (rows, pass) %s; flashd exit %s"
      % (n, mx, res, [(r, c, p) for r, c, p in fam], exit_code))
bad = []
if n != mx:
    bad.append("%d ids missing" % (mx - n))
if res.get("running"):
    bad.append("%d rows left running" % res["running"])
if set(res) - {"pass", "interrupted"}:
    bad.append("results other than pass/interrupted: %s" % q(
        "SELECT id, port, result, failed_stage, error FROM units WHERE result NOT IN ('pass', 'interrupted') LIMIT 5"))
if short:
    bad.append("pass rows without their image rows: %s" % short[:5])
if exit_code != "0":
    bad.append("flashd exit %s" % exit_code)
print("checks: " + ("no row lost, none running, all finished units passed with their image rows" if not bad else "; ".join(bad)))
sys.exit(1 if bad else 0)
EOF
