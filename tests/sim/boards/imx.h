/*
 * Simulated i.MX6Q/6UL/6ULL boards: the boot ROM's Serial Download Protocol
 * over HID (imx_sdp.c) and, after a jump into the fixtures' U-Boot, a U-Boot
 * fastboot gadget on the same port (imx_fastboot.c, imx_ucmd.c) writing a
 * simulated eMMC (emmc.c, sparse_model.c).  imx_board.c holds the model
 * table, options, identities, memories and the IN queue shared by both
 * stages.  Facts: shared/docs/protocol-imx-sdp-fastboot.md (§ numbers below).
 */
#ifndef FLASHD_SIM_IMX_H
#define FLASHD_SIM_IMX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/sim/boards/board-private.h"
#include "tests/sim/boards/emmc.h"

/*
 * The marker the fixtures' u-boot.imx carries at its IVT entry point
 * (tests/fixtures/imx/mkfixtures.py): a jump whose entry holds these 16
 * bytes starts "our" U-Boot; any other entry runs unknown code.
 */
#define IMX_UBOOT_MARKER "flashsim u-boot\n"
#define IMX_UBOOT_MARKER_LEN 16
/* Same for the i.MX8M fixtures' SPL: an entry holding it starts "our" SPL
 * (SDP gadget on the SDP ROM parts, ROM-API stream loader on SDPS parts). */
#define IMX_SPL_MARKER "flashsim spl 8m\n"
/* FIT = flattened device tree: magic 0xd00dfeed, then totalsize (BE). */
#define IMX_FDT_MAGIC 0xd00dfeedu

/* SDP (§1.3, §1.5). */
#define SDP_READ_REGISTER 0x0101
#define SDP_WRITE_REGISTER 0x0202
#define SDP_WRITE_FILE 0x0404
#define SDP_ERROR_STATUS 0x0505
#define SDP_WRITE_CSF 0x0606
#define SDP_DCD_WRITE 0x0a0a
#define SDP_JUMP_ADDRESS 0x0b0b
#define SDP_SKIP_DCD_HEADER 0x0c0c

#define SDP_HAB_OPEN 0x56787856u
#define SDP_HAB_CLOSED 0x12343412u
#define SDP_WRITE_FILE_OK 0x88888888u
#define SDP_WRITE_OK 0x128a8a12u
#define SDP_SKIP_DCD_OK 0x900dd009u
#define SDP_HAB_SUCCESS 0xf0f0f0f0u
/* HAB events as LE words: byte0 status 0x33 (failure), byte1 reason,
 * byte2 context (§1.3). 0x000A0533 = invalid IVT (also U-Boot's gadget). */
#define SDP_ERR_IVT 0x000a0533u
#define SDP_ERR_DCD 0x00dd2733u /* reason 0x27 invalid DCD, context 0xDD run_dcd */
#define SDP_ERR_SIG 0x000a1833u /* reason 0x18 invalid signature (closed, no CSF) */

#define IMX_MSG_MAX 65 /* report 4 incl. its ID byte; fastboot replies are <= 64 */
#define IMX_MAX_REGS 128
#define IMX_MAX_ENV 48
/* Boot partition size: assumption, 4 MiB as on common 4-8 GB eMMCs. */
#define IMX_EMMC_BOOT_KIB 4096

struct imx_soc {
	const char *type; /* board type name */
	uint16_t pid;
	const char *product; /* ROM product string */
	bool skip_dcd;	     /* ROM has SKIP_DCD_HEADER (§1.8) */
	uint32_t ocram_base, ocram_size;
	uint32_t ddr_base;
	unsigned ddr_mib;     /* default */
	uint32_t loadaddr;    /* U-Boot env loadaddr */
	uint32_t fb_buf_addr; /* CONFIG_FASTBOOT_BUF_ADDR */
	const char *board;    /* U-Boot env "board" (getvar product) */
	/* i.MX8M parts (imx_board.c table; 0 on the i.MX6 rows = defaults) */
	uint16_t vid;		 /* ROM VID, 0 = 0x15a2 */
	uint32_t uid_lo, uid_hi; /* OCOTP UID shadow words, 0 = i.MX6's (§3.1) */
	bool sdps;		 /* stream ROM on interrupt OUT EP1, 1020 bytes (§1.12) */
	uint32_t sdp_loadaddr;	 /* SPL gadget's CONFIG_SDP_LOADADDR (§1.13) */
	bool usb3;		 /* has a USB 3.0 (DWC3) controller U-Boot can run fastboot on */
};

