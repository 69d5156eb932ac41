/*
 * This file implements the Ingenic T31 in USB boot mode as a board model:
 * options, identity (descriptors), memories (SPI NOR, RAM, eFuse shadow),
 * timing and the dispatch of requests to the boot ROM (ingenic_rom.c) or
 * the stage-2 burner (ingenic_burner.c).  Facts and sources:
 * shared/docs/protocol-ingenic.md and tests/sim/boards/README.md.
 */
#include "tests/sim/boards/ingenic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ingenic_names[] = { "ingenic-t31", "ingenic-t31x", "ingenic-t20", NULL };

/*
 * T31: "T 3 1 V " (§1.1), family 0x0031 (§5), BOOTx1830 (§1.2), sub-type
 * 0x2222 = T31X (§5).  T20: family 0x2000 (§5), BOOTx1520 (§1.2), d2i_len
 * 0x4000 (§2.2, §6.3 [TC-T20]: a T20 started with the T31's 0x7000 never
 * came up), 32-byte SPL padding (§2.3 [TDFU-boot]); its ROM string and
 * sub-type are not documented (assumptions: "T 2 0 V ", 0).
 */
static const struct ingenic_chip ingenic_chips[] = {
	{ .type = "ingenic-t31",
	  .rom_cpu_info = { 'T', ' ', '3', ' ', '1', ' ', 'V', ' ' },
	  .soc_family = 0x0031,
	  .burner_info = "BOOTx1830",
	  .subtype = 0x2222 },
	{ .type = "ingenic-t20",
	  .rom_cpu_info = { 'T', ' ', '2', ' ', '0', ' ', 'V', ' ' },
	  .soc_family = 0x2000,
	  .burner_info = "BOOTx1520",
	  .subtype = 0,
	  .d2i_max = 0x4000,
	  .spl_pad_32 = true },
};

static const struct ingenic_chip *ingenic_chip_for(const char *type)
{
	for (size_t i = 0; i < sizeof(ingenic_chips) / sizeof(ingenic_chips[0]); i++)
		if (!strcmp(ingenic_chips[i].type, type))
			return &ingenic_chips[i];
	return &ingenic_chips[0]; /* ingenic-t31x */
}

static const char *const ingenic_steps[] = {
	"cpu_info", "rom_download", "rom_upload", "spl", "burner", "config", "flash_info",
	"init",	    "write",	    "read",	  "ack", "reboot", NULL,
};

/*
 * Default device times.  SPL: the vendor T20 capture shows about 1.1 s of
 * silence between START1 and the first answered GET_CPU_INFO (§2.5,
 * [TC-T20]).  The rest are assumptions: the burner answers GET_CPU_INFO
 * right after START2 in the same capture, so 200 ms is generous; a reboot
 * drops the pull-up within 10 ms; a ROM re-enumerates 500 ms after reset.
 */
static const struct ingenic_timing ingenic_default_timing = {
	.spl = 1100000000ull,
	.burner_boot = 200000000ull,
	.reboot = 10000000ull,
	.rom_boot = 500000000ull,
	.command = 100000ull,
};

/* Reflected CRC-32, poly 0xEDB88320, init ~0, no final XOR (§0.3), by nibble. */
uint32_t ingenic_jamcrc(const uint8_t *p, size_t len)
{
	static const uint32_t t[16] = {
		0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
		0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
		0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	uint32_t crc = 0xffffffff;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		crc = t[crc & 0xf] ^ (crc >> 4);
		crc = t[crc & 0xf] ^ (crc >> 4);
	}
	return crc;
}

uint32_t ingenic_jedec(const struct ingenic *g)
{
	return g->have_jedec ? g->jedec_opt : g->part->jedec;
}

void ingenic_set_busy(struct sim_board *b, uint64_t ns, const char *what)
{
	struct ingenic *g = ingenic(b);
	uint64_t now = sim_board_now_ns(b);

	if (g->busy_until < now)
		g->busy_until = now;
	g->busy_until += sim_board_scaled(b, ns);
	g->busy_what = what;
}

