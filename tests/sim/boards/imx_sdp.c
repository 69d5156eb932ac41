/*
 * This file implements the i.MX6 boot ROM's Serial Download Protocol over
 * HID (protocol-imx-sdp-fastboot.md §1): report 1 commands and report 2
 * data arrive as SET_REPORT on EP0, reports 3 (HAB mode) and 4 (status or
 * register data) leave on interrupt IN 0x81 through the board's message
 * queue.  JUMP_ADDRESS checks the IVT, runs its DCD unless skipped, and
 * hands over to our U-Boot if the entry point carries the fixtures' marker.
 */
#include "tests/sim/boards/imx.h"

#include <errno.h>
#include <string.h>

#define HID_SET_REPORT 0x09
#define HID_SET_IDLE 0x0a
#define HID_REPORT_OUTPUT 2

/* IVT v2 and DCD (§1.9). */
#define IVT_TAG 0xd1
#define DCD_TAG 0xd2
#define DCD_WRITE_DATA 0xcc
#define DCD_CHECK_DATA 0xcf
#define DCD_NOP 0xc0
/* HAB limit on a DCD (i.MX6 RM 8.7.2 as quoted by imx_usb, §1.6). */
#define DCD_MAX 1768
#define DCD_CHECK_POLLS 1000

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void imx_sdp_reset(struct imx_board *d)
{
	d->sdp_cmd = 0;
	d->sdp_addr = d->sdp_count = d->sdp_done = 0;
}

/* Report 3 (HAB mode) then, with_status, report 4; ready after the
 * command's own time plus device_ns. */
static void sdp_reply_after(struct sim_board *b, uint64_t device_ns, bool with_status,
			    uint32_t status, enum imx_action action)
{
	struct imx_board *d = imx_priv(b);
	uint8_t r3[5] = { 3 }, r4[65] = { 4 };
	uint64_t ready = imx_after(b, d->t.command + device_ns);

	/* The SPL gadget always reports open (§1.13). */
	sim_put_le32(r3 + 1, d->hab_closed && d->mode != IMX_SPL ? SDP_HAB_CLOSED : SDP_HAB_OPEN);
	imx_inq_push_act(b, r3, sizeof(r3), ready, with_status ? IMX_ACT_NONE : action);
	if (!with_status)
		return;
	sim_put_le32(r4 + 1, status);
	imx_inq_push_act(b, r4, sizeof(r4), ready, action);
}

static void sdp_reply(struct sim_board *b, bool with_status, uint32_t status,
		      enum imx_action action)
{
	sdp_reply_after(b, 0, with_status, status, action);
}

static void sdp_write_width(struct imx_board *d, uint32_t addr, unsigned bits, uint32_t val)
{
	uint32_t a = addr & ~3u, sh = (addr & 3) * 8, w;

	if (bits == 32 && !(addr & 3)) {
		imx_reg_write(d, addr, val);
		return;
	}
	w = imx_reg_read(d, a);
	if (bits == 8)
		w = (w & ~(0xffu << sh)) | (val & 0xff) << sh;
	else
		w = (w & ~(0xffffu << sh)) | (val & 0xffff) << sh;
	imx_reg_write(d, a, w);
}

/*
 * Run a DCD (header + commands).  Write-data: flags bit 3 mask, bit 4 set:
 * neither = write the value, mask = clear its bits, mask+set = set them.
 * Check-data polls until the condition holds (or a count runs out); with
 * nothing but our register table behind it, a check that fails once fails
 * for good.  Returns the device time spent, or 0 on an invalid DCD.
 */
static uint64_t sdp_run_dcd(struct imx_board *d, const uint8_t *dcd, size_t avail, bool *ok)
{
	size_t len, off = 4;
	uint64_t t = d->t.command;

	*ok = false;
	if (avail < 4 || dcd[0] != DCD_TAG || (dcd[3] != 0x40 && dcd[3] != 0x41))
		return 0;
	len = be16(dcd + 1);
	if (len < 4 || len > avail || len > DCD_MAX)
		return 0;
	while (off < len) {
		const uint8_t *c = dcd + off;
		size_t clen;
		unsigned width, flags;

		if (len - off < 4)
			return 0;
		clen = be16(c + 1);
		width = c[3] & 7;
		flags = c[3] >> 3;
		if (clen < 4 || clen > len - off)
			return 0;
		switch (c[0]) {
		case DCD_WRITE_DATA:
			if ((width != 1 && width != 2 && width != 4) || (clen - 4) % 8)
				return 0;
			for (size_t i = 4; i < clen; i += 8) {
				uint32_t a = be32(c + i), v = be32(c + i + 4), w;

				if (flags & 1) {
					w = imx_reg_read(d, a);
					w = (flags & 2) ? (w | v) : (w & ~v);
				} else {
					w = v;
				}
				if (width == 4)
					imx_reg_write(d, a, w);
				else
					sdp_write_width(d, a, width * 8, w);
				t += d->t.dcd_write;
			}
			break;
		case DCD_CHECK_DATA: {
			uint32_t a, m, v;
			bool hit;

			if (clen != 12 && clen != 16)
				return 0;
			a = be32(c + 4);
			m = be32(c + 8);
			v = imx_reg_read(d, a);
			switch (flags & 3) {
			case 0:
				hit = (v & m) == 0;
				break; /* all clear */
			case 1:
				hit = (v & m) != m;
				break; /* any clear */
			case 2:
				hit = (v & m) == m;
				break; /* all set */
			default:
				hit = (v & m) != 0;
				break; /* any set */
			}
			t += d->t.dcd_write;
			if (!hit) {
				/* Without a count the ROM polls forever; either way
				 * this register will not change under it. */
				t += DCD_CHECK_POLLS * d->t.dcd_write;
				return 0;
			}
			break;
		}
		case DCD_NOP:
			break;
		default:
			return 0;
		}
		off += clen;
	}
	*ok = true;
	return t;
}

