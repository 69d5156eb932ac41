#!/usr/bin/env bash
# End-to-end test of flashd under flashsim with all three board families at
# once: 24 boards (8 STM32 DfuSe, 8 i.MX6 SDP -> fastboot, 8 Ingenic T31)
# plugged at (seeded) random times.  Every good board must be flashed byte
# for byte (STM32 flash, i.MX eMMC, Ingenic NOR, each compared with what the
# images make of the board's untouched memory) and get exactly one 'pass'
# row with its serial, chip UID, JEDEC (Ingenic) and image CRCs.  Faults are
# mixed in: unplug mid-write (one board of each family), a chunk corrupted
# on the way (Ingenic CRC mismatch), the wrong SPI-NOR chip (Ingenic), an
# i.MX whose U-Boot never re-enumerates (power-cycled after the failure, and
# once while the failing job still waits).  Each must end as a 'fail' row
# with the stage and a message that names the reason, and its port must
# serve the next board (replug_ms: a power cycle = a fresh board on the same
# port).  Runtime ~20 s (default build), ~25 s (SANITIZE=1) on 2 cores.
# No board may see a forbidden (eFuse) request; no row may stay 'running'.
# SEED=N overrides the plug-time seed.
. "$(dirname "$0")/../lib/testlib.sh"
seed=${SEED:-20261121}
if [ ! -x "$sim" ] || [ ! -x "$build/flashd" ] || [ ! -f "$top/tests/sim/boards/imx_sdp.c" ] ||
	[ ! -f "$top/tests/sim/boards/ingenic.c" ] || ! command -v python3 >/dev/null ||
	! command -v sqlite3 >/dev/null; then
	echo "ok - flashd_families_sim # SKIP flashsim, flashd, board models, python3 or sqlite3 missing"
	exit 0
fi
t_start=$(date +%s.%N)


# ---- images and recipes (one directory: paths may not escape it) ------------
R=$tmp/recipes
I=$R/images
mkdir -p "$I/imx" "$I/ingenic"
if ! python3 "$top/tests/fixtures/imx/mkfixtures.py" "$I/imx" >/dev/null ||
	! python3 "$top/tests/fixtures/ingenic/mkfixtures.py" "$I/ingenic" >/dev/null; then
	nok flashd_families_fixtures
	exit 1
fi
head -c 24576 /dev/urandom >"$I/f4-boot.bin"
head -c 81920 /dev/urandom >"$I/f4-app.bin"
head -c 300000 /dev/urandom >"$I/imx/boot.img"
head -c 150000 /dev/urandom >"$I/ingenic/uboot.bin"
head -c 700000 /dev/urandom >"$I/ingenic/kernel.bin"
head -c 1300000 /dev/urandom >"$I/ingenic/rootfs.bin"
img() { echo "\"file\": \"images/$1\", \"sha256\": \"$(sha "$I/$1")\""; }

