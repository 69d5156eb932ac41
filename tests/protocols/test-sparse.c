/*
 * Tests of protocols/sparse.c: the Android sparse reader (good and bad
 * images, exact errno and message) and the splitter (pieces are valid
 * sparse images within the size limit that, flashed in order, rebuild the
 * original; data is referenced, not copied).
 */
#include <errno.h>

#include "protocols/sparse.h"
#include "tests/lib/test.h"

#define BLK 4096

/* A little builder for sparse files in a static buffer. */
static uint8_t sbuf[1 << 20];
static size_t slen;
static uint32_t s_chunks, s_blocks;

static void sb_begin(void)
{
	slen = SPARSE_HEADER_SIZE;
	s_chunks = s_blocks = 0;
}

static void sb_chunk(uint16_t type, uint32_t blocks, const void *data, size_t dlen)
{
	sparse_put_chunk(sbuf + slen, type, blocks, (uint32_t)(SPARSE_CHUNK_HEADER_SIZE + dlen));
	slen += SPARSE_CHUNK_HEADER_SIZE;
	if (dlen)
		memcpy(sbuf + slen, data, dlen);
	slen += dlen;
	s_chunks++;
	if (type != SPARSE_CHUNK_CRC32)
		s_blocks += blocks;
}

static void sb_end(uint32_t total_blks)
{
	sparse_put_header(sbuf, BLK, total_blks ? total_blks : s_blocks, s_chunks, 0);
}

static uint8_t pattern[64 * BLK];

static void fill_pattern(void)
{
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(pattern); i++) {
		x = x * 1103515245 + 12345;
		pattern[i] = (uint8_t)(x >> 16);
	}
}

/* RAW 5, FILL 3, DONT_CARE 4, CRC32, RAW 7, DONT_CARE 2: 21 blocks. */
static void build_mixed(void)
{
	uint8_t fill[4] = { 0xde, 0xad, 0xbe, 0xef }, crc[4] = { 0 };

	fill_pattern();
	sb_begin();
	sb_chunk(SPARSE_CHUNK_RAW, 5, pattern, 5 * BLK);
	sb_chunk(SPARSE_CHUNK_FILL, 3, fill, 4);
	sb_chunk(SPARSE_CHUNK_DONT_CARE, 4, NULL, 0);
	sb_chunk(SPARSE_CHUNK_CRC32, 0, crc, 4);
	sb_chunk(SPARSE_CHUNK_RAW, 7, pattern + 5 * BLK, 7 * BLK);
	sb_chunk(SPARSE_CHUNK_DONT_CARE, 2, NULL, 0);
	sb_end(0);
}

/* What flashing a sparse image does to dst: DONT_CARE leaves it alone. */
static void expand(const uint8_t *img, size_t len, uint8_t *dst, size_t dst_len)
{
	struct sparse_image s;
	struct sparse_iter it = SPARSE_ITER_INIT;
	struct sparse_chunk c;
	struct err e = { 0 };

	if (sparse_open(img, len, &s, &e) < 0)
		TEST_FAIL("piece does not parse: %s", e.msg);
	if (sparse_expanded_size(&s) > dst_len)
		TEST_FAIL("piece expands to %llu > %zu",
			  (unsigned long long)sparse_expanded_size(&s), dst_len);
	while (sparse_next(&s, &it, &c) > 0) {
		uint8_t *o = dst + (size_t)c.first_blk * s.blk_sz;

		if (c.type == SPARSE_CHUNK_RAW)
			memcpy(o, c.data, c.data_len);
		else if (c.type == SPARSE_CHUNK_FILL)
			for (size_t i = 0; i < (size_t)c.blocks * s.blk_sz; i++)
				o[i] = c.data[i % 4];
	}
}

struct collect {
	uint8_t *dst;
	size_t dst_len;
	uint64_t max;
	unsigned int n;
	const uint8_t *src;
	size_t src_len;
	size_t big_copied; /* large segments not pointing into src */
};

static uint8_t piece[1 << 20];

static int collect_cb(void *ud, const struct sparse_piece *p, struct err *e)
{
	struct collect *c = ud;
	size_t o = 0;

	(void)e;
	if (p->size > c->max)
		TEST_FAIL("piece %u: %llu bytes > max %llu", p->index, (unsigned long long)p->size,
			  (unsigned long long)c->max);
	if (p->index != c->n)
		TEST_FAIL("piece index %u, expected %u", p->index, c->n);
	for (size_t i = 0; i < p->n_segs; i++) {
		const uint8_t *d = p->segs[i].data;

		if (p->segs[i].len >= BLK && (d < c->src || d >= c->src + c->src_len))
			c->big_copied++;
		memcpy(piece + o, d, p->segs[i].len);
		o += p->segs[i].len;
	}
	if (o != p->size)
		TEST_FAIL("segments add up to %zu, size says %llu", o, (unsigned long long)p->size);
	expand(piece, o, c->dst, c->dst_len);
	c->n++;
	return 0;
}

