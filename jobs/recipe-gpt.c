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
#include "protocols/crc32.h"

#include <errno.h>
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
	if (esz < 128 || (uint64_t)n * esz == 0 || (uint64_t)n * esz > GPT_ENTRIES_MAX || ent_lba < 2)
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
