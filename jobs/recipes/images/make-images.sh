#!/bin/sh
# Regenerates the placeholder images the example recipes in jobs/recipes/ pin
# by sha256.  The bytes are deterministic (SHA-256 in counter mode over the
# file name), so the digests in the recipes stay valid; run it from anywhere:
#     jobs/recipes/images/make-images.sh && (cd jobs/recipes/images && sha256sum *.bin *.imx *.simg)
# The boot stages are the simulated boards' fixtures (tests/fixtures/*/
# mkfixtures.py, deterministic too): a synthetic i.MX6Q u-boot.imx with a
# valid IVT, boot data and DCD, and Ingenic ginfo/SPL/burner stand-ins that
# the board models check.  They are not real firmware.  The payloads are
# filler; rootfs.simg has a real Android sparse header (it expands to 64 KiB).
set -eu
cd "$(dirname "$0")"
top=$(cd ../../.. && pwd)
fx=$(mktemp -d)
trap 'rm -rf "$fx"' EXIT
python3 "$top/tests/fixtures/imx/mkfixtures.py" "$fx/imx" >/dev/null
python3 "$top/tests/fixtures/ingenic/mkfixtures.py" "$fx/ingenic" >/dev/null
python3 "$top/tests/fixtures/imx/mk8m.py" "$fx/imx8m"
cp "$fx/imx/u-boot-imx6q.imx" imx6q-u-boot-fastboot.imx
cp "$fx/imx/u-boot-imx6q.imx" imx6q-u-boot.imx
# i.MX8MM/8MP flash.bin stand-ins: IVT v0x41 + SPL marker + FIT (mk8m.py).
cp "$fx/imx8m/flash-8mm.bin" imx8mm-flash.bin
cp "$fx/imx8m/flash-8mp.bin" imx8mp-flash.bin
cp "$fx/ingenic/ginfo.bin" t31-ginfo.bin
cp "$fx/ingenic/spl.bin" t31-spl.bin
cp "$fx/ingenic/burner.bin" t31-burner.bin
python3 - <<'PY'
import hashlib, struct

def fill(name, size):
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(b"flashd-example:%s:%d" % (name.encode(), i)).digest()
        i += 1
    with open(name, "wb") as f:
        f.write(out[:size])

KiB = 1024
fill("stm32-f405-boot.bin", 16 * KiB)
fill("stm32-f405-app.bin", 96 * KiB)
# STM32L476: lengths off the 8-byte programming unit and the 2 KiB page.
fill("stm32-l476-boot.bin", 10 * KiB + 5)
fill("stm32-l476-app.bin", 48 * KiB + 851)
fill("imx6q-env.bin", 8 * KiB)
fill("t31-uboot.bin", 64 * KiB)
fill("t31-kernel.bin", 128 * KiB)
fill("t31-rootfs.bin", 64 * KiB)

# Android sparse image (protocol-imx-sdp-fastboot.md §4.4): 16 blocks of 4 KiB,
# one RAW chunk of 4 blocks then one DONT_CARE chunk of 12 blocks.
raw = bytearray()
i = 0
while len(raw) < 4 * 4096:
    raw += hashlib.sha256(b"flashd-example:rootfs:%d" % i).digest()
    i += 1
sparse = struct.pack("<IHHHHIIII", 0xED26FF3A, 1, 0, 28, 12, 4096, 16, 2, 0)
sparse += struct.pack("<HHII", 0xCAC1, 0, 4, 12 + 4 * 4096) + bytes(raw[:4 * 4096])
sparse += struct.pack("<HHII", 0xCAC3, 0, 12, 12)
with open("imx6q-rootfs.simg", "wb") as f:
    f.write(sparse)

# STM32F405 option bytes as its ROM's alt 1 shows them (RM0090 "Option
# bytes"): USER 0xE0 (BOR level 3, else as shipped), RDP 0xAA (level 0),
# nWRP 0x0FFF (no sector write-protected).
with open("stm32-f405-options.bin", "wb") as f:
    f.write(bytes([0xE0, 0xAA] + [0xFF] * 7 + [0x0F] + [0xFF] * 6))
PY
