#!/usr/bin/env bash
# i.MX SDP and fastboot engines (protocols/sdp.c, fastboot.c, sparse.c)
# against simulated i.MX6 boards: runs build/<variant>/tests/tools/imx-tool
# under flashsim with one scenario per case and checks the tool's key=value
# output and the board's eMMC dump.  Fixtures come from
# tests/fixtures/imx/mkfixtures.py.  Prints "ok - NAME" / "not ok - NAME";
# skips (one ok line with "# SKIP") when flashsim, imx-tool, the i.MX board
# models or the fixture generator are missing.
. "$(dirname "$0")/../lib/testlib.sh"
tool=$build/tests/tools/imx-tool
mkfx=$top/tests/fixtures/imx/mkfixtures.py
if [ ! -x "$sim" ] || [ ! -x "$tool" ] || [ ! -f "$mkfx" ] || [ ! -f "$top/tests/sim/boards/imx_sdp.c" ]; then
	echo "ok - imx_sim # SKIP flashsim, imx-tool, i.MX board models or fixtures not built"
	exit 0
fi
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT
fx=$tmp/fx
mkdir -p "$fx"
python3 "$mkfx" "$fx" >/dev/null || { echo "not ok - imx_fixtures"; exit 1; }

not_ok() {
	echo "not ok - $1"
	shift
	for l in "$@"; do echo "#   $l"; done
	[ -f "$out" ] && sed 's/^/#   | /' "$out" | head -30
}

# run NAME SCENARIO_JSON STEPS...: output in $out, status in $rc, dump in $dump
run() {
	local name=$1 json=$2
	shift 2
	out=$tmp/$name.out
	dump=$tmp/$name.dump
	echo "$json" >"$tmp/$name.json"
	timeout 120 "$sim" --scenario "$tmp/$name.json" --dump-dir "$dump" -- \
		"$tool" -q -p 1-1 -t 10 "$@" >"$out" 2>&1
	rc=$?
}

board() { # board TYPE [EXTRA_JSON_FIELDS]
	echo "{\"time_scale\":0.001,\"boards\":[{\"id\":\"b1\",\"type\":\"$1\",\"port\":\"1-1\",\"uid\":\"906709d4d72d7372\"${2:+,$2}}]}"
}

field() { sed -n "s/^.*\b$1=\([^ ]*\).*$/\1/p" "$out" | head -1; }

