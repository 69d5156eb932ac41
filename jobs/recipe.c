/*
 * This file implements loading one recipe file: JSON parsing with cJSON, the
 * per-field checks (types, unknown keys, hex IDs, enums, ranges) and the image
 * checks (path confinement, sha256 by streaming the file once).  Cross-stage
 * rules live in recipe-check.c, recipe sets in recipe-set.c.  The format is
 * documented in jobs/flashd.recipe.5; keep the two in step.
 */
#include "jobs/recipe.h"
#include "jobs/recipe-private.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

DEFINE_CLEANUP_FUNC(cJSON *, cJSON_Delete);

#define JPATH_MAX 160

/* ---- diagnostics ---- */

int recipe_diags_add(struct recipe_diags *d, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	if (!d)
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		char **m = realloc(d->msgs, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		d->msgs = m;
		d->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	d->msgs[d->n++] = msg;
	return 0;
}

void recipe_diags_release(struct recipe_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	*d = RECIPE_DIAGS_INIT;
}

void recipe_problem(struct recipe_parser *p, const char *jpath, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	p->problems++;
	if (jpath && *jpath) {
		if (recipe_diags_add(p->diags, "%s: %s: %s", p->file, jpath, text) < 0)
			p->oom = true;
	} else if (recipe_diags_add(p->diags, "%s: %s", p->file, text) < 0) {
		p->oom = true;
	}
}

/* ---- names ---- */

struct op_desc {
	const char *name;
	enum recipe_family family;
	bool leaves;
	uint32_t timeout_ms;	/* default whole-stage deadline */
};

/*
 * Default deadlines: generous, from the timing notes.  DfuSe mass erase can
 * take 32 s on F4 (protocol-dfu.md §2.8); SDP ROM + DDR init ≤ 10 s and
 * re-enumeration 10-15 s (protocol-imx-sdp-fastboot.md §8.3); fastboot flash
 * to eMMC/NOR takes minutes (§4.6); Ingenic chip erase at INIT 15-120 s, and
 * GET_ACK blocks while the burner writes (protocol-ingenic.md §3.6).
 */
static const struct op_desc ops[_RECIPE_OP_MAX] = {
	[RECIPE_OP_DFUSE_DOWNLOAD] = { "dfuse.download", RECIPE_FAMILY_DFUSE, false, 120000 },
	[RECIPE_OP_DFUSE_READ_UID] = { "dfuse.read_uid", RECIPE_FAMILY_DFUSE, false, 5000 },
	[RECIPE_OP_DFUSE_LEAVE] = { "dfuse.leave", RECIPE_FAMILY_DFUSE, true, 5000 },
	[RECIPE_OP_SDP_BOOT] = { "sdp.boot", RECIPE_FAMILY_SDP, true, 30000 },
	[RECIPE_OP_AWAIT] = { "await", RECIPE_FAMILY_NONE, false, 15000 },
	[RECIPE_OP_FASTBOOT_GETVAR] = { "fastboot.getvar", RECIPE_FAMILY_FASTBOOT, false, 5000 },
	[RECIPE_OP_FASTBOOT_FLASH] = { "fastboot.flash", RECIPE_FAMILY_FASTBOOT, false, 300000 },
	[RECIPE_OP_FASTBOOT_ERASE] = { "fastboot.erase", RECIPE_FAMILY_FASTBOOT, false, 60000 },
	[RECIPE_OP_FASTBOOT_UCMD] = { "fastboot.ucmd", RECIPE_FAMILY_FASTBOOT, false, 30000 },
	[RECIPE_OP_FASTBOOT_REBOOT] = { "fastboot.reboot", RECIPE_FAMILY_FASTBOOT, true, 5000 },
	[RECIPE_OP_FASTBOOT_CONTINUE] = { "fastboot.continue", RECIPE_FAMILY_FASTBOOT, true, 5000 },
	[RECIPE_OP_INGENIC_BOOT] = { "ingenic.boot", RECIPE_FAMILY_INGENIC, false, 30000 },
	[RECIPE_OP_INGENIC_CHECK_JEDEC] = { "ingenic.check_jedec", RECIPE_FAMILY_INGENIC, false, 5000 },
	[RECIPE_OP_INGENIC_CONFIG] = { "ingenic.config", RECIPE_FAMILY_INGENIC, false, 200000 },
	[RECIPE_OP_INGENIC_WRITE] = { "ingenic.write", RECIPE_FAMILY_INGENIC, false, 600000 },
	[RECIPE_OP_INGENIC_REBOOT] = { "ingenic.reboot", RECIPE_FAMILY_INGENIC, true, 5000 },
	[RECIPE_OP_INGENIC_SECURE_BOOT] = { "ingenic.secure_boot", RECIPE_FAMILY_INGENIC, false, 60000 },
};

const char *recipe_op_name(enum recipe_op op)
{
	if (op < 0 || op >= _RECIPE_OP_MAX)
		return NULL;
	return ops[op].name;
}

enum recipe_op recipe_op_from_name(const char *name)
{
	for (int i = 0; i < _RECIPE_OP_MAX; i++)
		if (name && strcmp(ops[i].name, name) == 0)
			return (enum recipe_op)i;
	return _RECIPE_OP_INVALID;
}

bool recipe_op_uses_device(enum recipe_op op)
{
	return op >= 0 && op < _RECIPE_OP_MAX && op != RECIPE_OP_AWAIT;
}

bool recipe_op_device_leaves(enum recipe_op op)
{
	return op >= 0 && op < _RECIPE_OP_MAX && ops[op].leaves;
}

enum recipe_family recipe_op_family(enum recipe_op op)
{
	if (op < 0 || op >= _RECIPE_OP_MAX)
		return RECIPE_FAMILY_NONE;
	return ops[op].family;
}

static const char *const serial_names[_RECIPE_SERIAL_MAX] = {
	[RECIPE_SERIAL_USB_SERIAL] = "usb_serial",
	[RECIPE_SERIAL_DFUSE_UID] = "dfuse_uid",
	[RECIPE_SERIAL_IMX_OCOTP] = "imx_ocotp",
	[RECIPE_SERIAL_INGENIC_EFUSE] = "ingenic_efuse",
	[RECIPE_SERIAL_FASTBOOT_GETVAR] = "fastboot_getvar",
};

const char *recipe_serial_source_name(enum recipe_serial_source s)
{
	if (s < 0 || s >= _RECIPE_SERIAL_MAX)
		return NULL;
	return serial_names[s];
}

static const char *const erase_names[_RECIPE_ERASE_MAX] = {
	[RECIPE_ERASE_NONE] = "none",	    [RECIPE_ERASE_PAGES] = "pages",
	[RECIPE_ERASE_MASS] = "mass",	    [RECIPE_ERASE_CHIP] = "chip",
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

/*
 * Ingenic SoCs and their default d2i_len: T20 0x4000, the rest of the
 * T-series 0x7000, X1000/X2000 none (protocol-ingenic.md §2.2).
 */
static const struct {
	const char *soc;
	uint32_t d2i_len;
} ingenic_socs[] = {
	{ "t20", 0x4000 }, { "t21", 0x7000 }, { "t23", 0x7000 },  { "t30", 0x7000 },
	{ "t31", 0x7000 }, { "t40", 0x7000 }, { "t41", 0x7000 },  { "a1", 0x7000 },
	{ "x1000", 0 },	   { "x1500", 0 },    { "x1830", 0x7000 }, { "x2000", 0 },
};

bool recipe_ingenic_soc_known(const char *soc, uint32_t *ret_d2i_len)
{
	for (size_t i = 0; i < ARRAY_SIZE(ingenic_socs); i++)
		if (soc && strcmp(ingenic_socs[i].soc, soc) == 0) {
			if (ret_d2i_len)
				*ret_d2i_len = ingenic_socs[i].d2i_len;
			return true;
		}
	return false;
}

/* ---- freeing ---- */

static void image_release(struct recipe_image *img)
{
	free(img->file);
	free(img->path);
	img->file = img->path = NULL;
}

static void stage_release(struct recipe_stage *s)
{
	free(s->label);
	switch (s->op) {
	case RECIPE_OP_DFUSE_DOWNLOAD:
		image_release(&s->u.dfuse_download.image);
		break;
	case RECIPE_OP_SDP_BOOT:
		image_release(&s->u.sdp_boot.image);
		break;
	case RECIPE_OP_FASTBOOT_GETVAR:
		free(s->u.fastboot_getvar.var);
		free(s->u.fastboot_getvar.expect);
		break;
	case RECIPE_OP_FASTBOOT_FLASH:
		free(s->u.fastboot_flash.partition);
		image_release(&s->u.fastboot_flash.image);
		break;
	case RECIPE_OP_FASTBOOT_ERASE:
		free(s->u.fastboot_erase.partition);
		break;
	case RECIPE_OP_FASTBOOT_UCMD:
		free(s->u.fastboot_ucmd.command);
		break;
	case RECIPE_OP_INGENIC_BOOT:
		free(s->u.ingenic_boot.soc);
		image_release(&s->u.ingenic_boot.ginfo);
		image_release(&s->u.ingenic_boot.spl);
		image_release(&s->u.ingenic_boot.burner);
		break;
	case RECIPE_OP_INGENIC_CONFIG:
		for (size_t i = 0; i < s->u.ingenic_config.n_partitions; i++)
			free(s->u.ingenic_config.partitions[i].name);
		free(s->u.ingenic_config.partitions);
		break;
	case RECIPE_OP_INGENIC_WRITE:
		free(s->u.ingenic_write.partition);
		image_release(&s->u.ingenic_write.image);
		break;
	case RECIPE_OP_INGENIC_SECURE_BOOT:
		image_release(&s->u.ingenic_secure_boot.image);
		break;
	case RECIPE_OP_DFUSE_READ_UID:
	case RECIPE_OP_DFUSE_LEAVE:
	case RECIPE_OP_AWAIT:
	case RECIPE_OP_FASTBOOT_REBOOT:
	case RECIPE_OP_FASTBOOT_CONTINUE:
	case RECIPE_OP_INGENIC_CHECK_JEDEC:
	case RECIPE_OP_INGENIC_REBOOT:
	case _RECIPE_OP_MAX:
	case _RECIPE_OP_INVALID:
		break;
	}
}

struct recipe *recipe_free(struct recipe *r)
{
	if (!r)
		return NULL;
	free(r->name);
	free(r->description);
	free(r->path);
	free(r->dir);
	for (size_t i = 0; i < r->match.n_ports; i++)
		free(r->match.ports[i]);
	free(r->match.ports);
	free(r->serial.var);
	free(r->jedec);
	for (size_t i = 0; i < r->n_stages; i++)
		stage_release(&r->stages[i]);
	free(r->stages);
	free(r);
	return NULL;
}

/* ---- field helpers ---- */

/* JSON paths are short; a too-long one is cut, which only shortens a message. */
static void jpath_key(char *out, const char *base, const char *key)
{
	int n;

	if (base && *base)
		n = snprintf(out, JPATH_MAX, "%s.%s", base, key);
	else
		n = snprintf(out, JPATH_MAX, "%s", key);
	if (n >= JPATH_MAX)
		out[JPATH_MAX - 1] = '\0';
}

static void jpath_index(char *out, const char *base, size_t i)
{
	if (snprintf(out, JPATH_MAX, "%s[%zu]", base, i) >= JPATH_MAX)
		out[JPATH_MAX - 1] = '\0';
}

static char *xstrdup(struct recipe_parser *p, const char *s)
{
	char *d = strdup(s);

	if (!d)
		p->oom = true;
	return d;
}

/*
 * Report unknown and duplicate keys of obj.  allowed is NULL-terminated;
 * common (may be NULL) is a second list allowed as well.
 */
static bool check_keys(struct recipe_parser *p, const cJSON *obj, const char *base,
		       const char *const *allowed, const char *const *common)
{
	char jp[JPATH_MAX];
	bool ok = true;

	for (const cJSON *c = obj->child; c; c = c->next) {
		bool known = false;

		for (const char *const *a = allowed; a && *a && !known; a++)
			known = strcmp(*a, c->string) == 0;
		for (const char *const *a = common; a && *a && !known; a++)
			known = strcmp(*a, c->string) == 0;
		jpath_key(jp, base, c->string);
		if (!known) {
			recipe_problem(p, jp, "unknown key");
			ok = false;
			continue;
		}
		for (const cJSON *e = obj->child; e != c; e = e->next)
			if (strcmp(e->string, c->string) == 0) {
				recipe_problem(p, jp, "duplicate key");
				ok = false;
				break;
			}
	}
	return ok;
}

/* Field getters: 1 = found and valid, 0 = absent (reported if required), -1 = reported. */

static int get_item(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		    bool required, const cJSON **ret, char *jp)
{
	jpath_key(jp, base, key);
	*ret = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (*ret)
		return 1;
	if (required) {
		recipe_problem(p, jp, "missing");
		return -1;
	}
	return 0;
}

static int get_string(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		      bool required, char **out)
{
	char jp[JPATH_MAX];
	const cJSON *it;
	int r = get_item(p, obj, base, key, required, &it, jp);

	if (r <= 0)
		return r;
	if (!cJSON_IsString(it)) {
		recipe_problem(p, jp, "not a string");
		return -1;
	}
	if (!*it->valuestring) {
		recipe_problem(p, jp, "empty string");
		return -1;
	}
	*out = xstrdup(p, it->valuestring);
	return *out ? 1 : -1;
}

static int get_bool(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		    bool *out)
{
	char jp[JPATH_MAX];
	const cJSON *it;
	int r = get_item(p, obj, base, key, false, &it, jp);

	if (r <= 0)
		return r;
	if (!cJSON_IsBool(it)) {
		recipe_problem(p, jp, "not a boolean");
		return -1;
	}
	*out = cJSON_IsTrue(it);
	return 1;
}

/* A non-negative integer: a JSON integer or a string in C base-0 form ("0x08000000", "1024"). */
static bool parse_number(const cJSON *it, uint64_t *out)
{
	if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;

		if (!(d >= 0 && d <= 9007199254740992.0) || (double)(uint64_t)d != d)
			return false;
		*out = (uint64_t)d;
		return true;
	}
	if (cJSON_IsString(it)) {
		const char *s = it->valuestring;
		char *end;

		if (!(*s >= '0' && *s <= '9'))
			return false;
		errno = 0;
		*out = strtoull(s, &end, 0);
		return errno == 0 && *end == '\0';
	}
	return false;
}

static int get_number(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		      bool required, uint64_t min, uint64_t max, uint64_t *out)
{
	char jp[JPATH_MAX];
	const cJSON *it;
	uint64_t v;
	int r = get_item(p, obj, base, key, required, &it, jp);

	if (r <= 0)
		return r;
	if (!parse_number(it, &v)) {
		recipe_problem(p, jp, "not a number");
		return -1;
	}
	if (v < min || v > max) {
		recipe_problem(p, jp, "out of range: %" PRIu64 " (allowed %" PRIu64 "..%" PRIu64 ")",
			       v, min, max);
		return -1;
	}
	*out = v;
	return 1;
}

static bool parse_hex(const char *s, size_t digits, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = v << 4 | (uint32_t)d;
	}
	if (i != digits)
		return false;
	*out = v;
	return true;
}

