/*
 * This file implements the Ingenic memory plan (jobs/recipe-private.h,
 * recipe_plan_ingenic()) and its run-time half (jobs/recipe.h,
 * recipe_ingenic_plan_holds()).
 *
 * What the burner erases on SFC NOR (protocol-ingenic.md §3.6, [SFC-nor];
 * jobs/job-ingenic.c maps the recipe's "erase" onto it):
 *  - "chip" (spi_erase 1): INIT erases the whole chip.  INIT runs once per
 *    burner session (§3.1), so only the first ingenic.config after an
 *    ingenic.boot erases; writes do not erase.
 *  - "partition" (spi_erase 0): the first write that lands in a partition
 *    erases all of it.  Every UPDATE_CFG starts afresh (the simulated
 *    burner, tests/sim/boards/ingenic_burner.c, does the same), so the
 *    first write after each ingenic.config erases again.
 *  - "blocks" (MTD_D_MODE partitions; "none" is its old name): each write
 *    erases its own range.
 * Without a partition table the job sends one partition over the whole chip
 * (jobs/job-ingenic.c): raw offsets then need only fit the chip.
 * Erases are done in RECIPE_INGENIC_PLAN_ERASE blocks, so they reach out to
 * the block boundaries on both sides, into a neighbouring partition when
 * the table is not block-aligned.
 */
#include "jobs/recipe-private.h"
#include "protocols/spinor_parts.h"
#include "protocols/ingenic_cfg.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The flash state the plan walks through, one device session at a time. */
struct ingenic_plan {
	const struct recipe_ingenic_config *cfg; /* config in effect, NULL before one */
	bool inited;				 /* INIT ran in this burner session */
	bool part_erased[RECIPE_PARTITIONS_MAX]; /* since the last config */
};

static uint64_t round_down(uint64_t v)
{
	return v / RECIPE_INGENIC_PLAN_ERASE * RECIPE_INGENIC_PLAN_ERASE;
}

static uint64_t round_up(uint64_t v)
{
	return round_down(v + RECIPE_INGENIC_PLAN_ERASE - 1);
}

/* "16 MiB", "64 KiB" or "1000 bytes". */
static void size_text(char *out, size_t n, uint64_t bytes)
{
	if (bytes && bytes % (1024 * 1024) == 0)
		snprintf(out, n, "%" PRIu64 " MiB", bytes / (1024 * 1024));
	else if (bytes && bytes % 1024 == 0)
		snprintf(out, n, "%" PRIu64 " KiB", bytes / 1024);
	else
		snprintf(out, n, "%" PRIu64 " bytes", bytes);
}

/* Bytes stage j writes on the NOR, or false if it writes none there. */
static bool write_range(const struct recipe *r, const bool *stage_ok, const bool *resolved,
			size_t j, uint64_t *start, uint64_t *end)
{
	const struct recipe_stage *q = &r->stages[j];

	if (!stage_ok[j] || !resolved[j] || q->op != RECIPE_OP_INGENIC_WRITE)
		return false;
	*start = q->u.ingenic_write.offset;
	*end = *start + q->u.ingenic_write.image.write_size;
	return *end > *start;
}

/*
 * The first stage before i whose written bytes lie in [start, end), or -1.
 * A write overlapping stage i's own range is left out: check_overlaps()
 * refuses that pair already.
 */
static long earlier_writer(const struct recipe *r, const bool *stage_ok, const bool *resolved,
			   size_t i, uint64_t start, uint64_t end)
{
	uint64_t is = 0, ie = 0, qs, qe;
	bool own = write_range(r, stage_ok, resolved, i, &is, &ie);

	for (size_t j = 0; j < i; j++) {
		if (!write_range(r, stage_ok, resolved, j, &qs, &qe))
			continue;
		if (own && qs < ie && is < qe)
			continue;
		if (qs < end && start < qe)
			return (long)j;
	}
	return -1;
}

/* Report stage i's erase of [start, end) (what: how it came about) if it hits earlier bytes. */
static void plan_erase(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok,
		       const bool *resolved, size_t i, bool allowed, uint64_t start, uint64_t end,
		       const char *what)
{
	long w = earlier_writer(r, stage_ok, resolved, i, start, end);
	char jp[RECIPE_JPATH_MAX], range[64];

	if (w < 0 || allowed)
		return;
	if (end == UINT64_MAX)
		snprintf(range, sizeof(range), "the whole chip");
	else
		snprintf(range, sizeof(range), "0x%08" PRIx64 "-0x%08" PRIx64, start, end - 1);
	recipe_jpath_index(jp, "stages", i);
	recipe_problem(p, jp,
		       "erasing %s (%s) destroys bytes written by stages[%ld]; "
		       "add \"destroys_earlier\": true if intended",
		       range, what, w);
}

