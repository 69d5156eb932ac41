/*
 * This file implements the parsers of the "stages" entries: the keys every
 * stage takes (op, name, timeout_ms, retries, irreversible) and one parser
 * per operation for that stage's own fields.  Rules across stages live in
 * recipe-check.c.  The fields are documented in jobs/flashd.recipe.5; keep
 * the two in step.
 */
#include "jobs/recipe-private.h"
#include "protocols/ingenic.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Spellings of the enum-valued stage fields, indexed by their enums in jobs/recipe.h. */
static const char *const erase_names[_RECIPE_ERASE_MAX] = {
	[RECIPE_ERASE_NONE] = "none",		[RECIPE_ERASE_PAGES] = "pages",
	[RECIPE_ERASE_MASS] = "mass",		[RECIPE_ERASE_CHIP] = "chip",
	[RECIPE_ERASE_PARTITION] = "partition",
};

static const char *const verify_names[_RECIPE_VERIFY_MAX] = {
	[RECIPE_VERIFY_NONE] = "none",
	[RECIPE_VERIFY_READBACK] = "readback",
	[RECIPE_VERIFY_CRC32] = "crc32",
};

static const char *const sparse_names[_RECIPE_SPARSE_MAX] = {
	[RECIPE_SPARSE_AUTO] = "auto",
	[RECIPE_SPARSE_NEVER] = "never",
};

static const char *const flash_names[_RECIPE_FLASH_MAX] = {
	[RECIPE_FLASH_SFC_NOR] = "sfc_nor",
	[RECIPE_FLASH_SFC_NAND] = "sfc_nand",
	[RECIPE_FLASH_MMC0] = "mmc0",
	[RECIPE_FLASH_MMC1] = "mmc1",
};

/* Keys every stage may have, whatever its op. */
static const char *const common_keys[] = {"op",	     "name",	     "timeout_ms",
					  "retries", "irreversible", NULL};

/* Each parser returns true when every field of the stage was valid. */

static bool parse_dfuse_download(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = {"alt",   "address", "file", "sha256",
					   "erase", "verify",  NULL};
	struct recipe_dfuse_download *a = &s->u.dfuse_download;
	int erase = RECIPE_ERASE_PAGES, verify = RECIPE_VERIFY_READBACK;
	uint64_t alt = 0, addr = 0;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = recipe_get_number(p, o, b, "alt", false, 0, 255, &alt) >= 0 && ok;
	ok = recipe_get_number(p, o, b, "address", true, 0, UINT32_MAX, &addr) > 0 && ok;
	ok = recipe_get_image(p, o, b, &a->image) && ok;
	ok = recipe_get_enum(p, o, b, "erase", erase_names, _RECIPE_ERASE_MAX,
			     1u << RECIPE_ERASE_PAGES | 1u << RECIPE_ERASE_MASS |
				     1u << RECIPE_ERASE_NONE,
			     &erase) >= 0 &&
	     ok;
	ok = recipe_get_enum(p, o, b, "verify", verify_names, _RECIPE_VERIFY_MAX,
			     1u << RECIPE_VERIFY_READBACK | 1u << RECIPE_VERIFY_NONE,
			     &verify) >= 0 &&
	     ok;
	a->alt = (uint8_t)alt;
	a->address = (uint32_t)addr;
	a->erase = erase;
	a->verify = verify;
	if (ok && addr + a->image.size > (uint64_t)UINT32_MAX + 1) {
		char jp[RECIPE_JPATH_MAX];

		recipe_jpath_key(jp, b, "address");
		recipe_problem(p, jp, "'%s' (%" PRIu64 " bytes) does not fit below 4 GiB",
			       a->image.file, a->image.size);
		ok = false;
	}
	return ok;
}

static bool parse_dfuse_read_uid(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = {"alt", "address", "length", NULL};
	struct recipe_dfuse_read_uid *a = &s->u.dfuse_read_uid;
	uint64_t alt = 0, addr = 0, len = 12;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = recipe_get_number(p, o, b, "alt", false, 0, 255, &alt) >= 0 && ok;
	ok = recipe_get_number(p, o, b, "address", true, 0, UINT32_MAX, &addr) > 0 && ok;
	ok = recipe_get_number(p, o, b, "length", false, 1, 64, &len) >= 0 && ok;
	a->alt = (uint8_t)alt;
	a->address = (uint32_t)addr;
	a->length = (uint32_t)len;
	return ok;
}

