#!/bin/bash
# The system test, run inside the VM by flashd-systest.service (a oneshot
# after multi-user.target) against flashd as installed and started by
# systemd.  Boards come from usbip-sim over USB/IP into vhci_hcd: the real
# kernel enumerates them, real udevd applies 70-flashd.rules, and an unplug
# is a real disconnect.
#
# Output: one "SYSTEST ok - NAME" / "SYSTEST not ok - NAME" line per check
# (details as "SYSTEST #   ..."), then "SYSTEST done"; on the serial console
# (read by tests/vm/run-vm.sh) and in /mnt/host/out/results.txt.  Guest logs,
# the journal, the database and the board dumps go to /mnt/host/out.
# Cases: flashd.systest=a,b on the kernel command line runs only those
# (ready and hardening always run).
set -u
T=/opt/flashd-systest
SIM=$T/bin/usbip-sim
DB=/var/lib/flashd/flashd.db
OUT=/mnt/host/out
mountpoint -q /mnt/host || OUT=/root/out
mkdir -p "$OUT"
W=$(mktemp -d)
only=$(sed -n 's/.*flashd\.systest=\([^ ]*\).*/\1/p' /proc/cmdline)

say() { echo "SYSTEST $*" | tee -a "$OUT/results.txt"; }
ok() { say "ok - $1"; }
nok() {
	say "not ok - $1"
	shift
	for l in "$@"; do say "#   $l"; done
}
check() { # NAME 'CONDITION' DETAILS...: CONDITION is shell code, evaluated here
	# (no locals: the condition sees the caller's variables)
	if eval "$2"; then ok "$1"; else
		set -- "$1" "${@:3}"
		nok "$@"
	fi
}
want_case() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
# Query as the service user: a root-owned -wal/-shm would lock flashd out.
q() { runuser -u flashd -- sqlite3 -batch "$DB" "$1" 2>&1; }
wait_for() { # SECONDS COMMAND...: poll until COMMAND succeeds
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}
rows_done() { # N PORT... : at least N finished rows on these ports
	local n=$1
	shift
	local in
	in=$(printf "'%s'," "$@")
	[ "$(q "SELECT count(*) FROM units WHERE result != 'running' AND port IN (${in%,})")" -ge "$n" ] 2>/dev/null
}
no_running() { [ "$(q "SELECT count(*) FROM units WHERE result = 'running'")" = 0 ]; }
flashd_active() { [ "$(systemctl is-active flashd)" = active ]; }

sim_start() { # CASE
	rm -f "$W/$1.ready"
	"$SIM" --out "$OUT/$1" --ready "$W/$1.ready" "$T/scenarios/$1.json" 2>"$OUT/$1.sim.log" &
	SIM_PID=$!
	wait_for 30 test -e "$W/$1.ready"
}
sim_stop() {
	kill -TERM "$SIM_PID" 2>/dev/null
	wait "$SIM_PID"
}
bytes_ok() { # CASE ID MEM
	cmp -s "$T/want/$2.$3.bin" "$OUT/$1/$2.$3.bin"
}
history() { q "SELECT group_concat(result || ':' || ifnull(failed_stage, ''), ' ') FROM (SELECT * FROM units WHERE port = '$1' ORDER BY id)"; }

# ---- ready: started by systemd, READY, STATUS= -------------------------------
modprobe vhci-hcd
wait_for 120 flashd_active
# READY=1 comes once the loop runs; recipes load after it ("Loading
# recipes…" leads STATUS= meanwhile): compare a settled status line.
recipes_in() { [[ $(systemctl show -p StatusText --value flashd) != "Loading recipes"* ]]; }
wait_for 60 recipes_in
st=$(systemctl show -p StatusText --value flashd)
check vm_flashd_started_by_systemd_reaches_ready 'flashd_active' \
	"is-active: $(systemctl is-active flashd)" "$(journalctl -u flashd -n 5 --no-pager)"
