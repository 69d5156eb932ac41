/*
 * This file implements flashd-web's routing (web/web.h): one table from
 * path to handler.  Every route is read-only: GET and HEAD are the only
 * methods, anything else is 405 whatever the path; an unknown path is 404.
 */
#include "web/web.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

struct route {
	const char *path;
	bool prefix; /* path is a prefix; the rest is the handler's arg */
	web_handler_t handler;
};

static const struct route routes[] = {
	{ .path = "/", .handler = web_page },
	{ .path = "/api/ports", .handler = web_api_ports },
	{ .path = "/api/units", .handler = web_api_units },
	{ .path = "/api/units.csv", .handler = web_api_units_csv },
	{ .path = "/api/units/", .prefix = true, .handler = web_api_unit },
	{ .path = "/metrics", .handler = web_metrics },
	{ .path = "/events", .handler = web_sse },
};

enum MHD_Result web_reply(struct MHD_Connection *conn, unsigned status, const char *type,
			  char *body, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result r;

	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

enum MHD_Result web_reply_static(struct MHD_Connection *conn, unsigned status, const char *type,
				 const char *body, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

enum MHD_Result web_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
	char reason[512];
	cJSON *o = cJSON_CreateObject();
	char *body;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (!o || !cJSON_AddStringToObject(o, "error", reason)) {
		cJSON_Delete(o);
		return MHD_NO;
	}
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!body)
		return MHD_NO;
	return web_reply(conn, status, "application/json", body, strlen(body));
}

enum MHD_Result web_route(struct web *w, struct MHD_Connection *conn, const char *method,
			  const char *url)
{
	struct web_request rq = { .web = w, .conn = conn, .path = url };

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return web_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				 "method %s not allowed: flashd-web is read-only (GET, HEAD)",
				 method);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(r->path);

		if (r->prefix ? strncmp(url, r->path, n) == 0 && url[n]
			      : strcmp(url, r->path) == 0) {
			rq.arg = url + (r->prefix ? n : strlen(url));
			return r->handler(&rq);
		}
	}
	return web_error(conn, MHD_HTTP_NOT_FOUND, "no such resource '%s'", url);
}
