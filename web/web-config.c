/*
 * This file implements flashd-web's configuration (web/web.h):
 * /etc/flashd/web.conf, "key = value" lines as in flashd.conf:
 *
 *   listen         = 127.0.0.1:9180        address:port ([v6]:port); the line's network
 *   flashd_conf    = /etc/flashd/flashd.conf   slot labels, database, control socket
 *   database       = (flashd.conf's)       opened read-only
 *   control_socket = (flashd.conf's)       flashd's status document
 *   events_socket  = (flashd.conf's)       flashd's event stream; as flashd:
 *                                          else "events" next to control_socket
 *   sync_metrics   = /run/flashd-sync/metrics.prom   flashd-sync's lag, added to /metrics
 *
 * Strict like flashd.conf: unknown keys, keys set twice and bad values are
 * refused naming file:line.
 */
#include "web/web.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf-line.h"
#include "common/log.h"

struct key {
	const char *name;
	size_t off; /* of the char * in struct web_config; listen is parsed apart */
};

static const struct key keys[] = {
	{ "listen", 0 },
	{ "flashd_conf", offsetof(struct web_config, flashd_conf) },
	{ "database", offsetof(struct web_config, database) },
	{ "control_socket", offsetof(struct web_config, control_socket) },
	{ "events_socket", offsetof(struct web_config, events_socket) },
	{ "sync_metrics", offsetof(struct web_config, sync_metrics) },
};

/* "127.0.0.1:9180" or "[::1]:9180" into host and port. */
static int parse_listen(const char *v, struct web_config *cfg)
{
	char host[64];
	const char *colon;
	unsigned char addr[16];
	char *end;
	unsigned long port;
	size_t n;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		n = (size_t)(close - v - 1);
		colon = close + 1;
		v++;
	} else {
		colon = strrchr(v, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - v);
	}
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, v, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port == 0 || port > 65535)
		return -EINVAL;
	free(cfg->listen_host);
	cfg->listen_host = strdup(host);
	cfg->listen_port = (uint16_t)port;
	return cfg->listen_host ? 0 : -ENOMEM;
}

static int set_key(struct web_config *cfg, const char *k, const char *v, unsigned *seen,
		   const char *path, unsigned line, struct err *e)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char **slot;

		if (strcmp(keys[i].name, k) != 0)
			continue;
		if (*seen & (1u << i))
			return err_set(e, -EINVAL, "%s:%u: '%s' is set twice", path, line, k);
		*seen |= 1u << i;
		if (i == 0) {
			if (parse_listen(v, cfg) < 0)
				return err_set(
					e, -EINVAL,
					"%s:%u: invalid listen '%s' (expected ADDRESS:PORT, [IPv6]:PORT)",
					path, line, v);
			return 0;
		}
		if (v[0] != '/')
			return err_set(e, -EINVAL, "%s:%u: %s must be an absolute path, not '%s'",
				       path, line, k, v);
		slot = (char **)((char *)cfg + keys[i].off);
		free(*slot);
		*slot = strdup(v);
		return *slot ? 0 : -ENOMEM;
	}
	return err_set(e, -EINVAL, "%s:%u: unknown key '%s'", path, line, k);
}

static int load_file(const char *path, struct web_config *cfg, struct err *e)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;
	unsigned line = 0, seen = 0;
	int r = 0;

	if (!f)
		return err_set(e, -errno, "cannot open '%s': %s", path, strerror(errno));
	while (r == 0 && getline(&buf, &cap, f) >= 0) {
		char *key, *value;

		line++;
		r = conf_line_split(buf, CONF_COMMENT_AFTER_SPACE, &key, &value);
		if (r == 0)
			continue;
		if (r < 0) {
			err_set(e, r, "%s:%u: expected 'key = value'", path, line);
			break;
		}
		r = set_key(cfg, key, value, &seen, path, line, e);
	}
	free(buf);
	fclose(f);
	return r;
}

static int dup_default(char **slot, const char *v)
{
	if (*slot)
		return 0;
	*slot = strdup(v);
	return *slot ? 0 : -ENOMEM;
}

/* Where flashd listens (daemon/events.c events_path()): flashd.conf's
 * events_socket, else "events" in the control socket's directory. */
static int default_events_socket(struct web_config *cfg)
{
	const char *ctl = cfg->control_socket, *slash = strrchr(ctl, '/');
	int dir = slash ? (int)(slash - ctl + 1) : 0;

	if (cfg->events_socket)
		return 0;
	if (cfg->flashd.events_socket)
		return dup_default(&cfg->events_socket, cfg->flashd.events_socket);
	if (asprintf(&cfg->events_socket, "%.*sevents", dir, ctl) < 0) {
		cfg->events_socket = NULL;
		return -ENOMEM;
	}
	return 0;
}

int web_config_load(const char *path, struct web_config *cfg, struct err *e)
{
	int r;

	*cfg = (struct web_config){ .listen_port = 9180 };
	r = config_defaults(&cfg->flashd);
	if (r < 0)
		return err_set(e, r, "out of memory");
	if (path) {
		r = load_file(path, cfg, e);
		if (r < 0)
			return r;
	}
	if (dup_default(&cfg->listen_host, "127.0.0.1") < 0 ||
	    dup_default(&cfg->flashd_conf, CONFIG_DEFAULT_PATH) < 0 ||
	    dup_default(&cfg->sync_metrics, WEB_DEFAULT_SYNC_METRICS) < 0)
		return err_set(e, -ENOMEM, "out of memory");
	/* No flashd.conf (a QA host reading a copied database): no slot labels. */
	r = config_load(cfg->flashd_conf, &cfg->flashd, e);
	if (r == -ENOENT) {
		log_msg(LOG_WARNING, "%s: not found, no slot labels", cfg->flashd_conf);
		err_clear(e);
	} else if (r < 0) {
		return r;
	}
	if (dup_default(&cfg->database, cfg->flashd.database) < 0 ||
	    dup_default(&cfg->control_socket, cfg->flashd.control_socket) < 0 ||
	    default_events_socket(cfg) < 0)
		return err_set(e, -ENOMEM, "out of memory");
	return 0;
}

void web_config_free(struct web_config *cfg)
{
	free(cfg->listen_host);
	free(cfg->database);
	free(cfg->events_socket);
	free(cfg->control_socket);
	free(cfg->flashd_conf);
	free(cfg->sync_metrics);
	config_free(&cfg->flashd);
	*cfg = (struct web_config){ 0 };
}
