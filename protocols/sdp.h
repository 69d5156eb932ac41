/*
 * NXP i.MX Serial Download Protocol (SDP) engine, host side, for the HID
 * boot ROMs of i.MX6/7/8MQ/8MM/7ULP/RT (shared/docs/protocol-imx-sdp-fastboot.md
 * §1.1-§1.11).  Stream ROMs (SDPS, §1.12) are not handled here.
 *
 * Transport (§1.1): host->device reports 1 (16-byte command) and 2 (1024
 * bytes of data, always sent full, zero-padded, §1.6) go as HID SET_REPORT
 * control transfers (bmRequestType 0x21, bRequest 0x09, wValue 0x0200 | ID,
 * wIndex = interface), the one OUT path every ROM accepts; device->host
 * reports 3 (4-byte HAB state) and 4 (64-byte status or register data)
 * arrive on the interrupt IN endpoint, first byte = report ID.  Every
 * command is answered with report 3 first (§1.3).
 *
 * Usage: the caller opens the libusb handle and fills a struct usb_dev
 * (interface = the HID interface); sdp_open() claims it (detaching usbhid
 * when bound) and finds the IN endpoint; then single commands or
 * sdp_boot(), then sdp_close().  Every call blocks (worker thread).  One
 * struct sdp per device; not thread-safe; usb_dev and handle outlive it.
 *
 * Errors: negative errno, message naming the command and address, e.g.
 *   "WRITE_FILE 0x877ff400 (1024 bytes): status 0x12345678, expected 0x88888888".
 *   -ENODEV unplugged, -EPIPE stall, -ETIMEDOUT no report in time, -EIO
 *   other transfer errors, -EPROTO unexpected report ID / HAB word / status,
 *   -EACCES jump refused by HAB (closed part, image not signed), -EBADMSG
 *   image not bootable (imx_image.h errors pass through), -EINVAL
 *   arguments, -EOPNOTSUPP ROM without the needed command, -ECANCELED.
 */
#ifndef FLASHD_PROTOCOLS_SDP_H
#define FLASHD_PROTOCOLS_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocols/imx_image.h"
#include "protocols/imx_soc.h"
#include "protocols/usb.h"

/* Command codes (§1.3): both bytes equal. */
#define SDP_READ_REGISTER 0x0101
#define SDP_WRITE_REGISTER 0x0202
#define SDP_WRITE_FILE 0x0404
#define SDP_ERROR_STATUS 0x0505
#define SDP_DCD_WRITE 0x0a0a
#define SDP_JUMP_ADDRESS 0x0b0b
#define SDP_SKIP_DCD_HEADER 0x0c0c

/* Report IDs and payload sizes excluding the ID byte (§1.1). */
#define SDP_REPORT_COMMAND 1
#define SDP_REPORT_DATA 2
#define SDP_REPORT_HAB 3
#define SDP_REPORT_STATUS 4
#define SDP_COMMAND_LEN 16
#define SDP_DATA_LEN 1024
#define SDP_HAB_LEN 4
#define SDP_STATUS_LEN 64

/* Report 3 and report 4 values (§1.5); palindromic, so byte order is moot. */
#define SDP_HAB_OPEN 0x56787856u
#define SDP_HAB_CLOSED 0x12343412u
#define SDP_ACK_WRITE_FILE 0x88888888u
#define SDP_ACK_WRITE 0x128a8a12u /* WRITE_REGISTER, DCD_WRITE */
#define SDP_ACK_SKIP_DCD 0x900dd009u
#define SDP_HAB_SUCCESS 0xf0f0f0f0u

/* Access widths for register commands: FORMAT byte = bits (§1.4). */
#define SDP_FORMAT_8 0x08
#define SDP_FORMAT_16 0x10
#define SDP_FORMAT_32 0x20

/*
 * WRITE_FILE commands carry at most 2 MiB each, as uuu, old MfgTool and
 * snagboot send to ROMs (§1.6, MAX_SIZE_PER_DOWNLOAD_COMMAND 0x200000).
 */
#define SDP_WRITE_FILE_MAX 0x200000u
/*
 * Per HID transfer: uuu HEAD waits 10 s ("it takes some time for ddr
 * training", §1.7); imx_usb's 1 s is too short for DCD_WRITE on slow DDR.
 * Report reads wait in slices of USB_WAIT_SLICE_MS, so a cancel ends them
 * early; SET_REPORT writes are single transfers (not re-issuable).
 */
#define SDP_XFER_TIMEOUT_MS 10000
/*
 * After JUMP_ADDRESS the ROM sends report 4 only on failure (§1.3, §1.8);
 * imx_usb takes a read timeout as success.  The ROM answers a bad IVT at
 * once, so a short wait is enough.  Our choice, not from a tool.
 */
#define SDP_JUMP_ACK_MS 500

enum sdp_hab {
	SDP_HAB_UNKNOWN, /* no command answered yet */
	SDP_HAB_STATE_OPEN,
	SDP_HAB_STATE_CLOSED,
};

struct sdp;

/*
 * Claim usb->interface (auto-detaching a kernel driver), find its
 * interrupt IN endpoint.  soc may be NULL (commands only; sdp_boot()
 * then needs it).  Returns 0 and *ret or -errno (-ENOENT no interrupt IN
 * endpoint, -EOPNOTSUPP soc is a stream ROM).
 */
