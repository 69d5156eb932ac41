/*
 * Error reporting convention: functions return 0 (or a count) on success and
 * a negative errno on failure; the human-readable reason goes into a
 * caller-owned struct err.  err_set() returns the errno so that setting the
 * message and returning is one statement:
 *
 *     return err_set(e, -EPROTO, "erase 0x%08x: state %s", addr, name);
 *
 * A NULL struct err is allowed: the message is then dropped, and both
 * err_set() and err_prefix() still return the code they were given, so
 * "return err_prefix(e, r, ...)" stays a failure whatever e is.
 *
 * The first failure wins: once e->code is set, err_set() keeps the first code
 * and message (the root cause) and only returns its code argument.  A caller
 * that knows better than the layer below says so with err_replace().  Retries
 * that recover from a failure call err_clear() before the next attempt.
 */
#ifndef FLASHD_COMMON_ERR_H
#define FLASHD_COMMON_ERR_H

#include "common/macro.h"

#define ERR_MSG_MAX 256

struct err {
	int code;	       /* negative errno of the first failure, 0 if none */
	char msg[ERR_MSG_MAX]; /* what failed, naming step, offset, file or port */
};

/* Record the failure unless e already holds one (first wins); returns code. */
int err_set(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);

/* Record the failure even over an earlier one: the caller's reason is the better one.  Returns code. */
int err_replace(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);

/*
 * Prefix the existing message with context, e.g. the stage name, for the
 * failure code (negative).  If e holds no failure yet, code becomes e->code;
 * an earlier e->code is kept.  Returns code, also when e is NULL.
 */
int err_prefix(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);

static inline void err_clear(struct err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

#endif
