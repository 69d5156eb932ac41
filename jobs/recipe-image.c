/*
 * This file implements the image fields of a recipe ("file" + "sha256"):
 * the path must stay inside the recipe's directory, the file is read once to
 * check its pinned sha256, and an Android sparse header gives the size it
 * will occupy on the target.
 */
#include "jobs/recipe-private.h"
#include "jobs/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Android sparse header (protocol-imx-sdp-fastboot.md §4.4): magic, blk_sz, total_blks. */
static void sparse_probe(struct recipe_image *img, const uint8_t *h, size_t n)
{
	uint32_t magic, blk_sz, total_blks;

	if (n < 28)
		return;
	magic = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
	blk_sz = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 |
		 (uint32_t)h[15] << 24;
	total_blks = (uint32_t)h[16] | (uint32_t)h[17] << 8 | (uint32_t)h[18] << 16 |
		     (uint32_t)h[19] << 24;
	if (magic != 0xED26FF3A)
		return;
	img->sparse = true;
	img->write_size = (uint64_t)blk_sz * total_blks;
}

/*
 * Resolve file below the recipe directory and hash it once.  want is NULL when
 * the sha256 field itself was bad (the file is still checked for existence).
 */
static bool image_load(struct recipe_parser *p, const char *jp_file, const char *jp_sha,
		       const char *file, const uint8_t *want, struct recipe_image *img)
{
	_cleanup_free_ char *full = NULL, *real = NULL;
	_cleanup_close_ int fd = -1;
	struct recipe_sha256 c;
	uint8_t head[28], buf[65536];
	size_t dlen = strlen(p->dir), nhead = 0;
	const char *s;
	ssize_t n;

	if (file[0] == '/') {
		recipe_problem(p, jp_file, "'%s': absolute paths are not allowed", file);
		return false;
	}
	for (s = file; *s; s = strchr(s, '/') ? strchr(s, '/') + 1 : s + strlen(s))
		if (strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0')) {
			recipe_problem(p, jp_file, "'%s' escapes the recipe directory", file);
			return false;
		}
	if (asprintf(&full, "%s/%s", p->dir, file) < 0) {
		p->oom = true;
		return false;
	}
	real = realpath(full, NULL);
	if (!real) {
		recipe_problem(p, jp_file, "cannot open '%s': %s", file, strerror(errno));
		return false;
	}
	if (strncmp(real, p->dir, dlen) != 0 || (real[dlen] != '/' && strcmp(p->dir, "/") != 0)) {
		recipe_problem(p, jp_file, "'%s' resolves outside the recipe directory", file);
		return false;
	}
	/* A FIFO here would block recipe loading (and flashd's loop) forever. */
	fd = open_regular(real);
	if (fd == -EINVAL) {
		recipe_problem(p, jp_file, "'%s' is not a regular file", file);
		return false;
	}
	if (fd < 0) {
		recipe_problem(p, jp_file, "cannot open '%s': %s", file, strerror(-fd));
		return false;
	}
	recipe_sha256_init(&c);
	img->size = 0;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		/* A multi-GiB image hashes for seconds: flashd's SIGTERM must not wait. */
		if (recipe_cancelled(p->cancel)) {
			recipe_problem(p, jp_file, "loading cancelled");
			return false;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			recipe_problem(p, jp_file, "cannot read '%s': %s", file, strerror(errno));
			return false;
		}
		if (nhead < sizeof(head)) {
			size_t k =
				sizeof(head) - nhead < (size_t)n ? sizeof(head) - nhead : (size_t)n;

			memcpy(head + nhead, buf, k);
			nhead += k;
		}
		recipe_sha256_update(&c, buf, (size_t)n);
		img->size += (uint64_t)n;
	}
	recipe_sha256_final(&c, img->sha256);
	img->write_size = img->size;
	sparse_probe(img, head, nhead);
	img->path = TAKE_PTR(real);
	if (want && memcmp(want, img->sha256, RECIPE_SHA256_LEN) != 0) {
		char hex[65];

		recipe_sha256_hex(img->sha256, hex);
		recipe_problem(p, jp_sha, "does not match '%s' (file has %s)", file, hex);
		return false;
	}
	return want != NULL;
}

/* "file" + "sha256" keys of obj (a stage, or a nested image object). */
bool recipe_get_image(struct recipe_parser *p, const cJSON *obj, const char *base,
		      struct recipe_image *img)
{
	char jp_file[RECIPE_JPATH_MAX], jp_sha[RECIPE_JPATH_MAX];
	uint8_t want[RECIPE_SHA256_LEN];
	_cleanup_free_ char *sha = NULL;
	bool sha_ok = false;
	int rf, rs;

	rf = recipe_get_string(p, obj, base, "file", true, &img->file);
	rs = recipe_get_string(p, obj, base, "sha256", true, &sha);
	recipe_jpath_key(jp_file, base, "file");
	recipe_jpath_key(jp_sha, base, "sha256");
	if (rs > 0) {
		sha_ok = strlen(sha) == 64;
		for (int i = 0; sha_ok && i < RECIPE_SHA256_LEN; i++) {
			uint32_t v;
			char two[3] = { sha[2 * i], sha[2 * i + 1], 0 };

			sha_ok = recipe_parse_hex(two, 2, &v);
			want[i] = (uint8_t)v;
		}
		if (!sha_ok)
			recipe_problem(p, jp_sha, "not 64 hex digits");
	}
	if (rf <= 0)
		return false;
	return image_load(p, jp_file, jp_sha, img->file, sha_ok ? want : NULL, img) && rs > 0;
}

/* A nested image object such as ingenic.boot "spl": { "file": ..., "sha256": ... }. */
int recipe_get_image_object(struct recipe_parser *p, const cJSON *obj, const char *base,
			    const char *key, bool required, struct recipe_image *img)
{
	static const char *const keys[] = { "file", "sha256", NULL };
	char jp[RECIPE_JPATH_MAX];
	const cJSON *it;
	int r = recipe_get_item(p, obj, base, key, required, &it, jp);
	bool ok;

	if (r <= 0)
		return r;
	if (!cJSON_IsObject(it)) {
		recipe_problem(p, jp, "not an object");
		return -1;
	}
	ok = recipe_check_keys(p, it, jp, keys, NULL);
	ok = recipe_get_image(p, it, jp, img) && ok;
	return ok ? 1 : -1;
}
