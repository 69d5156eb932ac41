/*
 * DfuSe memory-layout strings, the iInterface string of each alt setting
 * (protocol-dfu.md §2.6, after ST UM0424 §4.3.2):
 *
 *   '@' name ( '/' '0x' hexaddr '/' seg ( ',' seg )* )+
 *   seg = count '*' size [ 'K' | 'M' | 'B' | ' ' ] type      type = 'a'..'g'
 *
 * e.g. "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg".  Segment i
 * starts where segment i-1 ended; each /0xADDR/ group restarts the address.
 * The sector size is also the erase granularity.  Type letter low 3 bits:
 * readable (1), erasable (2), writable (4).
 *
 * Pure: no USB, no allocation.  The layout is a plain caller-owned struct.
 */
#ifndef FLASHD_PROTOCOLS_DFUSE_MEM_H
#define FLASHD_PROTOCOLS_DFUSE_MEM_H

#include <stdint.h>

#include "common/err.h"

#define DFUSE_MEM_READABLE 0x1
#define DFUSE_MEM_ERASABLE 0x2
#define DFUSE_MEM_WRITABLE 0x4

/* More than any ST ROM string we know (the F4 flash has 3); bounds the struct. */
#define DFUSE_MEM_MAX_SEGMENTS 32
#define DFUSE_MEM_NAME_MAX 64

/* n_sectors sectors of sector_size bytes from start; end may be 2^32 exactly. */
struct dfuse_segment {
	uint32_t start;
	uint32_t sector_size;
	uint32_t n_sectors;
	uint8_t perms; /* DFUSE_MEM_* */
};

struct dfuse_layout {
	char name[DFUSE_MEM_NAME_MAX]; /* after '@', trailing blanks removed, truncated */
	unsigned int n_segments;
	struct dfuse_segment seg[DFUSE_MEM_MAX_SEGMENTS];
};

/* One past the last byte of a segment (64-bit: 0xFFFF0000 + 64 KiB is fine). */
static inline uint64_t dfuse_segment_end(const struct dfuse_segment *s)
{
	return (uint64_t)s->start + (uint64_t)s->sector_size * s->n_sectors;
}

/*
 * Parse s into *ret.  Returns 0, or -EBADMSG with a message naming the
 * character offset ("layout offset 23: expected '*'"), -E2BIG for more than
 * DFUSE_MEM_MAX_SEGMENTS segments, -ERANGE if a segment passes 4 GiB.
 */
int dfuse_mem_parse(const char *s, struct dfuse_layout *ret, struct err *e);

/* The segment holding addr, or NULL. */
const struct dfuse_segment *dfuse_mem_find(const struct dfuse_layout *l, uint32_t addr);

/*
 * Sector holding addr: its start and size.  Returns 0 or -ENOENT if addr is
 * in no segment.
 */
int dfuse_mem_sector(const struct dfuse_layout *l, uint32_t addr, uint32_t *ret_start,
		     uint32_t *ret_size);

/*
 * Check that every byte of [addr, addr+len) lies in segments that have all
 * of `perms`.  Returns 0, -ERANGE (a byte outside the layout, message names
 * its address) or -EACCES (a segment lacks a permission).  len 0 is fine.
 */
int dfuse_mem_check(const struct dfuse_layout *l, uint32_t addr, uint64_t len, uint8_t perms,
		    struct err *e);

#endif
