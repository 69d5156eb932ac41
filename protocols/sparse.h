/*
 * Android sparse images (shared/docs/protocol-imx-sdp-fastboot.md §4.4):
 * reader, header writer, and the splitter that turns a raw or sparse image
 * larger than the device's download buffer into standalone sparse pieces
 * (§4.5): each piece skips (DONT_CARE) the blocks before it, carries the
 * next chunks, and skips the rest, so every piece is flashed to the same
 * partition with its own download + flash.
 *
 * Pure: no USB, no global state.  Nothing here copies image data: chunk
 * data and piece segments point into the caller's buffer (typically a
 * shared read-only mapping), which must outlive their use.  The splitter
 * allocates only headers and a segment list, O(chunks per piece).
 *
 * Errors (negative errno + message naming the chunk and file offset):
 *   -EMSGSIZE  file shorter than a header, or chunk data past the end of file
 *   -EBADMSG   bad magic/version/header sizes/block size, chunk total_sz not
 *              matching its type, unknown chunk type, bytes after the last chunk
 *   -ERANGE    chunk overflow: chunks cover more blocks than total_blks
 *   -EINVAL    bad argument (max piece too small for one block, blk_sz 0)
 *   -ENOMEM
 */
#ifndef FLASHD_PROTOCOLS_SPARSE_H
#define FLASHD_PROTOCOLS_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SPARSE_MAGIC 0xed26ff3au
#define SPARSE_HEADER_SIZE 28
#define SPARSE_CHUNK_HEADER_SIZE 12
#define SPARSE_CHUNK_RAW 0xcac1
#define SPARSE_CHUNK_FILL 0xcac2
#define SPARSE_CHUNK_DONT_CARE 0xcac3
#define SPARSE_CHUNK_CRC32 0xcac4
/* Block size used when a raw image is re-chunked (uuu's and AOSP's default, §4.5). */
#define SPARSE_DEFAULT_BLOCK 4096

struct sparse_image {
	const uint8_t *buf; /* not owned */
	size_t len;
	uint16_t file_hdr_sz, chunk_hdr_sz;
	uint32_t blk_sz, total_blks, total_chunks, checksum;
};

struct sparse_chunk {
	uint16_t type;
	uint32_t blocks;     /* output blocks (0 for CRC32) */
	uint32_t first_blk;  /* output block where the chunk starts */
	size_t offset;	     /* file offset of its header */
	const uint8_t *data; /* RAW: blocks * blk_sz bytes; FILL, CRC32: 4 bytes; else NULL */
	size_t data_len;
};

/* Whether buf starts with the sparse magic (and is long enough for a header). */
bool sparse_is_sparse(const uint8_t *buf, size_t len);

/*
 * Parse and validate the whole image: header and every chunk (walked once,
 * O(chunks), no data read).  Returns 0 and *ret, or -errno from the list above.
 */
int sparse_open(const uint8_t *buf, size_t len, struct sparse_image *ret, struct err *e);

/* Position of a chunk iterator; start from SPARSE_ITER_INIT. */
struct sparse_iter {
	size_t pos;   /* 0 = before the first chunk */
	uint32_t blk; /* output block of the next chunk */
	uint32_t idx; /* index of the next chunk */
};
#define SPARSE_ITER_INIT ((struct sparse_iter){ 0 })

/*
 * Chunk iterator over an image sparse_open() accepted: each call fills *c
 * and advances *it.  Returns 1 for a chunk, 0 at the end.
 */
int sparse_next(const struct sparse_image *s, struct sparse_iter *it, struct sparse_chunk *c);

/* Bytes of the expanded image: blk_sz * total_blks. */
uint64_t sparse_expanded_size(const struct sparse_image *s);

/* Writers of the little-endian headers (§4.4), for the splitter and tests. */
void sparse_put_header(uint8_t out[SPARSE_HEADER_SIZE], uint32_t blk_sz, uint32_t total_blks,
		       uint32_t total_chunks, uint32_t checksum);
void sparse_put_chunk(uint8_t out[SPARSE_CHUNK_HEADER_SIZE], uint16_t type, uint32_t blocks,
		      uint32_t total_sz);

/* One piece: the concatenation of segs is a standalone sparse image. */
struct sparse_seg {
	const void *data; /* into the piece's headers or the caller's image */
	size_t len;
};

struct sparse_piece {
	unsigned int index;  /* 0, 1, ... */
	uint32_t first_blk;  /* first block carried (after the leading skip) */
	uint32_t end_blk;    /* one past the last block carried */
	uint32_t total_blks; /* of the whole image, as in every piece's header */
	uint32_t blk_sz;
	uint64_t size; /* bytes of the piece (sum of segs) */
	const struct sparse_seg *segs;
	size_t n_segs;
};

/*
 * Called once per piece, in order; the piece and its segments are valid
 * only during the call.  Return 0 to go on, or -errno (with e set) to stop:
 * sparse_split() then returns that value.
 */
typedef int (*sparse_piece_cb_t)(void *ud, const struct sparse_piece *p, struct err *e);

/*
 * Split buf[0..len) into sparse pieces of at most max_piece bytes each.
 * A sparse input keeps its block size and chunk types (RAW chunks are cut
 * at block boundaries; CRC32 chunks are dropped: each piece covers only
 * part of the image).  A raw input becomes RAW chunks of raw_blk_sz
 * (SPARSE_DEFAULT_BLOCK if 0), the last block zero-padded through a
 * segment, never a copy.  Pieces that would carry only DONT_CARE blocks
 * are not emitted (unless the image has no data at all).
 *
 * Returns the number of pieces (>= 1), or -errno: -EINVAL when max_piece
 * cannot hold the headers plus one block, the parse errors of sparse_open(),
 * -ENOMEM, or what cb returned.
 */
int sparse_split(const uint8_t *buf, size_t len, uint32_t raw_blk_sz, uint64_t max_piece,
		 sparse_piece_cb_t cb, void *ud, struct err *e);

#endif
