/*
 * This file implements the i.MX IVT/boot data/DCD parser (imx_image.h),
 * after shared/docs/protocol-imx-sdp-fastboot.md §1.9: how uuu, imx_usb and
 * snagboot find the IVT and compute load address, size and jump target.
 */
#include "protocols/imx_image.h"

#include <errno.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * File offset of absolute address addr, given the IVT at ivt_off with
 * self; false when it lies before the file or has fewer than need bytes
 * left in it.
 */
static bool addr_to_off(size_t len, size_t ivt_off, uint32_t self, uint32_t addr, size_t need,
			size_t *ret)
{
	int64_t off = (int64_t)ivt_off + ((int64_t)addr - (int64_t)self);

	if (off < 0 || (uint64_t)off > len || len - (size_t)off < need)
		return false;
	*ret = (size_t)off;
	return true;
}

int imx_image_check_dcd(const uint8_t *dcd, size_t len, size_t where, struct err *e)
{
	size_t total, off;
	unsigned int n = 0;

	if (len < 4)
		return err_set(e, -EBADMSG, "DCD at 0x%zx: %zu bytes, shorter than its header",
			       where, len);
	if (dcd[0] != IMX_DCD_TAG)
		return err_set(e, -EBADMSG, "DCD at 0x%zx: tag 0x%02x, expected 0x%02x", where,
			       dcd[0], IMX_DCD_TAG);
	if (dcd[3] != 0x40 && dcd[3] != 0x41)
		return err_set(e, -EBADMSG, "DCD at 0x%zx: version 0x%02x, expected 0x40 or 0x41",
			       where, dcd[3]);
	total = be16(dcd + 1);
	if (total > IMX_DCD_MAX)
		return err_set(e, -EMSGSIZE, "DCD at 0x%zx: %zu bytes, above the HAB limit of %u",
			       where, total, IMX_DCD_MAX);
	if (total < 4 || total > len)
		return err_set(e, -EBADMSG,
			       "DCD at 0x%zx: length %zu does not fit the %zu bytes available",
			       where, total, len);
	for (off = 4; off < total; n++) {
		const uint8_t *c = dcd + off;
		size_t cl, body;
		unsigned int width;

		if (total - off < 4)
			return err_set(e, -EBADMSG, "DCD at 0x%zx: command at +0x%zx truncated",
				       where, off);
		cl = be16(c + 1);
		if (cl < 4 || cl > total - off)
			return err_set(
				e, -EBADMSG,
				"DCD at 0x%zx: command 0x%02x at +0x%zx has length %zu, %zu bytes left",
				where, c[0], off, cl, total - off);
		body = cl - 4;
		width = c[3] & 7;
		switch (c[0]) {
		case IMX_DCD_CMD_WRITE:
			if (body % 8)
				return err_set(
					e, -EBADMSG,
					"DCD at 0x%zx: write command at +0x%zx: %zu bytes is not address/value pairs",
					where, off, body);
			break;
		case IMX_DCD_CMD_CHECK:
			if (body != 8 && body != 12)
				return err_set(e, -EBADMSG,
					       "DCD at 0x%zx: check command at +0x%zx: length %zu",
					       where, off, cl);
			break;
		case IMX_DCD_CMD_NOP:
			width = 4; /* no width field */
			break;
		case IMX_DCD_CMD_UNLOCK:
			width = 4;
			if (body % 4)
				return err_set(e, -EBADMSG,
					       "DCD at 0x%zx: unlock command at +0x%zx: length %zu",
					       where, off, cl);
			break;
		default:
			return err_set(e, -EBADMSG,
				       "DCD at 0x%zx: unknown command tag 0x%02x at +0x%zx", where,
				       c[0], off);
		}
		if (width != 1 && width != 2 && width != 4)
			return err_set(e, -EBADMSG,
				       "DCD at 0x%zx: command 0x%02x at +0x%zx: access width %u",
				       where, c[0], off, width);
		off += cl;
	}
	return (int)n;
}

/* The boot data's plugin word of a candidate IVT, or -1 if unreadable. */
static int64_t candidate_plugin(const uint8_t *buf, size_t len, size_t off)
{
	uint32_t self = le32(buf + off + 20), bd = le32(buf + off + 16);
	size_t bo;

	if (!addr_to_off(len, off, self, bd, 12, &bo))
		return -1;
	return le32(buf + bo + 8);
}

