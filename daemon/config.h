/*
 * Station configuration: /etc/flashd/flashd.conf, "key = value" lines.
 *
 *   station        = line3-st1              station id stored with every unit
 *   recipe_dir     = /etc/flashd/recipes    every *.json in it is a recipe
 *   database       = /var/lib/flashd/flashd.db
 *   control_socket = /run/flashd/control    flashctl status talks to it
 *   allow_ports    = 1-1.* 2-3              port-path globs; empty = every port
 *   max_jobs       = 32                     concurrent jobs (others wait their turn)
 *   grace_sec      = 60                     SIGTERM: time running jobs get to finish
 *   rearm_sec      = 5                      a board re-appearing this soon after its
 *                                           unit passed is that unit rebooting, not a new one
 *   slot.1-1.2     = A1                     label shown to operators for a port
 *   pending_journal = /run/flashd/pending.journal
 *                                           unit records the database could not take
 *                                           yet (db/pending.h); must not be on the
 *                                           database's filesystem.  Default: the
 *                                           control socket's directory
 *   events_socket  = /run/flashd/events     the live event stream (daemon/events.h).
 *                                           Default: "events" in the control
 *                                           socket's directory
 *   events_queue   = 262144                 bytes queued per event subscriber
 *                                           before its events are dropped
 *
 * A '#' at the start of a line or after white space starts a comment; one
 * inside a word is kept ("database = /srv/line#3.db").  Strict: unknown
 * keys, keys set twice, numbers out of range, relative paths, globs no port
 * path can match and repeated slot ports or labels are refused, naming the
 * file and line.  Owned by the caller; config_free() releases everything.
 */
#ifndef FLASHD_DAEMON_CONFIG_H
#define FLASHD_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define CONFIG_DEFAULT_PATH "/etc/flashd/flashd.conf"

struct config_slot {
	char *port;
	char *label;
};

struct config {
	char *station;
	char *recipe_dir;
	char *database;
	char *control_socket;
	char *pending_journal; /* NULL: pending.journal next to control_socket */
	char *events_socket;   /* NULL: "events" next to control_socket */
	unsigned events_queue; /* bytes per subscriber (daemon/events.h) */
	char **allow_ports;    /* globs */
	size_t n_allow;
	struct config_slot *slots;
	size_t n_slots;
	unsigned max_jobs;
	unsigned grace_sec;
	unsigned rearm_sec;
};

/* Fill *cfg with the built-in defaults. */
int config_defaults(struct config *cfg);

/*
 * Load `path` over the defaults.  A missing file is -ENOENT (the caller
 * decides whether that is fatal); a bad line is -EINVAL naming file:line.
 */
int config_load(const char *path, struct config *cfg, struct err *e);

void config_free(struct config *cfg);

/* True when `port` matches the allow-list (or the list is empty). */
bool config_port_allowed(const struct config *cfg, const char *port);

/* Operator label for `port`, or NULL. */
const char *config_slot_label(const struct config *cfg, const char *port);

#endif
