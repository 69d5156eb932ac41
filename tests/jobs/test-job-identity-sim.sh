#!/usr/bin/env bash
# Identity from pools (issue 18) written by the job runner to simulated
# boards under flashsim: each unit draws its serial and MAC addresses from
# the station's pools before any USB transfer, the generated image is
# flashed like a file and verified with the rest, and the values end used,
# burned or free as the pool's policy says.  Checked where a user would
# look: the board's dump parsed back, `flashctl pool status|audit`, the
# unit's rows.
. "$(dirname "$0")/../lib/testlib.sh"
tool=$build/tests/tools/job-tool
flashctl=$build/flashctl
dbinit=$build/tests/tools/db-init
recipes=$top/jobs/recipes

# pools DB SERIAL_LAST POLICY: serial SN000001.., two MACs a unit.
pools() {
	"$dbinit" "$1" && "$flashctl" --db "$1" pool create serial --kind counter --format 'SN{seq:6}' --first 1 \
		--last "$2" --policy "$3" >/dev/null &&
		"$flashctl" --db "$1" pool create mac --kind mac --first 02:00:00:00:00:00 \
			--last 02:00:00:00:00:ff --per-unit 2 --policy "$3" >/dev/null
}

# stm32 NAME DB RECIPE [EXTRA_BOARD_KEYS]: one STM32L476 run -> rc, dump $tmp/NAME/b1.flash.bin
stm32() {
	cat >"$tmp/$1.json" <<EOF
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "stm32l476-dfuse", "port": "1-1.4", "serial": "L4-$1" ${4:-} } ] }
EOF
	timeout 60 "$sim" --scenario "$tmp/$1.json" --dump-dir "$tmp/$1" -- \
		"$tool" --db "$2" --recipe "$3" --port 1-1.4 --deadline-pct 10 >"$tmp/$1.log" 2>&1
	rc=$?
}

# The raw record of stm32-l476-identity.json at 0x080ff800: serial, mac0,
# mac1, CRC-32 of the 28 bytes before it.  Prints "serial mac0 mac1 crc-ok".
parse_record() {
	python3 - "$1" <<'EOF'
import sys, zlib, struct
f = open(sys.argv[1], 'rb').read()
r = f[0xff800:0xff800 + 32]
mac = lambda b: ':'.join('%02x' % x for x in b)
crc_ok = struct.unpack('<I', r[28:32])[0] == zlib.crc32(r[:28])
print(r[:16].rstrip(b'\0').decode('latin-1'), mac(r[16:22]), mac(r[22:28]), 'crc-ok' if crc_ok else 'crc-bad')
EOF
}

