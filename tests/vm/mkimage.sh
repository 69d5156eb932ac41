#!/usr/bin/env bash
# Build (or reuse) the system-test VM's parts from Debian packages only:
#   CACHE/<key>/vmlinuz     Debian's kernel (linux-image-amd64's current ABI)
#   CACHE/<key>/initrd.img  busybox initramfs: virtio + ext4 modules, switch_root
#   CACHE/<key>/rootfs.tar  Debian 12 + systemd + udev + flashd's runtime libs,
#                           with the kernel modules the tests need
# <key> hashes the package versions apt would install today and this
# script's own files, so a new kernel ABI, a library update or an edit here
# builds afresh; anything else reuses the cache.  Prints the directory.
# Recipe: ../shared/docs/test-rigs.md §4.3.  Needs root (mmdebstrap --mode=root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: mkimage.sh CACHE_DIR}
suite=bookworm
# Runtime of flashd (libusb, libudev, libsystemd, sqlite, cJSON, zlib, nettle), the guest
# test's tools (sqlite3 CLI, usbutils), and what systemd needs to boot;
# flashd-web's libmicrohttpd and curl to scrape its /metrics; libpq for flashctl (its
# `fleet` verbs link it, so flashctl does not start without it).
pkgs=(systemd-sysv udev kmod dbus libusb-1.0-0 libsqlite3-0 libcjson1 zlib1g libnettle8 sqlite3 usbutils procps
	libmicrohttpd12 curl libpq5)

log() { echo "mkimage: $*" >&2; }
die() { log "$*"; exit 1; }
for t in mmdebstrap apt-get dpkg-deb busybox; do
	command -v "$t" >/dev/null || die "$t not found (make deps installs it)"
done
[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap --mode=root, device nodes in the rootfs)"

# The kernel's ABI name changes with every update: resolve it now (§4.1).
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 (apt-get update?)"
kver=${kpkg#linux-image-}
versions=$(for p in "$kpkg" busybox-static "${pkgs[@]}"; do
	printf '%s=%s\n' "$p" "$(apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')"
done)
key=$( { echo "$versions"; cat "$here/mkimage.sh" "$here/rootfs-setup.sh" "$here/initramfs-init"; } |
	sha256sum | cut -c1-16)
out=$cache/$key
if [ -s "$out/rootfs.tar" ] && [ -s "$out/initrd.img" ] && [ -s "$out/vmlinuz" ]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi

log "building $out ($kpkg, $(echo "$versions" | wc -l) packages)"
rm -rf "$out.tmp"
mkdir -p "$out.tmp/dl"
chmod 0777 "$out.tmp/dl" # apt's _apt user downloads into it
(cd "$out.tmp/dl" && apt-get download -q "$kpkg" >&2)
dpkg-deb -x "$out.tmp/dl/${kpkg}"_*.deb "$out.tmp/kernel"
cp "$out.tmp/kernel/boot/vmlinuz-$kver" "$out.tmp/vmlinuz"

# The host's own sources: the guest gets the same library builds flashd was
# compiled against.
src=/etc/apt/sources.list.d/debian.sources
[ -f "$src" ] || src=/etc/apt/sources.list
inc=$(IFS=,; echo "${pkgs[*]}")
mmdebstrap --mode=root --variant=apt --include="$inc" \
	--customize-hook="'$here/rootfs-setup.sh' \"\$1\" '$out.tmp/kernel' '$kver' '$out.tmp'" \
	"$suite" "$out.tmp/rootfs.tar" - <"$src" >&2

echo "$versions" >"$out.tmp/versions.txt"
rm -rf "$out.tmp/dl" "$out.tmp/kernel"
rm -rf "$out"
mv "$out.tmp" "$out"
log "built $out"
echo "$out"
