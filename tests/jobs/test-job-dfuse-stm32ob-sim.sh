#!/usr/bin/env bash
# STM32 option bytes and read protection (issue 15 item 2) run by the job
# runner against the simulated F405 ROM under flashsim: the ROM resets after
# an option-byte write or a read unprotect (protocol-dfu.md §2.3, §3.5;
# AN3156), the stage waits for the board to come back on its port and reads
# the option bytes through alt 1.  Checked where a user looks: the board's
# memories byte for byte, its state, the unit's rows.
. "$(dirname "$0")/../lib/testlib.sh"
tool=$build/tests/tools/job-tool

state_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boards"][0]["state"])' "$1" 2>&1; }

mkdir -p "$tmp/r/images"
head -c 20000 /dev/urandom >"$tmp/r/images/boot.bin"
# F405 option bytes as its ROM shows them (model: RM0090 layout): USER 0xEC
# -> 0xE0 (nRST_STOP/STDBY and BOR changed), RDP 0xAA (level 0), nWRP 0x0FFF.
printf '\xe0\xaa\xff\xff\xff\xff\xff\xff\xff\x0f\xff\xff\xff\xff\xff\xff' >"$tmp/r/images/ob.bin"

boot_stage() {
	echo "{ \"op\": \"dfuse.download\", \"name\": \"boot\", \"address\": \"0x08000000\", \"file\": \"images/boot.bin\", \"sha256\": \"$(sha "$tmp/r/images/boot.bin")\" }"
}
recipe() { # NAME STAGES...
	local name=$1 stages
	shift
	stages=$(IFS=,; echo "$*")
	cat >"$tmp/r/$name.json" <<EOF
{ "name": "$name", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" }, "stages": [ $stages ] }
EOF
}
run() { # NAME RECIPE EXTRA_BOARD_KEYS -> rc, $tmp/NAME/
	local name=$1 recipe=$2 extra=$3
	cat >"$tmp/$name.json" <<EOF
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "stm32f405-dfuse", "port": "1-1.4", "serial": "OB0001" $extra } ] }
EOF
	timeout 60 "$sim" --scenario "$tmp/$name.json" --dump-dir "$tmp/$name" -- \
		"$tool" --db "$tmp/$name.db" --recipe "$tmp/r/$recipe.json" --port 1-1.4 \
		--deadline-pct 10 >"$tmp/$name.log" 2>&1
	rc=$?
}
expect_flash() { # OUT: 1 MiB erased flash with boot.bin at 0
	python3 - "$tmp/r/images/boot.bin" "$1" <<'EOF'
import sys
boot = open(sys.argv[1], 'rb').read()
img = bytearray(b'\xff' * (1024 * 1024))
img[:len(boot)] = boot
open(sys.argv[2], 'wb').write(img)
EOF
}
expect_flash "$tmp/expect.bin"

# --- option bytes: written, the ROM resets, back on the port, read back ------
recipe ob "$(boot_stage)" \
	"{ \"op\": \"dfuse.option_bytes\", \"file\": \"images/ob.bin\", \"sha256\": \"$(sha "$tmp/r/images/ob.bin")\" }"
run ob ob ""
row=$(q "$tmp/ob.db" "SELECT result, failed_stage IS NULL FROM units")
if [ "$rc" -eq 0 ] && [ "$row" = "pass|1" ] && cmp -s "$tmp/ob/b1.option-bytes.bin" "$tmp/r/images/ob.bin" &&
	cmp -s "$tmp/ob/b1.flash.bin" "$tmp/expect.bin" && [ "$(state_of "$tmp/ob/summary.json")" = dfu-idle ]; then
	ok "option_bytes_written_board_reenumerates_unit_passes_byte_exact"
else
	nok "option_bytes_written_board_reenumerates_unit_passes_byte_exact" "rc=$rc row=$row state=$(state_of "$tmp/ob/summary.json")" \
		"ob: $(od -An -tx1 "$tmp/ob/b1.option-bytes.bin" 2>&1)" "$(tail -3 "$tmp/ob.log")"
fi
order=$(sed -n "s/.*Stage [0-9]* '\([^']*\)' started.*/\1/p" "$tmp/ob.log" | tr '\n' ' ' | sed 's/ $//')
note=$(q "$tmp/ob.db" "SELECT error FROM unit_stages WHERE name = 'dfuse.option_bytes' AND result = 'pass'")
img=$(q "$tmp/ob.db" "SELECT target, file, size, verified, host_crc32 = device_crc32 FROM unit_images WHERE stage = 'dfuse.option_bytes'")
if [ "$order" = "boot verify dfuse.option_bytes" ] && [[ $note == *"re-enumerated"*"16 bytes read back identical (RDP level 0)"* ]] &&
	[ "$img" = "alt1:0x1fffc000|images/ob.bin|16|1|1" ]; then
	ok "option_bytes_verified_after_the_reset_flash_verified_before"
