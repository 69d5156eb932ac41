/*
 * ST DfuSe engine (DFU 1.1a, bcdDFUVersion 0x011A): the STM32 ROM
 * bootloader at 0483:df11 (protocol-dfu.md §2; ST AN3156, AN2662).
 *
 * Usage: the caller opens the libusb handle, fills a struct usb_dev, then
 *   dfuse_open() -> dfuse_download()/dfuse_upload()/... -> dfuse_leave()
 *   -> dfuse_close().  Every call blocks (worker thread).  One struct dfuse
 * per device; not thread-safe; the usb_dev and its handle must outlive it.
 *
 * Wire strategy for data (§2.3, strategy B): one Set-Address per contiguous
 * run, then DNLOAD blocks 2, 3, 4 ... of exactly wTransferSize bytes, only
 * the last one short.  ST's stack computes the address from its own
 * wTransferSize, so this is exact; it saves a DNLOAD and >= 2 GETSTATUS per
 * block over dfu-util's Set-Address before every chunk.  If wTransferSize
 * exceeds DFUSE_MAX_CHUNK (usbfs control limit) we fall back to Set-Address
 * per chunk (strategy A), since consecutive blocks would then be wrong.
 *
 * Erase: exactly the sectors the image touches (layout of the current alt),
 * each at most once per call (also across the elements of a .dfu target),
 * or once per caller-kept set (dfuse_use_erased()), skipping non-erasable
 * segments; or one mass erase when asked.
 *
 * Verification: every byte written is read back with UPLOAD and compared;
 * the result carries the host and device CRC-32 (zlib) of the range.
 *
 * Errors: negative errno, message naming step and address, e.g.
 *   "erase sector 0x08020000: dfuERROR errTARGET after GETSTATUS".
 *   -ENODEV unplugged, -EPIPE stall, -ETIMEDOUT deadline/transfer timeout,
 *   -EACCES read protection (errVENDOR), -EIO flash failure (errPROG ...),
 *   -EPROTO other device state/status, -EILSEQ verify mismatch,
 *   -EINVAL/-ERANGE bad arguments (outside the layout, not writable),
 *   -ECANCELED cancel flag.  After a failure the engine tries (best effort,
 *   not over -ENODEV) to bring the device back to dfuIDLE.
 */
#ifndef FLASHD_PROTOCOLS_DFUSE_H
#define FLASHD_PROTOCOLS_DFUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocols/dfu.h"
#include "protocols/dfu_file.h"
#include "protocols/dfuse_mem.h"
#include "protocols/usb.h"

/* Deadlines: see dfu.h for the policy.  All scaled by dfuse_set_deadline_pct(). */
/* Set-Address only moves a pointer; 2 s leaves room for a slow first poll. */
#define DFUSE_DEADLINE_SET_ADDRESS_MS 2000
/*
 * Sector erase = base + per KiB: 16 KiB -> 1.6 s, 128 KiB -> 6.1 s, above
 * the 1-2 s class F4 sector erase times ([I]: datasheet class figures, not
 * from protocol-dfu.md; the doc only says "seconds", §2.8).
 */
#define DFUSE_ERASE_BASE_MS 1000
#define DFUSE_ERASE_MS_PER_KIB 40
/* Mass erase: F405 needs up to 32 s while reporting 100 ms; plan ~40 s (§2.8). */
#define DFUSE_DEADLINE_MASS_ERASE_MS 40000
/* After a leave whose final GETSTATUS failed: how long we wait to see the device go. */
#define DFUSE_LEAVE_GONE_MS 2000
/* usbfs limits one control transfer to a page (dfu-util clamps to 4096 on Linux, §2.9). */
#define DFUSE_MAX_CHUNK 4096
/* Alt settings we keep; ST ROMs have 2-4. */
#define DFUSE_MAX_ALTS 16

/* STM32F2/F4 96-bit unique ID (RM0090/RM0401, §3.3); ROMs mostly refuse it (§3.4). */
#define DFUSE_F4_UID_ADDR 0x1fff7a10u
#define DFUSE_UID_LEN 12

