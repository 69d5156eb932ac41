/*
 * This file implements the CRC-32 helper (protocols/crc32.h) on zlib's
 * crc32_z(): the IEEE 802.3 CRC used for .dfu suffixes and read-back
 * verification (protocol-dfu.md §1.10), table-sliced and well kept.
 */
#include "protocols/crc32.h"

#include <zlib.h>

uint32_t crc32_update(uint32_t crc, const void *buf, size_t len)
{
	/* zlib answers crc32(x, NULL, 0) with its initial value 0; callers expect x. */
	if (!len)
		return crc;
	return (uint32_t)crc32_z(crc, buf, len);
}

uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	return (uint32_t)crc32_combine(crc_a, crc_b, (z_off_t)len_b);
}

/* Bytes hashed for crc32_fill(); a multiple of 4 so every block starts at pat[0]. */
#define CRC32_FILL_BLOCK 4096u

uint32_t crc32_fill(uint32_t crc, const uint8_t pat[4], uint64_t len)
{
	uint8_t blk[CRC32_FILL_BLOCK];
	uint64_t n = len / CRC32_FILL_BLOCK, unit_len = CRC32_FILL_BLOCK;
	uint32_t unit, run = 0;
	size_t tail = (size_t)(len % CRC32_FILL_BLOCK);

	if (!len)
		return crc;
	for (size_t i = 0; i < sizeof(blk); i++)
		blk[i] = pat[i % 4];
	unit = crc32_update(0, blk, sizeof(blk));
	/* run = CRC of n blocks: the blocks are equal, so their order does not matter. */
	for (; n; n >>= 1) {
		if (n & 1)
			run = crc32_concat(run, unit, unit_len);
		if (n > 1) {
			unit = crc32_concat(unit, unit, unit_len);
			unit_len *= 2;
		}
	}
	run = crc32_concat(run, crc32_update(0, blk, tail), tail);
	return crc32_concat(crc, run, len);
}
