#!/usr/bin/env bash
# Job runner with the i.MX stages (jobs/job-imx.c) against simulated i.MX6Q
# boards under flashsim: sdp.boot -> await (the re-enumerated fastboot
# gadget) -> fastboot getvar, sparse partition, raw 0x400 with device CRC,
# reboot.  Checked where a user would look: the eMMC byte for byte and the
# unit's database rows.  Faults: unplug mid-download, and a board whose
# U-Boot never re-enumerates (await times out) must end as 'fail' rows
# naming the stage.  Skips when flashsim, job-tool, the i.MX board models or
# the fixture generator are missing.
. "$(dirname "$0")/../lib/testlib.sh"
tool=$build/tests/tools/job-tool
mkfx=$top/tests/fixtures/imx/mkfixtures.py
if [ ! -x "$sim" ] || [ ! -x "$tool" ] || [ ! -f "$mkfx" ] || [ ! -f "$top/tests/sim/boards/imx_sdp.c" ]; then
	echo "ok - job_imx_sim # SKIP flashsim, job-tool, i.MX board models or fixtures not built"
	exit 0
fi


mkdir -p "$tmp/r/images"
python3 "$mkfx" "$tmp/r/images" >/dev/null || { nok job_imx_fixtures; exit 1; }
I=$tmp/r/images

write_recipe() { # NAME SERIAL_JSON AWAIT_TIMEOUT_MS
	cat >"$tmp/r/$1.json" <<EOF2
{ "name": "$1", "match": { "vid": "15a2", "pid": "0054" },
  "serial": $2,
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": $3 },
    { "op": "fastboot.getvar", "var": "serialno" },
    { "op": "fastboot.ucmd", "command": "mmc dev 0" },
    { "op": "fastboot.flash", "name": "rootfs", "partition": "rootfs", "file": "images/rootfs.simg",
      "sha256": "$(sha "$I/rootfs.simg")", "sparse": "auto", "max_download": 8192 },
    { "op": "fastboot.flash", "name": "bootloader", "offset": "0x400", "file": "images/raw-env.img",
      "sha256": "$(sha "$I/raw-env.img")", "verify": "crc32" },
    { "op": "fastboot.reboot" } ] }
EOF2
}
write_recipe getvar '{ "source": "fastboot_getvar", "var": "serialno" }' 15000
write_recipe ocotp '{ "source": "imx_ocotp", "ocotp_words": [ "0x021bc410", "0x021bc420" ] }' 15000
write_recipe short '{ "source": "fastboot_getvar", "var": "serialno" }' 1500