uint64_t ingenic_busy_left(struct sim_board *b)
{
	struct ingenic *g = ingenic(b);
	uint64_t now = sim_board_now_ns(b);

	return g->busy_until > now ? g->busy_until - now : 0;
}

int ingenic_buf_reserve(struct ingenic *g, size_t n)
{
	uint8_t *p;

	if (n <= g->buf_cap)
		return 0;
	p = realloc(g->buf, n);
	if (!p)
		return -ENOMEM;
	/* Deterministic: what the burner's buffer held before is zeros here. */
	memset(p + g->buf_cap, 0, n - g->buf_cap);
	g->buf = p;
	g->buf_cap = n;
	return 0;
}

enum sim_fault_kind ingenic_fault(struct sim_board *b, struct sim_xfer *x, const char *step,
				  unsigned extra, int *ret)
{
	enum sim_fault_kind k = sim_board_fault_step(b, step, SIM_FAULT_TRANSFER_KINDS | extra);

	*ret = SIM_XFER_DONE;
	switch (k) {
	case SIM_FAULT_UNPLUG:
		x->status = -ENODEV;
		break;
	case SIM_FAULT_STALL:
		x->status = -EPIPE;
		break;
	case SIM_FAULT_HANG:
		*ret = sim_board_hang(b, x);
		break;
	default:
		break;
	}
	return k;
}

void ingenic_hang(struct sim_board *b, const char *why)
{
	struct ingenic *g = ingenic(b);

	g->stage = INGENIC_HUNG;
	g->busy_what = why;
	g->pend = INGENIC_PEND_NONE;
	g->r_queued = false;
}

/* Options */

static int ingenic_create(struct sim_board *b, const char *type)
{
	struct ingenic *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->chip = ingenic_chip_for(type);
	g->part = spinor_find("w25q128jv");
	g->seed = 1;
	g->subtype = g->chip->subtype;
	/* Hosts read 8 bytes of it (§1.2). */
	strcpy(g->burner_info, g->chip->burner_info);
	g->t = ingenic_default_timing;
	sim_board_set_priv(b, g);
	return 0;
}

static void ingenic_destroy(struct sim_board *b)
{
	struct ingenic *g = ingenic(b);

	if (!g)
		return;
	spinor_release(&g->flash);
	free(g->dram);
	free(g->buf);
	free(g->rbuf);
	free(g);
	sim_board_set_priv(b, NULL);
}

/* timing.<name>: device times of the model and overrides of the flash part. */
static int ingenic_timing_option(struct ingenic *g, const char *name, double v)
{
	static const struct {
		const char *name;
		size_t off;
		double to_ns;
	} opts[] = {
		{ "spl_ms", offsetof(struct ingenic_timing, spl), 1e6 },
		{ "burner_boot_ms", offsetof(struct ingenic_timing, burner_boot), 1e6 },
		{ "reboot_ms", offsetof(struct ingenic_timing, reboot), 1e6 },
		{ "rom_boot_ms", offsetof(struct ingenic_timing, rom_boot), 1e6 },
		{ "command_us", offsetof(struct ingenic_timing, command), 1e3 },
	};

	if (v > 1e9)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (!strcmp(name, opts[i].name)) {
			*(uint64_t *)((char *)&g->t + opts[i].off) = (uint64_t)(v * opts[i].to_ns);
			return 0;
		}
	}
	return -ENOENT;
}

/* Flash timing overrides are kept apart: the part may be chosen later. */
static const struct {
	const char *name;
	size_t off;
	double to_ns;
} ingenic_flash_timing[] = {
	{ "page_program_us", offsetof(struct spinor_part, t_pp), 1e3 },
	{ "sector_erase_ms", offsetof(struct spinor_part, t_se), 1e6 },
	{ "block32_erase_ms", offsetof(struct spinor_part, t_be32), 1e6 },
	{ "block64_erase_ms", offsetof(struct spinor_part, t_be64), 1e6 },
	{ "chip_erase_ms", offsetof(struct spinor_part, t_ce), 1e6 },
};
#define INGENIC_N_FLASH_TIMING (sizeof(ingenic_flash_timing) / sizeof(ingenic_flash_timing[0]))

