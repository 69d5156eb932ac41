/* This file implements the shared read-only image mappings (jobs/image.h). */
#include "jobs/image.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct image_cache {
	pthread_mutex_t lock;  /* guards the list and every refcount */
	pthread_cond_t loaded; /* an image's loading ended (loaded or dropped) */
	struct image *list;
};

int image_cache_new(struct image_cache **ret)
{
	struct image_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->loaded, NULL);
	*ret = c;
	return 0;
}

struct image_cache *image_cache_free(struct image_cache *c)
{
	if (!c)
		return NULL;
	/* Every reference must be gone; a leftover is a bug, but do not leak. */
	while (c->list) {
		struct image *i = c->list;

		c->list = i->next;
		if (i->data)
			munmap((void *)i->data, i->size);
		free(i->path);
		free(i);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->loaded);
	free(c);
	return NULL;
}

int open_regular(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	int fl;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* O_NONBLOCK only mattered for the open; reads of a regular file ignore it. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* Append everything readable from fd to the memfd; returns the byte count or -errno. */
static ssize_t copy_all(int fd, int mfd)
{
	uint8_t buf[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (ssize_t off = 0, w; off < n; off += w) {
			w = write(mfd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				return -errno;
		}
		total += (size_t)n;
	}
	return (ssize_t)total;
}

/*
 * Read the file once into a sealed memfd and map that: the file may be
 * truncated (SIGBUS through a file mapping) or rewritten in place afterwards,
 * but the sealed copy cannot change, so what is hashed is what is sent.
 */
static int map_file(const char *path, struct image **ret, struct err *e)
{
	_cleanup_close_ int fd = -1, mfd = -1;
	struct image *img;
	ssize_t size;
	void *p = NULL;

	fd = open_regular(path);
	if (fd == -EINVAL)
		return err_set(e, fd, "image '%s' is not a regular file", path);
	if (fd < 0)
		return err_set(e, fd, "cannot open image '%s': %s", path, strerror(-fd));
	mfd = memfd_create("flashd-image", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (mfd < 0)
		return err_set(e, -errno, "cannot create memfd for image '%s': %s", path,
			       strerror(errno));
	size = copy_all(fd, mfd);
	if (size < 0)
		return err_set(e, (int)size, "cannot read image '%s': %s", path,
			       strerror((int)-size));
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return err_set(e, -errno, "cannot seal image '%s': %s", path, strerror(errno));
	if (size > 0) {
		p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, mfd, 0);
		if (p == MAP_FAILED)
			return err_set(e, -errno, "cannot map image '%s': %s", path,
				       strerror(errno));
	}
	img = calloc(1, sizeof(*img));
	if (img)
		img->path = strdup(path);
	if (!img || !img->path) {
		if (p)
			munmap(p, (size_t)size);
		free(img);
		return err_set(e, -ENOMEM, "out of memory mapping '%s'", path);
	}
	img->data = p;
	img->size = (size_t)size;
	img->refs = 1;
	*ret = img;
	return 0;
}

/* Drop a loading slot whose load failed; waiters look again (and load it themselves). */
static void drop_slot(struct image_cache *c, struct image *slot)
{
	struct image **pp;

	pthread_mutex_lock(&c->lock);
	for (pp = &c->list; *pp; pp = &(*pp)->next)
		if (*pp == slot) {
			*pp = slot->next;
			break;
		}
	pthread_cond_broadcast(&c->loaded);
	pthread_mutex_unlock(&c->lock);
	free(slot->path);
	free(slot);
}

/* Copy, map and check path into slot (not yet visible as loaded). */
static int load(struct image *slot, const char *path, struct err *e)
{
	struct recipe_sha256 h;
	uint8_t got_sha[RECIPE_SHA256_LEN];
	char want[65], got[65];
	struct image *img = NULL;
	int r;

	/* Copy and hash outside the lock: hashing 64 MiB must not stall other jobs. */
	r = map_file(path, &img, e);
	if (r < 0)
		return r;
	recipe_sha256_init(&h);
	recipe_sha256_update(&h, img->data, img->size);
	recipe_sha256_final(&h, got_sha);
	if (memcmp(got_sha, slot->sha256, RECIPE_SHA256_LEN)) {
		recipe_sha256_hex(slot->sha256, want);
		recipe_sha256_hex(got_sha, got);
		r = err_set(
			e, -EILSEQ,
			"image '%s' changed since the recipe was loaded: sha256 %s, recipe pins %s",
			path, got, want);
		if (img->data)
			munmap((void *)img->data, img->size);
	} else {
		slot->data = img->data;
		slot->size = img->size;
	}
	free(img->path);
	free(img);
	return r;
}

/*
 * One copy per image, also when many jobs want it at once (64 boards
 * plugged together): the first job to miss the cache puts a loading slot in
 * it and copies the file; the others wait for that slot instead of each
 * copying the file into a memfd of their own (64 x 64 MiB).  Stages take
 * their image from the cache again and keep its data pointer for the unit's
 * verification, so every job must get the same copy (two copies: one job's
 * pointer into the other's, unmapped when that job ended; a SIGSEGV in the
 * verification, issue 21 soak).  A cached image is a sealed memfd, so
 * reusing it needs no re-check.
 */
int image_get(struct image_cache *c, const char *path, const uint8_t sha256[RECIPE_SHA256_LEN],
	      struct image **ret, struct err *e)
{
	struct image *img, *slot;
	int r;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		for (img = c->list; img; img = img->next)
			if (!strcmp(img->path, path) &&
			    !memcmp(img->sha256, sha256, RECIPE_SHA256_LEN))
				break;
		if (!img || !img->loading)
			break;
		pthread_cond_wait(&c->loaded, &c->lock);
	}
	if (img) {
		img->refs++;
		pthread_mutex_unlock(&c->lock);
		*ret = img;
		return 0;
	}
	slot = calloc(1, sizeof(*slot));
	if (slot)
		slot->path = strdup(path);
	if (!slot || !slot->path) {
		pthread_mutex_unlock(&c->lock);
		free(slot);
		return err_set(e, -ENOMEM, "out of memory mapping '%s'", path);
	}
	memcpy(slot->sha256, sha256, RECIPE_SHA256_LEN);
	slot->refs = 1;
	slot->loading = true;
	slot->next = c->list;
	c->list = slot;
	pthread_mutex_unlock(&c->lock);

	r = load(slot, path, e);
	if (r < 0) {
		drop_slot(c, slot);
		return r;
	}
	pthread_mutex_lock(&c->lock);
	slot->loading = false;
	pthread_cond_broadcast(&c->loaded);
	pthread_mutex_unlock(&c->lock);
	*ret = slot;
	return 0;
}

void image_put(struct image_cache *c, struct image *img)
{
	struct image **pp;

	if (!img)
		return;
	pthread_mutex_lock(&c->lock);
	if (--img->refs > 0) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	for (pp = &c->list; *pp; pp = &(*pp)->next)
		if (*pp == img) {
			*pp = img->next;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (img->data)
		munmap((void *)img->data, img->size);
	free(img->path);
	free(img);
}
