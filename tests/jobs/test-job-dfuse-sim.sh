#!/usr/bin/env bash
# Job runner against simulated STM32 DfuSe boards under flashsim: a recipe
# runs end to end (erase, write, read-back verify, leave) and the outcome is
# checked where a user would look: the board's flash byte for byte, the
# board's final state, and the unit's database rows.  Faults (unplug
# mid-write, program error, a request that never completes, read
# protection) must end as 'fail' rows naming the stage and the reason.
. "$(dirname "$0")/../lib/testlib.sh"
tool=$build/tests/tools/job-tool


# Images and a recipe in their own directory (paths may not escape it).
mkdir -p "$tmp/r/images"
head -c 20000 /dev/urandom >"$tmp/r/images/boot.bin"
head -c 70000 /dev/urandom >"$tmp/r/images/app.bin"
write_recipe() { # NAME EXTRA_STAGE_KEYS
	cat >"$tmp/r/$1.json" <<EOF
{ "name": "$1", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", "file": "images/boot.bin",
      "sha256": "$(sha "$tmp/r/images/boot.bin")", "erase": "pages", "verify": "readback" $2 },
    { "op": "dfuse.download", "name": "app", "address": "0x08020000", "file": "images/app.bin",
      "sha256": "$(sha "$tmp/r/images/app.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
}
write_recipe good ""
write_recipe short ', "timeout_ms": 1500'

scenario() { # FILE EXTRA_BOARD_KEYS
	cat >"$1" <<EOF
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "stm32f405-dfuse", "port": "1-1.4", "serial": "UNIT0042" $2 } ] }
EOF
}

run() { # NAME RECIPE EXTRA_BOARD_KEYS -> sets rc, out dir $tmp/NAME
	local name=$1 recipe=$2 extra=$3
	scenario "$tmp/$name.json" "$extra"
	timeout 60 "$sim" --scenario "$tmp/$name.json" --dump-dir "$tmp/$name" -- \
		"$tool" --db "$tmp/$name.db" --recipe "$tmp/r/$recipe.json" --port 1-1.4 \
		--deadline-pct 10 >"$tmp/$name.log" 2>&1
	rc=$?
}
q() { sqlite3 "$1" "$2" 2>&1; }

# --- happy path: flash byte-exact at both addresses, rows pass --------------
run happy good ""
flash=$tmp/happy/b1.flash.bin
expect=$tmp/expect.bin
python3 - "$tmp/r/images/boot.bin" "$tmp/r/images/app.bin" "$expect" <<'EOF'
import sys
boot, app, out = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read(), sys.argv[3]
img = bytearray(b'\xff' * (1024 * 1024))
img[0:len(boot)] = boot
img[0x20000:0x20000 + len(app)] = app
open(out, 'wb').write(img)
EOF
if [ "$rc" -eq 0 ] && cmp -s "$flash" "$expect"; then
	ok "dfuse_recipe_flashes_both_images_byte_exact"
else
	nok "dfuse_recipe_flashes_both_images_byte_exact" "rc=$rc" "$(cmp "$flash" "$expect" 2>&1)" "$(tail -3 "$tmp/happy.log")"
fi
state=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boards"][0]["state"])' "$tmp/happy/summary.json" 2>&1)
[ "$state" = "left@0x08000000" ] && ok "dfuse_recipe_leaves_to_0x08000000" ||
	nok "dfuse_recipe_leaves_to_0x08000000" "state=$state"
row=$(q "$tmp/happy.db" "SELECT result, serial, recipe, port, failed_stage IS NULL, duration_ms >= 0 FROM units")
[ "$row" = "pass|UNIT0042|good|1-1.4|1|1" ] && ok "dfuse_unit_row_pass_with_serial" ||
	nok "dfuse_unit_row_pass_with_serial" "row=$row"
imgs=$(q "$tmp/happy.db" "SELECT stage, target, size, sha256, host_crc32 = device_crc32, verified FROM unit_images ORDER BY id")
want="boot|alt0:0x08000000|20000|$(sha "$tmp/r/images/boot.bin")|1|1
app|alt0:0x08020000|70000|$(sha "$tmp/r/images/app.bin")|1|1
verify|alt0:0x08000000|20000|$(sha "$tmp/r/images/boot.bin")|1|1
verify|alt0:0x08020000|70000|$(sha "$tmp/r/images/app.bin")|1|1"
[ "$imgs" = "$want" ] && ok "dfuse_image_rows_carry_sha_and_equal_crcs" ||
	nok "dfuse_image_rows_carry_sha_and_equal_crcs" "got: $imgs" "want: $want"
