/*
 * Test tool: one unit drawing identity from pools with the real db/pool.c,
 * as the job runner will (begin the unit, allocate, finish), so scripts can
 * fill pools without flashd.  Prints the values given, one a line.
 *
 *   usage: pool-tool DB pass|fail|written-fail|running POOL...
 *   (written-fail: a write to the device had started; running: the unit
 *   is left running, as a crash would leave it).  The station's name is
 *   $POOL_TOOL_STATION, else station-1.
 */
#include "db/db.h"
#include "db/pool.h"
#include "db/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int finish(struct db *db, int64_t id, const char *how, struct err *e)
{
	bool pass = strcmp(how, "pass") == 0;
	enum db_result r = pass ? DB_RESULT_PASS : DB_RESULT_FAIL;

	if (strcmp(how, "running") == 0)
		return 0;
	if (db_unit_finish(db, id, r, pass ? NULL : "flash", pass ? NULL : "test", e) < 0)
		return -1;
	return db_pool_unit_finish(db, id, r, strcmp(how, "written-fail") == 0, e);
}

int main(int argc, char **argv)
{
	struct db_unit_start st = { .station = "station-1",
				    .port = "1-1",
				    .recipe = "pool-tool",
				    .flashd_version = "test" };
	struct db_identities ids = { 0 };
	struct db *db = NULL;
	struct err e = { 0 };
	int64_t id;
	int rc = 1;

	if (argc < 4) {
		fprintf(stderr, "usage: pool-tool DB pass|fail|written-fail|running POOL...\n");
		return 2;
	}
	if (getenv("POOL_TOOL_STATION") && *getenv("POOL_TOOL_STATION"))
		st.station = getenv("POOL_TOOL_STATION");
	if (db_open(argv[1], 0, &db, &e) < 0 || db_unit_begin(db, &st, &id, &e) < 0 ||
	    db_pool_allocate(db, id, st.station, (const char *const *)argv + 3, (size_t)argc - 3, 0,
			     &ids, &e) < 0) {
		fprintf(stderr, "pool-tool: %s\n", e.msg);
		goto out;
	}
	for (size_t i = 0; i < ids.n; i++)
		printf("%s %s\n", ids.v[i].pool, ids.v[i].value);
	if (finish(db, id, argv[2], &e) < 0) {
		fprintf(stderr, "pool-tool: %s\n", e.msg);
		goto out;
	}
	rc = 0;
out:
	db_identities_clear(&ids);
	db_close(db);
	return rc;
}
