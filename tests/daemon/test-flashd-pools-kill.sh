#!/usr/bin/env bash
# flashd killed with SIGKILL at random moments while boards draw from
# identity pools (issue 18, Tests: "kill -9 of flashd at random moments
# x20").  Twelve simulated boards of three families (STM32L476, i.MX6Q,
# Ingenic T31, the example recipes jobs/recipes/*-identity.json) arrive
# over the first 24 s and are power-cycled 5 s later; flashd is started,
# killed after a seeded random delay, and started again on the same
# database, KILLS times.  An interrupted board still on its port is
# flashed again by the next flashd; a board that passed and comes back is
# a rework (recipe "rework": "keep": it takes over its values).  Pool
# 'serial' has policy reuse, pool 'mac' burn.  After each kill and after
# each restart `flashctl pool audit` exits 0; once settled:
#   - no value is held by two units at once (a released row is followed
#     only by a later holder);
#   - a value went back to the pool only unwritten (no device_written mark,
#     no finished stage of its unit that stores to the device, from
#     unit_stages), only under reuse or as a rework's hand-back;
#   - a unit with a finished storing stage has its values marked written;
#   - burned values never come back; nothing is left allocated; pool_values
#     agree with the last unit record of each value;
#   - each board whose last unit passed holds that unit's values in its
#     dump at the place its recipe says (CRC valid), all distinct.  (An
#     i.MX killed after sdp.boot waits in fastboot mode for a power cycle.)
# SEED=N replays a run (the seed is printed); KILLS=N (default 20).
# Runtime ~60 s on 2 busy cores.
. "$(dirname "$0")/../lib/testlib.sh"
flashctl=$build/flashctl
need flashd_pools_kill "$sim" "$build/flashd" "$flashctl" "$build/tests/tools/db-init" python3 sqlite3
seed=${SEED:-$(( $(date +%s%N) % 100000 ))}
kills=${KILLS:-20}
echo "# seed $seed (SEED=$seed replays), $kills kills"

db=$tmp/f.db
F=("$flashctl" --db "$db")
"$build/tests/tools/db-init" "$db" >/dev/null &&
	"${F[@]}" pool create serial --kind counter --format 'SN{seq:6}' --first 1 --last 9999 \
		--policy reuse >/dev/null &&
	"${F[@]}" pool create mac --kind mac --first 02:00:00:00:00:00 --last 02:00:00:00:ff:ff \
		--per-unit 2 >/dev/null || { nok flashd_pools_kill_setup; exit 1; }

mkdir -p "$tmp/recipes"
cp -r "$top/jobs/recipes/images" "$tmp/recipes/"
for r in stm32-l476 imx6q ingenic-t31; do cp "$top/jobs/recipes/$r-identity.json" "$tmp/recipes/"; done
cat >"$tmp/flashd.conf" <<EOF
station = kill-line
allow_ports = 1-2.*
rearm_sec = 2
EOF

# Twelve boards arrive over the first 24 s and are power-cycled 5 s later
# (a new arrival after rearm_sec: flashed again), so units start
# throughout the kills.
python3 - "$tmp/scenario.json" <<'EOF'
import json, sys
b = []
for i in range(12):
    kind, n = "smg"[i % 3], i // 3
    d = {"id": "%s%d" % (kind, n), "port": "1-2.%d" % (i + 1), "plug_ms": i * 2000,
         "replug_ms": i * 2000 + 5000}
    if kind == "s":
        d.update(type="stm32l476-dfuse", serial="KILL-L4-%d" % n)
    elif kind == "m":
        d.update(type="imx6q-sdp", uid="%016x" % (0x906709d4d72d7310 + n))
    else:
        d.update(type="ingenic-t31", uid="%032x" % (0xa1b2c3d4e5f60718293a4b5c6d7e8f10 + n),
                 fill="random:%d" % n)
    b.append(d)
json.dump({"time_scale": 0.005, "boards": b}, open(sys.argv[1], "w"))
EOF

