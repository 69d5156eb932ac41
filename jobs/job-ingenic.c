/*
 * This file implements the Ingenic stages of a job (ingenic.*) on top of
 * protocols/ingenic.h (boot ROM) and protocols/ingenic_burner.h (stage 2):
 * eFuse UID, ROM -> SPL -> burner, JEDEC check, flash configuration,
 * CRC-checked writes, reboot.  protocol-ingenic.md §0 gives the order: the
 * UID must be read before any stage-1 code runs, and the device never
 * re-enumerates, so all stages share one device session whose engine state
 * lives in j->s.proto.ingenic.
 *
 * ingenic.secure_boot is refused: flashd does not burn eFuses (the burner's
 * requests 0x20-0x25 are not implemented anywhere in protocols/).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "jobs/job-private.h"
#include "protocols/ingenic.h"
#include "protocols/ingenic_burner.h"

/* Engine state of one device session (j->s.proto.ingenic). */
struct ingenic_session {
	struct ingenic *rom;
	struct burner *burner;
	bool have_jedec;
	uint32_t jedec;
	bool configured; /* the burner holds the full config this session sent */
};

void job_ingenic_session_close(struct ingenic_session *s)
{
	if (!s)
		return;
	burner_close(s->burner);
	ingenic_close(s->rom);
	free(s);
}

static int session(struct job *j, struct ingenic_session **ret, struct err *e)
{
	struct ingenic_session *s;

	if (j->s.family != JOB_SESSION_NONE) {
		if (j->s.family != JOB_SESSION_INGENIC)
			return err_set(e, -EPROTO,
				       "the device session belongs to another protocol");
		*ret = j->s.proto.ingenic;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	j->s.family = JOB_SESSION_INGENIC;
	j->s.proto.ingenic = s;
	*ret = s;
	return 0;
}

static unsigned int pct(const struct job *j)
{
	return j->env->deadline_pct ? j->env->deadline_pct : 100;
}

static int ensure_burner(struct job *j, struct ingenic_session *s, struct err *e)
{
	int r;

	if (s->burner)
		return 0;
	r = burner_open(&j->s.usb, &s->burner, e);
	if (r < 0)
		return r;
	burner_set_deadline_pct(s->burner, pct(j));
	return 0;
}

static void log_warn(struct job *j, const char *stage, const char *fmt, const char *msg)
{
	struct log_ctx c = { .port = j->cur.port,
			     .slot = j->slot,
			     .unit = j->unit_id,
			     .serial = j->serial[0] ? j->serial : NULL,
			     .stage = stage };

	log_ev(LOG_WARNING, LOG_ID_STAGE, &c, fmt, msg);
}

static void put_images(struct job *j, struct image *a, struct image *b, struct image *c)
{
	image_put(j->env->images, a);
	image_put(j->env->images, b);
	image_put(j->env->images, c);
}

static int stage_boot(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	const struct recipe_ingenic_boot *a = &st->u.ingenic_boot;
	bool efuse_serial = j->recipe->serial.source == RECIPE_SERIAL_INGENIC_EFUSE;
	struct image *ginfo = NULL, *spl = NULL, *burner = NULL;
	const struct ingenic_soc *soc = ingenic_soc_find(a->soc);
	struct ingenic_boot_result res;
	struct ingenic_session *s;
	struct ingenic_cpu_info ci;
	struct ingenic_uid uid;
	struct err ue = { 0 };
	int r;

	if (!soc)
		return err_set(e, -EINVAL, "unknown Ingenic SoC '%s'", a->soc);
	r = session(j, &s, e);
	if (r < 0)
		return r;
	if (!s->rom) {
		r = ingenic_open(&j->s.usb, soc, &s->rom, e);
		if (r < 0)
			return r;
		ingenic_set_deadline_pct(s->rom, pct(j));
	}

	r = ingenic_cpu_info(s->rom, 0, &ci, e);
	if (r < 0)
		return r;
	if (ci.kind == INGENIC_CPU_BURNER) {
		/*
		 * An earlier attempt of this stage got the burner running:
		 * START1 is one-shot, so that is as far as a boot can go.  Fine
		 * if the UID was taken then; otherwise it is lost until a
		 * power cycle.
		 */
		if (j->chip_uid[0])
			return 0;
		return err_set(
			e, -EALREADY,
			"the burner already runs (CPU info '%s') and the chip UID was not read; power-cycle the board",
			ci.text);
	}

	/* The UID first: running the SPL clears the eFuse shadow (§5). */
	r = ingenic_read_uid(s->rom, &uid, &ue);
	if (r == 0) {
		job_set_identity(j, &(struct db_unit_identity){
					    .serial = efuse_serial ? uid.hex : NULL,
					    .chip_uid = uid.hex,
				    });
	} else if (efuse_serial) {
		*e = ue;
		err_prefix(e, r, "chip UID (the unit's serial)");
		return r;
	} else {
		log_warn(j, name, "Chip UID not readable: %s, ignoring", ue.msg);
	}

	r = job_image_get(j, &a->spl, &spl, e);
	if (r == 0)
		r = job_image_get(j, &a->burner, &burner, e);
	if (r == 0 && a->has_ginfo)
		r = job_image_get(j, &a->ginfo, &ginfo, e);
	if (r < 0) {
		put_images(j, ginfo, spl, burner);
		return r;
	}
	r = ingenic_boot(s->rom,
			 &(struct ingenic_boot_args){
				 .ginfo = ginfo ? ginfo->data : NULL,
				 .ginfo_len = ginfo ? ginfo->size : 0,
				 .spl = spl->data,
				 .spl_len = spl->size,
				 .burner = burner->data,
				 .burner_len = burner->size,
				 .d2i_len = a->d2i_len,
			 },
			 job_progress_cb, j, &res, e);
	put_images(j, ginfo, spl, burner);
	if (r < 0)
		return r;
	return ensure_burner(j, s, e);
}

static int read_jedec(struct job *j, struct ingenic_session *s, struct err *e)
{
	char hex[16];
	int r;

	r = ensure_burner(j, s, e);
	if (r < 0)
		return r;
	/* The policy-only config this sends replaces any flash config. */
	s->configured = false;
	r = burner_read_jedec(s->burner, INGENIC_FLASH_SFC_NOR, &s->jedec, e);
	if (r < 0)
		return r;
	s->have_jedec = true;
	snprintf(hex, sizeof(hex), "%06x", s->jedec);
	job_set_identity(j, &(struct db_unit_identity){ .jedec_id = hex });
	return 0;
}

static int stage_check_jedec(struct job *j, struct err *e)
{
	const struct recipe *rc = j->recipe;
	struct ingenic_session *s;
	char list[RECIPE_JEDEC_MAX * 8 + 1] = "";
	size_t o = 0;
	int r;

	r = session(j, &s, e);
	if (r < 0)
		return r;
	r = read_jedec(j, s, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rc->n_jedec; i++) {
		if (rc->jedec[i] == s->jedec)
			return 0;
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%06x", i ? ", " : "",
				      rc->jedec[i]);
		if (o >= sizeof(list))
			break;
	}
	return err_set(e, -EMEDIUMTYPE, "flash JEDEC ID %06x is not one the recipe accepts (%s)",
		       s->jedec, list);
}

