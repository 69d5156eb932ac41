/*
 * Wire formats of the Ingenic USB burner ("cloner", new 2.5.x generation),
 * pure and without USB: the JAMCRC checksum, the 40-byte EP0 command block
 * (`union cmd`), the `ops` word, the parameter TLVs sent with UPDATE_CFG
 * (POLI, DBG, SFC with the NOR parameters and partition table), the JEDEC
 * reply and a classifier for GET_CPU_INFO strings.  Everything follows
 * shared/docs/protocol-ingenic.md (§0.3, §1.2, §3.2-§3.5); byte offsets are
 * the ones decoded there from prj008/cfg2_bulk.bin.
 *
 * The engines (protocols/ingenic.h: boot ROM, protocols/ingenic_burner.h:
 * stage 2) use this module; it is separate so that the exact bytes can be
 * tested without a device (tests/protocols/test-ingenic_cfg.c).
 *
 * All integers on the wire are little-endian.  Functions here never block
 * and keep no state; buffers are the caller's.
 */
#ifndef FLASHD_PROTOCOLS_INGENIC_CFG_H
#define FLASHD_PROTOCOLS_INGENIC_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "protocols/spinor_parts.h"

/* sizeof(union cmd): 9 x int32 rtc_time padded to 8-byte alignment (§3.2). */
#define INGENIC_CMD_LEN 40
/* GET_CPU_INFO answers 8 ASCII bytes, not NUL-terminated (§2.1). */
#define INGENIC_CPU_INFO_LEN 8
/* The burner's nor_partition table has 10 slots (§3.4, [NORPART]). */
#define INGENIC_CFG_MAX_PARTS 10
#define INGENIC_CFG_NAME_LEN 32

/* JAMCRC: reflected CRC-32, init 0xFFFFFFFF, no final XOR = ~zlib crc32 (§0.3). */
#define INGENIC_JAMCRC_INIT 0xffffffffu

/* TLV magics as little-endian u32 (wire bytes appear reversed, §2.4, §3.4). */
#define INGENIC_TLV_POLI 0x504f4c49u	   /* 'POLI' */
#define INGENIC_TLV_DBG 0x44424700u	   /* 'DBG\0' */
#define INGENIC_TLV_SFC 0x53464300u	   /* 'SFC\0' */
#define INGENIC_NOR_PARAMS_MAGIC 0x726f6eu /* "nor" at the head of burner_params */
#define INGENIC_NOR_PARAMS_VERSION 1

/* Body sizes of the TLVs we build (§3.4): DBG 5 words, POLI 9 flags + 32 offsets. */
#define INGENIC_TLV_DBG_LEN 20
#define INGENIC_TLV_POLI_LEN 164
/* SFC body: spi_param (7 words in the bundled burners) + burner_params = 0x300 (§3.4). */
#define INGENIC_TLV_SFC_LEN 768
/* A POLI-only config (the vendor's cfg #1, 172 bytes) plus our 8-byte terminator. */
#define INGENIC_CFG_POLICY_LEN (8 + INGENIC_TLV_POLI_LEN + 8)
/* DBG + POLI + SFC (the vendor's cfg #2, 976 bytes) plus the terminator. */
#define INGENIC_CFG_FULL_LEN                                                                       \
	(8 + INGENIC_TLV_DBG_LEN + 8 + INGENIC_TLV_POLI_LEN + 8 + INGENIC_TLV_SFC_LEN + 8)

/*
 * spi_param's seventh word: 0x6800 = T31 CONFIG_SPL_MAX_SIZE, most likely
 * param_offset (where NOR parameters go into the SPL when download_params is
 * set, §3.4 (inference)).  We never set download_params; the vendor value is
 * kept so the block matches what the burner was built against.
 */
#define INGENIC_CFG_PARAM_OFFSET 0x6800
/* SFC clock the prj008 cfg uses (§3.4): 50 MHz. */
#define INGENIC_CFG_SFC_HZ 50000000u
/* Chunk of one WRITE/READ: the vendor writer cfg's transfer_size (§3.6, [TC-ref]). */
#define INGENIC_CFG_TRANSFER_SIZE (128u * 1024u)
#define INGENIC_CFG_TRANSFER_MIN (64u * 1024u)
/* The burner's default data buffer is 1 MiB (§3.6, [CLC-new]). */
#define INGENIC_CFG_TRANSFER_MAX (1024u * 1024u)

/* ops = medium << 16 | sub-type (§3.3, new cloner numbering). */
enum ingenic_medium {
	INGENIC_MEDIUM_MEMORY = 0,
	INGENIC_MEDIUM_NAND = 1,
	INGENIC_MEDIUM_MMC = 2,
	INGENIC_MEDIUM_SPISFC = 6,
};
#define INGENIC_OPS(medium, sub) ((uint32_t)(medium) << 16 | (uint32_t)(sub))

