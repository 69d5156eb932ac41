/*
 * Job recipes: "when a board with this VID/PID appears on a matching port, run
 * these stages".  This module parses and validates recipe files (JSON, cJSON),
 * loads a directory of them into a recipe set, and picks the recipe for a
 * device.  The format is documented in jobs/flashd.recipe.5 (summary in
 * jobs/README.md); the operations follow shared/docs/protocol-dfu.md §2,
 * protocol-imx-sdp-fastboot.md §1.14, §4 and protocol-ingenic.md §2, §3.
 *
 * Invariants a job runner may rely on once recipe_load() returned 0:
 *  - every image exists inside the recipe's directory (no "..", no absolute
 *    path, no symlink leading out), is a regular file, and had the pinned
 *    sha256 when it was loaded; size and digest are recorded here.  The
 *    runner should still hash what it actually sends (the file may change).
 *  - stages are reachable: each device stage talks to the device of its
 *    session (the matched device, or the one the last "await" stage waited
 *    for), no device stage follows a stage that makes the device leave
 *    (dfuse.leave, sdp.boot, fastboot.reboot/continue, ingenic.reboot)
 *    without an "await" in between, Ingenic burner stages follow
 *    ingenic.boot (and writes follow ingenic.config) on the same device;
 *  - write ranges on one target (DfuSe alt, fastboot raw offsets or
 *    partition, Ingenic flash) do not overlap;
 *  - no DfuSe erase destroys bytes an earlier stage wrote (the memory plan,
 *    RECIPE_DFUSE_PLAN_LAYOUT below) unless that stage has destroys_earlier;
 *    likewise no Ingenic erase (chip, partition or range, in
 *    RECIPE_INGENIC_PLAN_ERASE blocks) and no fastboot flash/erase of a
 *    partition or raw range written earlier, nor a new gpt/mbr after
 *    partition writes; Ingenic partitions fit the smallest listed JEDEC chip;
 *  - RECIPE_OP_INGENIC_SECURE_BOOT (eFuse burning, burner requests
 *    0x20-0x25) appears only with irreversible = true, and irreversible is
 *    set on no other stage but one that sets STM32 read protection level 2
 *    (dfuse.option_bytes whose RDP byte is 0xCC, dfuse.read_protect level
 *    2), which also needs it;
 *  - after a stage that sets read protection (RDP level 1) no DfuSe stage
 *    but dfuse.read_unprotect follows until one does; after level 2 no
 *    stage follows at all (recipe-plan-dfuse-rdp.c).
 *
 * Ownership: a struct recipe owns every string, array and image in it; free
 * it with recipe_free().  A struct recipe_set owns its recipes.  Nothing here
 * blocks except on local file I/O; nothing keeps file descriptors open.
 *
 * Errors: functions return 0 (or a count) or a negative errno.  Problems with
 * a recipe are collected, one message per problem, into a caller-owned
 * struct recipe_diags, each naming the file and the JSON path:
 *     recipes/t31.json: stages[2].offset: not a number
 */
#ifndef FLASHD_JOBS_RECIPE_H
#define FLASHD_JOBS_RECIPE_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "jobs/recipe-op-list.h"
#include "jobs/identity-image.h"
#include "jobs/recipe-sha256.h"

/* Limits; a recipe exceeding one is refused with a message. */
#define RECIPE_FILE_MAX (1024 * 1024) /* bytes of JSON */
#define RECIPE_STAGES_MAX 64
#define RECIPE_NAME_MAX 64
#define RECIPE_PORTS_MAX 32
#define RECIPE_JEDEC_MAX 16
#define RECIPE_PARTITIONS_MAX 10 /* the burner's nor_partition table: protocol-ingenic.md §3.4 */
#define RECIPE_RETRIES_MAX 10
#define RECIPE_TIMEOUT_MAX_MS (24u * 3600u * 1000u)