run() { # NAME RECIPE EXTRA_BOARD_KEYS
	local name=$1 recipe=$2 extra=$3
	cat >"$tmp/$name.json" <<EOF2
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "imx6q-sdp", "port": "1-1.4", "uid": "906709d4d72d7372" $extra } ] }
EOF2
	timeout 120 "$sim" --scenario "$tmp/$name.json" --dump-dir "$tmp/$name" -- \
		"$tool" --db "$tmp/$name.db" --recipe "$tmp/r/$recipe.json" --port 1-1.4 \
		--deadline-pct 10 >"$tmp/$name.log" 2>&1
	rc=$?
}
q() { sqlite3 "$1" "$2" 2>&1; }
emmc_has() { # DUMPDIR FILE OFFSET
	cmp -s <(tail -c +$(($3 + 1)) "$1/b1.emmc.bin" | head -c "$(stat -c %s "$2")") "$2"
}
crc_of() { python3 -c 'import sys,zlib; print("%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$1"; }
crc_at() { # FILE OFFSET LENGTH
	python3 -c 'import sys,zlib; f=open(sys.argv[1],"rb"); f.seek(int(sys.argv[2],0)); print("%08x" % zlib.crc32(f.read(int(sys.argv[3],0))))' "$@"
}
ROOTFS_OFF=$((18 * 1024 * 1024)) # boards' default layout: env 1 MiB @1 MiB, boot 16 MiB, rootfs

# --- happy path, serial from getvar ------------------------------------------
run happy getvar ""
row=$(q "$tmp/happy.db" "SELECT result, serial, chip_uid, failed_stage IS NULL FROM units")
if [ "$rc" -eq 0 ] && [ "$row" = "pass|d72d7372906709d4|906709D4D72D7372|1" ]; then
	ok job_imx_unit_passes_with_getvar_serial_and_chip_uid
else
	nok job_imx_unit_passes_with_getvar_serial_and_chip_uid "rc=$rc row=$row" "$(tail -3 "$tmp/happy.log")"
fi
if emmc_has "$tmp/happy" "$I/rootfs.expanded" $ROOTFS_OFF && emmc_has "$tmp/happy" "$I/raw-env.img" $((0x400)); then
	ok job_imx_emmc_byte_exact_sparse_partition_and_raw_0x400
else
	nok job_imx_emmc_byte_exact_sparse_partition_and_raw_0x400
fi
imgs=$(q "$tmp/happy.db" "SELECT stage, target, sha256, printf('%08x', host_crc32), CASE WHEN device_crc32 IS NULL THEN '-' ELSE printf('%08x', device_crc32) END, verified FROM unit_images ORDER BY id")
want="sdp.boot|ram:0x177ff400|$(sha "$I/u-boot-imx6q.imx")|$(crc_of "$I/u-boot-imx6q.imx")|-|0
rootfs|rootfs|$(sha "$I/rootfs.simg")|$(crc_of "$I/rootfs.simg")|-|0
bootloader|0x400|$(sha "$I/raw-env.img")|$(crc_of "$I/raw-env.img")|$(crc_of "$I/raw-env.img")|1
verify|rootfs+0x0..0x5000|$(sha "$I/rootfs.simg")|$(crc_at "$I/rootfs.expanded" 0 0x5000)|$(crc_at "$I/rootfs.expanded" 0 0x5000)|1
verify|rootfs+0xa000..0x10000|$(sha "$I/rootfs.simg")|$(crc_at "$I/rootfs.expanded" 0xa000 0x6000)|$(crc_at "$I/rootfs.expanded" 0xa000 0x6000)|1
verify|0x400|$(sha "$I/raw-env.img")|$(crc_of "$I/raw-env.img")|$(crc_of "$I/raw-env.img")|1"
[ "$imgs" = "$want" ] && ok job_imx_image_rows_targets_and_crcs || nok job_imx_image_rows_targets_and_crcs "got: $imgs" "want: $want"
stages=$(q "$tmp/happy.db" "SELECT group_concat(name || ':' || result, ' ') FROM (SELECT * FROM unit_stages ORDER BY idx)")
[ "$stages" = "sdp.boot:pass await:pass fastboot.getvar:pass fastboot.ucmd:pass rootfs:pass bootloader:pass fastboot.reboot:pass verify:pass" ] &&
	ok job_imx_stage_rows_in_order || nok job_imx_stage_rows_in_order "$stages"

# --- serial from OCOTP through SDP, before the boot --------------------------
run ocotp ocotp ""
row=$(q "$tmp/ocotp.db" "SELECT result, serial FROM units")
[ "$rc" -eq 0 ] && [ "$row" = "pass|906709D4D72D7372" ] && ok job_imx_serial_from_ocotp ||
	nok job_imx_serial_from_ocotp "rc=$rc row=$row" "$(tail -3 "$tmp/ocotp.log")"

# --- unplug in the middle of the raw download ---------------------------------
run unplug getvar ', "faults": [ { "kind": "unplug", "step": "fb_download", "skip": 3 } ]'
row=$(q "$tmp/unplug.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/unplug.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [[ $row == fail\|* ]] && [[ $row != *"|" ]] && [[ $err == *download* ]]; then
	ok job_imx_unplug_mid_download_fails_naming_the_stage
else
	nok job_imx_unplug_mid_download_fails_naming_the_stage "rc=$rc row=$row" "error=$err"
fi

# --- U-Boot never re-enumerates: the await stage times out --------------------
run noreenum short ', "faults": [ { "kind": "unplug", "step": "uboot_boot" } ]'
row=$(q "$tmp/noreenum.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/noreenum.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|await" ] && [[ $err == *"0525:a4a5"* ]]; then
	ok job_imx_no_reenumeration_fails_in_await
else
	nok job_imx_no_reenumeration_fails_in_await "rc=$rc row=$row" "error=$err"
fi

# --- a stuck board ends within its stage timeout (sliced reply waits) ---------
# Real engine timeouts (--deadline-pct 100: erase reply 120 s, SDP report
# 10 s) and a 3 s stage timeout: the deadline must reach the wait in flight.
cat >"$tmp/r/erasehang.json" <<EOF2
{ "name": "erasehang", "match": { "vid": "15a2", "pid": "0054" },
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    { "op": "fastboot.erase", "partition": "boot", "timeout_ms": 3000 },
    { "op": "fastboot.getvar", "var": "serialno" } ] }
EOF2
cat >"$tmp/r/sdphang.json" <<EOF2
{ "name": "sdphang", "match": { "vid": "15a2", "pid": "0054" },
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")",
      "timeout_ms": 3000 } ] }
EOF2
run_hang() { # NAME RECIPE BOARD_KEYS: like run, real timeouts, bounded wall time
	local name=$1 recipe=$2 extra=$3
	cat >"$tmp/$name.json" <<EOF2
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "imx6q-sdp", "port": "1-1.4", "uid": "906709d4d72d7372" $extra } ] }
EOF2
	# The wall bound only catches a hang (what is checked is the stage's
	# duration in the database): 20 s was too short on a loaded machine,
	# where start-up, the stage and the eMMC dump took longer (rc 124).
	timeout -k 2 60 "$sim" --scenario "$tmp/$name.json" --dump-dir "$tmp/$name" -- \
		"$tool" --db "$tmp/$name.db" --recipe "$tmp/r/$recipe.json" --port 1-1.4 \
		--deadline-pct 100 >"$tmp/$name.log" 2>&1
	rc=$?
}
check_hang() { # NAME STAGE: fail row naming STAGE, its timeout, within 3 s + 2.5 s
	local name=$1 stage=$2 row err ms
	row=$(q "$tmp/$name.db" "SELECT result, failed_stage FROM units")
	err=$(q "$tmp/$name.db" "SELECT error FROM units")
	ms=$(q "$tmp/$name.db" "SELECT duration_ms FROM unit_stages WHERE name = '$stage'")
	if [ "$rc" -eq 1 ] && [ "$row" = "fail|$stage" ] && [[ $err == *"exceeded its timeout"* ]] &&
		[ -n "$ms" ] && [ "$ms" -le 5500 ]; then
		ok "job_imx_${name}_ends_within_stage_timeout"
	else
		nok "job_imx_${name}_ends_within_stage_timeout" "rc=$rc row=$row stage_ms=$ms" "error=$err" \
			"$(tail -3 "$tmp/$name.log")"
	fi
}
# eMMC erase at 1 KiB/s: the 16 MiB boot partition takes 16 s at time_scale 0.001.
run_hang erasehang erasehang ', "timing": { "emmc_erase_kbps": 1 }'
check_hang erasehang fastboot.erase
# From the fourth transfer on (libusb's two at open, report 1 of the first
# READ_REGISTER, then its report 3) nothing completes: the ROM is silent.
run_hang sdphang sdphang ', "faults": [ { "kind": "hang", "skip": 3, "count": 1000 } ]'
check_hang sdphang sdp.boot

