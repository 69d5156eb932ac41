/*
 * This file implements the simulated eMMC user area and its GPT (emmc.h).
 * Layout facts are UEFI 2.x chapter 5 (protective MBR with one 0xEE entry,
 * header at LBA 1, 128 entries of 128 bytes from LBA 2, backup entries and
 * header at the end of the disk); nothing here is copied from a GPT tool.
 */
#include "tests/sim/boards/emmc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/boards/board-private.h"

#define GPT_ENTRIES 128u
#define GPT_ENTRY_SIZE 128u
#define GPT_ENTRY_LBAS (GPT_ENTRIES * GPT_ENTRY_SIZE / SIM_EMMC_SECTOR) /* 32 */
#define GPT_HEADER_SIZE 92u

/* "Linux filesystem data" 0FC63DAF-8483-4772-8E79-3D69D8477DE4, stored with
 * its first three fields little-endian as GPT does. */
static const uint8_t gpt_linux_type[16] = { 0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
					    0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4 };

uint32_t sim_crc32(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	sim_put_le32(p, (uint32_t)v);
	sim_put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_le64(const uint8_t *p)
{
	return sim_get_le32(p) | (uint64_t)sim_get_le32(p + 4) << 32;
}

int sim_emmc_init(struct sim_emmc *e, size_t size)
{
	e->mem = calloc(1, size ? size : 1);
	if (!e->mem)
		return -ENOMEM;
	e->size = size;
	return 0;
}

void sim_emmc_release(struct sim_emmc *e)
{
	free(e->mem);
	e->mem = NULL;
	e->size = 0;
	for (int i = 0; i < 2; i++) {
		free(e->boot[i]);
		e->boot[i] = NULL;
	}
	e->boot_size = 0;
}

int sim_emmc_init_boot(struct sim_emmc *e, size_t size)
{
	for (int i = 0; i < 2; i++) {
		e->boot[i] = calloc(1, size ? size : 1);
		if (!e->boot[i])
			return -ENOMEM;
	}
	e->boot_size = size;
	return 0;
}

uint8_t *sim_emmc_hwpart(struct sim_emmc *e, unsigned hw, size_t *size)
{
	if (hw == 0) {
		*size = e->size;
		return e->mem;
	}
	if (hw > 2 || !e->boot[hw - 1])
		return NULL;
	*size = e->boot_size;
	return e->boot[hw - 1];
}

/* Version-4-style GUID from a counter: deterministic, unique per disk. */
static void make_guid(uint8_t g[16], uint64_t seed, unsigned n)
{
	uint64_t h = seed * 0x9e3779b97f4a7c15ull + n + 1;

	for (int i = 0; i < 16; i++) {
		h ^= h >> 29;
		h *= 0xbf58476d1ce4e5b9ull;
		h ^= h >> 32;
		g[i] = (uint8_t)h;
	}
	g[7] = (g[7] & 0x0f) | 0x40;
	g[8] = (g[8] & 0x3f) | 0x80;
}

static void write_header(uint8_t *h, uint64_t cur, uint64_t alt, uint64_t first, uint64_t last,
			 uint64_t entries_lba, const uint8_t guid[16], uint32_t entries_crc)
{
	memset(h, 0, SIM_EMMC_SECTOR);
	memcpy(h, "EFI PART", 8);
	sim_put_le32(h + 8, 0x00010000);
	sim_put_le32(h + 12, GPT_HEADER_SIZE);
	put_le64(h + 24, cur);
	put_le64(h + 32, alt);
	put_le64(h + 40, first);
	put_le64(h + 48, last);
	memcpy(h + 56, guid, 16);
	put_le64(h + 72, entries_lba);
	sim_put_le32(h + 80, GPT_ENTRIES);
	sim_put_le32(h + 84, GPT_ENTRY_SIZE);
	sim_put_le32(h + 88, entries_crc);
	sim_put_le32(h + 16, sim_crc32(0, h, GPT_HEADER_SIZE));
}

int sim_emmc_write_gpt(struct sim_emmc *e, const struct sim_part *parts, size_t n, uint64_t seed)
{
	return sim_emmc_write_gpt_guid(e, parts, n, seed, NULL);
}

static bool guid_zero(const uint8_t g[16])
{
	static const uint8_t zero[16];

	return !memcmp(g, zero, 16);
}

int sim_emmc_write_gpt_guid(struct sim_emmc *e, const struct sim_part *parts, size_t n,
			    uint64_t seed, const uint8_t disk_guid[16])
{
	uint64_t lbas = e->size / SIM_EMMC_SECTOR, last_lba, first, last;
	uint8_t *mbr = e->mem, *ent, guid[16];
	uint32_t crc;

	if (lbas < 2 * (2 + GPT_ENTRY_LBAS) + 1 || n > GPT_ENTRIES)
		return -EINVAL;
	last_lba = lbas - 1;
	first = 2 + GPT_ENTRY_LBAS;
	last = last_lba - 1 - GPT_ENTRY_LBAS;

	/* Protective MBR: one partition of type 0xEE over the whole disk. */
	memset(mbr, 0, SIM_EMMC_SECTOR);
	mbr[446 + 2] = 0x02; /* CHS 0/0/2 */
	mbr[446 + 4] = 0xee;
	memset(mbr + 446 + 5, 0xff, 3);
	sim_put_le32(mbr + 446 + 8, 1);
	sim_put_le32(mbr + 446 + 12, last_lba > 0xffffffffu ? 0xffffffffu : (uint32_t)last_lba);
	mbr[510] = 0x55;
	mbr[511] = 0xaa;

	ent = e->mem + 2 * SIM_EMMC_SECTOR;
	memset(ent, 0, GPT_ENTRY_LBAS * SIM_EMMC_SECTOR);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = ent + i * GPT_ENTRY_SIZE;
		uint64_t s = parts[i].start / SIM_EMMC_SECTOR;
		uint64_t l = (parts[i].start + parts[i].size) / SIM_EMMC_SECTOR - 1;

		if (parts[i].start % SIM_EMMC_SECTOR || parts[i].size % SIM_EMMC_SECTOR ||
		    !parts[i].size || s < first || l > last)
			return -EINVAL;
		memcpy(p, guid_zero(parts[i].type) ? gpt_linux_type : parts[i].type, 16);
		if (guid_zero(parts[i].uuid))
			make_guid(p + 16, seed, (unsigned)i + 1);
		else
			memcpy(p + 16, parts[i].uuid, 16);
		put_le64(p + 32, s);
		put_le64(p + 40, l);
		for (size_t c = 0; c < 36 && parts[i].name[c]; c++)
			p[56 + 2 * c] = (uint8_t)parts[i].name[c];
	}
	crc = sim_crc32(0, ent, GPT_ENTRIES * GPT_ENTRY_SIZE);
	if (disk_guid)
		memcpy(guid, disk_guid, 16);
	else
		make_guid(guid, seed, 0);
	write_header(e->mem + SIM_EMMC_SECTOR, 1, last_lba, first, last, 2, guid, crc);
	/* Backup: entries just below the last LBA, header in it. */
	memcpy(e->mem + (last_lba - GPT_ENTRY_LBAS) * SIM_EMMC_SECTOR, ent,
	       GPT_ENTRY_LBAS * SIM_EMMC_SECTOR);
	write_header(e->mem + last_lba * SIM_EMMC_SECTOR, last_lba, 1, first, last,
		     last_lba - GPT_ENTRY_LBAS, guid, crc);
	return 0;
}

