/*
 * This file implements the subset of U-Boot commands that fastboot's UCmd/
 * ACmd and "oem run:" reach on the simulated boards (§4.2, uuu's FB
 * scripts): setenv, mmc dev/read/write/erase/rescan/partconf, crc32 [-v],
 * hash crc32, true/false/echo/sleep, reset.  Variables ${x} and $x are
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

static void ucmd_expand(struct imx_board *d, const char *in, char *out, size_t n)
{
	size_t o = 0;

	while (*in && o + 1 < n) {
		if (*in == '$') {
			char name[64];
			size_t k = 0;
			const char *v;
			bool brace = in[1] == '{';

			in += brace ? 2 : 1;
			while (*in && k + 1 < sizeof(name) &&
			       (isalnum((unsigned char)*in) || *in == '_' || *in == '.' ||
				*in == '#' || (brace && *in != '}')))
				name[k++] = *in++;
			name[k] = 0;
			if (brace && *in == '}')
				in++;
			v = imx_env_get(d, name);
			while (v && *v && o + 1 < n)
				out[o++] = *v++;
			continue;
		}
		out[o++] = *in++;
	}
	out[o] = 0;
}

static int ucmd_hex(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	*v = strtoull(s, &end, 16);
	return *end ? -EINVAL : 0;
}

static int ucmd_mmc(struct sim_board *b, int argc, char **argv, char *msg, size_t ml, uint64_t *ns)
{
	struct imx_board *d = imx_priv(b);
	uint64_t addr, blk, cnt, dev, part = 0;
	uint8_t *ram;

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
	if (!strcmp(argv[1], "rescan") || !strcmp(argv[1], "info") ||
	    !strcmp(argv[1], "partconf") || !strcmp(argv[1], "bootbus") || !strcmp(argv[1], "list"))
		return 0;
	if (d->mmc_dev_part != 0) {
		/* Only the user area is simulated. */
		snprintf(msg, ml, "mmc: boot partitions are not simulated");
		return -1;
	}
	if (!strcmp(argv[1], "write") || !strcmp(argv[1], "read")) {
		if (argc != 5 || ucmd_hex(argv[2], &addr) < 0 || ucmd_hex(argv[3], &blk) < 0 ||
		    ucmd_hex(argv[4], &cnt) < 0)
			goto usage;
		if ((blk + cnt) * SIM_EMMC_SECTOR > d->emmc.size)
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
			memcpy(d->emmc.mem + blk * SIM_EMMC_SECTOR, ram, cnt * SIM_EMMC_SECTOR);
			*ns += imx_emmc_ns(d, cnt * SIM_EMMC_SECTOR, false);
		} else {
			memcpy(ram, d->emmc.mem + blk * SIM_EMMC_SECTOR, cnt * SIM_EMMC_SECTOR);
			/* Reads: assumption, twice the write rate. */
			*ns += imx_emmc_ns(d, cnt * SIM_EMMC_SECTOR, false) / 2;
		}
		return 0;
	}
	if (!strcmp(argv[1], "erase")) {
		if (argc != 4 || ucmd_hex(argv[2], &blk) < 0 || ucmd_hex(argv[3], &cnt) < 0)
			goto usage;
		if ((blk + cnt) * SIM_EMMC_SECTOR > d->emmc.size)
			goto range;
		memset(d->emmc.mem + blk * SIM_EMMC_SECTOR, 0, cnt * SIM_EMMC_SECTOR);
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
	char buf[UCMD_LINE], *argv[UCMD_MAX_ARGS], *p = buf;
	int argc = 0;

	ucmd_expand(d, line, buf, sizeof(buf));
	while (*p && argc < UCMD_MAX_ARGS) {
		while (*p == ' ' || *p == '\t')
			*p++ = 0;
		if (!*p)
			break;
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	if (!argc)
		return 0;
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
	if (!strcmp(argv[0], "true") || !strcmp(argv[0], "echo") || !strcmp(argv[0], "printenv") ||
	    !strcmp(argv[0], "saveenv"))
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
