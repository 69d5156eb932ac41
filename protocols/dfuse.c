/*
 * This file implements the host side of ST's DfuSe extension as spoken by
 * the STM32 ROM bootloader (protocol-dfu.md §2, ST AN3156/AN2662): commands
 * in DNLOAD block 0, data in blocks >= 2, erase exactly what an image
 * touches, write in contiguous runs, verify by read-back, leave with an
 * explicit jump address.  The wire strategy and error contract are in
 * dfuse.h; the poll policy is dfu_wait_done() in dfu.c.
 */
#include "protocols/dfuse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/crc32.h"

/* Pause between GETSTATE probes while waiting for a leaving device to go. */
#define DFUSE_LEAVE_PROBE_MS 50

struct dfuse {
	struct usb_dev *usb;
	struct dfu_func_desc desc;
	unsigned int n_alts;
	struct dfuse_alt alts[DFUSE_MAX_ALTS];
	unsigned int cur; /* index into alts */
	unsigned int deadline_pct;
	bool claimed;
	bool left;
};

/* Sectors already erased in this call (start addresses), so none is erased twice. */
struct dfuse_erased {
	uint32_t *start;
	size_t n, cap;
};

static void dfuse_erased_release(struct dfuse_erased *s)
{
	free(s->start);
	*s = (struct dfuse_erased){0};
}

static bool dfuse_erased_has(const struct dfuse_erased *s, uint32_t start)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->start[i] == start)
			return true;
	return false;
}

static int dfuse_erased_add(struct dfuse_erased *s, uint32_t start, struct err *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint32_t *p = realloc(s->start, cap * sizeof(*p));

		if (!p)
			return err_set(e, -ENOMEM, "out of memory");
		s->start = p;
		s->cap = cap;
	}
	s->start[s->n++] = start;
	return 0;
}

static unsigned int dfuse_scale(const struct dfuse *d, uint64_t ms)
{
	uint64_t v = ms * d->deadline_pct / 100;

	if (v == 0)
		v = 1;
	return v > UINT32_MAX ? UINT32_MAX : (unsigned int)v;
}

/* Bytes per DNLOAD/UPLOAD block; strategy B needs it equal to wTransferSize. */
static uint16_t dfuse_chunk(const struct dfuse *d)
{
	return d->desc.transfer_size > DFUSE_MAX_CHUNK ? DFUSE_MAX_CHUNK : d->desc.transfer_size;
}

static bool dfuse_consecutive_ok(const struct dfuse *d)
{
	return dfuse_chunk(d) == d->desc.transfer_size;
}

/*
 * A request was STALLed: DfuSe devices then sit in dfuERROR with a status
 * that says why (errVENDOR for read protection, errTARGET for a bad
 * address).  Ask, and turn it into the matching errno; otherwise keep r.
 */
static int dfuse_explain_stall(struct dfuse *d, int r, const char *req, struct err *e)
{
	struct dfu_status st;
	struct err scratch = {0};

	if (r != -EPIPE)
		return r;
	if (dfu_get_status(d->usb, &st, 0, &scratch) < 0 || st.state != DFU_STATE_ERROR)
		return r;
	return err_set(e, dfu_status_errno(st.status ? st.status : DFU_STATUS_ERR_STALLEDPKT),
		       "%s %s after STALL of %s", dfu_state_name(st.state),
		       dfu_status_name(st.status), req);
}

/* After a failure: back to dfuIDLE if we can, without touching the first error. */
static int dfuse_recover(struct dfuse *d, int r)
{
	struct err scratch = {0};

	if (r == -ENODEV || d->left)
		return r;
	dfu_get_idle(d->usb, &scratch);
	return r;
}

