#!/usr/bin/env bash
# mmdebstrap customize hook for the system-test rootfs (run by mkimage.sh):
# ROOT KERNEL_DIR KVER OUT
#  - install the kernel modules the VM needs (everything else is dropped: the
#    image stays small and mkfs fast), depmod;
#  - write OUT/initrd.img: busybox + virtio/ext4 modules + initramfs-init;
#  - quiet boot: no gettys on the console the test result is read from.
set -euo pipefail
root=$1 kdir=$2 kver=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$root/lib/modules"
cp -a "$kdir/lib/modules/$kver" "$root/lib/modules/"
chroot "$root" depmod "$kver"
deps() { # MODULE... -> .ko paths in load order, deduplicated
	chroot "$root" modprobe -a -S "$kver" --show-depends "$@" |
		awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}
boot_mods=$(deps virtio_pci virtio_blk ext4 crc32c_generic)
# vhci-hcd (USB/IP host side; pulls usbcore), 9p for the results share,
# usbhid + hid-generic: as on a station, usbhid binds the i.MX ROM's HID
# interface and flashd must detach it.
keep=$(
	echo "$boot_mods"
	deps vhci-hcd 9p 9pnet_virtio usbhid hid-generic
)
find "$root/lib/modules/$kver/kernel" -name '*.ko*' | while read -r m; do
	grep -qxF "${m#"$root"}" <<<"$keep" || rm -f "$m"
done
find "$root/lib/modules/$kver/kernel" -type d -empty -delete
chroot "$root" depmod "$kver"

# initramfs: /init loads these in order, mounts /dev/vda and switch_roots.
ird=$(mktemp -d)
mkdir -p "$ird/bin" "$ird/mods" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/newroot"
cp /bin/busybox "$ird/bin/busybox"
cp "$here/initramfs-init" "$ird/init"
chmod 0755 "$ird/init"
i=0
for m in $boot_mods; do
	i=$((i + 1))
	cp "$root$m" "$ird/mods/$(printf %02d "$i")-$(basename "$m")"
done
(cd "$ird" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$out/initrd.img"
rm -rf "$ird"

# Boot: multi-user, no login prompts on the serial console, results share.
echo flashd-vm >"$root/etc/hostname"
ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
for u in serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service apt-daily.timer \
	apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done
cat >"$root/etc/fstab" <<'FSTAB'
/dev/vda / ext4 rw,relatime 0 1
host0 /mnt/host 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0
FSTAB
mkdir -p "$root/mnt/host"
