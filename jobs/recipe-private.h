/*
 * Internal to jobs/recipe*.c: the parser context shared by the field parser
 * (recipe.c), the cross-stage checks (recipe-check.c) and the set loader
 * (recipe-set.c).  Not part of the API; see jobs/recipe.h.
 */
#ifndef FLASHD_JOBS_RECIPE_PRIVATE_H
#define FLASHD_JOBS_RECIPE_PRIVATE_H

#include "jobs/recipe.h"

/* Which protocol an op speaks to the device; a session speaks one. */
enum recipe_family {
	RECIPE_FAMILY_NONE,
	RECIPE_FAMILY_DFUSE,
	RECIPE_FAMILY_SDP,
	RECIPE_FAMILY_FASTBOOT,
	RECIPE_FAMILY_INGENIC,
};

struct recipe_parser {
	const char *file;		/* recipe path as given, prefixes every message */
	const char *dir;		/* realpath of the recipe's directory */
	struct recipe_diags *diags;	/* may be NULL */
	unsigned problems;		/* messages reported for this file */
	bool oom;
};

/* Report "FILE: JPATH: text" (or "FILE: text" when jpath is NULL) and count it. */
void recipe_problem(struct recipe_parser *p, const char *jpath, const char *fmt, ...)
	_printf_(3, 4);

enum recipe_family recipe_op_family(enum recipe_op op);

/*
 * Cross-stage validation on a parsed recipe: reachability, sessions, Ingenic
 * ordering, overlapping writes, serial source and JEDEC list.  stage_ok[i] is
 * false for stages whose own fields had problems (skipped where a check would
 * only repeat them).  Resolves ingenic.write offsets to absolute ones.
 */
void recipe_check(struct recipe_parser *p, struct recipe *r, const bool *stage_ok);

#endif
