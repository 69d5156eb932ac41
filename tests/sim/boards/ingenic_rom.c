/*
 * This file implements the Ingenic T31 boot ROM's USB protocol (§2):
 * GET_CPU_INFO, SET_DATA_ADDRESS/LENGTH, bulk OUT into RAM, bulk IN memory
 * reads (eFuse shadow, SoC ID), FLUSH_CACHES, PROGRAM_START1 (one-shot,
 * d2i_len) and PROGRAM_START2.  It cannot run MIPS code: an SPL loaded
 * into cache-as-RAM and started counts as running, an image in DRAM
 * started with START2 as the burner.  Fixture headers are checked only
 * with check_images (fault injection).
 */
#include "tests/sim/boards/ingenic.h"

#include <errno.h>
#include <string.h>

#define ROM_GET_CPU_INFO 0x00
#define ROM_SET_DATA_ADDRESS 0x01
#define ROM_SET_DATA_LENGTH 0x02
#define ROM_FLUSH_CACHES 0x03
#define ROM_PROGRAM_START1 0x04
#define ROM_PROGRAM_START2 0x05

/* ginfo records (§2.4). */
#define GINFO_MAGIC_BDIF 0x42444946u
#define GINFO_MAGIC_DDR 0x44445200u
#define GINFO_AREA 0x800u

void ingenic_rom_power_on(struct ingenic *g)
{
	g->stage = INGENIC_ROM;
	g->addr = 0;
	g->len = 0;
	g->d2i_len = 0;
	g->car_end = 0;
	g->start1_used = false;
	g->ddr_up = false;
	g->dram_dirty = false;
	g->busy_until = 0;
	g->busy_what = "rom";
	memset(g->car, 0, sizeof(g->car));
	/* The eFuse shadow is loaded by hardware at reset (§5): UID in the
	 * first 16 bytes, sub-type in the upper halves of 0x238 and 0x250,
	 * no security flags (a part that allows USB boot and NOR writes). */
	memset(g->efuse, 0, sizeof(g->efuse));
	memcpy(g->efuse, g->uid, 16);
	sim_put_le32(g->efuse + 0x38, (uint32_t)g->subtype << 16);
	sim_put_le32(g->efuse + 0x50, (uint32_t)g->subtype << 16);
	g->pend = INGENIC_PEND_NONE;
	g->r_queued = false;
	g->init_done = false;
	memset(&g->cfg, 0, sizeof(g->cfg));
}

/* Where [addr, addr+len) lives for the ROM; NULL if nowhere it can reach. */
static uint8_t *rom_map(struct ingenic *g, uint32_t addr, size_t len, bool *dram)
{
	*dram = false;
	if (addr >= INGENIC_CAR_BASE && (uint64_t)addr - INGENIC_CAR_BASE + len <= INGENIC_CAR_SIZE)
		return g->car + (addr - INGENIC_CAR_BASE);
	if (addr >= INGENIC_DRAM_BASE &&
	    (uint64_t)addr - INGENIC_DRAM_BASE + len <= INGENIC_DRAM_SIZE) {
		*dram = true;
		return g->dram + (addr - INGENIC_DRAM_BASE);
	}
	if (addr >= INGENIC_EFUSE_ADDR &&
	    (uint64_t)addr - INGENIC_EFUSE_ADDR + len <= INGENIC_EFUSE_SIZE)
		return g->efuse + (addr - INGENIC_EFUSE_ADDR);
	return NULL;
}

static bool rom_is_io(uint32_t addr, size_t len)
{
	return addr >= INGENIC_IO_BASE && (uint64_t)addr + len <= INGENIC_IO_END;
}

/*
 * Can the stage at `entry` run?  What hardware needs: SPL code loaded in
 * cache-as-RAM at the entry, burner code in DRAM after DDR came up and
 * the caches were flushed.  `why` names what is wrong.
 */
static bool rom_stage_loaded(struct ingenic *g, uint32_t entry, uint32_t kind, const char **why)
{
	bool dram;

	if (!rom_map(g, entry, 4, &dram) || (dram && !g->ddr_up) ||
	    (kind == INGENIC_STAGE_SPL && (dram || entry >= g->car_end)) ||
	    (kind == INGENIC_STAGE_BURNER && !dram)) {
		*why = "no-code";
		return false;
	}
	if (kind == INGENIC_STAGE_BURNER && g->dram_dirty) {
		/* START2 runs from DRAM through the I-cache: code still in the
		 * D-cache was never written back (§2.1 FLUSH_CACHES). */
		*why = "not-flushed";
		return false;
	}
	return true;
}

