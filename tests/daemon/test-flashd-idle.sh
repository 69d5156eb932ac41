#!/usr/bin/env bash
# An idle flashd does nothing (issue 16 item 3): no tick.  Stage deadlines,
# local midnight, database retries and a rate-limited STATUS= are one-shot
# timers armed only when there is something to wait for, so a station with
# no board and a writable database sleeps in epoll_wait until an event
# comes.  Counted over 5 s of an idle daemon: its context switches (each
# wake-up of any of its threads is one; /proc/PID/task/*/status) and the
# STATUS= messages it sends to $NOTIFY_SOCKET.  A 250 ms tick makes about
# 20 of each.
. "$(dirname "$0")/../lib/testlib.sh"
pid= npid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$npid" ] && kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
	testlib_cleanup
}
trap cleanup EXIT

mkdir -p "$tmp/recipes"
printf 'station = idle-line\n' >"$tmp/flashd.conf"

# STATUS= as systemd would get it: a datagram socket, one line per message.
cat >"$tmp/notify.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'a') as f:
    while True:
        m = s.recv(4096).decode(errors='replace')
        for l in m.split('\n'):
            if l.startswith('STATUS='):
                f.write(l + '\n')
                f.flush()
EOF
python3 "$tmp/notify.py" "$tmp/notify" "$tmp/status.txt" &
npid=$!
for _ in $(seq 100); do [ -S "$tmp/notify" ] && break; sleep 0.02; done

NOTIFY_SOCKET=$tmp/notify "$build/flashd" --config "$tmp/flashd.conf" --recipes "$tmp/recipes" \
	--db "$tmp/f.db" --control "$tmp/ctl" --log-stderr 2>"$tmp/flashd.log" &
pid=$!
for _ in $(seq 200); do grep -q "in use: 0 loaded" "$tmp/flashd.log" && break; sleep 0.05; done
grep -q "in use: 0 loaded" "$tmp/flashd.log" && ok "flashd started and loaded its (empty) recipes" ||
	nok "flashd started and loaded its (empty) recipes" "$(cat "$tmp/flashd.log")"
# Let the start-up STATUS= (rate-limited) go out before counting.
sleep 1

switches() { cat /proc/"$pid"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'; }
statuses() { wc -l <"$tmp/status.txt" 2>/dev/null || echo 0; }
s0=$(switches) n0=$(statuses)
sleep 5
s1=$(switches) n1=$(statuses)
kill -0 "$pid" 2>/dev/null && ok "flashd still runs" || nok "flashd still runs" "$(cat "$tmp/flashd.log")"
# A couple of wake-ups are allowed for the unexpected (a signal, the kernel); a tick makes ~20.
[ $((s1 - s0)) -le 2 ] && ok "idle for 5 s: $((s1 - s0)) wake-ups" ||
	nok "idle for 5 s: no wake-ups" "$((s1 - s0)) context switches in 5 s"
[ $((n1 - n0)) -eq 0 ] && ok "idle for 5 s: no STATUS= sent" ||
	nok "idle for 5 s: no STATUS= sent" "$((n1 - n0)) sent in 5 s:" "$(tail -n 3 "$tmp/status.txt")"
[ "$(statuses)" -ge 1 ] && ok "STATUS= was sent at start-up" ||
	nok "STATUS= was sent at start-up" "none"
exit $((fails > 0))
