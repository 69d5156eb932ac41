#!/usr/bin/env bash
# Rig tests for flashsim itself: scenario errors, the usbfs node (read(),
# lseek(), poll gate, epoll), unplug/replug re-enumeration and prompt claim
# release between processes.  Prints "ok - NAME" / "not ok - NAME".
. "$(dirname "$0")/../lib/testlib.sh"
scn=$top/tests/sim/scenarios
tmp=$(mktemp -d /tmp/test-flashsim.XXXXXX)

pass() { echo "ok - $1"; }
fail() {
	echo "not ok - $1"
	shift
	for f in "$@"; do [ -f "$f" ] && sed 's/^/#   /' "$f" | tail -15; done
}

# --- a bad scenario names the file and the JSON path, exit 70
t=scenario_error_names_file_and_path
cat >"$tmp/bad.json" <<'J'
{ "boards": [ { "id": "a", "type": "stm32f405-dfuse", "port": "1-1" },
              { "id": "b", "type": "stm32f405-dfuse", "port": "2-x" } ] }
J
"$sim" --scenario "$tmp/bad.json" -- true >"$tmp/bad.out" 2>&1
rc=$?
if [ $rc -eq 70 ] && grep -q "bad.json: boards\[1\].port: '2-x'" "$tmp/bad.out"; then pass $t; else fail $t "$tmp/bad.out"; fi

t=bad_board_option_is_a_rig_error
cat >"$tmp/bad2.json" <<'J'
{ "boards": [ { "id": "a", "type": "stm32f405-dfuse", "port": "1-1", "no_such_option": 1 } ] }
J
"$sim" --scenario "$tmp/bad2.json" -- true >"$tmp/bad2.out" 2>&1
rc=$?
if [ $rc -eq 70 ] && grep -q "bad2.json: boards\[0\]" "$tmp/bad2.out" && grep -q no_such_option "$tmp/bad2.out"; then
	pass $t
else
	fail $t "$tmp/bad2.out"
fi

# --- the node: read() gives the descriptors as usbfs does, lseek() rewinds,
#     poll/epoll say "not ready" while nothing is reapable
t=node_read_lseek_and_poll_gate
cat >"$tmp/node.py" <<'P'
import os, select, sys
fd = os.open('/dev/bus/usb/001/002', os.O_RDWR)
blob = os.read(fd, 4096)
sysfs = open('/sys/bus/usb/devices/1-1/descriptors', 'rb').read()
assert blob == sysfs and blob[:2] == b'\x12\x01', (blob[:20], sysfs[:20])
assert os.read(fd, 4096) == b''
assert os.lseek(fd, 0, os.SEEK_SET) == 0
assert os.read(fd, 18) == sysfs[:18]
p = select.poll(); p.register(fd, select.POLLOUT)
assert p.poll(100) == [], 'gate open while idle'
ep = select.epoll(); ep.register(fd, select.EPOLLOUT)
assert ep.poll(0.1) == [], 'epoll ready while idle'
os.close(fd)
print('node ok')
P
cat >"$tmp/node.json" <<'J'
{ "time_scale": 0.001, "boards": [ { "id": "a", "type": "stm32f405-dfuse", "port": "1-1" } ] }
J
"$sim" --scenario "$tmp/node.json" -- python3 "$tmp/node.py" >"$tmp/node.out" 2>&1
if [ $? -eq 0 ] && grep -q 'node ok' "$tmp/node.out"; then pass $t; else fail $t "$tmp/node.out"; fi

# --- two dfu-util processes in sequence: the first one's claim is gone at once
t=claim_released_when_client_closes
head -c 40000 /dev/urandom >"$tmp/a.bin"
"$sim" --scenario "$tmp/node.json" --dump-dir "$tmp/seq" -- sh -c \
	"dfu-util -a 0 -s 0x08000000 -D $tmp/a.bin && dfu-util -a 0 -s 0x08000000:40000 -U $tmp/b.bin" \
	>"$tmp/seq.out" 2>&1
if [ $? -eq 0 ] && cmp -s "$tmp/a.bin" "$tmp/b.bin"; then pass $t; else fail $t "$tmp/seq.out"; fi

# --- client memory through the socket's READ_MEM/WRITE_MEM (the fallback when
#     process_vm_readv is not allowed): read(), a download and an upload
t=socket_memory_fallback_serves_read_download_upload
head -c 70000 /dev/urandom >"$tmp/s.bin"
FLASHSIM_DEBUG=1 FLASHSIM_IOCTL_VIA_SOCKET=1 "$sim" --scenario "$tmp/node.json" -- sh -c \
	"python3 $tmp/node.py && dfu-util -a 0 -s 0x08000000 -D $tmp/s.bin && dfu-util -a 0 -s 0x08000000:70000 -U $tmp/s2.bin" \
	>"$tmp/sock.out" 2>&1
