/*
 * Fastboot engine, host side, for U-Boot's fastboot gadget
 * (shared/docs/protocol-imx-sdp-fastboot.md §4; AOSP fastboot README).
 * Prefix fb_ (style.md: the one abbreviation allowed for fastboot.c).
 *
 * Transport (§4.1): one bulk OUT transfer per command (ASCII, no NUL);
 * replies are single bulk IN packets "OKAY", "FAIL", "INFO", "TEXT"
 * (+ text) or "DATA%08x".  Replies are read FB_RESPONSE_LEN bytes at a
 * time, as uuu does, because U-Boot answers with at most 64 bytes and a
 * full-speed 64-byte reply carries no terminating short packet.  INFO and
 * TEXT lines go to an optional callback and the next reply is read.
 * Download data is sent in bulk transfers of at most FB_BULK_CHUNK bytes,
 * exactly the announced count, no ZLP.
 *
 * Images (fb_flash_image): an image larger than the device's download
 * buffer (max-download-size, capped at FB_SPARSE_CAP) is split into sparse
 * pieces (sparse.h) straight from the caller's buffer, each sent with
 * download + flash to the same partition.  A raw byte offset is flashed as
 * "flash:0x<offset>": the U-Boot patch of shared/seeds/001 (and the
 * simulated boards) take a name that is no partition as an absolute eMMC
 * byte offset.  The CRC-32 of the image
 * bytes is returned; with FB_VERIFY_CRC32 the written range is read back
 * on the device (UCmd mmc read to ${loadaddr}, UCmd hash crc32 into env
 * fastboot.<var>, getvar <var>, §4.2, §3.2) and compared.
 *
 * Usage: the caller opens the libusb handle and fills a struct usb_dev
 * (interface = the fastboot interface, class FF/42/03); fb_open() claims it
 * and finds the bulk endpoints; fb_close().  Every call blocks; one struct
 * fb per device; not thread-safe; usb_dev and handle outlive it.
 *
 * Errors: negative errno with a message naming the command:
 *   -EREMOTEIO the device answered FAIL (message: "flash:rootfs: FAIL <text>"),
 *   -EPROTO unexpected or malformed reply, -EMSGSIZE image larger than the
 *   download buffer with sparse splitting off, -EILSEQ device CRC differs,
 *   -ENODEV, -EPIPE, -ETIMEDOUT, -EIO transfer errors, -EINVAL arguments,
 *   -ECANCELED, and the sparse.h parse errors for a bad sparse image.
 */
#ifndef FLASHD_PROTOCOLS_FASTBOOT_H
#define FLASHD_PROTOCOLS_FASTBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocols/sparse.h"
#include "protocols/usb.h"

/* Interface triple AOSP matches on (§2.3). */
#define FB_CLASS 0xff
#define FB_SUBCLASS 0x42
#define FB_PROTOCOL 0x03

/* U-Boot replies are <= 64 bytes (FASTBOOT_RESPONSE_LEN 65 incl. NUL, §4.1). */
#define FB_RESPONSE_LEN 64
/* U-Boot takes commands shorter than its 4096-byte EP buffer (§4.1). */
#define FB_COMMAND_MAX 4095
/* uuu submits at most 1 MiB per bulk transfer (§4.1). */
#define FB_BULK_CHUNK (1024 * 1024)
/* uuu caps sparse pieces at 16 MiB "to avoid long timeout at read status" (§4.5). */
#define FB_SPARSE_CAP (16u * 1024 * 1024)
/* Default when max-download-size is empty or missing: uuu's 16 MiB (§4.5). */
#define FB_DEFAULT_MAX_DOWNLOAD (16u * 1024 * 1024)
/*
 * Timeouts, our choices from the doc's recommendations (§4.6): 5 s for a
 * reply to a simple command, 30 s for UCmd, >= 5 s per MiB of data,
 * 30 s + 1 s/MiB for a flash to eMMC, minutes for erase.
 */
#define FB_CMD_TIMEOUT_MS 5000
#define FB_UCMD_TIMEOUT_MS 30000
#define FB_DATA_MS_PER_MIB 5000
#define FB_FLASH_BASE_MS 30000
#define FB_FLASH_MS_PER_MIB 1000
#define FB_ERASE_TIMEOUT_MS 120000
/* eMMC block size used for raw offsets and read-back (§4.4). */
#define FB_MMC_BLOCK 512

struct fb;

/* INFO/TEXT lines while a command runs: kind is "INFO" or "TEXT". */
typedef void (*fb_info_cb_t)(void *ud, const char *kind, const char *text);

/*
 * Claim usb->interface and find its bulk IN/OUT endpoints.  Returns 0 and
 * *ret, or -ENOENT (no bulk pair: not a fastboot interface) / -errno.
 */
int fb_open(struct usb_dev *usb, struct fb **ret, struct err *e);

/* Release (best effort) and free.  Accepts NULL; returns NULL. */
struct fb *fb_close(struct fb *f);
DEFINE_CLEANUP_FUNC(struct fb *, fb_close);

