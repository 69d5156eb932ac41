#!/usr/bin/env bash
# The man pages and the --help texts name the same options (issue 17): an
# option added to one and not the other fails here.  Options are the
# "--word" tokens of `CMD --help` and the "\-\-word" tokens of the page.
. "$(dirname "$0")/../lib/testlib.sh"

help_opts() { "$@" 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u; }
man_opts() { # "\-\-word" in roff; a font change (\fR) may follow
	grep -o -- '\\-\\-[a-z][a-z\\-]*' "$1" | sed 's/\\-/-/g; s/\\.*//; s/-$//' | sort -u
}

compare() { # NAME MANPAGE HELP-COMMAND...
	local name=$1 page=$2
	shift 2
	local h m
	h=$(help_opts "$@")
	m=$(man_opts "$page")
	local only_help only_man
	only_help=$(comm -23 <(echo "$h") <(echo "$m") | tr '\n' ' ')
	only_man=$(comm -13 <(echo "$h") <(echo "$m") | tr '\n' ' ')
	if [ -z "$h" ]; then
		echo "not ok - $name: no options in --help"
		fails=$((fails + 1))
	elif [ -z "$only_help$only_man" ]; then
		echo "ok - $name: --help and $(basename "$page") name the same options"
	else
		echo "not ok - $name: --help and $(basename "$page") differ"
		echo "#   only in --help: $only_help"
		echo "#   only in the man page: $only_man"
		fails=$((fails + 1))
	fi
}

compare flashctl "$top/daemon/flashctl.1" "$build/flashctl" --help
compare flashd "$top/daemon/flashd.8" "$build/flashd" --help
compare flashd-hooks "$top/web/flashd-hooks.8" "$build/flashd-hooks" --help

# Every flashctl command answers --help the same way: usage on stdout, exit 0.
for c in log show stats export status recipe devices udev-rules pool; do
	out=$("$build/flashctl" "$c" --help 2>/dev/null)
	rc=$?
	if [ "$rc" = 0 ] && [[ $out == "usage: flashctl $c "* ]]; then
		echo "ok - flashctl $c --help prints its usage"
	else
		echo "not ok - flashctl $c --help prints its usage"
		echo "#   rc=$rc: $out"
		fails=$((fails + 1))
	fi
done
exit $((fails > 0))
