/*
 * flashd: the factory flashing station daemon.  This file is main(): the
 * command line; everything else is the station (daemon/station.c).
 *
 *   flashd [--config FILE] [--recipes DIR] [--db FILE] [--control PATH]
 *          [--station NAME] [--deadline-pct N] [--log-stderr] [--version]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/version.h"
#include "daemon/station.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: flashd [--config FILE] [--recipes DIR] [--db FILE] [--control PATH]\n"
		   "              [--station NAME] [--deadline-pct N] [--log-stderr] [--version]\n"
		   "\n"
		   "Options override the configuration file (default %s).\n"
		   "--deadline-pct scales engine deadlines (simulated boards run faster).\n",
		CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "recipes", required_argument, NULL, 'r' },
		{ "db", required_argument, NULL, 'd' },
		{ "control", required_argument, NULL, 's' },
		{ "station", required_argument, NULL, 'n' },
		{ "deadline-pct", required_argument, NULL, 'D' },
		{ "log-stderr", no_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct station_options o = { 0 };
	struct station *s = NULL;
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
	r = station_new(&o, &s);
	if (r < 0)
		return 1;
	r = station_run(s);
	station_free(s);
	return r;
}
