/*
 * Tests for the shared image copies (jobs/image.c, issue 13): an image held
 * by a job survives its file being truncated or rewritten in place (no
 * SIGBUS, original bytes), a second image_get() after an in-place rewrite
 * never returns bytes whose sha256 differs from the pin, and a FIFO is
 * refused at once instead of blocking.  Fixtures live in a temporary
 * directory; the FIFO case arms alarm() so old code fails instead of hanging.
 */
#include "jobs/image.h"
#include "tests/lib/test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMG_LEN 20000 /* several pages: the truncated tail is past page 0 */

static char tmp[256], path[300];
static uint8_t orig[IMG_LEN], pin[RECIPE_SHA256_LEN];

static void fill(uint8_t *buf, uint8_t seed)
{
	for (size_t i = 0; i < IMG_LEN; i++)
		buf[i] = (uint8_t)(i * 7 + seed);
}

/* Rewrite the file's bytes in place (same inode, same size), as `dd conv=notrunc` would. */
static void overwrite_in_place(const uint8_t *buf)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(pwrite(fd, buf, IMG_LEN, 0), IMG_LEN);
	close(fd);
}

static void setup(void)
{
	struct recipe_sha256 h;
	int fd;

	snprintf(tmp, sizeof(tmp), "/tmp/test-image.XXXXXX");
	ASSERT_TRUE(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/img.bin", tmp);
	fill(orig, 1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, orig, IMG_LEN), IMG_LEN);
	close(fd);
	recipe_sha256_init(&h);
	recipe_sha256_update(&h, orig, IMG_LEN);
	recipe_sha256_final(&h, pin);
}

static void teardown(void)
{
	char fifo[320];

	snprintf(fifo, sizeof(fifo), "%s/fifo.bin", tmp);
	unlink(fifo);
	unlink(path);
	rmdir(tmp);
}

static void sha_of(const struct image *img, uint8_t out[RECIPE_SHA256_LEN])
{
	struct recipe_sha256 h;

	recipe_sha256_init(&h);
	recipe_sha256_update(&h, img->data, img->size);
	recipe_sha256_final(&h, out);
}

TEST(truncate_keeps_bytes)
{
	struct image_cache *c = NULL;
	struct image *img = NULL;
	struct err e = { 0 };

	setup();
	ASSERT_OK(image_cache_new(&c));
	ASSERT_OK(image_get(c, path, pin, &img, &e));
	ASSERT_EQ(img->size, IMG_LEN);
	ASSERT_OK(truncate(path, 0));
	/* A mapping of the file would SIGBUS here; the sealed copy still holds every byte. */
	ASSERT_MEMEQ(img->data, orig, IMG_LEN);
	image_put(c, img);
	image_cache_free(c);
	teardown();
}

TEST(overwrite_keeps_bytes_and_pin)
{
	struct image_cache *c = NULL;
	struct image *a = NULL, *b = NULL;
	uint8_t other[IMG_LEN], got[RECIPE_SHA256_LEN];
	struct err e = { 0 };
	int r;

	setup();
	fill(other, 99);
	ASSERT_OK(image_cache_new(&c));
	ASSERT_OK(image_get(c, path, pin, &a, &e));
	overwrite_in_place(other);
	ASSERT_MEMEQ(a->data, orig, IMG_LEN);
	/* The next unit: either the pinned sealed bytes or -EILSEQ, never the new bytes. */
	r = image_get(c, path, pin, &b, &e);
	if (r == 0) {
		sha_of(b, got);
		ASSERT_MEMEQ(got, pin, RECIPE_SHA256_LEN);
		ASSERT_MEMEQ(b->data, orig, IMG_LEN);
		image_put(c, b);
	} else {
		ASSERT_EQ(r, -EILSEQ);
	}
	image_put(c, a);
	image_cache_free(c);
	teardown();
}

TEST(overwrite_before_get_is_eilseq)
{
	struct image_cache *c = NULL;
	struct image *img = NULL;
	uint8_t other[IMG_LEN];
	struct err e = { 0 };

	setup();
	fill(other, 42);
	overwrite_in_place(other);
	ASSERT_OK(image_cache_new(&c));
	ASSERT_EQ(image_get(c, path, pin, &img, &e), -EILSEQ);
	ASSERT_CONTAINS(e.msg, "changed since the recipe was loaded");
	image_cache_free(c);
	teardown();
}

TEST(shared_between_units)
{
	struct image_cache *c = NULL;
	struct image *a = NULL, *b = NULL;
	struct err e = { 0 };

	setup();
	ASSERT_OK(image_cache_new(&c));
	ASSERT_OK(image_get(c, path, pin, &a, &e));
	ASSERT_OK(image_get(c, path, pin, &b, &e));
	ASSERT_TRUE(a == b);
	ASSERT_TRUE(a->data == b->data);
	image_put(c, a);
	image_put(c, b);
	image_cache_free(c);
	teardown();
}

