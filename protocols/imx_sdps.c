/*
 * This file implements the stream boot of the ROM-API i.MX ROMs
 * (imx_sdps.h) after shared/docs/protocol-imx-sdp-fastboot.md §1.12:
 * report 2 packets on interrupt OUT endpoint 1, 1020 payload bytes each,
 * the whole file, no replies read.
 */
#include "protocols/imx_sdps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/crc32.h"
#include "protocols/imx_image.h"

#define SDPS_REPORT_DATA 2
#define SDPS_PACKET_MAX 1024

/* Whether interface usb->interface has interrupt OUT endpoint ep. */
static int find_out_ep(struct usb_dev *usb, uint8_t ep, struct err *e)
{
	struct usb_endpoint out;
	int r = usb_find_endpoint(usb, LIBUSB_TRANSFER_TYPE_INTERRUPT, false, &out, e);

	if (r == 0 && out.address != ep)
		r = -ENOENT;
	if (r == -ENOENT)
		return err_set(e, r, "interface %u has no interrupt OUT endpoint 0x%02x",
			       usb->interface, ep);
	return r;
}

/* One report 2: pkt[0] = ID, pkt[1..1 + size) payload. */
static int send_packet(struct usb_dev *usb, uint8_t ep, uint8_t *pkt, int size,
		       unsigned int timeout_ms, struct err *e)
{
	int done = 0;
	int r = libusb_interrupt_transfer(usb->handle, ep, pkt, 1 + size, &done, timeout_ms);

	if (r < 0)
		return err_set(e, usb_errno(r), "%s", libusb_strerror((enum libusb_error)r));
	if (done != 1 + size)
		return err_set(e, -EIO, "short write: %d of %d bytes", done, 1 + size);
	return 0;
}

static int stream(struct usb_dev *usb, const struct imx_soc *soc, const uint8_t *img, size_t len,
		  unsigned int timeout_ms, usb_progress_cb_t progress, void *ud,
		  struct sdps_result *res, struct err *e)
{
	uint8_t pkt[1 + SDPS_PACKET_MAX];
	size_t size = soc->sdps_packet;
	uint8_t ep = soc->sdps_ep_out;
	int r;

	for (size_t off = 0; off < len; off += size) {
		size_t n = len - off < size ? len - off : size;

		r = usb_check_cancel(usb, "stream", e);
		if (r < 0)
			return r;
		pkt[0] = SDPS_REPORT_DATA;
		memcpy(pkt + 1, img + off, n);
		/* Full-size reports, the last zero-padded, as uuu sends (§1.6). */
		memset(pkt + 1 + n, 0, size - n);
		r = send_packet(usb, ep, pkt, (int)size, timeout_ms, e);
		if (r < 0)
			return err_prefix(e, r, "report 2 at file offset 0x%zx", off);
		res->bytes_sent = off + n;
		if (progress)
			progress(ud, off + n, len);
	}
	return 0;
}

int sdps_boot(struct usb_dev *usb, const struct imx_soc *soc, const uint8_t *img, size_t len,
	      unsigned int timeout_ms, usb_progress_cb_t progress, void *ud,
	      struct sdps_result *ret, struct err *e)
{
	struct sdps_result res = { 0 };
	struct imx_image im;
	int r;

	if (soc->protocol != IMX_PROTO_SDPS || !soc->sdps_romapi || !soc->sdps_ep_out ||
	    !soc->sdps_packet || soc->sdps_packet > SDPS_PACKET_MAX) {
		r = err_set(
			e, -EOPNOTSUPP,
			"%s: stream boot of boot containers (or with a BLTC block) is not supported",
			soc->name);
		goto out;
	}
	/* The ROM takes only an image with a valid IVT; refuse anything else
	 * before the board sees a byte. */
	r = imx_image_parse(img, len, &im, e);
	if (r < 0)
		goto out;
	res.load_addr = im.load_addr;
	libusb_set_auto_detach_kernel_driver(usb->handle, 1);
	r = find_out_ep(usb, (uint8_t)(soc->sdps_ep_out & 0x7f), e);
	if (r < 0)
		goto out;
	r = usb_claim(usb, e);
	if (r < 0)
		goto out;
	r = stream(usb, soc, img, len, timeout_ms ? timeout_ms : SDPS_XFER_TIMEOUT_MS, progress, ud,
		   &res, e);
	usb_release(usb);
	if (r >= 0)
		res.host_crc = crc32_update(0, img, len);
out:
	if (ret)
		*ret = res;
	if (r < 0)
		return err_prefix(e, r, "SDPS %s", soc->name);
	return 0;
}
