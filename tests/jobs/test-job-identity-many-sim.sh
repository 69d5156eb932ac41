#!/usr/bin/env bash
# Identity pools (issue 18) with N boards (default 64) of three families at
# once through flashd: umockdev follows at most 50 emulated fds in one
# process (FD_MAP_MAX), so 32 boards an instance, each instance its own
# flashsim and station, all drawing from the same pools in one database
# file.  Runtime ~55 s (64 boards, 2 busy cores).  Every value is distinct, each
# board's dump holds the values the database gives its unit at the place the
# example recipe says (CRC valid: U-Boot env, raw records), and `flashctl
# pool audit` is clean.  N=16 for a quicker run.
. "$(dirname "$0")/../lib/testlib.sh"
flashctl=$build/flashctl
dbinit=$build/tests/tools/db-init
recipes=$top/jobs/recipes

db=$tmp/many.db
"$dbinit" "$db" &&
	"$flashctl" --db "$db" pool create serial --kind counter --format 'SN{seq:6}' --first 1 \
		--last 999 >/dev/null &&
	"$flashctl" --db "$db" pool create mac --kind mac --first 02:00:00:00:00:00 \
		--last 02:00:00:00:0f:ff --per-unit 2 >/dev/null || { nok many_setup; exit 1; }

n=${N:-64}
# STM32L476, i.MX6Q and Ingenic T31 in turn, eight ports a hub (1-H.P);
# the board ID's letter says the family.
python3 - "$tmp/scenario.json" "$tmp/ports" "$n" <<'EOF'
import json, sys
boards, ports = [], []
for k in range(int(sys.argv[3])):
    fam, i, port = "smg"[k % 3], k // 3, "1-%d.%d" % (1 + k // 8, 1 + k % 8)
    # Plugged once both flashd have started (see below).
    b = {"id": "%s%d" % (fam, i), "port": port, "plug_ms": 8000}
    if fam == "s":
        b.update(type="stm32l476-dfuse", serial="MANY-L4-%d" % i)
        recipe = "stm32-l476-identity"
    elif fam == "m":
        b.update(type="imx6q-sdp", uid="%016x" % (0x906709d4d72d7300 + i))
        recipe = "imx6q-identity"
    else:
        b.update(type="ingenic-t31", uid="%032x" % (0xa1b2c3d4e5f60718293a4b5c6d7e8f00 + i),
                 fill="random:%d" % i)
        recipe = "ingenic-t31-identity"
    boards.append(b)
    ports.append("%s %s %s" % (port, recipe, b["id"]))
