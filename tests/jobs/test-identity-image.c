/*
 * Tests for jobs/identity-image.c (issue 18 item 4): raw templates and
 * U-Boot environment images built from a unit's values and parsed back
 * here as a board would read them (U-Boot env_import(): CRC-32 of the data
 * area, NUL-separated name=value, flag byte of the redundant variant).
 */
#include "jobs/identity-image.h"
#include "tests/lib/test.h"

#include <errno.h>
#include <zlib.h>

static const struct identity_value unit_values[] = {
	{ "serial", "SN26100000012" },
	{ "mac0", "02:00:00:00:00:10" },
	{ "mac1", "02:00:00:00:00:11" },
	{ "board", "0x1234" },
};
#define N_VALUES (sizeof(unit_values) / sizeof(unit_values[0]))

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

TEST(identity_raw_fields_at_offsets_parse_back)
{
	const struct identity_field f[] = {
		{ .kind = IDENTITY_FIELD_ASCII, .offset = 0x00, .size = 16, .text = "{serial}" },
		{ .kind = IDENTITY_FIELD_MAC, .offset = 0x10, .text = "{mac0}" },
		{ .kind = IDENTITY_FIELD_UINT, .offset = 0x18, .size = 4, .text = "{board}" },
		{ .kind = IDENTITY_FIELD_UINT,
		  .offset = 0x1c,
		  .size = 2,
		  .big_endian = true,
		  .text = "{board}" },
		{ .kind = IDENTITY_FIELD_CRC32,
		  .offset = 0x3c,
		  .crc_offset = 0,
		  .crc_length = 0x3c },
	};
	const struct identity_raw t = { .size = 0x40, .fill = 0xff, .fields = f, .n_fields = 5 };
	uint8_t *img = NULL;
	size_t len = 0;
	struct err e = { 0 };

	ASSERT_OK(identity_image_raw(&t, unit_values, N_VALUES, &img, &len, &e));
	ASSERT_EQ(len, 0x40);
	ASSERT_MEMEQ(img, "SN26100000012\0\0\0", 16);
	ASSERT_MEMEQ(img + 0x10, "\x02\x00\x00\x00\x00\x10", 6);
	ASSERT_EQ(img[0x16], 0xff); /* fill between fields */
	ASSERT_EQ(le32(img + 0x18), 0x1234);
	ASSERT_EQ(img[0x1c], 0x12);
	ASSERT_EQ(img[0x1d], 0x34);
	ASSERT_EQ(img[0x3b], 0xff);
	ASSERT_EQ(le32(img + 0x3c), crc32(0, img, 0x3c));
	free(img);
}