cat >"$R/stm32.json" <<EOF
{ "name": "stm32-line", "match": { "vid": "0483", "pid": "df11", "ports": ["1-1.*"] },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.read_uid", "address": "0x1fff7a10" },
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", $(img f4-boot.bin), "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "app", "address": "0x08020000", $(img f4-app.bin), "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
# i.MX: partition flashes first (the raw write at 0x400 overwrites the GPT's
# partition entries), then the boot image at 0x400 with a device CRC;
# 'continue' leaves the board in U-Boot (fastboot.reboot would bring the ROM
# back and flashd would start over: see the report).
imx_recipe() { # NAME PID UBOOT [PORT AWAIT_MS]
	cat >"$R/$1.json" <<EOF
{ "name": "$1", "match": { "vid": "15a2", "pid": "$2", "ports": ["${4:-1-2.*}"] },
  "serial": { "source": "fastboot_getvar", "var": "serialno" },
  "stages": [
    { "op": "sdp.boot", $(img "imx/$3") },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": ${5:-3000} },
    { "op": "fastboot.getvar", "var": "serialno" },
    { "op": "fastboot.flash", "name": "rootfs", "partition": "rootfs", $(img imx/rootfs.simg), "sparse": "auto", "max_download": 8192 },
    { "op": "fastboot.flash", "name": "boot", "partition": "boot", $(img imx/boot.img) },
    { "op": "fastboot.flash", "name": "bootloader", "offset": "0x400", $(img imx/raw-env.img), "verify": "crc32" },
    { "op": "fastboot.continue" } ] }
EOF
}
imx_recipe imx6q-line 0054 u-boot-imx6q.imx
imx_recipe imx6ull-line 0080 u-boot-imx6ul.imx
# Slot 1-2.8 (exact port: beats the glob) waits 12 s for U-Boot: its board is
# power-cycled while the job still waits (below).
imx_recipe imx6ull-slot8 0080 u-boot-imx6ul.imx 1-2.8 12000
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

# ---- scenario: 24 boards, seeded plug times and identities, faults ----------
# Also writes boards.json: per board what the database must say.
python3 - "$seed" "$tmp/scenario.json" "$tmp/ref.json" "$tmp/boards.json" <<'EOF'
import json, random, sys
seed, out, ref, meta = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
random.seed(seed)
hexs = lambda n: "".join(random.choice("0123456789abcdef") for _ in range(n))
boards, expect = [], []
for i in range(8):   # STM32F405 DfuSe ROM; UID readable so chip_uid is recorded
    uid = hexs(24)
    boards.append({"id": "s%d" % i, "type": "stm32f405-dfuse", "port": "1-1.%d" % (i + 1),
                   "serial": "F4SN%04d" % (100 + i), "uid": uid, "uid_readable": 1})
    expect.append({"family": "stm32", "serial": "F4SN%04d" % (100 + i), "chip_uid": uid.upper(),
                   "jedec": ""})
for i in range(8):   # i.MX6Q and i.MX6ULL: SDP ROM, then U-Boot fastboot on the same port
    uid = hexs(16)
    t = "imx6q-sdp" if i % 2 == 0 else "imx6ull-sdp"
    boards.append({"id": "m%d" % i, "type": t, "port": "1-2.%d" % (i + 1), "uid": uid,
                   "emmc_mib": 8, "ddr_mib": 256, "partitions": "env:512,boot:1024,rootfs:-"})
    # fastboot serial# = %08x%08x of OCOTP 0x410 then 0x420; chip_uid = 0x420:0x410
    expect.append({"family": "imx", "soc": t[:-4], "serial": uid[8:] + uid[:8],
                   "chip_uid": uid.upper(), "jedec": ""})
for i in range(8):   # Ingenic T31 with two accepted NOR parts, 4 MiB, random fill
    uid = hexs(32)
    flash = "w25q128jv" if i % 2 == 0 else "w25q128jv-m"
    boards.append({"id": "g%d" % i, "type": "ingenic-t31", "port": "1-3.%d" % (i + 1), "uid": uid,
                   "flash": flash, "flash_mib": 4, "fill": "random:%d" % (i + 7)})
    expect.append({"family": "ingenic", "serial": uid.upper(), "chip_uid": uid.upper(),
                   "jedec": "ef4018" if i % 2 == 0 else "ef7018"})
for b in boards:
    b["plug_ms"] = random.randint(0, 4000)
# Faults.  Every faulted board is power-cycled later (replug_ms without
# unplug_ms): a fresh board on the same port, the fault spent (count 1).
# The power cycle must come after the failure: under ASan with 24 boards an
# i.MX sdp.boot alone takes up to ~4.5 s, hence the wide margins.
def fault(idx, f, replug_after, kind):
    boards[idx]["faults"] = [f]
    boards[idx]["replug_ms"] = boards[idx]["plug_ms"] + replug_after
    expect[idx]["fault"] = kind
fault(3, {"kind": "unplug", "after_bytes": 60000}, 9000, "unplug")             # STM32, in 'app'
# i.MX 6Q: the 9th download bulk transfer is raw-env.img's (rootfs.simg in 6
# pieces of <= 8 KiB, boot.img in two: its whole 512-byte packets straight
# from the image, then its 480-byte tail from the bounce buffer; one URB
# each: the rig reports BULK_SCATTER_GATHER as xHCI does).
fault(8 + 2, {"kind": "unplug", "step": "fb_download", "skip": 8}, 9000, "unplug")
fault(8 + 5, {"kind": "unplug", "step": "uboot_boot"}, 12000, "noreenum")      # i.MX 6ULL
# The same on 1-2.8, but the power cycle comes while the job still waits
# (await 12 s, starts within ~5 s of plug-in): the fresh ROM arrives during
# the failing job and must still be flashed once that job has failed.
fault(8 + 7, {"kind": "unplug", "step": "uboot_boot"}, 7000, "noreenum")
expect[8 + 7]["recipe"] = "imx6ull-slot8"
fault(16 + 1, {"kind": "unplug", "after_bytes": 1100000}, 9000, "unplug")     # T31, in 'kernel'
fault(16 + 4, {"kind": "corrupt_download", "step": "write", "skip": 3}, 9000, "crc")  # T31
# The wrong chip stays wrong after a power cycle: two 'fail' rows.
boards[16 + 6]["flash"] = "xm25qh128a"
boards[16 + 6]["replug_ms"] = boards[16 + 6]["plug_ms"] + 9000
expect[16 + 6]["fault"] = "jedec"
expect[16 + 6]["jedec"] = "207018"
for b, e in zip(boards, expect):
    e.update({"id": b["id"], "type": b["type"], "port": b["port"]})
json.dump({"time_scale": 0.01, "boards": boards}, open(out, "w"), indent=1)
# Reference run: the same boards, untouched (GPT, random NOR fill ...).
refb = [{k: v for k, v in b.items() if k not in ("faults", "plug_ms", "replug_ms")} for b in boards]
json.dump({"time_scale": 0.01, "boards": refb}, open(ref, "w"), indent=1)
json.dump(expect, open(meta, "w"), indent=1)
EOF
[ -s "$tmp/scenario.json" ] || { nok flashd_families_scenario; exit 1; }

cat >"$tmp/flashd.conf" <<EOF
station = families-line
allow_ports = 1-1.* 1-2.* 1-3.*
grace_sec = 10
max_jobs = 32
EOF

# The program flashsim runs: flashd, wait for N finished rows, settle (a
# board flashed twice would show up as an extra row), status, SIGTERM.
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
dir=$1 rows=$2
B=$FLASHD_BUILD
"$B/flashd" --config "$dir/flashd.conf" --recipes "$dir/recipes" --db "$dir/f.db" --control "$dir/ctl" \
	--deadline-pct 20 --log-stderr 2>>"$dir/flashd.log" &
pid=$!
n() { sqlite3 "$dir/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
for _ in $(seq 1800); do [ "$(n)" -ge "$rows" ] && break; sleep 0.05; done
sleep 1
"$B/flashctl" status --socket "$dir/ctl" --json >"$dir/status.json" 2>&1
kill -TERM "$pid"
wait "$pid"
echo "$?" >"$dir/exit"
EOF
chmod +x "$tmp/driver.sh"

# Untouched memories first, then the station run.
timeout 60 "$sim" --scenario "$tmp/ref.json" --dump-dir "$tmp/ref" -- true >"$tmp/ref.log" 2>&1 ||
	{ nok flashd_families_reference_run "$(tail -3 "$tmp/ref.log")"; exit 1; }
# 24 boards + 7 power-cycled: 23 pass, 8 fail.
want_rows=31
t_run=$(date +%s.%N)
timeout 240 "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/out" -- \
	"$tmp/driver.sh" "$tmp" "$want_rows" >"$tmp/sim.log" 2>&1
rc=$?
run_s=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t_run" "$(date +%s.%N)")
db=$tmp/f.db
check "families_station_runs_and_exits_0_on_sigterm" \
	"$([ "$rc" = 0 ] && [ "$(cat "$tmp/exit" 2>/dev/null)" = 0 ] && echo 0 || echo 1)" \
	"flashsim rc=$rc flashd exit=$(cat "$tmp/exit" 2>/dev/null)" "$(tail -3 "$tmp/sim.log")" "$(tail -3 "$tmp/flashd.log")"
n=$(grep -c "Recipe '.*' loaded" "$tmp/flashd.log")
check "families_five_recipes_loaded" "$([ "$n" = 5 ] && ! grep -q "Recipe refused" "$tmp/flashd.log" && echo 0 || echo 1)" \
	"$(grep -i recipe "$tmp/flashd.log" | head -5)"

# ---- byte-exact memories ------------------------------------------------------
python3 - "$tmp/boards.json" "$tmp/ref" "$tmp/out" "$I" "$top/tests/lib" >"$tmp/bytes.txt" 2>&1 <<'EOF'
import json, os, sys
meta, refd, outd, imgd = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
sys.path.insert(0, sys.argv[5])
from expected_memory import MEMORY, expected
rd = lambda p: open(p, "rb").read()
bad = []
for b in meta:
    mem = MEMORY[b["family"]]
    got_p, ref_p = "%s/%s.%s.bin" % (outd, b["id"], mem), "%s/%s.%s.bin" % (refd, b["id"], mem)
    if not os.path.exists(got_p) or not os.path.exists(ref_p):
        bad.append("%s: no dump" % b["id"])
        continue
    ref = rd(ref_p)
    # A wrong JEDEC ID: nothing may be written.
    want = ref if b.get("fault") == "jedec" else expected(b["family"], ref, imgd)
    got = rd(got_p)
    if got != want:
        first = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]), None)
        bad.append("%s (%s): differs, first at %s, sizes %d/%d" % (b["id"], b["port"],
                   hex(first) if first is not None else "-", len(got), len(want)))
    elif got == ref and b.get("fault") != "jedec":
        bad.append("%s: untouched" % b["id"])
