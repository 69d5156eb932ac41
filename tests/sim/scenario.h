/*
 * Scenario files for flashsim (format: tests/sim/README.md, "Scenario").
 *
 * A scenario is a topology (hubs, board ports on bus 1 or 3), a global time scale
 * and a list of boards with a plug/unplug/replug timeline.  Every board key
 * that is not a rig key is flattened to dotted string options for
 * sim_board_new() ("faults":[{"kind":"unplug"}] -> faults.0.kind=unplug).
 * Pure parsing: no umockdev, no board code.
 */
#ifndef FLASHSIM_SCENARIO_H
#define FLASHSIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

#include "tests/sim/boards/board.h"

#define SCN_NO_TIME (-1L)

struct scn_board {
	char *id, *type, *port;		    /* port: "1-1.2.3" */
	long plug_ms, unplug_ms, replug_ms; /* SCN_NO_TIME when absent */
	struct sim_opt *opts;		    /* owned strings */
	size_t n_opts;
	/* Plugged when flashsim gets SIGUSR1 (COMMAND: kill -USR1 $PPID), not
	 * at plug_ms: a test plugs it once what it waits for has happened. */
	bool plug_on_sigusr1;
	/* Power-cycled (as replug_ms alone) on SIGUSR1 instead: e.g. once a
	 * fault's unit has failed. */
	bool replug_on_sigusr1;
};

struct scenario {
	double time_scale;
	/* "usb3": the controller is xHCI with a SuperSpeed root hub usb2 and
	 * every hub a USB3 hub: a USB2 half at 1-P and a SuperSpeed half at 2-P,
	 * their ports linked by "peer" (testbed.h). */
	bool usb3;
	/* "usbfs_memory_mb": the host's usbcore.usbfs_memory_mb, the bound on the
	 * buffers of all URBs in flight (usbfs.c); 16 as the kernel's default,
	 * 0 for no bound. */
	unsigned usbfs_memory_mb;
	char **hubs; /* every hub port to create, ancestors included, parents first */
	size_t n_hubs;
	struct scn_board *boards;
	size_t n_boards;
};

/*
 * Parse FILE.  Returns 0, or -errno (-ENOENT, -EBADMSG syntax, -EINVAL bad
 * value) with "FILE: json.path: what" in err.
 */
int scenario_load(const char *path, struct scenario **ret, char *err, size_t errlen);
struct scenario *scenario_free(struct scenario *s);

/* True if port is a valid "1-P[.P...]" path (ports 1..15, depth <= 7). */
int scenario_port_valid(const char *port);

#endif
