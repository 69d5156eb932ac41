/*
 * This file implements the i.MX boot-ROM table (imx_soc.h), transcribed
 * from shared/docs/protocol-imx-sdp-fastboot.md: VID:PID §2.1, start method
 * §1.8 (uuu's HID_SKIP_DCD set vs. the i.MX6Q family that needs the IVT
 * rewrite), DCD scratch address §1.9 (free_addr), UID registers §3.1.
 */
#include "protocols/imx_soc.h"

#include <stddef.h>

#include "common/macro.h"

/* OCOTP CFG0/CFG1 (i.MX6) or TESTER0/1 (i.MX7, 8M) shadow words: §3.1. */
#define OCOTP6(off) (0x021bc000u + (off))
#define OCOTP7(off) (0x30350000u + (off))
#define OCOTP7ULP(off) (0x410a6000u + (off))

#define SDP_ROW(n, v, p, m, dcd, w0, w1)                                                           \
	{                                                                                          \
		.name = n, .vid = v, .pid = p, .protocol = IMX_PROTO_SDP, .method = m,             \
		.dcd_addr = dcd, .uid_words = { w0, w1 }, .n_uid_words = 2, .uid_bits = 32,        \
	}
#define SDPS_ROW(n, v, p)                                                                          \
	{                                                                                          \
		.name = n, .vid = v, .pid = p, .protocol = IMX_PROTO_SDPS,                         \
		.method = IMX_METHOD_STREAM, .sdps_packet = 1024,                                  \
	}
/* uuu MX815 and its compatibles: EP1, 1020-byte reports, ROM API (§1.12). */
#define SDPS_ROMAPI_ROW(n, v, p)                                                                   \
	{                                                                                          \
		.name = n, .vid = v, .pid = p, .protocol = IMX_PROTO_SDPS,                         \
		.method = IMX_METHOD_STREAM, .sdps_ep_out = 1, .sdps_packet = 1020,                \
		.sdps_romapi = true,                                                               \
	}
/* uuu MX95 and its compatibles: EP1, 1020 bytes, no ROM API flag (§1.12). */
#define SDPS_EP1_ROW(n, v, p)                                                                      \
	{                                                                                          \
		.name = n, .vid = v, .pid = p, .protocol = IMX_PROTO_SDPS,                         \
		.method = IMX_METHOD_STREAM, .sdps_ep_out = 1, .sdps_packet = 1020,                \
	}

static const struct imx_soc imx_socs[] = {
	/* No SKIP_DCD_HEADER in these ROMs: uuu MX6Q and its compatibles (§1.8). */
	SDP_ROW("i.MX6Q", 0x15a2, 0x0054, IMX_METHOD_IVT_REWRITE, 0x00910000, OCOTP6(0x410),
		OCOTP6(0x420)),
	SDP_ROW("i.MX6DL", 0x15a2, 0x0061, IMX_METHOD_IVT_REWRITE, 0x00910000, OCOTP6(0x410),
		OCOTP6(0x420)),
	SDP_ROW("i.MX6SL", 0x15a2, 0x0063, IMX_METHOD_IVT_REWRITE, 0x00910000, OCOTP6(0x410),
		OCOTP6(0x420)),
	/* uuu maps MX6SX to MX6Q: no SKIP_DCD flag (§2.1). */
	SDP_ROW("i.MX6SX", 0x15a2, 0x0071, IMX_METHOD_IVT_REWRITE, 0x00910000, OCOTP6(0x410),
		OCOTP6(0x420)),
	/* HID_SKIP_DCD ROMs (uuu MX7D and compatibles, §1.8). */
	SDP_ROW("i.MX6UL", 0x15a2, 0x007d, IMX_METHOD_SKIP_DCD, 0x00910000, OCOTP6(0x410),
		OCOTP6(0x420)),
	SDP_ROW("i.MX6ULL", 0x15a2, 0x0080, IMX_METHOD_SKIP_DCD, 0x00910000, OCOTP6(0x410),
		OCOTP6(0x420)),
	/* uuu lists 1FC9:0128; SPSDK says 15A2:0128 (§2.1): both, until verified. */
	SDP_ROW("i.MX6SLL", 0x1fc9, 0x0128, IMX_METHOD_SKIP_DCD, 0x00910000, OCOTP6(0x410),
		OCOTP6(0x420)),
	SDP_ROW("i.MX6SLL", 0x15a2, 0x0128, IMX_METHOD_SKIP_DCD, 0x00910000, OCOTP6(0x410),
		OCOTP6(0x420)),
	/* i.MX7D free_addr is 0x00911000 (§1.9). */
	SDP_ROW("i.MX7D", 0x15a2, 0x0076, IMX_METHOD_SKIP_DCD, 0x00911000, OCOTP7(0x410),
		OCOTP7(0x420)),
	SDP_ROW("i.MX8MQ", 0x1fc9, 0x012b, IMX_METHOD_SKIP_DCD, 0x00910000, OCOTP7(0x410),
		OCOTP7(0x420)),
	SDP_ROW("i.MX8MM", 0x1fc9, 0x0134, IMX_METHOD_SKIP_DCD, 0x00910000, OCOTP7(0x410),
		OCOTP7(0x420)),
	/* i.MX7ULP: four 16-bit fuse words (§3.1), DCD scratch 0x2F018000 (§1.9). */
	{
		.name = "i.MX7ULP",
		.vid = 0x1fc9,
		.pid = 0x0126,
		.protocol = IMX_PROTO_SDP,
		.method = IMX_METHOD_SKIP_DCD,
		.dcd_addr = 0x2f018000,
		.uid_words = { OCOTP7ULP(0x4b0), OCOTP7ULP(0x4c0), OCOTP7ULP(0x4d0),
			       OCOTP7ULP(0x4e0) },
		.n_uid_words = 4,
		.uid_bits = 16,
	},
	/* RT106x: no OCOTP UID in the doc's table; DCD scratch 0x1000 (§1.9). */
	{
		.name = "i.MX RT1060",
		.vid = 0x1fc9,
		.pid = 0x0135,
		.protocol = IMX_PROTO_SDP,
		.method = IMX_METHOD_SKIP_DCD,
		.dcd_addr = 0x00001000,
	},
	/*
	 * Stream ROMs whose SPL pulls the rest through the ROM API (§1.12):
	 * the whole flash.bin (IVT image) goes down the stream.  No OCOTP
	 * read: these ROMs have no READ_REGISTER (§3.1).  The 8MP is uuu's
	 * MX865, compatible with the 8MN's MX815 entry (§2.1).
	 */
	SDPS_ROMAPI_ROW("i.MX8MN", 0x1fc9, 0x013e),
	SDPS_ROMAPI_ROW("i.MX8MP", 0x1fc9, 0x0146),
	/*
	 * Stream ROMs whose images are i.MX containers (tag 0x87, §1.9):
	 * i.MX8ULP/91/93 (ROM API, but container flash.bin), 8QXP/QM/DXL and
	 * the 95 family (boot containers cut out of the file), or that need a
	 * BLTC command block (i.MX28): listed so they are recognised and
	 * refused clearly (no container streaming here yet).
	 */
	SDPS_EP1_ROW("i.MX8ULP", 0x1fc9, 0x014a),
	SDPS_EP1_ROW("i.MX8ULP", 0x1fc9, 0x014b),
	SDPS_EP1_ROW("i.MX93", 0x1fc9, 0x014e),
	SDPS_EP1_ROW("i.MX91", 0x1fc9, 0x0159),
	SDPS_ROW("i.MX8QXP", 0x1fc9, 0x012f),
	SDPS_ROW("i.MX8QM", 0x1fc9, 0x0129),
	SDPS_ROW("i.MX8DXL", 0x1fc9, 0x0147),
	SDPS_EP1_ROW("i.MX95", 0x1fc9, 0x015d),
	SDPS_EP1_ROW("i.MX95", 0x1fc9, 0x015c),
	SDPS_EP1_ROW("i.MX943", 0x1fc9, 0x0027),
	SDPS_EP1_ROW("i.MX952", 0x1fc9, 0x0028),
	SDPS_ROW("i.MX28", 0x15a2, 0x004f),
};

