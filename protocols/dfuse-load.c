/*
 * This file implements the DfuSe data path (protocols/dfuse.h; the role of
 * dfu-util's dfu_load.c): check a range against the alt's layout, erase the
 * sectors it touches once each, write it as one Set-Address per run and
 * data in DNLOAD blocks 2, 3, ... (strategy B in dfuse.h), read it back to
 * verify with CRC-32 on both sides; for one buffer or a whole .dfu file.
 * Plain uploads use the same read loop.
 */
#include "protocols/dfuse-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/crc32.h"

/*
 * Erased sectors: one set per call, or the caller's set across calls
 * (dfuse_use_erased()), so no sector is erased twice in either.
 */
void dfuse_erased_release(struct dfuse_erased *s)
{
	free(s->v);
	*s = (struct dfuse_erased){ 0 };
}

void dfuse_erased_forget(struct dfuse_erased *s, unsigned int tag)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].tag != tag)
			s->v[k++] = s->v[i];
	s->n = k;
	if (s->mass && s->mass_tag == tag)
		s->mass = false;
}

void dfuse_use_erased(struct dfuse *d, struct dfuse_erased *set, unsigned int tag)
{
	d->erased = set;
	d->erased_tag = tag;
}

static bool dfuse_erased_has(const struct dfuse_erased *s, uint8_t alt, uint32_t start)
{
	if (s->mass && s->mass_alt == alt)
		return true;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].alt == alt && s->v[i].start == start)
			return true;
	return false;
}

static int dfuse_erased_add(struct dfuse_erased *s, uint8_t alt, uint32_t start, unsigned int tag,
			    struct err *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct dfuse_erased_sector *p = realloc(s->v, cap * sizeof(*p));

		if (!p)
			return err_set(e, -ENOMEM, "out of memory");
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = (struct dfuse_erased_sector){ alt, start, tag };
	return 0;
}

/* The set this call records into: the caller's, or the call's own *local. */
static struct dfuse_erased *dfuse_erased_for_call(struct dfuse *d, struct dfuse_erased *local)
{
	return d->erased ? d->erased : local;
}

/* A mass erase on the current alt: every sector of it now counts as erased. */
static void dfuse_erased_mass(struct dfuse *d, struct dfuse_erased *s)
{
	s->mass = true;
	s->mass_alt = d->alts[d->cur].alt;
	s->mass_tag = d->erased_tag;
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

static void dfuse_erase_sector_done(struct dfuse *d, uint32_t size);

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
		if ((seg->perms & DFUSE_MEM_ERASABLE) &&
		    !dfuse_erased_has(done, d->alts[d->cur].alt, start)) {
			r = usb_check_cancel(d->usb, "erase", e);
			if (r < 0)
				return r;
			r = dfuse_erase_raw(d, start, size, e);
			if (r < 0)
				return r;
			r = dfuse_erased_add(done, d->alts[d->cur].alt, start, d->erased_tag, e);
			if (r < 0)
				return r;
			res->sectors_erased++;
			dfuse_erase_sector_done(d, size);
		}
		a = (uint64_t)start + size;
	}
	return 0;
}

/* Bytes of the sectors of [addr, addr+len) dfuse_erase_range() would erase. */
static uint64_t dfuse_erase_todo(const struct dfuse *d, uint32_t addr, uint64_t len,
				 const struct dfuse_erased *done)
{
	const struct dfuse_layout *l = &d->alts[d->cur].layout;
	uint64_t a = addr, end = (uint64_t)addr + len, n = 0;

	while (a < end) {
		const struct dfuse_segment *seg = dfuse_mem_find(l, (uint32_t)a);
		uint32_t start, size;

		if (!seg || dfuse_mem_sector(l, (uint32_t)a, &start, &size) < 0)
			break; /* dfuse_erase_range() says why */
		if ((seg->perms & DFUSE_MEM_ERASABLE) &&
		    !dfuse_erased_has(done, d->alts[d->cur].alt, start))
			n += size;
		a = (uint64_t)start + size;
	}
	return n;
}

