/*
 * i.MX stream boot ROMs (SDPS, shared/docs/protocol-imx-sdp-fastboot.md
 * §1.12): no commands and no replies; the host streams the boot image as
 * HID report 2 packets and never reads report 3/4.  Only the ROM-API parts
 * (i.MX8MN/8MP/8ULP/91/93, imx_soc.sdps_romapi) are driven: the whole
 * flash.bin goes down, because their SPL keeps pulling the rest (ATF +
 * U-Boot FIT) from the same stream, and U-Boot then comes up as the
 * fastboot gadget; no SPL gadget in between (§1.14).
 *
 * Transport per ROM (imx_soc.sdps_ep_out / sdps_packet, the §1.12 table):
 * interrupt OUT endpoint 1 with 1020-byte payloads, each transfer the ID
 * byte 2 then the payload, the last one zero-padded to the full size as
 * uuu does (§1.6).  The interface is claimed (usbhid detached) for the
 * duration of the call.
 *
 * Errors (negative errno, message naming the packet offset):
 *   -EOPNOTSUPP  the ROM needs container streaming or a BLTC block (not here)
 *   -ENOENT      no interrupt OUT endpoint where the table says
 *   -EBADMSG/-ENOMSG/...  the file is not a bootable i.MX image (imx_image.h)
 *   -ENODEV, -ETIMEDOUT, -EPIPE, -EIO, -ECANCELED  transfer errors
 */
#ifndef FLASHD_PROTOCOLS_IMX_SDPS_H
#define FLASHD_PROTOCOLS_IMX_SDPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocols/imx_soc.h"
#include "protocols/usb.h"

/* Per OUT transfer: as sdp.h's SDP_XFER_TIMEOUT_MS (DDR training, §1.7). */
#define SDPS_XFER_TIMEOUT_MS 10000

struct sdps_result {
	uint64_t bytes_sent; /* file bytes acknowledged by the ROM/SPL */
	uint32_t host_crc;   /* CRC-32 (zlib) of the whole file, once all was sent */
	uint32_t load_addr;  /* IVT.self of the SPL, for the image row */
};

/*
 * Stream img[0..len) to the ROM of soc on usb (usb->interface = its HID
 * interface).  timeout_ms 0 = SDPS_XFER_TIMEOUT_MS per transfer.
 */
int sdps_boot(struct usb_dev *usb, const struct imx_soc *soc, const uint8_t *img, size_t len,
	      unsigned int timeout_ms, usb_progress_cb_t progress, void *ud,
	      struct sdps_result *ret, struct err *e);

#endif
