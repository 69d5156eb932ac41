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

static unsigned download_flags(const struct recipe_dfuse_download *a)
{
	unsigned flags = 0;

	if (a->erase == RECIPE_ERASE_MASS)
		flags |= DFUSE_MASS_ERASE;
	else if (a->erase == RECIPE_ERASE_NONE)
		flags |= DFUSE_NO_ERASE;
	if (a->verify == RECIPE_VERIFY_NONE)
		flags |= DFUSE_NO_VERIFY;
	return flags;
}

/* The stage's target of a parsed .dfu, after the suffix VID/PID check. */
static int dfu_pick_target(struct job *j, const struct recipe_dfuse_download *a,
			   const struct dfu_file *f, const struct dfu_file_target **ret,
			   struct err *e)
{
	const struct dfu_file_suffix *sf = &f->suffix;

	/* 0xffff = any (protocol-dfu.md §1.10); checked before anything is erased. */
	if ((sf->id_vendor != 0xffff && sf->id_vendor != j->cur.vid) ||
	    (sf->id_product != 0xffff && sf->id_product != j->cur.pid))
		return err_set(e, -ENODEV, "'%s' is for %04x:%04x, the board is %04x:%04x",
			       a->image.file, sf->id_vendor, sf->id_product, j->cur.vid,
			       j->cur.pid);
	for (unsigned t = 0; t < f->n_targets; t++)
		if (f->targets[t].alt == a->alt && f->targets[t].n_elements) {
			*ret = &f->targets[t];
			return 0;
		}
	return err_set(e, -ENOENT, "'%s' has no target for alt %u", a->image.file, a->alt);
}

/* The alt's layout as the device reported it, NULL if unknown. */
static const struct dfuse_layout *alt_layout(struct job *j, uint8_t alt)
{
	for (unsigned i = 0; i < dfuse_n_alts(j->s.dfuse); i++) {
		const struct dfuse_alt *a = dfuse_alt(j->s.dfuse, i);

		if (a->alt == alt)
			return a->layout_err < 0 ? NULL : &a->layout;
	}
	return NULL;
}

/*
 * Whole-unit verification (job-verify.c): what this stage erased is no
 * longer what earlier stages wrote (recipe check allowed it only with
 * destroys_earlier), then what it wrote is expected at the end.
 */
static void plan_erases(struct job *j, unsigned tag)
{
	const struct dfuse_erased *er = &j->dfuse_erased;

	if (er->mass && er->mass_tag == tag)
		job_plan_erase(j, JOB_MEM_DFUSE, er->mass_alt, NULL, 0, UINT64_MAX);
	for (size_t i = 0; i < er->n; i++) {
		const struct dfuse_layout *l = alt_layout(j, er->v[i].alt);
		uint32_t start, size;

		if (er->v[i].tag != tag)
			continue;
		if (!l || dfuse_mem_sector(l, er->v[i].start, &start, &size) < 0)
			/* Unknown size: the safe guess is everything after it. */
			job_plan_erase(j, JOB_MEM_DFUSE, er->v[i].alt, NULL, er->v[i].start,
				       UINT64_MAX);
		else
			job_plan_erase(j, JOB_MEM_DFUSE, er->v[i].alt, NULL, start, size);
	}
}

/* read_back: the engine read the stage's bytes back after its last write
 * and they matched (dfuse_download*() verify after all writes). */
static void plan_write(struct job *j, const struct recipe_stage *st, uint8_t alt, uint32_t addr,
		       const uint8_t *data, size_t len, bool read_back)
{
	const struct dfuse_layout *l = alt_layout(j, alt);
	struct err ignore = { 0 };

	job_plan_write(
		j, &(struct job_range){
			   .mem = JOB_MEM_DFUSE,
			   .alt = alt,
			   .addr = addr,
			   .len = len,
			   .data = data,
			   .stage = (unsigned)(st - j->recipe->stages),
			   .read_back_last = read_back,
			   .unreadable = !l || dfuse_mem_check(l, addr, len, DFUSE_MEM_READABLE,
							       &ignore) < 0
						 ? "the alt's layout does not let the ROM read it"
						 : NULL,
		   });
}