/* A USB ID or bcdDevice: a string of exactly 4 hex digits ("0483"). */
static int get_hex16(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		     bool required, uint16_t *out)
{
	char jp[JPATH_MAX];
	const cJSON *it;
	uint32_t v;
	int r = get_item(p, obj, base, key, required, &it, jp);

	if (r <= 0)
		return r;
	if (!cJSON_IsString(it)) {
		recipe_problem(p, jp, "not a string");
		return -1;
	}
	if (!parse_hex(it->valuestring, 4, &v)) {
		recipe_problem(p, jp, "not 4 hex digits: '%s'", it->valuestring);
		return -1;
	}
	*out = (uint16_t)v;
	return 1;
}

/* A string naming one of names[] whose bit is set in allowed; *out keeps its default if absent. */
static int get_enum(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		    const char *const *names, int n, unsigned allowed, int *out)
{
	char jp[JPATH_MAX], list[128] = "";
	const cJSON *it;
	int r = get_item(p, obj, base, key, false, &it, jp);

	if (r <= 0)
		return r;
	if (!cJSON_IsString(it)) {
		recipe_problem(p, jp, "not a string");
		return -1;
	}
	for (int i = 0; i < n; i++)
		if ((allowed & (1u << i)) && strcmp(names[i], it->valuestring) == 0) {
			*out = i;
			return 1;
		}
	for (int i = 0; i < n; i++)
		if (allowed & (1u << i)) {
			size_t l = strlen(list);

			snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", names[i]);
		}
	recipe_problem(p, jp, "unknown value '%s' (expected %s)", it->valuestring, list);
	return -1;
}

