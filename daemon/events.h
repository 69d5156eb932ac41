/*
 * The live event stream (config events_socket, default "events" next to
 * the control socket, /run/flashd/events): a unix stream socket whose
 * clients (flashd-web, flashd-hooks) send nothing and read JSON lines, one
 * object each, '\n'-terminated.  flashd(8), EVENT STREAM, is the protocol:
 *
 *   {"type":"hello","seq":S,"station":..,"version":..,"status":{control status}}
 *   {"type":"port","seq":..,"t":..,"port":..,"slot":..|null,"state":..,"recipe":..,"serial":..}
 *   {"type":"stage","seq":..,"t":..,"port":..,"unit":ID,"stage":..,"index":i,"stages":n}
 *   {"type":"progress","seq":..,"t":..,"port":..,"unit":ID,"phase":..,"done":N,"total":N,"rate_bps":N}
 *   {"type":"unit","seq":..,"t":..,"port":..,"unit":{...}}
 *   {"type":"dropped","seq":..,"t":..,"count":N}
 *
 * Everything runs on the loop thread: events are found by comparing each
 * port with what was last sent (a post source, run after every dispatched
 * event, and a 250 ms timer while anyone listens, for what job threads
 * change in `live`), and the finished unit is handed in by reap_port().
 * Each subscriber has a bounded queue written without blocking (EPOLLOUT
 * while it is not empty); a full queue drops events with a counter, an
 * error closes the subscriber.  No subscriber can stall the loop.
 */
#ifndef FLASHD_DAEMON_EVENTS_H
#define FLASHD_DAEMON_EVENTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "daemon/ports.h"

struct station;
struct events;

/* Listen on the events socket.  Errors are logged. */
int events_new(struct station *s, struct events **ret);
struct events *events_free(struct events *ev);

/*
 * Port p's job was joined (its row is written, or pending if `pending`):
 * send the "unit" event.  live is the job's final live block.  NULL ev:
 * nothing.
 */
void events_unit(struct events *ev, struct port *p, const struct port_live *live, bool pending);

/* Add "events": {"subscribers": n, "dropped": n} to a status document. */
void events_add_status(struct events *ev, cJSON *root);

#endif
