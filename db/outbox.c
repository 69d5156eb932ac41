/*
 * This file implements the read side of the station outbox (db/outbox.h).
 * The JSON array of a batch is pasted together by SQLite from the payload
 * text as the triggers wrote it (json_object(): valid JSON, not parsed
 * again here; kind is a CHECKed word that needs no escaping).
 */
#include "db/outbox.h"
#include "db/db-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prepare sql, bind up to two integers (a < 0: none) and step to the first row. */
static int query_row(struct db *db, const char *sql, int64_t a, int64_t b, sqlite3_stmt **ret,
		     const char *what, struct err *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "outbox: %s", what);
	if (a >= 0)
		sqlite3_bind_int64(s, 1, a);
	if (b >= 0)
		sqlite3_bind_int64(s, 2, b);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = db_sql_err(db, rc, err, "outbox: %s", what);
		sqlite3_finalize(s);
		return rc;
	}
	*ret = s;
	return rc == SQLITE_ROW ? 1 : 0;
}

int db_outbox_station_uuid(struct db *db, char buf[DB_UUID_LEN], struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *u;
	int rc;

	rc = query_row(db, "SELECT uuid FROM station_identity WHERE one = 1", -1, -1, &s,
		       "station uuid", err);
	if (rc < 0)
		return rc;
	u = rc ? db_col_text(s, 0) : NULL;
	if (!u || strlen(u) != DB_UUID_LEN - 1)
		return err_set(err, -EBADMSG, "database '%s': no station uuid", db->path);
	memcpy(buf, u, DB_UUID_LEN);
	return 0;
}

int db_outbox_last_seq(struct db *db, int64_t *seq, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = query_row(db, "SELECT coalesce(max(seq), 0) FROM outbox", -1, -1, &s, "last seq", err);
	if (rc < 0)
		return rc;
	*seq = sqlite3_column_int64(s, 0);
	return 0;
}

int db_outbox_lag(struct db *db, int64_t after, int64_t *count, int64_t *oldest_ms, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	/*
	 * Not count(*): that reads every page of a large backlog, each time.
	 * Seqs have no gaps (AUTOINCREMENT, never deleted, and a rolled-back
	 * insert gives its number back), so the count is a difference.
	 */
	rc = query_row(db,
		       "SELECT max(coalesce(max(seq), 0) - ?1, 0), coalesce((SELECT created_at "
		       "FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT 1), 0) FROM outbox",
		       after, -1, &s, "lag", err);
	if (rc < 0)
		return rc;
	*count = sqlite3_column_int64(s, 0);
	*oldest_ms = sqlite3_column_int64(s, 1);
	return 0;
}

void db_outbox_batch_clear(struct db_outbox_batch *b)
{
	free(b->json);
	free(b->copy);
	*b = (struct db_outbox_batch){ 0 };
}

int db_outbox_read(struct db *db, int64_t after, int limit, struct db_outbox_batch *b,
		   struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	const char *json;
	int rc;

	db_outbox_batch_clear(b);
	if (limit <= 0)
		return err_set(err, -EINVAL, "outbox: batch limit %d", limit);
	rc = query_row(
		db,
		"SELECT count(*), min(seq), max(seq), '[' || group_concat('{\"seq\":' || seq "
		"|| ',\"kind\":\"' || kind || '\",\"payload\":' || payload || '}', ',') || ']' "
		"FROM (SELECT * FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2)",
		after, limit, &s, "read", err);
	if (rc < 0)
		return rc;
	b->count = sqlite3_column_int(s, 0);
	if (b->count == 0)
		return 0;
	json = db_col_text(s, 3);
	b->json = json ? strdup(json) : NULL;
	if (!b->json) {
		b->count = 0;
		return err_set(err, -ENOMEM, "outbox: read");
	}
	b->first_seq = sqlite3_column_int64(s, 1);
	b->last_seq = sqlite3_column_int64(s, 2);
	return 0;
}

/* Write s to f as a COPY text field (NULL: \\N); only \\, tab, newline and CR need escapes. */
static void copy_field(FILE *f, const char *s)
{
	static const char esc[256] = { ['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r' };
	const char *span = s;

	if (!s) {
		fputs("\\N", f);
		return;
	}
	for (; *s; s++) {
		if (!esc[(unsigned char)*s])
			continue;
		fwrite(span, 1, (size_t)(s - span), f);
		fputc('\\', f);
		fputc(esc[(unsigned char)*s], f);
		span = s + 1;
	}
	fwrite(span, 1, (size_t)(s - span), f);
}

/* Step s over the rows (seq, kind, payload) into f, counting them in b. */
static int copy_rows(struct db *db, sqlite3_stmt *s, FILE *f, struct db_outbox_batch *b,
		     struct err *err)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(s, 0);

		if (b->count++ == 0)
			b->first_seq = seq;
		b->last_seq = seq;
		fprintf(f, "%lld\t", (long long)seq);
		copy_field(f, db_col_text(s, 1));
		fputc('\t', f);
		copy_field(f, db_col_text(s, 2));
		fputc('\n', f);
	}
	if (rc != SQLITE_DONE)
		return db_sql_err(db, rc, err, "outbox: read");
	return 0;
}

int db_outbox_read_copy(struct db *db, int64_t after, int limit, struct db_outbox_batch *b,
			struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	FILE *f;
	int rc;

	db_outbox_batch_clear(b);
	if (limit <= 0)
		return err_set(err, -EINVAL, "outbox: batch limit %d", limit);
	rc = sqlite3_prepare_v2(db->sql,
				"SELECT seq, kind, payload FROM outbox WHERE seq > ?1 ORDER BY seq "
				"LIMIT ?2",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_sql_err(db, rc, err, "outbox: read");
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int(s, 2, limit);
	f = open_memstream(&b->copy, &b->copy_len);
	if (!f)
		return err_set(err, -ENOMEM, "outbox: read");
	rc = copy_rows(db, s, f, b, err);
	if (fclose(f) != 0 && rc == 0)
		rc = err_set(err, -ENOMEM, "outbox: read");
	if (rc < 0)
		db_outbox_batch_clear(b);
	return rc;
}

int db_outbox_payload(struct db *db, int64_t seq, char **payload, struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *s = NULL;
	int rc;

	rc = query_row(db, "SELECT payload FROM outbox WHERE seq = ?1", seq, -1, &s, "payload",
		       err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return err_set(err, -ENOENT, "database '%s': no outbox entry %lld", db->path,
			       (long long)seq);
	*payload = strdup(db_col_text(s, 0));
	if (!*payload)
		return err_set(err, -ENOMEM, "outbox: payload");
	return 0;
}
