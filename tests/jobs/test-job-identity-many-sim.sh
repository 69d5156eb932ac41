#!/usr/bin/env bash
# Identity pools (issue 18) with 16 boards of three families at once under
# one flashsim: one job-tool per port, all drawing from the same pools in one
# database.  Every value is distinct, each board's dump holds the values the
# database gives its unit at the place the example recipe says, and
# `flashctl pool audit` is clean.
set -u
top=${FLASHD_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${FLASHD_BUILD:-$top/build/default}
sim=$build/flashsim
tool=$build/tests/tools/job-tool
flashctl=$build/flashctl
dbinit=$build/tests/tools/db-init
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
recipes=$top/jobs/recipes

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }

db=$tmp/many.db
"$dbinit" "$db" &&
	"$flashctl" --db "$db" pool create serial --kind counter --format 'SN{seq:6}' --first 1 \
		--last 999 >/dev/null &&
	"$flashctl" --db "$db" pool create mac --kind mac --first 02:00:00:00:00:00 \
		--last 02:00:00:00:0f:ff --per-unit 2 >/dev/null || { nok many_setup; exit 1; }

# 6 STM32L476, 5 i.MX6Q, 5 Ingenic T31; ports say the family.
python3 - "$tmp/scenario.json" "$tmp/ports" <<'EOF'
import json, sys
boards, ports = [], []
for i in range(6):
    boards.append({"id": "s%d" % i, "type": "stm32l476-dfuse", "port": "1-1.%d" % (i + 1),
                   "serial": "MANY-L4-%d" % i})
    ports.append("1-1.%d stm32-l476-identity" % (i + 1))
for i in range(5):
    boards.append({"id": "m%d" % i, "type": "imx6q-sdp", "port": "1-2.%d" % (i + 1),
                   "uid": "%016x" % (0x906709d4d72d7300 + i)})
    ports.append("1-2.%d imx6q-identity" % (i + 1))
for i in range(5):
    boards.append({"id": "g%d" % i, "type": "ingenic-t31", "port": "1-3.%d" % (i + 1),
                   "uid": "%032x" % (0xa1b2c3d4e5f60718293a4b5c6d7e8f00 + i), "fill": "random:%d" % i})
    ports.append("1-3.%d ingenic-t31-identity" % (i + 1))
json.dump({"time_scale": 0.001, "boards": boards}, open(sys.argv[1], "w"))
open(sys.argv[2], "w").write("\n".join(ports) + "\n")
EOF
cat >"$tmp/run-all.sh" <<EOF
#!/usr/bin/env bash
rc=0
while read -r port recipe; do
	"$tool" --db "$db" --recipe "$recipes/\$recipe.json" --port "\$port" --deadline-pct 10 \\
		>"$tmp/job-\$port.log" 2>&1 &
done <"$tmp/ports"
for p in \$(jobs -p); do wait "\$p" || rc=1; done
exit \$rc
EOF
timeout 600 "$sim" --scenario "$tmp/scenario.json" --dump-dir "$tmp/dump" -- bash "$tmp/run-all.sh" \
	>"$tmp/sim.log" 2>&1
rc=$?
res=$(sqlite3 "$db" "SELECT group_concat(result, ' ') FROM (SELECT result FROM units ORDER BY id)" 2>&1)
if [ "$rc" -eq 0 ] && [ "$res" = "$(printf 'pass %.0s' $(seq 16) | sed 's/ $//')" ]; then
	ok many_sixteen_boards_pass
else
	nok many_sixteen_boards_pass "rc=$rc results=$res" "$(grep -h 'fail' "$tmp"/job-*.log | head -5)"
fi

# Each board's dump against its unit's values in the database.
out=$(python3 - "$db" "$tmp/dump" <<'EOF' 2>&1
import sqlite3, sys, zlib, struct
db, dump = sqlite3.connect(sys.argv[1]), sys.argv[2]
mac = lambda b: ':'.join('%02x' % x for x in b)
bad, values = [], []
for uid, port in db.execute("SELECT id, port FROM units ORDER BY id"):
    vals = [v for (v,) in db.execute("SELECT value FROM unit_identities WHERE unit_id = ? "
                                     "AND state = 'used' ORDER BY id", (uid,))]
    values += vals
    fam, idx = port.split('.')[0], int(port.split('.')[1]) - 1
    if fam == '1-1':
        f = open('%s/s%d.flash.bin' % (dump, idx), 'rb').read()[0xff800:0xff800 + 32]
        got = [f[:16].rstrip(b'\0').decode('latin-1'), mac(f[16:22]), mac(f[22:28])]
        crc = struct.unpack('<I', f[28:32])[0] == zlib.crc32(f[:28])
    elif fam == '1-2':
        h = open('%s/m%d.emmc.bin' % (dump, idx), 'rb'); h.seek(0xc0000); env = h.read(8192)
        crc = struct.unpack('<I', env[:4])[0] == zlib.crc32(env[4:])
        kv = dict(x.decode().split('=', 1) for x in env[4:].split(b'\0\0')[0].split(b'\0') if x)
        got = [kv.get('serial#'), kv.get('ethaddr'), kv.get('eth1addr')]
    else:
        h = open('%s/g%d.nor.bin' % (dump, idx), 'rb'); h.seek(0x3f0000); f = h.read(64)
        crc = struct.unpack('<I', f[60:64])[0] == zlib.crc32(f[:60])
        got = [f[4:28].rstrip(b'\0').decode('latin-1'), mac(f[28:34])]
        vals = vals[:2]
    if not crc or got != vals:
        bad.append('%s: dump %s crc %s, db %s' % (port, got, crc, vals))
print('values %d distinct %d' % (len(values), len(set(values))))
print('\n'.join(bad) if bad else 'dumps match')
EOF
)
if [ "$out" = "values 48 distinct 48
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
