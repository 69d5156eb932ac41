/*
 * This file implements the op table: the rows of RECIPE_OPS
 * (jobs/recipe-op-list.h) as descriptors (jobs/recipe-ops.h), indexed by
 * enum recipe_op.
 */
#include "jobs/recipe-ops.h"

static const struct recipe_op_desc op_table[_RECIPE_OP_MAX] = {
#define RECIPE_OP_ROW(id, stem, ...) [RECIPE_OP_##id] = { __VA_ARGS__, .run = job_run_##stem },
	RECIPE_OPS(RECIPE_OP_ROW)
#undef RECIPE_OP_ROW
};

const struct recipe_op_desc *recipe_op_desc(enum recipe_op op)
{
	if (op < 0 || op >= _RECIPE_OP_MAX)
		return NULL;
	return &op_table[op];
}
