#!/usr/bin/env bash
# "flashctl fleet log|show|stats|export" (issue 20 item 3) against a real
# PostgreSQL started here (tests/sync/pg-lib.sh): 3 station databases
# written by the real db code (tests/tools/unit-gen) are shipped by
# flashd-sync; then every fleet verb, in every format and with the station
# filters, prints exactly the union of what the station verbs print on each
# station (the same lines; sorted where the order interleaves stations).
# Also: only flashctl links libpq, flashd does not.
. "$(dirname "$0")/../lib/testlib.sh"
. "$top/tests/sync/pg-lib.sh"
sync=$build/flashd-sync
gen=$build/tests/tools/unit-gen
ctl=$build/flashctl

pg_need "fleet QA"
cleanup() {
	[ -n "${sync_pid:-}" ] && kill "$sync_pid" 2>/dev/null
	[ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null
	wait 2>/dev/null
	pg_cleanup
}
trap cleanup EXIT

STATIONS=3
export TZ=Europe/Berlin # stats --by day: flashctl's local day on both sides

pg_up
pg_migrate
q -c "CREATE ROLE qa LOGIN IN ROLE flashd_qa"
url="postgresql://qa@/fleet?host=$tmp/pg/sock"

# station_conf I: flashd-sync's config and password credential for station st-I.
station_conf() {
	local i=$1
	q -c "CREATE ROLE ingest_$i LOGIN PASSWORD 'pw-$i' IN ROLE flashd_ingest"
	mkdir -p "$tmp/cred/$i"
	printf 'pw-%s\n' "$i" >"$tmp/cred/$i/pgpassword"
	cat >"$tmp/st$i.conf" <<CONF
server = host=$tmp/pg/sock dbname=fleet user=ingest_$i
station = st-$i
line = line-1
database = $tmp/st$i.db
batch = 50
poll_ms = 50
CONF
}
ship() {
	CREDENTIALS_DIRECTORY=$tmp/cred/$1 "$sync" -c "$tmp/st$1.conf" --once >>"$tmp/st$1.log" 2>&1
}

for i in $(seq $STATIONS); do
	station_conf "$i"
	"$gen" "$tmp/st$i.db" "st-$i" $((20 + 5 * i)) "$(printf '02%02x00000000' "$i")" >/dev/null ||
		nok "unit-gen station $i"
	ship "$i" || nok "flashd-sync --once station $i" "$(tail -3 "$tmp/st$i.log")"
done
n=$(q -c "SELECT count(*) FROM flashd.units")
if [ "$n" = $((20 * STATIONS + 5 * STATIONS * (STATIONS + 1) / 2)) ]; then
	ok "$STATIONS stations synced ($n units)"
else
	nok "stations synced" "$n units on the server"
fi

# --- only flashctl links libpq --------------------------------------------
if ldd "$ctl" | grep -q 'libpq\.so' && ! ldd "$build/flashd" | grep -q 'libpq\.so'; then
	ok "flashctl links libpq, flashd does not"
else
	nok "libpq only in flashctl" "flashctl: $(ldd "$ctl" | grep -c libpq)" \
		"flashd: $(ldd "$build/flashd" | grep -c libpq)"
fi

# norm FORMAT: one record per line, sorted (JSON arrays print one object a
# line; the header, "[" and "]" stay first and last).
norm() {
	sed -e 's/},$/}/' | LC_ALL=C sort
}
# station_union ARGS...: the station verb on every station (stations
# chosen by --station in ARGS if given), normalised.
station_union() {
	local i args=() only=""
	while [ $# -gt 0 ]; do
		if [ "$1" = --station ]; then
			only=$2
			shift 2
			continue
		fi
		args+=("$1")
		shift
	done
	for i in $(seq $STATIONS); do
		[ -z "$only" ] || [ "$only" = "st-$i" ] || continue
		"$ctl" --db "$tmp/st$i.db" "${args[@]}" || echo "exit $?"
	done | norm | uniq
}
# same NAME ARGS...: fleet and station output equal, and not trivially.
same() {
	local name=$1
	shift
	"$ctl" fleet "$@" --db-url "$url" >"$tmp/fleet.out" 2>"$tmp/fleet.err" ||
		echo "exit $?" >>"$tmp/fleet.out"
	norm <"$tmp/fleet.out" | uniq >"$tmp/fleet.sorted"
	station_union "$@" >"$tmp/station.sorted" 2>"$tmp/station.err"
	if [ "$(wc -l <"$tmp/fleet.sorted")" -gt 1 ] && ! grep -q '^exit' "$tmp/fleet.sorted" &&
		cmp -s "$tmp/fleet.sorted" "$tmp/station.sorted"; then
		ok "fleet $name equals the stations' ($(wc -l <"$tmp/fleet.sorted") lines)"
	else
		nok "fleet $name equals the stations'" "$(head -3 "$tmp/fleet.err")" \
			"$(diff "$tmp/station.sorted" "$tmp/fleet.sorted" | head -6)"
	fi
}

today=$(date +%Y-%m-%d)
for fmt in table csv json; do
	same "log --format $fmt" log --format "$fmt"
done
same "log --result fail" log --result fail
same "log --recipe board-b --format csv" log --recipe board-b --format csv
same "log --serial st-2-000007" log --serial st-2-000007 --format csv
same "log --port '1-1.*' --slot 'A[0-9]' --since today --until now" \
	log --port '1-1.*' --slot 'A[0-9]' --since today --until now --format csv
same "log --since $today --station st-2" log --since "$today" --station st-2 --format csv
same "log --result pass --station st-3" log --result pass --station st-3
for fmt in csv json; do
	same "export --format $fmt" export --format "$fmt"
done
same "export --images" export --images
same "export --result fail --format json" export --result fail --format json
# stats are per station: each station's equals the fleet's with --station.
for i in $(seq $STATIONS); do
	for by in recipe day port slot; do
		same "stats --by $by --station st-$i" stats --by "$by" --station "st-$i" --format csv
	done
done
same "stats --format json --station st-1 --result pass" stats --format json --station st-1 --result pass
same "stats --station st-2 (table)" stats --station st-2

# stats over the fleet: those of one database holding every station's units.
cp "$tmp/st1.db" "$tmp/all.db"
for i in $(seq 2 $STATIONS); do
	sqlite3 "$tmp/all.db" "ATTACH '$tmp/st$i.db' AS o;
		INSERT INTO units (station, port, slot, recipe, recipe_sha256, vid, pid, serial,
			chip_uid, jedec_id, result, failed_stage, error, started_at, finished_at,
			duration_ms, flashd_version)
		SELECT station, port, slot, recipe, recipe_sha256, vid, pid, serial, chip_uid,
			jedec_id, result, failed_stage, error, started_at, finished_at, duration_ms,
			flashd_version FROM o.units" 2>"$tmp/merge.err" || nok "merge" "$(cat "$tmp/merge.err")"
done
for by in recipe day slot; do
	for fmt in table csv json; do
		"$ctl" --db "$tmp/all.db" stats --by "$by" --format "$fmt" >"$tmp/all.stats" 2>&1
		"$ctl" fleet stats --by "$by" --format "$fmt" --db-url "$url" >"$tmp/fleet.stats" 2>&1
		if [ "$(wc -l <"$tmp/all.stats")" -gt 1 ] && cmp -s "$tmp/all.stats" "$tmp/fleet.stats"; then
			ok "fleet stats --by $by --format $fmt equals the stats of all units together"
		else
			nok "fleet stats --by $by --format $fmt" "$(diff "$tmp/all.stats" "$tmp/fleet.stats" | head -6)"
		fi
	done
done

# show: by serial, by chip UID, by MAC, by id with --station; text and JSON.
mac=$(sqlite3 "$tmp/st3.db" "SELECT value FROM unit_identities WHERE unit_id = 4")
uid=$(sqlite3 "$tmp/st1.db" "SELECT chip_uid FROM units WHERE id = 9")
for key in st-2-000005 "$uid" "$(echo "$mac" | tr 'a-f:' 'A-F-')"; do
	st=$(for i in $(seq $STATIONS); do
		"$ctl" --db "$tmp/st$i.db" show "$key" 2>/dev/null && break
	done)
	for fmt in text json; do
		"$ctl" fleet show --format "$fmt" --db-url "$url" "$key" >"$tmp/show.fleet" 2>&1
		for i in $(seq $STATIONS); do
			"$ctl" --db "$tmp/st$i.db" show --format "$fmt" "$key" 2>/dev/null && break
		done >"$tmp/show.station"
		if [ -n "$st" ] && [ "$(wc -l <"$tmp/show.station")" -gt 10 ] &&
			cmp -s "$tmp/show.fleet" "$tmp/show.station"; then
			ok "fleet show $key --format $fmt equals the station's"
		else
			nok "fleet show $key --format $fmt" "$(diff "$tmp/show.station" "$tmp/show.fleet" | head -6)"
		fi
	done
done
for i in $(seq $STATIONS); do
	"$ctl" fleet show --station "st-$i" --db-url "$url" 7 >"$tmp/show.fleet" 2>&1
	"$ctl" --db "$tmp/st$i.db" show 7 >"$tmp/show.station" 2>&1
	if cmp -s "$tmp/show.fleet" "$tmp/show.station" && grep -q "station *st-$i" "$tmp/show.fleet"; then
		ok "fleet show --station st-$i 7 equals station st-$i's unit 7"
	else
		nok "fleet show --station st-$i 7" "$(diff "$tmp/show.station" "$tmp/show.fleet" | head -6)"
	fi
done
out=$("$ctl" fleet show --db-url "$url" 7 2>&1)
rc=$?
if [ $rc = 1 ] && [[ $out == *"several stations"*"--station"* ]]; then
	ok "fleet show of a unit id that several stations have asks for --station"
else
	nok "fleet show ambiguous id" "rc $rc: $out"
fi
out=$("$ctl" fleet log --db-url "postgresql://nobody-role@/fleet?host=$tmp/pg/sock&password=s3cret" 2>&1)
rc=$?
if [ $rc = 1 ] && [[ $out == *"fleet database"* ]] && [[ $out != *s3cret* ]]; then
	ok "a refused connection is an error (exit 1) naming no password"
else
	nok "refused connection" "rc $rc: $out"
fi
out=$("$ctl" fleet log --db "$tmp/st1.db" 2>&1)
rc=$?
out2=$("$ctl" --db "$tmp/st1.db" log --station st-1 2>&1)
rc2=$?
if [ $rc = 2 ] && [ $rc2 = 2 ]; then
	ok "fleet takes --db-url, not --db; --station is the fleet's only"
else
	nok "fleet options" "rc $rc: $out" "rc $rc2: $out2"
fi

# --- a live flashd under flashsim is a station too ------------------------
# Six boards plugged 1.5 s apart; flashd-sync ships station st-live while
# flashd runs: its first unit is on the server before flashd stops, and at
# the end the server holds exactly what the station holds.
d=$tmp/live
mkdir -p "$d/recipes/images"
head -c 24576 /dev/urandom >"$d/recipes/images/boot.bin"
head -c 40960 /dev/urandom >"$d/recipes/images/app.bin"
cat >"$d/recipes/stm32.json" <<RECIPE
{ "name": "stm32", "match": { "vid": "0483", "pid": "df11", "ports": ["1-*"] },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", "file": "images/boot.bin",
      "sha256": "$(sha "$d/recipes/images/boot.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "app", "address": "0x08020000", "file": "images/app.bin",
      "sha256": "$(sha "$d/recipes/images/app.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
RECIPE
printf 'station = st-live\nallow_ports = 1-1.*\nslot.1-1.1 = A1\n' >"$d/flashd.conf"
boards=""
for i in 1 2 3 4 5 6; do
	boards="$boards${boards:+,}{ \"id\": \"b$i\", \"type\": \"stm32f405-dfuse\", \"port\": \"1-1.$i\",
	  \"serial\": \"LIVE$i\", \"plug_ms\": $((i * 1500 - 1500)) }"
done
echo "{ \"time_scale\": 0.01, \"boards\": [ $boards ] }" >"$d/scenario.json"
cat >"$d/driver.sh" <<'DRIVER'
#!/usr/bin/env bash
# driver.sh DIR: flashd until 6 units are finished; after the first, wait
# (up to 20 s) for the test to see it on the server while flashd runs.
d=$1
rows() { sqlite3 "$d/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
"$FLASHD_BUILD/flashd" --config "$d/flashd.conf" --recipes "$d/recipes" --db "$d/f.db" \
	--control "$d/ctl" --log-stderr 2>>"$d/flashd.log" &
pid=$!
echo "$pid" >"$d/flashd.pid"
for _ in $(seq 600); do [ "$(rows)" -ge 1 ] && break; sleep 0.05; done
touch "$d/first"
for _ in $(seq 400); do [ -e "$d/seen" ] && break; sleep 0.05; done
for _ in $(seq 600); do [ "$(rows)" -ge 6 ] && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid"
echo $? >"$d/exit"
DRIVER
chmod +x "$d/driver.sh"
station_conf live
sed -i "s|^database = .*|database = $d/f.db|" "$tmp/stlive.conf"
export FLASHD_BUILD=$build
timeout 120 "$sim" --scenario "$d/scenario.json" --dump-dir "$d/out" -- "$d/driver.sh" "$d" \
	>"$d/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 400); do [ -S "$d/ctl" ] && break; sleep 0.05; done
CREDENTIALS_DIRECTORY=$tmp/cred/live "$sync" -c "$tmp/stlive.conf" >>"$tmp/stlive.log" 2>&1 &
sync_pid=$!
for _ in $(seq 600); do [ -e "$d/first" ] && break; sleep 0.05; done
seen=0
for _ in $(seq 200); do
	seen=$(q -c "SELECT count(*) FROM flashd.units WHERE station = 'st-live'")
	[ "$seen" -ge 1 ] && break
	sleep 0.1
done
alive=no
kill -0 "$(cat "$d/flashd.pid" 2>/dev/null)" 2>/dev/null && alive=yes
touch "$d/seen"
wait "$sim_pid"
if [ "$seen" -ge 1 ] && [ $alive = yes ]; then
	ok "a live flashd's finished unit reaches PostgreSQL while flashd runs ($seen seen)"
else
	nok "live unit reaches the server while flashd runs" "seen $seen, flashd alive: $alive" \
		"$(tail -n 3 "$d/flashd.log" "$tmp/stlive.log" 2>&1)"
fi
local_n=$(sqlite3 "$d/f.db" "SELECT count(*) FROM units WHERE result = 'pass'")
for _ in $(seq 100); do
	[ "$(q -c "SELECT max(seq) FROM flashd.outbox WHERE station = 'st-live'")" = \
		"$(sqlite3 "$d/f.db" "SELECT max(seq) FROM outbox")" ] && break
	sleep 0.1
done
kill "$sync_pid"
wait "$sync_pid" 2>/dev/null
central_n=$(q -c "SELECT count(*) FROM flashd.units WHERE station = 'st-live' AND result = 'pass'")
if [ "$local_n" = 6 ] && [ "$central_n" = 6 ] && [ "$(cat "$d/exit" 2>/dev/null)" = 0 ]; then
	ok "the live station's 6 units are on the server, all pass"
else
	nok "live station counts" "local $local_n, central $central_n, exit $(cat "$d/exit" 2>/dev/null)" \
		"$(tail -n 3 "$d/sim.log" "$d/flashd.log" 2>&1)"
fi
station_union() { # the live station only, through the same comparison
	local args=() a
	for a in "$@"; do [ "$a" = --station ] || [ "$a" = st-live ] || args+=("$a"); done
	"$ctl" --db "$d/f.db" "${args[@]}" | norm | uniq
}
same "export --format json --station st-live (live flashd)" export --format json --station st-live
same "export --images --station st-live (live flashd)" export --images --station st-live
same "log --station st-live (live flashd)" log --station st-live --format csv
same "stats --by slot --station st-live (live flashd)" stats --by slot --station st-live
for k in LIVE1 LIVE6; do
	"$ctl" fleet show --format json --db-url "$url" "$k" >"$tmp/show.fleet" 2>&1
	"$ctl" --db "$d/f.db" show --format json "$k" >"$tmp/show.station" 2>&1
	if grep -q '"verified":[[:space:]]*true' "$tmp/show.fleet" && cmp -s "$tmp/show.fleet" "$tmp/show.station"; then
		ok "fleet show $k (live flashd, stages and verified images) equals the station's"
	else
		nok "fleet show $k (live)" "$(diff "$tmp/show.station" "$tmp/show.fleet" | head -6)"
	fi
done

exit $((fails > 0))
