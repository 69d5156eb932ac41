/*
 * This file implements the subset of U-Boot commands that fastboot's UCmd/
 * ACmd and "oem run:" reach on the simulated boards (§4.2, uuu's FB
 * scripts): setenv, saveenv, mmc dev/read/write/erase/rescan/partconf,
 * part start/size, gpt write/setenv, crc32 [-v], hash crc32, mw.b, cmp.b,
 * version, true/false/echo/sleep, reset.  Variables ${x} and $x are
 * expanded as U-Boot's shell does; numbers are hexadecimal as in U-Boot.
 */
#include "tests/sim/boards/imx.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UCMD_MAX_ARGS 16
#define UCMD_LINE 1024

static int ucmd_exec(struct sim_board *b, int argc, char **argv, char *msg, size_t msglen,
		     uint64_t *device_ns);

/* Append the value of the variable name at *in ($x or ${x}) to out. */
static void ucmd_var(struct imx_board *d, const char **in, char *out, size_t *o, size_t n)
{
	char name[64];
	size_t k = 0;
	const char *v, *p = *in + 1;
	bool brace = *p == '{';

	p += brace;
	while (*p && k + 1 < sizeof(name) &&
	       (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '#' ||
		(brace && *p != '}')))
		name[k++] = *p++;
	name[k] = 0;
	if (brace && *p == '}')
		p++;
	*in = p;
	v = imx_env_get(d, name);
	while (v && *v && *o + 1 < n)
		out[(*o)++] = *v++;
}

/* One command of a line as U-Boot's hush shell splits it: words end at
 * blanks, the command at ';', both outside quotes; "..." expands
 * variables, '...' does not; an expanded value is not split again (so
 * `gpt write mmc 0 $partitions` gets the whole list).  Words go to buf,
 * NUL-separated.  *in is left after the ';'. */
