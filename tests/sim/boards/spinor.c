/*
 * This file implements the SPI-NOR parts of spinor.h: a small table of the
 * flash chips found on Ingenic T31 boards with their datasheet geometry and
 * typical timings, and erase/program with the time each takes.
 */
#include "tests/sim/boards/spinor.h"

#include <errno.h>
#include <strings.h>

#define MS 1000000ull
#define US 1000ull

/*
 * Typical values ("typ" column); maxima are 5-10x these and are what a host
 * must budget for, but a model that always took the maximum would hide slow
 * paths in the host instead of exposing them.
 *  - W25Q128JV (Winbond datasheet, AC electrical characteristics): page
 *    program tPP 0.4 ms, sector erase tSE 45 ms, 32 KiB tBE1 120 ms, 64 KiB
 *    tBE2 150 ms, chip erase tCE 40 s.  JEDEC EF4018 (-IQ/-JQ, SPI) and
 *    EF7018 (-IM/-JM); protocol-ingenic.md §0.6.
 *  - XM25QH128A (XMC datasheet, features page): page program 0.5 ms, sector
 *    erase 40 ms, half block 200 ms, block 300 ms, chip erase 60 s.  JEDEC
 *    207018 (protocol-ingenic.md §0.6, [IFT-db]).
 *  - W25Q64JV: same cell timings as the 128 Mbit part, tCE 20 s
 *    (assumption: half the array of the W25Q128JV); JEDEC EF4017.
 */
static const struct spinor_part spinor_parts[] = {
	{ "w25q128jv", 0xef4018, 16u << 20, 256, 400 * US, 45 * MS, 120 * MS, 150 * MS,
	  40000 * MS },
	{ "w25q128jv-m", 0xef7018, 16u << 20, 256, 400 * US, 45 * MS, 120 * MS, 150 * MS,
	  40000 * MS },
	{ "xm25qh128a", 0x207018, 16u << 20, 256, 500 * US, 40 * MS, 200 * MS, 300 * MS,
	  60000 * MS },
	{ "w25q64jv", 0xef4017, 8u << 20, 256, 400 * US, 45 * MS, 120 * MS, 150 * MS,
	  20000 * MS },
};
#define SPINOR_N_PARTS (sizeof(spinor_parts) / sizeof(spinor_parts[0]))

const struct spinor_part *spinor_find(const char *name)
{
	for (size_t i = 0; i < SPINOR_N_PARTS; i++)
		if (!strcasecmp(spinor_parts[i].name, name))
			return &spinor_parts[i];
	return NULL;
}

const char *spinor_name(size_t i)
{
	return i < SPINOR_N_PARTS ? spinor_parts[i].name : NULL;
}

int spinor_init(struct spinor *f, const struct spinor_part *p)
{
	f->p = *p;
	return sim_nor_init(&f->nor, p->size);
}

void spinor_release(struct spinor *f)
{
	sim_nor_release(&f->nor);
}

static uint64_t spinor_unit_time(const struct spinor *f, uint32_t unit)
{
	switch (unit) {
	case 4096:
		return f->p.t_se;
	case 32768:
		return f->p.t_be32;
	default:
		return f->p.t_be64;
	}
}

uint64_t spinor_erase(struct spinor *f, uint32_t off, uint32_t len, uint32_t unit)
{
	uint64_t start, end;

	if (unit != 4096 && unit != 32768)
		unit = 65536;
	if (!len || off >= f->nor.size || len > f->nor.size - off)
		return 0;
	start = off / unit * (uint64_t)unit;
	end = ((uint64_t)off + len + unit - 1) / unit * unit;
	if (end > f->nor.size)
		end = f->nor.size;
	sim_nor_erase(&f->nor, start, end - start);
	return (end - start + unit - 1) / unit * spinor_unit_time(f, unit);
}

uint64_t spinor_chip_erase(struct spinor *f)
{
	sim_nor_erase(&f->nor, 0, f->nor.size);
	return f->p.t_ce;
}

uint64_t spinor_program(struct spinor *f, uint32_t off, const uint8_t *data, uint32_t len, int *ok)
{
	uint64_t pages;
	int r;

	r = sim_nor_program(&f->nor, off, data, len);
	*ok = r < 0 ? -1 : r;
	if (r < 0 || !len)
		return 0;
	/* Pages touched: a write that straddles a page boundary costs two. */
	pages = ((uint64_t)off + len - 1) / f->p.page - off / f->p.page + 1;
	return pages * f->p.t_pp;
}