/* check_images: does the fixture header at `entry` check out? */
static bool rom_fixture_ok(struct ingenic *g, uint32_t entry, uint32_t kind, const char **why)
{
	static const char magic[8] = "FSIMIGN";
	const uint8_t *p;
	uint32_t len, crc;
	bool dram;

	p = rom_map(g, entry, INGENIC_STAGE_HDR, &dram);
	if (!p || (dram && !g->ddr_up)) {
		*why = "no-code";
		return false;
	}
	if (memcmp(p, magic, 8) || sim_get_le32(p + 8) != kind) {
		*why = "bad-image";
		return false;
	}
	len = sim_get_le32(p + 12);
	if (len < INGENIC_STAGE_HDR || !rom_map(g, entry, len, &dram) ||
	    sim_get_le32(p + 20) != entry) {
		*why = "bad-image";
		return false;
	}
	if (kind == INGENIC_STAGE_SPL && g->d2i_len && len > g->d2i_len) {
		*why = "spl-beyond-d2i";
		return false;
	}
	/* zlib's CRC-32 is the complement of JAMCRC (§0.3). */
	crc = ~ingenic_jamcrc(p + INGENIC_STAGE_HDR, len - INGENIC_STAGE_HDR);
	if (crc != sim_get_le32(p + 16)) {
		*why = "corrupt-image";
		return false;
	}
	return true;
}

/* Can the stage at `entry` run: loaded and, with check_images, intact? */
static bool rom_stage_ok(struct ingenic *g, uint32_t entry, uint32_t kind, const char **why)
{
	if (!rom_stage_loaded(g, entry, kind, why))
		return false;
	if (!g->check_images)
		return true;
	return rom_fixture_ok(g, entry, kind, why);
}

/*
 * What this SoC's ROM needs at START1 beyond loaded code: a d2i_len its
 * I-cache holds (T20: 0x4000, §6.3) and, on first-generation XBurst1, an
 * SPL length that is a whole number of 32-byte cache lines (§2.3): else
 * the SPL "silently hangs".
 */
static bool rom_chip_quirks_ok(const struct ingenic *g, uint32_t entry, const char **why)
{
	if (g->chip->d2i_max && g->d2i_len > g->chip->d2i_max) {
		*why = "d2i-beyond-icache";
		return false;
	}
	if (g->chip->spl_pad_32 && (g->car_end - entry) % 32) {
		*why = "spl-not-padded";
		return false;
	}
	return true;
}

/*
 * The SPL brings up DDR from the ginfo block (§2.4): without a global-info
 * record with clocks and a DDR record, DDR init fails and "the SPL never
 * answers" (§6.3).
 */
static bool rom_ginfo_ok(const struct ingenic *g)
{
	const uint8_t *p = g->car + (INGENIC_GINFO_ADDR - INGENIC_CAR_BASE);
	bool bdif = false, ddr = false;
	uint32_t off = 0;

	while (off + 8 <= GINFO_AREA) {
		uint32_t magic = sim_get_le32(p + off), size = sim_get_le32(p + off + 4);

		if (magic == 0 || size > GINFO_AREA - off - 8)
			break;
		if (magic == GINFO_MAGIC_BDIF && size >= 24 && sim_get_le32(p + off + 8) &&
		    sim_get_le32(p + off + 12) && sim_get_le32(p + off + 16))
			bdif = true; /* extal, cpufreq, ddrfreq set */
		if (magic == GINFO_MAGIC_DDR && size > 0)
			ddr = true;
		off += 8 + size;
	}
	return bdif && ddr;
}

static void rom_reply(struct sim_xfer *x, const void *d, size_t n)
{
	if (n > x->len)
		n = x->len;
	memcpy(x->data, d, n);
	x->actual = n;
}