/*
 * Stable operation names, as written in "op"; see recipe_op_name().  One
 * value per row of the op table (jobs/recipe-op-list.h): RECIPE_OP_DFUSE_DOWNLOAD
 * ("dfuse.download"), ..._DFUSE_READ_UID, ..._DFUSE_LEAVE (device leaves),
 * ..._SDP_BOOT (device leaves: re-enumerates), ..._AWAIT (starts a new device
 * session), ..._FASTBOOT_GETVAR, _FLASH, _ERASE, _UCMD, _REBOOT and
 * _CONTINUE (device leaves), ..._INGENIC_BOOT (ROM -> SPL -> burner, no
 * re-enumeration), _CHECK_JEDEC, _CONFIG, _WRITE, _REBOOT (device leaves),
 * _SECURE_BOOT (eFuse writes, needs irreversible), ..._FASTBOOT_OEM,
 * ..._FASTBOOT_GPT (flashd builds the GPT, "flash:gpt"),
 * ..._DFUSE_OPTION_BYTES (the ROM resets, the stage awaits it),
 * ..._DFUSE_READ_PROTECT (RDP level 1; 2: irreversible),
 * ..._DFUSE_READ_UNPROTECT (0x92, mass erase + reset).
 */
enum recipe_op {
#define RECIPE_OP_ENUM(id, stem, ...) RECIPE_OP_##id,
	RECIPE_OPS(RECIPE_OP_ENUM)
#undef RECIPE_OP_ENUM
		_RECIPE_OP_MAX,
	_RECIPE_OP_INVALID = -EINVAL,
};

enum recipe_erase {
	RECIPE_ERASE_NONE,	/* "none" */
	RECIPE_ERASE_PAGES,	/* "pages": DfuSe, erase the pages the image touches */
	RECIPE_ERASE_MASS,	/* "mass": DfuSe mass erase before this download */
	RECIPE_ERASE_CHIP,	/* "chip": Ingenic, whole chip at INIT (spi_erase = 1) */
	RECIPE_ERASE_PARTITION, /* "partition": Ingenic, partition on first write (spi_erase = 0) */
	RECIPE_ERASE_BLOCKS,	/* "blocks": Ingenic, the erase blocks each write touches
				 * (MTD_D_MODE); "none" on ingenic.config means the same */
	_RECIPE_ERASE_MAX,
	_RECIPE_ERASE_INVALID = -EINVAL,
};

enum recipe_verify {
	RECIPE_VERIFY_NONE,	/* "none" */
	RECIPE_VERIFY_READBACK, /* "readback": host reads the data back and compares */
	RECIPE_VERIFY_CRC32, /* "crc32": device-side CRC (fastboot UCmd crc32 -v; Ingenic JAMCRC) */
	_RECIPE_VERIFY_MAX,
	_RECIPE_VERIFY_INVALID = -EINVAL,
};

enum recipe_sparse {
	RECIPE_SPARSE_AUTO,  /* "auto": split into sparse pieces when larger than max-download */
	RECIPE_SPARSE_NEVER, /* "never": send as is; fail if larger than max-download */
	_RECIPE_SPARSE_MAX,
	_RECIPE_SPARSE_INVALID = -EINVAL,
};

enum recipe_flash {
	RECIPE_FLASH_SFC_NOR,  /* "sfc_nor" (ops 0x00060000) */
	RECIPE_FLASH_SFC_NAND, /* "sfc_nand" (ops 0x00060001) */
	RECIPE_FLASH_MMC0,     /* "mmc0" (ops 0x00020000) */
	RECIPE_FLASH_MMC1,     /* "mmc1" (ops 0x00020001) */
	_RECIPE_FLASH_MAX,
	_RECIPE_FLASH_INVALID = -EINVAL,
};

enum recipe_serial_source {
	RECIPE_SERIAL_USB_SERIAL,      /* iSerialNumber of the matched device */
	RECIPE_SERIAL_DFUSE_UID,       /* result of the dfuse.read_uid stage */
	RECIPE_SERIAL_IMX_OCOTP,       /* SDP READ_REGISTER of ocotp_words, before sdp.boot */
	RECIPE_SERIAL_INGENIC_EFUSE,   /* ROM read of the eFuse shadow, before ingenic.boot */
	RECIPE_SERIAL_FASTBOOT_GETVAR, /* result of the fastboot.getvar stage reading var */
	_RECIPE_SERIAL_MAX,
	_RECIPE_SERIAL_INVALID = -EINVAL,
};

/* One image file, pinned by sha256. */
struct recipe_image {
	char *file;	     /* as written in the recipe (relative to its directory) */
	char *path;	     /* resolved absolute path (realpath) */
	uint64_t size;	     /* bytes in the file */
	uint64_t write_size; /* bytes it occupies on the target: size, or the expanded
				 * size of an Android sparse image (protocol-imx-sdp-fastboot.md §4.4) */
	bool sparse;	     /* file is an Android sparse image */
	uint8_t sha256[RECIPE_SHA256_LEN];
	/* A per-unit identity image (stage "identity": NAME): 1 + its index in
	 * recipe.identity.images, with file "identity:NAME", path NULL, size
	 * and write_size the template's size and no sha256 (the job
	 * generates the bytes, jobs/job-identity.c); 0 for a file. */
	unsigned identity;
};

