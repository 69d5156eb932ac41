/*
 * This file implements the queue of unit records the database could not
 * take yet (db/pending.h): text lines in memory and in a journal file,
 * written to the database in order, idempotently, once it takes writes.
 *
 * A line is a kind letter and tab-separated fields; a string field is "~"
 * for NULL or "=" and the text with backslash, tab and newline escaped:
 *   I unit serial chip_uid jedec_id
 *   S unit idx result started_at duration_ms name error
 *   M unit size host_crc32 device_crc32 verified stage target file sha256
 *   F unit result finished_at failed_stage error
 * (crc fields are "~" when unknown).  The file starts with a header line
 * naming the database.
 */
#include "db/pending.h"
#include "db/db-private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_MAGIC "flashd-pending 1"
#define FIELDS_MAX 12

struct pline {
	char *text; /* without the newline */
	int64_t unit;
};

struct db_pending {
	pthread_mutex_t lock;
	char *journal_path; /* NULL: memory only */
	char *db_path;
	int fd; /* journal, open while records are queued; -1 otherwise */
	struct pline *v;
	size_t n, cap, bytes;
	int64_t *units; /* distinct units of v */
	size_t n_units, cap_units;
	bool blocked;
	char why[ERR_MSG_MAX];
	char journal_err[ERR_MSG_MAX];
};

bool db_error_is_storage(int r)
{
	/* The errors of db/units.h that describe the record, not the storage:
	 * writing the same record again cannot succeed. */
	return r < 0 && r != -EINVAL && r != -ENOENT && r != -EALREADY && r != -EEXIST;
}

/* ---- text form ---------------------------------------------------------- */