int dfuse_open(struct usb_dev *usb, struct dfuse **ret, struct err *e)
{
	_cleanup_(dfuse_closep) struct dfuse *d = NULL;
	struct libusb_config_descriptor *cfg = NULL;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return err_set(e, -ENOMEM, "out of memory");
	d->usb = usb;
	d->deadline_pct = 100;

	r = libusb_get_active_config_descriptor(libusb_get_device(usb->handle), &cfg);
	if (r < 0)
		return err_set(e, usb_errno(r), "open: configuration descriptor: %s",
			       libusb_strerror((enum libusb_error)r));
	r = dfu_func_desc_find(cfg, usb->interface, &d->desc, e);
	for (int i = 0; r == 0 && i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface *it = &cfg->interface[i];

		for (int a = 0; a < it->num_altsetting && d->n_alts < DFUSE_MAX_ALTS; a++) {
			const struct libusb_interface_descriptor *alt = &it->altsetting[a];
			struct dfuse_alt *da;

			if (alt->bInterfaceNumber != usb->interface)
				continue;
			da = &d->alts[d->n_alts++];
			da->alt = alt->bAlternateSetting;
			da->layout_err = -ENOENT;
			if (alt->iInterface == 0)
				continue;
			r = usb_get_string(usb, alt->iInterface, da->name, sizeof(da->name), e);
			if (r < 0)
				break;
			r = 0;
			/* A bad string only disables that alt: F4 ROMs' odd alts must not stop flashing. */
			da->layout_err = dfuse_mem_parse(da->name, &da->layout, NULL);
		}
	}
	libusb_free_config_descriptor(cfg);
	if (r < 0)
		return err_prefix(e, "open");
	if (d->n_alts == 0)
		return err_set(e, -ENOENT, "open: interface %u has no alt settings",
			       usb->interface);
	if (d->desc.transfer_size == 0)
		return err_set(e, -EBADMSG, "open: wTransferSize is 0");

	r = usb_claim(usb, e);
	if (r < 0)
		return err_prefix(e, "open");
	d->claimed = true;
	r = dfuse_select_alt(d, d->alts[0].alt, e);
	if (r < 0 && r != -EBADMSG && r != -ENOENT)
		return err_prefix(e, "open");
	r = dfu_get_idle(usb, e);
	if (r < 0)
		return err_prefix(e, "open");
	*ret = TAKE_PTR(d);
	return 0;
}

struct dfuse *dfuse_close(struct dfuse *d)
{
	if (!d)
		return NULL;
	if (d->claimed)
		usb_release(d->usb);
	free(d);
	return NULL;
}

const struct dfu_func_desc *dfuse_func_desc(const struct dfuse *d)
{
	return &d->desc;
}

unsigned int dfuse_n_alts(const struct dfuse *d)
{
	return d->n_alts;
}

const struct dfuse_alt *dfuse_alt(const struct dfuse *d, unsigned int i)
{
	return i < d->n_alts ? &d->alts[i] : NULL;
}

const struct dfuse_alt *dfuse_current_alt(const struct dfuse *d)
{
	return &d->alts[d->cur];
}

void dfuse_set_deadline_pct(struct dfuse *d, unsigned int pct)
{
	d->deadline_pct = pct ? pct : 100;
}

int dfuse_select_alt(struct dfuse *d, uint8_t alt, struct err *e)
{
	unsigned int i;
	int r;

	for (i = 0; i < d->n_alts; i++)
		if (d->alts[i].alt == alt)
			break;
	if (i == d->n_alts)
		return err_set(e, -ENOENT, "select alt %u: the device has no such alt setting",
			       alt);
	r = usb_set_alt(d->usb, alt, e);
	if (r < 0)
		return r;
	d->cur = i;
	if (d->alts[i].layout_err < 0)
		return err_set(e, -EBADMSG, "select alt %u: no usable memory layout in \"%s\"", alt,
			       d->alts[i].name);
	return 0;
}

/*
 * One DfuSe command: DNLOAD block 0, then the poll policy until
 * dfuDNLOAD-IDLE.  An erase still dfuDNBUSY at its deadline gets the
 * CLRSTATUS pair (H7 wedge, BF#5348) and one more try.
 */
