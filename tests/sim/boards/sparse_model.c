/*
 * This file expands Android sparse images (sparse_model.h).  Format facts:
 * protocol-imx-sdp-fastboot.md §4.4 (28-byte file header, 12-byte chunk
 * headers, all little-endian).  Like U-Boot, a larger file_hdr_sz or
 * chunk_hdr_sz is skipped rather than refused.
 */
#include "tests/sim/boards/sparse_model.h"

#include <errno.h>
#include <string.h>

#include "tests/sim/boards/board-private.h"

#define CHUNK_RAW 0xcac1
#define CHUNK_FILL 0xcac2
#define CHUNK_DONT_CARE 0xcac3
#define CHUNK_CRC32 0xcac4

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

bool sim_sparse_is(const uint8_t *img, size_t len)
{
	return len >= 28 && sim_get_le32(img) == SIM_SPARSE_MAGIC;
}

int64_t sim_sparse_expand(const uint8_t *img, size_t len, uint8_t *dst, size_t dst_len,
			  const char **why)
{
	uint32_t blk_sz, total_blks, chunks;
	uint16_t fhdr, chdr;
	uint64_t out = 0, written = 0;
	size_t off;

	if (!sim_sparse_is(img, len) || le16(img + 4) != 1) {
		*why = "sparse: bad header";
		return -EINVAL;
	}
	fhdr = le16(img + 8);
	chdr = le16(img + 10);
	blk_sz = sim_get_le32(img + 12);
	total_blks = sim_get_le32(img + 16);
	chunks = sim_get_le32(img + 20);
	if (fhdr < 28 || chdr < 12 || !blk_sz || blk_sz % 4 || fhdr > len) {
		*why = "sparse: bad header";
		return -EINVAL;
	}
	if ((uint64_t)total_blks * blk_sz > dst_len) {
		*why = "sparse: image too large for partition";
		return -EINVAL;
	}
	off = fhdr;
	for (uint32_t c = 0; c < chunks; c++) {
		const uint8_t *h = img + off;
		uint32_t n, total;
		uint64_t bytes;

		if (len - off < chdr) {
			*why = "sparse: truncated chunk header";
			return -EINVAL;
		}
		n = sim_get_le32(h + 4);
		total = sim_get_le32(h + 8);
		bytes = (uint64_t)n * blk_sz;
		if (total < chdr || total > len - off) {
			*why = "sparse: bad chunk size";
			return -EINVAL;
		}
		if (le16(h) != CHUNK_CRC32 && out + bytes > dst_len) {
			*why = "sparse: chunk past end of partition";
			return -EINVAL;
		}
		switch (le16(h)) {
		case CHUNK_RAW:
			if (total - chdr != bytes) {
				*why = "sparse: bad raw chunk";
				return -EINVAL;
			}
			memcpy(dst + out, h + chdr, bytes);
			out += bytes;
			written += bytes;
			break;
		case CHUNK_FILL:
			if (total - chdr != 4) {
				*why = "sparse: bad fill chunk";
				return -EINVAL;
			}
			for (uint64_t i = 0; i < bytes; i += 4)
				memcpy(dst + out + i, h + chdr, 4);
			out += bytes;
			written += bytes;
			break;
		case CHUNK_DONT_CARE:
			out += bytes;
			break;
		case CHUNK_CRC32:
			/* A running checksum: U-Boot does not check it either. */
			break;
		default:
			*why = "sparse: unknown chunk type";
			return -EINVAL;
		}
		off += total;
	}
	return (int64_t)written;
}
