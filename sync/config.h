/*
 * flashd-sync's configuration, /etc/flashd/sync.conf (flashd-sync(8)):
 * "key = value" lines, '#' comments, every key optional and at most once.
 */
#ifndef FLASHD_SYNC_CONFIG_H
#define FLASHD_SYNC_CONFIG_H

#include "common/err.h"

#define SYNC_DEFAULT_CONFIG "/etc/flashd/sync.conf"

struct sync_config {
	char station[128];		    /* station name on the server; default: host name */
	char line[128];			    /* production line, "" = none */
	char database[512];		    /* station database (read-only) */
	char server[1024];		    /* libpq connection string, without the password */
	char password_credential[128];	    /* file in $CREDENTIALS_DIRECTORY, "" = none */
	int batch;			    /* entries per transaction */
	int poll_ms;			    /* look for new entries this often when idle */
	int backoff_min_ms, backoff_max_ms; /* retry delays after a failure */
	int lag_log_sec;		    /* journal line about the lag at most this often */
	char metrics_file[512];		    /* Prometheus text file with the lag, "" = none */
};

/* Defaults, then path's keys over them.  Returns 0 or -errno (message in err). */
int sync_config_load(struct sync_config *c, const char *path, struct err *err);

#endif
