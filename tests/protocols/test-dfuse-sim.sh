#!/usr/bin/env bash
# DfuSe engine (protocols/dfuse.c) against simulated STM32F405 boards: runs
# build/<variant>/tests/tools/dfuse-tool under flashsim with one scenario
# per case and checks the tool's key=value output, the flash dump and
# summary.json.  Prints "ok - NAME" / "not ok - NAME"; skips (one ok line
# with "# SKIP") when flashsim or dfuse-tool are not built.
. "$(dirname "$0")/../lib/testlib.sh"
tool=$build/tests/tools/dfuse-tool
if [ ! -x "$sim" ] || [ ! -x "$tool" ]; then
	echo "ok - dfuse_sim # SKIP flashsim or dfuse-tool not built"
	exit 0
fi
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT
failed=0

# 200 KiB + 100 bytes: 6 sectors (4x16K, 64K, 128K), a short last block.
head -c $((200 * 1024 + 100)) /dev/urandom >"$tmp/img.bin"
img_len=$(stat -c %s "$tmp/img.bin")

not_ok() {
	echo "not ok - $1"
	shift
	for l in "$@"; do echo "#   $l"; done
	[ -f "$out" ] && sed 's/^/#   | /' "$out" | head -20
	failed=$((failed + 1))
}

# run NAME SCENARIO_JSON TOOL_ARGS...: output in $out, exit status in $rc, dump in $dump
run() {
	local name=$1 json=$2
	shift 2
	out=$tmp/$name.out
	dump=$tmp/$name.dump
	echo "$json" >"$tmp/$name.json"
	timeout 120 "$sim" --scenario "$tmp/$name.json" --dump-dir "$dump" -- \
		"$tool" -q -p 1-1 "$@" >"$out" 2>&1
	rc=$?
}

board() { # board [EXTRA_JSON_FIELDS]: one F405 at 1-1, fast time
	echo "{\"time_scale\":0.01,\"boards\":[{\"id\":\"b1\",\"type\":\"stm32f405-dfuse\",\"port\":\"1-1\",\"fill\":\"random:7\"${1:+,$1}}]}"
}

field() { sed -n "s/^.*\b$1=\([^ ]*\).*$/\1/p" "$out" | head -1; }

dump_matches() { # dump_matches FILE ADDR_OFFSET
	cmp -s <(tail -c +$(($2 + 1)) "$dump/b1.flash.bin" | head -c "$(stat -c %s "$1")") "$1"
}

# --- happy path: erase, write, verify, leave; dump byte-exact, CRCs equal
run happy "$(board)" download "$tmp/img.bin" 0x08000000 --leave 0x08000000
h=$(field host_crc) d=$(field dev_crc)
if [ "$rc" -eq 0 ] && grep -q '^result=ok' "$out" && [ -n "$h" ] && [ "$h" = "$d" ] &&
	grep -q 'sectors_erased=6 ' "$out" && grep -q "bytes_verified=$img_len" "$out" &&
	dump_matches "$tmp/img.bin" 0 && grep -q '"left@0x08000000"' "$dump/summary.json"; then
	ok dfuse_download_verify_leave_dump_exact
else
	not_ok dfuse_download_verify_leave_dump_exact "rc=$rc host=$h dev=$d"
fi

# --- erase exactly the touched sectors: the 64K sector after a 16K-sector image stays as it was
head -c $((16 * 1024)) /dev/urandom >"$tmp/small.bin"
run exact "$(board)" download "$tmp/small.bin" 0x08004000
if [ "$rc" -eq 0 ] && grep -q 'sectors_erased=1 ' "$out" && dump_matches "$tmp/small.bin" $((16 * 1024)); then
	run exact_ref "$(board)" list
	if cmp -s <(head -c 16384 "$tmp/exact.dump/b1.flash.bin") <(head -c 16384 "$tmp/exact_ref.dump/b1.flash.bin") &&
		cmp -s <(tail -c +32769 "$tmp/exact.dump/b1.flash.bin") <(tail -c +32769 "$tmp/exact_ref.dump/b1.flash.bin"); then
		ok dfuse_erases_only_touched_sectors
	else
		not_ok dfuse_erases_only_touched_sectors "bytes outside the image changed"
	fi
else
	not_ok dfuse_erases_only_touched_sectors "rc=$rc"
fi

# --- mass erase then download
run mass "$(board)" download "$tmp/small.bin" 0x08000000 --mass-erase
if [ "$rc" -eq 0 ] && grep -q 'mass_erased=1' "$out" && dump_matches "$tmp/small.bin" 0 &&
	[ "$(tail -c +$((16 * 1024 + 1)) "$dump/b1.flash.bin" | tr -d '\377' | wc -c)" -eq 0 ]; then
	ok dfuse_mass_erase_download
else
	not_ok dfuse_mass_erase_download "rc=$rc"
fi

# --- upload reads what the dump holds
run upload "$(board)" upload 0x08001000 5000 "$tmp/up.bin"
if [ "$rc" -eq 0 ] && cmp -s "$tmp/up.bin" <(tail -c +$((0x1000 + 1)) "$dump/b1.flash.bin" | head -c 5000); then
	ok dfuse_upload_matches_flash