static int ucmd_lex(struct imx_board *d, const char **in, char *buf, size_t n, char **argv)
{
	const char *p = *in;
	size_t o = 0;
	int argc = 0;
	char q = 0;
	bool word = false;

	for (; *p && o + 1 < n; p++) {
		if (!q && (*p == ' ' || *p == '\t' || *p == ';')) {
			if (word) {
				buf[o++] = 0;
				word = false;
			}
			if (*p == ';') {
				p++;
				break;
			}
			continue;
		}
		if (!word) {
			if (argc == UCMD_MAX_ARGS)
				break;
			argv[argc++] = buf + o;
			word = true;
		}
		if ((*p == '"' || *p == '\'') && (!q || q == *p)) {
			q = q ? 0 : *p;
		} else if (*p == '$' && q != '\'') {
			ucmd_var(d, &p, buf, &o, n);
			p--;
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = 0;
	*in = p;
	return argc;
}

static int ucmd_hex(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	*v = strtoull(s, &end, 16);
	return *end ? -EINVAL : 0;
}

/* cmd/mmc.c mmc_partconf_print(): "mmc partconf DEV VAR" sets VAR to
 * BOOT_PARTITION_ENABLE (EXT_CSD[179] bits 5:3) with env_set_hex(). */
static int ucmd_partconf_var(struct imx_board *d, const char *var)
{
	char v[8];

	snprintf(v, sizeof(v), "%x", (d->emmc.partconf >> 3) & 7);
	return imx_env_set(d, var, v) < 0 ? -1 : 0;
}

/* cmd/mmc.c do_mmc_partconf(): "mmc partconf DEV" prints, "mmc partconf
 * DEV ACK PART ACCESS" (decimal) sets EXT_CSD[179] (mmc_set_part_conf()). */
static int ucmd_partconf(struct imx_board *d, int argc, char **argv)
{
	unsigned long v[3];
	char *end;

	if (argc != 3 && argc != 4 && argc != 6)
		return -1;
	if (strtoul(argv[2], &end, 10) != 0 || *end)
		return -1; /* only mmc 0 exists */
	if (argc == 3)
		return 0;
	if (argc == 4)
		return ucmd_partconf_var(d, argv[3]);
	for (int i = 0; i < 3; i++) {
		v[i] = strtoul(argv[3 + i], &end, 10);
		if (*end)
			return -1;
	}
	d->emmc.partconf = (uint8_t)((v[0] & 1) << 6 | (v[1] & 7) << 3 | (v[2] & 7));
	return 0;
}

static int ucmd_mmc(struct sim_board *b, int argc, char **argv, char *msg, size_t ml, uint64_t *ns)
{
	struct imx_board *d = imx_priv(b);
	uint64_t addr, blk, cnt, dev, part = 0;
	size_t size;
	uint8_t *ram, *area;

	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "dev")) {
		if (argc > 2 && (ucmd_hex(argv[2], &dev) < 0 || dev != 0)) {
			snprintf(msg, ml, "mmc%s: no such device", argv[2]);
			return -1;
		}
		if (argc > 3 && (ucmd_hex(argv[3], &part) < 0 || part > 2))
			goto usage;
		d->mmc_dev_part = (unsigned)part;
		return 0;
	}
	if (!strcmp(argv[1], "partconf"))
		return ucmd_partconf(d, argc, argv) < 0 ? -1 : 0;
	if (!strcmp(argv[1], "rescan") || !strcmp(argv[1], "info") || !strcmp(argv[1], "bootbus") ||
	    !strcmp(argv[1], "list"))
		return 0;
	/* I/O goes to the hardware partition `mmc dev 0 N` selected. */
	area = sim_emmc_hwpart(&d->emmc, d->mmc_dev_part, &size);
	if (!area)
		goto range;
	if (!strcmp(argv[1], "write") || !strcmp(argv[1], "read")) {
		if (argc != 5 || ucmd_hex(argv[2], &addr) < 0 || ucmd_hex(argv[3], &blk) < 0 ||
		    ucmd_hex(argv[4], &cnt) < 0)
			goto usage;
		if ((blk + cnt) * SIM_EMMC_SECTOR > size)
			goto range;
		ram = imx_ram(d, (uint32_t)addr, cnt * SIM_EMMC_SECTOR);
		if (!ram)
			goto range;
		if (argv[1][0] == 'w') {
			if (sim_board_fault_step(b, "fb_flash", SIM_FAULT_PROGRAM_ERROR) ==
			    SIM_FAULT_PROGRAM_ERROR) {
				snprintf(msg, ml, "mmc write failed");
				return -1;
			}
			memcpy(area + blk * SIM_EMMC_SECTOR, ram, cnt * SIM_EMMC_SECTOR);
			*ns += imx_emmc_ns(d, cnt * SIM_EMMC_SECTOR, false);
		} else {
			memcpy(ram, area + blk * SIM_EMMC_SECTOR, cnt * SIM_EMMC_SECTOR);
			/* Reads: assumption, twice the write rate. */
			*ns += imx_emmc_ns(d, cnt * SIM_EMMC_SECTOR, false) / 2;
		}
		return 0;
	}
	if (!strcmp(argv[1], "erase")) {
		if (argc != 4 || ucmd_hex(argv[2], &blk) < 0 || ucmd_hex(argv[3], &cnt) < 0)
			goto usage;
		if ((blk + cnt) * SIM_EMMC_SECTOR > size)
			goto range;
		memset(area + blk * SIM_EMMC_SECTOR, 0, cnt * SIM_EMMC_SECTOR);
		*ns += imx_emmc_ns(d, cnt * SIM_EMMC_SECTOR, true);
		return 0;
	}
usage:
	snprintf(msg, ml, "mmc: bad arguments");
	return -1;
range:
	snprintf(msg, ml, "mmc: address out of range");
	return -1;
}

/* disk/part.c blk_get_device_by_str("mmc", "0"): the device string
 * without ".N" selects hardware partition 0 (get_dev_hwpart(), hwpart 0),
 * so `part` and `gpt` go back to the user area and stay there. */
static void ucmd_blk_dev(struct imx_board *d)
{
	d->mmc_dev_part = 0;
}

/* cmd/part.c do_part_info(): "part start|size mmc 0 NAME|N [VAR]", the
 * value in blocks as LBAF ("%lx"). */
