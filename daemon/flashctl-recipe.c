/*
 * This file implements "flashctl recipe check FILE...": load each recipe with
 * the daemon's own loader (jobs/recipe.c) and print the same messages the
 * daemon would log, one per problem, or "FILE: ok (recipe 'NAME', N stages)".
 * Exit status: 0 all good, 1 any recipe refused, 2 usage error.
 */
#include "daemon/flashctl.h"
#include "jobs/recipe.h"

#include <stdio.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr, "usage: flashctl recipe check FILE...\n");
	return FLASHCTL_EXIT_USAGE;
}

static int check_one(const char *path)
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
	printf("%s: ok (recipe '%s', %zu stage%s)\n", path, r->name, r->n_stages,
	       r->n_stages == 1 ? "" : "s");
	return FLASHCTL_EXIT_OK;
}

/*
 * Called by daemon/flashctl.c: argv[0] is the command name ("recipe"), argv[1] the verb.
 */
int flashctl_cmd_recipe(int argc, char **argv)
{
	int bad = 0;

	if (argc < 2 || strcmp(argv[1], "check") != 0)
		return usage();
	if (argc < 3)
		return usage();
	for (int i = 2; i < argc; i++)
		bad |= check_one(argv[i]) != FLASHCTL_EXIT_OK;
	fflush(stdout);
	return bad ? FLASHCTL_EXIT_ERROR : FLASHCTL_EXIT_OK;
}
