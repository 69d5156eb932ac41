/*
 * This file implements the recipe SHA-256 helpers (jobs/recipe-sha256.h) on
 * nettle's sha256 (FIPS 180-4): a well-kept, CPU-accelerated library rather
 * than a hand-written compression function.
 */
#include "jobs/recipe-sha256.h"

void recipe_sha256_init(struct recipe_sha256 *c)
{
	sha256_init(&c->ctx);
}

void recipe_sha256_update(struct recipe_sha256 *c, const void *data, size_t len)
{
	sha256_update(&c->ctx, len, data);
}

void recipe_sha256_final(struct recipe_sha256 *c, uint8_t digest[RECIPE_SHA256_LEN])
{
	sha256_digest(&c->ctx, RECIPE_SHA256_LEN, digest);
}

void recipe_sha256_hex(const uint8_t digest[RECIPE_SHA256_LEN], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < RECIPE_SHA256_LEN; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[64] = '\0';
}
