/*
 * This file implements the write path of a unit's row (see db/units.h):
 * one prepared statement per call, each an implicit single-statement
 * transaction, so every call is atomic and durable on its own.
 */
#include "db/units.h"
#include "db/db-private.h"

#include <errno.h>

static int check_str(const char *s, const char *what, struct err *err)
{
	if (!s || !*s)
		return err_set(err, -EINVAL, "unit: no %s", what);
	return 0;
}

/* Why did a statement guarded by "unit is running" change nothing? */
static int explain_not_running(struct db *db, int64_t unit_id, const char *what, struct err *err)
{
	_cleanup_reset_ sqlite3_stmt *s = NULL;
	int rc;

	rc = db_stmt(db, DB_STMT_UNIT_STATE, "SELECT result FROM units WHERE id = ?", &s, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return err_set(err, -ENOENT, "%s: no unit %lld", what, (long long)unit_id);
	if (rc != SQLITE_ROW)
		return db_sql_err(db, rc, err, "%s: unit %lld", what, (long long)unit_id);
	return err_set(err, -EALREADY, "%s: unit %lld is already finished (%s)", what,
		       (long long)unit_id, db_col_text(s, 0));
}

static int check_start(const struct db_unit_start *start, struct err *err)
{
	int rc;

	if ((rc = check_str(start->station, "station", err)) < 0 ||
	    (rc = check_str(start->port, "port", err)) < 0 ||
	    (rc = check_str(start->recipe, "recipe", err)) < 0 ||
	    (rc = check_str(start->flashd_version, "flashd version", err)) < 0)
		return rc;
	return 0;
}

int db_unit_begin(struct db *db, const struct db_unit_start *start, int64_t *unit_id,
		  struct err *err)
{
	_cleanup_reset_ sqlite3_stmt *s = NULL;
	int rc;

	if (!start || !unit_id)
		return err_set(err, -EINVAL, "unit begin: no arguments");
	if ((rc = check_start(start, err)) < 0)
		return rc;

	rc = db_stmt(db, DB_STMT_UNIT_BEGIN,
		     "INSERT INTO units (station, port, slot, recipe, recipe_sha256, vid, pid, "
		     "serial, started_at, flashd_version, result) "
		     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running')",
		     &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, start->station);
	db_bind_text(s, 2, start->port);
	db_bind_text(s, 3, start->slot);
	db_bind_text(s, 4, start->recipe);
	db_bind_text(s, 5, start->recipe_sha256);
	sqlite3_bind_int(s, 6, start->vid);
	sqlite3_bind_int(s, 7, start->pid);
	db_bind_text(s, 8, start->serial);
	sqlite3_bind_int64(s, 9, start->started_at > 0 ? start->started_at : db_now_ms());
	db_bind_text(s, 10, start->flashd_version);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "unit begin on port '%s'", start->port);
	*unit_id = sqlite3_last_insert_rowid(db->sql);
	return 0;
}

/* Insert every row of a burst; the caller holds the transaction. */
static int insert_many(struct db *db, const struct db_unit_start *starts, size_t n,
		       int64_t *unit_ids, struct err *err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = db_unit_begin(db, &starts[i], &unit_ids[i], err);

		if (rc < 0)
			return rc;
	}
	return 0;
}

int db_units_begin_many(struct db *db, const struct db_unit_start *starts, size_t n,
			int64_t *unit_ids, struct err *err)
{
	int rc;

	if (!starts || !unit_ids || !n)
		return err_set(err, -EINVAL, "unit begin: no arguments");
	for (size_t i = 0; i < n; i++)
		unit_ids[i] = 0;
	for (size_t i = 0; i < n; i++)
		if ((rc = check_start(&starts[i], err)) < 0)
			return rc;
	rc = db_exec(db, "BEGIN IMMEDIATE", "begin the units of a burst", err);
	if (rc < 0)
		return rc;
	rc = insert_many(db, starts, n, unit_ids, err);
	if (rc >= 0)
		rc = db_exec(db, "COMMIT", "commit the units of a burst", err);
	if (rc < 0) {
		/* None of the rows is durable: no id may escape. */
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
		for (size_t i = 0; i < n; i++)
			unit_ids[i] = 0;
	}
	return rc;
}

int db_unit_set_identity(struct db *db, int64_t unit_id, const struct db_unit_identity *id,
			 struct err *err)
{
	_cleanup_reset_ sqlite3_stmt *s = NULL;
	int rc;

	if (!id)
		return err_set(err, -EINVAL, "unit identity: no arguments");
	rc = db_stmt(db, DB_STMT_UNIT_IDENTITY,
		     "UPDATE units SET serial = coalesce(?, serial), "
		     "chip_uid = coalesce(?, chip_uid), jedec_id = coalesce(?, jedec_id) "
		     "WHERE id = ?",
		     &s, err);
	if (rc < 0)
		return rc;
	db_bind_text(s, 1, id->serial);
	db_bind_text(s, 2, id->chip_uid);
	db_bind_text(s, 3, id->jedec_id);
	sqlite3_bind_int64(s, 4, unit_id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "unit %lld: set identity", (long long)unit_id);
	if (sqlite3_changes(db->sql) == 0)
		return err_set(err, -ENOENT, "unit identity: no unit %lld", (long long)unit_id);
	return 0;
}

