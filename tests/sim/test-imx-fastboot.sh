#!/usr/bin/env bash
# Conformance tests: unmodified Debian fastboot (AOSP 29, usbdevfs ioctls
# and read() of the node) against the simulated U-Boot fastboot gadget of
# the i.MX6 boards: getvar all, a raw image larger than max-download-size
# (sparse-split by the client), flash to a raw offset, erase, reboot back
# to the ROM, and faults in the fastboot stage.
# Prints "ok - NAME" / "not ok - NAME".
set -u
. "$(dirname "$0")/imx-lib.sh"
need imx_fastboot fastboot

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

# --- issue #15: a blank eMMC partitioned and flashed over fastboot ----------
blank=$scn/imx6q-fastboot-blank.json

t=blank_emmc_gpt_flow
d=$tmp/$t
"$sim" --scenario "$blank" --dump-dir "$d" -- sh -c "
	cd '$fx' &&
	! fastboot flash rootfs rootfs.simg &&
	! fastboot flash gpt gpt-bad-crc.img &&
	fastboot flash gpt gpt-64m.img &&
	fastboot flash env raw-env.img &&
	fastboot flash rootfs rootfs.simg &&
	fastboot flash mmc0boot0 u-boot-imx6q.boot0 &&
	fastboot oem partconf:1 1" >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
