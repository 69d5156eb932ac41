#!/usr/bin/env bash
# Tests "flashctl recipe check" (daemon/flashctl-recipe.c): exit codes 0/1/2,
# the "FILE: ok (...)" line for good recipes and the loader's messages for bad
# ones.  Skips (one "ok" line) while flashctl is not built yet.
. "$(dirname "$0")/../lib/testlib.sh"
flashctl=$build/flashctl

if [ ! -x "$flashctl" ]; then
	echo "ok - recipe-check skipped: flashctl not built"
	exit 0
fi

n=0
check() {	# check NAME COMMAND...: prints ok/not ok from the command's status
	local name=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok - $name"; else echo "not ok - $name"; fi
}

recipes=$top/jobs/recipes
out=$("$flashctl" recipe check "$recipes/stm32-f405.json" "$recipes/imx6q-fastboot.json" \
	"$recipes/ingenic-t31.json" 2>&1)
rc=$?
check "examples_exit_0" test "$rc" -eq 0
check "examples_ok_lines" grep -qxF "$recipes/stm32-f405.json: ok (recipe 'stm32-f405', 3 stages)" <<<"$out"
check "examples_ok_lines_t31" grep -qxF "$recipes/ingenic-t31.json: ok (recipe 'ingenic-t31', 7 stages)" <<<"$out"

cat >"$tmp/bad.json" <<'JSON'
{ "name": "bad", "match": { "vid": "04g3", "pid": "df11", "ports": ["1-[1"] },
  "stages": [ { "op": "dfuse.leave", "adress": "0x08000000" } ] }
JSON
out=$("$flashctl" recipe check "$recipes/stm32-f405.json" "$tmp/bad.json" 2>&1)
rc=$?
check "bad_exit_1" test "$rc" -eq 1
for msg in "match.vid: not 4 hex digits: '04g3'" "match.ports[0]: bad port glob '1-[1'" \
	"stages[0].adress: unknown key" "stages[0].address: missing"; do
	check "bad_message: $msg" grep -qxF "$tmp/bad.json: $msg" <<<"$out"
done
check "bad_keeps_good_line" grep -qF "stm32-f405.json: ok" <<<"$out"

"$flashctl" recipe check "$tmp/missing.json" >/dev/null 2>&1
check "missing_file_exit_1" test $? -eq 1
"$flashctl" recipe check >/dev/null 2>&1
check "no_files_exit_2" test $? -eq 2
"$flashctl" recipe frobnicate x >/dev/null 2>&1
check "bad_verb_exit_2" test $? -eq 2

# Issue 17: two recipes of one name (the daemon would refuse the second) and
# a directory operand checked as the daemon loads it.
out=$("$flashctl" recipe check "$recipes/stm32-f405.json" "$recipes/stm32-f405.json" 2>&1)
rc=$?
check "duplicate_name_exit_1" test "$rc" -eq 1
check "duplicate_name_message" grep -qxF "$recipes/stm32-f405.json: name: 'stm32-f405' is already used by $recipes/stm32-f405.json" <<<"$out"
out=$("$flashctl" recipe check "$recipes" 2>&1)
rc=$?
check "directory_exit_0" test "$rc" -eq 0
check "directory_ok_line" grep -qxF "$recipes/stm32-f405.json: ok (recipe 'stm32-f405', 3 stages)" <<<"$out"
cp -r "$recipes" "$tmp/dupdir2"
cp "$tmp/dupdir2/stm32-f405.json" "$tmp/dupdir2/zz-copy.json"
out=$("$flashctl" recipe check "$tmp/dupdir2" 2>&1)
rc=$?
check "directory_duplicate_exit_1" test "$rc" -eq 1
check "directory_duplicate_message" grep -qxF "$tmp/dupdir2/zz-copy.json: name: 'stm32-f405' is already used by $tmp/dupdir2/stm32-f405.json" <<<"$out"