# --- deadline race: the erase answers just after its deadline fired ---------
# The stop belongs to the erase stage: it may fail the erase (the reply came
# late) or be dropped (the stage finished), never cancel the getvar after it.
sed -e 's/"erasehang"/"eraserace"/' -e 's/"timeout_ms": 3000/"timeout_ms": 1100/' \
	"$tmp/r/erasehang.json" >"$tmp/r/eraserace.json"
# 16 MiB at 14 KiB/s: 1.17 s at time_scale 0.001, inside the 250 ms read slice
# running when the 1.1 s deadline fires.
run_hang eraserace eraserace ', "timing": { "emmc_erase_kbps": 14 }'
row=$(q "$tmp/eraserace.db" "SELECT result, coalesce(failed_stage, '') FROM units")
stages=$(q "$tmp/eraserace.db" "SELECT group_concat(name || ':' || result, ' ') FROM (SELECT * FROM unit_stages ORDER BY idx)")
if { [ "$rc" -eq 0 ] && [ "$row" = "pass|" ]; } || { [ "$rc" -eq 1 ] && [ "$row" = "fail|fastboot.erase" ]; }; then
	ok job_imx_deadline_stop_never_reaches_the_next_stage
else
	nok job_imx_deadline_stop_never_reaches_the_next_stage "rc=$rc row=$row" "stages: $stages"
fi

# --- whole-unit verification (issue 12 "A pass row is true") -----------------------
# Two raw writes back to back (0x8000 and 0x9000), each with the device-side
# CRC.  The second flash disturbs the byte below it (boards/README.md
# "Disturb"), the last byte of the first: both per-stage CRCs match, only
# the device-side CRC after the last write sees "first" damaged.  The unit
# fails in "verify" before the reboot.
python3 -c 'import os,sys; d=bytearray(os.urandom(4096)); d[-1]=0xff; open(sys.argv[1],"wb").write(d)' "$I/first.img"
head -c 4096 /dev/urandom >"$I/second.img"
cat >"$tmp/r/neighbours.json" <<EOF2
{ "name": "neighbours", "match": { "vid": "15a2", "pid": "0054" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    { "op": "fastboot.ucmd", "command": "mmc dev 0" },
    { "op": "fastboot.flash", "name": "first", "offset": "0x8000", "file": "images/first.img",
      "sha256": "$(sha "$I/first.img")", "verify": "crc32" },
    { "op": "fastboot.flash", "name": "second", "offset": "0x9000", "file": "images/second.img",
      "sha256": "$(sha "$I/second.img")", "verify": "crc32" },
    { "op": "fastboot.reboot" } ] }
EOF2
run disturb neighbours ', "faults": [ { "kind": "disturb", "step": "fb_flash", "skip": 1 } ]'
row=$(q "$tmp/disturb.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/disturb.db" "SELECT error FROM units")
fcrc=0x$(crc_of "$I/first.img")
dcrc=$(python3 -c 'import zlib,sys; f=open(sys.argv[1],"rb"); f.seek(0x8000); print("0x%08x" % zlib.crc32(f.read(4096)))' "$tmp/disturb/b1.emmc.bin" 2>&1)
if [ "$rc" -eq 1 ] && [ "$row" = "fail|verify" ] && [ "$fcrc" != "$dcrc" ] &&
	[[ $err == *"stage 'first' (images/first.img)"*"0x8000 (4096 bytes)"*"host CRC $fcrc, device CRC $dcrc"* ]]; then
	ok job_imx_disturbed_earlier_write_fails_the_unit_in_verify
else
	nok job_imx_disturbed_earlier_write_fails_the_unit_in_verify "rc=$rc row=$row" "error=$err" "want CRCs $fcrc $dcrc"
fi
rows=$(q "$tmp/disturb.db" "SELECT name || ':' || result FROM unit_stages WHERE idx > 2 ORDER BY idx; SELECT stage || '|' || target || '|' || verified || '|' || (host_crc32 = device_crc32) FROM unit_images WHERE stage != 'sdp.boot' ORDER BY id")
want="first:pass
second:pass
verify:fail
first|0x8000|1|1
second|0x9000|1|1
verify|0x8000|0|0
verify|0x9000|1|1"
[ "$rows" = "$want" ] && ok job_imx_disturb_rows_per_stage_pass_verify_row_fails ||
	nok job_imx_disturb_rows_per_stage_pass_verify_row_fails "got: $(echo $rows)" "want: $(echo $want)"
run undisturbed neighbours ""
order=$(sed -n "s/.*Stage [0-9]* '\([^']*\)' started.*/\1/p" "$tmp/undisturbed.log" | tr '\n' ' ' | sed 's/ $//')
vrows=$(q "$tmp/undisturbed.db" "SELECT count(*) FROM unit_images WHERE stage = 'verify' AND verified AND host_crc32 = device_crc32")
if [ "$rc" -eq 0 ] && [ "$order" = "sdp.boot await fastboot.ucmd first second verify fastboot.reboot" ] && [ "$vrows" = 2 ]; then
	ok job_imx_verify_runs_before_the_reboot_and_passes
