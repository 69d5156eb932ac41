"""What a simulated board's memory must hold after the test recipes ran on it.

The starting point is the board's untouched memory: a flashsim run of the
same board models with no client ("--dump-dir REF -- true"), so the models'
fill patterns, GPT and seeds need not be known here.  The images the test
recipes write are laid over it.  Used by tests/daemon/test-flashd-families-sim.sh
and tests/vm/prepare.py, whose recipes write the same images:

  stm32   f4-boot.bin at 0, the app image at 0x20000 (internal flash)
  imx     rootfs.expanded and boot.img at their GPT partitions, raw-env.img
          at 0x400 (eMMC)
  ingenic T31_PARTS erased to 0xff, then each written from its start (NOR)
  imx, blank eMMC (expected_imx_blank): the GPT flashd builds for the unit
          and its backup, boot.img and rootfs.expanded in its partitions
"""
import hashlib
import os
import struct
import uuid
import zlib

T31_PARTS = (("uboot", 0, 0x40000), ("kernel", 0x40000, 0x280000), ("rootfs", 0x2c0000, 0x140000))

MEMORY = {"stm32": "flash", "imx": "emmc", "ingenic": "nor"}


def family_of(board_type):
    """'stm32f405-dfuse' -> 'stm32', 'imx6ull-sdp' -> 'imx', 'ingenic-t31' -> 'ingenic'."""
    for fam in MEMORY:
        if board_type.startswith(fam):
            return fam
    raise ValueError("no expected memory for board type %r" % board_type)


def gpt_parts(disk):
    """{name: (offset, size)} in bytes, from the GPT header at LBA 1 (512-byte LBAs)."""
    lba, n, size = struct.unpack_from("<QII", disk, 512 + 72)
    parts = {}
    for k in range(n):
        e = disk[lba * 512 + k * size: lba * 512 + (k + 1) * size]
        if e[:16] == b"\0" * 16:
            continue
        first, last = struct.unpack_from("<QQ", e, 32)
        parts[e[56:128].decode("utf-16-le").rstrip("\0")] = (first * 512, (last - first + 1) * 512)
    return parts


def _put(buf, off, data):
    buf[off:off + len(data)] = data


def _rd(path):
    with open(path, "rb") as f:
        return f.read()


def expected(family, ref, images, stm32_app="f4-app.bin"):
    """The bytes the memory must hold: ref (the untouched dump) with the
    images from directory images laid over it as the recipes write them."""
    want = bytearray(ref)
    if family == "stm32":
        _put(want, 0, _rd(os.path.join(images, "f4-boot.bin")))
        _put(want, 0x20000, _rd(os.path.join(images, stm32_app)))
    elif family == "imx":
        parts = gpt_parts(ref)
        _put(want, parts["rootfs"][0], _rd(os.path.join(images, "imx/rootfs.expanded")))
        _put(want, parts["boot"][0], _rd(os.path.join(images, "imx/boot.img")))
        _put(want, 0x400, _rd(os.path.join(images, "imx/raw-env.img")))
    elif family == "ingenic":
        for name, off, size in T31_PARTS:
            want[off:off + size] = b"\xff" * size
            _put(want, off, _rd(os.path.join(images, "ingenic/%s.bin" % name)))
    else:
        raise ValueError("unknown family %r" % family)
    return bytes(want)


# ---- i.MX from a blank eMMC: the GPT flashd builds (fastboot.gpt) -----------
# What the blank-eMMC recipes partition: (name, offset, size or None = to
# the last usable LBA, type), bytes, as in their fastboot.gpt stage.
IMX_BLANK_PARTS = (("boot", 0x100000, 0x100000, "data"), ("rootfs", 0x200000, None, "linux"))
GPT_TYPES = {"linux": "0fc63daf-8483-4772-8e79-3d69d8477de4", "data": "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7",
             "system": "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "swap": "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f",
             "u-boot-env": "3de21764-95bd-54bd-a5c3-4abe786f38a8"}


def flashd_guid(unit, recipe, name):
    """flashd.recipe.5 fastboot.gpt: SHA-256 of "flashd-gpt" NUL serial NUL
    recipe NUL name, first 16 bytes, RFC 9562 version 8 and variant bits."""
    h = bytearray(hashlib.sha256(b"flashd-gpt\0" + unit.encode() + b"\0" + recipe.encode() + b"\0" +
                                 name.encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x80
    h[8] = (h[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(h))


def flashd_gpt(unit, recipe, disk_size, parts):
    """LBA 0..33 as fastboot.gpt sends them: protective MBR, header at LBA 1,
    128 entries of 128 bytes at LBA 2 (UEFI 2.x ch. 5)."""
    last = disk_size // 512 - 1
    ent = bytearray(128 * 128)
    for i, (name, off, size, typ) in enumerate(parts):
        end = (off + size) // 512 - 1 if size else last - 33
        e = (uuid.UUID(GPT_TYPES[typ]).bytes_le + flashd_guid(unit, recipe, name).bytes_le +
             struct.pack("<QQQ", off // 512, end, 0))
        ent[i * 128:(i + 1) * 128] = e + name.encode("utf-16-le").ljust(72, b"\0")
    hdr = bytearray(struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0, 1, last, 34, last - 33,
                                flashd_guid(unit, recipe, "").bytes_le, 2, 128, 128, zlib.crc32(ent)))
    hdr[16:20] = struct.pack("<I", zlib.crc32(hdr))
    mbr = bytearray(512)
    mbr[446:462] = struct.pack("<BBBBBBBBII", 0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1, min(last, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr) + bytes(hdr).ljust(512, b"\0") + bytes(ent)


def put_gpt(disk, table):
    """Lay table (LBA 0..33) at the start of disk and the backup U-Boot's
    "flash gpt" derives from it (disk/part_efi.c prepare_backup_gpt_header():
    my/alternate LBA swapped, entries after the last usable LBA)."""
    _put(disk, 0, table)
    h = bytearray(table[512:1024])
    last, lu = struct.unpack_from("<Q", h, 32)[0], struct.unpack_from("<Q", h, 48)[0]
    struct.pack_into("<QQ", h, 24, last, 1)
    struct.pack_into("<Q", h, 72, lu + 1)
    h[16:20] = bytes(4)
    h[16:20] = struct.pack("<I", zlib.crc32(h[:92]))
    _put(disk, (lu + 1) * 512, table[1024:1024 + 16384])
    _put(disk, last * 512, h)


def expected_imx_blank(ref, images, unit, recipe):
    """The user area of a board whose eMMC started blank (ref: its untouched
    dump) after a recipe with fastboot.gpt over IMX_BLANK_PARTS, then
    boot.img and rootfs.simg flashed to those partitions by name."""
    want = bytearray(ref)
    put_gpt(want, flashd_gpt(unit, recipe, len(ref), IMX_BLANK_PARTS))
    parts = gpt_parts(want)
    _put(want, parts["rootfs"][0], _rd(os.path.join(images, "imx/rootfs.expanded")))
    _put(want, parts["boot"][0], _rd(os.path.join(images, "imx/boot.img")))
    return bytes(want)
