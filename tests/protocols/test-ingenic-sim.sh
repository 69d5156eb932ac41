#!/usr/bin/env bash
# Ingenic engines (protocols/ingenic.c, ingenic_burner.c) against the
# simulated T31 board (ingenic-t31): runs build/<variant>/tests/tools/
# ingenic-tool under flashsim with one scenario per case and checks the
# tool's key=value output, the NOR dump and summary.json.  Stage images come
# from tests/fixtures/ingenic/mkfixtures.py.  Prints "ok - NAME" /
# "not ok - NAME"; skips (one ok line with "# SKIP") when flashsim,
# ingenic-tool or python3 are missing.  FLASHSIM=path overrides the rig.
. "$(dirname "$0")/../lib/testlib.sh"
sim=${FLASHSIM:-$build/flashsim}
tool=$build/tests/tools/ingenic-tool
if [ ! -x "$sim" ] || [ ! -x "$tool" ] || ! command -v python3 >/dev/null; then
	echo "ok - ingenic_sim # SKIP flashsim, ingenic-tool or python3 not available"
	exit 0
fi
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT
failed=0

fx=$tmp/fx
python3 "$top/tests/fixtures/ingenic/mkfixtures.py" "$fx" || {
	echo "not ok - ingenic_fixtures"
	exit 1
}
boot=(boot "$fx/ginfo.bin" "$fx/spl.bin" "$fx/burner.bin" 0x7000)
parts=uboot:0:0x40000,kernel:0x40000:0x280000,rootfs:0x2c0000:0xd40000
head -c 200000 /dev/urandom >"$tmp/uboot.bin"
head -c 1000000 /dev/urandom >"$tmp/kernel.bin"
uid=0123456789abcdeffedcba9876543210

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

board() { # board [EXTRA_JSON_FIELDS]: one T31 at 1-1, fast time
	echo "{\"time_scale\":0.01,\"boards\":[{\"id\":\"b1\",\"type\":\"ingenic-t31\",\"port\":\"1-1\",\"uid\":\"$uid\"${1:+,$1}}]}"
}

