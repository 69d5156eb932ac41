/*
 * This file implements the USB DFU 1.1 host side (USB DFU 1.1 spec, as
 * summarised in protocol-dfu.md §1): the class requests, the functional
 * descriptor, getting to dfuIDLE, and the poll-wait policy explained in
 * dfu.h.  ST's DfuSe commands live in dfuse.c on top of this.
 */
#include "protocols/dfu.h"

#include <errno.h>
#include <string.h>

#define DFU_OUT (LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE)
#define DFU_IN (LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE)

/* Rounds of dfu_get_idle(): pydfu-MP uses 4 attempts (§5); one more for a busy start. */
#define DFU_IDLE_ROUNDS 6
/* Longest wait for a device found busy at open (it may be finishing an erase). */
#define DFU_IDLE_BUSY_WAIT_MS 2000

static const char *const dfu_state_names[] = {
	[DFU_STATE_APP_IDLE] = "appIDLE",
	[DFU_STATE_APP_DETACH] = "appDETACH",
	[DFU_STATE_IDLE] = "dfuIDLE",
	[DFU_STATE_DNLOAD_SYNC] = "dfuDNLOAD-SYNC",
	[DFU_STATE_DNBUSY] = "dfuDNBUSY",
	[DFU_STATE_DNLOAD_IDLE] = "dfuDNLOAD-IDLE",
	[DFU_STATE_MANIFEST_SYNC] = "dfuMANIFEST-SYNC",
	[DFU_STATE_MANIFEST] = "dfuMANIFEST",
	[DFU_STATE_MANIFEST_WAIT_RESET] = "dfuMANIFEST-WAIT-RESET",
	[DFU_STATE_UPLOAD_IDLE] = "dfuUPLOAD-IDLE",
	[DFU_STATE_ERROR] = "dfuERROR",
};

static const char *const dfu_status_names[] = {
	[DFU_STATUS_OK] = "OK",
	[DFU_STATUS_ERR_TARGET] = "errTARGET",
	[DFU_STATUS_ERR_FILE] = "errFILE",
	[DFU_STATUS_ERR_WRITE] = "errWRITE",
	[DFU_STATUS_ERR_ERASE] = "errERASE",
	[DFU_STATUS_ERR_CHECK_ERASED] = "errCHECK_ERASED",
	[DFU_STATUS_ERR_PROG] = "errPROG",
	[DFU_STATUS_ERR_VERIFY] = "errVERIFY",
	[DFU_STATUS_ERR_ADDRESS] = "errADDRESS",
	[DFU_STATUS_ERR_NOTDONE] = "errNOTDONE",
	[DFU_STATUS_ERR_FIRMWARE] = "errFIRMWARE",
	[DFU_STATUS_ERR_VENDOR] = "errVENDOR",
	[DFU_STATUS_ERR_USBR] = "errUSBR",
	[DFU_STATUS_ERR_POR] = "errPOR",
	[DFU_STATUS_ERR_UNKNOWN] = "errUNKNOWN",
	[DFU_STATUS_ERR_STALLEDPKT] = "errSTALLEDPKT",
};

const char *dfu_state_name(int state)
{
	if (state < 0 || (size_t)state >= ARRAY_SIZE(dfu_state_names))
		return "unknown";
	return dfu_state_names[state];
}

const char *dfu_status_name(int status)
{
	if (status < 0 || (size_t)status >= ARRAY_SIZE(dfu_status_names))
		return "unknown";
	return dfu_status_names[status];
}

int dfu_status_errno(int status)
{
	switch (status) {
	case DFU_STATUS_OK:
		return 0;
	case DFU_STATUS_ERR_VENDOR:
		return -EACCES;
	case DFU_STATUS_ERR_WRITE:
	case DFU_STATUS_ERR_ERASE:
	case DFU_STATUS_ERR_CHECK_ERASED:
	case DFU_STATUS_ERR_PROG:
	case DFU_STATUS_ERR_VERIFY:
		return -EIO;
	default:
		return -EPROTO;
	}
}

