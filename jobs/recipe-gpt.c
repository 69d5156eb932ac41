/*
 * This file implements the recipe-check rule for partition-table images:
 * a fastboot.flash to U-Boot's "gpt" name must carry an image U-Boot's
 * is_valid_gpt_buf() (disk/part_efi.c) accepts, and one to "mbr" a sector
 * is_valid_dos_buf() (disk/part_dos.c) accepts; the board would refuse
 * anything else after the download ("invalid GPT partition").  Checked
 * here so a bad image is named with its file and JSON path at load time.
 * Layout: UEFI 2.x chapter 5.
 */
#include "jobs/recipe-private.h"
#include "jobs/recipe-sha256.h"
#include "protocols/crc32.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTOR 512u
#define GPT_HEADER_MIN 92u
/* Entries U-Boot and UEFI tools write: 128 of 128 bytes; a little slack. */
#define GPT_ENTRIES_MAX (1024u * 1024u)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Bytes [off, off+len) of the image file into buf: 0 or -errno (-ENODATA
 * when the file is shorter). */
static int read_at(const struct recipe_image *img, uint64_t off, void *buf, size_t len)
{
	int fd = open(img->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -ENODATA;
}

/* Why the GPT image is not one U-Boot writes, or NULL. */
static const char *gpt_problem(const struct recipe_image *img)
{
	uint8_t h[SECTOR], hc[SECTOR];
	uint64_t ent_lba, first, last, alt;
	uint32_t hsz, n, esz, crc;
	uint8_t *ent;
	const char *why = NULL;

	if (read_at(img, SECTOR, h, sizeof(h)) < 0)
		return "shorter than a protective MBR and a GPT header (1024 bytes)";
	if (memcmp(h, "EFI PART", 8))
		return "no \"EFI PART\" signature at LBA 1";
	hsz = le32(h + 12);
	if (hsz < GPT_HEADER_MIN || hsz > SECTOR)
		return "GPT header size out of range";
	memcpy(hc, h, hsz);
	memset(hc + 16, 0, 4);
	if (crc32_update(0, hc, hsz) != le32(h + 16))
		return "GPT header CRC does not match";
	if (le64(h + 24) != 1)
		return "GPT header's own LBA is not 1 (a backup header?)";
	alt = le64(h + 32);
	first = le64(h + 40);
	last = le64(h + 48);
	ent_lba = le64(h + 72);
	n = le32(h + 80);
	esz = le32(h + 84);
	if (first > last || alt <= last)
		return "GPT usable LBAs out of order";
	if (esz < 128 || (uint64_t)n * esz == 0 || (uint64_t)n * esz > GPT_ENTRIES_MAX ||
	    ent_lba < 2)
		return "GPT entry array size out of range";
	ent = malloc((size_t)n * esz);
	if (!ent)
		return "out of memory";
	if (read_at(img, ent_lba * SECTOR, ent, (size_t)n * esz) < 0)
		why = "GPT entry array is not inside the file";
	else if ((crc = crc32_update(0, ent, (size_t)n * esz)) != le32(h + 88))
		why = "GPT entry array CRC does not match";
	for (uint32_t i = 0; !why && i < n; i++) {
		const uint8_t *e = ent + (size_t)i * esz;
		static const uint8_t zero[16];
		uint64_t s = le64(e + 32), l = le64(e + 40);

		if (memcmp(e, zero, 16) && (s < first || l > last || l < s))
			why = "a GPT partition lies outside the usable LBAs";
	}
	free(ent);
	return why;
}

/* is_valid_dos_buf(): 0x55AA, boot indicators 0 or 0x80. */
static const char *mbr_problem(const struct recipe_image *img)
{
	uint8_t s[SECTOR];

	if (read_at(img, 0, s, sizeof(s)) < 0)
		return "shorter than one 512-byte sector";
	if (s[510] != 0x55 || s[511] != 0xaa)
		return "no 0x55AA signature at byte 510";
	for (int i = 0; i < 4; i++)
		if (s[446 + 16 * i] != 0 && s[446 + 16 * i] != 0x80)
			return "a partition entry has a boot indicator other than 0 or 0x80";
	return NULL;
}

bool recipe_check_table_image(struct recipe_parser *p, const char *jp_file, const char *name,
			      const struct recipe_image *img)
{
	bool gpt = !strcmp(name, "gpt");
	const char *why;

	if (!gpt && strcmp(name, "mbr"))
		return true;
	if (!img->path)
		return true; /* the file's own problem is reported already */
	why = img->sparse ? "an Android sparse image" : gpt ? gpt_problem(img) : mbr_problem(img);
	if (why)
		recipe_problem(p, jp_file, "'%s' is not a valid %s image: %s", img->file,
			       gpt ? "GPT" : "MBR", why);
	return !why;
}

/* ---- fastboot.gpt: the table flashd builds from the recipe's list ---- */

#define GPT_FIRST_LBA 34u	     /* after the header and 32 sectors of entries */
#define GPT_DEFAULT_START (1u << 20) /* first partition: 1 MiB, eMMC erase-group friendly */

/* Type GUIDs by name (UEFI 2.x, Discoverable Partitions Specification). */
static const struct {
	const char *name, *guid;
} gpt_types[] = {
	{ "linux", "0fc63daf-8483-4772-8e79-3d69d8477de4" },
	{ "data", "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7" },
	{ "system", "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" },
	{ "swap", "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f" },
	{ "u-boot-env", "3de21764-95bd-54bd-a5c3-4abe786f38a8" },
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Text 8-4-4-4-12 into GPT byte order (first three fields little-endian). */
static bool guid_from_text(const char *s, uint8_t g[16])
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	int n = 0;

	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		if (hexval(s[i]) < 0 || hexval(s[i + 1]) < 0)
			return false;
		g[order[n++]] = (uint8_t)(hexval(s[i]) << 4 | hexval(s[i + 1]));
		i++;
	}
	return true;
}

