/*
 * This file implements the station snapshot (web/web.h): what the line page
 * starts from and what /events sends a client that is new or fell behind.
 * flashd's status comes from its control socket (fresh), else from the last
 * hello of the event stream; the rest from flashd.conf and the database.
 *
 *   { "station", "now": ms, "status": {flashd's status document} | null,
 *     "layout": [ {"port", "label"} ... ]   flashd.conf's slots, in file order,
 *     "failures": [ unit rows, newest first ]   the last FAILURES failed units,
 *     "finished": [ ms ... ]   finished_at of the units that ended in the last hour }
 */
#include "web/web.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>

#include "daemon/flashctl.h"
#include "db/db.h"
#include "db/query.h"
#include "db/unit-format.h"

#define FAILURES 8
#define HOUR_MS 3600000

char *web_status_json(struct web *w)
{
	char *doc = flashctl_status_fetch(w->cfg.control_socket);

	return doc ? doc : events_hello_status(w->events);
}

static int add_failure(const struct db_unit_row *r, void *ud)
{
	cJSON *o = flashctl_unit_json(r);

	if (!o)
		return -ENOMEM;
	cJSON_AddItemToArray(ud, o);
	return 0;
}

static int add_finished(const struct db_unit_row *r, void *ud)
{
	if (r->finished_at >= 0)
		cJSON_AddItemToArray(ud, cJSON_CreateNumber((double)r->finished_at));
	return 0;
}

/* Failures and the last hour's finished units; the page shows nothing of them without a database. */
static void add_history(struct web *w, cJSON *root, int64_t now)
{
	cJSON *fails = cJSON_AddArrayToObject(root, "failures");
	cJSON *fin = cJSON_AddArrayToObject(root, "finished");
	_cleanup_db_ struct db *db = NULL;
	struct db_filter ff = { .result = "fail" };
	struct db_filter hf = { .since = now - 2 * HOUR_MS }; /* a unit may run long */
	struct err e = { 0 };

	if (!fails || !fin || db_open(w->cfg.database, DB_OPEN_READONLY, &db, &e) < 0)
		return;
	db_query_units(db, &ff, true, FAILURES, add_failure, fails, &e);
	db_query_units(db, &hf, false, 0, add_finished, fin, &e);
}

static void add_layout(struct web *w, cJSON *root)
{
	const struct config *fc = &w->cfg.flashd;
	cJSON *arr = cJSON_AddArrayToObject(root, "layout");

	for (size_t i = 0; arr && i < fc->n_slots; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "port", fc->slots[i].port);
		cJSON_AddStringToObject(o, "label", fc->slots[i].label);
		cJSON_AddItemToArray(arr, o);
	}
}

char *web_snapshot_json(struct web *w)
{
	_cleanup_free_ char *doc = web_status_json(w);
	cJSON *root = cJSON_CreateObject(), *status = doc ? cJSON_Parse(doc) : NULL;
	int64_t now = db_now_ms();
	char *out;

	if (!root) {
		cJSON_Delete(status);
		return NULL;
	}
	cJSON_AddStringToObject(root, "station", w->cfg.flashd.station);
	cJSON_AddNumberToObject(root, "now", (double)now);
	if (status)
		cJSON_AddItemToObject(root, "status", status);
	else
		cJSON_AddNullToObject(root, "status");
	add_layout(w, root);
	add_history(w, root, now);
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}
