/*
 * This file implements the DfuSe engine's session with one device
 * (protocols/dfuse.h): open (functional descriptor, the memory layout of each
 * alt setting, get to dfuIDLE), alt selection, deadline scaling, and the
 * error handling every DfuSe request shares (explaining a STALL, recovering
 * to dfuIDLE).  The DfuSe commands live in dfuse-commands.c, the data path
 * in dfuse-load.c; the poll policy is dfu_wait_done() in dfu.c.
 */
#include "protocols/dfuse.h"
#include "protocols/dfuse-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

unsigned int dfuse_scale(const struct dfuse *d, uint64_t ms)
{
	uint64_t v = ms * d->deadline_pct / 100;

	if (v == 0)
		v = 1;
	return v > UINT32_MAX ? UINT32_MAX : (unsigned int)v;
}

/*
 * A request was STALLed: DfuSe devices then sit in dfuERROR with a status
 * that says why (errVENDOR for read protection, errTARGET for a bad
 * address).  Ask, and turn it into the matching errno; otherwise keep r.
 */
int dfuse_explain_stall(struct dfuse *d, int r, const char *req, struct err *e)
{
	struct dfu_status st;
	struct err scratch = { 0 };

	if (r != -EPIPE)
		return r;
	if (dfu_get_status(d->usb, &st, 0, &scratch) < 0 || st.state != DFU_STATE_ERROR)
		return r;
	return err_replace(e, dfu_status_errno(st.status ? st.status : DFU_STATUS_ERR_STALLEDPKT),
			   "%s %s after STALL of %s", dfu_state_name(st.state),
			   dfu_status_name(st.status), req);
}

/* After a failure: back to dfuIDLE if we can, without touching the first error. */
int dfuse_recover(struct dfuse *d, int r)
{
	struct err scratch = { 0 };

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
	d->hold = DFU_HOLD_UNKNOWN;

	r = usb_config(usb->handle, &cfg);
	if (r < 0)
		return err_set(e, r, "open: configuration descriptor: %s", strerror(-r));
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
		return err_prefix(e, r, "open");
	if (d->n_alts == 0)
		return err_set(e, -ENOENT, "open: interface %u has no alt settings",
			       usb->interface);
	if (d->desc.transfer_size == 0)
		return err_set(e, -EBADMSG, "open: wTransferSize is 0");

	r = usb_claim(usb, e);
	if (r < 0)
		return err_prefix(e, r, "open");
	d->claimed = true;
	r = dfuse_select_alt(d, d->alts[0].alt, e);
	if (r < 0 && r != -EBADMSG && r != -ENOENT)
		return err_prefix(e, r, "open");
	err_clear(e); /* a first alt without a usable layout is not an open failure */
	r = dfu_get_idle(usb, e);
	if (r < 0)
		return err_prefix(e, r, "open");
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

enum dfu_hold dfuse_poll_hold(const struct dfuse *d)
{
	return d->hold;
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
