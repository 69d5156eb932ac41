/*
 * Ingenic mask-ROM USB boot engine (T-series a108:c309, X1000, X2000 ...):
 * CPU info, memory read/write through the ROM's download path, the eFuse
 * shadow UID read, and the boot chain ROM -> SPL (PROGRAM_START1 with
 * d2i_len) -> burner U-Boot (FLUSH_CACHES + PROGRAM_START2).  Follows
 * shared/docs/protocol-ingenic.md §1, §2 and §5.
 *
 * The device does not re-enumerate when the burner starts (§0.1): the same
 * handle, interface 0 and bulk endpoints 0x01/0x81 carry on; only the
 * GET_CPU_INFO string changes (e.g. "T 3 1 V " -> "BOOTx183").  The burner
 * protocol is in protocols/ingenic_burner.h.
 *
 * Usage: the caller opens the libusb handle and fills a struct usb_dev, then
 *   ingenic_open() -> ingenic_read_uid() -> ingenic_boot() -> ingenic_close()
 * and continues with burner_open() on the same usb_dev.  Every call blocks
 * (worker thread).  One struct ingenic per device; not thread-safe; the
 * usb_dev and its handle must outlive it.
 *
 * Order matters: the eFuse shadow (chip UID) reads as zeros once any
 * stage-1 code ran (§5, [TDFU-diag]), and PROGRAM_START1 is one-shot on the
 * T-series (§2.1).  The engine refuses a UID read after it started the SPL,
 * and refuses to boot when the burner already answers.
 *
 * Errors: negative errno, message naming the step and address, e.g.
 *   "load SPL 0x80001800: bulk OUT: No such device (it may have been
 *   disconnected)".  -ENODEV unplugged, -EPIPE stall, -ETIMEDOUT transfer
 *   or wait timeout, -EIO other transfer error or short transfer, -EPROTO
 *   unexpected device state (burner did not start, CPU info not the ROM's),
 *   -ENODATA eFuse shadow all zeros, -EALREADY burner already running,
 *   -EINVAL bad arguments, -ECANCELED cancel flag.
 */
#ifndef FLASHD_PROTOCOLS_INGENIC_H
#define FLASHD_PROTOCOLS_INGENIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocols/ingenic_cfg.h"
#include "protocols/usb.h"

#define INGENIC_VID 0xa108
#define INGENIC_PID_TSERIES 0xc309 /* T10..T41, A1, C100 (§1.1) */
/* Bulk endpoints of ROM and burner alike (§1.3). */
#define INGENIC_EP_OUT 0x01
#define INGENIC_EP_IN 0x81

/* eFuse shadow window and SoC-ID register, readable from the pristine ROM (§5). */
#define INGENIC_EFUSE_SHADOW_ADDR 0xb3540200u
#define INGENIC_EFUSE_SHADOW_LEN 256
#define INGENIC_SOC_ID_ADDR 0xb300002cu
/* The first 16 bytes of the window are the chip UID on every family (§5). */
#define INGENIC_UID_LEN 16

/* Timeouts, all scaled by ingenic_set_deadline_pct(). */
/* Control requests: the vendor host allows 2 s, ingenic-flash-tool 5 s for START/WRITE (§3.6). */
#define INGENIC_CTRL_TIMEOUT_MS 5000
/* Bulk IN of a memory read: thingino-dfu reads registers with a 2 s timeout (§5, [TDFU-proto]). */
#define INGENIC_READ_TIMEOUT_MS 2000
/* Bulk OUT of one <= 64 KiB piece: vendor 2 s x factor for stage 1 (§3.6 [WINHOST]); 5 s. */
#define INGENIC_BULK_TIMEOUT_MS 5000
/* Biggest single bulk OUT to the ROM: "large single transfers can fail" (§2.5, [TDFU-boot]). */
#define INGENIC_ROM_BULK_MAX (64u * 1024u)
/*
 * After START1/START2: poll GET_CPU_INFO every 100 ms for up to 10 s, as
 * ingenic-flash-tool does (§2.5, [IFT-proto]); the T20 pcap shows ~1.1 s of
 * silence while the SPL trains DDR.  Each poll may itself wait this long.
 */
#define INGENIC_START_WAIT_MS 10000
#define INGENIC_START_POLL_MS 100
#define INGENIC_START_POLL_TIMEOUT_MS 500

/* Per-SoC boot facts (§2.2, §2.3, §6.3); one row per family, a reason per column. */
struct ingenic_soc {
	const char *name;     /* "t31", as in recipes */
	uint32_t ginfo_addr;  /* parameter block (FIDB/RDD TLVs) */
	uint32_t spl_addr;    /* stage-1 load address = entry */
	uint32_t stage2_addr; /* burner U-Boot load address = entry */
	uint32_t d2i_len;     /* default for SET_DATA_LEN before START1; 0 = none sent */
	bool pad_spl_32;      /* first-gen XBurst1 ROMs hang unless the SPL is a multiple of 32 */
	bool efuse_uid;	      /* eFuse shadow UID readable from the ROM (T-series, §5) */
	uint32_t spl_max;     /* most SPL bytes the ROM can hold at spl_addr; 0 = not known */
};

