/*
 * Unit tests of the i.MX8M second-stage tables and rules (issue #22):
 * the SPL gadget table (SDPU/SDPV by bcdDevice, protocol-imx-sdp-fastboot.md
 * §2.2), the skip-SPL offset (§1.13) and the stream ROM rows (§1.12).
 */
#include <errno.h>
#include <string.h>

#include "protocols/imx_sdpv.h"
#include "protocols/imx_soc.h"
#include "tests/lib/test.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

TEST(imx_spl_gadget_kind_from_bcd)
{
	ASSERT_EQ(imx_spl_find(0x0525, 0xb4a4, 0x0000)->kind, IMX_SPL_SDPU);
	ASSERT_EQ(imx_spl_find(0x0525, 0xb4a4, 0x04ff)->kind, IMX_SPL_SDPU);
	ASSERT_EQ(imx_spl_find(0x0525, 0xb4a4, 0x0500)->kind, IMX_SPL_SDPV);
	ASSERT_EQ(imx_spl_find(0x0525, 0xb4a4, 0x9998)->kind, IMX_SPL_SDPV);
	ASSERT_EQ(imx_spl_find(0x0525, 0xb4a4, 0x9999)->kind, IMX_SPL_SDPU);
	ASSERT_TRUE(imx_spl_find(0x0525, 0xb4a4, 0xa000) == NULL);
	ASSERT_EQ(imx_spl_find(0x1fc9, 0x0151, 0x0500)->kind, IMX_SPL_SDPV);
	/* The NXP SPL has only the SDPV window in uuu's table. */
	ASSERT_TRUE(imx_spl_find(0x1fc9, 0x0151, 0x0100) == NULL);
	ASSERT_EQ(imx_spl_find(0x3016, 0x1001, 0x0100)->kind, IMX_SPL_SDPU);
	/* U-Boot's fastboot gadget and the ROMs are no SPL gadget. */
	ASSERT_TRUE(imx_spl_find(0x0525, 0xa4a5, 0x0500) == NULL);
	ASSERT_TRUE(imx_spl_find(0x1fc9, 0x0134, 0x0001) == NULL);
	ASSERT_STREQ(imx_spl_kind_name(IMX_SPL_SDPV), "SDPV");
}

TEST(imx_spl_end_is_ivt_offset_plus_spl_length)
{
	static uint8_t img[0x3000];
	size_t end = 0;
	struct err e = { 0 };

	/* IVT v0x41 at 0x400, self 0x7E0FC0 = start + 0x40, length 0x1840. */
	memset(img, 0, sizeof(img));
	put_le32(img + 0x400, IMX_IVT_HEADER_V41);
	put_le32(img + 0x404, 0x7e1000);
	put_le32(img + 0x410, 0x7e0fc0 + 0x20);
	put_le32(img + 0x414, 0x7e0fc0);
	put_le32(img + 0x420, 0x7e0f80);
	put_le32(img + 0x424, 0x1840);
	ASSERT_OK(imx_spl_end(img, sizeof(img), &end, &e));
	/* 0x400 + 0x1840 - (0x7E0FC0 - 0x7E0F80) */
	ASSERT_EQ(end, 0x1c00);
	ASSERT_EQ(imx_spl_end(img, 0x200, &end, &e), -ENOMSG);
}

TEST(imx_stream_rom_rows)
{
	const struct imx_soc *s = imx_soc_find(0x1fc9, 0x0146);

	ASSERT_STREQ(s->name, "i.MX8MP");
	ASSERT_EQ(s->sdps_ep_out, 1);
	ASSERT_EQ(s->sdps_packet, 1020);
	ASSERT_TRUE(s->sdps_romapi);
	ASSERT_TRUE(imx_soc_find(0x1fc9, 0x013e)->sdps_romapi);
	/* Container-image parts are recognised, not streamed. */
	ASSERT_TRUE(!imx_soc_find(0x1fc9, 0x014e)->sdps_romapi);
	ASSERT_TRUE(!imx_soc_find(0x1fc9, 0x012f)->sdps_romapi);
	ASSERT_EQ(imx_soc_find(0x1fc9, 0x012f)->sdps_packet, 1024);
}

TEST_MAIN()
