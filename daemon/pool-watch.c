/* This file implements the daemon's view of the identity pools (daemon/pool-watch.h). */
#include "daemon/pool-watch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "db/pool.h"

static const char *const level_names[] = {
	[POOL_LEVEL_OK] = "ok",
	[POOL_LEVEL_LOW] = "low",
	[POOL_LEVEL_EXHAUSTED] = "exhausted",
};

const char *pool_level_name(enum pool_level l)
{
	return level_names[l];
}

/* Exhausted whatever low_water says: the next unit drawing from it fails. */
static enum pool_level level_of(const struct db_pool_level *r)
{
	if (r->units_left <= 0)
		return POOL_LEVEL_EXHAUSTED;
	return r->low ? POOL_LEVEL_LOW : POOL_LEVEL_OK;
}

static int add_row(const struct db_pool_level *r, void *ud)
{
	struct pool_watch *w = ud;
	struct pool_seen *v = realloc(w->v, (w->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	w->v = v;
	v = &w->v[w->n];
	*v = (struct pool_seen){
		.name = strdup(r->name),
		.units_left = r->units_left,
		.low_water = r->low_water,
		.level = level_of(r),
	};
	snprintf(v->kind, sizeof(v->kind), "%s", r->kind);
	if (!v->name)
		return -ENOMEM;
	w->n++;
	return 0;
}

static enum pool_level old_level(const struct pool_watch *w, const char *name)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->v[i].name, name) == 0)
			return w->v[i].level;
	return POOL_LEVEL_OK;
}

static void log_crossing(const struct pool_seen *p)
{
	if (p->level == POOL_LEVEL_EXHAUSTED)
		log_ev(LOG_ERR, LOG_ID_POOL_LOW, NULL,
		       "Pool '%s' exhausted: a unit drawing from it fails before any USB transfer",
		       p->name);
	else
		log_ev(LOG_WARNING, LOG_ID_POOL_LOW, NULL,
		       "Pool '%s' low: %" PRId64 " unit%s left (low water %" PRId64 ")", p->name,
		       p->units_left, p->units_left == 1 ? "" : "s", p->low_water);
}

int pool_watch_refresh(struct pool_watch *w, struct db *db, struct err *err)
{
	struct pool_watch fresh = { 0 };
	int r, n = 0;

	r = db_pool_levels(db, add_row, &fresh, err);
	if (r < 0) {
		pool_watch_clear(&fresh);
		return r == -ENOMEM ? err_set(err, r, "out of memory") : r;
	}
	for (size_t i = 0; i < fresh.n; i++)
		if (fresh.v[i].level > old_level(w, fresh.v[i].name)) {
			log_crossing(&fresh.v[i]);
			n++;
		}
	pool_watch_clear(w);
	*w = fresh;
	return n;
}

void pool_watch_status(const struct pool_watch *w, char *buf, size_t size)
{
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < w->n && len < size; i++) {
		const struct pool_seen *p = &w->v[i];
		int k;

		if (p->level == POOL_LEVEL_OK)
			continue;
		if (p->level == POOL_LEVEL_EXHAUSTED)
			k = snprintf(buf + len, size - len, "%spool %s exhausted", len ? "; " : "",
				     p->name);
		else
			k = snprintf(buf + len, size - len,
				     "%spool %s low: %" PRId64 " unit%s left", len ? "; " : "",
				     p->name, p->units_left, p->units_left == 1 ? "" : "s");
		if (k < 0)
			break;
		len += (size_t)k;
	}
}

void pool_watch_clear(struct pool_watch *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].name);
	free(w->v);
	*w = (struct pool_watch){ 0 };
}
