/*
 * This file implements the i.MX stages of a job: sdp.boot (SDP ROM loads
 * U-Boot, which re-enumerates as a fastboot gadget) and the fastboot.*
 * stages.  NEEDSWORK: the SDP and fastboot engines are not written yet;
 * until then these stages fail with a clear message, never pretend.
 */
#include <errno.h>

#include "jobs/job-private.h"

int job_sdp_boot(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	(void)j;
	(void)st;
	return err_set(e, -EOPNOTSUPP, "stage '%s': the i.MX SDP engine is not built yet", name);
}

int job_fastboot(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	(void)j;
	(void)st;
	return err_set(e, -EOPNOTSUPP, "stage '%s': the fastboot engine is not built yet", name);
}