static bool parse_dfuse_leave(struct recipe_parser *p, const cJSON *o, const char *b,
			      struct recipe_stage *s)
{
	static const char *const keys[] = {"address", NULL};
	uint64_t addr = 0;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = recipe_get_number(p, o, b, "address", true, 0, UINT32_MAX, &addr) > 0 && ok;
	s->u.dfuse_leave.address = (uint32_t)addr;
	return ok;
}

static bool parse_sdp_boot(struct recipe_parser *p, const cJSON *o, const char *b,
			   struct recipe_stage *s)
{
	static const char *const keys[] = {"file", "sha256", NULL};
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	return recipe_get_image(p, o, b, &s->u.sdp_boot.image) && ok;
}

static bool parse_await(struct recipe_parser *p, const cJSON *o, const char *b,
			struct recipe_stage *s)
{
	static const char *const keys[] = {"vid", "pid", NULL};
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = recipe_get_hex16(p, o, b, "vid", true, &s->u.await.vid) > 0 && ok;
	ok = recipe_get_hex16(p, o, b, "pid", true, &s->u.await.pid) > 0 && ok;
	return ok;
}

static bool parse_fastboot_getvar(struct recipe_parser *p, const cJSON *o, const char *b,
				  struct recipe_stage *s)
{
	static const char *const keys[] = {"var", "expect", NULL};
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = recipe_get_string(p, o, b, "var", true, &s->u.fastboot_getvar.var) > 0 && ok;
	ok = recipe_get_string(p, o, b, "expect", false, &s->u.fastboot_getvar.expect) >= 0 && ok;
	return ok;
}

/* Fastboot partition names go on the wire after "flash:"; keep them plain. */
static bool check_partition_name(struct recipe_parser *p, const char *b, const char *key,
				 const char *name)
{
	char jp[RECIPE_JPATH_MAX];

	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.')) {
			recipe_jpath_key(jp, b, key);
			recipe_problem(p, jp, "bad partition name '%s'", name);
			return false;
		}
	return true;
}

static bool parse_fastboot_flash(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = {"partition", "offset",	"file",	  "sha256",
					   "sparse",	"max_download", "verify", NULL};
	struct recipe_fastboot_flash *a = &s->u.fastboot_flash;
	int sparse = RECIPE_SPARSE_AUTO, verify = RECIPE_VERIFY_NONE, rp, ro;
	uint64_t off = 0, maxdl = 0;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	rp = recipe_get_string(p, o, b, "partition", false, &a->partition);
	ro = recipe_get_number(p, o, b, "offset", false, 0, UINT64_MAX, &off);
	ok = rp >= 0 && ro >= 0 && ok;
	if (rp > 0)
		ok = check_partition_name(p, b, "partition", a->partition) && ok;
	if (rp == 0 && ro == 0) {
		recipe_problem(p, b, "needs \"partition\" or \"offset\"");
		ok = false;
	} else if (rp > 0 && ro > 0) {
		recipe_problem(p, b, "has both \"partition\" and \"offset\"");
		ok = false;
	}
	a->raw = ro > 0;
	a->offset = off;
	ok = recipe_get_image(p, o, b, &a->image) && ok;
	ok = recipe_get_enum(p, o, b, "sparse", sparse_names, _RECIPE_SPARSE_MAX, 3u, &sparse) >=
		     0 &&
	     ok;
	ok = recipe_get_number(p, o, b, "max_download", false, 4096, UINT32_MAX, &maxdl) >= 0 && ok;
	ok = recipe_get_enum(p, o, b, "verify", verify_names, _RECIPE_VERIFY_MAX,
			     1u << RECIPE_VERIFY_NONE | 1u << RECIPE_VERIFY_CRC32, &verify) >= 0 &&
	     ok;
	a->sparse = sparse;
	a->max_download = (uint32_t)maxdl;
	a->verify = verify;
	return ok;
}

