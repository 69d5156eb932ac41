/*
 * Live progress of a port's job as operators see it (flashctl status, the
 * control socket): phase, done/total of the phase, rate and the unit's ETA.
 * Computed when asked, not advanced by a timer: port_progress_update() reads
 * the job's `live` block under live_lock (a copy, never across USB I/O) on
 * the loop thread and keeps its results in port->prog; the job thread adds
 * each finished phase to the live block (port_progress_phase_end()).
 */
#ifndef FLASHD_DAEMON_PORT_PROGRESS_H
#define FLASHD_DAEMON_PORT_PROGRESS_H

#include <stdint.h>

#include "daemon/ports.h"

/* A job starts on p: forget the last unit's rates. */
void port_progress_start(struct port *p, uint64_t now_ms);
/* Before a status answer: compute p->prog from p->live's timestamps. */
void port_progress_update(struct port *p, uint64_t now_ms);
/*
 * The job's phase (or stage) ends now: count what it did for the unit's
 * rate, and start the next one.  Job thread, under p->live_lock, before
 * the live block takes the new phase.
 */
void port_progress_phase_end(struct port_live *l, uint64_t now_ms);

#endif
