/* This file implements STATUS= and the lag lines of flashd-sync (see sync/status.h). */
#include "sync/status.h"
#include "common/log.h"
#include "db/db.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

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
}
