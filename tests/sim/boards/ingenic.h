/*
 * The Ingenic T31 in USB boot: shared state of ingenic.c (options,
 * identity, memories, dispatch), ingenic_rom.c (boot ROM: stage 0 -> SPL ->
 * burner load) and ingenic_burner.c (the vendor "cloner" burner, stage 2).
 * The device never re-enumerates between stages: one identity, one state
 * struct, the stage field says who answers.  Facts:
 * shared/docs/protocol-ingenic.md (section numbers below are that file's).
 */
#ifndef FLASHD_SIM_INGENIC_H
#define FLASHD_SIM_INGENIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/sim/boards/board-private.h"
#include "tests/sim/boards/spinor.h"

/* Endpoints (§1.3). */
#define INGENIC_EP_OUT 0x01
#define INGENIC_EP_IN 0x81

/* Memory map of the T31 (§2.2, §5). */
#define INGENIC_CAR_BASE 0x80000000u /* cache-as-RAM before DDR is up */
/* 128 KiB: the T31's L2 cache, the most cache-as-RAM can span (inference;
 * limits and sources in tests/sim/boards/README.md). */
#define INGENIC_CAR_SIZE 0x20000u
#define INGENIC_GINFO_ADDR 0x80001000u
#define INGENIC_SPL_ADDR 0x80001800u
#define INGENIC_DRAM_BASE 0x80100000u  /* stage-2 load area */
#define INGENIC_DRAM_SIZE (4u << 20)   /* the part of DDR the model keeps */
#define INGENIC_EFUSE_ADDR 0xB3540200u /* eFuse shadow, 256 bytes, UID first */
#define INGENIC_EFUSE_SIZE 0x100u
#define INGENIC_SOCID_ADDR 0xB300002Cu
#define INGENIC_IO_BASE 0xB0000000u /* peripherals: writes accepted, ignored */
#define INGENIC_IO_END 0xB8000000u

/*
 * Fixture stages (tests/fixtures/ingenic/mkfixtures.py) start with this
 * header, all little-endian.  The model runs any image, as a ROM does; only
 * with the option check_images (fault injection) must a stage carry an
 * intact header, anything else hanging the part.
 *   0  8  magic "FSIMIGN\0"
 *   8  4  kind (1 SPL, 2 burner)
 *  12  4  total length including the header
 *  16  4  CRC-32 (zlib) of bytes [32, length)
 *  20  4  load address = entry
 *  24  8  reserved
 */
#define INGENIC_STAGE_HDR 32
#define INGENIC_STAGE_SPL 1
#define INGENIC_STAGE_BURNER 2

/*
 * What differs between the modelled SoCs (sources in tests/sim/boards/README.md,
 * "ingenic-t20"): ROM answer (§1.1), SoC-ID family (§5), burner string
 * (§1.2), the I-cache the ROM fills from d2i_len (§2.3, §6.3) and the
 * first-generation XBurst1 32-byte SPL length quirk (§2.3).
 */
struct ingenic_chip {
	const char *type;	 /* board type name */
	char rom_cpu_info[8];	 /* GET_CPU_INFO in the ROM, no NUL */
	uint16_t soc_family;	 /* (SoC ID >> 12) & 0xFFFF at 0xB300002C */
	const char *burner_info; /* default burner GET_CPU_INFO string */
	uint16_t subtype;	 /* default eFuse sub-type */
	uint32_t d2i_max;	 /* START1 with a larger d2i_len hangs; 0 = no limit modelled */
	bool spl_pad_32;	 /* START1 hangs unless the SPL length is a multiple of 32 */
};

enum ingenic_stage {
	INGENIC_ROM,	/* boot ROM, SPL not run yet (or it returned) */
	INGENIC_BURNER, /* stage 2 answers EP0 and the bulk pipes */
	INGENIC_HUNG,	/* ran bad code: answers nothing any more */
	INGENIC_OFF,	/* rebooted into its firmware or powered off: off the bus */
};

/* Device times (ns, unscaled). */
struct ingenic_timing {
	uint64_t spl;	      /* START1 -> SPL returned to the ROM (DDR up) */
	uint64_t burner_boot; /* START2 -> burner answers */
	uint64_t reboot;      /* REBOOT -> off the bus */
	uint64_t rom_boot;    /* power-on / reset -> ROM enumerates again */
	uint64_t command;     /* burner command handling without flash access */
};