/* validate_gpt_header() of U-Boot's disk/part_efi.c. */
static int gpt_header_ok(const uint8_t *h, uint64_t lba, uint64_t last_lba)
{
	uint8_t hdr[SIM_EMMC_SECTOR];
	uint32_t hsz = sim_get_le32(h + 12);

	if (memcmp(h, "EFI PART", 8) || hsz < GPT_HEADER_SIZE || hsz > SIM_EMMC_SECTOR)
		return -EINVAL;
	memcpy(hdr, h, hsz);
	memset(hdr + 16, 0, 4);
	if (sim_crc32(0, hdr, hsz) != sim_get_le32(h + 16))
		return -EINVAL;
	if (get_le64(h + 24) != lba || get_le64(h + 40) > last_lba || get_le64(h + 48) > last_lba)
		return -EINVAL;
	return 0;
}

/* is_gpt_valid() of disk/part_efi.c: the header at lba and its entries. */
static bool gpt_valid_at(const struct sim_emmc *e, uint64_t lba)
{
	const uint8_t *h;
	uint64_t entries_lba;
	uint32_t n, esz;

	if (e->size < 34 * SIM_EMMC_SECTOR || (lba + 1) * SIM_EMMC_SECTOR > e->size)
		return false;
	h = e->mem + lba * SIM_EMMC_SECTOR;
	if (gpt_header_ok(h, lba, e->size / SIM_EMMC_SECTOR - 1) < 0)
		return false;
	entries_lba = get_le64(h + 72);
	n = sim_get_le32(h + 80);
	esz = sim_get_le32(h + 84);
	if (esz < 128 || n > 1024 || entries_lba > e->size / SIM_EMMC_SECTOR ||
	    (uint64_t)n * esz > e->size - entries_lba * SIM_EMMC_SECTOR)
		return false;
	return sim_crc32(0, e->mem + entries_lba * SIM_EMMC_SECTOR, (size_t)n * esz) ==
	       sim_get_le32(h + 88);
}

