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
