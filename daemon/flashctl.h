/*
 * flashctl: the command-line tool of the flashing station.  daemon/flashctl.c
 * holds main() and the subcommand table; each subcommand lives in its own
 * file and is declared here.
 *
 *   flashctl [--db PATH] log|show|stats|export ...   daemon/flashctl-qa.c
 *   flashctl recipe check FILE...                    daemon/flashctl-recipe.c
 *   flashctl status                                  daemon/flashctl-status.c
 *   flashctl [--db PATH] pool ...                    daemon/flashctl-pool.c
 *
 * Exit codes, for every subcommand: FLASHCTL_EXIT_OK (0), FLASHCTL_EXIT_ERROR
 * (1: runtime error, e.g. a missing database or unit) and FLASHCTL_EXIT_USAGE
 * (2: bad command line).  Errors go to stderr as "flashctl: <message>" or
 * "flashctl <command>: <message>"; results go to stdout.
 *
 * Subcommands whose file is not written yet fall back to weak definitions in
 * daemon/flashctl-stubs.c that print "not available" and return
 * FLASHCTL_EXIT_ERROR; a file defining the real (strong) function replaces
 * them with no other edit.
 */
#ifndef FLASHD_DAEMON_FLASHCTL_H
#define FLASHD_DAEMON_FLASHCTL_H

#include <stdbool.h>
#include <stdint.h>

enum {
	FLASHCTL_EXIT_OK = 0,
	FLASHCTL_EXIT_ERROR = 1,
	FLASHCTL_EXIT_USAGE = 2,
};

/* Options given before the subcommand, read-only for subcommands. */
struct flashctl {
	const char *db_path; /* --db, else $FLASHD_DB, else DB_DEFAULT_PATH */
};

/*
 * QA subcommands over the unit database (daemon/flashctl-qa.c).  argv[0] is
 * the subcommand name; each opens the database read-only and never writes.
 */
int flashctl_cmd_log(const struct flashctl *ctl, int argc, char **argv);
int flashctl_cmd_show(const struct flashctl *ctl, int argc, char **argv);
int flashctl_cmd_stats(const struct flashctl *ctl, int argc, char **argv);
int flashctl_cmd_export(const struct flashctl *ctl, int argc, char **argv);
/* One CSV field (RFC 4180 quoting when needed), then ',' or the line end. */
void flashctl_csv_field(const char *s, bool last);
/*
 * A --since/--until time (YYYY-MM-DD[THH:MM[:SS]][Z], @UNIX-SECONDS, now,
 * today, -N{d,h,m}) as ms since the epoch; -EINVAL if malformed.  Also
 * flashd-web's since/until parameters.
 */
int flashctl_parse_time(const char *s, int64_t *ret);

/* A unit row as the JSON object of `flashctl log --format json` (cJSON; NULL on -ENOMEM). */
struct cJSON;
struct db_unit_row;
struct cJSON *flashctl_unit_json(const struct db_unit_row *r);

/* "flashctl recipe check FILE...": validate recipes (daemon/flashctl-recipe.c). */
int flashctl_cmd_recipe(int argc, char **argv);

/* "flashctl status": ask the running daemon over its control socket. */
int flashctl_cmd_status(int argc, char **argv);

/* The running daemon's status document (JSON text, free() it), or NULL
 * with errno set if its control socket does not answer. */
char *flashctl_status_fetch(const char *socket_path);

/* "flashctl devices": the boards on the station now (daemon/flashctl-devices.c). */
int flashctl_cmd_devices(int argc, char **argv);

/* "flashctl udev-rules": udev rules for the recipes' devices (daemon/flashctl-udev.c). */
int flashctl_cmd_udev_rules(int argc, char **argv);

/*
 * "flashctl pool create|list|status|import|export|audit": identity pools
 * (daemon/flashctl-pool.c).  create and import write the database.
 */
int flashctl_cmd_pool(const struct flashctl *ctl, int argc, char **argv);

#endif
