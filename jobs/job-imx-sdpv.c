/*
 * This file implements the sdp.boot stage on the devices that are not an
 * SDP boot ROM (shared/docs/protocol-imx-sdp-fastboot.md §1.12-§1.14):
 * the U-Boot SPL's SDP gadget (SDPU/SDPV: write the rest of flash.bin,
 * jump) and the ROM-API stream ROMs (SDPS: the whole flash.bin down the
 * stream).  Either way the device leaves and the recipe's next "await"
 * takes what comes up (the fastboot gadget).  job-imx.c's job_run_sdp_boot()
 * sends these devices here.
 */
#include <errno.h>
#include <stdio.h>

#include "jobs/job-private.h"
#include "protocols/imx_sdps.h"
#include "protocols/imx_sdpv.h"

static unsigned int scaled_ms(const struct job *j, unsigned int ms)
{
	unsigned int pct = j->env->deadline_pct ? j->env->deadline_pct : 100;

	return (unsigned int)((uint64_t)ms * pct / 100);
}

const struct imx_spl *job_imx_spl(struct job *j)
{
	struct libusb_device_descriptor dd;

	/* The bcdDevice tells SDPU from SDPV (§2.2): take it from the device. */
	if (j->s.usb.handle &&
	    libusb_get_device_descriptor(libusb_get_device(j->s.usb.handle), &dd) == 0)
		return imx_spl_find(dd.idVendor, dd.idProduct, dd.bcdDevice);
	return imx_spl_find(j->cur.vid, j->cur.pid, j->cur.bcd);
}

/* Where the gadget's write starts: the recipe's choice, else uuu's (§1.13). */
static int spl_offset(const struct recipe_sdp_boot *a, const struct imx_spl *spl,
		      const struct image *img, size_t *ret, struct err *e)
{
	if (a->has_offset) {
		*ret = (size_t)a->offset;
		return 0;
	}
	if (a->skip_spl || spl->kind == IMX_SPL_SDPV)
		return imx_spl_end(img->data, img->size, ret, e);
	*ret = IMX_SDPU_OFFSET;
	return 0;
}

int job_imx_spl_boot(struct job *j, const struct recipe_stage *st, const char *name,
		     const struct imx_spl *spl, struct err *e)
{
	const struct recipe_sdp_boot *a = &st->u.sdp_boot;
	_cleanup_(sdp_closep) struct sdp *sdp = NULL;
	struct sdpv_result res = { 0 };
	struct image *img = NULL;
	size_t off = 0;
	int r;

	r = job_image_get(j, &a->image, &img, e);
	if (r < 0)
		return r;
	r = spl_offset(a, spl, img, &off, e);
	if (r >= 0)
		r = sdp_open(&j->s.usb, NULL, &sdp, e);
	if (r >= 0) {
		sdp_set_timeout(sdp, scaled_ms(j, SDP_XFER_TIMEOUT_MS));
		r = sdpv_boot(sdp, img->data, img->size, off, job_progress_cb, j, &res, e);
	}
	image_put(j->env->images, img);
	if (res.bytes_sent)
		job_record_image(j, &(struct job_image_row){
					    .stage = name,
					    .target = "ram:0x00000000",
					    .image = &a->image,
					    .has_host_crc = true,
					    .host_crc = res.host_crc,
				    });
	if (r < 0)
		return err_prefix(e, r, "%s (%s) from file offset 0x%zx",
				  imx_spl_kind_name(spl->kind), spl->name, off);
	job_stage_note(j, "%s: file from 0x%zx", imx_spl_kind_name(spl->kind), off);
	return 0;
}

int job_imx_sdps_boot(struct job *j, const struct recipe_stage *st, const char *name,
		      const struct imx_soc *soc, struct err *e)
{
	const struct recipe_sdp_boot *a = &st->u.sdp_boot;
	struct sdps_result res = { 0 };
	struct image *img = NULL;
	char target[32];
	int r;

	if (a->skip_spl || a->has_offset)
		return err_set(
			e, -EINVAL,
			"\"skip_spl\"/\"offset\" apply to the SPL's SDP gadget, not to the %s ROM",
			soc->name);
	r = job_image_get(j, &a->image, &img, e);
	if (r < 0)
		return r;
	r = sdps_boot(&j->s.usb, soc, img->data, img->size, scaled_ms(j, SDPS_XFER_TIMEOUT_MS),
		      job_progress_cb, j, &res, e);
	image_put(j->env->images, img);
	if (r >= 0) {
		snprintf(target, sizeof(target), "ram:0x%08x", res.load_addr);
		job_record_image(j, &(struct job_image_row){
					    .stage = name,
					    .target = target,
					    .image = &a->image,
					    .has_host_crc = true,
					    .host_crc = res.host_crc,
				    });
	}
	return r;
}