if [ $? -eq 0 ] && cmp -s "$tmp/s.bin" "$tmp/s2.bin" && grep -q 'node ok' "$tmp/sock.out" &&
	grep -q 'memory through the socket' "$tmp/sock.out" && ! grep -q 'memory direct' "$tmp/sock.out"; then
	pass $t
else
	fail $t "$tmp/sock.out"
fi

# --- unplug mid-download fails the transfer; replug re-enumerates at the same port
t=unplug_fails_transfer_replug_reenumerates
head -c 600000 /dev/urandom >"$tmp/big.bin"
"$sim" --scenario "$scn/unplug.json" --dump-dir "$tmp/up" -- sh -c \
	"dfu-util -a 0 -s 0x08000000 -D $tmp/big.bin >$tmp/up1.out 2>&1; echo dfu-rc=\$?; sleep 0.8; dfu-util -l" \
	>"$tmp/up.out" 2>&1
rc=$?
ok=1
[ $rc -eq 0 ] || ok=0
grep -q 'dfu-rc=0' "$tmp/up.out" && ok=0
grep -q 'path="1-1", alt=0' "$tmp/up.out" || ok=0
grep -q '"enumerations":[[:space:]]*2' "$tmp/up/summary.json" || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/up.out" "$tmp/up1.out"

# --- GET_CAPABILITIES answers as devio.c does behind xHCI: BULK_SCATTER_GATHER
#     and NO_PACKET_SIZE_LIM, no BULK_CONTINUATION (no_stop_on_short)
t=capabilities_are_those_of_an_xhci_host
cat >"$tmp/caps.py" <<'P'
import fcntl, os, struct
fd = os.open('/dev/bus/usb/001/002', os.O_RDWR)
buf = bytearray(4)
fcntl.ioctl(fd, 0x8004551a, buf)  # USBDEVFS_GET_CAPABILITIES = _IOR('U', 26, __u32)
caps = struct.unpack('<I', buf)[0]
ZERO, CONT, NOLIM, SG, REAP, DROP = 0x01, 0x02, 0x04, 0x08, 0x10, 0x40
assert caps & (ZERO | NOLIM | SG | REAP | DROP) == ZERO | NOLIM | SG | REAP | DROP, hex(caps)
assert not caps & CONT, hex(caps)
print('caps ok', hex(caps))
P
"$sim" --scenario "$tmp/node.json" -- python3 "$tmp/caps.py" >"$tmp/caps.out" 2>&1
if [ $? -eq 0 ] && grep -q 'caps ok' "$tmp/caps.out"; then pass $t; else fail $t "$tmp/caps.out"; fi

# --- so libusb submits a 1 MiB bulk transfer as one URB: a 4 MiB fastboot
#     download through flashd's engine (imx-tool) reaches the board in a few
#     dozen requests, not 64 URBs of 16 KiB per MiB (256+)
t=libusb_bulk_transfer_is_one_urb
imx_tool=$build/tests/tools/imx-tool
head -c 4194304 /dev/urandom >"$tmp/fb4.bin"
"$sim" --scenario "$scn/imx6q-fastboot.json" --dump-dir "$tmp/fb4" -- \
	"$imx_tool" -q -p 1-1.2.3 flash boot "$tmp/fb4.bin" >"$tmp/fb4.out" 2>&1
rc=$?
reqs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boards"][0]["requests"])' \
	"$tmp/fb4/summary.json" 2>/dev/null || echo 9999)
echo "requests=$reqs" >>"$tmp/fb4.out"
if [ $rc -eq 0 ] && [ "$reqs" -lt 100 ]; then pass $t; else fail $t "$tmp/fb4.out"; fi

# --- exit status is the command's
t=exit_status_is_the_commands
"$sim" --scenario "$tmp/node.json" -- sh -c 'exit 7' >/dev/null 2>&1
[ $? -eq 7 ] && pass $t || fail $t

# --- the command exits while a client it left in the background is still
#     transferring: flashsim ends with the command's status (it crashed in
#     teardown: a transfer scheduled on the freed timer thread).  Several
#     rounds, the crash was a race.
t=command_exiting_mid_background_transfer_keeps_its_status
echo '{ "boards": [ { "id": "a", "type": "stm32f405-dfuse", "port": "1-1" } ] }' >"$tmp/bg.json"
bad=
for i in 1 2 3 4 5 6; do
	rm -f "$tmp/bg$i.bin"
	"$sim" --scenario "$tmp/bg.json" --dump-dir "$tmp/bgd" -- sh -c \
		"dfu-util -a 0 -s 0x08000000:1048576 -U $tmp/bg$i.bin >$tmp/bgc$i.out 2>&1 &
		n=0; until [ -s $tmp/bg$i.bin ] || [ \$n -ge 400 ]; do sleep 0.05; n=\$((n + 1)); done
		[ -s $tmp/bg$i.bin ] && exit 5; exit 9" >"$tmp/bg$i.out" 2>&1
	rc=$?
	[ $rc -eq 5 ] || bad="$bad round $i: exit $rc;"
