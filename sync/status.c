/* This file implements STATUS= and the lag lines of flashd-sync (see sync/status.h). */
#include "sync/status.h"
#include "common/log.h"
#include "db/db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

int64_t sync_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sync_status_init(struct sync_status *s, int lag_log_sec)
{
	*s = (struct sync_status){ .lag_log_sec = lag_log_sec, .high_water = -1 };
}

/* Seconds since the oldest unsent entry was written (wall clock: it is a created_at). */
static long long age_sec(const struct sync_status *s)
{
	return s->lag && s->oldest_ms ? (long long)((db_now_ms() - s->oldest_ms) / 1000) : 0;
}

static void format_status(const struct sync_status *s, char *buf, size_t size)
{
	if (s->problem[0])
		snprintf(buf, size,
			 "server unreachable, retrying: %s; lag %lld entries, oldest %llds",
			 s->problem, (long long)s->lag, age_sec(s));
	else
		snprintf(buf, size, "%s: shipped up to seq %lld; lag %lld entries, oldest %llds",
			 s->server, (long long)s->high_water, (long long)s->lag, age_sec(s));
}

static void log_lag(struct sync_status *s, int64_t now)
{
	if (s->lag && (!s->lagging || now - s->last_lag_log_ms >= s->lag_log_sec * 1000LL)) {
		log_msg(LOG_INFO, "lag: %lld entries not on the server, oldest %llds",
			(long long)s->lag, age_sec(s));
		s->last_lag_log_ms = now;
	} else if (!s->lag && s->lagging && !s->problem[0]) {
		log_msg(LOG_INFO, "caught up: server holds every entry up to seq %lld",
			(long long)s->high_water);
	}
	s->lagging = s->lag > 0;
}

/* A label value in the text format: backslash, quote and newline escaped. */
static void label_value(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; in && *in && o + 3 < size; in++) {
		if (*in == '\\' || *in == '"' || *in == '\n')
			out[o++] = '\\';
		out[o++] = *in == '\n' ? 'n' : *in;
	}
	out[o] = '\0';
}

static int write_metrics(const struct sync_status *s)
{
	char tmp[600], st[300];
	FILE *f;
	int fd, r = 0;

	label_value(s->station, st, sizeof(st));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", s->metrics_file) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* 0644 whatever the umask (0077 in the unit): flashd-web, another user,
	 * reads it; lag figures are no secret. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	fprintf(f,
		"# HELP flashd_sync_up 1 while the fleet server takes entries, 0 while flashd-sync retries.\n"
		"# TYPE flashd_sync_up gauge\n"
		"flashd_sync_up{station=\"%s\"} %d\n"
		"# HELP flashd_sync_high_water_seq Highest outbox sequence the server holds (-1: unknown).\n"
		"# TYPE flashd_sync_high_water_seq gauge\n"
		"flashd_sync_high_water_seq{station=\"%s\"} %lld\n"
		"# HELP flashd_sync_lag_entries Outbox entries not yet on the server.\n"
		"# TYPE flashd_sync_lag_entries gauge\n"
		"flashd_sync_lag_entries{station=\"%s\"} %lld\n"
		"# HELP flashd_sync_lag_oldest_seconds Age of the oldest entry not yet on the server.\n"
		"# TYPE flashd_sync_lag_oldest_seconds gauge\n"
		"flashd_sync_lag_oldest_seconds{station=\"%s\"} %lld\n"
		"# HELP flashd_sync_updated_timestamp_seconds When flashd-sync last wrote this file.\n"
		"# TYPE flashd_sync_updated_timestamp_seconds gauge\n"
		"flashd_sync_updated_timestamp_seconds{station=\"%s\"} %lld\n",
		st, !s->problem[0] && s->server[0], st, (long long)s->high_water, st,
		(long long)s->lag, st, age_sec(s), st, (long long)(db_now_ms() / 1000));
	if (ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, s->metrics_file) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

void sync_status_report(struct sync_status *s, bool force)
{
	int64_t now = sync_now_ms();
	char buf[600];

	if (!force && now - s->last_notify_ms < 1000)
		return;
	s->last_notify_ms = now;
	format_status(s, buf, sizeof(buf));
	sd_notifyf(0, "STATUS=%s", buf);
	log_lag(s, now);
	if (s->metrics_file && s->metrics_file[0]) {
		int r = write_metrics(s);

		/* Once: a metrics file that cannot be written must not flood the journal. */
		if (r < 0 && !s->metrics_failed)
			log_msg(LOG_WARNING, "metrics file '%s': %s (shipping goes on)",
				s->metrics_file, strerror(-r));
		s->metrics_failed = r < 0;
	}
}