static int dfuse_command(struct dfuse *d, const uint8_t *cmd, uint16_t len,
			 const struct dfu_wait *w, bool retry_wedge, struct err *e)
{
	struct dfu_status st;
	int r;

	for (int attempt = 0;; attempt++) {
		r = dfu_dnload(d->usb, 0, cmd, len, e);
		if (r < 0)
			return dfuse_explain_stall(d, r, "DNLOAD", e);
		r = dfu_wait_done(d->usb, w, &st, e);
		if (r == -ETIMEDOUT && st.state == DFU_STATE_DNBUSY && retry_wedge &&
		    attempt == 0) {
			r = dfu_clrstatus_pair(d->usb, e);
			if (r < 0)
				return r;
			continue;
		}
		if (r < 0)
			return r;
		if (st.state != DFU_STATE_DNLOAD_IDLE)
			return err_set(e, -EPROTO,
				       "state %s after GETSTATUS, expected dfuDNLOAD-IDLE",
				       dfu_state_name(st.state));
		return 0;
	}
}

static void dfuse_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int dfuse_set_address_raw(struct dfuse *d, uint32_t addr, struct err *e)
{
	struct dfu_wait w = {
		.deadline_ms = dfuse_scale(d, DFUSE_DEADLINE_SET_ADDRESS_MS),
		.cap_ms = DFU_POLL_CAP_WRITE_MS,
	};
	uint8_t cmd[5] = {DFUSE_CMD_SET_ADDRESS};
	int r;

	dfuse_put_le32(cmd + 1, addr);
	r = dfuse_command(d, cmd, sizeof(cmd), &w, false, e);
	return r < 0 ? err_prefix(e, "set address 0x%08x", addr) : 0;
}

int dfuse_set_address(struct dfuse *d, uint32_t addr, struct err *e)
{
	return dfuse_recover(d, dfuse_set_address_raw(d, addr, e));
}

static int dfuse_erase_raw(struct dfuse *d, uint32_t start, uint32_t size, struct err *e)
{
	struct dfu_wait w = {
		.deadline_ms =
			dfuse_scale(d, DFUSE_ERASE_BASE_MS + (uint64_t)DFUSE_ERASE_MS_PER_KIB *
								     ((size + 1023) / 1024)),
		.cap_ms = DFU_POLL_CAP_ERASE_MS,
	};
	uint8_t cmd[5] = {DFUSE_CMD_ERASE};
	int r;

	dfuse_put_le32(cmd + 1, start);
	r = dfuse_command(d, cmd, sizeof(cmd), &w, true, e);
	return r < 0 ? err_prefix(e, "erase sector 0x%08x", start) : 0;
}

int dfuse_erase_sector(struct dfuse *d, uint32_t addr, struct err *e)
{
	const struct dfuse_layout *l = &d->alts[d->cur].layout;
	uint32_t start, size;
	int r;

	if (dfuse_mem_sector(l, addr, &start, &size) < 0)
		return err_set(e, -ERANGE, "erase 0x%08x: outside \"%s\"", addr, l->name);
	if (!(dfuse_mem_find(l, addr)->perms & DFUSE_MEM_ERASABLE))
		return err_set(e, -EACCES, "erase 0x%08x: sector not erasable in \"%s\"", addr,
			       l->name);
	r = dfuse_erase_raw(d, start, size, e);
	return dfuse_recover(d, r);
}

static int dfuse_mass_erase_raw(struct dfuse *d, struct err *e)
{
	struct dfu_wait w = {
		.deadline_ms = dfuse_scale(d, DFUSE_DEADLINE_MASS_ERASE_MS),
		.cap_ms = DFU_POLL_CAP_ERASE_MS,
	};
	uint8_t cmd[1] = {DFUSE_CMD_ERASE};
	int r;

	r = dfuse_command(d, cmd, sizeof(cmd), &w, true, e);
	return r < 0 ? err_prefix(e, "mass erase") : 0;
}

