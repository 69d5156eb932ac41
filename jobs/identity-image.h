/*
 * Per-unit identity images (issue 18 item 4): the bytes a unit's serial,
 * MAC addresses and the like become, written by the normal ops so the
 * memory plan and whole-unit verification apply unchanged.  Pure
 * functions: a template and the unit's values in, a malloc'd image out;
 * no I/O, no database.
 *
 * Texts in templates name values as {key} (e.g. "{serial}", "{mac0}"),
 * replaced by the value of that key; "{{" is a literal '{'.  A key with no
 * value is an error naming it.
 *
 * raw: an image of size bytes, fill where no field is, and fields at
 * offsets: ASCII text (NUL-padded to the field size), an unsigned integer
 * of 1, 2, 4 or 8 bytes little or big endian (text parsed as a C number),
 * a MAC address as its 6 bytes, and a CRC-32 (zlib/IEEE 802.3, as
 * crc32(0, ...)) over a range of the image, computed after every other
 * field is placed.  Fields may not overlap each other or leave the image;
 * a CRC may not cover itself.
 *
 * uboot-env: a U-Boot environment image as mkenvimage writes it and
 * env_import() reads it (U-Boot env/common.c, include/env.h, tools/
 * mkenvimage.c): a 4-byte CRC-32 of the data area, with redundant one
 * flag byte (1, "active"), then the data area: "name=value" strings each
 * ended by NUL, one more NUL, then fill (mkenvimage: 0xff) up to size.
 * The CRC is little endian unless big_endian (mkenvimage -b).
 *
 * Errors: -EINVAL a bad template or value (message names the field or
 * variable), -ENOENT a key with no value, -ENOSPC the template does not
 * fit its size, -ENOMEM.
 */
#ifndef FLASHD_JOBS_IDENTITY_IMAGE_H
#define FLASHD_JOBS_IDENTITY_IMAGE_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One value of the unit: key as templates name it, value as text. */
struct identity_value {
	const char *key;   /* "serial", "mac0" */
	const char *value; /* "SN26100000012", "02:00:00:00:00:01" */
};

enum identity_field_kind {
	IDENTITY_FIELD_ASCII,
	IDENTITY_FIELD_UINT,
	IDENTITY_FIELD_MAC,
	IDENTITY_FIELD_CRC32,
	_IDENTITY_FIELD_KIND_MAX,
};

struct identity_field {
	enum identity_field_kind kind;
	size_t offset;
	size_t size;	   /* ASCII: bytes; UINT: 1, 2, 4 or 8; MAC 6 and CRC32 4 (0 = that) */
	bool big_endian;   /* UINT, CRC32 */
	const char *text;  /* ASCII, UINT, MAC: with {key}s */
	size_t crc_offset; /* CRC32: the bytes it covers */
	size_t crc_length;
};

struct identity_raw {
	size_t size;
	uint8_t fill;
	const struct identity_field *fields;
	size_t n_fields;
};

struct identity_env_var {
	const char *name; /* "serial#", "ethaddr": no '=', not empty */
	const char *text; /* value, with {key}s */
};

struct identity_uboot_env {
	size_t size;	 /* the whole image, CONFIG_ENV_SIZE */
	bool redundant;	 /* CONFIG_SYS_REDUNDAND_ENVIRONMENT: flag byte after the CRC */
	bool big_endian; /* CRC stored big endian */
	uint8_t fill;	 /* after the data: 0xff as mkenvimage, 0x00 as fw_setenv */
	const struct identity_env_var *vars;
	size_t n_vars;
};

int identity_image_raw(const struct identity_raw *t, const struct identity_value *values,
		       size_t n_values, uint8_t **out, size_t *out_len, struct err *err);

int identity_image_uboot_env(const struct identity_uboot_env *t,
			     const struct identity_value *values, size_t n_values, uint8_t **out,
			     size_t *out_len, struct err *err);

/* text with its {key}s replaced into buf; what names the field in errors. */
int identity_expand(const char *text, const struct identity_value *values, size_t n_values,
		    const char *what, char *buf, size_t size, struct err *err);

#endif
