/*
 * flashd-web: the line's wall screen, a read-only JSON/CSV API and
 * Prometheus metrics over the station database and flashd's event stream
 * (web/flashd-web.8).  A separate unprivileged service: it never opens a
 * board, never writes the database, and flashd never waits for it.
 *
 *   web/flashd-web.c   main: config, the event reader, the HTTP daemon
 *   web/web-config.c   /etc/flashd/web.conf and the flashd.conf it names
 *   web/routes.c       the route table: method and path to a handler
 *   web/api.c          /api/ports, /api/units, /api/units/ID, /api/units.csv
 *   web/metrics.c      /metrics
 *   web/events.c       the event reader thread and the ring of recent events
 *   web/sse.c          /events: server-sent events, one cursor per client
 *   web/page.c         / : the line page (web/page.html, compiled in)
 *   web/snapshot.c     the station as one JSON document (status, layout, failures)
 */
#ifndef FLASHD_WEB_WEB_H
#define FLASHD_WEB_WEB_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "daemon/config.h"

#define WEB_CONFIG_DEFAULT_PATH "/etc/flashd/web.conf"
#define WEB_DEFAULT_SYNC_METRICS "/run/flashd-sync/metrics.prom"

struct web_config {
	char *listen_host; /* numeric IPv4 or IPv6 address */
	uint16_t listen_port;
	char *database;
	char *events_socket;
	char *control_socket; /* from flashd.conf unless set */
	char *flashd_conf;
	char *sync_metrics;   /* flashd-sync's metrics file, appended to /metrics when present */
	struct config flashd; /* slot labels and layout; defaults if the file is absent */
};

/* Load path over the defaults; -EINVAL naming file:line for a bad line. */
int web_config_load(const char *path, struct web_config *cfg, struct err *e);
void web_config_free(struct web_config *cfg);

struct events; /* web/events.c */

struct web {
	struct web_config cfg;
	struct events *events;
	struct MHD_Daemon *httpd;
};

/* A request as the handlers see it. */
struct web_request {
	struct web *web;
	struct MHD_Connection *conn;
	const char *path;
	const char *arg; /* the rest of the path after a prefix route ("/api/units/ID") */
};

/* Handlers queue exactly one response and return MHD_YES/MHD_NO. */
typedef enum MHD_Result (*web_handler_t)(struct web_request *rq);

enum MHD_Result web_route(struct web *w, struct MHD_Connection *conn, const char *method,
			  const char *url);

/* Responses (web/routes.c). */
enum MHD_Result web_reply(struct MHD_Connection *conn, unsigned status, const char *type,
			  char *body, size_t len); /* takes body (malloc'd) */
enum MHD_Result web_reply_static(struct MHD_Connection *conn, unsigned status, const char *type,
				 const char *body, size_t len);
/* An error as {"error": reason} with status (400, 404, 405, 503 ...). */
enum MHD_Result web_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

enum MHD_Result web_api_ports(struct web_request *rq);
enum MHD_Result web_api_units(struct web_request *rq);
enum MHD_Result web_api_unit(struct web_request *rq);
enum MHD_Result web_api_units_csv(struct web_request *rq);
enum MHD_Result web_metrics(struct web_request *rq);
enum MHD_Result web_sse(struct web_request *rq);
enum MHD_Result web_page(struct web_request *rq);

/* flashd's status document (its control socket, else the stream's last hello), malloc'd JSON; NULL if neither. */
char *web_status_json(struct web *w);

/* The station as the page starts from: { station, status, layout, failures, recent }; malloc'd. */
char *web_snapshot_json(struct web *w);

/*
 * One /events client: a cursor into the ring of recent events plus the bytes
 * being sent.  Owned by web/sse.c, read and suspended under the ring's lock.
 */
struct events_client {
	struct MHD_Connection *conn;
	uint64_t pos;	    /* next ring position to send */
	bool need_snapshot; /* new client, or fell behind the ring */
	bool suspended;
	char *buf;
	size_t len, off;
	uint64_t last_ms; /* of the last bytes handed out, for keep-alives */
	struct events_client *prev, *next;
};

/* Event reader (web/events.c). */
int events_new(struct web *w, const char *socket_path, struct events **ret);
void events_free(struct events *ev);
/* The status of the last hello, malloc'd copy; NULL if none yet. */
char *events_hello_status(struct events *ev);
/* Start c at the event after last_event_id (NULL: a snapshot first). */
void events_attach(struct events *ev, struct events_client *c, const char *last_event_id);
void events_detach(struct events *ev, struct events_client *c);
/* MHD content reader: up to max bytes, 0 after suspending c until there are more, -1 at shutdown. */
ssize_t events_read(struct events *ev, struct events_client *c, char *out, size_t max);
/* Before MHD_stop_daemon(): end every stream and resume the suspended ones. */
void events_shutdown(struct events *ev);

#endif
