/* This file implements the struct err message buffer (see common/err.h). */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void err_vformat(struct err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	/* First failure wins: the root cause, not the last layer's summary. */
	if (!e || e->code)
		return code;
	va_start(ap, fmt);
	err_vformat(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int err_replace(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	err_vformat(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int err_prefix(struct err *e, int code, const char *fmt, ...)
{
	char old[ERR_MSG_MAX];
	va_list ap;
	int n;

	/* The caller's code, never e->code: a NULL or empty e must not turn a failure into 0. */
	if (!e)
		return code;
	if (!e->code)
		e->code = code;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->msg) && old[0])
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", old);
	return code;
}