check vm_status_line_in_systemctl_status \
	'grep -qF "Status: \"$st\"" <(systemctl status flashd --no-pager)' "StatusText: $st"
say "#   systemctl status: Status: \"$st\""
# vhci_hcd.0's high-speed root hub must be bus 1: the scenarios' ports are 1-P.
check vm_vhci_root_hub_is_bus_1 'grep -q vhci_hcd.0 <(readlink -f /sys/bus/usb/devices/usb1)' \
	"usb1 -> $(readlink -f /sys/bus/usb/devices/usb1)"

# ---- hardening: unprivileged, no capabilities, seccomp, exposure -------------
pid=$(systemctl show -p MainPID --value flashd)
user=$(ps -o user= -p "$pid" | tr -d ' ')
caps=$(awk '/^CapEff/ { print $2 }' "/proc/$pid/status")
nnp=$(awk '/^NoNewPrivs/ { print $2 }' "/proc/$pid/status")
sec=$(awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")
check vm_service_runs_unprivileged_hardened \
	'[ "$user" = flashd ] && [ "$caps" = 0000000000000000 ] && [ "$nnp" = 1 ] && [ "$sec" = 2 ]' \
	"user=$user CapEff=$caps NoNewPrivs=$nnp Seccomp=$sec"
exposure=$(systemd-analyze security flashd.service --no-pager 2>&1 | sed -n 's/.*Overall exposure level for flashd.service: \([0-9.]*\).*/\1/p')
say "#   systemd-analyze security flashd.service: exposure $exposure"
exposure_ok() { awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.5) }'; }
check vm_security_exposure_at_most_2_5 exposure_ok \
	"exposure: $exposure"

# ---- boards8: 8 boards of three families, byte-exact, rows, journal ----------
if want_case boards8; then
	ports=(1-1 1-2 1-3 1-4 1-5 1-6 1-7 1-8)
	if sim_start boards8; then
		wait_for 900 rows_done 8 "${ports[@]}"
		sleep 2 # a board flashed twice would show up as an extra row
		sim_stop
		in=$(printf "'%s'," "${ports[@]}")
		q "SELECT port || '|' || result || '|' || ifnull(serial, '') || '|' || ifnull(chip_uid, '') || '|' ||
			ifnull(jedec_id, '') || '|' || recipe FROM units WHERE port IN (${in%,}) ORDER BY port, id" >"$W/rows8"
		check vm_8_boards_three_families_one_pass_row_each \
			'cmp -s "$T/expect/boards8.txt" "$W/rows8"' "$(diff "$T/expect/boards8.txt" "$W/rows8" | head -10)"
		bad=
		for f in "$T"/want/[smg][0-9].*.bin; do
			b=$(basename "$f")
			cmp -s "$f" "$OUT/boards8/$b" || bad="$bad $b"
		done
		check vm_8_boards_flashed_byte_exact '[ -z "$bad" ]' "differ:$bad"
		nf=$(grep -c '"forbidden":[[:space:]]*0' "$OUT/boards8/summary.json")
		check vm_no_forbidden_requests '[ "$nf" = 8 ]' "boards with forbidden 0: $nf of 8"
		s=$(head -1 "$T/expect/serials.txt")
		n=$(journalctl FLASHD_SERIAL="$s" --no-pager -o cat | grep -c .)
		p=$(journalctl FLASHD_SERIAL="$s" FLASHD_RESULT=pass --no-pager -o cat | grep -c .)
		check vm_journal_finds_a_boards_history_by_serial '[ "$n" -ge 2 ] && [ "$p" -ge 1 ]' \
			"journalctl FLASHD_SERIAL=$s: $n entries, $p with FLASHD_RESULT=pass"
		say "#   journalctl FLASHD_SERIAL=$s: $n entries"
	else
		nok vm_8_boards_usbip_sim_started "$(tail -5 "$OUT/boards8.sim.log")"
	fi
fi