erased() { python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print("erased" if d == b"\xff"*len(d) else "written")' "$1" 2>&1; }

# --- STM32: the example recipe flashes the unit's own record ------------------
db=$tmp/stm32.db
pools "$db" 100 burn
stm32 s1 "$db" "$recipes/stm32-l476-identity.json"
rec=$(parse_record "$tmp/s1/b1.flash.bin")
check "stm32_record_in_dump_with_valid_crc" $([ "$rc" -eq 0 ] && [ "$rec" = "SN000001 02:00:00:00:00:00 02:00:00:00:00:01 crc-ok" ]; echo $?) \
	"rc=$rc rec=$rec" "$(tail -3 "$tmp/s1.log")"
ids=$(q "$db" "SELECT group_concat(pool || '=' || value || ':' || state || ':' || device_written, ' ') FROM (SELECT * FROM unit_identities ORDER BY id)")
check "stm32_values_used_in_db" $([ "$ids" = "serial=SN000001:used:1 mac=02:00:00:00:00:00:used:1 mac=02:00:00:00:00:01:used:1" ]; echo $?) "$ids"
row=$(q "$db" "SELECT stage, target, file, size, verified FROM unit_images WHERE file LIKE 'identity:%' ORDER BY id")
check "stm32_identity_image_rows_written_and_verified" $([ "$row" = "identity|alt0:0x080ff800|identity:record|32|1
verify|alt0:0x080ff800|identity:record|32|1" ]; echo $?) "$row"
sha=$(python3 -c 'import sys,hashlib; print(hashlib.sha256(open(sys.argv[1],"rb").read()[0xff800:0xff800+32]).hexdigest())' "$tmp/s1/b1.flash.bin")
got=$(q "$db" "SELECT DISTINCT sha256 FROM unit_images WHERE file = 'identity:record'")
check "stm32_image_row_sha_is_the_units_bytes" $([ "$got" = "$sha" ]; echo $?) "$got != $sha"
st=$("$flashctl" --db "$db" pool status --json 2>&1)
check "stm32_pool_status_counts_used" $(python3 -c '
import json,sys
p = {x["name"]: x for x in json.loads(sys.argv[1])}
sys.exit(0 if p["serial"]["used"] == 1 and p["mac"]["used"] == 2 else 1)' "$st" 2>/dev/null; echo $?) "$st"
"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
check "stm32_pool_audit_clean" $? "$(cat "$tmp/audit.out")"
stm32 s2 "$db" "$recipes/stm32-l476-identity.json"
rec=$(parse_record "$tmp/s2/b1.flash.bin")
check "stm32_second_board_gets_next_values" $([ "$rc" -eq 0 ] && [ "$rec" = "SN000002 02:00:00:00:00:02 02:00:00:00:00:03 crc-ok" ]; echo $?) "rc=$rc rec=$rec"

# --- pool exhausted: the unit fails naming the pool, the board untouched ------
db=$tmp/exh.db
pools "$db" 1 burn
stm32 e1 "$db" "$recipes/stm32-l476-identity.json"
stm32 e2 "$db" "$recipes/stm32-l476-identity.json"
row=$(q "$db" "SELECT result, failed_stage FROM units WHERE id = 2")
err=$(q "$db" "SELECT error FROM units WHERE id = 2")
check "exhausted_pool_fails_the_unit_naming_it" $([ "$rc" -ne 0 ] && [ "$row" = "fail|identity" ] && [[ $err == *"'serial'"* ]]; echo $?) "rc=$rc row=$row" "error=$err"
check "exhausted_pool_board_untouched" $([ "$(erased "$tmp/e2/b1.flash.bin")" = erased ]; echo $?) "$(erased "$tmp/e2/b1.flash.bin")"
n=$(q "$db" "SELECT count(*) FROM unit_stages WHERE unit_id = 2")
check "exhausted_pool_no_stage_ran" $([ "$n" = 0 ]; echo $?) "stages=$n"
n=$(q "$db" "SELECT count(*) FROM unit_identities WHERE unit_id = 2")
check "exhausted_pool_takes_nothing_from_other_pools" $([ "$n" = 0 ]; echo $?) "rows=$n"

# A pool the recipe names but the station has not: the same, naming it.
db=$tmp/nopool.db
"$dbinit" "$db"
"$flashctl" --db "$db" pool create serial --kind counter --format 'SN{seq:6}' --first 1 --last 9 >/dev/null
stm32 np "$db" "$recipes/stm32-l476-identity.json"
err=$(q "$db" "SELECT failed_stage || ': ' || error FROM units")
check "missing_pool_fails_naming_it" $([ "$rc" -ne 0 ] && [[ $err == identity:*"'mac'"* ]] && [ "$(erased "$tmp/np/b1.flash.bin")" = erased ]; echo $?) "rc=$rc error=$err"

# --- burn vs reuse -------------------------------------------------------------
# Failure before any write: the serial does not fit the record's 4-byte field,
# found when the image is generated, after allocation, before any transfer.
sed -e 's/"size": 16, "text": "{serial}"/"size": 4, "text": "{serial}"/' \
	-e 's/"stm32-l476-identity"/"short-field"/' "$recipes/stm32-l476-identity.json" >"$tmp/short.json"
# The images the recipe names, beside it (a link would lead out of its directory).
cp -r "$recipes/images" "$tmp/images"
# A program error fails the first write at once (the example retries it).
sed -e 's/, "retries": 1//' -e 's/"stm32-l476-identity"/"no-retry"/' \
	"$recipes/stm32-l476-identity.json" >"$tmp/noretry.json"
for policy in burn reuse; do
	db=$tmp/pre-$policy.db
	pools "$db" 100 $policy
	stm32 pre-$policy "$db" "$tmp/short.json"
	failed=$(q "$db" "SELECT failed_stage FROM units WHERE id = 1")
	untouched=$(erased "$tmp/pre-$policy/b1.flash.bin")
	stm32 pre2-$policy "$db" "$recipes/stm32-l476-identity.json"
	rec=$(parse_record "$tmp/pre2-$policy/b1.flash.bin")
	states=$(q "$db" "SELECT group_concat(state, ',') FROM (SELECT state FROM unit_identities WHERE unit_id = 1 ORDER BY id)")
	[ $policy = burn ] && want="SN000002 02:00:00:00:00:02 02:00:00:00:00:03 crc-ok" wst=burned,burned,burned
	[ $policy = reuse ] && want="SN000001 02:00:00:00:00:00 02:00:00:00:00:01 crc-ok" wst=released,released,released
	check "fail_before_write_$policy" $([ "$failed" = identity ] && [ "$untouched" = erased ] && [ "$rec" = "$want" ] && [ "$states" = "$wst" ]; echo $?) \
		"failed=$failed board=$untouched" "next=$rec (want $want)" "states=$states (want $wst)"
	"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
	check "fail_before_write_${policy}_audit_clean" $? "$(cat "$tmp/audit.out")"
done
# Failure after a write started: burned under either policy.
for policy in burn reuse; do
	db=$tmp/post-$policy.db
	pools "$db" 100 $policy
	stm32 post-$policy "$db" "$tmp/noretry.json" ', "faults": [ { "kind": "program_error", "step": "download" } ]'
	row=$(q "$db" "SELECT result, failed_stage FROM units WHERE id = 1")
	stm32 post2-$policy "$db" "$recipes/stm32-l476-identity.json"
	rec=$(parse_record "$tmp/post2-$policy/b1.flash.bin")
	states=$(q "$db" "SELECT group_concat(state || ':' || device_written, ',') FROM (SELECT * FROM unit_identities WHERE unit_id = 1 ORDER BY id)")
	check "fail_after_write_burns_$policy" $([ "$row" = "fail|bootloader" ] && [ "$rec" = "SN000002 02:00:00:00:00:02 02:00:00:00:00:03 crc-ok" ] && [ "$states" = "burned:1,burned:1,burned:1" ]; echo $?) \
		"row=$row" "next=$rec" "states=$states"
	"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
	check "fail_after_write_${policy}_audit_clean" $? "$(cat "$tmp/audit.out")"
done

# --- i.MX6Q: the example writes the unit's U-Boot environment at 0xc0000 ------
board() { # NAME DB RECIPE TYPE EXTRA_BOARD_KEYS -> rc, dumps in $tmp/NAME
	cat >"$tmp/$1.json" <<EOF
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "$4", "port": "1-1.4" ${5:-} } ] }
EOF
	timeout 120 "$sim" --scenario "$tmp/$1.json" --dump-dir "$tmp/$1" -- \
		"$tool" --db "$2" --recipe "$3" --port 1-1.4 --deadline-pct 10 >"$tmp/$1.log" 2>&1
	rc=$?
}
# U-Boot env at OFFSET of SIZE bytes (env_import: CRC-32 LE of the data area):
# prints "crc-ok name=value ..." of the variables used here.
parse_env() {
	python3 - "$1" "$2" "$3" <<'EOF'
import sys, zlib, struct
f = open(sys.argv[1], 'rb'); f.seek(int(sys.argv[2], 0)); env = f.read(int(sys.argv[3], 0))
crc_ok = struct.unpack('<I', env[:4])[0] == zlib.crc32(env[4:])
data = env[4:].split(b'\0\0')[0].split(b'\0')
kv = dict(x.decode().split('=', 1) for x in data if x)
print('crc-ok' if crc_ok else 'crc-bad', ' '.join('%s=%s' % (k, kv.get(k)) for k in ('serial#', 'ethaddr', 'eth1addr')))
EOF
}
db=$tmp/imx.db
pools "$db" 100 burn
board imx1 "$db" "$recipes/imx6q-identity.json" imx6q-sdp ', "uid": "906709d4d72d7372"'
env=$(parse_env "$tmp/imx1/b1.emmc.bin" 0xc0000 8192 2>&1)
check "imx_env_in_dump_with_valid_crc" $([ "$rc" -eq 0 ] && [ "$env" = "crc-ok serial#=SN000001 ethaddr=02:00:00:00:00:00 eth1addr=02:00:00:00:00:01" ]; echo $?) \
	"rc=$rc env=$env" "$(tail -3 "$tmp/imx1.log")"
row=$(q "$db" "SELECT stage, target, file, size, verified FROM unit_images WHERE file = 'identity:env' ORDER BY id")
check "imx_env_row_verified_by_device_crc" $([ "$row" = "environment|0xc0000|identity:env|8192|1" ] || [ "$row" = "environment|0xc0000|identity:env|8192|1
verify|0xc0000|identity:env|8192|1" ]; echo $?) "$row"
"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
check "imx_pool_audit_clean" $? "$(cat "$tmp/audit.out")"

# --- Ingenic T31: the example writes the unit's record at 0x3f0000 ------------
db=$tmp/t31.db
pools "$db" 100 burn
board t31 "$db" "$recipes/ingenic-t31-identity.json" ingenic-t31 ', "uid": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "fill": "random:4"'
rec=$(python3 - "$tmp/t31/b1.nor.bin" <<'EOF' 2>&1
import sys, zlib, struct
f = open(sys.argv[1], 'rb'); f.seek(0x3f0000); r = f.read(64)
crc_ok = struct.unpack('<I', r[60:64])[0] == zlib.crc32(r[:60])
print(r[:4].decode(), r[4:28].rstrip(b'\0').decode(), ':'.join('%02x' % x for x in r[28:34]),
      struct.unpack('>H', r[34:36])[0], 'crc-ok' if crc_ok else 'crc-bad')
EOF
)
check "t31_record_in_dump_with_valid_crc" $([ "$rc" -eq 0 ] && [ "$rec" = "ID01 SN000001 02:00:00:00:00:00 1 crc-ok" ]; echo $?) \
	"rc=$rc rec=$rec" "$(tail -3 "$tmp/t31.log")"
ids=$(q "$db" "SELECT group_concat(value || ':' || state, ' ') FROM (SELECT * FROM unit_identities ORDER BY id)")
check "t31_values_used_in_db" $([ "$ids" = "SN000001:used 02:00:00:00:00:00:used 02:00:00:00:00:01:used" ]; echo $?) "$ids"
"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
check "t31_pool_audit_clean" $? "$(cat "$tmp/audit.out")"

# --- rework keeps identity -------------------------------------------------------
# The same board (serial read back) flashed again gets the values it holds;
# the values allocated for the rework go back to the pool.
db=$tmp/rework.db
pools "$db" 100 burn
board rw1 "$db" "$recipes/stm32-l476-identity.json" stm32l476-dfuse ', "serial": "RW-BOARD-1"'
board rw2 "$db" "$recipes/stm32-l476-identity.json" stm32l476-dfuse ', "serial": "RW-BOARD-2"'
board rw3 "$db" "$recipes/stm32-l476-identity.json" stm32l476-dfuse ', "serial": "RW-BOARD-1"'
rec=$(parse_record "$tmp/rw3/b1.flash.bin")
check "rework_of_a_passed_board_gets_its_values" $([ "$rc" -eq 0 ] && [ "$rec" = "SN000001 02:00:00:00:00:00 02:00:00:00:00:01 crc-ok" ]; echo $?) \
	"rc=$rc rec=$rec" "$(tail -3 "$tmp/rw3.log")"
held=$(q "$db" "SELECT group_concat(value || ':' || state, ' ') FROM (SELECT * FROM unit_identities WHERE unit_id = 3 AND state != 'released' ORDER BY id)")
check "rework_unit_holds_the_values_used" $([ "$held" = "SN000001:used 02:00:00:00:00:00:used 02:00:00:00:00:01:used" ]; echo $?) "$held"
old=$(q "$db" "SELECT group_concat(state, ',') FROM unit_identities WHERE unit_id = 1")
check "rework_earlier_unit_records_released" $([ "$old" = "released,released,released" ]; echo $?) "$old"
"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
check "rework_pool_audit_clean" $? "$(cat "$tmp/audit.out")"
board rw4 "$db" "$recipes/stm32-l476-identity.json" stm32l476-dfuse ', "serial": "RW-BOARD-4"'
rec=$(parse_record "$tmp/rw4/b1.flash.bin")
check "rework_gives_back_the_fresh_values" $([ "$rec" = "SN000003 02:00:00:00:00:04 02:00:00:00:00:05 crc-ok" ]; echo $?) "rec=$rec"
board rw5 "$db" "$recipes/stm32-l476-identity.json" stm32l476-dfuse ', "serial": "RW-BOARD-1"'
rec=$(parse_record "$tmp/rw5/b1.flash.bin")
check "rework_twice_still_the_same_values" $([ "$rec" = "SN000001 02:00:00:00:00:00 02:00:00:00:00:01 crc-ok" ]; echo $?) "rec=$rec"
# "rework": "new": the operator asks for new values.
sed -e 's/"rework": "keep"/"rework": "new"/' -e 's/"stm32-l476-identity"/"rework-new"/' \
	"$recipes/stm32-l476-identity.json" >"$tmp/rework-new.json"
board rw6 "$db" "$tmp/rework-new.json" stm32l476-dfuse ', "serial": "RW-BOARD-1"'
rec=$(parse_record "$tmp/rw6/b1.flash.bin")
check "rework_new_draws_new_values" $([ "$rc" -eq 0 ] && [ "$rec" = "SN000004 02:00:00:00:00:06 02:00:00:00:00:07 crc-ok" ]; echo $?) "rc=$rc rec=$rec"
"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
check "rework_new_pool_audit_clean" $? "$(cat "$tmp/audit.out")"

# i.MX: the board's serial comes from fastboot getvar, before the first write.
db=$tmp/imx-rework.db
pools "$db" 100 reuse
board ir1 "$db" "$recipes/imx6q-identity.json" imx6q-sdp ', "uid": "906709d4d72d7372"'
board ir2 "$db" "$recipes/imx6q-identity.json" imx6q-sdp ', "uid": "906709d4d72d7372"'
env=$(parse_env "$tmp/ir2/b1.emmc.bin" 0xc0000 8192 2>&1)
check "imx_rework_gets_its_values" $([ "$rc" -eq 0 ] && [ "$env" = "crc-ok serial#=SN000001 ethaddr=02:00:00:00:00:00 eth1addr=02:00:00:00:00:01" ]; echo $?) \
	"rc=$rc env=$env" "$(tail -3 "$tmp/ir2.log")"
"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
check "imx_rework_pool_audit_clean" $? "$(cat "$tmp/audit.out")"

# By chip UID: read by a stage, after the values were allocated and before
# the first write; the board's USB serial differs between the two runs.
python3 - "$recipes/stm32-l476-identity.json" "$tmp/uid.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["name"] = "uid"
r["stages"].insert(0, {"op": "dfuse.read_uid", "address": "0x1fff7590"})
json.dump(r, open(sys.argv[2], "w"))
EOF
db=$tmp/uid.db
pools "$db" 100 burn
board u1 "$db" "$tmp/uid.json" stm32l476-dfuse ', "serial": "UID-RUN-1", "uid": "0123456789abcdef01234567", "uid_readable": true'
board u2 "$db" "$tmp/uid.json" stm32l476-dfuse ', "serial": "UID-RUN-2", "uid": "fedcba9876543210fedcba98", "uid_readable": true'
board u3 "$db" "$tmp/uid.json" stm32l476-dfuse ', "serial": "UID-RUN-3", "uid": "0123456789abcdef01234567", "uid_readable": true'
rec=$(parse_record "$tmp/u3/b1.flash.bin")
check "rework_by_chip_uid_gets_its_values" $([ "$rc" -eq 0 ] && [ "$rec" = "SN000001 02:00:00:00:00:00 02:00:00:00:00:01 crc-ok" ]; echo $?) \
	"rc=$rc rec=$rec" "$(tail -3 "$tmp/u3.log")"
"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
check "rework_by_chip_uid_pool_audit_clean" $? "$(cat "$tmp/audit.out")"

# --- "file" templates: a list pool's value names a key file ------------------------
python3 - "$recipes/stm32-l476-identity.json" "$tmp/keyfile.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["name"] = "keyfile"
r["identity"] = {"pools": ["keys"],
                 "images": {"key": {"kind": "file", "pool": "keys", "size": 256, "fill": 0}}}
r["stages"] = [{"op": "dfuse.download", "name": "key", "alt": 0, "address": "0x080ff000",
                "identity": "key", "erase": "pages", "verify": "readback"},
               {"op": "dfuse.leave", "address": "0x08000000"}]
json.dump(r, open(sys.argv[2], "w"))
EOF
mkdir -p "$tmp/keys"
for k in 1 2 3; do head -c $((100 + k)) /dev/urandom >"$tmp/keys/unit$k.key"; done
printf 'unit1.key\nunit2.key\nunit3.key\n' >"$tmp/keys/list"
db=$tmp/keys.db
"$dbinit" "$db"
"$flashctl" --db "$db" pool create keys --kind list >/dev/null
"$flashctl" --db "$db" pool import keys "$tmp/keys/list" --files >/dev/null
board k1 "$db" "$tmp/keyfile.json" stm32l476-dfuse ', "serial": "KEY-1"'
got=$(python3 -c '
import sys
f = open(sys.argv[1], "rb").read()[0xff000:0xff000 + 256]
k = open(sys.argv[2], "rb").read()
print("match" if f == k + b"\0" * (256 - len(k)) else "differs")' "$tmp/k1/b1.flash.bin" "$tmp/keys/unit1.key" 2>&1)
check "file_template_writes_the_key_padded" $([ "$rc" -eq 0 ] && [ "$got" = match ]; echo $?) "rc=$rc $got" "$(tail -3 "$tmp/k1.log")"
rm "$tmp/keys/unit2.key"
board k2 "$db" "$tmp/keyfile.json" stm32l476-dfuse ', "serial": "KEY-2"'
err=$(q "$db" "SELECT failed_stage || ': ' || error FROM units WHERE id = 2")
check "file_template_missing_file_fails_before_transfer" $([ "$rc" -ne 0 ] && [[ $err == identity:*unit2.key* ]] && [ "$(erased "$tmp/k2/b1.flash.bin")" = erased ]; echo $?) "rc=$rc error=$err"
head -c 50 /dev/urandom >"$tmp/keys/unit3.key"
board k3 "$db" "$tmp/keyfile.json" stm32l476-dfuse ', "serial": "KEY-3"'
err=$(q "$db" "SELECT failed_stage || ': ' || error FROM units WHERE id = 3")
check "file_template_changed_file_fails_before_transfer" $([ "$rc" -ne 0 ] && [[ $err == identity:*"changed since its import"* ]] && [ "$(erased "$tmp/k3/b1.flash.bin")" = erased ]; echo $?) "rc=$rc error=$err"
"$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1
check "file_template_pool_audit_clean" $? "$(cat "$tmp/audit.out")"
