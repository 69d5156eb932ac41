# Shared helpers of the test-imx-*.sh conformance scripts (sourced, not run):
# tests/lib/testlib.sh (top, build, sim, tmp, ok/nok, need) and i.MX fixtures.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/testlib.sh"
scn=$top/tests/sim/scenarios
fx=$tmp/fx
# Fixtures are generated at test time, never committed as binaries.
python3 "$top/tests/fixtures/imx/mkfixtures.py" "$fx" || {
	echo "not ok - fixtures are generated"
	exit 1
}

# pass NAME / fail NAME FILE...: ok / nok with the tail of each FILE (the
# callers' many "pass $t || fail $t LOG" lines).
pass() { ok "$1"; }
fail() {
	nok "$1"
	shift
	for f in "$@"; do
		[ -f "$f" ] && sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$f" | tr '\r' '\n' | tr -s ' ' |
			grep -v '^ *$' | tail -15 | sed 's/^/#   /'
	done
}

# jget DIR KEY: a top-level field of board 0 in DIR/summary.json
jget() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]+"/summary.json"))["boards"][0][sys.argv[2]]; print(len(v) if isinstance(v,list) else v)' "$@" 2>/dev/null
}

# region_eq DUMP OFFSET FILE: DUMP holds FILE's bytes at OFFSET
region_eq() {
	cmp -s -n "$(stat -c %s "$3")" <(tail -c +$(($2 + 1)) "$1") "$3"
}

# all_zero DUMP OFFSET LEN
all_zero() {
	cmp -s <(tail -c +$(($2 + 1)) "$1" | head -c "$3") <(head -c "$3" /dev/zero)
}

MIB=1048576
# Default GPT of the boards (boards/README.md): env at 1 MiB, boot at
# 2 MiB, rootfs at 18 MiB.
ENV_OFF=$MIB
ROOTFS_OFF=$((18 * MIB))

# gpt_ok DUMP: DUMP holds a valid primary GPT and its backup (header at the
# last LBA pointing back to LBA 1, entries after the last usable LBA, equal
# to the primary ones, CRCs right: UEFI 2.x §5.3); prints the names.
gpt_ok() {
	python3 - "$1" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
last = len(d) // 512 - 1
def hdr(lba):
    h = bytearray(d[lba * 512:lba * 512 + 92])
    assert h[:8] == b"EFI PART", "signature at %d" % lba
    crc = struct.unpack_from("<I", h, 16)[0]
    h[16:20] = bytes(4)
    assert zlib.crc32(h) == crc, "header CRC at %d" % lba
    my, alt, first, lu, _, ent, n, sz, ecrc = struct.unpack_from("<QQQQ16sQIII", h, 24)
    e = d[ent * 512:ent * 512 + n * sz]
    assert zlib.crc32(e) == ecrc, "entries CRC of header %d" % lba
    return my, alt, lu, ent, e
my, alt, lu, ent, e = hdr(1)
assert my == 1 and alt == last, "primary my/alternate"
bmy, balt, blu, bent, be = hdr(last)
assert bmy == last and balt == 1 and bent == lu + 1 and be == e, "backup"
print(" ".join(e[i:i + 128][56:128].decode("utf-16-le").rstrip("\0")
               for i in range(0, len(e), 128) if any(e[i:i + 16])))
PY
}