/* Jobs that start together all miss the cache, map and hash at once. */
struct racer {
	struct image_cache *c;
	pthread_barrier_t *go;
	struct image *img;
	int r;
};

static void *race_get(void *arg)
{
	struct racer *x = arg;
	struct err e = { 0 };

	pthread_barrier_wait(x->go);
	x->r = image_get(x->c, path, pin, &x->img, &e);
	return NULL;
}

/* Stages keep pointers into the cached copy while the job's own reference
 * holds it: jobs loading the same image at once must share one copy. */
TEST(shared_between_units_that_load_it_at_once)
{
	enum { N = 6, ROUNDS = 20 };
	struct image_cache *c = NULL;
	pthread_barrier_t go;
	struct racer x[N];
	pthread_t t[N];

	setup();
	ASSERT_OK(image_cache_new(&c));
	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_init(&go, NULL, N);
		for (int i = 0; i < N; i++) {
			x[i] = (struct racer){ .c = c, .go = &go };
			ASSERT_EQ(pthread_create(&t[i], NULL, race_get, &x[i]), 0);
		}
		for (int i = 0; i < N; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		for (int i = 0; i < N; i++) {
			ASSERT_OK(x[i].r);
			ASSERT_TRUE(x[i].img == x[0].img);
		}
		for (int i = 0; i < N; i++)
			image_put(c, x[i].img);
	}
	image_cache_free(c);
	teardown();
}

/* Bytes this process has read with read(2) so far (/proc/self/io rchar). */
static unsigned long long bytes_read(void)
{
	unsigned long long v = 0;
	char line[128];
	FILE *f = fopen("/proc/self/io", "re");

	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "rchar: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* 64 boards plugged together want one image: the file is copied once, not
 * once per job that missed the cache (64 x 64 MiB of memfds at once). */
TEST(copied_once_when_units_want_it_at_once)
{
	enum { N = 8, ROUNDS = 5, BIG = 8 << 20 };
	struct image_cache *c = NULL;
	pthread_barrier_t go;
	struct racer x[N];
	pthread_t t[N];
	struct recipe_sha256 h;
	uint8_t *big = malloc(BIG);
	char bigpath[300];
	int fd;

	setup();
	ASSERT_TRUE(big != NULL);
	for (size_t i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 13 + (i >> 12));
	snprintf(bigpath, sizeof(bigpath), "%.200s/big.bin", tmp);
	fd = open(bigpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, big, BIG), BIG);
	close(fd);
	recipe_sha256_init(&h);
	recipe_sha256_update(&h, big, BIG);
	recipe_sha256_final(&h, pin); /* the racers take path and pin */
	snprintf(path, sizeof(path), "%s", bigpath);
	ASSERT_OK(image_cache_new(&c));
	for (int round = 0; round < ROUNDS; round++) {
		unsigned long long before = bytes_read(), copies;

		pthread_barrier_init(&go, NULL, N);
		for (int i = 0; i < N; i++) {
			x[i] = (struct racer){ .c = c, .go = &go };
			ASSERT_EQ(pthread_create(&t[i], NULL, race_get, &x[i]), 0);
		}
		for (int i = 0; i < N; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		copies = (bytes_read() - before) / BIG;
		for (int i = 0; i < N; i++) {
			ASSERT_OK(x[i].r);
			ASSERT_TRUE(x[i].img == x[0].img);
		}
		ASSERT_EQ(copies, 1ULL);
		for (int i = 0; i < N; i++)
			image_put(c, x[i].img);
	}
	image_cache_free(c);
	free(big);
	snprintf(path, sizeof(path), "%s/img.bin", tmp);
	unlink(bigpath);
	teardown();
}

TEST(fifo_refused)
{
	struct image_cache *c = NULL;
	struct image *img = NULL;
	struct err e = { 0 };
	char fifo[320];

	setup();
	snprintf(fifo, sizeof(fifo), "%s/fifo.bin", tmp);
	ASSERT_OK(mkfifo(fifo, 0644));
	ASSERT_OK(image_cache_new(&c));
	alarm(10); /* old code blocked in open(2) forever */
	ASSERT_EQ(image_get(c, fifo, pin, &img, &e), -EINVAL);
	alarm(0);
	ASSERT_CONTAINS(e.msg, "is not a regular file");
	ASSERT_CONTAINS(e.msg, fifo);
	ASSERT_EQ(open_regular(tmp), -EINVAL);
	image_cache_free(c);
	teardown();
}

TEST_MAIN()
