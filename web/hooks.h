/*
 * flashd-hooks: runs the result hooks of /etc/flashd/hooks.conf on each unit
 * flashd finishes, read from flashd's event stream (daemon/events.h).  A
 * process of its own, never flashd: a hook that hangs or fails costs its own
 * timeout and a journal line, never a board's time.  flashd-hooks(8).
 *
 *   events_socket     = /run/flashd/events
 *   hook.pass         = /usr/bin/lp -d labels -t unit   (repeatable)
 *   hook.fail         = ...                              result fail or interrupted
 *   hook.any          = ...                              every unit
 *   hook.timeout      = 10s                              ms, s or m; killed after it
 *   hook.max_running  = 8                                hooks running at once
 *
 * A command is split into words as the shell would split quoted words ('…',
 * "…", backslash), but no shell runs: no variables, globs or pipes unless
 * the command itself is "sh -c '…'".
 */
#ifndef FLASHD_WEB_HOOKS_H
#define FLASHD_WEB_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define HOOKS_DEFAULT_CONFIG "/etc/flashd/hooks.conf"

enum hook_when {
	HOOK_PASS,
	HOOK_FAIL, /* fail and interrupted */
	HOOK_ANY,
};

struct hook {
	enum hook_when when;
	char **argv; /* NULL-terminated */
	char *line;  /* as written, for the journal */
};

struct hooks_conf {
	char *events_socket;
	struct hook *hooks;
	size_t n_hooks;
	uint64_t timeout_ms;
	unsigned max_running;
};

int hooks_conf_defaults(struct hooks_conf *c);
/* Load path over the defaults; -EINVAL naming file:line on a bad line. */
int hooks_conf_load(const char *path, struct hooks_conf *c, struct err *e);
void hooks_conf_free(struct hooks_conf *c);

/* Split a command into words (quotes, backslash); NULL-terminated argv in *ret. */
int hooks_split(const char *cmd, char ***ret, struct err *e);
void hooks_argv_free(char **argv);

/* "10s", "500ms", "2m", "10" (seconds) -> ms; -EINVAL if not one of those. */
int hooks_parse_duration(const char *v, uint64_t *ms);

/* Does a hook of kind `when` run for a unit whose result is `result`? */
bool hooks_match(enum hook_when when, const char *result);

#endif