static void guid_to_text(const uint8_t g[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12],
		 g[13], g[14], g[15]);
}

static bool gpt_part_type(struct recipe_parser *p, const cJSON *e, const char *pj, uint8_t type[16])
{
	_cleanup_free_ char *t = NULL;
	char jp[RECIPE_JPATH_MAX];
	int r = recipe_get_string(p, e, pj, "type", false, &t);
	const char *g = t ? t : "linux";

	if (r < 0)
		return false;
	for (size_t i = 0; i < sizeof(gpt_types) / sizeof(gpt_types[0]); i++)
		if (!strcmp(g, gpt_types[i].name))
			g = gpt_types[i].guid;
	if (guid_from_text(g, type))
		return true;
	recipe_jpath_key(jp, pj, "type");
	recipe_problem(p, jp, "unknown type '%s' (linux, data, system, swap, u-boot-env or a GUID)",
		       t);
	return false;
}

static bool gpt_part_name(struct recipe_parser *p, const cJSON *e, const char *pj, char **name)
{
	char jp[RECIPE_JPATH_MAX];

	if (recipe_get_string(p, e, pj, "name", true, name) <= 0)
		return false;
	recipe_jpath_key(jp, pj, "name");
	if (strlen(*name) > 36) {
		recipe_problem(p, jp, "longer than the 36 characters a GPT entry holds");
		return false;
	}
	for (const char *c = *name; *c; c++)
		if (*c < 0x21 || *c > 0x7e) {
			recipe_problem(p, jp, "'%s': printable ASCII only", *name);
			return false;
		}
	return true;
}

/* offset (default: after the previous one, the first at 1 MiB) and size
 * (bytes, or "-" on the last partition: to the last usable LBA). */
