#!/usr/bin/env bash
# Conformance tests: unmodified Debian dfu-util against simulated
# stm32f405-dfuse and stm32l476-dfuse boards served by flashsim (tests/sim/README.md).
# Prints "ok - NAME" / "not ok - NAME" per case.  Every check compares
# bytes the board stored (flashsim --dump-dir) with what dfu-util was given or
# returned, so a write landing one block off fails.
#   env: FLASHD_TOP, FLASHD_BUILD (set by tests/run-tests.sh)
. "$(dirname "$0")/../lib/testlib.sh"
scn=$top/tests/sim/scenarios
tmp=$(mktemp -d /tmp/test-dfu-util.XXXXXX)

if ! command -v dfu-util >/dev/null; then
	echo "not ok - dfu-util is installed (make deps)"
	exit 1
fi

pass() { echo "ok - $1"; }
fail() {
	echo "not ok - $1"
	shift
	for f in "$@"; do [ -f "$f" ] && sed 's/^/#   /' "$f" | tr '\r' '\n' | tail -15; done
}

# json_get FILE BOARD_INDEX KEY: a top-level string/number of a board in summary.json
json_get() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boards"][int(sys.argv[2])][sys.argv[3]])' "$@"
}

# ff N FILE: true if FILE's bytes from offset N to the end are all 0xFF
ff_from() {
	local n=$1 f=$2 size
	size=$(stat -c %s "$f")
	cmp -s <(tail -c +$((n + 1)) "$f") <(head -c $((size - n)) /dev/zero | tr '\0' '\377')
}

# --- dfu-util -l lists all four alt settings with names, serial and port path
t=list_shows_four_alts_serial_and_path
out=$tmp/list.out
"$sim" --scenario "$scn/list.json" -- dfu-util -l >"$out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
[ "$(grep -c '^Found DFU: \[0483:df11\] ver=2200' "$out")" -eq 4 ] || ok=0
for alt in \
	'alt=0, name="@Internal Flash  /0x08000000/04\*016Kg,01\*064Kg,07\*128Kg"' \
	'alt=1, name="@Option Bytes  /0x1FFFC000/01\*016 e"' \
	'alt=2, name="@OTP Memory /0x1FFF7800/01\*512 e,01\*016 e"' \
	'alt=3, name="@Device Feature/0xFFFF0000/01\*004 e"'; do
	grep -q "path=\"1-1.2.3\", $alt, serial=\"0123456789AB\"" "$out" || ok=0
done
[ $ok -eq 1 ] && pass $t || fail $t "$out"

# --- download 300 KiB with :leave: flash == file, rest erased, board left DFU
t=download_300k_leave_is_byte_exact
head -c 307200 /dev/urandom >"$tmp/fw.bin"
out=$tmp/dl.out
"$sim" --scenario "$scn/one-dfuse.json" --dump-dir "$tmp/dl" -- \
	dfu-util -a 0 -s 0x08000000:leave -D "$tmp/fw.bin" >"$out" 2>&1
rc=$?
ok=1
# dfu-util 0.11 exits 74 when the ROM resets before the final GETSTATUS
# (protocol-dfu.md, "Error during download get_status" is benign).
[ $rc -eq 0 ] || [ $rc -eq 74 ] || ok=0
grep -q 'File downloaded successfully' "$out" || ok=0
cmp -s -n 307200 "$tmp/fw.bin" "$tmp/dl/b1.flash.bin" || ok=0
ff_from 307200 "$tmp/dl/b1.flash.bin" || ok=0
case $(json_get "$tmp/dl/summary.json" 0 state 2>/dev/null) in
left*) ;;
*) ok=0 ;;
esac
[ $ok -eq 1 ] && pass $t || fail $t "$out" "$tmp/dl/summary.json"

# --- upload returns exactly the (random) flash
t=upload_returns_exact_flash
out=$tmp/up.out
"$sim" --scenario "$scn/upload-random.json" --dump-dir "$tmp/up" -- \
	dfu-util -a 0 -s 0x08000000:1048576 -U "$tmp/up.bin" >"$out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
cmp -s "$tmp/up.bin" "$tmp/up/b1.flash.bin" || ok=0
ff_from 0 "$tmp/up/b1.flash.bin" && ok=0 # the fill must not be blank
[ $ok -eq 1 ] && pass $t || fail $t "$out"

