/*
 * This file implements the recipe's "identity" object (issue 18): the pools
 * a unit draws from and the per-unit image templates stages write with
 * "identity": NAME in place of "file" and "sha256" (jobs/recipe.h).  What
 * depends on the recipe alone is refused here, by JSON path: a template
 * that does not fit its size (tried with placeholder values), a {key} that
 * names no pool of the recipe, and a dfuse.download into STM32 OTP without
 * "irreversible": true.  Whether the pools exist is the database's to say,
 * when a job starts.
 */
#include "jobs/recipe-private.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[_RECIPE_IDENTITY_KIND_MAX] = {
	[RECIPE_IDENTITY_RAW] = "raw",
	[RECIPE_IDENTITY_UBOOT_ENV] = "uboot-env",
	[RECIPE_IDENTITY_FILE] = "file",
};

static const char *const field_names[_IDENTITY_FIELD_KIND_MAX] = {
	[IDENTITY_FIELD_ASCII] = "ascii",
	[IDENTITY_FIELD_UINT] = "uint",
	[IDENTITY_FIELD_MAC] = "mac",
	[IDENTITY_FIELD_CRC32] = "crc32",
};

#define IDENTITY_IMAGE_SIZE_MAX (1024u * 1024u) /* a per-unit image lives in memory */

/*
 * STM32 one-time-programmable areas a dfuse.download may reach through the
 * ROM's alt 0 (ST AN2606, AN3156): a bit once programmed stays so.
 */
static const struct {
	uint32_t address, size;
	const char *parts;
} otp_areas[] = {
	{ 0x1fff7800, 0x210, "STM32F2/F4 OTP and lock bytes (RM0090 §3.8)" },
	{ 0x1fff7000, 0x400, "STM32L4 OTP (RM0351 §3.3.1)" },
};

void recipe_identity_release(struct recipe_identity *id)
{
	for (size_t i = 0; i < id->n_pools; i++)
		free(id->pools[i]);
	free(id->pools);
	for (size_t i = 0; i < id->n_images; i++) {
		struct recipe_identity_image *im = &id->images[i];

		free(im->name);
		free(im->pool);
		for (size_t k = 0; k < im->raw.n_fields; k++)
			free((char *)im->raw.fields[k].text);
		free((void *)im->raw.fields);
		for (size_t k = 0; k < im->env.n_vars; k++) {
			free((char *)im->env.vars[k].name);
			free((char *)im->env.vars[k].text);
		}
		free((void *)im->env.vars);
	}
	free(id->images);
	*id = (struct recipe_identity){ 0 };
}

const struct recipe_identity_image *recipe_identity_image_of(const struct recipe *r,
							     const struct recipe_image *img)
{
	if (!img->identity || img->identity > r->identity.n_images)
		return NULL;
	return &r->identity.images[img->identity - 1];
}

int recipe_identity_key_pool(const struct recipe_identity *id, const char *key, size_t len,
			     unsigned *nth)
{
	/* A pool named as the key wins over "POOLn" of another pool ("mac1" vs "mac"). */
	for (size_t i = 0; i < id->n_pools; i++)
		if (strlen(id->pools[i]) == len && memcmp(key, id->pools[i], len) == 0) {
			if (nth)
				*nth = 0;
			return (int)i;
		}
	for (size_t i = 0; i < id->n_pools; i++) {
		size_t n = strlen(id->pools[i]);
		char *end;
		unsigned long k = 0;

		if (len < n || memcmp(key, id->pools[i], n) != 0)
			continue;
		if (len > n) {
			if (!isdigit((unsigned char)key[n]) || len - n > 3)
				continue;
			k = strtoul(key + n, &end, 10);
			if (end != key + len)
				continue;
		}
		if (nth)
			*nth = (unsigned)k;
		return (int)i;
	}
	return -ENOENT;
}

