/*
 * Ingenic USB burner engine (stage 2, the vendor "cloner" U-Boot of the
 * Cloner 2.5.x generation), prefix burner_: flash configuration
 * (UPDATE_CFG with the TLVs of protocols/ingenic_cfg.h), INIT, the JEDEC
 * ID, CRC-checked writes, read-back and reboot.  Follows
 * shared/docs/protocol-ingenic.md §3 (new cloner, new 40-byte layout).
 *
 * Usage: after ingenic_boot() on the same usb_dev (the device does not
 * re-enumerate):
 *   burner_open() -> burner_read_jedec() -> burner_configure() ->
 *   burner_write() ... -> burner_reboot() -> burner_close().
 * Every call blocks (worker thread).  One struct burner per device; not
 * thread-safe; the usb_dev and its handle must outlive it.
 *
 * What is not here on purpose: the burner's secure-boot / eFuse requests
 * (0x20-0x25 range, §3.1) are irreversible and flashd does not implement
 * them.  There is no generic "send a request" call; the transport
 * (ingenic_usb.h) knows only the requests this engine uses.
 *
 * GET_ACK blocks while the burner erases or programs (§0.4): it is sent
 * with a short per-transfer timeout and re-issued until the operation's
 * deadline, so the cancel flag is honoured within BURNER_ACK_SLICE_MS.
 *
 * Errors: negative errno, message naming the step and flash offset, e.g.
 *   "write 0x00040000: device CRC check failed (ack -22, host JAMCRC
 *   0x1234abcd)".  -ENODEV unplugged, -EPIPE stall, -ETIMEDOUT the burner
 *   did not finish within the deadline, -EILSEQ CRC / read-back mismatch,
 *   -EIO flash or transfer error (ack -5 / -1), -EOPNOTSUPP no module for
 *   the medium (ack -38), -EPROTO other ack values or unexpected replies,
 *   -ERANGE range outside the configured partitions, -EINVAL bad
 *   arguments or refused config, -ECANCELED cancel flag.
 */
#ifndef FLASHD_PROTOCOLS_INGENIC_BURNER_H
#define FLASHD_PROTOCOLS_INGENIC_BURNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocols/ingenic_cfg.h"
#include "protocols/usb.h"

/* Timeouts (ms), all scaled by burner_set_deadline_pct(). */
/* Control requests with a data stage: vendor host 5 s for UPDATE_CFG (§3.6 [WINHOST]). */
#define BURNER_CTRL_TIMEOUT_MS 5000
/* Bulk OUT/IN of one chunk (<= 1 MiB): vendor 20 s x factor for WRITE (§3.6 [WINHOST]). */
#define BURNER_BULK_TIMEOUT_MS 20000
/* One GET_ACK transfer before it is re-issued: the vendor's 2 s control timeout (§3.6). */
#define BURNER_ACK_SLICE_MS 2000
/* Pause between GET_ACKs answering -EBUSY (accepted, data not yet processed). */
#define BURNER_ACK_BUSY_POLL_MS 20
/* GET_ACK after UPDATE_CFG and after an ordinary WRITE: the vendor's 50 s (§3.6 [WINHOST]). */
#define BURNER_ACK_TIMEOUT_MS 50000
/* GET_ACK after INIT with chip erase: vendor stage2_init_timeout=200 s (§3.6 [TC-ref]). */
#define BURNER_INIT_ERASE_TIMEOUT_MS 200000
/* INIT without chip erase only parses parameters; ingenic-flash-tool allows >= 30 polls of 2 s. */
#define BURNER_INIT_TIMEOUT_MS 60000
/*
 * Erase budget per 64 KiB block for the WRITE that erases a whole partition
 * (spi_erase 0): 25-series block erase is 0.15 s typical, up to 2 s; we
 * allow 2 s (datasheet class figure, not from the doc (inference); the doc
 * only says ACKs "can stall for tens of seconds", §3.6).
 */
#define BURNER_ERASE_MS_PER_BLOCK 2000
/* After REBOOT: how long we look for the device to drop off. */
#define BURNER_REBOOT_GONE_MS 2000

struct burner;

/*
 * Check that the burner answers on usb (GET_CPU_INFO is not a ROM string:
 * -EPROTO otherwise) and claim usb->interface.  Returns 0 and *ret.
 */
