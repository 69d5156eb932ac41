/*
 * The operator control socket (config control_socket, default
 * /run/flashd/control): a client connects and gets one JSON document with
 * the station's state, then the connection is closed.  No request is read,
 * so a stuck or hostile client can never stall the loop.  `flashctl status`
 * is the client.
 *
 * Document:
 *   { "station": "...", "version": "...", "status": "<STATUS= line>",
 *     "stopping": false, "jobs": N, "today": { "pass": N, "fail": N },
 *     "ports": [ { "port", "slot", "state", "vid", "pid", "serial", "recipe",
 *                  "stage", "stage_index", "stages", "phase", "done",
 *                  "total", "rate_bps", "eta_ms", "elapsed_ms", "unit",
 *                  "last_result", "pending", "last_error" }, ... ] }
 * phase, done/total (bytes of the phase), rate and ETA: port-progress.h and
 * flashd(8), CONTROL SOCKET.
 */
#ifndef FLASHD_DAEMON_CONTROL_H
#define FLASHD_DAEMON_CONTROL_H

struct station;
struct control;

int control_new(struct station *s, struct control **ret);
struct control *control_free(struct control *c);

/* The JSON document, malloc'd (caller frees); NULL on -ENOMEM. */
char *control_status_json(struct station *s);

#endif
