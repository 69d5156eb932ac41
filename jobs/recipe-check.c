/*
 * This file implements the cross-stage rules of a recipe (jobs/recipe.h):
 * device sessions and reachability, Ingenic stage order, overlapping writes,
 * and that the serial source and the JEDEC list are backed by a stage.
 *
 * A session is the stretch of stages that talk to one enumeration of the
 * unit: the matched device from stages[0], then the device each "await"
 * waits for on the same port.  A session speaks one protocol family; a stage
 * that makes the device leave (dfuse.leave, sdp.boot, *.reboot,
 * fastboot.continue) ends it, and only an "await" may follow.
 */
#include "jobs/recipe-ops.h"
#include "jobs/recipe-private.h"
#include "protocols/ingenic.h"
#include "protocols/dfuse_mem.h"
#include "protocols/sparse.h"
#include "protocols/spinor_parts.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const family_names[] = {
	[RECIPE_FAMILY_NONE] = "no",
	[RECIPE_FAMILY_DFUSE] = "a DfuSe",
	[RECIPE_FAMILY_SDP] = "an i.MX SDP",
	[RECIPE_FAMILY_FASTBOOT] = "a fastboot",
	[RECIPE_FAMILY_INGENIC] = "an Ingenic USB-boot",
};

static void sp(char *out, size_t n, size_t i, const char *key)
{
	if (key)
		snprintf(out, n, "stages[%zu].%s", i, key);
	else
		snprintf(out, n, "stages[%zu]", i);
}

struct session {
	enum recipe_family family;
	size_t family_at; /* stage that set the family */
	bool gone;	  /* the device left at left_at */
	size_t left_at;
	bool reported_gone; /* one "unreachable" message per session */
	bool booted;	    /* ingenic.boot ran */
	size_t booted_at;
	const struct recipe_stage *config; /* last ingenic.config */
	size_t config_at;
	/* An ingenic.config here was refused with its own message: the writes
	 * after it say nothing more (one cause, one message). */
	bool config_refused;
};

static const struct recipe_partition *find_partition(const struct recipe_ingenic_config *c,
						     const char *name)
{
	for (size_t i = 0; i < c->n_partitions; i++)
		if (c->partitions[i].name && strcmp(c->partitions[i].name, name) == 0)
			return &c->partitions[i];
	return NULL;
}

/* Resolve an ingenic.write against the session's config; false if reported. */
static bool ingenic_write_resolve(struct recipe_parser *p, struct recipe_stage *s, size_t i,
				  const struct session *ss)
{
	const struct recipe_ingenic_config *c = &ss->config->u.ingenic_config;
	struct recipe_ingenic_write *w = &s->u.ingenic_write;
	uint64_t end;
	char jp[64];

	if (w->partition) {
		const struct recipe_partition *pt = find_partition(c, w->partition);

		if (!pt) {
			sp(jp, sizeof(jp), i, "partition");
			recipe_problem(p, jp, "no partition '%s' in stages[%zu] (ingenic.config)",
				       w->partition, ss->config_at);
			return false;
		}
		if (w->offset + w->image.write_size > pt->size) {
			sp(jp, sizeof(jp), i, "file");
			recipe_problem(p, jp,
				       "'%s' (%" PRIu64 " bytes at offset 0x%" PRIx64
				       ") does not fit partition '%s' (%" PRIu64 " bytes)",
				       w->image.file, w->image.write_size, w->offset, pt->name,
				       pt->size);
			return false;
		}
		w->offset += pt->offset;
		return true;
	}
	/* No table: the job's one partition spans the chip (the plan checks the chip size). */
	if (c->n_partitions == 0)
		return true;
	/* The burner refuses writes outside every partition ("out of partition", §3.6). */
	end = w->offset + (w->image.write_size ? w->image.write_size : 1);
	for (size_t k = 0; k < c->n_partitions; k++) {
		const struct recipe_partition *pt = &c->partitions[k];

		if (w->offset >= pt->offset && end <= pt->offset + pt->size)
			return true;
	}
	sp(jp, sizeof(jp), i, "offset");
	recipe_problem(p, jp,
		       "0x%" PRIx64 "-0x%" PRIx64 " is not inside one partition of stages[%zu] "
		       "(ingenic.config)",
		       w->offset, end - 1, ss->config_at);
	return false;
}