static uint8_t want[64 * BLK], got[64 * BLK];

TEST(sparse_open_reads_header_and_chunks)
{
	struct sparse_image s;
	struct sparse_iter it = SPARSE_ITER_INIT;
	struct sparse_chunk c;
	struct err e = { 0 };
	uint16_t types[8];
	int n = 0;

	build_mixed();
	ASSERT_TRUE(sparse_is_sparse(sbuf, slen));
	ASSERT_OK(sparse_open(sbuf, slen, &s, &e));
	ASSERT_EQ(s.blk_sz, BLK);
	ASSERT_EQ(s.total_blks, 21);
	ASSERT_EQ(s.total_chunks, 6);
	ASSERT_EQ(sparse_expanded_size(&s), 21 * BLK);
	while (sparse_next(&s, &it, &c) > 0) {
		types[n++] = c.type;
		if (n == 5) {
			ASSERT_EQ(c.first_blk, 12);
			ASSERT_EQ(c.blocks, 7);
			ASSERT_TRUE(c.data == sbuf + c.offset + SPARSE_CHUNK_HEADER_SIZE);
		}
	}
	ASSERT_EQ(n, 6);
	ASSERT_EQ(types[3], SPARSE_CHUNK_CRC32);
}

TEST(sparse_bad_magic_and_short_header)
{
	struct sparse_image s;
	struct err e = { 0 };

	build_mixed();
	sbuf[0] ^= 1;
	ASSERT_TRUE(!sparse_is_sparse(sbuf, slen));
	ASSERT_EQ(sparse_open(sbuf, slen, &s, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "bad sparse magic 0xed26ff3b (expected 0xed26ff3a)");
	err_clear(&e);
	ASSERT_EQ(sparse_open(sbuf, 20, &s, &e), -EMSGSIZE);
	ASSERT_STREQ(e.msg, "sparse image of 20 bytes is shorter than its header");
}

TEST(sparse_bad_block_size_gives_ebadmsg)
{
	struct sparse_image s;
	struct err e = { 0 };

	build_mixed();
	sparse_put_header(sbuf, 4098, 21, 6, 0);
	ASSERT_EQ(sparse_open(sbuf, slen, &s, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "sparse block size 4098 is not a multiple of 4");
}

TEST(sparse_chunk_overflow_gives_erange)
{
	struct sparse_image s;
	struct err e = { 0 };

	build_mixed();
	sparse_put_header(sbuf, BLK, 20, 6, 0); /* chunks cover 21 */
	ASSERT_EQ(sparse_open(sbuf, slen, &s, &e), -ERANGE);
	ASSERT_STREQ(
		e.msg,
		"chunk overflow: chunk 5 at offset 0xc060 covers blocks 19..21, the image has 20");
}

TEST(sparse_truncated_raw_gives_emsgsize)
{
	struct sparse_image s;
	struct err e = { 0 };

	build_mixed();
	ASSERT_EQ(sparse_open(sbuf, 1000, &s, &e), -EMSGSIZE);
	ASSERT_STREQ(
		e.msg,
		"chunk 0 at offset 0x1c: 20480 data bytes run past the end of the file (1000 bytes)");
}

TEST(sparse_missing_chunk_header_gives_emsgsize)
{
	struct sparse_image s;
	struct err e = { 0 };

	build_mixed();
	sparse_put_header(sbuf, BLK, 21, 7, 0); /* one chunk more than there is */
	ASSERT_EQ(sparse_open(sbuf, slen, &s, &e), -EMSGSIZE);
	ASSERT_CONTAINS(e.msg, "chunk 6 at offset 0xc06c: header past the end of the file");
}

TEST(sparse_bad_chunk_type_and_size_give_ebadmsg)
{
	struct sparse_image s;
	struct err e = { 0 };
	size_t fill_off;

	build_mixed();
	fill_off = SPARSE_HEADER_SIZE + SPARSE_CHUNK_HEADER_SIZE + 5 * BLK;
	sbuf[fill_off] = 0xc5;
	ASSERT_EQ(sparse_open(sbuf, slen, &s, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "chunk 1 at offset 0x5028: unknown chunk type 0xcac5");
	build_mixed();
	sparse_put_chunk(sbuf + fill_off, SPARSE_CHUNK_FILL, 3, 20);
	err_clear(&e);
	ASSERT_EQ(sparse_open(sbuf, slen, &s, &e), -EBADMSG);
	ASSERT_STREQ(
		e.msg,
		"chunk 1 at offset 0x5028: type 0xcac2 with 3 blocks needs total_sz 16, header says 20");
}

TEST(sparse_trailing_bytes_give_ebadmsg)
{
	struct sparse_image s;
	struct err e = { 0 };

	build_mixed();
	ASSERT_EQ(sparse_open(sbuf, slen + 3, &s, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "3 bytes after the last of 6 chunks (offset 0xc06c)");
}

static void check_split(const uint8_t *src, size_t len, uint64_t max, unsigned int min_pieces)
{
	struct collect c = {
		.dst = got, .dst_len = sizeof(got), .max = max, .src = src, .src_len = len
	};
	struct err e = { 0 };
	int n;

	memset(want, 0x5a, sizeof(want));
	memset(got, 0x5a, sizeof(got));
	if (sparse_is_sparse(src, len))
		expand(src, len, want, sizeof(want));
	else
		memcpy(want, src, len); /* the tail block pads with zeros */
	n = sparse_split(src, len, BLK, max, collect_cb, &c, &e);
	if (n < 0)
		TEST_FAIL("split at %llu: %s", (unsigned long long)max, e.msg);
	ASSERT_EQ(n, c.n);
	ASSERT_TRUE(c.n >= min_pieces);
	ASSERT_EQ(c.big_copied, 0);
	if (!sparse_is_sparse(src, len) && len % BLK) {
		for (size_t i = len; i < (len + BLK - 1) / BLK * BLK; i++)
			want[i] = 0;
	}
	ASSERT_MEMEQ(got, want, sizeof(want));
}

TEST(sparse_split_sparse_pieces_rebuild_the_image)
{
	build_mixed();
	/* whole image in one piece, then ever smaller pieces down to one block */
	check_split(sbuf, slen, 1 << 20, 1);
	check_split(sbuf, slen, 6 * BLK, 3);
	check_split(sbuf, slen, 3 * BLK, 5);
	check_split(sbuf, slen, BLK + 64, 12);
}

TEST(sparse_split_raw_pieces_rebuild_the_image)
{
	fill_pattern();
	check_split(pattern, 10 * BLK, 4 * BLK, 3);
	/* not a multiple of the block size: the last block is zero-padded */
	check_split(pattern, 10 * BLK + 100, 3 * BLK + 100, 4);
	check_split(pattern, 100, BLK + 64, 1);
}

TEST(sparse_split_skip_only_pieces_are_not_sent)
{
	struct collect c = { .dst = got, .dst_len = sizeof(got), .max = BLK + 64 };
	struct err e = { 0 };
	uint8_t crc[4] = { 0 };

	fill_pattern();
	sb_begin();
	sb_chunk(SPARSE_CHUNK_RAW, 1, pattern, BLK);
	sb_chunk(SPARSE_CHUNK_DONT_CARE, 30, NULL, 0);
	sb_chunk(SPARSE_CHUNK_CRC32, 0, crc, 4);
	sb_chunk(SPARSE_CHUNK_RAW, 1, pattern + BLK, BLK);
	sb_end(0);
	c.src = sbuf;
	c.src_len = slen;
	memset(got, 0, sizeof(got));
	ASSERT_EQ(sparse_split(sbuf, slen, 0, BLK + 64, collect_cb, &c, &e), 2);
	ASSERT_MEMEQ(got, pattern, BLK);
	ASSERT_MEMEQ(got + 31 * BLK, pattern + BLK, BLK);
}

TEST(sparse_split_limit_too_small_gives_einval)
{
	struct collect c = { .dst = got, .dst_len = sizeof(got), .max = 1 };
	struct err e = { 0 };

	fill_pattern();
	ASSERT_EQ(sparse_split(pattern, 8 * BLK, BLK, BLK, collect_cb, &c, &e), -EINVAL);
	ASSERT_STREQ(e.msg, "pieces of at most 4096 bytes cannot carry one 4096-byte block");
}

static int stop_cb(void *ud, const struct sparse_piece *p, struct err *e)
{
	(void)ud;
	if (p->index == 1)
		return err_set(e, -ENODEV, "unplugged at piece %u", p->index);
	return 0;
}

TEST(sparse_split_stops_at_callback_error)
{
	struct err e = { 0 };

	fill_pattern();
	ASSERT_EQ(sparse_split(pattern, 8 * BLK, BLK, 2 * BLK + 64, stop_cb, NULL, &e), -ENODEV);
	ASSERT_STREQ(e.msg, "unplugged at piece 1");
}

TEST(sparse_split_bad_sparse_input_reports_parse_error)
{
	struct err e = { 0 };

	build_mixed();
	sparse_put_header(sbuf, BLK, 20, 6, 0);
	ASSERT_EQ(sparse_split(sbuf, slen, 0, 2 * BLK, stop_cb, NULL, &e), -ERANGE);
	ASSERT_CONTAINS(e.msg, "chunk overflow");
}

TEST_MAIN()