else
	nok "option_bytes_verified_after_the_reset_flash_verified_before" "order=$order" "note=$note" "img=$img"
fi

# --- read protection level 1 after a download ---------------------------------
recipe rdp1 "$(boot_stage)" '{ "op": "dfuse.read_protect", "level": 1 }'
run rdp1 rdp1 ""
rdp=$(od -An -tx1 -j1 -N1 "$tmp/rdp1/b1.option-bytes.bin" 2>&1 | tr -d ' ')
user=$(od -An -tx1 -j0 -N1 "$tmp/rdp1/b1.option-bytes.bin" 2>&1 | tr -d ' ')
row=$(q "$tmp/rdp1.db" "SELECT result FROM units")
if [ "$rc" -eq 0 ] && [ "$row" = pass ] && [ "$rdp" = 55 ] && [ "$user" = ec ] &&
	cmp -s "$tmp/rdp1/b1.flash.bin" "$tmp/expect.bin"; then
	ok "read_protect_level1_sets_rdp_0x55_keeps_user_and_flash"
else
	nok "read_protect_level1_sets_rdp_0x55_keeps_user_and_flash" "rc=$rc row=$row rdp=$rdp user=$user" "$(tail -3 "$tmp/rdp1.log")"
fi
rows=$(q "$tmp/rdp1.db" "SELECT name || ':' || result FROM unit_stages ORDER BY started_at, idx; SELECT stage || '|' || file || '|' || verified FROM unit_images WHERE stage = 'dfuse.read_protect'")
note=$(q "$tmp/rdp1.db" "SELECT error FROM unit_stages WHERE name = 'dfuse.read_protect'")
want="boot:pass
verify:pass
dfuse.read_protect:pass
dfuse.read_protect|RDP level 1 (RDP byte 0x55)|0"
if [ "$rows" = "$want" ] && [[ $note == *"RDP level 1 (RDP 0x55) set"*"refuses reads (errVENDOR)"* ]]; then
	ok "read_protect_rows_say_what_was_set_verify_ran_before"
else
	nok "read_protect_rows_say_what_was_set_verify_ran_before" "got: $(echo $rows)" "want: $(echo $want)" "note=$note"
fi

# --- read unprotect on a protected board, then a download ---------------------
recipe unprot '{ "op": "dfuse.read_unprotect" }' "$(boot_stage)" '{ "op": "dfuse.leave", "address": "0x08000000" }'
run unprot unprot ', "rdp": 1, "fill": "random:7"'
rdp=$(od -An -tx1 -j1 -N1 "$tmp/unprot/b1.option-bytes.bin" 2>&1 | tr -d ' ')
rows=$(q "$tmp/unprot.db" "SELECT result FROM units; SELECT name || ':' || result FROM unit_stages ORDER BY started_at, idx")
want="pass
dfuse.read_unprotect:pass
boot:pass
verify:pass
dfuse.leave:pass"
if [ "$rc" -eq 0 ] && [ "$rows" = "$want" ] && [ "$rdp" = aa ] && cmp -s "$tmp/unprot/b1.flash.bin" "$tmp/expect.bin"; then
	ok "read_unprotect_mass_erases_resets_then_download_works"
else
	nok "read_unprotect_mass_erases_resets_then_download_works" "rc=$rc rdp=$rdp" "got: $(echo $rows)" "$(tail -3 "$tmp/unprot.log")"
fi

# --- option bytes on a protected board: the ROM refuses (errVENDOR) -----------
recipe obprot "{ \"op\": \"dfuse.option_bytes\", \"file\": \"images/ob.bin\", \"sha256\": \"$(sha "$tmp/r/images/ob.bin")\" }"
run obprot obprot ', "rdp": 1'
row=$(q "$tmp/obprot.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/obprot.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|dfuse.option_bytes" ] && [[ $err == *errVENDOR* ]] &&
	[ "$(od -An -tx1 -j1 -N1 "$tmp/obprot/b1.option-bytes.bin" | tr -d ' ')" = 55 ]; then
	ok "option_bytes_on_a_protected_board_fail_with_errVENDOR"
