/*
 * This file implements the NOR array of nor.h: what a flash cell can and
 * cannot do, independent of any protocol.
 */
#include "tests/sim/boards/nor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sim_nor_init(struct sim_nor *n, size_t size)
{
	n->mem = malloc(size ? size : 1);
	if (!n->mem)
		return -ENOMEM;
	n->size = size;
	memset(n->mem, 0xff, size);
	return 0;
}

void sim_nor_release(struct sim_nor *n)
{
	free(n->mem);
	n->mem = NULL;
	n->size = 0;
}

void sim_nor_fill_random(struct sim_nor *n, uint64_t seed)
{
	/* splitmix64: deterministic per seed, good enough for test patterns. */
	uint64_t x = seed;

	for (size_t i = 0; i < n->size; i += 8) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		for (size_t j = 0; j < 8 && i + j < n->size; j++)
			n->mem[i + j] = z >> (8 * j);
	}
}

int sim_nor_erase(struct sim_nor *n, size_t off, size_t len)
{
	if (off > n->size || len > n->size - off)
		return -ERANGE;
	memset(n->mem + off, 0xff, len);
	return 0;
}

int sim_nor_program(struct sim_nor *n, size_t off, const uint8_t *data, size_t len)
{
	int same = 1;

	if (off > n->size || len > n->size - off)
		return -ERANGE;
	for (size_t i = 0; i < len; i++) {
		n->mem[off + i] &= data[i];
		if (n->mem[off + i] != data[i])
			same = 0;
	}
	return same;
}

void sim_nor_disturb(struct sim_nor *n, size_t off)
{
	if (off < n->size)
		n->mem[off] &= (uint8_t)(n->mem[off] - 1);
}
