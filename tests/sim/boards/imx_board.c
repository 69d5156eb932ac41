/*
 * This file implements the i.MX6 board model's frame (imx.h): board types,
 * options, the two USB identities (boot ROM HID device, U-Boot fastboot
 * gadget), memories, power and the device-to-host message queue.  The
 * protocols are in imx_sdp.c and imx_fastboot.c.
 */
#include "tests/sim/boards/imx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * ROM identities (§2.1 VID:PIDs; §1.1 strings).  OCRAM/DDR ranges and the
 * DCD scratch address are those of imx_usb's mx6_usb_work.conf and
 * mx6ull_usb_work.conf (Debian imx-usb-loader); U-Boot load and fastboot
 * buffer addresses: §4.3 (0x82000000 on MX6UL/ULL) and the mx6 EVK
 * convention of loadaddr 0x12000000 (assumption for the 6Q buffer).
 * Product strings: "SE Blank 6UL" is §1.1; "SE Blank ARIK" (6Q) and "SE
 * Blank 6ULL" are assumptions in the same pattern.
 */
static const struct imx_soc imx_socs[] = {
	{ "imx6q-sdp", 0x0054, "SE Blank ARIK", false, 0x00900000, 0x40000, 0x10000000, 1024,
	  0x12000000, 0x12000000, "mx6qsabresd" },
	{ "imx6ul-sdp", 0x007d, "SE Blank 6UL", true, 0x00900000, 0x20000, 0x80000000, 512,
	  0x80800000, 0x82000000, "mx6ul_14x14_evk" },
	{ "imx6ull-sdp", 0x0080, "SE Blank 6ULL", true, 0x00900000, 0x20000, 0x80000000, 512,
	  0x80800000, 0x82000000, "mx6ull_14x14_evk" },
	/*
	 * i.MX8M (§2.1 VID:PIDs, §3.1 UID words, §1.12 stream ROM, §1.13 SPL
	 * gadget).  RAM: one window from ITCM 0x7E0000 over DTCM to the end
	 * of OCRAM (256 KiB on 8MM, 512 KiB on 8MP at 0x900000), DDR at
	 * 0x40000000; loadaddr 0x40480000, fastboot buffer 0x42800000 and
	 * SDP load address 0x40400000 as in imx8mm_evk/imx8mp_evk defconfigs
	 * (assumptions, boards/README.md), as are the product strings.
	 */
	{ "imx8mm-sdp", 0x0134, "SE Blank M845S", true, 0x007e0000, 0x160000, 0x40000000, 512,
	  0x40480000, 0x42800000, "imx8mm_evk", 0x1fc9, 0x30350410, 0x30350420, false, 0x40400000 },
	{ "imx8mp-sdps", 0x0146, "SE Blank 865", false, 0x007e0000, 0x1a0000, 0x40000000, 512,
	  0x40480000, 0x42800000, "imx8mp_evk", 0x1fc9, 0x30350420, 0x30350430, true, 0x40400000,
	  true },
};

static const char *const imx_names[] = { "imx6q-sdp",  "imx6ul-sdp",  "imx6ull-sdp",
					 "imx8mm-sdp", "imx8mp-sdps", NULL };

static const char *const imx_steps[] = {
	"sdp_command", "write_file", "dcd_write", "jump",   "uboot_boot", "fb_command",
	"fb_download", "fb_flash",   "fb_erase",  "stream", "spl_boot",	  NULL,
};

/* i.MX6 OCOTP shadow registers holding the UID (§3.1). */
#define OCOTP_UID_LOW 0x021bc410u
#define OCOTP_UID_HIGH 0x021bc420u

/*
 * Default timing (device time at timing.scale 1.0).  eMMC write: 56 MB/s
 * is snagfactory's measured eMMC write rate (§6, AM62x; an i.MX6 uSDHC in
 * HS200 is in the same range); everything else is an assumption, see
 * boards/README.md.
 */
static const struct imx_timing imx_default_timing = {
	.command = 100000ull,
	.dcd_write = 1000ull,
	.leave = 200000000ull,
	.uboot_boot = 1000000000ull,
	.rom_boot = 100000000ull,
	.spl_boot = 300000000ull,
	.fb_command = 100000ull,
	.emmc_write_kbps = 54687, /* 56 MB/s */
	.emmc_erase_kbps = 1048576,
};

/* Default GPT: 1 MiB reserved for the i.MX boot image at 0x400, then env,
 * boot and rootfs ("-" = the rest). */
#define IMX_DEFAULT_PARTITIONS "env:1024,boot:16384,rootfs:-"

struct imx_board *imx_priv(struct sim_board *b)
{
	return sim_board_priv(b);
}

static int imx_create(struct sim_board *b, const char *type)
{
	struct imx_board *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(imx_socs) / sizeof(imx_socs[0]); i++)
		if (!strcmp(imx_socs[i].type, type))
			d->soc = &imx_socs[i];
	if (!d->soc) {
		free(d);
		return -EINVAL;
	}
	d->seed = 1;
	d->ddr_mib = d->soc->ddr_mib;
	d->emmc_mib = 64;
	d->emmc_boot_kib = IMX_EMMC_BOOT_KIB;
	/* CONFIG_FASTBOOT_BUF_SIZE default 0x7000000 (§4.3). */
	d->fb_buf_size = 0x7000000;
	d->t = imx_default_timing;
	d->sdp_status = SDP_HAB_SUCCESS;
	sim_board_set_priv(b, d);
	return 0;
}