static bool gpt_part_extent(struct recipe_parser *p, const cJSON *e, const char *pj, bool last,
			    uint64_t prev_end, uint64_t usable_end, struct recipe_gpt_part *pt)
{
	const cJSON *sz = cJSON_GetObjectItemCaseSensitive(e, "size");
	char jp[RECIPE_JPATH_MAX];
	int r;

	r = recipe_get_number(p, e, pj, "offset", false, 0, UINT64_MAX, &pt->offset);
	if (r < 0)
		return false;
	if (r == 0)
		pt->offset = prev_end ? prev_end : GPT_DEFAULT_START;
	recipe_jpath_key(jp, pj, "size");
	if (cJSON_IsString(sz) && !strcmp(sz->valuestring, "-")) {
		if (!last) {
			recipe_problem(p, jp,
				       "\"-\" (the rest of the disk) only on the last partition");
			return false;
		}
		pt->size = usable_end > pt->offset ? usable_end - pt->offset : 0;
		if (!pt->size) {
			recipe_problem(p, jp, "no room left on the disk for '%s'", pt->name);
			return false;
		}
	} else if (recipe_get_number(p, e, pj, "size", true, 1, UINT64_MAX, &pt->size) <= 0) {
		return false;
	}
	if (pt->offset % SECTOR || pt->size % SECTOR) {
		recipe_problem(p, pj, "partition '%s': offset and size must be multiples of 512",
			       pt->name);
		return false;
	}
	return true;
}

/* Inside the usable LBAs and clear of the partitions before it. */
static bool gpt_part_fits(struct recipe_parser *p, const char *pj,
			  const struct recipe_fastboot_gpt *g, size_t i, uint64_t usable_end)
{
	const struct recipe_gpt_part *pt = &g->parts[i];

	if (pt->offset < GPT_FIRST_LBA * SECTOR) {
		recipe_problem(p, pj, "partition '%s' starts inside the GPT (before byte 0x%x)",
			       pt->name, GPT_FIRST_LBA * SECTOR);
		return false;
	}
	if (pt->size > usable_end || pt->offset > usable_end - pt->size) {
		recipe_problem(
			p, pj,
			"partition '%s' ends at 0x%llx, past the end 0x%llx of the usable LBAs of a "
			"0x%llx-byte disk",
			pt->name, (unsigned long long)(pt->offset + pt->size),
			(unsigned long long)usable_end, (unsigned long long)g->disk_size);
		return false;
	}
	for (size_t k = 0; k < i; k++) {
		const struct recipe_gpt_part *q = &g->parts[k];

		if (!q->name)
			continue;
		if (!strcmp(q->name, pt->name)) {
			recipe_problem(p, pj, "partition '%s' defined twice", pt->name);
			return false;
		}
		if (q->size && pt->offset < q->offset + q->size &&
		    q->offset < pt->offset + pt->size) {
			recipe_problem(p, pj, "partition '%s' overlaps '%s'", pt->name, q->name);
			return false;
		}
	}
	return true;
}

bool recipe_parse_gpt_fields(struct recipe_parser *p, const cJSON *o, const char *b,
			     struct recipe_fastboot_gpt *g)
{
	char jp[RECIPE_JPATH_MAX], pj[RECIPE_JPATH_MAX];
	const cJSON *parts;
	uint64_t usable_end, prev_end = 0;
	bool ok = true;
	size_t i = 0, n;

	/* Room for both tables and one sector between them. */
	if (recipe_get_number(p, o, b, "disk_size", true, (2 * GPT_FIRST_LBA + 1) * SECTOR,
			      UINT64_MAX / 2, &g->disk_size) <= 0)
		return false;
	if (g->disk_size % SECTOR) {
		recipe_jpath_key(jp, b, "disk_size");
		recipe_problem(p, jp, "not a multiple of 512");
		return false;
	}
	/* Last usable LBA = last LBA - 33 (backup entries and header). */
	usable_end = (g->disk_size / SECTOR - 33) * SECTOR;
	if (recipe_get_item(p, o, b, "partitions", true, &parts, jp) <= 0)
		return false;
	n = cJSON_IsArray(parts) ? (size_t)cJSON_GetArraySize(parts) : 0;
	if (n == 0 || n > RECIPE_GPT_PARTS_MAX) {
		recipe_problem(p, jp, "needs an array of 1 to %d partitions", RECIPE_GPT_PARTS_MAX);
		return false;
	}
	g->parts = calloc(n, sizeof(*g->parts));
	if (!g->parts) {
		p->oom = true;
		return false;
	}
	g->n_parts = n;
	for (const cJSON *e = parts->child; e; e = e->next, i++) {
		struct recipe_gpt_part *pt = &g->parts[i];
		static const char *const pkeys[] = { "name", "offset", "size", "type", NULL };
		bool pok;

		recipe_jpath_index(pj, jp, i);
		if (!cJSON_IsObject(e)) {
			recipe_problem(p, pj, "not an object");
			ok = false;
			continue;
		}
		pok = recipe_check_keys(p, e, pj, pkeys, NULL);
		pok = gpt_part_name(p, e, pj, &pt->name) && pok;
		pok = gpt_part_type(p, e, pj, pt->type) && pok;
		pok = pok && gpt_part_extent(p, e, pj, i == n - 1, prev_end, usable_end, pt);
		pok = pok && gpt_part_fits(p, pj, g, i, usable_end);
		prev_end = pok ? pt->offset + pt->size : 0;
		ok = pok && ok;
	}
	return ok;
}