crc=$(q "$tmp/happy.db" "SELECT printf('%08x', host_crc32) FROM unit_images WHERE stage='boot'")
want_crc=$(python3 -c 'import zlib,sys; print("%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$tmp/r/images/boot.bin")
[ "$crc" = "$want_crc" ] && ok "dfuse_host_crc_is_crc32_of_image" || nok "dfuse_host_crc_is_crc32_of_image" "$crc != $want_crc"
stages=$(q "$tmp/happy.db" "SELECT group_concat(name || ':' || result, ' ') FROM (SELECT * FROM unit_stages ORDER BY idx)")
[ "$stages" = "boot:pass app:pass dfuse.leave:pass verify:pass" ] && ok "dfuse_stage_rows_in_order" ||
	nok "dfuse_stage_rows_in_order" "$stages"

# --- unplug in the middle of the second image --------------------------------
run unplug good ', "faults": [ { "kind": "unplug", "after_bytes": 60000 } ]'
row=$(q "$tmp/unplug.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/unplug.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|app" ] && [[ $err == *"No such device"* || $err == *"unplug"* || $err == *"ENODEV"* || $err == *"gone"* ]]; then
	ok "dfuse_unplug_mid_write_fails_the_unit_in_stage_app"
else
	nok "dfuse_unplug_mid_write_fails_the_unit_in_stage_app" "rc=$rc row=$row" "error=$err"
fi

# --- the flash refuses to program ----------------------------------------------
run progerr good ', "faults": [ { "kind": "program_error", "step": "download" } ]'
row=$(q "$tmp/progerr.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/progerr.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|boot" ] && [[ $err == *errPROG* ]]; then
	ok "dfuse_program_error_fails_with_errPROG"
else
	nok "dfuse_program_error_fails_with_errPROG" "rc=$rc row=$row" "error=$err"
fi

# --- a request that never completes: the stage times out, the job ends ---------
run hang short ', "faults": [ { "kind": "hang", "step": "erase" } ]'
row=$(q "$tmp/hang.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/hang.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|boot" ] && [[ $err == *"timed out"* || $err == *timeout* || $err == *"Timer expired"* ]]; then
	ok "dfuse_hung_request_times_out_and_fails"
else
	nok "dfuse_hung_request_times_out_and_fails" "rc=$rc row=$row" "error=$err"
fi

# --- read protection ------------------------------------------------------------
run rdp good ', "rdp": 1'
row=$(q "$tmp/rdp.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/rdp.db" "SELECT error FROM units")
if [ "$rc" -eq 1 ] && [ "$row" = "fail|boot" ] && [[ $err == *errVENDOR* || $err == *"protect"* ]]; then
	ok "dfuse_read_protected_board_fails_with_errVENDOR"
else
	nok "dfuse_read_protected_board_fails_with_errVENDOR" "rc=$rc row=$row" "error=$err"
fi

# --- a DfuSe .dfu (what ST's tools and most STM32 builds produce): each element
# lands at its own address, the file's prefix/headers/suffix never reach flash ---
head -c 3000 /dev/urandom >"$tmp/el0.bin"
head -c 40000 /dev/urandom >"$tmp/el1.bin"
# 0x08002000 shares the 16 KiB sector 0 with 0x08000000: erased once, both survive.
python3 "$top/tests/fixtures/dfuse/mkdfu.py" "$tmp/r/images/fw.dfu" \
	0:0x08000000:"$tmp/el0.bin" 0:0x08002000:"$tmp/el1.bin"
cat >"$tmp/r/dfu.json" <<EOF
{ "name": "dfu", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "fw", "file": "images/fw.dfu",
      "sha256": "$(sha "$tmp/r/images/fw.dfu")" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
run dfu dfu ""
python3 - "$tmp/el0.bin" "$tmp/el1.bin" "$expect" <<'EOF'
import sys
a, b, out = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read(), sys.argv[3]
img = bytearray(b'\xff' * (1024 * 1024))
img[0:len(a)] = a
img[0x2000:0x2000 + len(b)] = b
open(out, 'wb').write(img)
EOF
flash=$tmp/dfu/b1.flash.bin
if [ "$rc" -eq 0 ] && cmp -s "$flash" "$expect" && ! grep -qa DfuSe "$flash"; then
	ok "dfuse_dfu_file_elements_land_at_their_addresses"
else
	nok "dfuse_dfu_file_elements_land_at_their_addresses" "rc=$rc" "$(cmp "$flash" "$expect" 2>&1)" "$(tail -3 "$tmp/dfu.log")"
fi
row=$(q "$tmp/dfu.db" "SELECT result FROM units")
imgs=$(q "$tmp/dfu.db" "SELECT stage, target, size, sha256, printf('%08x', host_crc32), host_crc32 = device_crc32, verified FROM unit_images ORDER BY id")
want_crc=$(python3 -c 'import zlib,sys; print("%08x" % zlib.crc32(open(sys.argv[1],"rb").read() + open(sys.argv[2],"rb").read()))' "$tmp/el0.bin" "$tmp/el1.bin")
crc0=$(python3 -c 'import zlib,sys; print("%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$tmp/el0.bin")
crc1=$(python3 -c 'import zlib,sys; print("%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$tmp/el1.bin")
want="fw|alt0:dfu:2 elements|$(stat -c %s "$tmp/r/images/fw.dfu")|$(sha "$tmp/r/images/fw.dfu")|$want_crc|1|1
verify|alt0:0x08000000|$(stat -c %s "$tmp/r/images/fw.dfu")|$(sha "$tmp/r/images/fw.dfu")|$crc0|1|1
verify|alt0:0x08002000|$(stat -c %s "$tmp/r/images/fw.dfu")|$(sha "$tmp/r/images/fw.dfu")|$crc1|1|1"
if [ "$row" = pass ] && [ "$imgs" = "$want" ]; then
	ok "dfuse_dfu_file_one_pass_row_crc_over_elements"
else
	nok "dfuse_dfu_file_one_pass_row_crc_over_elements" "row=$row" "got: $imgs" "want: $want"
fi

# --- two stages in one flash sector (issue 12): the job erases sector 0 once -----
# boot2 (8 KiB at 0x08000000) and app2 (8 KiB at 0x08002000) share the 16 KiB
# sector 0; the second stage must not erase it again.  The final flash must
# equal the memory plan: both images, the rest erased.
head -c 8192 /dev/urandom >"$tmp/r/images/boot2.bin"
head -c 8192 /dev/urandom >"$tmp/r/images/app2.bin"
cat >"$tmp/r/shared.json" <<EOF
{ "name": "shared", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "boot2", "address": "0x08000000", "file": "images/boot2.bin",
      "sha256": "$(sha "$tmp/r/images/boot2.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "app2", "address": "0x08002000", "file": "images/app2.bin",
      "sha256": "$(sha "$tmp/r/images/app2.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
run shared shared ""
python3 - "$tmp/r/images/boot2.bin" "$tmp/r/images/app2.bin" "$tmp/expect-shared.bin" <<'EOF'
import sys
boot, app, out = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read(), sys.argv[3]
img = bytearray(b'\xff' * (1024 * 1024))
img[0:len(boot)] = boot
img[0x2000:0x2000 + len(app)] = app
open(out, 'wb').write(img)
EOF
if [ "$rc" -eq 0 ] && cmp -s "$tmp/shared/b1.flash.bin" "$tmp/expect-shared.bin"; then
	ok "dfuse_stages_sharing_a_sector_both_survive_byte_exact"
else
	nok "dfuse_stages_sharing_a_sector_both_survive_byte_exact" "rc=$rc" \
		"$(cmp "$tmp/shared/b1.flash.bin" "$tmp/expect-shared.bin" 2>&1)" "$(tail -3 "$tmp/shared.log")"
fi
rows=$(q "$tmp/shared.db" "SELECT result FROM units; SELECT stage || ':' || verified || ':' || (host_crc32 = device_crc32) FROM unit_images ORDER BY id")
want="pass
boot2:1:1
app2:1:1
verify:1:1
verify:1:1"
[ "$rows" = "$want" ] && ok "dfuse_shared_sector_rows_pass_and_verified" ||
	nok "dfuse_shared_sector_rows_pass_and_verified" "got: $rows" "want: $want"

# --- the device's layout is not the one recipe check planned with --------------
# A 512 KiB board has no sector 0x08080000-0x0809ffff: the stage fails before
# any erase, naming the plan, and the flash stays blank.
head -c 4096 /dev/urandom >"$tmp/r/images/hi.bin"
cat >"$tmp/r/hi.json" <<EOF
{ "name": "hi", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "hi", "address": "0x08080000", "file": "images/hi.bin",
      "sha256": "$(sha "$tmp/r/images/hi.bin")", "erase": "pages", "verify": "readback" } ] }
EOF
run smallflash hi ', "flash_kib": 512'
row=$(q "$tmp/smallflash.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/smallflash.db" "SELECT error FROM units")
blank=$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(int(len(d) > 0 and d.count(0xff) == len(d)))' "$tmp/smallflash/b1.flash.bin" 2>&1)
if [ "$rc" -eq 1 ] && [ "$row" = "fail|hi" ] && [[ $err == *"memory plan does not hold"*"0x08080000-0x0809ffff"*"nothing erased"* ]] && [ "$blank" = 1 ]; then
	ok "dfuse_layout_unlike_the_plan_fails_before_erasing"
else
	nok "dfuse_layout_unlike_the_plan_fails_before_erasing" "rc=$rc row=$row blank=$blank" "error=$err"
fi

# --- STM32L476: the example recipe jobs/recipes/stm32-l476.json (2 KiB
# pages, 64-bit programming; both images end off the 8-byte unit and mid-page,
# the app starts mid-page 6) ------------------------------------------------
cat >"$tmp/l4.json" <<EOF
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "stm32l476-dfuse", "port": "1-1.4", "serial": "L4UNIT07", "fill": "random:5" } ] }
EOF
# Real deadlines: nothing here must time out, and at 10 % a loaded machine
# failed the unit ("set address: still dfuDNBUSY after 200 ms").
timeout 60 "$sim" --scenario "$tmp/l4.json" --dump-dir "$tmp/l4" -- \
	"$tool" --db "$tmp/l4.db" --recipe "$top/jobs/recipes/stm32-l476.json" --port 1-1.4 \
	--deadline-pct 100 >"$tmp/l4.log" 2>&1
