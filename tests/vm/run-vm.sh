#!/usr/bin/env bash
# make check-system: flashd as installed, on a real kernel.
#
# Builds (or reuses, mkimage.sh) a Debian 12 rootfs, Debian's kernel and a
# busybox initramfs; installs flashd into the rootfs with `make install
# DESTDIR=`, adds the test data (prepare.py), usbip-sim and the guest driver
# (guest/systest.sh as flashd-systest.service); boots it under qemu TCG with
# no network; reads "SYSTEST" result lines off the serial console.  Guest
# logs, the journal, the database and board dumps come back through a 9p
# share in build/vm/share/out.
#
# usage: run-vm.sh [BUILD_DIR]
#   VM_CASES=reload,norule   only these cases (ready/hardening always run)
#   FLASHD_VM_CACHE=DIR      image cache (default build/vm-cache)
#   FLASHD_VM_TIMEOUT=SEC    whole VM run (default 2400)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build/default}
[[ $build == /* ]] || build=$top/$build
cache=${FLASHD_VM_CACHE:-$top/build/vm-cache}
work=$top/build/vm
cases=${VM_CASES:-}
vm_timeout=${FLASHD_VM_TIMEOUT:-2400}

die() {
	echo "not ok - vm_setup # $*"
	echo "0 passed, 1 failed"
	exit 1
}
for t in qemu-system-x86_64 mmdebstrap busybox mkfs.ext4 python3 systemctl; do
	command -v "$t" >/dev/null || die "$t not found: run 'make deps'"
done
[ "$(id -u)" = 0 ] || die "needs root (the rootfs holds root-owned files and device nodes)"
for f in flashd flashctl flashsim usbip-sim; do
	[ -x "$build/$f" ] || die "$build/$f not built"
done

t0=$SECONDS
img=$("$top/tests/vm/mkimage.sh" "$cache") || die "image build failed"
t_img=$((SECONDS - t0))

# ---- the rootfs of this run -----------------------------------------------------
rm -rf "$work"
mkdir -p "$work/root" "$work/share/out"
root=$work/root
tar -C "$root" -xpf "$img/rootfs.tar" || die "cannot unpack $img/rootfs.tar"
make -s -C "$top" install DESTDIR="$root" PREFIX=/usr >"$work/install.log" 2>&1 ||
	die "make install failed: $(tail -3 "$work/install.log")"
python3 "$top/tests/vm/prepare.py" "$root" "$build" || die "prepare.py failed"
install -D -m 0755 "$build/usbip-sim" "$root/opt/flashd-systest/bin/usbip-sim"
install -m 0755 "$top/tests/vm/guest/systest.sh" "$root/opt/flashd-systest/systest.sh"
install -m 0644 "$top/tests/vm/guest/flashd-systest.service" "$root/etc/systemd/system/"
# As an integrator would: enable the unit `make install` put in place.
systemctl --root="$root" enable flashd.service flashd-systest.service >/dev/null 2>&1 ||
	die "systemctl enable in the rootfs failed"
mkfs.ext4 -q -F -L flashd-vm -d "$root" "$work/rootfs.img" 3G >/dev/null || die "mkfs.ext4 failed"
rm -rf "$root"
t_prep=$((SECONDS - t0 - t_img))

# ---- boot -------------------------------------------------------------------------
# TCG: the CI machines have no usable KVM (test-rigs.md §4).  No network:
# nothing crosses the VM boundary but the 9p share and the console.
t1=$SECONDS
timeout "$vm_timeout" qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 2 -m 2048 \
	-nodefaults -no-reboot -nographic -serial stdio -nic none \
	-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
	-append "console=ttyS0 root=/dev/vda quiet panic=-1 systemd.show_status=0 flashd.systest=$cases" \
	-drive "file=$work/rootfs.img,if=virtio,format=raw" \
	-virtfs "local,path=$work/share,mount_tag=host0,security_model=none" \
	</dev/null 2>&1 | tr -d '\r' | tee "$work/console.log" | sed -u -n 's/^.*SYSTEST /# vm: /p'
qrc=${PIPESTATUS[0]}
t_vm=$((SECONDS - t1))
rm -f "$work/rootfs.img"

# ---- results ------------------------------------------------------------------------
res=$work/share/out/results.txt
[ -s "$res" ] || { grep -a 'SYSTEST ' "$work/console.log" | sed 's/^.*SYSTEST /SYSTEST /' >"$work/results.txt"; res=$work/results.txt; }
sed -n 's/^SYSTEST \(ok - .*\|not ok - .*\)$/\1/p' "$res"
pass=$(grep -c '^SYSTEST ok - ' "$res")
fail=$(grep -c '^SYSTEST not ok - ' "$res")
if ! grep -q '^SYSTEST done' "$res"; then
	echo "not ok - vm_run_completed # qemu exit $qrc after ${t_vm} s; console tail:"
	tail -25 "$work/console.log" | sed 's/^/#   /'
	fail=$((fail + 1))
fi
[ "$fail" = 0 ] || grep '^SYSTEST #' "$res" | sed 's/^SYSTEST /  /'
[ "$fail" = 0 ] || echo "# guest logs, journal export, database and dumps: $work/share/out"
echo "# image ${t_img} s (cache: $img), rootfs ${t_prep} s, VM run ${t_vm} s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
