/*
 * This file implements the host side of the i.MX SDP boot-ROM protocol
 * (sdp.h) after shared/docs/protocol-imx-sdp-fastboot.md §1: command packet
 * layout §1.2, response sequence §1.3, chunking §1.6, timeouts §1.7, jump
 * and DCD handling §1.8, image layout §1.9, UID registers §3.1.
 */
#include "protocols/sdp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/crc32.h"

/* HID class request SET_REPORT with report type Output (HID 1.11 §7.2.2). */
#define HID_SET_REPORT 0x09
#define HID_REPORT_OUTPUT 0x02

struct sdp {
	struct usb_dev *usb;
	const struct imx_soc *soc;
	uint8_t ep_in;
	uint16_t in_size; /* wMaxPacketSize of the IN endpoint */
	unsigned int timeout_ms;
	enum sdp_hab hab;
	bool claimed;
	uint8_t report[1 + SDP_DATA_LEN]; /* OUT staging: ID byte + payload */
};

static const char *sdp_cmd_name(uint16_t cmd)
{
	switch (cmd) {
	case SDP_READ_REGISTER:
		return "READ_REGISTER";
	case SDP_WRITE_REGISTER:
		return "WRITE_REGISTER";
	case SDP_WRITE_FILE:
		return "WRITE_FILE";
	case SDP_ERROR_STATUS:
		return "ERROR_STATUS";
	case SDP_DCD_WRITE:
		return "DCD_WRITE";
	case SDP_JUMP_ADDRESS:
		return "JUMP_ADDRESS";
	case SDP_SKIP_DCD_HEADER:
		return "SKIP_DCD_HEADER";
	}
	return "command";
}

