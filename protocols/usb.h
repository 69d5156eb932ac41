/*
 * Thin helpers shared by the protocol engines: one device handle plus the
 * settings every engine needs, control transfers that return negative errno,
 * string descriptors, cancellation and a progress callback type.
 *
 * libusb error codes are translated to errno here and nowhere else
 * (style.md "Errors"): LIBUSB_ERROR_NO_DEVICE -> -ENODEV, PIPE -> -EPIPE,
 * TIMEOUT -> -ETIMEDOUT, BUSY -> -EBUSY, ACCESS -> -EACCES, ...
 *
 * All calls block (synchronous libusb); engines run on a worker thread.
 * Ownership: struct usb_dev never owns the libusb handle; the caller opens
 * and closes it.  The cancel flag is owned by the caller too and may be set
 * from another thread at any time; it is checked between transfers, so a
 * transfer in flight finishes (or times out) before -ECANCELED is returned.
 * Waits for a device's answer go through usb_read_sliced(), which re-checks
 * the flag every USB_WAIT_SLICE_MS: a stuck board is left within a slice.
 */
#ifndef FLASHD_PROTOCOLS_USB_H
#define FLASHD_PROTOCOLS_USB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libusb.h>

#include "common/err.h"

/*
 * Default timeout of one control transfer.  5 s is what dfu-util allows per
 * request and what fwupd needed for an F745 (protocol-dfu.md §1.3, §1.8).
 */
#define USB_CTRL_TIMEOUT_MS 5000

/*
 * Longest single blocking IN transfer of usb_read_sliced(): how late a cancel
 * (stage deadline, shutdown) is noticed while a board takes its time.
 */
#define USB_WAIT_SLICE_MS 250

/* Progress: done of total bytes.  Called on the engine's thread. */
typedef void (*usb_progress_cb_t)(void *ud, uint64_t done, uint64_t total);

/* The phases of putting an image on a device, as engines report them. */
enum usb_phase {
	USB_PHASE_ERASE = 1, /* done/total: bytes of the sectors or blocks erased */
	USB_PHASE_TRANSFER,  /* bytes sent into the device's RAM (fastboot download) */
	USB_PHASE_WRITE,     /* bytes written (or, with est_ms, being written) */
	USB_PHASE_VERIFY,    /* bytes read back */
};

/*
 * Phase report (struct usb_dev.phase), on the engine's thread.  A phase
 * starts with done 0; the byte progress callback that follows counts on
 * from where it stood, so the listener takes that value as the phase's 0.
 * An erase reports each sector or block it finishes.  est_ms > 0: the
 * device now works for about est_ms without answering (a burner erasing a
 * partition, fastboot writing eMMC): the listener advances with time.
 */
typedef void (*usb_phase_cb_t)(void *ud, enum usb_phase ph, uint64_t done, uint64_t total,
			       uint64_t est_ms);

struct usb_dev {
	libusb_device_handle *handle; /* not owned */
	uint8_t interface;	      /* bInterfaceNumber the engine talks to */
	const atomic_int *cancel;     /* optional; non-zero means stop, -ECANCELED */
	unsigned int ctrl_timeout_ms; /* per control transfer, USB_CTRL_TIMEOUT_MS */
	usb_phase_cb_t phase;	      /* optional phase listener, must not block */
	void *phase_ud;
};

/* Fill d for handle h and interface intf with default timeouts, no cancel flag. */
void usb_dev_init(struct usb_dev *d, libusb_device_handle *h, uint8_t intf);

/* Report a phase to d->phase, if set. */
void usb_phase(const struct usb_dev *d, enum usb_phase ph, uint64_t done, uint64_t total,
	       uint64_t est_ms);

/* Translate a libusb_error (< 0) to a negative errno.  0 and counts pass through. */
int usb_errno(int libusb_ret);

/*
 * True if the device no longer answers (a GET_STATUS probe fails with
 * LIBUSB_ERROR_NO_DEVICE).  libusb 1.0.26 reports LIBUSB_ERROR_IO, not
 * NO_DEVICE, when the device goes away while a bulk transfer split into
 * several URBs is being submitted: callers use this to name the unplug.
 */
bool usb_device_gone(struct usb_dev *d);

/* -ECANCELED with a message naming `what` if the cancel flag is set, else 0. */
int usb_check_cancel(const struct usb_dev *d, const char *what, struct err *e);