# --- mass erase in command mode leaves all 1 MiB at 0xFF
t=mass_erase_leaves_flash_blank
out=$tmp/me.out
"$sim" --scenario "$scn/upload-random.json" --dump-dir "$tmp/me" -- \
	dfu-util -a 0 -s 0x08000000:mass-erase:force >"$out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
[ "$(stat -c %s "$tmp/me/b1.flash.bin" 2>/dev/null)" = 1048576 ] || ok=0
ff_from 0 "$tmp/me/b1.flash.bin" || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$out"

# --- a read-protected board refuses upload; dfu-util reports an error
t=rdp1_refuses_upload
out=$tmp/rdp.out
"$sim" --scenario "$scn/rdp.json" --dump-dir "$tmp/rdp" -- \
	dfu-util -a 0 -s 0x08000000:4096 -U "$tmp/rdp.bin" >"$out" 2>&1
rc=$?
ok=1
[ $rc -ne 0 ] && [ $rc -ne 70 ] || ok=0
grep -q '^dfu-util: ' "$out" || ok=0
if [ -s "$tmp/rdp.bin" ] && cmp -s -n 4096 "$tmp/rdp.bin" "$tmp/rdp/b1.flash.bin"; then
	ok=0 # protected bytes leaked
fi
[ $ok -eq 1 ] && pass $t || fail $t "$out"

# --- 16 boards, 16 ports, one dfu-util -p PATH each, all at once
t=sixteen_boards_parallel_byte_exact
mapfile -t ports < <(python3 -c 'import json,sys; [print(b["port"]) for b in json.load(open(sys.argv[1]))["boards"]]' "$scn/sixteen-dfuse.json")
{
	echo 'pids=()'
	for i in $(seq 1 16); do
		n=$(printf %02d "$i")
		head -c $((64 * 1024 + i * 2048 + i)) /dev/urandom >"$tmp/p$n.bin"
		echo "dfu-util -p ${ports[$((i - 1))]} -a 0 -s 0x08000000 -D $tmp/p$n.bin >$tmp/p$n.log 2>&1 & pids+=(\$!)"
	done
	echo 'rc=0; for p in "${pids[@]}"; do wait $p || rc=1; done; exit $rc'
} >"$tmp/par.sh"
"$sim" --scenario "$scn/sixteen-dfuse.json" --dump-dir "$tmp/par" -- bash "$tmp/par.sh" >"$tmp/par.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
for i in $(seq 1 16); do
	n=$(printf %02d "$i")
	size=$(stat -c %s "$tmp/p$n.bin")
	cmp -s -n "$size" "$tmp/p$n.bin" "$tmp/par/b$n.flash.bin" || { ok=0; echo "# board b$n differs"; }
	ff_from "$size" "$tmp/par/b$n.flash.bin" || { ok=0; echo "# board b$n: bytes after the image"; }
done
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/par.out" "$tmp/p01.log"

# --- STM32L476 (stm32l476-dfuse): 2 KiB pages, 64-bit programming.  The L4
# ROM drops the tail of a block that is not a multiple of 8 bytes
# (tests/sim/boards/README.md); dfu-util does not pad, so a ragged file loses
# its last bytes, and a file padded with 0xFF to 8 bytes lands byte-exact.
l4scn=$tmp/l4.json
cat >"$l4scn" <<'EOF2'
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "stm32l476-dfuse", "port": "1-1.2.3", "serial": "L4UNIT000001" } ] }
EOF2
t=l4_list_shows_page_layout
out=$tmp/l4list.out
"$sim" --scenario "$l4scn" -- dfu-util -l >"$out" 2>&1
ok=1
for alt in \
	'alt=0, name="@Internal Flash  /0x08000000/0512\*0002Kg"' \
	'alt=1, name="@Option Bytes  /0x1FFF7800/01\*040 e"' \
	'alt=2, name="@OTP Memory /0x1FFF7000/01\*0001Ke"'; do
	grep -q "$alt, serial=\"L4UNIT000001\"" "$out" || ok=0
done
[ $ok -eq 1 ] && pass $t || fail $t "$out"