else
	not_ok dfuse_upload_matches_flash "rc=$rc"
fi

# --- .dfu file: two elements in alt 0, one sector apart
head -c 3000 "$tmp/img.bin" >"$tmp/e1.bin"
tail -c +3001 "$tmp/img.bin" | head -c 4000 >"$tmp/e2.bin"
python3 "$top/tests/fixtures/dfuse/mkdfu.py" "$tmp/good.dfu" 0:0x08000000:"$tmp/e1.bin" 0:0x08010000:"$tmp/e2.bin"
run dfufile "$(board)" download "$tmp/good.dfu"
if [ "$rc" -eq 0 ] && [ "$(field host_crc)" = "$(field dev_crc)" ] && grep -q 'sectors_erased=2 ' "$out" &&
	dump_matches "$tmp/e1.bin" 0 && dump_matches "$tmp/e2.bin" $((0x10000)); then
	ok dfuse_dfu_file_elements_to_their_addresses
else
	not_ok dfuse_dfu_file_elements_to_their_addresses "rc=$rc"
fi

# --- bad .dfu: one flipped byte -> CRC mismatch, nothing sent to the device
cp "$tmp/good.dfu" "$tmp/bad.dfu"
# Invert the byte (not overwrite it: a random byte may already hold the value).
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[400]^=0xff; open(p,"wb").write(b)' "$tmp/bad.dfu"
run badfile "$(board)" download "$tmp/bad.dfu"
if [ "$rc" -eq 1 ] && grep -q '^error=EILSEQ .*msg=parse file: offset [0-9]*: suffix CRC 0x' "$out" &&
	grep -q '"bytes_out":	0' "$dump/summary.json"; then
	ok dfuse_bad_dfu_file_rejected_before_device
else
	not_ok dfuse_bad_dfu_file_rejected_before_device "rc=$rc"
fi

# --- unplug mid-download -> -ENODEV naming the write address
run unplug "$(board '"faults":[{"kind":"unplug","after_bytes":150000}]')" download "$tmp/img.bin" 0x08000000
if [ "$rc" -eq 1 ] && grep -q '^error=ENODEV code=-19 msg=download: write 0x080[0-9a-f]*: .*No such device' "$out"; then
	ok dfuse_unplug_during_download_gives_enodev
else
	not_ok dfuse_unplug_during_download_gives_enodev "rc=$rc"
fi

# --- STALL of the GETSTATUS that starts an erase -> -EPIPE naming the sector
run stall "$(board '"faults":[{"kind":"stall","step":"erase","skip":2}]')" download "$tmp/img.bin" 0x08000000
if [ "$rc" -eq 1 ] && grep -q '^error=EPIPE .*msg=download: erase sector 0x08008000: GETSTATUS: Pipe error' "$out"; then
	ok dfuse_stall_on_erase_gives_epipe
else
	not_ok dfuse_stall_on_erase_gives_epipe "rc=$rc"
fi

# --- L43x-style ROM that STALLs polls while busy: tolerated, download succeeds
run busystall "$(board '"busy":"stall"')" download "$tmp/img.bin" 0x08000000
if [ "$rc" -eq 0 ] && [ "$(field host_crc)" = "$(field dev_crc)" ] && dump_matches "$tmp/img.bin" 0; then
	ok dfuse_busy_stalls_are_still_busy
else
	not_ok dfuse_busy_stalls_are_still_busy "rc=$rc"
fi

# --- hold detection (protocols/dfu.h): at real device times (scale 1: a 2 KiB
# write takes 8.3 ms, a 16 KiB erase 250 ms) the engine must learn that the
# F405 holds polls while it works, and then poll at once without adding
# requests: one more block costs exactly DNLOAD + the GETSTATUS that starts
# it + one held GETSTATUS + the verify UPLOAD.  No timing is asserted.
board1() { # board1 [EXTRA_JSON_FIELDS]: one F405 at real device times
	echo "{\"time_scale\":1.0,\"boards\":[{\"id\":\"b1\",\"type\":\"stm32f405-dfuse\",\"port\":\"1-1\",\"fill\":\"random:7\"${1:+,$1}}]}"
}
requests() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boards"][0]["requests"])' "$dump/summary.json" 2>/dev/null; }
head -c $((16 * 1024)) /dev/urandom >"$tmp/hold16.bin"
head -c $((8 * 1024)) "$tmp/hold16.bin" >"$tmp/hold8.bin"
run hold8 "$(board1)" download "$tmp/hold8.bin" 0x08000000
rc8=$rc poll8=$(field poll) req8=$(requests)
run hold16 "$(board1)" download "$tmp/hold16.bin" 0x08000000
req16=$(requests)
if [ "$rc8" -eq 0 ] && [ "$rc" -eq 0 ] && grep -q '^result=ok' "$out" &&
	[ "$(field host_crc)" = "$(field dev_crc)" ] && dump_matches "$tmp/hold16.bin" 0 &&
	[ "$poll8" = holds ] && [ "$(field poll)" = holds ]; then
	ok dfuse_learns_rom_holds_polls