enum imx_mode {
	IMX_ROM,       /* serial downloader on the bus */
	IMX_BOOTING,   /* jumped into U-Boot, off the bus until it enumerates */
	IMX_FASTBOOT,  /* U-Boot fastboot gadget */
	IMX_RUNNING,   /* jumped into code that is not our U-Boot */
	IMX_LEFT,      /* U-Boot left fastboot (continue/boot) */
	IMX_RESETTING, /* reboot: off the bus, the ROM comes back */
	IMX_SPL,       /* U-Boot SPL's SDP gadget (SDPV) on the bus */
};

/* Device times (ns, unscaled). */
struct imx_timing {
	uint64_t command;	  /* ROM: decode a command, queue the reply */
	uint64_t dcd_write;	  /* ROM: one DCD register write */
	uint64_t leave;		  /* ROM jump / U-Boot reset -> off the bus */
	uint64_t uboot_boot;	  /* jump -> fastboot gadget enumerated */
	uint64_t rom_boot;	  /* reset -> ROM enumerated */
	uint64_t spl_boot;	  /* ROM jump -> SPL SDP gadget enumerated */
	uint64_t fb_command;	  /* U-Boot: answer a command */
	uint64_t emmc_write_kbps; /* eMMC write throughput (KiB/s, not ns) */
	uint64_t emmc_erase_kbps; /* eMMC erase throughput (KiB/s) */
};

/* What the device does once the host has read a message: the ROM jumps
 * only after its report 3 went out, U-Boot resets after its OKAY. */
enum imx_action {
	IMX_ACT_NONE,
	IMX_ACT_UBOOT,	/* ROM jumped into our U-Boot: fastboot comes up */
	IMX_ACT_RUN,	/* ROM jumped into unknown code: gone for good */
	IMX_ACT_REBOOT, /* U-Boot reset: the ROM comes back */
	IMX_ACT_LEAVE,	/* U-Boot left fastboot (continue, boot) */
	IMX_ACT_SPL,	/* ROM jumped into our SPL: its SDP gadget comes up */
};

struct imx_msg {
	uint8_t data[IMX_MSG_MAX];
	uint8_t len;
	uint8_t action;	   /* enum imx_action */
	uint64_t ready_ns; /* host time when the device has it ready */
};

/* Device-to-host messages (HID IN reports, fastboot replies), in order.
 * An IN transfer with nothing queued NAKs: it is kept in `waiting`. */
struct imx_inq {
	struct imx_msg *m;
	size_t head, n, cap;
	struct sim_xfer *waiting;
};

struct imx_env {
	char *name, *value;
};

struct imx_board {
	const struct imx_soc *soc;

	/* options */
	uint64_t uid;
	bool have_uid;
	uint64_t seed;
	bool hab_closed;
	unsigned ddr_mib;
	unsigned emmc_mib;
	unsigned emmc_boot_kib;
	char *partitions;
	char *serial_opt;
	uint64_t fb_buf_size;
	bool dump_ram;
	bool start_fastboot; /* option start=fastboot: U-Boot already running */
	bool fastboot_super; /* option fastboot_speed=super: the gadget enumerates at 5 Gbit/s */
	struct imx_timing t;

	/* memories: DDR is allocated on first use and lost at power-off */
	uint8_t *ocram;
	uint8_t *ddr;
	struct sim_emmc emmc;
	uint8_t ext_csd[512]; /* built for the memory dump */
	struct {
		uint32_t addr, val;
	} regs[IMX_MAX_REGS];
	unsigned n_regs;

	/* state */
	enum imx_mode mode;
	unsigned gen; /* bumped at power loss; stale timers check it */
	struct imx_inq inq;
	char serial[20];
	char state_text[40];

	/* SDP */
	uint16_t sdp_cmd; /* command in its data phase, 0 if none */
	uint32_t sdp_addr, sdp_count, sdp_done;
	uint32_t sdp_status; /* ERROR_STATUS word */
	bool dcd_skipped;
	uint32_t jump_entry;
	uint32_t last_write_addr, last_write_len; /* last complete WRITE_FILE */

	/* SDPS stream (imx_sdps.c): what arrived so far, in order */
	uint8_t *stream;
	size_t stream_len, stream_cap;
	size_t spl_len;	  /* SPL bytes from the IVT (0 until the header is read) */
	size_t fit_scan;  /* next offset the SPL looks for the FIT at */
	bool spl_started; /* the ROM ran our SPL: it pulls the rest */
	bool stream_dead; /* bad header or unknown code: the ROM/SPL stopped reading */

