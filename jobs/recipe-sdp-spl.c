/*
 * This file implements the optional fields of sdp.boot that place the
 * SPL gadget's write in the file (flashd.recipe.5, "i.MX SPL gadget"):
 * "skip_spl": true (uuu SDPV "write -skipspl") or "offset": N (uuu SDPU
 * "write -offset"), protocol-imx-sdp-fastboot.md §1.13.
 */
#include "jobs/recipe.h"
#include "jobs/recipe-private.h"

#include <stdint.h>

bool recipe_parse_sdp_spl(struct recipe_parser *p, const cJSON *o, const char *b,
			  struct recipe_sdp_boot *a)
{
	char jp[RECIPE_JPATH_MAX];
	int rs, ro;

	rs = recipe_get_bool(p, o, b, "skip_spl", &a->skip_spl);
	ro = recipe_get_number(p, o, b, "offset", false, 0, UINT32_MAX, &a->offset);
	if (rs < 0 || ro < 0)
		return false;
	a->has_offset = ro > 0;
	if (a->skip_spl && a->has_offset) {
		recipe_jpath_key(jp, b, "offset");
		recipe_problem(p, jp, "give either \"skip_spl\" or \"offset\", not both");
		return false;
	}
	return true;
}
