/*
 * This file implements the i.MX8MN/8MP stream boot ROM (SDPS,
 * protocol-imx-sdp-fastboot.md §1.12) and the ROM-API SPL behind it: the
 * host streams the whole flash.bin as HID report 2 packets of 1020
 * payload bytes on interrupt OUT endpoint 1; nothing is ever answered.
 * The ROM reads the IVT at the start of the stream (header 0x412000D1,
 * boot data inside the stream), takes boot_data.length - (self - start)
 * bytes as the SPL into RAM at IVT.self and starts it if the entry holds
 * the fixtures' SPL marker; the SPL then keeps reading the same stream
 * (ROM API, §1.12) until it has the FIT that follows it (FDT magic on a
 * 4-byte step, FDT totalsize bytes) and boots U-Boot, which comes up as
 * the fastboot gadget.  Limits and their sources: boards/README.md.
 */
#include "tests/sim/boards/imx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SDPS_PAYLOAD 1020 /* report 2 payload on the EP1 ROMs (§1.12) */
#define IVT_HEADER_V41 0x412000d1u
/* A stream longer than this is not a boot image the model keeps. */
#define SDPS_STREAM_MAX (64u << 20)
/* Smallest FDT: the 40-byte header (devicetree spec v0.4 §5.2). */
#define FDT_HEADER_LEN 40

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void imx_sdps_reset(struct imx_board *d)
{
	free(d->stream);
	d->stream = NULL;
	d->stream_len = d->stream_cap = 0;
	d->spl_len = d->fit_scan = 0;
	d->spl_started = d->stream_dead = false;
}

static int stream_append(struct imx_board *d, const uint8_t *p, size_t n)
{
	if (d->stream_len + n > SDPS_STREAM_MAX)
		return -1;
	if (d->stream_len + n > d->stream_cap) {
		size_t cap = d->stream_cap ? d->stream_cap * 2 : 1 << 20;
		uint8_t *s;

		while (cap < d->stream_len + n)
			cap *= 2;
		s = realloc(d->stream, cap);
		if (!s)
			return -1;
		d->stream = s;
		d->stream_cap = cap;
	}
	memcpy(d->stream + d->stream_len, p, n);
	d->stream_len += n;
	return 0;
}

/*
 * The ROM's header check (§1.9 IVT layout): IVT v41 at offset 0 whose
 * self and boot data describe an SPL that fits RAM and holds the entry.
 * Returns 1 when read, 0 when more bytes are needed, -1 when bad.
 */
static int rom_header(struct imx_board *d)
{
	const uint8_t *s = d->stream;
	uint32_t self, bd, start, length, entry;

	if (d->stream_len < 32)
		return 0;
	if (sim_get_le32(s) != IVT_HEADER_V41)
		return -1;
	entry = sim_get_le32(s + 4);
	bd = sim_get_le32(s + 16);
	self = sim_get_le32(s + 20);
	if (bd < self || bd - self > SDPS_STREAM_MAX)
		return -1;
	if (d->stream_len < (size_t)(bd - self) + 12)
		return 0;
	start = sim_get_le32(s + (bd - self));
	length = sim_get_le32(s + (bd - self) + 4);
	if (self < start || length <= self - start || entry < start || entry - start >= length ||
	    !imx_ram(d, self, length - (self - start)))
		return -1;
	d->spl_len = length - (self - start);
	return 1;
}

/* The whole SPL is in: copy it to IVT.self and run it (marker check). */
static enum imx_action rom_start_spl(struct imx_board *d)
{
	uint32_t self = sim_get_le32(d->stream + 20), entry = sim_get_le32(d->stream + 4);
	uint8_t *dst = imx_ram(d, self, d->spl_len);
	const uint8_t *e;

	memcpy(dst, d->stream, d->spl_len);
	d->jump_entry = entry;
	e = imx_ram(d, entry, IMX_UBOOT_MARKER_LEN);
	if (e && !memcmp(e, IMX_SPL_MARKER, IMX_UBOOT_MARKER_LEN)) {
		d->spl_started = true;
		d->fit_scan = d->spl_len;
		return IMX_ACT_NONE;
	}
	if (e && !memcmp(e, IMX_UBOOT_MARKER, IMX_UBOOT_MARKER_LEN))
		return IMX_ACT_UBOOT;
	return IMX_ACT_RUN;
}

/* SPL (ROM API): the FIT after the SPL, complete?  UBOOT when it is. */
static enum imx_action spl_pull(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);
	long fit = imx_fit_find(d->stream, d->fit_scan, d->stream_len);
	uint32_t total;
	uint8_t *dst;

	if (fit < 0) {
		/* Keep looking from where the scan stopped. */
		d->fit_scan = d->stream_len >= 4 ? (d->stream_len - 3) & ~(size_t)3 : 0;
		if (d->fit_scan < d->spl_len)
			d->fit_scan = d->spl_len;
		return IMX_ACT_NONE;
	}
	d->fit_scan = (size_t)fit;
	if ((size_t)fit + 8 > d->stream_len)
		return IMX_ACT_NONE;
	total = be32(d->stream + fit + 4);
	if (total < FDT_HEADER_LEN || total > SDPS_STREAM_MAX) {
		d->stream_dead = true; /* SPL: bad FIT, it hangs */
		return IMX_ACT_RUN;
	}
	if ((size_t)fit + total > d->stream_len)
		return IMX_ACT_NONE;
	/* U-Boot proper runs from DDR; the FIT lands at the load address. */
	dst = imx_ram(d, d->soc->sdp_loadaddr, total);
	if (dst)
		memcpy(dst, d->stream + fit, total);
	return IMX_ACT_UBOOT;
}

static enum imx_action sdps_advance(struct sim_board *b)
{
	struct imx_board *d = imx_priv(b);
	int r;

	if (!d->spl_len) {
		r = rom_header(d);
		if (r < 0) {
			d->stream_dead = true;
			return IMX_ACT_NONE;
		}
		if (r == 0)
			return IMX_ACT_NONE;
	}
	if (!d->spl_started) {
		if (d->stream_len < d->spl_len)
			return IMX_ACT_NONE;
		{
			enum imx_action a = rom_start_spl(d);

			if (a != IMX_ACT_NONE)
				return a;
		}
	}
	return spl_pull(b);
}

int imx_sdps_data(struct sim_board *b, struct sim_xfer *x)
{
	struct imx_board *d = imx_priv(b);
	enum sim_fault_kind k;
	enum imx_action a;

	/* Report 2 only, at most the ROM's 1020 bytes (§1.12); a stream
	 * the ROM gave up on NAKs for ever (assumption, README). */
	if (x->len < 1 || x->data[0] != 2 || x->len - 1 > SDPS_PAYLOAD) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	if (d->stream_dead)
		return sim_board_hang(b, x);
	k = sim_board_fault_step(b, "stream", SIM_FAULT_TRANSFER_KINDS);
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
	if (stream_append(d, x->data + 1, x->len - 1) < 0) {
		d->stream_dead = true;
		return sim_board_hang(b, x);
	}
	a = sdps_advance(b);
	if (a != IMX_ACT_NONE) {
		imx_sdps_reset(d);
		imx_act(b, a, x->delay_ns);
	}
	return SIM_XFER_DONE;
}
