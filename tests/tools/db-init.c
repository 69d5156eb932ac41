/*
 * Test and benchmark tool: create (or migrate) a flashd unit database with
 * the real db_open(), as the daemon would, so scripts can fill it with the
 * sqlite3 CLI.  With --recover, also run the daemon's start-up recovery
 * and print how many units it turned into 'interrupted'.
 *
 *   usage: db-init PATH [--recover]
 */
#include "db/db.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	_cleanup_db_ struct db *db = NULL;
	struct err e = { 0 };
	int n;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--recover") != 0)) {
		fprintf(stderr, "usage: db-init PATH [--recover]\n");
		return 2;
	}
	if (db_open(argv[1], DB_OPEN_CREATE, &db, &e) < 0) {
		fprintf(stderr, "db-init: %s\n", e.msg);
		return 1;
	}
	if (argc == 3) {
		n = db_recover_interrupted(db, NULL, &e);
		if (n < 0) {
			fprintf(stderr, "db-init: %s\n", e.msg);
			return 1;
		}
		printf("recovered %d\n", n);
	}
	return 0;
}
