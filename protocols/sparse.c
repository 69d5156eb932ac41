/*
 * This file implements the Android sparse reader and the piece splitter
 * (sparse.h), after shared/docs/protocol-imx-sdp-fastboot.md §4.4 (format)
 * and §4.5 (the "leading DONT_CARE" split every tool uses).
 */
#include "protocols/sparse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

bool sparse_is_sparse(const uint8_t *buf, size_t len)
{
	return len >= SPARSE_HEADER_SIZE && le32(buf) == SPARSE_MAGIC;
}

uint64_t sparse_expanded_size(const struct sparse_image *s)
{
	return (uint64_t)s->blk_sz * s->total_blks;
}

void sparse_put_header(uint8_t out[SPARSE_HEADER_SIZE], uint32_t blk_sz, uint32_t total_blks,
		       uint32_t total_chunks, uint32_t checksum)
{
	put32(out, SPARSE_MAGIC);
	put16(out + 4, 1);
	put16(out + 6, 0);
	put16(out + 8, SPARSE_HEADER_SIZE);
	put16(out + 10, SPARSE_CHUNK_HEADER_SIZE);
	put32(out + 12, blk_sz);
	put32(out + 16, total_blks);
	put32(out + 20, total_chunks);
	put32(out + 24, checksum);
}

void sparse_put_chunk(uint8_t out[SPARSE_CHUNK_HEADER_SIZE], uint16_t type, uint32_t blocks,
		      uint32_t total_sz)
{
	put16(out, type);
	put16(out + 2, 0);
	put32(out + 4, blocks);
	put32(out + 8, total_sz);
}

/* Decode the chunk at *pos without checks beyond bounds (sparse_open did them). */
static int chunk_at(const struct sparse_image *s, size_t pos, uint32_t blk, unsigned int idx,
		    struct sparse_chunk *c, size_t *next, struct err *e)
{
	const uint8_t *h;
	uint32_t total_sz;
	uint64_t body, want;

	if (s->len - pos < s->chunk_hdr_sz)
		return err_set(
			e, -EMSGSIZE,
			"chunk %u at offset 0x%zx: header past the end of the file (%zu bytes)",
			idx, pos, s->len);
	h = s->buf + pos;
	*c = (struct sparse_chunk){
		.type = le16(h),
		.blocks = le32(h + 4),
		.first_blk = blk,
		.offset = pos,
	};
	total_sz = le32(h + 8);
	if (total_sz < s->chunk_hdr_sz)
		return err_set(
			e, -EBADMSG,
			"chunk %u at offset 0x%zx: total_sz %u is smaller than the chunk header",
			idx, pos, total_sz);
	body = total_sz - s->chunk_hdr_sz;
	switch (c->type) {
	case SPARSE_CHUNK_RAW:
		want = (uint64_t)c->blocks * s->blk_sz;
		break;
	case SPARSE_CHUNK_FILL:
		want = 4;
		break;
	case SPARSE_CHUNK_DONT_CARE:
		want = 0;
		break;
	case SPARSE_CHUNK_CRC32:
		want = 4;
		c->blocks = 0; /* carries no output, whatever chunk_sz says */
		break;
	default:
		return err_set(e, -EBADMSG, "chunk %u at offset 0x%zx: unknown chunk type 0x%04x",
			       idx, pos, c->type);
	}
	if (body != want)
		return err_set(
			e, -EBADMSG,
			"chunk %u at offset 0x%zx: type 0x%04x with %u blocks needs total_sz %llu, header says %u",
			idx, pos, c->type, c->blocks, (unsigned long long)(want + s->chunk_hdr_sz),
			total_sz);
	if (s->len - pos - s->chunk_hdr_sz < body)
		return err_set(
			e, -EMSGSIZE,
			"chunk %u at offset 0x%zx: %llu data bytes run past the end of the file (%zu bytes)",
			idx, pos, (unsigned long long)body, s->len);
	if (body) {
		c->data = h + s->chunk_hdr_sz;
		c->data_len = (size_t)body;
	}
	if ((uint64_t)blk + c->blocks > s->total_blks)
		return err_set(
			e, -ERANGE,
			"chunk overflow: chunk %u at offset 0x%zx covers blocks %u..%llu, the image has %u",
			idx, pos, blk, (unsigned long long)blk + c->blocks, s->total_blks);
	*next = pos + s->chunk_hdr_sz + (size_t)body;
	return 0;
}