/*
 * The NOR description: the SPI-NOR parts table's entry for the ID, else
 * the recipe's "nor" parameters, else a failure naming the ID.
 */
static int nor_for_jedec(const struct recipe_ingenic_config *a, uint32_t jedec,
			 struct ingenic_nor_info *nor, struct err *e)
{
	struct spinor_part given = {
		.name = "recipe",
		.size = a->nor.size,
		.page = (uint16_t)a->nor.page_size,
		.op_se_4k = SPINOR_OP_SE_4K,
		.op_be_32k = SPINOR_OP_BE_32K,
		.op_be_64k = SPINOR_OP_BE_64K,
		.addr = a->nor.size > SPINOR_3B_LIMIT ? SPINOR_ADDR_4B_OPS : SPINOR_ADDR_3B,
		.qe = (enum spinor_qe)a->nor.quad_enable,
		.op_pp_quad = SPINOR_OP_PP_QUAD,
	};

	return ingenic_cfg_nor_for_jedec(jedec, a->nor.given ? &given : NULL, nor, e);
}

static int cfg_from_stage(const struct recipe_ingenic_config *a, uint32_t jedec,
			  struct ingenic_cfg *c, struct err *e)
{
	int r;

	ingenic_cfg_init(c);
	switch (a->flash) {
	case RECIPE_FLASH_SFC_NOR:
		c->flash = INGENIC_FLASH_SFC_NOR;
		break;
	case RECIPE_FLASH_SFC_NAND:
	case RECIPE_FLASH_MMC0:
	case RECIPE_FLASH_MMC1:
	case _RECIPE_FLASH_MAX:
	case _RECIPE_FLASH_INVALID:
		return err_set(e, -EOPNOTSUPP,
			       "only SFC NOR flash is supported by this flashd build");
	}
	switch (a->erase) {
	case RECIPE_ERASE_CHIP:
		c->erase = INGENIC_ERASE_CHIP;
		break;
	case RECIPE_ERASE_PARTITION:
		c->erase = INGENIC_ERASE_PARTITION;
		break;
	default:
		/*
		 * "blocks" ("none"): the burner cannot program NOR without
		 * erasing (§3.6); the least it erases is the range each write
		 * covers.
		 */
		c->erase = INGENIC_ERASE_RANGE;
		break;
	}
	for (size_t i = 0; i < a->n_partitions; i++) {
		const struct recipe_partition *p = &a->partitions[i];

		r = ingenic_cfg_add_partition(c, p->name, (uint32_t)p->offset, (uint32_t)p->size,
					      e);
		if (r < 0)
			return r;
	}
	c->quad = a->quad;
	r = nor_for_jedec(a, jedec, &c->nor, e);
	if (r < 0 || a->n_partitions)
		return r;
	/*
	 * No table in the recipe (raw offsets): the burner refuses writes
	 * outside every partition (§3.6), so it gets one over the whole chip,
	 * as the vendor's prj008 table has "all" (§3.4).
	 */
	return ingenic_cfg_add_partition(c, "all", 0, c->nor.chip_size, e);
}