static bool parse_fastboot_erase(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = {"partition", NULL};
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	if (recipe_get_string(p, o, b, "partition", true, &s->u.fastboot_erase.partition) <= 0)
		return false;
	return check_partition_name(p, b, "partition", s->u.fastboot_erase.partition) && ok;
}

static bool parse_fastboot_ucmd(struct recipe_parser *p, const cJSON *o, const char *b,
				struct recipe_stage *s)
{
	static const char *const keys[] = {"command", "async", NULL};
	struct recipe_fastboot_ucmd *a = &s->u.fastboot_ucmd;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);
	char jp[RECIPE_JPATH_MAX];

	ok = recipe_get_bool(p, o, b, "async", &a->async) >= 0 && ok;
	if (recipe_get_string(p, o, b, "command", true, &a->command) <= 0)
		return false;
	recipe_jpath_key(jp, b, "command");
	/* ACmd: U-Boot refuses 64 characters or more (protocol-imx-sdp-fastboot.md §4.2). */
	if (a->async && strlen(a->command) >= 64) {
		recipe_problem(p, jp, "async commands must be shorter than 64 characters");
		return false;
	}
	/* "UCmd:" + command must fit U-Boot's 4096-byte command buffer (§4.1). */
	if (strlen(a->command) > 4000) {
		recipe_problem(p, jp, "longer than 4000 characters");
		return false;
	}
	return ok;
}

static bool parse_no_args(struct recipe_parser *p, const cJSON *o, const char *b,
			  struct recipe_stage *s)
{
	(void)s;
	return recipe_check_keys(p, o, b, NULL, common_keys);
}

static bool parse_ingenic_boot(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_stage *s)
{
	static const char *const keys[] = {"soc", "ginfo", "spl", "burner", "d2i_len", NULL};
	struct recipe_ingenic_boot *a = &s->u.ingenic_boot;
	uint32_t d2i = 0;
	uint64_t v;
	char jp[RECIPE_JPATH_MAX];
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);
	int r;

	if (recipe_get_string(p, o, b, "soc", true, &a->soc) > 0) {
		if (!recipe_ingenic_soc_known(a->soc, &d2i)) {
			recipe_jpath_key(jp, b, "soc");
			recipe_problem(p, jp, "unknown Ingenic SoC '%s'", a->soc);
			ok = false;
		}
	} else {
		ok = false;
	}
	r = recipe_get_image_object(p, o, b, "ginfo", false, &a->ginfo);
	a->has_ginfo = r != 0;
	ok = r >= 0 && ok;
	ok = recipe_get_image_object(p, o, b, "spl", true, &a->spl) > 0 && ok;
	ok = recipe_get_image_object(p, o, b, "burner", true, &a->burner) > 0 && ok;
	r = recipe_get_number(p, o, b, "d2i_len", false, 0, 0x100000, &v);
	if (r > 0)
		d2i = (uint32_t)v;
	ok = r >= 0 && ok;
	a->d2i_len = d2i;
	/* d2i_len only says what goes to I-cache (§2.3); the ROM's load area bounds the SPL. */
	const struct ingenic_soc *soc = ok ? ingenic_soc_find(a->soc) : NULL;

	if (soc && soc->spl_max && a->spl.size > soc->spl_max) {
		recipe_jpath_key(jp, b, "spl.file");
		recipe_problem(p, jp, "'%s' is %" PRIu64 " bytes, more than the %s ROM loads (%" PRIu32 ")",
			       a->spl.file, a->spl.size, a->soc, soc->spl_max);
		ok = false;
	}
	return ok;
}