/* Last UPDATE_CFG, decoded (§3.4). */
struct ingenic_cfg {
	bool present;
	bool first_is_poli; /* the info hook wants POLI first (§3.5) */
	bool poli;
	uint32_t use_sfc_nor;
	bool dbg;
	uint32_t transfer_data_chk, write_back_chk;
	bool sfc;
	bool sfc_valid; /* burner_params magic "nor" found */
	uint32_t download_params, quad, erase_block, spi_erase, frequency;
	uint32_t jedec, chip_size, page_size, erase_size;
	unsigned n_part;
	struct {
		char name[33];
		uint32_t size, offset, manager_mode;
	} part[10];
};

enum ingenic_pending {
	INGENIC_PEND_NONE,
	INGENIC_PEND_WRITE, /* WRITE command in, waiting for `length` bulk bytes */
	INGENIC_PEND_CFG,   /* UPDATE_CFG in, waiting for its TLVs */
};

struct ingenic {
	const struct ingenic_chip *chip;
	/* options */
	const struct spinor_part *part;
	bool have_jedec;
	uint32_t jedec_opt;
	uint32_t flash_mib;
	bool have_uid;
	uint8_t uid[16];
	uint64_t seed;
	bool fill_random;
	uint64_t fill_seed;
	uint16_t subtype;
	bool check_images;    /* fault injection: unmarked/corrupt images hang */
	char burner_info[17]; /* the burner's GET_CPU_INFO string */
	struct ingenic_timing t;
	uint32_t flash_t_set; /* timing.* overrides of the flash part, by bit */
	uint64_t flash_t[5];

	/* memories */
	struct spinor flash;
	uint8_t car[INGENIC_CAR_SIZE];
	uint8_t *dram;
	uint8_t efuse[INGENIC_EFUSE_SIZE];

	/* ROM state */
	enum ingenic_stage stage;
	uint32_t addr, len; /* SET_DATA_ADDRESS / SET_DATA_LENGTH */
	uint32_t d2i_len;
	uint32_t car_end;    /* end of the bytes loaded into cache-as-RAM */
	bool start1_used;    /* one-shot flag (§2.1) */
	bool ddr_up;	     /* the SPL ran: DRAM usable */
	bool dram_dirty;     /* bulk data in D-cache not yet flushed */
	uint64_t busy_until; /* host ns; EP0 and bulk wait until then */
	const char *busy_what;

	/* burner state */
	int32_t ack;
	uint32_t full_size;
	struct ingenic_cfg cfg;
	bool init_done;
	uint32_t erased_parts; /* bit i: partition i erased by its first write */
	enum ingenic_pending pend;
	uint64_t w_part, w_off;
	uint32_t w_len, w_ops, w_crc, w_got;
	uint8_t *buf; /* WRITE / UPDATE_CFG / READ data */
	size_t buf_cap;
	uint8_t *rbuf; /* READ result, queued for bulk IN by GET_CRC */
	uint32_t r_len, r_pos, r_crc;
	int32_t r_ack;
	bool r_queued;
	char state_text[40];
};

static inline struct ingenic *ingenic(struct sim_board *b)
{
	return sim_board_priv(b);
}

/* ingenic.c */
uint32_t ingenic_jamcrc(const uint8_t *p, size_t len);
uint32_t ingenic_jedec(const struct ingenic *g);
/* Busy for device time `ns` from now (scaled), doing `what`. */
void ingenic_set_busy(struct sim_board *b, uint64_t ns, const char *what);
/* Remaining busy time, real ns. */
uint64_t ingenic_busy_left(struct sim_board *b);
/* Grow g->buf to n bytes; 0 or -ENOMEM. */
int ingenic_buf_reserve(struct ingenic *g, size_t n);
/* Step fault check for the transfer-level kinds plus `extra`.  Returns the
 * kind that fired; for unplug/stall/hang it has already set x up
 * (*ret = DONE or PENDING) and the caller must return *ret. */
enum sim_fault_kind ingenic_fault(struct sim_board *b, struct sim_xfer *x, const char *step,
				  unsigned extra, int *ret);
/* The part stops answering for good (bad code ran). */
void ingenic_hang(struct sim_board *b, const char *why);

/* ingenic_rom.c */
int ingenic_rom_request(struct sim_board *b, struct sim_xfer *x);
int ingenic_rom_data(struct sim_board *b, struct sim_xfer *x);
void ingenic_rom_power_on(struct ingenic *g);

/* ingenic_burner.c */
int ingenic_burner_request(struct sim_board *b, struct sim_xfer *x);
int ingenic_burner_data(struct sim_board *b, struct sim_xfer *x);
void ingenic_burner_enter(struct ingenic *g);

#endif
