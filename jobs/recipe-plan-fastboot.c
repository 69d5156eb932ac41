/*
 * This file implements the fastboot memory plan (recipe_plan_fastboot(),
 * jobs/recipe-private.h) for U-Boot fastboot on eMMC (i.MX;
 * protocol-imx-sdp-fastboot.md §4.2, §4.4):
 *  - flash:<name> writes the named partition, erase:<name> erases it; a
 *    second flash or an erase of a partition flashed earlier replaces what
 *    the earlier stage wrote;
 *  - flash:0x<offset> writes raw bytes of the user area at that offset, and
 *    flash:gpt / flash:mbr (CONFIG_FASTBOOT_GPT_NAME / MBR_NAME) write a new
 *    partition table from byte 0: raw ranges that overlap destroy each
 *    other, and a new table may move or resize every partition flashed
 *    before it.
 * The eMMC keeps its data across device sessions, so the plan covers the
 * whole job.  Partition offsets are the device's (its GPT), unknown here:
 * a named partition is never compared with a raw range.
 */
#include "jobs/recipe-private.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* U-Boot's names for the partition-table targets. */
static bool is_table(const char *name)
{
	return name && (strcmp(name, "gpt") == 0 || strcmp(name, "mbr") == 0);
}

/* The named partition a fastboot.flash writes, NULL for a raw offset;
 * a fastboot.gpt writes U-Boot's "gpt" target. */
static const char *flash_partition(const struct recipe_stage *s)
{
	if (s->op == RECIPE_OP_FASTBOOT_GPT)
		return "gpt";
	return s->u.fastboot_flash.raw ? NULL : s->u.fastboot_flash.partition;
}

/* Stages that write the eMMC. */
static bool writes(const struct recipe_stage *s)
{
	return s->op == RECIPE_OP_FASTBOOT_FLASH || s->op == RECIPE_OP_FASTBOOT_GPT;
}

/* Raw user-area bytes a fastboot.flash writes: a raw offset, or a table from byte 0. */
static bool raw_range(const struct recipe_stage *s, uint64_t *start, uint64_t *end)
{
	const struct recipe_fastboot_flash *f = &s->u.fastboot_flash;

	if (s->op == RECIPE_OP_FASTBOOT_GPT) {
		/* The table flashd builds: protective MBR, header, entries. */
		*start = 0;
		*end = RECIPE_GPT_BYTES;
		return true;
	}
	if (f->raw)
		*start = f->offset;
	else if (is_table(f->partition))
		*start = 0;
	else
		return false;
	*end = *start + f->image.write_size;
	return *end > *start;
}

/* Whether stage s destroys the bytes the fastboot.flash q wrote; out says how. */
static bool destroys(const struct recipe_stage *s, const struct recipe_stage *q, char *out,
		     size_t n)
{
	const char *qp = flash_partition(q), *sp;
	uint64_t as, ae, bs, be;

	if (s->op == RECIPE_OP_FASTBOOT_ERASE) {
		if (!qp || strcmp(qp, s->u.fastboot_erase.partition) != 0)
			return false;
		snprintf(out, n, "erasing partition '%s'", qp);
		return true;
	}
	sp = flash_partition(s);
	if (sp && qp && strcmp(sp, qp) == 0) {
		snprintf(out, n, "flashing partition '%s' again", sp);
		return true;
	}
	if (sp && qp && is_table(sp) && !is_table(qp)) {
		snprintf(out, n, "re-partitioning ('%s', which may move or resize partition '%s')",
			 sp, qp);
		return true;
	}
	if (raw_range(s, &as, &ae) && raw_range(q, &bs, &be) && as < be && bs < ae) {
		snprintf(out, n,
			 "writing 0x%08" PRIx64 "-0x%08" PRIx64 " (over 0x%08" PRIx64
			 "-0x%08" PRIx64 ")",
			 as, ae - 1, bs, be - 1);
		return true;
	}
	return false;
}

static bool stage_destroys_earlier(const struct recipe_stage *s)
{
	if (s->op == RECIPE_OP_FASTBOOT_GPT)
		return false;
	return s->op == RECIPE_OP_FASTBOOT_ERASE ? s->u.fastboot_erase.destroys_earlier
						 : s->u.fastboot_flash.destroys_earlier;
}

void recipe_plan_fastboot(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok)
{
	char jp[RECIPE_JPATH_MAX], how[160];

	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_stage *s = &r->stages[i];

		if (!stage_ok[i] || (!writes(s) && s->op != RECIPE_OP_FASTBOOT_ERASE) ||
		    stage_destroys_earlier(s))
			continue;
		for (size_t j = 0; j < i; j++) {
			if (!stage_ok[j] || !writes(&r->stages[j]) ||
			    !destroys(s, &r->stages[j], how, sizeof(how)))
				continue;
			recipe_jpath_index(jp, "stages", i);
			recipe_problem(p, jp,
				       "%s destroys bytes written by stages[%zu]; "
				       "add \"destroys_earlier\": true if intended",
				       how, j);
			break;
		}
	}
}
