/*
 * This file implements the SPI-NOR parts of spinor.h: a small table of the
 * flash chips found on Ingenic T31 boards with their datasheet geometry and
 * typical timings, and erase/program with the time each takes.
 */
#include "tests/sim/boards/spinor.h"

#include <errno.h>
#include <string.h>
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
 *  - Every other part (IDs and sizes as protocols/spinor_parts.c, which
 *    cites their datasheets): the W25Q128JV cell timings with tCE scaled to
 *    the array (assumption: the times were not taken from each datasheet;
 *    they only set the pace, not what is stored).
 *  - ops4b: the part decodes 13h/12h/21h/DCh with a 4-byte address in
 *    3-byte mode (W25Q256JV, W25Q512JV, GD25Q256, MX25L25645G datasheets,
 *    "Instruction Set"); the <= 16 MiB parts do not have them.
 */
#define W25Q_T                                                                                     \
	.page = 256, .t_pp = 400 * US, .t_se = 45 * MS, .t_be32 = 120 * MS, .t_be64 = 150 * MS
#define PART(n, id, mib, tce_s, four)                                                              \
	{                                                                                          \
		.name = n, .jedec = id, .size = (mib) << 20, W25Q_T, .t_ce = (tce_s)*1000 * MS,    \
		.ops4b = four                                                                      \
	}
