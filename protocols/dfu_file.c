/*
 * This file implements the .dfu container parser: the DFU suffix and CRC
 * (protocol-dfu.md §1.10, DFU 1.1 App. B) and the DfuSe prefix, targets and
 * elements (§2.10, ST UM0391).  Every length read from the file is checked
 * against what is left before the suffix, so a hostile file can only make
 * us return an error naming the offset where it went wrong.
 */
#include "protocols/dfu_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/crc32.h"

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t dfu_file_crc(const uint8_t *buf, size_t len)
{
	/* The suffix keeps the CRC register without zlib's final inversion. */
	return ~crc32_update(0, buf, len);
}

int dfu_file_parse_suffix(const uint8_t *buf, size_t len, struct dfu_file_suffix *ret,
			  struct err *e)
{
	const uint8_t *s;
	struct dfu_file_suffix x;
	uint32_t crc;

	if (len < DFU_FILE_SUFFIX_LEN)
		return err_set(e, -EMSGSIZE,
			       "file is %zu bytes, too short for a 16-byte DFU suffix", len);
	s = buf + len - DFU_FILE_SUFFIX_LEN;
	if (s[8] != 'U' || s[9] != 'F' || s[10] != 'D')
		return err_set(e, -ENOMSG, "offset %zu: no DFU suffix signature \"UFD\"",
			       len - DFU_FILE_SUFFIX_LEN + 8);
	x = (struct dfu_file_suffix){
		.bcd_device = le16(s),
		.id_product = le16(s + 2),
		.id_vendor = le16(s + 4),
		.bcd_dfu = le16(s + 6),
		.length = s[11],
		.crc = le32(s + 12),
	};
	if (x.length < DFU_FILE_SUFFIX_LEN)
		return err_set(e, -EBADMSG, "offset %zu: suffix bLength %u < 16",
			       len - DFU_FILE_SUFFIX_LEN + 11, x.length);
	if (x.length > len)
		return err_set(e, -EMSGSIZE,
			       "offset %zu: suffix bLength %u exceeds the %zu-byte file",
			       len - DFU_FILE_SUFFIX_LEN + 11, x.length, len);
	crc = dfu_file_crc(buf, len - 4);
	if (crc != x.crc)
		return err_set(e, -EILSEQ, "offset %zu: suffix CRC 0x%08x, file has 0x%08x",
			       len - 4, x.crc, crc);
	*ret = x;
	return 0;
}

struct dfu_file *dfu_file_free(struct dfu_file *f)
{
	if (!f)
		return NULL;
	for (unsigned int i = 0; i < f->n_targets; i++)
		free(f->targets[i].elements);
	free(f->targets);
	free(f);
	return NULL;
}

/* Parse targets from buf[off..end), end being where the suffix starts. */
static int dfu_file_parse_dfuse(struct dfu_file *f, const uint8_t *buf, size_t end, struct err *e)
{
	size_t off = 0;
	unsigned int n_targets;

	if (end < DFU_FILE_PREFIX_LEN)
		return err_set(e, -EMSGSIZE,
			       "offset 0: %zu bytes before the suffix, DfuSe prefix needs 11", end);
	if (memcmp(buf, "DfuSe", 5) != 0)
		return err_set(e, -EBADMSG, "offset 0: DfuSe prefix signature is not \"DfuSe\"");
	if (buf[5] != 0x01)
		return err_set(e, -EBADMSG, "offset 5: DfuSe prefix version %u, expected 1",
			       buf[5]);
	n_targets = buf[10];
	off = DFU_FILE_PREFIX_LEN;
	if (n_targets == 0)
		return err_set(e, -EBADMSG, "offset 10: DfuSe file has no targets");

	f->targets = calloc(n_targets, sizeof(*f->targets));
	if (!f->targets)
		return err_set(e, -ENOMEM, "out of memory");

	for (unsigned int t = 0; t < n_targets; t++) {
		struct dfu_file_target *tg = &f->targets[t];
		const uint8_t *p = buf + off;
		size_t tstart, tsize;
		uint32_t n_el;

		if (end - off < DFU_FILE_TARGET_PREFIX_LEN)
			return err_set(e, -EMSGSIZE,
				       "offset %zu: target %u prefix truncated (%zu bytes left)",
				       off, t, end - off);
		if (memcmp(p, "Target", 6) != 0)
			return err_set(e, -EBADMSG,
				       "offset %zu: target %u signature is not \"Target\"", off, t);
		tg->alt = p[6];
		if (le32(p + 7)) {
			/* szTargetName is 255 bytes and need not be terminated. */
			memcpy(tg->name, p + 11, 255);
			tg->name[255] = '\0';
		}
		tsize = le32(p + 266);
		n_el = le32(p + 270);
		off += DFU_FILE_TARGET_PREFIX_LEN;
		tstart = off;
		if (tsize > end - off)
			return err_set(e, -EMSGSIZE,
				       "offset %zu: target %u size %zu exceeds the %zu bytes left",
				       off - 8, t, tsize, end - off);
		/* Each element has an 8-byte header, which bounds a sane count. */
		if (n_el > tsize / DFU_FILE_ELEMENT_HEADER_LEN)
			return err_set(e, -EBADMSG,
				       "offset %zu: target %u claims %u elements in %zu bytes",
				       off - 4, t, n_el, tsize);
		f->n_targets = t + 1;
		if (n_el) {
			tg->elements = calloc(n_el, sizeof(*tg->elements));
			if (!tg->elements)
				return err_set(e, -ENOMEM, "out of memory");
		}
		for (uint32_t i = 0; i < n_el; i++) {
			struct dfu_file_element *el = &tg->elements[i];
			size_t left = tstart + tsize - off;

			if (left < DFU_FILE_ELEMENT_HEADER_LEN)
				return err_set(e, -EMSGSIZE,
					       "offset %zu: target %u element %u header truncated",
					       off, t, i);
			el->address = le32(buf + off);
			el->size = le32(buf + off + 4);
			off += DFU_FILE_ELEMENT_HEADER_LEN;
			left -= DFU_FILE_ELEMENT_HEADER_LEN;
			if (el->size > left)
				return err_set(
					e, -EMSGSIZE,
					"offset %zu: target %u element %u (0x%08x) size %u exceeds the %zu bytes left",
					off - 4, t, i, el->address, el->size, left);
			el->data = buf + off;
			el->offset = off;
			off += el->size;
			tg->n_elements = i + 1;
		}
		if (off != tstart + tsize)
			return err_set(
				e, -EBADMSG,
				"offset %zu: target %u size %zu, its elements end %zu bytes early",
				tstart - 8, t, tsize, tstart + tsize - off);
	}
	if (off != end)
		return err_set(e, -EBADMSG, "offset %zu: %zu unexpected bytes before the suffix",
			       off, end - off);
	return 0;
}

int dfu_file_parse(const uint8_t *buf, size_t len, struct dfu_file **ret, struct err *e)
{
	_cleanup_(dfu_file_freep) struct dfu_file *f = NULL;
	size_t end;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return err_set(e, -ENOMEM, "out of memory");
	r = dfu_file_parse_suffix(buf, len, &f->suffix, e);
	if (r < 0)
		return r;
	end = len - f->suffix.length;
	if (f->suffix.bcd_dfu == DFU_FILE_BCD_DFUSE) {
		r = dfu_file_parse_dfuse(f, buf, end, e);
		if (r < 0)
			return r;
	} else {
		f->payload = buf;
		f->payload_len = end;
	}
	*ret = TAKE_PTR(f);
	return 0;
}