else
	nok job_imx_verify_runs_before_the_reboot_and_passes "rc=$rc order=$order verified rows=$vrows" "$(tail -3 "$tmp/undisturbed.log")"
fi
# The sparse image flashed to rootfs by name is read back too (its RAW and
# FILL runs, found through U-Boot's part start): nothing is left unread.
note=$(q "$tmp/happy.db" "SELECT result || '|' || coalesce(error, '') FROM unit_stages WHERE name = 'verify'")
[ "$note" = "pass|" ] && ok job_imx_verify_reads_every_range_back ||
	nok job_imx_verify_reads_every_range_back "got: $note"

# --- whole-unit verification of partitions flashed by name (issue 12) -------
# Two 4 KiB partitions back to back; "second" is flashed after "first" and
# disturbs the byte below it (boards/README.md "Disturb"), the last byte of
# "first".  The verify stage finds "first" through U-Boot's `part start`
# and its device-side CRC no longer matches: the unit fails in verify.
python3 -c 'import os,sys; d=bytearray(os.urandom(4096)); d[-1]=0xff; open(sys.argv[1],"wb").write(d)' "$I/pfirst.img"
head -c 4096 /dev/urandom >"$I/psecond.img"
PARTS='"partitions": "first:4,second:4,rootfs:-"'
cat >"$tmp/r/byname.json" <<EOF2
{ "name": "byname", "match": { "vid": "15a2", "pid": "0054" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    { "op": "fastboot.flash", "name": "first", "partition": "first", "file": "images/pfirst.img",
      "sha256": "$(sha "$I/pfirst.img")" },
    { "op": "fastboot.flash", "name": "second", "partition": "second", "file": "images/psecond.img",
      "sha256": "$(sha "$I/psecond.img")" },
    { "op": "fastboot.reboot" } ] }
EOF2
run pdisturb byname ", $PARTS"', "faults": [ { "kind": "disturb", "step": "fb_flash", "skip": 1 } ]'
row=$(q "$tmp/pdisturb.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/pdisturb.db" "SELECT error FROM units")
fcrc=0x$(crc_of "$I/pfirst.img")
dcrc=0x$(crc_at "$tmp/pdisturb/b1.emmc.bin" 0x100000 4096)
if [ "$rc" -eq 1 ] && [ "$row" = "fail|verify" ] && [ "$fcrc" != "$dcrc" ] &&
	[[ $err == *"stage 'first' (images/pfirst.img): eMMC first (4096 bytes) no longer holds it: host CRC $fcrc, device CRC $dcrc"* ]]; then
	ok job_imx_disturbed_partition_by_name_fails_the_unit_in_verify
else
	nok job_imx_disturbed_partition_by_name_fails_the_unit_in_verify "rc=$rc row=$row" "error=$err" "want CRCs $fcrc $dcrc"
fi
rows=$(q "$tmp/pdisturb.db" "SELECT stage || '|' || target || '|' || verified || '|' || printf('%08x', host_crc32) || '|' || coalesce(printf('%08x', device_crc32), '-') FROM unit_images WHERE stage = 'verify' ORDER BY id")
want="verify|first|0|${fcrc#0x}|${dcrc#0x}
verify|second|1|$(crc_of "$I/psecond.img")|$(crc_of "$I/psecond.img")"
[ "$rows" = "$want" ] && ok job_imx_partition_verify_rows_carry_device_crcs ||
	nok job_imx_partition_verify_rows_carry_device_crcs "got: $(echo $rows)" "want: $(echo $want)"
run pclean byname ", $PARTS"
rows=$(q "$tmp/pclean.db" "SELECT result || '|' || coalesce(error, '') FROM unit_stages WHERE name = 'verify'; SELECT target || '|' || verified || '|' || printf('%08x', device_crc32) FROM unit_images WHERE stage = 'verify' ORDER BY id")
want="pass|
first|1|$(crc_of "$I/pfirst.img")
second|1|$(crc_of "$I/psecond.img")"
[ "$rc" -eq 0 ] && [ "$rows" = "$want" ] && ok job_imx_clean_partitions_by_name_pass_with_device_crcs ||
	nok job_imx_clean_partitions_by_name_pass_with_device_crcs "rc=$rc got: $(echo $rows)" "want: $(echo $want)" "$(tail -3 "$tmp/pclean.log")"

# A sparse image's expected contents are its RAW and FILL chunks (runs
# 0..0x5000 and 0xa000..0x10000 of rootfs.simg); its DONT_CARE blocks are
# not checked.  Raw writes land afterwards on the FILL run (0x3000) and on
# the DONT_CARE hole (0x6000): only the first fails the unit.
head -c 512 /dev/urandom >"$I/hit.img"
ROOTFS_HEX=$(printf '0x%x' $ROOTFS_OFF)
cat >"$tmp/r/sparsehit.json" <<EOF2
{ "name": "sparsehit", "match": { "vid": "15a2", "pid": "0054" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    { "op": "fastboot.flash", "name": "rootfs", "partition": "rootfs", "file": "images/rootfs.simg",
      "sha256": "$(sha "$I/rootfs.simg")" },
    { "op": "fastboot.flash", "name": "onfill", "offset": "$(printf '0x%x' $((ROOTFS_OFF + 0x3000)))", "file": "images/hit.img",
      "sha256": "$(sha "$I/hit.img")" },
    { "op": "fastboot.flash", "name": "onhole", "offset": "$(printf '0x%x' $((ROOTFS_OFF + 0x6000)))", "file": "images/hit.img",
      "sha256": "$(sha "$I/hit.img")" },
    { "op": "fastboot.reboot" } ] }
