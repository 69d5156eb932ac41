#!/usr/bin/env bash
# flashd-sync's lag as Prometheus metrics (issue 20: "STATUS/metrics/journal
# show the lag"): its metrics_file while shipping and while the server is
# down, checked by promtool, and the same series on flashd-web's /metrics
# (plant IT scrapes one endpoint).  A real PostgreSQL (pg-lib.sh).
. "$(dirname "$0")/../lib/testlib.sh"
. "$top/tests/sync/pg-lib.sh"
. "$top/tests/web/lib.sh"
sync=$build/flashd-sync
gen=$build/tests/tools/unit-gen

pg_need "sync metrics"
for t in promtool curl; do
	command -v $t >/dev/null || { echo "not ok - $t is installed (make deps)"; exit 1; }
done

spid=
cleanup() {
	[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
	web_stop
	wait 2>/dev/null
	pg_cleanup
}
trap cleanup EXIT

pg_up
pg_migrate
q -c "CREATE ROLE ingest_1 LOGIN PASSWORD 'pw-1' IN ROLE flashd_ingest"
mkdir -m 700 -p "$tmp/cred" && printf 'pw-1' >"$tmp/cred/pgpassword"

m=$tmp/run/metrics.prom
mkdir -p "$tmp/run"
cat >"$tmp/st.conf" <<CONF
server = host=$tmp/pg/sock dbname=fleet user=ingest_1
station = st-"quoted"
database = $tmp/st.db
poll_ms = 50
backoff_min_ms = 50
backoff_max_ms = 200
metrics_file = $m
CONF
"$gen" "$tmp/st.db" st-1 12 020100000000 >/dev/null
top_seq=$(sqlite3 "$tmp/st.db" "SELECT max(seq) FROM outbox")

metric() { # NAME FILE: the value of NAME (one series)
	sed -n "s/^$1{[^}]*} //p" "$2" 2>/dev/null
}

CREDENTIALS_DIRECTORY=$tmp/cred "$sync" -c "$tmp/st.conf" --once >"$tmp/once.log" 2>&1
check sync_metrics_file_after_shipping "$([ -f "$m" ] && [ "$(metric flashd_sync_up "$m")" = 1 ] &&
	[ "$(metric flashd_sync_lag_entries "$m")" = 0 ] &&
	[ "$(metric flashd_sync_high_water_seq "$m")" = "$top_seq" ] && echo 0 || echo 1)" \
	"$(cat "$m" 2>/dev/null | grep -v '^#')" "$(tail -3 "$tmp/once.log")"
check sync_metrics_pass_promtool "$(promtool check metrics <"$m" >"$tmp/promtool.out" 2>&1 && echo 0 || echo 1)" \
	"$(head -5 "$tmp/promtool.out")"
check sync_metrics_label_escaped "$(grep -qF 'station="st-\"quoted\""' "$m" && echo 0 || echo 1)" \
	"$(grep -m1 flashd_sync_up "$m")"
check sync_metrics_file_readable_by_others "$([ "$(stat -c %a "$m")" = 644 ] && echo 0 || echo 1)" \
	"mode $(stat -c %a "$m")"

# A running flashd-sync, then the server goes down and the station goes
# on: up 0, the new entries counted as lag.
rm -f "$m"
CREDENTIALS_DIRECTORY=$tmp/cred "$sync" -c "$tmp/st.conf" >"$tmp/down.log" 2>&1 &
spid=$!
for _ in $(seq 100); do
	[ "$(metric flashd_sync_up "$m")" = 1 ] && [ "$(metric flashd_sync_lag_entries "$m")" = 0 ] && break
	sleep 0.1
done
pg_stop fast
"$gen" "$tmp/st.db" st-1 5 020100000000 0 13 >/dev/null
want=$(sqlite3 "$tmp/st.db" "SELECT count(*) FROM outbox WHERE seq > $top_seq")
for _ in $(seq 100); do
	[ "$(metric flashd_sync_up "$m")" = 0 ] && [ "$(metric flashd_sync_lag_entries "$m")" = "$want" ] && break
	sleep 0.1
done
lag=$(metric flashd_sync_lag_entries "$m")
check sync_metrics_show_the_outage_and_its_lag "$([ "$(metric flashd_sync_up "$m")" = 0 ] && [ "$lag" = "$want" ] &&
	echo 0 || echo 1)" "lag $lag, want $want" "$(grep -v '^#' "$m")"

# flashd-web passes the series on.
port=$(free_port)
printf 'listen = 127.0.0.1:%s\nflashd_conf = %s/none.conf\ndatabase = %s\ncontrol_socket = %s/no-ctl\nsync_metrics = %s\n' \
	"$port" "$tmp" "$tmp/st.db" "$tmp" "$m" >"$tmp/web.conf"
web_start "$tmp" "$tmp/web.conf" "$port" || nok web_starts "$(tail -3 "$tmp/web.log")"
code=$(get "http://127.0.0.1:$port/metrics" "$tmp/web.metrics")
check web_metrics_carry_the_sync_lag "$([ "$code" = 200 ] && [ "$(metric flashd_sync_lag_entries "$tmp/web.metrics")" = "$want" ] &&
	echo 0 || echo 1)" "HTTP $code" "$(grep flashd_sync_ "$tmp/web.metrics" | head -3)"
check web_metrics_with_sync_pass_promtool "$(promtool check metrics <"$tmp/web.metrics" >"$tmp/promtool2.out" 2>&1 && echo 0 || echo 1)" \
	"$(head -5 "$tmp/promtool2.out")"
