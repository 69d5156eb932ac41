# Shared by tests/web/test-*.sh: tests/lib/testlib.sh (top, build, tmp,
# ok/nok/check, sha) plus a free port, flashd-web start/stop and a station.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/testlib.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# web_start DIR CONF PORT: flashd-web in the background ($web_pid), up when it answers.
web_start() {
	"$build/flashd-web" --config "$2" --log-stderr 2>>"$1/web.log" &
	web_pid=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$3/metrics" && return 0
		sleep 0.05
	done
	return 1
}
web_stop() { [ -n "${web_pid:-}" ] && kill "$web_pid" 2>/dev/null && wait "$web_pid" 2>/dev/null; web_pid=; }
# get URL OUT: body to OUT, "CODE" to stdout.
get() { curl -s -o "$2" -w '%{http_code}' "$1"; }

# station_setup DIR PORT [APP_BYTES]: a recipe with two images (app.bin is
# APP_BYTES, 80 KiB unless given), flashd.conf (slots A1-A5 on 1-1.1..1-1.5),
# web.conf listening on PORT, and a flashsim scenario of four boards on A1-A4
# of which the third fails (errPROG in stage app).
station_setup() {
	local d=$1 port=$2 app_bytes=${3:-81920}
	mkdir -p "$d/recipes/images"
	head -c 24576 /dev/urandom >"$d/recipes/images/boot.bin"
	head -c "$app_bytes" /dev/urandom >"$d/recipes/images/app.bin"
	cat >"$d/recipes/stm32-web.json" <<JSON
{ "name": "stm32-web", "match": { "vid": "0483", "pid": "df11" },
  "serial": { "source": "usb_serial" },
  "stages": [
    { "op": "dfuse.download", "name": "boot", "address": "0x08000000", "file": "images/boot.bin",
      "sha256": "$(sha "$d/recipes/images/boot.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.download", "name": "app", "address": "0x08020000", "file": "images/app.bin",
      "sha256": "$(sha "$d/recipes/images/app.bin")", "erase": "pages", "verify": "readback" },
    { "op": "dfuse.leave", "address": "0x08000000" } ] }
JSON
	cat >"$d/flashd.conf" <<CONF
station = web-line
recipe_dir = $d/recipes
database = $d/f.db
control_socket = $d/ctl
slot.1-1.1 = A1
slot.1-1.2 = A2
slot.1-1.3 = A3
slot.1-1.4 = A4
slot.1-1.5 = A5
CONF
	cat >"$d/web.conf" <<CONF
listen = 127.0.0.1:$port
flashd_conf = $d/flashd.conf
events_socket = $d/events
CONF
	cat >"$d/scenario.json" <<JSON
{ "time_scale": 0.01, "boards": [
  { "id": "b1", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "SNW001" },
  { "id": "b2", "type": "stm32f405-dfuse", "port": "1-1.2", "serial": "SNW002", "plug_ms": 300 },
  { "id": "b3", "type": "stm32f405-dfuse", "port": "1-1.3", "serial": "SNW003", "plug_ms": 600,
    "faults": [ { "kind": "program_error", "step": "download", "skip": 20 } ] },
  { "id": "b4", "type": "stm32f405-dfuse", "port": "1-1.4", "serial": "SNW004", "plug_ms": 900 } ] }
JSON
}
