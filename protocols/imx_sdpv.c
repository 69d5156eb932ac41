/*
 * This file implements the SPL SDP gadget stage (imx_sdpv.h) after
 * shared/docs/protocol-imx-sdp-fastboot.md §1.13: the skip-SPL rule, one
 * unsplit WRITE_FILE to address 0 and JUMP_ADDRESS 0.
 */
#include "protocols/imx_sdpv.h"

#include <errno.h>

#include "protocols/crc32.h"
#include "protocols/imx_image.h"

int imx_spl_end(const uint8_t *img, size_t len, size_t *ret, struct err *e)
{
	struct imx_image im;
	int r = imx_image_parse(img, len, &im, e);

	if (r < 0)
		return err_prefix(e, r, "finding the end of the SPL");
	/* load_size = boot_data.length - (self - start), from the IVT on (§1.9). */
	*ret = im.load_offset + im.load_size;
	return 0;
}

int sdpv_boot(struct sdp *s, const uint8_t *img, size_t len, size_t offset,
	      usb_progress_cb_t progress, void *ud, struct sdpv_result *ret, struct err *e)
{
	struct sdpv_result res = { .offset = offset };
	int r;

	if (offset >= len) {
		r = err_set(e, -EMSGSIZE,
			    "nothing to send after file offset 0x%zx (the file has %zu bytes)",
			    offset, len);
		goto out;
	}
	/* Address 0: the gadget's CONFIG_SDP_LOADADDR (§1.13). */
	r = sdp_write_file_once(s, 0, img + offset, len - offset, progress, ud, e);
	if (r < 0)
		goto out;
	res.bytes_sent = len - offset;
	res.host_crc = crc32_update(0, img + offset, len - offset);
	/* The gadget tries an IVT at the load address, then a FIT or
	 * container (§1.13); a report 4 means neither was found. */
	r = sdp_jump(s, 0, e);
	if (r >= 0)
		res.jumped = true;
out:
	if (ret)
		*ret = res;
	return r;
}
