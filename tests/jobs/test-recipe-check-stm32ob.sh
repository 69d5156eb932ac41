#!/usr/bin/env bash
# "flashctl recipe check" on STM32 option-byte and read-protection stages
# (issue 15 item 2): option bytes of the wrong size, RDP level 2 without
# "irreversible", DfuSe stages after read protection, a read unprotect that
# would erase earlier downloads: each refused naming the file and the JSON
# path; the good forms accepted.
. "$(dirname "$0")/../lib/testlib.sh"
flashctl=$build/flashctl

check() { # NAME COMMAND...
	local name=$1
	shift
	if "$@"; then echo "ok - $name"; else echo "not ok - $name"; echo "#   $out" | head -5; fi
}
mkdir -p "$tmp/images"
printf '\xec\xaa\xff\xff\xff\xff\xff\xff\xff\x0f\xff\xff\xff\xff\xff\xff' >"$tmp/images/ob.bin"
printf '\xec\x55\xff\xff\xff\xff\xff\xff\xff\x0f\xff\xff\xff\xff\xff\xff' >"$tmp/images/ob-rdp1.bin"
printf '\xec\xcc\xff\xff\xff\xff\xff\xff\xff\x0f\xff\xff\xff\xff\xff\xff' >"$tmp/images/ob-rdp2.bin"
printf '\xec\xaa\xff\xff\xff\xff\xff\xff\xff\x0f\xff\xff' >"$tmp/images/ob-short.bin"
head -c 4096 /dev/urandom >"$tmp/images/app.bin"
ob() { echo "{ \"op\": \"dfuse.option_bytes\", \"file\": \"images/$1\", \"sha256\": \"$(sha "$tmp/images/$1")\" ${2:-} }"; }
app='{ "op": "dfuse.download", "name": "app", "address": "0x08000000", "file": "images/app.bin", "sha256": "'$(sha "$tmp/images/app.bin")'" }'
recipe() { # FILE STAGES...
	local f=$1 stages
	shift
	stages=$(IFS=,; echo "$*")
	echo "{ \"name\": \"$(basename "$f" .json)\", \"match\": { \"vid\": \"0483\", \"pid\": \"df11\" }, \"stages\": [ $stages ] }" >"$tmp/$f"
}
rc_msg() { # FILE -> out, rc
	out=$("$flashctl" recipe check "$tmp/$1" 2>&1)
	rc=$?
}

recipe short.json "$(ob ob-short.bin)"
rc_msg short.json
check "option_bytes_wrong_size_names_file_and_path" grep -qxF \
	"$tmp/short.json: stages[0].file: 'images/ob-short.bin' is 12 bytes; the STM32F2/F4 (RM0090) option bytes at 0x1fffc000 are 16 bytes" <<<"$out"

recipe badaddr.json "$(ob ob.bin ', "address": "0x08000000"')"
rc_msg badaddr.json
check "option_bytes_unknown_area_names_path" grep -qF "$tmp/badaddr.json: stages[0].address: 0x08000000 is no known STM32 option-byte area" <<<"$out"

recipe rdp2.json "$(ob ob-rdp2.bin)"
rc_msg rdp2.json
check "option_bytes_rdp2_message" grep -qxF \
	"$tmp/rdp2.json: stages[0]: 'images/ob-rdp2.bin' (RDP byte 0xCC) sets read protection level 2, which is permanent (the system bootloader and debug access are disabled for good); acknowledge with \"irreversible\": true" <<<"$out"

recipe rp2.json '{ "op": "dfuse.read_protect", "level": 2 }'
rc_msg rp2.json
check "read_protect_level2_without_irreversible_refused" grep -qxF \
	"$tmp/rp2.json: stages[0]: dfuse.read_protect sets read protection level 2, which is permanent (the system bootloader and debug access are disabled for good); acknowledge with \"irreversible\": true" <<<"$out"

recipe rp2ok.json '{ "op": "dfuse.read_protect", "level": 2, "irreversible": true }'
rc_msg rp2ok.json
check "read_protect_level2_with_irreversible_accepted" test "$rc" -eq 0

recipe rp1irr.json '{ "op": "dfuse.read_protect", "level": 1, "irreversible": true }'
rc_msg rp1irr.json
check "irreversible_on_level1_refused" grep -qxF \
	"$tmp/rp1irr.json: stages[0].irreversible: dfuse.read_protect sets RDP level 1, which can be undone: \"irreversible\" is only for level 2" <<<"$out"

recipe after2.json '{ "op": "dfuse.read_protect", "level": 2, "irreversible": true }' '{ "op": "dfuse.leave", "address": 0 }'
rc_msg after2.json
check "nothing_after_level2" grep -qxF \
	"$tmp/after2.json: stages[1]: stages[0] ('dfuse.read_protect') set read protection level 2: the board's system bootloader never answers again, no stage can follow" <<<"$out"

recipe after1.json "$(ob ob-rdp1.bin)" "$app"
rc_msg after1.json
check "download_after_rdp1_message" grep -qxF \
	"$tmp/after1.json: stages[1]: the board is read-protected since stages[0] ('dfuse.option_bytes', RDP level 1): its ROM refuses every DfuSe read and write (AN3156); set the protection last, or remove it first with dfuse.read_unprotect (which mass-erases the flash)" <<<"$out"

recipe unprot.json '{ "op": "dfuse.read_protect", "level": 1 }' '{ "op": "dfuse.read_unprotect" }' "$app"
rc_msg unprot.json
check "download_after_unprotect_accepted" test "$rc" -eq 0

recipe wipes.json "$app" '{ "op": "dfuse.read_unprotect" }'
rc_msg wipes.json
check "unprotect_after_download_needs_destroys_earlier" grep -qxF \
	"$tmp/wipes.json: stages[1]: dfuse.read_unprotect mass-erases the flash and so destroys what stages[0] ('app') wrote; say \"destroys_earlier\": true if that is intended" <<<"$out"
recipe wipesok.json "$app" '{ "op": "dfuse.read_unprotect", "destroys_earlier": true }'
rc_msg wipesok.json
check "unprotect_with_destroys_earlier_accepted" test "$rc" -eq 0

recipe good.json "$app" "$(ob ob.bin)" '{ "op": "dfuse.read_protect", "level": 1 }'
rc_msg good.json
check "download_option_bytes_then_protect_accepted" test "$rc" -eq 0