int burner_open(struct usb_dev *usb, struct burner **ret, struct err *e);

/* Release the interface (best effort) and free.  Accepts NULL; returns NULL. */
struct burner *burner_close(struct burner *b);
DEFINE_CLEANUP_FUNC(struct burner *, burner_close);

/* Scale every timeout above (100 = as documented). */
void burner_set_deadline_pct(struct burner *b, unsigned int pct);

/* The CPU string burner_open() read, e.g. "BOOTx183". */
const char *burner_cpu_info(const struct burner *b);

/*
 * Send a POLI-only config selecting `flash` (the vendor's cfg #1), then
 * GET_FLASH_INFO (§3.5).  *ret = mfr << 16 | type << 8 | capacity.
 * -EOPNOTSUPP for media other than SFC NOR, -EIO when the burner reports
 * 0 or 0xFFFFFF (no chip answered RDID).
 */
int burner_read_jedec(struct burner *b, enum ingenic_flash flash, uint32_t *ret, struct err *e);

/*
 * Send the full config (DBG + POLI + SFC, ingenic_cfg_build()) and run
 * INIT, waiting for its ACK (chip erase when cfg->erase is
 * INGENIC_ERASE_CHIP: up to BURNER_INIT_ERASE_TIMEOUT_MS).  The engine
 * keeps a copy of cfg for the writes that follow.  INIT runs once per
 * burner session (§3.1); a second call sends the config and INIT again.
 */
int burner_configure(struct burner *b, const struct ingenic_cfg *cfg, struct err *e);

/*
 * Tell the engine the config the burner already has (sent by an earlier
 * session of the same boot) without sending anything; writes need it for
 * partition checks and ACK deadlines.
 */
void burner_assume_config(struct burner *b, const struct ingenic_cfg *cfg);

enum burner_write_flags {
	BURNER_VERIFY_READBACK = 1 << 0, /* read everything back (READ + GET_CRC) and compare */
};

struct burner_result {
	uint32_t host_crc;	 /* zlib CRC-32 of what we wrote (as in the database rows) */
	uint32_t dev_crc;	 /* zlib CRC-32 of what we read back (only with read-back) */
	uint64_t bytes_written;	 /* acknowledged by the burner */
	uint64_t bytes_verified; /* read back and identical */
	unsigned int chunks;	 /* WRITE commands acknowledged */
	bool device_checked; /* the burner checked each chunk's JAMCRC (DBG transfer_data_chk) */
	bool verified;	     /* read back, every chunk's device CRC matched, identical */
};

/*
 * Write buf[0..len) at flash offset `offset` (§3.6): SET_DATA_LEN(len),
 * then per chunk (cfg transfer_size, split so that only the last piece is
 * shorter than an erase block, because the burner rounds longer pieces up
 * to whole blocks) a WRITE command with the chunk's JAMCRC, the bulk data
 * and GET_ACK.  The range must lie in one configured partition (-ERANGE,
 * checked before any transfer).  With BURNER_VERIFY_READBACK the range is
 * read back afterwards.  progress sees done/total, total = len (2*len with
 * read-back).  *ret (optional) is filled as far as the work got, also on
 * failure.  A device CRC failure or read-back difference is -EILSEQ
 * naming the chunk's offset.
 */
int burner_write(struct burner *b, uint64_t offset, const uint8_t *buf, size_t len,
		 unsigned int flags, usb_progress_cb_t progress, void *ud,
		 struct burner_result *ret, struct err *e);

/*
 * Read len bytes at offset into buf (§3.6 READ sequence: READ, GET_CRC,
 * bulk IN, compare the JAMCRC, GET_ACK), in transfer_size chunks.
 * -EILSEQ when the data's JAMCRC differs from what the burner reported.
 */
int burner_read(struct burner *b, uint64_t offset, uint8_t *buf, size_t len,
		usb_progress_cb_t progress, void *ud, struct err *e);

/*
 * REBOOT (§3.1): SFC reset, then CPU reset.  The request itself may fail
 * as the device goes; that is ignored.  *ret_gone (optional) says whether
 * the device was seen to drop off within BURNER_REBOOT_GONE_MS.  Returns 0
 * unless cancelled; afterwards only burner_close() is valid.
 */
int burner_reboot(struct burner *b, bool *ret_gone, struct err *e);

#endif