int dfuse_mass_erase(struct dfuse *d, struct err *e)
{
	return dfuse_recover(d, dfuse_mass_erase_raw(d, e));
}

/* Erase every sector of [addr, addr+len) not yet in *done, skipping non-erasable segments. */
static int dfuse_erase_range(struct dfuse *d, uint32_t addr, uint64_t len,
			     struct dfuse_erased *done, struct dfuse_result *res, struct err *e)
{
	const struct dfuse_layout *l = &d->alts[d->cur].layout;
	uint64_t a = addr, end = (uint64_t)addr + len;
	int r;

	while (a < end) {
		const struct dfuse_segment *seg = dfuse_mem_find(l, (uint32_t)a);
		uint32_t start, size;

		if (!seg || dfuse_mem_sector(l, (uint32_t)a, &start, &size) < 0)
			return err_set(e, -ERANGE, "erase 0x%08llx: outside \"%s\"",
				       (unsigned long long)a, l->name);
		if ((seg->perms & DFUSE_MEM_ERASABLE) && !dfuse_erased_has(done, start)) {
			r = usb_check_cancel(d->usb, "erase", e);
			if (r < 0)
				return r;
			r = dfuse_erase_raw(d, start, size, e);
			if (r < 0)
				return r;
			r = dfuse_erased_add(done, start, e);
			if (r < 0)
				return r;
			res->sectors_erased++;
		}
		a = (uint64_t)start + size;
	}
	return 0;
}

struct dfuse_progress {
	usb_progress_cb_t cb;
	void *ud;
	uint64_t done, total;
};

static void dfuse_progress_add(struct dfuse_progress *p, uint64_t n)
{
	p->done += n;
	if (p->cb)
		p->cb(p->ud, p->done, p->total);
}

/* Write in runs: Set-Address, then blocks 2, 3, ... (see dfuse.h). */
static int dfuse_write_range(struct dfuse *d, uint32_t addr, const uint8_t *buf, size_t len,
			     struct dfuse_progress *prog, struct dfuse_result *res, struct err *e)
{
	struct dfu_wait w = {
		.deadline_ms = dfuse_scale(d, DFU_DEADLINE_WRITE_MS),
		.cap_ms = DFU_POLL_CAP_WRITE_MS,
	};
	uint16_t chunk = dfuse_chunk(d), block = 0;
	bool consecutive = dfuse_consecutive_ok(d);
	size_t off = 0;
	int r;

	while (off < len) {
		uint16_t n = len - off < chunk ? (uint16_t)(len - off) : chunk;
		uint32_t a = addr + (uint32_t)off;
		struct dfu_status st;

		/* New run at the start, per chunk in strategy A, and before wBlockNum would wrap. */
		if (block == 0 || !consecutive || block == UINT16_MAX) {
			r = dfuse_set_address_raw(d, a, e);
			if (r < 0)
				return r;
			block = 2;
		}
		r = dfu_dnload(d->usb, block, buf + off, n, e);
		if (r < 0) {
			r = dfuse_explain_stall(d, r, "DNLOAD", e);
			return err_prefix(e, "write 0x%08x", a);
		}
		r = dfu_wait_done(d->usb, &w, &st, e);
		if (r < 0)
			return err_prefix(e, "write 0x%08x", a);
		if (st.state != DFU_STATE_DNLOAD_IDLE)
			return err_set(e, -EPROTO, "write 0x%08x: state %s after GETSTATUS", a,
				       dfu_state_name(st.state));
		block++;
		off += n;
		res->bytes_written += n;
		dfuse_progress_add(prog, n);
	}
	return 0;
}

/*
 * Read [addr, addr+len) in runs of blocks 2, 3, ...  Each block goes to
 * sink(ctx, offset, data, n), so verification needs no image-sized buffer.
 */
