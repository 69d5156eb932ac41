#!/usr/bin/env bash
# flashd end to end under flashsim with the i.MX8M flows of issue #22: an
# i.MX8MM (SDP ROM -> SPL SDPV gadget -> fastboot) and an i.MX8MP (SDPS
# stream ROM -> fastboot) plugged at once, each run by the example recipe
# (jobs/recipes/imx8mm-emmc.json, imx8mp-emmc.json) that matches its ROM.
# Each must get exactly one 'pass' row with the U-Boot serial, and its eMMC
# must hold flash.bin at the boot offset and the rootfs, byte for byte.
. "$(dirname "$0")/../lib/testlib.sh"
if [ ! -x "$sim" ] || [ ! -x "$build/flashd" ] || [ ! -f "$top/tests/sim/boards/imx_sdps.c" ] ||
	! command -v sqlite3 >/dev/null; then
	skip flashd_imx8m_sim "flashsim, flashd, i.MX8M models or sqlite3 missing"
	exit 0
fi

mkdir -p "$tmp/recipes"
cp -r "$top/jobs/recipes/images" "$top/jobs/recipes/imx8mm-emmc.json" "$top/jobs/recipes/imx8mp-emmc.json" "$tmp/recipes/"
python3 - "$top/jobs/recipes/images/imx6q-rootfs.simg" "$tmp/rootfs.expanded" <<'EOF'
# Expand the example sparse image over zeroes (Android sparse, §4.4).
import struct, sys
d = open(sys.argv[1], "rb").read()
magic, _, _, hl, chl, blk, total, chunks, _ = struct.unpack_from("<IHHHHIIII", d)
out, off = bytearray(), hl
for _ in range(chunks):
    t, _, n, sz = struct.unpack_from("<HHII", d, off)
    body = d[off + chl:off + sz]
    off += sz
    out += body if t == 0xCAC1 else body[:4] * (n * blk // 4) if t == 0xCAC2 else bytes(n * blk) if t == 0xCAC3 else b""
open(sys.argv[2], "wb").write(out)
EOF
cat >"$tmp/scenario.json" <<'EOF'
{ "time_scale": 0.01, "boards": [
  { "id": "mm", "type": "imx8mm-sdp", "port": "1-1.1", "uid": "906709d4d72d7372" },
  { "id": "mp", "type": "imx8mp-sdps", "port": "1-1.2", "uid": "0123456789abcdef", "plug_ms": 300 } ] }
EOF
cat >"$tmp/flashd.conf" <<'EOF'
station = imx8m-line
allow_ports = 1-1.*
grace_sec = 10
EOF
cat >"$tmp/driver.sh" <<'EOF'
set -u
dir=$1
B=$FLASHD_BUILD
"$B/flashd" --config "$dir/flashd.conf" --recipes "$dir/recipes" --db "$dir/f.db" --control "$dir/ctl" \
	--deadline-pct 20 --log-stderr 2>>"$dir/flashd.log" &
pid=$!
n() { sqlite3 "$dir/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
for _ in $(seq 1200); do [ "$(n)" -ge 2 ] && break; sleep 0.05; done
sleep 0.5
kill -TERM "$pid"
wait "$pid"
EOF
timeout 150 "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/dump" -- bash "$tmp/driver.sh" "$tmp" >"$tmp/sim.log" 2>&1

rows=$(q "$tmp/f.db" "SELECT recipe, result, serial FROM units ORDER BY recipe")
want="imx8mm-emmc|pass|d72d7372906709d4
imx8mp-emmc|pass|89abcdef01234567"
[ "$rows" = "$want" ] && ok flashd_imx8mm_and_imx8mp_one_pass_row_each ||
	nok flashd_imx8mm_and_imx8mp_one_pass_row_each "got: $rows" "want: $want" "$(tail -5 "$tmp/flashd.log")"

emmc_has() { # BOARD FILE OFFSET
	cmp -s <(tail -c +$(($3 + 1)) "$tmp/dump/$1.emmc.bin" | head -c "$(stat -c %s "$2")") "$2"
}
I=$top/jobs/recipes/images
R=$((18 * 1024 * 1024))
if emmc_has mm "$I/imx8mm-flash.bin" $((0x8400)) && emmc_has mm "$tmp/rootfs.expanded" $R &&
	emmc_has mp "$I/imx8mp-flash.bin" $((0x8000)) && emmc_has mp "$tmp/rootfs.expanded" $R; then
	ok flashd_imx8m_emmc_byte_exact
else
	nok flashd_imx8m_emmc_byte_exact "$(ls "$tmp/dump" 2>&1 | tr '\n' ' ')"
fi