static void imx_env_free(struct imx_board *d)
{
	for (unsigned i = 0; i < d->n_env; i++) {
		free(d->env[i].name);
		free(d->env[i].value);
	}
	d->n_env = 0;
}

static void imx_destroy(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);

	if (!d)
		return;
	free(d->inq.m);
	imx_sdps_reset(d);
	free(d->ocram);
	free(d->ddr);
	sim_emmc_release(&d->emmc);
	free(d->partitions);
	free(d->serial_opt);
	imx_env_free(d);
	free(d);
	sim_board_set_priv(b, NULL);
}

static int imx_timing_option(struct imx_board *d, const char *name, uint64_t v)
{
	static const struct {
		const char *name;
		size_t off;
		uint64_t to_ns;
	} tab[] = {
		{ "command_us", offsetof(struct imx_timing, command), 1000 },
		{ "dcd_write_us", offsetof(struct imx_timing, dcd_write), 1000 },
		{ "leave_ms", offsetof(struct imx_timing, leave), 1000000 },
		{ "uboot_boot_ms", offsetof(struct imx_timing, uboot_boot), 1000000 },
		{ "rom_boot_ms", offsetof(struct imx_timing, rom_boot), 1000000 },
		{ "spl_boot_ms", offsetof(struct imx_timing, spl_boot), 1000000 },
		{ "fb_command_us", offsetof(struct imx_timing, fb_command), 1000 },
		{ "emmc_write_kbps", offsetof(struct imx_timing, emmc_write_kbps), 1 },
		{ "emmc_erase_kbps", offsetof(struct imx_timing, emmc_erase_kbps), 1 },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(name, tab[i].name))
			continue;
		if (v > 1000000000000ull || (tab[i].to_ns == 1 && !v))
			return -EINVAL;
		*(uint64_t *)((char *)&d->t + tab[i].off) = v * tab[i].to_ns;
		return 0;
	}
	return -ENOENT;
}

static int imx_option(struct sim_board *b, const char *key, const char *value)
{
	struct imx_board *d = imx_priv(b);
	uint64_t u;
	int r;

	if (!strcmp(key, "uid")) {
		/* 16 hex digits: (word@0x420 << 32) | word@0x410, as Linux prints. */
		if (strlen(value) != 16)
			goto bad;
		u = 0;
		for (int i = 0; i < 16; i++) {
			int h = sim_hex_digit(value[i]);

			if (h < 0)
				goto bad;
			u = u << 4 | (uint64_t)h;
		}
		d->uid = u;
		d->have_uid = true;
		return 0;
	}
	if (!strcmp(key, "seed"))
		return sim_parse_u64(value, &d->seed) < 0
			       ? sim_board_errf(b, -EINVAL, "option '%s': bad value '%s'", key,
						value)
			       : 0;
	if (!strcmp(key, "hab")) {
		if (strcmp(value, "open") && strcmp(value, "closed"))
			goto bad;
		d->hab_closed = !strcmp(value, "closed");
		return 0;
	}
	if (!strcmp(key, "ddr_mib")) {
		if (sim_parse_u64(value, &u) < 0 || u < 16 || u > 2048)
			goto bad;
		d->ddr_mib = u;
		return 0;
	}
	if (!strcmp(key, "emmc_mib")) {
		if (sim_parse_u64(value, &u) < 0 || u < 2 || u > 4096)
			goto bad;
		d->emmc_mib = u;
		return 0;
	}
	if (!strcmp(key, "emmc_boot_kib")) {
		/* BOOT_SIZE_MULT x 128 KiB (JESD84-B51 EXT_CSD[226]), 0 = none. */
		if (sim_parse_u64(value, &u) < 0 || !u || u % 128 || u > 255 * 128)
			goto bad;
		d->emmc_boot_kib = (unsigned)u;
		return 0;
	}
	if (!strcmp(key, "fb_buf_size")) {
		if (sim_parse_u64(value, &u) < 0 || u < 4096 || u > 0x40000000)
			goto bad;
		d->fb_buf_size = u;
		return 0;
	}
	if (!strcmp(key, "partitions") || !strcmp(key, "serial")) {
		char *s = strdup(value);

		if (!s)
			return -ENOMEM;
		if (key[0] == 'p') {
			free(d->partitions);
			d->partitions = s;
		} else {
			if (strlen(s) > 60) {
				free(s);
				goto bad;
			}
			free(d->serial_opt);
			d->serial_opt = s;
		}
		return 0;
	}
	if (!strcmp(key, "start")) {
		if (strcmp(value, "rom") && strcmp(value, "fastboot"))
			goto bad;
		d->start_fastboot = !strcmp(value, "fastboot");
		return 0;
	}
	if (!strcmp(key, "fastboot_speed")) {
		/* Only a part with a USB3 controller can run the gadget at
		 * SuperSpeed (boards/README.md, imx8mp-sdps). */
		if (strcmp(value, "high") && (strcmp(value, "super") || !d->soc->usb3))
			goto bad;
		d->fastboot_super = !strcmp(value, "super");
		return 0;
	}
	if (!strcmp(key, "dump_ram")) {
		if (sim_parse_bool(value, &d->dump_ram) < 0)
			goto bad;
		return 0;
	}
	if (!strncmp(key, "timing.", 7)) {
		if (sim_parse_u64(value, &u) < 0)
			goto bad;
		r = imx_timing_option(d, key + 7, u);
		if (r == -EINVAL)
			goto bad;
		return r;
	}
	return -ENOENT;
bad:
	return sim_board_errf(b, -EINVAL, "option '%s': bad value '%s'", key, value);
}

