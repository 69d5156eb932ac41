# Sourced by tests/sync/test-*.sh after tests/lib/testlib.sh: a throw-away
# PostgreSQL server in $tmp/pg, on a unix socket only (no TCP port), stopped
# and removed at exit.  A script starts with
#   pg_need NAME [PROGRAM...]   # or one "ok - NAME # SKIP ..." line, exit 0
#   pg_up                       # or "not ok - PostgreSQL starts", exit 1
# and, when it starts processes of its own, an EXIT trap that stops them and
# then calls pg_cleanup (pg_need installs pg_cleanup as the trap).  Its q
# replaces testlib's: psql on the fleet database, not sqlite3.
#
# Where the server binaries are: $PGBIN, else the newest
# /usr/lib/postgresql/*/bin (Debian keeps initdb and pg_ctl off PATH), else
# PATH.  initdb refuses to run as root: as root the server runs as user
# nobody (runuser), in directories given to it; as any other user it runs
# as that user.  A machine without the server binaries skips the suite
# ("make deps" installs them).
#
# Roles: postgres (superuser), fleet_owner (owns database fleet, runs
# --migrate), qa (group flashd_qa); they log in without a password (trust).
# Every other role authenticates with SCRAM: the ingest roles need their
# password, which flashd-sync reads from a systemd credential.

pg_find_bin() {
	local d
	for d in ${PGBIN:-} $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
	done
	command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

# pg_need NAME [PROGRAM...]: SKIP the whole script unless the server
# binaries, psql, sqlite3 and every PROGRAM are there; sets pg_bin.
pg_need() {
	local name=$1
	shift
	pg_bin=$(pg_find_bin)
	if [ -z "$pg_bin" ]; then
		skip "$name" "no PostgreSQL server binaries (make deps installs postgresql)"
		exit 0
	fi
	need "$name" psql sqlite3 "$@"
	trap pg_cleanup EXIT
}

# pg_up: the server in $tmp/pg with database fleet (pg_fleet), or the
# script ends not ok.  The server's user (nobody when run as root) must
# reach $tmp/pg, hence $tmp's mode.
pg_up() {
	chmod 755 "$tmp"
	pg_init "$tmp/pg" && pg_start && pg_fleet || {
		nok "PostgreSQL starts" "$(tail -5 "$tmp/pg/initdb.log" "$tmp/pg/sock/server.log" 2>/dev/null)"
		exit 1
	}
}

# pg_migrate: $tmp/owner.conf (flashd-sync as fleet_owner) and the schema
# migrated with it ($sync --migrate), or the script ends not ok.
pg_migrate() {
	cat >"$tmp/owner.conf" <<-CONF
	server = host=$pg_sock dbname=fleet user=fleet_owner
	CONF
	"$sync" -c "$tmp/owner.conf" --migrate >"$tmp/migrate.log" 2>&1 || {
		nok "migrate" "$(cat "$tmp/migrate.log")"
		exit 1
	}
}

# pg_cleanup: at exit, the server killed (if pg_up started one) and $tmp
# removed (testlib_cleanup: unless KEEP=1).
pg_cleanup() {
	[ -n "${pg_dir:-}" ] && pg_stop immediate
	testlib_cleanup
}

# Run a server command as the server's user.
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

# pg_init DIR: initdb into DIR/data, socket in DIR/sock, log DIR/sock/server.log.
pg_init() {
	pg_dir=$1
	pg_sock=$pg_dir/sock
	mkdir -p "$pg_dir/data" "$pg_sock"
	chmod 755 "$pg_dir"
	[ "$(id -u)" = 0 ] && chown nobody "$pg_dir/data" "$pg_sock"
	pg_as "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust --no-sync >"$pg_dir/initdb.log" 2>&1 ||
		return 1
	cat >"$pg_dir/hba" <<-HBA
	local all postgres trust
	local all fleet_owner trust
	local all qa trust
	local all all scram-sha-256
	HBA
	[ "$(id -u)" = 0 ] && chown nobody "$pg_dir/hba"
	return 0
}

pg_start() {
	pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_sock/server.log" -w -t 60 \
		-o "-k $pg_sock -c listen_addresses= -c hba_file=$pg_dir/hba -c fsync=off -c max_connections=60" \
		start >/dev/null
}

# pg_stop [MODE]: fast by default; immediate is a crash of the server.
pg_stop() {
	pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -m "${1:-fast}" -w stop >/dev/null 2>&1
}

# q [psql options] SQL: one query as postgres on database fleet, unaligned.
q() {
	psql -h "$pg_sock" -U postgres -d fleet -v ON_ERROR_STOP=1 -X -q -At "$@"
}

# pg_fleet: database fleet owned by fleet_owner, migrated by flashd-sync.
pg_fleet() {
	psql -h "$pg_sock" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 \
		-c "CREATE ROLE fleet_owner LOGIN CREATEROLE" \
		-c "CREATE DATABASE fleet OWNER fleet_owner"
}
