/*
 * IEEE 802.3 CRC-32 (reflected, polynomial 0xEDB88320), bit-compatible with
 * zlib's crc32(): crc32_update(0, buf, len) == crc32(0, buf, len), and it can
 * be fed incrementally, crc = crc32_update(crc, next, n).
 *
 * The DFU suffix stores the bitwise NOT of this value (protocol-dfu.md §1.10);
 * dfu_file.h does that inversion, this module does not.  Pure, no state.
 */
#ifndef FLASHD_PROTOCOLS_CRC32_H
#define FLASHD_PROTOCOLS_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over len more bytes; start with crc = 0.  Never fails. */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

#endif
