/*
 * Transport shared by the two Ingenic engines (ingenic.c: boot ROM,
 * ingenic_burner.c: stage 2); not for other callers.
 *
 * Requests are named, not numbered: the caller picks one of the requests
 * below and this module maps it to its bRequest in one table.  There is no
 * way to send any other vendor request, in particular none of the burner's
 * secure-boot / eFuse requests (protocol-ingenic.md §3.1: irreversible,
 * "never send unintentionally"); flashd does not implement them.
 *
 * Every vendor request goes to the device: OUT 0x40, IN 0xC0, a 32-bit
 * argument split as wValue = high 16 bits, wIndex = low 16 bits (§0.2).
 * Bulk data uses EP 0x01 OUT / 0x81 IN (§1.3).  All calls block, check the
 * cancel flag first, and return bytes moved or -errno with the libusb
 * reason as message (callers prefix the step).
 */
#ifndef FLASHD_PROTOCOLS_INGENIC_USB_H
#define FLASHD_PROTOCOLS_INGENIC_USB_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocols/usb.h"

enum ingenic_usb_req {
	/* boot ROM (§2.1); GET_CPU_INFO and SET_DATA_LEN also in the burner */
	INGENIC_USB_GET_CPU_INFO,
	INGENIC_USB_SET_DATA_ADDR,
	INGENIC_USB_SET_DATA_LEN,
	INGENIC_USB_FLUSH_CACHES,
	INGENIC_USB_PROGRAM_START1,
	INGENIC_USB_PROGRAM_START2,
	/* burner (§3.1) */
	INGENIC_USB_GET_ACK,
	INGENIC_USB_INIT,
	INGENIC_USB_WRITE,
	INGENIC_USB_READ,
	INGENIC_USB_UPDATE_CFG,
	INGENIC_USB_REBOOT,
	INGENIC_USB_GET_CRC,
	INGENIC_USB_GET_FLASH_INFO,
	_INGENIC_USB_REQ_MAX,
};

/* Printable name ("GET_ACK"), "?" for a value outside the enum. */
const char *ingenic_usb_req_name(enum ingenic_usb_req req);

/* Control transfers; -EINVAL for a value outside the enum or the wrong direction. */
int ingenic_usb_out(struct usb_dev *usb, enum ingenic_usb_req req, uint32_t arg, const void *data,
		    uint16_t len, unsigned int timeout_ms, struct err *e);
int ingenic_usb_in(struct usb_dev *usb, enum ingenic_usb_req req, uint32_t arg, void *data,
		   uint16_t len, unsigned int timeout_ms, struct err *e);

/* Bulk; a short OUT is -EIO, an IN returns what arrived (may be short). */
int ingenic_usb_bulk_out(struct usb_dev *usb, const uint8_t *buf, size_t len,
			 unsigned int timeout_ms, struct err *e);
int ingenic_usb_bulk_in(struct usb_dev *usb, uint8_t *buf, size_t len, unsigned int timeout_ms,
			struct err *e);

/* Scale ms by pct percent (0 -> 100), at least 1 ms. */
unsigned int ingenic_usb_scale(unsigned int ms, unsigned int pct);

#endif
