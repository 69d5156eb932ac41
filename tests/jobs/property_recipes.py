#!/usr/bin/env python3
"""Property test of recipes (issue 12, "a pass row is true").

    property_recipes.py --seed S --n N [--families dfuse,ingenic,imx] [--only FAM:K]

From one seed, writes N random recipes per family with random images into a
temporary directory, some valid and some broken on purpose, and knows for
each what flashctl recipe check must say and what the board's memory must
hold afterwards.  Then:

  * flashctl recipe check on every file: a valid recipe must be accepted, a
    broken one refused, every message naming the file and a JSON path
    ("FILE: stages[2].address: ..."), one of them the path the generator
    broke;
  * every accepted recipe runs under flashsim with tests/tools/job-tool on a
    board of its own: exit 0, the unit row 'pass', and the board's memory
    dump equal byte for byte to the plan.

The expected memory is computed here from the recipe alone (the images, the
erase rules of the hardware, the board's untouched memory from a reference
run) and never from flashd code.  Recipe K of family F uses the random
stream seeded with "S:F:K", so --only F:K (or ONLY=F:K in the shell
wrapper) replays one recipe of a failing run.  Output is TAP-like: "ok - "
and "not ok - " lines, "#" comments; the seed is the first line.

Kept out of the generator because recipe check accepts them and every run
fails or the pass row is false (issue 12 findings, not fixed here):
  * Ingenic partitions that are not whole 64 KiB erase units (erase
    "partition" wipes a neighbour's bytes written earlier; the unit passes)
    -- partitions are 64 KiB aligned;
  * fastboot images larger than their GPT partition (every run fails:
    flashd refuses them before writing, naming the partition and both
    sizes; this generator models passing runs only), raw writes into a
    partition or over the GPT (recipe check does not know the disk's GPT;
    whole-unit verification fails such a unit).
"""
import argparse
import hashlib
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from expected_memory import gpt_parts  # noqa: E402

TOP = os.environ.get("FLASHD_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("FLASHD_BUILD") or os.path.join(TOP, "build/default")
KIB = 1024


# --- helpers ----------------------------------------------------------------

def sha(data):
    return hashlib.sha256(data).hexdigest()


def rbytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n)) if n < 64 else rng.randbytes(n)


class Recipe:
    """One generated recipe: its file, the board it runs on, the verdict the
    checker must give and, when valid, the memory plan as a list of ops."""

    def __init__(self, family, idx, dirpath):
        self.family, self.idx, self.dir = family, idx, dirpath
        self.name = "p-%s-%d" % (family, idx)
        self.path = os.path.join(dirpath, self.name + ".json")
        self.board = {}          # scenario keys except id and port
        self.memory = None       # dump name: flash, nor, emmc
        self.valid = True
        self.want_path = None    # JSON path a refusal must name
        self.why = ""            # what was broken on purpose
        self.ops = []            # ("erase", off, len, byte) / ("write", off, data)
        self.images = {}         # file name -> bytes
        self.doc = None
        self.leave_port = False

    def image(self, stem, data):
        name = "img/%s-%s" % (self.name, stem)
        self.images[name] = data
        return name

    def file_keys(self, stem, data, bad_sha=False):
        name = self.image(stem, data)
        digest = sha(data)
        if bad_sha:
            digest = sha(data + b"x")
        return {"file": name, "sha256": digest}

    def leaves(self, timing):
        """The last stage makes the board leave: late, so that no uevent
        meets a job-tool exiting (see run_batch)."""
        self.leave_port = True
        self.board["timing"] = dict(timing)

    def refuse(self, path, why):
        if self.valid:
            self.valid, self.want_path, self.why = False, path, why

    def write(self):
        for name, data in self.images.items():
            with open(os.path.join(self.dir, name), "wb") as f:
                f.write(data)
        with open(self.path, "w") as f:
            json.dump(self.doc, f, indent=1)

    def expected(self, ref):
        mem = bytearray(ref)
        parts = gpt_parts(ref) if any(op[0] in ("pwrite", "perase") for op in self.ops) else {}
        for op in self.ops:
            if op[0] == "pwrite":   # partition-relative: the GPT of the untouched disk
                _, name, off, data = op
                at = parts[name][0] + off
                mem[at:at + len(data)] = data
            elif op[0] == "perase":  # the model's erase: zeroes
                at, n = parts[op[1]]
                mem[at:at + n] = bytes(n)
            elif op[0] == "erase":
                _, off, n, byte = op
                mem[off:off + n] = bytes([byte]) * n
            else:
                _, off, data = op
                mem[off:off + len(data)] = data
        return bytes(mem)


# Device times (ms, scaled by time_scale 0.001) for boards whose recipe ends
# with a stage that makes them leave: off the bus 1 s after the command, back
# (reboot to the ROM) only after the batch.  umockdev 0.17.16 aborts
# ("sendmsg_one: cannot connect to client's event socket") when a client's
# uevent socket vanishes while a uevent goes out, i.e. when a board leaves
# just as job-tool exits; the driver waits for the board to be gone instead.
LEAVE_TIMING = {"dfuse": {"leave_ms": 1000000},
                "ingenic": {"reboot_ms": 1000000, "rom_boot_ms": 1000000},
                "imx": {"leave_ms": 1000000, "rom_boot_ms": 1000000}}


def overlaps(a0, a1, ranges):
    return any(a0 < b1 and b0 < a1 for b0, b1 in ranges)


# --- STM32 DfuSe --------------------------------------------------------------

DFUSE_BASE = 0x08000000
DFUSE_FLASH = 256 * KIB     # flash_kib 256: keeps 200 boards' memories small
F405_SECTORS = [(0, 16 * KIB), (16 * KIB, 16 * KIB), (32 * KIB, 16 * KIB), (48 * KIB, 16 * KIB),
                (64 * KIB, 64 * KIB), (128 * KIB, 128 * KIB)]
L476_SECTORS = [(k * 2 * KIB, 2 * KIB) for k in range(128)]
F405_LAYOUT = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
L476_LAYOUTS = ("@Internal Flash  /0x08000000/0128*0002Kg", "@Internal Flash  /0x08000000/0512*0002Kg")