int sparse_open(const uint8_t *buf, size_t len, struct sparse_image *ret, struct err *e)
{
	struct sparse_image s = { .buf = buf, .len = len };
	uint16_t major;
	size_t pos;
	uint32_t blk = 0;

	if (len < SPARSE_HEADER_SIZE)
		return err_set(e, -EMSGSIZE, "sparse image of %zu bytes is shorter than its header",
			       len);
	if (le32(buf) != SPARSE_MAGIC)
		return err_set(e, -EBADMSG, "bad sparse magic 0x%08x (expected 0x%08x)", le32(buf),
			       SPARSE_MAGIC);
	major = le16(buf + 4);
	if (major != 1)
		return err_set(e, -EBADMSG, "sparse major version %u (expected 1)", major);
	s.file_hdr_sz = le16(buf + 8);
	s.chunk_hdr_sz = le16(buf + 10);
	s.blk_sz = le32(buf + 12);
	s.total_blks = le32(buf + 16);
	s.total_chunks = le32(buf + 20);
	s.checksum = le32(buf + 24);
	/* Larger headers are allowed and skipped, as U-Boot does (§4.4). */
	if (s.file_hdr_sz < SPARSE_HEADER_SIZE || s.file_hdr_sz > len)
		return err_set(e, -EBADMSG, "sparse file header size %u (file has %zu bytes)",
			       s.file_hdr_sz, len);
	if (s.chunk_hdr_sz < SPARSE_CHUNK_HEADER_SIZE)
		return err_set(e, -EBADMSG, "sparse chunk header size %u (at least %u)",
			       s.chunk_hdr_sz, SPARSE_CHUNK_HEADER_SIZE);
	if (s.blk_sz == 0 || s.blk_sz % 4)
		return err_set(e, -EBADMSG, "sparse block size %u is not a multiple of 4",
			       s.blk_sz);

	pos = s.file_hdr_sz;
	for (uint32_t i = 0; i < s.total_chunks; i++) {
		struct sparse_chunk c;
		int r = chunk_at(&s, pos, blk, i, &c, &pos, e);

		if (r < 0)
			return r;
		blk += c.blocks;
	}
	if (pos != len)
		return err_set(e, -EBADMSG, "%zu bytes after the last of %u chunks (offset 0x%zx)",
			       len - pos, s.total_chunks, pos);
	*ret = s;
	return 0;
}

int sparse_next(const struct sparse_image *s, struct sparse_iter *it, struct sparse_chunk *c)
{
	size_t pos = it->pos ? it->pos : s->file_hdr_sz;

	if (it->idx >= s->total_chunks)
		return 0;
	/* Cannot fail on an image sparse_open() accepted. */
	if (chunk_at(s, pos, it->blk, it->idx, c, &it->pos, NULL) < 0)
		return 0;
	it->blk += c->blocks;
	it->idx++;
	return 1;
}

/* ---- splitter ---- */

/* A segment while the piece is built: header bytes live in a growing buffer. */
struct split_seg {
	bool hdr; /* data is at hdrs + off */
	size_t off;
	const void *data;
	size_t len;
};

struct splitter {
	uint32_t blk_sz, total_blks;
	uint64_t max;
	/* source: a validated sparse image, or one virtual RAW chunk over a raw buffer */
	const struct sparse_image *img;
	struct sparse_iter it;
	struct sparse_chunk cur; /* chunk being consumed */
	bool have_cur;
	uint32_t consumed; /* blocks of cur already emitted */
	bool raw_done;
	const uint8_t *raw;
	size_t raw_len;
	uint8_t *zeros; /* blk_sz zero bytes for the padded tail of a raw image */
	/* piece under construction */
	uint8_t *hdrs;
	size_t n_hdrs, cap_hdrs; /* bytes */
	struct split_seg *segs;
	size_t n_segs, cap_segs;
	struct sparse_seg *out;
	size_t cap_out;
	uint32_t n_chunks;
	uint64_t size;
};

static void splitter_release(struct splitter *sp)
{
	free(sp->zeros);
	free(sp->hdrs);
	free(sp->segs);
	free(sp->out);
}

static int add_seg(struct splitter *sp, bool hdr, size_t off, const void *data, size_t len,
		   struct err *e)
{
	if (sp->n_segs == sp->cap_segs) {
		size_t cap = sp->cap_segs ? 2 * sp->cap_segs : 32;
		struct split_seg *p = realloc(sp->segs, cap * sizeof(*p));

		if (!p)
			return err_set(e, -ENOMEM, "out of memory");
		sp->segs = p;
		sp->cap_segs = cap;
	}
	sp->segs[sp->n_segs++] =
		(struct split_seg){ .hdr = hdr, .off = off, .data = data, .len = len };
	sp->size += len;
	return 0;
}

