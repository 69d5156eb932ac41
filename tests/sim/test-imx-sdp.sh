#!/usr/bin/env bash
# Conformance tests: unmodified Debian imx_usb (imx-usb-loader) against the
# simulated i.MX6Q and i.MX6ULL boot ROMs served by flashsim, including the
# ROM's answers to a bad IVT, a closed HAB part, and faults in the SDP stage.
# Prints "ok - NAME" / "not ok - NAME".
set -u
. "$(dirname "$0")/imx-lib.sh"
need imx_sdp imx_usb

# imx_usb exits right after JUMP; the sleep lets the board finish its boot
# so the summary shows the U-Boot fastboot gadget on the same port.
load() { # SCENARIO IMAGE DUMPDIR OUT
	"$sim" --scenario "$1" --dump-dir "$3" -- sh -c "imx_usb -v '$2'; rc=\$?; sleep 0.5; exit \$rc" >"$4" 2>&1
}

for soc in imx6q imx6ull; do
	img=$fx/u-boot-imx6q.imx
	[ $soc = imx6ull ] && img=$fx/u-boot-imx6ul.imx
	t=imx_usb_loads_and_jumps_$soc
	load "$scn/one-$soc.json" "$img" "$tmp/$t" "$tmp/$t.out"
	rc=$?
	ok=1
	[ $rc -eq 0 ] || ok=0
	grep -q 'status 0x88888888' "$tmp/$t.out" || ok=0
	grep -q "jumping to 0x" "$tmp/$t.out" || ok=0
	[ "$(jget "$tmp/$t" state)" = fastboot ] || ok=0
	[ "$(jget "$tmp/$t" enumerations)" = 2 ] || ok=0
	[ $ok -eq 1 ] && pass $t || fail $t "$tmp/$t.out" "$tmp/$t/summary.json"
done

# The ROM refuses an IVT whose entry lies outside the image: report 4
# carries the HAB "invalid IVT" event, the board stays in the ROM.
t=bad_ivt_gets_rom_error_and_no_jump
load "$scn/one-imx6q.json" "$fx/u-boot-bad-ivt.imx" "$tmp/$t" "$tmp/$t.out"
ok=1
# imx_usb prints the word big-endian; the LE word is 0x000A0533
grep -Eqi '000a0533|33050a00' "$tmp/$t.out" || ok=0
[ "$(jget "$tmp/$t" state)" = sdp-idle ] || ok=0
[ "$(jget "$tmp/$t" enumerations)" = 1 ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/$t.out" "$tmp/$t/summary.json"

# A valid IVT without our marker: the ROM jumps into unknown code.
t=unknown_code_jump_goes_dark
load "$scn/one-imx6q.json" "$fx/u-boot-other.imx" "$tmp/$t" "$tmp/$t.out"
ok=1
case $(jget "$tmp/$t" state) in running@0x17800000) ;; *) ok=0 ;; esac
[ "$(jget "$tmp/$t" on_bus)" = False ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/$t.out" "$tmp/$t/summary.json"

# Closed part: report 3 is 0x12343412; an image without CSF does not boot.
t=hab_closed_reports_and_refuses_unsigned
load "$scn/imx6q-hab-closed.json" "$fx/u-boot-imx6q.imx" "$tmp/$t" "$tmp/$t.out"
ok=1
grep -q '0x12343412' "$tmp/$t.out" || ok=0
[ "$(jget "$tmp/$t" enumerations)" = 1 ] || ok=0
[ "$(jget "$tmp/$t" state)" = sdp-idle ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/$t.out" "$tmp/$t/summary.json"

# Unplug in the middle of WRITE_FILE: imx_usb fails, no jump.
for soc in imx6q imx6ull; do
	img=$fx/u-boot-imx6q.imx
	[ $soc = imx6ull ] && img=$fx/u-boot-imx6ul.imx
	t=unplug_during_write_file_$soc
	load "$scn/$soc-unplug-write.json" "$img" "$tmp/$t" "$tmp/$t.out"
	rc=$?
	ok=1
	[ $rc -ne 0 ] && [ $rc -ne 70 ] || ok=0
	[ "$(jget "$tmp/$t" state)" = unplugged ] || ok=0
	[ "$(jget "$tmp/$t" faults_fired)" = 1 ] || ok=0
	[ $ok -eq 1 ] && pass $t || fail $t "$tmp/$t.out" "$tmp/$t/summary.json"
done

# One STALLed command: imx_usb retries the command and the load completes.
t=stalled_command_is_retried
load "$scn/imx6q-stall-command.json" "$fx/u-boot-imx6q.imx" "$tmp/$t" "$tmp/$t.out"
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
[ "$(jget "$tmp/$t" faults_fired)" = 1 ] || ok=0
[ "$(jget "$tmp/$t" state)" = fastboot ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/$t.out" "$tmp/$t/summary.json"

# JUMP never completes (nor do imx_usb's retries): it gives up, the board
# never leaves the ROM.
for soc in imx6q imx6ull; do
	img=$fx/u-boot-imx6q.imx
	[ $soc = imx6ull ] && img=$fx/u-boot-imx6ul.imx
	t=hung_jump_no_boot_$soc
	load "$scn/$soc-hang-jump.json" "$img" "$tmp/$t" "$tmp/$t.out"
	ok=1
	[ "$(jget "$tmp/$t" faults_fired)" -ge 1 ] || ok=0
	[ "$(jget "$tmp/$t" enumerations)" = 1 ] || ok=0
	[ "$(jget "$tmp/$t" state)" = sdp-idle ] || ok=0
	[ $ok -eq 1 ] && pass $t || fail $t "$tmp/$t.out" "$tmp/$t/summary.json"
done