rc=$?
l4img=$top/jobs/recipes/images
res=$(python3 - "$l4img/stm32-l476-boot.bin" "$l4img/stm32-l476-app.bin" "$tmp/l4/b1.flash.bin" <<'EOF'
import sys
boot, app = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
flash = open(sys.argv[3], 'rb').read()
app_at = 0x3400
end = app_at + len(app)
bad = []
if flash[:len(boot)] != boot: bad.append("boot")
if flash[len(boot):app_at] != b'\xff' * (app_at - len(boot)): bad.append("gap")
if flash[app_at:end] != app: bad.append("app")
# The rest of the app's last page is erased; the page after keeps the random fill.
page_end = (end + 2047) // 2048 * 2048
if flash[end:page_end] != b'\xff' * (page_end - end): bad.append("tail")
if flash[page_end:page_end + 2048] == b'\xff' * 2048: bad.append("over-erased")
print(" ".join(bad) or "ok")
EOF
)
if [ "$rc" -eq 0 ] && [ "$res" = ok ]; then
	ok "dfuse_l476_recipe_flashes_ragged_images_byte_exact"
else
	nok "dfuse_l476_recipe_flashes_ragged_images_byte_exact" "rc=$rc differs: $res" "$(tail -3 "$tmp/l4.log")"