static void put_str(FILE *f, const char *s)
{
	fputc('\t', f);
	if (!s) {
		fputc('~', f);
		return;
	}
	fputc('=', f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void put_int(FILE *f, int64_t v)
{
	fprintf(f, "\t%" PRId64, v);
}

static void put_opt_u32(FILE *f, bool has, uint32_t v)
{
	if (has)
		fprintf(f, "\t%" PRIu32, v);
	else
		fputs("\t~", f);
}

static void put_rec(FILE *f, const struct db_rec *r)
{
	static const char kinds[_DB_REC_MAX] = { [DB_REC_IDENTITY] = 'I',
						 [DB_REC_STAGE] = 'S',
						 [DB_REC_IMAGE] = 'M',
						 [DB_REC_FINISH] = 'F' };

	fputc(kinds[r->kind], f);
	put_int(f, r->unit_id);
	switch (r->kind) {
	case DB_REC_IDENTITY:
		put_str(f, r->u.identity.serial);
		put_str(f, r->u.identity.chip_uid);
		put_str(f, r->u.identity.jedec_id);
		break;
	case DB_REC_STAGE:
		put_int(f, r->u.stage.idx);
		put_int(f, r->u.stage.result);
		put_int(f, r->u.stage.started_at);
		put_int(f, r->u.stage.duration_ms);
		put_str(f, r->u.stage.name);
		put_str(f, r->u.stage.error);
		break;
	case DB_REC_IMAGE:
		put_int(f, r->u.image.size);
		put_opt_u32(f, r->u.image.has_host_crc32, r->u.image.host_crc32);
		put_opt_u32(f, r->u.image.has_device_crc32, r->u.image.device_crc32);
		put_int(f, r->u.image.verified);
		put_str(f, r->u.image.stage);
		put_str(f, r->u.image.target);
		put_str(f, r->u.image.file);
		put_str(f, r->u.image.sha256);
		break;
	case DB_REC_FINISH:
		put_int(f, r->u.finish.result);
		put_int(f, r->u.finish.finished_at);
		put_str(f, r->u.finish.failed_stage);
		put_str(f, r->u.finish.error);
		break;
	case _DB_REC_MAX:
		break;
	}
}

/* The record as one line (malloc'd, no newline), or NULL on -ENOMEM. */
static char *format_rec(const struct db_rec *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	put_rec(f, r);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Unescape a string field in place; "~" is NULL. */
static int get_str(char *field, const char **out)
{
	char *w;

	if (!strcmp(field, "~")) {
		*out = NULL;
		return 0;
	}
	if (field[0] != '=')
		return -EBADMSG;
	w = field;
	for (char *p = field + 1; *p; p++) {
		if (*p == '\\') {
			p++;
			if (*p == 't')
				*w++ = '\t';
			else if (*p == 'n')
				*w++ = '\n';
			else if (*p == '\\')
				*w++ = '\\';
			else
				return -EBADMSG;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	*out = field;
	return 0;
}

static int get_int(const char *field, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(field, &end, 10);
	if (errno || end == field || *end || v < min || v > max)
		return -EBADMSG;
	*out = v;
	return 0;
}

static int get_opt_u32(const char *field, bool *has, uint32_t *out)
{
	int64_t v;

	*has = strcmp(field, "~") != 0;
	if (!*has)
		return 0;
	if (get_int(field, 0, UINT32_MAX, &v) < 0)
		return -EBADMSG;
	*out = (uint32_t)v;
	return 0;
}

static bool result_ok(int64_t v)
{
	return v == DB_RESULT_PASS || v == DB_RESULT_FAIL || v == DB_RESULT_INTERRUPTED;
}

static int parse_identity(char **f, size_t n, struct db_rec *r)
{
	if (n != 5)
		return -EBADMSG;
	if (get_str(f[2], &r->u.identity.serial) < 0 ||
	    get_str(f[3], &r->u.identity.chip_uid) < 0 ||
	    get_str(f[4], &r->u.identity.jedec_id) < 0)
		return -EBADMSG;
	return 0;
}

static int parse_stage(char **f, size_t n, struct db_rec *r)
{
	struct db_unit_stage *s = &r->u.stage;
	int64_t idx, res;

	if (n != 8 || get_int(f[2], 0, INT_MAX, &idx) < 0 || get_int(f[3], 0, 16, &res) < 0 ||
	    !result_ok(res) || get_int(f[4], INT64_MIN, INT64_MAX, &s->started_at) < 0 ||
	    get_int(f[5], INT64_MIN, INT64_MAX, &s->duration_ms) < 0 ||
	    get_str(f[6], &s->name) < 0 || get_str(f[7], &s->error) < 0)
		return -EBADMSG;
	s->idx = (int)idx;
	s->result = (enum db_result)res;
	return 0;
}

static int parse_image(char **f, size_t n, struct db_rec *r)
{
	struct db_unit_image *m = &r->u.image;
	int64_t verified;

	if (n != 10 || get_int(f[2], INT64_MIN, INT64_MAX, &m->size) < 0 ||
	    get_opt_u32(f[3], &m->has_host_crc32, &m->host_crc32) < 0 ||
	    get_opt_u32(f[4], &m->has_device_crc32, &m->device_crc32) < 0 ||
	    get_int(f[5], 0, 1, &verified) < 0 || get_str(f[6], &m->stage) < 0 ||
	    get_str(f[7], &m->target) < 0 || get_str(f[8], &m->file) < 0 ||
	    get_str(f[9], &m->sha256) < 0)
		return -EBADMSG;
	m->verified = verified;
	return 0;
}

static int parse_finish(char **f, size_t n, struct db_rec *r)
{
	struct db_rec_finish *x = &r->u.finish;
	int64_t res;

	if (n != 6 || get_int(f[2], 0, 16, &res) < 0 || !result_ok(res) ||
	    get_int(f[3], 0, INT64_MAX, &x->finished_at) < 0 ||
	    get_str(f[4], &x->failed_stage) < 0 || get_str(f[5], &x->error) < 0)
		return -EBADMSG;
	x->result = (enum db_result)res;
	return 0;
}

/* Parse line (modified in place: the record points into it). */
static int parse_rec(char *line, struct db_rec *r)
{
	char *f[FIELDS_MAX];
	size_t n = 0;

	for (char *p = line;; p++) {
		if (n == FIELDS_MAX)
			return -EBADMSG;
		f[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p = '\0';
	}
	*r = (struct db_rec){ 0 };
	if (strlen(f[0]) != 1 || n < 2 || get_int(f[1], 1, INT64_MAX, &r->unit_id) < 0)
		return -EBADMSG;
	switch (f[0][0]) {
	case 'I':
		r->kind = DB_REC_IDENTITY;
		return parse_identity(f, n, r);
	case 'S':
		r->kind = DB_REC_STAGE;
		return parse_stage(f, n, r);
	case 'M':
		r->kind = DB_REC_IMAGE;
		return parse_image(f, n, r);
	case 'F':
		r->kind = DB_REC_FINISH;
		return parse_finish(f, n, r);
	}
	return -EBADMSG;
}

/* ---- writing a record ------------------------------------------------- */

/* An image row, unless an identical one is there (a replay twice). */
static int replay_image(struct db *db, int64_t unit, const struct db_unit_image *m, struct err *e)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(
		db->sql,
		"INSERT INTO unit_images (unit_id, stage, target, file, size, sha256, host_crc32, "
		"device_crc32, verified) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 "
		"WHERE NOT EXISTS (SELECT 1 FROM unit_images WHERE unit_id = ?1 AND stage = ?2 AND "
		"target IS ?3 AND file = ?4 AND size IS ?5 AND sha256 IS ?6 AND host_crc32 IS ?7 "
		"AND device_crc32 IS ?8 AND verified = ?9)",
		-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, e, "replay image");
	sqlite3_bind_int64(s, 1, unit);
	db_bind_text(s, 2, m->stage);
	db_bind_text(s, 3, m->target);
	db_bind_text(s, 4, m->file);
	if (m->size >= 0)
		sqlite3_bind_int64(s, 5, m->size);
	db_bind_text(s, 6, m->sha256);
	if (m->has_host_crc32)
		sqlite3_bind_int64(s, 7, m->host_crc32);
	if (m->has_device_crc32)
		sqlite3_bind_int64(s, 8, m->device_crc32);
	sqlite3_bind_int(s, 9, m->verified ? 1 : 0);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, e, "unit %lld: image '%s'", (long long)unit, m->file);
	return 0;
}

/* The finish at the time it happened; a unit no longer running was finished already. */
static int write_finish(struct db *db, int64_t unit, const struct db_rec_finish *x, struct err *e)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->sql,
				"UPDATE units SET result = ?2, failed_stage = ?3, error = ?4, "
				"finished_at = ?5, duration_ms = max(0, ?5 - started_at) "
				"WHERE id = ?1 AND result = 'running'",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, e, "replay finish");
	sqlite3_bind_int64(s, 1, unit);
	db_bind_text(s, 2, db_result_name(x->result));
	db_bind_text(s, 3, x->failed_stage);
	db_bind_text(s, 4, x->error);
	sqlite3_bind_int64(s, 5, x->finished_at > 0 ? x->finished_at : db_now_ms());
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, e, "unit %lld: finish", (long long)unit);
	if (sqlite3_changes(db->sql) == 0)
		return err_set(e, -EALREADY, "unit %lld: finish: not running", (long long)unit);
	return 0;
}

/* Write one record; replay: what is already there counts as written. */
static int write_rec(struct db *db, const struct db_rec *r, bool replay, struct err *e)
{
	int rc = -EINVAL;

	switch (r->kind) {
	case DB_REC_IDENTITY:
		return db_unit_set_identity(db, r->unit_id, &r->u.identity, e);
	case DB_REC_STAGE:
		rc = db_unit_stage(db, r->unit_id, &r->u.stage, e);
		break;
	case DB_REC_IMAGE:
		if (!replay)
			return db_unit_image(db, r->unit_id, &r->u.image, e);
		return replay_image(db, r->unit_id, &r->u.image, e);
	case DB_REC_FINISH:
		rc = write_finish(db, r->unit_id, &r->u.finish, e);
		break;
	case _DB_REC_MAX:
		break;
	}
	if (replay && (rc == -EEXIST || rc == -EALREADY))
		return 0;
	return rc;
}

int db_rec_write(struct db *db, const struct db_rec *rec, struct err *e)
{
	return write_rec(db, rec, false, e);
}

/* ---- the queue ---------------------------------------------------------- */

static void add_unit(struct db_pending *q, int64_t unit)
{
	for (size_t i = 0; i < q->n_units; i++)
		if (q->units[i] == unit)
			return;
	if (q->n_units == q->cap_units) {
		size_t cap = q->cap_units ? 2 * q->cap_units : 16;
		int64_t *n = realloc(q->units, cap * sizeof(*n));

		if (!n)
			return; /* only the count shown to operators is off */
		q->units = n;
		q->cap_units = cap;
	}
	q->units[q->n_units++] = unit;
}

static int push_line(struct db_pending *q, char *text, int64_t unit)
{
	size_t len = strlen(text);

	if (q->n >= DB_PENDING_MAX || q->bytes + len > DB_PENDING_MAX_BYTES)
		return -ENOBUFS;
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 64;
		struct pline *n = realloc(q->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		q->v = n;
		q->cap = cap;
	}
	q->v[q->n++] = (struct pline){ .text = text, .unit = unit };
	q->bytes += len;
	add_unit(q, unit);
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int open_journal(struct db_pending *q)
{
	struct stat st;
	char *hdr = NULL;
	int r;

	q->fd = open(q->journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (q->fd < 0)
		return -errno;
	if (fstat(q->fd, &st) < 0)
		return -errno;
	if (st.st_size > 0)
		return 0;
	if (asprintf(&hdr, JOURNAL_MAGIC "\t%s\n", q->db_path) < 0)
		return -ENOMEM;
	r = write_all(q->fd, hdr, strlen(hdr));
	free(hdr);
	return r;
}

/* Append the line to the file and make it durable; memory keeps it anyway. */
static void journal_append(struct db_pending *q, const char *text)
{
	int r = 0;

	if (!q->journal_path)
		return;
	if (q->fd < 0)
		r = open_journal(q);
	if (r >= 0)
		r = write_all(q->fd, text, strlen(text));
	if (r >= 0)
		r = write_all(q->fd, "\n", 1);
	if (r >= 0 && fdatasync(q->fd) < 0)
		r = -errno;
	if (r < 0 && !q->journal_err[0])
		snprintf(q->journal_err, sizeof(q->journal_err), "cannot write '%s': %s",
			 q->journal_path, strerror(-r));
}

static int queue_rec(struct db_pending *q, const struct db_rec *rec)
{
	char *text = format_rec(rec);
	int r;

	if (!text)
		return -ENOMEM;
	r = push_line(q, text, rec->unit_id);
	if (r < 0) {
		free(text);
		return r;
	}
	journal_append(q, text);
	return 0;
}

int db_pending_submit(struct db_pending *q, struct db *db, const struct db_rec *rec, struct err *e)
{
	int r;

	pthread_mutex_lock(&q->lock);
	if (!q->blocked && q->n == 0) {
		r = write_rec(db, rec, false, e);
		if (r >= 0 || !db_error_is_storage(r)) {
			pthread_mutex_unlock(&q->lock);
			return r;
		}
		q->blocked = true;
		snprintf(q->why, sizeof(q->why), "%s", e->msg);
	}
	r = queue_rec(q, rec);
	pthread_mutex_unlock(&q->lock);
	if (r == -ENOBUFS)
		return err_replace(
			e, r, "too many records pending (at most %d, %u bytes): this one is lost",
			DB_PENDING_MAX, DB_PENDING_MAX_BYTES);
	if (r < 0)
		return err_replace(e, r, "out of memory: this record is lost");
	return 1;
}

void db_pending_block(struct db_pending *q, const char *why)
{
	pthread_mutex_lock(&q->lock);
	if (!q->blocked)
		snprintf(q->why, sizeof(q->why), "%s", why ? why : "write failed");
	q->blocked = true;
	pthread_mutex_unlock(&q->lock);
}

/* A committed write that changes nothing: does the database take writes? */
static int probe(struct db *db, struct err *e)
{
	char sql[64];
	int v = db_read_version(db, e);

	if (v < 0)
		return v;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	return db_exec(db, sql, "probe write", e);
}

static void drop_first(struct db_pending *q, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		q->bytes -= strlen(q->v[i].text);
		free(q->v[i].text);
	}
	/* q->v is NULL while nothing was ever queued (a probe write cleared
	 * the block): memmove() must not see it. */
	if (q->n > k)
		memmove(q->v, q->v + k, (q->n - k) * sizeof(*q->v));
	q->n -= k;
	q->n_units = 0;
	for (size_t i = 0; i < q->n; i++)
		add_unit(q, q->v[i].unit);
}

/* Every record is in the database: the file has served its purpose. */
static void journal_done(struct db_pending *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	if (q->journal_path && unlink(q->journal_path) < 0 && errno != ENOENT)
		snprintf(q->journal_err, sizeof(q->journal_err), "cannot remove '%s': %s",
			 q->journal_path, strerror(errno));
	else
		q->journal_err[0] = '\0';
}

/* Write every record, counting them in st; stops at a storage failure. */
static int write_queue(struct db_pending *q, struct db *db, struct db_pending_replay_stats *st,
		       struct err *e)
{
	for (size_t i = 0; i < q->n; i++) {
		_cleanup_free_ char *copy = strdup(q->v[i].text);
		struct err re = { 0 };
		struct db_rec rec = { .kind = _DB_REC_MAX };
		int r;

		if (!copy)
			return err_set(e, -ENOMEM, "out of memory");
		if (parse_rec(copy, &rec) < 0)
			r = err_set(&re, -EINVAL, "pending record %zu is garbled", i);
		else
			r = write_rec(db, &rec, true, &re);
		if (db_error_is_storage(r))
			return err_set(e, r, "%s", re.msg);
		if (r < 0) {
			st->dropped++;
			st->finish_dropped += rec.kind == DB_REC_FINISH;
			snprintf(st->last_drop, sizeof(st->last_drop), "%s", re.msg);
		} else {
			st->written++;
			if (rec.kind == DB_REC_FINISH)
				st->finished[rec.u.finish.result]++;
		}
	}
	return 0;
}

/*
 * One transaction for the whole queue: one fsync instead of one per record
 * (the loop waits meanwhile), and a failure half-way leaves nothing half
 * written.  With nothing queued, a probe write answers the question.
 */
static int replay_locked(struct db_pending *q, struct db *db, struct db_pending_replay_stats *st,
			 struct err *e)
{
	int r;

	if (q->n == 0) {
		r = probe(db, e);
	} else {
		r = db_exec(db, "BEGIN IMMEDIATE", "replay: begin", e);
		if (r >= 0)
			r = write_queue(q, db, st, e);
		if (r >= 0)
			r = db_exec(db, "COMMIT", "replay: commit", e);
		if (r < 0) {
			/* SQLite may have rolled back already (disk full): ignore why not. */
			sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
			*st = (struct db_pending_replay_stats){ 0 };
		}
	}
	if (r < 0)
		return r;
	drop_first(q, q->n);
	q->blocked = false;
	q->why[0] = '\0';
	journal_done(q);
	return 0;
}

int db_pending_replay(struct db_pending *q, struct db *db, struct db_pending_replay_stats *st,
		      struct err *e)
{
	struct db_pending_replay_stats dummy;
	int r;

	if (!st)
		st = &dummy;
	*st = (struct db_pending_replay_stats){ 0 };
	pthread_mutex_lock(&q->lock);
	r = replay_locked(q, db, st, e);
	if (r < 0) {
		q->blocked = true;
		snprintf(q->why, sizeof(q->why), "%s", e->msg);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* ---- loading a journal left by a previous flashd ----------------------- */

static int load_header(struct db_pending *q, const char *line, struct err *e)
{
	size_t m = strlen(JOURNAL_MAGIC);

	if (strncmp(line, JOURNAL_MAGIC "\t", m + 1) != 0)
		return err_set(e, -EBADMSG, "'%s' is not a flashd pending journal",
			       q->journal_path);
	if (strcmp(line + m + 1, q->db_path) != 0)
		return err_set(
			e, -EXDEV,
			"pending journal '%s' holds results for database '%s', not '%s': move it away or point flashd at that database",
			q->journal_path, line + m + 1, q->db_path);
	return 0;
}

static int load_journal(struct db_pending *q, struct err *e)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, garbled = 0;
	ssize_t len;
	FILE *f;
	int r = 0;

	f = fopen(q->journal_path, "re");
	if (!f)
		return errno == ENOENT ? 0
				       : err_set(e, -errno, "cannot read '%s': %s", q->journal_path,
						 strerror(errno));
	for (unsigned lineno = 1; (len = getline(&line, &cap, f)) >= 0; lineno++) {
		struct db_rec rec;
		char *copy;

		/* A line without its newline was cut by a crash mid-append:
		 * that record's write had not returned, its job did not go on. */
		if (len == 0 || line[len - 1] != '\n')
			break;
		line[len - 1] = '\0';
		if (lineno == 1) {
			r = load_header(q, line, e);
			if (r < 0)
				break;
			continue;
		}
		copy = strdup(line);
		if (!copy) {
			r = err_set(e, -ENOMEM, "out of memory");
			break;
		}
		if (parse_rec(copy, &rec) < 0) {
			garbled++;
			free(copy);
			continue;
		}
		free(copy);
		copy = strdup(line);
		r = copy ? push_line(q, copy, rec.unit_id) : -ENOMEM;
		if (r < 0) {
			free(copy);
			err_set(e, r, "'%s': too many records", q->journal_path);
			break;
		}
	}
	fclose(f);
	if (r < 0)
		return r;
	if (q->n > 0 || garbled > 0) {
		q->blocked = true;
		snprintf(q->why, sizeof(q->why),
			 "%zu record(s) left by a previous flashd in '%s'%s", q->n, q->journal_path,
			 garbled ? " (some garbled, skipped)" : "");
	}
	return 0;
}

int db_pending_new(const char *journal_path, const char *db_path, struct db_pending **ret,
		   struct err *e)
{
	struct db_pending *q = calloc(1, sizeof(*q));
	char *real;
	int r;

	if (!q)
		return err_set(e, -ENOMEM, "out of memory");
	pthread_mutex_init(&q->lock, NULL);
	q->fd = -1;
	real = db_path ? realpath(db_path, NULL) : NULL;
	q->db_path = real ? real : strdup(db_path ? db_path : "");
	q->journal_path = journal_path && *journal_path ? strdup(journal_path) : NULL;
	if (!q->db_path || (journal_path && *journal_path && !q->journal_path)) {
		db_pending_free(q);
		return err_set(e, -ENOMEM, "out of memory");
	}
	if (q->journal_path) {
		r = load_journal(q, e);
		if (r < 0) {
			db_pending_free(q);
			return r;
		}
	}
	*ret = q;
	return 0;
}

struct db_pending *db_pending_free(struct db_pending *q)
{
	if (!q)
		return NULL;
	if (q->fd >= 0)
		close(q->fd);
	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].text);
	free(q->v);
	free(q->units);
	free(q->journal_path);
	free(q->db_path);
	pthread_mutex_destroy(&q->lock);
	free(q);
	return NULL;
}

/* ---- queries ------------------------------------------------------------ */

bool db_pending_blocked(struct db_pending *q)
{
	bool b;

	pthread_mutex_lock(&q->lock);
	b = q->blocked;
	pthread_mutex_unlock(&q->lock);
	return b;
}

size_t db_pending_count(struct db_pending *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->n;
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t db_pending_units(struct db_pending *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->n_units;
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t db_pending_finishes(struct db_pending *q)
{
	size_t n = 0;

	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->n; i++)
		n += q->v[i].text[0] == 'F';
	pthread_mutex_unlock(&q->lock);
	return n;
}

bool db_pending_has_unit(struct db_pending *q, int64_t unit_id)
{
	bool found = false;

	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->n_units && !found; i++)
		found = q->units[i] == unit_id;
	pthread_mutex_unlock(&q->lock);
	return found;
}

int db_pending_finish(struct db_pending *q, int64_t unit_id, enum db_result *result,
		      int64_t *finished_at)
{
	int found = 0;

	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->n && !found; i++) {
		struct db_rec rec;
		char *copy;

		if (q->v[i].unit != unit_id || q->v[i].text[0] != 'F')
			continue;
		copy = strdup(q->v[i].text);
		if (!copy) {
			found = -ENOMEM;
			break;
		}
		if (parse_rec(copy, &rec) == 0) {
			*result = rec.u.finish.result;
			*finished_at = rec.u.finish.finished_at;
			found = 1;
		}
		free(copy);
	}
	pthread_mutex_unlock(&q->lock);
	return found;
}

void db_pending_why(struct db_pending *q, char *buf, size_t size)
{
	pthread_mutex_lock(&q->lock);
	snprintf(buf, size, "%s", q->why);
	pthread_mutex_unlock(&q->lock);
}

void db_pending_journal_error(struct db_pending *q, char *buf, size_t size)
{
	pthread_mutex_lock(&q->lock);
	snprintf(buf, size, "%s", q->journal_err);
	pthread_mutex_unlock(&q->lock);
}
