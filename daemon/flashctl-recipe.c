/*
 * This file implements "flashctl recipe check FILE|DIR...": load each recipe
 * with the daemon's own loader (jobs/recipe.c) and print the same messages the
 * daemon would log, one per problem, or "FILE: ok (recipe 'NAME', N stages)".
 * A directory is checked as the daemon loads it (every *.json in it).  Names
 * must be unique over everything checked in one call, as the daemon refuses
 * the second recipe of a name in its directory.
 * Exit status: 0 all good, 1 any recipe refused, 2 usage error.
 */
#include "daemon/flashctl.h"
#include "jobs/recipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The recipes accepted so far in this call: name -> file, for duplicates. */
struct seen {
	char **names, **paths;
	size_t n;
};

static int usage(void)
{
	fprintf(stderr, "usage: flashctl recipe check FILE|DIR...\n");
	return FLASHCTL_EXIT_USAGE;
}

/* Record name/path; FLASHCTL_EXIT_ERROR (with the daemon's message) if taken. */
static int note_name(struct seen *seen, const char *name, const char *path)
{
	char **n, **p;

	for (size_t i = 0; i < seen->n; i++)
		if (strcmp(seen->names[i], name) == 0) {
			fprintf(stderr, "%s: name: '%s' is already used by %s\n", path, name,
				seen->paths[i]);
			return FLASHCTL_EXIT_ERROR;
		}
	n = realloc(seen->names, (seen->n + 1) * sizeof(*n));
	if (n)
		seen->names = n;
	p = realloc(seen->paths, (seen->n + 1) * sizeof(*p));
	if (p)
		seen->paths = p;
	if (!n || !p || !(n[seen->n] = strdup(name)))
		return FLASHCTL_EXIT_ERROR;
	if (!(p[seen->n] = strdup(path))) {
		free(n[seen->n]);
		return FLASHCTL_EXIT_ERROR;
	}
	seen->n++;
	return FLASHCTL_EXIT_OK;
}

static void seen_release(struct seen *seen)
{
	for (size_t i = 0; i < seen->n; i++) {
		free(seen->names[i]);
		free(seen->paths[i]);
	}
	free(seen->names);
	free(seen->paths);
}

static void print_ok(const struct recipe *r)
{
	printf("%s: ok (recipe '%s', %zu stage%s)\n", r->path, r->name, r->n_stages,
	       r->n_stages == 1 ? "" : "s");
}

/* A directory, as the daemon loads it: its refusals, then its recipes. */
static int check_dir(const char *dir, struct seen *seen)
{
	struct recipe_diags d = RECIPE_DIAGS_INIT;
	struct recipe_set *set = NULL;
	int k, rc;

	k = recipe_set_load_dir(dir, &set, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	recipe_diags_release(&d);
	if (k < 0)
		return FLASHCTL_EXIT_ERROR;
	rc = k > 0 ? FLASHCTL_EXIT_ERROR : FLASHCTL_EXIT_OK;
	for (size_t i = 0; i < set->n; i++) {
		if (note_name(seen, set->recipes[i]->name, set->recipes[i]->path) !=
		    FLASHCTL_EXIT_OK)
			rc = FLASHCTL_EXIT_ERROR;
		else
			print_ok(set->recipes[i]);
	}
	if (set->n == 0 && k == 0)
		fprintf(stderr, "%s: no recipes (*.json) in this directory\n", dir);
	recipe_set_free(set);
	return rc;
}

static int check_one(const char *path, struct seen *seen)
{
	_cleanup_(recipe_freep) struct recipe *r = NULL;
	struct recipe_diags d = RECIPE_DIAGS_INIT;
	int k;

	k = recipe_load(path, &r, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	if (k == -ENOMEM && d.n == 0)
		fprintf(stderr, "%s: out of memory\n", path);
	recipe_diags_release(&d);
	if (k < 0)
		return FLASHCTL_EXIT_ERROR;
	if (note_name(seen, r->name, path) != FLASHCTL_EXIT_OK)
		return FLASHCTL_EXIT_ERROR;
	print_ok(r);
	return FLASHCTL_EXIT_OK;
}

/*
 * Called by daemon/flashctl.c: argv[0] is the command name ("recipe"), argv[1] the verb.
 */
int flashctl_cmd_recipe(int argc, char **argv)
{
	struct seen seen = { 0 };
	int bad = 0;

	if (argc < 2 || strcmp(argv[1], "check") != 0)
		return usage();
	if (argc < 3)
		return usage();
	for (int i = 2; i < argc; i++) {
		struct stat st;
		bool dir = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode);

		bad |= (dir ? check_dir(argv[i], &seen) : check_one(argv[i], &seen)) !=
		       FLASHCTL_EXIT_OK;
	}
	seen_release(&seen);
	fflush(stdout);
	return bad ? FLASHCTL_EXIT_ERROR : FLASHCTL_EXIT_OK;
}