/* The Ingenic burner rules: ingenic.boot once, the burner's ops after it, writes after a config. */
static void check_burner(struct recipe_parser *p, struct session *ss, struct recipe_stage *s,
			 size_t i, const bool *stage_ok, bool *resolved)
{
	const struct recipe_op_desc *d = recipe_op_desc(s->op);
	char jp[64];

	sp(jp, sizeof(jp), i, NULL);
	if (d->burner == RECIPE_BURNER_STARTS) {
		if (ss->booted)
			recipe_problem(p, jp, "%s: the burner already runs (stages[%zu])", d->name,
				       ss->booted_at);
		ss->booted = true;
		ss->booted_at = i;
		return;
	}
	if (d->burner != RECIPE_BURNER_NEEDS)
		return;
	if (!ss->booted) {
		recipe_problem(p, jp, "%s needs ingenic.boot earlier on this device", d->name);
		return;
	}
	if (s->op == RECIPE_OP_INGENIC_CONFIG) {
		if (stage_ok[i]) {
			ss->config = s;
			ss->config_at = i;
		}
		ss->config_refused = !stage_ok[i];
	} else if (s->op == RECIPE_OP_INGENIC_WRITE) {
		if (!ss->config && ss->config_refused)
			return; /* unresolved, and its config stage said why */
		if (!ss->config)
			recipe_problem(p, jp,
				       "ingenic.write needs ingenic.config earlier on this device");
		else if (stage_ok[i])
			resolved[i] = ingenic_write_resolve(p, s, i, ss);
	}
}

/* Walk the stages session by session; resolves Ingenic write offsets. */
static void check_sessions(struct recipe_parser *p, struct recipe *r, const bool *stage_ok,
			   bool *resolved)
{
	struct session ss = { 0 };
	char jp[64];

	if (r->n_stages && r->stages[0].op == RECIPE_OP_AWAIT)
		recipe_problem(p, "stages[0]",
			       "await as the first stage: the matched device is never used");

	for (size_t i = 0; i < r->n_stages; i++) {
		struct recipe_stage *s = &r->stages[i];
		enum recipe_family fam = recipe_op_family(s->op);

		if (s->op < 0)
			continue;
		sp(jp, sizeof(jp), i, NULL);
		if (s->op == RECIPE_OP_AWAIT) {
			ss = (struct session){ 0 };
			continue;
		}
		if (ss.gone) {
			if (!ss.reported_gone)
				recipe_problem(p, jp,
					       "unreachable: the device left at stages[%zu] (%s); "
					       "add an await stage before it",
					       ss.left_at,
					       recipe_op_name(r->stages[ss.left_at].op));
			ss.reported_gone = true;
			continue;
		}
		if (ss.family == RECIPE_FAMILY_NONE) {
			ss.family = fam;
			ss.family_at = i;
		} else if (fam != ss.family) {
			recipe_problem(
				p, jp,
				"%s needs %s device, but stages[%zu] (%s) talks to %s device; "
				"add an await stage before it",
				recipe_op_name(s->op), family_names[fam], ss.family_at,
				recipe_op_name(r->stages[ss.family_at].op),
				family_names[ss.family]);
			continue;
		}
		check_burner(p, &ss, s, i, stage_ok, resolved);
		if (recipe_op_device_leaves(s->op)) {
			ss.gone = true;
			ss.left_at = i;
		}
	}
}

/* Memory-plan contributions of the ops that write (jobs/recipe-ops.h). */
bool recipe_target_dfuse_download(const struct recipe_stage *s, bool resolved,
				  struct recipe_target *t)
{
	const struct recipe_dfuse_download *a = &s->u.dfuse_download;