# Seeded delays (ms) between a flashd's start and its SIGKILL: 100..1900.
RANDOM=$seed
delays=()
for _ in $(seq "$kills"); do delays+=($((100 + RANDOM % 1800))); done
echo "# delays (ms): ${delays[*]}"

# Runs under flashsim: start, sleep, kill -9, audit; then run to the end.
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
t=$1 B=$FLASHD_BUILD
shift
start() {
	rm -f "$t/ctl"
	"$B/flashd" --config "$t/flashd.conf" --recipes "$t/recipes" --db "$t/f.db" --control "$t/ctl" \
		--log-stderr 2>>"$t/flashd.log" &
	pid=$!
	for _ in $(seq 200); do [ -S "$t/ctl" ] && break; sleep 0.025; done
}
audit() { # WHEN
	"$B/flashctl" --db "$t/f.db" pool audit >"$t/audit.out" 2>&1
	echo "$1 $?" >>"$t/audits"
	[ -s "$t/audit.out" ] && sed "s/^/$1: /" "$t/audit.out" >>"$t/audit.log"
}
n=0
for ms in "$@"; do
	n=$((n + 1))
	start
	audit "restart-$n"
	# Every fourth kill waits for a running unit first (then kills after a
	# seeded 0..199 ms), so some kills land inside a job however fast or
	# slow the machine is; the others fall where the delay puts them.
	if [ $((n % 4)) = 1 ]; then
		for _ in $(seq 400); do
			[ "$(sqlite3 "$t/f.db" "SELECT count(*) FROM units WHERE result = 'running'" 2>/dev/null)" -gt 0 ] 2>/dev/null && break
			sleep 0.01
		done
		ms=$((ms % 200))
	fi
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	echo "--- kill $n after ${ms} ms" >>"$t/flashd.log"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	audit "kill-$n"
done
start
audit final-start
# Settled: past the last power cycle (27 s), nothing running, no new unit for 2 s.
units() { sqlite3 "$t/f.db" "SELECT count(*) || '/' || sum(result = 'running') FROM units" 2>/dev/null; }
last= same=0
while [ $SECONDS -lt 120 ]; do
	u=$(units)
	if [ $SECONDS -ge 29 ] && [ "$u" = "$last" ] && [ "${u#*/}" = 0 ]; then
		same=$((same + 1))
		[ $same -ge 8 ] && break
	else
		same=0
	fi
	last=$u
	sleep 0.25
done
sleep 0.3
kill -TERM "$pid"
wait "$pid"
echo "$?" >"$t/exit"
EOF
chmod +x "$tmp/driver.sh"
timeout 300 "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/dump" -- \
	"$tmp/driver.sh" "$tmp" "${delays[@]}" >"$tmp/sim.log" 2>&1
rc=$?
check flashd_pools_kill_rig_ran "$([ "$rc" = 0 ] && [ "$(cat "$tmp/exit" 2>/dev/null)" = 0 ] && echo 0 || echo 1)" \
	"flashsim rc $rc, last flashd exit $(cat "$tmp/exit" 2>/dev/null)" "$(tail -5 "$tmp/sim.log")" \
	"$(tail -5 "$tmp/flashd.log")"

bad=$(grep -cv ' 0$' "$tmp/audits")
check flashd_pools_kill_audit_clean_after_every_kill_and_restart \
	"$([ "$bad" = 0 ] && [ "$(wc -l <"$tmp/audits")" = $((2 * kills + 1)) ] && echo 0 || echo 1)" \
	"audits: $(wc -l <"$tmp/audits"), failed: $bad" "$(head -5 "$tmp/audit.log" 2>/dev/null)"
int=$(q "$db" "SELECT count(*) FROM units WHERE result = 'interrupted'")
check flashd_pools_kill_interrupted_units "$([ "$int" -ge 1 ] && echo 0 || echo 1)" \
	"no unit was interrupted: the kills missed every job (seed $seed)"