int dfu_func_desc_parse(const uint8_t *p, size_t len, struct dfu_func_desc *ret, struct err *e)
{
	size_t off = 0;

	while (off + 2 <= len) {
		uint8_t dlen = p[off], type = p[off + 1];

		if (dlen < 2 || off + dlen > len)
			return err_set(
				e, -EBADMSG,
				"descriptor at extra offset %zu: length %u overruns %zu bytes", off,
				dlen, len);
		if (type == DFU_DT_FUNCTIONAL) {
			const uint8_t *d = p + off;

			/* 7 bytes is DFU 1.0; it already carries wTransferSize (§1.2). */
			if (dlen < 7)
				return err_set(e, -EBADMSG,
					       "DFU functional descriptor: length %u < 7", dlen);
			*ret = (struct dfu_func_desc){
				.length = dlen,
				.attributes = d[2],
				.detach_timeout_ms = (uint16_t)(d[3] | d[4] << 8),
				.transfer_size = (uint16_t)(d[5] | d[6] << 8),
				.dfu_version = dlen >= 9 ? (uint16_t)(d[7] | d[8] << 8) : 0x0100,
			};
			return 0;
		}
		off += dlen;
	}
	return err_set(e, -ENOENT, "no DFU functional descriptor");
}

/* A place without the descriptor is no failure while others remain: its
 * -ENOENT must not stay in e, where it would win over (first failure wins)
 * and name the next real failure (seen: a string descriptor read failing
 * under load reported as "no DFU functional descriptor"). */
static void tolerate_enoent(struct err *e, bool had_error)
{
	if (!had_error)
		err_clear(e);
}

int dfu_func_desc_find(const struct libusb_config_descriptor *cfg, uint8_t intf,
		       struct dfu_func_desc *ret, struct err *e)
{
	bool had_error = e && e->code;
	int r;

	r = dfu_func_desc_parse(cfg->extra, cfg->extra_length > 0 ? (size_t)cfg->extra_length : 0,
				ret, e);
	if (r != -ENOENT)
		return r;
	tolerate_enoent(e, had_error);
	for (int i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface *it = &cfg->interface[i];

		for (int a = 0; a < it->num_altsetting; a++) {
			const struct libusb_interface_descriptor *alt = &it->altsetting[a];

			if (alt->bInterfaceNumber != intf)
				continue;
			r = dfu_func_desc_parse(
				alt->extra, alt->extra_length > 0 ? (size_t)alt->extra_length : 0,
				ret, e);
			if (r != -ENOENT)
				return r;
			tolerate_enoent(e, had_error);
		}
	}
	return err_set(e, -ENOENT, "interface %u: no DFU functional descriptor", intf);
}

int dfu_detach(struct usb_dev *d, uint16_t timeout_ms, struct err *e)
{
	int r = usb_ctrl_out(d, DFU_OUT, DFU_REQ_DETACH, timeout_ms, d->interface, NULL, 0, 0, e);

	return r < 0 ? err_prefix(e, r, "DETACH") : 0;
}

int dfu_dnload(struct usb_dev *d, uint16_t block, const void *data, uint16_t len, struct err *e)
{
	int r = usb_ctrl_out(d, DFU_OUT, DFU_REQ_DNLOAD, block, d->interface, data, len, 0, e);

	return r < 0 ? err_prefix(e, r, "DNLOAD block %u", block) : r;
}

int dfu_upload(struct usb_dev *d, uint16_t block, void *buf, uint16_t len, struct err *e)
{
	int r = usb_ctrl_in(d, DFU_IN, DFU_REQ_UPLOAD, block, d->interface, buf, len, 0, e);

	return r < 0 ? err_prefix(e, r, "UPLOAD block %u", block) : r;
}

int dfu_get_status(struct usb_dev *d, struct dfu_status *ret, unsigned int timeout_ms,
		   struct err *e)
{
	uint8_t b[6];
	int r;

