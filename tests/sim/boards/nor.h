/*
 * A byte array with NOR flash semantics (nor.c): erase sets bytes to 0xFF,
 * programming can only clear bits (result = old & new), as in RM0090 §3.5.4
 * ("successive write operations are possible without an erase when changing
 * bits from 1 to 0; writing 1 requires an erase").
 */
#ifndef FLASHD_SIM_NOR_H
#define FLASHD_SIM_NOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_nor {
	uint8_t *mem;
	size_t size;
};

/* Allocate size bytes, erased.  0 or -ENOMEM. */
int sim_nor_init(struct sim_nor *n, size_t size);
void sim_nor_release(struct sim_nor *n);
/* Fill with a deterministic pseudo-random pattern (initial contents). */
void sim_nor_fill_random(struct sim_nor *n, uint64_t seed);
/* Erase [off, off+len): 0 or -ERANGE. */
int sim_nor_erase(struct sim_nor *n, size_t off, size_t len);
/*
 * Program [off, off+len) with data: each byte becomes old & new.  Returns 1
 * if the memory now equals data (what a read-back verify would see), 0 if
 * some bit could not be set, -ERANGE outside the array.
 */
int sim_nor_program(struct sim_nor *n, size_t off, const uint8_t *data, size_t len);
/*
 * Program disturb (SIM_FAULT_DISTURB): the byte at off loses its lowest set
 * bit, as a cell next to one being programmed or erased picks up charge.
 * A byte already 0x00 cannot change; off outside the array is ignored.
 */
void sim_nor_disturb(struct sim_nor *n, size_t off);

#endif