const char *sdp_hab_name(enum sdp_hab h)
{
	switch (h) {
	case SDP_HAB_UNKNOWN:
		return "unknown";
	case SDP_HAB_STATE_OPEN:
		return "open";
	case SDP_HAB_STATE_CLOSED:
		return "closed";
	}
	return "?";
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The interrupt IN endpoint of the claimed interface (alt 0). */
static int find_in_ep(struct sdp *s, struct err *e)
{
	struct usb_endpoint ep;
	int r = usb_find_endpoint(s->usb, LIBUSB_TRANSFER_TYPE_INTERRUPT, true, &ep, e);

	if (r == -ENOENT)
		return err_set(e, r, "interface %u has no interrupt IN endpoint (not an SDP ROM?)",
			       s->usb->interface);
	if (r < 0)
		return r;
	s->ep_in = ep.address;
	s->in_size = ep.max_packet;
	return 0;
}

int sdp_open(struct usb_dev *usb, const struct imx_soc *soc, struct sdp **ret, struct err *e)
{
	_cleanup_(sdp_closep) struct sdp *s = NULL;
	int r;

	if (soc && soc->protocol != IMX_PROTO_SDP)
		return err_set(e, -EOPNOTSUPP, "%s ROM speaks SDPS (stream), not SDP", soc->name);
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	s->usb = usb;
	s->soc = soc;
	s->timeout_ms = SDP_XFER_TIMEOUT_MS;
	/* usbhid binds the ROM on a real host (§1.1); libusb gives it back on release. */
	libusb_set_auto_detach_kernel_driver(usb->handle, 1);
	r = usb_claim(usb, e);
	if (r < 0)
		return r;
	s->claimed = true;
	r = find_in_ep(s, e);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

struct sdp *sdp_close(struct sdp *s)
{
	if (!s)
		return NULL;
	if (s->claimed)
		usb_release(s->usb);
	free(s);
	return NULL;
}

void sdp_set_timeout(struct sdp *s, unsigned int ms)
{
	s->timeout_ms = ms ? ms : SDP_XFER_TIMEOUT_MS;
}

enum sdp_hab sdp_hab_state(const struct sdp *s)
{
	return s->hab;
}

/* SET_REPORT of s->report[0..1 + len) (ID byte already in place). */
static int send_report(struct sdp *s, uint8_t id, size_t len, struct err *e)
{
	int r;

	s->report[0] = id;
	r = usb_ctrl_out(s->usb, LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE,
			 HID_SET_REPORT, (uint16_t)(HID_REPORT_OUTPUT << 8 | id), s->usb->interface,
			 s->report, (uint16_t)(1 + len), s->timeout_ms, e);
	if (r < 0)
		return err_prefix(e, r, "report %u", id);
	return 0;
}

/*
 * Read one IN report into buf (ID byte + up to len payload bytes).
 * Returns the payload length or -errno; a different report ID is -EPROTO.
 */
static int read_report(struct sdp *s, uint8_t id, uint8_t *buf, size_t len, unsigned int timeout,
		       struct err *e)
{
	/* Sliced: DDR training may keep the ROM quiet for seconds (§1.7),
	 * a cancel must not wait for all of them. */
	int got = usb_read_sliced(s->usb, s->ep_in, true, buf, (int)(1 + len),
				  timeout ? timeout : s->timeout_ms, e);

	if (got < 0) {
		return err_prefix(e, got, "report %u", id);
	}
	if (got < 1 || buf[0] != id)
		return err_set(e, -EPROTO, "expected report %u, got %s%u (%d bytes)", id,
			       got < 1 ? "an empty one" : "report ", got < 1 ? 0 : buf[0], got);
	return got - 1;
}

/* Report 3: the HAB state every command is answered with first (§1.3). */
static int read_hab(struct sdp *s, struct err *e)
{
	uint8_t buf[1 + SDP_STATUS_LEN];
	uint32_t v;
	int r;

	r = read_report(s, SDP_REPORT_HAB, buf, SDP_HAB_LEN, 0, e);
	if (r < 0)
		return r;
	if (r < SDP_HAB_LEN)
		return err_set(e, -EPROTO, "report 3 carries %d bytes, expected %d", r,
			       SDP_HAB_LEN);
	v = le32(buf + 1);
	if (v == SDP_HAB_OPEN)
		s->hab = SDP_HAB_STATE_OPEN;
	else if (v == SDP_HAB_CLOSED)
		s->hab = SDP_HAB_STATE_CLOSED;
	else /* uuu fails the same way: "unknown hab type" (§1.3) */
		return err_set(e, -EPROTO, "unknown HAB state 0x%08x in report 3", v);
	return 0;
}

/* Report 4's first word. */
static int read_status(struct sdp *s, uint32_t *ret, unsigned int timeout, struct err *e)
{
	uint8_t buf[1 + SDP_STATUS_LEN];
	int r;

	r = read_report(s, SDP_REPORT_STATUS, buf, SDP_STATUS_LEN, timeout, e);
	if (r < 0)
		return r;
	if (r < 4)
		return err_set(e, -EPROTO, "report 4 carries %d bytes", r);
	*ret = le32(buf + 1);
	return 0;
}

int sdp_command(struct sdp *s, uint16_t cmd, uint32_t addr, uint8_t format, uint32_t count,
		uint32_t data, struct err *e)
{
	uint8_t *p = s->report + 1;
	int r;

	r = usb_check_cancel(s->usb, sdp_cmd_name(cmd), e);
	if (r < 0)
		return r;
	/* §1.2: type, ADDRESS, FORMAT, DATA COUNT, DATA, reserved; big-endian. */
	memset(p, 0, SDP_COMMAND_LEN);
	p[0] = (uint8_t)(cmd >> 8);
	p[1] = (uint8_t)cmd;
	put_be32(p + 2, addr);
	p[6] = format;
	put_be32(p + 7, count);
	put_be32(p + 11, data);
	return send_report(s, SDP_REPORT_COMMAND, SDP_COMMAND_LEN, e);
}

/* Send the data phase: ceil(len / 1024) full reports 2, the last zero-padded (§1.6). */
static int send_data(struct sdp *s, const uint8_t *buf, size_t len, usb_progress_cb_t progress,
		     void *ud, uint64_t done, uint64_t total, struct err *e)
{
	for (size_t off = 0; off < len; off += SDP_DATA_LEN) {
		size_t n = len - off < SDP_DATA_LEN ? len - off : SDP_DATA_LEN;
		int r;

		memcpy(s->report + 1, buf + off, n);
		if (n < SDP_DATA_LEN)
			memset(s->report + 1 + n, 0, SDP_DATA_LEN - n);
		r = send_report(s, SDP_REPORT_DATA, SDP_DATA_LEN, e);
		if (r < 0)
			return err_prefix(e, r, "data at +0x%zx", off);
		if (progress)
			progress(ud, done + off + n, total);
	}
	return 0;
}

static int expect_status(struct sdp *s, uint16_t cmd, uint32_t addr, uint32_t want, struct err *e)
{
	uint32_t st;
	int r;

	r = read_hab(s, e);
	if (r >= 0)
		r = read_status(s, &st, 0, e);
	if (r < 0)
		return err_prefix(e, r, "%s 0x%08x", sdp_cmd_name(cmd), addr);
	if (st != want)
		return err_set(e, -EPROTO, "%s 0x%08x: status 0x%08x, expected 0x%08x",
			       sdp_cmd_name(cmd), addr, st, want);
	return 0;
}

int sdp_read_register(struct sdp *s, uint32_t addr, uint8_t format, void *buf, uint32_t count,
		      struct err *e)
{
	uint8_t rep[1 + SDP_STATUS_LEN];
	uint32_t got = 0;
	int r;

	if (format != SDP_FORMAT_8 && format != SDP_FORMAT_16 && format != SDP_FORMAT_32)
		return err_set(e, -EINVAL, "READ_REGISTER 0x%08x: format 0x%02x", addr, format);
	if (count == 0)
		return err_set(e, -EINVAL, "READ_REGISTER 0x%08x: zero bytes", addr);
	r = sdp_command(s, SDP_READ_REGISTER, addr, format, count, 0, e);
	if (r >= 0)
		r = read_hab(s, e);
	/* Data comes in reports 4 of up to 64 bytes until count is delivered (§1.3). */
	while (r >= 0 && got < count) {
		uint32_t n;

		r = read_report(s, SDP_REPORT_STATUS, rep, SDP_STATUS_LEN, 0, e);
		if (r < 0)
			break;
		if (r == 0) {
			r = err_set(e, -EPROTO, "empty data report after %u of %u bytes", got,
				    count);
			break;
		}
		n = (uint32_t)r < count - got ? (uint32_t)r : count - got;
		memcpy((uint8_t *)buf + got, rep + 1, n);
		got += n;
	}
	if (r < 0)
		return err_prefix(e, r, "READ_REGISTER 0x%08x", addr);
	return 0;
}

int sdp_read32(struct sdp *s, uint32_t addr, uint32_t *ret, struct err *e)
{
	uint8_t b[4];
	int r = sdp_read_register(s, addr, SDP_FORMAT_32, b, 4, e);

	if (r < 0)
		return r;
	*ret = le32(b);
	return 0;
}

int sdp_write_register(struct sdp *s, uint32_t addr, uint8_t format, uint32_t value, struct err *e)
{
	uint32_t count = format / 8;
	int r;

	if (format != SDP_FORMAT_8 && format != SDP_FORMAT_16 && format != SDP_FORMAT_32)
		return err_set(e, -EINVAL, "WRITE_REGISTER 0x%08x: format 0x%02x", addr, format);
	r = sdp_command(s, SDP_WRITE_REGISTER, addr, format, count, value, e);
	if (r < 0)
		return err_prefix(e, r, "WRITE_REGISTER 0x%08x", addr);
	return expect_status(s, SDP_WRITE_REGISTER, addr, SDP_ACK_WRITE, e);
}

int sdp_error_status(struct sdp *s, uint32_t *ret, struct err *e)
{
	int r = sdp_command(s, SDP_ERROR_STATUS, 0, 0, 0, 0, e);

	if (r >= 0)
		r = read_hab(s, e);
	if (r >= 0)
		r = read_status(s, ret, 0, e);
	if (r < 0)
		return err_prefix(e, r, "ERROR_STATUS");
	return 0;
}

static int write_file_progress(struct sdp *s, uint32_t addr, const uint8_t *buf, size_t len,
			       usb_progress_cb_t progress, void *ud, uint64_t done, uint64_t total,
			       struct err *e)
{
	for (size_t off = 0; off < len; off += SDP_WRITE_FILE_MAX) {
		size_t n = len - off < SDP_WRITE_FILE_MAX ? len - off : SDP_WRITE_FILE_MAX;
		uint32_t a = addr + (uint32_t)off;
		int r;

		r = sdp_command(s, SDP_WRITE_FILE, a, 0, (uint32_t)n, 0, e);
		if (r >= 0)
			r = send_data(s, buf + off, n, progress, ud, done + off, total, e);
		if (r < 0)
			return err_prefix(e, r, "WRITE_FILE 0x%08x (%zu bytes)", a, n);
		/* Status only after the whole data phase (§1.3). */
		r = expect_status(s, SDP_WRITE_FILE, a, SDP_ACK_WRITE_FILE, e);
		if (r < 0)
			return r;
	}
	return 0;
}

int sdp_write_file(struct sdp *s, uint32_t addr, const uint8_t *buf, size_t len,
		   usb_progress_cb_t progress, void *ud, struct err *e)
{
	if (len == 0)
		return err_set(e, -EINVAL, "WRITE_FILE 0x%08x: nothing to write", addr);
	if ((uint64_t)addr + len - 1 > UINT32_MAX)
		return err_set(e, -EINVAL, "WRITE_FILE 0x%08x: %zu bytes wrap the address space",
			       addr, len);
	return write_file_progress(s, addr, buf, len, progress, ud, 0, len, e);
}

int sdp_write_file_once(struct sdp *s, uint32_t addr, const uint8_t *buf, size_t len,
			usb_progress_cb_t progress, void *ud, struct err *e)
{
	int r;

	if (len == 0 || len > UINT32_MAX)
		return err_set(e, -EINVAL, "WRITE_FILE 0x%08x: %zu bytes (1..4 GiB)", addr, len);
	r = sdp_command(s, SDP_WRITE_FILE, addr, 0, (uint32_t)len, 0, e);
	if (r >= 0)
		r = send_data(s, buf, len, progress, ud, 0, len, e);
	if (r < 0)
		return err_prefix(e, r, "WRITE_FILE 0x%08x (%zu bytes)", addr, len);
	return expect_status(s, SDP_WRITE_FILE, addr, SDP_ACK_WRITE_FILE, e);
}

int sdp_dcd_write(struct sdp *s, uint32_t addr, const uint8_t *dcd, size_t len, struct err *e)
{
	int r;

	if (len == 0 || len > IMX_DCD_MAX)
		return err_set(e, -EMSGSIZE, "DCD_WRITE 0x%08x: %zu bytes (1..%u)", addr, len,
			       IMX_DCD_MAX);
	r = sdp_command(s, SDP_DCD_WRITE, addr, 0, (uint32_t)len, 0, e);
	if (r >= 0)
		r = send_data(s, dcd, len, NULL, NULL, 0, 0, e);
	if (r < 0)
		return err_prefix(e, r, "DCD_WRITE 0x%08x", addr);
	return expect_status(s, SDP_DCD_WRITE, addr, SDP_ACK_WRITE, e);
}

int sdp_skip_dcd(struct sdp *s, struct err *e)
{
	int r = sdp_command(s, SDP_SKIP_DCD_HEADER, 0, 0, 0, 0, e);

	if (r < 0)
		return err_prefix(e, r, "SKIP_DCD_HEADER");
	return expect_status(s, SDP_SKIP_DCD_HEADER, 0, SDP_ACK_SKIP_DCD, e);
}

/* HAB event bytes of a failed jump (§1.3): status, reason, context, engine. */
static const char *hab_status_name(uint8_t b)
{
	switch (b) {
	case 0x33:
		return "failure";
	case 0x69:
		return "warning";
	case 0xf0:
		return "success";
	}
	return "unknown";
}

static const char *hab_reason_name(uint8_t b)
{
	switch (b) {
	case 0x05:
		return "invalid IVT";
	case 0x18:
		return "invalid signature";
	case 0x27:
		return "invalid DCD";
	}
	return "reason";
}

int sdp_jump(struct sdp *s, uint32_t addr, struct err *e)
{
	struct err tmp = { 0 };
	uint32_t st;
	int r;

	r = sdp_command(s, SDP_JUMP_ADDRESS, addr, 0, 0, 0, e);
	if (r >= 0)
		r = read_hab(s, e);
	if (r < 0)
		return err_prefix(e, r, "JUMP_ADDRESS 0x%08x", addr);
	/*
	 * Report 4 only on failure.  A timeout or the device leaving is what
	 * success looks like; anything else would be a second guess, so it is
	 * taken as success too (the await stage sees whether the board came up).
	 */
	r = read_status(s, &st, SDP_JUMP_ACK_MS, &tmp);
	if (r == -ECANCELED)
		return err_set(e, r, "JUMP_ADDRESS 0x%08x: %s", addr, tmp.msg);
	if (r < 0)
		return 0;
	{
		uint8_t b0 = (uint8_t)st, b1 = (uint8_t)(st >> 8), b2 = (uint8_t)(st >> 16),
			b3 = (uint8_t)(st >> 24);

		return err_set(
			e, -EACCES,
			"JUMP_ADDRESS 0x%08x refused by the ROM: HAB %s (0x%02x), %s (0x%02x), context 0x%02x, engine 0x%02x; HAB %s",
			addr, hab_status_name(b0), b0, hab_reason_name(b1), b1, b2, b3,
			sdp_hab_name(s->hab));
	}
}

int sdp_boot(struct sdp *s, const uint8_t *img, size_t len, usb_progress_cb_t progress, void *ud,
	     struct sdp_boot_result *ret, struct err *e)
{
	struct sdp_boot_result res = { 0 };
	const struct imx_image *im = &res.image;
	uint8_t ivt_block[SDP_DATA_LEN];
	uint32_t status;
	int r;

	if (!s->soc)
		return err_set(e, -EINVAL, "boot: SoC unknown, cannot choose the start method");
	res.method = s->soc->method;
	r = imx_image_parse(img, len, &res.image, e);
	if (r < 0)
		goto out;

	/* imx_usb starts with ERROR_STATUS (§1.11): it tells the HAB state. */
	r = sdp_error_status(s, &status, e);
	if (r < 0)
		goto out;
	res.hab = s->hab;

	if (im->dcd) {
		if (!s->soc->dcd_addr) {
			r = err_set(e, -EOPNOTSUPP, "boot: no DCD scratch address known for %s",
				    s->soc->name);
			goto out;
		}
		r = sdp_dcd_write(s, s->soc->dcd_addr, img + im->dcd_offset, im->dcd_len, e);
		if (r < 0)
			goto out;
		res.dcd_written = true;
	}

	r = write_file_progress(s, im->load_addr, img + im->load_offset, im->load_size, progress,
				ud, 0, im->load_size, e);
	if (r < 0)
		goto out;
	res.bytes_sent = im->load_size;
	res.host_crc = crc32_update(0, img + im->load_offset, im->load_size);

	/* The DDR is set up already: the ROM must not run the DCD again at the jump (§1.8). */
	if (res.dcd_written) {
		size_t n = im->load_size < sizeof(ivt_block) ? im->load_size : sizeof(ivt_block);

		switch (s->soc->method) {
		case IMX_METHOD_SKIP_DCD:
			r = sdp_skip_dcd(s, e);
			break;
		case IMX_METHOD_IVT_REWRITE:
			/* A full report, copied from the image: the i.MX6Q ROM stores
			 * whole 1 KiB reports (§1.6), so 32 bytes would clobber the rest. */
			memcpy(ivt_block, img + im->load_offset, n);
			memset(ivt_block + IMX_IVT_OFF_DCD, 0, 4);
			r = sdp_command(s, SDP_WRITE_FILE, im->load_addr, 0, (uint32_t)n, 0, e);
			if (r >= 0)
				r = send_data(s, ivt_block, n, NULL, NULL, 0, 0, e);
			if (r < 0)
				err_prefix(e, r, "IVT rewrite: WRITE_FILE 0x%08x", im->load_addr);
			else
				r = expect_status(s, SDP_WRITE_FILE, im->load_addr,
						  SDP_ACK_WRITE_FILE, e);
			break;
		case IMX_METHOD_STREAM:
			r = err_set(e, -EOPNOTSUPP, "boot: %s is a stream ROM", s->soc->name);
			break;
		}
		if (r < 0)
			goto out;
	}

	r = sdp_jump(s, im->jump_addr, e);
	if (r >= 0)
		res.jumped = true;
out:
	res.hab = s->hab;
	if (ret)
		*ret = res;
	if (r < 0)
		return err_prefix(e, r, "boot");
	return 0;
}

int sdp_read_uid(struct sdp *s, const uint32_t *words, unsigned int n, unsigned int bits, char *hex,
		 size_t size, struct err *e)
{
	unsigned int digits = bits / 4;
	size_t o = 0;

	if (n < 1 || n > IMX_SOC_UID_WORDS_MAX || (bits != 16 && bits != 32))
		return err_set(e, -EINVAL, "read UID: %u words of %u bits", n, bits);
	if (size < (size_t)n * digits + 1)
		return err_set(e, -EINVAL, "read UID: buffer of %zu bytes too small", size);
	/* Most significant (last given) word first. */
	for (unsigned int i = n; i-- > 0;) {
		uint32_t v;
		int r = sdp_read32(s, words[i], &v, e);

		if (r < 0)
			return err_prefix(e, r, "read UID word 0x%08x", words[i]);
		if (bits == 16)
			v &= 0xffff;
		o += (size_t)snprintf(hex + o, size - o, "%0*X", (int)digits, v);
	}
	return 0;
}