t=l4_ragged_download_leave_loses_the_tail_dfu_util_does_not_pad
len=70005 # neither a multiple of 8 nor of the 2 KiB page
head -c $len /dev/urandom >"$tmp/l4.bin"
out=$tmp/l4dl.out
"$sim" --scenario "$l4scn" --dump-dir "$tmp/l4dl" -- \
	dfu-util -a 0 -s 0x08000000:leave -D "$tmp/l4.bin" >"$out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || [ $rc -eq 74 ] || ok=0
grep -q 'File downloaded successfully' "$out" || ok=0
cmp -s -n $((len / 8 * 8)) "$tmp/l4.bin" "$tmp/l4dl/b1.flash.bin" || ok=0
ff_from $((len / 8 * 8)) "$tmp/l4dl/b1.flash.bin" || ok=0
case $(json_get "$tmp/l4dl/summary.json" 0 state 2>/dev/null) in
left@0x08000000) ;;
*) ok=0 ;;
esac
[ $ok -eq 1 ] && pass $t || fail $t "$out" "$tmp/l4dl/summary.json"

t=l4_padded_download_then_upload_is_byte_exact
cp "$tmp/l4.bin" "$tmp/l4pad.bin"
head -c $((8 - len % 8)) /dev/zero | tr '\0' '\377' >>"$tmp/l4pad.bin"
cat >"$tmp/l4up.sh" <<EOF2
dfu-util -a 0 -s 0x08000000 -D $tmp/l4pad.bin || exit 1
dfu-util -a 0 -s 0x08000000:$len -U $tmp/l4up.bin || exit 1
exit 0
EOF2
out=$tmp/l4up.out
"$sim" --scenario "$l4scn" --dump-dir "$tmp/l4up" -- bash "$tmp/l4up.sh" >"$out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
cmp -s "$tmp/l4up.bin" "$tmp/l4.bin" || ok=0
cmp -s -n $len "$tmp/l4.bin" "$tmp/l4up/b1.flash.bin" || ok=0
ff_from $len "$tmp/l4up/b1.flash.bin" || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$out"

# --- option bytes with :will-reset (issue 15 item 2): the ROM resets after the
# write (protocol-dfu.md §2.3), dfu-util accepts the dfuDNBUSY and stops; the
# board comes back in the ROM, its option bytes are the file's, and a second
# dfu-util reads them back through alt 1.
t=option_bytes_will_reset_then_upload_reads_them_back
printf '\xe0\xaa\xff\xff\xff\xff\xff\xff\xff\x0f\xff\xff\xff\xff\xff\xff' >"$tmp/ob.bin"
cat >"$tmp/ob.sh" <<EOF2
dfu-util -a 1 -s 0x1FFFC000:will-reset -D $tmp/ob.bin || [ \$? -eq 74 ] || exit 1
# dfu-util -w: re-probe until the ROM is back from its reset.
dfu-util -w -a 1 -s 0x1FFFC000:16 -U $tmp/ob-up.bin || exit 1
exit 0
EOF2
out=$tmp/ob.out
"$sim" --scenario "$scn/one-dfuse.json" --dump-dir "$tmp/ob" -- bash "$tmp/ob.sh" >"$out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
cmp -s "$tmp/ob.bin" "$tmp/ob/b1.option-bytes.bin" || ok=0
cmp -s "$tmp/ob.bin" "$tmp/ob-up.bin" || ok=0
[ "$(json_get "$tmp/ob/summary.json" 0 state 2>/dev/null)" = dfu-idle ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$out" "$tmp/ob/summary.json"

# --- RDP level 2 written with dfu-util: the ROM is disabled for good (RM0090
# §3.7.3), the board never re-enumerates (tests/sim/boards/README.md).
t=option_bytes_rdp_level2_board_never_comes_back
printf '\xec\xcc\xff\xff\xff\xff\xff\xff\xff\x0f\xff\xff\xff\xff\xff\xff' >"$tmp/ob2.bin"
out=$tmp/ob2.out
"$sim" --scenario "$scn/one-dfuse.json" --dump-dir "$tmp/ob2" -- \
	bash -c "dfu-util -a 1 -s 0x1FFFC000:will-reset -D $tmp/ob2.bin; sleep 1" >"$out" 2>&1
ok=1
cmp -s "$tmp/ob2.bin" "$tmp/ob2/b1.option-bytes.bin" || ok=0
[ "$(json_get "$tmp/ob2/summary.json" 0 state 2>/dev/null)" = rdp2-no-rom ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$out" "$tmp/ob2/summary.json"

exit 0