typedef int (*dfuse_sink_t)(void *ctx, size_t off, const uint8_t *data, size_t n, struct err *e);

static int dfuse_read_range(struct dfuse *d, uint32_t addr, size_t len, dfuse_sink_t sink,
			    void *ctx, struct dfuse_progress *prog, struct err *e)
{
	uint16_t chunk = dfuse_chunk(d), block = 0;
	bool consecutive = dfuse_consecutive_ok(d);
	_cleanup_free_ uint8_t *tmp = malloc(chunk);
	size_t off = 0;
	int r;

	if (!tmp)
		return err_set(e, -ENOMEM, "out of memory");
	while (off < len) {
		uint16_t n = len - off < chunk ? (uint16_t)(len - off) : chunk;
		uint32_t a = addr + (uint32_t)off;

		if (block == 0 || !consecutive || block == UINT16_MAX) {
			r = dfuse_set_address_raw(d, a, e);
			if (r < 0)
				return r;
			/* UPLOAD is refused in dfuDNLOAD-IDLE: ABORT to dfuIDLE first (§2.4). */
			r = dfu_abort(d->usb, e);
			if (r < 0)
				return err_prefix(e, "read 0x%08x", a);
			block = 2;
		}
		r = dfu_upload(d->usb, block, tmp, n, e);
		if (r < 0) {
			r = dfuse_explain_stall(d, r, "UPLOAD", e);
			return err_prefix(e, "read 0x%08x", a);
		}
		if (r != n)
			return err_set(e, -EPROTO, "read 0x%08x: UPLOAD returned %d of %u bytes", a,
				       r, n);
		r = sink(ctx, off, tmp, n, e);
		if (r < 0)
			return r;
		block++;
		off += n;
		if (prog)
			dfuse_progress_add(prog, n);
	}
	/* DfuSe never ends an upload with a short frame: ABORT back to dfuIDLE. */
	r = dfu_abort(d->usb, e);
	return r < 0 ? err_prefix(e, "read 0x%08x", addr + (uint32_t)len) : 0;
}

static int dfuse_sink_copy(void *ctx, size_t off, const uint8_t *data, size_t n, struct err *e)
{
	(void)e;
	memcpy((uint8_t *)ctx + off, data, n);
	return 0;
}

struct dfuse_verify {
	const uint8_t *expect;
	uint32_t dev_crc;   /* chained over every range of this call */
	uint32_t range_crc; /* this range only, for the message */
	bool mismatch;
	size_t first_diff;
};

static int dfuse_sink_verify(void *ctx, size_t off, const uint8_t *data, size_t n, struct err *e)
{
	struct dfuse_verify *v = ctx;

	(void)e;
	v->dev_crc = crc32_update(v->dev_crc, data, n);
	v->range_crc = crc32_update(v->range_crc, data, n);
	if (!v->mismatch && memcmp(v->expect + off, data, n) != 0) {
		size_t i = 0;

		while (v->expect[off + i] == data[i])
			i++;
		v->mismatch = true;
		v->first_diff = off + i;
	}
	return 0;
}

/* Read back and compare; also the device CRC over this range, chained into *dev_crc. */
static int dfuse_verify_range(struct dfuse *d, uint32_t addr, const uint8_t *buf, size_t len,
			      struct dfuse_progress *prog, struct dfuse_result *res, struct err *e)
{
	struct dfuse_verify v = {.expect = buf, .dev_crc = res->dev_crc};
	uint32_t host_crc = crc32_update(0, buf, len);
	int r;

	r = dfuse_read_range(d, addr, len, dfuse_sink_verify, &v, prog, e);
	if (r < 0)
		return err_prefix(e, "verify");
	res->dev_crc = v.dev_crc;
	res->bytes_verified += len;
	if (v.mismatch)
		return err_set(
			e, -EILSEQ,
			"verify 0x%08x: first difference at 0x%08x (host CRC 0x%08x, device CRC 0x%08x)",
			addr, addr + (uint32_t)v.first_diff, host_crc, v.range_crc);
	return 0;
}