# ---- unplug: real disconnect mid-write -> fail, then the port serves the next -
if want_case unplug; then
	if sim_start unplug; then
		wait_for 300 rows_done 2 1-9
		sim_stop
		h=$(history 1-9)
		e=$(q "SELECT error FROM units WHERE port = '1-9' AND result = 'fail' ORDER BY id LIMIT 1")
		check vm_unplug_mid_write_fail_row_then_port_serves_next \
			'[ "$h" = "fail:app pass:" ] && [ -n "$e" ]' "history: $h" "error: $e"
		say "#   unplug error: $e"
		check vm_unplug_next_board_byte_exact 'bytes_ok unplug u1 flash'
	else
		nok vm_unplug_usbip_sim_started "$(tail -5 "$OUT/unplug.sim.log")"
	fi
fi

# ---- kill: SIGKILL mid-job, systemd restarts flashd -> interrupted ------------
if want_case kill; then
	mid_write() { # the unit on 1-10 is past uboot, writing the kernel
		local id
		id=$(q "SELECT id FROM units WHERE port = '1-10' AND result = 'running'")
		[ -n "$id" ] && [ "$(q "SELECT count(*) FROM unit_stages WHERE unit_id = $id")" -ge 4 ]
	}
	restarted() { [ "$(systemctl show -p NRestarts --value flashd)" -gt "$1" ] && flashd_active; }
	if sim_start kill; then
		n0=$(systemctl show -p NRestarts --value flashd)
		if wait_for 300 mid_write; then
			id=$(q "SELECT id FROM units WHERE port = '1-10' AND result = 'running'")
			systemctl kill -s KILL flashd
			wait_for 60 restarted "$n0"
			r=$(q "SELECT result FROM units WHERE id = $id")
			ic=$(q "PRAGMA integrity_check")
			check vm_sigkill_mid_job_systemd_restarts_row_interrupted \
				'[ "$r" = interrupted ] && restarted "$n0"' \
				"unit $id: $r; NRestarts $n0 -> $(systemctl show -p NRestarts --value flashd)"
			check vm_database_integrity_ok_after_sigkill '[ "$ic" = ok ]' "integrity_check: $ic"
		else
			nok vm_sigkill_mid_job_systemd_restarts_row_interrupted "the job on 1-10 never got to its kernel write" \
				"$(q "SELECT id, result, failed_stage, error FROM units WHERE port = '1-10'")"
		fi
		sim_stop
		wait_for 120 no_running
	else
		nok vm_kill_usbip_sim_started "$(tail -5 "$OUT/kill.sim.log")"
	fi
fi

# ---- reload: a changed recipe takes effect for the next board ------------------
if want_case reload; then
	cp "$T/stm32-v2.json" /etc/flashd/recipes/stm32.json
	since=$(date '+%Y-%m-%d %H:%M:%S')
	systemctl reload flashd
	reloaded() { journalctl -u flashd --since "$since" --no-pager -o cat | grep -q "stm32-line-v2"; }
	wait_for 30 reloaded
	wait_for 30 flashd_active
	if sim_start reload; then
		wait_for 300 rows_done 1 1-11
		sim_stop
		r=$(q "SELECT result || '|' || recipe FROM units WHERE port = '1-11' ORDER BY id")
		check vm_reload_changed_recipe_used_for_next_board '[ "$r" = "pass|stm32-line-v2" ]' "rows: $r"
		check vm_reload_next_board_has_new_image 'bytes_ok reload r1 flash'
	else
		nok vm_reload_usbip_sim_started "$(tail -5 "$OUT/reload.sim.log")"
	fi
fi