/* DfuSe commands, DNLOAD block 0 (§2.2). */
#define DFUSE_CMD_SET_ADDRESS 0x21
#define DFUSE_CMD_ERASE 0x41
#define DFUSE_CMD_READ_UNPROTECT 0x92

struct dfuse;

struct dfuse_alt {
	uint8_t alt;	/* bAlternateSetting */
	char name[256]; /* iInterface string, "" if none */
	int layout_err; /* 0, or the -errno dfuse_mem_parse() gave */
	struct dfuse_layout layout;
};

enum dfuse_flags {
	DFUSE_MASS_ERASE = 1 << 0, /* one mass erase instead of sector erases */
	DFUSE_NO_ERASE = 1 << 1,   /* caller erased already */
	DFUSE_NO_VERIFY = 1 << 2,  /* skip read-back (result.verified stays false) */
};

struct dfuse_result {
	uint32_t host_crc; /* CRC-32 of what we wrote */
	uint32_t dev_crc;  /* CRC-32 of what we read back */
	uint64_t bytes_written;
	uint64_t bytes_verified;
	unsigned int sectors_erased;
	bool mass_erased;
	bool verified; /* read back and identical */
};

/*
 * Sectors erased so far by a sequence of downloads that outlives one call
 * and one device session: a job's memory plan (jobs/job-dfuse.c).  A sector
 * in the set is not erased again, so a later download keeps what an earlier
 * one wrote into a shared sector.  Entries carry the caller's tag (the stage)
 * so a retried stage can forget, and erase again, only its own sectors.
 * Zero-initialise; free with dfuse_erased_release().
 */
struct dfuse_erased_sector {
	uint8_t alt;
	uint32_t start;
	unsigned int tag;
};

struct dfuse_erased {
	struct dfuse_erased_sector *v;
	size_t n, cap;
	bool mass; /* a mass erase ran on mass_alt: every sector of it counts */
	uint8_t mass_alt;
	unsigned int mass_tag;
};

void dfuse_erased_release(struct dfuse_erased *s);
/* Drop the entries (and the mass erase) recorded under tag. */
void dfuse_erased_forget(struct dfuse_erased *s, unsigned int tag);

/*
 * From now on, downloads record their erases in *set under tag and skip
 * sectors already in it; NULL goes back to one fresh set per call.  set must
 * outlive its use by d.
 */
void dfuse_use_erased(struct dfuse *d, struct dfuse_erased *set, unsigned int tag);

/*
 * Claim usb->interface, read the DFU functional descriptor (wTransferSize)
 * and the layout string of every alt, select alt 0 and get to dfuIDLE.
 * Returns 0 and a new engine in *ret, or -errno: -ENOENT no functional
 * descriptor / no alt, -EPROTO not DfuSe-capable state, transfer errors.
 */
int dfuse_open(struct usb_dev *usb, struct dfuse **ret, struct err *e);

/* Release the interface (best effort) and free.  Accepts NULL; returns NULL. */
struct dfuse *dfuse_close(struct dfuse *d);
DEFINE_CLEANUP_FUNC(struct dfuse *, dfuse_close);

const struct dfu_func_desc *dfuse_func_desc(const struct dfuse *d);
unsigned int dfuse_n_alts(const struct dfuse *d);
/* i-th alt (0 .. n-1), NULL past the end. */
const struct dfuse_alt *dfuse_alt(const struct dfuse *d, unsigned int i);
/* The alt now selected. */
const struct dfuse_alt *dfuse_current_alt(const struct dfuse *d);

/* SET_INTERFACE to bAlternateSetting alt.  -ENOENT unknown alt, -EBADMSG its layout is bad. */
int dfuse_select_alt(struct dfuse *d, uint8_t alt, struct err *e);

/* Scale every deadline (100 = as documented; the rig runs faster boards). */
void dfuse_set_deadline_pct(struct dfuse *d, unsigned int pct);

/* Whether the device holds polls while it works, as learned so far this session (dfu.h). */
enum dfu_hold dfuse_poll_hold(const struct dfuse *d);