static void sdp_read_register(struct sim_board *b, uint32_t addr, uint8_t format, uint32_t count)
{
	struct imx_board *d = imx_priv(b);
	uint8_t r4[65];

	(void)format; /* reads are done as words; the width only matters on the bus */
	sdp_reply(b, false, 0, IMX_ACT_NONE);
	/* The ROM answers in 64-byte reports until COUNT bytes are out. */
	if (count > 0x10000)
		count = 0x10000;
	for (uint32_t off = 0; off < count || (off == 0 && count == 0); off += 64) {
		memset(r4, 0, sizeof(r4));
		r4[0] = 4;
		for (uint32_t i = 0; i < 64 && off + i < count; i++) {
			uint32_t a = addr + off + i;
			uint32_t w = imx_reg_read(d, a & ~3u);

			r4[1 + i] = (uint8_t)(w >> ((a & 3) * 8));
		}
		imx_inq_push(b, r4, sizeof(r4), imx_after(b, d->t.command));
		if (count == 0)
			break;
	}
}

/* JUMP_ADDRESS: §1.8.  Report 3 always; report 4 only on failure. */
static void sdp_jump(struct sim_board *b, uint32_t addr)
{
	struct imx_board *d = imx_priv(b);
	const uint8_t *ivt = imx_ram(d, addr, 32), *bd, *entry;
	uint32_t dcd_ptr, bd_ptr, csf;
	bool ok = true;
	uint32_t err = 0;

	if (!ivt || ivt[0] != IVT_TAG || be16(ivt + 1) != 0x20 ||
	    (ivt[3] != 0x40 && ivt[3] != 0x41) || sim_get_le32(ivt + 20) != addr) {
		err = SDP_ERR_IVT;
		goto fail;
	}
	d->jump_entry = sim_get_le32(ivt + 4);
	dcd_ptr = sim_get_le32(ivt + 12);
	bd_ptr = sim_get_le32(ivt + 16);
	csf = sim_get_le32(ivt + 24);
	bd = imx_ram(d, bd_ptr, 12);
	/* The boot data must describe RAM, and the entry must lie inside
	 * the image it describes (what the ROM checks before any HAB step). */
	if (!bd || !imx_ram(d, sim_get_le32(bd), sim_get_le32(bd + 4)) ||
	    d->jump_entry < sim_get_le32(bd) ||
	    d->jump_entry - sim_get_le32(bd) >= sim_get_le32(bd + 4)) {
		err = SDP_ERR_IVT;
		goto fail;
	}
	/* A closed part authenticates the image: no CSF, no boot. */
	if (d->hab_closed && !csf) {
		err = SDP_ERR_SIG;
		goto fail;
	}
	if (dcd_ptr && !d->dcd_skipped) {
		const uint8_t *dcd = imx_ram(d, dcd_ptr, 4);
		size_t avail = 0;

		while (dcd && avail < DCD_MAX + 4 && imx_ram(d, dcd_ptr, avail + 4))
			avail += 4;
		if (dcd)
			sdp_run_dcd(d, dcd, avail, &ok);
		if (!ok) {
			err = SDP_ERR_DCD;
			goto fail;
		}
	}
	d->dcd_skipped = false;
	entry = imx_ram(d, d->jump_entry, IMX_UBOOT_MARKER_LEN);
	/* Plugins (boot data bit 0) return to the ROM; ours never are one. */
	if (entry && !(sim_get_le32(bd + 8) & 1) &&
	    !memcmp(entry, IMX_UBOOT_MARKER, IMX_UBOOT_MARKER_LEN))
		sdp_reply(b, false, 0, IMX_ACT_UBOOT);
	else if (entry && !(sim_get_le32(bd + 8) & 1) && d->mode == IMX_ROM &&
		 !memcmp(entry, IMX_SPL_MARKER, IMX_UBOOT_MARKER_LEN))
		sdp_reply(b, false, 0, IMX_ACT_SPL);
	else
		sdp_reply(b, false, 0, IMX_ACT_RUN);
	return;
fail:
	d->sdp_status = err;
	sdp_reply(b, true, err, IMX_ACT_NONE);
}