fi
row=$(q "$tmp/l4.db" "SELECT result, serial, recipe FROM units")
stages=$(q "$tmp/l4.db" "SELECT group_concat(name || ':' || result, ' ') FROM (SELECT * FROM unit_stages ORDER BY idx)")
state=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boards"][0]["state"])' "$tmp/l4/summary.json" 2>&1)
if [ "$row" = "pass|L4UNIT07|stm32-l476" ] && [ "$stages" = "bootloader:pass application:pass dfuse.leave:pass verify:pass" ] &&
	[ "$state" = "left@0x08000000" ]; then
	ok "dfuse_l476_unit_row_pass_and_left"
else
	nok "dfuse_l476_unit_row_pass_and_left" "row=$row" "stages=$stages" "state=$state"
fi

# --- whole-unit verification (issue 12 "A pass row is true") -------------------
# "low" fills sector 0 (16 KiB, its last byte 0xff), "high" goes to sector 1.
# The board's erase of sector 1 disturbs sector 0's last byte (boards/README.md
# "Disturb"): both stages verify their own bytes and pass, only the read-back
# after the last write sees "low" damaged.  The unit must fail in "verify",
# naming the stage, the address and both CRCs, and the board must not leave.
python3 -c 'import os,sys; d=bytearray(os.urandom(16384)); d[-1]=0xff; open(sys.argv[1],"wb").write(d)' "$tmp/r/images/low.bin"
head -c 4096 /dev/urandom >"$tmp/r/images/high.bin"
cat >"$tmp/r/neighbours.json" <<EOF
{ "name": "neighbours", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "low", "address": "0x08000000", "file": "images/low.bin",
      "sha256": "$(sha "$tmp/r/images/low.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "high", "address": "0x08004000", "file": "images/high.bin",
      "sha256": "$(sha "$tmp/r/images/high.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
run disturb neighbours ', "faults": [ { "kind": "disturb", "step": "erase", "skip": 1 } ]'
row=$(q "$tmp/disturb.db" "SELECT result, failed_stage FROM units")
err=$(q "$tmp/disturb.db" "SELECT error FROM units")
low_crc=$(python3 -c 'import zlib,sys; print("0x%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$tmp/r/images/low.bin")
dev_crc=$(python3 -c 'import zlib,sys; print("0x%08x" % zlib.crc32(open(sys.argv[1],"rb").read()[:16384]))' "$tmp/disturb/b1.flash.bin" 2>&1)
if [ "$rc" -eq 1 ] && [ "$row" = "fail|verify" ] && [ "$low_crc" != "$dev_crc" ] &&
	[[ $err == *"stage 'low' (images/low.bin)"*"0x08000000"*"first difference at 0x08003fff"*"host CRC $low_crc, device CRC $dev_crc"* ]]; then
	ok "dfuse_disturbed_earlier_stage_fails_the_unit_in_verify"
else
	nok "dfuse_disturbed_earlier_stage_fails_the_unit_in_verify" "rc=$rc row=$row" "error=$err" "want CRCs $low_crc $dev_crc"
fi
rows=$(q "$tmp/disturb.db" "SELECT name || ':' || result FROM unit_stages ORDER BY idx; SELECT stage || '|' || target || '|' || verified || '|' || (host_crc32 = device_crc32) FROM unit_images ORDER BY id")
want="low:pass
high:pass
verify:fail
low|alt0:0x08000000|1|1
high|alt0:0x08004000|1|1
verify|alt0:0x08000000|0|0
verify|alt0:0x08004000|1|1"
[ "$rows" = "$want" ] && ok "dfuse_disturb_rows_per_stage_pass_verify_row_fails" ||
	nok "dfuse_disturb_rows_per_stage_pass_verify_row_fails" "got: $(echo $rows)" "want: $(echo $want)"
state=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boards"][0]["state"])' "$tmp/disturb/summary.json" 2>&1)
last=$(od -An -tx1 -j 16383 -N1 "$tmp/disturb/b1.flash.bin" 2>&1 | tr -d ' ')
[ "$state" != "left@0x08000000" ] && [ "$last" = fe ] && ok "dfuse_disturbed_board_is_not_sent_away" ||
	nok "dfuse_disturbed_board_is_not_sent_away" "state=$state byte 0x3fff=$last"

# The same recipe on a board without the fault passes, the read-back running
# before the leave (the job's log: rows are keyed by idx, verify's is past
# the recipe's), its rows verified.
run undisturbed neighbours ""
order=$(sed -n "s/.*Stage [0-9]* '\([^']*\)' started.*/\1/p" "$tmp/undisturbed.log" | tr '\n' ' ' | sed 's/ $//')
vrows=$(q "$tmp/undisturbed.db" "SELECT count(*) FROM unit_images WHERE stage = 'verify' AND verified AND host_crc32 = device_crc32")
if [ "$rc" -eq 0 ] && [ "$order" = "low high verify dfuse.leave" ] && [ "$vrows" = 2 ]; then
	ok "dfuse_verify_runs_before_the_leave_and_passes"
else
	nok "dfuse_verify_runs_before_the_leave_and_passes" "rc=$rc order=$order verified rows=$vrows" "$(tail -3 "$tmp/undisturbed.log")"
fi

# "high" read its bytes back after the job's last write: the pass does not
# read them a third time (its row carries the CRC the match proved); "low"
# was written before "high" (which could disturb it) and is read again.
note=$(q "$tmp/undisturbed.db" "SELECT error FROM unit_stages WHERE name = 'verify'")
high_crc=$(python3 -c 'import zlib,sys; print(zlib.crc32(open(sys.argv[1],"rb").read()))' "$tmp/r/images/high.bin")
hrow=$(q "$tmp/undisturbed.db" "SELECT verified || '|' || host_crc32 || '|' || device_crc32 FROM unit_images WHERE stage = 'verify' AND target = 'alt0:0x08004000'")
if [ "$rc" -eq 0 ] && [ "$note" = "1 range(s) read back by their own stage after the last write; 1 range(s) read again" ] &&
	[ "$hrow" = "1|$high_crc|$high_crc" ]; then
	ok "dfuse_verify_does_not_reread_the_last_stage_read_back"
else
	nok "dfuse_verify_does_not_reread_the_last_stage_read_back" "note=$note" "high row=$hrow want 1|$high_crc|$high_crc"
fi

# "destroys_earlier": the later stage's mass erase wipes "old" on purpose, so
# the final contents are "new" alone: the unit passes, and verify checks "new"
# only (old's bytes are no longer expected; the flash has them erased).
head -c 4096 /dev/urandom >"$tmp/r/images/old.bin"
head -c 4096 /dev/urandom >"$tmp/r/images/new.bin"
cat >"$tmp/r/destroys.json" <<EOF
{ "name": "destroys", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "old", "address": "0x08000000", "file": "images/old.bin",
      "sha256": "$(sha "$tmp/r/images/old.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "new", "address": "0x08004000", "file": "images/new.bin",
      "sha256": "$(sha "$tmp/r/images/new.bin")", "erase": "mass", "verify": "readback",
      "destroys_earlier": true },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
run destroys destroys ""
python3 - "$tmp/r/images/new.bin" "$tmp/expect-destroys.bin" <<'EOF'
import sys
new, out = open(sys.argv[1], 'rb').read(), sys.argv[2]
img = bytearray(b'\xff' * (1024 * 1024))
img[0x4000:0x4000 + len(new)] = new
open(out, 'wb').write(img)
EOF
rows=$(q "$tmp/destroys.db" "SELECT result FROM units; SELECT stage || '|' || target || '|' || verified FROM unit_images WHERE stage = 'verify' ORDER BY id")
want="pass
verify|alt0:0x08004000|1"
if [ "$rc" -eq 0 ] && cmp -s "$tmp/destroys/b1.flash.bin" "$tmp/expect-destroys.bin" && [ "$rows" = "$want" ]; then
	ok "dfuse_destroys_earlier_expects_the_later_stage_only"
else
	nok "dfuse_destroys_earlier_expects_the_later_stage_only" "rc=$rc" "got: $(echo $rows)" "want: $(echo $want)" "$(tail -3 "$tmp/destroys.log")"
fi

# --- 0xFF pads at both ends (issue 12): an address off the 8-byte unit
# (L476 programs double-words: a block off one is errPROG) starts at the unit
# below with 0xFF; a .dfu whose second element (file order) ends in the unit
# where the first starts must not pad over the first (errVERIFY on both parts).
head -c 1001 /dev/urandom >"$tmp/r/images/odd.bin"
head -c 300 /dev/urandom >"$tmp/pa.bin"
head -c 258 /dev/urandom >"$tmp/pb.bin"
python3 "$top/tests/fixtures/dfuse/mkdfu.py" "$tmp/r/images/pads.dfu" \
	0:0x08001004:"$tmp/pa.bin" 0:0x08000f00:"$tmp/pb.bin"
cat >"$tmp/r/pads.json" <<EOF
{ "name": "pads", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "odd", "address": "0x08000804", "file": "images/odd.bin",
      "sha256": "$(sha "$tmp/r/images/odd.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "fw", "file": "images/pads.dfu",
      "sha256": "$(sha "$tmp/r/images/pads.dfu")" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
# Pages 0x800-0x17ff erased, then the three images; the rest keeps the board's fill.
pads_expect() { # FLASH_DUMP -> "ok" or the first addresses that differ
	python3 - "$tmp/r/images/odd.bin" "$tmp/pa.bin" "$tmp/pb.bin" "$1" <<'EOF'
import sys
odd, pa, pb = (open(f, 'rb').read() for f in sys.argv[1:4])
flash = open(sys.argv[4], 'rb').read()
want = bytearray(b'\xff' * 0x1800)
want[0x804:0x804 + len(odd)] = odd
want[0xf00:0xf00 + len(pb)] = pb
want[0x1004:0x1004 + len(pa)] = pa
got = flash[0x800:0x1800]
bad = [hex(0x800 + i) for i in range(len(got)) if got[i] != want[0x800 + i]][:4]
print(" ".join(bad) or "ok")
EOF
}
# The L476's 2 KiB pages, as jobs/recipes/stm32-l476.json says.
sed 's|"name": "pads",|"name": "pads", "dfuse_layout": "@Internal Flash  /0x08000000/0512*0002Kg",|' \
	"$tmp/r/pads.json" >"$tmp/r/l4pads.json"
cat >"$tmp/l4pads.json" <<EOF
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "stm32l476-dfuse", "port": "1-1.4", "serial": "L4PAD01", "fill": "random:7" } ] }
EOF
timeout 60 "$sim" --scenario "$tmp/l4pads.json" --dump-dir "$tmp/l4pads" -- \
	"$tool" --db "$tmp/l4pads.db" --recipe "$tmp/r/l4pads.json" --port 1-1.4 \
	--deadline-pct 100 >"$tmp/l4pads.log" 2>&1
