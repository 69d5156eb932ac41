/*
 * i.MX boot image parser (u-boot.imx and other IVT v2 images): finds the
 * IVT, reads the boot data and checks the DCD, and works out what the SDP
 * engine sends where (shared/docs/protocol-imx-sdp-fastboot.md §1.9).
 * Pure: no USB, no allocation, no state; the caller's buffer is only read.
 *
 * Layout rules (§1.9): the IVT is 32 bytes of little-endian words on a
 * 4-byte boundary, header 0x402000D1 (0x412000D1 on i.MX8M); every pointer
 * in it is an absolute address, at file offset ivt_offset + (P - self).
 * Boot data = { start, length, plugin }.  The DCD is tag 0xD2, big-endian
 * length, version 0x40/0x41, then commands (tag, BE16 length, parameter).
 *
 * What to send (uuu's "write -ivt 0" + "jump -ivt 0"): the bytes from the
 * IVT on, load_size = boot_data.length - (self - start), clipped to the
 * file, to load_addr = self; jump to self.
 *
 * Errors (negative errno, message naming the offset and the value):
 *   -ENOMSG   no IVT header in the scanned range
 *   -EBADMSG  a pointer (dcd, boot data, entry range) outside the file or the
 *             image, bad DCD header or command
 *   -EMSGSIZE DCD larger than IMX_DCD_MAX (HAB limit), file too short
 *   -ERANGE   boot data inconsistent (self below start, length too small)
 *   -EOPNOTSUPP plugin image (boot_data.plugin bit 0)
 */
#ifndef FLASHD_PROTOCOLS_IMX_IMAGE_H
#define FLASHD_PROTOCOLS_IMX_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define IMX_IVT_SIZE 32
#define IMX_IVT_HEADER_V40 0x402000d1u /* i.MX6/7 */
#define IMX_IVT_HEADER_V41 0x412000d1u /* i.MX8M */
#define IMX_DCD_TAG 0xd2
#define IMX_DCD_CMD_WRITE 0xcc
#define IMX_DCD_CMD_CHECK 0xcf
#define IMX_DCD_CMD_NOP 0xc0
#define IMX_DCD_CMD_UNLOCK 0xb2
/* HAB limit on the DCD, i.MX6 RM 8.7.2 as cited by imx_usb_loader (§1.6). */
#define IMX_DCD_MAX 1768
/* Where the IVT is looked for: uuu scans the whole file on 4-byte steps; we
 * stop after 64 KiB, past every offset imx_usb probes (0, 0x400, 0x8400). */
#define IMX_IVT_SCAN_MAX 0x10000
/* Field offsets inside the IVT (§1.9). */
#define IMX_IVT_OFF_DCD 12

struct imx_image {
	size_t ivt_offset; /* file offset of the IVT */
	uint32_t header;   /* IMX_IVT_HEADER_V40 or _V41 */
	uint32_t entry;
	uint32_t dcd;	    /* absolute, 0 = none */
	uint32_t boot_data; /* absolute */
	uint32_t self;
	uint32_t csf;
	/* boot data */
	uint32_t start;
	uint32_t length;
	uint32_t plugin;
	/* DCD (when dcd != 0) */
	size_t dcd_offset; /* file offset */
	size_t dcd_len;	   /* bytes incl. header, as sent with DCD_WRITE */
	unsigned int dcd_cmds;
	/* what the SDP engine sends */
	size_t load_offset; /* = ivt_offset */
	size_t load_size;
	uint32_t load_addr; /* = self */
	uint32_t jump_addr; /* = self: the ROM re-reads the IVT there (§1.8) */
	bool clipped;	    /* boot data says more than the file holds */
};

/*
 * Parse buf[0..len).  Returns 0 and fills *ret, or a negative errno from
 * the list above with a message.  Never reads outside buf.
 */
int imx_image_parse(const uint8_t *buf, size_t len, struct imx_image *ret, struct err *e);

/*
 * Check a DCD blob (header + commands) of len bytes: tag, length, version,
 * every command's tag, length and width.  Returns the number of commands or
 * -EBADMSG / -EMSGSIZE.  `where` is the blob's file offset for messages.
 */
int imx_image_check_dcd(const uint8_t *dcd, size_t len, size_t where, struct err *e);

#endif