/* Every {key} of text names a pool of the recipe; reported at jp. */
static bool keys_known(struct recipe_parser *p, const struct recipe_identity *id, const char *jp,
		       const char *text)
{
	for (const char *s = text; (s = strchr(s, '{'));) {
		const char *end;

		if (s[1] == '{') {
			s += 2;
			continue;
		}
		end = strchr(s, '}');
		if (!end) {
			recipe_problem(p, jp, "'{' without '}' in '%s'", text);
			return false;
		}
		if (recipe_identity_key_pool(id, s + 1, (size_t)(end - s - 1), NULL) < 0) {
			recipe_problem(p, jp, "{%.*s} names no pool of \"identity\".\"pools\"",
				       (int)(end - s - 1), s + 1);
			return false;
		}
		s = end + 1;
	}
	return true;
}

static bool parse_pools(struct recipe_parser *p, const cJSON *o, struct recipe_identity *id)
{
	char jp[RECIPE_JPATH_MAX], ej[RECIPE_JPATH_MAX];
	const cJSON *a;
	size_t i = 0;
	bool ok = true;

	if (recipe_get_item(p, o, "identity", "pools", true, &a, jp) <= 0)
		return false;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 ||
	    cJSON_GetArraySize(a) > RECIPE_IDENTITY_POOLS_MAX) {
		recipe_problem(p, jp, "needs an array of 1 to %d pool names",
			       RECIPE_IDENTITY_POOLS_MAX);
		return false;
	}
	id->pools = calloc((size_t)cJSON_GetArraySize(a), sizeof(*id->pools));
	if (!id->pools) {
		p->oom = true;
		return false;
	}
	for (const cJSON *e = a->child; e; e = e->next, i++) {
		const char *s = cJSON_GetStringValue(e);
		bool good = s && *s && strlen(s) <= 64;

		recipe_jpath_index(ej, jp, i);
		for (const char *c = s; good && *c; c++)
			good = isalnum((unsigned char)*c) || *c == '_' || *c == '.' || *c == '-';
		for (size_t k = 0; good && k < id->n_pools; k++)
			if (strcmp(id->pools[k], s) == 0) {
				recipe_problem(p, ej, "pool '%s' listed twice", s);
				good = false;
				ok = false;
			}
		if (!good) {
			if (ok)
				recipe_problem(p, ej, "not a pool name ([A-Za-z0-9_.-], 1 to 64)");
			ok = false;
			continue;
		}
		if (!(id->pools[id->n_pools] = recipe_strdup(p, s)))
			return false;
		id->n_pools++;
	}
	return ok;
}

static bool parse_field(struct recipe_parser *p, const cJSON *o, const char *b,
			const struct recipe_identity *id, struct identity_field *f)
{
	static const char *const keys[] = { "kind", "offset",	  "size",	"big_endian",
					    "text", "crc_offset", "crc_length", NULL };
	uint64_t off = 0, size = 0, co = 0, cl = 0;
	int kind = -1, rk;
	char *text = NULL;
	char jp[RECIPE_JPATH_MAX];
	bool ok = recipe_check_keys(p, o, b, keys, NULL);

	rk = recipe_get_enum(p, o, b, "kind", field_names, _IDENTITY_FIELD_KIND_MAX, 0xf, &kind);
	if (rk == 0) {
		recipe_jpath_key(jp, b, "kind");
		recipe_problem(p, jp, "missing");
	}
	ok = rk > 0 && ok;
	ok = recipe_get_number(p, o, b, "offset", true, 0, IDENTITY_IMAGE_SIZE_MAX, &off) > 0 && ok;
	ok = recipe_get_number(p, o, b, "size",
			       kind == IDENTITY_FIELD_ASCII || kind == IDENTITY_FIELD_UINT, 0,
			       IDENTITY_IMAGE_SIZE_MAX, &size) >= 0 &&
	     ok;
	ok = recipe_get_bool(p, o, b, "big_endian", &f->big_endian) >= 0 && ok;
	if (kind == IDENTITY_FIELD_CRC32) {
		ok = recipe_get_number(p, o, b, "crc_offset", true, 0, IDENTITY_IMAGE_SIZE_MAX,
				       &co) > 0 &&
		     ok;
		ok = recipe_get_number(p, o, b, "crc_length", true, 1, IDENTITY_IMAGE_SIZE_MAX,
				       &cl) > 0 &&
		     ok;
	} else if (kind >= 0) {
		recipe_jpath_key(jp, b, "text");
		if (recipe_get_string(p, o, b, "text", true, &text) > 0)
			ok = keys_known(p, id, jp, text) && ok;
		else
			ok = false;
	}
	f->kind = kind < 0 ? IDENTITY_FIELD_ASCII : (enum identity_field_kind)kind;
	f->offset = (size_t)off;
	f->size = (size_t)size;
	f->text = text;
	f->crc_offset = (size_t)co;
	f->crc_length = (size_t)cl;
	return ok;
}

