/*
 * This file implements the per-unit identity images of jobs/identity-image.h:
 * {key} expansion, the raw field template and the U-Boot environment.
 */
#include "jobs/identity-image.h"

#include "db/pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define TEXT_MAX 1024

static const char *lookup(const struct identity_value *values, size_t n, const char *key,
			  size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (values[i].key && strlen(values[i].key) == len &&
		    memcmp(values[i].key, key, len) == 0)
			return values[i].value;
	return NULL;
}

int identity_expand(const char *text, const struct identity_value *values, size_t n_values,
		    const char *what, char *buf, size_t size, struct err *err)
{
	size_t o = 0;

	for (const char *p = text ? text : ""; *p;) {
		const char *piece = p, *end;
		size_t len = 1;

		if (p[0] == '{' && p[1] == '{') {
			p += 2;
		} else if (p[0] == '{') {
			end = strchr(p, '}');
			if (!end)
				return err_set(err, -EINVAL, "%s: '{' without '}' in '%s'", what,
					       text);
			piece = lookup(values, n_values, p + 1, (size_t)(end - p - 1));
			if (!piece)
				return err_set(err, -ENOENT, "%s: no value for {%.*s}", what,
					       (int)(end - p - 1), p + 1);
			len = strlen(piece);
			p = end + 1;
		} else {
			p++;
		}
		if (o + len >= size)
			return err_set(err, -ENOSPC, "%s: text longer than %zu bytes", what,
				       size - 1);
		memcpy(buf + o, piece, len);
		o += len;
	}
	buf[o] = '\0';
	return 0;
}

/* ---- raw ---- */

static size_t field_size(const struct identity_field *f)
{
	if (f->size)
		return f->size;
	return f->kind == IDENTITY_FIELD_MAC ? 6 : f->kind == IDENTITY_FIELD_CRC32 ? 4 : 0;
}

