/*
 * Live progress of a port's job as operators see it (flashctl status, the
 * control socket): phase, done/total of the phase, rate and the unit's ETA.
 * Loop thread only: reads the job's `live` block under live_lock (a copy,
 * never across USB I/O) and keeps its results in port->prog.
 */
#ifndef FLASHD_DAEMON_PORT_PROGRESS_H
#define FLASHD_DAEMON_PORT_PROGRESS_H

#include <stdint.h>

#include "daemon/ports.h"

/* A job starts on p: forget the last unit's rates. */
void port_progress_start(struct port *p, uint64_t now_ms);
/* Loop tick (and before a status answer): update p->prog from p->live. */
void port_progress_tick(struct port *p, uint64_t now_ms);

#endif