const struct imx_soc *imx_soc_find(uint16_t vid, uint16_t pid)
{
	for (size_t i = 0; i < ARRAY_SIZE(imx_socs); i++)
		if (imx_socs[i].vid == vid && imx_socs[i].pid == pid)
			return &imx_socs[i];
	return NULL;
}

const struct imx_soc *imx_soc_at(unsigned int i)
{
	return i < ARRAY_SIZE(imx_socs) ? &imx_socs[i] : NULL;
}

const char *imx_soc_method_name(enum imx_soc_method m)
{
	switch (m) {
	case IMX_METHOD_SKIP_DCD:
		return "skip-dcd";
	case IMX_METHOD_IVT_REWRITE:
		return "ivt-rewrite";
	case IMX_METHOD_STREAM:
		return "stream";
	}
	return "?";
}

/*
 * SPL gadget IDs and bcdDevice windows, uuu's table (§2.2, §1.13): SDPV
 * for bcd 0x0500..0x9998 (upstream i.MX SPL sets 0x0500), SDPU below that
 * and for 0x9999 (old i.MX8MQ EVK SPL).  First match wins.
 */
static const struct imx_spl imx_spls[] = {
	{ .name = "upstream SPL",
	  .vid = 0x0525,
	  .pid = 0xb4a4,
	  .bcd_min = 0x0000,
	  .bcd_max = 0x04ff,
	  .kind = IMX_SPL_SDPU },
	{ .name = "upstream SPL",
	  .vid = 0x0525,
	  .pid = 0xb4a4,
	  .bcd_min = 0x0500,
	  .bcd_max = 0x9998,
	  .kind = IMX_SPL_SDPV },
	{ .name = "upstream SPL",
	  .vid = 0x0525,
	  .pid = 0xb4a4,
	  .bcd_min = 0x9999,
	  .bcd_max = 0x9999,
	  .kind = IMX_SPL_SDPU },
	{ .name = "NXP uboot-imx SPL",
	  .vid = 0x1fc9,
	  .pid = 0x0151,
	  .bcd_min = 0x0500,
	  .bcd_max = 0x9998,
	  .kind = IMX_SPL_SDPV },
	{ .name = "Boundary Devices SPL",
	  .vid = 0x3016,
	  .pid = 0x1001,
	  .bcd_min = 0x0000,
	  .bcd_max = 0x04ff,
	  .kind = IMX_SPL_SDPU },
	{ .name = "Boundary Devices SPL",
	  .vid = 0x3016,
	  .pid = 0x1001,
	  .bcd_min = 0x0500,
	  .bcd_max = 0x9998,
	  .kind = IMX_SPL_SDPV },
};

const struct imx_spl *imx_spl_find(uint16_t vid, uint16_t pid, uint16_t bcd)
{
	for (size_t i = 0; i < ARRAY_SIZE(imx_spls); i++) {
		const struct imx_spl *s = &imx_spls[i];

		if (s->vid == vid && s->pid == pid && bcd >= s->bcd_min && bcd <= s->bcd_max)
			return s;
	}
	return NULL;
}

const char *imx_spl_kind_name(enum imx_spl_kind k)
{
	return k == IMX_SPL_SDPV ? "SDPV" : "SDPU";
}
