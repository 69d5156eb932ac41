/*
 * Tests for protocols/dfu_file.c.  Fixtures are built here, following the
 * layout protocol-dfu.md §2.10 verified with dfuse-pack 0.11 (two 4096-byte
 * elements in alt 0: 8509 bytes, target size 8208, first element header at
 * offset 285).
 */
#include "protocols/dfu_file.h"

#include <errno.h>

#include "protocols/crc32.h"
#include "tests/lib/test.h"

struct fx {
	uint8_t buf[32768];
	size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void fx_bytes(struct fx *f, const void *p, size_t n)
{
	memcpy(f->buf + f->len, p, n);
	f->len += n;
}

static void fx_u32(struct fx *f, uint32_t v)
{
	put32(f->buf + f->len, v);
	f->len += 4;
}

/* Suffix with a correct CRC over everything before dwCRC. */
static void fx_suffix(struct fx *f, uint16_t bcd_dfu)
{
	uint8_t *s = f->buf + f->len;

	put16(s, 0x0000);
	put16(s + 2, 0xdf11);
	put16(s + 4, 0x0483);
	put16(s + 6, bcd_dfu);
	memcpy(s + 8, "UFD", 3);
	s[11] = 16;
	f->len += 16;
	put32(f->buf + f->len - 4, dfu_file_crc(f->buf, f->len - 4));
}

static void fx_refresh_crc(struct fx *f)
{
	put32(f->buf + f->len - 4, dfu_file_crc(f->buf, f->len - 4));
}

static void fx_target(struct fx *f, uint8_t alt, const char *name, uint32_t size, uint32_t n_el)
{
	uint8_t t[274] = { 0 };

	memcpy(t, "Target", 6);
	t[6] = alt;
	if (name) {
		put32(t + 7, 1);
		memcpy(t + 11, name, strlen(name));
	}
	put32(t + 266, size);
	put32(t + 270, n_el);
	fx_bytes(f, t, sizeof(t));
}

static void fx_element(struct fx *f, uint32_t addr, uint32_t size, uint8_t seed)
{
	fx_u32(f, addr);
	fx_u32(f, size);
	for (uint32_t i = 0; i < size; i++)
		f->buf[f->len++] = (uint8_t)(seed + i * 13);
}

static void fx_prefix(struct fx *f, uint8_t n_targets)
{
	fx_bytes(f, "DfuSe\x01", 6);
	fx_u32(f, 0); /* DFUImageSize, patched by fx_good */
	f->buf[f->len++] = n_targets;
}

/* The dfuse-pack example from §2.10. */
static void fx_good(struct fx *f)
{
	f->len = 0;
	fx_prefix(f, 1);
	fx_target(f, 0, "ST...", 2 * (8 + 4096), 2);
	fx_element(f, 0x08000000, 4096, 1);
	fx_element(f, 0x08010000, 4096, 2);
	put32(f->buf + 6, (uint32_t)f->len + 16);
	fx_suffix(f, DFU_FILE_BCD_DFUSE);
}

TEST(dfu_file_good_dfuse_file)
{
	static struct fx f;
	struct dfu_file *df = NULL;
	struct err e = { 0 };

	fx_good(&f);
	ASSERT_EQ(f.len, 8509);
	ASSERT_OK(dfu_file_parse(f.buf, f.len, &df, &e));
	ASSERT_EQ(df->suffix.bcd_dfu, 0x011a);
	ASSERT_EQ(df->suffix.id_vendor, 0x0483);
	ASSERT_EQ(df->suffix.id_product, 0xdf11);
	ASSERT_EQ(df->n_targets, 1);
	ASSERT_EQ(df->targets[0].alt, 0);
	ASSERT_STREQ(df->targets[0].name, "ST...");
	ASSERT_EQ(df->targets[0].n_elements, 2);
	ASSERT_EQ(df->targets[0].elements[0].address, 0x08000000);
	ASSERT_EQ(df->targets[0].elements[0].size, 4096);
	ASSERT_EQ(df->targets[0].elements[0].offset, 11 + 274 + 8);
	/* No copy: element data points into the caller's buffer. */
	ASSERT_TRUE(df->targets[0].elements[0].data == f.buf + 293);
	ASSERT_EQ(df->targets[0].elements[1].address, 0x08010000);
	ASSERT_TRUE(df->targets[0].elements[1].data == f.buf + 293 + 4096 + 8);
	dfu_file_free(df);
}

TEST(dfu_file_two_targets_unnamed)
{
	static struct fx f;
	_cleanup_(dfu_file_freep) struct dfu_file *df = NULL;
	struct err e = { 0 };

	f.len = 0;
	fx_prefix(&f, 2);
	fx_target(&f, 0, NULL, 8 + 100, 1);
	fx_element(&f, 0x08000000, 100, 5);
	fx_target(&f, 1, "Option Bytes", 8 + 16, 1);
	fx_element(&f, 0x1fffc000, 16, 6);
	fx_suffix(&f, DFU_FILE_BCD_DFUSE);
	ASSERT_OK(dfu_file_parse(f.buf, f.len, &df, &e));
	ASSERT_EQ(df->n_targets, 2);
	ASSERT_STREQ(df->targets[0].name, "");
	ASSERT_EQ(df->targets[1].alt, 1);
	ASSERT_EQ(df->targets[1].elements[0].address, 0x1fffc000);
}

TEST(dfu_file_plain_suffix)
{
	static struct fx f;
	_cleanup_(dfu_file_freep) struct dfu_file *df = NULL;
	struct err e = { 0 };

	f.len = 0;
	for (int i = 0; i < 1000; i++)
		f.buf[f.len++] = (uint8_t)i;
	fx_suffix(&f, DFU_FILE_BCD_DFU);
	ASSERT_OK(dfu_file_parse(f.buf, f.len, &df, &e));
	ASSERT_EQ(df->suffix.bcd_dfu, 0x0100);
	ASSERT_EQ(df->n_targets, 0);
	ASSERT_TRUE(df->payload == f.buf);
	ASSERT_EQ(df->payload_len, 1000);
}

TEST(dfu_file_raw_bin_has_no_suffix)
{
	static struct fx f;
	struct dfu_file *df = NULL;
	struct err e = { 0 };

	f.len = 64;
	memset(f.buf, 0xab, f.len);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -ENOMSG);
	ASSERT_STREQ(e.msg, "offset 56: no DFU suffix signature \"UFD\"");
	ASSERT_TRUE(df == NULL);
}