/* Append a header of len bytes; returns its offset in hdrs or -ENOMEM. */
static int64_t add_hdr(struct splitter *sp, size_t len, struct err *e)
{
	size_t off = sp->n_hdrs;

	if (sp->n_hdrs + len > sp->cap_hdrs) {
		size_t cap = sp->cap_hdrs ? 2 * sp->cap_hdrs : 512;
		uint8_t *p;

		while (cap < sp->n_hdrs + len)
			cap *= 2;
		p = realloc(sp->hdrs, cap);
		if (!p)
			return err_set(e, -ENOMEM, "out of memory");
		sp->hdrs = p;
		sp->cap_hdrs = cap;
	}
	sp->n_hdrs += len;
	if (add_seg(sp, true, off, NULL, len, e) < 0)
		return -ENOMEM;
	return (int64_t)off;
}

static int add_chunk(struct splitter *sp, uint16_t type, uint32_t blocks, uint32_t body,
		     struct err *e)
{
	int64_t off = add_hdr(sp, SPARSE_CHUNK_HEADER_SIZE, e);

	if (off < 0)
		return (int)off;
	sparse_put_chunk(sp->hdrs + off, type, blocks, SPARSE_CHUNK_HEADER_SIZE + body);
	sp->n_chunks++;
	return 0;
}

/* Next source chunk into sp->cur; false at the end. */
static bool next_source(struct splitter *sp)
{
	sp->consumed = 0;
	if (sp->img) {
		do {
			if (sparse_next(sp->img, &sp->it, &sp->cur) <= 0)
				return (sp->have_cur = false);
		} while (sp->cur.type == SPARSE_CHUNK_CRC32);
		return (sp->have_cur = true);
	}
	if (sp->raw_done)
		return (sp->have_cur = false);
	sp->raw_done = true;
	sp->cur = (struct sparse_chunk){
		.type = SPARSE_CHUNK_RAW,
		.blocks = sp->total_blks,
		.data = sp->raw,
		.data_len = sp->raw_len,
	};
	return (sp->have_cur = true);
}

/* Emit blocks [consumed, consumed + n) of the current RAW chunk as one RAW chunk. */
static int emit_raw(struct splitter *sp, uint32_t n, struct err *e)
{
	uint64_t from = (uint64_t)sp->consumed * sp->blk_sz, want = (uint64_t)n * sp->blk_sz;
	size_t have = from < sp->cur.data_len ? sp->cur.data_len - (size_t)from : 0;
	size_t take = have < want ? have : (size_t)want;
	int r;

	r = add_chunk(sp, SPARSE_CHUNK_RAW, n, (uint32_t)want, e);
	if (r < 0)
		return r;
	if (take) {
		r = add_seg(sp, false, 0, sp->cur.data + from, take, e);
		if (r < 0)
			return r;
	}
	/* Only a raw image's last block can be short: pad it (< one block). */
	if (take < want) {
		r = add_seg(sp, false, 0, sp->zeros, (size_t)(want - take), e);
		if (r < 0)
			return r;
	}
	sp->consumed += n;
	return 0;
}

/*
 * Build one piece starting at the current source position.  Sets *carries
 * when the piece holds RAW or FILL data.
 */
static int build_piece(struct splitter *sp, uint32_t start_blk, uint32_t *end_blk, bool *carries,
		       struct err *e)
{
	uint64_t used;
	uint32_t blk = start_blk;
	int64_t hoff;
	int r;

	sp->n_hdrs = sp->n_segs = 0;
	sp->n_chunks = 0;
	sp->size = 0;
	*carries = false;
	hoff = add_hdr(sp, SPARSE_HEADER_SIZE, e);
	if (hoff < 0)
		return (int)hoff;
	if (start_blk > 0) {
		r = add_chunk(sp, SPARSE_CHUNK_DONT_CARE, start_blk, 0, e);
		if (r < 0)
			return r;
	}
	/* Room for a trailing DONT_CARE is kept from the start. */
	used = sp->size + SPARSE_CHUNK_HEADER_SIZE;

