#!/usr/bin/env bash
# `make install DESTDIR=… PREFIX=/usr` puts every file where systemd, udev
# and man look for it, and the installed unit starts the installed binary.
. "$(dirname "$0")/../lib/testlib.sh"
san=
[[ $build == */asan ]] && san=SANITIZE=1

if make -s -C "$top" install DESTDIR="$tmp" PREFIX=/usr $san >"$tmp/log" 2>&1; then
	echo "ok - make_install_succeeds"
else
	echo "not ok - make_install_succeeds"
	sed 's/^/#   /' "$tmp/log" | tail -5
fi
missing=""
for f in usr/bin/flashd usr/bin/flashctl lib/systemd/system/flashd.service \
	usr/lib/sysusers.d/flashd.conf usr/lib/tmpfiles.d/flashd.conf \
	lib/udev/rules.d/70-flashd.rules usr/share/man/man8/flashd.8 \
	usr/share/man/man1/flashctl.1 usr/share/man/man5/flashd.recipe.5 etc/flashd/flashd.conf; do
	[ -e "$tmp/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then echo "ok - install_places_every_file"; else echo "not ok - install_places_every_file"; echo "#   missing:$missing"; fi
if grep -q '^ExecStart=/usr/bin/flashd ' "$tmp/lib/systemd/system/flashd.service" 2>/dev/null; then
	echo "ok - installed_unit_runs_installed_binary"
else
	echo "not ok - installed_unit_runs_installed_binary"
fi
if "$tmp/usr/bin/flashd" --version 2>/dev/null | grep -q '^flashd '; then
	echo "ok - installed_flashd_runs"
else
	echo "not ok - installed_flashd_runs"
fi