print("\n".join(bad) if bad else "all-equal")
EOF
check "families_every_good_board_flashed_byte_exact_wrong_chip_untouched" \
	"$([ "$(cat "$tmp/bytes.txt")" = all-equal ] && echo 0 || echo 1)" "$(head -8 "$tmp/bytes.txt")"

# ---- rows ---------------------------------------------------------------------
# Expected pass rows: one per board but the wrong chip: serial|chip_uid|jedec|recipe|port.
python3 - "$tmp/boards.json" >"$tmp/want-pass.txt" <<'EOF'
import json, sys
rec = {"stm32": "stm32-line", "ingenic": "t31-line"}
for b in sorted(json.load(open(sys.argv[1])), key=lambda b: b["port"]):
    if b.get("fault") == "jedec":
        continue
    r = b.get("recipe") or rec.get(b["family"]) or (b["soc"] + "-line")
    print("%s|%s|%s|%s|%s" % (b["serial"], b["chip_uid"], b["jedec"], r, b["port"]))
EOF
q "$db" "SELECT serial, chip_uid, ifnull(jedec_id, ''), recipe, port FROM units
	WHERE result = 'pass' AND station = 'families-line' AND failed_stage IS NULL AND error IS NULL
	ORDER BY port, id" >"$tmp/got-pass.txt"