TEST(identity_raw_errors_name_the_field)
{
	struct identity_field f = {
		.kind = IDENTITY_FIELD_ASCII, .offset = 0x38, .size = 16, .text = "{serial}"
	};
	struct identity_raw t = { .size = 0x40, .fields = &f, .n_fields = 1 };
	struct identity_field two[2] = {
		{ .kind = IDENTITY_FIELD_MAC, .offset = 0, .text = "{mac0}" },
		{ .kind = IDENTITY_FIELD_UINT, .offset = 4, .size = 4, .text = "1" },
	};
	uint8_t *img = NULL;
	size_t len = 0;
	struct err e = { 0 };

	ASSERT_EQ(identity_image_raw(&t, unit_values, N_VALUES, &img, &len, &e), -ENOSPC);
	ASSERT_CONTAINS(e.msg, "field at 0x38 (16 bytes) does not fit the 64-byte template");
	err_clear(&e);
	f.offset = 0, f.size = 8;
	ASSERT_EQ(identity_image_raw(&t, unit_values, N_VALUES, &img, &len, &e), -ENOSPC);
	ASSERT_CONTAINS(e.msg, "'SN26100000012' is 13 bytes, the field 8");
	err_clear(&e);
	f.text = "{nope}";
	ASSERT_EQ(identity_image_raw(&t, unit_values, N_VALUES, &img, &len, &e), -ENOENT);
	ASSERT_CONTAINS(e.msg, "no value for {nope}");
	err_clear(&e);
	f = (struct identity_field){ .kind = IDENTITY_FIELD_UINT, .size = 1, .text = "{board}" };
	ASSERT_EQ(identity_image_raw(&t, unit_values, N_VALUES, &img, &len, &e), -ENOSPC);
	ASSERT_CONTAINS(e.msg, "0x1234 does not fit 1 bytes");
	err_clear(&e);
	t.fields = two, t.n_fields = 2;
	ASSERT_EQ(identity_image_raw(&t, unit_values, N_VALUES, &img, &len, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "overlap");
	ASSERT_TRUE(img == NULL);
}

/* Parse an environment image back as U-Boot's env_import() does; "" if invalid. */
static void parse_env(const uint8_t *img, size_t size, bool redundant, bool big_endian, char *vars,
		      size_t room)
{
	size_t header = redundant ? 5 : 4;
	const char *p = (const char *)img + header, *end = (const char *)img + size;
	uint32_t crc = big_endian ? be32(img) : le32(img);

	vars[0] = '\0';
	if (crc != crc32(0, img + header, (uInt)(size - header)))
		TEST_FAIL("environment CRC 0x%08x does not match its data", crc);
	while (p < end && *p) {
		size_t n = strnlen(p, (size_t)(end - p));

		ASSERT_TRUE(p + n < end); /* NUL-terminated inside the area */
		snprintf(vars + strlen(vars), room - strlen(vars), "%s;", p);
		p += n + 1;
	}
	ASSERT_TRUE(p < end && *p == '\0'); /* the list ends with an extra NUL */
}

static const struct identity_env_var env_vars[] = {
	{ "serial#", "{serial}" },
	{ "ethaddr", "{mac0}" },
	{ "eth1addr", "{mac1}" },
	{ "bootdelay", "0" },
};

TEST(identity_uboot_env_parses_back)
{
	const struct identity_uboot_env t = {
		.size = 256, .fill = 0xff, .vars = env_vars, .n_vars = 4
	};
	const char *want = "serial#=SN26100000012;ethaddr=02:00:00:00:00:10;"
			   "eth1addr=02:00:00:00:00:11;bootdelay=0;";
	uint8_t *img = NULL;
	size_t len = 0;
	struct err e = { 0 };
	char vars[512];

	ASSERT_OK(identity_image_uboot_env(&t, unit_values, N_VALUES, &img, &len, &e));
	ASSERT_EQ(len, 256);
	parse_env(img, len, false, false, vars, sizeof(vars));
	ASSERT_STREQ(vars, want);
	ASSERT_EQ(img[4 + strlen(want) + 1], 0xff); /* padding after the two NULs */
	ASSERT_EQ(img[255], 0xff);
	free(img);
}

TEST(identity_uboot_env_redundant_flag_and_big_endian_crc)
{
	const struct identity_uboot_env t = {
		.size = 128, .redundant = true, .big_endian = true, .vars = env_vars, .n_vars = 2
	};
	uint8_t *img = NULL;
	size_t len = 0;
	struct err e = { 0 };
	char vars[512];

	ASSERT_OK(identity_image_uboot_env(&t, unit_values, N_VALUES, &img, &len, &e));
	ASSERT_EQ(img[4], 1); /* ENV_REDUND_ACTIVE */
	ASSERT_MEMEQ(img + 5, "serial#=SN26100000012", 21);
	parse_env(img, len, true, true, vars, sizeof(vars));
	ASSERT_STREQ(vars, "serial#=SN26100000012;ethaddr=02:00:00:00:00:10;");
	ASSERT_EQ(img[127], 0x00);
	free(img);
}

TEST(identity_uboot_env_that_does_not_fit_is_an_error)
{
	/* 4 + 22 + 26 + 1 = 53 bytes needed; 52 leave no room for the final NUL. */
	struct identity_uboot_env t = { .size = 52, .vars = env_vars, .n_vars = 2 };
	uint8_t *img = NULL;
	size_t len = 0;
	struct err e = { 0 };
	char vars[128];

	ASSERT_EQ(identity_image_uboot_env(&t, unit_values, N_VALUES, &img, &len, &e), -ENOSPC);
	ASSERT_CONTAINS(e.msg, "do not fit the 48-byte data area (at 'ethaddr')");
	ASSERT_TRUE(img == NULL);
	t.size = 53;
	ASSERT_OK(identity_image_uboot_env(&t, unit_values, N_VALUES, &img, &len, &e));
	parse_env(img, len, false, false, vars, sizeof(vars));
	ASSERT_STREQ(vars, "serial#=SN26100000012;ethaddr=02:00:00:00:00:10;");
	free(img);
	err_clear(&e);
	t.vars = (const struct identity_env_var[]){ { "bad=name", "x" } }, t.n_vars = 1;
	ASSERT_EQ(identity_image_uboot_env(&t, unit_values, N_VALUES, &img, &len, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "'bad=name'");
}

TEST(identity_expand_keys_and_braces)
{
	char buf[64];
	struct err e = { 0 };

	ASSERT_OK(identity_expand("{{x} {serial}-{board}", unit_values, N_VALUES, "t", buf,
				  sizeof(buf), &e));
	ASSERT_STREQ(buf, "{x} SN26100000012-0x1234");
	ASSERT_EQ(identity_expand("{serial", unit_values, N_VALUES, "t", buf, sizeof(buf), &e),
		  -EINVAL);
	err_clear(&e);
	ASSERT_EQ(identity_expand("{serial}{serial}", unit_values, N_VALUES, "t", buf, 20, &e),
		  -ENOSPC);
}

TEST_MAIN()