# Issue 13: a FIFO as recipe, or as a recipe's image, is refused at once (old
# code blocked in open(2)); timeout turns a hang into a failure.
mkfifo "$tmp/fifo.json" "$tmp/fifo.bin"
out=$(timeout 10 "$flashctl" recipe check "$tmp/fifo.json" 2>&1)
rc=$?
check "fifo_recipe_exit_1" test "$rc" -eq 1
check "fifo_recipe_message" grep -qxF "$tmp/fifo.json: '$tmp/fifo.json' is not a regular file" <<<"$out"
cat >"$tmp/fifo-image.json" <<'JSON'
{ "name": "fifo-image", "match": { "vid": "0483", "pid": "df11" },
  "stages": [ { "op": "dfuse.download", "alt": 0, "address": "0x08000000", "file": "fifo.bin",
    "sha256": "2fc8364e5325967acdfc88c2d9055f5fa7aa3a11420e822bb5e58f473b2bf90a" } ] }
JSON
out=$(timeout 10 "$flashctl" recipe check "$tmp/fifo-image.json" 2>&1)
rc=$?
check "fifo_image_exit_1" test "$rc" -eq 1
check "fifo_image_message" grep -qxF "$tmp/fifo-image.json: stages[0].file: 'fifo.bin' is not a regular file" <<<"$out"
# Issue 12: what the run refuses on every unit fails "recipe check", naming file and path.
head -c 4096 /dev/zero >"$tmp/boot.img"
cat >"$tmp/crc.json" <<JSON
{ "name": "crc", "match": { "vid": "0525", "pid": "a4a5" },
  "stages": [ { "op": "fastboot.flash", "partition": "boot", "file": "boot.img",
    "sha256": "$(sha256sum "$tmp/boot.img" | cut -d' ' -f1)", "verify": "crc32" } ] }
JSON
out=$("$flashctl" recipe check "$tmp/crc.json" 2>&1)
rc=$?
check "crc32_on_partition_exit_1" test "$rc" -eq 1
check "crc32_on_partition_message" grep -qxF "$tmp/crc.json: stages[0].verify: crc32 on partition 'boot' is not supported: device-side CRC needs a raw \"offset\" target" <<<"$out"

# Issue 12, memory plan for Ingenic and fastboot: a stage whose erase or write
# destroys an earlier stage's bytes is refused naming file, JSON path and both
# stages, unless it says "destroys_earlier": true.
sha() { sha256sum "$1" | cut -d' ' -f1; }
img() { echo "\"file\": \"$1\", \"sha256\": \"$(sha "$tmp/$1")\""; }
head -c 8192 /dev/urandom >"$tmp/spl.bin"
head -c 8192 /dev/urandom >"$tmp/burner.bin"
head -c $((0x21000)) /dev/urandom >"$tmp/uboot.bin"
head -c 4096 /dev/urandom >"$tmp/small.bin"
ingenic_recipe() {	# ingenic_recipe NAME TOP_LEVEL_EXTRA STAGES_AFTER_BOOT
	cat >"$tmp/$1.json" <<JSON
{ "name": "$1", "match": { "vid": "a108", "pid": "c309" } $2,
  "stages": [ { "op": "ingenic.boot", "soc": "t31", "spl": { $(img spl.bin) },
      "burner": { $(img burner.bin) } }, $3 ] }
JSON
}
fastboot_recipe() {	# fastboot_recipe NAME STAGES
	cat >"$tmp/$1.json" <<JSON
{ "name": "$1", "match": { "vid": "0525", "pid": "a4a5" }, "stages": [ $2 ] }
JSON
}
refused() {	# refused NAME MESSAGE: recipe check fails with exactly "FILE: MESSAGE"
	local out rc
	out=$("$flashctl" recipe check "$tmp/$1.json" 2>&1)
	rc=$?
	check "plan_$1_exit_1" test "$rc" -eq 1
	check "plan_$1_message" grep -qxF "$tmp/$1.json: $2" <<<"$out"
}
accepted() {	# accepted NAME
	local out
	out=$("$flashctl" recipe check "$tmp/$1.json" 2>&1)
	check "plan_$1_accepted" grep -qF "$tmp/$1.json: ok" <<<"$out"
}
unaligned='{ "op": "ingenic.config", "erase": "partition", "partitions": [
    { "name": "uboot", "offset": "0x0", "size": "0x28000" },
    { "name": "kernel", "offset": "0x28000", "size": "0x2d8000" } ] }'
