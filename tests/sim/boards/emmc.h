/*
 * A simulated eMMC user area: a byte array with 512-byte sectors, a GPT
 * writer (protective MBR, primary and backup header and entry array, UEFI
 * 2.x chapter 5) and a GPT reader that looks partitions up by name the way
 * U-Boot's fastboot does.  The reader parses what is on the "disk", so
 * flashing over the table changes what later look-ups see, as on a board.
 */
#ifndef FLASHD_SIM_EMMC_H
#define FLASHD_SIM_EMMC_H

#include <stddef.h>
#include <stdint.h>

#define SIM_EMMC_SECTOR 512u

struct sim_emmc {
	uint8_t *mem;
	size_t size;
	/* Hardware boot partitions boot0/boot1 (JESD84-B51 §6.3.2), and
	 * EXT_CSD[179] PARTITION_CONFIG as `mmc partconf` sets it. */
	uint8_t *boot[2];
	size_t boot_size;
	uint8_t partconf;
};

/* A partition in bytes; name is ASCII (GPT names are UTF-16LE, 36 units).
 * type/uuid all zero: the writer's default type, a GUID from the seed. */
struct sim_part {
	char name[37];
	uint64_t start, size;
	uint8_t type[16], uuid[16];
};

/* Zero-filled (erased eMMC reads 0x00 on most parts) array of size bytes. */
int sim_emmc_init(struct sim_emmc *e, size_t size);
void sim_emmc_release(struct sim_emmc *e);

/* Allocate the two boot partitions of size bytes each (zero-filled). */
int sim_emmc_init_boot(struct sim_emmc *e, size_t size);
/* Hardware partition hw (0 user, 1 boot0, 2 boot1): bytes and size, NULL
 * when it does not exist. */
uint8_t *sim_emmc_hwpart(struct sim_emmc *e, unsigned hw, size_t *size);

/* Write a GPT describing parts[0..n) (start/size multiples of 512 within the
 * usable area).  seed makes the GUIDs deterministic.  0 or -EINVAL. */
int sim_emmc_write_gpt(struct sim_emmc *e, const struct sim_part *parts, size_t n, uint64_t seed);

/* The same with the disk GUID given (NULL: from the seed). */
int sim_emmc_write_gpt_guid(struct sim_emmc *e, const struct sim_part *parts, size_t n,
			    uint64_t seed, const uint8_t disk_guid[16]);

/* U-Boot's is_valid_gpt_buf() (disk/part_efi.c): buf holds LBA 0.. of a
 * GPT image (MBR, header at LBA 1, entries where the header says); the
 * header's signature, CRC, my_lba 1, usable LBAs within this disk and the
 * entries' CRC must hold.  0 or -EINVAL. */
int sim_emmc_gpt_buf_valid(const struct sim_emmc *e, const uint8_t *buf, size_t len);
/* U-Boot's write_mbr_and_gpt_partitions(): MBR, primary header and
 * entries from buf, the backup header derived from the primary one
 * (prepare_backup_gpt_header) at alternate_lba, its entries after
 * last_usable_lba.  0, -EINVAL (not valid) or -EIO (outside the disk). */
int sim_emmc_gpt_buf_write(struct sim_emmc *e, const uint8_t *buf, size_t len);
/* U-Boot's is_valid_dos_buf() (disk/part_dos.c test_block_type() ==
 * DOS_MBR): 0x55AA, boot indicators 0 or 0x80 in all four entries. */
int sim_mbr_valid(const uint8_t *sector);

/* What partition table the disk holds, as U-Boot's part_init() finds it:
 * a valid primary GPT first, else a DOS MBR (not a protective one). */
enum sim_pt { SIM_PT_NONE, SIM_PT_GPT, SIM_PT_DOS };
enum sim_pt sim_emmc_part_table(const struct sim_emmc *e);

/* The idx-th partition of the primary GPT on the disk: 0, or -ENOENT past
 * the end or when there is no valid GPT (header signature and CRCs). */
int sim_emmc_part(const struct sim_emmc *e, unsigned idx, struct sim_part *ret);
/* Partition number n (1-based) of the table on the disk: 0 or -ENOENT. */
int sim_emmc_nth(const struct sim_emmc *e, unsigned n, struct sim_part *ret);
/* Partition by name (exact match): 0 or -ENOENT.  Without a valid GPT, the
 * primary partitions of a DOS MBR answer to U-Boot's generic names
 * "mmcsda1".."mmcsda4" (disk/part.c part_set_generic_name()). */
int sim_emmc_find(const struct sim_emmc *e, const char *name, struct sim_part *ret);

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320): GPT, zlib and U-Boot crc32. */
uint32_t sim_crc32(uint32_t crc, const void *data, size_t len);

#endif
