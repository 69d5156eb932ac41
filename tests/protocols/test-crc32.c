/* Tests for protocols/crc32.c: zlib-compatible vectors and the .dfu suffix relation (§1.10). */
#include "protocols/crc32.h"
#include "protocols/dfu_file.h"

#include "tests/lib/test.h"

#include <stdlib.h>

TEST(crc32_check_vector_123456789)
{
	ASSERT_EQ(crc32_update(0, "123456789", 9), 0xcbf43926);
}

TEST(crc32_empty_is_zero)
{
	ASSERT_EQ(crc32_update(0, "", 0), 0);
	ASSERT_EQ(crc32_update(0x12345678, NULL, 0), 0x12345678);
}

TEST(crc32_short_strings_match_zlib)
{
	const char *fox = "The quick brown fox jumps over the lazy dog";

	ASSERT_EQ(crc32_update(0, "a", 1), 0xe8b7be43);
	ASSERT_EQ(crc32_update(0, fox, strlen(fox)), 0x414fa339);
}

TEST(crc32_incremental_equals_one_shot)
{
	uint8_t buf[1024];
	uint32_t c = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	/* Values from Python's zlib.crc32(bytes(range(256)) * 4). */
	ASSERT_EQ(crc32_update(0, buf, sizeof(buf)), 0xb70b4c26);
	for (size_t i = 0; i < sizeof(buf); i += 100)
		c = crc32_update(c, buf + i, sizeof(buf) - i < 100 ? sizeof(buf) - i : 100);
	ASSERT_EQ(c, 0xb70b4c26);
}

/*
 * protocol-dfu.md §1.10: dfu-suffix on a 4 KiB file wrote
 * "ff ff 11 df 83 04 00 01 55 46 44 10 61 3c 75 e4", dwCRC 0xE4753C61 =
 * ~zlib.crc32(file + first 12 suffix bytes).  The random file itself is not
 * in the doc, so check the same relation on a fixed 4 KiB pattern whose
 * expected values come from Python's zlib, and decode the documented bytes.
 */
static const uint8_t doc_suffix[16] = { 0xff, 0xff, 0x11, 0xdf, 0x83, 0x04, 0x00, 0x01,
					0x55, 0x46, 0x44, 0x10, 0x61, 0x3c, 0x75, 0xe4 };

TEST(crc32_dfu_suffix_4k_vector)
{
	static uint8_t file[4096 + 16];

	for (size_t i = 0; i < 4096; i++)
		file[i] = (uint8_t)(i * 7 + 3);
	ASSERT_EQ(crc32_update(0, file, 4096), 0x5e4e1995);
	memcpy(file + 4096, doc_suffix, 12);
	/* zlib.crc32(body + suffix[:12]) = 0x5afcf936, so dwCRC = 0xa50306c9. */
	ASSERT_EQ(crc32_update(0, file, 4096 + 12), 0x5afcf936);
	ASSERT_EQ(dfu_file_crc(file, 4096 + 12), 0xa50306c9);
	file[4096 + 12] = 0xc9;
	file[4096 + 13] = 0x06;
	file[4096 + 14] = 0x03;
	file[4096 + 15] = 0xa5;

	struct dfu_file_suffix s;
	struct err e = { 0 };

	ASSERT_OK(dfu_file_parse_suffix(file, sizeof(file), &s, &e));
	ASSERT_EQ(s.crc, 0xa50306c9);
}

TEST(crc32_documented_suffix_fields_decode)
{
	uint32_t crc = (uint32_t)doc_suffix[12] | (uint32_t)doc_suffix[13] << 8 |
		       (uint32_t)doc_suffix[14] << 16 | (uint32_t)doc_suffix[15] << 24;

	ASSERT_EQ(crc, 0xe4753c61);
	/* ~crc32 relation: the zlib CRC of that documented file was 0x1b8ac39e. */
	ASSERT_EQ(~crc, 0x1b8ac39e);
}

TEST(crc32_concat_equals_whole)
{
	static const char s[] = "The quick brown fox jumps over the lazy dog";
	uint32_t a = crc32_update(0, s, 10), b = crc32_update(0, s + 10, sizeof(s) - 11);

	ASSERT_EQ(crc32_concat(a, b, sizeof(s) - 11), crc32_update(0, s, sizeof(s) - 1));
	ASSERT_EQ(crc32_concat(a, 0, 0), a);
}

/* The FILL bytes laid out and hashed the long way, for crc32_fill(). */
static uint32_t fill_bytewise(uint32_t crc, const uint8_t pat[4], size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);

	for (size_t i = 0; i < len; i++)
		buf[i] = pat[i % 4];
	crc = crc32_update(crc, buf, len);
	free(buf);
	return crc;
}

TEST(crc32_fill_equals_bytes_laid_out)
{
	static const uint8_t pat[4] = { 0x5a, 0xa5, 0x07, 0x3c };
	static const size_t lens[] = {
		0, 1, 3, 4, 4095, 4096, 4097, 3 * 4096, 5 * 4096 + 6, 512 * 1024, 512 * 1024 + 1021
	};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		ASSERT_EQ(crc32_fill(0, pat, lens[i]), fill_bytewise(0, pat, lens[i]));
		/* continued after other bytes, as a run's second range is */
		ASSERT_EQ(crc32_fill(0xcbf43926, pat, lens[i]),
			  fill_bytewise(0xcbf43926, pat, lens[i]));
	}
}

TEST(crc32_fill_of_zeros_matches_zlib_vector)
{
	static const uint8_t zero[4];

	/* Python: hex(zlib.crc32(bytes(1 << 20))) */
	ASSERT_EQ(crc32_fill(0, zero, 1u << 20), 0xa738ea1c);
	ASSERT_EQ(crc32_fill(0, zero, 64ull << 20), fill_bytewise(0, zero, 64u << 20));
}

TEST_MAIN()
