/*
 * IEEE 802.3 CRC-32 (reflected, polynomial 0xEDB88320) from zlib:
 * crc32_update(0, buf, len) == crc32(0, buf, len), and it can be fed
 * incrementally, crc = crc32_update(crc, next, n).
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

/* CRC of A followed by B from crc(A), crc(B) and B's length (zlib's crc32_combine). */
uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/*
 * Continue a CRC over len bytes of the 4-byte pattern pat repeated (a sparse
 * image's FILL chunk): one 4 KiB block is hashed, the rest is combined
 * (crc32_concat by doubling), so 512 MiB of fill costs microseconds.
 */
uint32_t crc32_fill(uint32_t crc, const uint8_t pat[4], uint64_t len);

#endif