def dfu_file(elements, vid=0x0483, pid=0xDF11, alt=0):
    """A DfuSe .dfu (UM0391): one target for alt, elements (address, data)."""
    els = b"".join(struct.pack("<II", a, len(d)) + d for a, d in elements)
    tgt = b"Target" + bytes([alt]) + struct.pack("<I", 1) + b"ST...".ljust(255, b"\0")
    tgt += struct.pack("<II", len(els), len(elements)) + els
    body = b"DfuSe\x01" + struct.pack("<I", 11 + len(tgt) + 16) + bytes([1]) + tgt
    body += struct.pack("<HHHH", 0, pid, vid, 0x011A) + b"UFD" + bytes([16])
    return body + struct.pack("<I", ~zlib.crc32(body) & 0xFFFFFFFF)


class DfusePlan:
    """The hardware's view: sectors erased once per job (the job rule), none
    after a mass erase, a sector erase wipes what earlier stages put there."""

    def __init__(self, sectors):
        self.sectors = sectors
        self.erased = set()
        self.mass = False
        self.spans = []          # (stage, start, end) occupied, for overlap rules
        self.bytes_in = {}       # sector index -> set of stages with bytes there

    def sector_of(self, off):
        for k, (s, n) in enumerate(self.sectors):
            if s <= off < s + n:
                return k
        return None

    def touched(self, off, n):
        ks = []
        for k, (s, size) in enumerate(self.sectors):
            if off < s + size and s < off + n:
                ks.append(k)
        return ks

    def erase_sectors(self, ranges):
        """Sectors a pages erase of ranges erases now, and whether that wipes earlier bytes."""
        todo = []
        for off, n in ranges:
            for k in self.touched(off, n):
                if k not in self.erased and k not in todo:
                    todo.append(k)
        if self.mass:
            return [], False
        return todo, any(self.bytes_in.get(k) for k in todo)


