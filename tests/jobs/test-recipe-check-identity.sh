#!/usr/bin/env bash
# `flashctl recipe check` on the "identity" object (issue 18): what depends on
# the recipe alone is refused naming the file and the JSON path: a template
# that does not fit its size, a {key} naming no pool of the recipe, a stage
# naming no identity image, a dfuse.download into STM32 OTP without
# "irreversible": true.  The worked examples pass.
. "$(dirname "$0")/../lib/testlib.sh"
flashctl=$build/flashctl
recipes=$top/jobs/recipes

check_cmd() { # NAME CMD...: testlib's check on CMD's status
	local name=$1
	shift
	"$@"
	check "$name" $?
}

for ex in stm32-l476-identity imx6q-identity ingenic-t31-identity; do
	out=$("$flashctl" recipe check "$recipes/$ex.json" 2>&1)
	rc=$?
	check_cmd "example_${ex}_passes" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || echo "#   $out"
done

# recipe NAME IMAGE_JSON STAGE_JSON: a DfuSe recipe with one identity image.
recipe() {
	cat >"$tmp/$1.json" <<EOF
{ "name": "$1", "match": { "vid": "0483", "pid": "df11" },
  "identity": { "pools": ["serial", "mac"], "images": { "rec": $2 } },
  "stages": [ $3 ] }
EOF
}
stage='{ "op": "dfuse.download", "address": "0x08000000", "identity": "rec" }'
expect() { # NAME FILE MESSAGE
	local out
	out=$("$flashctl" recipe check "$tmp/$2.json" 2>&1)
	check_cmd "$1" test $? -eq 1
	check_cmd "$1_message" grep -qF "$tmp/$2.json: $3" <<<"$out"
	grep -qF "$tmp/$2.json: $3" <<<"$out" || echo "#   $out"
}

recipe fits '{ "kind": "raw", "size": 22, "fields": [ { "kind": "ascii", "offset": 0, "size": 16, "text": "{serial}" }, { "kind": "mac", "offset": 16, "text": "{mac1}" } ] }' "$stage"
check_cmd "raw_that_fits_passes" "$flashctl" recipe check "$tmp/fits.json"

recipe raw-big '{ "kind": "raw", "size": 20, "fields": [ { "kind": "ascii", "offset": 0, "size": 16, "text": "{serial}" }, { "kind": "mac", "offset": 16, "text": "{mac1}" } ] }' "$stage"
expect "raw_field_past_the_end" raw-big "identity.images.rec: does not fit its 20 bytes"

recipe env-big '{ "kind": "uboot-env", "size": 16, "vars": { "bootcmd": "run distro_bootcmd; run other", "serial#": "{serial}" } }' "$stage"
expect "uboot_env_too_small" env-big "identity.images.rec: does not fit its 16 bytes"

recipe badkey '{ "kind": "raw", "size": 32, "fields": [ { "kind": "ascii", "offset": 0, "size": 16, "text": "{serail}" } ] }' "$stage"
expect "unknown_pool_key" badkey "identity.images.rec.fields[0].text: {serail} names no pool of \"identity\".\"pools\""

recipe envkey '{ "kind": "uboot-env", "size": 4096, "vars": { "ethaddr": "{macs0}" } }' "$stage"
expect "unknown_pool_key_env" envkey "identity.images.rec.vars.ethaddr: {macs0} names no pool"

recipe noimage '{ "kind": "raw", "size": 8, "fields": [ { "kind": "mac", "offset": 0, "text": "{mac}" } ] }' \
	'{ "op": "dfuse.download", "address": "0x08000000", "identity": "nope" }'
expect "stage_names_no_image" noimage "stages[0].identity: 'nope' is not an image of \"identity\".\"images\""

recipe otp '{ "kind": "raw", "size": 16, "fields": [ { "kind": "ascii", "offset": 0, "size": 16, "text": "{serial}" } ] }' \
	'{ "op": "dfuse.download", "alt": 2, "address": "0x1fff7000", "identity": "rec", "erase": "none" }'
expect "otp_needs_irreversible" otp "stages[0]: writes 0x1fff7000-0x1fff700f in STM32L4 OTP"
recipe otp-ok '{ "kind": "raw", "size": 16, "fields": [ { "kind": "ascii", "offset": 0, "size": 16, "text": "{serial}" } ] }' \
	'{ "op": "dfuse.download", "alt": 2, "address": "0x1fff7000", "identity": "rec", "erase": "none", "irreversible": true }'
check_cmd "otp_with_irreversible_passes" "$flashctl" recipe check "$tmp/otp-ok.json"
recipe irr '{ "kind": "raw", "size": 16, "fields": [ { "kind": "ascii", "offset": 0, "size": 16, "text": "{serial}" } ] }' \
	'{ "op": "dfuse.download", "address": "0x08000000", "identity": "rec", "irreversible": true }'
expect "irreversible_only_on_otp" irr "stages[0].irreversible: this dfuse.download reaches no OTP area"

cat >"$tmp/ingenic-big.json" <<'EOF'
{ "name": "ingenic-big", "match": { "vid": "a108", "pid": "c309" },
  "identity": { "pools": ["serial"], "images": { "env": { "kind": "uboot-env", "size": 131072, "vars": { "serial#": "{serial}" } } } },
  "stages": [
    { "op": "ingenic.boot", "soc": "t31", "spl": { "file": "spl.bin", "sha256": "SPL" }, "burner": { "file": "spl.bin", "sha256": "SPL" } },
    { "op": "ingenic.config", "flash": "sfc_nor", "erase": "partition",
      "partitions": [ { "name": "env", "offset": "0x40000", "size": "0x10000" } ] },
    { "op": "ingenic.write", "partition": "env", "identity": "env" } ] }
EOF
head -c 4096 /dev/urandom >"$tmp/spl.bin"
sed -i "s/SPL/$(sha256sum "$tmp/spl.bin" | cut -d' ' -f1)/g" "$tmp/ingenic-big.json"
out=$("$flashctl" recipe check "$tmp/ingenic-big.json" 2>&1)
check_cmd "template_larger_than_its_partition" grep -qF "$tmp/ingenic-big.json: stages[2]" <<<"$out"
grep -qF "does not fit partition 'env'" <<<"$out" || echo "#   $out"

recipe twofile '{ "kind": "raw", "size": 8, "fields": [ { "kind": "mac", "offset": 0, "text": "{mac}" } ] }' \
	'{ "op": "dfuse.download", "address": "0x08000000", "identity": "rec", "file": "x.bin" }'
expect "identity_and_file" twofile "stages[0].identity: an identity image takes no \"file\" or \"sha256\""

recipe leave '{ "kind": "raw", "size": 8, "fields": [ { "kind": "mac", "offset": 0, "text": "{mac}" } ] }' \
	'{ "op": "dfuse.leave", "address": "0x08000000", "identity": "rec" }'
expect "identity_on_a_stage_without_image" leave "stages[0].identity: unknown key"