void fb_set_info_cb(struct fb *f, fb_info_cb_t cb, void *ud);
/* Scale every timeout (100 = as documented; the rig runs faster boards). */
void fb_set_timeout_pct(struct fb *f, unsigned int pct);

/*
 * Send cmd and read replies until OKAY or FAIL.  OKAY's text goes to resp
 * (may be NULL; always NUL-terminated).  timeout_ms 0 = FB_CMD_TIMEOUT_MS;
 * it applies to each reply read (an INFO line restarts it), which waits in
 * slices of USB_WAIT_SLICE_MS: the cancel flag ends even a long erase or
 * UCmd within one slice.  A DATA reply is -EPROTO here.
 */
int fb_command(struct fb *f, const char *cmd, unsigned int timeout_ms, char *resp, size_t resp_size,
	       struct err *e);

/* getvar:<var>.  Value in val (NUL-terminated). */
int fb_getvar(struct fb *f, const char *var, char *val, size_t size, struct err *e);
/* max-download-size parsed with base auto-detect (§4.3); default if empty. */
int fb_max_download(struct fb *f, uint32_t *ret, struct err *e);

/*
 * download:%08x then the data: the concatenation of segs[0..n).  Expects
 * DATA with exactly that size, then OKAY.  progress sees done/total with
 * done offset by progress_base (for multi-piece images).
 */
int fb_download_segs(struct fb *f, const struct sparse_seg *segs, size_t n,
		     usb_progress_cb_t progress, void *ud, uint64_t progress_base,
		     uint64_t progress_total, struct err *e);
int fb_download(struct fb *f, const void *buf, size_t len, usb_progress_cb_t progress, void *ud,
		struct err *e);

/* flash:<part> of the last download; timeout from size (bytes downloaded). */
int fb_flash(struct fb *f, const char *part, uint64_t size, struct err *e);
int fb_erase(struct fb *f, const char *part, struct err *e);
/* reboot / continue: OKAY expected; the device leaving before it is success. */
int fb_reboot(struct fb *f, struct err *e);
int fb_continue(struct fb *f, struct err *e);
/* "oem <cmd>", "UCmd:<cmd>" (synchronous), "ACmd:<cmd>" (after the OKAY). */
int fb_oem(struct fb *f, const char *cmd, struct err *e);
int fb_ucmd(struct fb *f, const char *cmd, unsigned int timeout_ms, struct err *e);
int fb_acmd(struct fb *f, const char *cmd, struct err *e);

enum fb_flash_flags {
	FB_NO_SPARSE = 1 << 0,	  /* never split: larger than the buffer is -EMSGSIZE */
	FB_VERIFY_CRC32 = 1 << 1, /* read back on the device and compare CRC-32 */
};

struct fb_flash_opts {
	const char *partition; /* target partition; NULL with raw */
	bool raw;	       /* write at offset (bytes, multiple of FB_MMC_BLOCK) */
	uint64_t offset;
	uint32_t max_download; /* 0: getvar max-download-size, capped at FB_SPARSE_CAP */
	unsigned int flags;
};

struct fb_flash_result {
	uint32_t host_crc; /* CRC-32 of the image bytes as given (the file) */
	uint32_t dev_crc;  /* CRC-32 the device computed of the written range */
	bool has_dev_crc;
	bool verified; /* dev_crc == host_crc */
	bool sparse_input;
	unsigned int pieces;   /* download + flash rounds */
	uint64_t bytes_sent;   /* download bytes, headers included */
	uint32_t max_download; /* the piece limit used */
};

/*
 * Flash buf[0..len) as described by o (see the top comment).  The buffer
 * is only read and never copied as a whole.  *ret (optional) is filled as
 * far as the work got.  Verification of a sparse image is -EOPNOTSUPP
 * (its DONT_CARE regions are not known on the host).
 */
int fb_flash_image(struct fb *f, const uint8_t *buf, size_t len, const struct fb_flash_opts *o,
		   usb_progress_cb_t progress, void *ud, struct fb_flash_result *ret,
		   struct err *e);

/*
 * Device-side CRC-32 of len bytes of eMMC (current mmc device) from byte
 * offset off (multiple of FB_MMC_BLOCK), read in pieces of at most
 * max_piece bytes: "UCmd:mmc read ${loadaddr} <blk> <cnt>", "UCmd:hash
 * crc32 ${loadaddr} <len> fastboot.flashd_crc32", "getvar:flashd_crc32".
 */
int fb_mmc_crc32(struct fb *f, uint64_t off, uint64_t len, uint32_t max_piece, uint32_t *ret,
		 struct err *e);

/*
 * Start or size (what: "start" | "size") of GPT/DOS partition name on
 * mmc 0 in FB_MMC_BLOCK blocks, found the way a factory script does it:
 * "UCmd:part <what> mmc 0 <name> fastboot.flashd_part" (cmd/part.c stores
 * the LBA in hex) and "getvar:flashd_part" (fb_getvar.c falls back to env
 * fastboot.<var>).  -ENOENT when U-Boot's part command fails (no such
 * partition), -EINVAL for a name its shell would split or expand.
 */
int fb_part_info(struct fb *f, const char *name, const char *what, uint64_t *blocks, struct err *e);

#endif