enum ingenic_flash {
	INGENIC_FLASH_SFC_NOR,	/* ops 0x00060000 */
	INGENIC_FLASH_SFC_NAND, /* ops 0x00060001 */
	INGENIC_FLASH_MMC0,	/* ops 0x00020000 */
	INGENIC_FLASH_MMC1,	/* ops 0x00020001 */
};

/* The ops word for a flash type (§3.3). */
uint32_t ingenic_cfg_ops(enum ingenic_flash flash);

/*
 * How the burner erases SFC NOR (§3.6, [SFC-nor]):
 *  CHIP:      spi_erase = 1, whole chip erased by INIT, writes do not erase;
 *  PARTITION: spi_erase = 0, the first write into a partition erases all of it;
 *  RANGE:     spi_erase = 0 with partitions in MTD_D_MODE: each write erases
 *             only the blocks it covers (the burner has no "never erase").
 */
enum ingenic_erase {
	INGENIC_ERASE_CHIP,
	INGENIC_ERASE_PARTITION,
	INGENIC_ERASE_RANGE,
};

/* nor_partition.manager_mode (§3.6, [NORPART]). */
#define INGENIC_MTD_MODE 0
#define INGENIC_MTD_D_MODE 1

/* One SPI NOR command: opcode, dummy bits, address bytes, transfer mode. */
struct ingenic_nor_cmd {
	uint16_t cmd;
	uint8_t dummy_bits;
	uint8_t addr_bytes;
	uint8_t mode;
};

/* A status-register operation (quad enable set/get, busy poll). */
struct ingenic_nor_sr {
	uint16_t cmd;
	uint8_t bit_shift;
	uint8_t mask;
	uint8_t val;
	uint8_t len;
	uint8_t dummy;
};

/* spi_nor_info: the chip description the burner programs with (§3.4, [NORPART][IFT-db]). */
struct ingenic_nor_info {
	char name[INGENIC_CFG_NAME_LEN]; /* NUL-padded; at most 31 characters */
	uint32_t jedec;			 /* mfr << 16 | type << 8 | capacity */
	struct ingenic_nor_cmd read_standard, read_quad, write_standard, write_quad, sector_erase,
		wr_en, en4byte;
	struct ingenic_nor_sr quad_set, quad_get, busy;
	uint16_t quad_ops_mode, addr_ops_mode;
	uint32_t t_chsh, t_slch, t_shsl_rd, t_shsl_wr; /* ns */
	uint32_t chip_size, page_size, erase_size;     /* bytes */
	uint32_t chip_erase_cmd;
};

struct ingenic_cfg_partition {
	char name[INGENIC_CFG_NAME_LEN]; /* at most 31 characters */
	uint32_t offset, size;		 /* bytes from the start of the flash */
};

/* Everything UPDATE_CFG carries; see ingenic_cfg_init() for defaults. */
struct ingenic_cfg {
	enum ingenic_flash flash; /* only SFC_NOR has an SFC TLV builder */
	enum ingenic_erase erase;
	struct ingenic_cfg_partition parts[INGENIC_CFG_MAX_PARTS];
	unsigned int n_parts;
	struct ingenic_nor_info nor;
	/* DBG: the burner checks each WRITE's JAMCRC / reads flash back after programming. */
	bool transfer_check;
	bool write_back_check;
	bool log;
	uint32_t transfer_size; /* bytes per WRITE/READ, INGENIC_CFG_TRANSFER_MIN..MAX */
	uint32_t sfc_hz;
	/* sfc_quad_mode: the burner uses the quad opcodes (needs nor.quad_set). */
	bool quad;
};

/* Defaults: SFC NOR, partition erase, both device checks on, vendor chunk and clock. */
void ingenic_cfg_init(struct ingenic_cfg *c);

/*
 * Add a partition (name copied).  -EINVAL empty/too long name or size 0,
 * -ENOSPC table full, -ERANGE end beyond 4 GiB, -EEXIST overlap or same name.
 */
int ingenic_cfg_add_partition(struct ingenic_cfg *c, const char *name, uint32_t offset,
			      uint32_t size, struct err *e);

/* Index of the partition holding [offset, offset+len) entirely, or -ERANGE. */
int ingenic_cfg_find_partition(const struct ingenic_cfg *c, uint64_t offset, uint64_t len,
			       struct err *e);

