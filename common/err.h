/*
 * Error reporting convention: functions return 0 (or a count) on success and
 * a negative errno on failure; the human-readable reason goes into a
 * caller-owned struct err.  err_set() returns the errno so that setting the
 * message and returning is one statement:
 *
 *     return err_set(e, -EPROTO, "erase 0x%08x: state %s", addr, name);
 *
 * A NULL struct err is allowed: the message is then dropped.
 */
#ifndef FLASHD_COMMON_ERR_H
#define FLASHD_COMMON_ERR_H

#include "common/macro.h"

#define ERR_MSG_MAX 256

struct err {
	int code;		/* negative errno of the first failure, 0 if none */
	char msg[ERR_MSG_MAX];	/* what failed, naming step, offset, file or port */
};

/* Record the failure (first message wins unless overwritten explicitly) and return code. */
int err_set(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);

/* Prefix the existing message with context, e.g. the stage name.  Returns e->code. */
int err_prefix(struct err *e, const char *fmt, ...) _printf_(2, 3);

static inline void err_clear(struct err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

#endif
