/*
 * What flashd-sync tells systemd (STATUS=, `systemctl status`) and the
 * journal (and a metrics file): where the server is, how far it has shipped, and the lag (the
 * entries not yet on the server and the age of the oldest).  The journal
 * gets a line when the state changes (connected, lost, caught up) and,
 * while lagging, at most every lag_log_sec.
 */
#ifndef FLASHD_SYNC_STATUS_H
#define FLASHD_SYNC_STATUS_H

#include <stdbool.h>
#include <stdint.h>

struct sync_status {
	int lag_log_sec;
	const char *station;	  /* label of the metrics; not owned */
	const char *metrics_file; /* Prometheus text file, NULL or "" = none; not owned */
	bool metrics_failed;	  /* told the journal once */
	char server[256];	  /* sync_pg_describe(), "" when not connected */
	int64_t high_water;	  /* -1: unknown */
	int64_t lag, oldest_ms;	  /* entries after high_water; created_at of the first */
	char problem[256];	  /* last failure while down, "" when up */
	int64_t last_lag_log_ms, last_notify_ms;
	bool lagging;
};

void sync_status_init(struct sync_status *s, int lag_log_sec);

/*
 * Tell systemd (at most once a second unless force), the journal and the
 * metrics file: flashd_sync_up, _high_water_seq, _lag_entries,
 * _lag_oldest_seconds and _updated_timestamp_seconds, labelled with the
 * station, written to a temporary file and renamed (a scraper never reads
 * half a file), for node_exporter's textfile collector or flashd-web.
 */
void sync_status_report(struct sync_status *s, bool force);

/* Monotonic time in ms. */
int64_t sync_now_ms(void);

#endif
