#!/usr/bin/env bash
# flashd under flashsim with an STM32 option-byte recipe (issue 15 item 2):
# the ROM resets after the option-byte write and re-enumerates on the same
# port; the running job takes the device back (no second job), reads the
# option bytes back and the unit passes; flash and option bytes dumped
# byte-exact.
. "$(dirname "$0")/../lib/testlib.sh"

check() { # NAME RESULT(0/1) DETAILS...
	local name=$1 res=$2
	shift 2
	if [ "$res" -eq 0 ]; then echo "ok - $name"; else echo "not ok - $name"; for l in "$@"; do echo "#   $l"; done; fi
}

mkdir -p "$tmp/recipes/images"
head -c 24576 /dev/urandom >"$tmp/recipes/images/boot.bin"
printf '\xe0\xaa\xff\xff\xff\xff\xff\xff\xff\x0e\xff\xff\xff\xff\xff\xff' >"$tmp/recipes/images/ob.bin"
cat >"$tmp/recipes/stm32-ob.json" <<EOF
{ "name": "stm32-ob", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", "file": "images/boot.bin",
      "sha256": "$(sha "$tmp/recipes/images/boot.bin")" },
    { "op": "dfuse.option_bytes", "name": "options", "file": "images/ob.bin",
      "sha256": "$(sha "$tmp/recipes/images/ob.bin")" } ] }
EOF
python3 - "$tmp/recipes/images/boot.bin" "$tmp/expect.bin" <<'EOF'
import sys
boot = open(sys.argv[1], 'rb').read()
img = bytearray(b'\xff' * (1024 * 1024))
img[:len(boot)] = boot
open(sys.argv[2], 'wb').write(img)
EOF
cat >"$tmp/flashd.conf" <<EOF
station = test-line
allow_ports = 1-1.*
grace_sec = 10
EOF
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
d=$1
"$FLASHD_BUILD/flashd" --config "$d/flashd.conf" --recipes "$d/recipes" --db "$d/f.db" --control "$d/ctl" \
	--deadline-pct 20 --log-stderr 2>>"$d/flashd.log" &
pid=$!
for _ in $(seq 600); do
	[ "$(sqlite3 "$d/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0)" -ge 1 ] && break
	sleep 0.05
done
sleep 0.5 # a second job for the re-enumerated board would start now
kill -TERM "$pid"
wait "$pid"
echo $? >"$d/exit"
EOF
chmod +x "$tmp/driver.sh"
cat >"$tmp/scenario.json" <<EOF
{ "time_scale": 0.01, "boards": [ { "id": "b1", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "OB0001" } ] }
EOF
timeout 120 "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/out" -- "$tmp/driver.sh" "$tmp" >"$tmp/sim.log" 2>&1

rows=$(q "$tmp/f.db" "SELECT result || ':' || coalesce(failed_stage, '') FROM units")
check "flashd_option_bytes_board_reenumerates_unit_passes" \
	"$([ "$rows" = "pass:" ] && echo 0 || echo 1)" "units: $rows" "$(q "$tmp/f.db" "SELECT error FROM units")" "$(tail -5 "$tmp/flashd.log")"
check "flashd_option_bytes_and_flash_dumped_byte_exact" \
	"$(cmp -s "$tmp/out/b1.option-bytes.bin" "$tmp/recipes/images/ob.bin" && cmp -s "$tmp/out/b1.flash.bin" "$tmp/expect.bin" && echo 0 || echo 1)" \
	"ob: $(od -An -tx1 "$tmp/out/b1.option-bytes.bin" 2>&1)"
st=$(q "$tmp/f.db" "SELECT name || ':' || result FROM unit_stages ORDER BY started_at, idx" | tr '\n' ' ')
img=$(q "$tmp/f.db" "SELECT target || '|' || verified || '|' || (host_crc32 = device_crc32) FROM unit_images WHERE stage = 'options'")
check "flashd_option_bytes_rows_verify_before_and_read_back_after" \
	"$([ "$st" = "boot:pass verify:pass options:pass " ] && [ "$img" = "alt1:0x1fffc000|1|1" ] && grep -q "Board 0483:df11.*arrived on port '1-1.1'" "$tmp/flashd.log" && echo 0 || echo 1)" \
	"stages: $st" "image: $img"
n=$(grep -c "Board 0483:df11.*arrived on port '1-1.1'" "$tmp/flashd.log")
check "flashd_reenumerated_board_stays_with_its_job" "$([ "$n" = 2 ] && [ "$(q "$tmp/f.db" "SELECT count(*) FROM units")" = 1 ] && echo 0 || echo 1)" \
	"arrivals logged: $n" "units: $(q "$tmp/f.db" "SELECT count(*) FROM units")"