/* ---- images ---- */

/* Android sparse header (protocol-imx-sdp-fastboot.md §4.4): magic, blk_sz, total_blks. */
static void sparse_probe(struct recipe_image *img, const uint8_t *h, size_t n)
{
	uint32_t magic, blk_sz, total_blks;

	if (n < 28)
		return;
	magic = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
	blk_sz = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 |
		 (uint32_t)h[15] << 24;
	total_blks = (uint32_t)h[16] | (uint32_t)h[17] << 8 | (uint32_t)h[18] << 16 |
		     (uint32_t)h[19] << 24;
	if (magic != 0xED26FF3A)
		return;
	img->sparse = true;
	img->write_size = (uint64_t)blk_sz * total_blks;
}

/*
 * Resolve file below the recipe directory and hash it once.  want is NULL when
 * the sha256 field itself was bad (the file is still checked for existence).
 */
static bool image_load(struct recipe_parser *p, const char *jp_file, const char *jp_sha,
		       const char *file, const uint8_t *want, struct recipe_image *img)
{
	_cleanup_free_ char *full = NULL, *real = NULL;
	_cleanup_close_ int fd = -1;
	struct recipe_sha256 c;
	uint8_t head[28], buf[65536];
	size_t dlen = strlen(p->dir), nhead = 0;
	const char *s;
	struct stat st;
	ssize_t n;

	if (file[0] == '/') {
		recipe_problem(p, jp_file, "'%s': absolute paths are not allowed", file);
		return false;
	}
	for (s = file; *s; s = strchr(s, '/') ? strchr(s, '/') + 1 : s + strlen(s))
		if (strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0')) {
			recipe_problem(p, jp_file, "'%s' escapes the recipe directory", file);
			return false;
		}
	if (asprintf(&full, "%s/%s", p->dir, file) < 0) {
		p->oom = true;
		return false;
	}
	real = realpath(full, NULL);
	if (!real) {
		recipe_problem(p, jp_file, "cannot open '%s': %s", file, strerror(errno));
		return false;
	}
	if (strncmp(real, p->dir, dlen) != 0 || (real[dlen] != '/' && strcmp(p->dir, "/") != 0)) {
		recipe_problem(p, jp_file, "'%s' resolves outside the recipe directory", file);
		return false;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		recipe_problem(p, jp_file, "cannot open '%s': %s", file, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		recipe_problem(p, jp_file, "'%s' is not a regular file", file);
		return false;
	}
	recipe_sha256_init(&c);
	img->size = 0;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			recipe_problem(p, jp_file, "cannot read '%s': %s", file, strerror(errno));
			return false;
		}
		if (nhead < sizeof(head)) {
			size_t k = sizeof(head) - nhead < (size_t)n ? sizeof(head) - nhead : (size_t)n;

			memcpy(head + nhead, buf, k);
			nhead += k;
		}
		recipe_sha256_update(&c, buf, (size_t)n);
		img->size += (uint64_t)n;
	}
	recipe_sha256_final(&c, img->sha256);
	img->write_size = img->size;
	sparse_probe(img, head, nhead);
	img->path = TAKE_PTR(real);
	if (want && memcmp(want, img->sha256, RECIPE_SHA256_LEN) != 0) {
		char hex[65];

		recipe_sha256_hex(img->sha256, hex);
		recipe_problem(p, jp_sha, "does not match '%s' (file has %s)", file, hex);
		return false;
	}
	return want != NULL;
}

