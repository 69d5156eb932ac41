/*
 * Second stage of an i.MX USB boot on the SDP ROMs (i.MX8MQ/8MM, i.MX6/7
 * with SPL): the U-Boot SPL's SDP gadget, SDPU or SDPV
 * (shared/docs/protocol-imx-sdp-fastboot.md §1.13, §1.14).  The ROM has
 * loaded and started the SPL (sdp_boot()); the SPL re-enumerates as an
 * SDP HID gadget and takes the rest of the image: one WRITE_FILE to
 * address 0 (= its CONFIG_SDP_LOADADDR) and a JUMP_ADDRESS 0, after which
 * it starts the FIT (U-Boot), which comes up as the fastboot gadget.
 *
 * Where the rest starts in flash.bin (uuu's built-in scripts, §1.13):
 *   SDPV  "write -skipspl": right after the SPL, for an IVT image at
 *         ivt_offset + boot_data.length - (self - start);
 *   SDPU  "write -offset 0x57c00": the fixed FIT offset of old layouts.
 *
 * Uses a struct sdp opened on the gadget with soc NULL (sdp.h).  Blocking;
 * errors as in sdp.h, plus -EMSGSIZE when nothing follows the SPL.
 */
#ifndef FLASHD_PROTOCOLS_IMX_SDPV_H
#define FLASHD_PROTOCOLS_IMX_SDPV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocols/sdp.h"

/* uuu's SDPU offset: 0x60000 - 0x8400, the FIT inside an SD boot image (§1.13). */
#define IMX_SDPU_OFFSET 0x57c00u

/* File offset of the first byte after the SPL (uuu -skipspl, §1.13). */
int imx_spl_end(const uint8_t *img, size_t len, size_t *ret, struct err *e);

struct sdpv_result {
	size_t offset;	     /* file offset the write started at */
	uint64_t bytes_sent; /* len - offset once the WRITE_FILE was acknowledged */
	uint32_t host_crc;   /* CRC-32 (zlib) of those bytes */
	bool jumped;
};

/*
 * WRITE_FILE img[offset..len) to address 0 in a single command, then
 * JUMP_ADDRESS 0.  *ret (optional) is filled as far as the work got.
 */
int sdpv_boot(struct sdp *s, const uint8_t *img, size_t len, size_t offset,
	      usb_progress_cb_t progress, void *ud, struct sdpv_result *ret, struct err *e);

#endif