check "families_one_pass_row_per_board_with_serial_uid_jedec" \
	"$(cmp -s "$tmp/want-pass.txt" "$tmp/got-pass.txt" && echo 0 || echo 1)" \
	"$(diff "$tmp/want-pass.txt" "$tmp/got-pass.txt" | head -8)"
n=$(q "$db" "SELECT count(*) || ' ' || sum(result = 'pass') || ' ' || sum(result = 'fail') FROM units")
check "families_exact_row_counts_31_rows_23_pass_8_fail" "$([ "$n" = "31 23 8" ] && echo 0 || echo 1)" \
	"rows/pass/fail: $n" "$(q "$db" "SELECT port, result, failed_stage, error FROM units WHERE result != 'pass'")"

# Image rows of every pass unit: stage|target|size|sha|host crc|device crc|verified.
python3 - "$tmp/boards.json" "$I" >"$tmp/want-img.txt" <<'EOF'
import hashlib, json, sys, zlib
meta, d = json.load(open(sys.argv[1])), sys.argv[2]
def im(stage, target, f, dev, ver):
    data = open(d + "/" + f, "rb").read()
    c = zlib.crc32(data)
    return "%s|%s|%d|%s|%d|%s|%d" % (stage, target, len(data), hashlib.sha256(data).hexdigest(), c,
                                     str(c) if dev else "-", ver)