/*
 * The SPL gadget's JUMP_ADDRESS (§1.13): address 0 = its load address;
 * an IVT there is started as by the ROM; otherwise SPL looks for a FIT in
 * what was downloaded and boots it (U-Boot, then fastboot).  Neither: the
 * gadget answers report 4 with 0x000A0533 (assumption: what U-Boot's
 * sdp_jump_imximage() returns internally, boards/README.md).
 */
static void spl_jump(struct sim_board *b, uint32_t addr)
{
	struct imx_board *d = imx_priv(b);
	uint32_t a = addr ? addr : d->soc->sdp_loadaddr;
	const uint8_t *ivt = imx_ram(d, a, 32);
	const uint8_t *buf;
	uint32_t len = 0;
	long fit;

	if (ivt && ivt[0] == IVT_TAG && sim_get_le32(ivt + 20) == a) {
		sdp_jump(b, a);
		return;
	}
	if (d->last_write_len && a >= d->last_write_addr &&
	    a - d->last_write_addr < d->last_write_len)
		len = d->last_write_len - (a - d->last_write_addr);
	buf = len ? imx_ram(d, a, len) : NULL;
	fit = buf ? imx_fit_find(buf, 0, len) : -1;
	if (fit >= 0 && (size_t)fit + 8 <= len && be32(buf + fit + 4) <= len - (size_t)fit &&
	    be32(buf + fit + 4) >= 40) {
		sdp_reply(b, false, 0, IMX_ACT_UBOOT);
		return;
	}
	d->sdp_status = SDP_ERR_IVT;
	sdp_reply(b, true, SDP_ERR_IVT, IMX_ACT_NONE);
}

static int sdp_command(struct sim_board *b, struct sim_xfer *x, const uint8_t *c, size_t len)
{
	struct imx_board *d = imx_priv(b);
	uint16_t cmd;
	uint32_t addr, count, data;
	uint8_t format;
	enum sim_fault_kind k;

	k = sim_board_fault_step(b, "sdp_command", SIM_FAULT_TRANSFER_KINDS);
	if (k == SIM_FAULT_UNPLUG) {
		x->status = -ENODEV;
		return SIM_XFER_DONE;
	}
	if (k == SIM_FAULT_STALL) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	if (k == SIM_FAULT_HANG)
		return sim_board_hang(b, x);
	if (len < 15) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	/* A new command ends any data phase left half done. */
	imx_sdp_reset(d);
	cmd = be16(c);
	addr = be32(c + 2);
	format = c[6];
	count = be32(c + 7);
	data = be32(c + 11);
	switch (cmd) {
	case SDP_READ_REGISTER:
		sdp_read_register(b, addr, format, count);
		break;
	case SDP_WRITE_REGISTER:
		if (format != 8 && format != 16 && format != 32) {
			sdp_reply(b, true, 0, IMX_ACT_NONE);
			break;
		}
		sdp_write_width(d, addr, format, data);
		sdp_reply(b, true, SDP_WRITE_OK, IMX_ACT_NONE);
		break;
	case SDP_WRITE_FILE:
	case SDP_DCD_WRITE:
	case SDP_WRITE_CSF:
		if (!count) {
			sdp_reply(b, true, cmd == SDP_WRITE_FILE ? SDP_WRITE_FILE_OK : SDP_WRITE_OK,
				  IMX_ACT_NONE);
			break;
		}
		d->sdp_cmd = cmd;
		/* Address 0: the SPL gadget's CONFIG_SDP_LOADADDR (§1.13). */
		if (d->mode == IMX_SPL && !addr)
			addr = d->soc->sdp_loadaddr;
		d->sdp_addr = addr;
		d->sdp_count = count;
		d->sdp_done = 0;
		break;
	case SDP_ERROR_STATUS:
		sdp_reply(b, true, d->sdp_status, IMX_ACT_NONE);
		break;
	case SDP_JUMP_ADDRESS:
		k = sim_board_fault_step(b, "jump", SIM_FAULT_TRANSFER_KINDS);
		if (k == SIM_FAULT_UNPLUG) {
			x->status = -ENODEV;
			return SIM_XFER_DONE;
		}
		if (k == SIM_FAULT_STALL) {
			x->status = -EPIPE;
			return SIM_XFER_DONE;
		}
		if (k == SIM_FAULT_HANG)
			return sim_board_hang(b, x);
		if (d->mode == IMX_SPL)
			spl_jump(b, addr);
		else
			sdp_jump(b, addr);
		break;
	case SDP_SKIP_DCD_HEADER:
		/* Only ROMs that have it answer; the 6Q ROM does not know the
		 * command (assumption: it ignores it, the host times out).  The
		 * SPL gadget acks it as a stub (§1.13). */
		if (d->soc->skip_dcd || d->mode == IMX_SPL) {
			d->dcd_skipped = true;
			sdp_reply(b, true, SDP_SKIP_DCD_OK, IMX_ACT_NONE);
		}
		break;
	default:
		/* Unknown commands: no answer (assumption, as above). */
		break;
	}
	return SIM_XFER_DONE;
}