static const struct spinor_part spinor_parts[] = {
	PART("w25q128jv", 0xef4018, 16u, 40, 0),
	PART("w25q128jv-m", 0xef7018, 16u, 40, 0),
	{ .name = "xm25qh128a",
	  .jedec = 0x207018,
	  .size = 16u << 20,
	  .page = 256,
	  .t_pp = 500 * US,
	  .t_se = 40 * MS,
	  .t_be32 = 200 * MS,
	  .t_be64 = 300 * MS,
	  .t_ce = 60000 * MS },
	PART("w25q64jv", 0xef4017, 8u, 20, 0),
	PART("w25q64jv-m", 0xef7017, 8u, 20, 0),
	PART("w25q256jv", 0xef4019, 32u, 80, 1),
	PART("w25q256jv-m", 0xef7019, 32u, 80, 1),
	PART("w25q512jv", 0xef4020, 64u, 160, 1),
	PART("gd25q64c", 0xc84017, 8u, 20, 0),
	PART("gd25q128c", 0xc84018, 16u, 40, 0),
	PART("gd25q256", 0xc84019, 32u, 80, 1),
	PART("mx25l6433f", 0xc22017, 8u, 20, 0),
	PART("mx25l12845g", 0xc22018, 16u, 40, 0),
	PART("mx25l25645g", 0xc22019, 32u, 80, 1),
	PART("xm25qh64a", 0x207017, 8u, 20, 0),
	PART("xm25qh128b", 0x206018, 16u, 40, 0),
	PART("en25qh64a", 0x1c7017, 8u, 20, 0),
	PART("en25qh128a", 0x1c7018, 16u, 40, 0),
	PART("by25q64as", 0x684017, 8u, 20, 0),
	PART("by25q128as", 0x684018, 16u, 40, 0),
	PART("zb25vq64a", 0x5e4017, 8u, 20, 0),
	PART("zb25vq128a", 0x5e4018, 16u, 40, 0),
	PART("p25q64h", 0x856017, 8u, 20, 0),
	PART("p25q128h", 0x856018, 16u, 40, 0),
	PART("py25q128ha", 0x852018, 16u, 40, 0),
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
	memset(&f->host, 0, sizeof(f->host));
	f->addr4 = 0;
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

/* 3-byte addresses reach the first 16 MiB: the chip gets only A23..A0 (see map()). */
#define ADDR3_MASK 0xffffffu

/* Address bytes the chip takes with `op` now; -1: not a command it has. */
static int chip_addr_bytes(const struct spinor *f, uint8_t op)
{
	switch (op) {
	case 0x13:
	case 0x0c:
	case 0x6c:
	case 0x12:
	case 0x34:
	case 0x3e:
	case 0x21:
	case 0xdc:
	case 0x5c:
		return f->p.ops4b ? 4 : -1;
	case 0x03:
	case 0x0b:
	case 0x6b:
	case 0x02:
	case 0x32:
	case 0x38:
	case 0x20:
	case 0x52:
	case 0xd8:
		return f->addr4 ? 4 : 3;
	default:
		return -1;
	}
}

/*
 * Where a command with `ab` address bytes for host offset `off` lands.  A
 * chip ignores an opcode it lacks (-EOPNOTSUPP); one framed with the wrong
 * number of address bytes shifts address into data (-EPROTO: the model
 * does nothing rather than invent which garbage).  With 3 address bytes
 * the upper byte comes from the Extended Address Register, 0 from
 * power-up: offsets at 16 MiB and above wrap to the start of the chip
 * (W25Q256JV datasheet, "Extended Address Register"; Linux winbond.c on
 * the EAR).
 */
static int map(const struct spinor *f, uint8_t op, uint8_t ab, uint64_t off, uint64_t *addr)
{
	int want;

	if (!f->host.set) {
		*addr = off;
		return 0;
	}
	want = chip_addr_bytes(f, op);
	if (want < 0)
		return -EOPNOTSUPP;
	if (want != ab)
		return -EPROTO;
	*addr = ab == 3 ? off & ADDR3_MASK : off;
	return 0;
}

uint64_t spinor_erase(struct spinor *f, uint32_t off, uint32_t len, uint32_t unit)
{
	uint64_t start, end, a;

	if (unit != 4096 && unit != 32768)
		unit = 65536;
	if (!len || off >= f->nor.size || len > f->nor.size - off)
		return 0;
	start = off / unit * (uint64_t)unit;
	end = ((uint64_t)off + len + unit - 1) / unit * unit;
	if (end > f->nor.size)
		end = f->nor.size;
	/* One erase command per unit, each addressed as the host frames it. */
	for (uint64_t u = start; u < end; u += unit)
		if (map(f, f->host.erase_op, f->host.erase_ab, u, &a) == 0 && a < f->nor.size)
			sim_nor_erase(&f->nor, a, end - u < unit ? end - u : unit);
	return (end - start + unit - 1) / unit * spinor_unit_time(f, unit);
}

uint64_t spinor_chip_erase(struct spinor *f)
{
	sim_nor_erase(&f->nor, 0, f->nor.size);
	return f->p.t_ce;
}

/* The byte a host command for offset off + i reaches, given the mapped start a. */
static uint64_t at(uint8_t ab, uint64_t a, uint32_t i)
{
	return ab == 3 ? (a + i) & ADDR3_MASK : a + i;
}

/* The command's bytes stay in one run (no wrap at 16 MiB). */
static int contiguous(uint8_t ab, uint64_t a, uint32_t len)
{
	return at(ab, a, len - 1) == a + len - 1;
}

/* What the host's read command returns for [off, off+len) equals data. */
static int reads_back(const struct spinor *f, uint32_t off, const uint8_t *data, uint32_t len)
{
	uint64_t a;

	if (map(f, f->host.read_op, f->host.read_ab, off, &a) < 0)
		return 0;
	if (contiguous(f->host.read_ab, a, len))
		return !memcmp(f->nor.mem + a, data, len);
	for (uint32_t i = 0; i < len; i++)
		if (f->nor.mem[at(f->host.read_ab, a, i)] != data[i])
			return 0;
	return 1;
}

uint64_t spinor_program(struct spinor *f, uint32_t off, const uint8_t *data, uint32_t len, int *ok)
{
	uint64_t pages, a;

	if (off > f->nor.size || len > f->nor.size - off) {
		*ok = -1;
		return 0;
	}
	if (!len) {
		*ok = 1;
		return 0;
	}
	if (!f->host.set) {
		sim_nor_program(&f->nor, off, data, len);
	} else if (map(f, f->host.write_op, f->host.write_ab, off, &a) < 0) {
		/* not taken: nothing programmed */
	} else if (contiguous(f->host.write_ab, a, len)) {
		sim_nor_program(&f->nor, a, data, len);
	} else {
		/* Each byte goes where the chip decodes it; a wrapped write
		 * overwrites the low 16 MiB and leaves the target alone. */
		for (uint32_t i = 0; i < len; i++)
			sim_nor_program(&f->nor, at(f->host.write_ab, a, i), data + i, 1);
	}
	/* The burner's write-back check reads with its own read command. */
	*ok = f->host.set ? reads_back(f, off, data, len) : !memcmp(f->nor.mem + off, data, len);
	/* Pages touched: a write that straddles a page boundary costs two. */
	pages = ((uint64_t)off + len - 1) / f->p.page - off / f->p.page + 1;
	return pages * f->p.t_pp;
}

int spinor_read(const struct spinor *f, uint32_t off, uint8_t *buf, uint32_t len)
{
	uint64_t a;
	int r;

	if (off > f->nor.size || len > f->nor.size - off)
		return -ERANGE;
	r = map(f, f->host.read_op, f->host.read_ab, off, &a);
	if (r < 0) {
		memset(buf, 0xff, len);
		return r;
	}
	for (uint32_t i = 0; i < len; i++)
		buf[i] = f->nor.mem[at(f->host.read_ab, a, i)];
	return 0;
}

void spinor_set_host(struct spinor *f, const struct spinor_host *h)
{
	if (h)
		f->host = *h;
	else
		memset(&f->host, 0, sizeof(f->host));
}

void spinor_host_init(struct spinor *f)
{
	/* EN4B on a part beyond 16 MiB switches the legacy opcodes to 4 bytes. */
	if (f->host.set && f->host.en4b_op == 0xb7 && f->nor.size > (16u << 20))
		f->addr4 = 1;
}

void spinor_power_on(struct spinor *f)
{
	f->addr4 = 0;
}