/*
 * dfuse.download of a .dfu (recipe checked it): the elements of the
 * stage's alt, each written at its own address and read back, sectors
 * erased once across elements (dfuse_download_file on a one-target view;
 * other alts' targets are not written).  One image row for the file, its
 * CRCs chained over the element data in file order: the row names the file
 * by sha256 and size, so rows per element would each claim the whole file;
 * a verify failure message still names the element's address and CRCs.
 */
static int download_dfu(struct job *j, const struct recipe_stage *st, const char *name,
			const struct image *img, struct err *e)
{
	const struct recipe_dfuse_download *a = &st->u.dfuse_download;
	_cleanup_(dfu_file_freep) struct dfu_file *f = NULL;
	const struct dfu_file_target *tg = NULL;
	struct dfuse_result res = { 0 };
	struct dfu_file view;
	uint64_t size = 0;
	char target[48];
	int r;

	/* The mapping was re-hashed against the pin, but parse what we send. */
	r = dfu_file_parse(img->data, img->size, &f, e);
	if (r < 0)
		return err_prefix(e, r, "'%s'", a->image.file);
	r = dfu_pick_target(j, a, f, &tg, e);
	if (r < 0)
		return r;
	view = (struct dfu_file){ .suffix = f->suffix,
				  .n_targets = 1,
				  .targets = (struct dfu_file_target *)tg };
	for (uint32_t i = 0; i < tg->n_elements; i++)
		size += tg->elements[i].size;
	r = dfuse_download_file(j->s.dfuse, &view, download_flags(a), job_progress_cb, j, &res, e);
	if (r >= 0) {
		plan_erases(j, (unsigned)(st - j->recipe->stages));
		for (uint32_t i = 0; i < tg->n_elements; i++)
			plan_write(j, st, a->alt, tg->elements[i].address, tg->elements[i].data,
				   tg->elements[i].size, res.verified);
	}
	snprintf(target, sizeof(target), "alt%u:dfu:%u elements", a->alt, tg->n_elements);
	if (r >= 0 || res.bytes_written > 0)
		job_record_image(j, &(struct job_image_row){
					    .stage = name,
					    .target = target,
					    .image = &a->image,
					    .has_host_crc = res.bytes_written == size,
					    .host_crc = res.host_crc,
					    .has_dev_crc = res.bytes_verified > 0,
					    .dev_crc = res.dev_crc,
					    .verified = res.verified,
				    });
	return r;
}

/*
 * recipe check planned the erases with recipe_dfuse_layout() (jobs/recipe.h).
 * Before erasing, every planned sector the image touches must be the same
 * sector (start, size, erasable) in the layout the device reports for the
 * alt; otherwise the plan is wrong and nothing is erased.
 */
static int job_dfuse_check_plan(struct job *j, const struct recipe_dfuse_download *a, uint64_t size,
				struct err *e)
{
	const struct dfuse_alt *alt = dfuse_current_alt(j->s.dfuse);
	struct dfuse_layout plan;
	uint64_t p = a->address, end = p + size;
	int r;

	if (a->alt != RECIPE_DFUSE_PLAN_ALT || a->erase != RECIPE_ERASE_PAGES ||
	    alt->layout_err < 0)
		return 0; /* no sectors planned; a bad layout is dfuse_download()'s to report */
	r = dfuse_mem_parse(recipe_dfuse_layout(j->recipe), &plan, e);
	if (r < 0)
		return r;
	while (p < end && p <= UINT32_MAX) {
		const struct dfuse_segment *ps = dfuse_mem_find(&plan, (uint32_t)p);
		const struct dfuse_segment *ds = dfuse_mem_find(&alt->layout, (uint32_t)p);
		uint32_t pstart, psize, dstart = 0, dsize = 0;

		if (!ps)
			break; /* past the planned table: nothing was planned there */
		dfuse_mem_sector(&plan, (uint32_t)p, &pstart, &psize);
		if (ds)
			dfuse_mem_sector(&alt->layout, (uint32_t)p, &dstart, &dsize);
		if (!ds)
			return err_set(e, -EOPNOTSUPP,
				       "memory plan does not hold: recipe check planned sector "
				       "0x%08x-0x%08x (%u KiB), the device's \"%s\" has no memory "
				       "at 0x%08x; nothing erased",
				       pstart, pstart + psize - 1, psize / 1024, alt->layout.name,
				       (uint32_t)p);
		if (dstart != pstart || dsize != psize ||
		    (ds->perms & DFUSE_MEM_ERASABLE) != (ps->perms & DFUSE_MEM_ERASABLE))
			return err_set(e, -EOPNOTSUPP,
				       "memory plan does not hold: recipe check planned sector "
				       "0x%08x-0x%08x (%u KiB), the device's \"%s\" has %ssector "
				       "0x%08x-0x%08x (%u KiB); nothing erased",
				       pstart, pstart + psize - 1, psize / 1024, alt->layout.name,
				       (ds->perms & DFUSE_MEM_ERASABLE) ? "" : "non-erasable ",
				       dstart, dstart + dsize - 1, dsize / 1024);
		p = (uint64_t)pstart + psize;
	}
	return 0;
}

