#!/usr/bin/env bash
# The shared-bus model inside flashsim (tests/sim/hubbw.c, README "Shared
# bus"): a scenario's hub_bandwidth puts two STM32 DFU ROMs (full speed)
# behind one high-speed hub; concurrent dfu-util uploads then cross one
# Transaction Translator (single-TT, and one of them waits for the other) or
# one each (multi-TT).  Checked on the model's own accounting in the dump,
# not on wall-clock time.  Prints "ok - NAME" / "not ok - NAME".
. "$(dirname "$0")/../lib/testlib.sh"
command -v dfu-util >/dev/null || { echo "not ok - dfu-util is installed (make deps)"; exit 1; }

fail() { # NAME FILE...: nok with the tail of each FILE
	nok "$1"
	shift
	for f in "$@"; do [ -f "$f" ] && tail -15 "$f" | sed 's/^/#   /'; done
}

# scenario FILE TT: two STM32F405 ROMs on ports 1 and 2 of hub 1-3
scenario() {
	cat >"$1" <<JSON
{ "time_scale": 1.0, "hubs": ["1-3"],
  "hub_bandwidth": { "1-3": { "speed": "high", "tt": "$2" } },
  "boards": [
    { "id": "b1", "type": "stm32f405-dfuse", "port": "1-3.1", "serial": "000000000001" },
    { "id": "b2", "type": "stm32f405-dfuse", "port": "1-3.2", "serial": "000000000002" } ] }
JSON
}

# links DIR: "name bytes wait_ns" per modelled link that carried traffic
links() {
	python3 -c 'import json,sys
for l in json.load(open(sys.argv[1]+"/summary.json"))["hub_links"]:
    print(l["link"], l["bytes"], l["wait_ns"])' "$1"
}

upload2='for p in 1 2; do dfu-util -p 1-3.$p -a 0 -s 0x08000000:131072 -U '$tmp'/up$p.bin >/dev/null 2>&1 & done; wait'

t=single_tt_is_shared_by_both_full_speed_boards
d=$tmp/$t
scenario "$tmp/single.json" single
"$sim" --scenario "$tmp/single.json" --dump-dir "$d" -- sh -c "$upload2" >"$d.out" 2>&1
links "$d" >"$d.links" 2>&1
# one TT carried both boards' 128 KiB (plus DFU status replies), with waits
awk '$1 == "1-3/tt" && $2 >= 262144 && $3 > 0 { ok = 1 } END { exit !ok }' "$d.links" &&
	! grep -q '^1-3/tt[0-9]' "$d.links" && ok $t || fail $t "$d.out" "$d.links"

t=multi_tt_gives_each_board_its_own_translator
d=$tmp/$t
rm -f "$tmp"/up*.bin
scenario "$tmp/multi.json" multi
"$sim" --scenario "$tmp/multi.json" --dump-dir "$d" -- sh -c "$upload2" >"$d.out" 2>&1
links "$d" >"$d.links" 2>&1
awk '($1 == "1-3/tt1" || $1 == "1-3/tt2") && $2 >= 131072 && $2 < 262144 && $3 == 0 { n++ }
	END { exit n != 2 }' "$d.links" && ! grep -q '^1-3/tt ' "$d.links" &&
	ok $t || fail $t "$d.out" "$d.links"

t=no_hub_bandwidth_no_links_in_the_dump
d=$tmp/$t
cat >"$tmp/plain.json" <<JSON
{ "time_scale": 1.0, "hubs": ["1-3"],
  "boards": [ { "id": "b1", "type": "stm32f405-dfuse", "port": "1-3.1" } ] }
JSON
"$sim" --scenario "$tmp/plain.json" --dump-dir "$d" -- dfu-util -l >"$d.out" 2>&1
python3 -c 'import json,sys; sys.exit("hub_links" in json.load(open(sys.argv[1])))' "$d/summary.json" &&
	ok $t || fail $t "$d.out"

t=hub_bandwidth_of_an_unknown_hub_is_a_rig_error
d=$tmp/$t
cat >"$tmp/bad.json" <<JSON
{ "hubs": ["1-3"], "hub_bandwidth": { "1-4": { "speed": "high" } },
  "boards": [ { "id": "b1", "type": "stm32f405-dfuse", "port": "1-3.1" } ] }
JSON
"$sim" --scenario "$tmp/bad.json" -- true >"$d.out" 2>&1
rc=$?
[ $rc -eq 70 ] && grep -q 'hub_bandwidth.1-4: not a hub of the scenario' "$d.out" &&
	ok $t || fail $t "$d.out"

# --- a fastboot reply queued behind a busy hub survives a sliced read.  b2
#     downloads 1 MiB URBs (flashd's engine, imx-tool stage) that hold the
#     hub's upstream for 19.7 ms x 30 = 0.59 s each; b1's getvar replies
#     wait behind them, longer than the engine's 250 ms read slice, so the
#     engine unlinks the IN URB the board has already answered.  The rig
#     dropped the reply with the unlinked URB (getvar timed out); the kernel
#     gives back what moved and libusb keeps it.
t=reply_behind_a_busy_hub_survives_a_sliced_read
d=$tmp/$t
imx_tool=$build/tests/tools/imx-tool
cat >"$tmp/fb2.json" <<JSON
{ "time_scale": 30, "hubs": ["1-3"],
  "hub_bandwidth": { "1-3": { "speed": "high" } },
  "boards": [
    { "id": "b1", "type": "imx6q-sdp", "port": "1-3.1", "uid": "0000000100001001", "start": "fastboot" },
    { "id": "b2", "type": "imx6q-sdp", "port": "1-3.2", "uid": "0000000200001002", "start": "fastboot" } ] }
JSON
head -c $((16 << 20)) /dev/urandom >"$tmp/fb16.bin"
gv="getvar version + getvar product + getvar serialno + getvar max-download-size"
"$sim" --scenario "$tmp/fb2.json" --dump-dir "$d" -- sh -c "
	'$imx_tool' -q -p 1-3.2 stage '$tmp/fb16.bin' >'$d.b2' 2>&1 &
	sleep 1
	'$imx_tool' -q -p 1-3.1 $gv + $gv >'$d.b1' 2>&1
	wait" >"$d.out" 2>&1
grep -q '^result=ok' "$d.b1" && grep -q '^result=ok' "$d.b2" &&
	awk '$1 == "1-3" && $3 > 0 { ok = 1 } END { exit !ok }' <(links "$d") &&
	ok $t || fail $t "$d.out" "$d.b1" "$d.b2"
