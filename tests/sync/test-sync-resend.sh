#!/usr/bin/env bash
# Duplicate delivery of a whole batch, made certain rather than left to a
# race (test-sync.sh's twin may or may not overlap): a lock on the fleet
# outbox holds two flashd-sync --once for one station inside the same
# batch's transaction (both read the same high-water mark, both COPY the
# same entries); when it is released the second inserts the entries the
# first just committed.  That re-send must insert nothing and fail nothing:
# both exit 0 without an error or a retry, and the server holds every
# entry, unit, stage, image and identity exactly once.
. "$(dirname "$0")/../lib/testlib.sh"
. "$top/tests/sync/pg-lib.sh"
sync=$build/flashd-sync
gen=$build/tests/tools/unit-gen

pg_need "fleet sync re-send"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	pg_cleanup
}
trap cleanup EXIT

UNITS=40 # one batch: every entry of the station goes twice

pg_up
cat >"$tmp/owner.conf" <<CONF
server = host=$tmp/pg/sock dbname=fleet user=fleet_owner
CONF
"$sync" -c "$tmp/owner.conf" --migrate >/dev/null 2>&1 || nok "--migrate"
q -c "CREATE ROLE ingest_1 LOGIN PASSWORD 'pw-1' IN ROLE flashd_ingest"
mkdir -m 700 "$tmp/cred" && echo pw-1 >"$tmp/cred/pgpassword"
"$gen" "$tmp/st.db" st-1 $UNITS 020100000000 >/dev/null
cat >"$tmp/st.conf" <<CONF
server = host=$tmp/pg/sock dbname=fleet user=ingest_1
station = st-1
database = $tmp/st.db
batch = 5000
backoff_min_ms = 50
backoff_max_ms = 200
CONF

# The lock holder: SHARE on flashd.outbox lets the hello read the mark but
# makes every INSERT into the outbox wait, until it is cancelled.
q -c "BEGIN; LOCK TABLE flashd.outbox IN SHARE MODE; SELECT pg_sleep(120); COMMIT" \
	>/dev/null 2>&1 &
pids+=($!)
holder() {
	q -c "SELECT pid FROM pg_locks WHERE relation = 'flashd.outbox'::regclass
	      AND mode = 'ShareLock' AND granted"
}
for _ in $(seq 200); do [ -n "$(holder)" ] && break; sleep 0.05; done
lock_pid=$(holder)

for n in 1 2; do
	CREDENTIALS_DIRECTORY=$tmp/cred "$sync" -c "$tmp/st.conf" --once >"$tmp/sync$n.log" 2>&1 &
	spid[$n]=$!
	pids+=("${spid[$n]}")
done
waiting() {
	q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'flashd-sync'
	      AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO flashd.outbox%'"
}
for _ in $(seq 600); do [ "$(waiting)" = 2 ] && break; sleep 0.05; done
both=$(waiting)
q -c "SELECT pg_cancel_backend($lock_pid)" >/dev/null
rc1=0 rc2=0
wait "${spid[1]}" || rc1=$?
wait "${spid[2]}" || rc2=$?

if [ "$both" = 2 ]; then
	ok "two flashd-sync for one station wait in the same batch's INSERT"
else
	nok "two flashd-sync wait in the same batch" "$both waiting" "$(q -c "SELECT application_name, wait_event_type, state, query FROM pg_stat_activity")"
fi
if [ $rc1 = 0 ] && [ $rc2 = 0 ] && ! grep -qiE "retrying|error|duplicate" "$tmp/sync1.log" "$tmp/sync2.log"; then
	ok "the re-sent batch is accepted: both exit 0, no error, no retry"
else
	nok "the re-sent batch is accepted" "exit $rc1 and $rc2" "$(cat "$tmp/sync1.log" "$tmp/sync2.log")"
fi

# Exactly once: the station's rows, and no key twice on the server.
local_counts=$(sqlite3 "$tmp/st.db" "SELECT (SELECT count(*) FROM outbox) || ' ' ||
	(SELECT count(*) FROM units) || ' ' || (SELECT count(*) FROM unit_stages) || ' ' ||
	(SELECT count(*) FROM unit_images) || ' ' || (SELECT count(*) FROM unit_identities)")
server_counts=$(q -c "SELECT (SELECT count(*) FROM flashd.outbox) || ' ' ||
	(SELECT count(*) FROM flashd.units) || ' ' || (SELECT count(*) FROM flashd.unit_stages) || ' ' ||
	(SELECT count(*) FROM flashd.unit_images) || ' ' || (SELECT count(*) FROM flashd.unit_identities)")
if [ "$local_counts" = "$server_counts" ] && [ "${local_counts%% *}" -ge $UNITS ]; then
	ok "the server holds each entry, unit, stage, image and identity once ($server_counts)"
else
	nok "each row once" "station: $local_counts" "server:  $server_counts"
fi
exit $((fails > 0))