static bool parse_ingenic_config(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = {"flash", "erase", "partitions", NULL};
	static const char *const pkeys[] = {"name", "offset", "size", NULL};
	struct recipe_ingenic_config *a = &s->u.ingenic_config;
	int flash = RECIPE_FLASH_SFC_NOR, erase = RECIPE_ERASE_PARTITION;
	char jp[RECIPE_JPATH_MAX], pj[RECIPE_JPATH_MAX];
	const cJSON *parts;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);
	size_t i, n;

	ok = recipe_get_enum(p, o, b, "flash", flash_names, _RECIPE_FLASH_MAX, 0xf, &flash) >= 0 &&
	     ok;
	ok = recipe_get_enum(p, o, b, "erase", erase_names, _RECIPE_ERASE_MAX,
			     1u << RECIPE_ERASE_CHIP | 1u << RECIPE_ERASE_PARTITION |
				     1u << RECIPE_ERASE_NONE,
			     &erase) >= 0 &&
	     ok;
	a->flash = flash;
	a->erase = erase;
	if (recipe_get_item(p, o, b, "partitions", true, &parts, jp) <= 0)
		return false;
	if (!cJSON_IsArray(parts)) {
		recipe_problem(p, jp, "not an array");
		return false;
	}
	n = (size_t)cJSON_GetArraySize(parts);
	if (n == 0 || n > RECIPE_PARTITIONS_MAX) {
		recipe_problem(p, jp, "needs 1 to %d partitions", RECIPE_PARTITIONS_MAX);
		return false;
	}
	a->partitions = calloc(n, sizeof(*a->partitions));
	if (!a->partitions) {
		p->oom = true;
		return false;
	}
	a->n_partitions = n;
	i = 0;
	for (const cJSON *e = parts->child; e; e = e->next, i++) {
		struct recipe_partition *pt = &a->partitions[i];
		bool pok;

		recipe_jpath_index(pj, jp, i);
		if (!cJSON_IsObject(e)) {
			recipe_problem(p, pj, "not an object");
			ok = false;
			continue;
		}
		pok = recipe_check_keys(p, e, pj, pkeys, NULL);
		pok = recipe_get_string(p, e, pj, "name", true, &pt->name) > 0 && pok;
		pok = recipe_get_number(p, e, pj, "offset", true, 0, UINT32_MAX, &pt->offset) > 0 &&
		      pok;
		pok = recipe_get_number(p, e, pj, "size", true, 1, UINT32_MAX, &pt->size) > 0 &&
		      pok;
		if (pok) {
			for (size_t k = 0; k < i; k++) {
				const struct recipe_partition *q = &a->partitions[k];

				if (q->name && strcmp(q->name, pt->name) == 0) {
					recipe_problem(p, pj, "partition '%s' defined twice",
						       pt->name);
					pok = false;
				} else if (q->name && q->size && pt->offset < q->offset + q->size &&
					   q->offset < pt->offset + pt->size) {
					recipe_problem(p, pj, "partition '%s' overlaps '%s'",
						       pt->name, q->name);
					pok = false;
				}
			}
		}
		ok = pok && ok;
	}
	return ok;
}

static bool parse_ingenic_write(struct recipe_parser *p, const cJSON *o, const char *b,
				struct recipe_stage *s)
{
	static const char *const keys[] = {"partition", "offset", "file", "sha256", "verify", NULL};
	struct recipe_ingenic_write *a = &s->u.ingenic_write;
	int verify = RECIPE_VERIFY_CRC32, rp, ro;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	rp = recipe_get_string(p, o, b, "partition", false, &a->partition);
	ro = recipe_get_number(p, o, b, "offset", false, 0, UINT32_MAX, &a->offset);
	ok = rp >= 0 && ro >= 0 && ok;
	if (rp == 0 && ro == 0) {
		recipe_problem(p, b, "needs \"partition\" or \"offset\"");
		ok = false;
	}
	ok = recipe_get_image(p, o, b, &a->image) && ok;
	ok = recipe_get_enum(p, o, b, "verify", verify_names, _RECIPE_VERIFY_MAX, 7u, &verify) >=
		     0 &&
	     ok;
	a->verify = verify;
	return ok;
}

static bool parse_ingenic_secure_boot(struct recipe_parser *p, const cJSON *o, const char *b,
				      struct recipe_stage *s)
{
	static const char *const keys[] = {"file", "sha256", NULL};
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	return recipe_get_image(p, o, b, &s->u.ingenic_secure_boot.image) && ok;
}

