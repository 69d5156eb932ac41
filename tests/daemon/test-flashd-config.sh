#!/usr/bin/env bash
# "flashd --check-config" (daemon/flashd.c): what an operator runs after
# editing /etc/flashd/flashd.conf, before restarting the line.  Exit 0 and
# "FILE: ok" for a good file; exit 1 and file:line with the reason for a bad
# one; flashd itself refuses to start on the same file with the same message.
. "$(dirname "$0")/../lib/testlib.sh"
flashd=$build/flashd

mkdir -p "$tmp/recipes" "$tmp/var"
cat >"$tmp/good.conf" <<CONF
# a station
station = line#3-st1
recipe_dir = $tmp/recipes   # trailing comment
database = $tmp/var/flashd.db
slot.1-1.2 = A1
CONF
out=$("$flashd" --config "$tmp/good.conf" --check-config 2>&1)
rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "$tmp/good.conf: ok" ] && ok "good config: exit 0, ok" ||
	nok "good config: exit 0, ok" "rc=$rc" "$out"

cp "$tmp/good.conf" "$tmp/bad.conf"
echo "slot.1-1.2 = A2" >>"$tmp/bad.conf"
out=$("$flashd" --config "$tmp/bad.conf" --check-config 2>&1)
rc=$?
want="flashd: $tmp/bad.conf:6: slot.1-1.2: port already labelled 'A1'"
[ "$rc" -eq 1 ] && [ "$out" = "$want" ] && ok "duplicate slot: exit 1, file:line" ||
	nok "duplicate slot: exit 1, file:line" "rc=$rc" "$out"
out=$(timeout 10 "$flashd" --config "$tmp/bad.conf" --log-stderr 2>&1)
rc=$?
[ "$rc" -eq 1 ] && [[ $out == *"$tmp/bad.conf:6: slot.1-1.2: port already labelled 'A1'"* ]] &&
	ok "flashd refuses to start on it" || nok "flashd refuses to start on it" "rc=$rc" "$out"
# Issue 17: each start-up error is logged once (not again as "Start-up failed").
[ "$(grep -c . <<<"$out")" = 1 ] && ok "the start-up error is logged once" ||
	nok "the start-up error is logged once" "$out"

sed "s|recipe_dir = .*|recipe_dir = $tmp/nope|" "$tmp/good.conf" >"$tmp/nodir.conf"
out=$("$flashd" --config "$tmp/nodir.conf" --check-config 2>&1)
rc=$?
[ "$rc" -eq 1 ] && [ "$out" = "flashd: recipe_dir '$tmp/nope' is not a directory" ] &&
	ok "missing recipe directory: exit 1" || nok "missing recipe directory: exit 1" "rc=$rc" "$out"

out=$("$flashd" --config "$tmp" --check-config 2>&1)
rc=$?
[ "$rc" -eq 1 ] && [[ $out == *"is not a regular file"* ]] && ok "a directory as config: exit 1" ||
	nok "a directory as config: exit 1" "rc=$rc" "$out"
exit $((fails > 0))