static int ingenic_option(struct sim_board *b, const char *key, const char *value)
{
	struct ingenic *g = ingenic(b);
	uint64_t u;
	double v;
	int r;

	if (!strcmp(key, "uid")) {
		if (strlen(value) != 32)
			goto bad;
		for (int i = 0; i < 16; i++) {
			int hi = sim_hex_digit(value[2 * i]), lo = sim_hex_digit(value[2 * i + 1]);

			if (hi < 0 || lo < 0)
				goto bad;
			g->uid[i] = hi << 4 | lo;
		}
		g->have_uid = true;
		return 0;
	}
	if (!strcmp(key, "seed")) {
		if (sim_parse_u64(value, &g->seed) < 0)
			goto bad;
		return 0;
	}
	if (!strcmp(key, "flash")) {
		const struct spinor_part *p = spinor_find(value);

		if (!p)
			goto bad;
		g->part = p;
		return 0;
	}
	if (!strcmp(key, "jedec")) {
		if (sim_parse_u64(value, &u) < 0 || u > 0xffffff)
			goto bad;
		g->have_jedec = true;
		g->jedec_opt = u;
		return 0;
	}
	if (!strcmp(key, "flash_mib")) {
		/* SPI NOR parts with 3-byte addressing: 1..16 MiB, powers of two. */
		if (sim_parse_u64(value, &u) < 0 || !u || u > 16 || (u & (u - 1)))
			goto bad;
		g->flash_mib = u;
		return 0;
	}
	if (!strcmp(key, "subtype")) {
		if (sim_parse_u64(value, &u) < 0 || u > 0xffff)
			goto bad;
		g->subtype = u;
		return 0;
	}
	if (!strcmp(key, "check_images")) {
		if (strcmp(value, "true") && strcmp(value, "false"))
			goto bad;
		g->check_images = !strcmp(value, "true");
		return 0;
	}
	if (!strcmp(key, "burner_cpu_info")) {
		/* Vendor burners answer e.g. "PRJ" or "X2500" (§1.2). */
		if (!*value || strlen(value) >= sizeof(g->burner_info))
			goto bad;
		strcpy(g->burner_info, value);
		return 0;
	}
	if (!strcmp(key, "fill")) {
		if (!strcmp(value, "erased")) {
			g->fill_random = false;
			return 0;
		}
		if (strncmp(value, "random:", 7) || sim_parse_u64(value + 7, &g->fill_seed) < 0)
			goto bad;
		g->fill_random = true;
		return 0;
	}
	if (!strncmp(key, "timing.", 7)) {
		if (sim_parse_double(value, &v) < 0)
			goto bad;
		r = ingenic_timing_option(g, key + 7, v);
		if (r == -EINVAL)
			goto bad;
		if (r == 0)
			return 0;
		for (size_t i = 0; i < INGENIC_N_FLASH_TIMING; i++) {
			if (strcmp(key + 7, ingenic_flash_timing[i].name))
				continue;
			if (v > 1e9)
				goto bad;
			g->flash_t_set |= 1u << i;
			g->flash_t[i] = (uint64_t)(v * ingenic_flash_timing[i].to_ns);
			return 0;
		}
		return -ENOENT;
	}
	return -ENOENT;
bad:
	return sim_board_errf(b, -EINVAL, "option '%s': bad value '%s'", key, value);
}

/* Identity and power */

/* Deterministic UID from the seed (splitmix64), for boards without `uid`. */
static void ingenic_derive_uid(uint8_t uid[16], uint64_t seed)
{
	uint64_t x = seed ^ 0x7431000000000000ull;

	for (int i = 0; i < 16; i += 8) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		for (int j = 0; j < 8; j++)
			uid[i + j] = z >> (8 * j);
	}
}

