/* This file implements the key = value station configuration (daemon/config.h). */
#include "daemon/config.h"
#include "jobs/image.h"

#include <ctype.h>
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

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int parse_uint(const char *v, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return -EINVAL;
	*out = (unsigned)n;
	return 0;
}

static int set_allow(struct config *cfg, char *v)
{
	for (size_t i = 0; i < cfg->n_allow; i++)
		free(cfg->allow_ports[i]);
	cfg->n_allow = 0;
	for (char *tok = strtok(v, " \t,"); tok; tok = strtok(NULL, " \t,")) {
		char **n = realloc(cfg->allow_ports, (cfg->n_allow + 1) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		cfg->allow_ports = n;
		if (!(n[cfg->n_allow] = strdup(tok)))
			return -ENOMEM;
		cfg->n_allow++;
	}
	return 0;
}

static int add_slot(struct config *cfg, const char *port, const char *label)
{
	struct config_slot *n = realloc(cfg->slots, (cfg->n_slots + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	cfg->slots = n;
	n[cfg->n_slots] = (struct config_slot){ strdup(port), strdup(label) };
	if (!n[cfg->n_slots].port || !n[cfg->n_slots].label) {
		free(n[cfg->n_slots].port);
		free(n[cfg->n_slots].label);
		return -ENOMEM;
	}
	cfg->n_slots++;
	return 0;
}

static int apply(struct config *cfg, const char *key, char *val, const char *where, struct err *e)
{
	int r = 0;

	if (!strcmp(key, "station"))
		r = set_str(&cfg->station, val);
	else if (!strcmp(key, "recipe_dir"))
		r = set_str(&cfg->recipe_dir, val);
	else if (!strcmp(key, "database"))
		r = set_str(&cfg->database, val);
	else if (!strcmp(key, "control_socket"))
		r = set_str(&cfg->control_socket, val);
	else if (!strcmp(key, "pending_journal"))
		r = set_str(&cfg->pending_journal, val);
	else if (!strcmp(key, "allow_ports"))
		r = set_allow(cfg, val);
	else if (!strcmp(key, "max_jobs")) {
		if (parse_uint(val, 1, 1024, &cfg->max_jobs) < 0)
			return err_set(e, -EINVAL, "%s: max_jobs: '%s' is not a number in 1..1024",
				       where, val);
	} else if (!strcmp(key, "grace_sec")) {
		if (parse_uint(val, 0, 3600, &cfg->grace_sec) < 0)
			return err_set(e, -EINVAL, "%s: grace_sec: '%s' is not a number in 0..3600",
				       where, val);
	} else if (!strcmp(key, "rearm_sec")) {
		if (parse_uint(val, 0, 3600, &cfg->rearm_sec) < 0)
			return err_set(e, -EINVAL, "%s: rearm_sec: '%s' is not a number in 0..3600",
				       where, val);
	} else if (!strncmp(key, "slot.", 5) && key[5]) {
		r = add_slot(cfg, key + 5, val);
	} else {
		return err_set(e, -EINVAL, "%s: unknown key '%s'", where, key);
	}
	if (r < 0)
		return err_set(e, r, "%s: out of memory", where);
	return 0;
}

int config_load(const char *path, struct config *cfg, struct err *e)
{
	_cleanup_free_ char *line = NULL;
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
		char where[300], *s, *eq, *hash;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		s = trim(line);
		if (!*s)
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			r = err_set(e, -EINVAL, "%s: expected 'key = value'", where);
			break;
		}
		*eq = '\0';
		r = apply(cfg, trim(s), trim(eq + 1), where, e);
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