typedef bool (*stage_parse_fn)(struct recipe_parser *, const cJSON *, const char *,
			       struct recipe_stage *);

static const stage_parse_fn parsers[_RECIPE_OP_MAX] = {
	[RECIPE_OP_DFUSE_DOWNLOAD] = parse_dfuse_download,
	[RECIPE_OP_DFUSE_READ_UID] = parse_dfuse_read_uid,
	[RECIPE_OP_DFUSE_LEAVE] = parse_dfuse_leave,
	[RECIPE_OP_SDP_BOOT] = parse_sdp_boot,
	[RECIPE_OP_AWAIT] = parse_await,
	[RECIPE_OP_FASTBOOT_GETVAR] = parse_fastboot_getvar,
	[RECIPE_OP_FASTBOOT_FLASH] = parse_fastboot_flash,
	[RECIPE_OP_FASTBOOT_ERASE] = parse_fastboot_erase,
	[RECIPE_OP_FASTBOOT_UCMD] = parse_fastboot_ucmd,
	[RECIPE_OP_FASTBOOT_REBOOT] = parse_no_args,
	[RECIPE_OP_FASTBOOT_CONTINUE] = parse_no_args,
	[RECIPE_OP_INGENIC_BOOT] = parse_ingenic_boot,
	[RECIPE_OP_INGENIC_CHECK_JEDEC] = parse_no_args,
	[RECIPE_OP_INGENIC_CONFIG] = parse_ingenic_config,
	[RECIPE_OP_INGENIC_WRITE] = parse_ingenic_write,
	[RECIPE_OP_INGENIC_REBOOT] = parse_no_args,
	[RECIPE_OP_INGENIC_SECURE_BOOT] = parse_ingenic_secure_boot,
};

bool recipe_parse_stage(struct recipe_parser *p, const cJSON *o, const char *b,
			struct recipe_stage *s)
{
	_cleanup_free_ char *opname = NULL;
	uint64_t timeout, retries = 0;
	char jp[RECIPE_JPATH_MAX];
	bool ok = true;

	s->op = _RECIPE_OP_INVALID;
	if (!cJSON_IsObject(o)) {
		recipe_problem(p, b, "not an object");
		return false;
	}
	if (recipe_get_string(p, o, b, "op", true, &opname) <= 0) {
		recipe_check_keys(p, o, b, NULL, common_keys);
		return false;
	}
	s->op = recipe_op_from_name(opname);
	if (s->op < 0) {
		recipe_jpath_key(jp, b, "op");
		recipe_problem(p, jp, "unknown operation '%s'", opname);
		return false;
	}
	timeout = recipe_op_default_timeout_ms(s->op);
	ok = recipe_get_string(p, o, b, "name", false, &s->label) >= 0 && ok;
	ok = recipe_get_number(p, o, b, "timeout_ms", false, 1, RECIPE_TIMEOUT_MAX_MS, &timeout) >=
		     0 &&
	     ok;
	ok = recipe_get_number(p, o, b, "retries", false, 0, RECIPE_RETRIES_MAX, &retries) >= 0 &&
	     ok;
	ok = recipe_get_bool(p, o, b, "irreversible", &s->irreversible) >= 0 && ok;
	s->timeout_ms = (uint32_t)timeout;
	s->retries = (uint32_t)retries;

	/* eFuse burning is never implied: the stage must say so (protocol-ingenic.md §3.1). */
	if (s->op == RECIPE_OP_INGENIC_SECURE_BOOT && !s->irreversible) {
		recipe_problem(p, b,
			       "ingenic.secure_boot burns eFuses and cannot be undone; "
			       "acknowledge with \"irreversible\": true");
		ok = false;
	} else if (s->op != RECIPE_OP_INGENIC_SECURE_BOOT &&
		   cJSON_GetObjectItemCaseSensitive(o, "irreversible")) {
		recipe_jpath_key(jp, b, "irreversible");
		recipe_problem(p, jp, "only allowed on ingenic.secure_boot");
		ok = false;
	}
	return parsers[s->op](p, o, b, s) && ok;
}
