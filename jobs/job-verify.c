/*
 * This file implements whole-unit verification: the job's plan of what
 * each device memory must finally hold, and the read-back pass that checks
 * it before the device leaves (jobs/README.md "Whole-unit verification").
 *
 * Every stage verifies its own write right after it; a later stage's
 * erase, a program disturb or a fault can still destroy those bytes, and
 * the unit would pass with a board that does not hold the recipe.  So the
 * write stages record here what they wrote (a range of the image mapping
 * the job keeps until it ends, jobs/image.h) and what their erases wiped;
 * a later write over an earlier range supersedes those bytes.  Before the
 * first stage that makes the device leave after writes (and at the end of
 * the stages) the runner (job.c) has this file read every range back once
 * more and compare it with the plan: only then can the unit pass.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "jobs/job-private.h"
#include "protocols/crc32.h"

/* Bytes read back per request: bounds the memory a verify pass holds. */
#define JOB_VERIFY_PIECE (256u * 1024u)

void job_plan_release(struct job_plan *p)
{
	for (size_t i = 0; i < p->n_kept; i++)
		free(p->kept[i]);
	free(p->kept);
	free(p->v);
	*p = (struct job_plan){ 0 };
}

int job_plan_keep(struct job *j, void *buf)
{
	void **v = realloc(j->plan.kept, (j->plan.n_kept + 1) * sizeof(*v));

	if (!v) {
		free(buf);
		j->plan.oom = true;
		return -ENOMEM;
	}
	v[j->plan.n_kept++] = buf;
	j->plan.kept = v;
	return 0;
}

static bool same_memory(const struct job_range *a, enum job_mem mem, uint8_t alt, const char *part)
{
	if (a->mem != mem || a->alt != alt)
		return false;
	if (!a->part || !part)
		return !a->part && !part;
	return strcmp(a->part, part) == 0;
}

static int plan_push(struct job_plan *p, const struct job_range *r)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		struct job_range *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = *r;
	return 0;
}

/* Drop the first n bytes of a range (a fill pattern turns by n bytes). */
static void range_skip(struct job_range *r, uint64_t n)
{
	uint8_t f[4];

	if (r->is_fill) {
		for (unsigned i = 0; i < 4; i++)
			f[i] = r->fill[(i + n) % 4];
		memcpy(r->fill, f, sizeof(f));
	} else {
		r->data += n;
	}
	r->addr += n;
	r->len -= n;
}

/*
 * Cut [addr, addr+len) out of every range of the memory: the bytes there
 * are no longer what the earlier stage wrote.  A range cut in the middle
 * leaves two pieces (the tail is appended; order does not matter).
 */
static int plan_cut(struct job_plan *p, enum job_mem mem, uint8_t alt, const char *part,
		    uint64_t addr, uint64_t len)
{
	uint64_t end = len > UINT64_MAX - addr ? UINT64_MAX : addr + len;

	for (size_t i = 0; i < p->n;) {
		struct job_range *r = &p->v[i];
		uint64_t rend = r->addr + r->len;

		if (!same_memory(r, mem, alt, part) || rend <= addr || r->addr >= end) {
			i++;
			continue;
		}
		if (r->addr < addr && rend > end) {
			struct job_range tail = *r;

			range_skip(&tail, end - r->addr);
			r->len = addr - r->addr;
			if (plan_push(p, &tail) < 0)
				return -ENOMEM;
			i++;
		} else if (r->addr < addr) {
			r->len = addr - r->addr;
			i++;
		} else if (rend > end) {
			range_skip(r, end - r->addr);
			i++;
		} else {
			p->v[i] = p->v[--p->n];
		}
	}
	return 0;
}

/*
 * A program or erase can disturb any cell of the array (program disturb,
 * tests/sim/boards/README.md "disturb"), not only its own range: what other
 * stages read back before it must be read again.  Per memory kind, not per
 * alt or partition: an STM32's OTP and main flash share one flash module.
 */
