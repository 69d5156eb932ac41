/*
 * This file implements recipe sets (jobs/recipe.h): loading every recipe in a
 * directory, keeping the good ones, and choosing the recipe for a device by
 * VID/PID, bcdDevice range and port-path glob, most specific first.
 */
#include "jobs/recipe.h"
#include "jobs/recipe-private.h"

#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool recipe_port_glob_valid(const char *glob)
{
	const char *c = glob;

	if (!*c)
		return false;
	while (*c) {
		if (*c == '[') {
			c++;
			if (*c == '!')
				c++;
			if (*c == ']')
				return false; /* empty set */
			while (*c && *c != ']') {
				if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
					return false;
				c++;
			}
			if (*c != ']')
				return false; /* unterminated */
			c++;
			continue;
		}
		if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '*' || *c == '?'))
			return false;
		c++;
	}
	return true;
}

/* Exact paths rank 1000; a glob ranks 1 + its literal characters; see recipe_set_match(). */
static uint32_t port_rank(const char *glob)
{
	uint32_t lit = 0;
	bool wild = false;

	for (const char *c = glob; *c; c++) {
		if (*c == '*' || *c == '?') {
			wild = true;
		} else if (*c == '[') {
			wild = true;
			c = strchr(c, ']');
		} else {
			lit++;
		}
	}
	return wild ? 1 + lit : 1000;
}

bool recipe_matches(const struct recipe *r, uint16_t vid, uint16_t pid, uint16_t bcd,
		    const char *port_path, uint32_t *ret_rank)
{
	const struct recipe_match *m = &r->match;
	uint32_t prank = 0, width;

	if (m->vid != vid || m->pid != pid || bcd < m->bcd_min || bcd > m->bcd_max)
		return false;
	if (m->n_ports) {
		bool any = false;

		for (size_t i = 0; i < m->n_ports; i++) {
			if (!port_path || fnmatch(m->ports[i], port_path, 0) != 0)
				continue;
			any = true;
			if (port_rank(m->ports[i]) > prank)
				prank = port_rank(m->ports[i]);
		}
		if (!any)
			return false;
	}
	width = (uint32_t)(m->bcd_max - m->bcd_min) + 1;
	if (ret_rank)
		*ret_rank = prank << 17 | (0x10000 - width);
	return true;
}

int recipe_set_match(const struct recipe_set *set, uint16_t vid, uint16_t pid, uint16_t bcd,
		     const char *port_path, const struct recipe **ret, struct err *e)
{
	const struct recipe *best = NULL, *tie = NULL;
	uint32_t best_rank = 0;

	if (!set || !ret)
		return err_set(e, -EINVAL, "no recipe set");
	for (size_t i = 0; i < set->n; i++) {
		const struct recipe *r = set->recipes[i];
		uint32_t rank;

		if (!recipe_matches(r, vid, pid, bcd, port_path, &rank))
			continue;
		if (!best || rank > best_rank) {
			best = r;
			best_rank = rank;
			tie = NULL;
		} else if (rank == best_rank) {
			tie = r;
		}
	}
	if (!best)
		return err_set(e, -ENOENT, "no recipe for %04x:%04x (bcdDevice %04x) on port '%s'",
			       vid, pid, bcd, port_path ? port_path : "");
	if (tie)
		return err_set(e, -ENOTUNIQ,
			       "%04x:%04x on port '%s' matches recipes '%s' (%s) and '%s' (%s) "
			       "equally; make one match more specific",
			       vid, pid, port_path ? port_path : "", best->name, best->path,
			       tie->name, tie->path);
	*ret = best;
	return 0;
}

struct recipe_set *recipe_set_free(struct recipe_set *set)
{
	if (!set)
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		recipe_free(set->recipes[i]);
	free(set->recipes);
	free(set);
	return NULL;
}

static int json_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

int recipe_set_load_dir(const char *dir, struct recipe_set **ret, struct recipe_diags *diags)
{
	return recipe_set_load_dir_cancellable(dir, NULL, ret, diags);
}

int recipe_set_load_dir_cancellable(const char *dir, const atomic_bool *cancel,
				    struct recipe_set **ret, struct recipe_diags *diags)
{
	_cleanup_(recipe_set_freep) struct recipe_set *set = NULL;
	struct dirent **names = NULL;
	int n, refused = 0, r = 0;

	if (!dir || !ret)
		return -EINVAL;
	n = scandir(dir, &names, json_filter, alphasort);
	if (n < 0) {
		r = -errno;
		if (recipe_diags_add(diags, "%s: cannot read directory: %s", dir, strerror(errno)) <
		    0)
			return -ENOMEM;
		return r;
	}
	set = calloc(1, sizeof(*set));
	if (set)
		set->recipes = calloc(n ? (size_t)n : 1, sizeof(*set->recipes));
	for (int i = 0; i < n; i++) {
		_cleanup_(recipe_freep) struct recipe *rc = NULL;
		_cleanup_free_ char *path = NULL;
		const struct recipe *dup = NULL;
		int k;

		if (r == 0 && recipe_cancelled(cancel))
			r = -ECANCELED;
		if (r < 0) {
			free(names[i]);
			continue;
		}
		if (!set || !set->recipes || asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
			r = -ENOMEM;
			free(names[i]);
			continue;
		}
		free(names[i]);
		k = recipe_load_cancellable(path, cancel, &rc, diags);
		if (k == -ENOMEM) {
			r = k;
			continue;
		}
		if (k < 0) {
			refused++;
			continue;
		}
		for (size_t j = 0; j < set->n && !dup; j++)
			if (strcmp(set->recipes[j]->name, rc->name) == 0)
				dup = set->recipes[j];
		if (dup) {
			if (recipe_diags_add(diags, "%s: name: '%s' is already used by %s", path,
					     rc->name, dup->path) < 0)
				r = -ENOMEM;
			refused++;
			continue;
		}
		set->recipes[set->n++] = TAKE_PTR(rc);
	}
	free(names);
	if (r == 0 && recipe_cancelled(cancel))
		r = -ECANCELED;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(set);
	return refused;
}

struct recipe_set_ref *recipe_set_ref_new(struct recipe_set *set)
{
	struct recipe_set_ref *r = calloc(1, sizeof(*r));

	if (!r) {
		recipe_set_free(set);
		return NULL;
	}
	*r = (struct recipe_set_ref){ .set = set, .refs = 1 };
	return r;
}

struct recipe_set_ref *recipe_set_ref(struct recipe_set_ref *r)
{
	r->refs++;
	return r;
}

void recipe_set_unref(struct recipe_set_ref *r)
{
	if (r && --r->refs == 0) {
		recipe_set_free(r->set);
		free(r);
	}
}
