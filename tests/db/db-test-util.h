/*
 * Helpers shared by the tests of db/: a scratch directory per test program
 * and raw SQLite access (a second connection, as QA's sqlite3 would be) to
 * check what db/ wrote without going through it.
 */
#ifndef FLASHD_TESTS_DB_UTIL_H
#define FLASHD_TESTS_DB_UTIL_H

#include "common/macro.h"
#include "tests/lib/test.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tdir[256];

/* A fresh path in the test's scratch directory; files are removed at exit. */
_unused_ static const char *tpath(const char *name)
{
	static char buf[8][512];
	static int i;
	char *p = buf[i++ % 8];

	if (!tdir[0]) {
		const char *t = getenv("TMPDIR");

		snprintf(tdir, sizeof(tdir), "%s/flashd-db-XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(tdir))
			TEST_FAIL("mkdtemp %s", tdir);
	}
	snprintf(p, 512, "%s/%s", tdir, name);
	return p;
}

__attribute__((destructor)) static void tdir_cleanup(void)
{
	char cmd[300];

	if (tdir[0] && !getenv("KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tdir);
	}
}

_unused_ static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		TEST_FAIL("open %s: %s", path, sqlite3_errmsg(db));
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stdout, "#   %s\n", msg);
		sqlite3_free(msg);
		sqlite3_close(db);
		TEST_FAIL("exec '%s' failed", sql);
	}
	sqlite3_close(db);
}

/* First column of the first row as text (malloc'd, "(null)" for NULL); NULL if no row. */
_unused_ static char *raw_text(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char *ret = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		TEST_FAIL("open %s: %s", path, sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stdout, "#   %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		TEST_FAIL("prepare '%s' failed", sql);
	}
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);

		ret = strdup(t ? t : "(null)");
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return ret;
}

_unused_ static long long raw_int(const char *path, const char *sql)
{
	char *t = raw_text(path, sql);
	long long v;

	if (!t)
		TEST_FAIL("no row for '%s'", sql);
	v = strtoll(t, NULL, 10);
	free(t);
	return v;
}

/* Big-endian 32-bit word at p (the WAL's byte order). */
static inline uint32_t wal_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Transactions committed to the database at path since its WAL last
 * restarted: the frames of the WAL's current generation (salts as in its
 * header) whose "database size after commit" is set, one per commit
 * (https://www.sqlite.org/fileformat2.html#walformat).  A commit is an
 * fsync under synchronous=FULL, so this counts what a burst costs.
 */
_unused_ static long wal_commits(const char *path)
{
	unsigned char hdr[32], fh[24];
	char wal[1024];
	uint32_t page;
	long n = 0;
	FILE *f;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	f = fopen(wal, "rb");
	if (!f)
		return 0;
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr)) {
		fclose(f);
		return 0;
	}
	page = wal_be32(hdr + 8);
	while (fread(fh, 1, sizeof(fh), f) == sizeof(fh) && !memcmp(fh + 8, hdr + 16, 8)) {
		if (wal_be32(fh + 4))
			n++;
		if (fseek(f, (long)page, SEEK_CUR) < 0)
			break;
	}
	fclose(f);
	return n;
}

#define ASSERT_SQL_TEXT(path, sql, expect)                                                         \
	do {                                                                                       \
		char *_t = raw_text(path, sql);                                                    \
		int _ok = _t && strcmp(_t, expect) == 0;                                           \
		if (!_ok) {                                                                        \
			fprintf(stdout, "#   %s -> \"%s\"\n", sql, _t ? _t : "(no row)");          \
			free(_t);                                                                  \
			TEST_FAIL("expected \"%s\"", expect);                                      \
		}                                                                                  \
		free(_t);                                                                          \
	} while (0)

#endif
