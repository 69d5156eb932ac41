#!/usr/bin/env bash
# flashd with the vendor's own Ingenic images and a second Ingenic chip
# (issue 14 items 4 and 5), under flashsim:
#  - a simulated T31 gets a 32,384-byte SPL and a 417,656-byte burner of
#    arbitrary bytes (answering "PRJ"), then an image at raw offset 0x40000
#    with no partition table, erase "blocks": the NOR must hold the board's
#    random fill everywhere but the 64 KiB blocks the write touched, the
#    image byte for byte, and the write's stage row names the erased range;
#  - a simulated T20 (d2i_len 0x4000, SPL padded to 32 bytes) is flashed
#    through its own chip-table entry, partitions, byte-exact.
# Checked where users look: NOR dumps, database rows.
. "$(dirname "$0")/../lib/testlib.sh"
if [ ! -x "$sim" ] || [ ! -x "$build/flashd" ] || ! command -v python3 >/dev/null || ! command -v sqlite3 >/dev/null; then
	echo "ok - flashd_ingenic_sim # SKIP flashsim, flashd, python3 or sqlite3 not available"
	exit 0
fi

q() { sqlite3 "$tmp/f.db" "$1" 2>&1; }
img() { echo "\"file\": \"images/$1\", \"sha256\": \"$(sha "$tmp/recipes/images/$1")\""; }

I=$tmp/recipes/images
mkdir -p "$I"
python3 "$top/tests/fixtures/ingenic/mkfixtures.py" "$I" >/dev/null || { nok flashd_ingenic_fixtures; exit 1; }
head -c 32384 /dev/urandom >"$I/vspl.bin"
head -c 417656 /dev/urandom >"$I/vburner.bin"
head -c 700001 /dev/urandom >"$I/fw.bin"
head -c 10170 /dev/urandom >"$I/t20spl.bin"
head -c 390480 /dev/urandom >"$I/t20burner.bin"
head -c 150000 /dev/urandom >"$I/uboot.bin"
head -c 500000 /dev/urandom >"$I/kernel.bin"

cat >"$tmp/recipes/t31-raw.json" <<EOF
{ "name": "t31-raw", "match": { "vid": "a108", "pid": "c309", "ports": [ "1-1.1" ] },
  "serial": { "source": "ingenic_efuse" }, "jedec": [ "ef4018" ],
  "stages": [
    { "op": "ingenic.boot", "soc": "t31", "ginfo": { $(img ginfo.bin) },
      "spl": { $(img vspl.bin) }, "burner": { $(img vburner.bin) } },
    { "op": "ingenic.check_jedec" },
    { "op": "ingenic.config", "erase": "blocks" },
    { "op": "ingenic.write", "name": "fw", "offset": "0x40000", $(img fw.bin) },
    { "op": "ingenic.reboot" } ] }
EOF
cat >"$tmp/recipes/t20.json" <<EOF
{ "name": "t20", "match": { "vid": "a108", "pid": "c309", "ports": [ "1-1.2" ] },
  "serial": { "source": "ingenic_efuse" }, "jedec": [ "ef4018" ],
  "stages": [
    { "op": "ingenic.boot", "soc": "t20", "ginfo": { $(img ginfo.bin) },
      "spl": { $(img t20spl.bin) }, "burner": { $(img t20burner.bin) } },
    { "op": "ingenic.check_jedec" },
    { "op": "ingenic.config", "erase": "partition", "partitions": [
        { "name": "uboot", "offset": "0x0", "size": "0x40000" },
        { "name": "kernel", "offset": "0x40000", "size": "0x280000" } ] },
    { "op": "ingenic.write", "name": "uboot", "partition": "uboot", $(img uboot.bin) },
    { "op": "ingenic.write", "name": "kernel", "partition": "kernel", $(img kernel.bin) },
    { "op": "ingenic.reboot" } ] }
EOF

boards='{ "id": "t31", "type": "ingenic-t31", "port": "1-1.1", "uid": "0123456789abcdef0123456789abcdef",
    "fill": "random:5", "burner_cpu_info": "PRJ" },
  { "id": "t20", "type": "ingenic-t20", "port": "1-1.2", "uid": "fedcba9876543210fedcba9876543210",
    "fill": "random:6" }'
echo "{ \"time_scale\": 0.01, \"boards\": [ $boards ] }" >"$tmp/scenario.json"
echo "{ \"time_scale\": 0.01, \"boards\": [ $boards ] }" >"$tmp/ref.json"
cat >"$tmp/flashd.conf" <<EOF
station = ingenic-line
allow_ports = 1-1.*
grace_sec = 10
max_jobs = 4
EOF
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
dir=$1 rows=$2
B=$FLASHD_BUILD
"$B/flashd" --config "$dir/flashd.conf" --recipes "$dir/recipes" --db "$dir/f.db" --control "$dir/ctl" \
	--deadline-pct 20 --log-stderr 2>>"$dir/flashd.log" &