static bool find_ivt(const uint8_t *buf, size_t len, size_t *ret)
{
	size_t limit = len < IMX_IVT_SCAN_MAX ? len : IMX_IVT_SCAN_MAX;

	for (size_t off = 0; off + IMX_IVT_SIZE <= limit; off += 4) {
		uint32_t h = le32(buf + off);

		if (h == IMX_IVT_HEADER_V40) {
			*ret = off;
			return true;
		}
		/* i.MX8MQ images carry an HDMI firmware IVT first whose
		 * plugin field is neither 0 nor 1: uuu skips it (§1.9). */
		if (h == IMX_IVT_HEADER_V41) {
			int64_t p = candidate_plugin(buf, len, off);

			if (p == 0 || p == 1) {
				*ret = off;
				return true;
			}
		}
	}
	return false;
}

int imx_image_parse(const uint8_t *buf, size_t len, struct imx_image *ret, struct err *e)
{
	struct imx_image im = { 0 };
	const uint8_t *ivt;
	size_t bo, skip;
	int r;

	if (len < IMX_IVT_SIZE)
		return err_set(e, -EMSGSIZE, "image of %zu bytes is shorter than an IVT", len);
	if (!find_ivt(buf, len, &im.ivt_offset))
		return err_set(e, -ENOMSG, "no IVT header (0x%08x) in the first %zu bytes",
			       IMX_IVT_HEADER_V40, len < IMX_IVT_SCAN_MAX ? len : IMX_IVT_SCAN_MAX);
	ivt = buf + im.ivt_offset;
	im.header = le32(ivt);
	im.entry = le32(ivt + 4);
	im.dcd = le32(ivt + 12);
	im.boot_data = le32(ivt + 16);
	im.self = le32(ivt + 20);
	im.csf = le32(ivt + 24);

	if (!addr_to_off(len, im.ivt_offset, im.self, im.boot_data, 12, &bo))
		return err_set(
			e, -EBADMSG,
			"IVT at 0x%zx: boot data pointer 0x%08x is outside the file (self 0x%08x, %zu bytes)",
			im.ivt_offset, im.boot_data, im.self, len);
	im.start = le32(buf + bo);
	im.length = le32(buf + bo + 4);
	im.plugin = le32(buf + bo + 8);
	if (im.plugin & 1)
		return err_set(e, -EOPNOTSUPP,
			       "IVT at 0x%zx: plugin image (boot data plugin 0x%x): not supported",
			       im.ivt_offset, im.plugin);
	if (im.self < im.start)
		return err_set(e, -ERANGE,
			       "IVT at 0x%zx: self 0x%08x lies below the boot data start 0x%08x",
			       im.ivt_offset, im.self, im.start);
	skip = im.self - im.start;
	if (im.length <= skip || im.length - skip < IMX_IVT_SIZE)
		return err_set(
			e, -ERANGE,
			"IVT at 0x%zx: boot data length 0x%x does not reach past the IVT (self - start = 0x%zx)",
			im.ivt_offset, im.length, skip);
	/* The entry point must lie inside the loaded image, or the ROM jumps into
	 * whatever RAM holds. */
	if (im.entry < im.start || im.entry - im.start >= im.length)
		return err_set(e, -EBADMSG,
			       "IVT at 0x%zx: entry 0x%08x is outside the image 0x%08x..0x%08x",
			       im.ivt_offset, im.entry, im.start, im.start + im.length);

	if (im.dcd) {
		size_t avail;

		if (!addr_to_off(len, im.ivt_offset, im.self, im.dcd, 4, &im.dcd_offset))
			return err_set(
				e, -EBADMSG,
				"IVT at 0x%zx: DCD pointer 0x%08x is outside the file (offset %lld of %zu bytes)",
				im.ivt_offset, im.dcd,
				(long long)im.ivt_offset + ((long long)im.dcd - im.self), len);
		avail = len - im.dcd_offset;
		r = imx_image_check_dcd(buf + im.dcd_offset, avail, im.dcd_offset, e);
		if (r < 0)
			return r;
		im.dcd_cmds = (unsigned int)r;
		im.dcd_len = be16(buf + im.dcd_offset + 1);
	}

	im.load_offset = im.ivt_offset;
	im.load_addr = im.self;
	im.jump_addr = im.self;
	im.load_size = im.length - skip;
	if (im.load_size > len - im.ivt_offset) {
		im.load_size = len - im.ivt_offset;
		im.clipped = true;
	}
	*ret = im;
	return 0;
}