/*
 * Erase time per KiB assumed until one erase was timed: an F405 128 KiB
 * sector takes 1 s typically (DS8626 tERASE128KB at x32), 8 ms/KiB; only
 * drives the progress shown, never a deadline.
 */
#define DFUSE_ERASE_TYP_US_PER_KIB 8000
/* Learned from the sectors erased last in this process (0: none yet). */
static _Atomic uint64_t dfuse_erase_learned_us_per_kib;

/* Expected time to erase what is left, from the learned (or typical) rate. */
static uint64_t dfuse_erase_est_ms(const struct dfuse *d)
{
	uint64_t us = dfuse_erase_learned_us_per_kib;

	if (!us)
		us = DFUSE_ERASE_TYP_US_PER_KIB;
	return (d->erase_total - d->erase_done + 1023) / 1024 * us / 1000 + 1;
}

/* The erase phase begins: the listener sees each sector as it is erased
 * (an F405 128 KiB sector takes about 1 s before any byte is written), and
 * the time the rest should take, so it can advance in between. */
static void dfuse_erase_begin(struct dfuse *d, uint64_t total)
{
	d->erase_done = 0;
	d->erase_total = total;
	d->erase_t0_ms = usb_now_ms();
	usb_phase(d->usb, USB_PHASE_ERASE, 0, total, total ? dfuse_erase_est_ms(d) : 0);
}