def gen_dfuse(rng, r, _ctx):
    l476 = rng.random() < 0.4
    sectors = L476_SECTORS if l476 else F405_SECTORS
    # Any alignment: flashd pads a block to the 8-byte units around it with
    # 0xFF (the L476 programs double-words: errPROG off one).
    unit = rng.choice((1, 1, 4, 8))
    r.board = {"type": "stm32l476-dfuse" if l476 else "stm32f405-dfuse", "flash_kib": 256}
    r.memory = "flash"
    doc = {"name": r.name, "match": {"vid": "0483", "pid": "df11"}, "stages": []}
    if l476:
        doc["dfuse_layout"] = rng.choice(L476_LAYOUTS)
    elif rng.random() < 0.3:
        doc["dfuse_layout"] = F405_LAYOUT
    plan = DfusePlan(sectors)
    boundaries = [s for s, _ in sectors] + [DFUSE_FLASH]
    any_none = False
    stages = doc["stages"]

    def place(size, before=None):
        """An offset for size bytes near a sector boundary or right against an
        earlier stage's bytes, free of every span.  With before, first tries
        to end in the 8-byte unit where before starts."""
        for t in range(40):
            b = rng.choice(boundaries)
            off = b + rng.randint(-3 * KIB, 3 * KIB)
            if before is not None and t < 3:
                off = before - size - rng.randint(0, before % 8)
            elif plan.spans and rng.random() < 0.2:
                # right against it, or a few bytes off: in the 8-byte unit
                # where it starts or ends (the 0xFF pads land there)
                _, s0, e0 = rng.choice(plan.spans)
                gap = rng.choice((0, 0, rng.randint(1, 7)))
                off = rng.choice((s0 - size - gap, e0 + gap))
            off -= off % unit
            off = max(0, min(off, DFUSE_FLASH - size))
            off -= off % unit
            if not overlaps(off, off + size, [(s, e) for _, s, e in plan.spans]):
                return off
        return None

    def add_write_stage(i, erase, verify, want_destroy_flag=True):
        """A raw or .dfu download at a free place; updates plan and ops. False if no room."""
        nonlocal any_none
        is_dfu = rng.random() < 0.25
        if is_dfu:
            elements = []
            n_el = rng.randint(1, 3)
            n_spans = len(plan.spans)
            for _ in range(n_el):
                size = rng.randint(1, 4 * KIB)
                # sometimes the file's next element ends where the last starts
                near = elements[-1][0] if elements and rng.random() < 0.4 else None
                off = place(size, near)
                if off is None:
                    break
                elements.append((off, rbytes(rng, size)))
                plan.spans.append((i, off, off + size))   # provisional, to place the next
            del plan.spans[n_spans:]
            if len(elements) < n_el:
                return False
            lo = min(o for o, _ in elements)
            hi = max(o + len(d) for o, d in elements)
            # recipe check treats a .dfu as the span of its elements (overlap
            # and erase plan); keep elements inside a free span so both agree.
            if overlaps(lo, hi, [(s, e) for _, s, e in plan.spans]):
                return False
            if any(overlaps(o, o + len(d), [(o2, o2 + len(d2)) for o2, d2 in elements if o2 != o])
                   for o, d in elements):
                return False
            # Any file order: flashd writes them in address order, elements
            # sharing an 8-byte unit as one run (0xFF between), so no 0xFF pad
            # lands on another element.
            rng.shuffle(elements)
            ranges = [(o, len(d)) for o, d in elements]
            vid, pid = rng.choice(((0x0483, 0xDF11), (0xFFFF, 0xFFFF)))
            data = dfu_file([(DFUSE_BASE + o, d) for o, d in elements], vid, pid)
            st = {"op": "dfuse.download"}
            if rng.random() < 0.3:
                st["alt"] = 0
            st.update(r.file_keys("s%d.dfu" % i, data))
            span = (lo, hi)
        else:
            size = rng.randint(1, rng.choice((64, 3 * KIB, 6 * KIB)))
            off = place(size)
            if off is None:
                return False
            data = rbytes(rng, size)
            st = {"op": "dfuse.download", "address": "0x%08x" % (DFUSE_BASE + off)}
            st.update(r.file_keys("s%d.bin" % i, data))
            elements, ranges, span = [(off, data)], [(off, size)], (off, off + size)
        if erase != "pages" or rng.random() < 0.3:
            st["erase"] = erase
        if verify != "readback" or rng.random() < 0.3:
            st["verify"] = verify
        # flashd pads the last block to 8 bytes with 0xFF (L4 double-words):
        # over an earlier stage's bytes that fails, and recipe check says so.
        pad_end = (span[1] + 7) // 8 * 8
        if overlaps(span[1], pad_end, [(s, e) for _, s, e in plan.spans]):
            r.refuse("stages[%d]" % i, "0xFF pad of the last block over earlier bytes")
        # Likewise the first block of an address off the unit starts at the
        # unit below with 0xFF: refused over an earlier stage's bytes.
        if overlaps(span[0] // 8 * 8, span[0], [(s, e) for _, s, e in plan.spans]):
            r.refuse("stages[%d]" % i, "0xFF pad of the first block over earlier bytes")
        destroys = False
        if erase == "mass":
            destroys = any(plan.bytes_in.values())
            plan.mass = True
            plan.bytes_in = {}
            r.ops.append(("erase", 0, DFUSE_FLASH, 0xFF))
        elif erase == "pages":
            todo, destroys = plan.erase_sectors(ranges)
            for k in todo:
                s, n = sectors[k]
                r.ops.append(("erase", s, n, 0xFF))
                plan.erased.add(k)
                plan.bytes_in[k] = set()
        else:
            any_none = True
        if destroys and want_destroy_flag:
            st["destroys_earlier"] = True
        elif destroys:
            r.refuse("stages[%d]" % i if erase == "pages" else "stages[%d].erase" % i,
                     "erase destroys earlier bytes without destroys_earlier")
        elif rng.random() < 0.1:
            st["destroys_earlier"] = rng.random() < 0.5
        for o, d in elements:
            r.ops.append(("write", o, d))
            for k in plan.touched(o, len(d)):
                plan.bytes_in.setdefault(k, set()).add(i)
        plan.spans.append((i, span[0], span[1]))
        stages.append(st)
        return True

    def pick_erase(i):
        x = rng.random()
        if x < 0.12 and (i == 0 or rng.random() < 0.5):
            return "mass"
        return "none" if x < 0.32 else "pages"

    n = rng.randint(1, 5)
    for i in range(n):
        if not add_write_stage(len(stages), pick_erase(len(stages)), rng.choice(("readback", "none"))):
            break
    if not stages:
        add_write_stage(0, "pages", "readback")

    # At most one deliberate fault, where the checker must point.
    if r.valid and rng.random() < 0.3:
        kind = rng.choice(("overlap", "destroy", "mass", "alt1", "dfu_address", "bad_sha",
                           "empty", "dfu_elements_overlap", "leave_then", "out_of_layout"))
        i = len(stages)
        if kind == "overlap":
            _, s, e = rng.choice(plan.spans)
            off = rng.randint(s, e - 1)
            off -= off % unit
            off = max(off, 0)
            st = {"op": "dfuse.download", "address": "0x%08x" % (DFUSE_BASE + off),
                  "erase": rng.choice(("pages", "none"))}
            st.update(r.file_keys("s%d.bin" % i, rbytes(rng, max(1, s - off + 1) + rng.randint(0, KIB))))
            stages.append(st)
            r.refuse("stages[%d]" % i, "writes over an earlier stage")
        elif kind == "destroy":
            # an erase-none stage in a sector nobody erased, then a pages stage
            # erasing that sector: refused without destroys_earlier.
            free = [k for k, (s, n) in enumerate(sectors)
                    if k not in plan.erased and not plan.mass and n >= 2 * KIB and
                    not overlaps(s, s + n, [(a, b) for _, a, b in plan.spans])]
            if free:
                k = rng.choice(free)
                s, n = sectors[k]
                a = {"op": "dfuse.download", "address": "0x%08x" % (DFUSE_BASE + s), "erase": "none"}
                a.update(r.file_keys("s%d.bin" % i, rbytes(rng, 512)))
                b = {"op": "dfuse.download", "address": "0x%08x" % (DFUSE_BASE + s + n // 2)}
                b.update(r.file_keys("s%d.bin" % (i + 1), rbytes(rng, 256)))
                stages += [a, b]
                r.refuse("stages[%d]" % (i + 1), "erasing a sector destroys stages[%d]" % i)
        elif kind == "mass" and plan.spans:
            st = {"op": "dfuse.download", "address": "0x%08x" % DFUSE_BASE, "erase": "mass"}
            st.update(r.file_keys("s%d.bin" % i, rbytes(rng, 64)))
            stages.append(st)
            r.refuse("stages[%d]" % i, "mass erase after earlier downloads")
        elif kind == "alt1":
            stages[0]["alt"] = 1
            r.refuse("stages[0].alt", "alt 1 (option bytes)")
        elif kind == "dfu_address":
            data = dfu_file([(DFUSE_BASE + 0x30000, rbytes(rng, 100))])
            st = {"op": "dfuse.download", "address": "0x08030000"}
            st.update(r.file_keys("s%d.dfu" % i, data))
            stages.append(st)
            r.refuse("stages[%d]" % i, ".dfu with an address")
        elif kind == "bad_sha":
            k = rng.randrange(len(stages))
            f = stages[k]["file"]
            stages[k]["sha256"] = sha(r.images[f] + b"!")
            r.refuse("stages[%d].sha256" % k, "sha256 mismatch")
        elif kind == "empty":
            st = {"op": "dfuse.download", "address": "0x0803f000"}
            st.update(r.file_keys("s%d.bin" % i, b""))
            stages.append(st)
            r.refuse("stages[%d].file" % i, "empty image")
        elif kind == "dfu_elements_overlap":
            d = rbytes(rng, 600)
            data = dfu_file([(DFUSE_BASE + 0x3e000, d), (DFUSE_BASE + 0x3e100, d)])
            st = {"op": "dfuse.download"}
            st.update(r.file_keys("s%d.dfu" % i, data))
            stages.append(st)
            r.refuse("stages[%d]" % i, ".dfu elements overlap")
        elif kind == "out_of_layout" and "dfuse_layout" in doc:
            # past the end of the layout the recipe names for alt 0
            end = 0x08040000 if "0128*" in doc["dfuse_layout"] else 0x08100000
            at = end - rng.choice((0, 8, 64))
            d = rbytes(rng, 72 + rng.randint(0, 100))
            if rng.random() < 0.5:
                st = {"op": "dfuse.download"}
                st.update(r.file_keys("s%d.dfu" % i, dfu_file([(at, d)])))
            else:
                st = {"op": "dfuse.download", "address": "0x%08x" % at}
                st.update(r.file_keys("s%d.bin" % i, d))
            stages.append(st)
            r.refuse("stages[%d]" % i, "download outside the dfuse_layout")
        elif kind == "leave_then":
            stages.append({"op": "dfuse.leave", "address": "0x08000000"})
            st = {"op": "dfuse.download", "address": "0x0803f800"}
            st.update(r.file_keys("s%d.bin" % (i + 1), rbytes(rng, 16)))
            stages.append(st)
            r.refuse("stages[%d]" % (i + 1), "stage after the device left")
    if r.valid and rng.random() < 0.08:
        stages.append({"op": "dfuse.leave", "address": "0x08000000"})
        r.leaves(LEAVE_TIMING["dfuse"])
    r.board["fill"] = "erased" if any_none else rng.choice(("erased", "random:3", "random:7"))
    r.doc = doc


# --- Ingenic T31 --------------------------------------------------------------

UNIT64K = 64 * KIB
INGENIC_FIXTURES = ("ginfo.bin", "spl.bin", "burner.bin")


def ingenic_fixtures(d):
    """The SPL/burner stand-ins the board model runs (tests/fixtures/ingenic)."""
    out = os.path.join(d, "img")
    subprocess.run([sys.executable, os.path.join(TOP, "tests/fixtures/ingenic/mkfixtures.py"), out],
                   check=True, stdout=subprocess.DEVNULL)
    return {f: open(os.path.join(out, f), "rb").read() for f in INGENIC_FIXTURES}


def gen_ingenic(rng, r, fx):
    chip = rng.choice((1, 1, 2)) * 1024 * KIB
    r.board = {"type": "ingenic-t31", "flash_mib": chip // (1024 * KIB)}
    r.memory = "nor"
    boot = {"op": "ingenic.boot", "soc": "t31"}
    for key, f in (("ginfo", "ginfo.bin"), ("spl", "spl.bin"), ("burner", "burner.bin")):
        boot[key] = {"file": "img/" + f, "sha256": sha(fx[f])}
    stages = [boot]
    doc = {"name": r.name, "match": {"vid": "a108", "pid": "c309"}, "stages": stages}
    if rng.random() < 0.7:
        doc["serial"] = rng.choice(("ingenic_efuse", {"source": "ingenic_efuse"}))
    if rng.random() < 0.6:
        doc["jedec"] = rng.sample(["ef4018", "ef7018", "207018"], rng.randint(1, 3))
        if "ef4018" not in doc["jedec"]:
            doc["jedec"].append("ef4018")
        stages.append({"op": "ingenic.check_jedec"})
    # Partitions: whole 64 KiB erase units (the burner erases a partition in
    # units of the config's erase size, flashd's 64 KiB), in chip order.
    units = chip // UNIT64K
    n_parts = rng.randint(1, 4)
    cuts = sorted(rng.sample(range(units + 1), min(units + 1, 2 * n_parts)))
    parts = []
    for k in range(0, len(cuts) - 1, 2):
        a, b = cuts[k], cuts[k + 1]
        if b > a:
            parts.append(("p%d" % len(parts), a * UNIT64K, (b - a) * UNIT64K))
    if not parts:
        parts = [("p0", 0, UNIT64K)]
    # Raw offsets without a partition table (issue 14 item 4): the job gives
    # the burner one partition over the chip; the erase must be said.
    raw = rng.random() < 0.25
    if raw:
        parts = [("all", 0, chip)]
        erase = rng.choice(("chip", "blocks", "none"))
    else:
        erase = rng.choice(("chip", "partition", "partition", "none", "blocks"))
    cfg = {"op": "ingenic.config"}
    if not raw:
        cfg["partitions"] = [
            {"name": n, "offset": rng.choice(("0x%x" % o, o)), "size": rng.choice(("0x%x" % z, z))}
            for n, o, z in parts]
    if rng.random() < 0.5:
        cfg["flash"] = "sfc_nor"
    if erase != "partition" or rng.random() < 0.5:
        cfg["erase"] = erase
    stages.append(cfg)
    if erase == "chip":
        r.ops.append(("erase", 0, chip, 0xFF))
    written, erased_parts = [], set()
    for _ in range(rng.randint(1, 4)):
        name, po, pz = rng.choice(parts)
        size = rng.randint(1, min(pz, rng.choice((2 * KIB, 8 * KIB, 32 * KIB))))
        for _ in range(20):
            rel = rng.randrange(0, pz - size + 1)
            if rng.random() < 0.3:
                rel = 0
            # erase "blocks" ("none") is the burner's MTD_D mode: each write
            # erases the 64 KiB blocks it covers (protocol-ingenic.md 3.6), so
            # a later write must not share a block with an earlier one.
            lo, hi = po + rel, po + rel + size
            if erase in ("none", "blocks"):
                lo, hi = lo - lo % (64 * KIB), -(-hi // (64 * KIB)) * (64 * KIB)
            if not overlaps(lo, hi, written):
                break
        else:
            continue
        i = len(stages)
        data = rbytes(rng, size)
        st = {"op": "ingenic.write"}
        how = 1.0 if raw else rng.random()
        if how < 0.5:
            st["partition"] = name
            if rel:
                st["offset"] = "0x%x" % rel
        elif how < 0.8:
            st["partition"] = name
            st["offset"] = rel
        else:
            st["offset"] = "0x%x" % (po + rel)
        st.update(r.file_keys("s%d.bin" % i, data))
        if rng.random() < 0.7:
            st["verify"] = rng.choice(("crc32", "readback", "none"))
        if erase == "partition" and name not in erased_parts:
            erased_parts.add(name)
            r.ops.append(("erase", po, pz, 0xFF))
        if erase in ("none", "blocks"):
            r.ops.append(("erase", lo, hi - lo, 0xFF))
        r.ops.append(("write", po + rel, data))
        written.append((po + rel, po + rel + size))
        stages.append(st)
    if not written:
        name, po, pz = parts[0]
        st = {"op": "ingenic.write", "offset": 0} if raw else {"op": "ingenic.write", "partition": name}
        data = rbytes(rng, 100)
        st.update(r.file_keys("s%d.bin" % len(stages), data))
        if erase == "partition":
            r.ops.append(("erase", po, pz, 0xFF))
        if erase in ("none", "blocks"):
            r.ops.append(("erase", po, UNIT64K, 0xFF))
        r.ops.append(("write", po, data))
        written.append((po, po + 100))
        stages.append(st)

    if r.valid and rng.random() < 0.3:
        if raw:
            kind = rng.choice(("overlap", "unknown", "before_config", "jedec_orphan", "bad_sha",
                               "boot_twice", "raw_erase"))
        else:
            kind = rng.choice(("past_partition", "outside", "overlap", "unknown", "parts_overlap",
                               "before_config", "jedec_orphan", "bad_sha", "twice_named",
                               "boot_twice"))
        i = len(stages)
        name, po, pz = rng.choice(parts)
        if kind == "past_partition":
            st = {"op": "ingenic.write", "partition": name, "offset": pz - 16}
            st.update(r.file_keys("s%d.bin" % i, rbytes(rng, 64)))
            stages.append(st)
            r.refuse("stages[%d]" % i, "write runs past its partition")
        elif kind == "outside":
            gaps = [o for o in range(0, chip, 4 * KIB)
                    if not any(p0 <= o < p0 + pz0 for _, p0, pz0 in parts)]
            if gaps:
                st = {"op": "ingenic.write", "offset": "0x%x" % rng.choice(gaps)}
                st.update(r.file_keys("s%d.bin" % i, rbytes(rng, 32)))
                stages.append(st)
                r.refuse("stages[%d].offset" % i, "absolute offset in no partition")
        elif kind == "overlap":
            a, b = rng.choice(written)
            off = rng.randrange(a, b)
            st = {"op": "ingenic.write", "offset": "0x%x" % off}
            st.update(r.file_keys("s%d.bin" % i, rbytes(rng, 8)))
            stages.append(st)
            r.refuse("stages[%d]" % i, "write overlaps an earlier write")
        elif kind == "unknown":
            st = {"op": "ingenic.write", "partition": "nosuch"}
            st.update(r.file_keys("s%d.bin" % i, rbytes(rng, 8)))
            stages.append(st)
            r.refuse("stages[%d].partition" % i, "unknown partition")
        elif kind == "parts_overlap":
            cfg["partitions"].append({"name": "dup", "offset": po + pz // 2, "size": pz})
            r.refuse("stages[%d].partitions" % stages.index(cfg), "partitions overlap")
        elif kind == "raw_erase":
            if rng.random() < 0.5:
                cfg.pop("erase", None)
            else:
                cfg["erase"] = "partition"
            r.refuse("stages[%d].erase" % stages.index(cfg), "no table: erase blocks or chip")
        elif kind == "before_config":
            st = {"op": "ingenic.write", "offset": 0} if raw else {"op": "ingenic.write", "partition": name}
            st.update(r.file_keys("s%d.bin" % i, rbytes(rng, 8)))
            k = stages.index(cfg)
            stages.insert(k, st)
            r.refuse("stages[%d]" % k, "write before ingenic.config")
        elif kind == "jedec_orphan":
            if "jedec" in doc:
                stages.remove({"op": "ingenic.check_jedec"})
                r.refuse("jedec", "jedec list without check_jedec")
            else:
                stages.insert(1, {"op": "ingenic.check_jedec"})
                r.refuse("stages[1]", "check_jedec without a jedec list")
        elif kind == "bad_sha":
            st = stages[-1]
            st["sha256"] = sha(r.images[st["file"]] + b"!")
            r.refuse("stages[%d].sha256" % (len(stages) - 1), "sha256 mismatch")
        elif kind == "twice_named":
            cfg["partitions"].append({"name": name, "offset": chip, "size": UNIT64K})
            r.refuse("stages[%d].partitions" % stages.index(cfg), "partition defined twice")
        elif kind == "boot_twice":
            stages.insert(1, dict(boot))
            r.refuse("stages[1]", "second ingenic.boot")
    if r.valid and rng.random() < 0.08:
        stages.append({"op": "ingenic.reboot"})
        r.leaves(LEAVE_TIMING["ingenic"])
    # Every erase mode erases before it programs (blocks/none: the blocks a write touches).
    r.board["fill"] = rng.choice(("erased", "random:4", "random:9"))
    r.doc = doc


# --- i.MX6Q: SDP boot, then fastboot ------------------------------------------

IMX_PARTS = {"env": 256 * KIB, "boot": 1024 * KIB, "rootfs": 1024 * KIB}  # rootfs: what we use of it
IMX_BOARD = {"type": "imx6q-sdp", "emmc_mib": 4, "partitions": "env:256,boot:1024,rootfs:-"}
IMX_RAW = (0x8000, 0x100000)    # unpartitioned, after the primary GPT, before env


def imx_fixtures(d):
    """A small U-Boot stand-in the board model boots (IVT, DCD, marker)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("mkfx", os.path.join(TOP, "tests/fixtures/imx/mkfixtures.py"))
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    data = mk.boot_image(0x177FF400, 16 * KIB, 6)
    with open(os.path.join(d, "img", "u-boot.imx"), "wb") as f:
        f.write(data)
    return data


def sparse_image(rng, blocks, blk=4096):
    """An Android sparse image of blocks blocks: (bytes, [(offset, data)] it
    writes).  DONT_CARE leaves the target as it was, FILL repeats 4 bytes."""
    body, writes, at, n_chunks = b"", [], 0, 0
    while at < blocks:
        n = rng.randint(1, min(4, blocks - at))
        kind = rng.choice(("raw", "raw", "fill", "dontcare"))
        if kind == "raw":
            data = rbytes(rng, n * blk)
            body += struct.pack("<HHII", 0xCAC1, 0, n, 12 + len(data)) + data
            writes.append((at * blk, data))
        elif kind == "fill":
            pat = rbytes(rng, 4)
            body += struct.pack("<HHII", 0xCAC2, 0, n, 16) + pat
            writes.append((at * blk, pat * (n * blk // 4)))
        else:
            body += struct.pack("<HHII", 0xCAC3, 0, n, 12)
        at += n
        n_chunks += 1
    head = struct.pack("<IHHHHIIII", 0xED26FF3A, 1, 0, 28, 12, blk, blocks, n_chunks, 0)
    return head + body, writes


def gen_imx(rng, r, uboot):
    r.board = dict(IMX_BOARD)
    r.memory = "emmc"
    stages = [{"op": "sdp.boot", "file": "img/u-boot.imx", "sha256": sha(uboot)},
              {"op": "await", "vid": "0525", "pid": "a4a5"}]
    doc = {"name": r.name, "match": {"vid": "15a2", "pid": "0054"}, "stages": stages}
    if rng.random() < 0.5:
        doc["serial"] = {"source": "fastboot_getvar", "var": "serialno"}
        stages.append({"op": "fastboot.getvar", "var": "serialno"})
    elif rng.random() < 0.5:
        doc["serial"] = {"source": "imx_ocotp", "ocotp_words": ["0x021bc410", "0x021bc420"]}
    flashed, raw_ranges = set(), []

    def too_small(i, st, data):
        """Pieces of a file over max_download carry the sparse header, three
        chunk headers and a 4096-byte block: less fails on every unit."""
        md = int(str(st.get("max_download", 0)), 0)
        if md and len(data) > md and md < 28 + 3 * 12 + 4096:
            r.refuse("stages[%d].max_download" % i, "max_download cannot carry one sparse block")
    for _ in range(rng.randint(1, 4)):
        i = len(stages)
        x = rng.random()
        if x < 0.45:
            free = [p for p in IMX_PARTS if p not in flashed]
            if not free:
                continue
            part = rng.choice(free)
            st = {"op": "fastboot.flash", "partition": part}
            if rng.random() < 0.5:
                data, writes = sparse_image(rng, rng.randint(1, 12))
            else:
                data = rbytes(rng, rng.randint(1, rng.choice((4 * KIB, 24 * KIB))))
                writes = [(0, data)]
            st.update(r.file_keys("s%d.%s" % (i, "simg" if writes and data[:4] == b"\x3a\xff\x26\xed" else "img"), data))
            if rng.random() < 0.6:
                st["max_download"] = rng.choice((4096, 4160, 8192, 8192, 16384, 65536, "0x10000"))
            if rng.random() < 0.2:
                st["sparse"] = "auto"
            too_small(i, st, data)
            for off, d in writes:
                r.ops.append(("pwrite", part, off, d))
            flashed.add(part)
        elif x < 0.85:
            size = rng.randint(1, rng.choice((4 * KIB, 24 * KIB)))
            for _ in range(20):
                off = rng.randrange(IMX_RAW[0], IMX_RAW[1] - size, 512)
                if not overlaps(off, off + size, raw_ranges):
                    break
            else:
                continue
            data = rbytes(rng, size)
            st = {"op": "fastboot.flash", "offset": rng.choice(("0x%x" % off, off))}
            st.update(r.file_keys("s%d.img" % i, data))
            if rng.random() < 0.5:
                st["verify"] = rng.choice(("crc32", "none"))
            if rng.random() < 0.3:
                st["max_download"] = rng.choice((4096, 4160, 16384, 16384))
            too_small(i, st, data)
            r.ops.append(("write", off, data))
            raw_ranges.append((off, off + size))
        else:
            free = [p for p in IMX_PARTS if p not in flashed and p != "rootfs"]
            if not free:
                continue
            part = rng.choice(free)
            st = {"op": "fastboot.erase", "partition": part}
            r.ops.append(("perase", part))
        stages.append(st)
    if len(stages) <= 3:
        size = rng.randint(1, 4 * KIB)
        data = rbytes(rng, size)
        # After every raw range so far: the fallback must not overlap them.
        off = max([IMX_RAW[0]] + [-(-b // 512) * 512 for _, b in raw_ranges])
        st = {"op": "fastboot.flash", "offset": "0x%x" % off}
        st.update(r.file_keys("s%d.img" % len(stages), data))
        r.ops.append(("write", off, data))
        raw_ranges.append((off, off + size))
        stages.append(st)

    if r.valid and rng.random() < 0.3:
        kind = rng.choice(("unaligned", "twice", "raw_overlap", "crc_partition", "erase_flashed",
                           "no_await", "await_first", "never_too_big", "bad_sha"))
        i = len(stages)
        if kind == "unaligned":
            st = {"op": "fastboot.flash", "offset": "0x%x" % (IMX_RAW[1] - 4096 + rng.randint(1, 511))}
            st.update(r.file_keys("s%d.img" % i, rbytes(rng, 100)))
            stages.append(st)
            r.refuse("stages[%d].offset" % i, "offset not a multiple of 512")
        elif kind == "twice" and flashed:
            st = {"op": "fastboot.flash", "partition": rng.choice(sorted(flashed))}
            st.update(r.file_keys("s%d.img" % i, rbytes(rng, 100)))
            stages.append(st)
            r.refuse("stages[%d]" % i, "partition flashed twice")
        elif kind == "raw_overlap" and raw_ranges:
            a, b = rng.choice(raw_ranges)
            off = (a + rng.randrange(0, b - a)) // 512 * 512
            st = {"op": "fastboot.flash", "offset": "0x%x" % off}
            st.update(r.file_keys("s%d.img" % i, rbytes(rng, 1024)))
            stages.append(st)
            r.refuse("stages[%d]" % i, "raw writes overlap")
        elif kind == "crc_partition":
            part = rng.choice([p for p in IMX_PARTS if p not in flashed] or ["nosuch"])
            st = {"op": "fastboot.flash", "partition": part, "verify": "crc32"}
            st.update(r.file_keys("s%d.img" % i, rbytes(rng, 100)))
            stages.append(st)
            r.refuse("stages[%d].verify" % i, "crc32 on a partition")
        elif kind == "erase_flashed" and flashed:
            stages.append({"op": "fastboot.erase", "partition": rng.choice(sorted(flashed))})
            r.refuse("stages[%d]" % i, "erases a flashed partition")
        elif kind == "no_await":
            del stages[1]
            r.refuse("stages[%d]" % 1, "fastboot stage without await after sdp.boot")
        elif kind == "await_first":
            stages.insert(0, {"op": "await", "vid": "15a2", "pid": "0054"})
            r.refuse("stages[0]", "await as the first stage")
        elif kind == "never_too_big":
            st = {"op": "fastboot.flash", "offset": "0x%x" % (IMX_RAW[1] - 8192), "sparse": "never",
                  "max_download": 4096}
            st.update(r.file_keys("s%d.img" % i, rbytes(rng, 5000)))
            stages.append(st)
            r.refuse("stages[%d]" % i, "sparse never with a file larger than max_download")
        elif kind == "bad_sha":
            stages[0]["sha256"] = sha(uboot + b"!")
            r.refuse("stages[0].sha256", "sha256 mismatch")
    if r.valid and rng.random() < 0.08:
        stages.append({"op": rng.choice(("fastboot.reboot", "fastboot.continue"))})
        r.leaves(LEAVE_TIMING["imx"])
    r.doc = doc


# --- running ------------------------------------------------------------------

# family -> (setup(dir) -> context, generator(rng, recipe, context))
GENERATORS = {"dfuse": (lambda d: None, gen_dfuse), "ingenic": (ingenic_fixtures, gen_ingenic),
              "imx": (imx_fixtures, gen_imx)}
PATH_RE = r"((stages|match|serial|jedec|dfuse_layout|name|description)(\[\d+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?)*)"


def generate(seed, family, n, root, only):
    d = os.path.join(root, family)
    os.makedirs(os.path.join(d, "img"), exist_ok=True)
    out = []
    setup, gen = GENERATORS[family]
    ctx = setup(d)
    for k in range(n):
        if only is not None and k != only:
            continue
        rng = random.Random("%s:%s:%d" % (seed, family, k))
        r = Recipe(family, k, d)
        gen(rng, r, ctx)
        r.write()
        out.append(r)
    return out


def run_check(recipes):
    """flashctl recipe check on every file: {path: (accepted, [messages])}."""
    res = {r.path: [False, []] for r in recipes}
    p = subprocess.run([os.path.join(BUILD, "flashctl"), "recipe", "check"] + [r.path for r in recipes],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    # Separately: a block-buffered stdout may be flushed mid-line between stderr lines.
    for line in p.stdout.splitlines() + p.stderr.splitlines():
        for path in res:
            if line.startswith(path + ": "):
                rest = line[len(path) + 2:]
                if rest.startswith("ok (recipe"):
                    res[path][0] = True
                else:
                    res[path][1].append(rest)
                break
    return res


def verdict_problems(r, accepted, msgs):
    if r.valid and not accepted:
        return ["checker refused a valid recipe"] + msgs
    if not r.valid and accepted:
        return ["checker accepted a recipe broken on purpose (%s; expected a message at %s)"
                % (r.why, r.want_path)]
    if r.valid:
        return []
    bad = [m for m in msgs if not re.match(PATH_RE + r": ", m)]
    if not msgs:
        return ["refused without a message naming the file"]
    if bad:
        return ["message without a JSON path: %s" % m for m in bad]
    if not any(m.startswith(r.want_path) and m[len(r.want_path)] in ".[:" for m in msgs):
        return ["no message at %s (%s); got:" % (r.want_path, r.why)] + msgs
    return []


def port_of(k):
    return "1-%d.%d" % (1 + k // 15, 1 + k % 15)


def flashsim(scenario, dump, command, log, timeout):
    cmd = [os.path.join(BUILD, "flashsim"), "--scenario", scenario, "--dump-dir", dump, "--"] + command
    env = dict(os.environ)
    # The umockdev testbed (sysfs records, nodes) churns small files: tmpfs if we can.
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        env["TMPDIR"] = "/dev/shm"
    with open(log, "w") as f:
        try:
            return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout,
                                  env=env).returncode
        except subprocess.TimeoutExpired:
            return -1


def board_key(board):
    return json.dumps(board, sort_keys=True)


def reference_memories(recipes, work, time_scale):
    """The untouched memory of every board configuration used: a flashsim run
    with no client (fills and GPTs come from the board models, not from here)."""
    keys = sorted({board_key(r.board) for r in recipes})
    if not keys:
        return {}
    boards = [dict(json.loads(k), id="ref%d" % i, port=port_of(i)) for i, k in enumerate(keys)]
    sc = os.path.join(work, "ref.json")
    with open(sc, "w") as f:
        json.dump({"time_scale": time_scale, "boards": boards}, f)
    dump = os.path.join(work, "ref")
    rc = flashsim(sc, dump, ["true"], os.path.join(work, "ref.log"), 120)
    if rc != 0:
        raise RuntimeError("reference flashsim run failed (%d): %s" % (rc, open(os.path.join(work, "ref.log")).read()[-2000:]))
    mem = recipes[0].memory
    return {k: open(os.path.join(dump, "ref%d.%s.bin" % (i, mem)), "rb").read() for i, k in enumerate(keys)}


def run_batch(batch, work, bi, time_scale):
    """One flashsim with a board per recipe; job-tool runs them one after the other."""
    for attempt in range(4):
        bdir = os.path.join(work, "batch%d.%d" % (bi, attempt))
        os.makedirs(bdir)
        boards, lines = [], ["#!/bin/sh"]
        for k, r in enumerate(batch):
            boards.append(dict(r.board, id="b%d" % k, port=port_of(k)))
            lines.append("timeout 60 %s --db %s/u%d.db --recipe %s --port %s --deadline-pct 100 >%s/u%d.log 2>&1; echo $? >%s/u%d.rc"
                         % (os.path.join(BUILD, "tests/tools/job-tool"), bdir, k, r.path, port_of(k), bdir, k, bdir, k))
            if r.leave_port:
                # until the board is off the bus (sysfs as the preload shows it), then
                # past a ROM coming back: no uevent while the next job-tool exits
                lines.append("i=0; while [ -e /sys/bus/usb/devices/%s ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; sleep 1.2"
                             % port_of(k))
        sc = os.path.join(bdir, "scenario.json")
        with open(sc, "w") as f:
            json.dump({"time_scale": time_scale, "boards": boards}, f)
        drv = os.path.join(bdir, "drive.sh")
        with open(drv, "w") as f:
            f.write("\n".join(lines) + "\n")
        log = os.path.join(bdir, "flashsim.log")
        rc = flashsim(sc, os.path.join(bdir, "dump"), ["sh", drv], log, 60 * len(batch) + 60)
        text = open(log, errors="replace").read()
        # umockdev 0.17.16 aborts when a client's uevent socket vanishes
        # between its glob and its connect (a job-tool exiting while a board
        # re-enumerates): a rig failure, not flashd's; run the batch again.
        if rc != 0 and "sendmsg_one: cannot connect" in text and attempt < 3:
            print("# batch %d: rig abort (umockdev sendmsg_one race), retried" % bi)
            continue
        return bdir, rc, text
    return bdir, rc, text


def check_run(r, bdir, k, ref):
    probs = []
    try:
        rc = int(open(os.path.join(bdir, "u%d.rc" % k)).read())
    except (OSError, ValueError):
        rc = None
    log = open(os.path.join(bdir, "u%d.log" % k), errors="replace").read() if os.path.exists(os.path.join(bdir, "u%d.log" % k)) else ""
    if rc != 0:
        probs.append("job-tool exit %s" % rc)
    try:
        db = sqlite3.connect(os.path.join(bdir, "u%d.db" % k))
        rows = db.execute("SELECT result, failed_stage, error FROM units").fetchall()
        db.close()
    except sqlite3.Error as e:
        rows = [("db error", None, str(e))]
    if [row[0] for row in rows] != ["pass"]:
        probs.append("units rows %r" % rows)
    dump = os.path.join(bdir, "dump", "b%d.%s.bin" % (k, r.memory))
    try:
        got = open(dump, "rb").read()
    except OSError:
        got = None
    want = r.expected(ref)
    if got is None:
        probs.append("no dump %s" % dump)
    elif got != want:
        diff = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]), min(len(got), len(want)))
        probs.append("memory differs from the plan first at 0x%x (size %d, want %d)" % (diff, len(got), len(want)))
    if probs:
        probs += ["| " + l for l in log.strip().splitlines()[-4:]]
    return probs


def run_family(seed, family, n, root, only, args):
    recipes = generate(seed, family, n, root, only)
    checks = run_check(recipes)
    failures = []
    for r in recipes:
        acc, msgs = checks[r.path]
        r.accepted = acc
        p = verdict_problems(r, acc, msgs)
        if p:
            failures.append((r, p))
    runnable = [r for r in recipes if r.valid and r.accepted]
    work = os.path.join(root, family + "-run")
    os.makedirs(work, exist_ok=True)
    refs = reference_memories(runnable, work, args.time_scale)
    batches = [runnable[i:i + args.batch] for i in range(0, len(runnable), args.batch)]

    def run_and_check(bi, batch):
        """Run one batch, check its units, drop its dumps (4 MiB per eMMC)."""
        bdir, rc, text = run_batch(batch, work, bi, args.time_scale)
        out = []
        for k, r in enumerate(batch):
            p = check_run(r, bdir, k, refs[board_key(r.board)])
            if p:
                if rc not in (0, None):
                    p.append("flashsim exit %d: %s" % (rc, text.strip()[-300:]))
                out.append((r, p))
        if not args.keep:
            shutil.rmtree(os.path.join(bdir, "dump"), ignore_errors=True)
        return out

    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        for out in ex.map(lambda a: run_and_check(*a), enumerate(batches)):
            failures += out
    refused = sum(1 for r in recipes if not r.accepted)
    kinds = {}
    for r in recipes:
        if not r.valid:
            kinds[r.why] = kinds.get(r.why, 0) + 1
    print("# %s broken on purpose: %s" % (family, ", ".join("%s %d" % kv for kv in sorted(kinds.items()))
                                           or "none"))
    name = "property_%s" % family
    if failures:
        print("not ok - %s: %d of %d recipes fail the property" % (name, len(failures), len(recipes)))
        for r, p in failures[:args.show]:
            print("#   %s (replay: SEED=%s ONLY=%s:%d) %s" % (r.path, seed, family, r.idx, p[0]))
            for line in p[1:]:
                print("#     %s" % line)
            print("#     recipe: %s" % json.dumps(r.doc))
            print("#     board: %s" % json.dumps(r.board))
    else:
        print("ok - %s: %d recipes, %d accepted and passed byte-exact, %d refused naming file and path"
              % (name, len(recipes), len(runnable), refused))
    return not failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--families", default=",".join(GENERATORS))
    ap.add_argument("--only", default=None, help="FAMILY:K, one recipe")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--time-scale", type=float, default=0.001)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    print("# seed %s" % args.seed)
    fams = args.families.split(",")
    only = {}
    if args.only:
        f, k = args.only.split(":")
        fams, only = [f], {f: int(k)}
    root = tempfile.mkdtemp(prefix="recipe-property.")
    ok = True
    try:
        for fam in fams:
            t0, c0 = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
            s0 = resource.getrusage(resource.RUSAGE_SELF)
            ok = run_family(args.seed, fam, args.n, root, only.get(fam), args) and ok
            c1, s1 = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
            print("# %s: %.1f s, CPU %.1f s in flashsim/job-tool/flashctl, %.1f s here"
                  % (fam, time.monotonic() - t0, c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime,
                     s1.ru_utime + s1.ru_stime - s0.ru_utime - s0.ru_stime))
    finally:
        if args.keep:
            print("# kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