static void put_uint(uint8_t *at, size_t size, uint64_t v, bool big_endian)
{
	for (size_t i = 0; i < size; i++)
		at[big_endian ? size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static int put_ascii(uint8_t *at, const struct identity_field *f, const char *text, struct err *err)
{
	size_t len = strlen(text);

	if (len > f->size)
		return err_set(err, -ENOSPC, "field at 0x%zx: '%s' is %zu bytes, the field %zu",
			       f->offset, text, len, f->size);
	memset(at, 0, f->size);
	memcpy(at, text, len);
	return 0;
}

static int put_number(uint8_t *at, const struct identity_field *f, const char *text,
		      struct err *err)
{
	unsigned long long v;
	char *end;

	if (f->size != 1 && f->size != 2 && f->size != 4 && f->size != 8)
		return err_set(err, -EINVAL, "field at 0x%zx: integer size %zu (1, 2, 4 or 8)",
			       f->offset, f->size);
	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno || !*text || *end || text[0] == '-')
		return err_set(err, -EINVAL, "field at 0x%zx: '%s' is not a number", f->offset,
			       text);
	if (f->size < 8 && v >> (8 * f->size))
		return err_set(err, -ENOSPC, "field at 0x%zx: %s does not fit %zu bytes", f->offset,
			       text, f->size);
	put_uint(at, f->size, v, f->big_endian);
	return 0;
}

static int put_mac(uint8_t *at, const struct identity_field *f, const char *text, struct err *err)
{
	int64_t mac;

	if (db_pool_parse_mac(text, &mac) < 0)
		return err_set(err, -EINVAL, "field at 0x%zx: '%s' is not a MAC address", f->offset,
			       text);
	put_uint(at, 6, (uint64_t)mac, true); /* first octet first, as on the wire */
	return 0;
}

typedef int (*put_fn)(uint8_t *at, const struct identity_field *f, const char *text,
		      struct err *err);

static const put_fn putters[_IDENTITY_FIELD_KIND_MAX] = {
	[IDENTITY_FIELD_ASCII] = put_ascii,
	[IDENTITY_FIELD_UINT] = put_number,
	[IDENTITY_FIELD_MAC] = put_mac,
};

static bool overlap(size_t a, size_t alen, size_t b, size_t blen)
{
	return a < b + blen && b < a + alen;
}

static int check_fields(const struct identity_raw *t, struct err *err)
{
	for (size_t i = 0; i < t->n_fields; i++) {
		const struct identity_field *f = &t->fields[i];
		size_t n = field_size(f);

		if ((unsigned)f->kind >= _IDENTITY_FIELD_KIND_MAX || n == 0)
			return err_set(err, -EINVAL, "field %zu: bad kind or size", i);
		if (f->offset > t->size || n > t->size - f->offset)
			return err_set(
				err, -ENOSPC,
				"field at 0x%zx (%zu bytes) does not fit the %zu-byte template",
				f->offset, n, t->size);
		if (f->kind == IDENTITY_FIELD_CRC32 &&
		    (f->crc_offset > t->size || f->crc_length > t->size - f->crc_offset ||
		     overlap(f->offset, n, f->crc_offset, f->crc_length)))
			return err_set(
				err, -EINVAL,
				"CRC-32 at 0x%zx: range 0x%zx+%zu leaves the template or covers the CRC",
				f->offset, f->crc_offset, f->crc_length);
		for (size_t j = 0; j < i; j++)
			if (overlap(f->offset, n, t->fields[j].offset, field_size(&t->fields[j])))
				return err_set(err, -EINVAL, "fields at 0x%zx and 0x%zx overlap",
					       t->fields[j].offset, f->offset);
	}
	return 0;
}

static int place_fields(const struct identity_raw *t, const struct identity_value *values,
			size_t n_values, uint8_t *img, struct err *err)
{
	char text[TEXT_MAX], what[48];
	int rc;

	for (size_t i = 0; i < t->n_fields; i++) {
		const struct identity_field *f = &t->fields[i];

		if (f->kind == IDENTITY_FIELD_CRC32)
			continue;
		snprintf(what, sizeof(what), "field at 0x%zx", f->offset);
		rc = identity_expand(f->text, values, n_values, what, text, sizeof(text), err);
		if (rc < 0)
			return rc;
		rc = putters[f->kind](img + f->offset, f, text, err);
		if (rc < 0)
			return rc;
	}
	/* CRCs last: they cover the fields placed above. */
	for (size_t i = 0; i < t->n_fields; i++) {
		const struct identity_field *f = &t->fields[i];

		if (f->kind == IDENTITY_FIELD_CRC32)
			put_uint(img + f->offset, 4,
				 crc32(0, img + f->crc_offset, (uInt)f->crc_length), f->big_endian);
	}
	return 0;
}

int identity_image_raw(const struct identity_raw *t, const struct identity_value *values,
		       size_t n_values, uint8_t **out, size_t *out_len, struct err *err)
{
	uint8_t *img;
	int rc;

	if (!t || !out || !out_len || t->size == 0)
		return err_set(err, -EINVAL, "raw identity template: no size");
	rc = check_fields(t, err);
	if (rc < 0)
		return rc;
	img = malloc(t->size);
	if (!img)
		return err_set(err, -ENOMEM, "out of memory");
	memset(img, t->fill, t->size);
	rc = place_fields(t, values, n_values, img, err);
	if (rc < 0) {
		free(img);
		return rc;
	}
	*out = img;
	*out_len = t->size;
	return 0;
}

/* ---- uboot-env ---- */

static int put_var(const struct identity_env_var *v, const struct identity_value *values,
		   size_t n_values, uint8_t *data, size_t room, size_t *o, struct err *err)
{
	char text[TEXT_MAX], what[80];
	size_t nlen, vlen;
	int rc;

	if (!v->name || !*v->name || strchr(v->name, '='))
		return err_set(err, -EINVAL, "uboot-env: variable name '%s' is empty or has '='",
			       v->name ? v->name : "");
	snprintf(what, sizeof(what), "uboot-env variable '%s'", v->name);
	rc = identity_expand(v->text, values, n_values, what, text, sizeof(text), err);
	if (rc < 0)
		return rc;
	nlen = strlen(v->name);
	vlen = strlen(text);
	/* Room for this string, its NUL, and the NUL that ends the list. */
	if (*o + nlen + 1 + vlen + 1 + 1 > room)
		return err_set(err, -ENOSPC,
			       "uboot-env: variables do not fit the %zu-byte data area (at '%s')",
			       room, v->name);
	memcpy(data + *o, v->name, nlen);
	data[*o + nlen] = '=';
	memcpy(data + *o + nlen + 1, text, vlen);
	data[*o + nlen + 1 + vlen] = '\0';
	*o += nlen + 1 + vlen + 1;
	return 0;
}

int identity_image_uboot_env(const struct identity_uboot_env *t,
			     const struct identity_value *values, size_t n_values, uint8_t **out,
			     size_t *out_len, struct err *err)
{
	size_t header, o = 0;
	uint8_t *img, *data;
	int rc = 0;

	if (!t || !out || !out_len)
		return err_set(err, -EINVAL, "uboot-env: no template");
	header = 4 + (t->redundant ? 1 : 0);
	if (t->size < header + 2)
		return err_set(err, -ENOSPC, "uboot-env: size %zu leaves no data area", t->size);
	img = malloc(t->size);
	if (!img)
		return err_set(err, -ENOMEM, "out of memory");
	memset(img, t->fill, t->size);
	data = img + header;
	for (size_t i = 0; rc >= 0 && i < t->n_vars; i++)
		rc = put_var(&t->vars[i], values, n_values, data, t->size - header, &o, err);
	if (rc < 0) {
		free(img);
		return rc;
	}
	data[o] = '\0'; /* the NUL that ends the list */
	if (t->redundant)
		img[4] = 1; /* ENV_REDUND_ACTIVE */
	put_uint(img, 4, crc32(0, data, (uInt)(t->size - header)), t->big_endian);
	*out = img;
	*out_len = t->size;
	return 0;
}
