/*
 * This file implements what every part of the recipe parser shares: problem
 * reporting (struct recipe_diags, recipe_problem()) and the JSON field
 * readers, which check one key's type, range or spelling and report a bad
 * one by its JSON path ("stages[2].offset: not a number").  Declared in
 * jobs/recipe-private.h.
 */
#include "jobs/recipe-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- field helpers ---- */

/* JSON paths are short; a too-long one is cut, which only shortens a message. */
void recipe_jpath_key(char *out, const char *base, const char *key)
{
	int n;

	if (base && *base)
		n = snprintf(out, RECIPE_JPATH_MAX, "%s.%s", base, key);
	else
		n = snprintf(out, RECIPE_JPATH_MAX, "%s", key);
	if (n >= RECIPE_JPATH_MAX)
		out[RECIPE_JPATH_MAX - 1] = '\0';
}

void recipe_jpath_index(char *out, const char *base, size_t i)
{
	if (snprintf(out, RECIPE_JPATH_MAX, "%s[%zu]", base, i) >= RECIPE_JPATH_MAX)
		out[RECIPE_JPATH_MAX - 1] = '\0';
}

char *recipe_strdup(struct recipe_parser *p, const char *s)
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
bool recipe_check_keys(struct recipe_parser *p, const cJSON *obj, const char *base,
		       const char *const *allowed, const char *const *common)
{
	char jp[RECIPE_JPATH_MAX];
	bool ok = true;

	for (const cJSON *c = obj->child; c; c = c->next) {
		bool known = false;

		for (const char *const *a = allowed; a && *a && !known; a++)
			known = strcmp(*a, c->string) == 0;
		for (const char *const *a = common; a && *a && !known; a++)
			known = strcmp(*a, c->string) == 0;
		recipe_jpath_key(jp, base, c->string);
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

int recipe_get_item(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		    bool required, const cJSON **ret, char *jp)
{
	recipe_jpath_key(jp, base, key);
	*ret = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (*ret)
		return 1;
	if (required) {
		recipe_problem(p, jp, "missing");
		return -1;
	}
	return 0;
}

int recipe_get_string(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		      bool required, char **out)
{
	char jp[RECIPE_JPATH_MAX];
	const cJSON *it;
	int r = recipe_get_item(p, obj, base, key, required, &it, jp);

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
	*out = recipe_strdup(p, it->valuestring);
	return *out ? 1 : -1;
}

int recipe_get_bool(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		    bool *out)
{
	char jp[RECIPE_JPATH_MAX];
	const cJSON *it;
	int r = recipe_get_item(p, obj, base, key, false, &it, jp);

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
bool recipe_parse_number(const cJSON *it, uint64_t *out)
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

/*
 * Why recipe_parse_number() refused it: a number outside what fits is out
 * of range (with the allowed range), a fraction is not whole, the rest is
 * not a number.
 */
static void describe_bad_number(struct recipe_parser *p, const char *jp, const cJSON *it,
				uint64_t min, uint64_t max)
{
	bool too_big = false, negative = false;

	if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;

		if (d == d && d >= 0 && d <= 9007199254740992.0) {
			recipe_problem(p, jp, "not a whole number: %g", d);
			return;
		}
		negative = d < 0;
		too_big = !negative;
	} else if (cJSON_IsString(it)) {
		const char *s = it->valuestring;

		negative = s[0] == '-';
		if (*s >= '0' && *s <= '9') {
			char *end;

			errno = 0;
			strtoull(s, &end, 0);
			too_big = errno == ERANGE && *end == '\0';
		}
	}
	if (negative || too_big)
		recipe_problem(p, jp, "out of range: %s (allowed %" PRIu64 "..%" PRIu64 ")",
			       negative ? "negative" : "too large", min, max);
	else
		recipe_problem(p, jp, "not a number");
}

int recipe_get_number(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		      bool required, uint64_t min, uint64_t max, uint64_t *out)
{
	char jp[RECIPE_JPATH_MAX];
	const cJSON *it;
	uint64_t v;
	int r = recipe_get_item(p, obj, base, key, required, &it, jp);

	if (r <= 0)
		return r;
	if (!recipe_parse_number(it, &v)) {
		describe_bad_number(p, jp, it, min, max);
		return -1;
	}
	if (v < min || v > max) {
		recipe_problem(p, jp,
			       "out of range: %" PRIu64 " (allowed %" PRIu64 "..%" PRIu64 ")", v,
			       min, max);
		return -1;
	}
	*out = v;
	return 1;
}

bool recipe_parse_hex(const char *s, size_t digits, uint32_t *out)
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
int recipe_get_hex16(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		     bool required, uint16_t *out)
{
	char jp[RECIPE_JPATH_MAX];
	const cJSON *it;
	uint32_t v;
	int r = recipe_get_item(p, obj, base, key, required, &it, jp);

	if (r <= 0)
		return r;
	if (!cJSON_IsString(it)) {
		recipe_problem(p, jp, "not a string");
		return -1;
	}
	if (!recipe_parse_hex(it->valuestring, 4, &v)) {
		recipe_problem(p, jp, "not 4 hex digits: '%s'", it->valuestring);
		return -1;
	}
	*out = (uint16_t)v;
	return 1;
}

/* A string naming one of names[] whose bit is set in allowed; *out keeps its default if absent. */
int recipe_get_enum(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		    const char *const *names, int n, unsigned allowed, int *out)
{
	char jp[RECIPE_JPATH_MAX], list[128] = "";
	const cJSON *it;
	int r = recipe_get_item(p, obj, base, key, false, &it, jp);

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
