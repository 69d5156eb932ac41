/*
 * This file implements the parser of sync.conf (see sync/config.h): one
 * table of keys, each a string or a bounded integer field of the struct.
 */
#include "sync/config.h"
#include "common/conf-line.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct key {
	const char *name;
	size_t offset;
	size_t size; /* string field: its size; integer field: 0 */
	int min, max;
};

#define STR(f)                                                                                     \
	.offset = offsetof(struct sync_config, f), .size = sizeof(((struct sync_config *)0)->f)
#define INT(f, lo, hi) .offset = offsetof(struct sync_config, f), .min = (lo), .max = (hi)

static const struct key keys[] = {
	{ .name = "station", STR(station) },
	{ .name = "line", STR(line) },
	{ .name = "database", STR(database) },
	{ .name = "server", STR(server) },
	{ .name = "password_credential", STR(password_credential) },
	{ .name = "batch", INT(batch, 1, 100000) },
	{ .name = "poll_ms", INT(poll_ms, 10, 60000) },
	{ .name = "backoff_min_ms", INT(backoff_min_ms, 10, 600000) },
	{ .name = "backoff_max_ms", INT(backoff_max_ms, 10, 3600000) },
	{ .name = "lag_log_sec", INT(lag_log_sec, 1, 86400) },
	{ .name = "metrics_file", STR(metrics_file) },
};

static void defaults(struct sync_config *c)
{
	*c = (struct sync_config){
		.database = "/var/lib/flashd/flashd.db",
		.password_credential = "pgpassword",
		.batch = 5000,
		.poll_ms = 200,
		.backoff_min_ms = 500,
		.backoff_max_ms = 60000,
		.lag_log_sec = 60,
	};
	if (gethostname(c->station, sizeof(c->station) - 1) < 0)
		snprintf(c->station, sizeof(c->station), "station");
}

static int set_key(struct sync_config *c, const struct key *k, const char *v, const char *path,
		   int lineno, struct err *err)
{
	char *field = (char *)c + k->offset, *end;
	long n;

	if (k->size) {
		if (strlen(v) >= k->size)
			return err_set(err, -EINVAL, "%s:%d: %s: value too long", path, lineno,
				       k->name);
		memcpy(field, v, strlen(v) + 1);
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < k->min || n > k->max)
		return err_set(err, -EINVAL, "%s:%d: %s: '%s' is not a number in %d..%d", path,
			       lineno, k->name, v, k->min, k->max);
	*(int *)(void *)field = (int)n;
	return 0;
}

static int parse_line(struct sync_config *c, char *line, const char *path, int lineno,
		      unsigned *seen, struct err *err)
{
	char *name, *value;
	int r = conf_line_split(line, CONF_COMMENT_AFTER_SPACE, &name, &value);

	if (r == 0)
		return 0;
	if (r < 0)
		return err_set(err, r, "%s:%d: expected 'key = value'", path, lineno);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (*seen & (1u << i))
			return err_set(err, -EINVAL, "%s:%d: %s given twice", path, lineno, name);
		*seen |= 1u << i;
		return set_key(c, &keys[i], value, path, lineno, err);
	}
	return err_set(err, -EINVAL, "%s:%d: unknown key '%s'", path, lineno, name);
}

int sync_config_load(struct sync_config *c, const char *path, struct err *err)
{
	char line[2048];
	unsigned seen = 0;
	int lineno = 0, rc = 0;
	FILE *f;

	defaults(c);
	f = fopen(path, "re");
	if (!f)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	while (rc == 0 && fgets(line, sizeof(line), f))
		rc = parse_line(c, line, path, ++lineno, &seen, err);
	fclose(f);
	if (rc == 0 && !c->server[0])
		rc = err_set(err, -EINVAL, "%s: no server (libpq connection string)", path);
	if (rc == 0 && c->backoff_max_ms < c->backoff_min_ms)
		rc = err_set(err, -EINVAL, "%s: backoff_max_ms below backoff_min_ms", path);
	return rc;
}