struct recipe_partition {
	char *name;
	uint64_t offset; /* bytes from the start of the flash */
	uint64_t size;	 /* bytes */
};

struct recipe_dfuse_download {
	uint8_t alt; /* DfuSe alternate setting = memory space (protocol-dfu.md §2.7) */
	uint32_t address;
	struct recipe_image image;
	enum recipe_erase erase;   /* PAGES, MASS or NONE */
	enum recipe_verify verify; /* READBACK or NONE */
	/* image is a DfuSe .dfu file (starts with "DfuSe", protocol-dfu.md
	 * §2.10): checked at load, its elements of the target whose
	 * bAlternateSetting is alt are written at their own addresses; address
	 * is then the lowest element address and image.write_size the span to
	 * the highest element end (for the overlap check only). */
	bool dfu_file;
	uint16_t dfu_vid, dfu_pid; /* suffix idVendor/idProduct, 0xffff = any */
	uint32_t dfu_elements;	   /* elements in the alt's target */
	bool destroys_earlier; /* "destroys_earlier": its erase may wipe earlier stages' bytes */
};

struct recipe_dfuse_read_uid {
	uint8_t alt;
	uint32_t address;
	uint32_t length; /* 1..64 bytes */
};

struct recipe_dfuse_leave {
	uint32_t address; /* jump address, always explicit (protocol-dfu.md §2.10) */
};

/*
 * STM32 option bytes as the ROM's option-byte alt shows them (protocol-dfu.md
 * §2.6, §3.5; ST AN3156): the areas recipe check knows, their size and where
 * the read-protection (RDP) byte sits.  RDP 0xAA is level 0, 0xCC level 2
 * (permanent: the system bootloader is disabled for good), any other value
 * level 1 (RM0090 §3.7.3, RM0351 §3.5.1).
 */
#define RECIPE_RDP_LEVEL0 0xaa
#define RECIPE_RDP_LEVEL1 0x55 /* what ST's tools write for level 1 */
#define RECIPE_RDP_LEVEL2 0xcc
#define RECIPE_OPTION_BYTES_MAX 64

struct recipe_option_area {
	uint32_t address;
	uint32_t size;	   /* bytes of the option-byte alt's segment */
	uint32_t rdp_off;  /* RDP byte within it */
	const char *parts; /* "STM32F2/F4 (RM0090)" */
};

/* The known area at address, NULL if none. */
const struct recipe_option_area *recipe_option_area(uint32_t address);
/* 0, 1 or 2 for an RDP byte value. */
unsigned recipe_rdp_level(uint8_t rdp);

struct recipe_dfuse_option_bytes {
	uint8_t alt;		   /* the option-byte alt, 1 on ST ROMs */
	uint32_t address;	   /* start of the area, 0x1FFFC000 (F2/F4) by default */
	struct recipe_image image; /* exactly the area's bytes */
	uint8_t rdp;		   /* the image's RDP byte (read at load) */
};

struct recipe_dfuse_read_protect {
	uint8_t alt;
	uint32_t address;
	unsigned level; /* 1, or 2 (needs irreversible) */
};

struct recipe_dfuse_read_unprotect {
	uint8_t alt; /* the option-byte alt, read back afterwards */
	uint32_t address;
	bool destroys_earlier; /* its mass erase may wipe earlier stages' bytes */
};

struct recipe_sdp_boot {
	struct recipe_image image; /* e.g. u-boot.imx that starts fastboot by itself */
	/* Only on the SPL's SDP gadget (job-imx-sdpv.c): where the write
	 * starts in the file.  Neither: SDPV skips the SPL, SDPU 0x57c00. */
	bool skip_spl;	 /* "skip_spl": true (uuu write -skipspl) */
	bool has_offset; /* "offset" given (uuu write -offset) */
	uint64_t offset;
};

struct recipe_await {
	uint16_t vid, pid; /* expected on the same port path */
};

struct recipe_fastboot_getvar {
	char *var;
	char *expect; /* NULL: any value (recorded); else must equal */
};

