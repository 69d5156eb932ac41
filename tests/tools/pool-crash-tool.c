/*
 * Test tool: units drawing identity from pools through the real db/pool.c,
 * left in the states a crash leaves them in (issue 18: crash recovery).
 *
 *   pool-crash-tool DB leave [--written] POOL...
 *       begin a unit, allocate, optionally db_pool_mark_written(), and exit
 *       with the unit 'running' (as flashd killed mid-job); prints
 *       "unit ID" and then "POOL VALUE" lines
 *   pool-crash-tool DB loop LOG SEED POOL...
 *       units forever, each: begin, allocate, then at random fail before
 *       any write, or mark written and fail, or mark written and pass;
 *       random short pauses between the steps so a kill -9 lands anywhere.
 *       LOG gets, with write(2) right after each step is durable:
 *         A ID POOL VALUE   allocated         M ID   about to mark written
 *         W ID              marked written    U ID pass|fail  unit finished
 *         F ID              values settled
 *       exits 3 when a pool is exhausted
 *   pool-crash-tool DB recover
 *       what flashd does at start: db_recover_interrupted(), db_pool_recover();
 *       prints "interrupted N settled M"
 */
#include "db/db.h"
#include "db/pool.h"
#include "db/units.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct db_unit_start start = {
	.station = "station-1",
	.port = "1-1",
	.recipe = "pool-crash-tool",
	.flashd_version = "test",
};

static int fail(const char *what, const struct err *e)
{
	fprintf(stderr, "pool-crash-tool: %s: %s\n", what, e->msg);
	return e->code == -ENOSPC ? 3 : 1;
}

static int cmd_leave(struct db *db, int argc, char **argv)
{
	bool written = argc > 0 && strcmp(argv[0], "--written") == 0;
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int64_t id;

	if (written) {
		argc--;
		argv++;
	}
	if (db_unit_begin(db, &start, &id, &e) < 0 ||
	    db_pool_allocate(db, id, "station-1", (const char *const *)argv, (size_t)argc, 0, &ids,
			     &e) < 0 ||
	    (written && db_pool_mark_written(db, id, &e) < 0))
		return fail("leave", &e);
	printf("unit %" PRId64 "\n", id);
	for (size_t i = 0; i < ids.n; i++)
		printf("%s %s\n", ids.v[i].pool, ids.v[i].value);
	db_identities_clear(&ids);
	return 0;
}

static int log_fd = -1;

/* One line, one write(2): a kill -9 right after it cannot lose it. */
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && write(log_fd, line, (size_t)n) != n)
		exit(1);
}

static void pause_a_little(void)
{
	usleep((useconds_t)(rand() % 3000));
}

/* One unit: 0 fail before any write, 1 mark then fail, 2 mark then pass. */
static int one_unit(struct db *db, const char *const *pools, size_t n_pools)
{
	struct db_identities ids = { 0 };
	struct err e = { 0 };
	int how = rand() % 3;
	bool pass = how == 2;
	enum db_result res = pass ? DB_RESULT_PASS : DB_RESULT_FAIL;
	int64_t id;

	if (db_unit_begin(db, &start, &id, &e) < 0)
		return fail("begin", &e);
	pause_a_little();
	if (db_pool_allocate(db, id, "station-1", pools, n_pools, 0, &ids, &e) < 0)
		return fail("allocate", &e);
	for (size_t i = 0; i < ids.n; i++)
		say("A %" PRId64 " %s %s\n", id, ids.v[i].pool, ids.v[i].value);
	db_identities_clear(&ids);
	pause_a_little();
	if (how > 0) {
		say("M %" PRId64 "\n", id);
		if (db_pool_mark_written(db, id, &e) < 0)
			return fail("mark", &e);
		say("W %" PRId64 "\n", id);
		pause_a_little();
	}
	if (db_unit_finish(db, id, res, pass ? NULL : "flash", pass ? NULL : "test", &e) < 0)
		return fail("finish", &e);
	say("U %" PRId64 " %s\n", id, pass ? "pass" : "fail");
	pause_a_little();
	if (db_pool_unit_finish(db, id, res, how > 0, &e) < 0)
		return fail("pool finish", &e);
	say("F %" PRId64 "\n", id);
	return 0;
}

static int cmd_loop(struct db *db, int argc, char **argv)
{
	int r;

	if (argc < 3) {
		fprintf(stderr, "pool-crash-tool: loop needs LOG SEED POOL...\n");
		return 2;
	}
	log_fd = open(argv[0], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		perror(argv[0]);
		return 1;
	}
	srand((unsigned)strtoul(argv[1], NULL, 10));
	do
		r = one_unit(db, (const char *const *)argv + 2, (size_t)argc - 2);
	while (r == 0);
	return r;
}

static int cmd_recover(struct db *db)
{
	struct err e = { 0 };
	int n, m;

	n = db_recover_interrupted(db, NULL, &e);
	if (n < 0)
		return fail("recover", &e);
	m = db_pool_recover(db, NULL, &e);
	if (m < 0)
		return fail("pool recover", &e);
	printf("interrupted %d settled %d\n", n, m);
	return 0;
}

int main(int argc, char **argv)
{
	struct db *db = NULL;
	struct err e = { 0 };
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: pool-crash-tool DB leave [--written] POOL... | "
				"loop LOG SEED POOL... | recover\n");
		return 2;
	}
	if (db_open(argv[1], 0, &db, &e) < 0)
		return fail("open", &e);
	if (strcmp(argv[2], "leave") == 0 && argc > 3)
		rc = cmd_leave(db, argc - 3, argv + 3);
	else if (strcmp(argv[2], "loop") == 0)
		rc = cmd_loop(db, argc - 3, argv + 3);
	else if (strcmp(argv[2], "recover") == 0)
		rc = cmd_recover(db);
	else {
		fprintf(stderr, "pool-crash-tool: unknown command '%s'\n", argv[2]);
		rc = 2;
	}
	db_close(db);
	return rc;
}