	(void)resolved;
	*t = (struct recipe_target){ 1, a->alt, a->address, a->address + a->image.write_size,
				     "address" };
	return t->end > t->start;
}

bool recipe_target_ingenic_write(const struct recipe_stage *s, bool resolved,
				 struct recipe_target *t)
{
	const struct recipe_ingenic_write *a = &s->u.ingenic_write;

	if (!resolved)
		return false;
	*t = (struct recipe_target){ 3, 0, a->offset, a->offset + a->image.write_size,
				     a->partition ? "partition" : "offset" };
	return t->end > t->start;
}

/* Byte range a stage writes, and on which target; false for stages that write nothing. */
static bool stage_target(const struct recipe *r, size_t i, const bool *resolved,
			 struct recipe_target *t)
{
	const struct recipe_op_desc *d = recipe_op_desc(r->stages[i].op);

	return d && d->target && d->target(&r->stages[i], resolved[i], t);
}

static void check_overlaps(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok,
			   const bool *resolved)
{
	char jp[64];

	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_stage *s = &r->stages[i];
		struct recipe_target a, b;

		if (!stage_ok[i])
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct recipe_stage *q = &r->stages[j];

			if (!stage_ok[j])
				continue;
			if (s->op == RECIPE_OP_DFUSE_DOWNLOAD &&
			    q->op == RECIPE_OP_DFUSE_DOWNLOAD &&
			    s->u.dfuse_download.erase == RECIPE_ERASE_MASS &&
			    !s->u.dfuse_download.destroys_earlier) {
				sp(jp, sizeof(jp), i, "erase");
				recipe_problem(p, jp, "mass erase wipes what stages[%zu] wrote", j);
				break;
			}
			/* fastboot partitions and raw ranges: recipe_plan_fastboot(). */
			if (!stage_target(r, i, resolved, &a) || !stage_target(r, j, resolved, &b))
				continue;
			if (a.kind != b.kind || a.sub != b.sub || a.start >= b.end ||
			    b.start >= a.end)
				continue;
			sp(jp, sizeof(jp), i, a.key);
			recipe_problem(p, jp,
				       "writes 0x%08" PRIx64 "-0x%08" PRIx64
				       ", overlapping stages[%zu] "
				       "(0x%08" PRIx64 "-0x%08" PRIx64 ")",
				       a.start, a.end - 1, j, b.start, b.end - 1);
			break;
		}
	}
}

static bool has_stage(const struct recipe *r, enum recipe_op op, const char *getvar)
{
	for (size_t i = 0; i < r->n_stages; i++) {
		if (r->stages[i].op != op)
			continue;
		if (!getvar || (r->stages[i].u.fastboot_getvar.var &&
				strcmp(r->stages[i].u.fastboot_getvar.var, getvar) == 0))
			return true;
	}
	return false;
}

/*
 * An ID the recipe accepts but the SPI-NOR parts table lacks fails every
 * such unit at an ingenic.config stage without "nor" parameters
 * (jobs/job-ingenic.c): refuse the recipe instead.
 */
static void check_jedec_parts(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok)
{
	char jp[RECIPE_JPATH_MAX];

	if (!has_stage(r, RECIPE_OP_INGENIC_CHECK_JEDEC, NULL))
		return;
	for (size_t k = 0; k < r->n_stages; k++) {
		const struct recipe_ingenic_config *c = &r->stages[k].u.ingenic_config;

		if (r->stages[k].op != RECIPE_OP_INGENIC_CONFIG || !stage_ok[k])
			continue;
		for (size_t i = 0; i < r->n_jedec; i++) {
			const struct spinor_part *sp = spinor_part_find(r->jedec[i]);

			recipe_jpath_index(jp, "jedec", i);
			if (!sp && !c->nor.given)
				recipe_problem(
					p, jp,
					"%06x is not in the SPI-NOR parts table and stages[%zu] "
					"(ingenic.config) gives no \"nor\" parameters",
					r->jedec[i], k);
			else if (c->quad &&
				 (sp ? (int)sp->qe : c->nor.quad_enable) == SPINOR_QE_NONE)
				recipe_problem(p, jp,
					       "%06x has no Quad Enable method, but stages[%zu] "
					       "(ingenic.config) sets \"quad\"",
					       r->jedec[i], k);
		}
		return;
	}
}

