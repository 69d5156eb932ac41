/* This file implements the port registry (daemon/ports.h). */
#include "daemon/ports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *port_state_name(enum port_state s)
{
	switch (s) {
	case PORT_EMPTY:
		return "empty";
	case PORT_IDLE:
		return "idle";
	case PORT_QUEUED:
		return "queued";
	case PORT_FLASHING:
		return "flashing";
	case PORT_AWAITING:
		return "awaiting";
	case PORT_DONE:
		return "done";
	}
	return "?";
}

struct port *ports_find(const struct ports *ps, const char *path)
{
	for (size_t i = 0; i < ps->n; i++)
		if (!strcmp(ps->v[i]->path, path))
			return ps->v[i];
	return NULL;
}

static int port_cmp(const void *a, const void *b)
{
	const struct port *pa = *(struct port *const *)a, *pb = *(struct port *const *)b;

	/* Sort like operators read hubs: by bus, then port numbers. */
	return strverscmp(pa->path, pb->path);
}

struct port *ports_get(struct ports *ps, const char *path, const char *slot, int wake_fd)
{
	struct port *p = ports_find(ps, path), **v;

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	v = realloc(ps->v, (ps->n + 1) * sizeof(*v));
	if (!p || !v) {
		free(p);
		if (v)
			ps->v = v;
		return NULL;
	}
	ps->v = v;
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->slot = slot;
	p->wake_fd = wake_fd;
	pthread_mutex_init(&p->live_lock, NULL);
	ps->v[ps->n++] = p;
	qsort(ps->v, ps->n, sizeof(*ps->v), port_cmp);
	return p;
}

void ports_free(struct ports *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		pthread_mutex_destroy(&ps->v[i]->live_lock);
		free(ps->v[i]);
	}
	free(ps->v);
	*ps = (struct ports){ 0 };
}