static int dfuse_check_range(struct dfuse *d, uint32_t addr, size_t len, unsigned int flags,
			     struct err *e)
{
	const struct dfuse_alt *alt = &d->alts[d->cur];
	uint8_t perms = DFUSE_MEM_WRITABLE;
	int r;

	if (alt->layout_err < 0)
		return err_set(e, -EBADMSG, "alt %u: no usable memory layout in \"%s\"", alt->alt,
			       alt->name);
	if ((uint64_t)addr + len > (uint64_t)UINT32_MAX + 1)
		return err_set(e, -ERANGE, "0x%08x + %zu passes 4 GiB", addr, len);
	if (!(flags & DFUSE_NO_VERIFY))
		perms |= DFUSE_MEM_READABLE;
	r = dfuse_mem_check(&alt->layout, addr, len, perms, e);
	return r < 0 ? err_prefix(e, "download 0x%08x+%zu", addr, len) : 0;
}

int dfuse_download(struct dfuse *d, uint32_t addr, const uint8_t *buf, size_t len,
		   unsigned int flags, usb_progress_cb_t progress, void *ud,
		   struct dfuse_result *ret, struct err *e)
{
	struct dfuse_result res = {.host_crc = crc32_update(0, buf, len)};
	struct dfuse_progress prog = {progress, ud, 0,
				      (flags & DFUSE_NO_VERIFY) ? len : 2 * (uint64_t)len};
	_cleanup_(dfuse_erased_release) struct dfuse_erased erased = {0};
	int r;

	r = dfuse_check_range(d, addr, len, flags, e);
	if (r < 0)
		goto out;
	if (flags & DFUSE_MASS_ERASE) {
		r = dfuse_mass_erase_raw(d, e);
		if (r < 0)
			goto out;
		res.mass_erased = true;
	} else if (!(flags & DFUSE_NO_ERASE)) {
		r = dfuse_erase_range(d, addr, len, &erased, &res, e);
		if (r < 0)
			goto out;
	}
	r = dfuse_write_range(d, addr, buf, len, &prog, &res, e);
	if (r < 0)
		goto out;
	if (!(flags & DFUSE_NO_VERIFY)) {
		r = dfuse_verify_range(d, addr, buf, len, &prog, &res, e);
		if (r < 0)
			goto out;
		res.verified = true;
	}
	r = dfu_get_idle(d->usb, e);
out:
	if (ret)
		*ret = res;
	return dfuse_recover(d, r);
}

int dfuse_upload(struct dfuse *d, uint32_t addr, uint8_t *buf, size_t len,
		 usb_progress_cb_t progress, void *ud, struct err *e)
{
	struct dfuse_progress prog = {progress, ud, 0, len};
	int r;

	if ((uint64_t)addr + len > (uint64_t)UINT32_MAX + 1)
		return err_set(e, -ERANGE, "upload 0x%08x + %zu passes 4 GiB", addr, len);
	r = dfuse_read_range(d, addr, len, dfuse_sink_copy, buf, &prog, e);
	if (r < 0)
		err_prefix(e, "upload");
	return dfuse_recover(d, r);
}

int dfuse_download_file(struct dfuse *d, const struct dfu_file *f, unsigned int flags,
			usb_progress_cb_t progress, void *ud, struct dfuse_result *ret,
			struct err *e)
{
	struct dfuse_result res = {0};
	struct dfuse_progress prog = {progress, ud, 0, 0};
	int r = 0;

