/*
 * This file implements the shared USB helpers of protocols/ (see usb.h): the
 * one place where libusb return codes become negative errno values, as
 * style.md requires, mapped after the kernel's USB error-code conventions
 * (Documentation/driver-api/usb/error-codes.rst).
 */
#include "protocols/usb.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Slice of a cancellable sleep: bounds how late a cancel is noticed. */
#define USB_SLEEP_SLICE_MS 20
/* The "is it still there?" probe after an I/O error. */
#define USB_PROBE_TIMEOUT_MS 200

void usb_dev_init(struct usb_dev *d, libusb_device_handle *h, uint8_t intf)
{
	*d = (struct usb_dev){
		.handle = h,
		.interface = intf,
		.ctrl_timeout_ms = USB_CTRL_TIMEOUT_MS,
	};
}

void usb_phase(const struct usb_dev *d, enum usb_phase ph, uint64_t done, uint64_t total,
	       uint64_t est_ms)
{
	if (d && d->phase)
		d->phase(d->phase_ud, ph, done, total, est_ms);
}

int usb_errno(int r)
{
	if (r >= 0)
		return r;
	switch (r) {
	case LIBUSB_ERROR_IO:
		return -EIO;
	case LIBUSB_ERROR_INVALID_PARAM:
		return -EINVAL;
	case LIBUSB_ERROR_ACCESS:
		return -EACCES;
	case LIBUSB_ERROR_NO_DEVICE:
		return -ENODEV;
	case LIBUSB_ERROR_NOT_FOUND:
		return -ENOENT;
	case LIBUSB_ERROR_BUSY:
		return -EBUSY;
	case LIBUSB_ERROR_TIMEOUT:
		return -ETIMEDOUT;
	case LIBUSB_ERROR_OVERFLOW:
		return -EOVERFLOW;
	case LIBUSB_ERROR_PIPE:
		return -EPIPE;
	case LIBUSB_ERROR_INTERRUPTED:
		return -EINTR;
	case LIBUSB_ERROR_NO_MEM:
		return -ENOMEM;
	case LIBUSB_ERROR_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

static int usb_fail(struct err *e, int r)
{
	int code = usb_errno(r);

	/* Keep the libusb wording: it says "No such device (it may have been disconnected)". */
	return err_set(e, code, "%s", libusb_strerror((enum libusb_error)r));
}

bool usb_device_gone(struct usb_dev *d)
{
	uint8_t st[2];
	int r = libusb_control_transfer(d->handle, LIBUSB_ENDPOINT_IN | LIBUSB_RECIPIENT_DEVICE,
					LIBUSB_REQUEST_GET_STATUS, 0, 0, st, sizeof(st),
					USB_PROBE_TIMEOUT_MS);

	return r == LIBUSB_ERROR_NO_DEVICE;
}

int usb_check_cancel(const struct usb_dev *d, const char *what, struct err *e)
{
	if (d->cancel && atomic_load(d->cancel))
		return err_set(e, -ECANCELED, "%s: cancelled", what);
	return 0;
}

static unsigned int usb_timeout(const struct usb_dev *d, unsigned int timeout_ms)
{
	if (timeout_ms)
		return timeout_ms;
	return d->ctrl_timeout_ms ? d->ctrl_timeout_ms : USB_CTRL_TIMEOUT_MS;
}

int usb_ctrl_in(struct usb_dev *d, uint8_t reqtype, uint8_t request, uint16_t value, uint16_t index,
		void *buf, uint16_t len, unsigned int timeout_ms, struct err *e)
{
	int r;

	r = usb_check_cancel(d, "control transfer", e);
	if (r < 0)
		return r;
	r = libusb_control_transfer(d->handle, reqtype | LIBUSB_ENDPOINT_IN, request, value, index,
				    buf, len, usb_timeout(d, timeout_ms));
	if (r < 0)
		return usb_fail(e, r);
	return r;
}

int usb_ctrl_out(struct usb_dev *d, uint8_t reqtype, uint8_t request, uint16_t value,
		 uint16_t index, const void *buf, uint16_t len, unsigned int timeout_ms,
		 struct err *e)
{
	int r;

	r = usb_check_cancel(d, "control transfer", e);
	if (r < 0)
		return r;
	/* libusb takes a non-const buffer for both directions; OUT data is only read. */
	r = libusb_control_transfer(d->handle, reqtype & ~LIBUSB_ENDPOINT_IN, request, value, index,
				    (unsigned char *)buf, len, usb_timeout(d, timeout_ms));
	if (r < 0)
		return usb_fail(e, r);
	if (r != len)
		return err_set(e, -EIO, "short control write: %d of %u bytes", r, len);
	return r;
}

int usb_read_sliced(struct usb_dev *d, uint8_t ep, bool interrupt, void *buf, int len,
		    unsigned int timeout_ms, struct err *e)
{
	uint64_t t0 = usb_now_ms();

	for (;;) {
		uint64_t spent = usb_now_ms() - t0;
		unsigned int slice = USB_WAIT_SLICE_MS;
		int got = 0, r = usb_check_cancel(d, "read", e);

		if (r < 0)
			return r;
		if (spent >= timeout_ms)
			return usb_fail(e, LIBUSB_ERROR_TIMEOUT);
		if (slice > timeout_ms - spent)
			slice = (unsigned int)(timeout_ms - spent);
		if (interrupt)
			r = libusb_interrupt_transfer(d->handle, ep, buf, len, &got, slice);
		else
			r = libusb_bulk_transfer(d->handle, ep, buf, len, &got, slice);
		if (r == LIBUSB_ERROR_TIMEOUT && got == 0)
			continue; /* nothing sent yet: ask again */
		/* Bytes that arrived as the slice ended are the answer. */
		if (r < 0 && r != LIBUSB_ERROR_TIMEOUT)
			return usb_fail(e, r);
		return got;
	}
}

/* Wait this long when even the smallest piece is refused: other boards'
 * URBs finish and give usbfs memory back within a few milliseconds. */
#define USB_NO_MEM_WAIT_US 2000

/*
 * The bytes of one logical bulk transfer in pieces that usbfs accepts (see
 * usb_bulk_out_pieces()).  IN: a piece that comes back short is the device
 * ending its data (a short packet), so the transfer is done.
 */
static int bulk_pieces(struct usb_dev *d, uint8_t ep, unsigned char *p, int len, int *done,
		       unsigned int timeout_ms)
{
	bool in = ep & LIBUSB_ENDPOINT_IN;
	uint64_t t0 = usb_now_ms();
	int piece = len, r = 0;

	*done = 0;
	while (*done < len) {
		int n = len - *done < piece ? len - *done : piece, got = 0;

		r = libusb_bulk_transfer(d->handle, ep, p + *done, n, &got, timeout_ms);
		*done += got;
		if (r != LIBUSB_ERROR_NO_MEM || got) {
			if (r < 0)
				return r;
			if (in && got < n)
				return 0;
			continue;
		}
		/* Refused before anything was sent: smaller, or later. */
		if (usb_now_ms() - t0 >= timeout_ms || (d->cancel && atomic_load(d->cancel)))
			return r;
		if (piece > USB_BULK_MIN_PIECE)
			piece = piece / 2 > USB_BULK_MIN_PIECE
					? (piece / 2) & ~(USB_BULK_MIN_PIECE - 1)
					: USB_BULK_MIN_PIECE;
		else
			usleep(USB_NO_MEM_WAIT_US);
	}
	return 0;
}

int usb_bulk_out_pieces(struct usb_dev *d, uint8_t ep, const void *buf, int len, int *done,
			unsigned int timeout_ms)
{
	/* libusb takes a non-const buffer for both directions; OUT data is only read. */
	return bulk_pieces(d, ep & ~LIBUSB_ENDPOINT_IN, (unsigned char *)buf, len, done,
			   timeout_ms);
}

int usb_bulk_in_pieces(struct usb_dev *d, uint8_t ep, void *buf, int len, int *done,
		       unsigned int timeout_ms)
{
	return bulk_pieces(d, ep | LIBUSB_ENDPOINT_IN, buf, len, done, timeout_ms);
}

int usb_get_string(struct usb_dev *d, uint8_t index, char *buf, size_t size, struct err *e)
{
	unsigned char raw[255];
	size_t n, i, o = 0;
	int r;

	if (size == 0)
		return err_set(e, -EINVAL, "string descriptor %u: no room", index);
	buf[0] = '\0';
	if (index == 0)
		return err_set(e, -EINVAL, "string descriptor index 0 is the language table");
	r = usb_ctrl_in(d, LIBUSB_RECIPIENT_DEVICE | LIBUSB_REQUEST_TYPE_STANDARD,
			LIBUSB_REQUEST_GET_DESCRIPTOR, (LIBUSB_DT_STRING << 8) | index, 0x0409, raw,
			sizeof(raw), 0, e);
	if (r < 0)
		return err_prefix(e, r, "string descriptor %u", index);
	if (r < 2 || raw[1] != LIBUSB_DT_STRING || raw[0] > r)
		return err_set(e, -EBADMSG, "string descriptor %u: malformed (%d bytes)", index, r);
	n = raw[0];
	for (i = 2; i + 1 < n && o + 1 < size; i += 2) {
		unsigned int u = raw[i] | (raw[i + 1] << 8);

		buf[o++] = u < 0x80 ? (char)u : '?';
	}
	buf[o] = '\0';
	return (int)o;
}

int usb_config(libusb_device_handle *h, struct libusb_config_descriptor **cfg)
{
	int r = libusb_get_active_config_descriptor(libusb_get_device(h), cfg);

	if (r < 0)
		r = libusb_get_config_descriptor(libusb_get_device(h), 0, cfg);
	return r < 0 ? usb_errno(r) : 0;
}

int usb_first_interface(libusb_device_handle *h, uint8_t *intf)
{
	struct libusb_config_descriptor *cfg;
	int r = usb_config(h, &cfg);

	if (r < 0)
		return r;
	*intf = cfg->bNumInterfaces && cfg->interface[0].num_altsetting
			? cfg->interface[0].altsetting[0].bInterfaceNumber
			: 0;
	libusb_free_config_descriptor(cfg);
	return 0;
}

/* Alt 0 of interface number intf, or NULL. */
static const struct libusb_interface_descriptor *
interface_alt0(const struct libusb_config_descriptor *cfg, uint8_t intf)
{
	for (int i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface *it = &cfg->interface[i];

		if (it->num_altsetting && it->altsetting[0].bInterfaceNumber == intf)
			return &it->altsetting[0];
	}
	return NULL;
}

int usb_find_endpoint(struct usb_dev *d, enum libusb_transfer_type type, bool in,
		      struct usb_endpoint *ep, struct err *e)
{
	const struct libusb_interface_descriptor *a;
	struct libusb_config_descriptor *cfg;
	int r = usb_config(d->handle, &cfg);

	if (r < 0)
		return err_set(e, r, "read configuration: %s", strerror(-r));
	r = -ENOENT;
	a = interface_alt0(cfg, d->interface);
	for (int k = 0; a && r < 0 && k < a->bNumEndpoints; k++) {
		const struct libusb_endpoint_descriptor *x = &a->endpoint[k];

		if ((x->bmAttributes & 3) != type ||
		    !!(x->bEndpointAddress & LIBUSB_ENDPOINT_IN) != in)
			continue;
		*ep = (struct usb_endpoint){ .address = x->bEndpointAddress,
					     .max_packet = x->wMaxPacketSize };
		r = 0;
	}
	libusb_free_config_descriptor(cfg);
	return r;
}

int usb_claim(struct usb_dev *d, struct err *e)
{
	int r = libusb_claim_interface(d->handle, d->interface);

	if (r < 0)
		return err_prefix(e, usb_fail(e, r), "claim interface %u", d->interface);
	return 0;
}

void usb_release(struct usb_dev *d)
{
	/* Best effort: the device may be gone already (leave, unplug). */
	libusb_release_interface(d->handle, d->interface);
}

int usb_set_alt(struct usb_dev *d, uint8_t alt, struct err *e)
{
	int r = libusb_set_interface_alt_setting(d->handle, d->interface, alt);

	if (r < 0)
		return err_prefix(e, usb_fail(e, r), "set interface %u alt %u", d->interface, alt);
	return 0;
}

uint64_t usb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t usb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int usb_sleep_ms(const struct usb_dev *d, unsigned int ms, struct err *e)
{
	while (ms > 0) {
		unsigned int step = ms < USB_SLEEP_SLICE_MS ? ms : USB_SLEEP_SLICE_MS;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)step * 1000000L };
		int r = usb_check_cancel(d, "wait", e);

		if (r < 0)
			return r;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		ms -= step;
	}
	return usb_check_cancel(d, "wait", e);
}
