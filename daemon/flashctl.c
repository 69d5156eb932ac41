/*
 * This file implements flashctl's main(): global options, the subcommand
 * table and usage.  Subcommands are in daemon/flashctl-*.c (see
 * daemon/flashctl.h for the list and the exit codes).
 */
#include "common/version.h"
#include "daemon/flashctl.h"
#include "daemon/flashctl-source.h"
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_recipe(const struct flashctl *ctl, int argc, char **argv)
{
	(void)ctl;
	return flashctl_cmd_recipe(argc, argv);
}

static int cmd_status(const struct flashctl *ctl, int argc, char **argv)
{
	(void)ctl;
	return flashctl_cmd_status(argc, argv);
}

static int cmd_devices(const struct flashctl *ctl, int argc, char **argv)
{
	(void)ctl;
	return flashctl_cmd_devices(argc, argv);
}

static int cmd_udev_rules(const struct flashctl *ctl, int argc, char **argv)
{
	(void)ctl;
	return flashctl_cmd_udev_rules(argc, argv);
}

static int cmd_fleet(const struct flashctl *ctl, int argc, char **argv)
{
	/* Central pools: lease writes the station database of --db. */
	if (argc > 1 && strcmp(argv[1], "pool") == 0)
		return flashctl_cmd_fleet_pool(ctl, argc - 1, argv + 1);
	return flashctl_cmd_fleet(argc, argv);
}

static const struct {
	const char *name;
	int (*fn)(const struct flashctl *ctl, int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "log", flashctl_cmd_log,
	  "log [--serial S] [--since T] [--until T] [--result R] [--recipe N] [--port GLOB]\n"
	  "                [--slot GLOB] [--limit N] [--format table|csv|json]" },
	{ "show", flashctl_cmd_show,
	  "show [--serial] [--format text|json] UNIT-ID|SERIAL|CHIP-UID" },
	{ "stats", flashctl_cmd_stats,
	  "stats [--by recipe|day|port|slot] [--since T] [--until T] [--recipe N]\n"
	  "                [--port GLOB] [--slot GLOB] [--format table|csv|json]" },
	{ "export", flashctl_cmd_export,
	  "export [--format csv|json] [--images] [same filters as log]" },
	{ "fleet", cmd_fleet,
	  "fleet log|show|stats|export [--db-url CONNINFO] [--station S] [same options]\n"
	  "  flashctl fleet pool create NAME --kind counter|mac --first N --last N --block N\n"
	  "                [--format F] [--per-unit N] [--policy burn|reuse] [--low-water N]\n"
	  "  flashctl [--db PATH] fleet pool lease NAME --station S [--request KEY]\n"
	  "  flashctl fleet pool status NAME   (fleet pool: also [--db-url CONNINFO])" },
	{ "recipe", cmd_recipe, "recipe check FILE|DIR..." },
	{ "status", cmd_status, "status [--socket PATH] [--json] [--watch [SECONDS]]" },
	{ "devices", cmd_devices, "devices [--recipes DIR] [--socket PATH] [--json]" },
	{ "udev-rules", cmd_udev_rules, "udev-rules [--recipes DIR] [--group NAME]" },
	{ "pool", flashctl_cmd_pool,
	  "pool create NAME --kind counter|mac|list [--format F] [--first N] [--last N]\n"
	  "                [--per-unit N] [--policy burn|reuse] [--low-water N] [--station S]\n"
	  "  flashctl pool list|status [NAME] [--json]\n"
	  "  flashctl pool import NAME FILE [--files|--csv]\n"
	  "  flashctl pool export NAME [--format csv|json]\n"
	  "  flashctl pool audit" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: flashctl [--db PATH] COMMAND [ARGS]\n"
		   "       flashctl --help | --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  flashctl %s\n", commands[i].usage);
	fprintf(f,
		"\n"
		"  --db PATH   unit database (default $FLASHD_DB, else %s)\n"
		"  T           YYYY-MM-DD[THH:MM[:SS]] (station's local time; a trailing Z: UTC),\n"
		"              @UNIX-SECONDS, now, today (local midnight), or -N{d,h,m} (ago);\n"
		"              --since is inclusive, --until exclusive\n"
		"  CONNINFO    the fleet's PostgreSQL (postgresql://... or key=value; default\n"
		"              $FLASHD_FLEET_URL)\n"
		"  GLOB        a shell-style pattern (* ? [...]) over the port path or slot label\n"
		"\nexit status: 0 ok, 1 error, 2 usage\n",
		DB_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	struct flashctl ctl = { .db_path = getenv("FLASHD_DB") };
	int i;

	if (!ctl.db_path || !*ctl.db_path)
		ctl.db_path = DB_DEFAULT_PATH;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return FLASHCTL_EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("flashctl %s\n", FLASHD_VERSION);
			return FLASHCTL_EXIT_OK;
		} else if (strcmp(a, "--db") == 0) {
			if (++i == argc) {
				fprintf(stderr, "flashctl: option '--db' needs a path\n");
				return FLASHCTL_EXIT_USAGE;
			}
			ctl.db_path = argv[i];
		} else if (strncmp(a, "--db=", 5) == 0) {
			ctl.db_path = a + 5;
		} else {
			fprintf(stderr, "flashctl: unknown option '%s'\n", a);
			usage(stderr);
			return FLASHCTL_EXIT_USAGE;
		}
	}
	if (!*ctl.db_path) {
		fprintf(stderr, "flashctl: empty database path\n");
		return FLASHCTL_EXIT_USAGE;
	}
	if (i == argc) {
		usage(stderr);
		return FLASHCTL_EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return FLASHCTL_EXIT_OK;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name) != 0)
			continue;
		/* One --help for every command: its usage, on stdout, exit 0. */
		for (int k = i + 1; k < argc && strcmp(argv[k], "--") != 0; k++)
			if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
				printf("usage: flashctl %s\n(flashctl --help for times, globs and exit status)\n",
				       commands[c].usage);
				return FLASHCTL_EXIT_OK;
			}
		return commands[c].fn(&ctl, argc - i, argv + i);
	}

	fprintf(stderr, "flashctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return FLASHCTL_EXIT_USAGE;
}