EOF2
run sparsehit sparsehit ""
row=$(q "$tmp/sparsehit.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/sparsehit.db" "SELECT error FROM units")
hcrc=0x$(crc_at "$I/rootfs.expanded" 0 0x5000)
dcrc=0x$(crc_at "$tmp/sparsehit/b1.emmc.bin" $ROOTFS_HEX 0x5000)
rows=$(q "$tmp/sparsehit.db" "SELECT target || '|' || verified FROM unit_images WHERE stage = 'verify' ORDER BY id")
want="rootfs+0x0..0x5000|0
rootfs+0xa000..0x10000|1
$(printf '0x%x' $((ROOTFS_OFF + 0x3000)))|1
$(printf '0x%x' $((ROOTFS_OFF + 0x6000)))|1"
if [ "$rc" -eq 1 ] && [ "$row" = "fail|verify" ] && [ "$rows" = "$want" ] &&
	[[ $err == *"stage 'rootfs' (images/rootfs.simg): eMMC rootfs+0x0..0x5000 (20480 bytes) no longer holds it: host CRC $hcrc, device CRC $dcrc"* ]]; then
	ok job_imx_sparse_raw_and_fill_runs_read_back_dont_care_not
else
	nok job_imx_sparse_raw_and_fill_runs_read_back_dont_care_not "rc=$rc row=$row" "error=$err" "want CRCs $hcrc $dcrc" "rows: $(echo $rows)" "want: $(echo $want)"
fi

# A later raw write of 1000 bytes over the start of an earlier 4 KiB one
# ("destroys_earlier"): U-Boot writes whole 512-byte blocks, so what is left
# of the earlier image starts at the next block (0x8400), and both are read
# back there.
head -c 1000 /dev/urandom >"$I/short.img"
cat >"$tmp/r/shorter.json" <<EOF2
{ "name": "shorter", "match": { "vid": "15a2", "pid": "0054" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    { "op": "fastboot.flash", "name": "long", "offset": "0x8000", "file": "images/first.img",
      "sha256": "$(sha "$I/first.img")" },
    { "op": "fastboot.flash", "name": "short", "offset": "0x8000", "file": "images/short.img",
      "sha256": "$(sha "$I/short.img")", "destroys_earlier": true },
    { "op": "fastboot.reboot" } ] }
EOF2
run shorter shorter ""
rows=$(q "$tmp/shorter.db" "SELECT result FROM units; SELECT target || '|' || verified || '|' || printf('%08x', host_crc32) FROM unit_images WHERE stage = 'verify' ORDER BY id")
want="pass
0x8400..0x9000|1|$(crc_at "$I/first.img" 0x400 0xc00)
0x8000|1|$(crc_of "$I/short.img")"
[ "$rc" -eq 0 ] && [ "$rows" = "$want" ] && ok job_imx_rest_of_an_overwritten_raw_image_is_read_back_from_the_next_block ||
	nok job_imx_rest_of_an_overwritten_raw_image_is_read_back_from_the_next_block "rc=$rc got: $(echo $rows)" "want: $(echo $want)" "$(tail -3 "$tmp/shorter.log")"

# An image larger than its partition is refused before anything is written
# (U-Boot would write a sparse image's chunks until one crosses the end).
python3 - "$I/big8k.simg" <<'PY'
import os, struct, sys
data = os.urandom(8192)
open(sys.argv[1], "wb").write(struct.pack("<IHHHHIIII", 0xED26FF3A, 1, 0, 28, 12, 4096, 2, 1, 0)
                              + struct.pack("<HHII", 0xCAC1, 0, 2, 12 + len(data)) + data)
PY
cat >"$tmp/r/toolarge.json" <<EOF2
{ "name": "toolarge", "match": { "vid": "15a2", "pid": "0054" },
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    { "op": "fastboot.flash", "name": "big", "partition": "first", "file": "images/big8k.simg",
      "sha256": "$(sha "$I/big8k.simg")" } ] }
EOF2
run toolarge toolarge ", $PARTS"
row=$(q "$tmp/toolarge.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/toolarge.db" "SELECT error FROM units")
untouched=$(python3 -c 'import sys; f=open(sys.argv[1],"rb"); f.seek(0x100000); print(int(not any(f.read(8192))))' "$tmp/toolarge/b1.emmc.bin" 2>&1)
if [ "$rc" -eq 1 ] && [ "$row" = "fail|big" ] && [ "$untouched" = 1 ] &&
	[[ $err == *"images/big8k.simg needs 8192 bytes, partition 'first' holds 4096"*"nothing written"* ]]; then
	ok job_imx_image_larger_than_its_partition_is_refused_before_writing
else
	nok job_imx_image_larger_than_its_partition_is_refused_before_writing "rc=$rc row=$row untouched=$untouched" "error=$err"
fi

left=0
for db in "$tmp"/*.db; do
	n=$(q "$db" "SELECT count(*) FROM units WHERE result = 'running'")
	[ "$n" = 0 ] || { left=$((left + 1)); which="${which:-} ${db##*/}: $n;"; }
done
[ "$left" = 0 ] && ok job_imx_no_unit_left_running || nok job_imx_no_unit_left_running "$left databases:${which:-}"

