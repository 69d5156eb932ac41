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
		sdp_set_timeout(s->sdp,
				(unsigned int)((uint64_t)SDP_XFER_TIMEOUT_MS * job_pct(j) / 100));
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

int job_run_sdp_boot(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	const struct recipe_sdp_boot *a = &st->u.sdp_boot;
	const struct recipe_serial *ser = &j->recipe->serial;
	const struct imx_soc *soc = imx_soc_find(j->cur.vid, j->cur.pid);
	const struct imx_spl *spl = job_imx_spl(j);
	struct sdp_boot_result res = { 0 };
	struct image *img = NULL;
	struct sdp *sdp;
	char target[32], uid[33];
	int r;

	/* SPL gadget and stream ROMs: job-imx-sdpv.c (§1.12-§1.14). */
	if (spl)
		return job_imx_spl_boot(j, st, name, spl, e);
	if (soc && soc->protocol == IMX_PROTO_SDPS)
		return job_imx_sdps_boot(j, st, name, soc, e);
	if (a->skip_spl || a->has_offset)
		return err_set(
			e, -EINVAL,
			"\"skip_spl\"/\"offset\" apply to the SPL's SDP gadget, not to a boot ROM");
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
 * U-Boot's own flash names that are no partition of the table
 * (drivers/fastboot/fb_mmc.c fastboot_mmc_flash_write()): the tables at
 * byte 0 of the user area, and the eMMC hardware boot partitions, written
 * from their block 0 (fb_mmc_boot_ops()).
 */
static const struct special_target {
	const char *name;
	unsigned hwpart; /* `mmc dev 0 <hwpart>` selects it */
} special_targets[] = {
	{ .name = "gpt", .hwpart = 0 },
	{ .name = "mbr", .hwpart = 0 },
	{ .name = "mmc0boot0", .hwpart = 1 },
	{ .name = "mmc0boot1", .hwpart = 2 },
};

static const struct special_target *special_target(const char *part)
{
	for (size_t i = 0; part && i < sizeof(special_targets) / sizeof(special_targets[0]); i++)
		if (!strcmp(part, special_targets[i].name))
			return &special_targets[i];
	return NULL;
}

/* One range of the stage's bytes for whole-unit verification. */
static void plan_add(struct job *j, const struct recipe_stage *st, uint64_t addr, uint64_t len,
		     const uint8_t *data, const uint8_t *fill, uint64_t span_addr, uint64_t span)
{
	const struct recipe_fastboot_flash *a = &st->u.fastboot_flash;
	const struct special_target *sp = a->raw ? NULL : special_target(a->partition);
	struct job_range r = {
		.mem = JOB_MEM_MMC,
		/* The tables are raw bytes from offset 0: later raw writes cut them. */
		.part = a->raw || (sp && sp->hwpart == 0) ? NULL : a->partition,
		.label = sp && sp->hwpart == 0 ? sp->name : NULL,
		.addr = addr,
		.len = len,
		.data = data,
		.stage = (unsigned)(st - j->recipe->stages),
		.is_fill = fill != NULL,
		.stage_addr = span_addr,
		.stage_span = span,
	};

	if (fill)
		memcpy(r.fill, fill, sizeof(r.fill));
	job_plan_write(j, &r);
}

/*
 * A sparse image writes its RAW and FILL chunks, relative to the target;
 * DONT_CARE blocks keep what was there (not planned, not read back).
 * *end: one past the last byte it writes.
 */
static int sparse_extent(const struct image *img, uint64_t *first, uint64_t *end, struct err *e)
{
	struct sparse_iter it = SPARSE_ITER_INIT;
	struct sparse_image s;
	struct sparse_chunk c;
	int r = sparse_open(img->data, img->size, &s, e);

	if (r < 0)
		return r;
	*first = UINT64_MAX;
	*end = 0;
	while (sparse_next(&s, &it, &c) == 1) {
		if (c.type != SPARSE_CHUNK_RAW && c.type != SPARSE_CHUNK_FILL)
			continue;
		if (*first == UINT64_MAX)
			*first = (uint64_t)c.first_blk * s.blk_sz;
		*end = (uint64_t)(c.first_blk + c.blocks) * s.blk_sz;
	}
	if (*first == UINT64_MAX)
		*first = 0;
	return 0;
}

static void plan_sparse(struct job *j, const struct recipe_stage *st, const struct image *img,
			uint64_t base)
{
	struct sparse_iter it = SPARSE_ITER_INIT;
	struct sparse_image s;
	struct sparse_chunk c;
	uint64_t first, end;

	/* Parsed before the write (fits()): cannot fail here. */
	if (sparse_extent(img, &first, &end, NULL) < 0 ||
	    sparse_open(img->data, img->size, &s, NULL) < 0)
		return;
	while (sparse_next(&s, &it, &c) == 1) {
		uint64_t at = base + (uint64_t)c.first_blk * s.blk_sz;
		uint64_t len = (uint64_t)c.blocks * s.blk_sz;

		if (c.type == SPARSE_CHUNK_RAW)
			plan_add(j, st, at, len, c.data, NULL, base + first, end - first);
		else if (c.type == SPARSE_CHUNK_FILL)
			plan_add(j, st, at, len, NULL, c.data, base + first, end - first);
	}
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/*
 * flash:gpt writes the MBR and header sectors and the entry array from
 * the buffer at the LBA the header gives (write_mbr_and_gpt_partitions());
 * the backup U-Boot derives is no byte of the image.  flash:mbr writes
 * sector 0 only.  U-Boot checked the table before writing it.
 */
static void plan_table(struct job *j, const struct recipe_stage *st, const struct image *img)
{
	uint64_t n = img->size < 2 * FB_MMC_BLOCK ? img->size : 2 * FB_MMC_BLOCK;
	uint64_t lba, bytes;

	if (!strcmp(st->u.fastboot_flash.partition, "mbr")) {
		plan_add(j, st, 0, n < FB_MMC_BLOCK ? n : FB_MMC_BLOCK, img->data, NULL, 0, 0);
		return;
	}
	lba = 0;
	bytes = 0;
	if (img->size >= 2 * FB_MMC_BLOCK) {
		lba = get_le(img->data + FB_MMC_BLOCK + 72, 8);
		bytes = get_le(img->data + FB_MMC_BLOCK + 80, 4) *
			get_le(img->data + FB_MMC_BLOCK + 84, 4);
		bytes = (bytes + FB_MMC_BLOCK - 1) / FB_MMC_BLOCK * FB_MMC_BLOCK;
	}
	if (lba < 2 || lba >= img->size / FB_MMC_BLOCK) {
		plan_add(j, st, 0, n, img->data, NULL, 0, 0);
		return;
	}
	if (bytes > img->size - lba * FB_MMC_BLOCK)
		bytes = img->size - lba * FB_MMC_BLOCK;
	/* The row names "gpt" when header and entries follow each other. */
	plan_add(j, st, 0, n, img->data, NULL, 0, lba * FB_MMC_BLOCK + bytes);
	plan_add(j, st, lba * FB_MMC_BLOCK, bytes, img->data + lba * FB_MMC_BLOCK, NULL, 0,
		 lba * FB_MMC_BLOCK + bytes);
}

/*
 * What the stage's bytes on the eMMC now are (jobs/README.md "Whole-unit
 * verification"): offsets from the raw offset, or relative to the
 * partition (job_fastboot_locate() finds it at read-back time).
 */
static void plan_flash(struct job *j, const struct recipe_stage *st, const struct image *img,
		       bool split)
{
	const struct recipe_fastboot_flash *a = &st->u.fastboot_flash;
	const struct special_target *sp = a->raw ? NULL : special_target(a->partition);
	uint64_t base = a->raw ? a->offset : 0;
	uint64_t blk = split ? SPARSE_DEFAULT_BLOCK : FB_MMC_BLOCK;
	uint64_t pad = (blk - img->size % blk) % blk;

	/* U-Boot takes these names before it looks for a sparse header. */
	if (sp && sp->hwpart == 0) {
		plan_table(j, st, img);
		return;
	}
	if (!sp && sparse_is_sparse(img->data, img->size)) {
		plan_sparse(j, st, img, base);
		return;
	}
	plan_add(j, st, base, img->size, img->data, NULL, 0, 0);
	/* U-Boot writes whole blocks (write_raw_image(), a split image's
	 * zero-padded last sparse block): the rest of the last one no longer
	 * holds an earlier stage's bytes. */
	if (pad)
		job_plan_erase(j, JOB_MEM_MMC, 0, a->raw ? NULL : a->partition, base + img->size,
			       pad);
}

/*
 * Refuse, before anything is written, an image that does not fit the
 * partition it is flashed to by name: its size (a sparse image: the end of
 * its last RAW or FILL chunk; a raw one split into sparse pieces: whole
 * 4096-byte blocks, else 512-byte ones) against U-Boot's `part size`.
 * U-Boot refuses a raw image itself but writes a sparse one chunk by
 * chunk until one would cross the end (image-sparse.c): earlier pieces
 * would already be on the eMMC.  The boot partitions and tables check
 * themselves before writing (fb_mmc_boot_ops(), is_valid_gpt_buf()).
 */
static int fits(struct fb *fb, const struct recipe_fastboot_flash *a, const struct image *img,
		uint32_t *max, struct err *e)
{
	uint64_t first, need, blocks;
	int r;

	if (!a->raw && special_target(a->partition))
		return 0;
	if (sparse_is_sparse(img->data, img->size)) {
		/* Also for a raw offset: its chunks are the read-back plan. */
		r = sparse_extent(img, &first, &need, e);
		if (r < 0)
			return err_prefix(e, r, "%s", a->image.file);
	} else if (a->raw) {
		return 0;
	} else {
		if (!*max) {
			r = fb_max_download(fb, max, e);
			if (r < 0)
				return r;
			if (*max > FB_SPARSE_CAP)
				*max = FB_SPARSE_CAP;
		}
		need = img->size > *max && a->sparse != RECIPE_SPARSE_NEVER ? SPARSE_DEFAULT_BLOCK
									    : FB_MMC_BLOCK;
		need = (img->size + need - 1) / need * need;
	}
	if (a->raw)
		return 0;
	r = fb_part_info(fb, a->partition, "size", &blocks, e);
	if (r < 0)
		return r;
	if (need > blocks * FB_MMC_BLOCK)
		return err_set(
			e, -EFBIG,
			"%s needs %llu bytes, partition '%s' holds %llu (U-Boot's part size): nothing written",
			a->image.file, (unsigned long long)need, a->partition,
			(unsigned long long)(blocks * FB_MMC_BLOCK));
	return 0;
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
	r = fits(fb, a, img, &o.max_download, e);
	if (r < 0) {
		image_put(j->env->images, img);
		return r;
	}
	r = fb_flash_image(fb, img->data, img->size, &o, job_progress_cb, j, &res, e);
	/* img->data stays mapped: the job holds its own reference (map_images()). */
	if (r >= 0)
		plan_flash(j, st, img, img->size > res.max_download);
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

/* A generated table and its image row, kept for whole-unit verification. */
struct gpt_kept {
	uint8_t table[RECIPE_GPT_BYTES];
	char file[64];
	struct recipe_image img;
};

/* fastboot.gpt: the unit's own GPT (GUIDs derived from its identity),
 * downloaded and flashed to U-Boot's "gpt" name, recorded as an image
 * whose file names the disk GUID, and read back by the verify stage. */
static int stage_gpt(struct job *j, struct fb *fb, const struct recipe_stage *st, const char *name,
		     struct err *e)
{
	struct gpt_kept *k = calloc(1, sizeof(*k));
	char guid[37];
	struct recipe_sha256 c;
	const char *unit = j->serial[0] ? j->serial : j->chip_uid;
	uint32_t crc;
	int r;

	if (!k)
		return err_set(e, -ENOMEM, "out of memory");
	if (!unit[0]) {
		free(k);
		return err_set(
			e, -EINVAL,
			"no serial or chip UID yet to derive the unit's GUIDs from: learn the serial before this stage");
	}
	recipe_gpt_build(&st->u.fastboot_gpt, unit, j->recipe->name, k->table, guid);
	crc = crc32_update(0, k->table, sizeof(k->table));
	recipe_sha256_init(&c);
	recipe_sha256_update(&c, k->table, sizeof(k->table));
	recipe_sha256_final(&c, k->img.sha256);
	snprintf(k->file, sizeof(k->file), "generated GPT, disk %s", guid);
	k->img.file = k->file;
	k->img.size = sizeof(k->table);
	r = fb_download(fb, k->table, sizeof(k->table), job_progress_cb, j, e);
	if (r >= 0)
		r = fb_flash(fb, "gpt", sizeof(k->table), e);
	if (r >= 0)
		job_record_image(j, &(struct job_image_row){
					    .stage = name,
					    .target = "gpt",
					    .image = &k->img,
					    .has_host_crc = true,
					    .host_crc = crc,
				    });
	if (r < 0 || job_plan_keep(j, k) < 0) {
		if (r < 0)
			free(k);
		return r;
	}
	/* MBR, header and entries from byte 0, as flash:gpt writes them. */
	job_plan_write(j, &(struct job_range){
				  .mem = JOB_MEM_MMC,
				  .label = "gpt",
				  .len = sizeof(k->table),
				  .data = k->table,
				  .stage = (unsigned)(st - j->recipe->stages),
				  .image = &k->img,
			  });
	return 0;
}

/* The fastboot ops' runners (jobs/recipe-op-list.h): each on the session's fastboot engine. */
int job_run_fastboot_getvar(struct job *j, const struct recipe_stage *st, const char *name,
			    struct err *e)
{
	struct fb *fb;
	int r = ensure_fb(j, &fb, e);

	(void)name;
	return r < 0 ? r : stage_getvar(j, fb, &st->u.fastboot_getvar, e);
}

int job_run_fastboot_flash(struct job *j, const struct recipe_stage *st, const char *name,
			   struct err *e)
{
	struct fb *fb;
	int r = ensure_fb(j, &fb, e);

	return r < 0 ? r : stage_flash(j, fb, st, name, e);
}

int job_run_fastboot_erase(struct job *j, const struct recipe_stage *st, const char *name,
			   struct err *e)
{
	struct fb *fb;
	int r = ensure_fb(j, &fb, e);

	(void)name;
	if (r < 0)
		return r;
	r = fb_erase(fb, st->u.fastboot_erase.partition, e);
	if (r >= 0)
		job_plan_erase(j, JOB_MEM_MMC, 0, st->u.fastboot_erase.partition, 0, UINT64_MAX);
	return r;
}

int job_run_fastboot_ucmd(struct job *j, const struct recipe_stage *st, const char *name,
			  struct err *e)
{
	struct fb *fb;
	int r = ensure_fb(j, &fb, e);

	(void)name;
	if (r < 0)
		return r;
	if (st->u.fastboot_ucmd.async)
		return fb_acmd(fb, st->u.fastboot_ucmd.command, e);
	/* The stage deadline bounds a long command; the reply wait follows
	 * it and, read in slices, ends when the deadline fires. */
	return fb_ucmd(fb, st->u.fastboot_ucmd.command, st->timeout_ms, e);
}

int job_run_fastboot_reboot(struct job *j, const struct recipe_stage *st, const char *name,
			    struct err *e)
{
	struct fb *fb;
	int r = ensure_fb(j, &fb, e);

	(void)st, (void)name;
	return r < 0 ? r : fb_reboot(fb, e);
}

int job_run_fastboot_continue(struct job *j, const struct recipe_stage *st, const char *name,
			      struct err *e)
{
	struct fb *fb;
	int r = ensure_fb(j, &fb, e);

	(void)st, (void)name;
	return r < 0 ? r : fb_continue(fb, e);
}

int job_run_fastboot_oem(struct job *j, const struct recipe_stage *st, const char *name,
			 struct err *e)
{
	struct fb *fb;
	int r = ensure_fb(j, &fb, e);

	(void)name;
	return r < 0 ? r : fb_oem(fb, st->u.fastboot_oem.command, e);
}

int job_run_fastboot_gpt(struct job *j, const struct recipe_stage *st, const char *name,
			 struct err *e)
{
	struct fb *fb;
	int r = ensure_fb(j, &fb, e);

	return r < 0 ? r : stage_gpt(j, fb, st, name, e);
}

int job_fastboot_locate(struct job *j, const char *part, unsigned *hwpart, uint64_t *base,
			struct err *e)
{
	const struct special_target *sp = special_target(part);
	uint64_t blk;
	struct fb *fb;
	int r;

	*hwpart = sp ? sp->hwpart : 0;
	*base = 0;
	if (!part || sp)
		return 0;
	r = ensure_fb(j, &fb, e);
	if (r == 0)
		r = fb_part_info(fb, part, "start", &blk, e);
	if (r < 0)
		return r;
	*base = blk * FB_MMC_BLOCK;
	return 0;
}

/*
 * A boot partition is read after `mmc dev 0 <hwpart>` (cmd/mmc.c
 * do_mmc_dev()), and the user area selected again afterwards, also after a
 * failure: U-Boot's later commands must not land in the boot partition.
 */
int job_fastboot_crc(struct job *j, unsigned hwpart, uint64_t off, uint64_t len, uint32_t *crc,
		     struct err *e)
{
	struct err ignore = { 0 };
	char cmd[32];
	uint32_t max;
	struct fb *fb;
	int r, r2;

	r = ensure_fb(j, &fb, e);
	if (r == 0)
		r = fb_max_download(fb, &max, e);
	if (r < 0)
		return r;
	if (hwpart) {
		snprintf(cmd, sizeof(cmd), "mmc dev 0 %u", hwpart);
		r = fb_ucmd(fb, cmd, 0, e);
		if (r < 0)
			return r;
	}
	r = fb_mmc_crc32(fb, off, len, max > FB_SPARSE_CAP ? FB_SPARSE_CAP : max, crc, e);
	if (hwpart) {
		r2 = fb_ucmd(fb, "mmc dev 0 0", 0, r < 0 ? &ignore : e);
		if (r == 0)
			r = r2;
	}
	return r;
}
