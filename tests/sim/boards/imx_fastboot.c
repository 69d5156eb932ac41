/*
 * This file implements the U-Boot fastboot gadget the i.MX6 boards become
 * after a jump into the fixtures' U-Boot (protocol-imx-sdp-fastboot.md §4):
 * one command per bulk OUT transfer, replies of at most 64 bytes on bulk
 * IN (INFO lines for getvar all), download into DDR at the fastboot buffer,
 * flash/erase of GPT partitions or raw byte offsets ("flash:0x400", the
 * seed's U-Boot patch) on the simulated eMMC, sparse images expanded.
 */
#include "tests/sim/boards/imx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/boards/sparse_model.h"

/* U-Boot's FASTBOOT_RESPONSE_LEN is 65 incl. the NUL (§4.1). */
#define FB_RESPONSE_LEN 64
#define FB_COMMAND_MAX 4096

void imx_fb_reset(struct imx_board *d)
{
	d->dl_active = false;
	d->dl_size = d->dl_done = 0;
	d->image_size = 0;
	d->mmc_dev_part = 0;
}

const char *imx_env_get(struct imx_board *d, const char *name)
{
	for (unsigned i = 0; i < d->n_env; i++)
		if (!strcmp(d->env[i].name, name))
			return d->env[i].value;
	return NULL;
}

int imx_env_set(struct imx_board *d, const char *name, const char *value)
{
	char *n, *v;

	for (unsigned i = 0; i < d->n_env; i++) {
		if (strcmp(d->env[i].name, name))
			continue;
		if (!value) {
			free(d->env[i].name);
			free(d->env[i].value);
			d->env[i] = d->env[--d->n_env];
			return 0;
		}
		v = strdup(value);
		if (!v)
			return -ENOMEM;
		free(d->env[i].value);
		d->env[i].value = v;
		return 0;
	}
	if (!value)
		return 0;
	if (d->n_env == IMX_MAX_ENV)
		return -ENOSPC;
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -ENOMEM;
	}
	d->env[d->n_env].name = n;
	d->env[d->n_env].value = v;
	d->n_env++;
	return 0;
}

/* env/mmc.c env_mmc_load() + env_import(): a block at CONFIG_ENV_OFFSET
 * whose CRC-32 matches replaces the whole default environment; else U-Boot
 * warns "bad CRC" and keeps the defaults. */
static void env_load(struct imx_board *d)
{
	const uint8_t *blk = d->emmc.mem + IMX_ENV_OFFSET;
	const char *p, *end;
	char name[128];

	if (d->emmc.size < IMX_ENV_OFFSET + IMX_ENV_SIZE ||
	    sim_get_le32(blk) != sim_crc32(0, blk + 4, IMX_ENV_SIZE - 4))
		return;
	for (unsigned i = 0; i < d->n_env; i++) {
		free(d->env[i].name);
		free(d->env[i].value);
	}
	d->n_env = 0;
	p = (const char *)blk + 4;
	end = (const char *)blk + IMX_ENV_SIZE;
	while (p < end && *p) {
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t len = strnlen(p, (size_t)(end - p));

		if (eq && eq < p + len && (size_t)(eq - p) < sizeof(name)) {
			char *v = strndup(eq + 1, (size_t)(p + len - eq - 1));

			snprintf(name, sizeof(name), "%.*s", (int)(eq - p), p);
			if (v)
				imx_env_set(d, name, v);
			free(v);
		}
		p += len + 1;
	}
	/* The board code sets serial# from the fuses when the env has none. */
	if (!imx_env_get(d, "serial#"))
		imx_env_set(d, "serial#", d->serial);
}

void imx_fb_env_defaults(struct imx_board *d)
{
	char v[24];

	/* A fresh U-Boot: the default environment of its defconfig. */
	for (unsigned i = 0; i < d->n_env; i++) {
		free(d->env[i].name);
		free(d->env[i].value);
	}
	d->n_env = 0;
	snprintf(v, sizeof(v), "0x%08x", d->soc->loadaddr);
	imx_env_set(d, "loadaddr", v);
	imx_env_set(d, "serial#", d->serial);
	imx_env_set(d, "board", d->soc->board);
	imx_env_set(d, "soc", "mx6");
	imx_env_set(d, "mmcdev", "0");
	imx_env_set(d, "bootcmd", "fastboot 0");
	env_load(d);
}

static int env_cmp(const void *a, const void *b)
{
	return strcmp(((const struct imx_env *)a)->name, ((const struct imx_env *)b)->name);
}