# --- issue #15: the seed flow from a blank eMMC (no partition table) ---------
# GPT variant: table, U-Boot to the boot0 hardware partition and boot from
# it (oem partconf), back to the user area (U-Boot stays on boot0 after
# flashing it: without `mmc dev 0` the names are not found), environment,
# rootfs.  MBR variant: table, U-Boot at
# 0x400 (the seed's patch), a zeroed environment at CONFIG_ENV_OFFSET,
# rootfs on the DOS partition U-Boot names mmcsda1.  The whole eMMC must
# be byte-exact afterwards.
head -c 8192 /dev/zero >"$I/env-zero.img"
python3 - "$(dirname "$mkfx")" "$I/gpt-128m.img" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import mkfixtures
mib = 1 << 20
open(sys.argv[2], "wb").write(mkfixtures.gpt_image(128 * mib, [("rootfs", mib, None)], 15))
PY
fstage() { # NAME PARTITION|OFFSET-KEY FILE [EXTRA]
	printf '{ "op": "fastboot.flash", "name": "%s", %s, "file": "images/%s", "sha256": "%s"%s },\n' \
		"$1" "$2" "$3" "$(sha "$I/$3")" "${4:-}"
}
blank_recipe() { # NAME STAGES...
	local name=$1
	shift
	{
		printf '{ "name": "%s", "match": { "vid": "15a2", "pid": "0054" },\n' "$name"
		printf '  "serial": { "source": "fastboot_getvar", "var": "serialno" },\n  "stages": [\n'
		printf '{ "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "%s" },\n' "$(sha "$I/u-boot-imx6q.imx")"
		printf '{ "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },\n'
		printf '{ "op": "fastboot.getvar", "var": "serialno" },\n'
		printf '%s\n' "$@"
		printf '{ "op": "fastboot.reboot" } ] }\n'
	} >"$tmp/r/$name.json"
}
blank_recipe blankgpt \
	"$(fstage table '"partition": "gpt"' gpt-64m.img)" \
	"$(fstage bootloader '"partition": "mmc0boot0"' u-boot-imx6q.boot0)" \
	'{ "op": "fastboot.oem", "name": "bootpart", "command": "partconf:1 1" },' \
	'{ "op": "fastboot.ucmd", "name": "userarea", "command": "mmc dev 0" },' \
	"$(fstage env '"partition": "env"' raw-env.img)" \
	"$(fstage rootfs '"partition": "rootfs"' rootfs.simg ', "max_download": 8192')"
blank_recipe blankmbr \
	"$(fstage table '"partition": "mbr"' mbr-64m.img)" \
	"$(fstage bootloader '"offset": "0x400"' u-boot-imx6q.imx ', "verify": "crc32"')" \
	"$(fstage env '"offset": "0xc0000"' env-zero.img ', "verify": "crc32"')" \
	"$(fstage rootfs '"partition": "mmcsda1"' rootfs.simg)"
blank_recipe blankbig "$(fstage table '"partition": "gpt"' gpt-128m.img)"

# expect_emmc NAME OUT PIECES...: a 64 MiB zero disk with FILE@OFFSET pieces
# and, for "gpt", the backup U-Boot derives from the primary one.
expect_emmc() {
	python3 - "$@" <<'PY'
import struct, sys, zlib
out, pieces = sys.argv[1], sys.argv[2:]
d = bytearray(64 << 20)
for p in pieces:
    f, off = p.rsplit("@", 1)
    b = open(f, "rb").read()
    d[int(off, 0):int(off, 0) + len(b)] = b
    if f.endswith("gpt-64m.img"):
        h = bytearray(b[512:1024])
        last, lu = struct.unpack_from("<Q", h, 32)[0], struct.unpack_from("<Q", h, 48)[0]
        struct.pack_into("<QQ", h, 24, last, 1)
        struct.pack_into("<Q", h, 72, lu + 1)
        h[16:20] = bytes(4)
        h[16:20] = struct.pack("<I", zlib.crc32(h[:92]))
        d[(lu + 1) * 512:(lu + 33) * 512] = b[1024:1024 + 16384]
        d[last * 512:last * 512 + 512] = h
open(out, "wb").write(d)
PY
}
run blankgpt blankgpt ', "partitions": "none"'
row=$(q "$tmp/blankgpt.db" "SELECT result, serial FROM units")
expect_emmc "$tmp/blankgpt.want" "$I/gpt-64m.img@0" "$I/raw-env.img@0x100000" "$I/rootfs.expanded@$ROOTFS_OFF"
boot0_ok=0
cmp -s <(head -c "$(stat -c %s "$I/u-boot-imx6q.boot0")" "$tmp/blankgpt/b1.emmc_boot0.bin") "$I/u-boot-imx6q.boot0" && boot0_ok=1
pc=$(od -An -tx1 -j179 -N1 "$tmp/blankgpt/b1.ext_csd.bin" | tr -d ' ')
if [ "$rc" -eq 0 ] && [ "$row" = "pass|d72d7372906709d4" ] && cmp -s "$tmp/blankgpt.want" "$tmp/blankgpt/b1.emmc.bin" &&
	[ $boot0_ok = 1 ] && [ "$pc" = 48 ]; then
	ok job_imx_blank_emmc_gpt_flow_byte_exact
else
	nok job_imx_blank_emmc_gpt_flow_byte_exact "rc=$rc row=$row boot0=$boot0_ok partconf=$pc" \
		"$(cmp "$tmp/blankgpt.want" "$tmp/blankgpt/b1.emmc.bin" 2>&1)" "$(tail -3 "$tmp/blankgpt.log")"
