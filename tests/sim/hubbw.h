/*
 * The shared-bus model of the rig: boards behind one hub share its upstream
 * link, and full-speed boards behind a high-speed hub share its Transaction
 * Translator(s) (tests/sim/README.md, "Shared bus").  Board models know
 * nothing of this: the rig stretches a URB's completion delay so that the
 * transfers crossing one link never exceed its capacity.
 *
 * Only hubs listed in the scenario's "hub_bandwidth" object are modelled;
 * without it every delay is the board's own (the rig as before).  libc,
 * pthread and cJSON only: no umockdev, no GLib.
 */
#ifndef FLASHSIM_HUBBW_H
#define FLASHSIM_HUBBW_H

#include <stddef.h>
#include <stdint.h>

#include "tests/sim/boards/board.h"

struct hubbw;

/*
 * Read "hub_bandwidth" of the scenario FILE: { "1-3": { "speed": "high",
 * "tt": "multi" }, ... }; every key must be one of hubs[].  *ret is NULL when
 * the key is absent.  Returns 0 or -errno with "FILE: json.path: what" in err.
 */
int hubbw_load(const char *path, char *const *hubs, size_t n_hubs, struct hubbw **ret, char *err,
	       size_t errlen);
struct hubbw *hubbw_free(struct hubbw *h);

/*
 * A transfer of `bytes` by the device on `port` (speed `speed`) finishes
 * `board_delay_ns` after now_ns as far as the board goes.  Reserves its time
 * on every modelled link it crosses (link time x `scale`, real ns) and
 * returns the delay to use: the board's, or later if a link is busy.
 * Thread-safe (one leaf lock).
 */
uint64_t hubbw_delay(struct hubbw *h, const char *port, enum sim_speed speed, size_t bytes,
		     double scale, uint64_t now_ns, uint64_t board_delay_ns);

/* Per link, for the dump: what it carried and how long it was busy. */
struct hubbw_stat {
	const char *name;		  /* "1-3" (upstream), "1-3/tt" or "1-3/tt4" */
	uint64_t bytes, busy_ns, wait_ns; /* busy, wait: device time (unscaled) */
	uint64_t first_ns, last_ns;	  /* real ns: first start, last end; 0 if unused */
	double capacity;		  /* bytes per device second */
};
/* The i-th link; 0 past the end. */
int hubbw_stat(struct hubbw *h, size_t i, struct hubbw_stat *st);

#endif