TEST(dfu_file_shorter_than_suffix)
{
	struct dfu_file *df = NULL;
	struct err e = { 0 };
	uint8_t b[10] = { 0 };

	ASSERT_EQ(dfu_file_parse(b, sizeof(b), &df, &e), -EMSGSIZE);
	ASSERT_STREQ(e.msg, "file is 10 bytes, too short for a 16-byte DFU suffix");
}

TEST(dfu_file_wrong_suffix_crc)
{
	static struct fx f;
	struct dfu_file *df = NULL;
	struct err e = { 0 };
	uint32_t good;

	fx_good(&f);
	good = dfu_file_crc(f.buf, f.len - 4);
	f.buf[400] ^= 0x01; /* one flipped bit in the first element */
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EILSEQ);
	char want[128];

	snprintf(want, sizeof(want), "offset 8505: suffix CRC 0x%08x, file has 0x%08x", good,
		 dfu_file_crc(f.buf, f.len - 4));
	ASSERT_STREQ(e.msg, want);
}

TEST(dfu_file_truncated_dfu)
{
	static struct fx f;
	struct dfu_file *df = NULL;
	struct err e = { 0 };

	/* Cut the file after 5000 bytes, then give it a fresh valid suffix: the target now overruns. */
	fx_good(&f);
	f.len = 5000;
	fx_suffix(&f, DFU_FILE_BCD_DFUSE);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EMSGSIZE);
	ASSERT_STREQ(e.msg, "offset 277: target 0 size 8208 exceeds the 4715 bytes left");

	/* Cut inside the target prefix. */
	fx_good(&f);
	f.len = 100;
	fx_suffix(&f, DFU_FILE_BCD_DFUSE);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EMSGSIZE);
	ASSERT_STREQ(e.msg, "offset 11: target 0 prefix truncated (89 bytes left)");

	/* Suffix only, no prefix. */
	f.len = 0;
	fx_bytes(&f, "DfuSe", 5);
	fx_suffix(&f, DFU_FILE_BCD_DFUSE);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EMSGSIZE);
	ASSERT_CONTAINS(e.msg, "offset 0: 5 bytes before the suffix");
}