fi
stages=$(q "$tmp/blankgpt.db" "SELECT group_concat(name || ':' || result, ' ') FROM (SELECT * FROM unit_stages ORDER BY idx)")
[ "$stages" = "sdp.boot:pass await:pass fastboot.getvar:pass table:pass bootloader:pass bootpart:pass userarea:pass env:pass rootfs:pass fastboot.reboot:pass verify:pass" ] &&
	ok job_imx_blank_emmc_gpt_stage_rows || nok job_imx_blank_emmc_gpt_stage_rows "$stages"

# Every image of the GPT flow is read back by the verify stage: the table
# (MBR, header and entries as downloaded), U-Boot in the boot0 hardware
# partition (`mmc dev 0 1`), the partitions found by name.
rows=$(q "$tmp/blankgpt.db" "SELECT target || '|' || verified FROM unit_images WHERE stage = 'verify' ORDER BY id")
want="gpt|1
mmc0boot0|1
env|1
rootfs+0x0..0x5000|1
rootfs+0xa000..0x10000|1"
[ "$rows" = "$want" ] && ok job_imx_blank_emmc_gpt_verify_reads_table_boot0_and_partitions ||
	nok job_imx_blank_emmc_gpt_verify_reads_table_boot0_and_partitions "got: $(echo $rows)" "want: $(echo $want)"

# A later command overwrites block 2 of boot0 (U-Boot's IVT): the boot
# partition no longer holds its image and the unit fails in verify.
cat >"$tmp/r/boot0hit.json" <<EOF2
{ "name": "boot0hit", "match": { "vid": "15a2", "pid": "0054" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    $(fstage bootloader '"partition": "mmc0boot0"' u-boot-imx6q.boot0)
    { "op": "fastboot.ucmd", "command": "mmc dev 0 1; mw.b \${loadaddr} 5a 200; mmc write \${loadaddr} 2 1; mmc dev 0 0" },
    { "op": "fastboot.reboot" } ] }
EOF2
run boot0hit boot0hit ""
row=$(q "$tmp/boot0hit.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/boot0hit.db" "SELECT error FROM units")
bsize=$(stat -c %s "$I/u-boot-imx6q.boot0")
hcrc=0x$(crc_of "$I/u-boot-imx6q.boot0")
dcrc=0x$(crc_at "$tmp/boot0hit/b1.emmc_boot0.bin" 0 "$bsize")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|verify" ] && [ "$hcrc" != "$dcrc" ] &&
	[[ $err == *"stage 'bootloader' (images/u-boot-imx6q.boot0): eMMC mmc0boot0 ($bsize bytes) no longer holds it: host CRC $hcrc, device CRC $dcrc"* ]]; then
	ok job_imx_damaged_boot_partition_fails_the_unit_in_verify
else
	nok job_imx_damaged_boot_partition_fails_the_unit_in_verify "rc=$rc row=$row" "error=$err" "want CRCs $hcrc $dcrc"
fi

run blankmbr blankmbr ', "partitions": "none"'
row=$(q "$tmp/blankmbr.db" "SELECT result FROM units")
expect_emmc "$tmp/blankmbr.want" "$I/mbr-64m.img@0" "$I/u-boot-imx6q.imx@0x400" "$I/rootfs.expanded@$ROOTFS_OFF"
if [ "$rc" -eq 0 ] && [ "$row" = pass ] && cmp -s "$tmp/blankmbr.want" "$tmp/blankmbr/b1.emmc.bin"; then
	ok job_imx_blank_emmc_mbr_flow_byte_exact
else
	nok job_imx_blank_emmc_mbr_flow_byte_exact "rc=$rc row=$row" \
		"$(cmp "$tmp/blankmbr.want" "$tmp/blankmbr/b1.emmc.bin" 2>&1)" "$(tail -3 "$tmp/blankmbr.log")"
fi

# A GPT made for a 128 MiB part: U-Boot refuses it on this 64 MiB eMMC.
run blankbig blankbig ', "partitions": "none"'
row=$(q "$tmp/blankbig.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/blankbig.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|table" ] && [[ $err == *"invalid GPT partition"* ]]; then
	ok job_imx_gpt_for_a_larger_disk_fails_as_uboot_refuses_it
else
	nok job_imx_gpt_for_a_larger_disk_fails_as_uboot_refuses_it "rc=$rc row=$row" "error=$err"
fi

# --- fastboot.gpt: flashd builds the unit's GPT from the recipe's list -------
blank_recipe blankbuilt \
	'{ "op": "fastboot.gpt", "name": "table", "disk_size": 67108864, "partitions": [
	    { "name": "env", "offset": "0x100000", "size": "0x100000", "type": "u-boot-env" },
	    { "name": "boot", "size": 16777216, "type": "data" },
	    { "name": "rootfs", "size": "-" } ] },' \
	"$(fstage env '"partition": "env"' raw-env.img)" \
	"$(fstage rootfs '"partition": "rootfs"' rootfs.simg)"
