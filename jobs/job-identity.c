/*
 * This file implements the job's side of identity pools (issue 18): the
 * unit's values are taken from the recipe's pools after its row is
 * written and before any USB transfer (db/pool.h "Order of calls for a
 * job"), its identity images are generated in memory from them, and the
 * stages write those bytes as they would a file's (job_image_get(), so the
 * memory plan and whole-unit verification apply unchanged).  Before the
 * first stage that may change the device the values are marked written;
 * when the unit ends they are settled by its result.
 */
#include "jobs/job-identity.h"

#include "common/log.h"
#include "db/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One generated image: what stages map, and the row's file, size and digest. */
struct job_identity_image {
	struct image img;	 /* data malloc'd here; refs never reach 0 through image_put() */
	struct recipe_image row; /* file "identity:NAME", size, sha256 of the bytes */
};

struct job_identity {
	struct db_identities ids;
	struct identity_value *values; /* keys as templates name them */
	char (*keys)[80];
	size_t n_values;
	struct job_identity_image *images; /* one per recipe.identity.images */
	size_t n_images;
	bool written; /* db_pool_mark_written() done */
};

/* Stages that send nothing to the device's storage: the op table says. */
static bool op_writes(enum recipe_op op)
{
	const struct recipe_op_desc *d = recipe_op_desc(op);

	return !d || !d->stores_nothing; /* unknown: count it as a write */
}

static void db_lock(struct job *j)
{
	pthread_mutex_lock(j->env->db_lock);
}

static void db_unlock(struct job *j)
{
	pthread_mutex_unlock(j->env->db_lock);
}

/*
 * Keys {POOL} (first value) and {POOLn}: each pool's values in order, as
 * allocated.  Every {POOL} comes first, so a pool named "mac1" wins over
 * value 1 of pool "mac" as recipe_identity_key_pool() decides.
 */
static int build_values(struct job_identity *id, const struct recipe_identity *ri)
{
	size_t n = 0;

	id->values = calloc(2 * id->ids.n + 1, sizeof(*id->values));
	id->keys = calloc(2 * id->ids.n + 1, sizeof(*id->keys));
	if (!id->values || !id->keys)
		return -ENOMEM;
	for (size_t p = 0; p < ri->n_pools; p++)
		for (size_t i = 0; i < id->ids.n; i++)
			if (strcmp(id->ids.v[i].pool, ri->pools[p]) == 0) {
				snprintf(id->keys[n], sizeof(id->keys[n]), "%.64s", ri->pools[p]);
				id->values[n] =
					(struct identity_value){ id->keys[n], id->ids.v[i].value };
				n++;
				break;
			}
	for (size_t p = 0; p < ri->n_pools; p++) {
		unsigned nth = 0;

		for (size_t i = 0; i < id->ids.n; i++) {
			if (strcmp(id->ids.v[i].pool, ri->pools[p]) != 0)
				continue;
			snprintf(id->keys[n], sizeof(id->keys[n]), "%.64s%u", ri->pools[p], nth++);
			id->values[n] = (struct identity_value){ id->keys[n], id->ids.v[i].value };
			n++;
		}
	}
	id->n_values = n;
	return 0;
}

/* The list value's file, checked against the digest pinned at import, padded to size. */
static int image_file(const struct job_identity *id, const struct recipe_identity_image *t,
		      uint8_t **out, struct err *e)
{
	const struct db_identity *v = NULL;
	struct recipe_sha256 c;
	uint8_t sha[RECIPE_SHA256_LEN];
	char hex[65];
	uint8_t *buf;
	ssize_t n;
	int fd;

	for (size_t i = 0; i < id->ids.n && !v; i++)
		if (strcmp(id->ids.v[i].pool, t->pool) == 0)
			v = &id->ids.v[i];
	if (!v || !v->file)
		return err_set(e, -EINVAL, "identity image '%s': pool '%s' gave no file", t->name,
			       t->pool);
	buf = malloc(t->size + 1);
	if (!buf)
		return err_set(e, -ENOMEM, "out of memory");
	fd = open_regular(v->file);
	if (fd < 0) {
		free(buf);
		return err_set(
			e, fd,
			"identity image '%s': cannot open '%s' (value '%s' of pool '%s'): %s",
			t->name, v->file, v->value, t->pool, strerror(-fd));
	}
	n = read(fd, buf, t->size + 1);
	close(fd);
	if (n < 0 || (size_t)n > t->size) {
		free(buf);
		return err_set(e, n < 0 ? -EIO : -ENOSPC, "identity image '%s': '%s' %s", t->name,
			       v->file,
			       n < 0 ? "cannot be read" : "is larger than the image's size");
	}
	recipe_sha256_init(&c);
	recipe_sha256_update(&c, buf, (size_t)n);
	recipe_sha256_final(&c, sha);
	recipe_sha256_hex(sha, hex);
	if (v->file_sha256 && strcasecmp(hex, v->file_sha256) != 0) {
		free(buf);
		return err_set(
			e, -EILSEQ,
			"identity image '%s': '%s' changed since its import (sha256 %s, imported %s)",
			t->name, v->file, hex, v->file_sha256);
	}
	memset(buf + n, t->fill, t->size - (size_t)n);
	*out = buf;
	return 0;
}

