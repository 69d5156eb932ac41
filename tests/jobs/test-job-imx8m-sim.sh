#!/usr/bin/env bash
# Job runner with the i.MX8M boot flows (jobs/job-imx-sdpv.c, issue #22)
# against the simulated i.MX8MM and i.MX8MP boards under flashsim
# (protocol-imx-sdp-fastboot.md §1.12-§1.14):
#   8MM  SDP ROM: sdp.boot writes the SPL -> await the SPL's SDPV gadget
#        (0525:b4a4 bcd 0x0500) -> sdp.boot "skip_spl" writes the rest of
#        flash.bin and jumps -> await fastboot -> flash eMMC;
#   8MP  SDPS ROM: sdp.boot streams the whole flash.bin (EP1, 1020-byte
#        reports; the SPL pulls the FIT) -> await fastboot -> flash eMMC.
# Checked: one 'pass' row each, the eMMC byte for byte, the image rows; a
# broken IVT and a write offset past the FIT end as 'fail' rows naming the
# stage.  Skips when flashsim, job-tool or the i.MX8M models are missing.
. "$(dirname "$0")/../lib/testlib.sh"
tool=$build/tests/tools/job-tool
fxdir=$top/tests/fixtures/imx
if [ ! -x "$sim" ] || [ ! -x "$tool" ] || [ ! -f "$fxdir/mk8m.py" ] || [ ! -f "$top/tests/sim/boards/imx_sdps.c" ]; then
	skip job_imx8m_sim "flashsim, job-tool, i.MX8M board models or fixtures not built"
	exit 0
fi

mkdir -p "$tmp/r/images"
I=$tmp/r/images
{ python3 "$fxdir/mkfixtures.py" "$I" && python3 "$fxdir/mk8m.py" "$I"; } >/dev/null ||
	{ nok job_imx8m_fixtures; exit 1; }
img() { # NAME: "file" and "sha256" fields
	echo "\"file\": \"images/$1\", \"sha256\": \"$(sha "$I/$1")\""
}
crc_at() { # FILE OFFSET LENGTH (LENGTH 0: to the end)
	python3 -c 'import sys,zlib; f=open(sys.argv[1],"rb"); f.seek(int(sys.argv[2],0)); n=int(sys.argv[3],0); print("%08x" % zlib.crc32(f.read(n) if n else f.read()))' "$@"
}
emmc_has() { # DUMPDIR FILE OFFSET
	cmp -s <(tail -c +$(($3 + 1)) "$1/b1.emmc.bin" | head -c "$(stat -c %s "$2")") "$2"
}
ROOTFS_OFF=$((18 * 1024 * 1024)) # boards' default GPT: rootfs at 18 MiB
SPL8MM=$((0x7a64))		 # mk8m.py: SPL bytes of flash-8mm.bin

tail_stages() { # BOOT_OFFSET FLASH_BIN
	cat <<EOF2
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    { "op": "fastboot.getvar", "var": "serialno" },
    { "op": "fastboot.ucmd", "command": "mmc dev 0" },
    { "op": "fastboot.flash", "name": "bootloader", "offset": "$1", $(img "$2"), "verify": "crc32" },
    { "op": "fastboot.flash", "name": "rootfs", "partition": "rootfs", $(img rootfs.simg),
      "sparse": "auto", "max_download": 8192 } ] }
EOF2
}
serial='{ "source": "fastboot_getvar", "var": "serialno" }'

