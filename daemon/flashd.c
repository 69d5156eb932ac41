/*
 * flashd: the factory flashing station daemon.  This file is main(): the
 * command line; everything else is the station (daemon/station.c).
 *
 *   flashd [--config FILE] [--recipes DIR] [--db FILE] [--control PATH]
 *          [--station NAME] [--deadline-pct N] [--log-stderr] [--version]
 *   flashd [--config FILE] --check-config
 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/version.h"
#include "daemon/station.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flashd [--config FILE] [--recipes DIR] [--db FILE] [--control PATH]\n"
		"              [--station NAME] [--deadline-pct N] [--log-stderr] [--version]\n"
		"       flashd [--config FILE] --check-config\n"
		"\n"
		"Options override the configuration file (default %s).\n"
		"--deadline-pct scales engine deadlines (simulated boards run faster).\n",
		CONFIG_DEFAULT_PATH);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * --check-config: the file parses (every key known, once, with a valid
 * value) and the directories it names exist.  Exit 0 or 1 with the reason.
 */
static int check_config(const char *path)
{
	struct config c;
	struct err e = { 0 };
	char *db_dir;
	int bad = 0;

	if (config_defaults(&c) < 0)
		return 1;
	if (config_load(path ? path : CONFIG_DEFAULT_PATH, &c, &e) < 0) {
		fprintf(stderr, "flashd: %s\n", e.msg);
		config_free(&c);
		return 1;
	}
	if (!is_dir(c.recipe_dir)) {
		fprintf(stderr, "flashd: recipe_dir '%s' is not a directory\n", c.recipe_dir);
		bad = 1;
	}
	db_dir = strdup(c.database);
	if (db_dir && !is_dir(dirname(db_dir))) {
		fprintf(stderr, "flashd: database '%s': directory does not exist\n", c.database);
		bad = 1;
	}
	free(db_dir);
	if (!bad)
		printf("%s: ok\n", path ? path : CONFIG_DEFAULT_PATH);
	config_free(&c);
	return bad;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "recipes", required_argument, NULL, 'r' },
					      { "db", required_argument, NULL, 'd' },
					      { "control", required_argument, NULL, 's' },
					      { "station", required_argument, NULL, 'n' },
					      { "deadline-pct", required_argument, NULL, 'D' },
					      { "log-stderr", no_argument, NULL, 'L' },
					      { "version", no_argument, NULL, 'V' },
					      { "check-config", no_argument, NULL, 'C' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	struct station_options o = { 0 };
	struct station *s = NULL;
	bool check = false;
	char *end;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			o.config_path = optarg;
			break;
		case 'r':
			o.recipe_dir = optarg;
			break;
		case 'd':
			o.database = optarg;
			break;
		case 's':
			o.control_socket = optarg;
			break;
		case 'n':
			o.station = optarg;
			break;
		case 'D':
			o.deadline_pct = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o.deadline_pct == 0 || o.deadline_pct > 1000) {
				fprintf(stderr, "flashd: --deadline-pct: '%s' is not in 1..1000\n",
					optarg);
				return 2;
			}
			break;
		case 'L':
			log_set_stderr(1);
			break;
		case 'C':
			check = true;
			break;
		case 'V':
			printf("flashd %s\n", FLASHD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "flashd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (check)
		return check_config(o.config_path);
	r = station_new(&o, &s);
	if (r < 0)
		return 1;
	r = station_run(s);
	station_free(s);
	return r;
}