/* One more sector of `size` bytes is erased: learn the rate, tell the listener. */
static void dfuse_erase_sector_done(struct dfuse *d, uint32_t size)
{
	uint64_t spent = usb_now_ms() - d->erase_t0_ms;

	d->erase_done += size;
	if (d->erase_done >= 1024 && spent)
		dfuse_erase_learned_us_per_kib = spent * 1000 / (d->erase_done / 1024);
	usb_phase(d->usb, USB_PHASE_ERASE, d->erase_done, d->erase_total,
		  d->erase_done < d->erase_total ? dfuse_erase_est_ms(d) : 0);
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

/*
 * Length to send for the last block [a, a+n): on erasable memory, padded
 * with 0xFF up to the next 8 bytes.  STM32 parts that program 64-bit words
 * (L4: RM0351 §3.3.7) silently drop a ragged tail (tests/sim/boards/README.md,
 * stm32l476-dfuse); 0xFF over erased flash changes nothing on parts that
 * program bytes.  Never past the segment or the chunk, never on option
 * bytes or OTP (not erasable: every byte there means something).
 */
#define DFUSE_PROG_UNIT 8
static uint16_t dfuse_padded_len(const struct dfuse *d, uint32_t a, uint16_t n, uint16_t chunk)
{
	const struct dfuse_segment *s = dfuse_mem_find(&d->alts[d->cur].layout, a);
	uint32_t pad = (DFUSE_PROG_UNIT - (a + n) % DFUSE_PROG_UNIT) % DFUSE_PROG_UNIT;

	if (!pad || !s || !(s->perms & DFUSE_MEM_ERASABLE) || (uint32_t)n + pad > chunk ||
	    (uint64_t)a + n + pad > dfuse_segment_end(s))
		return n;
	return (uint16_t)(n + pad);
}

/*
 * 0xFF bytes to send before the first block at a: an address off the 8-byte
 * unit starts at the unit below (L4: a block off the double-word raises
 * PGAERR, errPROG), on erasable memory only and within a's segment (the
 * unit's sector, already erased with a's).  recipe check refuses a front
 * pad over bytes an earlier stage wrote.
 */
static uint32_t dfuse_front_pad(const struct dfuse *d, uint32_t a)
{
	const struct dfuse_segment *s = dfuse_mem_find(&d->alts[d->cur].layout, a);
	uint32_t pad = a % DFUSE_PROG_UNIT;

	if (!pad || !s || !(s->perms & DFUSE_MEM_ERASABLE) ||
	    dfuse_mem_find(&d->alts[d->cur].layout, a - pad) != s)
		return 0;
	return pad;
}

/* One block with its 0xFF pads in a new buffer (*out, freed by the caller). */
static int dfuse_pad_block(const uint8_t *data, uint16_t front, uint16_t n, uint16_t sent,
			   uint8_t **out)
{
	free(*out);
	*out = malloc(sent);
	if (!*out)
		return -ENOMEM;
	memset(*out, 0xff, sent);
	memcpy(*out + front, data, n);
	return 0;
}

/* Write in runs: Set-Address, then blocks 2, 3, ... (see dfuse.h). */
static int dfuse_write_range(struct dfuse *d, uint32_t addr, const uint8_t *buf, size_t len,
			     struct dfuse_progress *prog, struct dfuse_result *res, struct err *e)
{
	struct dfu_wait w = {
		.deadline_ms = dfuse_scale(d, DFU_DEADLINE_WRITE_MS),
		.cap_ms = DFU_POLL_CAP_WRITE_MS,
		.hold = &d->hold,
	};
	uint16_t chunk = dfuse_chunk(d), block = 0;
	bool consecutive = dfuse_consecutive_ok(d);
	_cleanup_free_ uint8_t *tail = NULL;
	size_t off = 0;
	int r;

	while (off < len) {
		/* The first block starts at the 8-byte unit below addr, with 0xFF. */
		uint16_t front = off ? 0 : (uint16_t)dfuse_front_pad(d, addr);
		uint16_t room = (uint16_t)(chunk - front);
		uint16_t n = len - off < room ? (uint16_t)(len - off) : room;
		uint32_t a = addr + (uint32_t)off;
		uint16_t sent = off + n == len ? dfuse_padded_len(d, a - front, front + n, chunk)
					       : front + n;
		const uint8_t *data = buf + off;
		struct dfu_status st;

		if (sent != n) {
			if (dfuse_pad_block(data, front, n, sent, &tail) < 0)
				return err_set(e, -ENOMEM, "write 0x%08x: out of memory", a);
			data = tail;
			a -= front;
		}

		/* New run at the start, per chunk in strategy A, and before wBlockNum would wrap. */
		if (block == 0 || !consecutive || block == UINT16_MAX) {
			r = dfuse_set_address_raw(d, a, e);
			if (r < 0)
				return r;
			block = 2;
		}
		r = dfu_dnload(d->usb, block, data, sent, e);
		if (r < 0) {
			r = dfuse_explain_stall(d, r, "DNLOAD", e);
			return err_prefix(e, r, "write 0x%08x", a);
		}
		r = dfu_wait_done(d->usb, &w, &st, e);
		if (r < 0)
			return err_prefix(e, r, "write 0x%08x", a);
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
				return err_prefix(e, r, "read 0x%08x", a);
			block = 2;
		}
		r = dfu_upload(d->usb, block, tmp, n, e);
		if (r < 0) {
			r = dfuse_explain_stall(d, r, "UPLOAD", e);
			return err_prefix(e, r, "read 0x%08x", a);
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
	return r < 0 ? err_prefix(e, r, "read 0x%08x", addr + (uint32_t)len) : 0;
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
	struct dfuse_verify v = { .expect = buf, .dev_crc = res->dev_crc };
	uint32_t host_crc = crc32_update(0, buf, len);
	int r;

	r = dfuse_read_range(d, addr, len, dfuse_sink_verify, &v, prog, e);
	if (r < 0)
		return err_prefix(e, r, "verify");
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
	return r < 0 ? err_prefix(e, r, "download 0x%08x+%zu", addr, len) : 0;
}

int dfuse_download(struct dfuse *d, uint32_t addr, const uint8_t *buf, size_t len,
		   unsigned int flags, usb_progress_cb_t progress, void *ud,
		   struct dfuse_result *ret, struct err *e)
{
	struct dfuse_result res = { .host_crc = crc32_update(0, buf, len) };
	struct dfuse_progress prog = { progress, ud, 0,
				       (flags & DFUSE_NO_VERIFY) ? len : 2 * (uint64_t)len };
	_cleanup_(dfuse_erased_release) struct dfuse_erased local = { 0 };
	struct dfuse_erased *erased = dfuse_erased_for_call(d, &local);
	int r;

	r = dfuse_check_range(d, addr, len, flags, e);
	if (r < 0)
		goto out;
	if (flags & DFUSE_MASS_ERASE) {
		r = dfuse_mass_erase_raw(d, e);
		if (r < 0)
			goto out;
		dfuse_erased_mass(d, erased);
		res.mass_erased = true;
	} else if (!(flags & DFUSE_NO_ERASE)) {
		dfuse_erase_begin(d, dfuse_erase_todo(d, addr, len, erased));
		r = dfuse_erase_range(d, addr, len, erased, &res, e);
		if (r < 0)
			goto out;
	}
	usb_phase(d->usb, USB_PHASE_WRITE, 0, len, 0);
	r = dfuse_write_range(d, addr, buf, len, &prog, &res, e);
	if (r < 0)
		goto out;
	if (!(flags & DFUSE_NO_VERIFY)) {
		usb_phase(d->usb, USB_PHASE_VERIFY, 0, len, 0);
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
	struct dfuse_progress prog = { progress, ud, 0, len };
	int r;

	if ((uint64_t)addr + len > (uint64_t)UINT32_MAX + 1)
		return err_set(e, -ERANGE, "upload 0x%08x + %zu passes 4 GiB", addr, len);
	r = dfuse_read_range(d, addr, len, dfuse_sink_copy, buf, &prog, e);
	if (r < 0)
		err_prefix(e, r, "upload");
	return dfuse_recover(d, r);
}

/* Sectors a file target's elements need erased (the erase phase's total). */
static uint64_t dfuse_target_erase_todo(const struct dfuse *d, const struct dfu_file_target *tg,
					const struct dfuse_erased *done)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < tg->n_elements; i++)
		n += dfuse_erase_todo(d, tg->elements[i].address, tg->elements[i].size, done);
	return n;
}

static uint64_t dfuse_target_bytes(const struct dfu_file_target *tg)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < tg->n_elements; i++)
		n += tg->elements[i].size;
	return n;
}