else
	not_ok dfuse_learns_rom_holds_polls "rc=$rc8/$rc poll=$poll8/$(field poll)"
fi
if [ -n "$req8" ] && [ -n "$req16" ] && [ $((req16 - req8)) -eq $((4 * 4)) ]; then
	ok dfuse_held_polls_add_no_requests
else
	not_ok dfuse_held_polls_add_no_requests "requests 8 KiB=$req8 16 KiB=$req16, expected 16 more for 4 more blocks"
fi

# --- L43x-style ROM at real device times: the erase probe is STALLed -> "answers", still exact
run stallhold "$(board1 '"busy":"stall"')" download "$tmp/hold16.bin" 0x08000000
if [ "$rc" -eq 0 ] && [ "$(field host_crc)" = "$(field dev_crc)" ] && dump_matches "$tmp/hold16.bin" 0 &&
	[ "$(field poll)" = answers ]; then
	ok dfuse_learns_stalling_rom_answers
else
	not_ok dfuse_learns_stalling_rom_answers "rc=$rc poll=$(field poll)"
fi

# --- hang: the device never answers a write's GETSTATUS -> -ETIMEDOUT
run hang "$(board '"faults":[{"kind":"hang","step":"download","skip":5}]')" -t 10 -T 1000 download "$tmp/img.bin" 0x08000000
if [ "$rc" -eq 1 ] && grep -q '^error=ETIMEDOUT .*msg=download: write 0x08002800: GETSTATUS: Operation timed out' "$out"; then
	ok dfuse_hang_gives_etimedout
else
	not_ok dfuse_hang_gives_etimedout "rc=$rc"
fi

# --- programming error -> -EIO with the spec status name
run progerr "$(board '"faults":[{"kind":"program_error","skip":3}]')" download "$tmp/img.bin" 0x08000000
if [ "$rc" -eq 1 ] && grep -q '^error=EIO .*msg=download: write 0x08001800: dfuERROR errPROG after GETSTATUS' "$out"; then
	ok dfuse_program_error_gives_eio
else
	not_ok dfuse_program_error_gives_eio "rc=$rc"
fi

# --- corrupted read-back -> -EILSEQ, CRCs differ
run corrupt "$(board '"faults":[{"kind":"corrupt_upload","skip":4}]')" download "$tmp/img.bin" 0x08000000
h=$(field host_crc) d=$(field dev_crc)
if [ "$rc" -eq 1 ] && [ "$h" != "$d" ] && grep -q '^error=EILSEQ .*msg=download: verify 0x08000000: first difference at 0x0800' "$out"; then
	ok dfuse_corrupt_readback_gives_eilseq
else
	not_ok dfuse_corrupt_readback_gives_eilseq "rc=$rc host=$h dev=$d"
fi

# --- read-protected board -> -EACCES (errVENDOR), flash untouched
run rdp "$(board '"rdp":1')" download "$tmp/img.bin" 0x08000000
if [ "$rc" -eq 1 ] && grep -q '^error=EACCES .*msg=download: erase sector 0x08000000: dfuERROR errVENDOR after GETSTATUS' "$out"; then
	ok dfuse_read_protected_gives_eacces
else
	not_ok dfuse_read_protected_gives_eacces "rc=$rc"
fi

# --- UID: refused by default ROM (-EPROTO), readable when the board allows it
run uid_refused "$(board)" read-uid
if [ "$rc" -eq 1 ] && grep -q '^error=EPROTO .*msg=read-uid: read UID 0x1fff7a10: ' "$out"; then
	ok dfuse_uid_refused_gives_eproto
else
	not_ok dfuse_uid_refused_gives_eproto "rc=$rc"
fi
run uid_ok "$(board '"uid_readable":true,"uid":"0123456789abcdef01234567"')" read-uid
if [ "$rc" -eq 0 ] && grep -q '^uid=0123456789abcdef01234567$' "$out"; then
	ok dfuse_uid_read_when_rom_allows
else
	not_ok dfuse_uid_read_when_rom_allows "rc=$rc"
fi
run uid_rdp "$(board '"rdp":1')" read-uid
if [ "$rc" -eq 1 ] && grep -q '^error=EACCES .*msg=read-uid: read UID 0x1fff7a10: set address 0x1fff7a10: dfuERROR errVENDOR' "$out"; then
	ok dfuse_uid_read_protected_gives_eacces
else
	not_ok dfuse_uid_read_protected_gives_eacces "rc=$rc"
fi

# --- outside the layout: refused before any transfer
run range "$(board)" download "$tmp/img.bin" 0x080f0000
if [ "$rc" -eq 1 ] && grep -q '^error=ERANGE .*address 0x08100000 is outside "Internal Flash"' "$out"; then
	ok dfuse_range_outside_layout_refused
else
	not_ok dfuse_range_outside_layout_refused "rc=$rc"
fi

exit 0