/* "file" + "sha256" keys of obj (a stage, or a nested image object). */
static bool get_image(struct recipe_parser *p, const cJSON *obj, const char *base,
		      struct recipe_image *img)
{
	char jp_file[JPATH_MAX], jp_sha[JPATH_MAX];
	uint8_t want[RECIPE_SHA256_LEN];
	_cleanup_free_ char *sha = NULL;
	bool sha_ok = false;
	int rf, rs;

	rf = get_string(p, obj, base, "file", true, &img->file);
	rs = get_string(p, obj, base, "sha256", true, &sha);
	jpath_key(jp_file, base, "file");
	jpath_key(jp_sha, base, "sha256");
	if (rs > 0) {
		sha_ok = strlen(sha) == 64;
		for (int i = 0; sha_ok && i < RECIPE_SHA256_LEN; i++) {
			uint32_t v;
			char two[3] = { sha[2 * i], sha[2 * i + 1], 0 };

			sha_ok = parse_hex(two, 2, &v);
			want[i] = (uint8_t)v;
		}
		if (!sha_ok)
			recipe_problem(p, jp_sha, "not 64 hex digits");
	}
	if (rf <= 0)
		return false;
	return image_load(p, jp_file, jp_sha, img->file, sha_ok ? want : NULL, img) && rs > 0;
}

/* A nested image object such as ingenic.boot "spl": { "file": ..., "sha256": ... }. */
static int get_image_object(struct recipe_parser *p, const cJSON *obj, const char *base,
			    const char *key, bool required, struct recipe_image *img)
{
	static const char *const keys[] = { "file", "sha256", NULL };
	char jp[JPATH_MAX];
	const cJSON *it;
	int r = get_item(p, obj, base, key, required, &it, jp);
	bool ok;

	if (r <= 0)
		return r;
	if (!cJSON_IsObject(it)) {
		recipe_problem(p, jp, "not an object");
		return -1;
	}
	ok = check_keys(p, it, jp, keys, NULL);
	ok = get_image(p, it, jp, img) && ok;
	return ok ? 1 : -1;
}

/* ---- stages ---- */

static const char *const common_keys[] = { "op", "name", "timeout_ms", "retries", "irreversible",
					   NULL };

/* Each parser returns true when every field of the stage was valid. */

static bool parse_dfuse_download(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = { "alt", "address", "file", "sha256", "erase", "verify", NULL };
	struct recipe_dfuse_download *a = &s->u.dfuse_download;
	int erase = RECIPE_ERASE_PAGES, verify = RECIPE_VERIFY_READBACK;
	uint64_t alt = 0, addr = 0;
	bool ok = check_keys(p, o, b, keys, common_keys);

	ok = get_number(p, o, b, "alt", false, 0, 255, &alt) >= 0 && ok;
	ok = get_number(p, o, b, "address", true, 0, UINT32_MAX, &addr) > 0 && ok;
	ok = get_image(p, o, b, &a->image) && ok;
	ok = get_enum(p, o, b, "erase", erase_names, _RECIPE_ERASE_MAX,
		      1u << RECIPE_ERASE_PAGES | 1u << RECIPE_ERASE_MASS | 1u << RECIPE_ERASE_NONE,
		      &erase) >= 0 && ok;
	ok = get_enum(p, o, b, "verify", verify_names, _RECIPE_VERIFY_MAX,
		      1u << RECIPE_VERIFY_READBACK | 1u << RECIPE_VERIFY_NONE, &verify) >= 0 && ok;
	a->alt = (uint8_t)alt;
	a->address = (uint32_t)addr;
	a->erase = erase;
	a->verify = verify;
	if (ok && addr + a->image.size > (uint64_t)UINT32_MAX + 1) {
		char jp[JPATH_MAX];

		jpath_key(jp, b, "address");
		recipe_problem(p, jp, "'%s' (%" PRIu64 " bytes) does not fit below 4 GiB",
			       a->image.file, a->image.size);
		ok = false;
	}
	return ok;
}

