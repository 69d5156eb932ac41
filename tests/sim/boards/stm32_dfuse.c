/*
 * This file implements the STM32 system bootloaders in DfuSe mode (F405/407
 * and L476, one table row per part) as a board model: options, identity
 * (descriptors, strings, serial from the UID), the memory map and memories.
 * The protocol is in stm32_dfuse_proto.c.  Facts and their sources:
 * shared/docs/protocol-dfu.md §1-§3 and tests/sim/boards/README.md.
 */
#include "tests/sim/boards/stm32_dfuse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stm32_names[] = { "stm32f405-dfuse", "stm32f407-dfuse", "stm32l476-dfuse",
					   NULL };

static const char *const stm32_steps[] = {
	"set_address", "erase",	    "mass_erase", "download", "upload",
	"manifest",    "getstatus", "unprotect",  NULL,
};

static struct stm32_dfuse *dfuse(struct sim_board *b)
{
	return sim_board_priv(b);
}

/*
 * F405 timing (its row's .t below), device time at scale 1.0.  Flash
 * figures are the typical values of the STM32F405xx/407xx datasheet (DS8626, table "Flash memory
 * programming", x32 parallelism, 2.7-3.6 V): word program 16 us, sector
 * erase 16 KB 250 ms, 64 KB 550 ms, 128 KB 1 s, mass erase 8 s (max 16 s;
 * x8 max 32 s, the figure dfu-util's 35 s wait covers: protocol-dfu.md §2.8).
 * Reported bwPollTimeouts: 100 ms for a mass erase is the F405 ROM's
 * documented lie [DU dfuse.c]; the other reported values are assumptions in
 * the same spirit (short for erases, far too long for 2 KiB writes as EdgeTX
 * found [EDGETX#88]).
 *
 * The parts.  F405/407: RM0090 sectors 4x16K + 64K + n x 128K, byte
 * programming (x32 parallelism writes words; the ROM accepts any length).
 * L476: RM0351 §3.3.1 uniform 2 KiB pages, 64-bit (double-word) programming
 * only (§3.3.7), option bytes at 0x1FFF7800, 1 KiB OTP at 0x1FFF7000, UID at
 * 0x1FFF7590, flash size at 0x1FFF75E0 (§47.1, §47.2).  Alt strings as the
 * L4 ROM lists them (dfu-util -l logs; README).
 */
static const struct stm32_part stm32_parts[] = {
	{
		.name = "stm32f405-dfuse",
		.prog_unit = 1,
		.kib_default = 1024, .kib_min = 256, .kib_max = 1024, .kib_step = 128,
		.option_base = 0x1FFFC000u, .option_size = 16, .rdp_off = 1,
		.otp_base = 0x1FFF7800u, .otp_size = 512 + 16, .otp_locks = true,
		.sysinfo_base = 0x1FFF7A10u, .sysinfo_size = 0x14, .flashsize_addr = 0x1FFF7A22u,
		.alt_fmt = { "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,%02u*128Kg",
			     "@Option Bytes  /0x1FFFC000/01*016 e",
			     "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
			     "@Device Feature/0xFFFF0000/01*004 e" },
		.t = {
			.erase_16k = 250000000ull,
			.erase_64k = 550000000ull,
			.erase_128k = 1000000000ull,
			.mass_erase = 8000000000ull,
			.word_program = 16000ull,
			.command = 100000ull,	     /* assumption: pointer update, no flash access */
			.option_write = 250000000ull, /* assumption: like a 16 KB sector erase */
			.boot = 100000000ull,	     /* assumption: ROM start + USB pull-up */
			.leave = 1000000ull,	     /* STLIB reports 1 ms in MANIFEST */
			.poll_command_ms = 100,
			.poll_erase_ms = 100,
			.poll_mass_erase_ms = 100,
			.poll_write_ms = 100,
			.poll_manifest_ms = 1,
		},
	},
	{
		.name = "stm32l476-dfuse",
		.page_size = 2048,
		.prog_unit = 8,
		.kib_default = 1024, .kib_min = 256, .kib_max = 1024, .kib_step = 256,
		.option_base = 0x1FFF7800u, .option_size = 40, .rdp_off = 0,
		.otp_base = 0x1FFF7000u, .otp_size = 1024,
		.sysinfo_base = 0x1FFF7590u, .sysinfo_size = 0x52, .flashsize_addr = 0x1FFF75E0u,
		.alt_fmt = { "@Internal Flash  /0x08000000/%04u*0002Kg",
			     "@Option Bytes  /0x1FFF7800/01*040 e",
			     "@OTP Memory /0x1FFF7000/01*0001Ke",
			     "@Device Feature/0xFFFF0000/01*004 e" },
		/* STM32L476xx datasheet DS10198 "Flash memory characteristics":
		 * 64-bit programming 81.69 us typ, page (2 KB) erase 22.02 ms
		 * typ, mass erase 22.13 ms typ.  Reported polls as for the F405. */
		.t = {
			.erase_page = 22020000ull,
			.mass_erase = 22130000ull,
			.dword_program = 81690ull,
			.command = 100000ull,
			.option_write = 22020000ull, /* assumption: like a page erase */
			.boot = 100000000ull,
			.leave = 1000000ull,
			.poll_command_ms = 100,
			.poll_erase_ms = 100,
			.poll_mass_erase_ms = 100,
			.poll_write_ms = 100,
			.poll_manifest_ms = 1,
		},
	},
};