/* "name:KiB,name:KiB,name:-" from 1 MiB on; "-" takes the rest. */
static int imx_build_gpt(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);
	const char *spec = d->partitions ? d->partitions : IMX_DEFAULT_PARTITIONS;
	struct sim_part parts[16];
	uint64_t pos = 1 << 20, end = (uint64_t)d->emmc_mib << 20;
	size_t n = 0;
	const char *p = spec;

	/* A factory-fresh part: no partition table at all. */
	if (!strcmp(spec, "none"))
		return 0;

	/* Usable area ends before the backup GPT (33 sectors). */
	end -= 33 * SIM_EMMC_SECTOR;
	end -= end % 4096;
	while (*p) {
		const char *colon = strchr(p, ':'), *comma;
		size_t nl;
		uint64_t kib;

		if (!colon || n == 16)
			goto bad;
		nl = (size_t)(colon - p);
		if (!nl || nl > 36)
			goto bad;
		memset(&parts[n], 0, sizeof(parts[n]));
		memcpy(parts[n].name, p, nl);
		comma = strchr(colon, ',');
		if (!comma)
			comma = colon + strlen(colon);
		if (comma - colon == 2 && colon[1] == '-') {
			if (pos >= end)
				goto bad;
			parts[n].size = end - pos;
		} else {
			char num[24];

			if (comma - colon - 1 <= 0 || comma - colon - 1 >= (long)sizeof(num))
				goto bad;
			memcpy(num, colon + 1, comma - colon - 1);
			num[comma - colon - 1] = 0;
			if (sim_parse_u64(num, &kib) < 0 || !kib || pos + kib * 1024 > end)
				goto bad;
			parts[n].size = kib * 1024;
		}
		parts[n].start = pos;
		pos += parts[n].size;
		n++;
		p = *comma ? comma + 1 : comma;
	}
	if (sim_emmc_write_gpt(&d->emmc, parts, n, d->uid) < 0)
		goto bad;
	return 0;
bad:
	return sim_board_errf(b, -EINVAL, "option 'partitions': bad value '%s'", spec);
}

static const uint8_t imx_hid_report_desc[] = {
	0x06, 0x00, 0xff,				/* usage page vendor 0xFF00 */
	0x09, 0x01, 0xa1, 0x01,				/* usage 1, collection (application) */
	0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08,	/* bytes 0..255 */
	0x85, 0x01, 0x09, 0x01, 0x95, 0x10, 0x91, 0x02, /* report 1: 16 bytes out */
	0x85, 0x02, 0x09, 0x01, 0x96, 0x00, 0x04, 0x91, 0x02, /* report 2: 1024 bytes out */
	0x85, 0x03, 0x09, 0x01, 0x95, 0x04, 0x81, 0x02,	      /* report 3: 4 bytes in */
	0x85, 0x04, 0x09, 0x01, 0x95, 0x40, 0x81, 0x02,	      /* report 4: 64 bytes in */
	0xc0,
};

static void imx_device_desc(uint8_t dev[18], uint16_t vid, uint16_t pid, uint16_t bcd, bool serial)
{
	dev[0] = 18;
	dev[1] = SIM_USB_DT_DEVICE;
	sim_put_le16(dev + 2, 0x0200);
	dev[4] = dev[5] = dev[6] = 0;
	dev[7] = 64;
	sim_put_le16(dev + 8, vid);
	sim_put_le16(dev + 10, pid);
	sim_put_le16(dev + 12, bcd);
	dev[14] = 1;
	dev[15] = 2;
	dev[16] = serial ? 3 : 0;
	dev[17] = 1;
}