/*
 * What a target writes: its elements in address order, those whose 8-byte
 * units meet merged into one run with 0xFF in the gap, so no element's 0xFF
 * pad (dfuse_write_range()) lands on another element's bytes (issue 12:
 * an element ending in the unit where one written earlier starts failed
 * with errVERIFY).  Elements sharing bytes are refused.
 */
struct dfuse_run {
	uint32_t addr;
	size_t len;
	const uint8_t *data;
	uint8_t *own; /* data when merged */
	size_t gap;   /* 0xFF bytes between its elements: not image bytes */
};

struct dfuse_runs {
	struct dfuse_run *v;
	uint32_t n;
};

static void dfuse_runs_release(struct dfuse_runs *rs)
{
	for (uint32_t i = 0; i < rs->n; i++)
		free(rs->v[i].own);
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

static int dfuse_el_cmp(const void *a, const void *b)
{
	const struct dfu_file_element *x = *(const struct dfu_file_element *const *)a;
	const struct dfu_file_element *y = *(const struct dfu_file_element *const *)b;

	return x->address < y->address ? -1 : x->address > y->address;
}

/* Append el to run r (el starts at or after r's end): a new buffer, 0xFF between. */
static int dfuse_run_extend(struct dfuse_run *r, const struct dfu_file_element *el)
{
	size_t len = (size_t)(el->address - r->addr) + el->size;
	uint8_t *buf = malloc(len);

	if (!buf)
		return -ENOMEM;
	memset(buf, 0xff, len);
	memcpy(buf, r->data, r->len);
	memcpy(buf + (el->address - r->addr), el->data, el->size);
	r->gap += el->address - (r->addr + r->len);
	free(r->own);
	r->own = buf;
	r->data = buf;
	r->len = len;
	return 0;
}

static int dfuse_target_runs(const struct dfu_file_target *tg, struct dfuse_runs *rs, struct err *e)
{
	_cleanup_free_ const struct dfu_file_element **el =
		calloc(tg->n_elements ? tg->n_elements : 1, sizeof(*el));

	rs->v = calloc(tg->n_elements ? tg->n_elements : 1, sizeof(*rs->v));
	if (!el || !rs->v)
		return err_set(e, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < tg->n_elements; i++)
		el[i] = &tg->elements[i];
	qsort(el, tg->n_elements, sizeof(*el), dfuse_el_cmp);
	for (uint32_t i = 0; i < tg->n_elements; i++) {
		struct dfuse_run *last = rs->n ? &rs->v[rs->n - 1] : NULL;
		uint64_t end = last ? (uint64_t)last->addr + last->len : 0;

		if (!el[i]->size)
			continue;
		if (last && el[i]->address < end)
			return err_set(e, -EINVAL, "elements at 0x%08x and 0x%08x overlap",
				       last->addr, el[i]->address);
		/* In the unit where last ends: its end pad would land on el. */
		if (last && el[i]->address < (end + DFUSE_PROG_UNIT - 1) / DFUSE_PROG_UNIT *
						     DFUSE_PROG_UNIT) {
			if (dfuse_run_extend(last, el[i]) < 0)
				return err_set(e, -ENOMEM, "out of memory");
			continue;
		}
		rs->v[rs->n++] = (struct dfuse_run){ .addr = el[i]->address,
						     .len = el[i]->size,
						     .data = el[i]->data };
	}
	return 0;
}

int dfuse_download_file(struct dfuse *d, const struct dfu_file *f, unsigned int flags,
			usb_progress_cb_t progress, void *ud, struct dfuse_result *ret,
			struct err *e)
{
	struct dfuse_result res = { 0 };
	struct dfuse_progress prog = { progress, ud, 0, 0 };
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
		_cleanup_(dfuse_erased_release) struct dfuse_erased local = { 0 };
		struct dfuse_erased *erased = dfuse_erased_for_call(d, &local);
		_cleanup_(dfuse_runs_release) struct dfuse_runs runs = { 0 };

		r = dfuse_target_runs(tg, &runs, e);
		if (r < 0)
			goto target_fail;
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
			dfuse_erased_mass(d, erased);
			res.mass_erased = true;
		}
		if (!(flags & (DFUSE_MASS_ERASE | DFUSE_NO_ERASE)))
			dfuse_erase_begin(d, dfuse_target_erase_todo(d, tg, erased));
		if (!(flags & (DFUSE_MASS_ERASE | DFUSE_NO_ERASE)))
			for (uint32_t i = 0; i < tg->n_elements; i++) {
				r = dfuse_erase_range(d, tg->elements[i].address,
						      tg->elements[i].size, erased, &res, e);
				if (r < 0)
					goto element_fail;
			}
		usb_phase(d->usb, USB_PHASE_WRITE, 0, dfuse_target_bytes(tg), 0);
		for (uint32_t i = 0; i < runs.n; i++) {
			const struct dfuse_run *run = &runs.v[i];

			/* The gap is progress but not the image's bytes (its row's CRC). */
			prog.total += run->gap;
			r = dfuse_write_range(d, run->addr, run->data, run->len, &prog, &res, e);
			if (r < 0)
				goto element_fail;
			res.bytes_written -= run->gap;
		}
		if (flags & DFUSE_NO_VERIFY)
			continue;
		usb_phase(d->usb, USB_PHASE_VERIFY, 0, dfuse_target_bytes(tg), 0);
		for (uint32_t i = 0; i < tg->n_elements; i++) {
			const struct dfu_file_element *el = &tg->elements[i];

			r = dfuse_verify_range(d, el->address, el->data, el->size, &prog, &res, e);
			if (r < 0)
				goto element_fail;
		}
		continue;
element_fail:
		err_prefix(e, r, "target %u (alt %u)", t, tg->alt);
		goto out;
target_fail:
		err_prefix(e, r, "target %u", t);
		goto out;
	}
	res.verified = !(flags & DFUSE_NO_VERIFY);
	r = dfu_get_idle(d->usb, e);
out:
	if (ret)
		*ret = res;
	return dfuse_recover(d, r);
}