struct recipe_fastboot_flash {
	char *partition; /* NULL when raw: the target is then "0x<offset>" */
	bool raw;
	uint64_t offset; /* raw byte offset (only when raw) */
	struct recipe_image image;
	enum recipe_sparse sparse;
	uint32_t max_download;	   /* 0: use getvar max-download-size, capped at 16 MiB */
	enum recipe_verify verify; /* CRC32 or NONE */
	bool destroys_earlier;	   /* "destroys_earlier": may overwrite earlier stages' bytes */
};

struct recipe_fastboot_erase {
	char *partition;
	bool destroys_earlier; /* "destroys_earlier": may erase earlier stages' bytes */
};

struct recipe_fastboot_ucmd {
	char *command;
	bool async; /* ACmd instead of UCmd; command < 64 characters */
};

/* "oem <command>": format, partconf:..., bootbus:..., run:... (U-Boot's
 * fb_command.c oem_* handlers). */
struct recipe_fastboot_oem {
	char *command;
};

/* A GPT partition flashd lays out (recipe-gpt.c). */
struct recipe_gpt_part {
	char *name;	       /* ASCII, 1..36 characters */
	uint64_t offset, size; /* bytes, multiples of 512, inside the usable LBAs */
	uint8_t type[16];      /* type GUID as stored (first three fields little-endian) */
};

#define RECIPE_GPT_PARTS_MAX 128      /* entries of a standard GPT (UEFI 2.x §5.3) */
#define RECIPE_GPT_BYTES (34u * 512u) /* protective MBR, header, 128 x 128-byte entries */

struct recipe_fastboot_gpt {
	uint64_t disk_size; /* bytes of the eMMC user area the table is for */
	struct recipe_gpt_part *parts;
	size_t n_parts;
};

/*
 * The GPT image (RECIPE_GPT_BYTES: LBA 0..33) of a fastboot.gpt stage for
 * one unit: GUIDs derived from unit (its serial or chip UID), the recipe
 * name and the partition name (recipe-gpt.c), so a unit flashed again gets
 * the same ones.  disk_guid gets the disk GUID as text, for the records.
 */
void recipe_gpt_build(const struct recipe_fastboot_gpt *g, const char *unit, const char *recipe,
		      uint8_t out[RECIPE_GPT_BYTES], char disk_guid[37]);

struct recipe_ingenic_boot {
	char *soc; /* "t31", ...; see recipe_ingenic_soc_known() */
	bool has_ginfo;
	struct recipe_image ginfo; /* only when has_ginfo */
	struct recipe_image spl;
	struct recipe_image burner;
	uint32_t d2i_len; /* 0: none sent; default from the SoC (protocol-ingenic.md §2.2) */
};

/* ingenic.config "nor": parameters of a part missing from protocols/spinor_parts.c. */
struct recipe_nor {
	bool given;
	uint32_t size;	    /* bytes, power of two, 64 KiB..256 MiB; > 16 MiB: 4-byte opcodes */
	uint32_t page_size; /* bytes, default 256 */
	int quad_enable;    /* enum spinor_qe, default none */
};

struct recipe_ingenic_config {
	enum recipe_flash flash;
	enum recipe_erase erase; /* CHIP, PARTITION or BLOCKS */
	struct recipe_partition *partitions;
	size_t n_partitions;   /* 0: no table, the burner gets one over the whole chip */
	bool destroys_earlier; /* "destroys_earlier": its chip erase may wipe earlier bytes */
	struct recipe_nor nor; /* used only when the table lacks the JEDEC ID */
	bool quad;	       /* "quad": the burner reads and programs on 4 lines */
};

struct recipe_ingenic_write {
	char *partition; /* NULL: offset is absolute */
	uint64_t offset; /* absolute offset on the flash (partition start + given offset) */
	struct recipe_image image;
	enum recipe_verify verify; /* CRC32, READBACK or NONE */
	bool destroys_earlier; /* "destroys_earlier": its erase may wipe earlier stages' bytes */
};

struct recipe_ingenic_secure_boot {
	struct recipe_image image; /* key/config blob for the secure-boot requests */
};