run blankbuilt blankbuilt ', "partitions": "none"'
# The table as documented in flashd.recipe.5: GUIDs from SHA-256 of
# "flashd-gpt\0" serial "\0" recipe "\0" partition name ("" = disk).
python3 - "$tmp/blankbuilt.gpt" d72d7372906709d4 blankbuilt <<'PY'
import hashlib, struct, sys, uuid, zlib
out, unit, recipe = sys.argv[1:]
def guid(name):
    h = bytearray(hashlib.sha256(b"flashd-gpt\0" + unit.encode() + b"\0" + recipe.encode() + b"\0" + name.encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x80
    h[8] = (h[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(h))
mib, last = 1 << 20, (64 << 20) // 512 - 1
types = {"env": "3de21764-95bd-54bd-a5c3-4abe786f38a8", "boot": "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7",
         "rootfs": "0fc63daf-8483-4772-8e79-3d69d8477de4"}
parts = [("env", mib, 2 * mib // 512 - 1), ("boot", 2 * mib, 18 * mib // 512 - 1), ("rootfs", 18 * mib, last - 33)]
ent = bytearray(128 * 128)
for i, (n, s, l) in enumerate(parts):
    e = uuid.UUID(types[n]).bytes_le + guid(n).bytes_le + struct.pack("<QQQ", s // 512, l, 0)
    ent[i * 128:(i + 1) * 128] = e + n.encode("utf-16-le").ljust(72, b"\0")
hdr = bytearray(struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0, 1, last, 34,
                            last - 33, guid("").bytes_le, 2, 128, 128, zlib.crc32(ent)))
hdr[16:20] = struct.pack("<I", zlib.crc32(hdr))
mbr = bytearray(512)
mbr[446:462] = struct.pack("<BBBBBBBBII", 0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1, last)
mbr[510:512] = b"\x55\xaa"
open(out, "wb").write(bytes(mbr) + bytes(hdr).ljust(512, b"\0") + bytes(ent))
print(guid(""))
PY
disk=$(python3 -c 'import sys,uuid,struct; d=open(sys.argv[1],"rb").read(); print(uuid.UUID(bytes_le=d[512+56:512+72]))' "$tmp/blankbuilt.gpt")
cp "$tmp/blankbuilt.gpt" "$tmp/gpt-64m.img" # expect_emmc adds the backup for this name
expect_emmc "$tmp/blankbuilt.want" "$tmp/gpt-64m.img@0" "$I/raw-env.img@0x100000" "$I/rootfs.expanded@$ROOTFS_OFF"
row=$(q "$tmp/blankbuilt.db" "SELECT result FROM units")
img=$(q "$tmp/blankbuilt.db" "SELECT target, file, size, sha256 FROM unit_images WHERE stage = 'table'")
if [ "$rc" -eq 0 ] && [ "$row" = pass ] && cmp -s "$tmp/blankbuilt.want" "$tmp/blankbuilt/b1.emmc.bin" &&
	[ "$img" = "gpt|generated GPT, disk $disk|17408|$(sha "$tmp/blankbuilt.gpt")" ]; then
	ok job_imx_gpt_built_from_the_recipe_list_byte_exact_and_recorded
else
	nok job_imx_gpt_built_from_the_recipe_list_byte_exact_and_recorded "rc=$rc row=$row" "img=$img disk=$disk" \
		"$(cmp "$tmp/blankbuilt.want" "$tmp/blankbuilt/b1.emmc.bin" 2>&1)" "$(tail -3 "$tmp/blankbuilt.log")"
fi

# The table flashd built is read back by the verify stage like any image.
rows=$(q "$tmp/blankbuilt.db" "SELECT target || '|' || file || '|' || verified || '|' || printf('%08x', device_crc32) FROM unit_images WHERE stage = 'verify' ORDER BY id")
want="gpt|generated GPT, disk $disk|1|$(crc_of "$tmp/blankbuilt.gpt")
env|images/raw-env.img|1|$(crc_of "$I/raw-env.img")
rootfs+0x0..0x5000|images/rootfs.simg|1|$(crc_at "$I/rootfs.expanded" 0 0x5000)
rootfs+0xa000..0x10000|images/rootfs.simg|1|$(crc_at "$I/rootfs.expanded" 0xa000 0x6000)"
[ "$rows" = "$want" ] && ok job_imx_generated_gpt_is_read_back_by_verify ||
	nok job_imx_generated_gpt_is_read_back_by_verify "got: $(echo $rows)" "want: $(echo $want)"

# --- saveenv survives a reboot: the next U-Boot imports it (env/mmc.c) ------
cat >"$tmp/r/saveenv.json" <<EOF2
{ "name": "saveenv", "match": { "vid": "15a2", "pid": "0054" },
  "stages": [
    { "op": "sdp.boot", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    { "op": "fastboot.ucmd", "command": "setenv fastboot.marker hello; saveenv" },
    { "op": "fastboot.reboot" },
    { "op": "await", "vid": "15a2", "pid": "0054", "timeout_ms": 15000 },
    { "op": "sdp.boot", "name": "boot2", "file": "images/u-boot-imx6q.imx", "sha256": "$(sha "$I/u-boot-imx6q.imx")" },
    { "op": "await", "vid": "0525", "pid": "a4a5", "timeout_ms": 15000 },
    { "op": "fastboot.getvar", "var": "marker", "expect": "hello" } ] }
EOF2
run saveenv saveenv ', "partitions": "none"'
row=$(q "$tmp/saveenv.db" "SELECT result, coalesce(error, '') FROM units")
[ "$rc" -eq 0 ] && [ "$row" = "pass|" ] && ok job_imx_saveenv_is_loaded_by_the_next_uboot ||
	nok job_imx_saveenv_is_loaded_by_the_next_uboot "rc=$rc row=$row" "$(tail -3 "$tmp/saveenv.log")"