pid=$!
n() { sqlite3 "$dir/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
for _ in $(seq 1800); do [ "$(n)" -ge "$rows" ] && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid"
echo "$?" >"$dir/exit"
EOF
chmod +x "$tmp/driver.sh"

timeout 60 "$sim" --scenario "$tmp/ref.json" --dump-dir "$tmp/ref" -- true >"$tmp/ref.log" 2>&1 ||
	{ nok flashd_ingenic_reference_run "$(tail -3 "$tmp/ref.log")"; exit 1; }
timeout 240 "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/out" -- \
	"$tmp/driver.sh" "$tmp" 2 >"$tmp/sim.log" 2>&1
rc=$?

# --- T31: vendor SPL and burner, raw offset 0x40000, erase blocks ------------------
python3 - "$tmp/out/t31.nor.bin" "$tmp/ref/t31.nor.bin" "$I/fw.bin" <<'PY' >"$tmp/t31.cmp" 2>&1
import sys
nor, ref, img = open(sys.argv[1], 'rb').read(), bytearray(open(sys.argv[2], 'rb').read()), open(sys.argv[3], 'rb').read()
off, blk = 0x40000, 0x10000
end = (off + len(img) + blk - 1) // blk * blk
ref[off:end] = b"\xff" * (end - off)
ref[off:off + len(img)] = img
bad = next((i for i in range(len(nor)) if nor[i] != ref[i]), None) if len(nor) == len(ref) else -1
print("equal" if bad is None else "first difference at %s" % hex(bad))
sys.exit(0 if bad is None else 1)
PY
cmp_rc=$?
row=$(q "SELECT result, serial, jedec_id FROM units WHERE recipe = 't31-raw'")
note=$(q "SELECT s.error FROM unit_stages s JOIN units u ON u.id = s.unit_id WHERE u.recipe = 't31-raw' AND s.name = 'fw' AND s.result = 'pass'")
if [ "$rc" -eq 0 ] && [ "$cmp_rc" -eq 0 ] && [ "$row" = "pass|0123456789ABCDEF0123456789ABCDEF|ef4018" ] &&
	[ "$note" = "erase blocks: 0x00040000-0x000effff (the 64 KiB blocks this write touches)" ]; then
	ok "flashd_t31_vendor_spl_and_burner_write_nor_at_0x40000_byte_exact"
else
	nok "flashd_t31_vendor_spl_and_burner_write_nor_at_0x40000_byte_exact" "rc=$rc $(cat "$tmp/t31.cmp")" \
		"row=$row" "note=$note" "$(q "SELECT error FROM units WHERE recipe = 't31-raw'")" \
		"$(tail -3 "$tmp/flashd.log")"
fi
vrows=$(q "SELECT count(*) FROM unit_images i JOIN units u ON u.id = i.unit_id WHERE u.recipe = 't31-raw' AND i.stage = 'verify' AND i.verified AND i.target = 'nor:0x00040000'")
[ "$vrows" = 1 ] && ok "flashd_t31_raw_write_read_back_in_the_verify_stage" ||
	nok "flashd_t31_raw_write_read_back_in_the_verify_stage" "verified rows=$vrows"

# --- T20: its own chip-table entry, byte-exact ---------------------------------------
python3 - "$tmp/out/t20.nor.bin" "$tmp/ref/t20.nor.bin" "$I" <<'PY' >"$tmp/t20.cmp" 2>&1
import sys
nor, ref, d = open(sys.argv[1], 'rb').read(), bytearray(open(sys.argv[2], 'rb').read()), sys.argv[3]
for name, off, size in (("uboot", 0, 0x40000), ("kernel", 0x40000, 0x280000)):
    data = open(d + "/" + name + ".bin", "rb").read()
    ref[off:off + size] = b"\xff" * size
    ref[off:off + len(data)] = data
print("equal" if nor == ref else "differs")
sys.exit(0 if nor == ref else 1)
PY
cmp_rc=$?
row=$(q "SELECT result, serial, count(*) FROM units WHERE recipe = 't20'")
if [ "$rc" -eq 0 ] && [ "$cmp_rc" -eq 0 ] && [ "$row" = "pass|FEDCBA9876543210FEDCBA9876543210|1" ]; then
	ok "flashd_t20_flashed_byte_exact_through_its_chip_entry"
else
	nok "flashd_t20_flashed_byte_exact_through_its_chip_entry" "rc=$rc $(cat "$tmp/t20.cmp")" "row=$row" \
		"$(q "SELECT error FROM units WHERE recipe = 't20'")" "$(tail -3 "$tmp/flashd.log")"
fi
[ "$(cat "$tmp/exit" 2>/dev/null)" = 0 ] && ok "flashd_ingenic_exits_0_on_sigterm" ||
	nok "flashd_ingenic_exits_0_on_sigterm" "exit=$(cat "$tmp/exit" 2>/dev/null)"
