#!/usr/bin/env bash
# Conformance tests of the simulated Ingenic T31 (boards/ingenic*.c) with
# an independent raw-libusb client, tests/tools/ingenic-raw, that follows
# shared/docs/protocol-ingenic.md step by step: ROM (CPU info, eFuse UID,
# ginfo, SPL, burner), burner (config, JEDEC, INIT, CRC-checked writes,
# read-back, reboot), and faults at every stage.  Every flash check compares
# the NOR the board dumped (flashsim --dump-dir) byte for byte.
# Prints "ok - NAME" / "not ok - NAME" per case.
#   env: FLASHD_TOP, FLASHD_BUILD (set by tests/run-tests.sh)
. "$(dirname "$0")/../lib/testlib.sh"
raw=$build/tests/tools/ingenic-raw
scn=$top/tests/sim/scenarios
tmp=$(mktemp -d /tmp/test-ingenic.XXXXXX)
fx=$tmp/fx

pass() { echo "ok - $1"; }
fail() {
	echo "not ok - $1"
	shift
	for f in "$@"; do [ -f "$f" ] && sed 's/^/#   /' "$f" | tail -20; done
}

if ! python3 "$top/tests/fixtures/ingenic/mkfixtures.py" "$fx"; then
	echo "not ok - fixtures are generated"
	exit 1
fi

# summary FILE KEY: a top-level value of board 0 in summary.json
summary() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["boards"][0][sys.argv[2]]; print(v if not isinstance(v, list) else len(v))' "$@"
}

# kv FILE KEY: the value of the first KEY=... line the tool printed
kv() { sed -n "s/^$2=//p" "$1" | head -1; }