	while (sp->have_cur) {
		uint32_t rem = sp->cur.blocks - sp->consumed;
		uint64_t cost;

		switch (sp->cur.type) {
		case SPARSE_CHUNK_RAW:
			cost = SPARSE_CHUNK_HEADER_SIZE + (uint64_t)rem * sp->blk_sz;
			if (used + cost > sp->max) {
				uint64_t room = sp->max - used;
				uint32_t n;

				if (room < SPARSE_CHUNK_HEADER_SIZE + (uint64_t)sp->blk_sz)
					goto full;
				n = (uint32_t)((room - SPARSE_CHUNK_HEADER_SIZE) / sp->blk_sz);
				r = emit_raw(sp, n, e);
				if (r < 0)
					return r;
				blk += n;
				*carries = true;
				goto full;
			}
			r = emit_raw(sp, rem, e);
			if (r < 0)
				return r;
			*carries = true;
			break;
		case SPARSE_CHUNK_FILL:
			cost = SPARSE_CHUNK_HEADER_SIZE + 4;
			if (used + cost > sp->max)
				goto full;
			r = add_chunk(sp, SPARSE_CHUNK_FILL, rem, 4, e);
			if (r < 0)
				return r;
			r = add_seg(sp, false, 0, sp->cur.data, 4, e);
			if (r < 0)
				return r;
			*carries = true;
			break;
		default: /* DONT_CARE */
			cost = SPARSE_CHUNK_HEADER_SIZE;
			if (used + cost > sp->max)
				goto full;
			r = add_chunk(sp, SPARSE_CHUNK_DONT_CARE, rem, 0, e);
			if (r < 0)
				return r;
			break;
		}
		used += cost;
		blk += rem;
		next_source(sp);
	}
full:
	if (blk < sp->total_blks) {
		r = add_chunk(sp, SPARSE_CHUNK_DONT_CARE, sp->total_blks - blk, 0, e);
		if (r < 0)
			return r;
	}
	sparse_put_header(sp->hdrs + hoff, sp->blk_sz, sp->total_blks, sp->n_chunks, 0);
	*end_blk = blk;
	return 0;
}

static int deliver(struct splitter *sp, unsigned int index, uint32_t first, uint32_t end,
		   sparse_piece_cb_t cb, void *ud, struct err *e)
{
	struct sparse_piece p;

	if (sp->cap_out < sp->n_segs) {
		struct sparse_seg *o = realloc(sp->out, sp->n_segs * sizeof(*o));

		if (!o)
			return err_set(e, -ENOMEM, "out of memory");
		sp->out = o;
		sp->cap_out = sp->n_segs;
	}
	/* Header pointers are resolved only now: hdrs may have moved while growing. */
	for (size_t i = 0; i < sp->n_segs; i++)
		sp->out[i] = (struct sparse_seg){
			.data = sp->segs[i].hdr ? sp->hdrs + sp->segs[i].off : sp->segs[i].data,
			.len = sp->segs[i].len,
		};
	p = (struct sparse_piece){
		.index = index,
		.first_blk = first,
		.end_blk = end,
		.total_blks = sp->total_blks,
		.blk_sz = sp->blk_sz,
		.size = sp->size,
		.segs = sp->out,
		.n_segs = sp->n_segs,
	};
	return cb(ud, &p, e);
}

int sparse_split(const uint8_t *buf, size_t len, uint32_t raw_blk_sz, uint64_t max_piece,
		 sparse_piece_cb_t cb, void *ud, struct err *e)
{
	struct sparse_image img;
	struct splitter sp = { .max = max_piece };
	unsigned int n = 0;
	uint32_t blk = 0;
	int r = 0;

	if (sparse_is_sparse(buf, len)) {
		r = sparse_open(buf, len, &img, e);
		if (r < 0)
			return r;
		sp.img = &img;
		sp.blk_sz = img.blk_sz;
		sp.total_blks = img.total_blks;
	} else {
		uint64_t blocks;

		sp.blk_sz = raw_blk_sz ? raw_blk_sz : SPARSE_DEFAULT_BLOCK;
		if (sp.blk_sz % 4)
			return err_set(e, -EINVAL, "block size %u is not a multiple of 4",
				       sp.blk_sz);
		blocks = ((uint64_t)len + sp.blk_sz - 1) / sp.blk_sz;
		if (blocks > UINT32_MAX)
			return err_set(e, -EINVAL, "raw image of %zu bytes has too many blocks",
				       len);
		sp.total_blks = (uint32_t)blocks;
		sp.raw = buf;
		sp.raw_len = len;
		sp.zeros = calloc(1, sp.blk_sz);
		if (!sp.zeros)
			return err_set(e, -ENOMEM, "out of memory");
	}
	/* File header, leading and trailing skip, one RAW chunk header and one block. */
	if (max_piece < SPARSE_HEADER_SIZE + 3 * SPARSE_CHUNK_HEADER_SIZE + (uint64_t)sp.blk_sz) {
		splitter_release(&sp);
		return err_set(e, -EINVAL,
			       "pieces of at most %llu bytes cannot carry one %u-byte block",
			       (unsigned long long)max_piece, sp.blk_sz);
	}

	next_source(&sp);
	while (sp.have_cur || n == 0) {
		uint32_t end = blk;
		bool carries;

		r = build_piece(&sp, blk, &end, &carries, e);
		if (r < 0)
			break;
		/* A piece of skips only changes nothing on the device. */
		if (carries || (n == 0 && !sp.have_cur)) {
			r = deliver(&sp, n, blk, end, cb, ud, e);
			if (r < 0)
				break;
			n++;
		}
		blk = end;
		if (!sp.have_cur)
			break;
	}
	splitter_release(&sp);
	return r < 0 ? r : (int)n;
}
