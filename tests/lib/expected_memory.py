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
"""
import os
import struct

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
