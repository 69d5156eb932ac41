/*
 * Tests of protocols/imx_image.c (IVT, boot data, DCD parsing) and of the
 * SoC table in protocols/imx_soc.c, on images built in memory with the
 * layout of shared/docs/protocol-imx-sdp-fastboot.md §1.9.
 */
#include <errno.h>

#include "protocols/imx_image.h"
#include "protocols/imx_soc.h"
#include "tests/lib/test.h"

#define SELF 0x877ff400u
#define START 0x877ff000u /* self - 0x400: the IVT sits at 0x400 of the boot medium */
#define ENTRY 0x87800000u

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * A u-boot.imx of 64 KiB at file offset `pad`: IVT, boot data at +0x20, DCD
 * at +0x2c with one write command of two address/value pairs.
 */
static uint8_t img[0x20000];
static size_t build(size_t pad)
{
	uint8_t *ivt = img + pad, *dcd = ivt + 0x2c;
	size_t len = pad + 0x10000;

	memset(img, 0, sizeof(img));
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7 + 3);
	memset(ivt, 0, 0x100);
	put32(ivt, IMX_IVT_HEADER_V40);
	put32(ivt + 4, ENTRY);
	put32(ivt + 12, SELF + 0x2c);
	put32(ivt + 16, SELF + 0x20);
	put32(ivt + 20, SELF);
	/* boot data: start, length (from start, includes the 0x400 before the IVT), plugin */
	put32(ivt + 0x20, START);
	put32(ivt + 0x24, 0x400 + 0x10000);
	put32(ivt + 0x28, 0);
	dcd[0] = IMX_DCD_TAG;
	put_be16(dcd + 1, 4 + 4 + 16);
	dcd[3] = 0x40;
	dcd[4] = IMX_DCD_CMD_WRITE;
	put_be16(dcd + 5, 4 + 16);
	dcd[7] = 4;
	put_be32(dcd + 8, 0x020e0774);
	put_be32(dcd + 12, 0x000c0000);
	put_be32(dcd + 16, 0x020e0754);
	put_be32(dcd + 20, 0x00000000);
	return len;
}

TEST(imx_image_parses_uboot_imx)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	ASSERT_OK(imx_image_parse(img, len, &im, &e));
	ASSERT_EQ(im.ivt_offset, 0);
	ASSERT_EQ(im.entry, ENTRY);
	ASSERT_EQ(im.self, SELF);
	ASSERT_EQ(im.start, START);
	ASSERT_EQ(im.dcd, SELF + 0x2c);
	ASSERT_EQ(im.dcd_offset, 0x2c);
	ASSERT_EQ(im.dcd_len, 24);
	ASSERT_EQ(im.dcd_cmds, 1);
	ASSERT_EQ(im.load_addr, SELF);
	ASSERT_EQ(im.jump_addr, SELF);
	ASSERT_EQ(im.load_offset, 0);
	ASSERT_EQ(im.load_size, 0x10000);
	ASSERT_TRUE(!im.clipped);
}

TEST(imx_image_finds_ivt_at_0x400_and_clips_to_file)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0x400);

	ASSERT_OK(imx_image_parse(img, len - 0x100, &im, &e));
	ASSERT_EQ(im.ivt_offset, 0x400);
	ASSERT_EQ(im.dcd_offset, 0x42c);
	ASSERT_EQ(im.load_offset, 0x400);
	ASSERT_EQ(im.load_size, 0x10000 - 0x100);
	ASSERT_TRUE(im.clipped);
}

TEST(imx_image_without_ivt_gives_enomsg)
{
	struct imx_image im;
	struct err e = { 0 };

	memset(img, 0x5a, 4096);
	ASSERT_EQ(imx_image_parse(img, 4096, &im, &e), -ENOMSG);
	ASSERT_STREQ(e.msg, "no IVT header (0x402000d1) in the first 4096 bytes");
}

TEST(imx_image_too_short_gives_emsgsize)
{
	struct imx_image im;
	struct err e = { 0 };

	ASSERT_EQ(imx_image_parse(img, 16, &im, &e), -EMSGSIZE);
	ASSERT_STREQ(e.msg, "image of 16 bytes is shorter than an IVT");
}

TEST(imx_image_dcd_pointer_outside_file_gives_ebadmsg)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	put32(img + 12, SELF + 0x20000);
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EBADMSG);
	ASSERT_STREQ(
		e.msg,
		"IVT at 0x0: DCD pointer 0x8781f400 is outside the file (offset 131072 of 65536 bytes)");
	/* before the start of the file */
	put32(img + 12, SELF - 0x10);
	err_clear(&e);
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EBADMSG);
	ASSERT_CONTAINS(e.msg, "(offset -16 of 65536 bytes)");
}