struct recipe_stage {
	enum recipe_op op;
	char *label;	     /* "name" if given, else NULL */
	uint32_t timeout_ms; /* whole-stage deadline; per-op default if not given */
	uint32_t retries;    /* extra attempts after a failure, 0..RECIPE_RETRIES_MAX */
	bool irreversible;   /* acknowledged; only on RECIPE_OP_INGENIC_SECURE_BOOT and
				 * on a stage setting STM32 RDP level 2 */
	union {
		struct recipe_dfuse_download dfuse_download;
		struct recipe_dfuse_read_uid dfuse_read_uid;
		struct recipe_dfuse_leave dfuse_leave;
		struct recipe_dfuse_option_bytes dfuse_option_bytes;
		struct recipe_dfuse_read_protect dfuse_read_protect;
		struct recipe_dfuse_read_unprotect dfuse_read_unprotect;
		struct recipe_sdp_boot sdp_boot;
		struct recipe_await await;
		struct recipe_fastboot_getvar fastboot_getvar;
		struct recipe_fastboot_flash fastboot_flash;
		struct recipe_fastboot_erase fastboot_erase;
		struct recipe_fastboot_ucmd fastboot_ucmd;
		struct recipe_fastboot_oem fastboot_oem;
		struct recipe_fastboot_gpt fastboot_gpt;
		struct recipe_ingenic_boot ingenic_boot;
		struct recipe_ingenic_config ingenic_config;
		struct recipe_ingenic_write ingenic_write;
		struct recipe_ingenic_secure_boot ingenic_secure_boot;
	} u; /* member named after op; reboot/continue/check_jedec have none */
};

struct recipe_match {
	uint16_t vid, pid;
	uint16_t bcd_min, bcd_max; /* inclusive; 0x0000..0xffff when not given */
	char **ports;		   /* port-path globs (fnmatch), NULL when any port matches */
	size_t n_ports;
};

struct recipe_serial {
	enum recipe_serial_source source;
	char *var;		 /* FASTBOOT_GETVAR: getvar name, default "serialno" */
	uint32_t ocotp_words[4]; /* IMX_OCOTP: register addresses, low word first */
	size_t n_ocotp_words;
};

/*
 * "identity" (issue 18, jobs/recipe-identity.c): the pools a unit draws
 * values from and the per-unit images stages write ("identity": NAME in
 * place of "file" and "sha256").  Templates name values {POOL} (its first
 * value) and {POOLn} (its n-th, from 0), e.g. {serial}, {mac0}, {mac1}.
 */
enum recipe_identity_kind {
	RECIPE_IDENTITY_RAW,	   /* "raw": fields at offsets (struct identity_raw) */
	RECIPE_IDENTITY_UBOOT_ENV, /* "uboot-env": U-Boot environment (struct identity_uboot_env) */
	RECIPE_IDENTITY_FILE,	   /* "file": the file a list pool's value names, padded to size */
	_RECIPE_IDENTITY_KIND_MAX,
	_RECIPE_IDENTITY_KIND_INVALID = -EINVAL,
};

struct recipe_identity_image {
	char *name;
	enum recipe_identity_kind kind;
	size_t size;		       /* bytes of the image, every kind */
	struct identity_raw raw;       /* RAW: fields and their texts owned here */
	struct identity_uboot_env env; /* UBOOT_ENV: vars owned here */
	char *pool;		       /* FILE: the list pool */
	uint8_t fill;		       /* FILE: after the file's bytes */
};

#define RECIPE_IDENTITY_POOLS_MAX 16
#define RECIPE_IDENTITY_IMAGES_MAX 16

struct recipe_identity {
	char **pools; /* names, as flashctl pool create gave them */
	size_t n_pools;
	struct recipe_identity_image *images;
	size_t n_images;
	/* "rework": "keep" (default) gives a board that passed before the
	 * values it holds; "new" draws new ones. */
	bool rework_new;
};

struct recipe {
	char *name;
	char *description; /* NULL if not given */
	/* "dfuse_layout": the DfuSe alt 0 layout string the memory plan uses;
	 * NULL means RECIPE_DFUSE_PLAN_LAYOUT.  Use recipe_dfuse_layout(). */
	char *dfuse_layout;
	char *path;			   /* the recipe file, as passed to recipe_load() */
	char *dir;			   /* realpath of its directory; images resolve below it */
	uint8_t sha256[RECIPE_SHA256_LEN]; /* of the recipe file's bytes, for the database */
	struct recipe_match match;
	struct recipe_serial serial;
	uint32_t *jedec; /* expected JEDEC IDs, mfr << 16 | type << 8 | capacity */
	size_t n_jedec;
	struct recipe_stage *stages;
	size_t n_stages;
	struct recipe_identity identity; /* n_pools 0: the recipe draws no values */
};