/*
 * Bulk OUT of len bytes, like libusb_bulk_transfer(), that lives with the
 * host's usbfs memory limit: usbfs refuses a URB (ENOMEM at submission,
 * nothing sent) while the buffers of all URBs in flight on the machine would
 * exceed usbcore.usbfs_memory_mb (16 MiB by default,
 * drivers/usb/core/devio.c usbfs_increase_memory_usage()), e.g. 16 boards
 * each downloading 1 MiB at once.  The same bytes then go in smaller
 * transfers (the device sees one byte stream either way), halving down to
 * USB_BULK_MIN_PIECE, then waiting for other boards' URBs to finish, until
 * timeout_ms or the cancel flag.  Returns 0 or a libusb_error (< 0);
 * *done: bytes sent.
 */
int usb_bulk_out_pieces(struct usb_dev *d, uint8_t ep, const void *buf, int len, int *done,
			unsigned int timeout_ms);
/* The same for a bulk IN of up to len bytes the device sends as one reply:
 * the pieces are whole packets, a short one ends it.  *done: bytes read. */
int usb_bulk_in_pieces(struct usb_dev *d, uint8_t ep, void *buf, int len, int *done,
		       unsigned int timeout_ms);

/* The smallest piece usb_bulk_out_pieces() falls back to (a multiple of every
 * bulk wMaxPacketSize, so no piece ends in a short packet). */
#define USB_BULK_MIN_PIECE (16 * 1024)

/*
 * Control transfer with a data stage from the device (bmRequestType bit 7
 * set by the caller).  timeout_ms 0 means d->ctrl_timeout_ms.  Returns the
 * number of bytes received (may be short) or a negative errno with the
 * libusb reason as message (callers prefix the step).
 */
int usb_ctrl_in(struct usb_dev *d, uint8_t reqtype, uint8_t request, uint16_t value, uint16_t index,
		void *buf, uint16_t len, unsigned int timeout_ms, struct err *e);

/* Same towards the device.  Returns bytes sent; a short write is -EIO. */
int usb_ctrl_out(struct usb_dev *d, uint8_t reqtype, uint8_t request, uint16_t value,
		 uint16_t index, const void *buf, uint16_t len, unsigned int timeout_ms,
		 struct err *e);

/*
 * Read string descriptor `index` (language 0x0409, the first the ST ROMs
 * offer) as ASCII, non-ASCII UTF-16 units folded to '?'.  buf is always
 * NUL-terminated.  Returns the length, -EINVAL for index 0, or -errno.
 */
int usb_get_string(struct usb_dev *d, uint8_t index, char *buf, size_t size, struct err *e);

/*
 * Bulk (interrupt false) or interrupt IN transfer of up to len bytes from
 * ep, waiting at most timeout_ms in all, in transfers of at most
 * USB_WAIT_SLICE_MS that are re-issued while nothing arrived, with the
 * cancel flag checked between them.  Only for reads that can be repeated
 * without losing data (a reply that has not been sent yet); OUT transfers
 * cannot be re-issued safely and are not sliced.  Returns the byte count,
 * -ETIMEDOUT, -ECANCELED or -errno (libusb's wording as message).
 */
int usb_read_sliced(struct usb_dev *d, uint8_t ep, bool interrupt, void *buf, int len,
		    unsigned int timeout_ms, struct err *e);

/* Claim d->interface / select an alternate setting; -errno with message. */
/*
 * The active configuration, or configuration 0 of a device the kernel has
 * not configured yet.  Free it with libusb_free_config_descriptor().  The
 * one place the engines read descriptors from (with the two below).
 */
int usb_config(libusb_device_handle *h, struct libusb_config_descriptor **cfg);

/* bInterfaceNumber of the first interface: the one every boot ROM uses. */
int usb_first_interface(libusb_device_handle *h, uint8_t *intf);

struct usb_endpoint {
	uint8_t address; /* bEndpointAddress, direction bit included */
	uint16_t max_packet;
};

/*
 * The first endpoint of type (LIBUSB_TRANSFER_TYPE_BULK, _INTERRUPT) and
 * direction on alt 0 of d->interface.  -ENOENT (no message) if there is
 * none; a descriptor read error is set in e.
 */
int usb_find_endpoint(struct usb_dev *d, enum libusb_transfer_type type, bool in,
		      struct usb_endpoint *ep, struct err *e);

int usb_claim(struct usb_dev *d, struct err *e);
void usb_release(struct usb_dev *d);
int usb_set_alt(struct usb_dev *d, uint8_t alt, struct err *e);

/* Monotonic milliseconds, for deadlines. */
uint64_t usb_now_ms(void);
/* Monotonic microseconds, for timing one transfer. */
uint64_t usb_now_us(void);

/*
 * Sleep ms milliseconds, waking early only for cancellation (checked every
 * few ms).  Returns 0 or -ECANCELED.
 */
int usb_sleep_ms(const struct usb_dev *d, unsigned int ms, struct err *e);

#endif