static int generate(const struct job_identity *id, const struct recipe_identity_image *t,
		    uint8_t **out, size_t *len, struct err *e)
{
	int r;

	switch (t->kind) {
	case RECIPE_IDENTITY_RAW:
		r = identity_image_raw(&t->raw, id->values, id->n_values, out, len, e);
		break;
	case RECIPE_IDENTITY_UBOOT_ENV:
		r = identity_image_uboot_env(&t->env, id->values, id->n_values, out, len, e);
		break;
	case RECIPE_IDENTITY_FILE:
		*len = t->size;
		return image_file(id, t, out, e);
	default:
		return err_set(e, -EINVAL, "identity image '%s': unknown kind", t->name);
	}
	if (r < 0)
		return err_prefix(e, r, "identity image '%s'", t->name);
	if (*len != t->size) {
		free(*out);
		return err_set(e, -EINVAL, "identity image '%s': %zu bytes, the recipe says %zu",
			       t->name, *len, t->size);
	}
	return 0;
}

/* (Re)generate every image in place: the stages keep pointers into them. */
static int generate_all(struct job *j, struct err *e)
{
	struct job_identity *id = j->identity;
	const struct recipe_identity *ri = &j->recipe->identity;

	for (size_t i = 0; i < ri->n_images; i++) {
		struct job_identity_image *gi = &id->images[i];
		struct recipe_sha256 c;
		uint8_t *buf = NULL;
		size_t len = 0;
		int r = generate(id, &ri->images[i], &buf, &len, e);

		if (r < 0)
			return r;
		if (gi->img.data) {
			/* Stages hold references: same bytes place, same count. */
			memcpy((void *)gi->img.data, buf, len);
			free(buf);
		} else {
			gi->img.data = buf;
			gi->img.refs = 1; /* the job's own: image_put() never frees it */
		}
		gi->img.size = len;
		recipe_sha256_init(&c);
		recipe_sha256_update(&c, gi->img.data, len);
		recipe_sha256_final(&c, gi->row.sha256);
		memcpy(gi->img.sha256, gi->row.sha256, RECIPE_SHA256_LEN);
		gi->row.size = gi->row.write_size = len;
		gi->row.identity = (unsigned)i + 1;
		if (!gi->row.file &&
		    asprintf(&gi->row.file, "identity:%s", ri->images[i].name) < 0) {
			gi->row.file = NULL;
			return err_set(e, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

/* "serial=SN26100000012 mac=02:00:00:00:00:01,02:00:00:00:00:02" for the log. */
static void log_values(struct job *j, const struct log_ctx *c, const char *how)
{
	const struct db_identities *ids = &j->identity->ids;
	char text[1024] = "";
	size_t o = 0;

	for (size_t i = 0; i < ids->n && o < sizeof(text); i++) {
		bool same = i > 0 && strcmp(ids->v[i - 1].pool, ids->v[i].pool) == 0;

		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s%s%s",
				      same ? ","
				      : i  ? " "
					   : "",
				      same ? "" : ids->v[i].pool, same ? "" : "=", ids->v[i].value);
	}
	log_ev(LOG_INFO, NULL, c, "Unit %lld identity (%s): %s", (long long)j->unit_id, how, text);
}

int job_identity_begin(struct job *j, const struct log_ctx *c, struct err *e)
{
	const struct recipe_identity *ri = &j->recipe->identity;
	struct job_identity *id;
	int r;

	if (!ri->n_pools)
		return 0;
	id = calloc(1, sizeof(*id));
	if (!id)
		return err_set(e, -ENOMEM, "out of memory");
	j->identity = id;
	id->images = calloc(ri->n_images + 1, sizeof(*id->images));
	if (!id->images)
		return err_set(e, -ENOMEM, "out of memory");
	id->n_images = ri->n_images;
	db_lock(j);
	r = db_pool_allocate(j->env->db, j->unit_id, j->env->station,
			     (const char *const *)ri->pools, ri->n_pools, 0, &id->ids, e);
	db_unlock(j);
	if (r < 0)
		return err_prefix(e, r, "no identity for the unit: nothing sent to the board");
	if (build_values(id, ri) < 0)
		return err_set(e, -ENOMEM, "out of memory");
	log_values(j, c, "allocated");
	r = generate_all(j, e);
	if (r < 0)
		return err_prefix(e, r, "nothing sent to the board");
	return 0;
}

int job_identity_image(struct job *j, const struct recipe_image *ri, struct image **ret,
		       struct err *e)
{
	struct job_identity *id = j->identity;

	if (!id || ri->identity < 1 || ri->identity > id->n_images ||
	    !id->images[ri->identity - 1].img.data)
		return err_set(e, -EINVAL, "'%s': the unit has no identity image", ri->file);
	/* Counted like the cache's images: each image_put() gives one back. */
	id->images[ri->identity - 1].img.refs++;
	*ret = &id->images[ri->identity - 1].img;
	return 0;
}

const struct recipe_image *job_identity_row_image(const struct job *j,
						  const struct recipe_image *ri)
{
	const struct job_identity *id = j->identity;

	if (!ri || !ri->identity || !id || ri->identity > id->n_images)
		return ri;
	return &id->images[ri->identity - 1].row;
}

/*
 * Rework keeps identity: at the last point before the first write the
 * board's chip UID and serial are as known as they will be before writing
 * (STM32: dfuse.read_uid, i.MX: the fastboot serial, Ingenic: the eFuse
 * read), so the board's earlier values, if it passed before, replace the
 * ones allocated at the start, and the images are generated again.
 */
static int rework(struct job *j, struct err *e)
{
	const struct recipe_identity *ri = &j->recipe->identity;
	struct job_identity *id = j->identity;
	struct log_ctx c = { .port = j->cur.port,
			     .slot = j->slot,
			     .unit = j->unit_id,
			     .serial = j->serial[0] ? j->serial : NULL };
	int64_t from = 0;
	int r;

	if (ri->rework_new)
		return 0;
	db_lock(j);
	r = db_pool_reuse_identity(j->env->db, j->unit_id, j->serial, j->chip_uid,
				   (const char *const *)ri->pools, ri->n_pools, &id->ids, &from, e);
	db_unlock(j);
	if (r <= 0)
		return r < 0 ? err_prefix(e, r, "rework: nothing written") : 0;
	free(id->values);
	free(id->keys);
	id->values = NULL;
	id->keys = NULL;
	if (build_values(id, ri) < 0)
		return err_set(e, -ENOMEM, "out of memory");
	log_ev(LOG_INFO, NULL, &c,
	       "Unit %lld is a board that passed as unit %lld: it keeps its identity",
	       (long long)j->unit_id, (long long)from);
	log_values(j, &c, "rework");
	r = generate_all(j, e);
	return r < 0 ? err_prefix(e, r, "rework: nothing written") : 0;
}

int job_identity_before_stage(struct job *j, const struct recipe_stage *st, struct err *e)
{
	struct job_identity *id = j->identity;
	int r;

	if (!id || id->written || !op_writes(st->op))
		return 0;
	r = rework(j, e);
	if (r < 0)
		return r;
	db_lock(j);
	r = db_pool_mark_written(j->env->db, j->unit_id, e);
	db_unlock(j);
	if (r < 0)
		return err_prefix(
			e, r,
			"cannot record that the unit's identity is being written: nothing written");
	id->written = true;
	return 0;
}

void job_identity_finish(struct job *j, enum db_result result, const struct log_ctx *c)
{
	struct err e = { 0 };
	int r;

	if (!j->identity)
		return;
	db_lock(j);
	r = db_pool_unit_finish(j->env->db, j->unit_id, result, j->identity->written, &e);
	db_unlock(j);
	/* db_pool_recover() at the next start settles what could not be now. */
	if (r < 0)
		log_ev(LOG_ERR, NULL, c, "Cannot settle the identity of unit %lld now: %s",
		       (long long)j->unit_id, e.msg);
}

void job_identity_free(struct job *j)
{
	struct job_identity *id = j->identity;

	if (!id)
		return;
	for (size_t i = 0; i < id->n_images; i++) {
		free((void *)id->images[i].img.data);
		free(id->images[i].row.file);
	}
	free(id->images);
	free(id->values);
	free(id->keys);
	db_identities_clear(&id->ids);
	free(id);
	j->identity = NULL;
}
