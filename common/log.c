/*
 * This file implements common/log.h: journald records with flashd's
 * structured fields, or stderr lines when not running under systemd.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

/*
 * The one piece of process-wide state in common/: where log lines go.  It is
 * decided once at start-up by main() and never changes while threads run.
 */
static int log_to_stderr = -1;

void log_set_stderr(int on)
{
	log_to_stderr = on;
}

static int use_stderr(void)
{
	/* systemd sets JOURNAL_STREAM for services whose stderr is the journal. */
	if (log_to_stderr < 0)
		log_to_stderr = getenv("JOURNAL_STREAM") ? 0 : 1;
	return log_to_stderr;
}

static const char *prio_name(int p)
{
	switch (p) {
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_DEBUG:
		return "debug";
	default:
		return "info";
	}
}

/* Appends "NAME=value" to the iovec list when value is set. */
static void add_field(struct iovec *iov, char bufs[][256], int *n, const char *name,
		      const char *value)
{
	if (!value || !*value)
		return;
	snprintf(bufs[*n], 256, "%s=%s", name, value);
	iov[*n] = (struct iovec){ .iov_base = bufs[*n], .iov_len = strlen(bufs[*n]) };
	(*n)++;
}

static void emit(int priority, const char *message_id, const struct log_ctx *c, const char *msg)
{
	char bufs[9][256], unit[32] = "", prio[4], *m = NULL;
	struct iovec iov[10];
	int n = 0;

	if (use_stderr()) {
		fprintf(stderr, "flashd[%s]%s%s: %s\n", prio_name(priority),
			c && c->port ? " port " : "", c && c->port ? c->port : "", msg);
		return;
	}
	if (c && c->unit > 0)
		snprintf(unit, sizeof(unit), "%lld", (long long)c->unit);
	snprintf(prio, sizeof(prio), "%d", priority);
	if (asprintf(&m, "MESSAGE=%s", msg) < 0)
		return;
	iov[n++] = (struct iovec){ .iov_base = m, .iov_len = strlen(m) };
	add_field(iov, bufs, &n, "PRIORITY", prio);
	add_field(iov, bufs, &n, "MESSAGE_ID", message_id);
	if (c) {
		add_field(iov, bufs, &n, "FLASHD_PORT", c->port);
		add_field(iov, bufs, &n, "FLASHD_SLOT", c->slot);
		add_field(iov, bufs, &n, "FLASHD_UNIT", unit);
		add_field(iov, bufs, &n, "FLASHD_SERIAL", c->serial);
		add_field(iov, bufs, &n, "FLASHD_STAGE", c->stage);
		add_field(iov, bufs, &n, "FLASHD_RESULT", c->result);
	}
	sd_journal_sendv(iov, n);
	free(m);
}

void log_msg(int priority, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(priority, NULL, NULL, msg);
}

void log_ev(int priority, const char *message_id, const struct log_ctx *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(priority, message_id, ctx, msg);
}
