/*
 * End-of-run output: each board's memories as <id>.<memory>.bin and
 * summary.json (format: tests/sim/README.md, "Dump").  Call after the sched
 * thread has stopped.
 */
#ifndef FLASHSIM_DUMP_H
#define FLASHSIM_DUMP_H

#include "tests/sim/rig.h"

/* Returns 0 or -errno (message logged). */
int dump_write(struct rig *r, const char *dir, int child_status);

#endif