static void check_serial_and_jedec(struct recipe_parser *p, const struct recipe *r)
{
	const struct recipe_serial *sr = &r->serial;
	bool jedec_stage = has_stage(r, RECIPE_OP_INGENIC_CHECK_JEDEC, NULL);

	switch (sr->source) {
	case RECIPE_SERIAL_DFUSE_UID:
		if (!has_stage(r, RECIPE_OP_DFUSE_READ_UID, NULL))
			recipe_problem(p, "serial.source",
				       "dfuse_uid needs a dfuse.read_uid stage");
		break;
	case RECIPE_SERIAL_IMX_OCOTP:
		if (!has_stage(r, RECIPE_OP_SDP_BOOT, NULL))
			recipe_problem(p, "serial.source", "imx_ocotp needs an sdp.boot stage");
		break;
	case RECIPE_SERIAL_INGENIC_EFUSE:
		if (!has_stage(r, RECIPE_OP_INGENIC_BOOT, NULL))
			recipe_problem(p, "serial.source",
				       "ingenic_efuse needs an ingenic.boot stage");
		break;
	case RECIPE_SERIAL_FASTBOOT_GETVAR:
		if (sr->var && !has_stage(r, RECIPE_OP_FASTBOOT_GETVAR, sr->var))
			recipe_problem(p, "serial.source",
				       "fastboot_getvar needs a fastboot.getvar stage reading '%s'",
				       sr->var);
		break;
	case RECIPE_SERIAL_USB_SERIAL:
	case _RECIPE_SERIAL_MAX:
	case _RECIPE_SERIAL_INVALID:
		break;
	}
	if (r->n_jedec && !jedec_stage)
		recipe_problem(p, "jedec", "no ingenic.check_jedec stage uses it");
	if (!r->jedec && jedec_stage) {
		for (size_t i = 0; i < r->n_stages; i++)
			if (r->stages[i].op == RECIPE_OP_INGENIC_CHECK_JEDEC) {
				char jp[64];

				sp(jp, sizeof(jp), i, NULL);
				recipe_problem(
					p, jp,
					"ingenic.check_jedec needs a top-level \"jedec\" list");
				break;
			}
	}
}

/*
 * The ROM reads the eFuse UID only on SoCs with a known shadow window
 * (protocols/ingenic.c); elsewhere ingenic.boot fails on every unit (issue 12).
 */
static void check_ingenic_efuse_serial(struct recipe_parser *p, const struct recipe *r,
				       const bool *stage_ok)
{
	if (r->serial.source != RECIPE_SERIAL_INGENIC_EFUSE)
		return;
	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_stage *s = &r->stages[i];
		const struct ingenic_soc *soc;

		if (s->op != RECIPE_OP_INGENIC_BOOT || !stage_ok[i])
			continue;
		soc = ingenic_soc_find(s->u.ingenic_boot.soc);
		if (soc && !soc->efuse_uid)
			recipe_problem(p, "serial.source",
				       "ingenic_efuse: no eFuse shadow read known for SoC '%s' "
				       "(stages[%zu]; T-series only)",
				       soc->name, i);
	}
}

/*
 * The DfuSe memory plan: which sectors of RECIPE_DFUSE_PLAN_LAYOUT each
 * dfuse.download erases, under the job's rule that a sector is erased at
 * most once per job (jobs/job-dfuse.c) and none after a mass erase.  A
 * stage that erases a sector holding bytes an earlier stage wrote (one that
 * did not erase it: "erase": "none") destroys them, which is refused unless
 * the stage says "destroys_earlier": true.  Mass erases are checked in
 * check_overlaps().
 */
struct dfuse_plan {
	struct dfuse_layout l;
	bool erased[RECIPE_DFUSE_PLAN_SECTORS];
	bool mass;
};