def run(target, f, expanded, at, n):
    # A verify row of a run of a sparse image: its file, the CRCs of the run.
    data = open(d + "/" + f, "rb").read()
    c = zlib.crc32(open(d + "/" + expanded, "rb").read()[at:at + n])
    return "verify|%s|%d|%s|%d|%d|1" % (target, len(data), hashlib.sha256(data).hexdigest(), c, c)
for b in sorted(meta, key=lambda b: b["port"]):
    if b.get("fault") == "jedec":
        continue
    if b["family"] == "stm32":
        rows = [im("boot", "alt0:0x08000000", "f4-boot.bin", 1, 1),
                im("app", "alt0:0x08020000", "f4-app.bin", 1, 1),
                im("verify", "alt0:0x08000000", "f4-boot.bin", 1, 1),
                im("verify", "alt0:0x08020000", "f4-app.bin", 1, 1)]
    elif b["family"] == "imx":
        q = b["soc"] == "imx6q"
        rows = [im("sdp.boot", "ram:0x177ff400" if q else "ram:0x877ff400",
                   "imx/u-boot-imx6q.imx" if q else "imx/u-boot-imx6ul.imx", 0, 0),
                im("rootfs", "rootfs", "imx/rootfs.simg", 0, 0),
                im("boot", "boot", "imx/boot.img", 0, 0),
                im("bootloader", "0x400", "imx/raw-env.img", 1, 1),
                # Whole-unit verification: partitions by name too (U-Boot's
                # part start), a sparse image as its RAW/FILL runs.
                run("rootfs+0x0..0x5000", "imx/rootfs.simg", "imx/rootfs.expanded", 0, 0x5000),
                run("rootfs+0xa000..0x10000", "imx/rootfs.simg", "imx/rootfs.expanded", 0xa000, 0x6000),
                im("verify", "boot", "imx/boot.img", 1, 1),
                im("verify", "0x400", "imx/raw-env.img", 1, 1)]
    else:
        rows = [im("uboot", "nor:uboot@0x00000000", "ingenic/uboot.bin", 0, 1),
                im("kernel", "nor:kernel@0x00040000", "ingenic/kernel.bin", 0, 1),
                im("rootfs", "nor:rootfs@0x002c0000", "ingenic/rootfs.bin", 1, 1),
                im("verify", "nor:uboot@0x00000000", "ingenic/uboot.bin", 1, 1),
                im("verify", "nor:kernel@0x00040000", "ingenic/kernel.bin", 1, 1),
                im("verify", "nor:rootfs@0x002c0000", "ingenic/rootfs.bin", 1, 1)]
    for r in rows:
        print(b["port"] + "|" + r)
EOF
q "$db" "SELECT u.port, i.stage, i.target, i.size, i.sha256, i.host_crc32, ifnull(i.device_crc32, '-'), i.verified
	FROM unit_images i JOIN units u ON u.id = i.unit_id WHERE u.result = 'pass' ORDER BY u.port, i.id" >"$tmp/got-img.txt"
check "families_pass_rows_carry_image_sha_and_crcs" \
	"$(cmp -s "$tmp/want-img.txt" "$tmp/got-img.txt" && echo 0 || echo 1)" \
	"$(diff "$tmp/want-img.txt" "$tmp/got-img.txt" | head -8)"

# ---- faults: fail row with stage and reason, then the port serves the next --
port_of() { python3 -c 'import json,sys; print(next(b["port"] for b in json.load(open(sys.argv[1])) if b["id"] == sys.argv[2]))' "$tmp/boards.json" "$1"; }
hist() { q "$db" "SELECT group_concat(result || ':' || ifnull(failed_stage, ''), ' ') FROM (SELECT * FROM units WHERE port = '$1' ORDER BY id)"; }
err1() { q "$db" "SELECT error FROM units WHERE port = '$1' AND result = 'fail' ORDER BY id LIMIT 1"; }
fault_case() { # NAME BOARD-ID WANT-HISTORY ERROR-GLOB
	local p h e
	p=$(port_of "$2")
	h=$(hist "$p")
	e=$(err1 "$p")
	# shellcheck disable=SC2053
	check "$1" "$([ "$h" = "$3" ] && [[ $e == $4 ]] && echo 0 || echo 1)" "port $p: $h" "error: $e" "want: $3 / $4"
}
fault_case families_stm32_unplug_mid_write_fails_in_app_then_port_serves_next s3 \
	"fail:app pass:" "write 0x08028800: DNLOAD block 19: No such device*"