static int ingenic_build_identity(struct sim_board *b)
{
	uint8_t dev[18], cfg[9 + 9 + 7 + 7], *p;
	int r;

	/* Device descriptor: a108:c309 (§1.1).  bcdDevice, the strings and
	 * the power figures are assumptions; no serial (the UID is in eFuse). */
	dev[0] = 18;
	dev[1] = SIM_USB_DT_DEVICE;
	sim_put_le16(dev + 2, 0x0200);
	dev[4] = 0;
	dev[5] = 0;
	dev[6] = 0;
	dev[7] = 64;
	sim_put_le16(dev + 8, 0xa108);
	sim_put_le16(dev + 10, 0xc309);
	sim_put_le16(dev + 12, 0x0100);
	dev[14] = 1;
	dev[15] = 2;
	dev[16] = 0;
	dev[17] = 1;

	p = cfg;
	p[0] = 9;
	p[1] = SIM_USB_DT_CONFIG;
	sim_put_le16(p + 2, sizeof(cfg));
	p[4] = 1;
	p[5] = 1;
	p[6] = 0;
	p[7] = 0x80; /* bus-powered */
	p[8] = 250;  /* 500 mA */
	p += 9;
	/* Interface 0, vendor class 0xFF/0/0 as xburst-tools matches it (§1.3). */
	p[0] = 9;
	p[1] = SIM_USB_DT_INTERFACE;
	p[2] = 0;
	p[3] = 0;
	p[4] = 2;
	p[5] = 0xff;
	p[6] = 0;
	p[7] = 0;
	p[8] = 0;
	p += 9;
	/* EP1 bulk OUT 0x01 and IN 0x81, 512 bytes at high speed (§1.3). */
	for (int i = 0; i < 2; i++, p += 7) {
		p[0] = 7;
		p[1] = 0x05;
		p[2] = i ? INGENIC_EP_IN : INGENIC_EP_OUT;
		p[3] = 0x02;
		sim_put_le16(p + 4, 512);
		p[6] = 0;
	}
	r = sim_board_set_descriptors(b, dev, cfg, sizeof(cfg), SIM_SPEED_HIGH);
	if (r < 0)
		return r;
	if ((r = sim_board_set_string(b, 1, "Ingenic")) < 0 ||
	    (r = sim_board_set_string(b, 2, "Ingenic USB Boot Device")) < 0)
		return r;
	return 0;
}

static int ingenic_start(struct sim_board *b)
{
	struct ingenic *g = ingenic(b);
	struct spinor_part p = *g->part;
	int r;

	if (g->flash_mib)
		p.size = g->flash_mib << 20;
	for (size_t i = 0; i < INGENIC_N_FLASH_TIMING; i++)
		if (g->flash_t_set & (1u << i))
			*(uint64_t *)((char *)&p + ingenic_flash_timing[i].off) = g->flash_t[i];
	if (spinor_init(&g->flash, &p) < 0)
		return -ENOMEM;
	if (g->fill_random)
		sim_nor_fill_random(&g->flash.nor, g->fill_seed);
	g->dram = calloc(1, INGENIC_DRAM_SIZE);
	if (!g->dram)
		return -ENOMEM;
	if (!g->have_uid)
		ingenic_derive_uid(g->uid, g->seed);
	r = ingenic_build_identity(b);
	if (r < 0)
		return sim_board_errf(b, r, "building descriptors: %s", strerror(-r));
	ingenic_rom_power_on(g);
	return 0;
}

static void ingenic_power_off(struct sim_board *b)
{
	struct ingenic *g = ingenic(b);

	/* Volatile state goes; the NOR stays.  power_on restarts the ROM. */
	ingenic_rom_power_on(g);
}

static void ingenic_power_on(struct sim_board *b)
{
	ingenic_rom_power_on(ingenic(b));
}

static void ingenic_usb_reset(struct sim_board *b)
{
	struct ingenic *g = ingenic(b);

	/* A bus reset aborts the transfer the burner was waiting for; the
	 * stage itself keeps running (the gadget stays configured, §1.2). */
	g->pend = INGENIC_PEND_NONE;
	g->r_queued = false;
}

static int ingenic_busy_delay(struct sim_board *b, uint64_t *delay_ns)
{
	struct ingenic *g = ingenic(b);

	/* Bad code ran: EP0 is never serviced again.  An hour is "never"
	 * for every host timeout; the model's own requests hang outright. */
	if (g->stage == INGENIC_HUNG) {
		*delay_ns = 3600ull * 1000000000ull;
		return 0;
	}
	*delay_ns = ingenic_busy_left(b);
	return 0;
}

