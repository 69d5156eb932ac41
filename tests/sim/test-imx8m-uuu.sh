#!/usr/bin/env bash
# Conformance tests (issue #22): unmodified Debian uuu 1.4.193 against the
# simulated i.MX8MM and i.MX8MP boards with its built-in flows' commands
# (uuu -bshow emmc): "SDP: boot" of flash.bin, then on the SPL's SDPV
# gadget "write -skipspl" + "jump" (8MM), or "SDPS: boot" of the whole
# flash.bin (8MP); then FB: flash on the fastboot gadget that follows.  The
# dumped eMMC must hold exactly the flashed bytes, and the board must have
# enumerated once per stage.  Prints "ok - NAME" / "not ok - NAME".
set -u
. "$(dirname "$0")/imx-lib.sh"
need imx8m_uuu uuu
python3 "$top/tests/fixtures/imx/mk8m.py" "$fx" || {
	echo "not ok - i.MX8M fixtures are generated"
	exit 1
}

cat >"$fx/imx8m.lst" <<'LST'
uuu_version 1.2.39
SDP: boot -f _flash.bin
SDPS: boot -f _flash.bin
SDPV: delay 1000
SDPV: write -f _flash.bin -skipspl
SDPV: jump
FB: ucmd mmc dev 0
FB: flash 0x8000 _flash.bin
FB: flash rootfs rootfs.simg
FB: done
LST

# TYPE FLASH_BIN ENUMERATIONS (ROM, [SPL,] fastboot)
for spec in "imx8mm-sdp flash-8mm.bin 3" "imx8mp-sdps flash-8mp.bin 2"; do
	set -- $spec
	t=uuu_boots_and_flashes_$1
	d=$tmp/$t
	sed "s/_flash.bin/$2/" "$fx/imx8m.lst" >"$fx/$1.lst"
	cat >"$fx/$1.json" <<EOF
{ "time_scale": 0.01, "boards": [ { "id": "b1", "type": "$1", "port": "1-1.2.3" } ] }
EOF
	(cd "$fx" && timeout 300 "$sim" --scenario "$1.json" --dump-dir "$d" -- uuu "$1.lst") >"$d.out" 2>&1
	rc=$?
	ok=1
	[ $rc -eq 0 ] || ok=0
	[ "$(jget "$d" enumerations)" = "$3" ] || ok=0
	[ "$(jget "$d" state)" = fastboot ] || ok=0
	region_eq "$d/b1.emmc.bin" $((0x8000)) "$fx/$2" || ok=0
	region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/rootfs.expanded" || ok=0
	[ $ok -eq 1 ] && pass $t || fail $t "$d.out" "$d/summary.json"
done

# A broken IVT: the stream ROM never starts anything, uuu's run cannot finish.
t=uuu_sdps_bad_ivt_does_not_boot
d=$tmp/$t
sed "s/_flash.bin/flash-8mp-bad.bin/" "$fx/imx8m.lst" >"$fx/bad.lst"
cat >"$fx/bad.json" <<'EOF'
{ "time_scale": 0.01, "boards": [ { "id": "b1", "type": "imx8mp-sdps", "port": "1-1.2.3" } ] }
EOF
(cd "$fx" && timeout 60 "$sim" --scenario bad.json --dump-dir "$d" -- uuu -t 5 -T 5 bad.lst) >"$d.out" 2>&1
[ "$(jget "$d" enumerations)" = 1 ] && [ "$(jget "$d" state)" != fastboot ] && pass $t || fail $t "$d.out" "$d/summary.json"