int imx_env_save(struct sim_board *b, uint64_t *device_ns)
{
	struct imx_board *d = imx_priv(b);
	struct imx_env sorted[IMX_MAX_ENV];
	uint8_t blk[IMX_ENV_SIZE] = { 0 };
	size_t o = 4, n;

	if (d->emmc.size < IMX_ENV_OFFSET + IMX_ENV_SIZE)
		return -1;
	memcpy(sorted, d->env, d->n_env * sizeof(sorted[0]));
	qsort(sorted, d->n_env, sizeof(sorted[0]), env_cmp);
	for (unsigned i = 0; i < d->n_env; i++) {
		n = strlen(sorted[i].name) + 1 + strlen(sorted[i].value) + 1;
		/* hexport_r(): "Env export buffer too small" */
		if (o + n + 1 > sizeof(blk))
			return -1;
		o += (size_t)sprintf((char *)blk + o, "%s=%s", sorted[i].name, sorted[i].value) + 1;
	}
	sim_put_le32(blk, sim_crc32(0, blk + 4, sizeof(blk) - 4));
	memcpy(d->emmc.mem + IMX_ENV_OFFSET, blk, sizeof(blk));
	*device_ns += imx_emmc_ns(d, sizeof(blk), false);
	return 0;
}

uint64_t imx_emmc_ns(struct imx_board *d, uint64_t bytes, bool erase)
{
	uint64_t kbps = erase ? d->t.emmc_erase_kbps : d->t.emmc_write_kbps;

	return bytes * 1000000000ull / (kbps * 1024);
}

