/*
 * i.MX boot-ROM table: which SoC a serial-download VID:PID is, which
 * protocol its ROM speaks, how a DCD image must be started so that the DCD
 * does not run twice, where DCD_WRITE may put the DCD, and which OCOTP
 * shadow registers hold the unique ID.  Facts from
 * shared/docs/protocol-imx-sdp-fastboot.md §1.8, §1.9, §2.1 and §3.1;
 * one row per ROM, each with its reason.  Pure data, no state.
 */
#ifndef FLASHD_PROTOCOLS_IMX_SOC_H
#define FLASHD_PROTOCOLS_IMX_SOC_H

#include <stdbool.h>
#include <stdint.h>

enum imx_soc_protocol {
	IMX_PROTO_SDP,	/* HID command/response ROM (§1.1-§1.9) */
	IMX_PROTO_SDPS, /* stream-only ROM (§1.12); not driven by sdp.c */
};

/* How a DCD image is started after DCD_WRITE + WRITE_FILE (§1.8). */
enum imx_soc_method {
	IMX_METHOD_SKIP_DCD,	/* SKIP_DCD_HEADER (0x0C0C), then JUMP */
	IMX_METHOD_IVT_REWRITE, /* re-write the first 1 KiB at IVT.self with dcd = 0, then JUMP */
	IMX_METHOD_STREAM,	/* SDPS: stream the file, no commands */
};

#define IMX_SOC_UID_WORDS_MAX 4

struct imx_soc {
	const char *name; /* "i.MX6Q", ... */
	uint16_t vid, pid;
	enum imx_soc_protocol protocol;
	enum imx_soc_method method;
	/* Scratch OCRAM address for DCD_WRITE: uuu/snagboot free_addr (§1.9). */
	uint32_t dcd_addr;
	/*
	 * OCOTP shadow registers of the UID, low word first (§3.1); 0 words
	 * when the host cannot read it through the ROM (SDPS, SCU/ELE parts).
	 * uid_bits is the number of low bits used in each word (32, or 16 on
	 * i.MX7ULP).
	 */
	uint32_t uid_words[IMX_SOC_UID_WORDS_MAX];
	unsigned int n_uid_words;
	unsigned int uid_bits;
	/*
	 * Stream ROMs (§1.12 table): report 2 goes to interrupt OUT endpoint
	 * sdps_ep_out (0 = SET_REPORT on EP0) with sdps_packet payload bytes
	 * (1024, or 1020 on the EP1 ROMs).  sdps_romapi: the SPL pulls the rest
	 * of the image from the same stream through the ROM API, so the whole
	 * file is sent and no SPL gadget follows (uuu HID_ROMAPI).
	 */
	uint8_t sdps_ep_out;
	uint16_t sdps_packet;
	bool sdps_romapi;
};

/*
 * The U-Boot SPL's SDP gadget (§1.13, §2.2): SDPU (old SPL: the rest of the
 * image sits at a fixed offset) or SDPV (the SPL finds the rest itself:
 * write from the end of the SPL), told apart by bcdDevice.
 */
enum imx_spl_kind {
	IMX_SPL_SDPU,
	IMX_SPL_SDPV,
};

struct imx_spl {
	const char *name; /* "upstream SPL", ... */
	uint16_t vid, pid;
	uint16_t bcd_min, bcd_max; /* inclusive */
	enum imx_spl_kind kind;
};

/* The SPL gadget row for VID:PID and bcdDevice, or NULL. */
const struct imx_spl *imx_spl_find(uint16_t vid, uint16_t pid, uint16_t bcd);

const char *imx_spl_kind_name(enum imx_spl_kind k);

/* The row for a ROM VID:PID, or NULL when it is not an i.MX boot ROM we know. */
const struct imx_soc *imx_soc_find(uint16_t vid, uint16_t pid);

/* Row i (0 ..), NULL past the end: for listings and tests. */
const struct imx_soc *imx_soc_at(unsigned int i);

const char *imx_soc_method_name(enum imx_soc_method m);

#endif