# ---- norule: a VID/PID no udev rule covers is not opened ---------------------
if want_case norule; then
	if sim_start norule; then
		wait_for 120 rows_done 1 1-12
		node=/dev/bus/usb/$(printf %03d "$(cat /sys/bus/usb/devices/1-12/busnum 2>/dev/null)")/$(printf %03d "$(cat /sys/bus/usb/devices/1-12/devnum 2>/dev/null)")
		perm=$(stat -c '%U:%G %a' "$node" 2>&1)
		sim_stop
		r=$(q "SELECT result || '|' || error FROM units WHERE port = '1-12' ORDER BY id")
		after=$(sed -n 's/.*"requests_after_config":[[:space:]]*\([0-9]*\).*/\1/p' "$OUT/norule/summary.json" | head -1)
		check vm_board_without_udev_rule_is_not_opened \
			'[[ $r == "fail|"*"Permission denied"* ]] && [ "$perm" = "root:root 664" ] && [ "$after" = 0 ]' \
			"row: $r" "node $node: $perm" "requests after SET_CONFIGURATION: $after"
		say "#   no-rule board: $r"
	else
		nok vm_norule_usbip_sim_started "$(tail -5 "$OUT/norule.sim.log")"
	fi
fi

# ---- blank: an i.MX6Q whose eMMC has no partition table -----------------------
# flashd writes the GPT it builds for the unit (fastboot.gpt), U-Boot to the
# boot0 hardware partition (booted from: EXT_CSD[179] = 0x48), then the
# partitions by name; the user area and boot0 byte-exact.
if want_case blank; then
	if sim_start blank; then
		wait_for 300 rows_done 1 1-13
		sleep 2 # a board flashed twice would show up as an extra row
		sim_stop
		q "SELECT port || '|' || result || '|' || ifnull(serial, '') || '|' || ifnull(chip_uid, '') || '|' ||
			ifnull(jedec_id, '') || '|' || recipe FROM units WHERE port = '1-13' ORDER BY id" >"$W/rowsx"
		check vm_blank_emmc_imx_one_pass_row \
			'cmp -s "$T/expect/blank.txt" "$W/rowsx"' "$(diff "$T/expect/blank.txt" "$W/rowsx" | head -5)" \
			"$(q "SELECT failed_stage || ': ' || error FROM units WHERE port = '1-13'")"
		pc=$(od -An -tx1 -j179 -N1 "$OUT/blank/x1.ext_csd.bin" 2>&1 | tr -d ' ')
		check vm_blank_emmc_gpt_partitions_and_boot0_byte_exact \
			'bytes_ok blank x1 emmc && bytes_ok blank x1 emmc_boot0 && [ "$pc" = 48 ]' \
			"user area: $(cmp "$T/want/x1.emmc.bin" "$OUT/blank/x1.emmc.bin" 2>&1)" \
			"boot0: $(cmp "$T/want/x1.emmc_boot0.bin" "$OUT/blank/x1.emmc_boot0.bin" 2>&1)" "EXT_CSD[179]: $pc"
	else
		nok vm_blank_usbip_sim_started "$(tail -5 "$OUT/blank.sim.log")"
	fi
fi

