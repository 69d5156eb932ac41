/*
 * SPI-NOR parts found on Ingenic T-series boards, by JEDEC ID (RDID 9Fh:
 * manufacturer << 16 | memory type << 8 | capacity): size, page, erase
 * units with their opcodes, how addresses beyond 16 MiB are reached and how
 * quad mode is enabled.  Pure data with a lookup; the burner config
 * (protocols/ingenic_cfg.h, ingenic_cfg_nor_from_part()) is built from it.
 * Every entry cites its sources in spinor_parts.c.
 *
 * The capacity byte is not always log2(size) (W25Q512JV answers 0x20 for
 * 64 MiB), and one ID can name parts of different generations; the table,
 * not arithmetic on the ID, decides.
 */
#ifndef FLASHD_PROTOCOLS_SPINOR_PARTS_H
#define FLASHD_PROTOCOLS_SPINOR_PARTS_H

#include <stddef.h>
#include <stdint.h>

/* 3-byte addresses reach 16 MiB; larger parts need 4-byte addressing. */
#define SPINOR_3B_LIMIT (16u << 20)

/* Opcodes shared by the 25-series parts of the table (JESD216 / datasheets). */
#define SPINOR_OP_READ 0x03
#define SPINOR_OP_READ_QUAD 0x6b /* 1-1-4 fast read, 8 dummy clocks */
#define SPINOR_OP_PP 0x02
#define SPINOR_OP_PP_QUAD 0x32	  /* 1-1-4 page program */
#define SPINOR_OP_PP_QUAD_MX 0x38 /* Macronix 4PP: 1-4-4 page program */
#define SPINOR_OP_SE_4K 0x20
#define SPINOR_OP_BE_32K 0x52
#define SPINOR_OP_BE_64K 0xd8
#define SPINOR_OP_WREN 0x06
#define SPINOR_OP_RDSR 0x05
#define SPINOR_OP_WRSR 0x01
#define SPINOR_OP_RDSR2 0x35
#define SPINOR_OP_WRSR2 0x31
#define SPINOR_OP_CHIP_ERASE 0xc7
#define SPINOR_OP_EN4B 0xb7
/* Dedicated 4-byte-address opcodes: valid in 3-byte mode, no EN4B needed. */
#define SPINOR_OP_READ_4B 0x13
#define SPINOR_OP_READ_QUAD_4B 0x6c
#define SPINOR_OP_PP_4B 0x12
#define SPINOR_OP_PP_QUAD_4B 0x34
#define SPINOR_OP_SE_4K_4B 0x21
#define SPINOR_OP_BE_64K_4B 0xdc

/* How a part beyond 16 MiB is addressed (the only kind in the table today). */
enum spinor_addr {
	SPINOR_ADDR_3B,	    /* <= 16 MiB: 3-byte addresses only */
	SPINOR_ADDR_4B_OPS, /* dedicated 4-byte opcodes 13h/12h/21h/DCh, no EN4B */
};

/* Where the Quad Enable bit is and how it is written. */
enum spinor_qe {
	SPINOR_QE_NONE,	  /* no QE bit known/needed: quad is not used */
	SPINOR_QE_SR2_31, /* QE = SR2 bit 1, written alone with 31h (read 35h) */
	SPINOR_QE_SR2_01, /* QE = SR2 bit 1, written as SR1+SR2 with a 2-byte 01h */
	SPINOR_QE_SR1_B6, /* QE = SR1 bit 6, written with 01h (Macronix/ISSI style) */
	_SPINOR_QE_MAX,
};

struct spinor_part {
	const char *name;
	uint32_t jedec;
	uint32_t size; /* bytes */
	uint16_t page; /* program page, bytes */
	/* Erase opcodes by unit; 0: the part has no such erase. */
	uint8_t op_se_4k, op_be_32k, op_be_64k;
	enum spinor_addr addr;
	enum spinor_qe qe;
	uint8_t op_pp_quad; /* quad page program opcode (3-byte form) */
	const char *source; /* datasheet + sections, and where the ID was checked */
};

/* The entry for a JEDEC ID, or NULL when the table does not know it. */
const struct spinor_part *spinor_part_find(uint32_t jedec);
/* The i-th entry; NULL past the end (for tests and listings). */
const struct spinor_part *spinor_part_at(size_t i);
/* Name of a QE method as recipes spell it ("none", "sr2_31", "sr2_01", "sr1_bit6"). */
const char *spinor_qe_name(enum spinor_qe qe);
/* The method called `name`, or -EINVAL. */
int spinor_qe_parse(const char *name);

#endif