static void plan_stale(struct job_plan *p, enum job_mem mem, const unsigned *keep_stage)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].mem == mem && (!keep_stage || p->v[i].stage != *keep_stage))
			p->v[i].read_back_last = false;
}

int job_plan_write(struct job *j, const struct job_range *r)
{
	struct job_range w = *r;
	int ret;

	j->plan.dirty = true;
	/* The stage's other ranges were read back after this write too. */
	plan_stale(&j->plan, r->mem, &r->stage);
	if (r->len == 0)
		return 0;
	w.stage_len = r->len;
	if (!w.stage_span) {
		w.stage_addr = r->addr;
		w.stage_span = r->len;
	}
	ret = plan_cut(&j->plan, r->mem, r->alt, r->part, r->addr, r->len);
	if (ret == 0)
		ret = plan_push(&j->plan, &w);
	if (ret < 0)
		j->plan.oom = true;
	return ret;
}

void job_plan_erase(struct job *j, enum job_mem mem, uint8_t alt, const char *part, uint64_t addr,
		    uint64_t len)
{
	j->plan.dirty = true;
	plan_stale(&j->plan, mem, NULL);
	if (plan_cut(&j->plan, mem, alt, part, addr, len) < 0)
		j->plan.oom = true;
}

/*
 * Option bytes may set read protection, after which the ROM refuses every
 * read (AN3156): the pass runs before them, while the flash can be read.
 * A read unprotect erases it all: nothing to check before that.
 */
static bool job_verify_before_rdp(const struct recipe_stage *next)
{
	return next->op == RECIPE_OP_DFUSE_OPTION_BYTES || next->op == RECIPE_OP_DFUSE_READ_PROTECT;
}

bool job_verify_due(const struct job *j, const struct recipe_stage *next)
{
	return j->plan.dirty &&
	       (!next || recipe_op_device_leaves(next->op) || job_verify_before_rdp(next));
}

static const char *mem_name(enum job_mem m)
{
	static const char *const names[] = {
		[JOB_MEM_DFUSE] = "DfuSe",
		[JOB_MEM_NOR] = "NOR",
		[JOB_MEM_MMC] = "eMMC",
	};

	return names[m];
}

/*
 * The target as the write's own row names it ("alt0:0x08000000",
 * "nor:kernel@0x00040000", "0x400", "boot0"), "..0xEND" added when later
 * writes left only a piece of it.
 */
static void range_target(const struct job *j, const struct job_range *r, char *buf, size_t size)
{
	const struct recipe_stage *st = &j->recipe->stages[r->stage];
	int n;

	switch (r->mem) {
	case JOB_MEM_DFUSE:
		n = snprintf(buf, size, "alt%u:0x%08llx", r->alt, (unsigned long long)r->addr);
		break;
	case JOB_MEM_NOR:
		if (st->op == RECIPE_OP_INGENIC_WRITE && st->u.ingenic_write.partition)
			n = snprintf(buf, size, "nor:%s@0x%08llx", st->u.ingenic_write.partition,
				     (unsigned long long)r->addr);
		else
			n = snprintf(buf, size, "nor:0x%08llx", (unsigned long long)r->addr);
		break;
	default:
		n = r->part ? snprintf(buf, size, "%s", r->part)
			    : snprintf(buf, size, "0x%llx", (unsigned long long)r->addr);
		break;
	}
	if (n >= 0 && (size_t)n < size && r->stage_len != r->len)
		snprintf(buf + n, size - (size_t)n, "..0x%llx",
			 (unsigned long long)(r->addr + r->len));
}

/* The image row of the stage that wrote r: file name and pin. */
static const struct recipe_image *range_image(const struct job *j, const struct job_range *r)
{
	const struct recipe_stage *st = &j->recipe->stages[r->stage];

	if (r->image)
		return r->image;
	switch (st->op) {
	case RECIPE_OP_DFUSE_DOWNLOAD:
		return &st->u.dfuse_download.image;
	case RECIPE_OP_FASTBOOT_FLASH:
		return &st->u.fastboot_flash.image;
	case RECIPE_OP_INGENIC_WRITE:
		return &st->u.ingenic_write.image;
	default:
		return NULL;
	}
}

