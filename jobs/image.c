/* This file implements the shared read-only image mappings (jobs/image.h). */
#include "jobs/image.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct image_cache {
	pthread_mutex_t lock; /* guards the list and every refcount */
	struct image *list;
};

int image_cache_new(struct image_cache **ret)
{
	struct image_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
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
	free(c);
	return NULL;
}

static int map_file(const char *path, struct image **ret, struct err *e)
{
	_cleanup_close_ int fd = -1;
	struct image *img;
	struct stat st;
	void *p = NULL;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "cannot open image '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return err_set(e, -errno, "cannot stat image '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(e, -EINVAL, "image '%s' is not a regular file", path);
	if (st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return err_set(e, -errno, "cannot map image '%s': %s", path,
				       strerror(errno));
	}
	img = calloc(1, sizeof(*img));
	if (img)
		img->path = strdup(path);
	if (!img || !img->path) {
		if (p)
			munmap(p, (size_t)st.st_size);
		free(img);
		return err_set(e, -ENOMEM, "out of memory mapping '%s'", path);
	}
	img->data = p;
	img->size = (size_t)st.st_size;
	img->refs = 1;
	*ret = img;
	return 0;
}

int image_get(struct image_cache *c, const char *path, const uint8_t sha256[RECIPE_SHA256_LEN],
	      struct image **ret, struct err *e)
{
	struct recipe_sha256 h;
	struct image *img;
	char want[65], got[65];
	int r;

	pthread_mutex_lock(&c->lock);
	for (img = c->list; img; img = img->next)
		if (!strcmp(img->path, path) && !memcmp(img->sha256, sha256, RECIPE_SHA256_LEN)) {
			img->refs++;
			pthread_mutex_unlock(&c->lock);
			*ret = img;
			return 0;
		}
	pthread_mutex_unlock(&c->lock);

	/* Map and hash outside the lock: hashing 64 MiB must not stall other jobs. */
	r = map_file(path, &img, e);
	if (r < 0)
		return r;
	recipe_sha256_init(&h);
	recipe_sha256_update(&h, img->data, img->size);
	recipe_sha256_final(&h, img->sha256);
	if (memcmp(img->sha256, sha256, RECIPE_SHA256_LEN)) {
		recipe_sha256_hex(sha256, want);
		recipe_sha256_hex(img->sha256, got);
		img->refs = 0;
		r = err_set(e, -EILSEQ, "image '%s' changed since the recipe was loaded: sha256 %s, recipe pins %s",
			    path, got, want);
		if (img->data)
			munmap((void *)img->data, img->size);
		free(img->path);
		free(img);
		return r;
	}
	pthread_mutex_lock(&c->lock);
	img->next = c->list;
	c->list = img;
	pthread_mutex_unlock(&c->lock);
	*ret = img;
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
