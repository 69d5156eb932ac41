#!/usr/bin/env bash
# flashd-web's unit, user and installation: systemd-analyze verify is clean
# and the offline exposure score low; the service user comes from sysusers
# and gets group flashd-read but never flashd (the group of the boards'
# device nodes, udev/70-flashd.rules); no device nodes; make install places
# binary, unit, sysusers file, man page and web.conf; the man page and
# --help name the same options; --check-config reads web.conf and flashd.conf.
set -u
. "$(dirname "$0")/lib.sh"
unit=$top/systemd/flashd-web.service

sed "s|/usr/bin/flashd-web|$build/flashd-web|" "$unit" >"$tmp/flashd-web.service"
out=$(cd "$tmp" && systemd-analyze verify --man=no ./flashd-web.service 2>&1)
check "web_unit_systemd_analyze_verify_is_clean" "$([ -z "$out" ] && [ -x "$build/flashd-web" ] && echo 0 || echo 1)" "$out"
sec=$(cd "$tmp" && systemd-analyze security --offline=yes ./flashd-web.service 2>&1)
score=$(echo "$sec" | sed -n 's/.*Overall exposure level for flashd-web.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security --offline=yes: exposure $score (target <= 3.0)"
check "web_unit_exposure_at_most_3" "$([ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' && echo 0 || echo 1)" "$(echo "$sec" | grep '✗' | head -20)"

val() { sed -n "s/^$1=//p" "$unit" | tr '\n' ' ' | sed 's/ $//'; }
groups="$(val Group) $(val SupplementaryGroups)"
board_group=$(sed -n 's/.*GROUP="\([^"]*\)".*/\1/p' "$top/udev/70-flashd.rules" | sort -u)
check "web_unit_user_is_flashd_web_with_flashd_read" \
	"$([ "$(val User)" = flashd-web ] && [ "$(val SupplementaryGroups)" = flashd-read ] && echo 0 || echo 1)" "User=$(val User) groups: $groups"
bad=""
for g in $groups; do for b in $board_group; do [ "$g" = "$b" ] && bad="$bad $g"; done; done
check "web_unit_never_gets_the_boards_group" "$([ -z "$bad" ] && [ -n "$board_group" ] && echo 0 || echo 1)" "board group(s): $board_group; unit groups: $groups"
check "web_unit_has_no_devices_and_a_read_only_system" \
	"$([ "$(val PrivateDevices)" = yes ] && [ "$(val ProtectSystem)" = strict ] && [ "$(val NoNewPrivileges)" = yes ] && [ -z "$(val CapabilityBoundingSet)" ] && ! grep -q '^DeviceAllow=' "$unit" && echo 0 || echo 1)" \
	"PrivateDevices=$(val PrivateDevices) ProtectSystem=$(val ProtectSystem)"
check "web_sysusers_creates_the_user" \
	"$(grep -q '^u flashd-web ' "$top/systemd/flashd-web.sysusers" && grep -q '^g flashd-read ' "$top/systemd/flashd.sysusers" && echo 0 || echo 1)"

if make -s -C "$top" install-web DESTDIR="$tmp/root" PREFIX=/usr >"$tmp/install.log" 2>&1; then
	missing=""
	for f in usr/bin/flashd-web usr/lib/sysusers.d/flashd-web.conf usr/share/man/man8/flashd-web.8 etc/flashd/web.conf; do
		[ -e "$tmp/root/$f" ] || missing="$missing $f"
	done
	u=$(find "$tmp/root" -name flashd-web.service | head -1)
	check "web_install_places_every_file" "$([ -z "$missing" ] && [ -n "$u" ] && grep -q '^ExecStart=/usr/bin/flashd-web ' "$u" && echo 0 || echo 1)" "missing:$missing unit:$u"
else
	nok "web_install_places_every_file" "$(tail -5 "$tmp/install.log")"
fi

help_opts() { "$@" 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u; }
man_opts() { grep -o -- '\\-\\-[a-z][a-z\\-]*' "$1" | sed 's/\\-/-/g; s/\\.*//; s/-$//' | sort -u; }
h=$(help_opts "$build/flashd-web" --help)
m=$(man_opts "$top/web/flashd-web.8")
check "web_man_page_and_help_name_the_same_options" "$([ -n "$h" ] && [ "$h" = "$m" ] && echo 0 || echo 1)" "help: $(echo $h)" "man: $(echo $m)"

cat >"$tmp/flashd.conf" <<CONF
database = /srv/line.db
control_socket = /srv/ctl
slot.1-1.1 = A1
CONF
printf 'listen = [::1]:9999\nflashd_conf = %s\n' "$tmp/flashd.conf" >"$tmp/web.conf"
out=$("$build/flashd-web" --config "$tmp/web.conf" --check-config 2>&1)
check "web_check_config_takes_flashd_conf_defaults" \
	"$(echo "$out" | grep -qx 'listen ::1:9999' && echo "$out" | grep -qx 'database /srv/line.db' && echo "$out" | grep -qx 'control_socket /srv/ctl' && echo "$out" | grep -qx 'slots 1' && echo 0 || echo 1)" "$out"
bad=""
for l in 'listen = 1.2.3.4' 'listen = localhost:80' 'listen = 127.0.0.1:0' 'database = relative.db' 'colour = red' 'nonsense'; do
	printf '%s\nflashd_conf = %s\n' "$l" "$tmp/flashd.conf" >"$tmp/bad.conf"
	err=$("$build/flashd-web" --config "$tmp/bad.conf" --check-config 2>&1) && bad="$bad [$l accepted]"
	echo "$err" | grep -q "bad.conf:1:" || bad="$bad [$l: $err]"
done
printf 'listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\n' >"$tmp/twice.conf"
"$build/flashd-web" --config "$tmp/twice.conf" --check-config >/dev/null 2>&1 && bad="$bad [twice accepted]"
check "web_config_refuses_bad_lines_naming_file_and_line" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
exit 0