bool stm32_rdp_active(const struct stm32_dfuse *d)
{
	/* RM0090 §3.7.3, RM0351 §3.5.1: 0xAA is level 0; any other value is
	 * level 1 (0xCC: 2). */
	return d->option[d->part->rdp_off] != 0xaa;
}

uint8_t *stm32_rdp_byte(struct stm32_dfuse *d)
{
	return &d->option[d->part->rdp_off];
}

static const struct stm32_part *stm32_part_of(const char *type)
{
	for (size_t i = 0; i < sizeof(stm32_parts) / sizeof(stm32_parts[0]); i++)
		if (!strcmp(type, stm32_parts[i].name))
			return &stm32_parts[i];
	return &stm32_parts[0]; /* stm32f407-dfuse: same ROM and flash as the F405 */
}

static int stm32_create(struct sim_board *b, const char *type)
{
	struct stm32_dfuse *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->part = stm32_part_of(type);
	d->flash_kib = d->part->kib_default;
	d->transfer_size = 2048;
	d->seed = 1;
	d->t = d->part->t;
	memset(d->option, 0xff, sizeof(d->option));
	if (d->part->page_size) {
		/* RM0351 §3.4.1 FLASH_OPTR factory value 0xFFEFF8AA (RDP level 0). */
		sim_put_le32(d->option, 0xFFEFF8AAu);
		sim_board_set_priv(b, d);
		return 0;
	}
	/* RM0090 option bytes: USER 0xEC (BOR off, no reset on stop/standby,
	 * software watchdog), RDP 0xAA (level 0), nWRP 0x0FFF (no sector
	 * write protected); the reserved bytes read as 0xFF here. */
	d->option[0] = 0xec;
	d->option[1] = 0xaa;
	d->option[8] = 0xff;
	d->option[9] = 0x0f;
	sim_board_set_priv(b, d);
	return 0;
}

static void stm32_destroy(struct sim_board *b)
{
	struct stm32_dfuse *d = dfuse(b);

	if (!d)
		return;
	sim_nor_release(&d->flash);
	sim_nor_release(&d->otp);
	free(d->serial_opt);
	free(d->buf);
	free(d);
	sim_board_set_priv(b, NULL);
}

