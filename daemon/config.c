/* This file implements the key = value station configuration (daemon/config.h). */
#include "daemon/config.h"
#include "jobs/image.h"
#include "common/conf-line.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

int config_defaults(struct config *cfg)
{
	*cfg = (struct config){ .max_jobs = 32, .grace_sec = 60, .rearm_sec = 5 };
	cfg->events_queue = 256 * 1024;
	if (set_str(&cfg->station, "station") < 0 ||
	    set_str(&cfg->recipe_dir, "/etc/flashd/recipes") < 0 ||
	    set_str(&cfg->database, "/var/lib/flashd/flashd.db") < 0 ||
	    set_str(&cfg->control_socket, "/run/flashd/control") < 0) {
		config_free(cfg);
		return -ENOMEM;
	}
	return 0;
}

void config_free(struct config *cfg)
{
	free(cfg->station);
	free(cfg->recipe_dir);
	free(cfg->database);
	free(cfg->control_socket);
	free(cfg->pending_journal);
	free(cfg->events_socket);
	for (size_t i = 0; i < cfg->n_allow; i++)
		free(cfg->allow_ports[i]);
	free(cfg->allow_ports);
	for (size_t i = 0; i < cfg->n_slots; i++) {
		free(cfg->slots[i].port);
		free(cfg->slots[i].label);
	}
	free(cfg->slots);
	*cfg = (struct config){ 0 };
}

static int parse_uint(const char *v, unsigned min, unsigned max, unsigned *out, const char *where,
		      const char *key, struct err *e)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno == ERANGE || (end != v && !*end && v[0] != '-' && (n < min || n > max)))
		return err_set(e, -ERANGE, "%s: %s: %s is out of range %u..%u", where, key, v, min,
			       max);
	if (errno || end == v || *end || v[0] == '-')
		return err_set(e, -EINVAL, "%s: %s: '%s' is not a number in %u..%u", where, key, v,
			       min, max);
	*out = (unsigned)n;
	return 0;
}

/*
 * A port-path glob: the characters of a USB port path ("1-1.2.3") and the
 * glob operators, brackets closed.  Anything else can never match a port,
 * so it is a typo that would silently stop the line.
 */
static bool port_glob_valid(const char *g)
{
	int depth = 0;

	if (!*g)
		return false;
	for (const char *p = g; *p; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		else if (!isdigit((unsigned char)*p) && !strchr("-.*?!^", *p))
			return false;
		if (depth < 0 || depth > 1)
			return false;
	}
	return depth == 0;
}

/* A port path as sysfs names it: BUS-PORT[.PORT]..., ports 1..255. */
static bool port_path_valid(const char *p)
{
	char *end;
	unsigned long v = strtoul(p, &end, 10);

	if (end == p || v == 0 || *end != '-')
		return false;
	do {
		p = end + 1;
		v = strtoul(p, &end, 10);
		if (end == p || v == 0 || v > 255 || (*end && *end != '.'))
			return false;
	} while (*end);
	return true;
}

static int set_allow(struct config *cfg, char *v, const char *where, struct err *e)
{
	for (char *tok = strtok(v, " \t,"); tok; tok = strtok(NULL, " \t,")) {
		char **n;

		if (!port_glob_valid(tok))
			return err_set(
				e, -EINVAL,
				"%s: allow_ports: '%s' is not a port-path glob (digits, '-', '.', '*', '?', '[...]')",
				where, tok);
		n = realloc(cfg->allow_ports, (cfg->n_allow + 1) * sizeof(*n));
		if (!n)
			return err_set(e, -ENOMEM, "%s: out of memory", where);
		cfg->allow_ports = n;
		if (!(n[cfg->n_allow] = strdup(tok)))
			return err_set(e, -ENOMEM, "%s: out of memory", where);
		cfg->n_allow++;
	}
	return 0;
}

static int add_slot(struct config *cfg, const char *port, const char *label, const char *where,
		    struct err *e)
{
	struct config_slot *n;

	if (!port_path_valid(port))
		return err_set(e, -EINVAL, "%s: slot.%s: '%s' is not a USB port path (e.g. 1-1.2)",
			       where, port, port);
	if (!*label)
		return err_set(e, -EINVAL, "%s: slot.%s: empty label", where, port);
	for (size_t i = 0; i < cfg->n_slots; i++) {
		if (!strcmp(cfg->slots[i].port, port))
			return err_set(e, -EINVAL, "%s: slot.%s: port already labelled '%s'", where,
				       port, cfg->slots[i].label);
		if (!strcmp(cfg->slots[i].label, label))
			return err_set(e, -EINVAL, "%s: slot.%s: label '%s' is already port %s's",
				       where, port, label, cfg->slots[i].port);
	}
	n = realloc(cfg->slots, (cfg->n_slots + 1) * sizeof(*n));
	if (!n)
		return err_set(e, -ENOMEM, "%s: out of memory", where);
	cfg->slots = n;
	n[cfg->n_slots] = (struct config_slot){ strdup(port), strdup(label) };
	if (!n[cfg->n_slots].port || !n[cfg->n_slots].label) {
		free(n[cfg->n_slots].port);
		free(n[cfg->n_slots].label);
		return err_set(e, -ENOMEM, "%s: out of memory", where);
	}
	cfg->n_slots++;
	return 0;
}