int imx_identity_rom(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);
	uint8_t dev[18], cfg[9 + 9 + 9 + 7 + 7], *p = cfg;
	size_t cfg_len = sizeof(cfg) - (d->soc->sdps ? 0 : 7);
	int r;

	/* §1.1: 15a2:PID (1fc9 on i.MX8M, §2.1), bcdDevice 0.01, no serial
	 * string (the 8M ROMs' index-4 serial is not modelled). */
	imx_device_desc(dev, d->soc->vid ? d->soc->vid : 0x15a2, d->soc->pid, 0x0001, false);
	p[0] = 9;
	p[1] = SIM_USB_DT_CONFIG;
	p[4] = 1;
	p[5] = 1;
	p[6] = 0;
	p[7] = 0xc0;
	p[8] = 50;
	p += 9;
	sim_put_le16(cfg + 2, (uint16_t)cfg_len);
	/* One HID interface, no boot subclass, interrupt IN only: OUT reports
	 * go by SET_REPORT on EP0 (§1.1); the stream ROMs add interrupt OUT
	 * EP1 (§1.12). */
	*p++ = 9, *p++ = SIM_USB_DT_INTERFACE, *p++ = 0, *p++ = 0, *p++ = d->soc->sdps ? 2 : 1;
	*p++ = 0x03, *p++ = 0, *p++ = 0, *p++ = 0;
	*p++ = 9, *p++ = 0x21, *p++ = 0x10, *p++ = 0x01, *p++ = 0, *p++ = 1, *p++ = 0x22;
	sim_put_le16(p, sizeof(imx_hid_report_desc));
	p += 2;
	/* EP 0x81 interrupt, 512 bytes at high speed as U-Boot's SDP gadget
	 * reproduces it (§1.1), bInterval 3 (4 microframes). */
	*p++ = 7, *p++ = 0x05, *p++ = 0x81, *p++ = 0x03;
	sim_put_le16(p, 512);
	p += 2;
	*p++ = 3;
	if (d->soc->sdps) {
		/* 1021-byte reports: one 1024-byte high-speed packet each. */
		*p++ = 7, *p++ = 0x05, *p++ = 0x01, *p++ = 0x03;
		sim_put_le16(p, 1024);
		p += 2;
		*p++ = 3;
	}
	r = sim_board_set_descriptors(b, dev, cfg, cfg_len, SIM_SPEED_HIGH);
	if (r < 0)
		return r;
	r = sim_board_set_class_descriptor(b, 0x22, imx_hid_report_desc,
					   sizeof(imx_hid_report_desc));
	if (r < 0)
		return r;
	if ((r = sim_board_set_string(b, 1,
				      d->soc->vid == 0x1fc9 ? "NXP       SemiConductor Inc "
							    : "Freescale SemiConductor Inc ")) <
		    0 ||
	    (r = sim_board_set_string(b, 2, d->soc->product)) < 0 ||
	    (r = sim_board_set_string(b, 3, NULL)) < 0 ||
	    (r = sim_board_set_string(b, 4, NULL)) < 0)
		return r;
	return 0;
}

/*
 * One bulk endpoint of the fastboot interface: 512 bytes at high speed
 * (§2.3); at SuperSpeed 1024 bytes followed by its SuperSpeed endpoint
 * companion, no bursts (USB 3.2 §9.6.7; U-Boot f_fastboot.c ss_ep_in,
 * ss_ep_out).  Returns the end of what was written.
 */
static uint8_t *fastboot_ep(uint8_t *p, uint8_t addr, bool super)
{
	*p++ = 7, *p++ = 0x05, *p++ = addr, *p++ = 0x02;
	sim_put_le16(p, super ? 1024 : 512);
	p += 2;
	*p++ = 0;
	if (super)
		*p++ = 6, *p++ = 0x30, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 0;
	return p;
}

int imx_identity_fastboot(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);
	bool super = d->fastboot_super;
	uint8_t dev[18], cfg[9 + 9 + 2 * (7 + 6)], *p = cfg;
	int r;

	/* §2.2/§2.3: 0525:a4a5 (upstream EVK defconfigs), g_dnl strings,
	 * iSerialNumber = env serial#.  bcdDevice: assumption (g_dnl derives
	 * it from the U-Boot version). */
	imx_device_desc(dev, 0x0525, 0xa4a5, 0x0223, true);
	if (super) {
		/* U-Boot's composite.c on a SuperSpeed link (USB_DT_DEVICE):
		 * bcdUSB 0x0300, bMaxPacketSize0 9 (2^9 = 512 bytes). */
		sim_put_le16(dev + 2, 0x0300);
		dev[7] = 9;
	}
	p[0] = 9;
	p[1] = SIM_USB_DT_CONFIG;
	p[4] = 1;
	p[5] = 1;
	p[6] = 0;
	p[7] = 0xc0;
	p[8] = 1;
	p += 9;
	*p++ = 9, *p++ = SIM_USB_DT_INTERFACE, *p++ = 0, *p++ = 0, *p++ = 2;
	*p++ = 0xff, *p++ = 0x42, *p++ = 0x03, *p++ = 4;
	/* Bulk IN 0x81 and OUT 0x01. */
	p = fastboot_ep(p, 0x81, super);
	p = fastboot_ep(p, 0x01, super);
	r = sim_board_set_descriptors(b, dev, cfg, (size_t)(p - cfg),
				      super ? SIM_SPEED_SUPER : SIM_SPEED_HIGH);
	if (r < 0)
		return r;
	r = sim_board_set_class_descriptor(b, 0, NULL, 0);
	if (r < 0)
		return r;
	if ((r = sim_board_set_string(b, 1, "FSL")) < 0 ||
	    (r = sim_board_set_string(b, 2, "USB download gadget")) < 0 ||
	    (r = sim_board_set_string(b, 3, d->serial)) < 0 ||
	    (r = sim_board_set_string(b, 4, "Android Fastboot")) < 0)
		return r;
	return 0;
}

