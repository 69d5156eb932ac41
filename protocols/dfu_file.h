/*
 * .dfu files: the 16-byte DFU suffix with its CRC (protocol-dfu.md §1.10)
 * and ST's DfuSe prefix/target/element layout (§2.10, UM0391).
 *
 * Works on a caller-provided read-only buffer (typically mmap'd) and never
 * copies the image: element data pointers point into that buffer, which
 * must outlive the parsed struct dfu_file.  Pure: no USB.
 *
 * Errors, one errno per kind of bad input, each message naming the file
 * offset:  -EMSGSIZE  truncated (a length runs past the end of the file)
 *          -ENOMSG    no suffix (no "UFD" signature: a raw .bin)
 *          -EILSEQ    suffix CRC mismatch
 *          -EBADMSG   malformed (bad signature, version, counts, sizes)
 *          -ENOMEM
 */
#ifndef FLASHD_PROTOCOLS_DFU_FILE_H
#define FLASHD_PROTOCOLS_DFU_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define DFU_FILE_SUFFIX_LEN 16
#define DFU_FILE_PREFIX_LEN 11	       /* "DfuSe", bVersion, DFUImageSize, bTargets */
#define DFU_FILE_TARGET_PREFIX_LEN 274 /* "Target" ... dwNbElements */
#define DFU_FILE_ELEMENT_HEADER_LEN 8  /* dwElementAddress, dwElementSize */
#define DFU_FILE_BCD_DFU 0x0100	       /* plain DFU 1.0/1.1 file */
#define DFU_FILE_BCD_DFUSE 0x011a      /* DfuSe file */

struct dfu_file_suffix {
	uint16_t bcd_device; /* 0xFFFF: any */
	uint16_t id_product; /* 0xFFFF: any */
	uint16_t id_vendor;  /* 0xFFFF: any */
	uint16_t bcd_dfu;    /* DFU_FILE_BCD_* */
	uint8_t length;	     /* bLength, 16 */
	uint32_t crc;	     /* dwCRC as stored (= ~crc32 of everything before it) */
};

struct dfu_file_element {
	uint32_t address;
	uint32_t size;
	const uint8_t *data; /* into the caller's buffer */
	size_t offset;	     /* file offset of data, for messages */
};

struct dfu_file_target {
	uint8_t alt;	/* bAlternateSetting */
	char name[256]; /* szTargetName if bTargetNamed, else "" */
	uint32_t n_elements;
	struct dfu_file_element *elements;
};

struct dfu_file {
	struct dfu_file_suffix suffix;
	/* DfuSe files (suffix.bcd_dfu == DFU_FILE_BCD_DFUSE): */
	unsigned int n_targets;
	struct dfu_file_target *targets;
	/* Plain DFU files: the payload before the suffix. */
	const uint8_t *payload;
	size_t payload_len;
};

/* dwCRC for buf[0..len): ~crc32 (no final XOR), §1.10.  Pure. */
uint32_t dfu_file_crc(const uint8_t *buf, size_t len);

/*
 * Parse and check the suffix at the end of buf.  Returns 0, -EMSGSIZE if
 * len < 16 or bLength is larger than the file, -ENOMSG without the "UFD"
 * signature, -EBADMSG if bLength < 16, -EILSEQ on a CRC mismatch (message
 * has both values).  *ret is filled on success only.
 */
int dfu_file_parse_suffix(const uint8_t *buf, size_t len, struct dfu_file_suffix *ret,
			  struct err *e);

/*
 * Parse a whole .dfu: suffix (required, CRC checked), then for bcdDFU
 * 0x011A the DfuSe prefix, every target and element with bounds checks;
 * bytes left between the last element and the suffix are -EBADMSG, as is a
 * target whose dwTargetSize disagrees with its elements.  DFUImageSize is
 * not checked: older tools wrote it without the suffix (§2.10).  On
 * success *ret is a new struct freed with dfu_file_free().
 */
int dfu_file_parse(const uint8_t *buf, size_t len, struct dfu_file **ret, struct err *e);

/* Frees the index only, never the image buffer.  Accepts NULL; returns NULL. */
struct dfu_file *dfu_file_free(struct dfu_file *f);
DEFINE_CLEANUP_FUNC(struct dfu_file *, dfu_file_free);

#endif