# uboot ends inside the 64 KiB block at 0x20000: erasing kernel erases that block.
ingenic_recipe ig-neighbour "" "$unaligned,
  { \"op\": \"ingenic.write\", \"partition\": \"uboot\", $(img uboot.bin) },
  { \"op\": \"ingenic.write\", \"partition\": \"kernel\", $(img small.bin) }"
refused ig-neighbour "stages[3]: erasing 0x00020000-0x002fffff (partition 'kernel' in 64 KiB erase blocks) destroys bytes written by stages[2]; add \"destroys_earlier\": true if intended"
ingenic_recipe ig-neighbour-ok "" "$unaligned,
  { \"op\": \"ingenic.write\", \"partition\": \"uboot\", $(img uboot.bin) },
  { \"op\": \"ingenic.write\", \"partition\": \"kernel\", $(img small.bin), \"destroys_earlier\": true }"
accepted ig-neighbour-ok
# erase "none": each write erases its own blocks, here the block of the first write.
ingenic_recipe ig-range "" '{ "op": "ingenic.config", "erase": "none", "partitions": [
    { "name": "all", "offset": "0x0", "size": "0x1000000" } ] },'"
  { \"op\": \"ingenic.write\", \"offset\": \"0x40000\", $(img small.bin) },
  { \"op\": \"ingenic.write\", \"offset\": \"0x48000\", $(img small.bin) }"
refused ig-range "stages[3]: erasing 0x00040000-0x0004ffff (the written range in 64 KiB erase blocks) destroys bytes written by stages[2]; add \"destroys_earlier\": true if intended"
# A second config starts afresh: the next write into kernel erases it again.
ingenic_recipe ig-twice "" "$unaligned,
  { \"op\": \"ingenic.write\", \"partition\": \"kernel\", $(img small.bin) },
  $unaligned,
  { \"op\": \"ingenic.write\", \"partition\": \"kernel\", \"offset\": \"0x18000\", $(img small.bin) }"
refused ig-twice "stages[4]: erasing 0x00020000-0x002fffff (partition 'kernel' in 64 KiB erase blocks) destroys bytes written by stages[2]; add \"destroys_earlier\": true if intended"
# A chip erase in a later burner session wipes the first session's writes.
ingenic_recipe ig-chip "" "$unaligned,
  { \"op\": \"ingenic.write\", \"partition\": \"kernel\", $(img small.bin) },
  { \"op\": \"ingenic.reboot\" }, { \"op\": \"await\", \"vid\": \"a108\", \"pid\": \"c309\" },
  { \"op\": \"ingenic.boot\", \"soc\": \"t31\", \"spl\": { $(img spl.bin) }, \"burner\": { $(img burner.bin) } },
  { \"op\": \"ingenic.config\", \"erase\": \"chip\", \"partitions\": [ { \"name\": \"all\", \"offset\": \"0x0\", \"size\": \"0x400000\" } ] }"
refused ig-chip "stages[6]: erasing the whole chip (erase \"chip\" at INIT) destroys bytes written by stages[2]; add \"destroys_earlier\": true if intended"
# Partitions must fit the smallest chip the JEDEC list accepts (ef4017: 8 MiB).
ingenic_recipe ig-jedec ', "jedec": [ "ef4018", "ef4017" ]' '{ "op": "ingenic.check_jedec" },
  { "op": "ingenic.config", "partitions": [ { "name": "uboot", "offset": "0x0", "size": "0x40000" },
      { "name": "rootfs", "offset": "0x40000", "size": "0xfc0000" } ] }'
refused ig-jedec "stages[2].partitions[1]: partition 'rootfs' ends at 0x01000000, beyond the 8 MiB flash of JEDEC ef4017 (jedec[1])"

flash() { echo "{ \"op\": \"fastboot.flash\", $1, $(img small.bin) ${2:-} }"; }
fastboot_recipe fb-twice "$(flash '"partition": "boot"'), $(flash '"partition": "boot"')"
refused fb-twice "stages[1]: flashing partition 'boot' again destroys bytes written by stages[0]; add \"destroys_earlier\": true if intended"
fastboot_recipe fb-erase "$(flash '"partition": "boot"'), { \"op\": \"fastboot.erase\", \"partition\": \"boot\" }"
refused fb-erase "stages[1]: erasing partition 'boot' destroys bytes written by stages[0]; add \"destroys_earlier\": true if intended"
fastboot_recipe fb-raw "$(flash '"offset": "0x400"'), $(flash '"offset": "0x800"')"
refused fb-raw "stages[1]: writing 0x00000800-0x000017ff (over 0x00000400-0x000013ff) destroys bytes written by stages[0]; add \"destroys_earlier\": true if intended"
# A partition table (an MBR: its image must be one, recipe check reads it).
{ head -c 510 /dev/zero; printf '\x55\xaa'; } >"$tmp/mbr.bin"
mbr() { echo "{ \"op\": \"fastboot.flash\", \"partition\": \"mbr\", $(img mbr.bin) ${1:-} }"; }
fastboot_recipe fb-gpt "$(flash '"partition": "boot"'), $(mbr)"
refused fb-gpt "stages[1]: re-partitioning ('mbr', which may move or resize partition 'boot') destroys bytes written by stages[0]; add \"destroys_earlier\": true if intended"
fastboot_recipe fb-intended "$(flash '"partition": "boot"'), $(flash '"partition": "boot"' ', "destroys_earlier": true'),
  { \"op\": \"fastboot.erase\", \"partition\": \"boot\", \"destroys_earlier\": true },
  $(flash '"offset": "0x400"'), $(flash '"offset": "0x800"' ', "destroys_earlier": true'),
  $(mbr ', "destroys_earlier": true')"
accepted fb-intended
# Issue 12 (found by test-recipe-property.sh): a fastboot.flash over its
# max_download whose sparse pieces cannot carry one 4096-byte block, and a
# DfuSe download whose last block flashd pads with 0xFF to 8 bytes over bytes
# an earlier stage wrote, fail on every unit: refused, naming the stage.
head -c 5000 /dev/zero >"$tmp/big.img"
cat >"$tmp/pieces.json" <<JSON
{ "name": "pieces", "match": { "vid": "0525", "pid": "a4a5" },
  "stages": [ { "op": "fastboot.flash", "offset": "0x8000", "file": "big.img", "max_download": 4096,
    "sha256": "$(sha256sum "$tmp/big.img" | cut -d' ' -f1)" } ] }
JSON
out=$("$flashctl" recipe check "$tmp/pieces.json" 2>&1)
rc=$?
check "sparse_pieces_too_small_exit_1" test "$rc" -eq 1
check "sparse_pieces_too_small_message" grep -qF "$tmp/pieces.json: stages[0].max_download: 4096 bytes cannot carry a sparse piece of 'big.img'" <<<"$out"
head -c 64 /dev/urandom >"$tmp/hi.bin"
head -c 11 /dev/urandom >"$tmp/lo.bin"
cat >"$tmp/pad.json" <<JSON
{ "name": "pad", "match": { "vid": "0483", "pid": "df11" },
  "stages": [ { "op": "dfuse.download", "address": "0x0800000c", "file": "hi.bin",
      "sha256": "$(sha256sum "$tmp/hi.bin" | cut -d' ' -f1)" },
    { "op": "dfuse.download", "address": "0x08000000", "file": "lo.bin",
      "sha256": "$(sha256sum "$tmp/lo.bin" | cut -d' ' -f1)" } ] }
JSON
out=$("$flashctl" recipe check "$tmp/pad.json" 2>&1)
rc=$?
check "dfuse_pad_over_earlier_exit_1" test "$rc" -eq 1
check "dfuse_pad_over_earlier_message" grep -qF "$tmp/pad.json: stages[1].address: ends at 0x0800000b, and flashd pads the last block with 0xFF to 0x08000010" <<<"$out"
# Issue 12: the same at the front: a download off the 8-byte unit starts at
# the unit below with 0xFF; over bytes an earlier stage wrote, refused.
head -c 6 /dev/urandom >"$tmp/six.bin"
cat >"$tmp/frontpad.json" <<JSON
{ "name": "frontpad", "match": { "vid": "0483", "pid": "df11" },
  "stages": [ { "op": "dfuse.download", "address": "0x08000000", "file": "six.bin",
      "sha256": "$(sha256sum "$tmp/six.bin" | cut -d' ' -f1)" },
    { "op": "dfuse.download", "address": "0x08000006", "file": "hi.bin",
      "sha256": "$(sha256sum "$tmp/hi.bin" | cut -d' ' -f1)" } ] }
JSON
out=$("$flashctl" recipe check "$tmp/frontpad.json" 2>&1)
rc=$?
check "dfuse_front_pad_over_earlier_exit_1" test "$rc" -eq 1
check "dfuse_front_pad_over_earlier_message" grep -qF "$tmp/frontpad.json: stages[1].address: starts at 0x08000006, and flashd starts the first block at 0x08000000 with 0xFF, over bytes stages[0] wrote" <<<"$out"
# Issue 12: with an explicit dfuse_layout, alt 0 is that memory; a download
# outside it fails on every unit (found by test-recipe-property.sh).
cat >"$tmp/layout.json" <<JSON
{ "name": "layout", "match": { "vid": "0483", "pid": "df11" },
  "dfuse_layout": "@Internal Flash  /0x08000000/0128*0002Kg",
  "stages": [ { "op": "dfuse.download", "address": "0x0803fff0", "file": "hi.bin",
      "sha256": "$(sha256sum "$tmp/hi.bin" | cut -d' ' -f1)" } ] }
JSON
out=$("$flashctl" recipe check "$tmp/layout.json" 2>&1)
rc=$?
check "dfuse_outside_layout_exit_1" test "$rc" -eq 1
check "dfuse_outside_layout_message" grep -qF "$tmp/layout.json: stages[0].address: address 0x08040000 is outside \"Internal Flash\" in dfuse_layout" <<<"$out"
# Issue 15 bad input: a "gpt" image that is not a GPT, and a fastboot.gpt
# partition list that does not fit its disk, refused naming file and path.
fastboot_recipe fb-notgpt "$(flash '"partition": "gpt"')"
refused fb-notgpt "stages[0].file: 'small.bin' is not a valid GPT image: no \"EFI PART\" signature at LBA 1"
fastboot_recipe fb-gptlist '{ "op": "fastboot.getvar", "var": "serialno" },
  { "op": "fastboot.gpt", "disk_size": "0x800000", "partitions": [
    { "name": "boot", "size": "0x100000" }, { "name": "rootfs", "size": "0x800000" } ] }'
refused fb-gptlist "stages[1].partitions[1]: partition 'rootfs' ends at 0xa00000, past the end 0x7fbe00 of the usable LBAs of a 0x800000-byte disk"
# Issue 17 item 6: one cause, one message.  An Ingenic partition overlap
# refuses the ingenic.config stage; the writes after it are not told again
# that they need an ingenic.config.
mkdir -p "$tmp/ov"
cp -r "$recipes/images" "$tmp/ov/"
python3 - "$recipes/ingenic-t31.json" "$tmp/ov/t31.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["stages"][2]["partitions"][1]["offset"] = "0x30000"
json.dump(r, open(sys.argv[2], "w"), indent=1)
PY
out=$("$flashctl" recipe check "$tmp/ov/t31.json" 2>&1)
rc=$?
check "ingenic_overlap_exit_1" test "$rc" -eq 1
check "ingenic_overlap_message" grep -qxF "$tmp/ov/t31.json: stages[2].partitions[1]: partition 'kernel' overlaps 'uboot'" <<<"$out"
check "ingenic_overlap_one_message" test "$(grep -c . <<<"$out")" -eq 1
exit 0