echo "# units: $(q "$db" "SELECT group_concat(result || ' ' || n, ', ') FROM (SELECT result, count(*) n FROM units GROUP BY result)")," \
	"identities: $(q "$db" "SELECT group_concat(state || '/' || device_written || ' ' || n, ', ') FROM (SELECT state, device_written, count(*) n FROM unit_identities GROUP BY 1, 2)")"

# Invariants over the whole history, from the database.
out=$(python3 - "$db" "$tmp/recipes" <<'EOF' 2>&1
import json, os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
stores = {"dfuse.download", "fastboot.flash", "fastboot.erase", "ingenic.write"}
ops = {}
for f in os.listdir(sys.argv[2]):
    if f.endswith('.json'):
        r = json.load(open(os.path.join(sys.argv[2], f)))
        ops[r["name"]] = [s["op"] for s in r["stages"]]
bad = []
def fail(m):
    bad.append(m)
# A unit "stored" if a stage that stores to the device finished.
stored = {}
for uid, recipe in db.execute("SELECT id, recipe FROM units"):
    idx = [i for (i,) in db.execute("SELECT idx FROM unit_stages WHERE unit_id = ?", (uid,))]
    stored[uid] = any(ops[recipe][i] in stores for i in idx)
holders, rows = {}, []
for uid, pool, value, state, w in db.execute(
        "SELECT unit_id, pool, value, state, device_written FROM unit_identities ORDER BY id"):
    holders.setdefault((pool, value), []).append((uid, state))
    rows.append((uid, pool, value, state, w))
board = dict(((uid, (serial, (chip or '').upper())) for uid, serial, chip in
              db.execute("SELECT id, serial, chip_uid FROM units")))
# The same board: the same chip UID, or the same serial (db/pool-rework.c).
same = lambda a, b: (board[a][1] and board[a][1] == board[b][1]) or (board[a][0] and board[a][0] == board[b][0])
# Rework (recipe "rework": "keep"): a board flashed again takes over the
# values of its earlier passed unit (that unit's rows become 'released'),
# and the values just allocated to it go back to the pool unwritten.
def handed_over(uid, pool, value):
    hs = holders[(pool, value)]
    later = [u for u, _ in hs if u > uid]
    return bool(later) and same(later[0], uid)
reworked = set(hs[i + 1][0] for hs in holders.values() for i in range(len(hs) - 1)
               if same(hs[i][0], hs[i + 1][0]) and hs[i][1] == 'released')
for uid, pool, value, state, w in rows:
    if state == 'allocated':
        fail('unit %d still holds %s %s' % (uid, pool, value))
    if state == 'released' and not handed_over(uid, pool, value):
        if pool != 'serial' and uid not in reworked:
            fail('%s %s of unit %d released under policy burn' % (pool, value, uid))
        if w:
            fail('%s %s of unit %d released although marked written' % (pool, value, uid))
        if stored[uid] and uid not in reworked:  # a rework hands back before any write
            fail('%s %s of unit %d released although a storing stage finished' % (pool, value, uid))
    if stored[uid] and not w and state != 'released':
        fail('unit %d stored to the device, %s %s not marked written' % (uid, pool, value))
for (pool, value), hs in holders.items():
    kept = [h for h in hs if h[1] != 'released']
    if len(kept) > 1:
        fail('%s %s held by units %s' % (pool, value, hs))
    if any(s == 'burned' for _, s in hs) and len(hs) > 1 and hs[-1][1] != 'burned':
        fail('%s %s burned, then given again: %s' % (pool, value, hs))
for pool, value, state, uid in db.execute("SELECT pool, value, state, unit_id FROM pool_values"):
    hs = holders.get((pool, value), [])
    last = hs[-1] if hs else None
    want = {'used': 'used', 'burned': 'burned'}.get(last[1], 'free') if last else 'free'
    if state != want or (state != 'free' and uid != last[0]):
        fail('pool %s %s is %s (unit %s), its last unit record %s' % (pool, value, state, uid, last))
rel = sum(1 for u, p, v, s, w in rows if s == 'released' and not handed_over(u, p, v))
print('released to the pool %d, reworked units %d' % (rel, len(reworked)), file=sys.stderr)
print('\n'.join(bad[:8]) if bad else 'ok')
EOF
)
check flashd_pools_kill_no_value_twice_policy_honoured "$([ "$(tail -1 <<<"$out")" = ok ] && echo 0 || echo 1)" \
	"$out"