int imx_identity_spl(struct sim_board *b)
{
	uint8_t dev[18], cfg[9 + 9 + 9 + 7 + 7], *p = cfg;
	int r;

	/* §1.13: upstream SPL = 0525:(0xA4A5 + 0xFFF) with bcdDevice 0x0500
	 * (SDPV); HID like the ROM's, interrupt IN 0x81 (HS 512) and OUT 0x01
	 * (HS 1024), bInterval 3 (§1.1, U-Boot f_sdp.c). */
	imx_device_desc(dev, 0x0525, 0xb4a4, 0x0500, false);
	p[0] = 9;
	p[1] = SIM_USB_DT_CONFIG;
	sim_put_le16(p + 2, sizeof(cfg));
	p[4] = 1;
	p[5] = 1;
	p[6] = 0;
	p[7] = 0xc0;
	p[8] = 1;
	p += 9;
	*p++ = 9, *p++ = SIM_USB_DT_INTERFACE, *p++ = 0, *p++ = 0, *p++ = 2;
	*p++ = 0x03, *p++ = 0, *p++ = 0, *p++ = 4;
	*p++ = 9, *p++ = 0x21, *p++ = 0x10, *p++ = 0x01, *p++ = 0, *p++ = 1, *p++ = 0x22;
	sim_put_le16(p, sizeof(imx_hid_report_desc));
	p += 2;
	*p++ = 7, *p++ = 0x05, *p++ = 0x81, *p++ = 0x03;
	sim_put_le16(p, 512);
	p += 2;
	*p++ = 3;
	*p++ = 7, *p++ = 0x05, *p++ = 0x01, *p++ = 0x03;
	sim_put_le16(p, 1024);
	p += 2;
	*p++ = 3;
	r = sim_board_set_descriptors(b, dev, cfg, sizeof(cfg), SIM_SPEED_HIGH);
	if (r < 0)
		return r;
	r = sim_board_set_class_descriptor(b, 0x22, imx_hid_report_desc,
					   sizeof(imx_hid_report_desc));
	if (r < 0)
		return r;
	if ((r = sim_board_set_string(b, 1, "FSL")) < 0 ||
	    (r = sim_board_set_string(b, 2, "USB download gadget")) < 0 ||
	    (r = sim_board_set_string(b, 3, NULL)) < 0 ||
	    (r = sim_board_set_string(b, 4, "Serial Downloader Protocol")) < 0)
		return r;
	return 0;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void imx_power_on_state(struct imx_board *d)
{
	imx_inq_clear(d);
	imx_sdp_reset(d);
	imx_sdps_reset(d);
	imx_fb_reset(d);
	d->mode = IMX_ROM;
	d->last_write_addr = d->last_write_len = 0;
	d->sdp_status = SDP_HAB_SUCCESS;
	d->dcd_skipped = false;
	d->n_regs = 0;
	d->busy_until = 0;
	/* The ROM has read the fuses: the UID shadows are valid (§3.1). */
	imx_reg_write(d, d->soc->uid_lo ? d->soc->uid_lo : OCOTP_UID_LOW, (uint32_t)d->uid);
	imx_reg_write(d, d->soc->uid_hi ? d->soc->uid_hi : OCOTP_UID_HIGH,
		      (uint32_t)(d->uid >> 32));
}

static int imx_start(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);
	uint64_t s = d->seed;
	int r;

	if (!d->have_uid)
		d->uid = splitmix(&s);
	/* U-Boot mx6 sets serial# = "%08x%08x" of the 0x410 word then the
	 * 0x420 word (§3.2). */
	if (d->serial_opt)
		snprintf(d->serial, sizeof(d->serial), "%s", d->serial_opt);
	else
		snprintf(d->serial, sizeof(d->serial), "%08x%08x", (uint32_t)d->uid,
			 (uint32_t)(d->uid >> 32));
	if (d->fb_buf_size >
	    ((uint64_t)d->ddr_mib << 20) - (d->soc->fb_buf_addr - d->soc->ddr_base))
		return sim_board_errf(b, -EINVAL,
				      "option 'fb_buf_size': buffer does not fit in DDR");
	d->ocram = calloc(1, d->soc->ocram_size);
	if (!d->ocram || sim_emmc_init(&d->emmc, (size_t)d->emmc_mib << 20) < 0)
		return -ENOMEM;
	if (sim_emmc_init_boot(&d->emmc, (size_t)d->emmc_boot_kib << 10) < 0)
		return -ENOMEM;
	r = imx_build_gpt(b);
	if (r < 0)
		return r;
	imx_power_on_state(d);
	if (d->start_fastboot) {
		/* As if a host had already booted our U-Boot over SDP. */
		imx_fb_env_defaults(d);
		d->mode = IMX_FASTBOOT;
		r = imx_identity_fastboot(b);
	} else {
		r = imx_identity_rom(b);
	}
	if (r < 0)
		return sim_board_errf(b, r, "building descriptors: %s", strerror(-r));
	return 0;
}

/* Memory */

uint8_t *imx_ram(struct imx_board *d, uint32_t addr, size_t len)
{
	const struct imx_soc *s = d->soc;
	uint64_t ddr_size = (uint64_t)d->ddr_mib << 20;

	if (addr >= s->ocram_base && (uint64_t)addr - s->ocram_base + len <= s->ocram_size)
		return d->ocram + (addr - s->ocram_base);
	if (addr >= s->ddr_base && (uint64_t)addr - s->ddr_base + len <= ddr_size) {
		/* Large and mostly untouched: calloc maps it lazily. */
		if (!d->ddr)
			d->ddr = calloc(1, ddr_size);
		return d->ddr ? d->ddr + (addr - s->ddr_base) : NULL;
	}
	return NULL;
}

uint32_t imx_reg_read(struct imx_board *d, uint32_t addr)
{
	uint8_t *p = imx_ram(d, addr, 4);

	if (p)
		return sim_get_le32(p);
	for (unsigned i = 0; i < d->n_regs; i++)
		if (d->regs[i].addr == addr)
			return d->regs[i].val;
	/* Peripheral registers nobody wrote read as 0 here. */
	return 0;
}