/*
 * Recipe check planned the erases (jobs/recipe-plan-ingenic.c) without the
 * chip; before INIT (a chip erase) or any write erases, the flash this
 * device reports must hold every partition of the session's configs and
 * erase in the planned blocks.  ingenic_cfg_build() checks the config it
 * sends too, but a later config of the session would only fail after
 * earlier writes erased.
 */
static int plan_holds(struct job *j, const struct recipe_ingenic_config *a,
		      const struct ingenic_nor_info *nor, struct err *e)
{
	const struct recipe *rc = j->recipe;

	for (size_t i = 0; i < rc->n_stages; i++)
		if (&rc->stages[i].u.ingenic_config == a)
			return recipe_ingenic_plan_holds(rc, i, nor->jedec, nor->chip_size,
							 nor->erase_size, e);
	return 0;
}

static int configure(struct job *j, struct ingenic_session *s,
		     const struct recipe_ingenic_config *a, struct err *e)
{
	struct ingenic_cfg c;
	int r;

	r = ensure_burner(j, s, e);
	if (r < 0)
		return r;
	/* The NOR parameters depend on the chip: read its JEDEC ID if no stage did. */
	if (!s->have_jedec) {
		r = read_jedec(j, s, e);
		if (r < 0)
			return r;
	}
	r = cfg_from_stage(a, s->jedec, &c, e);
	if (r < 0)
		return r;
	r = plan_holds(j, a, &c.nor, e);
	if (r < 0)
		return r;
	r = burner_configure(s->burner, &c, e);
	if (r < 0)
		return r;
	s->configured = true;
	return 0;
}

/*
 * A write on a fresh engine (a retry reopened the session) must bring the
 * burner back to the config of the ingenic.config stage before it: the
 * recipe checker guarantees there is one on this device.
 */
static int ensure_configured(struct job *j, struct ingenic_session *s,
			     const struct recipe_stage *st, struct err *e)
{
	size_t idx = (size_t)(st - j->recipe->stages);

	if (s->configured)
		return 0;
	while (idx-- > 0) {
		const struct recipe_stage *c = &j->recipe->stages[idx];

		if (c->op == RECIPE_OP_INGENIC_CONFIG) {
			int r = configure(j, s, &c->u.ingenic_config, e);

			if (r < 0) {
				err_prefix(e, r, "restoring the flash config");
				return r;
			}
			return 0;
		}
	}
	return err_set(e, -EPROTO, "no ingenic.config stage before this write");
}

/* The ingenic.config in effect for write stage st (recipe check guarantees one). */
static const struct recipe_ingenic_config *config_of(const struct job *j,
						     const struct recipe_stage *st)
{
	for (size_t idx = (size_t)(st - j->recipe->stages); idx-- > 0;)
		if (j->recipe->stages[idx].op == RECIPE_OP_INGENIC_CONFIG)
			return &j->recipe->stages[idx].u.ingenic_config;
	return NULL;
}

/*
 * With erase "blocks" the stage row says what the burner erased: every
 * erase block the write touched (MTD_D_MODE, §3.6), in the block size the
 * plan holds for this chip (recipe_ingenic_plan_holds()).
 */
static void note_erase(struct job *j, const struct recipe_stage *st, size_t len)
{
	const struct recipe_ingenic_config *c = config_of(j, st);
	uint64_t blk = RECIPE_INGENIC_PLAN_ERASE, off = st->u.ingenic_write.offset;

	if (!c || c->erase != RECIPE_ERASE_BLOCKS || len == 0)
		return;
	job_stage_note(j,
		       "erase blocks: 0x%08llx-0x%08llx (the %llu KiB blocks this write touches)",
		       (unsigned long long)(off / blk * blk),
		       (unsigned long long)((off + len + blk - 1) / blk * blk - 1),
		       (unsigned long long)(blk / 1024));
}

static int stage_write(struct job *j, const struct recipe_stage *st, const char *name,
		       struct err *e)
{
	const struct recipe_ingenic_write *a = &st->u.ingenic_write;
	struct burner_result res = { 0 };
	struct ingenic_session *s;
	struct image *img = NULL;
	char target[64];
	bool complete, verified;
	size_t img_size;
	int r;