static int ucmd_part(struct imx_board *d, int argc, char **argv)
{
	struct sim_part p;
	char v[24], *end;
	unsigned long n;

	if (argc < 5 || argc > 6 || strcmp(argv[2], "mmc") || strcmp(argv[3], "0") ||
	    (strcmp(argv[1], "start") && strcmp(argv[1], "size")))
		return -1;
	ucmd_blk_dev(d);
	n = strtoul(argv[4], &end, 0);
	if (*end ? imx_part_by_name(d, argv[4], &p) < 0
		 : !n || sim_emmc_nth(&d->emmc, (unsigned)n, &p) < 0)
		return -1;
	snprintf(v, sizeof(v), "%llx",
		 (unsigned long long)((argv[1][1] == 't' ? p.start : p.size) / SIM_EMMC_SECTOR));
	if (argc == 6)
		return imx_env_set(d, argv[5], v) < 0 ? -1 : 0;
	return 0;
}

/* cmd/gpt.c: "gpt write mmc 0 <partitions>", "gpt setenv mmc 0 NAME"
 * (gpt_partition_addr/size in blocks "%lx", _name, _entry). */
static int ucmd_gpt(struct imx_board *d, int argc, char **argv, char *msg, size_t ml)
{
	struct sim_part p;
	char v[24];
	unsigned i;

	if (argc < 4 || strcmp(argv[2], "mmc") || strcmp(argv[3], "0"))
		return -1;
	ucmd_blk_dev(d);
	if (!strcmp(argv[1], "write") && argc == 5)
		return imx_gpt_write(d, argv[4], msg, ml);
	if (!strcmp(argv[1], "setenv") && argc == 5) {
		for (i = 0; sim_emmc_part(&d->emmc, i, &p) == 0; i++)
			if (!strcmp(p.name, argv[4]))
				break;
		if (sim_emmc_part(&d->emmc, i, &p) < 0)
			return -1;
		snprintf(v, sizeof(v), "%llx", (unsigned long long)(p.start / SIM_EMMC_SECTOR));
		imx_env_set(d, "gpt_partition_addr", v);
		snprintf(v, sizeof(v), "%llx", (unsigned long long)(p.size / SIM_EMMC_SECTOR));
		imx_env_set(d, "gpt_partition_size", v);
		snprintf(v, sizeof(v), "%u", i + 1);
		imx_env_set(d, "gpt_partition_entry", v);
		return imx_env_set(d, "gpt_partition_name", p.name) < 0 ? -1 : 0;
	}
	return -1;
}

/* cmd/mem.c: "mw.b ADDR VAL [COUNT]", "cmp.b ADDR1 ADDR2 COUNT" (hex);
 * cmp fails (1) at the first difference. */
static int ucmd_mem(struct imx_board *d, int argc, char **argv, char *msg, size_t ml)
{
	uint64_t a, v, n = 1;
	uint8_t *p, *q;

	if (argc < 3 || ucmd_hex(argv[1], &a) < 0 || ucmd_hex(argv[2], &v) < 0)
		return -1;
	if (argv[0][1] == 'w') {
		if (argc > 3 && ucmd_hex(argv[3], &n) < 0)
			return -1;
		p = imx_ram(d, (uint32_t)a, n);
		if (!p)
			return -1;
		memset(p, (int)v, n);
		return 0;
	}
	if (argc != 4 || ucmd_hex(argv[3], &n) < 0)
		return -1;
	p = imx_ram(d, (uint32_t)a, n);
	q = imx_ram(d, (uint32_t)v, n);
	if (!p || !q)
		return -1;
	for (uint64_t i = 0; i < n; i++)
		if (p[i] != q[i]) {
			snprintf(msg, ml, "Total of %llu byte(s) were the same",
				 (unsigned long long)i);
			return -1;
		}
	return 0;
}