static void fb_reply_act(struct sim_board *b, uint64_t device_ns, enum imx_action a,
			 const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void fb_reply_act(struct sim_board *b, uint64_t device_ns, enum imx_action a,
			 const char *tag, const char *fmt, ...)
{
	struct imx_board *d = imx_priv(b);
	char msg[FB_RESPONSE_LEN + 1];
	va_list ap;
	int n;

	/* Longer replies are cut at 64 bytes, as U-Boot's are. */
	n = snprintf(msg, sizeof(msg), "%s", tag);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	imx_inq_push_act(b, msg, strlen(msg), imx_after(b, d->t.fb_command + device_ns), a);
}

#define fb_reply(b, ns, tag, ...) fb_reply_act(b, ns, IMX_ACT_NONE, tag, __VA_ARGS__)

/* U-Boot's mmc block device works on the hardware partition selected last
 * (blk_desc hwpart: `mmc dev 0 N`, or fb_mmc.c fb_mmc_boot_ops() for
 * mmc0boot0/1, which never switches back), and fastboot looks partition
 * names up in the table found there (fb_mmc.c do_get_part_info()): the
 * disk U-Boot sees now, the user area or a boot partition as a disk. */
static struct sim_emmc *fb_disk(struct imx_board *d, struct sim_emmc *view)
{
	if (d->mmc_dev_part == 0)
		return &d->emmc;
	memset(view, 0, sizeof(*view));
	view->mem = sim_emmc_hwpart(&d->emmc, d->mmc_dev_part, &view->size);
	return view->mem ? view : &d->emmc;
}

int imx_part_by_name(struct imx_board *d, const char *name, struct sim_part *p)
{
	struct sim_emmc view;

	return sim_emmc_find(fb_disk(d, &view), name, p);
}

/* Target of flash/erase: a GPT partition, or a raw byte offset. */
static int fb_target(struct imx_board *d, const char *name, struct sim_part *p)
{
	struct sim_emmc view, *disk = fb_disk(d, &view);
	char *end;
	unsigned long long off;

	if (imx_part_by_name(d, name, p) == 0)
		return 0;
	if (!*name)
		return -ENOENT;
	off = strtoull(name, &end, 0);
	if (*end || off >= disk->size || off % SIM_EMMC_SECTOR)
		return -ENOENT;
	snprintf(p->name, sizeof(p->name), "%.36s", name);
	p->start = off;
	p->size = disk->size - off;
	return 0;
}

static uint32_t fb_buffer(struct imx_board *d)
{
	const char *s = imx_env_get(d, "fastboot_buffer");

	/* NXP's U-Boot downloads to ${fastboot_buffer} when it is set. */
	return s ? (uint32_t)strtoul(s, NULL, 16) : d->soc->fb_buf_addr;
}

/* 0 and value in out, -ENOENT not implemented, -EINVAL message in out. */
static int fb_getvar(struct imx_board *d, const char *var, char *out, size_t n)
{
	char key[80];
	const char *v;
	struct sim_part p;
	struct sim_emmc view;

	/* Any variable can be overridden by env fastboot.<var> (§3.2). */
	snprintf(key, sizeof(key), "fastboot.%s", var);
	v = imx_env_get(d, key);
	if (v) {
		snprintf(out, n, "%s", v);
		return 0;
	}
	if (!strcmp(var, "version")) {
		snprintf(out, n, "0.4");
	} else if (!strcmp(var, "version-bootloader")) {
		snprintf(out, n, "U-Boot 2023.04-flashsim");
	} else if (!strcmp(var, "downloadsize") || !strcmp(var, "max-download-size")) {
		snprintf(out, n, "0x%08x", (unsigned)d->fb_buf_size);
	} else if (!strcmp(var, "serialno") || !strcmp(var, "product")) {
		v = imx_env_get(d, var[0] == 's' ? "serial#" : "board");
		if (!v) {
			snprintf(out, n, "Value not set");
			return -EINVAL;
		}
		snprintf(out, n, "%s", v);
	} else if (!strcmp(var, "current-slot")) {
		snprintf(out, n, "a");
	} else if (!strcmp(var, "is-userspace")) {
		snprintf(out, n, "no");
	} else if (!strncmp(var, "has-slot:", 9)) {
		snprintf(out, n, "no");
	} else if (!strncmp(var, "partition-size:", 15) || !strncmp(var, "partition-type:", 15)) {
		if (sim_emmc_find(fb_disk(d, &view), var + 15, &p) < 0) {
			snprintf(out, n, "invalid partition");
			return -EINVAL;
		}
		if (var[10] == 's')
			snprintf(out, n, "0x%016llx", (unsigned long long)p.size);
		else
			snprintf(out, n, "raw");
	} else {
		return -ENOENT;
	}
	return 0;
}

static void fb_getvar_all(struct sim_board *b)
{
	static const char *const vars[] = {
		"version", "version-bootloader", "downloadsize", "max-download-size", "serialno",
		"product", "current-slot",	 "is-userspace",
	};
	struct imx_board *d = imx_priv(b);
	struct sim_part p;
	struct sim_emmc view, *disk = fb_disk(d, &view);
	char val[FB_RESPONSE_LEN + 1], var[64];

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (fb_getvar(d, vars[i], val, sizeof(val)) == 0)
			fb_reply(b, 0, "INFO", "%s: %s", vars[i], val);
	for (unsigned i = 0; sim_emmc_part(disk, i, &p) == 0; i++) {
		snprintf(var, sizeof(var), "partition-type:%s", p.name);
		if (fb_getvar(d, var, val, sizeof(val)) == 0)
			fb_reply(b, 0, "INFO", "%s: %s", var, val);
		snprintf(var, sizeof(var), "partition-size:%s", p.name);
		if (fb_getvar(d, var, val, sizeof(val)) == 0)
			fb_reply(b, 0, "INFO", "%s: %s", var, val);
	}
	fb_reply(b, 0, "OKAY", "%s", "");
}

/* CONFIG_FASTBOOT_GPT_NAME "gpt": drivers/fastboot/fb_mmc.c
 * fastboot_mmc_flash_write() validates the downloaded GPT and writes the
 * MBR, the primary and the backup table. */
static void fb_flash_gpt(struct sim_board *b, uint8_t *buf)
{
	struct imx_board *d = imx_priv(b);
	struct sim_emmc view, *disk = fb_disk(d, &view);
	uint64_t n = 34 * SIM_EMMC_SECTOR;
	int r;

	if (sim_emmc_gpt_buf_valid(disk, buf, d->fb_buf_size) < 0) {
		fb_reply(b, 0, "FAIL", "invalid GPT partition");
		return;
	}
	r = sim_emmc_gpt_buf_write(disk, buf, d->fb_buf_size);
	if (r < 0) {
		fb_reply(b, 0, "FAIL", "writing GPT partitions failed");
		return;
	}
	fb_reply(b, imx_emmc_ns(d, 2 * n, false), "OKAY", "%s", "");
}

/* CONFIG_FASTBOOT_MBR_NAME "mbr": is_valid_dos_buf(), then sector 0. */
static void fb_flash_mbr(struct sim_board *b, const uint8_t *buf)
{
	struct imx_board *d = imx_priv(b);
	struct sim_emmc view;

	if (sim_mbr_valid(buf) < 0) {
		fb_reply(b, 0, "FAIL", "invalid MBR partition");
		return;
	}
	memcpy(fb_disk(d, &view)->mem, buf, SIM_EMMC_SECTOR);
	fb_reply(b, imx_emmc_ns(d, SIM_EMMC_SECTOR, false), "OKAY", "%s", "");
}

/* CONFIG_FASTBOOT_MMC_BOOT1_NAME "mmc0boot0" / BOOT2_NAME "mmc0boot1":
 * fb_mmc_boot_ops() writes the image from block 0 of the hardware boot
 * partition (buf NULL: erases all of it). */
static void fb_boot_ops(struct sim_board *b, unsigned hw, const uint8_t *buf)
{
	struct imx_board *d = imx_priv(b);
	size_t size, n;
	uint8_t *area = sim_emmc_hwpart(&d->emmc, hw, &size);

	if (!area) {
		fb_reply(b, 0, "FAIL", "Failed to select hwpart");
		return;
	}
	d->mmc_dev_part = hw; /* selected, and it stays so */
	if (!buf) {
		memset(area, 0, size);
		fb_reply(b, imx_emmc_ns(d, size, true), "OKAY", "%s", "");
		return;
	}
	n = (d->image_size + SIM_EMMC_SECTOR - 1) / SIM_EMMC_SECTOR * SIM_EMMC_SECTOR;
	if (n > size) {
		fb_reply(b, 0, "FAIL", "Image size too large");
		return;
	}
	/* Whole blocks from the buffer, as blk_dwrite() writes them. */
	memcpy(area, buf, n);
	fb_reply(b, imx_emmc_ns(d, n, false), "OKAY", "%s", "");
}

static int fb_boot_name(const char *name)
{
	if (!strcmp(name, "mmc0boot0"))
		return 1;
	if (!strcmp(name, "mmc0boot1"))
		return 2;
	return 0;
}

static void fb_flash(struct sim_board *b, const char *name)
{
	struct imx_board *d = imx_priv(b);
	uint8_t *img = imx_ram(d, fb_buffer(d), d->image_size);
	struct sim_emmc view, *disk = fb_disk(d, &view);
	enum sim_fault_kind k;
	struct sim_part p;
	const char *why;
	int64_t n;

	if (!strcmp(name, "gpt") || !strcmp(name, "mbr") || fb_boot_name(name)) {
		/* U-Boot hands these the whole download buffer. */
		uint8_t *buf = imx_ram(d, fb_buffer(d), d->fb_buf_size);

		if (!buf)
			fb_reply(b, 0, "FAIL", "no image downloaded");
		else if (name[0] == 'g')
			fb_flash_gpt(b, buf);
		else if (name[1] == 'b')
			fb_flash_mbr(b, buf);
		else
			fb_boot_ops(b, (unsigned)fb_boot_name(name), buf);
		return;
	}
	if (fb_target(d, name, &p) < 0) {
		fb_reply(b, 0, "FAIL", "cannot find partition");
		return;
	}
	if (!img || !d->image_size) {
		fb_reply(b, 0, "FAIL", "no image downloaded");
		return;
	}
	k = sim_board_fault_step(b, "fb_flash", SIM_FAULT_PROGRAM_ERROR | SIM_FAULT_DISTURB);
	if (k == SIM_FAULT_PROGRAM_ERROR) {
		fb_reply(b, 0, "FAIL", "failed writing to device");
		return;
	}
	if (sim_sparse_is(img, d->image_size)) {
		n = sim_sparse_expand(img, d->image_size, disk->mem + p.start, p.size, &why);
		if (n < 0) {
			fb_reply(b, 0, "FAIL", "%s", why);
			return;
		}
		fb_reply(b, imx_emmc_ns(d, (uint64_t)n, false), "OKAY", "%s", "");
		return;
	}
	if (d->image_size > p.size) {
		fb_reply(b, 0, "FAIL", "too large for partition: '%s'", name);
		return;
	}
	memcpy(disk->mem + p.start, img, d->image_size);
	/* Disturb: the byte below the written range loses its lowest set bit. */
	if (k == SIM_FAULT_DISTURB && p.start > 0)
		disk->mem[p.start - 1] &= (uint8_t)(disk->mem[p.start - 1] - 1);
	fb_reply(b, imx_emmc_ns(d, d->image_size, false), "OKAY", "%s", "");
}

static void fb_erase(struct sim_board *b, const char *name)
{
	struct imx_board *d = imx_priv(b);
	struct sim_emmc view, *disk = fb_disk(d, &view);
	struct sim_part p;

	if (fb_boot_name(name)) {
		fb_boot_ops(b, (unsigned)fb_boot_name(name), NULL);
		return;
	}
	if (imx_part_by_name(d, name, &p) < 0) {
		fb_reply(b, 0, "FAIL", "cannot find partition");
		return;
	}
	if (sim_board_fault_step(b, "fb_erase", SIM_FAULT_PROGRAM_ERROR) ==
	    SIM_FAULT_PROGRAM_ERROR) {
		fb_reply(b, 0, "FAIL", "failed erasing from device");
		return;
	}
	/* Erased eMMC blocks read as 0x00 on the parts this models. */
	memset(disk->mem + p.start, 0, p.size);
	fb_reply(b, imx_emmc_ns(d, p.size, true), "OKAY", "%s", "");
}

static void fb_ucmd(struct sim_board *b, const char *line, bool async)
{
	char msg[FB_RESPONSE_LEN];
	uint64_t t = 0;
	int r;

	if (async) {
		/* ACmd: OKAY first, the command runs after it went out. */
		if (strlen(line) >= 64) {
			fb_reply(b, 0, "FAIL", "too long command");
			return;
		}
		msg[0] = 0;
		r = imx_ucmd_run(b, line, msg, sizeof(msg), &t);
		fb_reply_act(b, 0, r == 2 ? IMX_ACT_REBOOT : IMX_ACT_NONE, "OKAY", "%s", "");
		return;
	}
	msg[0] = 0;
	r = imx_ucmd_run(b, line, msg, sizeof(msg), &t);
	if (r == 2)
		fb_reply_act(b, t, IMX_ACT_REBOOT, "OKAY", "%s", "");
	else if (r == 0)
		fb_reply(b, t, "OKAY", "%s", "");
	else /* fb_command.c run_ucmd(): fastboot_fail("", response) */
		fb_reply(b, t, "FAIL", "%s", "");
}

/* fb_command.c oem_format(), oem_partconf(), oem_bootbus(): a U-Boot
 * command built from the parameter; fail text as theirs. */
static void fb_oem(struct sim_board *b, const char *cmd, const char *param)
{
	struct imx_board *d = imx_priv(b);
	char line[96], msg[FB_RESPONSE_LEN];
	const char *fail = "";
	uint64_t t = 0;

	if (!strcmp(cmd, "oem format")) {
		if (!imx_env_get(d, "partitions")) {
			fb_reply(b, 0, "FAIL", "partitions not set");
			return;
		}
		snprintf(line, sizeof(line), "gpt write mmc 0 $partitions");
	} else {
		if (!param) {
			fb_reply(b, 0, "FAIL", "Expected command parameter");
			return;
		}
		/* cmdbuf[32] in U-Boot: longer command lines are cut. */
		if (cmd[4] == 'p') {
			snprintf(line, 32, "mmc partconf 0 %s 0", param);
			fail = "Cannot set oem partconf";
		} else {
			snprintf(line, 32, "mmc bootbus 0 %s", param);
			fail = "Cannot set oem bootbus";
		}
	}
	if (imx_ucmd_run(b, line, msg, sizeof(msg), &t) != 0)
		fb_reply(b, t, "FAIL", "%s", fail);
	else
		fb_reply(b, t, "OKAY", "%s", "");
}

static void fb_dispatch(struct sim_board *b, const char *cmd)
{
	struct imx_board *d = imx_priv(b);
	char val[FB_RESPONSE_LEN + 1];
	unsigned long n;
	char *end;
	int r;

	if (!strncmp(cmd, "getvar:", 7)) {
		if (!strcmp(cmd + 7, "all")) {
			fb_getvar_all(b);
			return;
		}
		r = fb_getvar(d, cmd + 7, val, sizeof(val));
		if (r == 0)
			fb_reply(b, 0, "OKAY", "%s", val);
		else if (r == -EINVAL)
			fb_reply(b, 0, "FAIL", "%s", val);
		else
			fb_reply(b, 0, "FAIL", "Variable not implemented");
	} else if (!strncmp(cmd, "download:", 9)) {
		n = strtoul(cmd + 9, &end, 16);
		if (*end || end == cmd + 9 || !n) {
			fb_reply(b, 0, "FAIL", "Expected nonzero image size");
		} else if (n > d->fb_buf_size) {
			/* fb_command.c download(): FAIL with the parameter echoed. */
			fb_reply(b, 0, "FAIL", "%s", cmd + 9);
		} else if (!imx_ram(d, fb_buffer(d), n)) {
			/* ${fastboot_buffer} moved out of DDR: model-only guard. */
			fb_reply(b, 0, "FAIL", "data too large");
		} else {
			d->dl_active = true;
			d->dl_size = (uint32_t)n;
			d->dl_done = 0;
			/* U-Boot echoes the size parameter as sent (§4.2). */
			fb_reply(b, 0, "DATA", "%s", cmd + 9);
		}
	} else if (!strncmp(cmd, "flash:", 6)) {
		fb_flash(b, cmd + 6);
	} else if (!strncmp(cmd, "erase:", 6)) {
		fb_erase(b, cmd + 6);
	} else if (!strcmp(cmd, "reboot") || !strcmp(cmd, "reboot-bootloader") ||
		   !strcmp(cmd, "reboot-fastboot") || !strcmp(cmd, "reboot-recovery")) {
		fb_reply_act(b, 0, IMX_ACT_REBOOT, "OKAY", "%s", "");
	} else if (!strcmp(cmd, "continue") || !strcmp(cmd, "boot")) {
		fb_reply_act(b, 0, IMX_ACT_LEAVE, "OKAY", "%s", "");
	} else if (!strncmp(cmd, "set_active:", 11)) {
		fb_reply(b, 0, "OKAY", "%s", "");
	} else if (!strncmp(cmd, "UCmd:", 5)) {
		fb_ucmd(b, cmd + 5, false);
	} else if (!strncmp(cmd, "ACmd:", 5)) {
		fb_ucmd(b, cmd + 5, true);
	} else if (!strncmp(cmd, "oem run:", 8)) {
		fb_ucmd(b, cmd + 8, false);
	} else if (!strcmp(cmd, "oem format") || !strncmp(cmd, "oem format:", 11)) {
		fb_oem(b, "oem format", NULL);
	} else if (!strcmp(cmd, "oem partconf") || !strncmp(cmd, "oem partconf:", 13)) {
		fb_oem(b, "oem partconf", cmd[12] ? cmd + 13 : NULL);
	} else if (!strcmp(cmd, "oem bootbus") || !strncmp(cmd, "oem bootbus:", 12)) {
		fb_oem(b, "oem bootbus", cmd[11] ? cmd + 12 : NULL);
	} else {
		fb_reply(b, 0, "FAIL", "unrecognized command");
	}
}

static int fb_fault(struct sim_board *b, struct sim_xfer *x, const char *step)
{
	enum sim_fault_kind k = sim_board_fault_step(b, step, SIM_FAULT_TRANSFER_KINDS);

	if (k == SIM_FAULT_UNPLUG) {
		x->status = -ENODEV;
		return SIM_XFER_DONE;
	}
	if (k == SIM_FAULT_STALL) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	if (k == SIM_FAULT_HANG)
		return sim_board_hang(b, x);
	return -1;
}

int imx_fb_data(struct sim_board *b, struct sim_xfer *x)
{
	struct imx_board *d = imx_priv(b);
	char cmd[FB_COMMAND_MAX + 1];
	size_t len = x->len;
	int r;

	if (x->type != SIM_XFER_BULK || (x->ep != 0x81 && x->ep != 0x01)) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	if (x->ep == 0x81)
		return imx_inq_serve(b, x);
	if (d->dl_active) {
		uint32_t n = d->dl_size - d->dl_done;
		uint8_t *dst;

		r = fb_fault(b, x, "fb_download");
		if (r >= 0)
			return r;
		if (len < n)
			n = (uint32_t)len;
		dst = imx_ram(d, fb_buffer(d) + d->dl_done, n);
		if (dst)
			memcpy(dst, x->data, n);
		d->dl_done += n;
		if (d->dl_done == d->dl_size) {
			char v[16];

			d->dl_active = false;
			d->image_size = d->dl_size;
			snprintf(v, sizeof(v), "%x", d->dl_size);
			imx_env_set(d, "filesize", v);
			fb_reply(b, 0, "OKAY", "%s", "");
		}
		return SIM_XFER_DONE;
	}
	r = fb_fault(b, x, "fb_command");
	if (r >= 0)
		return r;
	if (len > FB_COMMAND_MAX)
		len = FB_COMMAND_MAX;
	memcpy(cmd, x->data, len);
	cmd[len] = 0;
	/* Some hosts send a trailing NUL; U-Boot terminates at the length. */
	fb_dispatch(b, cmd);
	return SIM_XFER_DONE;
}