/* Index (from 0, across segments) of the planned sector holding addr, its bounds; -1 if none. */
static int plan_sector(const struct dfuse_plan *pl, uint64_t addr, uint32_t *start, uint32_t *size)
{
	int k = 0;

	for (unsigned i = 0; i < pl->l.n_segments; i++) {
		const struct dfuse_segment *sg = &pl->l.seg[i];

		if (addr >= sg->start && addr < dfuse_segment_end(sg)) {
			uint32_t n = (uint32_t)(addr - sg->start) / sg->sector_size;

			*start = sg->start + n * sg->sector_size;
			*size = sg->sector_size;
			return k + (int)n < RECIPE_DFUSE_PLAN_SECTORS ? k + (int)n : -1;
		}
		k += (int)sg->n_sectors;
	}
	return -1;
}

/* The first earlier stage (before i) that wrote into [start, end) on the planned alt, or -1. */
static long plan_writer(const struct recipe *r, const bool *stage_ok, size_t i, uint64_t start,
			uint64_t end)
{
	for (size_t j = 0; j < i; j++) {
		const struct recipe_stage *q = &r->stages[j];
		uint64_t qs, qe;

		if (!stage_ok[j] || q->op != RECIPE_OP_DFUSE_DOWNLOAD ||
		    q->u.dfuse_download.alt != RECIPE_DFUSE_PLAN_ALT)
			continue;
		qs = q->u.dfuse_download.address;
		qe = qs + q->u.dfuse_download.image.write_size;
		if (qs < end && start < qe)
			return (long)j;
	}
	return -1;
}

/* Plan the sector erases of stage i; report the first sector whose erase destroys earlier bytes. */
static void plan_stage_erases(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok,
			      size_t i, struct dfuse_plan *pl)
{
	const struct recipe_dfuse_download *a = &r->stages[i].u.dfuse_download;
	uint64_t addr = a->address, end = addr + a->image.write_size;
	bool reported = false;
	char jp[64];

	while (addr < end) {
		uint32_t start, size;
		int k = plan_sector(pl, addr, &start, &size);
		long w;

		if (k < 0)
			return; /* past the planned table: not planned */
		addr = (uint64_t)start + size;
		if (pl->mass || pl->erased[k] ||
		    !(dfuse_mem_find(&pl->l, start)->perms & DFUSE_MEM_ERASABLE))
			continue;
		pl->erased[k] = true;
		w = plan_writer(r, stage_ok, i, start, (uint64_t)start + size);
		if (w < 0 || a->destroys_earlier || reported)
			continue;
		sp(jp, sizeof(jp), i, NULL);
		recipe_problem(p, jp,
			       "erasing sector %d (0x%08" PRIx32 "-0x%08" PRIx64 ") destroys bytes "
			       "written by stages[%ld]; add \"destroys_earlier\": true if intended",
			       k, start, (uint64_t)start + size - 1, w);
		reported = true;
	}
}

static void check_dfuse_plan(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok)
{
	struct dfuse_plan pl = { 0 };

	if (dfuse_mem_parse(recipe_dfuse_layout(r), &pl.l, NULL) < 0)
		return;
	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_stage *s = &r->stages[i];

		if (!stage_ok[i] || s->op != RECIPE_OP_DFUSE_DOWNLOAD ||
		    s->u.dfuse_download.alt != RECIPE_DFUSE_PLAN_ALT)
			continue;
		if (s->u.dfuse_download.erase == RECIPE_ERASE_MASS)
			pl.mass = true;
		else if (s->u.dfuse_download.erase == RECIPE_ERASE_PAGES)
			plan_stage_erases(p, r, stage_ok, i, &pl);
	}
}

/*
 * flashd pads the last block of a DfuSe download on flash with 0xFF to a
 * multiple of 8 bytes (protocols/dfuse-load.c dfuse_padded_len(): L4 parts
 * program double-words and drop a ragged tail).  Over bytes an earlier stage
 * wrote, the pad cannot set their bits again: the ROM reports errVERIFY on
 * every unit (issue 12: found by the property test).  A .dfu counts with
 * the span of its elements, as everywhere in this file.
 */