/* crc32 [-v] addr len [crc]  /  hash crc32 addr len var */
static int ucmd_crc(struct sim_board *b, int argc, char **argv, bool hash, char *msg, size_t ml,
		    uint64_t *ns)
{
	struct imx_board *d = imx_priv(b);
	bool verify = false;
	uint64_t addr, len, want;
	const uint8_t *p;
	uint32_t crc;
	char v[16];
	int i = 1;

	if (hash) {
		if (argc < 2 || strcmp(argv[1], "crc32"))
			goto usage;
		i = 2;
	} else if (argc > 1 && !strcmp(argv[1], "-v")) {
		verify = true;
		i = 2;
	}
	if (argc < i + 2 || ucmd_hex(argv[i], &addr) < 0 || ucmd_hex(argv[i + 1], &len) < 0)
		goto usage;
	p = imx_ram(d, (uint32_t)addr, len);
	if (!p) {
		snprintf(msg, ml, "crc32: address out of range");
		return -1;
	}
	crc = sim_crc32(0, p, len);
	/* Assumption: the CPU checksums about 200 MB/s from DDR. */
	*ns += len * 5;
	if (verify) {
		if (argc < i + 3 || ucmd_hex(argv[i + 2], &want) < 0)
			goto usage;
		if (crc != (uint32_t)want) {
			snprintf(msg, ml, "crc32 mismatch: %08x != %08x", crc, (uint32_t)want);
			return -1;
		}
		return 0;
	}
	if (hash && argc > i + 2) {
		snprintf(v, sizeof(v), "%08x", crc);
		return imx_env_set(d, argv[i + 2], v) < 0 ? -1 : 0;
	}
	return 0;
usage:
	snprintf(msg, ml, "%s: bad arguments", argv[0]);
	return -1;
}

int imx_ucmd_run(struct sim_board *b, const char *line, char *msg, size_t msglen,
		 uint64_t *device_ns)
{
	struct imx_board *d = imx_priv(b);
	char buf[UCMD_LINE], *argv[UCMD_MAX_ARGS];
	int r = 0, argc;

	/* "a; b" runs both; the line's result is the last command's. */
	while (*line) {
		argc = ucmd_lex(d, &line, buf, sizeof(buf), argv);
		if (!argc)
			continue;
		r = ucmd_exec(b, argc, argv, msg, msglen, device_ns);
		if (r == 2)
			break;
	}
	return r;
}

static int ucmd_exec(struct sim_board *b, int argc, char **argv, char *msg, size_t msglen,
		     uint64_t *device_ns)
{
	struct imx_board *d = imx_priv(b);

	if (!strcmp(argv[0], "setenv") ||
	    (!strcmp(argv[0], "env") && argc > 1 && !strcmp(argv[1], "set"))) {
		int a = argv[0][0] == 's' ? 1 : 2;
		char val[UCMD_LINE] = "";

		if (argc <= a)
			goto usage;
		for (int i = a + 1; i < argc; i++) {
			if (i > a + 1)
				strncat(val, " ", sizeof(val) - strlen(val) - 1);
			strncat(val, argv[i], sizeof(val) - strlen(val) - 1);
		}
		if (imx_env_set(d, argv[a], argc > a + 1 ? val : NULL) < 0) {
			snprintf(msg, msglen, "## Error: environment full");
			return -1;
		}
		return 0;
	}
	if (!strcmp(argv[0], "mmc"))
		return ucmd_mmc(b, argc, argv, msg, msglen, device_ns);
	if (!strcmp(argv[0], "crc32"))
		return ucmd_crc(b, argc, argv, false, msg, msglen, device_ns);
	if (!strcmp(argv[0], "hash"))
		return ucmd_crc(b, argc, argv, true, msg, msglen, device_ns);
	if (!strcmp(argv[0], "part"))
		return ucmd_part(d, argc, argv) < 0 ? -1 : 0;
	if (!strcmp(argv[0], "gpt"))
		return ucmd_gpt(d, argc, argv, msg, msglen) < 0 ? -1 : 0;
	if (!strcmp(argv[0], "mw.b") || !strcmp(argv[0], "cmp.b"))
		return ucmd_mem(d, argc, argv, msg, msglen) < 0 ? -1 : 0;
	if (!strcmp(argv[0], "saveenv"))
		return imx_env_save(b, device_ns);
	if (!strcmp(argv[0], "true") || !strcmp(argv[0], "echo") || !strcmp(argv[0], "printenv") ||
	    !strcmp(argv[0], "version"))
		return 0;
	if (!strcmp(argv[0], "false"))
		return -1;
	if (!strcmp(argv[0], "sleep")) {
		uint64_t s;

		if (argc != 2 || ucmd_hex(argv[1], &s) < 0 || s > 3600)
			goto usage;
		*device_ns += s * 1000000000ull;
		return 0;
	}
	if (!strcmp(argv[0], "reset"))
		return 2;
	snprintf(msg, msglen, "Unknown command '%.30s'", argv[0]);
	return -1;
usage:
	snprintf(msg, msglen, "%s: bad arguments", argv[0]);
	return -1;
}
