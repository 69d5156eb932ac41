#!/usr/bin/env bash
# The host's usbfs memory bound (usbcore.usbfs_memory_mb, 16 MiB by default;
# drivers/usb/core/devio.c refuses a URB with ENOMEM while the buffers of
# every URB in flight would exceed it): the rig enforces it for all boards
# together (scenario "usbfs_memory_mb"), and flashd's engines send a
# refused bulk write in smaller pieces instead of failing the unit
# (protocols/usb.c usb_bulk_out_pieces).  A line of 16 i.MX boards, each
# with a 1 MiB download URB in flight, meets this bound on a stock kernel.
# Prints "ok - NAME" / "not ok - NAME".
set -u
. "$(dirname "$0")/imx-lib.sh"
need fastboot
tool=$build/tests/tools/imx-tool

scenario() { # FILE MB: one i.MX6Q in U-Boot fastboot with a 16 MiB buffer
	cat >"$1" <<JSON
{ "time_scale": 0.001, "usbfs_memory_mb": $2,
  "boards": [ { "id": "b1", "type": "imx6q-sdp", "port": "1-1.2.3", "uid": "906709d4d72d7372",
		"start": "fastboot", "fb_buf_size": 16777216 } ] }
JSON
}

# 1 MiB of usbfs memory: a 1 MiB URB (plus the kernel's own structures)
# does not fit; flashd's fastboot engine sends 1 MiB transfers.
scenario "$tmp/one.json" 1
t=flashd_fastboot_download_fits_a_1_mib_usbfs_bound
d=$tmp/$t
(cd "$fx" && "$sim" --scenario "$tmp/one.json" --dump-dir "$d" -- "$tool" -q -p 1-1.2.3 flash rootfs big.img) \
	>"$d.out" 2>&1
rc=$?
[ $rc -eq 0 ] && region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/big.img" && pass $t ||
	fail $t "$d.out"

# The bound is on memory in flight, not on image size: Debian's fastboot
# sends 16 KiB URBs and passes under the same 1 MiB bound, as on a host.
t=debian_fastboot_16k_urbs_pass_under_the_same_bound
d=$tmp/$t
(cd "$fx" && "$sim" --scenario "$tmp/one.json" --dump-dir "$d" -- fastboot flash rootfs big.img) \
	>"$d.out" 2>&1
rc=$?
[ $rc -eq 0 ] && region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/big.img" && pass $t ||
	fail $t "$d.out"

# A bound the scenario cannot have is refused naming the key.
t=scenario_refuses_a_bad_usbfs_memory_mb
printf '{ "usbfs_memory_mb": -1, "boards": [] }' >"$tmp/bad.json"
"$sim" --scenario "$tmp/bad.json" -- true >"$tmp/$t.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'usbfs_memory_mb: not a whole number' "$tmp/$t.out" && pass $t ||
	fail $t "$tmp/$t.out"