/* The erase of an ingenic.write under the config in effect, if any. */
static void plan_write(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok,
		       const bool *resolved, size_t i, struct ingenic_plan *pl)
{
	const struct recipe_ingenic_write *a = &r->stages[i].u.ingenic_write;
	uint64_t ws, we;
	char what[96];

	if (!pl->cfg || !write_range(r, stage_ok, resolved, i, &ws, &we))
		return;
	if (pl->cfg->erase == RECIPE_ERASE_BLOCKS) {
		snprintf(what, sizeof(what), "the written range in %u KiB erase blocks",
			 RECIPE_INGENIC_PLAN_ERASE / 1024);
		plan_erase(p, r, stage_ok, resolved, i, a->destroys_earlier, round_down(ws),
			   round_up(we), what);
		return;
	}
	if (pl->cfg->erase != RECIPE_ERASE_PARTITION)
		return;
	for (size_t k = 0; k < pl->cfg->n_partitions; k++) {
		const struct recipe_partition *pt = &pl->cfg->partitions[k];

		if (ws < pt->offset || ws >= pt->offset + pt->size)
			continue;
		if (pl->part_erased[k])
			return;
		pl->part_erased[k] = true;
		snprintf(what, sizeof(what), "partition '%s' in %u KiB erase blocks", pt->name,
			 RECIPE_INGENIC_PLAN_ERASE / 1024);
		plan_erase(p, r, stage_ok, resolved, i, a->destroys_earlier, round_down(pt->offset),
			   round_up(pt->offset + pt->size), what);
		return;
	}
}

/*
 * The smallest chip of the "jedec" list, by the parts table
 * (protocols/spinor_parts.h: the capacity byte is not always log2 of the
 * size); 0 if there is no list.  An ID outside the table is reported by
 * recipe-check.c (it needs the config's "nor" parameters) and left out here.
 */
static uint64_t smallest_chip(struct recipe_parser *p, const struct recipe *r, size_t *ret_at)
{
	uint64_t min = 0;

	(void)p;

	for (size_t i = 0; i < r->n_jedec; i++) {
		const struct spinor_part *part;

		if (r->jedec[i] == 0)
			continue; /* not a valid entry: reported when parsed */
		part = spinor_part_find(r->jedec[i]);
		if (!part)
			continue;
		if (!min || part->size < min) {
			min = part->size;
			*ret_at = i;
		}
	}
	return min;
}

/* Without a partition table a raw write must fit the smallest chip the recipe accepts. */
static void plan_write_fits(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok,
			    const bool *resolved, size_t i, const struct ingenic_plan *pl,
			    uint64_t chip, size_t chip_at)
{
	char jp[RECIPE_JPATH_MAX], sz[32];
	uint64_t ws, we;

	if (!chip || !pl->cfg || pl->cfg->n_partitions ||
	    !write_range(r, stage_ok, resolved, i, &ws, &we) || we <= chip)
		return;
	recipe_jpath_index(jp, "stages", i);
	size_text(sz, sizeof(sz), chip);
	recipe_problem(p, jp,
		       "0x%08" PRIx64 "-0x%08" PRIx64
		       " ends beyond the %s flash of JEDEC %06" PRIx32 " (jedec[%zu])",
		       ws, we - 1, sz, r->jedec[chip_at], chip_at);
}

/* Every partition of config stage i must fit the smallest chip the recipe accepts. */
static void plan_partitions_fit(struct recipe_parser *p, const struct recipe *r, size_t i,
				uint64_t chip, size_t chip_at)
{
	const struct recipe_ingenic_config *c = &r->stages[i].u.ingenic_config;
	char sj[RECIPE_JPATH_MAX], pj[RECIPE_JPATH_MAX], jp[RECIPE_JPATH_MAX], sz[32];

	if (!chip)
		return;
	recipe_jpath_index(sj, "stages", i);
	recipe_jpath_key(pj, sj, "partitions");
	size_text(sz, sizeof(sz), chip);
	for (size_t k = 0; k < c->n_partitions; k++) {
		const struct recipe_partition *pt = &c->partitions[k];

		if (pt->offset + pt->size <= chip)
			continue;
		recipe_jpath_index(jp, pj, k);
		recipe_problem(p, jp,
			       "partition '%s' ends at 0x%08" PRIx64 ", beyond the %s flash of "
			       "JEDEC %06" PRIx32 " (jedec[%zu])",
			       pt->name, pt->offset + pt->size, sz, r->jedec[chip_at], chip_at);
	}
}

