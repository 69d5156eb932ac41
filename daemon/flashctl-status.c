/*
 * This file implements "flashctl status": the operator's view of a running
 * flashd, read from its control socket (daemon/control.h).
 *
 *   flashctl status [--socket PATH] [--json] [--watch [SECONDS]]
 *
 * One line per port: slot, state, recipe, stage, the stage's phase (erase,
 * transfer, write, verify) with a progress bar, bytes and rate, the unit's
 * ETA, elapsed time, serial and the last result.
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

/* The table's columns; every one but the last is padded to its widest cell. */
enum {
	COL_PORT,
	COL_SLOT,
	COL_STATE,
	COL_RECIPE,
	COL_STAGE,
	COL_PHASE,
	COL_PROGRESS,
	COL_RATE,
	COL_ETA,
	COL_TIME,
	COL_SERIAL,
	COL_LAST,
	N_COLS
};
static const char *const col_names[N_COLS] = {
	[COL_PORT] = "PORT",	     [COL_SLOT] = "SLOT",     [COL_STATE] = "STATE",
	[COL_RECIPE] = "RECIPE",     [COL_STAGE] = "STAGE",   [COL_PHASE] = "PHASE",
	[COL_PROGRESS] = "PROGRESS", [COL_RATE] = "RATE",     [COL_ETA] = "ETA",
	[COL_TIME] = "TIME",	     [COL_SERIAL] = "SERIAL", [COL_LAST] = "LAST",
};

/* mm:ss, or "-" while flashd cannot tell yet (JSON null). */
static void eta_cell(const cJSON *p, char *buf, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "eta_ms");
	int s;

	if (!cJSON_IsNumber(v)) {
		snprintf(buf, size, "-");
		return;
	}
	s = (int)((v->valuedouble + 999) / 1000);
	snprintf(buf, size, "%02d:%02d", s / 60, s % 60);
}

struct status_row {
	char cell[N_COLS][320];
};

static void port_row(const cJSON *p, struct status_row *row)
{
	double done = num(p, "done"), total = num(p, "total"), rate = num(p, "rate_bps");
	const char *state = str(p, "state");
	char bar[23], d[16], t[16];
	int running = !strcmp(state, "flashing") || !strcmp(state, "awaiting");

	*row = (struct status_row){ 0 };
	if (running) {
		int fill = total > 0 ? (int)(20 * done / total) : 0;

		bar[0] = '[';
		for (int i = 0; i < 20; i++)
			bar[1 + i] = i < fill ? '#' : '-';
		bar[21] = ']';
		bar[22] = '\0';
		human(done, d, sizeof(d));
		human(total, t, sizeof(t));
		snprintf(row->cell[COL_PROGRESS], sizeof(row->cell[0]), "%s %3.0f%% %s/%s", bar,
			 total > 0 ? 100 * done / total : 0.0, d, t);
		human(rate, d, sizeof(d));
		snprintf(row->cell[COL_RATE], sizeof(row->cell[0]), "%s/s", d);
		snprintf(row->cell[COL_PHASE], sizeof(row->cell[0]), "%s", str(p, "phase"));
		eta_cell(p, row->cell[COL_ETA], sizeof(row->cell[0]));
		snprintf(row->cell[COL_STAGE], sizeof(row->cell[0]), "%d/%d %s",
			 (int)num(p, "stage_index") + 1, (int)num(p, "stages"), str(p, "stage"));
		snprintf(row->cell[COL_TIME], sizeof(row->cell[0]), "%02d:%02d",
			 (int)num(p, "elapsed_ms") / 60000, (int)num(p, "elapsed_ms") / 1000 % 60);
	}
	snprintf(row->cell[COL_PORT], sizeof(row->cell[0]), "%s", str(p, "port"));
	snprintf(row->cell[COL_SLOT], sizeof(row->cell[0]), "%s", str(p, "slot"));
	snprintf(row->cell[COL_STATE], sizeof(row->cell[0]), "%s", state);
	snprintf(row->cell[COL_RECIPE], sizeof(row->cell[0]), "%s", str(p, "recipe"));
	snprintf(row->cell[COL_SERIAL], sizeof(row->cell[0]), "%s", str(p, "serial"));
	snprintf(row->cell[COL_LAST], sizeof(row->cell[0]), "%s%s%s%s", str(p, "last_result"),
		 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "pending"))
			 ? " (not in the database yet)"
			 : "",
		 *str(p, "last_error") ? ": " : "", str(p, "last_error"));
}