static void check_dfuse_pad(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok)
{
	char jp[64];

	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_dfuse_download *a = &r->stages[i].u.dfuse_download;
		uint64_t end, pad_end;

		if (!stage_ok[i] || r->stages[i].op != RECIPE_OP_DFUSE_DOWNLOAD)
			continue;
		end = (uint64_t)a->address + a->image.write_size;
		pad_end = (end + 7) & ~7ull;
		if (a->alt != RECIPE_DFUSE_PLAN_ALT || !a->image.write_size || end == pad_end)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct recipe_dfuse_download *q = &r->stages[j].u.dfuse_download;
			uint64_t qs = q->address, qe = qs + q->image.write_size;

			if (!stage_ok[j] || r->stages[j].op != RECIPE_OP_DFUSE_DOWNLOAD ||
			    q->alt != a->alt || qs >= pad_end || end >= qe)
				continue;
			sp(jp, sizeof(jp), i, a->dfu_file ? "file" : "address");
			recipe_problem(
				p, jp,
				"ends at 0x%08" PRIx64 ", and flashd pads the last block with "
				"0xFF to 0x%08" PRIx64 ", over bytes stages[%zu] wrote; write "
				"stages[%zu] later or pad the image to 8 bytes",
				end, pad_end, j, j);
			break;
		}
	}
}

/*
 * The same at the front: flashd starts a download whose address is off the
 * 8-byte unit at the unit below, with 0xFF (protocols/dfuse-load.c
 * dfuse_front_pad(): an L4 block off the double-word is errPROG).  Over
 * bytes an earlier stage wrote, that pad fails with errVERIFY.
 */
static void check_dfuse_front_pad(struct recipe_parser *p, const struct recipe *r,
				  const bool *stage_ok)
{
	char jp[64];

	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_dfuse_download *a = &r->stages[i].u.dfuse_download;
		uint64_t start, pad_start;

		if (!stage_ok[i] || r->stages[i].op != RECIPE_OP_DFUSE_DOWNLOAD)
			continue;
		start = a->address;
		pad_start = start & ~7ull;
		if (a->alt != RECIPE_DFUSE_PLAN_ALT || !a->image.write_size || start == pad_start)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct recipe_dfuse_download *q = &r->stages[j].u.dfuse_download;
			uint64_t qs = q->address, qe = qs + q->image.write_size;

			if (!stage_ok[j] || r->stages[j].op != RECIPE_OP_DFUSE_DOWNLOAD ||
			    q->alt != a->alt || qs >= start || pad_start >= qe)
				continue;
			sp(jp, sizeof(jp), i, a->dfu_file ? "file" : "address");
			recipe_problem(
				p, jp,
				"starts at 0x%08" PRIx64 ", and flashd starts the first block "
				"at 0x%08" PRIx64 " with 0xFF, over bytes stages[%zu] wrote; "
				"write stages[%zu] later or start at a multiple of 8",
				start, pad_start, j, j);
			break;
		}
	}
}

/*
 * With an explicit "dfuse_layout" the recipe says what alt 0 of the part is:
 * a download outside it (or into a segment without the permissions the
 * stage needs) fails on every unit, as dfuse_check_range() refuses it at run
 * time (issue 12: found by the property test).  Without one, the F405 table
 * is only the plan's default and larger parts exist: not checked.  A .dfu is
 * checked at the ends of its span (the lowest and the highest element byte).
 */
