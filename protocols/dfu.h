/*
 * USB DFU 1.1 host requests, state/status vocabulary, the DFU functional
 * descriptor, "get to dfuIDLE", and the poll-wait policy used after every
 * DNLOAD (protocol-dfu.md §1.2-1.8, §2.8; spec: USB DFU 1.1, Aug 2004).
 *
 * Every request targets d->interface with a class request type (0x21 OUT,
 * 0xA1 IN).  All calls block; they return 0 (or a byte count, or a state)
 * and negative errno with a message in *e, naming the request.  dfuse.c
 * builds ST's extension on top of this file; nothing here knows DfuSe.
 *
 * The poll policy (dfu_wait_done()) -- why it looks like this:
 *   ROMs lie about bwPollTimeout in both directions (§2.8): the F405 says
 *   100 ms for a mass erase that takes up to 32 s, EdgeTX found ST's F4 write
 *   values "way too long" (polling at once made writes ~5x faster), L43x
 *   ROMs STALL early polls, an H743 can sit in dfuDNBUSY until it gets two
 *   CLRSTATUS.  ST's stack does the work after the GETSTATUS reply and does
 *   not service EP0 meanwhile, so an early poll simply completes late: the
 *   ROM *holds* it.  Whether a device holds is learned per session
 *   (enum dfu_hold, owned by the caller, e.g. the DfuSe session):
 *   - unknown: after the first busy reply of an operation, probe with a
 *     DFU_POLL_FLOOR_MS wait and time that GETSTATUS.  A non-busy reply that
 *     took >= DFU_HOLD_MIN_US was held -> "holds"; a busy reply (a holding
 *     ROM never sends one while it works) or a STALL -> "answers"; a quick
 *     non-busy reply decides nothing (the work was done before the probe)
 *     and the next operation probes again.  Later polls of the operation
 *     use the clamped wait and are learned from the same way;
 *   - holds: poll again at once after a busy reply.  The held reply arrives
 *     when the work is done, so the idle tail of a clamped wait (1.7 ms of
 *     every 8.3 ms F4 block with a 10 ms cap) is gone, and no request is
 *     added: a poll that would have been held anyway is just sent earlier.
 *     A busy reply or a STALL turns it to "answers" for good, so a wrongly
 *     learned (slow bus, host hiccup) or wedged device cannot make us spin;
 *   - answers (and no learning state given): the clamped wait below;
 *   - learning applies to every operation, erases too: holding is a property
 *     of the ROM's USB stack, not of the operation, and a holding ROM holds a
 *     poll during a 32 s mass erase whether it is sent at once or after the
 *     erase cap, so polling at once costs nothing and saves up to the erase
 *     cap per sector erase;
 *   - clamped wait between polls = bwPollTimeout clamped to [floor_k, cap],
 *     where cap is per operation (short for writes, longer for erases) and the
 *     floor starts at DFU_POLL_FLOOR_MS and doubles with each busy poll up
 *     to cap: honest small values are honoured, overstated ones are capped,
 *     zero ones do not spin;
 *   - the end is a per-operation deadline chosen by the caller from the
 *     operation (write block, page/sector erase by sector size, mass erase
 *     >= 40 s), never bwPollTimeout; each GETSTATUS gets a control timeout
 *     covering the rest of that deadline, for ROMs that hold the status
 *     stage while they work;
 *   - a STALL on GETSTATUS while busy counts as "still busy": the wait is
 *     doubled after each (from max(bwPollTimeout, current wait), at most
 *     DFU_STALL_WAIT_MAX_MS), and DFU_MAX_BUSY_STALLS in a row end it;
 *   - still dfuDNBUSY at the deadline returns -ETIMEDOUT with
 *     ret->state == DFU_STATE_DNBUSY, so the caller can try the CLRSTATUS
 *     pair (dfu_clrstatus_pair()) and redo the operation once.
 */
#ifndef FLASHD_PROTOCOLS_DFU_H
#define FLASHD_PROTOCOLS_DFU_H

#include <stdbool.h>
#include <stdint.h>

#include <libusb.h>

#include "common/err.h"
#include "protocols/usb.h"

/* Class requests, DFU 1.1 Table 3.2 (protocol-dfu.md §1.3). */
enum dfu_request {
	DFU_REQ_DETACH = 0,
	DFU_REQ_DNLOAD = 1,
	DFU_REQ_UPLOAD = 2,
	DFU_REQ_GETSTATUS = 3,
	DFU_REQ_CLRSTATUS = 4,
	DFU_REQ_GETSTATE = 5,
	DFU_REQ_ABORT = 6,
};