rc=$?
res=$(pads_expect "$tmp/l4pads/b1.flash.bin")
row=$(q "$tmp/l4pads.db" "SELECT result FROM units; SELECT stage || '|' || (host_crc32 = device_crc32) FROM unit_images WHERE stage = 'fw'")
if [ "$rc" -eq 0 ] && [ "$res" = ok ] && [ "$row" = "pass
fw|1" ]; then
	ok "dfuse_l476_unaligned_address_and_dfu_element_sharing_a_unit_byte_exact"
else
	nok "dfuse_l476_unaligned_address_and_dfu_element_sharing_a_unit_byte_exact" \
		"rc=$rc rows=$(echo $row) differs: $res" "$(tail -3 "$tmp/l4pads.log")"
fi
run f4pads pads ""
res=$(pads_expect "$tmp/f4pads/b1.flash.bin")
row=$(q "$tmp/f4pads.db" "SELECT result FROM units; SELECT stage || '|' || (host_crc32 = device_crc32) FROM unit_images WHERE stage = 'fw'")
if [ "$rc" -eq 0 ] && [ "$res" = ok ] && [ "$row" = "pass
fw|1" ]; then
	ok "dfuse_f405_dfu_element_ending_in_an_earlier_elements_unit_byte_exact"
else
	nok "dfuse_f405_dfu_element_ending_in_an_earlier_elements_unit_byte_exact" \
		"rc=$rc rows=$(echo $row) differs: $res" "$(tail -3 "$tmp/f4pads.log")"
fi

# No unit may be left 'running' by any of the runs above.
left=0
for db in "$tmp"/*.db; do
	n=$(q "$db" "SELECT count(*) FROM units WHERE result = 'running'")
	[ "$n" = 0 ] || { left=$((left + 1)); which="${which:-} ${db##*/}: $n;"; }
done
[ "$left" = 0 ] && ok "dfuse_no_unit_left_running" || nok "dfuse_no_unit_left_running" "$left databases:${which:-}"