static const char *stage_name(const struct job *j, unsigned idx)
{
	const struct recipe_stage *st = &j->recipe->stages[idx];

	return st->label ? st->label : recipe_op_name(st->op);
}

struct check {
	uint32_t host_crc, dev_crc;
	bool has_dev_crc;
	bool same;
	uint64_t first_diff; /* address of the first differing byte (byte read-back) */
};

/*
 * Read the range back as bytes (DfuSe upload, Ingenic READ) in pieces and
 * compare: 32 boards verifying a 16 MiB NOR at once must not each hold a
 * copy of it.
 */
static int check_bytes(struct job *j, const struct job_range *r, struct check *c, struct err *e)
{
	size_t piece = r->len < JOB_VERIFY_PIECE ? (size_t)r->len : JOB_VERIFY_PIECE;
	uint8_t *buf = malloc(piece ? piece : 1);
	int ret = 0;

	if (!buf)
		return err_set(e, -ENOMEM, "out of memory for a read-back");
	c->same = true;
	for (uint64_t done = 0; done < r->len; done += piece) {
		size_t n = r->len - done < piece ? (size_t)(r->len - done) : piece;

		if (r->mem == JOB_MEM_DFUSE)
			ret = job_dfuse_read(j, r->alt, (uint32_t)(r->addr + done), buf, n, e);
		else
			ret = job_ingenic_read(j, &j->recipe->stages[r->stage], r->addr + done, buf,
					       n, e);
		if (ret < 0)
			break;
		c->dev_crc = crc32_update(c->dev_crc, buf, n);
		for (size_t i = 0; c->same && i < n; i++)
			if (buf[i] != r->data[done + i]) {
				c->same = false;
				c->first_diff = r->addr + done + i;
			}
		job_progress_cb(j, done + n, r->len);
	}
	c->has_dev_crc = ret == 0;
	free(buf);
	return ret;
}

/* Read one range back as bytes; r->unreadable ranges are not touched. */
static int check_range(struct job *j, const struct job_range *r, struct check *c, struct err *e)
{
	*c = (struct check){ .host_crc = crc32_update(0, r->data, r->len) };
	return check_bytes(j, r, c, e);
}

/* The unit fails: name the stage whose bytes were lost, where, and both CRCs. */
static int lost(struct job *j, const struct job_range *r, const struct check *c, struct err *e)
{
	const struct recipe_image *img = range_image(j, r);

	return err_set(e, -EILSEQ,
		       "stage '%s' (%s): %s 0x%08llx (%llu bytes) no longer holds it, first "
		       "difference at 0x%08llx: host CRC 0x%08x, device CRC 0x%08x",
		       stage_name(j, r->stage), img ? img->file : "?", mem_name(r->mem),
		       (unsigned long long)r->addr, (unsigned long long)r->len,
		       (unsigned long long)c->first_diff, c->host_crc, c->dev_crc);
}

/* ---- eMMC: device-side CRCs of runs ---- */

/* CRC-32 of the bytes a range expects (a FILL chunk's pattern repeated). */
static uint32_t range_crc(uint32_t crc, const struct job_range *r)
{
	if (!r->is_fill)
		return crc32_update(crc, r->data, r->len);
	return crc32_fill(crc, r->fill, r->len);
}

/*
 * A run: ranges of one stage on one eMMC target that follow each other (a
 * sparse image's adjacent RAW and FILL chunks), read back in one go.
 */
struct mmc_run {
	const struct job_range *first;
	uint64_t addr, len;
};

/* "0x400", "0x400..0x1000", "rootfs", "rootfs+0xa000..0x10000", "gpt". */
static void run_target(const struct mmc_run *u, char *buf, size_t size)
{
	const struct job_range *r = u->first;
	bool whole = u->addr == r->stage_addr && u->len == r->stage_span;
	unsigned long long a = u->addr, end = u->addr + u->len;
	const char *name = r->part ? r->part : r->label;

	if (!name && whole)
		snprintf(buf, size, "0x%llx", a);
	else if (!name)
		snprintf(buf, size, "0x%llx..0x%llx", a, end);
	else if (whole)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "%s+0x%llx..0x%llx", name, a, end);
}