/* Single commands; each leaves the device in dfuDNLOAD-IDLE on success. */
int dfuse_set_address(struct dfuse *d, uint32_t addr, struct err *e);
/* Erase the sector containing addr (of the current alt's layout; must be erasable). */
int dfuse_erase_sector(struct dfuse *d, uint32_t addr, struct err *e);
int dfuse_mass_erase(struct dfuse *d, struct err *e);

/*
 * Write buf[0..len) at addr through the current alt: erase (per flags),
 * write, verify.  The whole range must be writable (and readable unless
 * DFUSE_NO_VERIFY) in the layout, checked before any transfer.  progress
 * (optional) sees done/total bytes, total = len, or 2*len with verify.
 * *ret (optional) is filled as far as the work got, also on failure.
 */
int dfuse_download(struct dfuse *d, uint32_t addr, const uint8_t *buf, size_t len,
		   unsigned int flags, usb_progress_cb_t progress, void *ud,
		   struct dfuse_result *ret, struct err *e);

/*
 * Read len bytes at addr into buf.  No layout check (the caller decides;
 * ST ROMs refuse or crash outside their map, §2.4).  Returns 0 or -errno;
 * a short reply is -EPROTO.
 */
int dfuse_upload(struct dfuse *d, uint32_t addr, uint8_t *buf, size_t len,
		 usb_progress_cb_t progress, void *ud, struct err *e);

/*
 * Download a parsed .dfu file: for each target, select its alt (-ENOENT if
 * the device lacks it: we refuse rather than skip, unlike dfu-util), erase
 * the sectors of all its elements, write and verify each element.
 * DFUSE_MASS_ERASE sends one mass erase on the first target's alt.  The
 * result CRCs cover all element data in file order.  Plain (non-DfuSe)
 * files are -EINVAL: they carry no address.
 */
int dfuse_download_file(struct dfuse *d, const struct dfu_file *f, unsigned int flags,
			usb_progress_cb_t progress, void *ud, struct dfuse_result *ret,
			struct err *e);

/*
 * Leave DFU and jump to addr (§2.5): Set-Address(addr), zero-length DNLOAD,
 * GETSTATUS expecting dfuMANIFEST.  The ROM is manifestation-intolerant and
 * drops off the bus, so a failed or missing final GETSTATUS is success
 * when the device then disappears (-ENODEV within DFUSE_LEAVE_GONE_MS);
 * *ret_gone (optional) says whether we saw it go.  Always pass the jump
 * address explicitly: the ROM's pointer otherwise is the last block written.
 * After success only dfuse_close() is valid.
 */
int dfuse_leave(struct dfuse *d, uint32_t addr, bool *ret_gone, struct err *e);

/*
 * Write buf[0..len) at addr of the current alt where the ROM resets after
 * the write (the option bytes, §2.3): Set-Address, one DNLOAD block 2 (len
 * must fit one transfer and be writable in the alt's layout), and the one
 * GETSTATUS the ROM answers, dfuDNBUSY, before it resets (what dfu-util's
 * ":will-reset" accepts).  No read-back: the caller reads after the
 * device is back.  After success only dfuse_close() is valid.  dfuERROR
 * errVENDOR (read protection active) is -EACCES.
 */
int dfuse_write_reset(struct dfuse *d, uint32_t addr, const uint8_t *buf, size_t len,
		      struct err *e);

/*
 * Read Unprotect, 0x92 (§3.5, AN3156): the ROM answers one GETSTATUS with
 * dfuDNBUSY, then mass-erases the flash (up to 32 s on F4), sets RDP level
 * 0 and resets.  After success only dfuse_close() is valid.
 */
int dfuse_read_unprotect(struct dfuse *d, struct err *e);

/*
 * Read the 12-byte unique ID at addr (DFUSE_F4_UID_ADDR on F2/F4) with
 * Set-Address + UPLOAD, outside any layout.  Most F-series ROMs refuse
 * (§3.4): errVENDOR (read protection) gives -EACCES; any other refusal
 * (dfuERROR, STALL, a short or empty reply) gives -EPROTO with the reason,
 * so the caller can record "UID not readable via ROM".  The device is put
 * back in dfuIDLE either way (unless gone).
 */
int dfuse_read_uid(struct dfuse *d, uint32_t addr, uint8_t uid[DFUSE_UID_LEN], struct err *e);

#endif
