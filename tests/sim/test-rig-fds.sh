#!/usr/bin/env bash
# The rig holds no fd per old enumeration: a board that re-enumerates many
# times (tests/bench/soak.sh does it 20,000 times) must not exhaust
# flashsim's fds (the soak died at 7,600 units with "Too many open files"
# when every gone node kept its ioctl socket and FIFO until the end).
# 40 cycles of SDP boot -> U-Boot fastboot -> fastboot reboot -> ROM.
# Prints "ok - NAME" / "not ok - NAME".
set -u
. "$(dirname "$0")/imx-lib.sh"
tool=$build/tests/tools/imx-tool
cat >"$tmp/rom.json" <<JSON
{ "time_scale": 0.001,
  "boards": [ { "id": "b1", "type": "imx6q-sdp", "port": "1-1.2.3", "uid": "906709d4d72d7372" } ] }
JSON
cat >"$tmp/cycle.sh" <<SH
#!/usr/bin/env bash
# flashsim is this script's parent: count its fds after 5 and after 40 cycles.
for i in \$(seq 40); do
	for _ in \$(seq 200); do "$tool" -q -p 1-1.2.3 status >/dev/null 2>&1 && break; sleep 0.02; done
	"$tool" -q -p 1-1.2.3 boot "$fx/u-boot-imx6q.imx" + wait 10000 + reboot >/dev/null ||
		{ echo "cycle \$i failed"; exit 1; }
	[ \$i = 5 ] && ls /proc/\$PPID/fd | wc -l >"$tmp/fds5"
done
ls /proc/\$PPID/fd | wc -l >"$tmp/fds40"
SH
chmod +x "$tmp/cycle.sh"
t=rig_fds_do_not_grow_with_enumerations
"$sim" --scenario "$tmp/rom.json" --dump-dir "$tmp/d" -- "$tmp/cycle.sh" >"$tmp/$t.out" 2>&1
rc=$?
n5=$(cat "$tmp/fds5" 2>/dev/null) n40=$(cat "$tmp/fds40" 2>/dev/null)
echo "# flashsim fds after 5 cycles: ${n5:-?}, after 40: ${n40:-?}; enumerations $(jget "$tmp/d" enumerations)"
[ $rc -eq 0 ] && [ -n "$n5" ] && [ -n "$n40" ] && [ $((n40 - n5)) -le 10 ] && pass $t ||
	fail $t "$tmp/$t.out"