/* The identity template a stage's image names, or NULL for a file. */
const struct recipe_identity_image *recipe_identity_image_of(const struct recipe *r,
							     const struct recipe_image *img);
/*
 * The pool a template key names: "serial" (nth 0) or "mac1" (nth 1) for
 * pools "serial" and "mac" (key need not be NUL-terminated: len bytes).
 * Returns the pool's index in id->pools, or -ENOENT.
 */
int recipe_identity_key_pool(const struct recipe_identity *id, const char *key, size_t len,
			     unsigned *nth);

/* Collected problem messages, "FILE: PATH: text", in the order found. */
struct recipe_diags {
	char **msgs;
	size_t n;
	size_t cap;
};

#define RECIPE_DIAGS_INIT ((struct recipe_diags){ 0 })

/* Free the messages and reset to empty; the struct itself is the caller's. */
void recipe_diags_release(struct recipe_diags *d);

/*
 * Add one formatted message.  Returns 0 or -ENOMEM (the message is lost).
 * Exposed so that callers report related problems in the same list.
 */
int recipe_diags_add(struct recipe_diags *d, const char *fmt, ...) _printf_(2, 3);

/*
 * Parse and validate the recipe file at path; image paths resolve relative to
 * its directory.  Every problem found is appended to diags (may be NULL), not
 * only the first.  Reads each image once to check its sha256.  Blocks on file
 * I/O only.
 *
 * Returns 0 and *ret (free with recipe_free()); -EBADMSG when the recipe has
 * problems (at least one message added); -ENOENT, -EACCES, ... when the file
 * itself cannot be read (one message added); -ENOMEM.  *ret is set only on 0.
 */
int recipe_load(const char *path, struct recipe **ret, struct recipe_diags *diags);

/* Free a recipe and everything in it.  Accepts NULL; returns NULL. */
struct recipe *recipe_free(struct recipe *r);
DEFINE_CLEANUP_FUNC(struct recipe *, recipe_free);

/*
 * The memory plan of a DfuSe recipe uses the recipe's "dfuse_layout" (the
 * alt 0 string its ROM reports, e.g. an STM32L4's 2 KiB pages) or, without
 * one, this sector table (STM32F405/F407 internal flash; protocol-dfu.md
 * §2.6).  recipe check plans the erases with it and the job compares it with
 * the layout the device reports before erasing.
 */
#define RECIPE_DFUSE_PLAN_ALT 0
#define RECIPE_DFUSE_PLAN_LAYOUT "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
#define RECIPE_DFUSE_PLAN_SECTORS 4096 /* most sectors a planned table may have */

static inline const char *recipe_dfuse_layout(const struct recipe *r)
{
	return r->dfuse_layout ? r->dfuse_layout : RECIPE_DFUSE_PLAN_LAYOUT;
}

/*
 * The Ingenic memory plan (jobs/recipe-plan-ingenic.c) erases in blocks of
 * this size: the burner erases with spi_erase_block_size, which flashd sets
 * to the chip's erase size, 64 KiB block erase (D8/DC) for every chip
 * (ingenic_cfg_nor_generic(), protocols/ingenic_cfg.h; protocol-ingenic.md
 * §3.4, §3.6).  Partition erases and range erases cover every block they
 * touch, so a partition that is not block-aligned loses its neighbour's
 * bytes in the shared block.
 */
#define RECIPE_INGENIC_PLAN_ERASE (64u * 1024u)

/*
 * Run-time half of the Ingenic memory plan, called before the ingenic.config
 * stage at index at sends INIT (the first point anything is erased): the
 * flash the device reported (JEDEC ID jedec, chip_size and erase_size bytes
 * as flashd will configure it) must hold every partition of every
 * ingenic.config stage from at to the end of this device session, and erase
 * in the blocks the plan assumed.  Returns 0, or -EOPNOTSUPP with e saying
 * "memory plan does not hold: ...; nothing erased".
 */
int recipe_ingenic_plan_holds(const struct recipe *r, size_t at, uint32_t jedec, uint64_t chip_size,
			      uint32_t erase_size, struct err *e);

