/*
 * Test and benchmark tool: write finished units into a flashd unit database
 * through the real db API, as the job runner does (begin, identity, a pool
 * value, stages, an image, finish, settle the value), so the outbox fills
 * by the same triggers as on a station.  Serials are PREFIX-NNNNNN, chip
 * UIDs derived from them, one MAC per unit from a pool of MAC_BASE..+2^20
 * (give each station its own base); every seventh unit fails.
 *
 *   usage: unit-gen PATH PREFIX COUNT [MAC_BASE_HEX [INTERVAL_MS [FIRST]]]
 *
 * FIRST numbers the serials (default 1); INTERVAL_MS sleeps between units.
 * Prints the number of units written.
 */
#include "db/pool.h"
#include "db/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int ensure_pool(struct db *db, int64_t base, struct err *e)
{
	struct db_pool_spec sp = {
		.name = "mac", .kind = DB_POOL_MAC, .first = base, .last = base + (1 << 20) - 1
	};
	int rc = db_pool_create(db, &sp, e);

	if (rc == -EEXIST) {
		err_clear(e);
		return 0;
	}
	return rc;
}

static int one_unit(struct db *db, const char *prefix, long n, struct err *e)
{
	char serial[64], uid[64];
	struct db_unit_start st = { .station = prefix,
				    .port = "1-1.2",
				    .slot = "A1",
				    .recipe = n % 3 ? "board-a" : "board-b",
				    .vid = 0x0483,
				    .pid = 0xdf11,
				    .flashd_version = "unit-gen" };
	struct db_unit_identity id = { .serial = serial, .chip_uid = uid, .jedec_id = "ef4018" };
	struct db_unit_stage sg = { .name = "erase", .result = DB_RESULT_PASS, .duration_ms = 3 };
	struct db_unit_image im = { .stage = "flash",
				    .file = "app.bin",
				    .size = 4096,
				    .sha256 = "00ff",
				    .has_host_crc32 = true,
				    .host_crc32 = (uint32_t)n,
				    .has_device_crc32 = true,
				    .device_crc32 = (uint32_t)n,
				    .verified = true };
	const char *pools[] = { "mac" };
	struct db_identities ids = { 0 };
	bool fail = n % 7 == 0;
	enum db_result r = fail ? DB_RESULT_FAIL : DB_RESULT_PASS;
	int64_t unit;
	int rc;

	snprintf(serial, sizeof(serial), "%s-%06ld", prefix, n);
	snprintf(uid, sizeof(uid), "%08lX%s", n, prefix);
	if ((rc = db_unit_begin(db, &st, &unit, e)) < 0 ||
	    (rc = db_pool_allocate(db, unit, prefix, pools, 1, 0, &ids, e)) < 0 ||
	    (rc = db_unit_set_identity(db, unit, &id, e)) < 0 ||
	    (rc = db_unit_stage(db, unit, &sg, e)) < 0)
		return rc;
	db_identities_clear(&ids);
	sg = (struct db_unit_stage){ .idx = 1,
				     .name = "flash",
				     .result = r,
				     .error = fail ? "verify failed" : NULL,
				     .duration_ms = 9 };
	if ((rc = db_unit_image(db, unit, &im, e)) < 0 ||
	    (rc = db_unit_stage(db, unit, &sg, e)) < 0 ||
	    (rc = db_unit_finish(db, unit, r, fail ? "flash" : NULL, fail ? "verify failed" : NULL,
				 e)) < 0)
		return rc;
	rc = db_pool_unit_finish(db, unit, r, true, e);
	return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
	_cleanup_db_ struct db *db = NULL;
	struct err e = { 0 };
	long count, first, interval_ms;
	int64_t base;

	if (argc < 4 || argc > 7) {
		fprintf(stderr,
			"usage: unit-gen PATH PREFIX COUNT [MAC_BASE_HEX [INTERVAL_MS [FIRST]]]\n");
		return 2;
	}
	count = atol(argv[3]);
	base = argc > 4 ? strtoll(argv[4], NULL, 16) : INT64_C(0x020000000000);
	interval_ms = argc > 5 ? atol(argv[5]) : 0;
	first = argc > 6 ? atol(argv[6]) : 1;
	if (db_open(argv[1], DB_OPEN_CREATE, &db, &e) < 0 || ensure_pool(db, base, &e) < 0) {
		fprintf(stderr, "unit-gen: %s\n", e.msg);
		return 1;
	}
	for (long i = 0; i < count; i++) {
		if (one_unit(db, argv[2], first + i, &e) < 0) {
			fprintf(stderr, "unit-gen: unit %ld: %s\n", first + i, e.msg);
			return 1;
		}
		if (interval_ms > 0)
			nanosleep(&(struct timespec){ interval_ms / 1000,
						      (interval_ms % 1000) * 1000000 },
				  NULL);
	}
	printf("%ld\n", count);
	return 0;
}
