/*
 * This file implements the model U-Boot's `gpt write mmc 0 <partitions>`
 * (and so `fastboot oem format`): the partition string of U-Boot's
 * cmd/gpt.c set_gpt_info() ("uuid_disk=...;name=boot,start=1MiB,size=16MiB,
 * uuid=...,type=...;name=rootfs,size=-"), laid out as disk/part_efi.c
 * gpt_fill_pte() does, written as gpt_restore() does (protective MBR,
 * primary and backup GPT).  The board has CONFIG_RANDOM_UUID and
 * CONFIG_PARTITION_TYPE_GUID (as NXP's i.MX defconfigs); its "random"
 * GUIDs come from the board's UID and a counter, so a run is repeatable.
 */
#include "tests/sim/boards/imx.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPT_MAX_PARTS 128
#define PART_NAME_LEN 32 /* U-Boot's struct disk_partition name[] */
#define FIRST_USABLE_LBA 34

/* lib/uuid.c's names for type GUIDs (a subset), as GUID strings. */
static const struct {
	const char *name, *guid;
} type_names[] = {
	{ "system", "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" },
	{ "data", "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7" },
	{ "linux", "0fc63daf-8483-4772-8e79-3d69d8477de4" },
	{ "swap", "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f" },
	{ "u-boot-env", "3de21764-95bd-54bd-a5c3-4abe786f38a8" },
};

/* uuid_str_to_bin(UUID_STR_FORMAT_GUID): the first three fields stored
 * little-endian.  0 or -1 (not 8-4-4-4-12 hex digits). */
static int guid_parse(const char *s, uint8_t g[16])
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t raw[16];
	int n = 0;

	if (strlen(s) != 36)
		return -1;
	for (int i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		hi = sim_hex_digit(s[i]);
		lo = sim_hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		raw[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	for (int i = 0; i < 16; i++)
		g[order[i]] = raw[i];
	return 0;
}

/* ustrtoull(): a number with an optional K/M/G (binary) suffix, "KiB"
 * style accepted; 0 or -1 when anything follows. */
static int size_parse(const char *s, uint64_t *v)
{
	char *end;

	if (!*s)
		return -1;
	*v = strtoull(s, &end, 0);
	switch (*end) {
	case 'G':
		*v <<= 10;
		/* fall through */
	case 'M':
		*v <<= 10;
		/* fall through */
	case 'K':
	case 'k':
		*v <<= 10;
		end += end[1] == 'i' ? (end[2] == 'B' ? 3 : 2) : 1;
		break;
	default:
		break;
	}
	return *end ? -1 : 0;
}

/* extract_val(): the value of key in a comma-separated key=value list. */
static bool kv_get(const char *tok, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);

	while (*tok) {
		const char *comma = strchr(tok, ','), *end = comma ? comma : tok + strlen(tok);

		if ((size_t)(end - tok) > kl && !strncmp(tok, key, kl) && tok[kl] == '=') {
			snprintf(out, n, "%.*s", (int)(end - tok - kl - 1), tok + kl + 1);
			return true;
		}
		tok = comma ? comma + 1 : end;
	}
	return false;
}

/* ${name} values are looked up in the environment (extract_env()). */
static const char *env_ref(struct imx_board *d, const char *v)
{
	size_t n = strlen(v);
	char name[64];
	const char *e;

	if (n < 4 || strncmp(v, "${", 2) || v[n - 1] != '}' || n - 3 >= sizeof(name))
		return v;
	snprintf(name, sizeof(name), "%.*s", (int)(n - 3), v + 2);
	e = imx_env_get(d, name);
	return e ? e : v;
}

