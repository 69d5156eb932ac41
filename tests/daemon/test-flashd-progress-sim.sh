#!/usr/bin/env bash
# Live progress that moves (issue #17 item 1): flashd under flashsim flashes
# an STM32F405 (DfuSe erases each sector before writing) and an Ingenic T31
# (the burner erases the whole partition inside its first WRITE reply)
# while `flashctl status --json` is sampled.  During both erases the port
# shows phase "erase" with a nonzero done count that moves; during writes
# the rate is nonzero; the unit's ETA is given and goes down.  A third
# board fails in its first stage: its row still says which board it was
# (the USB serial the daemon read at arrival, item 5).
. "$(dirname "$0")/../lib/testlib.sh"

mkdir -p "$tmp/recipes"
cp -r "$top/jobs/recipes/images" "$tmp/recipes/"
cp "$top/jobs/recipes/stm32-f405.json" "$tmp/recipes/"
# The T31 example without its 13 MiB rootfs write: the 2.5 MiB kernel
# partition's erase is long enough to watch at this time scale.
python3 - "$top/jobs/recipes/ingenic-t31.json" "$tmp/recipes/ingenic-t31.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["stages"] = [s for s in r["stages"] if s.get("partition") != "rootfs"]
json.dump(r, open(sys.argv[2], "w"))
EOF
cat >"$tmp/scenario.json" <<'EOF'
{ "time_scale": 0.5, "hubs": ["1-1"],
  "boards": [
    { "id": "stm32", "type": "stm32f405-dfuse", "port": "1-1.1", "serial": "F405P0001", "plug_ms": 0 },
    { "id": "t31", "type": "ingenic-t31", "port": "1-1.2", "uid": "7310000000000000000000000000b001", "plug_ms": 0 },
    { "id": "early", "type": "stm32f405-dfuse", "port": "1-1.3", "serial": "F405P0003", "plug_ms": 0,
      "faults": [ { "kind": "unplug", "after_bytes": 1000 } ] } ] }
EOF
printf 'station = progress-line\nmax_jobs = 4\n' >"$tmp/flashd.conf"
cat >"$tmp/driver.sh" <<EOF
#!/usr/bin/env bash
set -u
"$build/flashd" --config "$tmp/flashd.conf" --recipes "$tmp/recipes" --db "$tmp/f.db" \
	--control "$tmp/ctl" --log-stderr 2>"$tmp/flashd.log" &
pid=\$!
finished() { sqlite3 "$tmp/f.db" "SELECT count(*) FROM units WHERE result != 'running'" 2>/dev/null || echo 0; }
for _ in \$(seq 1200); do
	"$build/flashctl" status --socket "$tmp/ctl" --json >>"$tmp/samples.jsonl" 2>/dev/null && echo >>"$tmp/samples.jsonl"
	"$build/flashctl" status --socket "$tmp/ctl" >>"$tmp/table.txt" 2>/dev/null
	[ "\$(finished)" -ge 3 ] && break
	sleep 0.05
done
kill -TERM \$pid
wait \$pid
EOF
chmod +x "$tmp/driver.sh"
"$sim" --scenario "$tmp/scenario.json" -- "$tmp/driver.sh" >"$tmp/sim.log" 2>&1

python3 - "$tmp/samples.jsonl" "$tmp/f.db" "$tmp/table.txt" <<'EOF'
import json, sqlite3, sys
fails = 0
def check(name, cond, *why):
    global fails
    print(("ok - " if cond else "not ok - ") + name)
    if not cond:
        fails += 1
        for w in why:
            print("#   " + str(w))

samples = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line:
        try:
            samples.append(json.loads(line))
        except ValueError:
            pass
db = sqlite3.connect(sys.argv[2])
rows = db.execute("SELECT port, result FROM units WHERE port != '1-1.3' ORDER BY port").fetchall()
check("both units pass", rows == [("1-1.1", "pass"), ("1-1.2", "pass")], rows)
early = db.execute("SELECT serial, result, failed_stage FROM units WHERE port = '1-1.3'").fetchall()
check("a board failing in its first stage has its USB serial in the row",
      early == [("F405P0003", "fail", "bootloader")], early)
per = {}
for s in samples:
    for p in s.get("ports", []):
        if p.get("state") in ("flashing", "awaiting"):
            per.setdefault(p["port"], []).append(p)

def erase_moves(port, stage):
    """Erase samples of one stage: a nonzero done below total, two values."""
    ss = [p for p in per.get(port, []) if p.get("phase") == "erase" and p.get("stage") == stage]
    done = [p["done"] for p in ss]
    mid = [d for p, d in zip(ss, done) if 0 < d < p["total"]]
    return ss, len(set(done)) >= 2 and len(mid) >= 1 and done == sorted(done)

ss, moved = erase_moves("1-1.1", "application")
check("STM32: phase erase with a moving, nonzero sector count", moved,
      [(p["done"], p["total"]) for p in ss][:20])
ing = [p for p in per.get("1-1.2", []) if p.get("phase") == "erase" and p.get("stage_index") == 4]
dv = [p["done"] for p in ing]
check("Ingenic: phase erase while the burner erases the kernel partition, done moving",
      len(set(d for d in dv if d > 0)) >= 2 and dv == sorted(dv), dv[:30])
writes = [p for ps in per.values() for p in ps if p.get("phase") == "write"]
check("RATE nonzero during a write", any(p.get("rate_bps", 0) > 0 for p in writes),
      [(p["port"], p["done"], p.get("rate_bps")) for p in writes][:20])
eta = [p.get("eta_ms") for p in ing if isinstance(p.get("eta_ms"), (int, float))]
check("ETA present during the Ingenic erase and decreasing", len(eta) >= 3 and eta[-1] < eta[0]
      and all(b <= a for a, b in zip(eta, eta[1:])), eta[:30])
table = open(sys.argv[3]).read()
check("flashctl status shows PHASE and ETA columns and an erase row",
      "PHASE" in table and "ETA" in table and " erase " in table, table[:600])
sys.exit(1 if fails else 0)
EOF
rc=$?
[ $rc -eq 0 ] || { echo "# flashd log:"; tail -20 "$tmp/flashd.log" | sed 's/^/#   /'; }
exit $rc