# raw-env.img (512 KiB) goes out as one bulk write, one URB: the unplug must
# be named as such and the offset is where that write began.
fault_case families_imx_unplug_mid_download_fails_then_port_serves_next m2 \
	"fail:bootloader pass:" "download:00080000: data at +0x0: No such device*"
fault_case families_imx_no_reenumeration_fails_in_await_then_port_serves_next m5 \
	"fail:await pass:" "no 0525:a4a5 appeared on port $(port_of m5) within 3000 ms*"
fault_case families_imx_board_power_cycled_during_a_failing_await_is_flashed_next m7 \
	"fail:await pass:" "no 0525:a4a5 appeared on port $(port_of m7) within 12000 ms*"
fault_case families_ingenic_unplug_mid_write_fails_in_kernel_then_port_serves_next g1 \
	"fail:kernel pass:" "write 0x000c0000: data: bulk OUT: No such device*"
fault_case families_ingenic_crc_mismatch_fails_naming_the_offset_then_port_serves_next g4 \
	"fail:kernel pass:" "*write 0x00060000: device CRC check failed*"
p=$(port_of g6)
rows=$(q "$db" "SELECT group_concat(result || '|' || failed_stage || '|' || ifnull(jedec_id, '') || '|' || (error LIKE '%207018 is not one the recipe accepts (ef4018, ef7018)%'), ' ') FROM (SELECT * FROM units WHERE port = '$p' ORDER BY id)")
check "families_ingenic_wrong_jedec_fails_naming_both_ids_on_every_power_cycle" \
	"$([ "$rows" = "fail|ingenic.check_jedec|207018|1 fail|ingenic.check_jedec|207018|1" ] && echo 0 || echo 1)" \
	"port $p: $rows" "error: $(err1 "$p")"

# ---- board side: final states, eFuse requests, faults fired -------------------
python3 - "$tmp/out/summary.json" "$tmp/boards.json" >"$tmp/states.txt" 2>&1 <<'EOF'
import json, sys
s = {b["id"]: b for b in json.load(open(sys.argv[1]))["boards"]}
bad = []
for b in json.load(open(sys.argv[2])):
    got = s.get(b["id"])
    if not got:
        bad.append("%s: not in summary" % b["id"])
        continue
    want = {"stm32": "left@0x08000000", "imx": "u-boot-left", "ingenic": "booted-flash"}[b["family"]]
    if b.get("fault") == "jedec":
        want = "burner"
    if got["state"] != want:
        bad.append("%s: state %s, want %s" % (b["id"], got["state"], want))
    if got["forbidden"] != 0:
        bad.append("%s: forbidden %d" % (b["id"], got["forbidden"]))
    nf = len(got.get("faults_fired", []))
    if nf != (1 if b.get("fault") not in (None, "jedec") else 0):
        bad.append("%s: faults fired %s" % (b["id"], got.get("faults_fired")))
print("\n".join(bad) if bad else "all-good")
EOF
check "families_boards_end_in_their_final_state_no_forbidden_requests" \
	"$([ "$(cat "$tmp/states.txt")" = all-good ] && echo 0 || echo 1)" "$(head -8 "$tmp/states.txt")"

n=$(q "$db" "SELECT count(*) FROM units WHERE result = 'running'")
check "families_no_row_left_running" "$([ "$n" = 0 ] && echo 0 || echo 1)" "running: $n"
check "families_status_lists_all_24_ports" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d["ports"]) == 24 else 1)' "$tmp/status.json" 2>/dev/null && echo 0 || echo 1)" \
	"$(head -c 300 "$tmp/status.json")"
total=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t_start" "$(date +%s.%N)")
echo "# seed $seed: station run ${run_s} s, whole test ${total} s"