	r = session(j, &s, e);
	if (r < 0)
		return r;
	r = ensure_burner(j, s, e);
	if (r < 0)
		return r;
	r = ensure_configured(j, s, st, e);
	if (r < 0)
		return r;
	r = job_image_get(j, &a->image, &img, e);
	if (r < 0)
		return r;
	r = burner_write(s->burner, a->offset, img->data, img->size,
			 a->verify == RECIPE_VERIFY_READBACK ? BURNER_VERIFY_READBACK : 0,
			 job_progress_cb, j, &res, e);
	complete = res.bytes_written == img->size;
	/* img->data stays mapped: the job holds its own reference (map_images()). */
	if (r >= 0)
		job_plan_write(j,
			       &(struct job_range){ .mem = JOB_MEM_NOR,
						    .addr = a->offset,
						    .len = img->size,
						    .data = img->data,
						    .stage = (unsigned)(st - j->recipe->stages),
						    /* burner_write() reads back after all chunks */
						    .read_back_last = res.verified });
	img_size = img->size;
	image_put(j->env->images, img);

	if (a->partition)
		snprintf(target, sizeof(target), "nor:%s@0x%08llx", a->partition,
			 (unsigned long long)a->offset);
	else
		snprintf(target, sizeof(target), "nor:0x%08llx", (unsigned long long)a->offset);
	/*
	 * verified: read back and identical, or (crc32) every chunk's JAMCRC
	 * and the burner's own write-back compare acknowledged.  The device
	 * CRC is only recorded when the data came back from the device.
	 */
	verified = res.verified ||
		   (a->verify == RECIPE_VERIFY_CRC32 && r >= 0 && complete && res.device_checked);
	if (r >= 0 || res.bytes_written > 0)
		job_record_image(j, &(struct job_image_row){
					    .stage = name,
					    .target = target,
					    .image = &a->image,
					    .has_host_crc = complete,
					    .host_crc = res.host_crc,
					    .has_dev_crc = res.bytes_verified > 0,
					    .dev_crc = res.dev_crc,
					    .verified = verified,
				    });
	if (r >= 0)
		note_erase(j, st, img_size);
	return r;
}

/* The Ingenic ops' runners (jobs/recipe-op-list.h). */
int job_run_ingenic_boot(struct job *j, const struct recipe_stage *st, const char *name,
			 struct err *e)
{
	return stage_boot(j, st, name, e);
}

int job_run_ingenic_check_jedec(struct job *j, const struct recipe_stage *st, const char *name,
				struct err *e)
{
	(void)st, (void)name;
	return stage_check_jedec(j, e);
}

int job_run_ingenic_config(struct job *j, const struct recipe_stage *st, const char *name,
			   struct err *e)
{
	struct ingenic_session *s = NULL;
	int r;

	(void)name;
	r = session(j, &s, e);
	if (r < 0)
		return r;
	r = configure(j, s, &st->u.ingenic_config, e);
	/* A chip erase the recipe asks for wipes what earlier writes left
	 * (one restored for a retried write does not: that is a loss). */
	if (r >= 0 && st->u.ingenic_config.erase == RECIPE_ERASE_CHIP)
		job_plan_erase(j, JOB_MEM_NOR, 0, NULL, 0, UINT64_MAX);
	return r;
}

int job_run_ingenic_write(struct job *j, const struct recipe_stage *st, const char *name,
			  struct err *e)
{
	return stage_write(j, st, name, e);
}

int job_run_ingenic_reboot(struct job *j, const struct recipe_stage *st, const char *name,
			   struct err *e)
{
	struct ingenic_session *s = NULL;
	bool gone = false;
	int r;

	(void)st, (void)name;
	r = session(j, &s, e);
	if (r == 0)
		r = ensure_burner(j, s, e);
	if (r < 0)
		return r;
	return burner_reboot(s->burner, &gone, e);
}

int job_run_ingenic_secure_boot(struct job *j, const struct recipe_stage *st, const char *name,
				struct err *e)
{
	(void)j, (void)st;
	return err_set(e, -EOPNOTSUPP,
		       "stage '%s': secure boot / eFuse burning is not supported by flashd", name);
}

int job_ingenic_read(struct job *j, const struct recipe_stage *writer, uint64_t off, uint8_t *buf,
		     size_t len, struct err *e)
{
	struct ingenic_session *s = NULL;
	int r;

	r = session(j, &s, e);
	if (r == 0)
		r = ensure_burner(j, s, e);
	if (r == 0)
		r = ensure_configured(j, s, writer, e);
	if (r < 0)
		return r;
	return burner_read(s->burner, off, buf, len, NULL, NULL, e);
}