void imx_reg_write(struct imx_board *d, uint32_t addr, uint32_t val)
{
	uint8_t *p = imx_ram(d, addr, 4);

	if (p) {
		sim_put_le32(p, val);
		return;
	}
	for (unsigned i = 0; i < d->n_regs; i++) {
		if (d->regs[i].addr == addr) {
			d->regs[i].val = val;
			return;
		}
	}
	/* NEEDSWORK: a DCD with more distinct registers than this forgets
	 * the oldest; fixtures stay far below. */
	if (d->n_regs == IMX_MAX_REGS)
		memmove(d->regs, d->regs + 1, sizeof(d->regs[0]) * --d->n_regs);
	d->regs[d->n_regs].addr = addr;
	d->regs[d->n_regs].val = val;
	d->n_regs++;
}

/* Message queue */

uint64_t imx_after(struct sim_board *b, uint64_t device_ns)
{
	struct imx_board *d = imx_priv(b);
	uint64_t now = sim_board_now_ns(b), start = d->busy_until > now ? d->busy_until : now;

	return start + sim_board_scaled(b, device_ns);
}

static void imx_inq_fill(struct sim_board *b, struct imx_msg *m, struct sim_xfer *x)
{
	uint64_t now = sim_board_now_ns(b);
	size_t n = m->len < x->len ? m->len : x->len;

	memcpy(x->data, m->data, n);
	x->actual = n;
	/* A message longer than the buffer babbles, as on a real bus. */
	x->status = m->len > x->len ? -EOVERFLOW : 0;
	if (m->ready_ns > now)
		x->delay_ns += m->ready_ns - now;
}

/*
 * A reply is handed to an IN transfer only once the device has produced it.
 * Until then the transfer NAKs, and a host that gives up on it (unlinks the
 * URB, as a sliced wait does every slice) finds the reply on its next
 * transfer: on hardware the data waits in the endpoint buffer until the
 * host ACKs an IN transaction (USB 2.0 ch. 8: the function NAKs while it has
 * nothing, and data the host did not ACK is sent again).  Handing the reply
 * out early with a long completion delay lost it to the unlink.
 */
static bool imx_inq_head_ready(struct sim_board *b)
{
	struct imx_inq *q = &imx_priv(b)->inq;

	return q->n && q->m[q->head].ready_ns <= sim_board_now_ns(b);
}

static void imx_inq_wake(struct sim_board *b);

static void imx_inq_ready_cb(struct sim_board *b, void *arg)
{
	(void)arg;
	if (imx_priv(b))
		imx_inq_wake(b);
}

/* Call imx_inq_wake() when the head message becomes ready. */
static void imx_inq_arm(struct sim_board *b)
{
	struct imx_inq *q = &imx_priv(b)->inq;
	uint64_t now = sim_board_now_ns(b), ready = q->m[q->head].ready_ns;

	sim_board_schedule(b, ready > now ? ready - now : 0, imx_inq_ready_cb, NULL);
}

static enum imx_action imx_inq_take(struct sim_board *b, struct sim_xfer *x);

/* Give the ready head message to the parked IN transfer, if any. */
static void imx_inq_wake(struct sim_board *b)
{
	struct imx_inq *q = &imx_priv(b)->inq;
	struct sim_xfer *x = q->waiting;
	enum imx_action a;

	if (!x || !q->n)
		return;
	if (!imx_inq_head_ready(b)) {
		imx_inq_arm(b);
		return;
	}
	q->waiting = NULL;
	x->delay_ns = sim_board_scaled(b, sim_board_xfer_ns(b, x, q->m[q->head].len));
	a = imx_inq_take(b, x);
	sim_board_complete(b, x);
	if (a != IMX_ACT_NONE)
		imx_act(b, a, x->delay_ns);
}

void imx_inq_push(struct sim_board *b, const void *data, size_t len, uint64_t ready_ns)
{
	imx_inq_push_act(b, data, len, ready_ns, IMX_ACT_NONE);
}

/* Hand the head message to x; returns its action. */
static enum imx_action imx_inq_take(struct sim_board *b, struct sim_xfer *x)
{
	struct imx_inq *q = &imx_priv(b)->inq;
	enum imx_action a = q->m[q->head].action;

	imx_inq_fill(b, &q->m[q->head], x);
	q->head++;
	if (--q->n == 0)
		q->head = 0;
	return a;
}

void imx_inq_push_act(struct sim_board *b, const void *data, size_t len, uint64_t ready_ns,
		      enum imx_action action)
{
	struct imx_board *d = imx_priv(b);
	struct imx_inq *q = &d->inq;
	struct imx_msg *m;

	if (len > IMX_MSG_MAX)
		len = IMX_MSG_MAX;
	if (q->head + q->n == q->cap) {
		if (q->head) {
			memmove(q->m, q->m + q->head, q->n * sizeof(*q->m));
			q->head = 0;
		} else {
			size_t cap = q->cap ? q->cap * 2 : 16;
			struct imx_msg *nm = realloc(q->m, cap * sizeof(*nm));

			if (!nm)
				return; /* lost reply: the host times out */
			q->m = nm;
			q->cap = cap;
		}
	}
	m = &q->m[q->head + q->n++];
	memcpy(m->data, data, len);
	m->len = (uint8_t)len;
	m->action = (uint8_t)action;
	m->ready_ns = ready_ns;
	if (q->waiting)
		imx_inq_wake(b);
}

