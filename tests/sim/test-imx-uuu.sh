#!/usr/bin/env bash
# Conformance tests: unmodified Debian uuu 1.4.193 against the simulated
# i.MX6Q and i.MX6ULL boards: "SDP: boot" of the fixtures' u-boot.imx, then
# after re-enumeration on the same port FB: getvar, ucmd and flash of a raw
# image, a sparse image and a raw offset (0x400, as in the seed); the dumped
# eMMC must hold exactly those bytes.  Prints "ok - NAME" / "not ok - NAME".
set -u
. "$(dirname "$0")/imx-lib.sh"
need imx_uuu uuu

for soc in imx6q imx6ull; do
	img=u-boot-imx6q.imx
	[ $soc = imx6ull ] && img=u-boot-imx6ul.imx
	cat >"$fx/$soc.lst" <<LST
uuu_version 1.2.39
SDP: boot -f $img
FB: getvar version
FB: ucmd setenv fastboot_buffer \${loadaddr}
FB: ucmd mmc dev 0
FB: flash env raw-env.img
FB: flash rootfs rootfs.simg
FB: flash 0x400 $img
FB: ucmd crc32 -v \${fastboot_buffer} $(printf '%x' "$(stat -c %s "$fx/$img")") $(python3 -c 'import zlib,sys; print("%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$fx/$img")
FB: done
LST
	t=uuu_sdp_boot_then_fastboot_flash_$soc
	d=$tmp/$t
	(cd "$fx" && "$sim" --scenario "$scn/one-$soc.json" --dump-dir "$d" -- uuu "$soc.lst") >"$d.out" 2>&1
	rc=$?
	ok=1
	[ $rc -eq 0 ] || ok=0
	[ "$(jget "$d" enumerations)" = 2 ] || ok=0
	[ "$(jget "$d" state)" = fastboot ] || ok=0
	region_eq "$d/b1.emmc.bin" $ENV_OFF "$fx/raw-env.img" || ok=0
	region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/rootfs.expanded" || ok=0
	region_eq "$d/b1.emmc.bin" $((0x400)) "$fx/$img" || ok=0
	[ $ok -eq 1 ] && pass $t || fail $t "$d.out" "$d/summary.json"
done

# A wrong CRC makes the UCmd fail and uuu with it.
cat >"$fx/crc-bad.lst" <<'LST'
uuu_version 1.2.39
SDP: boot -f u-boot-imx6q.imx
FB: ucmd crc32 -v ${loadaddr} 100 12345678
FB: done
LST
t=uuu_ucmd_failure_fails_the_run
d=$tmp/$t
(cd "$fx" && "$sim" --scenario "$scn/one-imx6q.json" --dump-dir "$d" -- uuu crc-bad.lst) >"$d.out" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 70 ] && pass $t || fail $t "$d.out"

# Issue #15: the GPT flow on a blank eMMC, as an uuu script sends it.
cat >"$fx/blank-gpt.lst" <<'LST'
uuu_version 1.2.39
SDP: boot -f u-boot-imx6q.imx
FB: ucmd mmc dev 0
FB: flash gpt gpt-64m.img
FB: flash env raw-env.img
FB: flash rootfs rootfs.simg
FB: flash mmc0boot0 u-boot-imx6q.boot0
FB: ucmd mmc partconf 0 1 1 0
FB: ucmd part start mmc 0 rootfs rs
FB: ucmd setenv fastboot_buffer ${loadaddr}
FB: ucmd mmc read ${loadaddr} ${rs} 1
FB: ucmd mw.b 0x12100000 0xff 0x200
FB: ucmd saveenv
FB: done
LST
t=uuu_blank_emmc_gpt_flow
d=$tmp/$t
(cd "$fx" && "$sim" --scenario "$scn/one-imx6q-blank.json" --dump-dir "$d" -- uuu blank-gpt.lst) >"$d.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
region_eq "$d/b1.emmc.bin" 0 "$fx/gpt-64m.img" || ok=0
[ "$(gpt_ok "$d/b1.emmc.bin")" = "env boot rootfs" ] || ok=0
region_eq "$d/b1.emmc.bin" $ENV_OFF "$fx/raw-env.img" || ok=0
region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/rootfs.expanded" || ok=0
region_eq "$d/b1.emmc_boot0.bin" 0 "$fx/u-boot-imx6q.boot0" || ok=0
[ "$(od -An -tx1 -j179 -N1 "$d/b1.ext_csd.bin" | tr -d ' ')" = 48 ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$d.out" "$d/summary.json"
