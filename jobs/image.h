/*
 * Read-only image copies shared by every unit.  A recipe's image is read
 * once (read(2), never a mapping of the file) into a sealed memfd, hashed
 * there, and that memfd's read-only mapping is handed to each job that
 * flashes it: 32 boards flashing the same 64 MiB file cost one copy, never
 * a copy per unit (issue: "images read through a shared read-only mapping").
 *
 * The cache checks the sha256 of the copy against the recipe's pin: the
 * recipe loader hashed the file at load time, but the file may have been
 * replaced since, and what we send is what must match.  The file can be
 * truncated or rewritten in place later without effect (no SIGBUS, no
 * unpinned bytes): the memfd is sealed against writes, shrinking and
 * growing (issue 13), so reusing a cached copy is safe.
 *
 * Thread-safe: jobs on worker threads get and put mappings concurrently.
 * Ownership: image_cache_new() returns a cache the daemon owns; each
 * image_get() returns a reference released with image_put().  The cache
 * must outlive every reference.
 */
#ifndef FLASHD_JOBS_IMAGE_H
#define FLASHD_JOBS_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "jobs/recipe-sha256.h"

struct image_cache;

struct image {
	const uint8_t *data; /* read-only mapping of a sealed memfd; NULL when empty */
	size_t size;
	char *path;
	uint8_t sha256[RECIPE_SHA256_LEN];
	/* private */
	unsigned refs;
	bool loading; /* a job is copying and hashing it; others wait (image_get) */
	struct image *next;
};

int image_cache_new(struct image_cache **ret);
/* Frees the cache; every image must have been put.  Accepts NULL. */
struct image_cache *image_cache_free(struct image_cache *c);

/*
 * Copy `path` into a sealed memfd (or take another reference to its copy)
 * and check it has `sha256`.  Returns 0 and *ret, or -errno: -EILSEQ when the file no longer
 * has the pinned digest (message names the file and both digests).
 */
int image_get(struct image_cache *c, const char *path, const uint8_t sha256[RECIPE_SHA256_LEN],
	      struct image **ret, struct err *e);

/*
 * Open path for reading without blocking on a FIFO or device (O_NONBLOCK
 * for the open only) and refuse anything but a regular file.  Returns the
 * fd (O_CLOEXEC, blocking), -EINVAL for a non-regular file, or -errno.
 * Used for every image, recipe and config file flashd reads (issue 13).
 */
int open_regular(const char *path);

/* Drop a reference; the mapping goes when the last one does.  Accepts NULL. */
void image_put(struct image_cache *c, struct image *img);

#endif
