#!/usr/bin/env bash
# Conformance tests: unmodified Debian fastboot (AOSP 29, usbdevfs ioctls
# and read() of the node) against the simulated U-Boot fastboot gadget of
# the i.MX6 boards: getvar all, a raw image larger than max-download-size
# (sparse-split by the client), flash to a raw offset, erase, reboot back
# to the ROM, and faults in the fastboot stage.
# Prints "ok - NAME" / "not ok - NAME".
set -u
. "$(dirname "$0")/imx-lib.sh"
need fastboot

t=getvar_all_lists_variables_and_partitions
d=$tmp/$t
"$sim" --scenario "$scn/imx6q-fastboot.json" -- fastboot getvar all >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
for l in 'version: 0.4' 'max-download-size: 0x00100000' 'serialno: d72d7372906709d4' \
	'partition-size:rootfs: 0x' 'partition-type:env: raw'; do
	grep -q "(bootloader) $l" "$d.out" || ok=0
done
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

t=devices_lists_serial_from_uid
d=$tmp/$t
"$sim" --scenario "$scn/imx6q-fastboot.json" -- fastboot devices >"$d.out" 2>&1
grep -q '^d72d7372906709d4[[:space:]]*fastboot' "$d.out" && pass $t || fail $t "$d.out"

for soc in imx6q imx6ull; do
	t=flash_split_erase_reboot_$soc
	d=$tmp/$t
	"$sim" --scenario "$scn/$soc-fastboot.json" --dump-dir "$d" -- sh -c "
		cd '$fx' &&
		fastboot flash rootfs big.img &&
		fastboot flash env raw-env.img && fastboot erase env &&
		fastboot flash 0x400 u-boot-imx6q.imx &&
		fastboot reboot && sleep 0.3" >"$d.out" 2>&1
	rc=$?
	ok=1
	[ $rc -eq 0 ] || ok=0
	grep -q "Sending sparse 'rootfs' 1/" "$d.out" || ok=0 # split by the client
	region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/big.img" || ok=0
	all_zero "$d/b1.emmc.bin" $ENV_OFF $MIB || ok=0
	region_eq "$d/b1.emmc.bin" $((0x400)) "$fx/u-boot-imx6q.imx" || ok=0
	# reboot: the ROM (serial download boot mode) is back on the port
	[ "$(jget "$d" state)" = sdp-idle ] || ok=0
	[ "$(jget "$d" enumerations)" = 2 ] || ok=0
	[ $ok -eq 1 ] && pass $t || fail $t "$d.out" "$d/summary.json"
done

t=sparse_image_expanded_on_flash
d=$tmp/$t
"$sim" --scenario "$scn/imx6q-fastboot.json" --dump-dir "$d" -- \
	fastboot flash rootfs "$fx/rootfs.simg" >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/rootfs.expanded" || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

t=unknown_partition_fails
d=$tmp/$t
"$sim" --scenario "$scn/imx6q-fastboot.json" -- fastboot flash nosuch "$fx/raw-env.img" >"$d.out" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 70 ] && grep -q 'cannot find partition' "$d.out" && pass $t || fail $t "$d.out"

for soc in imx6q imx6ull; do
	t=unplug_during_download_$soc
	d=$tmp/$t
	"$sim" --scenario "$scn/$soc-fastboot-unplug-download.json" --dump-dir "$d" -- \
		fastboot flash rootfs "$fx/raw-env.img" >"$d.out" 2>&1
	rc=$?
	ok=1
	[ $rc -ne 0 ] && [ $rc -ne 70 ] || ok=0
	[ "$(jget "$d" state)" = unplugged ] || ok=0
	[ "$(jget "$d" faults_fired)" = 1 ] || ok=0
	all_zero "$d/b1.emmc.bin" $ROOTFS_OFF $MIB || ok=0
	[ $ok -eq 1 ] && pass $t || fail $t "$d.out" "$d/summary.json"
done

t=stalled_command_fails_cleanly
d=$tmp/$t
"$sim" --scenario "$scn/imx6q-fastboot-stall.json" --dump-dir "$d" -- \
	sh -c 'fastboot getvar version; echo "first=$?"; fastboot getvar version' >"$d.out" 2>&1
rc=$?
ok=1
# fastboot getvar exits 0 even when the command failed: check its words
grep -Eq 'getvar:version[[:space:]]+FAILED' "$d.out" || ok=0 # the stalled one fails
[ $rc -eq 0 ] || ok=0              # the next one works
[ "$(jget "$d" faults_fired)" = 1 ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

# AOSP fastboot has no timeout of its own: the outer timeout ends it.
t=never_completing_command_blocks_client
d=$tmp/$t
"$sim" --scenario "$scn/imx6q-fastboot-hang.json" --dump-dir "$d" -- \
	timeout -s KILL 3 fastboot getvar version >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 137 ] || ok=0
[ "$(jget "$d" faults_fired)" = 1 ] || ok=0
[ "$(jget "$d" state)" = fastboot ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

t=emmc_write_error_fails_flash
d=$tmp/$t
"$sim" --scenario "$scn/imx6q-fastboot-flash-error.json" --dump-dir "$d" -- \
	fastboot flash env "$fx/raw-env.img" >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -ne 0 ] && [ $rc -ne 70 ] || ok=0
grep -q 'failed writing to device' "$d.out" || ok=0
all_zero "$d/b1.emmc.bin" $ENV_OFF $MIB || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"
