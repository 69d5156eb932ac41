#!/usr/bin/env bash
# flashd loads recipes off its loop (issue 13 item 7): a recipe whose image
# is a 1 TiB sparse file hashes for an hour, so every load below is still
# running when the script looks, until the script truncates the image (the
# read then ends and the recipe is refused for its sha256).  No assertion is
# timed: each one orders events (status answered while the load runs, a
# board flashed before the reload's "loaded" line) or bounds a wait far
# below the hour the load would take.  Checked where users look: flashctl
# status, database rows, the log, exit codes.
. "$(dirname "$0")/../lib/testlib.sh"

# First line of FILE matching the fixed string PAT (0 when none).
line_of() { grep -n -F -m1 -- "$2" "$1" 2>/dev/null | cut -d: -f1 | grep . || echo 0; }

# ---- recipes: v1 and v2 of one DfuSe recipe, and a slow one ----------------
mkdir -p "$tmp/v1/images" "$tmp/v2/images" "$tmp/slow/images"
# Distinct image names: a job still running v1 after the swap reads its own file.
head -c 24576 /dev/urandom >"$tmp/v1/images/app-v1.bin"
head -c 40000 /dev/urandom >"$tmp/v2/images/app-v2.bin"
recipe() { # DIR NAME IMAGE
	cat >"$1/$2.json" <<EOF
{ "name": "$2", "match": { "vid": "0483", "pid": "df11", "ports": ["1-*"] },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "app", "address": "0x08000000", "file": "images/$3",
      "sha256": "$(sha "$1/images/$3")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
EOF
}
recipe "$tmp/v1" stm32-v1 app-v1.bin
recipe "$tmp/v2" stm32-v2 app-v2.bin
# Matches no port the scenarios use; only its image matters.
cat >"$tmp/slow/huge.json" <<EOF
{ "name": "huge", "match": { "vid": "0483", "pid": "df11", "ports": ["9-9"] },
  "stages": [
    { "op": "dfuse.download", "name": "app", "address": "0x08000000", "file": "images/huge.bin",
      "sha256": "$(printf '%064d' 0)", "erase": "pages" } ] }
EOF

conf() { # FILE
	cat >"$1" <<EOF
station = test-line
allow_ports = 1-1.*
grace_sec = 5
max_jobs = 8
EOF
}

# The program flashsim runs: flashd plus a script of actions.  Every wait is
# bounded (20 s) so that a daemon that blocks fails the checks, not the run.
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
# usage: driver.sh DIR RECIPES CONF ACTIONS...
#   wait-log N TEXT | wait-rows N | status NAME | swap DIR | add DIR | hup | huge | unhuge | term-now
set -u
dir=$1 recipes=$2 conf=$3
shift 3
B=$FLASHD_BUILD
log=$dir/flashd.log
"$B/flashd" --config "$conf" --recipes "$recipes" --db "$dir/f.db" --control "$dir/ctl" \
	--log-stderr 2>>"$log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/ctl" ] && break; sleep 0.05; done
