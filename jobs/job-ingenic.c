/*
 * This file implements the Ingenic stages of a job (ingenic.*): boot ROM ->
 * SPL -> burner, flash configuration, JEDEC check, CRC-checked writes.
 * NEEDSWORK: the Ingenic engines are not written yet; until then these
 * stages fail with a clear message, never pretend.
 */
#include <errno.h>

#include "jobs/job-private.h"

int job_ingenic(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	(void)j;
	(void)st;
	return err_set(e, -EOPNOTSUPP, "stage '%s': the Ingenic engine is not built yet", name);
}