static int ingenic_request(struct sim_board *b, struct sim_xfer *x)
{
	struct ingenic *g = ingenic(b);
	uint8_t req = x->setup.bRequest;

	/* Secure-boot provisioning burns eFuses (§3.1): never legitimate from
	 * a flashing station, whatever stage answers it. */
	if ((x->setup.bmRequestType & SIM_USB_TYPE_MASK) == SIM_USB_TYPE_VENDOR && req >= 0x20 &&
	    req <= 0x25)
		sim_board_count_forbidden(b);
	switch (g->stage) {
	case INGENIC_ROM:
		return ingenic_rom_request(b, x);
	case INGENIC_BURNER:
		return ingenic_burner_request(b, x);
	case INGENIC_HUNG:
		return sim_board_hang(b, x);
	case INGENIC_OFF:
		x->status = -ENODEV;
		return SIM_XFER_DONE;
	}
	return SIM_XFER_DONE;
}

/*
 * Bulk time at high speed: 512-byte packets, 13 bytes of overhead each,
 * 480 Mbit/s (2.083 ns/bit) plus 1/12 bit stuffing, plus one 125 us
 * microframe until the host schedules it (assumption).
 */
static uint64_t ingenic_bulk_ns(size_t len)
{
	uint64_t packets = len ? (len + 511) / 512 : 1;
	uint64_t ps = (len + packets * 13) * 8 * 2083;

	return 125000 + (ps + ps / 12) / 1000;
}

static int ingenic_data(struct sim_board *b, struct sim_xfer *x)
{
	struct ingenic *g = ingenic(b);

	if (x->ep != INGENIC_EP_OUT && x->ep != INGENIC_EP_IN) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	x->delay_ns = ingenic_busy_left(b) + sim_board_scaled(b, ingenic_bulk_ns(x->len));
	switch (g->stage) {
	case INGENIC_ROM:
		return ingenic_rom_data(b, x);
	case INGENIC_BURNER:
		return ingenic_burner_data(b, x);
	case INGENIC_HUNG:
		return sim_board_hang(b, x);
	case INGENIC_OFF:
		x->status = -ENODEV;
		return SIM_XFER_DONE;
	}
	return SIM_XFER_DONE;
}

static bool ingenic_memory(struct sim_board *b, unsigned idx, const char **name,
			   const uint8_t **data, size_t *len)
{
	struct ingenic *g = ingenic(b);

	switch (idx) {
	case 0:
		*name = "nor";
		*data = g->flash.nor.mem;
		*len = g->flash.nor.size;
		return true;
	case 1:
		*name = "ram";
		*data = g->dram;
		*len = INGENIC_DRAM_SIZE;
		return true;
	default:
		return false;
	}
}

static const char *ingenic_state(struct sim_board *b)
{
	struct ingenic *g = ingenic(b);
	bool busy = ingenic_busy_left(b) > 0;

	switch (g->stage) {
	case INGENIC_ROM:
		if (!sim_board_connected(b))
			return "resetting";
		if (busy)
			return "spl-running";
		return g->ddr_up ? "rom-spl-done" : "rom";
	case INGENIC_BURNER:
		if (busy) {
			snprintf(g->state_text, sizeof(g->state_text), "burner-%s", g->busy_what);
			return g->state_text;
		}
		return "burner";
	case INGENIC_HUNG:
		snprintf(g->state_text, sizeof(g->state_text), "hung:%s", g->busy_what);
		return g->state_text;
	case INGENIC_OFF:
		return g->busy_what;
	}
	return "unknown";
}

const struct sim_model sim_ingenic_model = {
	.names = ingenic_names,
	.steps = ingenic_steps,
	.create = ingenic_create,
	.option = ingenic_option,
	.start = ingenic_start,
	.destroy = ingenic_destroy,
	.request = ingenic_request,
	.data = ingenic_data,
	.usb_reset = ingenic_usb_reset,
	.power_off = ingenic_power_off,
	.power_on = ingenic_power_on,
	.busy_delay = ingenic_busy_delay,
	.memory = ingenic_memory,
	.state = ingenic_state,
};