/* Header and one line per port, columns as wide as their widest cell
 * (a 32-character Ingenic chip UID as serial, a long recipe name). */
static void print_ports(const cJSON *ports)
{
	int n = cJSON_GetArraySize(ports), width[N_COLS];
	struct status_row *rows = calloc((size_t)n + 1, sizeof(*rows));
	const cJSON *p;
	int k = 1;

	if (!rows)
		return;
	for (int c = 0; c < N_COLS; c++)
		snprintf(rows[0].cell[c], sizeof(rows[0].cell[0]), "%s", col_names[c]);
	cJSON_ArrayForEach(p, ports) if (k <= n) port_row(p, &rows[k++]);
	for (int c = 0; c < N_COLS; c++) {
		width[c] = 0;
		for (int i = 0; i < k; i++) {
			int w = (int)strlen(rows[i].cell[c]);

			width[c] = w > width[c] ? w : width[c];
		}
	}
	for (int i = 0; i < k; i++) {
		for (int c = 0; c < N_COLS - 1; c++)
			printf("%-*s ", width[c], rows[i].cell[c][0] ? rows[i].cell[c] : "");
		printf("%s\n", rows[i].cell[N_COLS - 1]);
	}
	free(rows);
}

/* A database that does not take writes is the first thing an operator must see. */
static void print_database(const cJSON *db)
{
	if (!db || !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(db, "writable")))
		return;
	printf("DATABASE NOT WRITABLE: %s (%s): %.0f result(s) pending, not taking boards; they wait and are flashed once it takes writes again\n",
	       str(db, "path"), str(db, "error"), num(db, "pending_units"));
}

/* Pools under the ports; a low or exhausted one is marked for the eye. */
static void print_pools(const cJSON *pools)
{
	static const char *const marks[][2] = { { "low", "  LOW" },
						{ "exhausted", "  EXHAUSTED" } };
	const cJSON *p;

	if (cJSON_GetArraySize(pools) == 0)
		return;
	printf("\n%-24s %-8s %12s %10s\n", "POOL", "KIND", "UNITS LEFT", "LOW WATER");
	cJSON_ArrayForEach(p, pools)
	{
		const char *mark = "";

		for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
			if (!strcmp(str(p, "level"), marks[i][0]))
				mark = marks[i][1];
		printf("%-24s %-8s %12.0f %10.0f%s\n", str(p, "name"), str(p, "kind"),
		       num(p, "units_left"), num(p, "low_water"), mark);
	}
}

static int show(const char *path, bool json, bool clear)
{
	_cleanup_free_ char *doc = fetch(path);
	cJSON *root, *ports;

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
	ports = cJSON_GetObjectItemCaseSensitive(root, "ports");
	print_ports(ports);
	print_pools(cJSON_GetObjectItemCaseSensitive(root, "pools"));
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
				fprintf(stderr,
					"flashctl status: --watch: '%s' is not a positive number\n",
					optarg);
				return FLASHCTL_EXIT_USAGE;
			}
			break;
		}
		case 'h':
			printf("usage: flashctl status [--socket PATH] [--json] [--watch [SECONDS]]\n");
			return FLASHCTL_EXIT_OK;
		default:
			fprintf(stderr,
				"usage: flashctl status [--socket PATH] [--json] [--watch [SECONDS]]\n");
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