done
if [ -z "$bad" ]; then pass $t; else echo "#   $bad"; fail $t "$tmp/bg1.out"; fi

# --- a SuperSpeed gadget needs a part with a USB3 controller and a USB3 hub
t=superspeed_fastboot_needs_usb3_part_and_hub
echo '{"boards":[{"id":"mm","type":"imx8mm-sdp","port":"1-1","fastboot_speed":"super"}]}' >"$tmp/ss1.json"
"$sim" --scenario "$tmp/ss1.json" -- true >"$tmp/ss1.out" 2>&1
rc1=$?
echo '{"boards":[{"id":"mp","type":"imx8mp-sdps","port":"1-1","start":"fastboot","fastboot_speed":"super"}]}' >"$tmp/ss2.json"
"$sim" --scenario "$tmp/ss2.json" -- true >"$tmp/ss2.out" 2>&1
rc2=$?
if [ $rc1 -eq 70 ] && grep -q fastboot_speed "$tmp/ss1.out" && [ $rc2 -eq 70 ] &&
	grep -q 'no "usb3": true' "$tmp/ss2.out"; then
	pass $t
else
	fail $t "$tmp/ss1.out" "$tmp/ss2.out"
fi

# --- with "usb3", a SuperSpeed board is on bus 2 at the peer path, at 5000 Mbit/s
t=usb3_superspeed_board_on_peer_path
sed 's/"boards"/"usb3":true,"boards"/' "$tmp/ss2.json" >"$tmp/ss3.json"
"$sim" --scenario "$tmp/ss3.json" -- sh -c 'cat /sys/bus/usb/devices/2-1/speed /sys/bus/usb/devices/2-1/busnum;
	readlink /sys/bus/usb/devices/usb2/2-0:1.0/usb2-port1/peer; ls /sys/bus/usb/devices/' >"$tmp/ss3.out" 2>&1
if [ $? -eq 0 ] && [ "$(head -3 "$tmp/ss3.out" | tr '\n' ' ')" = "5000 2 ../../../usb1/1-0:1.0/usb1-port1 " ] &&
	! grep -qx 1-1 "$tmp/ss3.out"; then
	pass $t
else
	fail $t "$tmp/ss3.out"
fi