int sdp_open(struct usb_dev *usb, const struct imx_soc *soc, struct sdp **ret, struct err *e);

/* Release the interface (best effort) and free.  Accepts NULL; returns NULL. */
struct sdp *sdp_close(struct sdp *s);
DEFINE_CLEANUP_FUNC(struct sdp *, sdp_close);

/* Per-transfer timeout (default SDP_XFER_TIMEOUT_MS). */
void sdp_set_timeout(struct sdp *s, unsigned int ms);

/* HAB state from the last report 3 seen. */
enum sdp_hab sdp_hab_state(const struct sdp *s);
const char *sdp_hab_name(enum sdp_hab h);

/*
 * Raw command: send report 1 for (cmd, addr, format, count, data) and read
 * report 3; nothing else.  For tests and for commands not wrapped below.
 */
int sdp_command(struct sdp *s, uint16_t cmd, uint32_t addr, uint8_t format, uint32_t count,
		uint32_t data, struct err *e);

/* READ_REGISTER: count bytes at addr (format = width in bits) into buf. */
int sdp_read_register(struct sdp *s, uint32_t addr, uint8_t format, void *buf, uint32_t count,
		      struct err *e);
/* One 32-bit register (little-endian in the reply, §1.5). */
int sdp_read32(struct sdp *s, uint32_t addr, uint32_t *ret, struct err *e);

/* WRITE_REGISTER: value at addr; expects SDP_ACK_WRITE. */
int sdp_write_register(struct sdp *s, uint32_t addr, uint8_t format, uint32_t value, struct err *e);

/* ERROR_STATUS: the status word in *ret (0xF0F0F0F0 = HAB success on ROMs). */
int sdp_error_status(struct sdp *s, uint32_t *ret, struct err *e);

/*
 * WRITE_FILE buf[0..len) to addr in commands of at most SDP_WRITE_FILE_MAX
 * bytes, each acknowledged with SDP_ACK_WRITE_FILE.  progress sees bytes of
 * len.  Returns 0 or -errno.
 */
int sdp_write_file(struct sdp *s, uint32_t addr, const uint8_t *buf, size_t len,
		   usb_progress_cb_t progress, void *ud, struct err *e);

/*
 * One WRITE_FILE of all len bytes, not split: the SPL gadget takes address
 * 0 as its CONFIG_SDP_LOADADDR, so a second command at 0 + 2 MiB would
 * land elsewhere; uuu sends SPL targets the whole image in one command
 * (HID_SDP_NO_MAX_PER_TRANS, §1.6, §1.13).  Returns 0 or -errno.
 */
int sdp_write_file_once(struct sdp *s, uint32_t addr, const uint8_t *buf, size_t len,
			usb_progress_cb_t progress, void *ud, struct err *e);

/* DCD_WRITE of a DCD blob (header included) to addr; expects SDP_ACK_WRITE. */
int sdp_dcd_write(struct sdp *s, uint32_t addr, const uint8_t *dcd, size_t len, struct err *e);

/* SKIP_DCD_HEADER; expects SDP_ACK_SKIP_DCD.  -EOPNOTSUPP-worthy ROMs answer with an error. */
int sdp_skip_dcd(struct sdp *s, struct err *e);

/*
 * JUMP_ADDRESS to addr (an IVT address, §1.8).  Success when no report 4
 * follows within SDP_JUMP_ACK_MS, or the device leaves; a report 4 is the
 * ROM's HAB event: -EACCES with status/reason/context decoded in the message.
 * After success only sdp_close() is valid.
 */
int sdp_jump(struct sdp *s, uint32_t addr, struct err *e);

struct sdp_boot_result {
	struct imx_image image; /* what was parsed */
	enum sdp_hab hab;
	uint32_t host_crc;   /* CRC-32 (zlib) of the load_size bytes sent */
	uint64_t bytes_sent; /* image bytes (not DCD, not the IVT rewrite) */
	enum imx_soc_method method;
	bool dcd_written;
	bool jumped;
};

/*
 * Boot a DCD image (u-boot.imx) from RAM (§1.8, §1.9, uuu "SDP: boot"):
 * parse; ERROR_STATUS (reads the HAB state); DCD_WRITE of the DCD to the
 * SoC's scratch address if the image has one; WRITE_FILE of the image from
 * its IVT to IVT.self in 2 MiB commands; then, if a DCD was written,
 * SKIP_DCD_HEADER or the 1 KiB IVT rewrite with dcd = 0 (as the SoC row
 * says) so the DCD does not run twice; JUMP_ADDRESS to IVT.self.  The image
 * buffer is only read.  *ret (optional) is filled as far as the work got.
 */
int sdp_boot(struct sdp *s, const uint8_t *img, size_t len, usb_progress_cb_t progress, void *ud,
	     struct sdp_boot_result *ret, struct err *e);

/*
 * Read the unique ID from OCOTP shadow registers (§3.1): n words (1..4)
 * at the given addresses, low word first, each contributing its low `bits`
 * (16 or 32) bits.  hex gets the UID most significant word first, like
 * Linux's soc serial: i.MX6 "%08X%08X" of (word@0x420, word@0x410).
 * hex needs n * bits / 4 + 1 bytes (33 is always enough).
 */
int sdp_read_uid(struct sdp *s, const uint32_t *words, unsigned int n, unsigned int bits, char *hex,
		 size_t size, struct err *e);

#endif