/* Report 2: one chunk of a data phase.  The 6Q ROM stores whole reports
 * (§1.6: a 2-byte WRITE_FILE overwrites 1024 bytes); applied to all. */
static int sdp_data(struct sim_board *b, struct sim_xfer *x, const uint8_t *p, size_t len)
{
	struct imx_board *d = imx_priv(b);
	const char *step = d->sdp_cmd == SDP_DCD_WRITE ? "dcd_write" : "write_file";
	enum sim_fault_kind k;
	uint8_t *dst;
	bool ok = true;

	if (!d->sdp_cmd) {
		/* Data without a command: the ROM drops it. */
		return SIM_XFER_DONE;
	}
	k = sim_board_fault_step(b, step, SIM_FAULT_TRANSFER_KINDS);
	if (k == SIM_FAULT_UNPLUG) {
		x->status = -ENODEV;
		return SIM_XFER_DONE;
	}
	if (k == SIM_FAULT_STALL) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	if (k == SIM_FAULT_HANG)
		return sim_board_hang(b, x);
	dst = imx_ram(d, d->sdp_addr + d->sdp_done, len);
	/* NEEDSWORK: writes outside RAM are dropped but acknowledged; what
	 * the real ROM answers there is not documented. */
	if (dst && d->sdp_cmd != SDP_WRITE_CSF)
		memcpy(dst, p, len);
	d->sdp_done += len;
	if (d->sdp_done < d->sdp_count)
		return SIM_XFER_DONE;

	switch (d->sdp_cmd) {
	case SDP_WRITE_FILE:
		d->last_write_addr = d->sdp_addr;
		d->last_write_len = d->sdp_count;
		sdp_reply(b, true, SDP_WRITE_FILE_OK, IMX_ACT_NONE);
		break;
	case SDP_DCD_WRITE: {
		const uint8_t *dcd = imx_ram(d, d->sdp_addr, d->sdp_count);
		uint64_t t = dcd ? sdp_run_dcd(d, dcd, d->sdp_count, &ok) : 0;

		if (!dcd)
			ok = false;
		if (!ok)
			d->sdp_status = SDP_ERR_DCD;
		sdp_reply_after(b, t, true, ok ? SDP_WRITE_OK : SDP_ERR_DCD, IMX_ACT_NONE);
		break;
	}
	default:
		sdp_reply(b, true, SDP_WRITE_OK, IMX_ACT_NONE);
		break;
	}
	imx_sdp_reset(d);
	return SIM_XFER_DONE;
}

int imx_sdp_request(struct sim_board *b, struct sim_xfer *x)
{
	const struct sim_setup *s = &x->setup;
	uint8_t id = s->wValue & 0xff;
	const uint8_t *p = x->data;
	size_t len = x->len;

	if (s->bmRequestType == 0x21 && s->bRequest == HID_SET_IDLE)
		return SIM_XFER_DONE;
	if (s->bmRequestType != 0x21 || s->bRequest != HID_SET_REPORT ||
	    (s->wValue >> 8) != HID_REPORT_OUTPUT || (id != 1 && id != 2)) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	/* Numbered reports carry their ID as the first byte (§1.1). */
	if (len && p[0] == id) {
		p++;
		len--;
	}
	if (id == 1)
		return sdp_command(b, x, p, len);
	return sdp_data(b, x, p, len);
}

int imx_sdp_out(struct sim_board *b, struct sim_xfer *x)
{
	const uint8_t *p = x->data;

	/* Interrupt OUT carries the report ID first, like SET_REPORT (§1.1). */
	if (x->len < 1 || (p[0] != 1 && p[0] != 2)) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	if (p[0] == 1)
		return sdp_command(b, x, p + 1, x->len - 1);
	return sdp_data(b, x, p + 1, x->len - 1);
}

long imx_fit_find(const uint8_t *p, size_t from, size_t len)
{
	for (size_t o = (from + 3) & ~(size_t)3; o + 4 <= len; o += 4)
		if (be32(p + o) == IMX_FDT_MAGIC)
			return (long)o;
	return -1;
}