	r = usb_ctrl_in(d, DFU_IN, DFU_REQ_GETSTATUS, 0, d->interface, b, sizeof(b), timeout_ms, e);
	if (r < 0)
		return err_prefix(e, r, "GETSTATUS");
	if (r != (int)sizeof(b))
		return err_set(e, -EBADMSG, "GETSTATUS: %d-byte reply, expected 6", r);
	*ret = (struct dfu_status){
		.status = b[0],
		.poll_timeout_ms = (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16,
		.state = b[4],
		.istring = b[5],
	};
	return 0;
}

int dfu_clear_status(struct usb_dev *d, struct err *e)
{
	int r = usb_ctrl_out(d, DFU_OUT, DFU_REQ_CLRSTATUS, 0, d->interface, NULL, 0, 0, e);

	return r < 0 ? err_prefix(e, r, "CLRSTATUS") : 0;
}

int dfu_get_state(struct usb_dev *d, struct err *e)
{
	uint8_t s;
	int r;

	r = usb_ctrl_in(d, DFU_IN, DFU_REQ_GETSTATE, 0, d->interface, &s, 1, 0, e);
	if (r < 0)
		return err_prefix(e, r, "GETSTATE");
	if (r != 1)
		return err_set(e, -EBADMSG, "GETSTATE: %d-byte reply, expected 1", r);
	return s;
}

int dfu_abort(struct usb_dev *d, struct err *e)
{
	int r = usb_ctrl_out(d, DFU_OUT, DFU_REQ_ABORT, 0, d->interface, NULL, 0, 0, e);

	return r < 0 ? err_prefix(e, r, "ABORT") : 0;
}

static unsigned int min_u(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

int dfu_get_idle(struct usb_dev *d, struct err *e)
{
	struct dfu_status st = { 0 };
	bool stalled = false;
	int r;

	for (int round = 0; round < DFU_IDLE_ROUNDS; round++) {
		r = dfu_get_status(d, &st, 0, e);
		if (r == -EPIPE && !stalled) {
			/* Some ROMs STALL GETSTATUS in an error state; CLRSTATUS first. */
			stalled = true;
			r = dfu_clear_status(d, e);
			if (r < 0 && r != -EPIPE)
				return r;
			err_clear(e); /* the STALLs were expected: report what fails next */
			continue;
		}
		if (r < 0)
			return r;
		switch (st.state) {
		case DFU_STATE_IDLE:
			if (st.status == DFU_STATUS_OK)
				return 0;
			r = dfu_clear_status(d, e);
			break;
		case DFU_STATE_ERROR:
			r = dfu_clear_status(d, e);
			break;
		case DFU_STATE_DNLOAD_SYNC:
		case DFU_STATE_DNLOAD_IDLE:
		case DFU_STATE_MANIFEST_SYNC:
		case DFU_STATE_UPLOAD_IDLE:
			r = dfu_abort(d, e);
			break;
		case DFU_STATE_DNBUSY:
		case DFU_STATE_MANIFEST:
			r = usb_sleep_ms(d,
					 min_u(st.poll_timeout_ms ? st.poll_timeout_ms : 1,
					       DFU_IDLE_BUSY_WAIT_MS),
					 e);
			break;
		case DFU_STATE_APP_IDLE:
		case DFU_STATE_APP_DETACH:
			return err_set(e, -EPROTO,
				       "get to dfuIDLE: device is in run-time mode (%s)",
				       dfu_state_name(st.state));
		case DFU_STATE_MANIFEST_WAIT_RESET:
			return err_set(e, -EPROTO,
				       "get to dfuIDLE: device waits for a USB reset (%s)",
				       dfu_state_name(st.state));
		default:
			return err_set(e, -EPROTO, "get to dfuIDLE: unknown state %u", st.state);
		}
		if (r < 0)
			return r;
	}
	return err_set(e, -EPROTO, "get to dfuIDLE: still %s %s after %d rounds",
		       dfu_state_name(st.state), dfu_status_name(st.status), DFU_IDLE_ROUNDS);
}

int dfu_clrstatus_pair(struct usb_dev *d, struct err *e)
{
	int r;

	for (int i = 0; i < 2; i++) {
		r = dfu_clear_status(d, e);
		if (r < 0 && r != -EPIPE)
			return err_prefix(e, r, "CLRSTATUS pair");
		err_clear(e); /* a STALLed CLRSTATUS is tolerated */
	}
	r = dfu_get_idle(d, e);
	return r < 0 ? err_prefix(e, r, "CLRSTATUS pair") : 0;
}

static bool dfu_busy_state(uint8_t state)
{
	return state == DFU_STATE_DNBUSY || state == DFU_STATE_DNLOAD_SYNC;
}

const char *dfu_hold_name(enum dfu_hold h)
{
	switch (h) {
	case DFU_HOLD_HOLDS:
		return "holds";
	case DFU_HOLD_ANSWERS:
		return "answers";
	default:
		return "unknown";
	}
}

enum dfu_hold dfu_hold_learn(enum dfu_hold h, int r, const struct dfu_status *st, uint64_t took_us)
{
	if (h == DFU_HOLD_ANSWERS)
		return h;
	/* L43x STALLs early polls instead of holding them (SF#40). */
	if (r == -EPIPE)
		return DFU_HOLD_ANSWERS;
	if (r < 0)
		return h;
	/*
	 * A holding ROM only replies once the work is done, so a busy reply,
	 * however slow, means it answers while it works: polling it at once
	 * would repeat at the round-trip rate.
	 */
	if (dfu_busy_state(st->state))
		return DFU_HOLD_ANSWERS;
	/* Done and slow: held until the work ended.  Done and quick: done before the poll. */
	return took_us >= DFU_HOLD_MIN_US ? DFU_HOLD_HOLDS : h;
}

/* What dfu_wait_done() carries from one poll to the next. */
struct dfu_poll {
	unsigned int cap, floor, stalls, stall_wait;
	bool probed; /* the hold probe of this operation was sent */
	enum dfu_hold *hold;
};

/* bwPollTimeout clamped to [floor, cap], or the STALL back-off (dfu.h). */
static unsigned int dfu_clamped_wait(struct dfu_poll *p, const struct dfu_status *st)
{
	unsigned int wait = st->poll_timeout_ms;

	if (wait > p->cap)
		wait = p->cap;
	if (wait < p->floor)
		wait = p->floor;
	if (!p->stalls)
		return wait;
	if (!p->stall_wait)
		p->stall_wait = st->poll_timeout_ms > wait ? st->poll_timeout_ms : wait;
	else
		p->stall_wait *= 2;
	if (p->stall_wait > DFU_STALL_WAIT_MAX_MS)
		p->stall_wait = DFU_STALL_WAIT_MAX_MS;
	return p->stall_wait;
}

/* The wait after a busy reply: at once if the device holds polls, a short probe if unknown. */
static unsigned int dfu_next_wait(struct dfu_poll *p, const struct dfu_status *st)
{
	if (!p->stalls && *p->hold == DFU_HOLD_HOLDS)
		return 0;
	if (!p->stalls && *p->hold == DFU_HOLD_UNKNOWN && !p->probed) {
		p->probed = true;
		return DFU_POLL_FLOOR_MS;
	}
	return dfu_clamped_wait(p, st);
}

int dfu_wait_done(struct usb_dev *d, const struct dfu_wait *w, struct dfu_status *ret,
		  struct err *e)
{
	unsigned int deadline_ms = w && w->deadline_ms ? w->deadline_ms : DFU_DEADLINE_WRITE_MS;
	enum dfu_hold answers = DFU_HOLD_ANSWERS;
	struct dfu_poll p = {
		.cap = w && w->cap_ms ? w->cap_ms : DFU_POLL_CAP_WRITE_MS,
		.floor = DFU_POLL_FLOOR_MS,
		.hold = w && w->hold ? w->hold : &answers,
	};
	uint64_t end = usb_now_ms() + deadline_ms;
	struct dfu_status st = { 0 };
	bool have_reply = false;
	int r;

	*ret = st;
	for (;;) {
		uint64_t now = usb_now_ms(), t0 = usb_now_us();
		unsigned int left = now < end ? (unsigned int)(end - now) : 0;
		unsigned int wait;

		/* The control timeout covers the rest of the deadline: ROMs may hold the reply. */
		r = dfu_get_status(d, &st,
				   left + DFU_STATUS_SLACK_MS > d->ctrl_timeout_ms
					   ? left + DFU_STATUS_SLACK_MS
					   : d->ctrl_timeout_ms,
				   e);
		/* Only a poll after a busy reply tells whether the device holds. */
		if (have_reply)
			*p.hold = dfu_hold_learn(*p.hold, r, &st, usb_now_us() - t0);
		if (r == -EPIPE && have_reply && p.stalls < DFU_MAX_BUSY_STALLS) {
			/* L43x STALLs polls while it works (SF#40): still busy, back off. */
			p.stalls++;
			st = *ret;
			err_clear(e); /* a tolerated STALL is not the failure */
		} else if (r < 0) {
			return r;
		} else {
			have_reply = true;
			p.stalls = 0;
			p.stall_wait = 0;
			*ret = st;
		}

		if (st.state == DFU_STATE_ERROR || st.status != DFU_STATUS_OK)
			return err_set(
				e, dfu_status_errno(st.status ? st.status : DFU_STATUS_ERR_UNKNOWN),
				"%s %s after GETSTATUS", dfu_state_name(st.state),
				dfu_status_name(st.status));
		if (!dfu_busy_state(st.state))
			return 0;

		now = usb_now_ms();
		if (now >= end)
			return err_set(e, -ETIMEDOUT, "still %s after %u ms (bwPollTimeout %u ms)",
				       dfu_state_name(st.state), deadline_ms, st.poll_timeout_ms);
		wait = dfu_next_wait(&p, &st);
		if (wait > end - now)
			wait = (unsigned int)(end - now);
		/* Also for a wait of 0: the cancel check between polls. */
		r = usb_sleep_ms(d, wait, e);
		if (r < 0)
			return r;
		if (wait)
			p.floor = min_u(p.floor * 2, p.cap);
	}
}