# run NAME SCENARIO STEP...: ingenic-raw under flashsim, dump in $tmp/NAME
run() {
	local name=$1 scenario=$2
	shift 2
	[[ $scenario == /* ]] || scenario=$scn/$scenario
	"$sim" --scenario "$scenario" --dump-dir "$tmp/$name" -- \
		"$raw" -A 10000 "$@" >"$tmp/$name.out" 2>&1
	echo $? >"$tmp/$name.rc"
}
rc() { cat "$tmp/$1.rc"; }

boot=(ginfo="$fx/ginfo.bin" spl="$fx/spl.bin" burner="$fx/burner.bin")
head -c 1200000 /dev/urandom >"$tmp/img.bin"
# The initial NOR of the scenario (fill random:7), for the expected images.
run base ingenic-t31.json cpuinfo

# expect OUT BASE IMG OFF ERASE_START ERASE_END: BASE, 0xFF over the erased
# range, IMG at OFF.
expect() {
	python3 - "$@" <<'PY'
import sys
out, base, img, off, es, ee = sys.argv[1:3] + [sys.argv[3]] + [int(x, 0) for x in sys.argv[4:7]]
nor = bytearray(open(base, "rb").read())
nor[es:ee] = b"\xff" * (ee - es)
data = open(img, "rb").read()
nor[off:off + len(data)] = data
open(out, "wb").write(nor)
PY
}

# --- the whole vendor flow, partition (sector) erase mode
t=flow_sector_mode_writes_exact_nor_and_reads_back
run flow ingenic-t31.json cpuinfo uid "${boot[@]}" cfg="$fx/cfg1.bin" jedec \
	cfg="$fx/cfg2-sector.bin" init write="$tmp/img.bin@0" read=0,1200000,"$tmp/rb.bin" reboot
ok=1
[ "$(rc flow)" = 0 ] || ok=0
[ "$(kv "$tmp/flow.out" cpu_info)" = "T 3 1 V " ] || ok=0
[ "$(kv "$tmp/flow.out" burner_cpu)" = "BOOTx183" ] || ok=0
[ "$(kv "$tmp/flow.out" written)" = 1200000 ] || ok=0
# spi_erase=0: the first write into uboot (0-256K) and kernel (256K-2.75M)
# erases each whole partition; rootfs keeps its old contents.
expect "$tmp/flow.exp" "$tmp/base/t31.nor.bin" "$tmp/img.bin" 0 0 0x2C0000
cmp -s "$tmp/flow.exp" "$tmp/flow/t31.nor.bin" || ok=0
cmp -s "$tmp/img.bin" "$tmp/rb.bin" || ok=0
[ "$(summary "$tmp/flow/summary.json" state)" = booted-flash ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/flow.out"

t=flow_reads_uid_before_spl_and_zero_after
ok=1
[ "$(sed -n 's/^uid=//p' "$tmp/flow.out" | head -1)" = 00112233445566778899aabbccddeeff ] || ok=0
[ "$(kv "$tmp/flow.out" soc_id)" = 0x00031000 ] || ok=0
[ "$(kv "$tmp/flow.out" subtype)" = 0x2222 ] || ok=0
run uid2 ingenic-t31.json "${boot[@]:0:2}" uid
[ "$(kv "$tmp/uid2.out" uid)" = 00000000000000000000000000000000 ] || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/flow.out" "$tmp/uid2.out"

t=flow_jedec_w25q128jv_is_ef4018
[ "$(kv "$tmp/flow.out" jedec)" = 0xef4018 ] && [ "$(kv "$tmp/flow.out" jedec_raw)" = 1840ef ] &&
	pass $t || fail $t "$tmp/flow.out"

t=flow_sends_no_forbidden_request
[ "$(summary "$tmp/flow/summary.json" forbidden)" = 0 ] &&
	[ "$(summary "$tmp/flow/summary.json" faults_fired)" = 0 ] && pass $t || fail $t "$tmp/flow/summary.json"

# --- chip erase mode: INIT erases everything, the rest of the NOR is 0xFF
t=flow_chip_erase_mode_leaves_rest_erased
run chip ingenic-t31.json "${boot[@]}" cfg="$fx/cfg1.bin" cfg="$fx/cfg2-chip.bin" init \
	write="$tmp/img.bin@0x40000"
expect "$tmp/chip.exp" "$tmp/base/t31.nor.bin" "$tmp/img.bin" 0x40000 0 0x1000000
[ "$(rc chip)" = 0 ] && cmp -s "$tmp/chip.exp" "$tmp/chip/t31.nor.bin" &&
	pass $t || fail $t "$tmp/chip.out"

t=jedec_after_cfg2_is_zero_policy_not_first
run j2 ingenic-t31.json "${boot[@]}" cfg="$fx/cfg2-sector.bin" jedec
[ "$(kv "$tmp/j2.out" jedec)" = 0x000000 ] && pass $t || fail $t "$tmp/j2.out"

for c in "xm25:0x207018" "w25m:0xef7018"; do
	t=jedec_${c%%:*}_is_${c#*:}
	run "j-${c%%:*}" "ingenic-${c%%:*}.json" "${boot[@]}" cfg="$fx/cfg1.bin" jedec
	[ "$(kv "$tmp/j-${c%%:*}.out" jedec)" = "${c#*:}" ] && pass $t || fail $t "$tmp/j-${c%%:*}.out"
done

t=write_outside_partitions_fails_eio
run nopart ingenic-t31.json "${boot[@]}" cfg="$fx/cfg2-sector.bin" init write="$tmp/img.bin@0x1000000"
grep -q '^write_ack=-5$' "$tmp/nopart.out" && pass $t || fail $t "$tmp/nopart.out"

# §3.6: a WRITE of at least spi_erase_block_size (the fixture's 0x10000) is
# rounded up to whole blocks.  70,000-byte pieces: the first programs 131,072
# bytes, its tail past the data from the burner's buffer (zeros in the model);
# the second then lands on programmed cells and the write-back check answers -1.
t=write_of_a_block_or_more_is_rounded_up_to_whole_blocks
"$sim" --scenario "$scn/ingenic-t31.json" --dump-dir "$tmp/round" -- \
	"$raw" -A 10000 -c 70000 "${boot[@]}" cfg="$fx/cfg1.bin" cfg="$fx/cfg2-chip.bin" init \
	write="$tmp/img.bin@0x40000" >"$tmp/round.out" 2>&1
python3 - "$tmp/round/t31.nor.bin" "$tmp/img.bin" <<'PY' >"$tmp/round.cmp" 2>&1
import sys
nor, img = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
ok = nor[0x40000:0x40000 + 70000] == img[:70000] and nor[0x40000 + 70000:0x40000 + 131072] == bytes(61072)
sys.exit(0 if ok else 1)
PY
cmp_rc=$?
grep -q '^write_ack=-1$' "$tmp/round.out" && [ "$cmp_rc" = 0 ] && pass $t || fail $t "$tmp/round.out"

# --- eFuse requests are counted as forbidden
t=efuse_request_counts_as_forbidden
run efuse ingenic-t31.json "${boot[@]}" vendor=0x20
[ "$(summary "$tmp/efuse/summary.json" forbidden)" = 1 ] && pass $t || fail $t "$tmp/efuse.out"

# --- corrupted SPL (fault injection check_images): the board stops answering
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["boards"][0]["check_images"]=True; json.dump(d,open(sys.argv[2],"w"))' \
	"$scn/ingenic-t31.json" "$tmp/check.json"
t=corrupt_spl_board_stops_answering
run badspl "$tmp/check.json" ginfo="$fx/ginfo.bin" spl="$fx/spl-corrupt.bin"
ok=1
[ "$(rc badspl)" = 1 ] || ok=0
grep -q '^error=ETIMEDOUT .*step=spl=' "$tmp/badspl.out" || ok=0
case $(summary "$tmp/badspl/summary.json" state) in hung:*) ;; *) ok=0 ;; esac
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/badspl.out"

t=spl_without_ginfo_never_answers
run noginfo "$tmp/check.json" spl="$fx/spl.bin"
[ "$(summary "$tmp/noginfo/summary.json" state)" = hung:ddr-init ] && pass $t || fail $t "$tmp/noginfo.out"

# --- vendor images: any bytes run (a 32,384-byte SPL as a real T31 takes, 0x7000 d2i_len)
t=arbitrary_spl_and_burner_boot
head -c 32384 /dev/urandom >"$tmp/vspl.bin"
head -c 417656 /dev/urandom >"$tmp/vburner.bin"
run vendor ingenic-t31.json ginfo="$fx/ginfo.bin" spl="$tmp/vspl.bin" burner="$tmp/vburner.bin" jedec
[ "$(rc vendor)" = 0 ] && [ "$(summary "$tmp/vendor/summary.json" state)" = burner ] && pass $t || fail $t "$tmp/vendor.out"

# --- unplug at each stage: the client sees ENODEV, the board is unplugged
flow=(cpuinfo "${boot[@]}" cfg="$fx/cfg1.bin" cfg="$fx/cfg2-sector.bin" init
	write="$tmp/img.bin@0" read=0,65536,"$tmp/r.bin")
for s in spl burner config init write read; do
	t=unplug_at_${s}_fails_the_client
	run "u-$s" "ingenic-unplug-$s.json" "${flow[@]}"
	ok=1
	[ "$(rc "u-$s")" = 1 ] || ok=0
	# Behind xHCI (as the rig answers) libusb sends a 64 KiB bulk as one URB
	# (ENODEV); without BULK_SCATTER_GATHER it splits it into 16 KiB URBs and
	# reports LIBUSB_ERROR_IO when the device goes between them.
	grep -qE '^error=(ENODEV|EIO) ' "$tmp/u-$s.out" || ok=0
	[ "$(summary "$tmp/u-$s/summary.json" state)" = unplugged ] || ok=0
	[ $ok -eq 1 ] && pass $t || fail $t "$tmp/u-$s.out"
done

t=stall_on_write_gives_epipe
run stall ingenic-stall-write.json "${flow[@]}"
grep -q '^error=EPIPE .*step=write=' "$tmp/stall.out" && pass $t || fail $t "$tmp/stall.out"

t=never_completing_ack_times_out
"$sim" --scenario "$scn/ingenic-hang-ack.json" -- "$raw" -A 300 "${flow[@]}" >"$tmp/hang.out" 2>&1
grep -q '^error=ETIMEDOUT .*step=write=' "$tmp/hang.out" && pass $t || fail $t "$tmp/hang.out"

t=crc_mismatch_gives_ack_minus_22
run crc ingenic-crc.json "${flow[@]}"
ok=1
grep -q '^write_ack=-22$' "$tmp/crc.out" || ok=0
grep -q '^write_fail_offset=0x10000$' "$tmp/crc.out" || ok=0
[ $ok -eq 1 ] && pass $t || fail $t "$tmp/crc.out"

t=corrupted_read_data_fails_host_crc
run cread ingenic-corrupt-read.json "${flow[@]}"
grep -q '^error=EILSEQ .*step=read=' "$tmp/cread.out" && pass $t || fail $t "$tmp/cread.out"

t=program_error_gives_ack_minus_1
run perr ingenic-program-error.json "${flow[@]}"
grep -q '^write_ack=-1$' "$tmp/perr.out" && pass $t || fail $t "$tmp/perr.out"

# --- SPI-NOR addressing (issue 14 item 3): a 32 MiB W25Q256JV, a config whose
# commands carry 3 address bytes (03h/02h/D8h) writes at 16 MiB: the chip only
# gets A23..A0 (Extended Address Register 0), so the data lands at offset 0 and
# the wrapped erase units wipe the low 16 MiB, while the host's 3-byte read-back
# still matches (silent on the wire).  The dedicated 4-byte opcodes
# (13h/12h/DCh, 4 address bytes) put it where it belongs, as do 03h/02h/D8h
# with 4 address bytes after EN4B (B7h at INIT).  A 16 MiB W25Q128JV
# has no 4-byte opcodes: it ignores them and the write-back check fails.
python3 - "$top/tests/fixtures/ingenic" "$tmp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import mkfixtures as m
out = sys.argv[2]
def cfg(size, jedec, ops, ab, en4b):
    b = bytearray(m.dbg() + m.poli() + m.sfc(0, name=b"W25Q256JV", jedec=jedec, size=size))
    # read, page program, block erase at file 0x118/0x124/0x130 (address bytes at +3), EN4B 0x13C
    for off, op in zip((0x118, 0x124, 0x130), ops):
        b[off], b[off + 3] = op, ab
    b[0x13C] = en4b
    return bytes(b)
legacy, dedicated = (0x03, 0x02, 0xD8), (0x13, 0x12, 0xDC)
open(out + "/cfg-256-3b.bin", "wb").write(cfg(32 << 20, 0xEF4019, legacy, 3, 0))
open(out + "/cfg-256-4b.bin", "wb").write(cfg(32 << 20, 0xEF4019, dedicated, 4, 0))
open(out + "/cfg-256-en4b.bin", "wb").write(cfg(32 << 20, 0xEF4019, legacy, 4, 0xB7))
open(out + "/cfg-128-4b.bin", "wb").write(cfg(16 << 20, 0xEF4018, dedicated, 4, 0))
PY
for p in w25q256jv w25q128jv; do
	cat >"$tmp/s-$p.json" <<EOF
{ "time_scale": 0.001, "boards": [ { "id": "t31", "type": "ingenic-t31", "port": "1-1.2",
  "fill": "random:7", "flash": "$p" } ] }
EOF
done
head -c 200000 /dev/urandom >"$tmp/hi.bin"
run base256 "$tmp/s-w25q256jv.json" cpuinfo
addr_flow() { # NAME SCENARIO CFG
	run "$1" "$2" "${boot[@]}" cfg="$fx/cfg1.bin" cfg="$3" init write="$tmp/hi.bin@0x1000000" \
		read=0x1000000,200000,"$tmp/$1.rb"
}
t=spinor_3_byte_address_beyond_16mib_wraps_to_0
addr_flow a3 "$tmp/s-w25q256jv.json" "$tmp/cfg-256-3b.bin"
python3 - "$tmp/base256/t31.nor.bin" "$tmp/hi.bin" "$tmp/a3.exp" <<'PY'
import sys
nor = bytearray(open(sys.argv[1], "rb").read()); img = open(sys.argv[2], "rb").read()
nor[0:0x1000000] = b"\xff" * 0x1000000   # rootfs 0x2C0000.. erased, the upper units wrapped
nor[0:len(img)] = img
open(sys.argv[3], "wb").write(nor)
PY
[ "$(rc a3)" = 0 ] && cmp -s "$tmp/a3.exp" "$tmp/a3/t31.nor.bin" && cmp -s "$tmp/hi.bin" "$tmp/a3.rb" &&
	pass $t || fail $t "$tmp/a3.out"
t=spinor_4_byte_opcodes_reach_beyond_16mib
addr_flow a4 "$tmp/s-w25q256jv.json" "$tmp/cfg-256-4b.bin"
expect "$tmp/a4.exp" "$tmp/base256/t31.nor.bin" "$tmp/hi.bin" 0x1000000 0x2C0000 0x2000000
[ "$(rc a4)" = 0 ] && cmp -s "$tmp/a4.exp" "$tmp/a4/t31.nor.bin" && cmp -s "$tmp/hi.bin" "$tmp/a4.rb" &&
	pass $t || fail $t "$tmp/a4.out"
t=spinor_en4b_then_4_address_bytes_reach_beyond_16mib
addr_flow ae "$tmp/s-w25q256jv.json" "$tmp/cfg-256-en4b.bin"
[ "$(rc ae)" = 0 ] && cmp -s "$tmp/a4.exp" "$tmp/ae/t31.nor.bin" && cmp -s "$tmp/hi.bin" "$tmp/ae.rb" &&
	pass $t || fail $t "$tmp/ae.out"
t=spinor_4_byte_opcodes_ignored_by_a_16mib_part
run a128 "$tmp/s-w25q128jv.json" "${boot[@]}" cfg="$fx/cfg1.bin" cfg="$tmp/cfg-128-4b.bin" init \
	write="$tmp/img.bin@0x40000"
grep -q '^write_ack=-1$' "$tmp/a128.out" && pass $t || fail $t "$tmp/a128.out"
