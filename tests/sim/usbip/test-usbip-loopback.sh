#!/usr/bin/env bash
# Host-side tests of usbip-sim (tests/sim/usbip/README.md), no VM, no root:
# --loopback replaces the sysfs attach with a UNIX socket, and
# test-usbip-client.c plays vhci_hcd (enumeration, DFU and fastboot
# requests, unlinks, unplug/replug, re-attach after EBUSY).  Then the dump,
# the attach line written to a fake vhci directory, and the errors.
# Prints "ok - NAME" / "not ok - NAME".
#   usage: test-usbip-loopback.sh [BUILD_DIR]
#   env: FLASHD_TOP, FLASHD_BUILD (set by tests/run-tests.sh)
. "$(dirname "$0")/../../lib/testlib.sh"
top=${FLASHD_TOP:-$(cd "$(dirname "$0")/../../.." && pwd)}
build=${1:-${FLASHD_BUILD:-$top/build/default}}
build=$(cd "$build" && pwd)
sim=$build/usbip-sim
tmp=$(mktemp -d /tmp/test-usbip.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
pass() { echo "ok - usbip: $1"; }
fail() {
	failed=1
	echo "not ok - usbip: $1"
	shift
	for f in "$@"; do [ -f "$f" ] && sed 's/^/#   /' "$f" | tail -20; done
}

# wait_for FILE SECONDS
wait_for() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

if [ ! -x "$sim" ]; then
	echo "not ok - usbip: usbip-sim is built ($sim; make $build/usbip-sim)"
	exit 1
fi

# The client is compiled here, not by the Makefile (test-*.c stay out of
# usbip-sim), and not named test-* so that run-tests.sh does not run it.
client=$build/tests/sim/usbip/usbip-client
san=()
[[ $build == */asan ]] && san=(-fsanitize=address,undefined -fno-omit-frame-pointer)
mkdir -p "$(dirname "$client")"
if ! cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE "${san[@]}" \
	-o "$client" "$top/tests/sim/usbip/test-usbip-client.c" 2>"$tmp/cc.err"; then
	fail client_builds "$tmp/cc.err"
	exit 1
fi

# --- the loopback run: three boards, one per port ---
#  b1: DfuSe ROM, GETSTATE hangs twice, cable pulled at 5 s, back at 5.5 s
#  b2: DfuSe ROM answering every request after 300 ms (real time)
#  b3: i.MX6Q already in U-Boot's fastboot gadget (bulk, high speed)
cat >"$tmp/scn.json" <<'J'
{
	"time_scale": 0.001,
	"boards": [
		{ "id": "b1", "type": "stm32f405-dfuse", "port": "1-1", "serial": "0123456789AB",
		  "unplug_ms": 5000, "replug_ms": 5500,
		  "faults": [ { "kind": "hang", "request": 5, "count": 2 } ] },
		{ "id": "b2", "type": "stm32f405-dfuse", "port": "1-2", "seed": 2,
		  "timing": { "scale": 1, "xfer_overhead_us": 300000 } },
		{ "id": "b3", "type": "imx6q-sdp", "port": "1-3", "uid": "906709d4d72d7372",
		  "start": "fastboot" }
	]
}
J
lb=$tmp/lb
mkdir -p "$lb"
"$client" "$lb" "$tmp/done" >"$tmp/client.out" 2>"$tmp/client.err" &
cpid=$!
pids+=("$cpid")
if ! wait_for "$lb/listening" 5; then
	fail client_listens "$tmp/client.err"
	exit 1
fi
USBIP_SIM_DEBUG=2 "$sim" --loopback "$lb" --out "$tmp/out" --ready "$tmp/ready" "$tmp/scn.json" \
	2>"$tmp/sim.err" &
spid=$!
pids+=("$spid")
if wait_for "$tmp/ready" 5 && [ "$(cat "$tmp/ready")" = "$spid" ]; then
	pass ready_file_written
else
	fail ready_file_written "$tmp/sim.err"
fi
wait_for "$tmp/done" 30
kill -TERM "$spid" 2>/dev/null
wait "$spid"
src=$?
wait "$cpid"
crc=$?
cat "$tmp/client.out"
grep -q '^not ok' "$tmp/client.out" && failed=1
if [ $src -eq 0 ]; then pass exits_0_on_sigterm; else fail "exits_0_on_sigterm (status $src)" "$tmp/sim.err"; fi
if [ $crc -ne 0 ]; then
	echo "# client status $crc; usbip-sim log (last lines):"
	sed 's/^/#   /' "$tmp/sim.err" | tail -40
	sed 's/^/#   client: /' "$tmp/client.err" | tail -10
fi

# summary.json and the memory dumps
cat >"$tmp/check.py" <<'P'
import hashlib, json, os, sys
out = sys.argv[1]
s = json.load(open(os.path.join(out, "summary.json")))
b = {x["id"]: x for x in s["boards"]}
def check(name, cond, why=""):
    print(("ok - usbip: " if cond else "not ok - usbip: ") + name + ("" if cond else "  # " + str(why)))
b1, b2, b3 = b["b1"], b["b2"], b["b3"]
check("summary_top_level", s["time_scale"] == 0.001 and s["rig_error"] == 0, s)
keys = ["id", "type", "port", "state", "on_bus", "enumerations", "memories", "requests",
        "bytes_in", "bytes_out", "forbidden", "faults_fired", "requests_after_config"]
check("summary_has_flashsim_fields", all(k in x for x in s["boards"] for k in keys), b1.keys())
check("summary_b1_identity", b1["type"] == "stm32f405-dfuse" and b1["port"] == "1-1"
      and b1["vhci_port"] == 0 and b3["port"] == "1-3" and b3["vhci_port"] == 2, b1)
check("summary_b1_enumerated_twice_and_on_bus", b1["enumerations"] == 2 and b1["on_bus"] is True, b1)
check("summary_requests_after_config_leaves_out_the_kernels", b1["requests_after_config"] == 2
      and b1["kernel_requests_after_config"] == 1
      and b1["after_config_log"] == ["ctrl 80 06 0304 0409 255 (kernel)"] + ["ctrl a1 03 0000 0000 6"] * 2, b1)
check("summary_b2_never_configured", b2["requests_after_config"] == 0 and b2["enumerations"] == 2, b2)
check("summary_counters", b1["requests"] == 27 and b1["bytes_out"] == 2048 + 5
      and b1["bytes_in"] > 0 and b1["forbidden"] == 0, b1)
check("summary_faults_fired", len(b1["faults_fired"]) == 2
      and all("hang" in f for f in b1["faults_fired"]), b1["faults_fired"])
m = b1["memories"]["flash"]
data = open(os.path.join(out, "b1.flash.bin"), "rb").read()
check("dump_flash_size", m["size"] == 1048576 == len(data), m)
check("dump_sha256_matches_file", m["sha256"] == hashlib.sha256(data).hexdigest(), m)
pattern = bytes((i * 7 + 3) & 0xff for i in range(2048))
check("dump_flash_holds_written_block", data[:2048] == pattern and data[2048:] == b"\xff" * (len(data) - 2048))
check("dump_every_memory_written", all(
    os.path.getsize(os.path.join(out, "%s.%s.bin" % (x["id"], n))) == v["size"]
    for x in s["boards"] for n, v in x["memories"].items()))
P
if [ -f "$tmp/out/summary.json" ]; then
	python3 "$tmp/check.py" "$tmp/out" | tee "$tmp/check.out"
	grep -q '^not ok' "$tmp/check.out" && failed=1
else
	fail summary_written "$tmp/sim.err"
fi
# An unlinked URB must never be answered (vhci_hcd would drop the device).
if grep -q 'unlink pending' "$tmp/sim.err" && grep -q 'unlink queued' "$tmp/sim.err"; then
	pass debug_log_shows_both_unlink_kinds
else
	fail debug_log_shows_both_unlink_kinds "$tmp/sim.err"
fi

# --- sysfs attach against a fake vhci_hcd.0 directory: the line written ---
cat >"$tmp/one.json" <<'J'
{ "time_scale": 0.001, "boards": [ { "id": "x", "type": "stm32f405-dfuse", "port": "1-4" } ] }
J
fake=$tmp/vhci
mkdir -p "$fake/usb1"
: >"$fake/attach"
"$sim" --vhci "$fake" --duration-ms 300 --out "$tmp/out2" "$tmp/one.json" 2>"$tmp/fake.err"
rc=$?
if [ $rc -eq 0 ] && grep -Eq '^3 [0-9]+ 65541 2$' "$fake/attach"; then
	pass sysfs_attach_line_is_port_fd_devid_speed
else
	fail "sysfs_attach_line_is_port_fd_devid_speed (status $rc, line '$(cat "$fake/attach")')" "$tmp/fake.err"
fi
# Nobody holds the other end of a regular file "attach": the peer is gone at once.
if grep -q 'x port 1-4: vhci_hcd .* closed the connection' "$tmp/fake.err"; then
	pass peer_close_is_logged_not_fatal
else
	fail peer_close_is_logged_not_fatal "$tmp/fake.err"
fi

# --- rig errors: exit 2 with a message naming board and port ---
cat >"$tmp/deep.json" <<'J'
{ "boards": [ { "id": "deep", "type": "stm32f405-dfuse", "port": "1-1.2" } ] }
J
"$sim" --vhci "$fake" "$tmp/deep.json" 2>"$tmp/deep.err"
rc=$?
if [ $rc -eq 2 ] && grep -q 'usbip-sim: deep port 1-1.2: USB/IP topology is flat' "$tmp/deep.err"; then
	pass nested_port_is_refused
else
	fail "nested_port_is_refused (status $rc)" "$tmp/deep.err"
fi

"$sim" --vhci "$tmp/no-such-dir" "$tmp/one.json" 2>"$tmp/novhci.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "cannot write '$tmp/no-such-dir/attach'.*modprobe vhci-hcd" "$tmp/novhci.err"; then
	pass missing_vhci_is_a_rig_error
else
	fail "missing_vhci_is_a_rig_error (status $rc)" "$tmp/novhci.err"
fi

mkdir -p "$tmp/vhci2"
: >"$tmp/vhci2/attach"
"$sim" --vhci "$tmp/vhci2" "$tmp/one.json" 2>"$tmp/nobus.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "bus 1 is not vhci_hcd.0's high-speed root hub" "$tmp/nobus.err"; then
	pass bus1_must_be_vhci
else
	fail "bus1_must_be_vhci (status $rc)" "$tmp/nobus.err"
fi

# An attach that fails for good (here: "attach" is a directory) ends the run.
mkdir -p "$tmp/vhci3/usb1" "$tmp/vhci3/attach"
"$sim" --vhci "$tmp/vhci3" --out "$tmp/out3" "$tmp/one.json" 2>"$tmp/attach.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "usbip-sim: x port 1-4: cannot attach to vhci port 3" "$tmp/attach.err" &&
	[ -f "$tmp/out3/summary.json" ]; then
	pass attach_failure_exits_2
else
	fail "attach_failure_exits_2 (status $rc)" "$tmp/attach.err"
fi

"$sim" --loopback "$lb" "$tmp/missing.json" 2>"$tmp/noscn.err"
rc=$?
if [ $rc -eq 2 ] && grep -q 'missing.json' "$tmp/noscn.err"; then
	pass bad_scenario_exits_2
else
	fail "bad_scenario_exits_2 (status $rc)" "$tmp/noscn.err"
fi

# UBSan (halt_on_error) and LeakSanitizer report on stderr (build/asan).
if grep -lE 'runtime error|Sanitizer' "$tmp"/*.err >"$tmp/san.list" 2>/dev/null; then
	fail "no_sanitizer_reports ($(tr '\n' ' ' <"$tmp/san.list"))" $(cat "$tmp/san.list")
else
	pass no_sanitizer_reports
fi
exit $failed