spl_recipe() { # NAME SPL_FIELDS
	cat >"$tmp/r/$1.json" <<EOF2
{ "name": "$1", "match": { "vid": "1fc9", "pid": "0134" }, "serial": $serial,
  "stages": [
    { "op": "sdp.boot", "name": "rom", $(img flash-8mm.bin) },
    { "op": "await", "vid": "0525", "pid": "b4a4", "timeout_ms": 15000 },
    { "op": "sdp.boot", "name": "spl", $(img flash-8mm.bin) $2 },
$(tail_stages 0x8400 flash-8mm.bin)
EOF2
}
# The 8MM eMMC boot image sits at 33 KiB, the 8MP one at 32 KiB (§1.9 offsets
# of imx-mkimage; here only a place on the disk that the check reads back).
spl_recipe imx8mm ', "skip_spl": true'
spl_recipe imx8mm-default ''
spl_recipe imx8mm-pastfit ', "offset": "0x8000"'
sdps_recipe() { # NAME FLASH_BIN
	cat >"$tmp/r/$1.json" <<EOF2
{ "name": "$1", "match": { "vid": "1fc9", "pid": "0146" }, "serial": $serial,
  "stages": [
    { "op": "sdp.boot", $(img "$2") },
$(tail_stages 0x8000 flash-8mp.bin)
EOF2
}
sdps_recipe imx8mp flash-8mp.bin
sdps_recipe imx8mp-bad flash-8mp-bad.bin

run() { # NAME RECIPE BOARD_TYPE
	cat >"$tmp/$1.json" <<EOF2
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "$3", "port": "1-1.4", "uid": "906709d4d72d7372" } ] }
EOF2
	timeout 120 "$sim" --scenario "$tmp/$1.json" --dump-dir "$tmp/$1" -- \
		"$tool" --db "$tmp/$1.db" --recipe "$tmp/r/$2.json" --port 1-1.4 \
		--deadline-pct 10 >"$tmp/$1.log" 2>&1
	rc=$?
}
# U-Boot's serial# = "%08x%08x" of the UID's low then high word (§3.2).
SERIAL=d72d7372906709d4

# --- i.MX8MM: ROM SDP -> SPL SDPV -> fastboot ---------------------------------
run mm imx8mm imx8mm-sdp
row=$(q "$tmp/mm.db" "SELECT result, serial, chip_uid FROM units")
n=$(q "$tmp/mm.db" "SELECT count(*) FROM units")
if [ "$rc" -eq 0 ] && [ "$n" = 1 ] && [ "$row" = "pass|$SERIAL|906709D4D72D7372" ]; then
	ok job_imx8mm_one_pass_row_with_ocotp_chip_uid
else
	nok job_imx8mm_one_pass_row_with_ocotp_chip_uid "rc=$rc n=$n row=$row" "$(tail -3 "$tmp/mm.log")"
fi
if emmc_has "$tmp/mm" "$I/flash-8mm.bin" $((0x8400)) && emmc_has "$tmp/mm" "$I/rootfs.expanded" $ROOTFS_OFF; then
	ok job_imx8mm_emmc_byte_exact
else
	nok job_imx8mm_emmc_byte_exact
fi
stages=$(q "$tmp/mm.db" "SELECT group_concat(name || ':' || result, ' ') FROM (SELECT * FROM unit_stages ORDER BY idx)")
[ "$stages" = "rom:pass await:pass spl:pass await:pass fastboot.getvar:pass fastboot.ucmd:pass bootloader:pass rootfs:pass verify:pass" ] &&
	ok job_imx8mm_stage_rows_rom_spl_fastboot || nok job_imx8mm_stage_rows_rom_spl_fastboot "$stages"
imgs=$(q "$tmp/mm.db" "SELECT stage, target, printf('%08x', host_crc32) FROM unit_images WHERE stage IN ('rom', 'spl') ORDER BY id")
want="rom|ram:0x007e0fc0|$(crc_at "$I/flash-8mm.bin" 0 $SPL8MM)
spl|ram:0x00000000|$(crc_at "$I/flash-8mm.bin" $SPL8MM 0)"
[ "$imgs" = "$want" ] && ok job_imx8mm_rom_writes_spl_gadget_gets_the_rest ||
	nok job_imx8mm_rom_writes_spl_gadget_gets_the_rest "got: $imgs" "want: $want"

# Without skip_spl/offset an SDPV gadget (bcd 0x0500) also starts after the SPL.
run mmdef imx8mm-default imx8mm-sdp
row=$(q "$tmp/mmdef.db" "SELECT result FROM units")
[ "$rc" -eq 0 ] && [ "$row" = pass ] && emmc_has "$tmp/mmdef" "$I/flash-8mm.bin" $((0x8400)) &&
	ok job_imx8mm_sdpv_default_skips_spl || nok job_imx8mm_sdpv_default_skips_spl "rc=$rc row=$row" "$(tail -3 "$tmp/mmdef.log")"

# A write that starts past the FIT header: the SPL finds nothing to boot.
run mmpast imx8mm-pastfit imx8mm-sdp
row=$(q "$tmp/mmpast.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/mmpast.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|spl" ] && [[ $err == *"JUMP_ADDRESS"* ]]; then
	ok job_imx8mm_spl_without_fit_fails_in_spl_stage
else
	nok job_imx8mm_spl_without_fit_fails_in_spl_stage "rc=$rc row=$row" "error=$err"
fi

# --- i.MX8MP: SDPS stream of the whole flash.bin -> fastboot ------------------
run mp imx8mp imx8mp-sdps
row=$(q "$tmp/mp.db" "SELECT result, serial FROM units")
n=$(q "$tmp/mp.db" "SELECT count(*) FROM units")
if [ "$rc" -eq 0 ] && [ "$n" = 1 ] && [ "$row" = "pass|$SERIAL" ]; then
	ok job_imx8mp_one_pass_row
else
	nok job_imx8mp_one_pass_row "rc=$rc n=$n row=$row" "$(tail -3 "$tmp/mp.log")"
fi
if emmc_has "$tmp/mp" "$I/flash-8mp.bin" $((0x8000)) && emmc_has "$tmp/mp" "$I/rootfs.expanded" $ROOTFS_OFF; then
	ok job_imx8mp_emmc_byte_exact
else
	nok job_imx8mp_emmc_byte_exact
fi
imgs=$(q "$tmp/mp.db" "SELECT stage, target, printf('%08x', host_crc32) FROM unit_images WHERE stage = 'sdp.boot'")
want="sdp.boot|ram:0x0091ffc0|$(crc_at "$I/flash-8mp.bin" 0 0)"
[ "$imgs" = "$want" ] && ok job_imx8mp_whole_file_streamed || nok job_imx8mp_whole_file_streamed "got: $imgs" "want: $want"

# A flash.bin whose IVT is broken never reaches the board.
run mpbad imx8mp-bad imx8mp-sdps
row=$(q "$tmp/mpbad.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/mpbad.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|sdp.boot" ] && [[ $err == *IVT* ]]; then
	ok job_imx8mp_bad_ivt_fails_in_sdp_boot
else
	nok job_imx8mp_bad_ivt_fails_in_sdp_boot "rc=$rc row=$row" "error=$err"
fi

# --- the example recipes jobs/recipes/imx8mm-emmc.json, imx8mp-emmc.json -----
for spec in "imx8mm-emmc imx8mm-sdp 0x8400 imx8mm-flash.bin" "imx8mp-emmc imx8mp-sdps 0x8000 imx8mp-flash.bin"; do
	set -- $spec
	cat >"$tmp/ex-$1.json" <<EOF2
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "$2", "port": "1-1.4", "uid": "906709d4d72d7372" } ] }
EOF2
	timeout 120 "$sim" --scenario "$tmp/ex-$1.json" --dump-dir "$tmp/ex-$1" -- \
		"$tool" --db "$tmp/ex-$1.db" --recipe "$top/jobs/recipes/$1.json" --port 1-1.4 \
		--deadline-pct 10 >"$tmp/ex-$1.log" 2>&1
	rc=$?
	row=$(q "$tmp/ex-$1.db" "SELECT result, serial FROM units")
	if [ "$rc" -eq 0 ] && [ "$row" = "pass|$SERIAL" ] &&
		emmc_has "$tmp/ex-$1" "$top/jobs/recipes/images/$4" $(($3)); then
		ok "job_example_recipe_$1_passes"
	else
		nok "job_example_recipe_$1_passes" "rc=$rc row=$row" "$(tail -3 "$tmp/ex-$1.log")"
	fi
done

# --- recipe check: the examples pass, skip_spl and offset together do not -----
flashctl=$build/flashctl
if [ -x "$flashctl" ]; then
	out=$("$flashctl" recipe check "$top/jobs/recipes/imx8mm-emmc.json" "$top/jobs/recipes/imx8mp-emmc.json" 2>&1)
	[ $? -eq 0 ] && ok recipe_check_imx8m_examples || nok recipe_check_imx8m_examples "$out"
	spl_recipe both ', "skip_spl": true, "offset": "0x100"'
	out=$("$flashctl" recipe check "$tmp/r/both.json" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep -qF 'both.json: stages[2].offset: give either "skip_spl" or "offset", not both' <<<"$out"; then
		ok recipe_check_skip_spl_with_offset_refused
	else
		nok recipe_check_skip_spl_with_offset_refused "rc=$rc" "$out"
	fi
fi
