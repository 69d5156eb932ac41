/* This file implements flashd-hooks' configuration (web/hooks.h). */
#include "web/hooks.h"
#include "common/conf-line.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOKS_MAX_RUNNING_MAX 256
#define HOOKS_TIMEOUT_MAX_MS (24ull * 3600 * 1000)

int hooks_conf_defaults(struct hooks_conf *c)
{
	*c = (struct hooks_conf){ .timeout_ms = 10000, .max_running = 8 };
	c->events_socket = strdup("/run/flashd/events");
	return c->events_socket ? 0 : -ENOMEM;
}

void hooks_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

void hooks_conf_free(struct hooks_conf *c)
{
	for (size_t i = 0; i < c->n_hooks; i++) {
		hooks_argv_free(c->hooks[i].argv);
		free(c->hooks[i].line);
	}
	free(c->hooks);
	free(c->events_socket);
	*c = (struct hooks_conf){ 0 };
}

static int argv_push(char ***argv, size_t *n, const char *word, size_t len)
{
	char **v = realloc(*argv, (*n + 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	*argv = v;
	v[*n] = strndup(word, len);
	if (!v[*n])
		return -ENOMEM;
	v[++*n] = NULL;
	return 0;
}

/*
 * One word starting at *p: quoted parts and backslashes as in sh, written
 * to out (as long as the command).  Leaves *p after the word.
 */
static int split_word(const char **p, char *out, size_t *len, struct err *e)
{
	const char *s = *p;
	char quote = 0;

	*len = 0;
	for (; *s && (quote || !isspace((unsigned char)*s)); s++) {
		if (!quote && (*s == '\'' || *s == '"')) {
			quote = *s;
		} else if (quote && *s == quote) {
			quote = 0;
		} else if (*s == '\\' && quote != '\'' && s[1] &&
			   (!quote || strchr("\"\\$`", s[1]))) {
			out[(*len)++] = *++s;
		} else {
			out[(*len)++] = *s;
		}
	}
	if (quote)
		return err_set(e, -EINVAL, "unterminated %c quote", quote);
	*p = s;
	return 0;
}

int hooks_split(const char *cmd, char ***ret, struct err *e)
{
	_cleanup_free_ char *word = malloc(strlen(cmd) + 1);
	char **argv = NULL;
	size_t n = 0, len;
	int r = 0;

	if (!word)
		return -ENOMEM;
	for (const char *p = cmd;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		r = split_word(&p, word, &len, e);
		if (r < 0 || (r = argv_push(&argv, &n, word, len)) < 0)
			break;
	}
	if (r == 0 && !n)
		r = err_set(e, -EINVAL, "empty command");
	if (r == 0 && argv[0][0] != '/')
		r = err_set(e, -EINVAL, "'%s' is not an absolute path (no PATH search)", argv[0]);
	if (r < 0) {
		hooks_argv_free(argv);
		return r;
	}
	*ret = argv;
	return 0;
}

int hooks_parse_duration(const char *v, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "", 1000 } };
	char *end;
	unsigned long long n;

	if (!isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(end, units[i].suffix)) {
			if (n == 0 || n > HOOKS_TIMEOUT_MAX_MS / units[i].ms)
				return -ERANGE;
			*ms = n * units[i].ms;
			return 0;
		}
	return -EINVAL;
}

bool hooks_match(enum hook_when when, const char *result)
{
	switch (when) {
	case HOOK_PASS:
		return !strcmp(result, "pass");
	case HOOK_FAIL:
		return !strcmp(result, "fail") || !strcmp(result, "interrupted");
	case HOOK_ANY:
		return true;
	}
	return false;
}

static const struct {
	const char *key;
	enum hook_when when;
} hook_keys[] = {
	{ "hook.pass", HOOK_PASS },
	{ "hook.fail", HOOK_FAIL },
	{ "hook.any", HOOK_ANY },
};

static int add_hook(struct hooks_conf *c, enum hook_when when, const char *val, const char *where,
		    struct err *e)
{
	struct hook *n;
	struct err se = { 0 };
	char **argv;
	int r;

	r = hooks_split(val, &argv, &se);
	if (r < 0)
		return err_set(e, r, "%s: %s", where, r == -ENOMEM ? "out of memory" : se.msg);
	n = realloc(c->hooks, (c->n_hooks + 1) * sizeof(*n));
	if (!n) {
		hooks_argv_free(argv);
		return err_set(e, -ENOMEM, "%s: out of memory", where);
	}
	c->hooks = n;
	n[c->n_hooks] = (struct hook){ .when = when, .argv = argv, .line = strdup(val) };
	c->n_hooks++;
	return n[c->n_hooks - 1].line ? 0 : err_set(e, -ENOMEM, "%s: out of memory", where);
}

static int apply(struct hooks_conf *c, const char *key, const char *val, const char *where,
		 struct err *e)
{
	unsigned long n;
	char *end;

	for (size_t i = 0; i < ARRAY_SIZE(hook_keys); i++)
		if (!strcmp(key, hook_keys[i].key))
			return add_hook(c, hook_keys[i].when, val, where, e);
	if (!strcmp(key, "hook.timeout")) {
		if (hooks_parse_duration(val, &c->timeout_ms) < 0)
			return err_set(
				e, -EINVAL,
				"%s: hook.timeout: '%s' is not a duration (10s, 500ms, 2m) up to 24 h",
				where, val);
		return 0;
	}
	if (!strcmp(key, "hook.max_running")) {
		errno = 0;
		n = strtoul(val, &end, 10);
		if (errno || end == val || *end || n < 1 || n > HOOKS_MAX_RUNNING_MAX)
			return err_set(e, -EINVAL,
				       "%s: hook.max_running: '%s' is not a number in 1..%d", where,
				       val, HOOKS_MAX_RUNNING_MAX);
		c->max_running = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "events_socket")) {
		if (val[0] != '/')
			return err_set(e, -EINVAL,
				       "%s: events_socket: '%s' is not an absolute path", where,
				       val);
		free(c->events_socket);
		c->events_socket = strdup(val);
		return c->events_socket ? 0 : err_set(e, -ENOMEM, "%s: out of memory", where);
	}
	return err_set(e, -EINVAL, "%s: unknown key '%s'", where, key);
}

int hooks_conf_load(const char *path, struct hooks_conf *c, struct err *e)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		return err_set(e, r, "cannot open '%s': %s", path, strerror(-r));
	}
	while (getline(&line, &cap, f) >= 0) {
		char where[300], *key, *value;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		/* Whole-line comments only: a command may hold '#'. */
		r = conf_line_split(line, CONF_COMMENT_WHOLE_LINE, &key, &value);
		if (r == 0)
			continue;
		if (r < 0) {
			err_set(e, r, "%s: expected 'key = value'", where);
			break;
		}
		r = apply(c, key, value, where, e);
		if (r < 0)
			break;
	}
	fclose(f);
	return r;
}