static bool parse_raw(struct recipe_parser *p, const cJSON *o, const char *b,
		      const struct recipe_identity *id, struct recipe_identity_image *im)
{
	char jp[RECIPE_JPATH_MAX], fj[RECIPE_JPATH_MAX];
	struct identity_field *fields;
	const cJSON *a;
	size_t i = 0;
	bool ok = true;

	if (recipe_get_item(p, o, b, "fields", true, &a, jp) <= 0)
		return false;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > 64) {
		recipe_problem(p, jp, "needs an array of 1 to 64 fields");
		return false;
	}
	fields = calloc((size_t)cJSON_GetArraySize(a), sizeof(*fields));
	if (!fields) {
		p->oom = true;
		return false;
	}
	im->raw.fields = fields;
	for (const cJSON *e = a->child; e; e = e->next, i++) {
		recipe_jpath_index(fj, jp, i);
		if (!cJSON_IsObject(e)) {
			recipe_problem(p, fj, "not an object");
			ok = false;
			continue;
		}
		ok = parse_field(p, e, fj, id, &fields[im->raw.n_fields++]) && ok;
	}
	im->raw.size = im->size;
	im->raw.fill = im->fill;
	return ok;
}

static bool parse_env(struct recipe_parser *p, const cJSON *o, const char *b,
		      const struct recipe_identity *id, struct recipe_identity_image *im)
{
	char jp[RECIPE_JPATH_MAX], vj[RECIPE_JPATH_MAX];
	struct identity_env_var *vars;
	const cJSON *a;
	bool ok = true;

	ok = recipe_get_bool(p, o, b, "redundant", &im->env.redundant) >= 0 && ok;
	ok = recipe_get_bool(p, o, b, "big_endian", &im->env.big_endian) >= 0 && ok;
	if (recipe_get_item(p, o, b, "vars", true, &a, jp) <= 0)
		return false;
	if (!cJSON_IsObject(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > 256) {
		recipe_problem(p, jp, "needs an object of 1 to 256 \"name\": \"value\" pairs");
		return false;
	}
	vars = calloc((size_t)cJSON_GetArraySize(a), sizeof(*vars));
	if (!vars) {
		p->oom = true;
		return false;
	}
	im->env.vars = vars;
	for (const cJSON *e = a->child; e; e = e->next) {
		const char *v = cJSON_GetStringValue(e);
		struct identity_env_var *var = &vars[im->env.n_vars];

		recipe_jpath_key(vj, jp, e->string);
		if (!v || !*e->string || strchr(e->string, '=')) {
			recipe_problem(p, vj, !v ? "not a string" : "not a variable name");
			ok = false;
			continue;
		}
		var->name = recipe_strdup(p, e->string);
		var->text = recipe_strdup(p, v);
		im->env.n_vars++;
		if (!var->name || !var->text)
			return false;
		ok = keys_known(p, id, vj, v) && ok;
	}
	im->env.size = im->size;
	im->env.fill = im->fill;
	return ok;
}

static bool parse_file(struct recipe_parser *p, const cJSON *o, const char *b,
		       const struct recipe_identity *id, struct recipe_identity_image *im)
{
	char jp[RECIPE_JPATH_MAX];

	recipe_jpath_key(jp, b, "pool");
	if (recipe_get_string(p, o, b, "pool", true, &im->pool) <= 0)
		return false;
	if (recipe_identity_key_pool(id, im->pool, strlen(im->pool), NULL) < 0 ||
	    strcmp(id->pools[recipe_identity_key_pool(id, im->pool, strlen(im->pool), NULL)],
		   im->pool) != 0) {
		recipe_problem(p, jp, "'%s' is not a pool of \"identity\".\"pools\"", im->pool);
		return false;
	}
	return true;
}

/* The placeholder a check-time trial gives key: what its fields can take. */
static const char *placeholder(const struct recipe_identity_image *im, const char *key)
{
	char want[80];
	const char *ph = "";

	snprintf(want, sizeof(want), "{%.70s}", key);
	for (size_t i = 0; i < im->raw.n_fields; i++) {
		const struct identity_field *f = &im->raw.fields[i];

		if (!f->text || !strstr(f->text, want))
			continue;
		if (f->kind == IDENTITY_FIELD_MAC)
			return "00:00:00:00:00:00";
		if (f->kind == IDENTITY_FIELD_UINT)
			ph = "0";
	}
	return ph;
}

/* Generate the image once with placeholder values: the layout must fit its size. */
static bool trial(struct recipe_parser *p, const char *b, const struct recipe_identity *id,
		  struct recipe_identity_image *im)
{
	struct identity_value vals[RECIPE_IDENTITY_POOLS_MAX * 11];
	char keys[RECIPE_IDENTITY_POOLS_MAX * 11][80];
	uint8_t *out = NULL;
	size_t n = 0, len = 0;
	struct err e = { 0 };
	int r;

	if (im->kind == RECIPE_IDENTITY_FILE)
		return true;
	for (size_t i = 0; i < id->n_pools; i++)
		for (int k = -1; k < 10; k++) {
			if (k < 0)
				snprintf(keys[n], sizeof(keys[n]), "%.64s", id->pools[i]);
			else
				snprintf(keys[n], sizeof(keys[n]), "%.64s%d", id->pools[i], k);
			vals[n] = (struct identity_value){ .key = keys[n],
							   .value = placeholder(im, keys[n]) };
			n++;
		}
	if (im->kind == RECIPE_IDENTITY_RAW)
		r = identity_image_raw(&im->raw, vals, n, &out, &len, &e);
	else
		r = identity_image_uboot_env(&im->env, vals, n, &out, &len, &e);
	free(out);
	if (r == -ENOMEM) {
		p->oom = true;
		return false;
	}
	if (r < 0)
		recipe_problem(p, b, "does not fit its %zu bytes: %s", im->size, e.msg);
	return r >= 0;
}

static bool parse_image(struct recipe_parser *p, const cJSON *o, const char *b,
			const struct recipe_identity *id, struct recipe_identity_image *im)
{
	static const char *const keys[] = { "kind",	 "size",       "fill", "fields", "vars",
					    "redundant", "big_endian", "pool", NULL };
	uint64_t size = 0, fill = 0xff;
	int kind = -1, rk;
	char jp[RECIPE_JPATH_MAX];
	bool ok;

	if (!cJSON_IsObject(o)) {
		recipe_problem(p, b, "not an object");
		return false;
	}
	ok = recipe_check_keys(p, o, b, keys, NULL);
	rk = recipe_get_enum(p, o, b, "kind", kind_names, _RECIPE_IDENTITY_KIND_MAX, 7, &kind);
	if (rk == 0) {
		recipe_jpath_key(jp, b, "kind");
		recipe_problem(p, jp, "missing");
	}
	ok = recipe_get_number(p, o, b, "size", true, 1, IDENTITY_IMAGE_SIZE_MAX, &size) > 0 && ok;
	ok = recipe_get_number(p, o, b, "fill", false, 0, 255, &fill) >= 0 && ok;
	im->size = (size_t)size;
	im->fill = (uint8_t)fill;
	if (rk <= 0)
		return false;
	im->kind = kind;
	if (kind == RECIPE_IDENTITY_RAW)
		ok = parse_raw(p, o, b, id, im) && ok;
	else if (kind == RECIPE_IDENTITY_UBOOT_ENV)
		ok = parse_env(p, o, b, id, im) && ok;
	else
		ok = parse_file(p, o, b, id, im) && ok;
	return ok && trial(p, b, id, im);
}

static bool parse_images(struct recipe_parser *p, const cJSON *o, struct recipe_identity *id)
{
	char jp[RECIPE_JPATH_MAX], ij[RECIPE_JPATH_MAX];
	const cJSON *a;
	bool ok = true;
	int r = recipe_get_item(p, o, "identity", "images", false, &a, jp);

	if (r <= 0)
		return r == 0;
	if (!cJSON_IsObject(a) || cJSON_GetArraySize(a) > RECIPE_IDENTITY_IMAGES_MAX) {
		recipe_problem(p, jp, "needs an object of at most %d named images",
			       RECIPE_IDENTITY_IMAGES_MAX);
		return false;
	}
	id->images = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*id->images));
	if (!id->images) {
		p->oom = true;
		return false;
	}
	for (const cJSON *e = a->child; e; e = e->next) {
		struct recipe_identity_image *im = &id->images[id->n_images++];

		recipe_jpath_key(ij, jp, e->string);
		if (!(im->name = recipe_strdup(p, e->string)))
			return false;
		ok = parse_image(p, e, ij, id, im) && ok;
	}
	return ok;
}

