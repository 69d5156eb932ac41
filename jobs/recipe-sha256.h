/*
 * SHA-256 (FIPS 180-4) for recipe validation: every image a recipe names is
 * pinned by its digest, and the recipe file's own digest goes into the
 * database.  A thin wrapper over nettle's sha256 so callers name one small
 * API.  No allocation, no I/O; struct recipe_sha256 is caller-owned.
 *
 *     struct recipe_sha256 c;
 *     recipe_sha256_init(&c);
 *     recipe_sha256_update(&c, buf, n);   (any number of times)
 *     recipe_sha256_final(&c, digest);    (digest: 32 bytes)
 */
#ifndef FLASHD_JOBS_RECIPE_SHA256_H
#define FLASHD_JOBS_RECIPE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#define RECIPE_SHA256_LEN 32

struct recipe_sha256 {
	struct sha256_ctx ctx;
};

void recipe_sha256_init(struct recipe_sha256 *c);
void recipe_sha256_update(struct recipe_sha256 *c, const void *data, size_t len);
/* Finish and write the 32-byte digest; c is re-initialised for reuse. */
void recipe_sha256_final(struct recipe_sha256 *c, uint8_t digest[RECIPE_SHA256_LEN]);

/* Lower-case hex of a digest into out (65 bytes, NUL-terminated). */
void recipe_sha256_hex(const uint8_t digest[RECIPE_SHA256_LEN], char out[65]);

#endif
