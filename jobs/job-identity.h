/*
 * The job's identity from pools (issue 18; jobs/job-identity.c): values
 * allocated for the unit before any USB transfer, per-unit images
 * generated from them, the "written" mark before the first stage that may
 * change the device, and the settling when the unit ends (db/pool.h).
 * Job thread only.  Internal to jobs/.
 */
#ifndef FLASHD_JOBS_JOB_IDENTITY_H
#define FLASHD_JOBS_JOB_IDENTITY_H

#include "common/log.h"
#include "jobs/job-private.h"

/*
 * Allocate the recipe's pools for the running unit and generate its
 * images; 0 without "identity".  An exhausted, missing or reserved pool
 * fails here, naming the pool, before the board is touched.
 */
int job_identity_begin(struct job *j, const struct log_ctx *c, struct err *e);
/* The unit's generated image for a recipe image with identity (job_image_get()). */
int job_identity_image(struct job *j, const struct recipe_image *ri, struct image **ret,
		       struct err *e);
/* What an image row records for ri: the unit's own bytes for an identity image, else ri. */
const struct recipe_image *job_identity_row_image(const struct job *j,
						  const struct recipe_image *ri);
/* Before stage st: a stage that may change the device marks the values written first. */
int job_identity_before_stage(struct job *j, const struct recipe_stage *st, struct err *e);
/* The unit ended with result: its values become used, burned or free (pool policy). */
void job_identity_finish(struct job *j, enum db_result result, const struct log_ctx *c);
void job_identity_free(struct job *j);

#endif
