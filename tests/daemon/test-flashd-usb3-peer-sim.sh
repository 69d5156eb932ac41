#!/usr/bin/env bash
# flashd end to end under flashsim on a USB3 hub (issue #22 item 4).  The
# rig shows the hub as the kernel does: a USB2 hub 1-1 on bus 1 and a
# SuperSpeed hub 2-1 on bus 2, each port's directory linking to the other
# half by "peer".  Board "mp" (i.MX8MP, fastboot on its USB3 controller)
# boots through the SDPS ROM on the USB2 half 1-1.2 and its fastboot gadget
# comes back on the SuperSpeed half 2-1.2; board "fb" is already in fastboot
# and only ever appears on 2-1.3.  flashd must name both by their physical
# (USB2) ports: the job awaiting fastboot finds "mp" on 2-1.2, allow_ports,
# the recipe "ports" glob and the slot labels match 1-1.x, and each board
# gets one 'pass' row with port 1-1.x and its slot; the eMMCs byte-exact.
. "$(dirname "$0")/../lib/testlib.sh"
if [ ! -x "$sim" ] || [ ! -x "$build/flashd" ] || [ ! -f "$top/tests/sim/boards/imx_sdps.c" ] ||
	! command -v sqlite3 >/dev/null; then
	skip flashd_usb3_peer_sim "flashsim, flashd, i.MX8M models or sqlite3 missing"
	exit 0
fi

mkdir -p "$tmp/recipes"
cp -r "$top/jobs/recipes/images" "$top/jobs/recipes/imx8mp-emmc.json" "$tmp/recipes/"
python3 - "$top/jobs/recipes/images/imx6q-rootfs.simg" "$tmp/rootfs.expanded" "$tmp/recipes" <<'EOF'
# Expand the example sparse image over zeroes (Android sparse, §4.4), and
# write the fastboot-only recipe for a board found in fastboot: the 8MP
# recipe's stages after "await", for the physical port 1-1.3 only.
import json, struct, sys
d = open(sys.argv[1], "rb").read()
magic, _, _, hl, chl, blk, total, chunks, _ = struct.unpack_from("<IHHHHIIII", d)
out, off = bytearray(), hl
for _ in range(chunks):
    t, _, n, sz = struct.unpack_from("<HHII", d, off)
    body = d[off + chl:off + sz]
    off += sz
    out += body if t == 0xCAC1 else body[:4] * (n * blk // 4) if t == 0xCAC2 else bytes(n * blk) if t == 0xCAC3 else b""
open(sys.argv[2], "wb").write(out)
r = json.load(open(sys.argv[3] + "/imx8mp-emmc.json"))
r["match"]["ports"] = ["1-1.2"]
json.dump(r, open(sys.argv[3] + "/imx8mp-emmc.json", "w"))
r.update(name="imx8mp-fastboot", description="fastboot only",
         match={"vid": "0525", "pid": "a4a5", "ports": ["1-1.3"]},
         stages=[s for s in r["stages"][2:] if s["op"] != "fastboot.reboot"])
json.dump(r, open(sys.argv[3] + "/imx8mp-fastboot.json", "w"))
EOF
cat >"$tmp/scenario.json" <<'EOF'
{ "time_scale": 0.01, "usb3": true, "boards": [
  { "id": "mp", "type": "imx8mp-sdps", "port": "1-1.2", "uid": "0123456789abcdef",
    "fastboot_speed": "super" },
  { "id": "fb", "type": "imx8mp-sdps", "port": "1-1.3", "uid": "fedcba9876543210",
    "start": "fastboot", "fastboot_speed": "super", "plug_ms": 300 } ] }
EOF
cat >"$tmp/flashd.conf" <<'EOF'
station = usb3-line
allow_ports = 1-1.*
grace_sec = 10
slot.1-1.2 = A2
slot.1-1.3 = A3
EOF
cat >"$tmp/driver.sh" <<'EOF'
set -u
dir=$1
B=$FLASHD_BUILD
readlink /sys/bus/usb/devices/2-1/2-1:1.0/2-1-port2/peer >"$dir/peer.txt" 2>&1
readlink /sys/bus/usb/devices/usb1/1-0:1.0/usb1-port1/peer >>"$dir/peer.txt" 2>&1
"$B/flashd" --config "$dir/flashd.conf" --recipes "$dir/recipes" --db "$dir/f.db" --control "$dir/ctl" \
	--deadline-pct 20 --log-stderr 2>>"$dir/flashd.log" &
pid=$!
n() { sqlite3 "$dir/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
for _ in $(seq 1200); do [ "$(n)" -ge 2 ] && break; sleep 0.05; done
sleep 0.5
"$B/flashctl" devices --recipes "$dir/recipes" --socket "$dir/ctl" >"$dir/devices.txt" 2>&1
kill -TERM "$pid"
wait "$pid"
EOF
timeout 150 "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/dump" -- bash "$tmp/driver.sh" "$tmp" >"$tmp/sim.log" 2>&1

# The rig's sysfs: each half's port links to the other (kernel port.c link_peers).
want="../../../../usb1/1-1/1-1:1.0/1-1-port2
../../../usb2/2-0:1.0/usb2-port1"
got=$(cat "$tmp/peer.txt" 2>&1)
[ "$got" = "$want" ] && ok flashsim_usb3_hub_peer_links ||
	nok flashsim_usb3_hub_peer_links "got: $got" "want: $want"

# The fastboot gadget really came back on the SuperSpeed bus.
grep -q "Board 0525:a4a5 .*arrived on port '1-1.2' (/dev/bus/usb/002/" "$tmp/flashd.log" &&
	grep -q "Board 0525:a4a5 .*arrived on port '1-1.3' (/dev/bus/usb/002/" "$tmp/flashd.log" &&
	ok flashd_superspeed_arrivals_named_by_usb2_port ||
	nok flashd_superspeed_arrivals_named_by_usb2_port "$(grep -i "arrived\|outside" "$tmp/flashd.log" | head -8)"

rows=$(q "$tmp/f.db" "SELECT port, slot, recipe, result, serial FROM units ORDER BY port")
want="1-1.2|A2|imx8mp-emmc|pass|89abcdef01234567
1-1.3|A3|imx8mp-fastboot|pass|76543210fedcba98"
[ "$rows" = "$want" ] && ok flashd_usb3_peer_one_pass_row_on_physical_port ||
	nok flashd_usb3_peer_one_pass_row_on_physical_port "got: $rows" "want: $want" "$(tail -5 "$tmp/flashd.log")"

# flashctl devices names the SuperSpeed board by its physical port and slot too.
grep -Eq "^1-1\.3 +A3 +0525:a4a5 " "$tmp/devices.txt" && ! grep -q "^2-1" "$tmp/devices.txt" &&
	ok flashctl_devices_physical_port ||
	nok flashctl_devices_physical_port "$(cat "$tmp/devices.txt")"

emmc_has() { # BOARD FILE OFFSET
	cmp -s <(tail -c +$(($3 + 1)) "$tmp/dump/$1.emmc.bin" | head -c "$(stat -c %s "$2")") "$2"
}
I=$top/jobs/recipes/images
R=$((18 * 1024 * 1024))
if emmc_has mp "$I/imx8mp-flash.bin" $((0x8000)) && emmc_has mp "$tmp/rootfs.expanded" $R &&
	emmc_has fb "$tmp/rootfs.expanded" $R; then
	ok flashd_usb3_peer_emmc_byte_exact
else
	nok flashd_usb3_peer_emmc_byte_exact "$(ls "$tmp/dump" 2>&1 | tr '\n' ' ')"
fi
