/*
 * This file implements "flashctl status": the operator's view of a running
 * flashd, read from its control socket (daemon/control.h).
 *
 *   flashctl status [--socket PATH] [--json] [--watch [SECONDS]]
 *
 * One line per port: slot, state, recipe, stage, a progress bar with bytes
 * and rate, elapsed time, serial and the last result.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macro.h"
#include "daemon/flashctl.h"

#define CONTROL_DEFAULT "/run/flashd/control"

static char *fetch(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return NULL;
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? 2 * cap : 16384);

			if (!nb) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf) {
		errno = EPROTO;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void human(double v, char *buf, size_t size)
{
	if (v >= 1024 * 1024)
		snprintf(buf, size, "%.1fM", v / (1024 * 1024));
	else if (v >= 1024)
		snprintf(buf, size, "%.0fK", v / 1024);
	else
		snprintf(buf, size, "%.0f", v);
}

static void print_port(const cJSON *p)
{
	double done = num(p, "done"), total = num(p, "total"), rate = num(p, "rate_bps");
	const char *state = str(p, "state");
	char bar[23], progress[64] = "", d[16], t[16], r[24] = "", stage[80] = "", el[16] = "";
	char last[320];
	int running = !strcmp(state, "flashing") || !strcmp(state, "awaiting");

	if (running) {
		int fill = total > 0 ? (int)(20 * done / total) : 0;

		bar[0] = '[';
		for (int i = 0; i < 20; i++)
			bar[1 + i] = i < fill ? '#' : '-';
		bar[21] = ']';
		bar[22] = '\0';
		human(done, d, sizeof(d));
		human(total, t, sizeof(t));
		snprintf(progress, sizeof(progress), "%s %3.0f%% %s/%s", bar,
			 total > 0 ? 100 * done / total : 0.0, d, t);
		human(rate, d, sizeof(d));
		snprintf(r, sizeof(r), "%s/s", d);
		snprintf(stage, sizeof(stage), "%d/%d %s", (int)num(p, "stage_index") + 1,
			 (int)num(p, "stages"), str(p, "stage"));
		snprintf(el, sizeof(el), "%02d:%02d", (int)num(p, "elapsed_ms") / 60000,
			 (int)num(p, "elapsed_ms") / 1000 % 60);
	}
	snprintf(last, sizeof(last), "%s%s%s%s", str(p, "last_result"),
		 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "pending")) ?
			 " (not in the database yet)" : "",
		 *str(p, "last_error") ? ": " : "", str(p, "last_error"));
	printf("%-12s %-4s %-9s %-14s %-22s %-38s %-9s %-6s %-14s %s\n", str(p, "port"),
	       str(p, "slot"), state, str(p, "recipe"), stage, progress, r, el, str(p, "serial"),
	       last);
}

/* A database that does not take writes is the first thing an operator must see. */
static void print_database(const cJSON *db)
{
	if (!db || !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(db, "writable")))
		return;
	printf("DATABASE NOT WRITABLE: %s (%s): %.0f result(s) pending, not taking boards; they wait and are flashed once it takes writes again\n",
	       str(db, "path"), str(db, "error"), num(db, "pending_units"));
}

static int show(const char *path, bool json, bool clear)
{
	_cleanup_free_ char *doc = fetch(path);
	cJSON *root, *ports, *p;

	if (!doc) {
		fprintf(stderr, "flashctl status: cannot reach flashd at '%s': %s\n", path,
			strerror(errno));
		return FLASHCTL_EXIT_ERROR;
	}
	if (json) {
		fputs(doc, stdout);
		return FLASHCTL_EXIT_OK;
	}
	root = cJSON_Parse(doc);
	if (!root) {
		fprintf(stderr, "flashctl status: flashd at '%s' sent no valid JSON\n", path);
		return FLASHCTL_EXIT_ERROR;
	}
	if (clear)
		printf("\033[H\033[2J");
	printf("%s — %s\n", str(root, "station"), str(root, "status"));
	print_database(cJSON_GetObjectItemCaseSensitive(root, "database"));
	printf("%-12s %-4s %-9s %-14s %-22s %-38s %-9s %-6s %-14s %s\n", "PORT", "SLOT", "STATE",
	       "RECIPE", "STAGE", "PROGRESS", "RATE", "TIME", "SERIAL", "LAST");
	ports = cJSON_GetObjectItemCaseSensitive(root, "ports");
	cJSON_ArrayForEach(p, ports) print_port(p);
	fflush(stdout);
	cJSON_Delete(root);
	return FLASHCTL_EXIT_OK;
}

int flashctl_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = { { "socket", required_argument, NULL, 's' },
					      { "json", no_argument, NULL, 'j' },
					      { "watch", optional_argument, NULL, 'w' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	const char *path = getenv("FLASHD_CONTROL") ? getenv("FLASHD_CONTROL") : CONTROL_DEFAULT;
	bool json = false;
	double watch = 0;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'w': {
			char *end;

			/* "--watch 1" as the usage shows it, not only "--watch=1": a
			 * number right after --watch is its value. */
			if (!optarg && optind < argc && argv[optind][0] != '-' &&
			    strtod(argv[optind], &end) > 0 && !*end)
				optarg = argv[optind++];
			watch = optarg ? strtod(optarg, &end) : 1.0;
			if (watch <= 0 || (optarg && *end)) {
				fprintf(stderr, "flashctl status: --watch: '%s' is not a positive number\n",
					optarg);
				return FLASHCTL_EXIT_USAGE;
			}
			break;
		}
		case 'h':
			printf("usage: flashctl status [--socket PATH] [--json] [--watch [SECONDS]]\n");
			return FLASHCTL_EXIT_OK;
		default:
			fprintf(stderr, "usage: flashctl status [--socket PATH] [--json] [--watch [SECONDS]]\n");
			return FLASHCTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "flashctl status: unexpected argument '%s'\n", argv[optind]);
		return FLASHCTL_EXIT_USAGE;
	}
	if (!watch)
		return show(path, json, false);
	for (;;) {
		int r = show(path, json, !json);

		if (r)
			return r;
		usleep((useconds_t)(watch * 1e6));
	}
}

char *flashctl_status_fetch(const char *socket_path)
{
	return fetch(socket_path);
}
