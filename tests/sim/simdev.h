/*
 * One simulated board on one port: its struct sim_board, the sim_host
 * services the board uses (completion, scheduling, connect/disconnect
 * events), and the scenario timeline (plug, unplug, replug).
 *
 * Board events arrive on the sched thread; the sysfs/uevent part of them is
 * queued to the main thread (simdev_post), which runs the queue in order and
 * paced.
 */
#ifndef FLASHSIM_SIMDEV_H
#define FLASHSIM_SIMDEV_H

#include "tests/sim/rig.h"

/* Create the board of cfg (sched must run).  Returns 0 or -errno with err set. */
int simdev_init(struct simdev *d, struct rig *r, const struct scn_board *cfg, char *err,
		size_t errlen);
/* Arm the scenario timeline relative to now.  Boards with plug_ms 0 are
 * enumerated at once.  Main thread.  Returns 0 or -errno. */
int simdev_start(struct simdev *d);
/* Plug a plug_on_sigusr1 board in, or power-cycle a replug_on_sigusr1 one,
 * once (flashsim got SIGUSR1).  Main thread. */
void simdev_plug_on_signal(struct simdev *d);
/* Remove from the bus and free everything (sched stopped, main thread). */
void simdev_fini(struct simdev *d);

#endif
