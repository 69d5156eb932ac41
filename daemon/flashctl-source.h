/*
 * Where flashctl's QA commands (log, show, stats, export) read units from:
 * the station's SQLite database (db/query.h, daemon/flashctl-qa.c) or the
 * fleet's PostgreSQL (daemon/flashctl-fleet.c, issue 20 item 3).  The
 * printers of daemon/flashctl-qa.c see only the row structs of db/query.h,
 * so both sources print the same formats.
 *
 * Every function has the contract of its db_query_* namesake in db/query.h;
 * a handle is what open() returned.  The fleet source keys a unit by
 * (station, id): find_unit() remembers the station of the unit it found
 * for the unit() that follows, and unit_identities() is given the row.
 */
#ifndef FLASHD_DAEMON_FLASHCTL_SOURCE_H
#define FLASHD_DAEMON_FLASHCTL_SOURCE_H

#include "common/err.h"
#include "db/query.h"

#include <stdbool.h>
#include <stdint.h>

struct flashctl_source_ops {
	const char *name; /* "fleet": its verbs are "flashctl fleet VERB" */
	/* where: a path or a libpq connection string; station: filter, NULL = all */
	int (*open)(const char *where, const char *station, void **h, struct err *err);
	void (*close)(void *h);
	int (*units)(void *h, const struct db_filter *filter, bool newest_first, unsigned limit,
		     db_unit_cb_t cb, void *userdata, struct err *err);
	int (*find_unit)(void *h, const char *key, bool by_serial, int64_t *unit_id,
			 struct err *err);
	int (*unit)(void *h, int64_t unit_id, db_unit_cb_t unit_cb, db_stage_cb_t stage_cb,
		    db_image_cb_t image_cb, void *userdata, struct err *err);
	int (*units_images)(void *h, const struct db_filter *filter, db_unit_image_cb_t cb,
			    void *userdata, struct err *err);
	int (*unit_identities)(void *h, const struct db_unit_row *unit, db_identity_cb_t cb,
			       void *userdata, struct err *err);
	int (*stats)(void *h, enum db_stats_by by, const struct db_filter *filter, db_stats_cb_t cb,
		     void *userdata, struct err *err);
};

/*
 * "flashctl fleet log|show|stats|export ...": the station verbs over ops,
 * with --db-url CONNINFO (default default_where) and --station NAME.
 * argv[0] is the verb.  Returns a FLASHCTL_EXIT_* code.
 */
int flashctl_qa_run(const struct flashctl_source_ops *ops, const char *default_where, int argc,
		    char **argv);

/* "flashctl fleet ...": daemon/flashctl-fleet.c (linked into flashctl only). */
int flashctl_cmd_fleet(int argc, char **argv);

/*
 * "flashctl fleet pool create|lease|status ...": central pools leasing
 * blocks to stations (daemon/flashctl-fleet-pool.c; issue 20 item 4).
 * argv[0] is "pool"; lease adds its block to the pool of ctl->db_path.
 */
struct flashctl;
int flashctl_cmd_fleet_pool(const struct flashctl *ctl, int argc, char **argv);

#endif
