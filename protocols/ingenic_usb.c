/*
 * This file implements the transport of the Ingenic engines
 * (ingenic_usb.h): the one table from request names to bRequest codes, the
 * 32-bit argument split of §0.2, and bulk transfers on EP 0x01/0x81.
 */
#include "protocols/ingenic_usb.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#define INGENIC_REQTYPE_OUT (LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_DEVICE)
#define INGENIC_REQTYPE_IN (INGENIC_REQTYPE_OUT | LIBUSB_ENDPOINT_IN)
#define INGENIC_EP_OUT 0x01
#define INGENIC_EP_IN 0x81

/*
 * protocol-ingenic.md §2.1 (ROM) and §3.1 (burner).  The burner's requests
 * 0x20-0x25 (secure boot, eFuse burning) are deliberately absent, as are
 * POWEROFF, SYNC_TIME and CHECK which nothing here needs.
 */
static const struct {
	uint8_t code;
	bool in;
	const char *name;
} reqs[_INGENIC_USB_REQ_MAX] = {
	[INGENIC_USB_GET_CPU_INFO] = { 0x00, true, "GET_CPU_INFO" },
	[INGENIC_USB_SET_DATA_ADDR] = { 0x01, false, "SET_DATA_ADDR" },
	[INGENIC_USB_SET_DATA_LEN] = { 0x02, false, "SET_DATA_LEN" },
	[INGENIC_USB_FLUSH_CACHES] = { 0x03, false, "FLUSH_CACHES" },
	[INGENIC_USB_PROGRAM_START1] = { 0x04, false, "PROGRAM_START1" },
	[INGENIC_USB_PROGRAM_START2] = { 0x05, false, "PROGRAM_START2" },
	[INGENIC_USB_GET_ACK] = { 0x10, true, "GET_ACK" },
	[INGENIC_USB_INIT] = { 0x11, false, "INIT" },
	[INGENIC_USB_WRITE] = { 0x12, false, "WRITE" },
	[INGENIC_USB_READ] = { 0x13, false, "READ" },
	[INGENIC_USB_UPDATE_CFG] = { 0x14, false, "UPDATE_CFG" },
	[INGENIC_USB_REBOOT] = { 0x16, false, "REBOOT" },
	[INGENIC_USB_GET_CRC] = { 0x19, true, "GET_CRC" },
	[INGENIC_USB_GET_FLASH_INFO] = { 0x26, true, "GET_FLASH_INFO" },
};

const char *ingenic_usb_req_name(enum ingenic_usb_req req)
{
	if ((unsigned int)req >= _INGENIC_USB_REQ_MAX)
		return "?";
	return reqs[req].name;
}

static int check_req(enum ingenic_usb_req req, bool in, struct err *e)
{
	if ((unsigned int)req >= _INGENIC_USB_REQ_MAX || reqs[req].in != in)
		return err_set(e, -EINVAL, "request %d is not an %s request of this engine",
			       (int)req, in ? "IN" : "OUT");
	return 0;
}

int ingenic_usb_out(struct usb_dev *usb, enum ingenic_usb_req req, uint32_t arg, const void *data,
		    uint16_t len, unsigned int timeout_ms, struct err *e)
{
	int r = check_req(req, false, e);

	if (r < 0)
		return r;
	return usb_ctrl_out(usb, INGENIC_REQTYPE_OUT, reqs[req].code, (uint16_t)(arg >> 16),
			    (uint16_t)arg, data, len, timeout_ms, e);
}

int ingenic_usb_in(struct usb_dev *usb, enum ingenic_usb_req req, uint32_t arg, void *data,
		   uint16_t len, unsigned int timeout_ms, struct err *e)
{
	int r = check_req(req, true, e);

	if (r < 0)
		return r;
	return usb_ctrl_in(usb, INGENIC_REQTYPE_IN, reqs[req].code, (uint16_t)(arg >> 16),
			   (uint16_t)arg, data, len, timeout_ms, e);
}

/*
 * An unplug while a bulk transfer is in flight completes it with a generic
 * error (LIBUSB_ERROR_IO), not NO_DEVICE.  A standard GET_STATUS tells the
 * two apart: it fails NO_DEVICE once the device is gone.  A busy device may
 * not answer EP0 at all; a timeout then means "still there".
 */
static int bulk(struct usb_dev *usb, uint8_t ep, uint8_t *buf, size_t len, unsigned int timeout_ms,
		struct err *e)
{
	int done = 0, r;

	r = usb_check_cancel(usb, "bulk transfer", e);
	if (r < 0)
		return r;
	if (len > INT_MAX)
		return err_set(e, -EMSGSIZE, "bulk transfer of %zu bytes", len);
	if (ep & LIBUSB_ENDPOINT_IN)
		r = usb_bulk_in_pieces(usb, ep, buf, (int)len, &done,
				       timeout_ms ? timeout_ms : usb->ctrl_timeout_ms);
	else
		r = usb_bulk_out_pieces(usb, ep, buf, (int)len, &done,
					timeout_ms ? timeout_ms : usb->ctrl_timeout_ms);
	if (r == LIBUSB_ERROR_IO && usb_device_gone(usb))
		r = LIBUSB_ERROR_NO_DEVICE;
	if (r < 0)
		return err_set(e, usb_errno(r), "bulk %s: %s (%d of %zu bytes)",
			       ep & LIBUSB_ENDPOINT_IN ? "IN" : "OUT",
			       libusb_strerror((enum libusb_error)r), done, len);
	return done;
}

int ingenic_usb_bulk_out(struct usb_dev *usb, const uint8_t *buf, size_t len,
			 unsigned int timeout_ms, struct err *e)
{
	/* libusb takes a non-const buffer for both directions; OUT data is only read. */
	int r = bulk(usb, INGENIC_EP_OUT, (uint8_t *)buf, len, timeout_ms, e);

	if (r >= 0 && (size_t)r != len)
		return err_set(e, -EIO, "bulk OUT: short write, %d of %zu bytes", r, len);
	return r;
}

int ingenic_usb_bulk_in(struct usb_dev *usb, uint8_t *buf, size_t len, unsigned int timeout_ms,
			struct err *e)
{
	return bulk(usb, INGENIC_EP_IN, buf, len, timeout_ms, e);
}

unsigned int ingenic_usb_scale(unsigned int ms, unsigned int pct)
{
	uint64_t v = (uint64_t)ms * (pct ? pct : 100) / 100;

	if (v == 0)
		return 1;
	return v > UINT_MAX ? UINT_MAX : (unsigned int)v;
}
