# Shared by tests/web/test-*.sh: TAP helpers, a free port, flashd-web start/stop.
top=${FLASHD_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${FLASHD_BUILD:-$top/build/default}
export FLASHD_BUILD=$build

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { # NAME CONDITION-RESULT(0/1) DETAILS...
	local name=$1 res=$2
	shift 2
	if [ "$res" -eq 0 ]; then ok "$name"; else nok "$name" "$@"; fi
}
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