	if (f->suffix.bcd_dfu != DFU_FILE_BCD_DFUSE) {
		r = err_set(e, -EINVAL, "download: not a DfuSe file (bcdDFU 0x%04x), no address",
			    f->suffix.bcd_dfu);
		goto out;
	}
	for (unsigned int t = 0; t < f->n_targets; t++)
		for (uint32_t i = 0; i < f->targets[t].n_elements; i++) {
			const struct dfu_file_element *el = &f->targets[t].elements[i];

			res.host_crc = crc32_update(res.host_crc, el->data, el->size);
			prog.total += (flags & DFUSE_NO_VERIFY) ? el->size : 2 * (uint64_t)el->size;
		}

	for (unsigned int t = 0; t < f->n_targets; t++) {
		const struct dfu_file_target *tg = &f->targets[t];
		_cleanup_(dfuse_erased_release) struct dfuse_erased erased = {0};

		r = dfuse_select_alt(d, tg->alt, e);
		if (r < 0)
			goto target_fail;
		for (uint32_t i = 0; i < tg->n_elements; i++) {
			r = dfuse_check_range(d, tg->elements[i].address, tg->elements[i].size,
					      flags, e);
			if (r < 0)
				goto element_fail;
		}
		if (t == 0 && (flags & DFUSE_MASS_ERASE)) {
			r = dfuse_mass_erase_raw(d, e);
			if (r < 0)
				goto target_fail;
			res.mass_erased = true;
		}
		if (!(flags & (DFUSE_MASS_ERASE | DFUSE_NO_ERASE)))
			for (uint32_t i = 0; i < tg->n_elements; i++) {
				r = dfuse_erase_range(d, tg->elements[i].address,
						      tg->elements[i].size, &erased, &res, e);
				if (r < 0)
					goto element_fail;
			}
		for (uint32_t i = 0; i < tg->n_elements; i++) {
			const struct dfu_file_element *el = &tg->elements[i];

			r = dfuse_write_range(d, el->address, el->data, el->size, &prog, &res, e);
			if (r < 0)
				goto element_fail;
		}
		if (flags & DFUSE_NO_VERIFY)
			continue;
		for (uint32_t i = 0; i < tg->n_elements; i++) {
			const struct dfu_file_element *el = &tg->elements[i];

			r = dfuse_verify_range(d, el->address, el->data, el->size, &prog, &res, e);
			if (r < 0)
				goto element_fail;
		}
		continue;
element_fail:
		err_prefix(e, "target %u (alt %u)", t, tg->alt);
		goto out;
target_fail:
		err_prefix(e, "target %u", t);
		goto out;
	}
	res.verified = !(flags & DFUSE_NO_VERIFY);
	r = dfu_get_idle(d->usb, e);
out:
	if (ret)
		*ret = res;
	return dfuse_recover(d, r);
}

/* True once the device answers -ENODEV within DFUSE_LEAVE_GONE_MS. */
static bool dfuse_wait_gone(struct dfuse *d, int *ret_state)
{
	uint64_t end = usb_now_ms() + dfuse_scale(d, DFUSE_LEAVE_GONE_MS);
	struct err scratch = {0};

	*ret_state = -1;
	do {
		int r = dfu_get_state(d->usb, &scratch);

		if (r == -ENODEV)
			return true;
		if (r >= 0) {
			*ret_state = r;
			/* Still answering, and not in a leaving state: it stayed. */
			if (r != DFU_STATE_MANIFEST && r != DFU_STATE_MANIFEST_SYNC &&
			    r != DFU_STATE_MANIFEST_WAIT_RESET)
				return false;
		}
		if (usb_sleep_ms(d->usb, DFUSE_LEAVE_PROBE_MS, &scratch) < 0)
			return false;
	} while (usb_now_ms() < end);
	return false;
}