/* An ingenic.config: a new flash config, and the session's chip erase if it is the first INIT. */
static void plan_config(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok,
			const bool *resolved, size_t i, struct ingenic_plan *pl)
{
	const struct recipe_ingenic_config *c = &r->stages[i].u.ingenic_config;

	if (c->erase == RECIPE_ERASE_CHIP && !pl->inited)
		plan_erase(p, r, stage_ok, resolved, i, c->destroys_earlier, 0, UINT64_MAX,
			   "erase \"chip\" at INIT");
	pl->inited = true;
	pl->cfg = c;
	memset(pl->part_erased, 0, sizeof(pl->part_erased));
}

void recipe_plan_ingenic(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok,
			 const bool *resolved)
{
	struct ingenic_plan pl = { 0 };
	size_t chip_at = 0;
	uint64_t chip = smallest_chip(p, r, &chip_at);

	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_stage *s = &r->stages[i];

		if (s->op < 0 || !stage_ok[i])
			continue;
		switch (s->op) {
		case RECIPE_OP_AWAIT:
		case RECIPE_OP_INGENIC_BOOT:
			/* A new device or burner session: no config, INIT not run. */
			pl = (struct ingenic_plan){ 0 };
			break;
		case RECIPE_OP_INGENIC_CONFIG:
			plan_partitions_fit(p, r, i, chip, chip_at);
			plan_config(p, r, stage_ok, resolved, i, &pl);
			break;
		case RECIPE_OP_INGENIC_WRITE:
			plan_write_fits(p, r, stage_ok, resolved, i, &pl, chip, chip_at);
			plan_write(p, r, stage_ok, resolved, i, &pl);
			break;
		default:
			break;
		}
	}
}

static bool write_ends_beyond(const struct recipe_ingenic_write *w, uint64_t chip_size)
{
	return w->offset + w->image.write_size > chip_size;
}

int recipe_ingenic_plan_holds(const struct recipe *r, size_t at, uint32_t jedec, uint64_t chip_size,
			      uint32_t erase_size, struct err *e)
{
	char sz[32], eb[32];
	bool table = true; /* the config at `at` comes first and sets it */

	size_text(sz, sizeof(sz), chip_size);
	if (erase_size != RECIPE_INGENIC_PLAN_ERASE) {
		size_text(eb, sizeof(eb), erase_size);
		return err_set(e, -EOPNOTSUPP,
			       "memory plan does not hold: recipe check planned %u KiB erase "
			       "blocks, the device's flash (JEDEC %06" PRIx32 ") erases %s; "
			       "nothing erased",
			       RECIPE_INGENIC_PLAN_ERASE / 1024, jedec, eb);
	}
	for (size_t i = at; i < r->n_stages; i++) {
		const struct recipe_stage *s = &r->stages[i];

		if (s->op == RECIPE_OP_AWAIT || s->op == RECIPE_OP_INGENIC_BOOT ||
		    recipe_op_device_leaves(s->op))
			break; /* another session plans its own */
		if (s->op == RECIPE_OP_INGENIC_CONFIG)
			table = s->u.ingenic_config.n_partitions > 0;
		if (s->op == RECIPE_OP_INGENIC_WRITE && !table &&
		    write_ends_beyond(&s->u.ingenic_write, chip_size))
			return err_set(
				e, -EOPNOTSUPP,
				"memory plan does not hold: stages[%zu] (ingenic.write) "
				"ends at 0x%08" PRIx64 ", beyond the device's %s flash "
				"(JEDEC %06" PRIx32 "); nothing erased",
				i, s->u.ingenic_write.offset + s->u.ingenic_write.image.write_size,
				sz, jedec);
		if (s->op != RECIPE_OP_INGENIC_CONFIG)
			continue;
		for (size_t k = 0; k < s->u.ingenic_config.n_partitions; k++) {
			const struct recipe_partition *pt = &s->u.ingenic_config.partitions[k];

			if (pt->offset + pt->size > chip_size)
				return err_set(
					e, -EOPNOTSUPP,
					"memory plan does not hold: stages[%zu] (ingenic.config) "
					"partition '%s' ends at 0x%08" PRIx64 ", beyond the "
					"device's %s flash (JEDEC %06" PRIx32 "); nothing erased",
					i, pt->name, pt->offset + pt->size, sz, jedec);
		}
	}
	return 0;
}