/* Timing options: name, unit factor to ns (0: reported ms, kept as ms). */
static int stm32_timing_option(struct stm32_dfuse *d, const char *name, double v)
{
	static const struct {
		const char *name;
		size_t off;
		double to_ns;
	} u64s[] = {
		{ "erase_16k_ms", offsetof(struct dfuse_timing, erase_16k), 1e6 },
		{ "erase_64k_ms", offsetof(struct dfuse_timing, erase_64k), 1e6 },
		{ "erase_128k_ms", offsetof(struct dfuse_timing, erase_128k), 1e6 },
		{ "mass_erase_ms", offsetof(struct dfuse_timing, mass_erase), 1e6 },
		{ "word_program_us", offsetof(struct dfuse_timing, word_program), 1e3 },
		{ "erase_page_ms", offsetof(struct dfuse_timing, erase_page), 1e6 },
		{ "dword_program_us", offsetof(struct dfuse_timing, dword_program), 1e3 },
		{ "command_us", offsetof(struct dfuse_timing, command), 1e3 },
		{ "option_write_ms", offsetof(struct dfuse_timing, option_write), 1e6 },
		{ "boot_ms", offsetof(struct dfuse_timing, boot), 1e6 },
		{ "leave_ms", offsetof(struct dfuse_timing, leave), 1e6 },
	};
	static const struct {
		const char *name;
		size_t off;
	} polls[] = {
		{ "poll_command_ms", offsetof(struct dfuse_timing, poll_command_ms) },
		{ "poll_erase_ms", offsetof(struct dfuse_timing, poll_erase_ms) },
		{ "poll_mass_erase_ms", offsetof(struct dfuse_timing, poll_mass_erase_ms) },
		{ "poll_write_ms", offsetof(struct dfuse_timing, poll_write_ms) },
		{ "poll_manifest_ms", offsetof(struct dfuse_timing, poll_manifest_ms) },
	};

	for (size_t i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++) {
		if (!strcmp(name, u64s[i].name)) {
			if (v * u64s[i].to_ns > 1e18)
				return -EINVAL;
			*(uint64_t *)((char *)&d->t + u64s[i].off) = (uint64_t)(v * u64s[i].to_ns);
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(polls) / sizeof(polls[0]); i++) {
		if (!strcmp(name, polls[i].name)) {
			/* bwPollTimeout is 24 bits of ms. */
			if (v > 0xffffff)
				return -EINVAL;
			*(double *)((char *)&d->t + polls[i].off) = v;
			return 0;
		}
	}
	return -ENOENT;
}

static int stm32_option(struct sim_board *b, const char *key, const char *value)
{
	struct stm32_dfuse *d = dfuse(b);
	uint64_t u;
	double v;
	bool f;
	int r;

	if (!strcmp(key, "serial")) {
		char *s = strdup(value);

		if (!s)
			return -ENOMEM;
		if (strlen(s) > 126) {
			free(s);
			goto bad;
		}
		free(d->serial_opt);
		d->serial_opt = s;
		return 0;
	}
	if (!strcmp(key, "uid")) {
		if (strlen(value) != 24)
			goto bad;
		for (int i = 0; i < 12; i++) {
			int hi = sim_hex_digit(value[2 * i]), lo = sim_hex_digit(value[2 * i + 1]);

			if (hi < 0 || lo < 0)
				goto bad;
			d->uid[i] = hi << 4 | lo;
		}
		d->have_uid = true;
		return 0;
	}
	if (!strcmp(key, "seed")) {
		if (sim_parse_u64(value, &d->seed) < 0)
			goto bad;
		return 0;
	}
	if (!strcmp(key, "flash_kib")) {
		/* F405/407: 4x16K + 64K + n x 128K sectors; L476: 256K..1M. */
		if (sim_parse_u64(value, &u) < 0 || u < d->part->kib_min || u > d->part->kib_max ||
		    u % d->part->kib_step)
			goto bad;
		d->flash_kib = u;
		return 0;
	}
	if (!strcmp(key, "transfer_size")) {
		/* At least bMaxPacketSize0; Linux usbfs limits control data to 4 KiB. */
		if (sim_parse_u64(value, &u) < 0 || u < 64 || u > 4096)
			goto bad;
		d->transfer_size = u;
		return 0;
	}
	if (!strcmp(key, "uid_readable") || !strcmp(key, "boot_error")) {
		if (sim_parse_bool(value, &f) < 0)
			goto bad;
		if (key[0] == 'u')
			d->uid_readable = f;
		else
			d->boot_error = f;
		return 0;
	}
	if (!strcmp(key, "busy")) {
		if (strcmp(value, "wait") && strcmp(value, "stall"))
			goto bad;
		d->busy_stall = !strcmp(value, "stall");
		return 0;
	}
	if (!strcmp(key, "rdp")) {
		if (sim_parse_u64(value, &u) < 0 || u > 1)
			goto bad;
		/* Level 1 as RM0090 writes it: any value but 0xAA/0xCC. */
		*stm32_rdp_byte(d) = u ? 0x55 : 0xaa;
		return 0;
	}
	if (!strcmp(key, "fill")) {
		if (!strcmp(value, "erased")) {
			d->fill_random = false;
			return 0;
		}
		if (strncmp(value, "random:", 7) || sim_parse_u64(value + 7, &d->fill_seed) < 0)
			goto bad;
		d->fill_random = true;
		return 0;
	}
	if (!strcmp(key, "nor_status")) {
		if (!strcmp(value, "verify"))
			d->nor_status = DFUSE_NOR_VERIFY;
		else if (!strcmp(value, "prog"))
			d->nor_status = DFUSE_NOR_PROG;
		else if (!strcmp(value, "silent"))
			d->nor_status = DFUSE_NOR_SILENT;
		else
			goto bad;
		return 0;
	}
	if (!strncmp(key, "timing.", 7)) {
		if (sim_parse_double(value, &v) < 0)
			goto bad;
		r = stm32_timing_option(d, key + 7, v);
		if (r == -EINVAL)
			goto bad;
		return r;
	}
	return -ENOENT;
bad:
	return sim_board_errf(b, -EINVAL, "option '%s': bad value '%s'", key, value);
}

/* Deterministic UID from a text seed (FNV-1a then splitmix64). */
static void stm32_derive_uid(uint8_t uid[12], const char *text)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = text; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	for (int i = 0; i < 12; i++) {
		uint64_t z = (h += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		uid[i] = (z ^ (z >> 31)) >> 24;
	}
}

/*
 * F4 ROM iSerial from the UID (protocol-dfu.md §3.2, [BMP-SN][ST-SNC0]): the
 * UID as six little-endian halfwords u[0..5]; serial = hex16(u1+u5) ||
 * hex16(u0+u4) || hex16(u3), upper case, sums modulo 2^16.
 */
static void stm32_serial_from_uid(const uint8_t uid[12], char out[13])
{
	uint16_t u[6];

	for (int i = 0; i < 6; i++)
		u[i] = uid[2 * i] | uid[2 * i + 1] << 8;
	snprintf(out, 13, "%04X%04X%04X", (uint16_t)(u[1] + u[5]), (uint16_t)(u[0] + u[4]), u[3]);
}

static void stm32_build_sectors(struct stm32_dfuse *d)
{
	uint32_t off = 0;
	unsigned n = 0;

	if (d->part->page_size) {
		/* RM0351 §3.3.1: uniform pages. */
		for (; off < d->flash_kib * 1024u && n < STM32_MAX_SECTORS;
		     off += d->part->page_size)
			d->sector_off[n++] = off;
		d->n_sectors = n;
		d->sector_off[n] = off;
		return;
	}
	/* RM0090 Table 5: sectors 0-3 16 KB, 4 64 KB, 5-11 128 KB. */
	for (int i = 0; i < 4; i++, off += 16384)
		d->sector_off[n++] = off;
	d->sector_off[n++] = off;
	off += 65536;
	while (off < d->flash_kib * 1024u && n < STM32_MAX_SECTORS) {
		d->sector_off[n++] = off;
		off += 131072;
	}
	d->n_sectors = n;
	d->sector_off[n] = off;
}

int stm32_sector_of(const struct stm32_dfuse *d, uint32_t addr)
{
	uint32_t off;

	if (addr < STM32_FLASH_BASE)
		return -ERANGE;
	off = addr - STM32_FLASH_BASE;
	for (unsigned i = 0; i < d->n_sectors; i++)
		if (off >= d->sector_off[i] && off < d->sector_off[i + 1])
			return i;
	return -ERANGE;
}

static bool in_range(uint32_t addr, size_t len, uint32_t base, size_t size)
{
	return addr >= base && (uint64_t)addr - base + len <= size;
}

uint8_t *stm32_map(struct stm32_dfuse *d, int alt, uint32_t addr, size_t len, bool write,
		   int *region)
{
	if ((alt < 0 || alt == 0) && in_range(addr, len, STM32_FLASH_BASE, d->flash.size)) {
		*region = 0;
		return d->flash.mem + (addr - STM32_FLASH_BASE);
	}
	const struct stm32_part *p = d->part;

	if ((alt < 0 || alt == 1) && in_range(addr, len, p->option_base, p->option_size)) {
		*region = 1;
		return d->option + (addr - p->option_base);
	}
	if ((alt < 0 || alt == 2) && in_range(addr, len, p->otp_base, p->otp_size)) {
		*region = 2;
		return d->otp.mem + (addr - p->otp_base);
	}
	if ((alt < 0 || alt == 3) && in_range(addr, len, STM32_FEATURE_BASE, STM32_FEATURE_SIZE)) {
		*region = 3;
		return d->feature + (addr - STM32_FEATURE_BASE);
	}
	/* UID and flash size sit outside every advertised segment; the F4 ROM
	 * refuses them [ST-F4UID], unless the scenario says otherwise. */
	if (!write && d->uid_readable && in_range(addr, len, p->sysinfo_base, p->sysinfo_size)) {
		*region = 4;
		return d->sysinfo + (addr - p->sysinfo_base);
	}
	return NULL;
}

void stm32_power_on_state(struct stm32_dfuse *d)
{
	/* Many ROMs power up in dfuERROR/errFIRMWARE (protocol-dfu.md §1.6). */
	d->state = d->boot_error ? DFU_STATE_ERROR : DFU_STATE_IDLE;
	d->status = d->boot_error ? DFU_STATUS_ERR_FIRMWARE : DFU_STATUS_OK;
	/* The ROM's pointer starts at the flash base [AN2662 §4.4.1]. */
	d->pointer = STM32_FLASH_BASE;
	d->op = DFUSE_OP_NONE;
	d->busy_until = 0;
	d->left = false;
}

static int stm32_build_identity(struct sim_board *b)
{
	struct stm32_dfuse *d = dfuse(b);
	uint8_t dev[18], cfg[9 + 4 * 9 + 9], *p;
	char seedtext[40];
	int r;

	/* Device descriptor of the F405 ROM, bcdDevice 0x2200 (§1.1, §3.1). */
	dev[0] = 18;
	dev[1] = SIM_USB_DT_DEVICE;
	sim_put_le16(dev + 2, 0x0100);
	dev[4] = 0;
	dev[5] = 0;
	dev[6] = 0;
	dev[7] = 64;
	sim_put_le16(dev + 8, 0x0483);
	sim_put_le16(dev + 10, 0xdf11);
	sim_put_le16(dev + 12, 0x2200);
	dev[14] = 1;
	dev[15] = 2;
	dev[16] = 3;
	dev[17] = 1;

	p = cfg;
	p[0] = 9;
	p[1] = SIM_USB_DT_CONFIG;
	sim_put_le16(p + 2, sizeof(cfg));
	p[4] = 1; /* interfaces */
	p[5] = 1; /* bConfigurationValue */
	p[6] = 0;
	p[7] = 0xc0; /* self-powered, as the F4 ROM reports */
	p[8] = 50;   /* 100 mA */
	p += 9;
	for (int alt = 0; alt < 4; alt++, p += 9) {
		p[0] = 9;
		p[1] = SIM_USB_DT_INTERFACE;
		p[2] = 0;
		p[3] = alt;
		p[4] = 0;    /* control pipe only */
		p[5] = 0xfe; /* application specific */
		p[6] = 0x01; /* DFU */
		p[7] = 0x02; /* DFU mode */
		p[8] = 4 + alt;
	}
	/* DFU functional descriptor after the last alt (§1.2): WillDetach,
	 * manifestation-intolerant, upload, download. */
	p[0] = 9;
	p[1] = SIM_USB_DT_DFU_FUNCTIONAL;
	p[2] = 0x0b;
	sim_put_le16(p + 3, 255);
	sim_put_le16(p + 5, d->transfer_size);
	sim_put_le16(p + 7, 0x011a);
	r = sim_board_set_descriptors(b, dev, cfg, sizeof(cfg), SIM_SPEED_FULL);
	if (r < 0)
		return r;
	r = sim_board_set_class_descriptor(b, SIM_USB_DT_DFU_FUNCTIONAL, p, 9);
	if (r < 0)
		return r;

	if (!d->have_uid) {
		if (d->serial_opt)
			snprintf(seedtext, sizeof(seedtext), "serial:%.30s", d->serial_opt);
		else
			snprintf(seedtext, sizeof(seedtext), "seed:%llu",
				 (unsigned long long)d->seed);
		stm32_derive_uid(d->uid, seedtext);
	}
	memset(d->sysinfo, 0xff, sizeof(d->sysinfo));
	memcpy(d->sysinfo, d->uid, 12);
	/* Flash size register: KiB, 16-bit LE (F4 0x1FFF7A22, §3.3). */
	sim_put_le16(d->sysinfo + (d->part->flashsize_addr - d->part->sysinfo_base), d->flash_kib);
	if (d->serial_opt)
		snprintf(d->serial, sizeof(d->serial), "%s", d->serial_opt);
	else
		stm32_serial_from_uid(d->uid, d->serial);

	/* Alt strings of the ROM 0x2200 (§2.6); alt 0 counts F4 128K sectors
	 * or L4 pages. */
	snprintf(d->alt_name[0], sizeof(d->alt_name[0]), d->part->alt_fmt[0],
		 d->part->page_size ? d->n_sectors : d->n_sectors - 5);
	for (int alt = 1; alt < 4; alt++)
		snprintf(d->alt_name[alt], sizeof(d->alt_name[alt]), "%s", d->part->alt_fmt[alt]);

	if ((r = sim_board_set_string(b, 1, "STMicroelectronics")) < 0 ||
	    (r = sim_board_set_string(b, 2, "STM32  BOOTLOADER")) < 0 ||
	    (r = sim_board_set_string(b, 3, d->serial)) < 0)
		return r;
	for (int alt = 0; alt < 4; alt++)
		if ((r = sim_board_set_string(b, 4 + alt, d->alt_name[alt])) < 0)
			return r;
	return 0;
}

static int stm32_start(struct sim_board *b)
{
	struct stm32_dfuse *d = dfuse(b);
	int r;

	stm32_build_sectors(d);
	if (sim_nor_init(&d->flash, (size_t)d->flash_kib * 1024) < 0 ||
	    sim_nor_init(&d->otp, d->part->otp_size) < 0)
		return -ENOMEM;
	if (d->fill_random)
		sim_nor_fill_random(&d->flash, d->fill_seed);
	memset(d->feature, 0xff, sizeof(d->feature));
	d->buf = malloc(d->transfer_size);
	if (!d->buf)
		return -ENOMEM;
	r = stm32_build_identity(b);
	if (r < 0)
		return sim_board_errf(b, r, "building descriptors: %s", strerror(-r));
	stm32_power_on_state(d);
	return 0;
}

static int stm32_set_interface(struct sim_board *b, uint8_t intf, uint8_t alt)
{
	struct stm32_dfuse *d = dfuse(b);

	if (intf != 0 || alt > 3)
		return -EPIPE;
	/* Switching memory ends an upload in progress, as ABORT would. */
	if (d->state == DFU_STATE_UPLOAD_IDLE)
		d->state = DFU_STATE_IDLE;
	return 0;
}

static void stm32_usb_reset(struct sim_board *b)
{
	struct stm32_dfuse *d = dfuse(b);

	/* A bus reset re-initialises the ROM's DFU class; memories and RDP
	 * stay.  An operation in flight finishes (the flash controller does
	 * not care about USB). */
	if (d->left)
		return;
	d->state = DFU_STATE_IDLE;
	d->status = DFU_STATUS_OK;
	d->op = DFUSE_OP_NONE;
}

static void stm32_power_off(struct sim_board *b)
{
	struct stm32_dfuse *d = dfuse(b);

	d->op = DFUSE_OP_NONE;
	d->busy_until = 0;
}

static void stm32_power_on(struct sim_board *b)
{
	stm32_power_on_state(dfuse(b));
}

static bool stm32_memory(struct sim_board *b, unsigned idx, const char **name, const uint8_t **data,
			 size_t *len)
{
	struct stm32_dfuse *d = dfuse(b);

	switch (idx) {
	case 0:
		*name = "flash";
		*data = d->flash.mem;
		*len = d->flash.size;
		return true;
	case 1:
		*name = "option-bytes";
		*data = d->option;
		*len = d->part->option_size;
		return true;
	case 2:
		*name = "otp";
		*data = d->otp.mem;
		*len = d->otp.size;
		return true;
	default:
		return false;
	}
}

static const char *stm32_state(struct sim_board *b)
{
	static const char *const names[] = {
		[DFU_STATE_APP_IDLE] = "app-idle",
		[DFU_STATE_APP_DETACH] = "app-detach",
		[DFU_STATE_IDLE] = "dfu-idle",
		[DFU_STATE_DNLOAD_SYNC] = "dfu-dnload-sync",
		[DFU_STATE_DNBUSY] = "dfu-dnbusy",
		[DFU_STATE_DNLOAD_IDLE] = "dfu-dnload-idle",
		[DFU_STATE_MANIFEST_SYNC] = "dfu-manifest-sync",
		[DFU_STATE_MANIFEST] = "dfu-manifest",
		[DFU_STATE_MANIFEST_WAIT_RESET] = "dfu-manifest-wait-reset",
		[DFU_STATE_UPLOAD_IDLE] = "dfu-upload-idle",
		[DFU_STATE_ERROR] = "dfu-error",
	};
	struct stm32_dfuse *d = dfuse(b);

	if (d->rom_disabled)
		return "rdp2-no-rom";
	if (d->left) {
		snprintf(d->state_text, sizeof(d->state_text), "left@0x%08X", d->jump_addr);
		return d->state_text;
	}
	if (!sim_board_connected(b))
		return "resetting";
	if (d->state == DFU_STATE_DNBUSY && sim_board_now_ns(b) >= d->busy_until)
		return "dfu-dnload-sync";
	return d->state <= DFU_STATE_ERROR ? names[d->state] : "unknown";
}

const struct sim_model sim_stm32_dfuse_model = {
	.names = stm32_names,
	.steps = stm32_steps,
	.create = stm32_create,
	.option = stm32_option,
	.start = stm32_start,
	.destroy = stm32_destroy,
	.request = stm32_dfuse_request,
	.set_interface = stm32_set_interface,
	.usb_reset = stm32_usb_reset,
	.power_off = stm32_power_off,
	.power_on = stm32_power_on,
	.busy_delay = stm32_dfuse_busy_delay,
	.memory = stm32_memory,
	.state = stm32_state,
};