int dfuse_leave(struct dfuse *d, uint32_t addr, bool *ret_gone, struct err *e)
{
	struct dfu_status st;
	bool gone = false;
	int r, state;

	if (ret_gone)
		*ret_gone = false;
	r = dfuse_set_address_raw(d, addr, e);
	if (r < 0)
		return dfuse_recover(d, err_prefix(e, "leave"));
	/* Zero-length DNLOAD starts manifestation; block 2 as dfu-util, 0 works too (§2.5). */
	r = dfu_dnload(d->usb, 2, NULL, 0, e);
	if (r < 0) {
		if (r == -ENODEV)
			goto gone;
		return dfuse_recover(d, err_prefix(e, "leave 0x%08x", addr));
	}
	d->left = true;
	r = dfu_get_status(d->usb, &st, 0, e);
	if (r == 0) {
		if (st.state == DFU_STATE_ERROR || st.status != DFU_STATUS_OK) {
			d->left = false;
			r = err_set(
				e, dfu_status_errno(st.status ? st.status : DFU_STATUS_ERR_UNKNOWN),
				"leave 0x%08x: %s %s after GETSTATUS", addr,
				dfu_state_name(st.state), dfu_status_name(st.status));
			return dfuse_recover(d, r);
		}
		if (st.state != DFU_STATE_MANIFEST && st.state != DFU_STATE_MANIFEST_SYNC &&
		    st.state != DFU_STATE_MANIFEST_WAIT_RESET) {
			d->left = false;
			r = err_set(e, -EPROTO,
				    "leave 0x%08x: state %s after GETSTATUS, expected dfuMANIFEST",
				    addr, dfu_state_name(st.state));
			return dfuse_recover(d, r);
		}
		/* Manifesting: the ROM now jumps; seeing it go is a bonus, not a condition. */
		gone = dfuse_wait_gone(d, &state);
		goto done;
	}
	if (r == -ENODEV)
		goto gone;
	/* Final status failed (§2.5, PART#599): success only if the device really goes. */
	if (dfuse_wait_gone(d, &state))
		goto gone;
	d->left = false;
	if (state >= 0)
		r = err_set(e, -EPROTO,
			    "leave 0x%08x: final GETSTATUS failed (%s) and the device stayed in %s",
			    addr, strerror(-r), dfu_state_name(state));
	else
		err_prefix(e, "leave 0x%08x: device did not disconnect", addr);
	return dfuse_recover(d, r);
gone:
	gone = true;
	d->left = true;
done:
	err_clear(e);
	if (ret_gone)
		*ret_gone = gone;
	return 0;
}

int dfuse_read_uid(struct dfuse *d, uint32_t addr, uint8_t uid[DFUSE_UID_LEN], struct err *e)
{
	uint8_t tmp[DFUSE_UID_LEN];
	int r;

	r = dfuse_set_address_raw(d, addr, e);
	if (r < 0)
		goto fail;
	r = dfu_abort(d->usb, e);
	if (r < 0)
		goto fail;
	r = dfu_upload(d->usb, 2, tmp, sizeof(tmp), e);
	if (r == -EPIPE) {
		r = dfuse_explain_stall(d, r, "UPLOAD", e);
		/* A bare STALL is the ROM refusing the address, not a broken link (§3.4). */
		if (r == -EPIPE)
			r = err_set(e, -EPROTO, "UPLOAD stalled: the ROM refuses this address");
	} else if (r == -ETIMEDOUT) {
		r = err_set(e, -EPROTO,
			    "UPLOAD got no data before the timeout: the ROM refuses this address");
	} else if (r >= 0 && r != DFUSE_UID_LEN) {
		r = err_set(
			e, -EPROTO,
			"UPLOAD returned %d of %d bytes: the ROM refuses reads outside its memory map",
			r, DFUSE_UID_LEN);
	}
	if (r < 0)
		goto fail;
	r = dfu_get_idle(d->usb, e);
	if (r < 0)
		goto fail;
	memcpy(uid, tmp, sizeof(tmp));
	return 0;
fail:
	err_prefix(e, "read UID 0x%08x", addr);
	return dfuse_recover(d, r);
}