int imx_inq_serve(struct sim_board *b, struct sim_xfer *x)
{
	struct imx_inq *q = &imx_priv(b)->inq;
	enum imx_action a;

	if (!imx_inq_head_ready(b)) {
		/* NAK until a reply is ready; a second reader is not
		 * something these hosts do, so it just waits too long. */
		if (q->waiting)
			return sim_board_hang(b, x);
		q->waiting = x;
		if (q->n)
			imx_inq_arm(b);
		return SIM_XFER_PENDING;
	}
	a = imx_inq_take(b, x);
	if (a != IMX_ACT_NONE)
		imx_act(b, a, x->delay_ns);
	return SIM_XFER_DONE;
}

void imx_inq_clear(struct imx_board *d)
{
	d->inq.head = d->inq.n = 0;
	d->inq.waiting = NULL;
}

/* Leaving the bus and coming back */

/* Real time a host gets to reap the last reply before the device drops. */
#define IMX_LEAVE_FLOOR_NS (50 * 1000 * 1000ull)

/*
 * The re-enumeration timer's argument carries the power generation and the
 * next mode in the pointer value itself: a timer dropped with the board
 * (board.h: pending calls are dropped at free) then owns no memory.
 */
#define IMX_REENUM_ARG(gen, target) ((void *)(uintptr_t)(((uintptr_t)(gen) << 2) | (target)))
enum { IMX_REENUM_ROM, IMX_REENUM_FASTBOOT, IMX_REENUM_SPL };

static void imx_reenum_cb(struct sim_board *b, void *arg)
{
	struct imx_board *d = imx_priv(b);
	unsigned gen = (unsigned)((uintptr_t)arg >> 2);
	unsigned target = (unsigned)((uintptr_t)arg & 3);
	int r;

	if (d && gen == d->gen && (d->mode == IMX_BOOTING || d->mode == IMX_RESETTING)) {
		if (target == IMX_REENUM_SPL) {
			/* The SPL's SDP gadget (§1.13); it may die before it shows. */
			if (sim_board_fault_step(b, "spl_boot", SIM_FAULT_UNPLUG) ==
			    SIM_FAULT_NONE) {
				imx_sdp_reset(d);
				d->last_write_addr = d->last_write_len = 0;
				r = imx_identity_spl(b);
				d->mode = IMX_SPL;
				if (r == 0)
					sim_board_connect(b, 0);
			}
		} else if (target == IMX_REENUM_FASTBOOT) {
			/* U-Boot is up: it may still die before its gadget shows. */
			if (sim_board_fault_step(b, "uboot_boot", SIM_FAULT_UNPLUG) ==
			    SIM_FAULT_NONE) {
				imx_fb_reset(d);
				imx_fb_env_defaults(d);
				r = imx_identity_fastboot(b);
				d->mode = IMX_FASTBOOT;
				if (r == 0)
					sim_board_connect(b, 0);
			}
		} else {
			imx_power_on_state(d);
			if (imx_identity_rom(b) == 0)
				sim_board_connect(b, 0);
		}
	}
}

void imx_act(struct sim_board *b, enum imx_action a, uint64_t after_ns)
{
	struct imx_board *d = imx_priv(b);
	uint64_t leave;

	imx_inq_clear(d);
	d->gen++;
	/*
	 * Strictly after the message that triggered it has been delivered:
	 * the host sees the reply, then the device goes.  At small time
	 * scales the scaled delay is microseconds, less than a client
	 * process needs to reap the reply before libusb sees the remove
	 * uevent and fails it; on hardware U-Boot takes far longer than that
	 * to drop the bus, so a real-time floor keeps the order hosts see.
	 */
	leave = sim_board_scaled(b, d->t.leave);
	if (leave < IMX_LEAVE_FLOOR_NS)
		leave = IMX_LEAVE_FLOOR_NS;
	leave += after_ns;
	sim_board_disconnect(b, leave);
	switch (a) {
	case IMX_ACT_UBOOT:
	case IMX_ACT_SPL:
		d->mode = IMX_BOOTING;
		break;
	case IMX_ACT_REBOOT:
		d->mode = IMX_RESETTING;
		break;
	case IMX_ACT_RUN:
		d->mode = IMX_RUNNING;
		return;
	case IMX_ACT_LEAVE:
		d->mode = IMX_LEFT;
		return;
	case IMX_ACT_NONE:
		return;
	}
	sim_board_schedule(b,
			   leave + sim_board_scaled(b, a == IMX_ACT_UBOOT ? d->t.uboot_boot
						       : a == IMX_ACT_SPL ? d->t.spl_boot
									  : d->t.rom_boot),
			   imx_reenum_cb,
			   IMX_REENUM_ARG(d->gen, a == IMX_ACT_UBOOT ? IMX_REENUM_FASTBOOT
						  : a == IMX_ACT_SPL ? IMX_REENUM_SPL
								     : IMX_REENUM_ROM));
}

/* Model callbacks */