# 32 boards an instance (umockdev follows at most 50 fds in one process).
for k in range(0, len(boards), 32):
    json.dump({"time_scale": 0.001, "boards": boards[k:k + 32]},
              open("%s-%d.json" % (sys.argv[1], k // 32), "w"))
open(sys.argv[2], "w").write("\n".join(ports) + "\n")
EOF
# flashd, one instance a 32 boards, each its own station and flashsim, on
# one database file and the same pools (stations sharing a database).  The
# boards arrive 8 s after the start (both flashd up, also under load).  A
# flashd starting recovers only its own station's units left 'running'
# (db_recover_interrupted() and db_pool_recover() are scoped by station:
# tests/daemon/test-flashd-shared-db.sh).
mkdir -p "$tmp/recipes"
cp -r "$recipes/images" "$tmp/recipes/"
for r in stm32-l476 imx6q ingenic-t31; do
	sed 's/"ports": \["1-2\.\*"\]/"ports": ["1-*"]/' "$recipes/$r-identity.json" >"$tmp/recipes/$r-identity.json"
done
cat >"$tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
# STATION NBOARDS: flashd until that many of its units ended.
set -u
t=$1 st=$2 nb=$3 B=$FLASHD_BUILD
printf 'station = %s\nallow_ports = 1-*\nmax_jobs = 32\n' "$st" >"$t/$st.conf"
"$B/flashd" --config "$t/$st.conf" --recipes "$t/recipes" --db "$t/many.db" --control "$t/$st.ctl" \
	--log-stderr 2>"$t/$st.log" &
pid=$!
for _ in $(seq 2400); do
	[ "$(sqlite3 "$t/many.db" "SELECT count(*) FROM units WHERE station = '$st' AND result != 'running'" 2>/dev/null)" -ge "$nb" ] && break
	sleep 0.05
done
kill -TERM "$pid"
wait "$pid"
EOF
chmod +x "$tmp/driver.sh"
rc=0
for scn in "$tmp"/scenario.json-*.json; do
	k=${scn%.json}
	k=${k##*-}
	nb=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["boards"]))' "$scn")
	FLASHD_BUILD=$build timeout 600 "$sim" --scenario "$scn" --dump-dir "$tmp/dump" -- \
		"$tmp/driver.sh" "$tmp" "many-$k" "$nb" >"$tmp/sim-$k.log" 2>&1 &
done
for p in $(jobs -p); do wait "$p" || rc=1; done
res=$(sqlite3 "$db" "SELECT group_concat(result, ' ') FROM (SELECT result FROM units ORDER BY id)" 2>&1)
if [ "$rc" -eq 0 ] && [ "$res" = "$(printf 'pass %.0s' $(seq "$n") | sed 's/ $//')" ]; then
	ok many_all_boards_pass
else
	nok many_all_boards_pass "rc=$rc results=$res" "$(grep -h ': fail' "$tmp"/many-*.log | head -5)"
fi

# Each board's dump against its unit's values in the database.
out=$(python3 - "$db" "$tmp/dump" "$tmp/ports" <<'EOF' 2>&1
import sqlite3, sys, zlib, struct
db, dump = sqlite3.connect(sys.argv[1]), sys.argv[2]
board = dict((l.split()[0], l.split()[2]) for l in open(sys.argv[3]))
mac = lambda b: ':'.join('%02x' % x for x in b)
bad, values = [], []
for uid, port in db.execute("SELECT id, port FROM units ORDER BY id"):
    vals = [v for (v,) in db.execute("SELECT value FROM unit_identities WHERE unit_id = ? "
                                     "AND state = 'used' ORDER BY id", (uid,))]
    values += vals
    fam, bid = board[port][0], board[port]
    if fam == 's':
        f = open('%s/%s.flash.bin' % (dump, bid), 'rb').read()[0xff800:0xff800 + 32]
        got = [f[:16].rstrip(b'\0').decode('latin-1'), mac(f[16:22]), mac(f[22:28])]
        crc = struct.unpack('<I', f[28:32])[0] == zlib.crc32(f[:28])
    elif fam == 'm':
        h = open('%s/%s.emmc.bin' % (dump, bid), 'rb'); h.seek(0xc0000); env = h.read(8192)
        crc = struct.unpack('<I', env[:4])[0] == zlib.crc32(env[4:])
        kv = dict(x.decode().split('=', 1) for x in env[4:].split(b'\0\0')[0].split(b'\0') if x)
        got = [kv.get('serial#'), kv.get('ethaddr'), kv.get('eth1addr')]
    else:
        h = open('%s/%s.nor.bin' % (dump, bid), 'rb'); h.seek(0x3f0000); f = h.read(64)
        crc = struct.unpack('<I', f[60:64])[0] == zlib.crc32(f[:60])
        got = [f[4:28].rstrip(b'\0').decode('latin-1'), mac(f[28:34])]
        vals = vals[:2]
    if not crc or got != vals:
        bad.append('%s: dump %s crc %s, db %s' % (port, got, crc, vals))
print('values %d distinct %d' % (len(values), len(set(values))))
print('\n'.join(bad) if bad else 'dumps match')
EOF
)
nv=$((n * 3))
if [ "$out" = "values $nv distinct $nv
dumps match" ]; then
	ok many_each_dump_holds_its_units_distinct_values
else
	nok many_each_dump_holds_its_units_distinct_values "$out"
fi
if "$flashctl" --db "$db" pool audit >"$tmp/audit.out" 2>&1; then
	ok many_pool_audit_clean
else
	nok many_pool_audit_clean "$(cat "$tmp/audit.out")"
fi