/* bState values (§1.5). */
enum dfu_state {
	DFU_STATE_APP_IDLE = 0,
	DFU_STATE_APP_DETACH = 1,
	DFU_STATE_IDLE = 2,
	DFU_STATE_DNLOAD_SYNC = 3,
	DFU_STATE_DNBUSY = 4,
	DFU_STATE_DNLOAD_IDLE = 5,
	DFU_STATE_MANIFEST_SYNC = 6,
	DFU_STATE_MANIFEST = 7,
	DFU_STATE_MANIFEST_WAIT_RESET = 8,
	DFU_STATE_UPLOAD_IDLE = 9,
	DFU_STATE_ERROR = 10,
};

/* bStatus values (§1.6). */
enum dfu_status_code {
	DFU_STATUS_OK = 0x00,
	DFU_STATUS_ERR_TARGET = 0x01,
	DFU_STATUS_ERR_FILE = 0x02,
	DFU_STATUS_ERR_WRITE = 0x03,
	DFU_STATUS_ERR_ERASE = 0x04,
	DFU_STATUS_ERR_CHECK_ERASED = 0x05,
	DFU_STATUS_ERR_PROG = 0x06,
	DFU_STATUS_ERR_VERIFY = 0x07,
	DFU_STATUS_ERR_ADDRESS = 0x08,
	DFU_STATUS_ERR_NOTDONE = 0x09,
	DFU_STATUS_ERR_FIRMWARE = 0x0a,
	DFU_STATUS_ERR_VENDOR = 0x0b,
	DFU_STATUS_ERR_USBR = 0x0c,
	DFU_STATUS_ERR_POR = 0x0d,
	DFU_STATUS_ERR_UNKNOWN = 0x0e,
	DFU_STATUS_ERR_STALLEDPKT = 0x0f,
};

/* Spec names ("dfuDNBUSY", "errTARGET"); "unknown" for values outside the tables. */
const char *dfu_state_name(int state);
const char *dfu_status_name(int status);

/*
 * The errno a dfuERROR status stands for: errVENDOR -> -EACCES (ST uses it
 * for read protection, §1.6/§3.5); errWRITE/ERASE/CHECK_ERASED/PROG/VERIFY
 * -> -EIO (the flash failed); anything else -> -EPROTO.
 */
int dfu_status_errno(int status);

/* GETSTATUS reply (§1.4). */
struct dfu_status {
	uint8_t status;		  /* enum dfu_status_code */
	uint32_t poll_timeout_ms; /* bwPollTimeout, 24 bit */
	uint8_t state;		  /* enum dfu_state */
	uint8_t istring;
};

/* DFU functional descriptor, type 0x21 (§1.2). */
#define DFU_DT_FUNCTIONAL 0x21
#define DFU_ATTR_CAN_DNLOAD 0x01
#define DFU_ATTR_CAN_UPLOAD 0x02
#define DFU_ATTR_MANIFEST_TOLERANT 0x04
#define DFU_ATTR_WILL_DETACH 0x08
#define DFU_VERSION_DFUSE 0x011a

struct dfu_func_desc {
	uint8_t length;	    /* 9 for DFU 1.1, 7 for DFU 1.0 */
	uint8_t attributes; /* DFU_ATTR_* */
	uint16_t detach_timeout_ms;
	uint16_t transfer_size; /* wTransferSize */
	uint16_t dfu_version;	/* bcdDFUVersion; 0x0100 when length is 7 */
};

/*
 * Find the functional descriptor in a chain of descriptors (the "extra"
 * bytes libusb keeps after a configuration or interface descriptor).
 * Returns 0, -ENOENT if there is none, -EBADMSG if the chain is malformed or
 * the descriptor is shorter than 7 bytes.  Pure.
 */
int dfu_func_desc_parse(const uint8_t *extra, size_t len, struct dfu_func_desc *ret, struct err *e);

/*
 * Look for it where devices put it (§1.2): the configuration's extra bytes,
 * then every alternate setting of interface `intf`.  We never send a
 * standalone GET_DESCRIPTOR(0x21): the STM32C5 ROM does not answer it.
 * Returns 0, -ENOENT, -EBADMSG.
 */
int dfu_func_desc_find(const struct libusb_config_descriptor *cfg, uint8_t intf,
		       struct dfu_func_desc *ret, struct err *e);

/* The seven requests.  dnload/upload return bytes transferred. */
int dfu_detach(struct usb_dev *d, uint16_t timeout_ms, struct err *e);
int dfu_dnload(struct usb_dev *d, uint16_t block, const void *data, uint16_t len, struct err *e);
int dfu_upload(struct usb_dev *d, uint16_t block, void *buf, uint16_t len, struct err *e);
/* timeout_ms 0: d->ctrl_timeout_ms. */
int dfu_get_status(struct usb_dev *d, struct dfu_status *ret, unsigned int timeout_ms,
		   struct err *e);
int dfu_clear_status(struct usb_dev *d, struct err *e);
/* Returns the state (>= 0). */
int dfu_get_state(struct usb_dev *d, struct err *e);
int dfu_abort(struct usb_dev *d, struct err *e);

