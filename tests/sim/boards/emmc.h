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
};

/* A partition in bytes; name is ASCII (GPT names are UTF-16LE, 36 units). */
struct sim_part {
	char name[37];
	uint64_t start, size;
};

/* Zero-filled (erased eMMC reads 0x00 on most parts) array of size bytes. */
int sim_emmc_init(struct sim_emmc *e, size_t size);
void sim_emmc_release(struct sim_emmc *e);

/* Write a GPT describing parts[0..n) (start/size multiples of 512 within the
 * usable area).  seed makes the GUIDs deterministic.  0 or -EINVAL. */
int sim_emmc_write_gpt(struct sim_emmc *e, const struct sim_part *parts, size_t n, uint64_t seed);

/* The idx-th partition of the primary GPT on the disk: 0, or -ENOENT past
 * the end or when there is no valid GPT (header signature and CRCs). */
int sim_emmc_part(const struct sim_emmc *e, unsigned idx, struct sim_part *ret);
/* Partition by name (exact match): 0 or -ENOENT. */
int sim_emmc_find(const struct sim_emmc *e, const char *name, struct sim_part *ret);

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320): GPT, zlib and U-Boot crc32. */
uint32_t sim_crc32(uint32_t crc, const void *data, size_t len);

#endif