static int mmc_lost(struct job *j, const struct mmc_run *u, const char *target,
		    const struct check *c, struct err *e)
{
	const struct recipe_image *img = range_image(j, u->first);

	return err_set(e, -EILSEQ,
		       "stage '%s' (%s): %s %s (%llu bytes) no longer holds it: "
		       "host CRC 0x%08x, device CRC 0x%08x",
		       stage_name(j, u->first->stage), img ? img->file : "?", mem_name(JOB_MEM_MMC),
		       target, (unsigned long long)u->len, c->host_crc, c->dev_crc);
}

static int by_addr(const void *a, const void *b)
{
	const struct job_range *x = *(const struct job_range *const *)a;
	const struct job_range *y = *(const struct job_range *const *)b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * The eMMC ranges of the stage that wrote v[i] on its target, sorted by
 * address into out; each is marked done.  Returns how many.
 */
static size_t stage_ranges(struct job_plan *p, size_t i, bool *done, const struct job_range **out)
{
	const struct job_range *r = &p->v[i];
	size_t n = 0;

	for (size_t k = i; k < p->n; k++) {
		const struct job_range *q = &p->v[k];

		if (done[k] || q->mem != JOB_MEM_MMC || q->stage != r->stage ||
		    !same_memory(q, JOB_MEM_MMC, 0, r->part))
			continue;
		done[k] = true;
		out[n++] = q;
	}
	qsort(out, n, sizeof(*out), by_addr);
	return n;
}

struct verify_pass {
	unsigned checked, skipped, reused;
	const char *why;
	int first;
	struct err *e;
};

/* The verify row of a read-back, and the pass's first failure. */
static int record(struct job *j, struct verify_pass *vp, const struct job_range *r,
		  const char *target, const struct check *c, int ret, struct err *re)
{
	job_record_image(j, &(struct job_image_row){
				    .stage = "verify",
				    .target = target,
				    .image = range_image(j, r),
				    .has_host_crc = true,
				    .host_crc = c->host_crc,
				    .has_dev_crc = c->has_dev_crc,
				    .dev_crc = c->dev_crc,
				    .verified = ret == 0,
			    });
	vp->checked++;
	if (ret < 0 && vp->first == 0) {
		vp->first = ret;
		*vp->e = *re;
	}
	/* A device that went away answers nothing more. */
	return ret == -ENODEV || ret == -ECANCELED ? ret : 0;
}

/* Read one eMMC run back by device CRC at base on hardware partition hw. */
static int check_run(struct job *j, struct verify_pass *vp, const struct mmc_run *u,
		     const struct job_range *const *v, size_t n, int located, unsigned hw,
		     uint64_t base, struct err *le)
{
	struct check c = { 0 };
	struct err re = { 0 };
	char target[128];
	int ret = located;

	for (size_t k = 0; k < n; k++)
		c.host_crc = range_crc(c.host_crc, v[k]);
	run_target(u, target, sizeof(target));
	if (ret < 0)
		re = *le;
	else
		ret = job_fastboot_crc(j, hw, base + u->addr, u->len, &c.dev_crc, &re);
	c.has_dev_crc = ret == 0;
	if (ret == 0 && c.dev_crc != c.host_crc)
		ret = mmc_lost(j, u, target, &c, &re);
	else if (ret < 0)
		err_prefix(&re, ret, "re-reading stage '%s' at %s", stage_name(j, u->first->stage),
			   target);
	return record(j, vp, u->first, target, &c, ret, &re);
}

/*
 * All eMMC ranges of one stage on one target: where the target starts is
 * asked once (U-Boot's part start for a partition by name), then each run
 * of adjacent ranges is read back.
 */
static int check_mmc_stage(struct job *j, struct verify_pass *vp, const struct job_range *const *v,
			   size_t n)
{
	struct err le = { 0 };
	uint64_t base = 0;
	unsigned hw = 0;
	int located = job_fastboot_locate(j, v[0]->part, &hw, &base, &le);

	for (size_t k = 0; k < n;) {
		struct mmc_run u = { .first = v[k], .addr = v[k]->addr, .len = v[k]->len };
		size_t m = k + 1;
		int ret;

		while (m < n && v[m]->addr == u.addr + u.len) {
			u.len += v[m]->len;
			m++;
		}
		ret = check_run(j, vp, &u, v + k, m - k, located, hw, base, &le);
		if (ret < 0)
			return ret;
		k = m;
	}
	return 0;
}

/* A DfuSe or Ingenic range: bytes read back and compared. */
static int check_bytes_range(struct job *j, struct verify_pass *vp, const struct job_range *r)
{
	const struct recipe_image *img = range_image(j, r);
	struct check c = { 0 };
	struct err re = { 0 };
	char target[64];
	int ret;

	range_target(j, r, target, sizeof(target));
	if (r->unreadable) {
		/* Recorded as not verified: the row says what was not read back. */
		vp->skipped++;
		vp->why = r->unreadable;
		job_record_image(j, &(struct job_image_row){
					    .stage = "verify",
					    .target = target,
					    .image = img,
					    .has_host_crc = true,
					    .host_crc = crc32_update(0, r->data, r->len),
				    });
		return 0;
	}
	if (r->read_back_last) {
		/* Matched byte for byte after the last write: the device holds
		 * exactly these bytes, so its CRC is theirs. */
		uint32_t crc = crc32_update(0, r->data, r->len);

		vp->reused++;
		job_record_image(j, &(struct job_image_row){
					    .stage = "verify",
					    .target = target,
					    .image = img,
					    .has_host_crc = true,
					    .host_crc = crc,
					    .has_dev_crc = true,
					    .dev_crc = crc,
					    .verified = true,
				    });
		return 0;
	}
	ret = check_range(j, r, &c, &re);
	if (ret == 0 && !c.same)
		ret = lost(j, r, &c, &re);
	else if (ret < 0)
		err_prefix(&re, ret, "re-reading stage '%s' at %s", stage_name(j, r->stage),
			   target);
	return record(j, vp, r, target, &c, ret, &re);
}

int job_verify(struct job *j, struct job_verify_note *note, struct err *e)
{
	struct verify_pass vp = { .e = e };
	const struct job_range **run;
	bool *done;

	*note = (struct job_verify_note){ 0 };
	if (j->plan.oom)
		return err_set(e, -ENOMEM, "out of memory keeping the expected contents");
	done = calloc(j->plan.n + 1, sizeof(*done));
	run = calloc(j->plan.n + 1, sizeof(*run));
	if (!done || !run) {
		free(done);
		free(run);
		return err_set(e, -ENOMEM, "out of memory for a read-back");
	}
	for (size_t i = 0; i < j->plan.n; i++) {
		const struct job_range *r = &j->plan.v[i];
		int ret;

		if (done[i] || !range_image(j, r))
			continue;
		if (r->mem == JOB_MEM_MMC)
			ret = check_mmc_stage(j, &vp, run, stage_ranges(&j->plan, i, done, run));
		else
			ret = check_bytes_range(j, &vp, r);
		if (ret < 0)
			break;
	}
	free(done);
	free(run);
	j->plan.dirty = false;
	j->plan.passes++;
	if (vp.skipped) {
		note->warning = true;
		snprintf(note->text, sizeof(note->text),
			 "%u range(s) not read back: %s; %u range(s) verified", vp.skipped, vp.why,
			 vp.checked + vp.reused);
	} else if (vp.reused) {
		snprintf(note->text, sizeof(note->text),
			 "%u range(s) read back by their own stage after the last write; "
			 "%u range(s) read again",
			 vp.reused, vp.checked);
	}
	return vp.first;
}