/* find_valid_gpt() of disk/part_efi.c: the primary header, else the backup
 * at the disk's last LBA ("Using Backup GPT"); NULL when neither holds. */
static const uint8_t *gpt_header(const struct sim_emmc *e)
{
	uint64_t last = e->size / SIM_EMMC_SECTOR - 1;

	if (gpt_valid_at(e, 1))
		return e->mem + SIM_EMMC_SECTOR;
	if (e->size >= 34 * SIM_EMMC_SECTOR && gpt_valid_at(e, last))
		return e->mem + last * SIM_EMMC_SECTOR;
	return NULL;
}

int sim_emmc_part(const struct sim_emmc *e, unsigned idx, struct sim_part *ret)
{
	const uint8_t *h = gpt_header(e), *ent;
	uint64_t s, l;
	uint32_t n, esz;

	if (!h)
		return -ENOENT;
	n = sim_get_le32(h + 80);
	esz = sim_get_le32(h + 84);
	ent = e->mem + get_le64(h + 72) * SIM_EMMC_SECTOR;
	/* Entries with a zero type GUID are unused; idx counts used ones. */
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = ent + (size_t)i * esz;
		static const uint8_t zero[16];

		if (!memcmp(p, zero, 16))
			continue;
		if (idx--)
			continue;
		s = get_le64(p + 32);
		l = get_le64(p + 40);
		if (l < s || (l + 1) * SIM_EMMC_SECTOR > e->size)
			return -ENOENT;
		memset(ret->name, 0, sizeof(ret->name));
		for (int c = 0; c < 36; c++) {
			uint16_t u = p[56 + 2 * c] | p[57 + 2 * c] << 8;

			if (!u)
				break;
			ret->name[c] = u < 0x80 ? (char)u : '?';
		}
		ret->start = s * SIM_EMMC_SECTOR;
		ret->size = (l - s + 1) * SIM_EMMC_SECTOR;
		return 0;
	}
	return -ENOENT;
}

/* DOS primary partition slot (0..3) of a valid MBR: 0, or -ENOENT when the
 * slot is empty or outside the disk. */
static int dos_part(const struct sim_emmc *e, unsigned slot, struct sim_part *ret)
{
	const uint8_t *p = e->mem + 446 + 16 * slot;
	uint64_t s = sim_get_le32(p + 8), n = sim_get_le32(p + 12);

	if (!p[4] || p[4] == 0xee || !n || (s + n) * SIM_EMMC_SECTOR > e->size)
		return -ENOENT;
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "mmcsda%u", slot + 1);
	ret->start = s * SIM_EMMC_SECTOR;
	ret->size = n * SIM_EMMC_SECTOR;
	return 0;
}

int sim_emmc_find(const struct sim_emmc *e, const char *name, struct sim_part *ret)
{
	unsigned i;

	for (i = 0; sim_emmc_part(e, i, ret) == 0; i++)
		if (!strcmp(ret->name, name))
			return 0;
	/* U-Boot tries the EFI driver first ("a_efi"), then DOS. */
	if (sim_emmc_part_table(e) != SIM_PT_DOS)
		return -ENOENT;
	for (unsigned slot = 0; slot < 4; slot++)
		if (dos_part(e, slot, ret) == 0 && !strcmp(ret->name, name))
			return 0;
	return -ENOENT;
}

