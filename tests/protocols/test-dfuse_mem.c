/* Tests for protocols/dfuse_mem.c: layout strings from protocol-dfu.md §2.6 and bad ones. */
#include "protocols/dfuse_mem.h"

#include <errno.h>

#include "tests/lib/test.h"

#define RWE (DFUSE_MEM_READABLE | DFUSE_MEM_ERASABLE | DFUSE_MEM_WRITABLE)

TEST(dfuse_mem_f4_internal_flash)
{
	struct dfuse_layout l;
	struct err e = { 0 };
	uint32_t start, size;

	ASSERT_OK(
		dfuse_mem_parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", &l, &e));
	ASSERT_STREQ(l.name, "Internal Flash");
	ASSERT_EQ(l.n_segments, 3);
	ASSERT_EQ(l.seg[0].start, 0x08000000);
	ASSERT_EQ(l.seg[0].sector_size, 16384);
	ASSERT_EQ(l.seg[0].n_sectors, 4);
	ASSERT_EQ(l.seg[0].perms, RWE);
	ASSERT_EQ(l.seg[1].start, 0x08010000);
	ASSERT_EQ(l.seg[1].sector_size, 65536);
	ASSERT_EQ(l.seg[2].start, 0x08020000);
	ASSERT_EQ(l.seg[2].sector_size, 131072);
	ASSERT_EQ(l.seg[2].n_sectors, 7);
	ASSERT_EQ(dfuse_segment_end(&l.seg[2]), 0x08100000);

	ASSERT_OK(dfuse_mem_sector(&l, 0x08000000, &start, &size));
	ASSERT_EQ(start, 0x08000000);
	ASSERT_EQ(size, 16384);
	ASSERT_OK(dfuse_mem_sector(&l, 0x08007fff, &start, &size));
	ASSERT_EQ(start, 0x08004000);
	ASSERT_OK(dfuse_mem_sector(&l, 0x0801ffff, &start, &size));
	ASSERT_EQ(start, 0x08010000);
	ASSERT_EQ(size, 65536);
	ASSERT_OK(dfuse_mem_sector(&l, 0x08020000, &start, &size));
	ASSERT_EQ(start, 0x08020000);
	ASSERT_OK(dfuse_mem_sector(&l, 0x080fffff, &start, &size));
	ASSERT_EQ(start, 0x080e0000);
	ASSERT_EQ(dfuse_mem_sector(&l, 0x08100000, &start, &size), -ENOENT);
	ASSERT_EQ(dfuse_mem_sector(&l, 0x07ffffff, &start, &size), -ENOENT);
}

TEST(dfuse_mem_f4_other_alts)
{
	struct dfuse_layout l;
	struct err e = { 0 };

	ASSERT_OK(dfuse_mem_parse("@Option Bytes  /0x1FFFC000/01*016 g", &l, &e));
	ASSERT_STREQ(l.name, "Option Bytes");
	ASSERT_EQ(l.seg[0].start, 0x1fffc000);
	ASSERT_EQ(l.seg[0].sector_size, 16);
	ASSERT_OK(dfuse_mem_parse("@OTP Memory /0x1FFF7800/01*512 g,01*016 g", &l, &e));
	ASSERT_EQ(l.n_segments, 2);
	ASSERT_EQ(l.seg[1].start, 0x1fff7a00);
	ASSERT_EQ(dfuse_segment_end(&l.seg[1]), 0x1fff7a10); /* the UID sits right after it */
	ASSERT_OK(dfuse_mem_parse("@Device Feature/0xFFFF0000/01*004 g", &l, &e));
	ASSERT_STREQ(l.name, "Device Feature");
	ASSERT_EQ(dfuse_segment_end(&l.seg[0]), 0xffff0004);
	/* Newer F405 ROM (0x2200) marks these 'e': readable and writable, not erasable. */
	ASSERT_OK(dfuse_mem_parse("@Option Bytes  /0x1FFFC000/01*016 e", &l, &e));
	ASSERT_EQ(l.seg[0].perms, DFUSE_MEM_READABLE | DFUSE_MEM_WRITABLE);
}

TEST(dfuse_mem_f107)
{
	struct dfuse_layout l;
	struct err e = { 0 };
	uint32_t start, size;

	ASSERT_OK(dfuse_mem_parse("@Internal Flash  /0x08000000/128*002Kg", &l, &e));
	ASSERT_EQ(l.seg[0].n_sectors, 128);
	ASSERT_EQ(l.seg[0].sector_size, 2048);
	ASSERT_OK(dfuse_mem_sector(&l, 0x08000801, &start, &size));
	ASSERT_EQ(start, 0x08000800);
	ASSERT_OK(dfuse_mem_parse("@Option Bytes  /0x1FFFF800/01*016 g", &l, &e));
	ASSERT_EQ(l.seg[0].sector_size, 16);
}

TEST(dfuse_mem_h750)
{
	struct dfuse_layout l;
	struct err e = { 0 };

	ASSERT_OK(dfuse_mem_parse("@Internal Flash   /0x08000000/16*128Kg", &l, &e));
	ASSERT_EQ(dfuse_segment_end(&l.seg[0]), 0x08200000);
	ASSERT_OK(dfuse_mem_parse("@Option Bytes   /0x5200201C/01*128 e", &l, &e));
	ASSERT_EQ(l.seg[0].start, 0x5200201c);
	ASSERT_EQ(l.seg[0].sector_size, 128);
}

TEST(dfuse_mem_g474_two_groups)
{
	struct dfuse_layout l;
	struct err e = { 0 };

	ASSERT_OK(dfuse_mem_parse("@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e", &l,
				  &e));
	ASSERT_STREQ(l.name, "Option Bytes");
	ASSERT_EQ(l.n_segments, 2);
	ASSERT_EQ(l.seg[0].start, 0x1fff7800);
	ASSERT_EQ(l.seg[0].sector_size, 48);
	ASSERT_EQ(l.seg[1].start, 0x1ffff800);
	ASSERT_TRUE(dfuse_mem_find(&l, 0x1fff7830) == NULL);
	ASSERT_TRUE(dfuse_mem_find(&l, 0x1ffff82f) == &l.seg[1]);
}

TEST(dfuse_mem_multipliers_and_letters)
{
	struct dfuse_layout l;
	struct err e = { 0 };
	static const uint8_t want[7] = { 1, 2, 3, 4, 5, 6, 7 };
	char s[64];

	ASSERT_OK(dfuse_mem_parse("@X/0x00000000/1*1Ma,2*8Bb", &l, &e));
	ASSERT_EQ(l.seg[0].sector_size, 1024 * 1024);
	ASSERT_EQ(l.seg[1].start, 0x00100000);
	ASSERT_EQ(l.seg[1].sector_size, 8);
	for (int i = 0; i < 7; i++) {
		snprintf(s, sizeof(s), "@X/0x1000/1*1K%c", 'a' + i);
		ASSERT_OK(dfuse_mem_parse(s, &l, &e));
		ASSERT_EQ(l.seg[0].perms, want[i]);
	}
	/* F303 style with four-digit sizes. */
	ASSERT_OK(dfuse_mem_parse("@Internal Flash  /0x08000000/128*0002Kg", &l, &e));
	ASSERT_EQ(l.seg[0].sector_size, 2048);
}

TEST(dfuse_mem_check_permissions)
{
	struct dfuse_layout l;
	struct err e = { 0 };

	ASSERT_OK(dfuse_mem_parse("@F/0x08000000/2*1Kg,1*1Ka", &l, &e));
	err_clear(&e);
	ASSERT_OK(dfuse_mem_check(&l, 0x08000000, 2048, DFUSE_MEM_WRITABLE, &e));
	err_clear(&e);
	ASSERT_EQ(dfuse_mem_check(&l, 0x08000400, 2048, DFUSE_MEM_WRITABLE, &e), -EACCES);
	ASSERT_CONTAINS(e.msg, "0x08000800");
	err_clear(&e);
	ASSERT_EQ(dfuse_mem_check(&l, 0x08000000, 4096, DFUSE_MEM_READABLE, &e), -ERANGE);
	ASSERT_CONTAINS(e.msg, "address 0x08000c00 is outside \"F\"");
	err_clear(&e);
	ASSERT_OK(dfuse_mem_check(&l, 0x08000000, 0, RWE, &e));
}

static void expect_bad(const char *s, int err, const char *msg)
{
	struct dfuse_layout l;
	struct err e = { 0 };

	err_clear(&e);
	ASSERT_EQ(dfuse_mem_parse(s, &l, &e), err);
	ASSERT_CONTAINS(e.msg, msg);
}

TEST(dfuse_mem_bad_strings)
{
	expect_bad("Internal Flash/0x08000000/1*1Kg", -EBADMSG, "offset 0: expected '@'");
	expect_bad("@Internal Flash", -EBADMSG, "no '/0xADDR/' group");
	expect_bad("@F/08000000/1*1Kg", -EBADMSG, "offset 3: expected '0x' address");
	expect_bad("@F/0x/1*1Kg", -EBADMSG, "offset 5: bad hex address");
	expect_bad("@F/0x0800000/1x1Kg", -EBADMSG, "offset 14: expected '*'");
	expect_bad("@F/0x08000000/*1Kg", -EBADMSG, "offset 14: bad sector count");
	expect_bad("@F/0x08000000/0*1Kg", -EBADMSG, "bad sector count");
	expect_bad("@F/0x08000000/1*Kg", -EBADMSG, "offset 16: bad sector size");
	expect_bad("@F/0x08000000/1*1Kh", -EBADMSG, "offset 18: expected type letter a-g");
	expect_bad("@F/0x08000000/1*1K", -EBADMSG, "expected type letter");
	expect_bad("@F/0x08000000/1*1Kg;", -EBADMSG, "offset 19: trailing characters");
	expect_bad("@F/0x08000000/1*1Kg,", -EBADMSG, "bad sector count");
	expect_bad("@F/0xFFFF0000/2*64Kg", -ERANGE, "passes 4 GiB");
	expect_bad("@F/0x123456789/1*1Kg", -EBADMSG, "bad hex address");
}

TEST(dfuse_mem_top_of_address_space_fits)
{
	struct dfuse_layout l;
	struct err e = { 0 };

	ASSERT_OK(dfuse_mem_parse("@F/0xFFFF0000/1*64Kg", &l, &e));
	ASSERT_EQ(dfuse_segment_end(&l.seg[0]), 0x100000000ULL);
	ASSERT_TRUE(dfuse_mem_find(&l, 0xffffffff) == &l.seg[0]);
}

TEST(dfuse_mem_too_many_segments)
{
	struct dfuse_layout l;
	struct err e = { 0 };
	char s[512] = "@F/0x0";

	for (int i = 0; i <= DFUSE_MEM_MAX_SEGMENTS; i++)
		strcat(s, i ? ",1*1Kg" : "/1*1Kg");
	ASSERT_EQ(dfuse_mem_parse(s, &l, &e), -E2BIG);
}

TEST_MAIN()