TEST(dfu_file_element_overflows_file)
{
	static struct fx f;
	struct dfu_file *df = NULL;
	struct err e = { 0 };

	fx_good(&f);
	/* Second element claims 4097 bytes: one more than its target holds. */
	put32(f.buf + 293 + 4096 + 4, 4097);
	fx_refresh_crc(&f);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EMSGSIZE);
	ASSERT_STREQ(
		e.msg,
		"offset 4393: target 0 element 1 (0x08010000) size 4097 exceeds the 4096 bytes left");

	/* A huge size must not wrap any bounds arithmetic. */
	fx_good(&f);
	put32(f.buf + 285 + 4, 0xffffffff);
	fx_refresh_crc(&f);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EMSGSIZE);
	ASSERT_CONTAINS(e.msg, "offset 289: target 0 element 0 (0x08000000) size 4294967295");
}

TEST(dfu_file_bad_signatures)
{
	static struct fx f;
	struct dfu_file *df = NULL;
	struct err e = { 0 };

	fx_good(&f);
	f.buf[f.len - 7] = 'X'; /* "UXD" */
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -ENOMSG);
	ASSERT_STREQ(e.msg, "offset 8501: no DFU suffix signature \"UFD\"");

	fx_good(&f);
	memcpy(f.buf, "DfuSx", 5);
	fx_refresh_crc(&f);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "offset 0: DfuSe prefix signature is not \"DfuSe\"");

	fx_good(&f);
	f.buf[5] = 2;
	fx_refresh_crc(&f);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "offset 5: DfuSe prefix version 2, expected 1");

	fx_good(&f);
	memcpy(f.buf + 11, "Tarjet", 6);
	fx_refresh_crc(&f);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "offset 11: target 0 signature is not \"Target\"");
}

TEST(dfu_file_malformed_counts)
{
	static struct fx f;
	struct dfu_file *df = NULL;
	struct err e = { 0 };

	/* Target size larger than its elements: bytes left inside the target. */
	fx_good(&f);
	put32(f.buf + 11 + 270, 1);
	fx_refresh_crc(&f);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "offset 277: target 0 size 8208, its elements end 4104 bytes early");

	/* Absurd element count. */
	fx_good(&f);
	put32(f.buf + 11 + 270, 100000);
	fx_refresh_crc(&f);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "offset 281: target 0 claims 100000 elements in 8208 bytes");

	/* Zero targets. */
	fx_good(&f);
	f.buf[10] = 0;
	fx_refresh_crc(&f);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "offset 10: DfuSe file has no targets");

	/* Stray bytes between the last target and the suffix. */
	f.len = 0;
	fx_prefix(&f, 1);
	fx_target(&f, 0, NULL, 8 + 4, 1);
	fx_element(&f, 0x08000000, 4, 1);
	fx_bytes(&f, "junk", 4);
	fx_suffix(&f, DFU_FILE_BCD_DFUSE);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "offset 297: 4 unexpected bytes before the suffix");

	/* Suffix bLength below 16. */
	fx_good(&f);
	f.buf[f.len - 5] = 12;
	fx_refresh_crc(&f);
	err_clear(&e);
	ASSERT_EQ(dfu_file_parse(f.buf, f.len, &df, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "offset 8504: suffix bLength 12 < 16");
}

TEST(dfu_file_free_accepts_null)
{
	ASSERT_TRUE(dfu_file_free(NULL) == NULL);
}

TEST_MAIN()
