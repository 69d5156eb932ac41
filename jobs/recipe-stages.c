/*
 * This file implements the parsers of the "stages" entries: the keys every
 * stage takes (op, name, timeout_ms, retries, irreversible) and one parser
 * per operation for that stage's own fields.  Rules across stages live in
 * recipe-check.c.  The fields are documented in jobs/flashd.recipe.5; keep
 * the two in step.
 */
#include "jobs/recipe-ops.h"
#include "jobs/recipe-private.h"
#include "protocols/fastboot.h"
#include "protocols/ingenic.h"
#include "protocols/spinor_parts.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/dfu_file.h"

/* Spellings of the enum-valued stage fields, indexed by their enums in jobs/recipe.h. */
static const char *const erase_names[_RECIPE_ERASE_MAX] = {
	[RECIPE_ERASE_NONE] = "none",		[RECIPE_ERASE_PAGES] = "pages",
	[RECIPE_ERASE_MASS] = "mass",		[RECIPE_ERASE_CHIP] = "chip",
	[RECIPE_ERASE_PARTITION] = "partition", [RECIPE_ERASE_BLOCKS] = "blocks",
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
static const char *const common_keys[] = { "op",      "name",	      "timeout_ms",
					   "retries", "irreversible", NULL };

/*
 * A 0-byte image has nothing to write and would "pass" with CRC 00000000;
 * refuse it where the image is named (issue 12).  base is the object that
 * holds "file" (the stage, or a nested image object such as "spl").
 */
static bool image_not_empty(struct recipe_parser *p, const char *base,
			    const struct recipe_image *img)
{
	char jp[RECIPE_JPATH_MAX];

	if (img->size > 0)
		return true;
	recipe_jpath_key(jp, base, "file");
	recipe_problem(p, jp, "'%s' is empty", img->file);
	return false;
}

/* recipe_get_image() that also refuses an empty file. */
static bool get_image(struct recipe_parser *p, const cJSON *o, const char *b,
		      struct recipe_image *img)
{
	return recipe_get_image(p, o, b, img) && image_not_empty(p, b, img);
}

/* A writing stage's image: a file, or "identity": NAME (recipe-identity.c). */
static bool get_stage_image(struct recipe_parser *p, const cJSON *o, const char *b,
			    struct recipe_image *img)
{
	if (cJSON_HasObjectItem(o, "identity"))
		return recipe_get_identity_image(p, o, b, img);
	return get_image(p, o, b, img);
}

/* recipe_get_image_object() that also refuses an empty file; 1/0/-1. */
static int get_image_object(struct recipe_parser *p, const cJSON *o, const char *b, const char *key,
			    bool required, struct recipe_image *img)
{
	char jp[RECIPE_JPATH_MAX];
	int r = recipe_get_image_object(p, o, b, key, required, img);

	recipe_jpath_key(jp, b, key);
	if (r > 0 && !image_not_empty(p, jp, img))
		return -1;
	return r;
}

/*
 * Refusals that depend on the recipe alone, made here so that "recipe check"
 * says what the run would only find out on the first unit (issue 12).
 */

/* ST system bootloaders expose the option bytes as alt 1; writing them resets the ROM. */
static bool dfuse_download_supported(struct recipe_parser *p, const char *b,
				     const struct recipe_dfuse_download *a)
{
	char jp[RECIPE_JPATH_MAX];

	if (a->alt != 1)
		return true;
	recipe_jpath_key(jp, b, "alt");
	recipe_problem(p, jp,
		       "alt 1 is the option-byte area of ST system bootloaders; "
		       "option bytes are not supported by dfuse.download");
	return false;
}

/* What fb_flash_image() (protocols/fastboot.c) refuses whatever the device says. */
static bool fastboot_flash_supported(struct recipe_parser *p, const char *b,
				     const struct recipe_fastboot_flash *a)
{
	char jp[RECIPE_JPATH_MAX];
	bool ok = true;

	if (a->raw && a->offset % 512) {
		recipe_jpath_key(jp, b, "offset");
		recipe_problem(p, jp, "0x%" PRIx64 " is not a multiple of the 512-byte block",
			       a->offset);
		ok = false;
	}
	recipe_jpath_key(jp, b, "verify");
	if (a->verify == RECIPE_VERIFY_CRC32 && !a->raw && a->partition) {
		recipe_problem(p, jp,
			       "crc32 on partition '%s' is not supported: device-side CRC needs a "
			       "raw \"offset\" target",
			       a->partition);
		ok = false;
	} else if (a->verify == RECIPE_VERIFY_CRC32 && a->image.sparse) {
		recipe_problem(p, jp,
			       "crc32 of sparse image '%s' is not supported (its DONT_CARE blocks "
			       "are unknown to the host)",
			       a->image.file);
		ok = false;
	}
	/* Without max_download the run downloads at most FB_SPARSE_CAP at once
	 * (whatever the board's buffer), so a larger file never fits unsplit. */
	if (a->sparse == RECIPE_SPARSE_NEVER && !a->max_download && a->image.path &&
	    a->image.size > FB_SPARSE_CAP) {
		recipe_jpath_key(jp, b, "file");
		recipe_problem(
			p, jp,
			"'%s' (%" PRIu64 " bytes) is larger than the %u bytes downloaded at once "
			"without max_download and sparse is \"never\": give max_download (up to "
			"the board's max-download-size) or let it split (sparse \"auto\")",
			a->image.file, a->image.size, FB_SPARSE_CAP);
		ok = false;
	}
	if (a->sparse == RECIPE_SPARSE_NEVER && a->max_download && a->image.path &&
	    a->image.size > a->max_download) {
		recipe_jpath_key(jp, b, "file");
		recipe_problem(p, jp,
			       "'%s' (%" PRIu64 " bytes) is larger than max_download (%" PRIu32
			       ") and sparse is \"never\"",
			       a->image.file, a->image.size, a->max_download);
		ok = false;
	}
	return ok;
}

/* The burner driver speaks SFC NOR only (jobs/job-ingenic.c, protocols/ingenic_cfg.c). */
static bool ingenic_flash_supported(struct recipe_parser *p, const char *b, int flash)
{
	char jp[RECIPE_JPATH_MAX];

	if (flash == RECIPE_FLASH_SFC_NOR)
		return true;
	recipe_jpath_key(jp, b, "flash");
	recipe_problem(p, jp, "'%s' is not supported by this flashd build (supported: sfc_nor)",
		       flash_names[flash]);
	return false;
}

/* Each parser returns true when every field of the stage was valid. */

/* Read a whole image file for a content check; *ret is malloc'd. */
static bool dfu_read_image(struct recipe_parser *p, const char *jp, const struct recipe_image *img,
			   uint8_t **ret)
{
	_cleanup_close_ int fd = open(img->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	if (fd < 0) {
		recipe_problem(p, jp, "cannot open '%s': %s", img->file, strerror(errno));
		return false;
	}
	buf = malloc(img->size ? img->size : 1);
	if (!buf) {
		p->oom = true;
		return false;
	}
	while (len < img->size) {
		ssize_t n = read(fd, buf + len, img->size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			recipe_problem(p, jp, "cannot read '%s': %s", img->file,
				       n < 0 ? strerror(errno) : "file shrank");
			return false;
		}
		len += (size_t)n;
	}
	*ret = TAKE_PTR(buf);
	return true;
}

/* Whether the image starts with the DfuSe prefix signature (§2.10); content, not name. */
static bool dfu_has_prefix(const struct recipe_image *img)
{
	_cleanup_close_ int fd = -1;
	char sig[5];

	if (!img->path || img->size < sizeof(sig))
		return false;
	fd = open(img->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return fd >= 0 && pread(fd, sig, sizeof(sig), 0) == (ssize_t)sizeof(sig) &&
	       memcmp(sig, "DfuSe", sizeof(sig)) == 0;
}

/* The one target for alt, its elements in range and not overlapping (§2.10). */
static bool dfu_check_target(struct recipe_parser *p, const char *jp, const char *file,
			     const struct dfu_file *f, uint8_t alt,
			     const struct dfu_file_target **ret)
{
	const struct dfu_file_target *tg = NULL;

	for (unsigned int t = 0; t < f->n_targets; t++) {
		if (f->targets[t].alt != alt)
			continue;
		if (tg) {
			recipe_problem(p, jp, "'%s' has two targets for alt %u", file, alt);
			return false;
		}
		tg = &f->targets[t];
	}
	if (!tg || tg->n_elements == 0) {
		recipe_problem(p, jp, "'%s' has %s for alt %u (the stage's \"alt\")", file,
			       tg ? "an empty target" : "no target", alt);
		return false;
	}
	for (uint32_t i = 0; i < tg->n_elements; i++) {
		const struct dfu_file_element *el = &tg->elements[i];

		if ((uint64_t)el->address + el->size > (uint64_t)UINT32_MAX + 1) {
			recipe_problem(p, jp, "'%s' element %u (0x%08x, %u bytes) passes 4 GiB",
				       file, i, el->address, el->size);
			return false;
		}
		for (uint32_t k = 0; k < i; k++) {
			const struct dfu_file_element *q = &tg->elements[k];

			if (el->address < (uint64_t)q->address + q->size &&
			    q->address < (uint64_t)el->address + el->size) {
				recipe_problem(p, jp, "'%s' elements %u and %u overlap at 0x%08x",
					       file, k, i, el->address);
				return false;
			}
		}
	}
	*ret = tg;
	return true;
}

/*
 * A dfuse.download image that starts with the DfuSe prefix (decided by
 * content, not by name) is a .dfu container: suffix CRC checked, sizes
 * consistent (protocols/dfu_file.c), its elements carry their own addresses
 * (protocol-dfu.md §2.10, ST UM0391), so "address" must not be given.  Any
 * other image needs "address".  Stricter than pydfu's read_dfu_file (seed
 * 002), which prints a CRC or parse error and flashes anyway: a bad file is
 * refused here, before any board.  Returns true when the stage is consistent.
 */
static bool dfuse_download_dfu_file(struct recipe_parser *p, const char *b, int raddr,
				    struct recipe_dfuse_download *a)
{
	_cleanup_(dfu_file_freep) struct dfu_file *f = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	const struct dfu_file_target *tg;
	char jp[RECIPE_JPATH_MAX], ja[RECIPE_JPATH_MAX];
	struct err e = { 0 };
	uint64_t lo = UINT64_MAX, hi = 0;

	recipe_jpath_key(jp, b, "file");
	recipe_jpath_key(ja, b, "address");
	if (!dfu_has_prefix(&a->image)) {
		if (raddr == 0)
			recipe_problem(p, ja, "missing");
		return raddr != 0;
	}
	a->dfu_file = true;
	if (raddr > 0) {
		recipe_problem(p, ja,
			       "'%s' is a DfuSe .dfu file whose elements carry their own "
			       "addresses; remove \"address\"",
			       a->image.file);
		return false;
	}
	if (!dfu_read_image(p, jp, &a->image, &buf))
		return false;
	if (dfu_file_parse(buf, a->image.size, &f, &e) < 0) {
		recipe_problem(p, jp, "'%s': bad DfuSe file: %s", a->image.file, e.msg);
		return false;
	}
	if (f->suffix.bcd_dfu != DFU_FILE_BCD_DFUSE) {
		recipe_problem(p, jp, "'%s': DfuSe prefix but suffix bcdDFU 0x%04x, not 0x011a",
			       a->image.file, f->suffix.bcd_dfu);
		return false;
	}
	if (!dfu_check_target(p, jp, a->image.file, f, a->alt, &tg))
		return false;
	for (uint32_t i = 0; i < tg->n_elements; i++) {
		lo = tg->elements[i].address < lo ? tg->elements[i].address : lo;
		if ((uint64_t)tg->elements[i].address + tg->elements[i].size > hi)
			hi = (uint64_t)tg->elements[i].address + tg->elements[i].size;
	}
	a->address = (uint32_t)lo;
	a->image.write_size = hi - lo;
	a->dfu_vid = f->suffix.id_vendor;
	a->dfu_pid = f->suffix.id_product;
	a->dfu_elements = tg->n_elements;
	return true;
}

bool recipe_parse_dfuse_download(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = {
		"alt",	  "address",	      "file",	  "sha256", "erase",
		"verify", "destroys_earlier", "identity", NULL
	};
	struct recipe_dfuse_download *a = &s->u.dfuse_download;
	int erase = RECIPE_ERASE_PAGES, verify = RECIPE_VERIFY_READBACK;
	uint64_t alt = 0, addr = 0;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);
	int raddr;

	ok = recipe_get_number(p, o, b, "alt", false, 0, 255, &alt) >= 0 && ok;
	/* Required unless the image is a .dfu: see dfuse_download_dfu_file(). */
	raddr = recipe_get_number(p, o, b, "address", false, 0, UINT32_MAX, &addr);
	ok = raddr >= 0 && ok;
	ok = get_stage_image(p, o, b, &a->image) && ok;
	ok = recipe_get_enum(p, o, b, "erase", erase_names, _RECIPE_ERASE_MAX,
			     1u << RECIPE_ERASE_PAGES | 1u << RECIPE_ERASE_MASS |
				     1u << RECIPE_ERASE_NONE,
			     &erase) >= 0 &&
	     ok;
	ok = recipe_get_enum(p, o, b, "verify", verify_names, _RECIPE_VERIFY_MAX,
			     1u << RECIPE_VERIFY_READBACK | 1u << RECIPE_VERIFY_NONE,
			     &verify) >= 0 &&
	     ok;
	ok = recipe_get_bool(p, o, b, "destroys_earlier", &a->destroys_earlier) >= 0 && ok;
	a->alt = (uint8_t)alt;
	a->address = (uint32_t)addr;
	a->erase = erase;
	a->verify = verify;
	ok = dfuse_download_dfu_file(p, b, raddr, a) && ok;
	ok = dfuse_download_supported(p, b, a) && ok;
	if (ok && !a->dfu_file && addr + a->image.size > (uint64_t)UINT32_MAX + 1) {
		char jp[RECIPE_JPATH_MAX];

		recipe_jpath_key(jp, b, "address");
		recipe_problem(p, jp, "'%s' (%" PRIu64 " bytes) does not fit below 4 GiB",
			       a->image.file, a->image.size);
		ok = false;
	}
	return ok;
}

bool recipe_parse_dfuse_read_uid(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = { "alt", "address", "length", NULL };
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

bool recipe_parse_dfuse_leave(struct recipe_parser *p, const cJSON *o, const char *b,
			      struct recipe_stage *s)
{
	static const char *const keys[] = { "address", NULL };
	uint64_t addr = 0;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = recipe_get_number(p, o, b, "address", true, 0, UINT32_MAX, &addr) > 0 && ok;
	s->u.dfuse_leave.address = (uint32_t)addr;
	return ok;
}

bool recipe_parse_sdp_boot(struct recipe_parser *p, const cJSON *o, const char *b,
			   struct recipe_stage *s)
{
	static const char *const keys[] = { "file", "sha256", "skip_spl", "offset", NULL };
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = get_image(p, o, b, &s->u.sdp_boot.image) && ok;
	return recipe_parse_sdp_spl(p, o, b, &s->u.sdp_boot) && ok;
}

bool recipe_parse_await(struct recipe_parser *p, const cJSON *o, const char *b,
			struct recipe_stage *s)
{
	static const char *const keys[] = { "vid", "pid", NULL };
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = recipe_get_hex16(p, o, b, "vid", true, &s->u.await.vid) > 0 && ok;
	ok = recipe_get_hex16(p, o, b, "pid", true, &s->u.await.pid) > 0 && ok;
	return ok;
}

bool recipe_parse_fastboot_getvar(struct recipe_parser *p, const cJSON *o, const char *b,
				  struct recipe_stage *s)
{
	static const char *const keys[] = { "var", "expect", NULL };
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

/* U-Boot's "gpt"/"mbr" names take a partition table: check it now. */
static bool table_image_ok(struct recipe_parser *p, const char *b,
			   const struct recipe_fastboot_flash *a)
{
	char jp[RECIPE_JPATH_MAX];

	if (a->raw || !a->partition)
		return true;
	recipe_jpath_key(jp, b, "file");
	return recipe_check_table_image(p, jp, a->partition, &a->image);
}

bool recipe_parse_fastboot_flash(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = { "partition", "offset",	     "file",
					    "sha256",	 "sparse",	     "max_download",
					    "verify",	 "destroys_earlier", "identity",
					    NULL };
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
	ok = get_stage_image(p, o, b, &a->image) && ok;
	ok = table_image_ok(p, b, a) && ok;
	ok = recipe_get_enum(p, o, b, "sparse", sparse_names, _RECIPE_SPARSE_MAX, 3u, &sparse) >=
		     0 &&
	     ok;
	ok = recipe_get_number(p, o, b, "max_download", false, 4096, UINT32_MAX, &maxdl) >= 0 && ok;
	ok = recipe_get_enum(p, o, b, "verify", verify_names, _RECIPE_VERIFY_MAX,
			     1u << RECIPE_VERIFY_NONE | 1u << RECIPE_VERIFY_CRC32, &verify) >= 0 &&
	     ok;
	ok = recipe_get_bool(p, o, b, "destroys_earlier", &a->destroys_earlier) >= 0 && ok;
	a->sparse = sparse;
	a->max_download = (uint32_t)maxdl;
	a->verify = verify;
	return fastboot_flash_supported(p, b, a) && ok;
}

bool recipe_parse_fastboot_erase(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = { "partition", "destroys_earlier", NULL };
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = recipe_get_bool(p, o, b, "destroys_earlier", &s->u.fastboot_erase.destroys_earlier) >=
		     0 &&
	     ok;
	if (recipe_get_string(p, o, b, "partition", true, &s->u.fastboot_erase.partition) <= 0)
		return false;
	return check_partition_name(p, b, "partition", s->u.fastboot_erase.partition) && ok;
}

bool recipe_parse_fastboot_ucmd(struct recipe_parser *p, const cJSON *o, const char *b,
				struct recipe_stage *s)
{
	static const char *const keys[] = { "command", "async", NULL };
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

bool recipe_parse_no_args(struct recipe_parser *p, const cJSON *o, const char *b,
			  struct recipe_stage *s)
{
	(void)s;
	return recipe_check_keys(p, o, b, NULL, common_keys);
}

bool recipe_parse_ingenic_boot(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_stage *s)
{
	static const char *const keys[] = { "soc", "ginfo", "spl", "burner", "d2i_len", NULL };
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
	r = get_image_object(p, o, b, "ginfo", false, &a->ginfo);
	a->has_ginfo = r != 0;
	ok = r >= 0 && ok;
	ok = get_image_object(p, o, b, "spl", true, &a->spl) > 0 && ok;
	ok = get_image_object(p, o, b, "burner", true, &a->burner) > 0 && ok;
	r = recipe_get_number(p, o, b, "d2i_len", false, 0, 0x100000, &v);
	if (r > 0)
		d2i = (uint32_t)v;
	ok = r >= 0 && ok;
	a->d2i_len = d2i;
	/* d2i_len only says what goes to I-cache (§2.3); the ROM's load area bounds the SPL. */
	const struct ingenic_soc *soc = ok ? ingenic_soc_find(a->soc) : NULL;

	if (soc && soc->spl_max && a->spl.size > soc->spl_max) {
		recipe_jpath_key(jp, b, "spl.file");
		recipe_problem(p, jp,
			       "'%s' is %" PRIu64 " bytes, more than the %s ROM loads (%" PRIu32
			       ")",
			       a->spl.file, a->spl.size, a->soc, soc->spl_max);
		ok = false;
	}
	return ok;
}

/*
 * ingenic.config "nor" (parameters for a part the SPI-NOR table lacks) and
 * "quad".  The erase unit is always the 64 KiB block (D8h/DCh), which every
 * 25-series part has; > 16 MiB means the dedicated 4-byte opcodes.
 */
static bool parse_ingenic_nor(struct recipe_parser *p, const cJSON *o, const char *b,
			      struct recipe_ingenic_config *a)
{
	static const char *const keys[] = { "size", "page_size", "quad_enable", NULL };
	const char *qe[_SPINOR_QE_MAX];
	char jp[RECIPE_JPATH_MAX], sj[RECIPE_JPATH_MAX];
	const cJSON *n;
	uint64_t size = 0, page = 256;
	int q = 0;
	bool ok = recipe_get_bool(p, o, b, "quad", &a->quad) >= 0;

	for (int i = 0; i < _SPINOR_QE_MAX; i++)
		qe[i] = spinor_qe_name((enum spinor_qe)i);
	if (recipe_get_item(p, o, b, "nor", false, &n, jp) <= 0)
		return ok;
	if (!cJSON_IsObject(n)) {
		recipe_problem(p, jp, "not an object");
		return false;
	}
	ok = recipe_check_keys(p, n, jp, keys, NULL) && ok;
	if (recipe_get_number(p, n, jp, "size", true, 64 * 1024, 256u << 20, &size) > 0 &&
	    (size & (size - 1))) {
		recipe_jpath_key(sj, jp, "size");
		recipe_problem(p, sj, "%" PRIu64 " is not a power of two", size);
		ok = false;
	}
	ok = recipe_get_number(p, n, jp, "page_size", false, 1, 4096, &page) >= 0 && ok;
	ok = recipe_get_enum(p, n, jp, "quad_enable", qe, _SPINOR_QE_MAX,
			     (1u << _SPINOR_QE_MAX) - 1, &q) >= 0 &&
	     ok;
	a->nor = (struct recipe_nor){
		.given = ok && size,
		.size = (uint32_t)size,
		.page_size = (uint32_t)page,
		.quad_enable = q,
	};
	return ok && size;
}

/*
 * An ingenic.config without "partitions" (raw offsets, as ingenic-flash-tool's
 * --offset): the job gives the burner one partition over the whole chip, so
 * "partition" would erase the chip at the first write.  The erase must be
 * said: "blocks" (only the blocks each write touches) or "chip".
 */
static bool ingenic_no_table_erase_ok(struct recipe_parser *p, const char *b, bool given, int erase)
{
	char jp[RECIPE_JPATH_MAX];

	recipe_jpath_key(jp, b, "erase");
	if (!given) {
		recipe_problem(p, jp,
			       "required without \"partitions\": \"blocks\" (the erase blocks each "
			       "write touches) or \"chip\"");
		return false;
	}
	if (erase == RECIPE_ERASE_PARTITION) {
		recipe_problem(p, jp,
			       "\"partition\" needs \"partitions\"; without a table use "
			       "\"blocks\" or \"chip\"");
		return false;
	}
	return true;
}

bool recipe_parse_ingenic_config(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = { "flash", "erase", "partitions", "destroys_earlier",
					    "nor",   "quad",  NULL };
	static const char *const pkeys[] = { "name", "offset", "size", NULL };
	struct recipe_ingenic_config *a = &s->u.ingenic_config;
	int flash = RECIPE_FLASH_SFC_NOR, erase = RECIPE_ERASE_PARTITION;
	char jp[RECIPE_JPATH_MAX], pj[RECIPE_JPATH_MAX];
	const cJSON *parts;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);
	size_t i, n;
	int er, r;

	ok = recipe_get_enum(p, o, b, "flash", flash_names, _RECIPE_FLASH_MAX, 0xf, &flash) >= 0 &&
	     ok;
	er = recipe_get_enum(p, o, b, "erase", erase_names, _RECIPE_ERASE_MAX,
			     1u << RECIPE_ERASE_CHIP | 1u << RECIPE_ERASE_PARTITION |
				     1u << RECIPE_ERASE_NONE | 1u << RECIPE_ERASE_BLOCKS,
			     &erase);
	ok = er >= 0 && ok;
	/* "none" is the old name of "blocks": the burner never programs NOR unerased (§3.6). */
	if (erase == RECIPE_ERASE_NONE)
		erase = RECIPE_ERASE_BLOCKS;
	a->flash = flash;
	a->erase = erase;
	ok = recipe_get_bool(p, o, b, "destroys_earlier", &a->destroys_earlier) >= 0 && ok;
	ok = ingenic_flash_supported(p, b, flash) && ok;
	ok = parse_ingenic_nor(p, o, b, a) && ok;
	r = recipe_get_item(p, o, b, "partitions", false, &parts, jp);
	if (r < 0)
		return false;
	if (r == 0)
		return er >= 0 && ingenic_no_table_erase_ok(p, b, er > 0, erase) && ok;
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

bool recipe_parse_ingenic_write(struct recipe_parser *p, const cJSON *o, const char *b,
				struct recipe_stage *s)
{
	static const char *const keys[] = { "partition", "offset",	     "file",	 "sha256",
					    "verify",	 "destroys_earlier", "identity", NULL };
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
	ok = get_stage_image(p, o, b, &a->image) && ok;
	ok = recipe_get_enum(p, o, b, "verify", verify_names, _RECIPE_VERIFY_MAX, 7u, &verify) >=
		     0 &&
	     ok;
	ok = recipe_get_bool(p, o, b, "destroys_earlier", &a->destroys_earlier) >= 0 && ok;
	a->verify = verify;
	return ok;
}

bool recipe_parse_ingenic_secure_boot(struct recipe_parser *p, const cJSON *o, const char *b,
				      struct recipe_stage *s)
{
	static const char *const keys[] = { "file", "sha256", NULL };
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = get_image(p, o, b, &s->u.ingenic_secure_boot.image) && ok;
	/* jobs/job-ingenic.c refuses it on every unit; without "irreversible" that was said already. */
	if (s->irreversible) {
		recipe_problem(p, b,
			       "ingenic.secure_boot: secure boot / eFuse burning is not supported "
			       "by this flashd build");
		ok = false;
	}
	return ok;
}

bool recipe_parse_fastboot_oem(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_stage *s)
{
	static const char *const keys[] = { "command", NULL };
	struct recipe_fastboot_oem *a = &s->u.fastboot_oem;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);
	char jp[RECIPE_JPATH_MAX];

	if (recipe_get_string(p, o, b, "command", true, &a->command) <= 0)
		return false;
	recipe_jpath_key(jp, b, "command");
	if (!a->command[0] || !strncmp(a->command, "oem ", 4)) {
		recipe_problem(p, jp,
			       "give the words after \"oem \" (format, partconf:1 1, run:...)");
		return false;
	}
	/* "oem " + command must fit U-Boot's 4096-byte command buffer (§4.1). */
	if (strlen(a->command) > 4000) {
		recipe_problem(p, jp, "longer than 4000 characters");
		return false;
	}
	return ok;
}

bool recipe_parse_fastboot_gpt(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_stage *s)
{
	static const char *const keys[] = { "disk_size", "partitions", NULL };
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	return recipe_parse_gpt_fields(p, o, b, &s->u.fastboot_gpt) && ok;
}

/*
 * STM32 option bytes and read protection (protocol-dfu.md §2.3, §3.5; ST
 * AN3156).  The address names a known option-byte area; the stage's bytes
 * must fill it exactly, since the ROM rewrites the whole area.
 */
static bool get_option_area(struct recipe_parser *p, const cJSON *o, const char *b, uint8_t *alt,
			    uint32_t *address)
{
	uint64_t a = 1, addr = 0x1FFFC000u;
	char jp[RECIPE_JPATH_MAX];
	bool ok = true;

	ok = recipe_get_number(p, o, b, "alt", false, 0, 255, &a) >= 0 && ok;
	ok = recipe_get_number(p, o, b, "address", false, 0, UINT32_MAX, &addr) >= 0 && ok;
	*alt = (uint8_t)a;
	*address = (uint32_t)addr;
	if (ok && !recipe_option_area(*address)) {
		recipe_jpath_key(jp, b, "address");
		recipe_problem(p, jp,
			       "0x%08" PRIx32 " is no known STM32 option-byte area (0x1FFFC000: "
			       "F2/F4, 16 bytes; 0x1FFF7800: L4, 40 bytes)",
			       *address);
		ok = false;
	}
	return ok;
}

/* RDP level 2 disables the ROM for good: only with "irreversible": true, and that only then. */
static bool rdp_acknowledged(struct recipe_parser *p, const cJSON *o, const char *b,
			     const struct recipe_stage *s, unsigned level, const char *what)
{
	char jp[RECIPE_JPATH_MAX];

	if (level == 2 && !s->irreversible) {
		recipe_problem(p, b,
			       "%s sets read protection level 2, which is permanent (the system "
			       "bootloader and debug access are disabled for good); acknowledge "
			       "with \"irreversible\": true",
			       what);
		return false;
	}
	if (level != 2 && cJSON_GetObjectItemCaseSensitive(o, "irreversible")) {
		recipe_jpath_key(jp, b, "irreversible");
		recipe_problem(p, jp,
			       "%s sets RDP level %u, which can be undone: \"irreversible\" is "
			       "only for level 2",
			       what, level);
		return false;
	}
	return true;
}

bool recipe_parse_dfuse_option_bytes(struct recipe_parser *p, const cJSON *o, const char *b,
				     struct recipe_stage *s)
{
	static const char *const keys[] = { "alt", "address", "file", "sha256", NULL };
	struct recipe_dfuse_option_bytes *a = &s->u.dfuse_option_bytes;
	const struct recipe_option_area *area;
	_cleanup_free_ uint8_t *buf = NULL;
	char jp[RECIPE_JPATH_MAX], what[64];
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = get_option_area(p, o, b, &a->alt, &a->address) && ok;
	if (!get_image(p, o, b, &a->image) || !ok)
		return false;
	area = recipe_option_area(a->address);
	recipe_jpath_key(jp, b, "file");
	if (a->image.size != area->size) {
		recipe_problem(p, jp,
			       "'%s' is %" PRIu64 " bytes; the %s option bytes at 0x%08" PRIx32
			       " are %" PRIu32 " bytes",
			       a->image.file, a->image.size, area->parts, a->address, area->size);
		return false;
	}
	if (!dfu_read_image(p, jp, &a->image, &buf))
		return false;
	a->rdp = buf[area->rdp_off];
	snprintf(what, sizeof(what), "'%s' (RDP byte 0x%02X)", a->image.file, a->rdp);
	return rdp_acknowledged(p, o, b, s, recipe_rdp_level(a->rdp), what);
}

bool recipe_parse_dfuse_read_protect(struct recipe_parser *p, const cJSON *o, const char *b,
				     struct recipe_stage *s)
{
	static const char *const keys[] = { "alt", "address", "level", NULL };
	struct recipe_dfuse_read_protect *a = &s->u.dfuse_read_protect;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);
	uint64_t level = 0;

	ok = get_option_area(p, o, b, &a->alt, &a->address) && ok;
	if (recipe_get_number(p, o, b, "level", true, 1, 2, &level) <= 0)
		return false;
	a->level = (unsigned)level;
	return rdp_acknowledged(p, o, b, s, a->level, "dfuse.read_protect") && ok;
}

bool recipe_parse_dfuse_read_unprotect(struct recipe_parser *p, const cJSON *o, const char *b,
				       struct recipe_stage *s)
{
	static const char *const keys[] = { "alt", "address", "destroys_earlier", NULL };
	struct recipe_dfuse_read_unprotect *a = &s->u.dfuse_read_unprotect;
	bool ok = recipe_check_keys(p, o, b, keys, common_keys);

	ok = get_option_area(p, o, b, &a->alt, &a->address) && ok;
	ok = recipe_get_bool(p, o, b, "destroys_earlier", &a->destroys_earlier) >= 0 && ok;
	return ok;
}

/* ---- releases: what each op's parser allocated ---- */

static void image_release(struct recipe_image *img)
{
	free(img->file);
	free(img->path);
	img->file = img->path = NULL;
}

void recipe_release_dfuse_download(struct recipe_stage *s)
{
	image_release(&s->u.dfuse_download.image);
}

void recipe_release_dfuse_option_bytes(struct recipe_stage *s)
{
	image_release(&s->u.dfuse_option_bytes.image);
}

void recipe_release_sdp_boot(struct recipe_stage *s)
{
	image_release(&s->u.sdp_boot.image);
}

void recipe_release_fastboot_getvar(struct recipe_stage *s)
{
	free(s->u.fastboot_getvar.var);
	free(s->u.fastboot_getvar.expect);
}

void recipe_release_fastboot_flash(struct recipe_stage *s)
{
	free(s->u.fastboot_flash.partition);
	image_release(&s->u.fastboot_flash.image);
}

void recipe_release_fastboot_erase(struct recipe_stage *s)
{
	free(s->u.fastboot_erase.partition);
}

void recipe_release_fastboot_ucmd(struct recipe_stage *s)
{
	free(s->u.fastboot_ucmd.command);
}

void recipe_release_fastboot_oem(struct recipe_stage *s)
{
	free(s->u.fastboot_oem.command);
}

void recipe_release_fastboot_gpt(struct recipe_stage *s)
{
	for (size_t i = 0; i < s->u.fastboot_gpt.n_parts; i++)
		free(s->u.fastboot_gpt.parts[i].name);
	free(s->u.fastboot_gpt.parts);
}

void recipe_release_ingenic_boot(struct recipe_stage *s)
{
	free(s->u.ingenic_boot.soc);
	image_release(&s->u.ingenic_boot.ginfo);
	image_release(&s->u.ingenic_boot.spl);
	image_release(&s->u.ingenic_boot.burner);
}

void recipe_release_ingenic_config(struct recipe_stage *s)
{
	for (size_t i = 0; i < s->u.ingenic_config.n_partitions; i++)
		free(s->u.ingenic_config.partitions[i].name);
	free(s->u.ingenic_config.partitions);
}

void recipe_release_ingenic_write(struct recipe_stage *s)
{
	free(s->u.ingenic_write.partition);
	image_release(&s->u.ingenic_write.image);
}

void recipe_release_ingenic_secure_boot(struct recipe_stage *s)
{
	image_release(&s->u.ingenic_secure_boot.image);
}

bool recipe_parse_stage(struct recipe_parser *p, const cJSON *o, const char *b,
			struct recipe_stage *s)
{
	_cleanup_free_ char *opname = NULL;
	const struct recipe_op_desc *d;
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
	d = recipe_op_desc(s->op);
	timeout = d->timeout_ms;
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
	if (d->irreversible == RECIPE_IRREVERSIBLE_REQUIRED && !s->irreversible) {
		recipe_problem(p, b,
			       "%s %s and cannot be undone; "
			       "acknowledge with \"irreversible\": true",
			       d->name, d->irreversible_why);
		ok = false;
	} else if (d->irreversible == RECIPE_IRREVERSIBLE_REFUSED &&
		   cJSON_GetObjectItemCaseSensitive(o, "irreversible")) {
		/* dfuse.download: only into OTP, decided by recipe_check_identity(). */
		/* The RDP level 2 stages decide in their own parsers (rdp_acknowledged()). */
		recipe_jpath_key(jp, b, "irreversible");
		recipe_problem(p, jp,
			       "only allowed on ingenic.secure_boot and on STM32 RDP level 2");
		ok = false;
	}
	return d->parse(p, o, b, s) && ok;
}

/*
 * The suffix of a .dfu names the device it was built for (idVendor,
 * idProduct; 0xffff = any, protocol-dfu.md §1.10).  Check it against the
 * device each dfuse.download talks to: the recipe's match, or the VID/PID
 * of the last await before it.
 */
void recipe_check_dfu_ids(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok)
{
	uint16_t vid = r->match.vid, pid = r->match.pid;
	char jp[RECIPE_JPATH_MAX], sj[RECIPE_JPATH_MAX];

	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_stage *s = &r->stages[i];
		const struct recipe_dfuse_download *a = &s->u.dfuse_download;

		if (s->op == RECIPE_OP_AWAIT && stage_ok[i]) {
			vid = s->u.await.vid;
			pid = s->u.await.pid;
		}
		if (s->op != RECIPE_OP_DFUSE_DOWNLOAD || !stage_ok[i] || !a->dfu_file)
			continue;
		if ((a->dfu_vid == 0xffff || a->dfu_vid == vid) &&
		    (a->dfu_pid == 0xffff || a->dfu_pid == pid))
			continue;
		recipe_jpath_index(sj, "stages", i);
		recipe_jpath_key(jp, sj, "file");
		recipe_problem(p, jp, "'%s' is for %04x:%04x, the stage's device is %04x:%04x",
			       a->image.file, a->dfu_vid, a->dfu_pid, vid, pid);
	}
}