# emmc_matches FILE OFFSET: the dumped eMMC holds FILE at byte OFFSET
emmc_matches() {
	cmp -s <(tail -c +$(($2 + 1)) "$dump/b1.emmc.bin" | head -c "$(stat -c %s "$1")") "$1"
}
crc_of() { python3 -c 'import sys,zlib; print("0x%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$1"; }

# Default layout of the boards: env 1 MiB at 1 MiB, boot 16 MiB, rootfs after (imx_board.c).
ROOTFS_OFF=$((18 * 1024 * 1024))

# --- i.MX6Q: UID via OCOTP, boot with IVT rewrite, fastboot sparse split + raw with device CRC
run q6 "$(board imx6q-sdp)" uid + boot "$fx/u-boot-imx6q.imx" + wait 3000 + \
	getvar serialno + flash rootfs "$fx/rootfs.simg" --max 8192 + \
	flash 0x400 "$fx/raw-env.img" --verify
if [ "$rc" -eq 0 ] && grep -q '^uid=906709D4D72D7372 hab=open' "$out" &&
	grep -q 'soc=i.MX6Q method=ivt-rewrite hab=open dcd_written=1' "$out" &&
	grep -q 'jumped=1' "$out"; then
	ok sdp_imx6q_uid_and_boot_with_ivt_rewrite
else
	not_ok sdp_imx6q_uid_and_boot_with_ivt_rewrite "rc=$rc"
fi
if [ "$rc" -eq 0 ] && grep -q '^fastboot=0525:a4a5' "$out" && grep -q '^serialno=d72d7372906709d4$' "$out"; then
	ok sdp_boot_reenumerates_as_fastboot_with_uid_serial
else
	not_ok sdp_boot_reenumerates_as_fastboot_with_uid_serial "rc=$rc"
fi
pieces=$(grep 'sparse=1' "$out" | sed -n 's/^pieces=\([0-9]*\).*/\1/p')
if [ "$rc" -eq 0 ] && [ "${pieces:-0}" -gt 2 ] && emmc_matches "$fx/rootfs.expanded" $ROOTFS_OFF; then
	ok fastboot_sparse_split_pieces_expand_byte_exact
else
	not_ok fastboot_sparse_split_pieces_expand_byte_exact "rc=$rc pieces=$pieces"
fi
line=$(grep 'sparse=0' "$out")
if [ "$rc" -eq 0 ] && [[ $line == *"host_crc=$(crc_of "$fx/raw-env.img") dev_crc=$(crc_of "$fx/raw-env.img") verified=1"* ]] &&
	emmc_matches "$fx/raw-env.img" $((0x400)); then
	ok fastboot_raw_0x400_device_crc_matches_and_dump_exact
else
	not_ok fastboot_raw_0x400_device_crc_matches_and_dump_exact "rc=$rc" "$line"
fi

# --- i.MX6ULL: SKIP_DCD_HEADER instead of the IVT rewrite
run ull "$(board imx6ull-sdp)" boot "$fx/u-boot-imx6ul.imx" + wait 3000 + getvar product
if [ "$rc" -eq 0 ] && grep -q 'soc=i.MX6ULL method=skip-dcd hab=open dcd_written=1' "$out" &&
	grep -q '^fastboot=0525:a4a5' "$out"; then
	ok sdp_imx6ull_boot_with_skip_dcd
else
	not_ok sdp_imx6ull_boot_with_skip_dcd "rc=$rc"
fi

# --- raw image larger than the download buffer: sparse pieces with skips, device CRC over all
run big "$(board imx6q-sdp '"fb_buf_size":1048576')" boot "$fx/u-boot-imx6q.imx" + wait 3000 + \
	flash 0x100000 "$fx/big.img" --verify
h=$(crc_of "$fx/big.img")
if [ "$rc" -eq 0 ] && grep -q "max_download=1048576 sparse=0 host_crc=$h dev_crc=$h verified=1" "$out" &&
	[ "$(field pieces)" -ge 3 ] && emmc_matches "$fx/big.img" $((0x100000)); then
	ok fastboot_raw_larger_than_buffer_split_and_verified
else
	not_ok fastboot_raw_larger_than_buffer_split_and_verified "rc=$rc"
fi

# --- sparse splitting off: -EMSGSIZE before anything is sent
run nosparse "$(board imx6q-sdp '"fb_buf_size":1048576')" boot "$fx/u-boot-imx6q.imx" + wait 3000 + \
	flash 0x100000 "$fx/big.img" --no-sparse
if [ "$rc" -eq 1 ] && grep -q '^error=EMSGSIZE .*msg=flash: flash:0x100000: image of 3145728 bytes is larger than the download buffer (1048576)' "$out"; then
	ok fastboot_no_sparse_too_large_gives_emsgsize
else
	not_ok fastboot_no_sparse_too_large_gives_emsgsize "rc=$rc"
fi

# --- an IVT whose entry lies outside the image: refused by the host parser
run badivt "$(board imx6q-sdp)" boot "$fx/u-boot-bad-ivt.imx"
if [ "$rc" -eq 1 ] && grep -q '^error=EBADMSG .*msg=boot: boot: IVT at 0x0: entry 0x' "$out" &&
	grep -q '"bytes_out":	0' "$dump/summary.json"; then
	ok sdp_bad_ivt_refused_before_device
else
	not_ok sdp_bad_ivt_refused_before_device "rc=$rc"
fi

# --- HAB closed part, unsigned image: the ROM refuses the jump
run hab "$(board imx6q-sdp '"hab":"closed"')" boot "$fx/u-boot-imx6q.imx"
if [ "$rc" -eq 1 ] && grep -q '^error=EACCES .*JUMP_ADDRESS 0x[0-9a-f]* refused by the ROM: HAB failure (0x33), invalid signature (0x18).*HAB closed' "$out"; then
	ok sdp_hab_closed_unsigned_jump_gives_eacces
else
	not_ok sdp_hab_closed_unsigned_jump_gives_eacces "rc=$rc"
fi

# --- unplug in the middle of WRITE_FILE -> -ENODEV naming the command
run unplug "$(board imx6q-sdp '"faults":[{"kind":"unplug","after_bytes":200000}]')" boot "$fx/u-boot-imx6q.imx"
if [ "$rc" -eq 1 ] && grep -q '^error=ENODEV .*msg=boot: boot: WRITE_FILE 0x177ff400 (393216 bytes): data at +0x[0-9a-f]*: report 2: .*No such device' "$out"; then
	ok sdp_unplug_during_write_file_gives_enodev
else
	not_ok sdp_unplug_during_write_file_gives_enodev "rc=$rc"
fi

# --- unplug in the middle of a fastboot download -> the download fails naming its offset.
# The rig reports BULK_SCATTER_GATHER as xHCI does, so each 1 MiB bulk
# transfer is one URB: the second fb_download step is the second MiB.
run fbunplug "$(board imx6q-sdp '"faults":[{"kind":"unplug","step":"fb_download","skip":1}]')" \
	boot "$fx/u-boot-imx6q.imx" + wait 3000 + flash 0x100000 "$fx/big.img"
if [ "$rc" -eq 1 ] && grep -Eq '^error=ENODEV .*msg=flash: download:00300000: data at \+0x100000: ' "$out"; then
	ok fastboot_unplug_during_download_gives_enodev
else
	not_ok fastboot_unplug_during_download_gives_enodev "rc=$rc"
fi

# --- U-Boot never comes up: nothing appears on the port
run noreenum "$(board imx6q-sdp '"faults":[{"kind":"unplug","step":"uboot_boot"}]')" \
	boot "$fx/u-boot-imx6q.imx" + wait 1000
if [ "$rc" -eq 1 ] && grep -q '^error=ETIMEDOUT .*msg=wait: no fastboot device at 1-1 within 1000 ms' "$out"; then
	ok sdp_board_that_never_reenumerates_times_out
else
	not_ok sdp_board_that_never_reenumerates_times_out "rc=$rc"
fi

# --- a failing UCmd comes back as FAIL text, -EREMOTEIO
run ucmdfail "$(board imx6q-sdp)" boot "$fx/u-boot-imx6q.imx" + wait 3000 + ucmd false
if [ "$rc" -eq 1 ] && grep -q '^error=EREMOTEIO .*msg=ucmd: UCmd:false: FAIL' "$out"; then
	ok fastboot_failing_ucmd_gives_eremoteio
else
	not_ok fastboot_failing_ucmd_gives_eremoteio "rc=$rc"
fi

# --- a report read that gets no answer is re-issued in slices, losing nothing:
# transfer 2 (report 3 of the first READ_REGISTER, after libusb's own and
# report 1) hangs once; the ROM's queued report is read by the next slice.
run slicedread "$(board imx6q-sdp '"faults":[{"kind":"hang","skip":2}]')" uid
if [ "$rc" -eq 0 ] && grep -q '^uid=906709D4D72D7372 hab=open' "$out" &&
	grep -q 'hang (firing 1)' "$dump/summary.json"; then
	ok sdp_report_wait_is_sliced_and_loses_no_report
else
	not_ok sdp_report_wait_is_sliced_and_loses_no_report "rc=$rc"
fi

exit 0