# ---- pool: a serial and two MACs from pools made with `flashctl pool create` ---
# The STM32L476 on 1-14 runs jobs/recipes/stm32-l476-identity.json (issue
# 18): its unit takes the first values of the pools, flashd writes them as
# a raw record (CRC-32 at byte 28) to the last flash page, and `flashctl
# show` finds the unit by the serial and by a MAC.
if want_case pool; then
	FC=(runuser -u flashd -- flashctl --db "$DB")
	"${FC[@]}" pool create serial --kind counter --format 'VM{seq:5}' --first 1 --last 99 \
		>"$W/pool-create" 2>&1 &&
		"${FC[@]}" pool create mac --kind mac --first 02:00:00:00:0e:00 --last 02:00:00:00:0e:ff \
			--per-unit 2 >>"$W/pool-create" 2>&1
	created=$?
	if [ "$created" = 0 ] && sim_start pool; then
		wait_for 300 rows_done 1 1-14
		sleep 2 # a board flashed twice would show up as an extra row
		sim_stop
		r=$(q "SELECT group_concat(result || '|' || serial || '|' || recipe, ' ') FROM units WHERE port = '1-14'")
		f=$OUT/pool/p1.flash.bin
		at=$((0xff800))
		sn=$(dd if="$f" bs=1 skip=$at count=16 2>/dev/null | tr -d '\0')
		m0=$(od -An -tx1 -j $((at + 16)) -N6 "$f" 2>&1 | tr -s ' ' | sed 's/^ //; s/ /:/g')
		m1=$(od -An -tx1 -j $((at + 22)) -N6 "$f" 2>&1 | tr -s ' ' | sed 's/^ //; s/ /:/g')
		# gzip's trailer holds the CRC-32 of its input (same byte order as od's here)
		crc=$(od -An -tx4 -j $((at + 28)) -N4 "$f" 2>&1 | tr -d ' ')
		want_crc=$(dd if="$f" bs=1 skip=$at count=28 2>/dev/null | gzip -c | tail -c 8 | head -c 4 | od -An -tx4 | tr -d ' ')
		check vm_pool_board_passes_with_the_first_values_in_its_record \
			'[ "$r" = "pass|VML4SN0014|stm32-l476-pool" ] && [ "$sn $m0 $m1" = "VM00001 02:00:00:00:0e:00 02:00:00:00:0e:01" ] && [ -n "$crc" ] && [ "$crc" = "$want_crc" ]' \
			"rows: $r" "record: $sn $m0 $m1, crc $crc (want $want_crc)" \
			"$(q "SELECT failed_stage || ': ' || error FROM units WHERE port = '1-14'")"
		show=$("${FC[@]}" show VM00001 2>&1)
		show_mac=$("${FC[@]}" show 02:00:00:00:0e:01 2>&1)
		check vm_pool_flashctl_show_finds_the_unit_by_serial_and_mac \
			'[[ $show == *"serial          VML4SN0014"*"result          pass"* ]] && grep -Eq "^  serial +VM00001 +used +yes$" <<<"$show" && grep -Eq "^  mac +02:00:00:00:0e:01 +used +yes$" <<<"$show" && [ "$show_mac" = "$show" ]' \
			"show VM00001: $show" "show 02:00:00:00:0e:01: $show_mac"
		audit=$("${FC[@]}" pool audit 2>&1)
		audit_rc=$?
		check vm_pool_audit_clean '[ "$audit_rc" = 0 ]' "$audit"
		say "#   pool unit: $r, record $sn $m0 $m1"
	else
		nok vm_pool_created_and_usbip_sim_started "$(cat "$W/pool-create")" "$(tail -5 "$OUT/pool.sim.log" 2>/dev/null)"
	fi
fi

# ---- QA reads the status through flashd-read, never the boards' group -----------
# A QA user in flashd-read (systemd/flashd.sysusers) reads the status and
# the units while flashd runs; the group gives no board access.
if command -v useradd >/dev/null; then
	useradd -M -G flashd-read qa 2>/dev/null
	qa_status=$(runuser -u qa -- flashctl status 2>&1)
	qa_status_rc=$?
	qa_live=$(runuser -u qa -- flashctl --db "$DB" log --limit 1 --format csv 2>&1)
	check vm_qa_user_reads_units_and_status_through_flashd_read \
		'[[ $qa_live == id,* ]] && [ "$(echo "$qa_live" | wc -l)" = 2 ] && [ "$qa_status_rc" = 0 ] && ! id -nG qa | tr " " "\n" | grep -qx flashd' \
		"log: $(echo "$qa_live" | tail -1)" "status ($qa_status_rc): $qa_status" "groups: $(id -nG qa)"
	say "#   db and its directory: $(stat -c '%n %U:%G %a' "$DB"* /var/lib/flashd | tr '\n' ' ')"
else
	say "#   useradd missing: QA group check skipped"
fi

