/*
 * This file implements the i.MX stages of a job on top of protocols/sdp.h
 * and protocols/fastboot.h: sdp.boot (the SDP ROM loads a U-Boot that
 * re-enumerates as a fastboot gadget; the runner's following "await" stage
 * takes that device) and the fastboot.* stages.  The engines live in the
 * device session (j->s.proto.imx) and go with it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/job-private.h"
#include "jobs/recipe-sha256.h"
#include "protocols/crc32.h"
#include "protocols/fastboot.h"
#include "protocols/imx_soc.h"
#include "protocols/sdp.h"

/* Engine state of one i.MX device session: SDP on the ROM, fastboot after. */
struct imx_session {
	struct sdp *sdp;
	struct fb *fb;
};

void job_imx_session_close(struct imx_session *s)
{
	if (!s)
		return;
	sdp_close(s->sdp);
	fb_close(s->fb);
	free(s);
}

static int imx_session(struct job *j, struct imx_session **ret, struct err *e)
{
	struct imx_session *s;

	if (j->s.family != JOB_SESSION_NONE) {
		if (j->s.family != JOB_SESSION_IMX)
			return err_set(e, -EPROTO, "device session holds another engine");
		*ret = j->s.proto.imx;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	j->s.family = JOB_SESSION_IMX;
	j->s.proto.imx = s;
	*ret = s;
	return 0;
}

static unsigned int job_pct(const struct job *j)
{
	return j->env->deadline_pct ? j->env->deadline_pct : 100;
}

static int ensure_sdp(struct job *j, const struct imx_soc *soc, struct sdp **ret, struct err *e)
{
	struct imx_session *s = NULL;
	int r = imx_session(j, &s, e);

	if (r < 0)
		return r;
	if (!s->sdp) {
		r = sdp_open(&j->s.usb, soc, &s->sdp, e);
		if (r < 0)
			return r;
		sdp_set_timeout(s->sdp, (unsigned int)((uint64_t)SDP_XFER_TIMEOUT_MS * job_pct(j) / 100));
	}
	*ret = s->sdp;
	return 0;
}

static int ensure_fb(struct job *j, struct fb **ret, struct err *e)
{
	struct imx_session *s = NULL;
	int r = imx_session(j, &s, e);

	if (r < 0)
		return r;
	if (!s->fb) {
		r = fb_open(&j->s.usb, &s->fb, e);
		if (r < 0)
			return r;
		fb_set_timeout_pct(s->fb, job_pct(j));
	}
	*ret = s->fb;
	return 0;
}

int job_sdp_boot(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	const struct recipe_sdp_boot *a = &st->u.sdp_boot;
	const struct recipe_serial *ser = &j->recipe->serial;
	const struct imx_soc *soc = imx_soc_find(j->cur.vid, j->cur.pid);
	struct sdp_boot_result res = { 0 };
	struct image *img = NULL;
	struct sdp *sdp;
	char target[32], uid[33];
	int r;

	if (!soc)
		return err_set(e, -EOPNOTSUPP, "%04x:%04x is not an i.MX boot ROM flashd knows",
			       j->cur.vid, j->cur.pid);
	r = ensure_sdp(j, soc, &sdp, e);
	if (r < 0)
		return r;

	/* The UID is read before the boot: afterwards the ROM is gone (§3.1). */
	if (ser->source == RECIPE_SERIAL_IMX_OCOTP) {
		unsigned int bits = ser->n_ocotp_words == soc->n_uid_words ? soc->uid_bits : 32;

		r = sdp_read_uid(sdp, ser->ocotp_words, (unsigned int)ser->n_ocotp_words, bits, uid,
				 sizeof(uid), e);
		if (r < 0)
			return err_prefix(e, r, "serial from OCOTP");
		job_set_identity(j, &(struct db_unit_identity){ .serial = uid, .chip_uid = uid });
	} else if (soc->n_uid_words) {
		struct err ignore = { 0 };

		/* Best effort: the chip UID is worth a row even when not the serial. */
		if (sdp_read_uid(sdp, soc->uid_words, soc->n_uid_words, soc->uid_bits, uid,
				 sizeof(uid), &ignore) >= 0)
			job_set_identity(j, &(struct db_unit_identity){ .chip_uid = uid });
	}

	r = job_image_get(j, &a->image, &img, e);
	if (r < 0)
		return r;
	r = sdp_boot(sdp, img->data, img->size, job_progress_cb, j, &res, e);
	image_put(j->env->images, img);
	if (res.bytes_sent) {
		snprintf(target, sizeof(target), "ram:0x%08x", res.image.load_addr);
		job_record_image(j, &(struct job_image_row){
					    .stage = name,
					    .target = target,
					    .image = &a->image,
					    .has_host_crc = true,
					    .host_crc = res.host_crc,
				    });
	}
	if (r < 0 && res.hab == SDP_HAB_STATE_CLOSED)
		err_prefix(e, r, "HAB closed");
	return r;
}

static int stage_getvar(struct job *j, struct fb *fb, const struct recipe_fastboot_getvar *a,
			struct err *e)
{
	const struct recipe_serial *ser = &j->recipe->serial;
	char val[FB_RESPONSE_LEN + 1];
	int r = fb_getvar(fb, a->var, val, sizeof(val), e);

	if (r < 0)
		return r;
	if (ser->source == RECIPE_SERIAL_FASTBOOT_GETVAR && ser->var && !strcmp(ser->var, a->var)) {
		if (!val[0])
			return err_set(e, -EPROTO, "getvar:%s is empty: no serial number", a->var);
		job_set_identity(j, &(struct db_unit_identity){ .serial = val });
	}
	if (a->expect && strcmp(a->expect, val) != 0)
		return err_set(e, -EPROTO, "getvar:%s is '%s', expected '%s'", a->var, val,
			       a->expect);
	return 0;
}

/*
 * Whole-unit verification reads raw eMMC ranges back by device-side CRC,
 * with the U-Boot commands "verify": "crc32" uses.  A stage that said
 * "none" is taken at its word: its U-Boot may lack them (recorded as not
 * read back, never claimed verified).
 */
static const char *plan_unreadable(const struct recipe_fastboot_flash *a, bool sparse)
{
	if (!a->raw)
		return "fastboot has no device-side CRC of a partition by name";
	if (sparse)
		return "a sparse image's DONT_CARE blocks are unknown on the host";
	if (a->verify != RECIPE_VERIFY_CRC32)
		return "the stage said verify none (U-Boot's mmc read/hash crc32 not assumed)";
	return NULL;
}

static int stage_flash(struct job *j, struct fb *fb, const struct recipe_stage *st,
		       const char *name, struct err *e)
{
	const struct recipe_fastboot_flash *a = &st->u.fastboot_flash;
	struct fb_flash_opts o = {
		.partition = a->raw ? NULL : a->partition,
		.raw = a->raw,
		.offset = a->offset,
		.max_download = a->max_download,
		.flags = (a->sparse == RECIPE_SPARSE_NEVER ? FB_NO_SPARSE : 0) |
			 (a->verify == RECIPE_VERIFY_CRC32 ? FB_VERIFY_CRC32 : 0),
	};
	struct fb_flash_result res = { 0 };
	struct image *img = NULL;
	char target[32];
	int r;

	r = job_image_get(j, &a->image, &img, e);
	if (r < 0)
		return r;
	r = fb_flash_image(fb, img->data, img->size, &o, job_progress_cb, j, &res, e);
	/* img->data stays mapped: the job holds its own reference (map_images()). */
	if (r >= 0)
		job_plan_write(j, &(struct job_range){
					  .mem = JOB_MEM_MMC,
					  .part = a->raw ? NULL : a->partition,
					  .addr = a->raw ? a->offset : 0,
					  .len = img->size,
					  .data = img->data,
					  .stage = (unsigned)(st - j->recipe->stages),
					  .unreadable = plan_unreadable(a, res.sparse_input),
				  });
	image_put(j->env->images, img);
	if (a->raw)
		snprintf(target, sizeof(target), "0x%llx", (unsigned long long)a->offset);
	else
		snprintf(target, sizeof(target), "%s", a->partition);
	/* Failed writes get their row too: QA wants the CRCs of a bad verify. */
	if (r >= 0 || res.bytes_sent > 0)
		job_record_image(j, &(struct job_image_row){
					    .stage = name,
					    .target = target,
					    .image = &a->image,
					    .has_host_crc = true,
					    .host_crc = res.host_crc,
					    .has_dev_crc = res.has_dev_crc,
					    .dev_crc = res.dev_crc,
					    .verified = res.verified,
				    });
	return r;
}

/* fastboot.gpt: the unit's own GPT (GUIDs derived from its identity),
 * downloaded and flashed to U-Boot's "gpt" name, recorded as an image
 * whose file names the disk GUID. */
static int stage_gpt(struct job *j, struct fb *fb, const struct recipe_stage *st,
		     const char *name, struct err *e)
{
	uint8_t table[RECIPE_GPT_BYTES];
	char guid[37], file[64];
	struct recipe_image img = { .file = file, .size = sizeof(table) };
	struct recipe_sha256 c;
	const char *unit = j->serial[0] ? j->serial : j->chip_uid;
	uint32_t crc;
	int r;

	if (!unit[0])
		return err_set(e, -EINVAL,
			       "no serial or chip UID yet to derive the unit's GUIDs from: learn the serial before this stage");
	recipe_gpt_build(&st->u.fastboot_gpt, unit, j->recipe->name, table, guid);
	crc = crc32_update(0, table, sizeof(table));
	recipe_sha256_init(&c);
	recipe_sha256_update(&c, table, sizeof(table));
	recipe_sha256_final(&c, img.sha256);
	snprintf(file, sizeof(file), "generated GPT, disk %s", guid);
	r = fb_download(fb, table, sizeof(table), job_progress_cb, j, e);
	if (r >= 0)
		r = fb_flash(fb, "gpt", sizeof(table), e);
	if (r >= 0)
		job_record_image(j, &(struct job_image_row){
					    .stage = name,
					    .target = "gpt",
					    .image = &img,
					    .has_host_crc = true,
					    .host_crc = crc,
				    });
	return r;
}

int job_fastboot(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	struct fb *fb;
	int r;

	r = ensure_fb(j, &fb, e);
	if (r < 0)
		return r;
	switch (st->op) {
	case RECIPE_OP_FASTBOOT_GETVAR:
		return stage_getvar(j, fb, &st->u.fastboot_getvar, e);
	case RECIPE_OP_FASTBOOT_FLASH:
		return stage_flash(j, fb, st, name, e);
	case RECIPE_OP_FASTBOOT_ERASE:
		r = fb_erase(fb, st->u.fastboot_erase.partition, e);
		if (r >= 0)
			job_plan_erase(j, JOB_MEM_MMC, 0, st->u.fastboot_erase.partition, 0,
				       UINT64_MAX);
		return r;
	case RECIPE_OP_FASTBOOT_UCMD:
		if (st->u.fastboot_ucmd.async)
			return fb_acmd(fb, st->u.fastboot_ucmd.command, e);
		/* The stage deadline bounds a long command; the reply wait follows
		 * it and, read in slices, ends when the deadline fires. */
		return fb_ucmd(fb, st->u.fastboot_ucmd.command, st->timeout_ms, e);
	case RECIPE_OP_FASTBOOT_REBOOT:
		return fb_reboot(fb, e);
	case RECIPE_OP_FASTBOOT_CONTINUE:
		return fb_continue(fb, e);
	case RECIPE_OP_FASTBOOT_OEM:
		return fb_oem(fb, st->u.fastboot_oem.command, e);
	case RECIPE_OP_FASTBOOT_GPT:
		return stage_gpt(j, fb, st, name, e);
	default:
		break;
	}
	return err_set(e, -EINVAL, "stage '%s' is not a fastboot operation", name);
}

int job_fastboot_crc(struct job *j, uint64_t off, uint64_t len, uint32_t *crc, struct err *e)
{
	uint32_t max;
	struct fb *fb;
	int r;

	r = ensure_fb(j, &fb, e);
	if (r == 0)
		r = fb_max_download(fb, &max, e);
	if (r < 0)
		return r;
	return fb_mmc_crc32(fb, off, len, max > FB_SPARSE_CAP ? FB_SPARSE_CAP : max, crc, e);
}