bool recipe_parse_identity(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	static const char *const keys[] = { "pools", "images", "rework", NULL };
	static const char *const rework_names[] = { "keep", "new" };
	const cJSON *o;
	char jp[RECIPE_JPATH_MAX];
	int rework = 0;
	bool ok;

	p->identity = &r->identity;
	if (recipe_get_item(p, root, NULL, "identity", false, &o, jp) <= 0)
		return true;
	if (!cJSON_IsObject(o)) {
		recipe_problem(p, jp, "not an object");
		return false;
	}
	ok = recipe_check_keys(p, o, "identity", keys, NULL);
	ok = recipe_get_enum(p, o, "identity", "rework", rework_names, 2, 3, &rework) >= 0 && ok;
	r->identity.rework_new = rework == 1;
	ok = parse_pools(p, o, &r->identity) && ok;
	return parse_images(p, o, &r->identity) && ok;
}

bool recipe_get_identity_image(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_image *img)
{
	char jp[RECIPE_JPATH_MAX];
	_cleanup_free_ char *name = NULL;
	const struct recipe_identity *id = p->identity;

	recipe_jpath_key(jp, b, "identity");
	if (cJSON_HasObjectItem(o, "file") || cJSON_HasObjectItem(o, "sha256")) {
		recipe_problem(p, jp, "an identity image takes no \"file\" or \"sha256\"");
		return false;
	}
	if (recipe_get_string(p, o, b, "identity", true, &name) <= 0)
		return false;
	for (size_t i = 0; id && i < id->n_images; i++) {
		if (strcmp(id->images[i].name, name) != 0)
			continue;
		if (asprintf(&img->file, "identity:%s", name) < 0) {
			img->file = NULL;
			p->oom = true;
			return false;
		}
		img->identity = (unsigned)i + 1;
		img->size = img->write_size = id->images[i].size;
		return true;
	}
	recipe_problem(p, jp, "'%s' is not an image of \"identity\".\"images\"", name);
	return false;
}