/*
 * Bring the device to dfuIDLE with status OK (§1.8 step 2): CLRSTATUS from
 * dfuERROR (STM32 ROMs power up in dfuERROR/errFIRMWARE), ABORT from
 * dfuDNLOAD-IDLE/dfuUPLOAD-IDLE, wait out dfuDNBUSY/dfuMANIFEST.  A few
 * rounds at most.  -EPROTO if the device is in run-time mode, waits for a
 * reset, or does not get there; transfer errors as they come.
 */
int dfu_get_idle(struct usb_dev *d, struct err *e);

/*
 * Recovery for an H7-style wedge (§2.8, BF#5348): two CLRSTATUS (in ST's
 * stack the first one outside dfuERROR enters dfuERROR, the second leaves
 * it), then dfu_get_idle().  STALLs of the CLRSTATUS requests are ignored:
 * the STM32C5 STALLs CLRSTATUS outside dfuERROR.
 */
int dfu_clrstatus_pair(struct usb_dev *d, struct err *e);

/* Poll-policy constants (see the top of this file for the reasoning). */
/* First re-poll when the device reports 0 ms (and the hold probe); doubles per busy poll. */
#define DFU_POLL_FLOOR_MS 1
/* Cap for data blocks: ST ROMs overstate write times (EDGETX#88, §2.8). */
#define DFU_POLL_CAP_WRITE_MS 10
/* Cap for erases: sector erases take 0.2-2 s, so 100 ms costs little. */
#define DFU_POLL_CAP_ERASE_MS 100
/*
 * STALLs in a row tolerated while busy.  dfu-util allows 3 at the reported
 * interval (§4.4, SF#40); L43x ROMs report ~21 ms and STALL until a sector
 * erase is done, so we double the wait per STALL and allow 8: ~5 s from a
 * 100 ms start, still bounded by the operation's deadline.
 */
#define DFU_MAX_BUSY_STALLS 8
#define DFU_STALL_WAIT_MAX_MS 1000
/* Deadline of one data block: F4 programs 2 KiB in tens of ms; 5 s is dfu-util's request timeout (§1.3). */
#define DFU_DEADLINE_WRITE_MS 5000
/* Added to the rest of the deadline for one GETSTATUS' control timeout. */
#define DFU_STATUS_SLACK_MS 1000

/*
 * A non-busy GETSTATUS at least this long was held by the device: an
 * answered one costs a frame or so (full speed: 1 ms frames; the rig models
 * 1 ms per control transfer), so two frames is clearly more.  A host hiccup
 * that makes a quick reply look held is undone by the next busy reply.
 */
#define DFU_HOLD_MIN_US 2000

/* What a device does with a GETSTATUS sent while it works (top of this file). */
enum dfu_hold {
	DFU_HOLD_UNKNOWN = 0, /* not learned yet: probe */
	DFU_HOLD_HOLDS,	      /* completes it when the work is done (ST F4): poll at once */
	DFU_HOLD_ANSWERS,     /* answers busy or STALLs (L43x): clamped wait */
};

/* "unknown", "holds", "answers". */
const char *dfu_hold_name(enum dfu_hold h);

/*
 * Learn from one poll sent while the device was busy: r is what
 * dfu_get_status() returned, st its reply (read only if r == 0), took_us how
 * long it took.  Returns the new state; "answers" is final.  Pure.
 */
enum dfu_hold dfu_hold_learn(enum dfu_hold h, int r, const struct dfu_status *st, uint64_t took_us);

/* One wait: deadline and poll cap of the operation whose DNLOAD was just sent. */
struct dfu_wait {
	unsigned int deadline_ms; /* from the first GETSTATUS; 0 means DFU_DEADLINE_WRITE_MS */
	unsigned int cap_ms;	  /* largest sleep between polls */
	enum dfu_hold *hold;	  /* the session's learned state, updated; NULL: "answers" */
};

/*
 * After a DNLOAD: send GETSTATUS (which makes DfuSe devices start the work),
 * then poll per the policy above until the device leaves dfuDNBUSY and
 * dfuDNLOAD-SYNC.  Returns 0 with *ret set when it reports another state
 * with status OK (the caller checks which state it expects; DfuSe devices
 * may go straight to dfuDNLOAD-IDLE, as the U5A9 does).  dfuERROR or a bad
 * status: dfu_status_errno() with "dfuERROR errTARGET after GETSTATUS".
 * Deadline passed while busy: -ETIMEDOUT, ret->state == DFU_STATE_DNBUSY.
 * *ret is always written with the last reply seen (zeroed if none).
 * *w->hold (if given) is read and updated per the policy above.
 */
int dfu_wait_done(struct usb_dev *d, const struct dfu_wait *w, struct dfu_status *ret,
		  struct err *e);

#endif