/*
 * Chip description for a JEDEC ID with the commands every 25-series NOR
 * shares (READ 03, PP 02, 64 KiB block erase D8, WREN 06, RDSR 05 bit 0,
 * chip erase C7) and the size from the capacity byte (2^n, 64 KiB..256 MiB).
 * Above 16 MiB the 4-byte-address opcodes (13, 12, DC) are used and EN4B is
 * left out, so the chip stays in 3-byte mode and the ROM can still boot from
 * it (§3.4, [IFT-db]).  Quad mode is not used (sfc_quad_mode 0).
 * Returns 0, -EINVAL for 0x000000/0xFFFFFF, -EOPNOTSUPP for a capacity byte
 * outside 0x10..0x1c.  flashd's jobs use the parts table instead
 * (ingenic_cfg_nor_for_jedec()); this stays for tools probing any chip.
 */
int ingenic_cfg_nor_generic(uint32_t jedec, struct ingenic_nor_info *ret, struct err *e);

/*
 * Chip description from a parts-table entry (protocols/spinor_parts.h):
 * name, ID, sizes, 64 KiB block erase (D8h, or DCh), and above 16 MiB the
 * dedicated 4-byte opcodes (13h/12h/DCh) with EN4B left out, as
 * ingenic_cfg_nor_generic() does; quad read/program opcodes and the
 * part's Quad Enable set/get status-register operations (quad_ops_mode 1
 * when it has one).  Returns 0, or -EINVAL for an entry the burner cannot
 * take (no 64 KiB erase, size 0, name too long).
 */
int ingenic_cfg_nor_from_part(const struct spinor_part *p, struct ingenic_nor_info *ret,
			      struct err *e);

/*
 * The chip description for the JEDEC ID the burner read: the parts-table
 * entry, else `given` (parameters the recipe supplies, jedec filled in
 * here), else -EOPNOTSUPP with a message naming the three ID bytes.
 * -EINVAL for 0x000000/0xFFFFFF (no flash answered).
 */
int ingenic_cfg_nor_for_jedec(uint32_t jedec, const struct spinor_part *given,
			      struct ingenic_nor_info *ret, struct err *e);

/*
 * Serialise the POLI-only config (vendor cfg #1, needed before
 * GET_FLASH_INFO, §3.5) into buf.  Returns the length
 * (INGENIC_CFG_POLICY_LEN) or -EMSGSIZE when size is too small.
 */
ssize_t ingenic_cfg_build_policy(const struct ingenic_cfg *c, uint8_t *buf, size_t size,
				 struct err *e);

/*
 * Serialise DBG + POLI + SFC (vendor cfg #2 order) and a terminating
 * {magic 0, size 0} record (the burner stops walking at magic 0, §3.4; it
 * guards against stale bytes of a longer earlier config in its buffer).
 * Returns INGENIC_CFG_FULL_LEN, or -EMSGSIZE, -EINVAL (no partitions,
 * transfer_size not a multiple of 64 KiB in range, nor sizes 0, quad set
 * for a part without a Quad Enable method),
 * -EOPNOTSUPP (flash other than SFC NOR).
 */
ssize_t ingenic_cfg_build(const struct ingenic_cfg *c, uint8_t *buf, size_t size, struct err *e);

/* Fill the 40-byte WRITE command (new layout, §3.2); crc is the chunk's JAMCRC. */
void ingenic_cfg_cmd_write(uint8_t out[INGENIC_CMD_LEN], uint64_t offset, uint64_t length,
			   uint32_t ops, uint32_t crc);
/* The 40-byte READ command: same fields, no CRC. */
void ingenic_cfg_cmd_read(uint8_t out[INGENIC_CMD_LEN], uint64_t offset, uint64_t length,
			  uint32_t ops);
/* The 40-byte UPDATE_CFG command: the TLV length in the first word. */
void ingenic_cfg_cmd_update(uint8_t out[INGENIC_CMD_LEN], uint32_t length);

/* Continue a JAMCRC; start with INGENIC_JAMCRC_INIT.  Never fails. */
uint32_t ingenic_cfg_jamcrc(uint32_t crc, const void *buf, size_t len);

/* GET_FLASH_INFO's 3 bytes are the low bytes of a LE u32 (§3.5): 18 70 ef -> 0xef7018. */
uint32_t ingenic_cfg_jedec(const uint8_t raw[3]);

enum ingenic_cpu_kind {
	INGENIC_CPU_UNKNOWN,
	INGENIC_CPU_ROM,    /* "T 3 1 V ", "JZ4770V1", "X1000_v1" ... (§1.1) */
	INGENIC_CPU_BURNER, /* "BOOTx1830", "X2500", "PRJ" ... (§1.2) */
};

/*
 * Classify an 8-byte GET_CPU_INFO answer (n bytes received) by the strings
 * listed in §1.1/§1.2; anything else is UNKNOWN.  text (>= 9 bytes) gets
 * the answer as a C string, trailing NULs cut, non-printables as '.'.
 */
enum ingenic_cpu_kind ingenic_cfg_cpu_kind(const uint8_t *raw, size_t n, char *text);

#endif
