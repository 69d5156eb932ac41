/*
 * This file implements the STM32 DfuSe stages of a job (dfuse.download,
 * dfuse.read_uid, dfuse.leave) on top of protocols/dfuse.h.  The engine is
 * opened once per device session and reused by the stages that follow.
 */
#include <errno.h>
#include <stdio.h>

#include "jobs/job-private.h"

static int ensure_dfuse(struct job *j, struct err *e)
{
	int r;

	if (j->s.dfuse)
		return 0;
	r = dfuse_open(&j->s.usb, &j->s.dfuse, e);
	if (r < 0)
		return r;
	if (j->env->deadline_pct)
		dfuse_set_deadline_pct(j->s.dfuse, j->env->deadline_pct);
	return 0;
}

int job_dfuse_download(struct job *j, const struct recipe_stage *st, const char *name,
		       struct err *e)
{
	const struct recipe_dfuse_download *a = &st->u.dfuse_download;
	struct dfuse_result res = { 0 };
	struct image *img = NULL;
	unsigned flags = 0;
	char target[32];
	size_t size;
	int r;

	r = ensure_dfuse(j, e);
	if (r < 0)
		return r;
	r = dfuse_select_alt(j->s.dfuse, a->alt, e);
	if (r < 0)
		return r;
	r = job_image_get(j, &a->image, &img, e);
	if (r < 0)
		return r;
	if (a->erase == RECIPE_ERASE_MASS)
		flags |= DFUSE_MASS_ERASE;
	else if (a->erase == RECIPE_ERASE_NONE)
		flags |= DFUSE_NO_ERASE;
	if (a->verify == RECIPE_VERIFY_NONE)
		flags |= DFUSE_NO_VERIFY;
	size = img->size;
	r = dfuse_download(j->s.dfuse, a->address, img->data, size, flags, job_progress_cb, j, &res,
			   e);
	image_put(j->env->images, img);

	/* The image row is written whatever happened: QA wants to see the
	 * CRCs of a failed verify as much as those of a good one. */
	snprintf(target, sizeof(target), "alt%u:0x%08x", a->alt, a->address);
	if (r >= 0 || res.bytes_written > 0)
		job_record_image(j, st, name, target, &a->image, res.bytes_written == size,
				 res.host_crc, res.bytes_verified > 0, res.dev_crc, res.verified);
	return r;
}

int job_dfuse_read_uid(struct job *j, const struct recipe_stage *st, struct err *e)
{
	const struct recipe_dfuse_read_uid *a = &st->u.dfuse_read_uid;
	uint8_t uid[DFUSE_UID_LEN];
	char hex[2 * DFUSE_UID_LEN + 1];
	int r;

	r = ensure_dfuse(j, e);
	if (r < 0)
		return r;
	r = dfuse_select_alt(j->s.dfuse, a->alt, e);
	if (r < 0)
		return r;
	r = dfuse_read_uid(j->s.dfuse, a->address, uid, e);
	if (r < 0)
		return err_prefix(e, r, "unique ID at 0x%08x not readable through this ROM",
				  a->address);
	for (unsigned i = 0; i < DFUSE_UID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02X", uid[i]);
	job_set_identity(j, j->recipe->serial.source == RECIPE_SERIAL_DFUSE_UID ? hex : NULL, hex,
			 NULL);
	return 0;
}

int job_dfuse_leave(struct job *j, const struct recipe_stage *st, struct err *e)
{
	bool gone = false;
	int r;

	r = ensure_dfuse(j, e);
	if (r < 0)
		return r;
	return dfuse_leave(j->s.dfuse, st->u.dfuse_leave.address, &gone, e);
}