static bool parse_dfuse_read_uid(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = { "alt", "address", "length", NULL };
	struct recipe_dfuse_read_uid *a = &s->u.dfuse_read_uid;
	uint64_t alt = 0, addr = 0, len = 12;
	bool ok = check_keys(p, o, b, keys, common_keys);

	ok = get_number(p, o, b, "alt", false, 0, 255, &alt) >= 0 && ok;
	ok = get_number(p, o, b, "address", true, 0, UINT32_MAX, &addr) > 0 && ok;
	ok = get_number(p, o, b, "length", false, 1, 64, &len) >= 0 && ok;
	a->alt = (uint8_t)alt;
	a->address = (uint32_t)addr;
	a->length = (uint32_t)len;
	return ok;
}

static bool parse_dfuse_leave(struct recipe_parser *p, const cJSON *o, const char *b,
			      struct recipe_stage *s)
{
	static const char *const keys[] = { "address", NULL };
	uint64_t addr = 0;
	bool ok = check_keys(p, o, b, keys, common_keys);

	ok = get_number(p, o, b, "address", true, 0, UINT32_MAX, &addr) > 0 && ok;
	s->u.dfuse_leave.address = (uint32_t)addr;
	return ok;
}

static bool parse_sdp_boot(struct recipe_parser *p, const cJSON *o, const char *b,
			   struct recipe_stage *s)
{
	static const char *const keys[] = { "file", "sha256", NULL };
	bool ok = check_keys(p, o, b, keys, common_keys);

	return get_image(p, o, b, &s->u.sdp_boot.image) && ok;
}

static bool parse_await(struct recipe_parser *p, const cJSON *o, const char *b,
			struct recipe_stage *s)
{
	static const char *const keys[] = { "vid", "pid", NULL };
	bool ok = check_keys(p, o, b, keys, common_keys);

	ok = get_hex16(p, o, b, "vid", true, &s->u.await.vid) > 0 && ok;
	ok = get_hex16(p, o, b, "pid", true, &s->u.await.pid) > 0 && ok;
	return ok;
}

static bool parse_fastboot_getvar(struct recipe_parser *p, const cJSON *o, const char *b,
				  struct recipe_stage *s)
{
	static const char *const keys[] = { "var", "expect", NULL };
	bool ok = check_keys(p, o, b, keys, common_keys);

	ok = get_string(p, o, b, "var", true, &s->u.fastboot_getvar.var) > 0 && ok;
	ok = get_string(p, o, b, "expect", false, &s->u.fastboot_getvar.expect) >= 0 && ok;
	return ok;
}

/* Fastboot partition names go on the wire after "flash:"; keep them plain. */
static bool check_partition_name(struct recipe_parser *p, const char *b, const char *key,
				  const char *name)
{
	char jp[JPATH_MAX];

	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-' || *c == '.')) {
			jpath_key(jp, b, key);
			recipe_problem(p, jp, "bad partition name '%s'", name);
			return false;
		}
	return true;
}

static bool parse_fastboot_flash(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = { "partition", "offset", "file", "sha256", "sparse",
					    "max_download", "verify", NULL };
	struct recipe_fastboot_flash *a = &s->u.fastboot_flash;
	int sparse = RECIPE_SPARSE_AUTO, verify = RECIPE_VERIFY_NONE, rp, ro;
	uint64_t off = 0, maxdl = 0;
	bool ok = check_keys(p, o, b, keys, common_keys);

	rp = get_string(p, o, b, "partition", false, &a->partition);
	ro = get_number(p, o, b, "offset", false, 0, UINT64_MAX, &off);
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
	ok = get_image(p, o, b, &a->image) && ok;
	ok = get_enum(p, o, b, "sparse", sparse_names, _RECIPE_SPARSE_MAX, 3u, &sparse) >= 0 && ok;
	ok = get_number(p, o, b, "max_download", false, 4096, UINT32_MAX, &maxdl) >= 0 && ok;
	ok = get_enum(p, o, b, "verify", verify_names, _RECIPE_VERIFY_MAX,
		      1u << RECIPE_VERIFY_NONE | 1u << RECIPE_VERIFY_CRC32, &verify) >= 0 && ok;
	a->sparse = sparse;
	a->max_download = (uint32_t)maxdl;
	a->verify = verify;
	return ok;
}

static bool parse_fastboot_erase(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = { "partition", NULL };
	bool ok = check_keys(p, o, b, keys, common_keys);

	if (get_string(p, o, b, "partition", true, &s->u.fastboot_erase.partition) <= 0)
		return false;
	return check_partition_name(p, b, "partition", s->u.fastboot_erase.partition) && ok;
}

static bool parse_fastboot_ucmd(struct recipe_parser *p, const cJSON *o, const char *b,
				struct recipe_stage *s)
{
	static const char *const keys[] = { "command", "async", NULL };
	struct recipe_fastboot_ucmd *a = &s->u.fastboot_ucmd;
	bool ok = check_keys(p, o, b, keys, common_keys);
	char jp[JPATH_MAX];

	ok = get_bool(p, o, b, "async", &a->async) >= 0 && ok;
	if (get_string(p, o, b, "command", true, &a->command) <= 0)
		return false;
	jpath_key(jp, b, "command");
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
	return check_keys(p, o, b, NULL, common_keys);
}