TEST(imx_image_boot_data_outside_file_gives_ebadmsg)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	put32(img + 16, 0x10000000);
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EBADMSG);
	ASSERT_STREQ(
		e.msg,
		"IVT at 0x0: boot data pointer 0x10000000 is outside the file (self 0x877ff400, 65536 bytes)");
}

TEST(imx_image_entry_outside_image_gives_ebadmsg)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	put32(img + 4, 0x90000000);
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EBADMSG);
	ASSERT_STREQ(e.msg,
		     "IVT at 0x0: entry 0x90000000 is outside the image 0x877ff000..0x8780f400");
}

TEST(imx_image_self_below_start_gives_erange)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	put32(img + 0x20, SELF + 4);
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -ERANGE);
	ASSERT_STREQ(e.msg,
		     "IVT at 0x0: self 0x877ff400 lies below the boot data start 0x877ff404");
}

TEST(imx_image_plugin_gives_eopnotsupp)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	put32(img + 0x28, 1);
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EOPNOTSUPP);
	ASSERT_STREQ(e.msg, "IVT at 0x0: plugin image (boot data plugin 0x1): not supported");
}

TEST(imx_image_bad_dcd_tag_gives_ebadmsg)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	img[0x2c] = 0xd3;
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "DCD at 0x2c: tag 0xd3, expected 0xd2");
}

TEST(imx_image_dcd_above_hab_limit_gives_emsgsize)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	put_be16(img + 0x2d, 2000);
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EMSGSIZE);
	ASSERT_STREQ(e.msg, "DCD at 0x2c: 2000 bytes, above the HAB limit of 1768");
}

TEST(imx_image_dcd_command_overrun_gives_ebadmsg)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	put_be16(img + 0x2c + 5, 28); /* command claims 28 bytes, 20 left */
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "DCD at 0x2c: command 0xcc at +0x4 has length 28, 20 bytes left");
}

TEST(imx_image_dcd_bad_width_and_tag)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0);

	img[0x2c + 7] = 3;
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "DCD at 0x2c: command 0xcc at +0x4: access width 3");
	len = build(0);
	img[0x2c + 4] = 0xaa;
	err_clear(&e);
	ASSERT_EQ(imx_image_parse(img, len, &im, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "DCD at 0x2c: unknown command tag 0xaa at +0x4");
}

TEST(imx_image_v41_hdmi_ivt_is_skipped)
{
	struct imx_image im;
	struct err e = { 0 };
	size_t len = build(0x400);

	/* an i.MX8MQ HDMI firmware IVT (plugin field 2) in front of ours */
	memset(img, 0, 0x40);
	put32(img, IMX_IVT_HEADER_V41);
	put32(img + 16, 0x1000 + 0x20);
	put32(img + 20, 0x1000);
	put32(img + 0x28, 2);
	put32(img + 0x400, IMX_IVT_HEADER_V41);
	ASSERT_OK(imx_image_parse(img, len, &im, &e));
	ASSERT_EQ(im.ivt_offset, 0x400);
	ASSERT_EQ(im.header, IMX_IVT_HEADER_V41);
}

TEST(imx_soc_table_methods_and_uid_words)
{
	const struct imx_soc *s = imx_soc_find(0x15a2, 0x0054);

	ASSERT_TRUE(s != NULL);
	ASSERT_STREQ(s->name, "i.MX6Q");
	ASSERT_EQ(s->method, IMX_METHOD_IVT_REWRITE);
	ASSERT_EQ(s->dcd_addr, 0x00910000);
	ASSERT_EQ(s->n_uid_words, 2);
	ASSERT_EQ(s->uid_words[0], 0x021bc410);
	ASSERT_EQ(s->uid_words[1], 0x021bc420);
	s = imx_soc_find(0x15a2, 0x0080);
	ASSERT_TRUE(s != NULL);
	ASSERT_EQ(s->method, IMX_METHOD_SKIP_DCD);
	s = imx_soc_find(0x15a2, 0x0076);
	ASSERT_EQ(s->dcd_addr, 0x00911000);
	ASSERT_EQ(s->uid_words[0], 0x30350410);
	s = imx_soc_find(0x1fc9, 0x013e);
	ASSERT_EQ(s->protocol, IMX_PROTO_SDPS);
	ASSERT_EQ(s->n_uid_words, 0);
	ASSERT_TRUE(imx_soc_find(0x0483, 0xdf11) == NULL);
	ASSERT_STREQ(imx_soc_method_name(IMX_METHOD_IVT_REWRITE), "ivt-rewrite");
	for (unsigned i = 0; imx_soc_at(i); i++)
		ASSERT_TRUE(imx_soc_at(i)->protocol == IMX_PROTO_SDPS || imx_soc_at(i)->dcd_addr);
}

TEST_MAIN()