echo "# $(head -1 <<<"$out")"

# Each board's dump against its passing unit's values.
out=$(python3 - "$db" "$tmp/dump" <<'EOF' 2>&1
import sqlite3, sys, zlib, struct
db, dump = sqlite3.connect(sys.argv[1]), sys.argv[2]
mac = lambda b: ':'.join('%02x' % x for x in b)
bad, values, passed = [], [], 0
ports = {'1-2.%d' % (i + 1): '%s%d' % ("smg"[i % 3], i // 3) for i in range(12)}
for port, board in sorted(ports.items()):
    # The board holds what its last unit wrote, if that unit passed.  An
    # i.MX killed after sdp.boot waits in fastboot mode for an operator's
    # power cycle (no recipe for its gadget): its last unit is interrupted.
    u = db.execute("SELECT id, result FROM units WHERE port = ? ORDER BY id DESC LIMIT 1", (port,)).fetchall()
    if not u or u[0][1] != 'pass':
        print('%s: last unit %s, dump not checked' % (port, u), file=sys.stderr)
        continue
    passed += 1
    vals = [v for (v,) in db.execute("SELECT value FROM unit_identities WHERE unit_id = ? "
                                     "AND state = 'used' ORDER BY id", (u[0][0],))]
    values += vals
    if board[0] == 's':
        f = open('%s/%s.flash.bin' % (dump, board), 'rb').read()[0xff800:0xff800 + 32]
        got = [f[:16].rstrip(b'\0').decode('latin-1'), mac(f[16:22]), mac(f[22:28])]
        crc = struct.unpack('<I', f[28:32])[0] == zlib.crc32(f[:28])
    elif board[0] == 'm':
        h = open('%s/%s.emmc.bin' % (dump, board), 'rb'); h.seek(0xc0000); env = h.read(8192)
        crc = struct.unpack('<I', env[:4])[0] == zlib.crc32(env[4:])
        kv = dict(x.decode().split('=', 1) for x in env[4:].split(b'\0\0')[0].split(b'\0') if x)
        got = [kv.get('serial#'), kv.get('ethaddr'), kv.get('eth1addr')]
    else:
        h = open('%s/%s.nor.bin' % (dump, board), 'rb'); h.seek(0x3f0000); f = h.read(64)
        crc = struct.unpack('<I', f[60:64])[0] == zlib.crc32(f[:60])
        got = [f[4:28].rstrip(b'\0').decode('latin-1'), mac(f[28:34])]
        vals = vals[:2]
    if not crc or got != vals:
        bad.append('%s: dump %s crc %s, db %s' % (port, got, crc, vals))
if len(values) != len(set(values)):
    bad.append('values %d, distinct %d' % (len(values), len(set(values))))
if passed < 6:  # a loaded machine (ASan, 2 cores) times some i.MX boots out
    bad.append('only %d boards end with a pass' % passed)
print('\n'.join(bad) if bad else 'dumps match')
EOF
)
check flashd_pools_kill_each_dump_holds_its_units_distinct_values \
	"$([ "$(tail -1 <<<"$out")" = "dumps match" ] && echo 0 || echo 1)" "$out" "seed $seed"
"${F[@]}" pool audit >"$tmp/audit.end" 2>&1
check flashd_pools_kill_audit_clean_at_the_end "$?" "$(cat "$tmp/audit.end")"
[ "$fails" = 0 ] || echo "# seed $seed: SEED=$seed KEEP=1 $0 replays"
exit $((fails > 0))