static int imx_request(struct sim_board *b, struct sim_xfer *x)
{
	struct imx_board *d = imx_priv(b);

	/* The stream ROM takes its reports on EP1 only (§1.12; assumption
	 * that it stalls SET_REPORT, boards/README.md). */
	if ((d->mode == IMX_ROM && !d->soc->sdps) || d->mode == IMX_SPL)
		return imx_sdp_request(b, x);
	if (d->mode == IMX_ROM && x->setup.bmRequestType == 0x21 && x->setup.bRequest == 0x0a)
		return SIM_XFER_DONE; /* SET_IDLE */
	x->status = -EPIPE;	      /* fastboot has no class/vendor requests */
	return SIM_XFER_DONE;
}

static int imx_data(struct sim_board *b, struct sim_xfer *x)
{
	struct imx_board *d = imx_priv(b);

	if (d->mode == IMX_FASTBOOT)
		return imx_fb_data(b, x);
	if (x->type == SIM_XFER_INTERRUPT && x->ep == 0x01 && d->mode == IMX_ROM && d->soc->sdps)
		return imx_sdps_data(b, x);
	if (x->type == SIM_XFER_INTERRUPT && x->ep == 0x01 && d->mode == IMX_SPL)
		return imx_sdp_out(b, x);
	if (x->type == SIM_XFER_INTERRUPT && x->ep == 0x81)
		return imx_inq_serve(b, x);
	x->status = -EPIPE;
	return SIM_XFER_DONE;
}

static void imx_cancel(struct sim_board *b, struct sim_xfer *x)
{
	struct imx_board *d = imx_priv(b);

	if (d->inq.waiting == x)
		d->inq.waiting = NULL;
}

static int imx_busy_delay(struct sim_board *b, uint64_t *delay_ns)
{
	struct imx_board *d = imx_priv(b);
	uint64_t now = sim_board_now_ns(b);

	*delay_ns = d->busy_until > now ? d->busy_until - now : 0;
	return 0;
}

static void imx_usb_reset(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);

	/* A bus reset restarts the ROM's (or U-Boot's) USB stack: queued
	 * replies and a half-done data phase are gone, memories stay. */
	imx_inq_clear(d);
	imx_sdp_reset(d);
	if (d->mode == IMX_ROM)
		imx_sdps_reset(d);
	d->dl_active = false;
}

static void imx_power_off(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);

	d->gen++;
	imx_inq_clear(d);
	/* DRAM and OCRAM lose their contents; the eMMC keeps its. */
	free(d->ddr);
	d->ddr = NULL;
	memset(d->ocram, 0, d->soc->ocram_size);
	d->mode = IMX_ROM;
}

static void imx_power_on(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);

	imx_power_on_state(d);
	imx_identity_rom(b);
}

static bool imx_memory(struct sim_board *b, unsigned idx, const char **name, const uint8_t **data,
		       size_t *len)
{
	struct imx_board *d = imx_priv(b);

	switch (idx) {
	case 0:
		*name = "emmc";
		*data = d->emmc.mem;
		*len = d->emmc.size;
		return true;
	case 1:
		*name = "ocram";
		*data = d->ocram;
		*len = d->soc->ocram_size;
		return true;
	case 2:
	case 3:
		*name = idx == 2 ? "emmc_boot0" : "emmc_boot1";
		*data = d->emmc.boot[idx - 2];
		*len = d->emmc.boot_size;
		return true;
	case 4:
		/* EXT_CSD bytes the model keeps (JESD84-B51 §7.4). */
		memset(d->ext_csd, 0, sizeof(d->ext_csd));
		d->ext_csd[179] = d->emmc.partconf;
		d->ext_csd[226] = (uint8_t)(d->emmc.boot_size >> 17);
		*name = "ext_csd";
		*data = d->ext_csd;
		*len = sizeof(d->ext_csd);
		return true;
	case 5:
		if (!d->dump_ram || !imx_ram(d, d->soc->ddr_base, 1))
			return false;
		*name = "ram";
		*data = d->ddr;
		*len = (size_t)d->ddr_mib << 20;
		return true;
	default:
		return false;
	}
}

static const char *imx_state(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);

	switch (d->mode) {
	case IMX_ROM:
		if (!sim_board_connected(b))
			return "resetting";
		if (d->soc->sdps)
			return d->stream_len ? "sdps-stream" : "sdps-idle";
		return d->sdp_cmd ? "sdp-data" : "sdp-idle";
	case IMX_SPL:
		return d->sdp_cmd ? "spl-sdp-data" : "spl-sdp";
	case IMX_BOOTING:
		return "booting-u-boot";
	case IMX_FASTBOOT:
		return d->dl_active ? "fastboot-download" : "fastboot";
	case IMX_RUNNING:
		snprintf(d->state_text, sizeof(d->state_text), "running@0x%08X", d->jump_entry);
		return d->state_text;
	case IMX_LEFT:
		return "u-boot-left";
	case IMX_RESETTING:
		return "resetting";
	}
	return "unknown";
}

const struct sim_model sim_imx_sdp_model = {
	.names = imx_names,
	.steps = imx_steps,
	.create = imx_create,
	.option = imx_option,
	.start = imx_start,
	.destroy = imx_destroy,
	.request = imx_request,
	.usb_reset = imx_usb_reset,
	.power_off = imx_power_off,
	.power_on = imx_power_on,
	.busy_delay = imx_busy_delay,
	.memory = imx_memory,
	.state = imx_state,
	.data = imx_data,
	.cancel = imx_cancel,
};