int sim_emmc_nth(const struct sim_emmc *e, unsigned n, struct sim_part *ret)
{
	enum sim_pt t = sim_emmc_part_table(e);

	if (!n || t == SIM_PT_NONE)
		return -ENOENT;
	if (t == SIM_PT_GPT)
		return sim_emmc_part(e, n - 1, ret);
	return n > 4 ? -ENOENT : dos_part(e, n - 1, ret);
}

int sim_mbr_valid(const uint8_t *sec)
{
	if (sec[510] != 0x55 || sec[511] != 0xaa)
		return -EINVAL;
	for (int slot = 0; slot < 4; slot++) {
		uint8_t ind = sec[446 + 16 * slot];

		if (ind != 0 && ind != 0x80)
			return -EINVAL;
	}
	return 0;
}

enum sim_pt sim_emmc_part_table(const struct sim_emmc *e)
{
	if (gpt_header(e))
		return SIM_PT_GPT;
	if (sim_mbr_valid(e->mem) == 0 && e->mem[446 + 4] != 0xee)
		return SIM_PT_DOS;
	return SIM_PT_NONE;
}

int sim_emmc_gpt_buf_valid(const struct sim_emmc *e, const uint8_t *buf, size_t len)
{
	const uint8_t *h = buf + SIM_EMMC_SECTOR;
	uint64_t ent_off, ent_len;

	if (len < 2 * SIM_EMMC_SECTOR || gpt_header_ok(h, 1, e->size / SIM_EMMC_SECTOR - 1) < 0)
		return -EINVAL;
	ent_off = get_le64(h + 72) * SIM_EMMC_SECTOR;
	ent_len = (uint64_t)sim_get_le32(h + 80) * sim_get_le32(h + 84);
	/* U-Boot reads the entries from its buffer wherever the header points
	 * (validate_gpt_entries()); the model needs them inside it. */
	if (ent_off > len || ent_len > len - ent_off || !ent_len)
		return -EINVAL;
	if (sim_crc32(0, buf + ent_off, ent_len) != sim_get_le32(h + 88))
		return -EINVAL;
	return 0;
}

int sim_emmc_gpt_buf_write(struct sim_emmc *e, const uint8_t *buf, size_t len)
{
	const uint8_t *h = buf + SIM_EMMC_SECTOR;
	uint8_t bh[SIM_EMMC_SECTOR];
	uint64_t ent_lba, ent_blks, bent_lba, alt, hsz;
	uint64_t lbas = e->size / SIM_EMMC_SECTOR;

	if (sim_emmc_gpt_buf_valid(e, buf, len) < 0)
		return -EINVAL;
	ent_lba = get_le64(h + 72);
	ent_blks = ((uint64_t)sim_get_le32(h + 80) * sim_get_le32(h + 84) + SIM_EMMC_SECTOR - 1) /
		   SIM_EMMC_SECTOR;
	bent_lba = get_le64(h + 48) + 1;
	alt = get_le64(h + 32);
	hsz = sim_get_le32(h + 12);
	/* blk_dwrite() past the end fails: "writing GPT partitions failed". */
	if (ent_lba + ent_blks > lbas || bent_lba + ent_blks > lbas || alt >= lbas ||
	    (ent_lba + ent_blks) * SIM_EMMC_SECTOR > len)
		return -EIO;
	memcpy(e->mem, buf, SIM_EMMC_SECTOR);
	memcpy(e->mem + SIM_EMMC_SECTOR, h, SIM_EMMC_SECTOR);
	memcpy(e->mem + ent_lba * SIM_EMMC_SECTOR, buf + ent_lba * SIM_EMMC_SECTOR,
	       ent_blks * SIM_EMMC_SECTOR);
	/* prepare_backup_gpt_header(): swap my/alternate LBA, entries after
	 * last usable, new header CRC; the rest of the block as in buf. */
	memcpy(bh, h, SIM_EMMC_SECTOR);
	put_le64(bh + 24, alt);
	put_le64(bh + 32, get_le64(h + 24));
	put_le64(bh + 72, bent_lba);
	memset(bh + 16, 0, 4);
	sim_put_le32(bh + 16, sim_crc32(0, bh, hsz));
	memcpy(e->mem + bent_lba * SIM_EMMC_SECTOR, buf + ent_lba * SIM_EMMC_SECTOR,
	       ent_blks * SIM_EMMC_SECTOR);
	memcpy(e->mem + alt * SIM_EMMC_SECTOR, bh, SIM_EMMC_SECTOR);
	return 0;
}