int job_run_dfuse_download(struct job *j, const struct recipe_stage *st, const char *name,
			   struct err *e)
{
	const struct recipe_dfuse_download *a = &st->u.dfuse_download;
	struct dfuse_result res = { 0 };
	struct image *img = NULL;
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
	/* One erased set per job, tagged with the stage: a retry of this
	 * stage starts over on the sectors it erased itself, and no others. */
	dfuse_erased_forget(&j->dfuse_erased, (unsigned)(st - j->recipe->stages));
	dfuse_use_erased(j->s.dfuse, &j->dfuse_erased, (unsigned)(st - j->recipe->stages));
	if (a->dfu_file) {
		r = download_dfu(j, st, name, img, e);
		image_put(j->env->images, img);
		return r;
	}
	size = img->size;
	r = job_dfuse_check_plan(j, a, size, e);
	if (r < 0) {
		image_put(j->env->images, img);
		return r;
	}
	r = dfuse_download(j->s.dfuse, a->address, img->data, size, download_flags(a),
			   job_progress_cb, j, &res, e);
	if (r >= 0) {
		/* img->data stays mapped: the job holds its own reference (map_images()). */
		plan_erases(j, (unsigned)(st - j->recipe->stages));
		plan_write(j, st, a->alt, a->address, img->data, size, res.verified);
	}
	image_put(j->env->images, img);

	/* The image row is written whatever happened: QA wants to see the
	 * CRCs of a failed verify as much as those of a good one. */
	snprintf(target, sizeof(target), "alt%u:0x%08x", a->alt, a->address);
	if (r >= 0 || res.bytes_written > 0)
		job_record_image(j, &(struct job_image_row){
					    .stage = name,
					    .target = target,
					    .image = &a->image,
					    .has_host_crc = res.bytes_written == size,
					    .host_crc = res.host_crc,
					    .has_dev_crc = res.bytes_verified > 0,
					    .dev_crc = res.dev_crc,
					    .verified = res.verified,
				    });
	return r;
}

int job_run_dfuse_read_uid(struct job *j, const struct recipe_stage *st, const char *name,
			   struct err *e)
{
	const struct recipe_dfuse_read_uid *a = &st->u.dfuse_read_uid;
	uint8_t uid[DFUSE_UID_LEN];
	char hex[2 * DFUSE_UID_LEN + 1];
	int r;

	(void)name;
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
	job_set_identity(
		j,
		&(struct db_unit_identity){
			.serial = j->recipe->serial.source == RECIPE_SERIAL_DFUSE_UID ? hex : NULL,
			.chip_uid = hex,
		});
	return 0;
}

int job_run_dfuse_leave(struct job *j, const struct recipe_stage *st, const char *name,
			struct err *e)
{
	bool gone = false;
	int r;

	(void)name;

	r = ensure_dfuse(j, e);
	if (r < 0)
		return r;
	return dfuse_leave(j->s.dfuse, st->u.dfuse_leave.address, &gone, e);
}

int job_dfuse_read(struct job *j, uint8_t alt, uint32_t addr, uint8_t *buf, size_t len,
		   struct err *e)
{
	int r;

	r = ensure_dfuse(j, e);
	if (r < 0)
		return r;
	r = dfuse_select_alt(j->s.dfuse, alt, e);
	if (r < 0)
		return r;
	return dfuse_upload(j->s.dfuse, addr, buf, len, NULL, NULL, e);
}

int job_dfuse_open(struct job *j, struct err *e)
{
	return ensure_dfuse(j, e);
}
