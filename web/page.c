/*
 * This file implements GET / (web/web.h): the line page, web/page.html
 * compiled in by the Makefile (no files to install, no external assets: a
 * line has no internet).
 */
#include "web/web.h"

#include <string.h>

extern const char web_page_html[];

enum MHD_Result web_page(struct web_request *rq)
{
	return web_reply_static(rq->conn, MHD_HTTP_OK, "text/html; charset=utf-8", web_page_html,
				strlen(web_page_html));
}