rows() { sqlite3 "$dir/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
while [ $# -gt 0 ]; do
	case $1 in
	wait-log) for _ in $(seq 400); do [ "$(grep -c -F -- "$3" "$log")" -ge "$2" ] && break; sleep 0.05; done; shift 2 ;;
	wait-rows) for _ in $(seq 400); do [ "$(rows)" -ge "$2" ] && break; sleep 0.05; done; shift ;;
	status) echo "--- status $2" >>"$log"
		timeout 5 "$B/flashctl" status --socket "$dir/ctl" >"$dir/$2.txt" 2>&1
		echo "$?" >"$dir/$2.rc"; shift ;;
	swap) rm -f "${recipes:?}"/*.json; cp -r "$2"/* "$recipes"/; shift ;;
	add) cp -r "$2"/* "$recipes"/; shift ;;
	huge) truncate -s 1T "$recipes/images/huge.bin" ;;
	unhuge) echo "--- truncated" >>"$log"; truncate -s 4096 "$recipes/images/huge.bin" ;;
	hup) kill -HUP "$pid" ;;
	term-now) # SIGTERM; how long flashd took is measured in 0.1 s steps up to 10 s
		kill -TERM "$pid"
		for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			echo hung >"$dir/exit"; kill -KILL "$pid"; wait "$pid" 2>/dev/null
		else
			wait "$pid"; echo "$?" >"$dir/exit"
		fi
		pid= ;;
	esac
	shift
done
# Whatever happened, let a blocked load end and stop flashd.
[ -f "$recipes/images/huge.bin" ] && truncate -s 4096 "$recipes/images/huge.bin"
if [ -n "${pid:-}" ]; then
	kill -TERM "$pid"
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid"; echo "$?" >"$dir/exit"
fi
exit 0
EOF
chmod +x "$tmp/driver.sh"

run() { # NAME SCENARIO-JSON RECIPES ACTIONS...   (HUGE=1: the 1 TiB image is there at start)
	local name=$1 scn=$2 rdir=$3 d=$tmp/$1
	shift 3
	mkdir -p "$d/recipes"
	cp -r "$rdir"/* "$d/recipes/"
	[ -z "${HUGE:-}" ] || truncate -s 1T "$d/recipes/images/huge.bin"
	conf "$d/flashd.conf"
	echo "$scn" >"$d/scenario.json"
	timeout 300 "$sim" --scenario "$d/scenario.json" --dump-dir "$d/out" -- \
		"$tmp/driver.sh" "$d" "$d/recipes" "$d/flashd.conf" "$@" >"$d/sim.log" 2>&1
	echo $? >"$d/sim.rc"
}

# ---- 1: start-up: status answers while loading; an early board waits -------
mkdir -p "$tmp/v1huge"
cp -r "$tmp/v1"/* "$tmp/v1huge"/
cp "$tmp/slow/huge.json" "$tmp/v1huge"/
scn='{ "time_scale": 0.05, "boards": [
  { "id": "s1", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "START1" } ] }'
HUGE=1 run start "$scn" "$tmp/v1huge" status loading unhuge wait-rows 1 status loaded
d=$tmp/start
check "flashd_status_answers_while_first_recipes_load" \
	"$([ "$(cat "$d/loading.rc")" = 0 ] && grep -q "Loading recipes" "$d/loading.txt" && [ "$(cat "$d/loaded.rc")" = 0 ] && ! grep -q "Loading recipes" "$d/loaded.txt" && echo 0 || echo 1)" \
	"rc=$(cat "$d/loading.rc")" "$(head -3 "$d/loading.txt")" "once loaded: $(head -1 "$d/loaded.txt")" "$(tail -5 "$d/flashd.log")"
check "flashd_board_found_while_loading_waits_in_status" \
	"$(grep -q '^1-1.1 .*queued' "$d/loading.txt" && echo 0 || echo 1)" "$(cat "$d/loading.txt")"
row=$(q "$d/f.db" "SELECT serial || ':' || recipe || ':' || result FROM units")
ll=$(line_of "$d/flashd.log" "Recipes from")
lt=$(line_of "$d/flashd.log" "--- truncated")
check "flashd_board_found_while_loading_is_flashed_once_loaded" \
	"$([ "$row" = "START1:stm32-v1:pass" ] && [ "$lt" -gt 0 ] && [ "$ll" -gt "$lt" ] && cmp -s <(head -c 24576 "$d/out/s1.flash.bin") "$tmp/v1/images/app-v1.bin" && echo 0 || echo 1)" \
	"row: $row" "truncated at log line $lt, loaded at $ll" "$(tail -5 "$d/flashd.log")"

# ---- 2: SIGHUP: the old set serves during the reload; SIGHUPs coalesce ------
# r1 is plugged 6 s in: after the reload began (the driver waits for the
# first set, ~1 s), long before it could end (only the truncation ends it).
scn='{ "time_scale": 0.05, "boards": [
  { "id": "r1", "type": "stm32f405-dfuse", "port": "1-1.2", "serial": "RELOAD1", "plug_ms": 6000 } ] }'
run reload "$scn" "$tmp/v1" wait-log 1 "Recipes from" \
	swap "$tmp/v2" add "$tmp/slow" huge hup wait-log 1 "Reloading recipes" \
	hup wait-log 1 "one more load follows" hup wait-log 2 "one more load follows" \
	wait-rows 1 status reloading unhuge wait-log 3 "Recipes from" status reloaded
d=$tmp/reload
row=$(q "$d/f.db" "SELECT serial || ':' || recipe || ':' || result FROM units")
lr=$(line_of "$d/flashd.log" "Reloading recipes")
la=$(line_of "$d/flashd.log" "arrived on port '1-1.2'")
lv2=$(line_of "$d/flashd.log" "Recipe 'stm32-v2' loaded")
check "flashd_old_recipes_serve_a_board_during_reload" \
	"$([ "$row" = "RELOAD1:stm32-v1:pass" ] && [ "$lr" -gt 0 ] && [ "$la" -gt "$lr" ] && [ "$lv2" -gt "$la" ] && echo 0 || echo 1)" \
	"row: $row" "log lines: reloading $lr, board arrived $la, v2 loaded $lv2" "$(tail -8 "$d/flashd.log")"
check "flashd_status_answers_during_reload" \
	"$([ "$(cat "$d/reloading.rc")" = 0 ] && grep -q "Loading recipes" "$d/reloading.txt" && echo 0 || echo 1)" \
	"rc=$(cat "$d/reloading.rc")" "$(head -3 "$d/reloading.txt")"
n_co=$(grep -c "one more load follows" "$d/flashd.log")
n_again=$(grep -c "again: SIGHUP came during the load" "$d/flashd.log")
n_use=$(grep -c "Recipes from" "$d/flashd.log")
check "flashd_sighups_during_a_load_make_one_more_load" \
	"$([ "$n_co" = 2 ] && [ "$n_again" = 1 ] && [ "$n_use" = 3 ] && echo 0 || echo 1)" \
	"coalesced: $n_co (2 expected), loads again: $n_again (1), sets in use: $n_use (1 + 2)"
check "flashd_reload_swaps_in_the_new_set" \
	"$([ "$(cat "$d/reloaded.rc")" = 0 ] && ! grep -q "Loading recipes" "$d/reloaded.txt" && grep -q "Recipes from .* in use: 1 loaded, 1 refused" "$d/flashd.log" && echo 0 || echo 1)" \
	"$(head -1 "$d/reloaded.txt")" "$(grep "Recipes from" "$d/flashd.log")"

# ---- 3: SIGTERM while a huge image hashes: flashd exits at once -------------
scn='{ "time_scale": 0.05, "boards": [] }'
HUGE=1 run term "$scn" "$tmp/v1huge" status loading term-now
d=$tmp/term
check "flashd_sigterm_during_recipe_load_exits_promptly" \
	"$([ "$(cat "$d/loading.rc")" = 0 ] && [ "$(cat "$d/exit")" = 0 ] && echo 0 || echo 1)" \
	"status rc=$(cat "$d/loading.rc"), exit: $(cat "$d/exit") (hung = still running 10 s after SIGTERM)" "$(tail -3 "$d/flashd.log")"
