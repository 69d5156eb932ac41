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
	uint32_t jedec;	     /* mfr << 16 | type << 8 | capacity, as RDID (0x9F) answers */
	uint32_t size;	     /* bytes */
	uint32_t page;	     /* program page, bytes */
	uint64_t t_pp;	     /* page program */
	uint64_t t_se;	     /* 4 KiB sector erase */
	uint64_t t_be32;     /* 32 KiB block erase */
	uint64_t t_be64;     /* 64 KiB block erase */
	uint64_t t_ce;	     /* chip erase */
};

/* The part called `name` (case-insensitive), or NULL. */
const struct spinor_part *spinor_find(const char *name);
/* Name of the i-th known part; NULL past the end. */
const char *spinor_name(size_t i);

/* A flash chip: a part (copied, so options can override fields) and its array. */
struct spinor {
	struct spinor_part p;
	struct sim_nor nor;
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

#endif