grep -q "FAILED (remote: 'cannot find partition')" "$d.out" || ok=0
grep -q "FAILED (remote: 'invalid GPT partition')" "$d.out" || ok=0
region_eq "$d/b1.emmc.bin" 0 "$fx/gpt-64m.img" || ok=0
[ "$(gpt_ok "$d/b1.emmc.bin")" = "env boot rootfs" ] || ok=0
region_eq "$d/b1.emmc.bin" $ENV_OFF "$fx/raw-env.img" || ok=0
region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/rootfs.expanded" || ok=0
region_eq "$d/b1.emmc_boot0.bin" 0 "$fx/u-boot-imx6q.boot0" || ok=0
# EXT_CSD[179] PARTITION_CONFIG: BOOT_ACK 1, boot from boot0 (1 << 3)
[ "$(od -An -tx1 -j179 -N1 "$d/b1.ext_csd.bin" | tr -d ' ')" = 48 ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

t=blank_emmc_mbr_then_mmcsda1
d=$tmp/$t
"$sim" --scenario "$blank" --dump-dir "$d" -- sh -c "
	cd '$fx' &&
	! fastboot flash mbr raw-env.img &&
	fastboot flash mbr mbr-64m.img &&
	fastboot flash 0x400 u-boot-imx6q.imx &&
	fastboot flash mmcsda1 rootfs.simg" >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
grep -q "FAILED (remote: 'invalid MBR partition')" "$d.out" || ok=0
region_eq "$d/b1.emmc.bin" 0 "$fx/mbr-64m.img" || ok=0
region_eq "$d/b1.emmc.bin" $((0x400)) "$fx/u-boot-imx6q.imx" || ok=0
region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/rootfs.expanded" || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

# oem format = "gpt write mmc 0 $partitions" (U-Boot fb_command.c); the
# hush shell splits at ';' unless quoted, so the list is built in pieces.
t=oem_format_writes_partitions_env
d=$tmp/$t
"$sim" --scenario "$blank" --dump-dir "$d" -- sh -c '
	! fastboot oem format &&
	fastboot oem run:"setenv a uuid_disk=01234567-89ab-cdef-0123-456789abcdef" &&
	fastboot oem run:"setenv b name=env,start=1MiB,size=1MiB" &&
	fastboot oem run:"setenv c name=boot,size=16MiB" &&
	fastboot oem run:"setenv partitions \"\${a};\${b};\${c};name=rootfs,size=-\"" &&
	fastboot oem format &&
	fastboot oem run:"part start mmc 0 rootfs fastboot.rs" &&
	fastboot oem run:"part size mmc 0 2 fastboot.bs" &&
	fastboot oem run:"gpt setenv mmc 0 env" &&
	fastboot oem run:"setenv fastboot.ge \${gpt_partition_addr}" &&
	fastboot getvar rs && fastboot getvar bs && fastboot getvar ge &&
	! fastboot oem run:"part start mmc 0 nosuch fastboot.rs"' >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
grep -q "FAILED (remote: 'partitions not set')" "$d.out" || ok=0
grep -q "^rs: 9000$" "$d.out" || ok=0 # 18 MiB in 512-byte blocks, "%lx"
grep -q "^bs: 8000$" "$d.out" || ok=0
grep -q "^ge: 800$" "$d.out" || ok=0
grep -q "FAILED (remote: '')" "$d.out" || ok=0 # run_ucmd's failure reply
[ "$(gpt_ok "$d/b1.emmc.bin")" = "env boot rootfs" ] || ok=0
# the disk GUID as given (GUID byte order), no type given: basic data
[ "$(od -An -tx1 -j$((512 + 56)) -N16 "$d/b1.emmc.bin" | tr -d ' \n')" = 67452301ab89efcd0123456789abcdef ] || ok=0
[ "$(od -An -tx1 -j1024 -N16 "$d/b1.emmc.bin" | tr -d ' \n')" = a2a0d0ebe5b9334487c068b6b72699c7 ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

t=ucmd_memory_and_env_commands
d=$tmp/$t
"$sim" --scenario "$blank" --dump-dir "$d" -- sh -c '
	fastboot oem run:"mw.b 0x12000000 0xaa 0x100; mw.b 0x12001000 0xaa 0x100" &&
	fastboot oem run:"cmp.b 0x12000000 0x12001000 0x100" &&
	! fastboot oem run:"cmp.b 0x12000000 0x12001000 0x101; true; false" &&
	fastboot oem run:version &&
	fastboot oem run:"setenv foo bar; saveenv" &&
	! fastboot oem run:nosuchcommand' >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
# saveenv: CRC-32 then the sorted variables at CONFIG_ENV_OFFSET 0xC0000
python3 - "$d/b1.emmc.bin" <<'PY' || ok=0
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()[0xC0000:0xC2000]
assert struct.unpack("<I", d[:4])[0] == zlib.crc32(d[4:])
v = d[4:].split(b"\0\0")[0].split(b"\0")
assert b"foo=bar" in v and v == sorted(v), v
PY
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

# A download over the buffer: U-Boot's download() answers FAIL + the size
# parameter as sent (the client believes a larger max-download-size here).
t=oversized_download_refused_as_uboot
d=$tmp/$t
"$sim" --scenario "$blank" --dump-dir "$d" -- sh -c "
	cd '$fx' &&
	fastboot oem run:'setenv fastboot.max-download-size 0x01000000' &&
	fastboot flash rootfs big.img" >"$d.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "FAILED (remote: '00300000')" "$d.out" && pass $t || fail $t "$d.out"

# U-Boot stays on the hardware partition fastboot flashed last
# (fb_mmc.c fb_mmc_boot_ops() selects it and never switches back): names
# are then looked up on boot0, which holds no GPT, until `mmc dev 0` or a
# `part`/`gpt` command (device "0" = hwpart 0) selects the user area again.
t=uboot_stays_on_boot0_after_flashing_it
d=$tmp/$t
"$sim" --scenario "$blank" --dump-dir "$d" -- sh -c "
	cd '$fx' &&
	fastboot flash gpt gpt-64m.img &&
	fastboot flash mmc0boot0 u-boot-imx6q.boot0 &&
	! fastboot flash env raw-env.img &&
	fastboot oem run:'mmc dev 0' &&
	fastboot flash env raw-env.img &&
	fastboot flash mmc0boot1 u-boot-imx6q.boot0 &&
	fastboot oem run:'part size mmc 0 env fastboot.es' &&
	fastboot flash rootfs rootfs.simg" >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
grep -q "FAILED (remote: 'cannot find partition')" "$d.out" || ok=0
region_eq "$d/b1.emmc.bin" $ENV_OFF "$fx/raw-env.img" || ok=0
region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/rootfs.expanded" || ok=0
region_eq "$d/b1.emmc_boot0.bin" 0 "$fx/u-boot-imx6q.boot0" || ok=0
region_eq "$d/b1.emmc_boot1.bin" 0 "$fx/u-boot-imx6q.boot0" || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

# mmc read/write on the hardware partition selected last: `mmc dev 0 2`
# (boot1), then `part start` (back to the user area, cmd/part.c via
# blk_get_device_by_str()), so the write lands at rootfs on the user area;
# `gpt write` of a list larger than the disk fails as run_ucmd does.
t=ucmd_mmc_dev_read_write_part_and_gpt_write
d=$tmp/$t
"$sim" --scenario "$blank" --dump-dir "$d" -- sh -c '
	fastboot oem run:"setenv p1 name=env,start=1MiB,size=1MiB" &&
	fastboot oem run:"setenv p2 name=boot,size=16MiB" &&
	fastboot oem run:"setenv partitions \"\${p1};\${p2};name=rootfs,size=-\"" &&
	fastboot oem run:"gpt write mmc 0 \$partitions" &&
	! fastboot oem run:"gpt write mmc 0 name=huge,size=128MiB" &&
	fastboot oem run:"mw.b 0x12000000 0x5a 0x400" &&
	fastboot oem run:"mmc dev 0 2" &&
	fastboot oem run:"mmc write 0x12000000 1 2" &&
	fastboot oem run:"part start mmc 0 rootfs rs" &&
	fastboot oem run:"mmc write 0x12000000 \${rs} 1" &&
	fastboot oem run:"mmc dev 0 1" &&
	fastboot oem run:"mmc read 0x12100000 0 1" &&
	! fastboot oem run:"cmp.b 0x12000000 0x12100000 1" &&
	fastboot oem run:"mmc dev 0" &&
	fastboot oem run:"mmc read 0x12100000 \${rs} 1" &&
	fastboot oem run:"cmp.b 0x12000000 0x12100000 0x200"' >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
[ "$(gpt_ok "$d/b1.emmc.bin")" = "env boot rootfs" ] || ok=0
python3 - "$d" "$ROOTFS_OFF" <<'PY' || ok=0
import sys
d, rootfs = sys.argv[1], int(sys.argv[2])
b1 = open(d + "/b1.emmc_boot1.bin", "rb").read()
u = open(d + "/b1.emmc.bin", "rb").read()
assert b1[:512] == bytes(512) and b1[512:1536] == b"\x5a" * 1024 and b1[1536:2048] == bytes(512)
assert u[rootfs:rootfs + 512] == b"\x5a" * 512 and u[rootfs + 512:rootfs + 1024] == bytes(512)
PY
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"

# `mmc partconf 0 VAR`: the boot partition enabled, into a variable
# (cmd/mmc.c mmc_partconf_print(), env_set_hex()), as a factory script
# checks it after `oem partconf`.
t=ucmd_mmc_partconf_into_a_variable
d=$tmp/$t
"$sim" --scenario "$blank" --dump-dir "$d" -- sh -c '
	fastboot oem run:"mmc partconf 0 fastboot.bp0" &&
	fastboot oem partconf:1 2 &&
	fastboot oem run:"mmc partconf 0 fastboot.bp" &&
	fastboot getvar bp0 && fastboot getvar bp' >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
grep -q "^bp0: 0$" "$d.out" || ok=0
grep -q "^bp: 2$" "$d.out" || ok=0
[ "$(od -An -tx1 -j179 -N1 "$d/b1.ext_csd.bin" | tr -d ' ')" = 50 ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out"