/* Row for a SoC name, NULL if unknown. */
const struct ingenic_soc *ingenic_soc_find(const char *name);

struct ingenic;

/*
 * Claim usb->interface for the SoC `soc` (a row from ingenic_soc_find()).
 * Sends nothing.  Returns 0 and *ret, or -EINVAL (soc NULL), -ENOMEM,
 * claim errors.
 */
int ingenic_open(struct usb_dev *usb, const struct ingenic_soc *soc, struct ingenic **ret,
		 struct err *e);

/* Release the interface (best effort) and free.  Accepts NULL; returns NULL. */
struct ingenic *ingenic_close(struct ingenic *g);
DEFINE_CLEANUP_FUNC(struct ingenic *, ingenic_close);

/* Scale every timeout and wait above (100 = as documented; the rig runs faster boards). */
void ingenic_set_deadline_pct(struct ingenic *g, unsigned int pct);

struct ingenic_cpu_info {
	uint8_t raw[INGENIC_CPU_INFO_LEN];
	size_t len;			     /* bytes received */
	char text[INGENIC_CPU_INFO_LEN + 1]; /* printable form */
	enum ingenic_cpu_kind kind;
};

/* GET_CPU_INFO (works in ROM, SPL and burner).  timeout_ms 0 = default. */
int ingenic_cpu_info(struct ingenic *g, unsigned int timeout_ms, struct ingenic_cpu_info *ret,
		     struct err *e);

/*
 * Memory access through the ROM's download path: SET_DATA_ADDR,
 * SET_DATA_LEN, then bulk transfers (OUT in pieces of at most
 * INGENIC_ROM_BULK_MAX).  Only valid before the SPL runs or in ROM-like
 * stages.  read: a short bulk IN is -EIO.
 */
int ingenic_write_mem(struct ingenic *g, uint32_t addr, const uint8_t *buf, size_t len,
		      struct err *e);
int ingenic_read_mem(struct ingenic *g, uint32_t addr, uint8_t *buf, size_t len, struct err *e);

struct ingenic_uid {
	uint8_t uid[INGENIC_UID_LEN];
	char hex[2 * INGENIC_UID_LEN + 1];	  /* upper case, bytes in memory order */
	uint8_t shadow[INGENIC_EFUSE_SHADOW_LEN]; /* the whole window, for secure-boot flags */
};

/*
 * Read the eFuse shadow window with the ROM's memory read (§5).  Must come
 * before the SPL: -EPROTO if this engine started stage-1 code or the
 * device answers with a burner CPU string; -EOPNOTSUPP on SoCs without the
 * shadow (not T-series); -ENODATA when the UID reads as zeros (stage-1
 * code ran, or an unfused part).
 */
int ingenic_read_uid(struct ingenic *g, struct ingenic_uid *ret, struct err *e);

/* Read the SoC-ID register (§5): family = (id >> 12) & 0xffff. */
int ingenic_read_soc_id(struct ingenic *g, uint32_t *ret, struct err *e);

struct ingenic_boot_args {
	const uint8_t *ginfo; /* optional (NULL/0): parameter block for the SPL */
	size_t ginfo_len;
	const uint8_t *spl; /* stage 1, at most the SoC's spl_max bytes (d2i_len is no bound) */
	size_t spl_len;
	const uint8_t *burner; /* stage 2 */
	size_t burner_len;
	uint32_t d2i_len; /* SET_DATA_LEN before START1; 0 = not sent (§2.3) */
};

struct ingenic_boot_result {
	struct ingenic_cpu_info rom;	/* before anything ran */
	struct ingenic_cpu_info spl;	/* first answer after START1 */
	struct ingenic_cpu_info burner; /* first answer that differs from the ROM's */
	uint64_t spl_wait_ms, burner_wait_ms;
};

/*
 * The boot chain (§2.1-§2.5, §4.2 steps 4-8): ginfo -> ginfo_addr, SPL
 * (padded to 32 bytes on first-gen XBurst1) -> spl_addr, SET_DATA_LEN
 * (d2i_len), PROGRAM_START1, wait for GET_CPU_INFO to answer, burner ->
 * stage2_addr in 64 KiB pieces, FLUSH_CACHES, PROGRAM_START2, wait until
 * GET_CPU_INFO differs from the ROM's string (the burner runs).  progress
 * sees bytes sent of ginfo + SPL + burner.  *ret (optional) is filled as
 * far as the boot got.  -EALREADY if the burner already answers (START1 is
 * one-shot: power-cycle the board), -EMSGSIZE SPL longer than spl_max,
 * -EPROTO burner string never appeared, transfer errors.
 */
int ingenic_boot(struct ingenic *g, const struct ingenic_boot_args *a, usb_progress_cb_t progress,
		 void *ud, struct ingenic_boot_result *ret, struct err *e);

#endif