static bool stage_result_ok(enum db_result r)
{
	return r == DB_RESULT_PASS || r == DB_RESULT_FAIL || r == DB_RESULT_INTERRUPTED;
}

int db_unit_stage(struct db *db, int64_t unit_id, const struct db_unit_stage *st, struct err *err)
{
	_cleanup_reset_ sqlite3_stmt *s = NULL;
	int rc;

	if (!st)
		return err_set(err, -EINVAL, "unit stage: no arguments");
	if ((rc = check_str(st->name, "stage name", err)) < 0)
		return rc;
	if (!stage_result_ok(st->result))
		return err_set(err, -EINVAL, "unit %lld: stage '%s': invalid result %d",
			       (long long)unit_id, st->name, st->result);

	rc = db_stmt(db, DB_STMT_UNIT_STAGE,
		     "INSERT INTO unit_stages (unit_id, idx, name, result, error, started_at, "
		     "duration_ms) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 "
		     "WHERE EXISTS (SELECT 1 FROM units WHERE id = ?1 AND result = 'running')",
		     &s, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	sqlite3_bind_int(s, 2, st->idx);
	db_bind_text(s, 3, st->name);
	db_bind_text(s, 4, db_result_name(st->result));
	db_bind_text(s, 5, st->error);
	sqlite3_bind_int64(s, 6, st->started_at > 0 ? st->started_at : db_now_ms());
	if (st->duration_ms >= 0)
		sqlite3_bind_int64(s, 7, st->duration_ms);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "unit %lld: stage %d '%s'", (long long)unit_id,
				  st->idx, st->name);
	if (sqlite3_changes(db->sql) == 0)
		return explain_not_running(db, unit_id, "unit stage", err);
	return 0;
}

int db_unit_image(struct db *db, int64_t unit_id, const struct db_unit_image *im, struct err *err)
{
	_cleanup_reset_ sqlite3_stmt *s = NULL;
	int rc;

	if (!im)
		return err_set(err, -EINVAL, "unit image: no arguments");
	if ((rc = check_str(im->stage, "image stage", err)) < 0 ||
	    (rc = check_str(im->file, "image file", err)) < 0)
		return rc;

	rc = db_stmt(db, DB_STMT_UNIT_IMAGE,
		     "INSERT INTO unit_images (unit_id, stage, target, file, size, sha256, "
		     "host_crc32, device_crc32, verified) "
		     "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 "
		     "WHERE EXISTS (SELECT 1 FROM units WHERE id = ?1 AND result = 'running')",
		     &s, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	db_bind_text(s, 2, im->stage);
	db_bind_text(s, 3, im->target);
	db_bind_text(s, 4, im->file);
	if (im->size >= 0)
		sqlite3_bind_int64(s, 5, im->size);
	db_bind_text(s, 6, im->sha256);
	if (im->has_host_crc32)
		sqlite3_bind_int64(s, 7, im->host_crc32);
	if (im->has_device_crc32)
		sqlite3_bind_int64(s, 8, im->device_crc32);
	sqlite3_bind_int(s, 9, im->verified ? 1 : 0);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "unit %lld: image '%s'", (long long)unit_id,
				  im->file);
	if (sqlite3_changes(db->sql) == 0)
		return explain_not_running(db, unit_id, "unit image", err);
	return 0;
}

int db_unit_finish(struct db *db, int64_t unit_id, enum db_result result, const char *failed_stage,
		   const char *error, struct err *err)
{
	_cleanup_reset_ sqlite3_stmt *s = NULL;
	int64_t now = db_now_ms();
	int rc;

	if (result != DB_RESULT_PASS && result != DB_RESULT_FAIL && result != DB_RESULT_INTERRUPTED)
		return err_set(err, -EINVAL, "unit %lld: cannot finish with result %d",
			       (long long)unit_id, result);

	/*
	 * NEEDSWORK: duration is wall-clock; a clock step during the job (NTP
	 * at station boot) skews it.  The job runner could pass a monotonic
	 * duration instead.
	 */
	rc = db_stmt(db, DB_STMT_UNIT_FINISH,
		     "UPDATE units SET result = ?2, failed_stage = ?3, error = ?4, "
		     "finished_at = ?5, duration_ms = max(0, ?5 - started_at) "
		     "WHERE id = ?1 AND result = 'running'",
		     &s, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, unit_id);
	db_bind_text(s, 2, db_result_name(result));
	db_bind_text(s, 3, failed_stage);
	db_bind_text(s, 4, error);
	sqlite3_bind_int64(s, 5, now);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "unit %lld: finish", (long long)unit_id);
	if (sqlite3_changes(db->sql) == 0)
		return explain_not_running(db, unit_id, "unit finish", err);
	return 0;
}