	/* fastboot */
	struct imx_env env[IMX_MAX_ENV];
	unsigned n_env;
	uint32_t dl_size, dl_done, image_size;
	bool dl_active;
	unsigned mmc_dev_part;
	uint64_t gpt_writes; /* seeds the "random" GUIDs of gpt write */
	uint64_t busy_until;
};

/* imx_board.c */
struct imx_board *imx_priv(struct sim_board *b);
/* Pointer to [addr, addr+len) in OCRAM or DDR, NULL if not RAM. */
uint8_t *imx_ram(struct imx_board *d, uint32_t addr, size_t len);
uint32_t imx_reg_read(struct imx_board *d, uint32_t addr);
void imx_reg_write(struct imx_board *d, uint32_t addr, uint32_t val);
/* Queue a message ready at host time ready_ns (0: now); `action` runs
 * once the host has read it. */
void imx_inq_push(struct sim_board *b, const void *data, size_t len, uint64_t ready_ns);
void imx_inq_push_act(struct sim_board *b, const void *data, size_t len, uint64_t ready_ns,
		      enum imx_action action);
/* Serve an IN transfer from the queue: SIM_XFER_DONE or PENDING (NAK). */
int imx_inq_serve(struct sim_board *b, struct sim_xfer *x);
/* Drop queued messages and forget a waiting transfer (front-end fails it). */
void imx_inq_clear(struct imx_board *d);
/* Host time when something taking device_ns, started now or after the
 * current busy period, ends. */
uint64_t imx_after(struct sim_board *b, uint64_t device_ns);
/* Switch identity (descriptors, strings) for the mode. */
int imx_identity_rom(struct sim_board *b);
int imx_identity_fastboot(struct sim_board *b);
int imx_identity_spl(struct sim_board *b);
/* Carry out an action: leave the bus after after_ns (real) and, for
 * UBOOT/REBOOT, re-enumerate in the new role after the boot time. */
void imx_act(struct sim_board *b, enum imx_action a, uint64_t after_ns);

/* imx_sdp.c */
int imx_sdp_request(struct sim_board *b, struct sim_xfer *x);
/* A report on the SPL gadget's interrupt OUT EP1 (first byte = report ID). */
int imx_sdp_out(struct sim_board *b, struct sim_xfer *x);

/* imx_sdps.c: the stream ROM's interrupt OUT EP1 (report 2 only). */
int imx_sdps_data(struct sim_board *b, struct sim_xfer *x);
void imx_sdps_reset(struct imx_board *d);
/* The FIT the SPL loads: FDT magic on a 4-byte step in p[from..len);
 * its offset, or -1. */
long imx_fit_find(const uint8_t *p, size_t from, size_t len);
void imx_sdp_reset(struct imx_board *d);

/* imx_fastboot.c */
int imx_fb_data(struct sim_board *b, struct sim_xfer *x);
void imx_fb_reset(struct imx_board *d);
void imx_fb_env_defaults(struct imx_board *d);
const char *imx_env_get(struct imx_board *d, const char *name);
int imx_env_set(struct imx_board *d, const char *name, const char *value);
/* saveenv to the eMMC (env/mmc.c, mx6sabresd_defconfig's CONFIG_ENV_OFFSET
 * 0xC0000, CONFIG_ENV_SIZE 0x2000): CRC-32 LE, then "name=value\0" sorted
 * by name (hexport_r()), zero-filled.  0 or -1. */
#define IMX_ENV_OFFSET 0xc0000u
#define IMX_ENV_SIZE 0x2000u
int imx_env_save(struct sim_board *b, uint64_t *device_ns);
/* eMMC write/erase of n bytes: device ns. */
uint64_t imx_emmc_ns(struct imx_board *d, uint64_t bytes, bool erase);

/* imx_fastboot.c: U-Boot's partition look-up by name (GPT, else DOS
 * "mmcsda<n>"), 0 or -ENOENT. */
int imx_part_by_name(struct imx_board *d, const char *name, struct sim_part *p);
/* Write the GPT a U-Boot "$partitions" string describes (cmd/gpt.c
 * set_gpt_info() + gpt_restore()); 0 or -1 with a reason in msg. */
int imx_gpt_write(struct imx_board *d, const char *spec, char *msg, size_t ml);

/* imx_ucmd.c: run one U-Boot command line; 0 = success.  msg gets a reason
 * for FAIL (<= 60 chars). */
int imx_ucmd_run(struct sim_board *b, const char *line, char *msg, size_t msglen,
		 uint64_t *device_ns);

#endif
