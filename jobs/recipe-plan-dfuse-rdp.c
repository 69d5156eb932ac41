/*
 * This file implements the recipe rules for STM32 option bytes and read
 * protection (RDP): the option-byte areas recipe check knows, the RDP level
 * a stage sets, and what may follow it.  Facts: protocol-dfu.md §2.3, §3.5
 * (ST AN3156: with read protection active the ROM refuses reads and writes;
 * Read Unprotect 0x92 mass-erases the flash and resets), RM0090 §3.7.3 and
 * RM0351 §3.5.1 (RDP 0xAA level 0, 0xCC level 2 for good, else level 1).
 */
#include "jobs/recipe-private.h"

#include <stdio.h>

/*
 * F2/F4: 16 bytes at 0x1FFFC000 as the ROM's alt 1 "@Option Bytes
 * /0x1FFFC000/01*016 e" shows them, USER at +0, RDP at +1, nWRP at +8
 * (RM0090 §3.6, "Option bytes").  L4: FLASH_OPTR at 0x1FFF7800, RDP its low
 * byte, 40 bytes in the ROM's "01*040 e" (RM0351 §3.4.1).
 */
static const struct recipe_option_area option_areas[] = {
	{ .address = 0x1FFFC000u, .size = 16, .rdp_off = 1, .parts = "STM32F2/F4 (RM0090)" },
	{ .address = 0x1FFF7800u, .size = 40, .rdp_off = 0, .parts = "STM32L4 (RM0351)" },
};

const struct recipe_option_area *recipe_option_area(uint32_t address)
{
	for (size_t i = 0; i < ARRAY_SIZE(option_areas); i++)
		if (option_areas[i].address == address)
			return &option_areas[i];
	return NULL;
}

unsigned recipe_rdp_level(uint8_t rdp)
{
	return rdp == RECIPE_RDP_LEVEL0 ? 0 : rdp == RECIPE_RDP_LEVEL2 ? 2 : 1;
}

unsigned recipe_stage_rdp_level(const struct recipe_stage *s)
{
	switch (s->op) {
	case RECIPE_OP_DFUSE_OPTION_BYTES:
		return recipe_rdp_level(s->u.dfuse_option_bytes.rdp);
	case RECIPE_OP_DFUSE_READ_PROTECT:
		return s->u.dfuse_read_protect.level;
	default:
		return 0;
	}
}

static const char *stage_name(const struct recipe_stage *s)
{
	return s->label ? s->label : recipe_op_name(s->op);
}

/* A read unprotect mass-erases the flash: earlier downloads are lost unless said. */
static void check_unprotect_erases(struct recipe_parser *p, const struct recipe *r,
				   const bool *stage_ok, size_t i)
{
	char jp[RECIPE_JPATH_MAX];

	if (r->stages[i].u.dfuse_read_unprotect.destroys_earlier)
		return;
	for (size_t k = 0; k < i; k++) {
		if (!stage_ok[k] || r->stages[k].op != RECIPE_OP_DFUSE_DOWNLOAD)
			continue;
		recipe_jpath_index(jp, "stages", i);
		recipe_problem(
			p, jp,
			"dfuse.read_unprotect mass-erases the flash and so destroys what "
			"stages[%zu] ('%s') wrote; say \"destroys_earlier\": true if that is "
			"intended",
			k, stage_name(&r->stages[k]));
		return;
	}
}

void recipe_plan_dfuse_rdp(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok)
{
	size_t prot = SIZE_MAX, lvl2 = SIZE_MAX;
	char jp[RECIPE_JPATH_MAX];

	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_stage *s = &r->stages[i];

		recipe_jpath_index(jp, "stages", i);
		if (lvl2 != SIZE_MAX) {
			recipe_problem(
				p, jp,
				"stages[%zu] ('%s') set read protection level 2: the board's "
				"system bootloader never answers again, no stage can follow",
				lvl2, stage_name(&r->stages[lvl2]));
			continue;
		}
		if (prot != SIZE_MAX && recipe_op_family(s->op) == RECIPE_FAMILY_DFUSE &&
		    s->op != RECIPE_OP_DFUSE_READ_UNPROTECT)
			recipe_problem(p, jp,
				       "the board is read-protected since stages[%zu] ('%s', RDP "
				       "level 1): its ROM refuses every DfuSe read and write "
				       "(AN3156); set the protection last, or remove it first with "
				       "dfuse.read_unprotect (which mass-erases the flash)",
				       prot, stage_name(&r->stages[prot]));
		if (!stage_ok[i])
			continue;
		if (s->op == RECIPE_OP_DFUSE_READ_UNPROTECT) {
			check_unprotect_erases(p, r, stage_ok, i);
			prot = SIZE_MAX;
		}
		if (recipe_stage_rdp_level(s) == 1)
			prot = i;
		else if (recipe_stage_rdp_level(s) == 2)
			lvl2 = i;
	}
}