# ---- web: flashd-web as installed, under systemd next to flashd -----------------
# make install put its binary, unit and sysusers entry; started here, it
# finds flashd's event stream and database from flashd.conf; /metrics is
# scraped from inside the VM.  It runs as flashd-web with group flashd-read,
# never group flashd (which owns the boards' device nodes).
web_up() { curl -sf -o "$W/metrics.txt" http://127.0.0.1:9180/metrics; }
if want_case web; then
	systemctl start flashd-web
	wait_for 30 web_up
	check vm_web_started_by_systemd_serves_metrics \
		'[ "$(systemctl is-active flashd-web)" = active ] && [ -s "$W/metrics.txt" ]' \
		"is-active: $(systemctl is-active flashd-web)" "$(journalctl -u flashd-web -n 5 --no-pager)"
	cp "$W/metrics.txt" "$OUT/metrics.txt" 2>/dev/null
	missing=
	for m in flashd_units_total flashd_unit_duration_seconds flashd_stage_duration_seconds flashd_ports \
		flashd_bytes_written_total flashd_db_write_errors_total flashd_build_info; do
		grep -q "^# TYPE $m " "$W/metrics.txt" || missing="$missing $m"
	done
	if command -v promtool >/dev/null; then
		lint=$(promtool check metrics <"$W/metrics.txt" 2>&1)
		lint_rc=$?
	else
		lint="promtool not in the image: names checked" lint_rc=0
	fi
	say "#   metrics lint: $lint"
	check vm_web_metrics_names_and_format '[ -z "$missing" ] && [ "$lint_rc" = 0 ]' "missing:$missing" "$lint"
	# The counts come from flashd's database; its status answers over the control socket.
	web_pass=$(awk '/^flashd_units_total\{.*result="pass"/ { n += $2 } END { print n + 0 }' "$W/metrics.txt")
	db_pass=$(q "SELECT count(*) FROM units WHERE result = 'pass'")
	we=$(awk '$1 == "flashd_db_write_errors_total" { print $2 }' "$W/metrics.txt")
	check vm_web_metrics_agree_with_database_and_flashd \
		'[ "$web_pass" = "$db_pass" ] && [ "$we" = 0 ] && grep -q "^flashd_ports{" "$W/metrics.txt"' \
		"pass in metrics: $web_pass, in the database: $db_pass, write errors: $we" "$(grep '^flashd_ports' "$W/metrics.txt")"
	page=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9180/)
	connected=$(journalctl -u flashd-web --no-pager | grep -c "events: connected to '/run/flashd/events'")
	check vm_web_page_and_flashd_event_stream '[ "$page" = 200 ] && [ "$connected" -ge 1 ]' \
		"GET /: $page" "$(journalctl -u flashd-web -n 5 --no-pager)"
	wpid=$(systemctl show -p MainPID --value flashd-web)
	wuser=$(ps -o user:32= -p "$wpid" | tr -d ' ')
	wgroups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$wpid/status" 2>/dev/null)
	wgid=$(awk '/^Gid:/ { print $2 }' "/proc/$wpid/status" 2>/dev/null)
	g_flashd=$(getent group flashd | cut -d: -f3)
	g_read=$(getent group flashd-read | cut -d: -f3)
	has_gid() { [[ " $wgroups $wgid " == *" $1 "* ]]; }
	check vm_web_runs_as_flashd_web_without_group_flashd \
		'[ "$wuser" = flashd-web ] && [ -n "$g_flashd" ] && ! has_gid "$g_flashd" && has_gid "$g_read"' \
		"user=$wuser gid=$wgid groups=$wgroups flashd=$g_flashd flashd-read=$g_read"
	journalctl -u flashd-web --no-pager >"$OUT/flashd-web.log" 2>&1
fi

# ---- every unit that started says how it ended --------------------------------
check vm_no_row_left_running 'no_running' "$(q "SELECT id, port FROM units WHERE result = 'running'")"

# ---- logs back to the host ----------------------------------------------------------
journalctl -o export --no-pager >"$OUT/journal.export" 2>/dev/null
journalctl -u flashd --no-pager -o short-monotonic >"$OUT/flashd.log" 2>&1
runuser -u flashd -- sqlite3 "$DB" ".backup /tmp/flashd-copy.db" && cp /tmp/flashd-copy.db "$OUT/flashd.db"
systemctl status flashd --no-pager >"$OUT/systemctl-status.txt" 2>&1
say "done"