field() { sed -n "s/^.*\b$1=\([^ ]*\).*$/\1/p" "$out" | head -1; }
summary() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boards"][0][sys.argv[2]])' "$dump/summary.json" "$1" 2>&1; }
nor() { echo "$dump/b1.nor.bin"; }
dump_matches() { # dump_matches FILE OFFSET
	cmp -s <(tail -c +$(($2 + 1)) "$(nor)" | head -c "$(stat -c %s "$1")") "$1"
}
range_is() { # range_is OFFSET LEN BYTE: every byte of the range is BYTE (octal for tr)
	[ "$(tail -c +$(($1 + 1)) "$(nor)" | head -c "$2" | tr -d "$3" | wc -c)" -eq 0 ]
}
zcrc() { python3 -c 'import zlib,sys; print("0x%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$1"; }

# --- UID before the SPL, boot, JEDEC, config, writes (one with read-back), reboot
run happy "$(board)" uid soc-id "${boot[@]}" jedec config "$parts" \
	write 0 "$tmp/uboot.bin" write-verify 0x40000 "$tmp/kernel.bin" reboot
up=$(echo "$uid" | tr a-f A-F)
if [ "$rc" -eq 0 ] && grep -q "^uid=$up\$" "$out" && grep -q '^soc_id=0x00031000 family=0x0031' "$out" &&
	grep -q 'burner_cpu="BOOTx183"' "$out" && grep -q '^jedec=ef4018 ' "$out" &&
	dump_matches "$tmp/uboot.bin" 0 && dump_matches "$tmp/kernel.bin" $((0x40000)) &&
	[ "$(summary state)" = booted-flash ] && [ "$(summary forbidden)" = 0 ]; then
	ok ingenic_uid_boot_config_write_reboot_dump_exact
else
	not_ok ingenic_uid_boot_config_write_reboot_dump_exact "rc=$rc state=$(summary state)"
fi
crcs=$(grep '^host_crc' "$out" | tr '\n' ' ')
if [ "$crcs" = "host_crc=$(zcrc "$tmp/uboot.bin") dev_crc=0x00000000 host_crc=$(zcrc "$tmp/kernel.bin") dev_crc=$(zcrc "$tmp/kernel.bin") " ] &&
	grep -q 'bytes_written=200000 bytes_verified=0 chunks=3 device_checked=1 verified=0' "$out" &&
	grep -q 'bytes_written=1000000 bytes_verified=1000000 chunks=9 device_checked=1 verified=1' "$out"; then
	ok ingenic_write_crcs_and_chunking
else
	not_ok ingenic_write_crcs_and_chunking "crcs=$crcs"
fi
# Partition erase: the rest of each written partition is erased, nothing else touched.
if range_is 200000 $((0x40000 - 200000)) '\377' && range_is $((0x40000 + 1000000)) $((0x280000 - 1000000)) '\377'; then
	ok ingenic_partition_mode_erases_written_partitions
else
	not_ok ingenic_partition_mode_erases_written_partitions
fi

# --- read back through the burner equals the dump
run read "$(board '"fill":"random:5"')" "${boot[@]}" jedec config "$parts" read 0x1234 70000 "$tmp/rd.bin"
if [ "$rc" -eq 0 ] && cmp -s "$tmp/rd.bin" <(tail -c +$((0x1234 + 1)) "$(nor)" | head -c 70000); then
	ok ingenic_read_matches_flash
else
	not_ok ingenic_read_matches_flash "rc=$rc"
fi

# --- partition mode leaves unwritten partitions alone (random fill survives)
run keep "$(board '"fill":"random:9"')" "${boot[@]}" jedec config "$parts" write 0x40000 "$tmp/uboot.bin"
run keep_ref "$(board '"fill":"random:9"')" cpu-info
if [ "$rc" -eq 0 ] && cmp -s <(head -c $((0x40000)) "$tmp/keep.dump/b1.nor.bin") <(head -c $((0x40000)) "$tmp/keep_ref.dump/b1.nor.bin") &&
	cmp -s <(tail -c +$((0x2c0000 + 1)) "$tmp/keep.dump/b1.nor.bin") <(tail -c +$((0x2c0000 + 1)) "$tmp/keep_ref.dump/b1.nor.bin"); then
	ok ingenic_partition_mode_keeps_other_partitions
else
	not_ok ingenic_partition_mode_keeps_other_partitions "rc=$rc"
fi

# --- chip erase at INIT: everything but the image reads 0xFF
run chip "$(board '"fill":"random:3"')" -e chip "${boot[@]}" jedec config "$parts" write 0 "$tmp/uboot.bin"
if [ "$rc" -eq 0 ] && dump_matches "$tmp/uboot.bin" 0 && range_is 200000 $((16 * 1024 * 1024 - 200000)) '\377'; then
	ok ingenic_chip_erase_mode
else
	not_ok ingenic_chip_erase_mode "rc=$rc"
fi

# --- 1 MiB transfers
run big "$(board)" -T 0x100000 "${boot[@]}" jedec config "$parts" write-verify 0x2c0000 "$tmp/kernel.bin"
if [ "$rc" -eq 0 ] && grep -q 'chunks=2 ' "$out" && dump_matches "$tmp/kernel.bin" $((0x2c0000)); then
	ok ingenic_one_mib_chunks
else
	not_ok ingenic_one_mib_chunks "rc=$rc"
fi

# --- the eFuse shadow is gone once stage-1 code ran: refused, not a zero UID
run uid_late "$(board)" "${boot[@]}" uid
if [ "$rc" -eq 1 ] && grep -q '^error=EPROTO .*msg=uid: read UID: stage-1 code already ran' "$out"; then
	ok ingenic_uid_after_boot_refused
else
	not_ok ingenic_uid_after_boot_refused "rc=$rc"
fi

# --- START1 is one-shot: a second boot is refused
run twice "$(board)" "${boot[@]}" "${boot[@]}"
if [ "$rc" -eq 1 ] && grep -q '^error=EALREADY .*msg=boot: boot: the burner already runs (CPU info .BOOTx183.)' "$out"; then
	ok ingenic_second_boot_refused
else
	not_ok ingenic_second_boot_refused "rc=$rc"
fi

# --- SPL longer than d2i_len but within the ROM's load area: sent and run, as on a real T31
head -c 32384 /dev/urandom >"$tmp/vspl.bin"
head -c 417656 /dev/urandom >"$tmp/vburner.bin"
run vendor "$(board '"burner_cpu_info":"PRJ"')" boot "$fx/ginfo.bin" "$tmp/vspl.bin" "$tmp/vburner.bin" 0x7000
if [ "$rc" -eq 0 ] && [ "$(summary state)" = burner ]; then
	ok ingenic_vendor_spl_beyond_d2i_and_arbitrary_burner_boot
else
	not_ok ingenic_vendor_spl_beyond_d2i_and_arbitrary_burner_boot "rc=$rc state=$(summary state)" "$(tail -3 "$out")"
fi

# --- SPL longer than the ROM's load area: refused before anything is sent
head -c 130000 /dev/urandom >"$tmp/bigspl.bin"
run bigspl "$(board)" boot "$fx/ginfo.bin" "$tmp/bigspl.bin" "$fx/burner.bin" 0x7000
if [ "$rc" -eq 1 ] && grep -q '^error=EMSGSIZE .*SPL is 130000 bytes, more than the t31 ROM loads (124928)' "$out" &&
	[ "$(summary bytes_out)" = 0 ]; then
	ok ingenic_spl_beyond_rom_limit_refused
else
	not_ok ingenic_spl_beyond_rom_limit_refused "rc=$rc" "$(tail -3 "$out")"
fi

# --- a corrupt SPL hangs the part: the wait for its answer times out
run badspl "$(board '"check_images":"true"')" -t 5 boot "$fx/ginfo.bin" "$fx/spl-corrupt.bin" "$fx/burner.bin" 0x7000
if [ "$rc" -eq 1 ] && grep -q '^error=ETIMEDOUT .*msg=boot: SPL: no answer to GET_CPU_INFO within 500 ms' "$out" &&
	[ "$(summary state)" = hung:corrupt-image ]; then
	ok ingenic_hung_spl_times_out
else
	not_ok ingenic_hung_spl_times_out "rc=$rc state=$(summary state)"
fi

# --- wrong chip: the JEDEC ID is reported as it is
run jedec "$(board '"jedec":"0xc84017"')" "${boot[@]}" jedec
if [ "$rc" -eq 0 ] && grep -q '^jedec=c84017 ' "$out"; then
	ok ingenic_jedec_reported_little_endian
else
	not_ok ingenic_jedec_reported_little_endian "rc=$rc"
fi

# --- outside every partition: refused before any transfer of data
run range "$(board)" "${boot[@]}" jedec config uboot:0:0x40000 write 0x30000 "$tmp/uboot.bin"
if [ "$rc" -eq 1 ] && grep -q '^error=ERANGE .*msg=write: write: 0x00030000..0x00060d40 lies in no single partition' "$out"; then
	ok ingenic_write_outside_partitions_refused
else
	not_ok ingenic_write_outside_partitions_refused "rc=$rc"
fi

# --- unplug in the middle of a write -> -ENODEV naming the chunk
run unplug "$(board '"faults":[{"kind":"unplug","after_bytes":900000}]')" "${boot[@]}" jedec config "$parts" \
	write 0x40000 "$tmp/kernel.bin"
if [ "$rc" -eq 1 ] && grep -q '^error=ENODEV .*msg=write: write 0x000[0-9a-f]*: .*No such device' "$out" &&
	[ "$(summary state)" = unplugged ]; then
	ok ingenic_unplug_during_write_gives_enodev
else
	not_ok ingenic_unplug_during_write_gives_enodev "rc=$rc state=$(summary state)"
fi

# --- data corrupted on the way: the burner's JAMCRC check fails -> -EILSEQ at that chunk
run crc "$(board '"faults":[{"kind":"corrupt_download","step":"write","skip":2}]')" "${boot[@]}" jedec config "$parts" \
	write 0x40000 "$tmp/kernel.bin"
if [ "$rc" -eq 1 ] && grep -q '^error=EILSEQ .*msg=write: write 0x00080000: device CRC check failed (ack -22, host JAMCRC 0x[0-9a-f]*, 131072 bytes)' "$out" &&
	grep -q 'bytes_written=262144 ' "$out"; then
	ok ingenic_crc_mismatch_names_offset
else
	not_ok ingenic_crc_mismatch_names_offset "rc=$rc"
fi

# --- flash refuses to program -> -EIO (ack -1)
run progerr "$(board '"faults":[{"kind":"program_error","step":"write"}]')" "${boot[@]}" jedec config "$parts" \
	write 0 "$tmp/uboot.bin"
if [ "$rc" -eq 1 ] && grep -q '^error=EIO .*msg=write: write 0x00000000: burner reports a flash or write-back error (ack -1)' "$out"; then
	ok ingenic_program_error_gives_eio
else
	not_ok ingenic_program_error_gives_eio "rc=$rc"
fi

# --- read-back data corrupted on the way back -> -EILSEQ naming the chunk
run rbad "$(board '"faults":[{"kind":"corrupt_upload","step":"read","skip":1}]')" "${boot[@]}" jedec config "$parts" \
	write-verify 0x40000 "$tmp/kernel.bin"
if [ "$rc" -eq 1 ] && grep -q '^error=EILSEQ .*msg=write: verify: read 0x000[0-9a-f]*: JAMCRC of the data 0x[0-9a-f]*, burner reported 0x' "$out" &&
	[ "$(field host_crc)" != "$(field dev_crc)" ]; then
	ok ingenic_readback_corruption_gives_eilseq
else
	not_ok ingenic_readback_corruption_gives_eilseq "rc=$rc"
fi

# --- one GET_ACK lost: re-issued, the write still succeeds
run ackhang "$(board '"faults":[{"kind":"hang","step":"ack","skip":3}]')" -t 5 "${boot[@]}" jedec config "$parts" \
	write 0 "$tmp/uboot.bin"
if [ "$rc" -eq 0 ] && dump_matches "$tmp/uboot.bin" 0; then
	ok ingenic_lost_ack_is_reissued
else
	not_ok ingenic_lost_ack_is_reissued "rc=$rc"
fi

# --- a burner that never acknowledges: -ETIMEDOUT within the (scaled) deadline
run acknever "$(board '"faults":[{"kind":"hang","step":"ack","skip":3,"count":100000}]')" -t 1 "${boot[@]}" jedec config "$parts" \
	write 0 "$tmp/uboot.bin"
if [ "$rc" -eq 1 ] && grep -q '^error=ETIMEDOUT .*msg=write: write 0x00000000: no GET_ACK within [0-9]* ms' "$out"; then
	ok ingenic_missing_ack_times_out
else
	not_ok ingenic_missing_ack_times_out "rc=$rc"
fi

# --- no run above sent a secure-boot / eFuse request
bad=0
for s in "$tmp"/*.dump/summary.json; do
	f=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boards"][0]["forbidden"])' "$s" 2>&1)
	[ "$f" = 0 ] || bad=$((bad + 1))
done
[ "$bad" = 0 ] && ok ingenic_no_forbidden_requests || not_ok ingenic_no_forbidden_requests "$bad runs"

exit 0
