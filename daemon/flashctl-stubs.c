/*
 * This file implements the fallbacks for flashctl subcommands that other
 * files provide (see daemon/flashctl.h): weak definitions, replaced at link
 * time by the strong ones in daemon/flashctl-recipe.c and
 * daemon/flashctl-status.c once those exist.
 *
 * The fallbacks live alone in this file on purpose.  The product code is
 * linked from static archives, and ld pulls an archive member only for a
 * symbol still undefined: were a weak default inside flashctl.c or
 * flashctl-qa.c (objects linked for other symbols first), the real
 * definition would never be pulled in.  This member is needed for nothing
 * else, and its name sorts after flashctl-recipe.c and flashctl-status.c,
 * so ld meets the strong definitions first.
 */
#include "daemon/flashctl.h"

#include <stdio.h>

__attribute__((weak)) int flashctl_cmd_recipe(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "flashctl: 'recipe' is not available in this build\n");
	return FLASHCTL_EXIT_ERROR;
}

__attribute__((weak)) int flashctl_cmd_status(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "flashctl: 'status' is not available in this build\n");
	return FLASHCTL_EXIT_ERROR;
}