# --- one process holds 64 nodes open with an ioctl and a read on each
#     (umockdev 0.17.16's preload alone aborts past ~50: fd_map_add overflow;
#     the shim serves usbfs nodes itself, shim.c section 4)
t=one_process_holds_64_nodes
python3 - >"$tmp/many.json" <<'P'
import json
boards = [{"id": "b%d" % i, "type": "stm32f405-dfuse", "port": "1-%d.%d" % (i // 7 + 1, i % 7 + 1)}
          for i in range(64)]
print(json.dumps({"time_scale": 0.001, "boards": boards}))
P
cat >"$tmp/many.py" <<'P'
import fcntl, glob, os, struct
fds = []
for d in sorted(glob.glob('/sys/bus/usb/devices/1-*')):
    if ':' in d or open(d + '/idVendor').read().strip() != '0483':
        continue
    bus, dev = (int(open(d + '/' + a).read()) for a in ('busnum', 'devnum'))
    fds.append((os.open('/dev/bus/usb/%03d/%03d' % (bus, dev), os.O_RDWR | os.O_CLOEXEC), d))
for fd, d in fds:
    buf = bytearray(4)
    fcntl.ioctl(fd, 0x8004551a, buf)  # USBDEVFS_GET_CAPABILITIES
    assert struct.unpack('<I', buf)[0] & 0x08, d
    assert os.read(fd, 18) == open(d + '/descriptors', 'rb').read()[:18], d
    assert os.lseek(fd, 0, os.SEEK_SET) == 0
for fd, d in fds:
    os.close(fd)
print('open nodes', len(fds))
P
"$sim" --scenario "$tmp/many.json" -- python3 "$tmp/many.py" >"$tmp/many.out" 2>&1
if [ $? -eq 0 ] && grep -q 'open nodes 64' "$tmp/many.out"; then pass $t; else fail $t "$tmp/many.out"; fi

# --- a second host controller: ports "3-..." are bus 3, a second xHCI with its
#     own 127 addresses (a line of 128 boards and their hubs needs two buses)
t=second_controller_is_bus_3
cat >"$tmp/bus3.json" <<'J'
{ "time_scale": 0.001, "boards": [ { "id": "a", "type": "stm32f405-dfuse", "port": "1-1" },
                                   { "id": "b", "type": "stm32f405-dfuse", "port": "3-2.5" } ] }
J
"$sim" --scenario "$tmp/bus3.json" -- sh -c 'cat /sys/bus/usb/devices/3-2.5/busnum /sys/bus/usb/devices/3-2.5/devnum;
	readlink -f /sys/bus/usb/devices/3-2.5; dfu-util -l' >"$tmp/bus3.out" 2>&1
if [ $? -eq 0 ] && [ "$(head -2 "$tmp/bus3.out" | tr '\n' ' ')" = "3 3 " ] &&
	grep -q '/0000:03:00.0/usb3/3-2/3-2.5$' "$tmp/bus3.out" &&
	grep -q 'path="3-2.5", alt=0' "$tmp/bus3.out" && grep -q 'path="1-1", alt=0' "$tmp/bus3.out"; then
	pass $t
else
	fail $t "$tmp/bus3.out"
fi

# --- the completion ring (README "The completion ring"): 300 control URBs in
#     flight, reaped only after all completed (44 more than the ring's 256
#     slots wait in flashsim), come back in submission order with their data;
#     then EAGAIN and the gate shut.  Each transfer costs flashsim one ioctl
#     (the submit), not three: without the ring the dump counts ~600.
t=completion_ring_keeps_order_and_costs_one_ioctl_per_transfer
cat >"$tmp/ring.py" <<'P'
import ctypes, errno, os, select, time
libc = ctypes.CDLL(None, use_errno=True)
class Urb(ctypes.Structure):
    _fields_ = [('type', ctypes.c_ubyte), ('endpoint', ctypes.c_ubyte), ('status', ctypes.c_int),
                ('flags', ctypes.c_uint), ('buffer', ctypes.c_void_p), ('buffer_length', ctypes.c_int),
                ('actual_length', ctypes.c_int), ('start_frame', ctypes.c_int),
                ('number_of_packets', ctypes.c_int), ('error_count', ctypes.c_int),
                ('signr', ctypes.c_uint), ('usercontext', ctypes.c_void_p)]
SUBMITURB, REAPURBNDELAY = 0x8038550a, 0x4008550d
N = 300
fd = os.open('/dev/bus/usb/001/002', os.O_RDWR)
desc = open('/sys/bus/usb/devices/1-1/descriptors', 'rb').read()[:18]
bufs = [ctypes.create_string_buffer(bytes([0x80, 6, 0, 1, 0, 0, 18, 0]) + bytes(18)) for _ in range(N)]
urbs = [Urb(type=2, endpoint=0, buffer=ctypes.cast(b, ctypes.c_void_p), buffer_length=26) for b in bufs]
for u in urbs:
    assert libc.ioctl(fd, SUBMITURB, ctypes.byref(u)) == 0, os.strerror(ctypes.get_errno())
p = select.poll(); p.register(fd, select.POLLOUT)
assert p.poll(5000), 'no completion'
time.sleep(1.5)  # all of them complete before the first reap
got = []
out = ctypes.c_void_p()
while True:
    if libc.ioctl(fd, REAPURBNDELAY, ctypes.byref(out)) != 0:
        assert ctypes.get_errno() == errno.EAGAIN, os.strerror(ctypes.get_errno())
        break
    got.append(out.value)
want = [ctypes.addressof(u) for u in urbs]
assert got == want, ('order', len(got))
for u, b in zip(urbs, bufs):
    assert u.status == 0 and u.actual_length == 18 and b.raw[8:26] == desc, (u.status, u.actual_length)
assert p.poll(100) == [], 'gate open after EAGAIN'
os.close(fd)
print('ring ok', len(got))
P
"$sim" --scenario "$tmp/node.json" --dump-dir "$tmp/ring" -- python3 "$tmp/ring.py" >"$tmp/ring.out" 2>&1
rc=$?
ioctls=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['boards'][0]['ioctls'])" "$tmp/ring/summary.json" 2>>"$tmp/ring.out")
echo "flashsim ioctls: $ioctls" >>"$tmp/ring.out"
if [ $rc -eq 0 ] && grep -q 'ring ok 300' "$tmp/ring.out" && [ -n "$ioctls" ] && [ "$ioctls" -le 360 ]; then
	pass $t
else
	fail $t "$tmp/ring.out"
fi

exit 0