static int part_parse(struct imx_board *d, const char *tok, struct sim_part *p, uint64_t *start,
		      uint64_t *size)
{
	char v[128];
	const char *s;

	memset(p, 0, sizeof(*p));
	*start = 0;
	if (kv_get(tok, "uuid", v, sizeof(v)) && guid_parse(env_ref(d, v), p->uuid) < 0)
		return -1;
	if (kv_get(tok, "type", v, sizeof(v))) {
		s = env_ref(d, v);
		for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (!strcmp(s, type_names[i].name))
				s = type_names[i].guid;
		if (guid_parse(s, p->type) < 0)
			return -1;
	} else {
		/* gpt_fill_pte(): PARTITION_BASIC_DATA_GUID when no type. */
		guid_parse(type_names[1].guid, p->type);
	}
	if (!kv_get(tok, "name", v, sizeof(v)))
		return -1;
	s = env_ref(d, v);
	if (strlen(s) >= PART_NAME_LEN)
		return -1;
	snprintf(p->name, sizeof(p->name), "%s", s);
	if (!kv_get(tok, "size", v, sizeof(v)))
		return -1;
	s = env_ref(d, v);
	if (!strcmp(s, "-"))
		*size = 0;
	else if (size_parse(s, size) < 0)
		return -1;
	*size /= SIM_EMMC_SECTOR;
	if (kv_get(tok, "start", v, sizeof(v))) {
		if (size_parse(env_ref(d, v), start) < 0)
			return -1;
		*start /= SIM_EMMC_SECTOR;
	}
	return 0;
}

/* gpt_fill_pte(): a partition without start follows the previous one (the
 * first at the first usable LBA); size "-" on the last one extends it to
 * the last usable LBA. */
static int layout(struct sim_part *p, size_t n, const uint64_t *start, const uint64_t *size,
		  uint64_t lbas, char *msg, size_t ml)
{
	uint64_t offset = FIRST_USABLE_LBA, last_usable = lbas - 34;

	for (size_t i = 0; i < n; i++) {
		uint64_t s = start[i], z = size[i];

		if (s) {
			offset = s + z;
		} else {
			s = offset;
			offset += z;
		}
		if (s < FIRST_USABLE_LBA) {
			snprintf(msg, ml, "Partition overlap");
			return -1;
		}
		if (offset > last_usable + 1) {
			snprintf(msg, ml, "Partitions layout exceds disk size");
			return -1;
		}
		if (!z && i != n - 1)
			return -1; /* U-Boot writes an entry ending before it starts */
		p[i].start = s * SIM_EMMC_SECTOR;
		p[i].size = ((z ? offset - 1 : last_usable) - s + 1) * SIM_EMMC_SECTOR;
	}
	return 0;
}

int imx_gpt_write(struct imx_board *d, const char *spec, char *msg, size_t ml)
{
	struct sim_part *parts = calloc(GPT_MAX_PARTS, sizeof(*parts));
	uint64_t *start = calloc(2 * GPT_MAX_PARTS, sizeof(*start)), *size = start + GPT_MAX_PARTS;
	uint8_t disk[16], *diskp = NULL;
	char v[128], *str = strdup(spec), *s, *tok;
	size_t n = 0;
	int r = -1;

	snprintf(msg, ml, "Partition list incomplete");
	if (!parts || !start || !str)
		goto out;
	s = str;
	if (kv_get(str, "uuid_disk", v, sizeof(v))) {
		char *semi = strchr(v, ';');

		if (semi)
			*semi = 0;
		if (guid_parse(env_ref(d, v), disk) < 0)
			goto out;
		diskp = disk;
		s = strchr(s, ';');
		s = s ? s + 1 : s;
	}
	if (!s || !*s)
		goto out;
	if (s[strlen(s) - 1] == ';')
		s[strlen(s) - 1] = 0;
	while ((tok = strsep(&s, ";")) != NULL) {
		if (n == GPT_MAX_PARTS || part_parse(d, tok, &parts[n], &start[n], &size[n]) < 0)
			goto out;
		n++;
	}
	if (layout(parts, n, start, size, d->emmc.size / SIM_EMMC_SECTOR, msg, ml) < 0)
		goto out;
	d->gpt_writes++;
	if (sim_emmc_write_gpt_guid(&d->emmc, parts, n, d->uid ^ (d->gpt_writes << 48), diskp) < 0)
		goto out;
	r = 0;
out:
	free(str);
	free(parts);
	free(start);
	return r;
}