static void check_dfuse_in_layout(struct recipe_parser *p, const struct recipe *r,
				  const bool *stage_ok)
{
	struct dfuse_layout l;
	char jp[64];

	if (!r->dfuse_layout || dfuse_mem_parse(r->dfuse_layout, &l, NULL) < 0)
		return;
	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_dfuse_download *a = &r->stages[i].u.dfuse_download;
		uint8_t perms = DFUSE_MEM_WRITABLE;
		struct err e = { 0 };
		uint64_t last;
		int rc;

		if (!stage_ok[i] || r->stages[i].op != RECIPE_OP_DFUSE_DOWNLOAD)
			continue;
		last = (uint64_t)a->address + a->image.write_size - 1;
		if (a->alt != RECIPE_DFUSE_PLAN_ALT || !a->image.write_size || last > UINT32_MAX)
			continue;
		if (a->verify != RECIPE_VERIFY_NONE)
			perms |= DFUSE_MEM_READABLE;
		if (a->dfu_file) {
			rc = dfuse_mem_check(&l, a->address, 1, perms, &e);
			if (rc >= 0)
				rc = dfuse_mem_check(&l, (uint32_t)last, 1, perms, &e);
		} else {
			rc = dfuse_mem_check(&l, a->address, a->image.write_size, perms, &e);
		}
		if (rc >= 0)
			continue;
		sp(jp, sizeof(jp), i, a->dfu_file ? "file" : "address");
		recipe_problem(p, jp, "%s in dfuse_layout \"%s\"", e.msg, r->dfuse_layout);
	}
}

/* Block size of an Android sparse image (header offset 12), 0 if unreadable. */
static uint32_t sparse_blk_sz(const struct recipe_image *img)
{
	_cleanup_close_ int fd = open(img->path, O_RDONLY | O_CLOEXEC);
	uint8_t b[4];

	if (fd < 0 || pread(fd, b, sizeof(b), 12) != (ssize_t)sizeof(b))
		return 0;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/*
 * A fastboot.flash larger than its max_download goes in sparse pieces
 * (protocols/sparse.c sparse_split()); each piece needs the file header,
 * three chunk headers and one whole block.  A recipe whose max_download is
 * smaller fails that on every unit (issue 12: found by the property test).
 */
static void check_fastboot_pieces(struct recipe_parser *p, const struct recipe *r,
				  const bool *stage_ok)
{
	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_fastboot_flash *a = &r->stages[i].u.fastboot_flash;
		uint64_t need;
		uint32_t blk;
		char jp[64];

		if (!stage_ok[i] || r->stages[i].op != RECIPE_OP_FASTBOOT_FLASH ||
		    !a->max_download || a->sparse == RECIPE_SPARSE_NEVER ||
		    a->image.size <= a->max_download || !a->image.path)
			continue;
		blk = a->image.sparse ? sparse_blk_sz(&a->image) : SPARSE_DEFAULT_BLOCK;
		need = SPARSE_HEADER_SIZE + 3 * SPARSE_CHUNK_HEADER_SIZE + (uint64_t)blk;
		if (!blk || a->max_download >= need)
			continue;
		sp(jp, sizeof(jp), i, "max_download");
		recipe_problem(p, jp,
			       "%" PRIu32 " bytes cannot carry a sparse piece of '%s' (%" PRIu64
			       " bytes): one %" PRIu32 "-byte block needs %" PRIu64
			       " with its headers",
			       a->max_download, a->image.file, a->image.size, blk, need);
	}
}

void recipe_check(struct recipe_parser *p, struct recipe *r, const bool *stage_ok)
{
	_cleanup_free_ bool *resolved = calloc(r->n_stages ? r->n_stages : 1, sizeof(bool));

	if (!resolved) {
		p->oom = true;
		return;
	}
	check_sessions(p, r, stage_ok, resolved);
	check_overlaps(p, r, stage_ok, resolved);
	check_serial_and_jedec(p, r);
	check_jedec_parts(p, r, stage_ok);
	check_ingenic_efuse_serial(p, r, stage_ok);
	check_dfuse_plan(p, r, stage_ok);
	recipe_plan_ingenic(p, r, stage_ok, resolved);
	recipe_plan_fastboot(p, r, stage_ok);
	check_fastboot_pieces(p, r, stage_ok);
	check_dfuse_pad(p, r, stage_ok);
	check_dfuse_front_pad(p, r, stage_ok);
	check_dfuse_in_layout(p, r, stage_ok);
	recipe_plan_dfuse_rdp(p, r, stage_ok);
}