/* "dfuse.download", ...; NULL for an invalid value. */
const char *recipe_op_name(enum recipe_op op);
/* The op for a name, or _RECIPE_OP_INVALID. */
enum recipe_op recipe_op_from_name(const char *name);
/* Whether the op needs a device present (every op but await). */
bool recipe_op_uses_device(enum recipe_op op);
/* Whether the device goes away after the op (leave, sdp.boot, reboot, continue). */
bool recipe_op_device_leaves(enum recipe_op op);
/* The RDP level a stage sets: 1 or 2, 0 when it sets none (level 0 or no RDP stage). */
unsigned recipe_stage_rdp_level(const struct recipe_stage *s);
const char *recipe_serial_source_name(enum recipe_serial_source s);

/* Whether a port-path glob is valid: digits, '-', '.', '*', '?', and closed [...] sets. */
bool recipe_port_glob_valid(const char *glob);

/*
 * A set of recipes, e.g. everything in /etc/flashd/recipes.  Owns its recipes.
 * Recipes are kept in file-name order.
 */
struct recipe_set {
	struct recipe **recipes;
	size_t n;
};

/*
 * Load every "*.json" (regular file, not starting with '.') in dir, in name
 * order.  Good recipes are kept; each bad one is reported to diags and left
 * out, as is a recipe whose name is already used by an earlier file.
 *
 * Returns the number of files refused (>= 0) and *ret (free with
 * recipe_set_free()), or a negative errno when dir cannot be read (one
 * message added) or on -ENOMEM; *ret is set only when >= 0.
 */
int recipe_set_load_dir(const char *dir, struct recipe_set **ret, struct recipe_diags *diags);

/*
 * recipe_set_load_dir() that gives up once *cancel is true: checked before
 * each file and between 64 KiB chunks of each image, so even a load hashing
 * gigabytes stops within milliseconds.  Returns -ECANCELED then (nothing in
 * *ret).  cancel may be NULL.  Touches nothing but its arguments, so a
 * daemon may run it on a thread of its own while the old set still serves.
 */
int recipe_set_load_dir_cancellable(const char *dir, const atomic_bool *cancel,
				    struct recipe_set **ret, struct recipe_diags *diags);

/* Free the set and its recipes.  Accepts NULL; returns NULL. */
struct recipe_set *recipe_set_free(struct recipe_set *set);
DEFINE_CLEANUP_FUNC(struct recipe_set *, recipe_set_free);

/*
 * A loaded set shared by the station and every job that still runs one of
 * its recipes, so a reload (SIGHUP) never frees a recipe under a job.  The
 * count is not atomic: take and drop references on one thread (flashd's
 * loop).
 */
struct recipe_set_ref {
	struct recipe_set *set;
	unsigned refs;
};

/* A reference owning set (freed with the last unref), count 1; NULL on -ENOMEM (set is freed). */
struct recipe_set_ref *recipe_set_ref_new(struct recipe_set *set);
struct recipe_set_ref *recipe_set_ref(struct recipe_set_ref *r);
/* Drop one reference; the last one frees the set.  Accepts NULL. */
void recipe_set_unref(struct recipe_set_ref *r);

/*
 * Whether one recipe's match rules accept the device.  port_path is the
 * sysfs port path ("1-1.2.3").  On a match, *ret_rank (may be NULL) gets its
 * specificity, higher = more specific; see recipe_set_match().
 */
bool recipe_matches(const struct recipe *r, uint16_t vid, uint16_t pid, uint16_t bcd,
		    const char *port_path, uint32_t *ret_rank);

/*
 * Pick the recipe for a device: among the recipes whose VID/PID match, whose
 * bcdDevice range contains bcd and whose port globs (if any) match port_path,
 * the most specific one wins:
 *  1. port rule: an exact port path beats a glob, a glob with more literal
 *     characters beats one with fewer, any glob beats no port rule;
 *  2. then bcdDevice: a narrower range beats a wider one (no range = widest).
 * Two best candidates of equal specificity are an error: flashing the wrong
 * firmware is worse than flashing none.
 *
 * Returns 0 and *ret (borrowed from the set); -ENOENT if no recipe matches;
 * -ENOTUNIQ if the best match is ambiguous (e names both recipes).
 */
int recipe_set_match(const struct recipe_set *set, uint16_t vid, uint16_t pid, uint16_t bcd,
		     const char *port_path, const struct recipe **ret, struct err *e);

/*
 * Known Ingenic SoC names for ingenic.boot "soc", and their default d2i_len
 * (protocol-ingenic.md §2.2); returns false for an unknown name.
 */
bool recipe_ingenic_soc_known(const char *soc, uint32_t *ret_d2i_len);

#endif
