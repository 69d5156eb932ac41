/*
 * This file implements db_pool_import() (see db/pool.h): values of a list
 * pool read from a file, one a line or CSV with a header, each value that
 * names a file (a key, a certificate) checked readable and pinned by its
 * absolute path and SHA-256, all in one transaction.
 */
#include "db/pool-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CSV_FIELDS_MAX 32

struct import {
	struct db *db;
	const char *pool, *path;
	char dir[PATH_MAX]; /* of path: relative file names are relative to it */
	unsigned line;
	int64_t seq;		 /* next seq */
	int value_col, file_col; /* CSV columns, -1 if absent */
	sqlite3_stmt *ins;
	int n;
};

/* Absolute path of name (relative to the import file's folder) and its hex SHA-256. */
static int pin_file(struct import *im, const char *name, char abs[PATH_MAX], char hex[65],
		    struct err *err)
{
	char joined[PATH_MAX * 2];
	struct sha256_ctx ctx;
	uint8_t buf[65536], d[SHA256_DIGEST_SIZE];
	ssize_t k;
	int fd;

	snprintf(joined, sizeof(joined), "%s%s%s", name[0] == '/' ? "" : im->dir,
		 name[0] == '/' ? "" : "/", name);
	fd = open(joined, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s:%u: value file '%s': %s", im->path, im->line,
			       joined, strerror(errno));
	if (!realpath(joined, abs)) {
		close(fd);
		return err_set(err, -errno, "%s:%u: value file '%s': %s", im->path, im->line,
			       joined, strerror(errno));
	}
	sha256_init(&ctx);
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		sha256_update(&ctx, (size_t)k, buf);
	if (k < 0) {
		int e = errno;

		close(fd);
		return err_set(err, -e, "%s:%u: value file '%s': %s", im->path, im->line, abs,
			       strerror(e));
	}
	close(fd);
	sha256_digest(&ctx, sizeof(d), d);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	return 0;
}

static int insert(struct import *im, const char *value, const char *file, struct err *err)
{
	char abs[PATH_MAX], hex[65];
	int rc;

	if (!*value)
		return err_set(err, -EINVAL, "%s:%u: empty value", im->path, im->line);
	if (file && *file) {
		rc = pin_file(im, file, abs, hex, err);
		if (rc < 0)
			return rc;
	}
	sqlite3_reset(im->ins);
	db_bind_text(im->ins, 1, im->pool);
	sqlite3_bind_int64(im->ins, 2, im->seq);
	db_bind_text(im->ins, 3, value);
	db_bind_text(im->ins, 4, file && *file ? abs : NULL);
	db_bind_text(im->ins, 5, file && *file ? hex : NULL);
	rc = sqlite3_step(im->ins);
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return err_set(err, -EEXIST, "%s:%u: value '%s' is already in pool '%s'", im->path,
			       im->line, value, im->pool);
	if (rc != SQLITE_DONE)
		return db_sql_err(im->db, rc, err, "%s:%u: add value", im->path, im->line);
	im->seq++;
	im->n++;
	return 0;
}

/*
 * Split a CSV line (RFC 4180, no line breaks inside fields) in place.
 * Returns the number of fields, or -EINVAL on a stray quote.
 */
static int csv_split(char *line, char **f, int max)
{
	int n = 0;
	char *r = line, *w;

	for (;;) {
		if (n == max)
			return -E2BIG;
		f[n++] = w = r;
		if (*r == '"') {
			for (r++;; r++) {
				if (!*r)
					return -EINVAL;
				if (*r == '"' && r[1] == '"')
					*w++ = *r++;
				else if (*r == '"')
					break;
				else
					*w++ = *r;
			}
			r++;
			if (*r && *r != ',')
				return -EINVAL;
		} else {
			while (*r && *r != ',') {
				if (*r == '"')
					return -EINVAL;
				*w++ = *r++;
			}
		}
		if (!*r) {
			*w = '\0';
			return n;
		}
		*w = '\0';
		r++;
	}
}