/* Whether [addr, addr + len) reaches an STM32 OTP area; *area names it. */
static bool reaches_otp(uint64_t addr, uint64_t len, const char **area)
{
	for (size_t i = 0; i < ARRAY_SIZE(otp_areas); i++)
		if (addr < (uint64_t)otp_areas[i].address + otp_areas[i].size &&
		    otp_areas[i].address < addr + len) {
			*area = otp_areas[i].parts;
			return true;
		}
	return false;
}

void recipe_check_identity(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok)
{
	char sj[RECIPE_JPATH_MAX], jp[RECIPE_JPATH_MAX];

	for (size_t i = 0; i < r->n_stages; i++) {
		const struct recipe_stage *s = &r->stages[i];
		const struct recipe_dfuse_download *a = &s->u.dfuse_download;
		const char *area = NULL;
		bool otp;

		if (s->op != RECIPE_OP_DFUSE_DOWNLOAD || !stage_ok[i])
			continue;
		otp = reaches_otp(a->address, a->image.write_size, &area);
		recipe_jpath_index(sj, "stages", i);
		recipe_jpath_key(jp, sj, "irreversible");
		if (otp && !s->irreversible)
			recipe_problem(p, sj,
				       "writes 0x%08x-0x%08" PRIx64
				       " in %s, one-time programmable: "
				       "acknowledge with \"irreversible\": true",
				       a->address, a->address + a->image.write_size - 1, area);
		else if (!otp && s->irreversible)
			recipe_problem(
				p, jp,
				"this dfuse.download reaches no OTP area: \"irreversible\" is "
				"only allowed on one that does");
	}
}
