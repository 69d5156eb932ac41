#!/usr/bin/env bash
# The host's usbfs memory bound (usbcore.usbfs_memory_mb, 16 MiB by default;
# drivers/usb/core/devio.c refuses a URB with ENOMEM while the buffers of
# every URB in flight would exceed it): the rig enforces it for all boards
# together (scenario "usbfs_memory_mb"), and flashd's engines send a
# refused bulk write (and the Ingenic read-back's bulk read) in smaller
# pieces instead of failing the unit (protocols/usb.c usb_bulk_*_pieces).  A line of 16 i.MX boards, each
# with a 1 MiB download URB in flight, meets this bound on a stock kernel.
# Prints "ok - NAME" / "not ok - NAME".
set -u
. "$(dirname "$0")/imx-lib.sh"
need usbfs_memory fastboot
tool=$build/tests/tools/imx-tool

scenario() { # FILE MB: one i.MX6Q in U-Boot fastboot with a 16 MiB buffer
	cat >"$1" <<JSON
{ "time_scale": 0.001, "usbfs_memory_mb": $2,
  "boards": [ { "id": "b1", "type": "imx6q-sdp", "port": "1-1.2.3", "uid": "906709d4d72d7372",
		"start": "fastboot", "fb_buf_size": 16777216 } ] }
JSON
}

# 1 MiB of usbfs memory: a 1 MiB URB (plus the kernel's own structures)
# does not fit; flashd's fastboot engine sends 1 MiB transfers.
scenario "$tmp/one.json" 1
t=flashd_fastboot_download_fits_a_1_mib_usbfs_bound
d=$tmp/$t
(cd "$fx" && "$sim" --scenario "$tmp/one.json" --dump-dir "$d" -- "$tool" -q -p 1-1.2.3 flash rootfs big.img) \
	>"$d.out" 2>&1
rc=$?
[ $rc -eq 0 ] && region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/big.img" && pass $t ||
	fail $t "$d.out"

# The bound is on memory in flight, not on image size: Debian's fastboot
# sends 16 KiB URBs and passes under the same 1 MiB bound, as on a host.
t=debian_fastboot_16k_urbs_pass_under_the_same_bound
d=$tmp/$t
(cd "$fx" && "$sim" --scenario "$tmp/one.json" --dump-dir "$d" -- fastboot flash rootfs big.img) \
	>"$d.out" 2>&1
rc=$?
[ $rc -eq 0 ] && region_eq "$d/b1.emmc.bin" $ROOTFS_OFF "$fx/big.img" && pass $t ||
	fail $t "$d.out"

# A bound the scenario cannot have is refused naming the key.
t=scenario_refuses_a_bad_usbfs_memory_mb
printf '{ "usbfs_memory_mb": -1, "boards": [] }' >"$tmp/bad.json"
"$sim" --scenario "$tmp/bad.json" -- true >"$tmp/$t.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'usbfs_memory_mb: not a whole number' "$tmp/$t.out" && pass $t ||
	fail $t "$tmp/$t.out"

# Another program holds 960 KiB of a 1 MiB bound (a bulk IN in flight to an
# i.MX in fastboot, which answers nothing unasked): what is left (~62 KiB)
# takes no 128 KiB URB.  flashd's Ingenic engine writes its 128 KiB chunks
# in smaller pieces, and reads them back the same way (a 128 KiB bulk IN
# refused with ENOMEM used to fail the unit): the NOR holds the image.
t=ingenic_write_and_readback_fit_what_another_program_left
hog=$build/tests/tools/usbfs-hog
job=$build/tests/tools/job-tool
ifx=$tmp/ingenic
mkdir -p "$ifx/images"
python3 "$top/tests/fixtures/ingenic/mkfixtures.py" "$ifx/images" >/dev/null
head -c 300000 /dev/urandom >"$ifx/images/app.bin"
img() { echo "\"file\": \"images/$1\", \"sha256\": \"$(sha256sum "$ifx/images/$1" | cut -d' ' -f1)\""; }
cat >"$ifx/recipe.json" <<JSON
{ "name": "ingenic-usbfs", "match": { "vid": "a108", "pid": "c309" },
  "serial": { "source": "ingenic_efuse" }, "jedec": [ "ef4018" ],
  "stages": [
    { "op": "ingenic.boot", "soc": "t31", "ginfo": { $(img ginfo.bin) },
      "spl": { $(img spl.bin) }, "burner": { $(img burner.bin) } },
    { "op": "ingenic.check_jedec" },
    { "op": "ingenic.config", "flash": "sfc_nor", "erase": "partition", "partitions": [
        { "name": "app", "offset": "0x0", "size": "0x80000" } ] },
    { "op": "ingenic.write", "name": "app", "partition": "app", $(img app.bin), "verify": "readback" },
    { "op": "ingenic.reboot" } ] }
JSON
cat >"$tmp/hog.json" <<JSON
{ "time_scale": 0.001, "usbfs_memory_mb": 1,
  "boards": [ { "id": "fb", "type": "imx6q-sdp", "port": "1-1.2.3", "uid": "906709d4d72d7372",
		"start": "fastboot" },
	      { "id": "b1", "type": "ingenic-t31", "port": "1-1.2.4", "uid": "a1b2c3d4e5f60718293a4b5c6d7e8f90" } ] }
JSON
d=$tmp/$t
mkfifo "$tmp/hold"
"$sim" --scenario "$tmp/hog.json" --dump-dir "$d" -- sh -c '
	"$0" -p 1-1.2.3 -n 983040 <"$3" >"$4.hog" 2>&1 &
	exec 9>"$3"
	n=0; until grep -q held "$4.hog" || [ $n -ge 100 ]; do sleep 0.05; n=$((n + 1)); done
	grep -q held "$4.hog" || exit 7
	"$1" --db "$4.db" --recipe "$2" --port 1-1.2.4 --deadline-pct 10
	rc=$?; exec 9>&-; wait; exit $rc' "$hog" "$job" "$ifx/recipe.json" "$tmp/hold" "$d" >"$d.out" 2>&1
rc=$?
res=$(sqlite3 "$d.db" "SELECT result FROM units" 2>&1)
[ $rc -eq 0 ] && [ "$res" = pass ] && region_eq "$d/b1.nor.bin" 0 "$ifx/images/app.bin" && pass $t ||
	fail $t "$d.out" "$d.hog"