static int csv_header(struct import *im, char *line, struct err *err)
{
	char *f[CSV_FIELDS_MAX];
	int n = csv_split(line, f, CSV_FIELDS_MAX);

	if (n < 0)
		return err_set(err, -EINVAL, "%s:%u: bad CSV header", im->path, im->line);
	for (int i = 0; i < n; i++) {
		if (strcasecmp(f[i], "value") == 0)
			im->value_col = i;
		else if (strcasecmp(f[i], "file") == 0)
			im->file_col = i;
	}
	if (im->value_col < 0)
		return err_set(err, -EINVAL, "%s:%u: CSV header has no 'value' column", im->path,
			       im->line);
	return 0;
}

static int csv_row(struct import *im, char *line, struct err *err)
{
	char *f[CSV_FIELDS_MAX];
	int n = csv_split(line, f, CSV_FIELDS_MAX);

	if (n < 0)
		return err_set(err, -EINVAL, "%s:%u: bad CSV line", im->path, im->line);
	if (im->value_col >= n)
		return err_set(err, -EINVAL, "%s:%u: no 'value' field", im->path, im->line);
	return insert(im, f[im->value_col],
		      im->file_col >= 0 && im->file_col < n ? f[im->file_col] : NULL, err);
}

static int one_line(struct import *im, enum db_pool_import_format fmt, char *line, struct err *err)
{
	size_t len = strlen(line);

	while (len && strchr("\r\n \t", line[len - 1]))
		line[--len] = '\0';
	if (!len || line[0] == '#')
		return 0;
	switch (fmt) {
	case DB_POOL_IMPORT_LINES:
		return insert(im, line, NULL, err);
	case DB_POOL_IMPORT_FILES:
		return insert(im, line, line, err);
	case DB_POOL_IMPORT_CSV:
		if (im->value_col < 0)
			return csv_header(im, line, err);
		return csv_row(im, line, err);
	}
	return err_set(err, -EINVAL, "import: bad format");
}

static int import_locked(struct import *im, enum db_pool_import_format fmt, FILE *f,
			 struct err *err)
{
	_cleanup_stmt_ sqlite3_stmt *max = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	struct pool p;
	int rc;

	rc = pool_load(im->db, im->pool, &p, err);
	if (rc < 0)
		return rc;
	if (p.kind != DB_POOL_LIST)
		return err_set(err, -EINVAL,
			       "pool '%s' is a %s pool: only list pools import values", im->pool,
			       db_pool_kind_name(p.kind));
	rc = pool_prep(im->db, "SELECT coalesce(max(seq), 0) + 1 FROM pool_values WHERE pool = ?",
		       &max, err);
	if (rc < 0)
		return rc;
	db_bind_text(max, 1, im->pool);
	if (sqlite3_step(max) != SQLITE_ROW)
		return db_sql_err(im->db, sqlite3_errcode(im->db->sql), err, "pool '%s'", im->pool);
	im->seq = sqlite3_column_int64(max, 0);
	rc = pool_prep(im->db,
		       "INSERT INTO pool_values (pool, seq, value, file, file_sha256, state) "
		       "VALUES (?, ?, ?, ?, ?, 'free')",
		       &im->ins, err);
	while (rc >= 0 && getline(&line, &cap, f) >= 0) {
		im->line++;
		rc = one_line(im, fmt, line, err);
	}
	if (rc >= 0 && ferror(f))
		rc = err_set(err, -EIO, "%s: read error", im->path);
	if (rc >= 0 && fmt == DB_POOL_IMPORT_CSV && im->value_col < 0)
		rc = err_set(err, -EINVAL, "%s: no CSV header", im->path);
	sqlite3_finalize(im->ins);
	return rc < 0 ? rc : im->n;
}

int db_pool_import(struct db *db, const char *pool, const char *path,
		   enum db_pool_import_format format, struct err *err)
{
	struct import im = {
		.db = db, .pool = pool, .path = path, .value_col = -1, .file_col = -1
	};
	FILE *f;
	char *slash;
	int rc;

	if (!pool || !path)
		return err_set(err, -EINVAL, "import: no pool or file");
	f = fopen(path, "re");
	if (!f)
		return err_set(err, -errno, "import '%s': %s", path, strerror(errno));
	snprintf(im.dir, sizeof(im.dir), "%s", path);
	slash = strrchr(im.dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(im.dir, sizeof(im.dir), ".");
	if (slash == im.dir)
		snprintf(im.dir, sizeof(im.dir), "/");
	rc = pool_begin(db, err);
	if (rc >= 0)
		rc = pool_end(db, import_locked(&im, format, f, err), err);
	fclose(f);
	return rc;
}
