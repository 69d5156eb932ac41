/*
 * This file implements GET /events (web/web.h): a server-sent event stream
 * per client, read from the event ring by web/events.c.  A client with no
 * Last-Event-ID (or one the ring no longer holds) starts with a "snapshot"
 * event, then gets flashd's events as they come: id = flashd's seq, event =
 * its type, data = its JSON line.
 */
#include "web/web.h"

#include <stdlib.h>

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct events_client *c = cls;
	struct events *ev = *(struct events **)(c + 1);

	(void)pos;
	return events_read(ev, c, buf, max);
}

static void sse_free(void *cls)
{
	struct events_client *c = cls;
	struct events *ev = *(struct events **)(c + 1);

	events_detach(ev, c);
	free(c->buf);
	free(c);
}

enum MHD_Result web_sse(struct web_request *rq)
{
	/* The client, followed by the ring it reads: one allocation, freed by sse_free(). */
	struct events_client *c = calloc(1, sizeof(*c) + sizeof(struct events *));
	struct MHD_Response *resp;
	enum MHD_Result r;
	const char *last;

	if (!c)
		return MHD_NO;
	c->conn = rq->conn;
	*(struct events **)(c + 1) = rq->web->events;
	last = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Last-Event-ID");
	if (!last) /* EventSource cannot set headers on its first connection */
		last = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND,
						   "last_event_id");
	events_attach(rq->web->events, c, last);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, c,
						 sse_free);
	if (!resp) {
		sse_free(c);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	r = MHD_queue_response(rq->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}