int ingenic_rom_request(struct sim_board *b, struct sim_xfer *x)
{
	struct ingenic *g = ingenic(b);
	const struct sim_setup *s = &x->setup;
	bool in = s->bmRequestType & SIM_USB_DIR_IN;
	uint32_t arg = (uint32_t)s->wValue << 16 | s->wIndex; /* §0.2: high half in wValue */
	const char *why;
	int ret;

	if ((s->bmRequestType & SIM_USB_TYPE_MASK) != SIM_USB_TYPE_VENDOR)
		goto stall;
	switch (s->bRequest) {
	case ROM_GET_CPU_INFO:
		if (!in)
			goto stall;
		if (ingenic_fault(b, x, "cpu_info", 0, &ret))
			return ret;
		rom_reply(x, g->chip->rom_cpu_info, sizeof(g->chip->rom_cpu_info));
		return SIM_XFER_DONE;
	case ROM_SET_DATA_ADDRESS:
		if (in)
			goto stall;
		g->addr = arg;
		return SIM_XFER_DONE;
	case ROM_SET_DATA_LENGTH:
		if (in)
			goto stall;
		/* The same register is the transfer length and d2i_len (§2.3). */
		g->len = arg;
		g->d2i_len = arg;
		return SIM_XFER_DONE;
	case ROM_FLUSH_CACHES:
		if (in)
			goto stall;
		g->dram_dirty = false;
		return SIM_XFER_DONE;
	case ROM_PROGRAM_START1:
		if (in)
			goto stall;
		if (ingenic_fault(b, x, "spl", 0, &ret))
			return ret;
		/* One-shot (§2.1): the flag is set, a second START1 is ACKed
		 * and does nothing. */
		if (g->start1_used)
			return SIM_XFER_DONE;
		g->start1_used = true;
		/* Running any code clears the eFuse shadow (§5, [TDFU-diag]). */
		memset(g->efuse, 0, sizeof(g->efuse));
		/* The ROM ACKs the status stage, then jumps. */
		if (!rom_stage_ok(g, arg, INGENIC_STAGE_SPL, &why) ||
		    !rom_chip_quirks_ok(g, arg, &why)) {
			ingenic_hang(b, why);
			return SIM_XFER_DONE;
		}
		if (g->check_images && !rom_ginfo_ok(g)) {
			ingenic_hang(b, "ddr-init");
			return SIM_XFER_DONE;
		}
		/* The SPL brings up DDR and returns to the ROM's USB loop. */
		g->ddr_up = true;
		ingenic_set_busy(b, g->t.spl, "spl");
		return SIM_XFER_DONE;
	case ROM_PROGRAM_START2:
		if (in)
			goto stall;
		if (ingenic_fault(b, x, "burner", 0, &ret))
			return ret;
		memset(g->efuse, 0, sizeof(g->efuse));
		if (!rom_stage_ok(g, arg, INGENIC_STAGE_BURNER, &why)) {
			ingenic_hang(b, why);
			return SIM_XFER_DONE;
		}
		/* Same device, same address: only the answers change (§1.2). */
		ingenic_burner_enter(g);
		ingenic_set_busy(b, g->t.burner_boot, "booting");
		return SIM_XFER_DONE;
	default:
		break;
	}
stall:
	x->status = -EPIPE;
	return SIM_XFER_DONE;
}

int ingenic_rom_data(struct sim_board *b, struct sim_xfer *x)
{
	struct ingenic *g = ingenic(b);
	bool in = x->ep & SIM_USB_DIR_IN, dram;
	enum sim_fault_kind k;
	size_t n = x->len;
	uint8_t *p;
	int ret;

	if (!in) {
		if (ingenic_fault(b, x, "rom_download", 0, &ret))
			return ret;
		p = rom_map(g, g->addr, n, &dram);
		if (p && dram && !g->ddr_up) {
			/* DDR controller not set up: the data goes nowhere
			 * (assumption; a later START2 then hangs). */
		} else if (p) {
			memcpy(p, x->data, n);
			if (dram)
				g->dram_dirty = true;
			else if (g->addr >= INGENIC_CAR_BASE && g->addr + n > g->car_end)
				g->car_end = g->addr + n;
		} else if (!rom_is_io(g->addr, n)) {
			/* Model choice: a write to nothing is loud, not lost. */
			x->status = -EPIPE;
			return SIM_XFER_DONE;
		}
		/* Register pokes (GPIO, §4.2 step 3) are accepted and ignored. */
		g->addr += n;
		return SIM_XFER_DONE;
	}

	k = ingenic_fault(b, x, "rom_upload", SIM_FAULT_CORRUPT_UPLOAD, &ret);
	if (k != SIM_FAULT_NONE && k != SIM_FAULT_CORRUPT_UPLOAD)
		return ret;
	/* The ROM sends what SET_DATA_LENGTH asked for, at most what the
	 * host's transfer can take. */
	if (g->len && g->len < n)
		n = g->len;
	p = rom_map(g, g->addr, n, &dram);
	if (p && !(dram && !g->ddr_up)) {
		memcpy(x->data, p, n);
	} else if (g->addr == INGENIC_SOCID_ADDR && n <= 4) {
		uint8_t id[4];

		/* family = (soc_id >> 12) & 0xFFFF (§5). */
		sim_put_le32(id, (uint32_t)g->chip->soc_family << 12);
		memcpy(x->data, id, n);
	} else if (rom_is_io(g->addr, n)) {
		memset(x->data, 0, n);
	} else {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	if (k == SIM_FAULT_CORRUPT_UPLOAD && n)
		x->data[n / 2] ^= 0x10;
	x->actual = n;
	g->addr += n;
	if (g->len)
		g->len -= n;
	return SIM_XFER_DONE;
}
