#!/usr/bin/env bash
# flashd-hooks.service as systemd sees it: `systemd-analyze verify` is clean,
# the offline security analysis scores its exposure at or below 2.5 (printed),
# it never runs in group flashd (the boards' device nodes) but in
# flashd-read; `make install` places its binary, unit, man page and example
# configuration, and the installed unit starts the installed binary.
. "$(dirname "$0")/../lib/testlib.sh"
unit=$top/systemd/flashd-hooks.service

sed "s|/usr/bin/flashd-hooks|$build/flashd-hooks|" "$unit" >"$tmp/flashd-hooks.service"
out=$(cd "$tmp" && systemd-analyze verify --man=no ./flashd-hooks.service 2>&1)
check hooks_unit_verify_is_clean "$([ -z "$out" ]; echo $?)" "$out"
sec=$(cd "$tmp" && systemd-analyze security --offline=yes ./flashd-hooks.service 2>&1)
score=$(echo "$sec" | sed -n 's/.*Overall exposure level for flashd-hooks.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security --offline=yes: exposure $score (target <= 2.5)"
check hooks_unit_exposure_at_most_2_5 "$([ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }'; echo $?)" "$(echo "$sec" | grep '✗')"
groups=$(sed -n 's/^\(Group\|SupplementaryGroups\)=//p' "$unit" | tr '\n' ' ')
check hooks_unit_never_in_group_flashd "$([[ " $groups " == *" flashd-read "* && " $groups " != *" flashd "* ]] && grep -q '^DynamicUser=yes' "$unit"; echo $?)" "groups: $groups"

make -s -C "$top" install DESTDIR="$tmp/root" PREFIX=/usr >"$tmp/log" 2>&1
check hooks_make_install_succeeds $? "$(tail -5 "$tmp/log")"
missing=""
for f in usr/bin/flashd-hooks lib/systemd/system/flashd-hooks.service usr/share/man/man8/flashd-hooks.8 etc/flashd/hooks.conf; do
	[ -e "$tmp/root/$f" ] || missing="$missing $f"
done
check hooks_install_places_every_file "$([ -z "$missing" ]; echo $?)" "missing:$missing"
check hooks_installed_unit_runs_installed_binary "$(grep -q '^ExecStart=/usr/bin/flashd-hooks ' "$tmp/root/lib/systemd/system/flashd-hooks.service"; echo $?)"
# The example configuration is one flashd-hooks accepts.
out=$(timeout 1 "$build/flashd-hooks" --config "$top/web/hooks.conf" --socket "$tmp/none" --log-stderr 2>&1)
check hooks_example_config_loads "$([[ $out == *"timeout 10000 ms"* ]]; echo $?)" "$out"