else
	nok "option_bytes_on_a_protected_board_fail_with_errVENDOR" "rc=$rc row=$row" "error=$err"
fi

# --- RDP level 2 (irreversible): the ROM never comes back ----------------------
recipe rdp2 '{ "op": "dfuse.read_protect", "level": 2, "irreversible": true }'
run rdp2 rdp2 ""
rows=$(q "$tmp/rdp2.db" "SELECT result FROM units; SELECT error FROM unit_stages WHERE name = 'dfuse.read_protect'")
if [ "$rc" -eq 0 ] && [ "$(state_of "$tmp/rdp2/summary.json")" = rdp2-no-rom ] &&
	[[ $rows == pass*"RDP level 2 (0xCC) written"*"disabled for good"* ]]; then
	ok "read_protect_level2_board_never_comes_back"
else
	nok "read_protect_level2_board_never_comes_back" "rc=$rc state=$(state_of "$tmp/rdp2/summary.json")" "rows=$rows" "$(tail -3 "$tmp/rdp2.log")"
fi

# --- the example recipe (jobs/recipes/stm32-f405-protected.json) end to end --
ex=$top/jobs/recipes/stm32-f405-protected.json
cat >"$tmp/example.json" <<EOF
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "stm32f405-dfuse", "port": "1-4.1", "serial": "EX0001" } ] }
EOF
timeout 60 "$sim" --scenario "$tmp/example.json" --dump-dir "$tmp/example" -- \
	"$tool" --db "$tmp/example.db" --recipe "$ex" --port 1-4.1 --deadline-pct 10 >"$tmp/example.log" 2>&1
rc=$?
ob=$(od -An -tx1 "$tmp/example/b1.option-bytes.bin" 2>&1 | tr -d ' \n')
stages=$(q "$tmp/example.db" "SELECT group_concat(name || ':' || result, ' ') FROM (SELECT * FROM unit_stages ORDER BY started_at, idx)")
boot=$top/jobs/recipes/images/stm32-f405-boot.bin app=$top/jobs/recipes/images/stm32-f405-app.bin
if [ "$rc" -eq 0 ] && [ "$ob" = e055ffffffffffffff0fffffffffffff ] &&
	[ "$stages" = "bootloader:pass application:pass verify:pass options:pass protect:pass" ] &&
	cmp -s -n "$(stat -c %s "$boot")" "$boot" "$tmp/example/b1.flash.bin" &&
	cmp -s -n "$(stat -c %s "$app")" "$app" <(tail -c +$((0x10000 + 1)) "$tmp/example/b1.flash.bin"); then
	ok "example_protected_recipe_flashes_sets_options_then_rdp1"
else
	nok "example_protected_recipe_flashes_sets_options_then_rdp1" "rc=$rc ob=$ob" "stages=$stages" "$(tail -3 "$tmp/example.log")"
fi

# --- STM32L476: its 40 option bytes at 0x1FFF7800, RDP the low byte of
# FLASH_OPTR (RM0351 §3.4.1): level 1 set there, the rest kept -------------
recipe l4rdp '{ "op": "dfuse.read_protect", "level": 1, "address": "0x1FFF7800" }'
cat >"$tmp/l4rdp.json" <<EOF
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "stm32l476-dfuse", "port": "1-1.4", "serial": "L4OB01" } ] }
EOF
timeout 60 "$sim" --scenario "$tmp/l4rdp.json" --dump-dir "$tmp/l4rdp" -- \
	"$tool" --db "$tmp/l4rdp.db" --recipe "$tmp/r/l4rdp.json" --port 1-1.4 --deadline-pct 10 >"$tmp/l4rdp.log" 2>&1
rc=$?
ob=$(od -An -tx1 -N8 "$tmp/l4rdp/b1.option-bytes.bin" 2>&1 | tr -d ' \n')
size=$(stat -c %s "$tmp/l4rdp/b1.option-bytes.bin" 2>&1)
row=$(q "$tmp/l4rdp.db" "SELECT result FROM units; SELECT target || '|' || size FROM unit_images")
if [ "$rc" -eq 0 ] && [ "$ob" = 55f8efffffffffff ] && [ "$size" = 40 ] && [ "$row" = "pass
alt1:0x1fff7800|40" ]; then
	ok "l476_read_protect_sets_the_optr_rdp_byte"
else
	nok "l476_read_protect_sets_the_optr_rdp_byte" "rc=$rc ob=$ob size=$size" "row=$row" "$(tail -3 "$tmp/l4rdp.log")"
fi