enum config_kind {
	CONFIG_TEXT, /* non-empty */
	CONFIG_PATH, /* absolute: the daemon runs from / */
	CONFIG_UINT,
	CONFIG_GLOBS,
};

static const struct config_key {
	const char *name;
	enum config_kind kind;
	size_t offset; /* of the char * or unsigned in struct config */
	unsigned min, max;
} config_keys[] = {
	{ "station", CONFIG_TEXT, offsetof(struct config, station) },
	{ "recipe_dir", CONFIG_PATH, offsetof(struct config, recipe_dir) },
	{ "database", CONFIG_PATH, offsetof(struct config, database) },
	{ "control_socket", CONFIG_PATH, offsetof(struct config, control_socket) },
	{ "pending_journal", CONFIG_PATH, offsetof(struct config, pending_journal) },
	{ "allow_ports", CONFIG_GLOBS, 0 },
	{ "max_jobs", CONFIG_UINT, offsetof(struct config, max_jobs), 1, 1024 },
	{ "grace_sec", CONFIG_UINT, offsetof(struct config, grace_sec), 0, 3600 },
	{ "rearm_sec", CONFIG_UINT, offsetof(struct config, rearm_sec), 0, 3600 },
	{ "events_socket", CONFIG_PATH, offsetof(struct config, events_socket) },
	{ "events_queue", CONFIG_UINT, offsetof(struct config, events_queue), 4096, 16 << 20 },
};

static int apply_key(struct config *cfg, const struct config_key *k, char *val, const char *where,
		     struct err *e)
{
	char **str = (char **)((char *)cfg + k->offset);

	switch (k->kind) {
	case CONFIG_PATH:
		if (val[0] != '/')
			return err_set(e, -EINVAL, "%s: %s: '%s' is not an absolute path", where,
				       k->name, val);
		/* fall through */
	case CONFIG_TEXT:
		if (!*val)
			return err_set(e, -EINVAL, "%s: %s: empty value", where, k->name);
		if (set_str(str, val) < 0)
			return err_set(e, -ENOMEM, "%s: out of memory", where);
		return 0;
	case CONFIG_UINT:
		return parse_uint(val, k->min, k->max, (unsigned *)((char *)cfg + k->offset), where,
				  k->name, e);
	case CONFIG_GLOBS:
		return set_allow(cfg, val, where, e);
	}
	return -EINVAL;
}

/* seen[i]: line of config_keys[i] so far (0 = not yet), for duplicates. */
static int apply(struct config *cfg, const char *key, char *val, const char *where, unsigned lineno,
		 unsigned seen[], struct err *e)
{
	if (!strncmp(key, "slot.", 5) && key[5])
		return add_slot(cfg, key + 5, val, where, e);
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		if (strcmp(key, config_keys[i].name))
			continue;
		if (seen[i])
			return err_set(e, -EINVAL, "%s: %s: set again (first on line %u)", where,
				       key, seen[i]);
		seen[i] = lineno;
		return apply_key(cfg, &config_keys[i], val, where, e);
	}
	return err_set(e, -EINVAL, "%s: unknown key '%s'", where, key);
}

int config_load(const char *path, struct config *cfg, struct err *e)
{
	_cleanup_free_ char *line = NULL;
	unsigned seen[ARRAY_SIZE(config_keys)] = { 0 };
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;
	int fd, r = 0;

	/* A directory or FIFO as config would fail late or block startup forever. */
	fd = open_regular(path);
	if (fd == -EINVAL)
		return err_set(e, fd, "config '%s' is not a regular file", path);
	if (fd < 0)
		return err_set(e, fd, "cannot open '%s': %s", path, strerror(-fd));
	f = fdopen(fd, "r");
	if (!f) {
		r = -errno;
		close(fd);
		return err_set(e, r, "cannot open '%s': %s", path, strerror(-r));
	}
	while (getline(&line, &cap, f) >= 0) {
		char where[300], *key, *value;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		r = conf_line_split(line, CONF_COMMENT_AFTER_SPACE, &key, &value);
		if (r == 0)
			continue;
		if (r < 0) {
			err_set(e, r, "%s: expected 'key = value'", where);
			break;
		}
		r = apply(cfg, key, value, where, lineno, seen, e);
		if (r < 0)
			break;
	}
	fclose(f);
	return r;
}

bool config_port_allowed(const struct config *cfg, const char *port)
{
	if (!cfg->n_allow)
		return true;
	for (size_t i = 0; i < cfg->n_allow; i++)
		if (fnmatch(cfg->allow_ports[i], port, 0) == 0)
			return true;
	return false;
}

const char *config_slot_label(const struct config *cfg, const char *port)
{
	for (size_t i = 0; i < cfg->n_slots; i++)
		if (!strcmp(cfg->slots[i].port, port))
			return cfg->slots[i].label;
	return NULL;
}
