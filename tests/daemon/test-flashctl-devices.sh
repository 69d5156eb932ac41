#!/usr/bin/env bash
# "flashctl devices" (daemon/flashctl-devices.c) against simulated boards
# under flashsim: every board on the station with what it is, its serial,
# the recipe that matches it (or why none does) and the daemon's state;
# without a daemon the state says so, nothing fails.
. "$(dirname "$0")/../lib/testlib.sh"

mkdir -p "$tmp/recipes"
cp -r "$top/jobs/recipes/images" "$top/jobs/recipes/stm32-f405.json" "$top/jobs/recipes/ingenic-t31.json" "$tmp/recipes/"
cat >"$tmp/scenario.json" <<'JSON'
{ "time_scale": 0.01, "boards": [
  { "id": "s1", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "F405UNIT7" },
  { "id": "g1", "type": "ingenic-t31", "port": "1-1.2" },
  { "id": "m1", "type": "imx6q-sdp", "port": "1-1.3" } ] }
JSON
cat >"$tmp/driver.sh" <<'EOF2'
#!/usr/bin/env bash
set -u
d=$1 B=$FLASHD_BUILD
sleep 0.3
"$B/flashctl" devices --recipes "$d/recipes" --socket "$d/ctl" >"$d/before.txt" 2>&1
echo $? >"$d/before.rc"
"$B/flashctl" devices --recipes "$d/recipes" --socket "$d/ctl" --json >"$d/before.json" 2>&1
"$B/flashd" --recipes "$d/recipes" --db "$d/f.db" --control "$d/ctl" --config /dev/null \
	--deadline-pct 20 --log-stderr 2>>"$d/flashd.log" &
pid=$!
for _ in $(seq 100); do [ -S "$d/ctl" ] && break; sleep 0.05; done
sleep 0.5
"$B/flashctl" devices --recipes "$d/recipes" --socket "$d/ctl" --json >"$d/during.json" 2>&1
kill -TERM "$pid"; wait "$pid"
exit 0
EOF2
chmod +x "$tmp/driver.sh"
printf '' >"$tmp/empty.conf"
sed -i "s|--config /dev/null|--config $tmp/empty.conf|" "$tmp/driver.sh"
timeout 120 "$sim" --scenario "$tmp/scenario.json" -- "$tmp/driver.sh" "$tmp" >"$tmp/sim.log" 2>&1

out=$(cat "$tmp/before.txt")
rc=$(cat "$tmp/before.rc" 2>/dev/null)
[ "$rc" = 0 ] && [[ $out == "PORT "*"USB ID"*"RECIPE"* ]] && ok "devices: exit 0, header" ||
	nok "devices: exit 0, header" "rc=$rc" "$out" "$(tail -5 "$tmp/sim.log")"
line=$(grep '^1-1.1 ' <<<"$out")
[[ $line == *"0483:df11"*"STM32 DfuSe ROM"*"F405UNIT7"*"flashd not running"*"stm32-f405" ]] &&
	ok "STM32 board: what, serial, recipe, no daemon" || nok "STM32 board line" "$line"
line=$(grep '^1-1.2 ' <<<"$out")
[[ $line == *"a108:c309"*"Ingenic T-series ROM"*"ingenic-t31" ]] && ok "Ingenic board: what and recipe" ||
	nok "Ingenic board line" "$line"
line=$(grep '^1-1.3 ' <<<"$out")
[[ $line == *"15a2:0054"*"i.MX SDP ROM"*"none: no recipe for 15a2:0054"* ]] &&
	ok "i.MX board without a recipe says why" || nok "i.MX board line" "$line"
python3 - "$tmp/before.json" "$tmp/during.json" <<'PY' && ok "json: same boards; with flashd running the state is the daemon's" || nok "json" "$(cat "$tmp/during.json" | head -20)"
import json, sys
before = {d["port"]: d for d in json.load(open(sys.argv[1]))}
during = {d["port"]: d for d in json.load(open(sys.argv[2]))}
assert set(before) == {"1-1.1", "1-1.2", "1-1.3"}, before
assert before["1-1.1"]["recipe"] == "stm32-f405" and before["1-1.1"]["serial"] == "F405UNIT7"
assert before["1-1.3"]["recipe"] == "" and "no recipe" in before["1-1.3"]["recipe_error"]
assert all(d["state"] == "flashd not running" for d in before.values())
# The i.MX board has no recipe: flashd saw it and left it idle.  (The
# others may be flashed and gone by now.)
assert during["1-1.3"]["state"] == "idle", during
PY
exit $((fails > 0))
