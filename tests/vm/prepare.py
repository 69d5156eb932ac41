#!/usr/bin/env python3
"""Host side of the system test: everything the guest needs that is data.

usage: prepare.py ROOT BUILD_DIR

Writes into the VM's root file system (ROOT):
  etc/flashd/flashd.conf, etc/flashd/recipes/*.json + images/  the station
  opt/flashd-systest/scenarios/*.json   usbip-sim scenarios, one per case
  opt/flashd-systest/want/<id>.<mem>.bin  each board's memory as it must be
                                           after flashing (byte for byte)
  opt/flashd-systest/expect/*.txt       rows the database must hold
The untouched memories (GPT, random NOR fill ...) come from a flashsim run of
the same boards on the host: the models are the same code in both tiers.
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT, BUILD = sys.argv[1], sys.argv[2]
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from expected_memory import IMX_BLANK_PARTS, MEMORY, T31_PARTS, expected, expected_imx_blank, family_of  # noqa: E402
ETC = os.path.join(ROOT, "etc/flashd")
REC = os.path.join(ETC, "recipes")
IMG = os.path.join(REC, "images")
OPT = os.path.join(ROOT, "opt/flashd-systest")
# Under TCG everything is ~10x slower than on the host: the modelled device
# time stays small next to it, except for the board the kill case catches.
SCALE = 0.05

rng = random.Random(20261120)
hexs = lambda n: "".join(rng.choice("0123456789abcdef") for _ in range(n))


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def rd(path):
    with open(path, "rb") as f:
        return f.read()


def img(name):
    return {"file": "images/" + name, "sha256": hashlib.sha256(rd(os.path.join(IMG, name))).hexdigest()}


# ---- images ------------------------------------------------------------------
os.makedirs(os.path.join(IMG, "imx"), exist_ok=True)
os.makedirs(os.path.join(IMG, "ingenic"), exist_ok=True)
for fx, sub in (("imx", "imx"), ("ingenic", "ingenic")):
    subprocess.run([sys.executable, os.path.join(TOP, "tests/fixtures", fx, "mkfixtures.py"),
                    os.path.join(IMG, sub)], check=True, stdout=subprocess.DEVNULL)
for name, size in (("f4-boot.bin", 24576), ("f4-app.bin", 81920), ("f4-app-v2.bin", 65536),
                   ("imx/boot.img", 300000), ("ingenic/uboot.bin", 150000),
                   ("ingenic/kernel.bin", 700000), ("ingenic/rootfs.bin", 1300000)):
    write(os.path.join(IMG, name), rng.randbytes(size))
# Fixtures the recipes do not use stay out of the image.
for junk in ("imx/big.img", "imx/u-boot-bad-ivt.imx", "imx/u-boot-other.imx"):
    os.remove(os.path.join(IMG, junk))

# ---- recipes (match by VID/PID: vhci's ports are flat, 1-1 ... 1-15) --------


def stm32_recipe(name, app, vid="0483", pid="df11"):
    return {"name": name, "match": {"vid": vid, "pid": pid},
            "serial": {"source": "usb_serial"},
            "stages": [
                {"op": "dfuse.read_uid", "address": "0x1fff7a10"},
                dict(op="dfuse.download", name="boot", address="0x08000000", erase="pages",
                     verify="readback", **img("f4-boot.bin")),
                dict(op="dfuse.download", name="app", address="0x08020000", erase="pages",
                     verify="readback", **img(app)),
                {"op": "dfuse.leave", "address": "0x08000000"}]}


def imx_recipe(name, pid, uboot):
    return {"name": name, "match": {"vid": "15a2", "pid": pid},
            "serial": {"source": "fastboot_getvar", "var": "serialno"},
            "stages": [
                dict(op="sdp.boot", **img("imx/" + uboot)),
                {"op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 30000},
                {"op": "fastboot.getvar", "var": "serialno"},
                dict(op="fastboot.flash", name="rootfs", partition="rootfs", sparse="auto",
                     max_download=8192, **img("imx/rootfs.simg")),
                dict(op="fastboot.flash", name="boot", partition="boot", **img("imx/boot.img")),
                dict(op="fastboot.flash", name="bootloader", offset="0x400", verify="crc32",
                     **img("imx/raw-env.img")),
                {"op": "fastboot.continue"}]}


t31 = {"name": "t31-line", "match": {"vid": "a108", "pid": "c309"},
       "serial": {"source": "ingenic_efuse"}, "jedec": ["ef4018", "ef7018"],
       "stages": [
           {"op": "ingenic.boot", "soc": "t31", "ginfo": img("ingenic/ginfo.bin"),
            "spl": img("ingenic/spl.bin"), "burner": img("ingenic/burner.bin")},
           {"op": "ingenic.check_jedec"},
           {"op": "ingenic.config", "flash": "sfc_nor", "erase": "partition", "partitions": [
               {"name": n, "offset": hex(o), "size": hex(s)} for n, o, s in T31_PARTS]}] +
       [dict(op="ingenic.write", name=n, partition=n, **img("ingenic/%s.bin" % n)) for n, _, _ in T31_PARTS] +
       [{"op": "ingenic.reboot"}]}
t31["stages"][-2]["verify"] = "readback"

recipes = {
    "stm32.json": stm32_recipe("stm32-line", "f4-app.bin"),
    "imx6q.json": imx_recipe("imx6q-line", "0054", "u-boot-imx6q.imx"),
    "imx6ull.json": imx_recipe("imx6ull-line", "0080", "u-boot-imx6ul.imx"),
    "t31.json": t31,
    # A clone part whose IDs a recipe names but no udev rule covers: flashd
    # wants it, the unprivileged service cannot open it.
    "clone.json": stm32_recipe("clone-line", "f4-app.bin", vid="1209", pid="df11"),
}


# A factory-fresh i.MX6Q on slot 1-13 (the exact port beats imx6q-line's
# any-port match): its eMMC has no partition table.  flashd writes the GPT it
# builds for the unit, the partitions by name, then U-Boot to boot0 and
# boots from there.  U-Boot stays on boot0 after flashing it (fb_mmc.c
# fb_mmc_boot_ops()): "mmc dev 0" selects the user area again.
def imx_blank_recipe(name, disk_size):
    parts = [{"name": n, "offset": hex(o), "size": hex(s) if s else "-", "type": t}
             for n, o, s, t in IMX_BLANK_PARTS]
    return {"name": name, "match": {"vid": "15a2", "pid": "0054", "ports": ["1-13"]},
            "serial": {"source": "fastboot_getvar", "var": "serialno"},
            "stages": [
                dict(op="sdp.boot", **img("imx/u-boot-imx6q.imx")),
                {"op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 30000},
                {"op": "fastboot.getvar", "var": "serialno"},
                {"op": "fastboot.gpt", "name": "table", "disk_size": disk_size, "partitions": parts},
                dict(op="fastboot.flash", name="rootfs", partition="rootfs", sparse="auto",
                     max_download=8192, **img("imx/rootfs.simg")),
                dict(op="fastboot.flash", name="boot", partition="boot", **img("imx/boot.img")),
                dict(op="fastboot.flash", name="bootloader", partition="mmc0boot0",
                     **img("imx/u-boot-imx6q.boot0")),
                {"op": "fastboot.oem", "name": "bootpart", "command": "partconf:1 1"},
                {"op": "fastboot.ucmd", "name": "userarea", "command": "mmc dev 0"},
                {"op": "fastboot.continue"}]}


BLANK_EMMC_MIB = 8
recipes["imx6q-blank.json"] = imx_blank_recipe("imx6q-blank", BLANK_EMMC_MIB << 20)
for f, r in recipes.items():
    write(os.path.join(REC, f), json.dumps(r, indent=1) + "\n")
# The reload case swaps this in while flashd runs.
write(os.path.join(OPT, "stm32-v2.json"), json.dumps(stm32_recipe("stm32-line-v2", "f4-app-v2.bin"), indent=1) + "\n")

write(os.path.join(ETC, "flashd.conf"), """# System-test station (tests/vm/prepare.py)
station = vm-line
recipe_dir = /etc/flashd/recipes
database = /var/lib/flashd/flashd.db
allow_ports = 1-*
max_jobs = 16
grace_sec = 20
slot.1-1 = A1
slot.1-2 = A2
""")

# ---- boards and scenarios -----------------------------------------------------


def stm32(bid, port, serial, **kw):
    return dict(id=bid, type="stm32f405-dfuse", port=port, serial=serial, uid=hexs(24), uid_readable=1, **kw)


def imx(bid, port, soc, **kw):
    return dict(id=bid, type=soc + "-sdp", port=port, uid=hexs(16), emmc_mib=8, ddr_mib=256,
                partitions="env:512,boot:1024,rootfs:-", **kw)


def ingenic(bid, port, flash, **kw):
    return dict(id=bid, type="ingenic-t31", port=port, uid=hexs(32), flash=flash, flash_mib=4,
                fill="random:%d" % rng.randint(1, 1000), **kw)


s8 = [stm32("s1", "1-1", "VMF4SN0001"), stm32("s2", "1-2", "VMF4SN0002"), stm32("s3", "1-3", "VMF4SN0003"),
      imx("m1", "1-4", "imx6q"), imx("m2", "1-5", "imx6ull"), imx("m3", "1-6", "imx6q"),
      ingenic("g1", "1-7", "w25q128jv"), ingenic("g2", "1-8", "w25q128jv-m")]
for i, b in enumerate(s8):
    b["plug_ms"] = i * 400
scenarios = {
    "boards8": s8,
    # Pulled after 60 kB of 'app', plugged back in 20 s later: a fresh ROM.
    "unplug": [stm32("u1", "1-9", "VMF4SN0009", plug_ms=0, replug_ms=20000,
                     faults=[{"kind": "unplug", "after_bytes": 60000}])],
    # Slow enough (NOR programming at 20x the datasheet time: the kernel and
    # rootfs writes took ~1.1 s at 3x in the VM, and the test polls every
    # 0.5 s) that the kill lands mid-write even when the VM runs several
    # times slower or faster than usual.
    "kill": [ingenic("k1", "1-10", "w25q128jv", plug_ms=0, **{"timing.scale": 20.0})],
    "reload": [stm32("r1", "1-11", "VMF4SN0011", plug_ms=0)],
    "norule": [stm32("n1", "1-12", "VMF4SN0012", plug_ms=0, **{"usb.vid": "1209"})],
    "blank": [dict(imx("x1", "1-13", "imx6q", plug_ms=0), partitions="none", emmc_mib=BLANK_EMMC_MIB)],
}
for name, boards in scenarios.items():
    write(os.path.join(OPT, "scenarios", name + ".json"),
          json.dumps({"time_scale": SCALE, "boards": boards}, indent=1) + "\n")

# ---- expected memories -----------------------------------------------------------
flashsim = os.path.join(BUILD, "flashsim")
tmp = tempfile.mkdtemp()
want_boards = s8 + scenarios["unplug"] + scenarios["reload"] + scenarios["blank"]
ref = [{k: v for k, v in b.items() if k not in ("faults", "plug_ms", "replug_ms")} for b in want_boards]
# flashsim's ports are hub paths; the untouched memories do not depend on them.
for i, b in enumerate(ref):
    b["port"] = "1-1.%d" % (i + 1)
write(os.path.join(tmp, "ref.json"), json.dumps({"time_scale": 0.001, "boards": ref}))
r = subprocess.run([flashsim, "--scenario", os.path.join(tmp, "ref.json"), "--dump-dir",
                    os.path.join(tmp, "ref"), "--", "true"], capture_output=True, text=True)
if r.returncode != 0:
    sys.exit("prepare.py: flashsim reference run failed: " + r.stderr[-500:])


def blank_serial(b):
    return b["uid"][8:] + b["uid"][:8]  # U-Boot's serial#: OCOTP 0x410 then 0x420


for b in scenarios["blank"]:
    ref = rd(os.path.join(tmp, "ref", "%s.emmc.bin" % b["id"]))
    write(os.path.join(OPT, "want", "%s.emmc.bin" % b["id"]),
          expected_imx_blank(ref, IMG, blank_serial(b), "imx6q-blank"))
    boot0 = bytearray(rd(os.path.join(tmp, "ref", "%s.emmc_boot0.bin" % b["id"])))
    u = rd(os.path.join(IMG, "imx/u-boot-imx6q.boot0"))
    boot0[:len(u)] = u
    write(os.path.join(OPT, "want", "%s.emmc_boot0.bin" % b["id"]), bytes(boot0))
for b in want_boards:
    if b in scenarios["blank"]:
        continue
    fam = family_of(b["type"])
    mem = MEMORY[fam]
    ref = rd(os.path.join(tmp, "ref", "%s.%s.bin" % (b["id"], mem)))
    app = "f4-app-v2.bin" if b["id"] == "r1" else "f4-app.bin"
    write(os.path.join(OPT, "want", "%s.%s.bin" % (b["id"], mem)), expected(fam, ref, IMG, app))
shutil.rmtree(tmp)

# ---- expected rows: port|result|serial|chip_uid|jedec|recipe -------------------


def row(b, recipe):
    fam = b["type"].split("-")[0]
    if fam == "stm32f405":
        serial, uid, jedec = b["serial"], b["uid"].upper(), ""
    elif fam.startswith("imx"):
        serial, uid, jedec = b["uid"][8:] + b["uid"][:8], b["uid"].upper(), ""
    else:
        serial = uid = b["uid"].upper()
        jedec = "ef4018" if b["flash"] == "w25q128jv" else "ef7018"
    return "%s|pass|%s|%s|%s|%s" % (b["port"], serial, uid, jedec, recipe)


rec_of = {"stm32f405-dfuse": "stm32-line", "imx6q-sdp": "imx6q-line", "imx6ull-sdp": "imx6ull-line",
          "ingenic-t31": "t31-line"}
write(os.path.join(OPT, "expect/boards8.txt"), "".join(row(b, rec_of[b["type"]]) + "\n" for b in s8))
write(os.path.join(OPT, "expect/serials.txt"), "".join(row(b, "")[len(b["port"]) + 6:].split("|")[0] + "\n" for b in s8))
write(os.path.join(OPT, "expect/blank.txt"),
      "".join(row(b, "imx6q-blank") + "\n" for b in scenarios["blank"]))

# ---- pool: an STM32L476 whose recipe draws a serial and two MACs from pools ----
# The example recipe jobs/recipes/stm32-l476-identity.json on its own port
# (exact port beats the any-port stm32-line); the guest creates the pools
# with `flashctl pool create` before the board arrives.
POOL_REC = os.path.join(TOP, "jobs/recipes")
pool_recipe = json.load(open(os.path.join(POOL_REC, "stm32-l476-identity.json")))
pool_recipe["name"] = "stm32-l476-pool"
pool_recipe["match"]["ports"] = ["1-14"]
for st in pool_recipe["stages"]:
    if "file" in st:
        shutil.copy(os.path.join(POOL_REC, st["file"]), os.path.join(REC, st["file"]))
write(os.path.join(REC, "stm32-l476-pool.json"), json.dumps(pool_recipe, indent=1) + "\n")
write(os.path.join(OPT, "scenarios", "pool.json"),
      json.dumps({"time_scale": SCALE, "boards": [dict(id="p1", type="stm32l476-dfuse", port="1-14",
                                                       serial="VML4SN0014", plug_ms=0)]}, indent=1) + "\n")
