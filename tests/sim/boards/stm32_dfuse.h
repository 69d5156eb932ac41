/*
 * The STM32 system bootloaders in DfuSe mode (F405/407, L476): shared state of
 * stm32_dfuse.c (options, identity, memory map) and stm32_dfuse_proto.c
 * (the DFU 1.1 + DfuSe state machine).  Facts: shared/docs/protocol-dfu.md.
 */
#ifndef FLASHD_SIM_STM32_DFUSE_H
#define FLASHD_SIM_STM32_DFUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/sim/boards/board-private.h"
#include "tests/sim/boards/nor.h"

/* DFU 1.1 states and statuses (protocol-dfu.md §1.5, §1.6). */
enum dfu_state {
	DFU_STATE_APP_IDLE = 0,
	DFU_STATE_APP_DETACH = 1,
	DFU_STATE_IDLE = 2,
	DFU_STATE_DNLOAD_SYNC = 3,
	DFU_STATE_DNBUSY = 4,
	DFU_STATE_DNLOAD_IDLE = 5,
	DFU_STATE_MANIFEST_SYNC = 6,
	DFU_STATE_MANIFEST = 7,
	DFU_STATE_MANIFEST_WAIT_RESET = 8,
	DFU_STATE_UPLOAD_IDLE = 9,
	DFU_STATE_ERROR = 10,
};

enum dfu_status {
	DFU_STATUS_OK = 0x00,
	DFU_STATUS_ERR_TARGET = 0x01,
	DFU_STATUS_ERR_WRITE = 0x03,
	DFU_STATUS_ERR_ERASE = 0x04,
	DFU_STATUS_ERR_PROG = 0x06,
	DFU_STATUS_ERR_VERIFY = 0x07,
	DFU_STATUS_ERR_FIRMWARE = 0x0a,
	DFU_STATUS_ERR_VENDOR = 0x0b,
	DFU_STATUS_ERR_UNKNOWN = 0x0e,
	DFU_STATUS_ERR_STALLEDPKT = 0x0f,
};

/* Memory map common to the parts; the rest is in struct stm32_part. */
#define STM32_FLASH_BASE 0x08000000u
#define STM32_OPTION_MAX 40
#define STM32_FEATURE_BASE 0xFFFF0000u
#define STM32_FEATURE_SIZE 4
#define STM32_SYSINFO_MAX 0x60
#define STM32_MAX_SECTORS 512

/* What a DNLOAD left for the next GETSTATUS to execute. */
enum dfuse_op {
	DFUSE_OP_NONE,
	DFUSE_OP_SET_ADDRESS,
	DFUSE_OP_ERASE,
	DFUSE_OP_MASS_ERASE,
	DFUSE_OP_UNPROTECT,
	DFUSE_OP_WRITE,
};

/* Status a write over unprogrammed-to-0xFF flash ends with (option nor_status). */
enum dfuse_nor_status {
	DFUSE_NOR_VERIFY,
	DFUSE_NOR_PROG,
	DFUSE_NOR_SILENT,
};

/* Device times (ns, unscaled) and reported bwPollTimeouts (ms, unscaled). */
struct dfuse_timing {
	uint64_t erase_16k, erase_64k, erase_128k, erase_page, mass_erase;
	uint64_t word_program, dword_program;
	uint64_t command, option_write, boot, leave;
	double poll_command_ms, poll_erase_ms, poll_mass_erase_ms, poll_write_ms, poll_manifest_ms;
};

/*
 * One row per part family: flash organisation, programming granularity,
 * memory map and datasheet timing (sources: tests/sim/boards/README.md).
 */
struct stm32_part {
	const char *name;
	unsigned page_size; /* uniform erase pages; 0: F4 mixed sectors */
	unsigned prog_unit; /* programming granularity in bytes (1: any) */
	unsigned kib_default, kib_min, kib_max, kib_step;
	uint32_t option_base;
	unsigned option_size;
	unsigned rdp_off; /* RDP byte within the option bytes */
	uint32_t otp_base;
	unsigned otp_size;
	bool otp_locks;	       /* F4: 16 lock bytes after 512 data bytes */
	uint32_t sysinfo_base; /* UID */
	unsigned sysinfo_size;
	uint32_t flashsize_addr;
	const char *alt_fmt[4]; /* alt 0 takes the sector/page count */
	struct dfuse_timing t;
};

struct stm32_dfuse {
	const struct stm32_part *part;
	/* configuration (options) */
	char *serial_opt;
	bool have_uid;
	uint8_t uid[12];
	uint64_t seed;
	unsigned flash_kib;
	unsigned transfer_size;
	bool uid_readable;
	bool boot_error;
	bool busy_stall;
	bool fill_random;
	uint64_t fill_seed;
	enum dfuse_nor_status nor_status;
	struct dfuse_timing t;

	/* memories */
	struct sim_nor flash;
	struct sim_nor otp;
	uint8_t option[STM32_OPTION_MAX];
	uint8_t feature[STM32_FEATURE_SIZE];
	uint8_t sysinfo[STM32_SYSINFO_MAX];
	unsigned n_sectors;
	uint32_t sector_off[STM32_MAX_SECTORS + 1];

	/* identity strings */
	char serial[16];
	char alt_name[4][64];

	/* protocol state */
	uint8_t state;
	uint8_t status;
	uint32_t pointer;
	enum dfuse_op op;
	uint32_t op_addr;
	uint8_t *buf; /* transfer_size bytes */
	size_t buf_len;
	uint8_t op_status;   /* outcome of the operation, shown after busy */
	uint64_t busy_until; /* host time (ns) when the running operation ends */
	bool left;
	/* RDP level 2 took effect at a reset: the system bootloader is gone for good. */
	bool rom_disabled;
	uint32_t jump_addr;
	char state_text[32];
};

/* stm32_dfuse.c */
bool stm32_rdp_active(const struct stm32_dfuse *d);
uint8_t *stm32_rdp_byte(struct stm32_dfuse *d);
/* Where [addr, addr+len) lives for `alt` (-1: any).  Returns a pointer into
 * the memory or NULL; *region gets 0 flash, 1 option, 2 otp, 3 feature,
 * 4 system info. */
uint8_t *stm32_map(struct stm32_dfuse *d, int alt, uint32_t addr, size_t len, bool write,
		   int *region);
int stm32_sector_of(const struct stm32_dfuse *d, uint32_t addr);
void stm32_power_on_state(struct stm32_dfuse *d);

/* stm32_dfuse_proto.c */
int stm32_dfuse_request(struct sim_board *b, struct sim_xfer *x);
int stm32_dfuse_busy_delay(struct sim_board *b, uint64_t *delay_ns);

#endif
