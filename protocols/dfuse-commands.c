/*
 * This file implements the DfuSe commands (protocol-dfu.md §2.2, §2.5, §3.4;
 * ST AN3156): Set-Address, sector and mass erase sent in DNLOAD block 0 and
 * polled to dfuDNLOAD-IDLE, leaving DFU with an explicit jump address, and
 * reading the unique ID.  The data path built on them is in dfuse-load.c.
 */
#include "protocols/dfuse-private.h"

#include <errno.h>
#include <string.h>

/* Pause between GETSTATE probes while waiting for a leaving device to go. */
#define DFUSE_LEAVE_PROBE_MS 50

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
			err_clear(e); /* the wedge is handled: report what fails next */
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

int dfuse_set_address_raw(struct dfuse *d, uint32_t addr, struct err *e)
{
	struct dfu_wait w = {
		.deadline_ms = dfuse_scale(d, DFUSE_DEADLINE_SET_ADDRESS_MS),
		.cap_ms = DFU_POLL_CAP_WRITE_MS,
		.hold = &d->hold,
	};
	uint8_t cmd[5] = { DFUSE_CMD_SET_ADDRESS };
	int r;

	dfuse_put_le32(cmd + 1, addr);
	r = dfuse_command(d, cmd, sizeof(cmd), &w, false, e);
	return r < 0 ? err_prefix(e, r, "set address 0x%08x", addr) : 0;
}

int dfuse_set_address(struct dfuse *d, uint32_t addr, struct err *e)
{
	return dfuse_recover(d, dfuse_set_address_raw(d, addr, e));
}

int dfuse_erase_raw(struct dfuse *d, uint32_t start, uint32_t size, struct err *e)
{
	struct dfu_wait w = {
		.deadline_ms =
			dfuse_scale(d, DFUSE_ERASE_BASE_MS + (uint64_t)DFUSE_ERASE_MS_PER_KIB *
								     ((size + 1023) / 1024)),
		.cap_ms = DFU_POLL_CAP_ERASE_MS,
		.hold = &d->hold,
	};
	uint8_t cmd[5] = { DFUSE_CMD_ERASE };
	int r;

	dfuse_put_le32(cmd + 1, start);
	r = dfuse_command(d, cmd, sizeof(cmd), &w, true, e);
	return r < 0 ? err_prefix(e, r, "erase sector 0x%08x", start) : 0;
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

int dfuse_mass_erase_raw(struct dfuse *d, struct err *e)
{
	struct dfu_wait w = {
		.deadline_ms = dfuse_scale(d, DFUSE_DEADLINE_MASS_ERASE_MS),
		.cap_ms = DFU_POLL_CAP_ERASE_MS,
		.hold = &d->hold,
	};
	uint8_t cmd[1] = { DFUSE_CMD_ERASE };
	int r;

	r = dfuse_command(d, cmd, sizeof(cmd), &w, true, e);
	return r < 0 ? err_prefix(e, r, "mass erase") : 0;
}

int dfuse_mass_erase(struct dfuse *d, struct err *e)
{
	return dfuse_recover(d, dfuse_mass_erase_raw(d, e));
}

/* True once the device answers -ENODEV within DFUSE_LEAVE_GONE_MS. */
static bool dfuse_wait_gone(struct dfuse *d, int *ret_state)
{
	uint64_t end = usb_now_ms() + dfuse_scale(d, DFUSE_LEAVE_GONE_MS);
	struct err scratch = { 0 };

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
		return dfuse_recover(d, err_prefix(e, r, "leave"));
	/* Zero-length DNLOAD starts manifestation; block 2 as dfu-util, 0 works too (§2.5). */
	r = dfu_dnload(d->usb, 2, NULL, 0, e);
	if (r < 0) {
		if (r == -ENODEV)
			goto gone;
		return dfuse_recover(d, err_prefix(e, r, "leave 0x%08x", addr));
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
		r = err_replace(
			e, -EPROTO,
			"leave 0x%08x: final GETSTATUS failed (%s) and the device stayed in %s",
			addr, strerror(-r), dfu_state_name(state));
	else
		err_prefix(e, r, "leave 0x%08x: device did not disconnect", addr);
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
			r = err_replace(e, -EPROTO, "UPLOAD stalled: the ROM refuses this address");
	} else if (r == -ETIMEDOUT) {
		r = err_replace(
			e, -EPROTO,
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
	err_prefix(e, r, "read UID 0x%08x", addr);
	return dfuse_recover(d, r);
}

/*
 * After a request whose execution resets the ROM (§2.3, §3.5): the one
 * GETSTATUS it answers must say dfuDNBUSY; the ROM then resets without
 * answering again (dfu-util's ":will-reset" stops polling there too).  A
 * device already gone counts as the reset.  dfuERROR is the refusal
 * (errVENDOR: read protection active, errTARGET: not this alt's memory).
 */
static int dfuse_expect_reset(struct dfuse *d, const char *what, struct err *e)
{
	struct dfu_status st;
	int r;

	r = dfu_get_status(d->usb, &st, 0, e);
	if (r == -ENODEV)
		goto reset;
	if (r < 0)
		return err_prefix(e, r, "%s: GETSTATUS", what);
	if (st.state == DFU_STATE_ERROR || st.status != DFU_STATUS_OK)
		return err_set(e, dfu_status_errno(st.status ? st.status : DFU_STATUS_ERR_UNKNOWN),
			       "%s: %s %s after GETSTATUS", what, dfu_state_name(st.state),
			       dfu_status_name(st.status));
	if (st.state != DFU_STATE_DNBUSY)
		return err_set(e, -EPROTO,
			       "%s: state %s after GETSTATUS, expected dfuDNBUSY (reset)", what,
			       dfu_state_name(st.state));
reset:
	d->left = true;
	err_clear(e);
	return 0;
}

int dfuse_write_reset(struct dfuse *d, uint32_t addr, const uint8_t *buf, size_t len, struct err *e)
{
	const struct dfuse_layout *l = &d->alts[d->cur].layout;
	unsigned int chunk =
		d->desc.transfer_size < DFUSE_MAX_CHUNK ? d->desc.transfer_size : DFUSE_MAX_CHUNK;
	int r;

	/* One block: the ROM resets after it, a second one would never arrive. */
	if (len == 0 || len > chunk)
		return err_set(e, -EINVAL, "write 0x%08x: %zu bytes do not fit one %u-byte block",
			       addr, len, chunk);
	r = dfuse_mem_check(l, addr, len, DFUSE_MEM_WRITABLE, e);
	if (r < 0)
		return r;
	r = dfuse_set_address_raw(d, addr, e);
	if (r < 0)
		return dfuse_recover(d, r);
	r = dfu_dnload(d->usb, 2, buf, (uint16_t)len, e);
	if (r < 0)
		return dfuse_recover(d, dfuse_explain_stall(d, r, "DNLOAD", e));
	r = dfuse_expect_reset(d, "write", e);
	if (r < 0)
		err_prefix(e, r, "write 0x%08x", addr);
	return r < 0 ? dfuse_recover(d, r) : 0;
}

int dfuse_read_unprotect(struct dfuse *d, struct err *e)
{
	uint8_t cmd[1] = { DFUSE_CMD_READ_UNPROTECT };
	int r;

	r = dfu_dnload(d->usb, 0, cmd, sizeof(cmd), e);
	if (r < 0)
		return dfuse_recover(
			d, err_prefix(e, dfuse_explain_stall(d, r, "DNLOAD", e), "read unprotect"));
	r = dfuse_expect_reset(d, "read unprotect", e);
	return r < 0 ? dfuse_recover(d, r) : 0;
}