/* Name-based GUID for this unit: SHA-256 of "flashd-gpt", the unit key,
 * the recipe and the partition name (NUL-separated; "" for the disk), cut
 * to 16 bytes, RFC 9562 version 8 and variant bits; GPT byte order. */
static void derive_guid(const char *unit, const char *recipe, const char *part, uint8_t g[16])
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	struct recipe_sha256 c;
	uint8_t h[RECIPE_SHA256_LEN];

	recipe_sha256_init(&c);
	recipe_sha256_update(&c, "flashd-gpt", 11);
	recipe_sha256_update(&c, unit, strlen(unit) + 1);
	recipe_sha256_update(&c, recipe, strlen(recipe) + 1);
	recipe_sha256_update(&c, part, strlen(part));
	recipe_sha256_final(&c, h);
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x80);
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++)
		g[order[i]] = h[i];
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

void recipe_gpt_build(const struct recipe_fastboot_gpt *g, const char *unit, const char *recipe,
		      uint8_t out[RECIPE_GPT_BYTES], char disk_guid[37])
{
	uint64_t last = g->disk_size / SECTOR - 1;
	uint8_t *mbr = out, *h = out + SECTOR, *ent = out + 2 * SECTOR, dg[16];

	memset(out, 0, RECIPE_GPT_BYTES);
	/* Protective MBR: one 0xEE partition over the disk (UEFI 2.x §5.2.3). */
	mbr[446 + 2] = 0x02;
	mbr[446 + 4] = 0xee;
	memset(mbr + 446 + 5, 0xff, 3);
	put_le32(mbr + 446 + 8, 1);
	put_le32(mbr + 446 + 12, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	for (size_t i = 0; i < g->n_parts; i++) {
		uint8_t *e = ent + i * 128;
		const struct recipe_gpt_part *pt = &g->parts[i];

		memcpy(e, pt->type, 16);
		derive_guid(unit, recipe, pt->name, e + 16);
		put_le64(e + 32, pt->offset / SECTOR);
		put_le64(e + 40, (pt->offset + pt->size) / SECTOR - 1);
		for (size_t c = 0; pt->name[c]; c++)
			e[56 + 2 * c] = (uint8_t)pt->name[c];
	}
	derive_guid(unit, recipe, "", dg);
	guid_to_text(dg, disk_guid);
	memcpy(h, "EFI PART", 8);
	put_le32(h + 8, 0x00010000);
	put_le32(h + 12, GPT_HEADER_MIN);
	put_le64(h + 24, 1);
	put_le64(h + 32, last);
	put_le64(h + 40, GPT_FIRST_LBA);
	put_le64(h + 48, last - 33);
	memcpy(h + 56, dg, 16);
	put_le64(h + 72, 2);
	put_le32(h + 80, 128);
	put_le32(h + 84, 128);
	put_le32(h + 88, crc32_update(0, ent, 128 * 128));
	put_le32(h + 16, crc32_update(0, h, GPT_HEADER_MIN));
}