static bool parse_ingenic_boot(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_stage *s)
{
	static const char *const keys[] = { "soc", "ginfo", "spl", "burner", "d2i_len", NULL };
	struct recipe_ingenic_boot *a = &s->u.ingenic_boot;
	uint32_t d2i = 0;
	uint64_t v;
	char jp[JPATH_MAX];
	bool ok = check_keys(p, o, b, keys, common_keys);
	int r;

	if (get_string(p, o, b, "soc", true, &a->soc) > 0) {
		if (!recipe_ingenic_soc_known(a->soc, &d2i)) {
			jpath_key(jp, b, "soc");
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
	r = get_number(p, o, b, "d2i_len", false, 0, 0x100000, &v);
	if (r > 0)
		d2i = (uint32_t)v;
	ok = r >= 0 && ok;
	a->d2i_len = d2i;
	/* The ROM moves d2i_len bytes to I-cache; a longer SPL would be cut (§2.3). */
	if (ok && d2i && a->spl.size > d2i) {
		jpath_key(jp, b, "spl.file");
		recipe_problem(p, jp, "'%s' is %" PRIu64 " bytes, more than d2i_len 0x%" PRIx32,
			       a->spl.file, a->spl.size, d2i);
		ok = false;
	}
	return ok;
}

static bool parse_ingenic_config(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s)
{
	static const char *const keys[] = { "flash", "erase", "partitions", NULL };
	static const char *const pkeys[] = { "name", "offset", "size", NULL };
	struct recipe_ingenic_config *a = &s->u.ingenic_config;
	int flash = RECIPE_FLASH_SFC_NOR, erase = RECIPE_ERASE_PARTITION;
	char jp[JPATH_MAX], pj[JPATH_MAX];
	const cJSON *parts;
	bool ok = check_keys(p, o, b, keys, common_keys);
	size_t i, n;

	ok = get_enum(p, o, b, "flash", flash_names, _RECIPE_FLASH_MAX, 0xf, &flash) >= 0 && ok;
	ok = get_enum(p, o, b, "erase", erase_names, _RECIPE_ERASE_MAX,
		      1u << RECIPE_ERASE_CHIP | 1u << RECIPE_ERASE_PARTITION | 1u << RECIPE_ERASE_NONE,
		      &erase) >= 0 && ok;
	a->flash = flash;
	a->erase = erase;
	if (get_item(p, o, b, "partitions", true, &parts, jp) <= 0)
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

		jpath_index(pj, jp, i);
		if (!cJSON_IsObject(e)) {
			recipe_problem(p, pj, "not an object");
			ok = false;
			continue;
		}
		pok = check_keys(p, e, pj, pkeys, NULL);
		pok = get_string(p, e, pj, "name", true, &pt->name) > 0 && pok;
		pok = get_number(p, e, pj, "offset", true, 0, UINT32_MAX, &pt->offset) > 0 && pok;
		pok = get_number(p, e, pj, "size", true, 1, UINT32_MAX, &pt->size) > 0 && pok;
		if (pok) {
			for (size_t k = 0; k < i; k++) {
				const struct recipe_partition *q = &a->partitions[k];

				if (q->name && strcmp(q->name, pt->name) == 0) {
					recipe_problem(p, pj, "partition '%s' defined twice", pt->name);
					pok = false;
				} else if (q->name && q->size && pt->offset < q->offset + q->size &&
					   q->offset < pt->offset + pt->size) {
					recipe_problem(p, pj, "partition '%s' overlaps '%s'", pt->name,
						       q->name);
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
	static const char *const keys[] = { "partition", "offset", "file", "sha256", "verify", NULL };
	struct recipe_ingenic_write *a = &s->u.ingenic_write;
	int verify = RECIPE_VERIFY_CRC32, rp, ro;
	bool ok = check_keys(p, o, b, keys, common_keys);

	rp = get_string(p, o, b, "partition", false, &a->partition);
	ro = get_number(p, o, b, "offset", false, 0, UINT32_MAX, &a->offset);
	ok = rp >= 0 && ro >= 0 && ok;
	if (rp == 0 && ro == 0) {
		recipe_problem(p, b, "needs \"partition\" or \"offset\"");
		ok = false;
	}
	ok = get_image(p, o, b, &a->image) && ok;
	ok = get_enum(p, o, b, "verify", verify_names, _RECIPE_VERIFY_MAX, 7u, &verify) >= 0 && ok;
	a->verify = verify;
	return ok;
}

static bool parse_ingenic_secure_boot(struct recipe_parser *p, const cJSON *o, const char *b,
				      struct recipe_stage *s)
{
	static const char *const keys[] = { "file", "sha256", NULL };
	bool ok = check_keys(p, o, b, keys, common_keys);

	return get_image(p, o, b, &s->u.ingenic_secure_boot.image) && ok;
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

static bool parse_stage(struct recipe_parser *p, const cJSON *o, const char *b,
			struct recipe_stage *s)
{
	_cleanup_free_ char *opname = NULL;
	uint64_t timeout, retries = 0;
	char jp[JPATH_MAX];
	bool ok = true;

	s->op = _RECIPE_OP_INVALID;
	if (!cJSON_IsObject(o)) {
		recipe_problem(p, b, "not an object");
		return false;
	}
	if (get_string(p, o, b, "op", true, &opname) <= 0) {
		check_keys(p, o, b, NULL, common_keys);
		return false;
	}
	s->op = recipe_op_from_name(opname);
	if (s->op < 0) {
		jpath_key(jp, b, "op");
		recipe_problem(p, jp, "unknown operation '%s'", opname);
		return false;
	}
	timeout = ops[s->op].timeout_ms;
	ok = get_string(p, o, b, "name", false, &s->label) >= 0 && ok;
	ok = get_number(p, o, b, "timeout_ms", false, 1, RECIPE_TIMEOUT_MAX_MS, &timeout) >= 0 && ok;
	ok = get_number(p, o, b, "retries", false, 0, RECIPE_RETRIES_MAX, &retries) >= 0 && ok;
	ok = get_bool(p, o, b, "irreversible", &s->irreversible) >= 0 && ok;
	s->timeout_ms = (uint32_t)timeout;
	s->retries = (uint32_t)retries;

	/* eFuse burning is never implied: the stage must say so (protocol-ingenic.md §3.1). */
	if (s->op == RECIPE_OP_INGENIC_SECURE_BOOT && !s->irreversible) {
		recipe_problem(p, b, "ingenic.secure_boot burns eFuses and cannot be undone; "
				     "acknowledge with \"irreversible\": true");
		ok = false;
	} else if (s->op != RECIPE_OP_INGENIC_SECURE_BOOT &&
		   cJSON_GetObjectItemCaseSensitive(o, "irreversible")) {
		jpath_key(jp, b, "irreversible");
		recipe_problem(p, jp, "only allowed on ingenic.secure_boot");
		ok = false;
	}
	return parsers[s->op](p, o, b, s) && ok;
}

/* ---- top level ---- */

static bool parse_match(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	static const char *const keys[] = { "vid", "pid", "bcd_min", "bcd_max", "ports", NULL };
	struct recipe_match *m = &r->match;
	char jp[JPATH_MAX], pj[JPATH_MAX];
	const cJSON *o, *ports;
	bool ok;
	int rmin, rmax;

	if (get_item(p, root, NULL, "match", true, &o, jp) <= 0)
		return false;
	if (!cJSON_IsObject(o)) {
		recipe_problem(p, jp, "not an object");
		return false;
	}
	ok = check_keys(p, o, "match", keys, NULL);
	ok = get_hex16(p, o, "match", "vid", true, &m->vid) > 0 && ok;
	ok = get_hex16(p, o, "match", "pid", true, &m->pid) > 0 && ok;
	m->bcd_min = 0x0000;
	m->bcd_max = 0xffff;
	rmin = get_hex16(p, o, "match", "bcd_min", false, &m->bcd_min);
	rmax = get_hex16(p, o, "match", "bcd_max", false, &m->bcd_max);
	ok = rmin >= 0 && rmax >= 0 && ok;
	if (rmin >= 0 && rmax >= 0 && m->bcd_min > m->bcd_max) {
		recipe_problem(p, "match.bcd_max", "below bcd_min");
		ok = false;
	}
	if (get_item(p, o, "match", "ports", false, &ports, jp) <= 0)
		return ok;
	if (!cJSON_IsArray(ports)) {
		recipe_problem(p, jp, "not an array");
		return false;
	}
	m->n_ports = (size_t)cJSON_GetArraySize(ports);
	if (m->n_ports == 0 || m->n_ports > RECIPE_PORTS_MAX) {
		recipe_problem(p, jp, "needs 1 to %d port globs (leave it out to match any port)",
			       RECIPE_PORTS_MAX);
		m->n_ports = 0;
		return false;
	}
	m->ports = calloc(m->n_ports, sizeof(*m->ports));
	if (!m->ports) {
		p->oom = true;
		m->n_ports = 0;
		return false;
	}
	size_t i = 0;
	for (const cJSON *e = ports->child; e; e = e->next, i++) {
		jpath_index(pj, jp, i);
		if (!cJSON_IsString(e)) {
			recipe_problem(p, pj, "not a string");
			ok = false;
		} else if (!recipe_port_glob_valid(e->valuestring)) {
			recipe_problem(p, pj, "bad port glob '%s'", e->valuestring);
			ok = false;
		} else {
			m->ports[i] = xstrdup(p, e->valuestring);
		}
	}
	return ok;
}

static bool parse_serial(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	static const char *const keys[] = { "source", "var", "ocotp_words", NULL };
	struct recipe_serial *sr = &r->serial;
	char jp[JPATH_MAX], wj[JPATH_MAX];
	const cJSON *o, *words;
	int src = RECIPE_SERIAL_USB_SERIAL, rw;
	bool ok = true;

	sr->source = RECIPE_SERIAL_USB_SERIAL;
	if (get_item(p, root, NULL, "serial", false, &o, jp) <= 0)
		return true;
	if (cJSON_IsString(o)) {
		/* Shorthand: "serial": "usb_serial". */
		cJSON tmp = { .string = (char *)"source" };
		cJSON wrap = { .child = &tmp, .type = cJSON_Object };

		tmp.type = cJSON_String;
		tmp.valuestring = o->valuestring;
		if (get_enum(p, &wrap, NULL, "source", serial_names, _RECIPE_SERIAL_MAX, 0x1f, &src) < 0)
			return false;
		/* Re-report nothing: a shorthand has no arguments. */
		sr->source = src;
		goto defaults;
	}
	if (!cJSON_IsObject(o)) {
		recipe_problem(p, jp, "not a string or an object");
		return false;
	}
	ok = check_keys(p, o, "serial", keys, NULL);
	if (!cJSON_GetObjectItemCaseSensitive(o, "source")) {
		recipe_problem(p, "serial.source", "missing");
		return false;
	}
	if (get_enum(p, o, "serial", "source", serial_names, _RECIPE_SERIAL_MAX, 0x1f, &src) < 0)
		return false;
	sr->source = src;
	if (get_string(p, o, "serial", "var", false, &sr->var) < 0)
		ok = false;
	else if (sr->var && sr->source != RECIPE_SERIAL_FASTBOOT_GETVAR) {
		recipe_problem(p, "serial.var", "only used with source fastboot_getvar");
		ok = false;
	}
	rw = get_item(p, o, "serial", "ocotp_words", sr->source == RECIPE_SERIAL_IMX_OCOTP, &words, wj);
	if (rw < 0) {
		ok = false;
	} else if (rw > 0 && sr->source != RECIPE_SERIAL_IMX_OCOTP) {
		recipe_problem(p, wj, "only used with source imx_ocotp");
		ok = false;
	} else if (rw > 0) {
		int n = cJSON_IsArray(words) ? cJSON_GetArraySize(words) : -1;
		size_t i = 0;

		if (n < 1 || n > 4) {
			recipe_problem(p, wj, "needs an array of 1 to 4 register addresses");
			return false;
		}
		for (const cJSON *e = words->child; e; e = e->next, i++) {
			uint64_t v;

			jpath_index(jp, wj, i);
			if (!parse_number(e, &v)) {
				recipe_problem(p, jp, "not a number");
				ok = false;
			} else if (v > UINT32_MAX || v % 4) {
				recipe_problem(p, jp, "not a 32-bit register address");
				ok = false;
			} else {
				sr->ocotp_words[i] = (uint32_t)v;
			}
		}
		sr->n_ocotp_words = (size_t)n;
	}
defaults:
	if (sr->source == RECIPE_SERIAL_FASTBOOT_GETVAR && !sr->var)
		sr->var = xstrdup(p, "serialno");
	return ok;
}

static bool parse_jedec(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	char jp[JPATH_MAX], ej[JPATH_MAX];
	const cJSON *o;
	bool ok = true;
	int n;
	size_t i = 0;

	if (get_item(p, root, NULL, "jedec", false, &o, jp) <= 0)
		return true;
	n = cJSON_IsArray(o) ? cJSON_GetArraySize(o) : -1;
	if (n < 1 || n > RECIPE_JEDEC_MAX) {
		recipe_problem(p, jp, "needs an array of 1 to %d JEDEC IDs", RECIPE_JEDEC_MAX);
		return false;
	}
	r->jedec = calloc((size_t)n, sizeof(*r->jedec));
	if (!r->jedec) {
		p->oom = true;
		return false;
	}
	for (const cJSON *e = o->child; e; e = e->next, i++) {
		jpath_index(ej, jp, i);
		if (!cJSON_IsString(e)) {
			recipe_problem(p, ej, "not a string");
			ok = false;
		} else if (!parse_hex(e->valuestring, 6, &r->jedec[i])) {
			recipe_problem(p, ej, "not 6 hex digits: '%s'", e->valuestring);
			ok = false;
		}
	}
	r->n_jedec = (size_t)n;
	return ok;
}

static bool check_name(struct recipe_parser *p, const char *name)
{
	size_t n = strlen(name);

	if (n > RECIPE_NAME_MAX) {
		recipe_problem(p, "name", "longer than %d characters", RECIPE_NAME_MAX);
		return false;
	}
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-' || *c == '.')) {
			recipe_problem(p, "name", "'%s': use letters, digits, '.', '_' and '-' only",
				       name);
			return false;
		}
	return true;
}

static void parse_root(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	static const char *const keys[] = { "name", "description", "match", "serial", "jedec",
					    "stages", NULL };
	_cleanup_free_ bool *stage_ok = NULL;
	char jp[JPATH_MAX], sj[JPATH_MAX];
	const cJSON *stages;
	bool ok;
	size_t i;
	int n;

	if (!cJSON_IsObject(root)) {
		recipe_problem(p, NULL, "not a JSON object");
		return;
	}
	ok = check_keys(p, root, NULL, keys, NULL);
	if (get_string(p, root, NULL, "name", true, &r->name) > 0)
		ok = check_name(p, r->name) && ok;
	ok = get_string(p, root, NULL, "description", false, &r->description) >= 0 && ok;
	ok = parse_match(p, root, r) && ok;
	ok = parse_serial(p, root, r) && ok;
	ok = parse_jedec(p, root, r) && ok;
	(void)ok;

	if (get_item(p, root, NULL, "stages", true, &stages, jp) <= 0)
		return;
	if (!cJSON_IsArray(stages)) {
		recipe_problem(p, jp, "not an array");
		return;
	}
	n = cJSON_GetArraySize(stages);
	if (n == 0 || n > RECIPE_STAGES_MAX) {
		recipe_problem(p, jp, "needs 1 to %d stages", RECIPE_STAGES_MAX);
		return;
	}
	r->stages = calloc((size_t)n, sizeof(*r->stages));
	stage_ok = calloc((size_t)n, sizeof(*stage_ok));
	if (!r->stages || !stage_ok) {
		p->oom = true;
		return;
	}
	r->n_stages = (size_t)n;
	i = 0;
	for (const cJSON *e = stages->child; e; e = e->next, i++) {
		jpath_index(sj, "stages", i);
		stage_ok[i] = parse_stage(p, e, sj, &r->stages[i]);
	}
	recipe_check(p, r, stage_ok);
}

/* Read the whole recipe file (bounded) into a NUL-terminated buffer. */
static int read_file(struct recipe_parser *p, const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;

		recipe_problem(p, NULL, "cannot open: %s", strerror(errno));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		recipe_problem(p, NULL, "not a regular file");
		return -EINVAL;
	}
	buf = malloc(RECIPE_FILE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	while ((n = read(fd, buf + len, RECIPE_FILE_MAX + 1 - len)) != 0) {
		if (n < 0) {
			int r = -errno;

			if (errno == EINTR)
				continue;
			recipe_problem(p, NULL, "cannot read: %s", strerror(errno));
			return r;
		}
		len += (size_t)n;
		if (len > RECIPE_FILE_MAX) {
			recipe_problem(p, NULL, "larger than %d bytes", RECIPE_FILE_MAX);
			return -EFBIG;
		}
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* Directory part of path, resolved; "." for a bare file name. */
static char *recipe_dir_of(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	char *slash;

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (!slash)
		return realpath(".", NULL);
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	return realpath(copy, NULL);
}

int recipe_load(const char *path, struct recipe **ret, struct recipe_diags *diags)
{
	struct recipe_parser p = { .file = path, .diags = diags };
	_cleanup_(recipe_freep) struct recipe *r = NULL;
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	_cleanup_free_ char *buf = NULL;
	struct recipe_sha256 c;
	const char *end = NULL;
	size_t len = 0;
	int k;

	if (!path || !ret)
		return -EINVAL;
	k = read_file(&p, path, &buf, &len);
	if (k < 0)
		return k;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->path = strdup(path);
	r->dir = recipe_dir_of(path);
	if (!r->path)
		return -ENOMEM;
	if (!r->dir) {
		k = -errno;
		recipe_problem(&p, NULL, "cannot resolve its directory: %s", strerror(errno));
		return k;
	}
	p.dir = r->dir;
	recipe_sha256_init(&c);
	recipe_sha256_update(&c, buf, len);
	recipe_sha256_final(&c, r->sha256);

	/* Length includes the NUL: cJSON checks the terminator within the buffer. */
	root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, true);
	if (!root) {
		unsigned line = 1, col = 1;

		for (const char *s = buf; end && s < end && *s; s++) {
			if (*s == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		recipe_problem(&p, NULL, "invalid JSON at line %u, column %u", line, col);
		return -EBADMSG;
	}
	parse_root(&p, root, r);
	if (p.oom)
		return -ENOMEM;
	if (p.problems)
		return -EBADMSG;
	*ret = TAKE_PTR(r);
	return 0;
}
