/*
 * SPI-NOR flash parts as the Ingenic burner sees them (spinor.c): JEDEC ID,
 * geometry and the datasheet's typical program/erase times, on top of the
 * NOR cell semantics of nor.h.  Used by the Ingenic model; libc only.
 */
#ifndef FLASHD_SIM_SPINOR_H
#define FLASHD_SIM_SPINOR_H

#include <stddef.h>
#include <stdint.h>

#include "tests/sim/boards/nor.h"

/* One part: identity, geometry, typical times (device ns). */
struct spinor_part {
	const char *name;
	uint32_t jedec;	 /* mfr << 16 | type << 8 | capacity, as RDID (0x9F) answers */
	uint32_t size;	 /* bytes */
	uint32_t page;	 /* program page, bytes */
	uint64_t t_pp;	 /* page program */
	uint64_t t_se;	 /* 4 KiB sector erase */
	uint64_t t_be32; /* 32 KiB block erase */
	uint64_t t_be64; /* 64 KiB block erase */
	uint64_t t_ce;	 /* chip erase */
	/* Has the dedicated 4-byte-address opcodes (13h/12h/21h/DCh...). */
	int ops4b;
};

/*
 * The commands the host (the burner's config) sends for read, page program
 * and block erase: opcode and how many address bytes go with it, and the
 * EN4B opcode it issues at INIT (0: none).  Unset: offsets are used as
 * they are (no command framing modelled).
 */
struct spinor_host {
	int set;
	uint8_t read_op, read_ab;
	uint8_t write_op, write_ab;
	uint8_t erase_op, erase_ab;
	uint8_t en4b_op;
};

/* The part called `name` (case-insensitive), or NULL. */
const struct spinor_part *spinor_find(const char *name);
/* Name of the i-th known part; NULL past the end. */
const char *spinor_name(size_t i);

/* A flash chip: a part (copied, so options can override fields) and its array. */
struct spinor {
	struct spinor_part p;
	struct sim_nor nor;
	struct spinor_host host;
	int addr4; /* in 4-byte address mode (after EN4B); 3-byte at power-up */
};

int spinor_init(struct spinor *f, const struct spinor_part *p);
void spinor_release(struct spinor *f);
/*
 * Erase every erase unit of `unit` bytes (4, 32 or 64 KiB) that overlaps
 * [off, off+len): a NOR part cannot erase less, so bytes outside the range
 * but inside a touched unit are erased too.  Returns the device time (ns)
 * or 0 when the range is outside the chip (then nothing is erased).
 */
uint64_t spinor_erase(struct spinor *f, uint32_t off, uint32_t len, uint32_t unit);
/* Whole-chip erase; returns its device time. */
uint64_t spinor_chip_erase(struct spinor *f);
/*
 * Program [off, off+len) page by page.  *ok is 1 if the array now equals
 * data (bits that were 0 cannot become 1), 0 otherwise, -1 outside the chip.
 * Returns the device time.
 */
uint64_t spinor_program(struct spinor *f, uint32_t off, const uint8_t *data, uint32_t len, int *ok);

/* Host command set (NULL: unset) and the INIT that issues EN4B if configured. */
void spinor_set_host(struct spinor *f, const struct spinor_host *h);
void spinor_host_init(struct spinor *f);
/* Power-up: the address mode returns to 3-byte (ADP default 0). */
void spinor_power_on(struct spinor *f);
/*
 * Read [off, off+len) with the host's read command into buf.  0, or
 * -EOPNOTSUPP / -EPROTO when the chip does not take that command as framed
 * (buf then holds 0xFF: what an idle data line reads).
 */
int spinor_read(const struct spinor *f, uint32_t off, uint8_t *buf, uint32_t len);

#endif
