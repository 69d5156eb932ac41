/*
 * This file implements the host side of fastboot as spoken by U-Boot
 * (fastboot.h), after shared/docs/protocol-imx-sdp-fastboot.md §4: framing
 * §4.1, commands and UCmd/ACmd §4.2, getvar §4.3, sparse splitting §4.5,
 * timeouts §4.6, and the env/getvar trick for reading values back §3.2.
 */
#include "protocols/fastboot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/crc32.h"

/* Env variable the device CRC is stored in; read back as getvar:<name> (§3.2). */
#define FB_CRC_VAR "flashd_crc32"

struct fb {
	struct usb_dev *usb;
	uint8_t ep_in, ep_out;
	unsigned int pct;
	fb_info_cb_t info;
	void *info_ud;
	bool claimed;
	uint8_t *stage; /* FB_STAGE_BYTES bounce buffer for small segments (data_put) */
	size_t staged;
};

static unsigned int fb_ms(const struct fb *f, uint64_t ms)
{
	uint64_t v = ms * f->pct / 100;

	if (v == 0)
		v = 1;
	return v > UINT32_MAX ? UINT32_MAX : (unsigned int)v;
}

static int find_bulk_eps(struct fb *f, struct err *e)
{
	struct usb_endpoint in, out;
	int r = usb_find_endpoint(f->usb, LIBUSB_TRANSFER_TYPE_BULK, true, &in, e);

	if (r == 0)
		r = usb_find_endpoint(f->usb, LIBUSB_TRANSFER_TYPE_BULK, false, &out, e);
	if (r == -ENOENT)
		return err_set(e, r, "interface %u has no bulk IN/OUT pair (not fastboot?)",
			       f->usb->interface);
	if (r < 0)
		return r;
	f->ep_in = in.address;
	f->ep_out = out.address;
	return 0;
}

int fb_open(struct usb_dev *usb, struct fb **ret, struct err *e)
{
	_cleanup_(fb_closep) struct fb *f = NULL;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return err_set(e, -ENOMEM, "out of memory");
	f->usb = usb;
	f->pct = 100;
	r = usb_claim(usb, e);
	if (r < 0)
		return r;
	f->claimed = true;
	r = find_bulk_eps(f, e);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(f);
	return 0;
}

struct fb *fb_close(struct fb *f)
{
	if (!f)
		return NULL;
	if (f->claimed)
		usb_release(f->usb);
	free(f->stage);
	free(f);
	return NULL;
}

void fb_set_info_cb(struct fb *f, fb_info_cb_t cb, void *ud)
{
	f->info = cb;
	f->info_ud = ud;
}

void fb_set_timeout_pct(struct fb *f, unsigned int pct)
{
	f->pct = pct ? pct : 100;
}

static int bulk_out(struct fb *f, const void *buf, size_t len, unsigned int timeout, struct err *e)
{
	int got = 0, r;

	r = usb_check_cancel(f->usb, "bulk write", e);
	if (r < 0)
		return r;
	r = usb_bulk_out_pieces(f->usb, f->ep_out, buf, (int)len, &got, timeout);
	/* An unplug during a multi-URB write comes back as LIBUSB_ERROR_IO. */
	if (r == LIBUSB_ERROR_IO && usb_device_gone(f->usb))
		r = LIBUSB_ERROR_NO_DEVICE;
	if (r < 0)
		return err_set(e, usb_errno(r), "%s", libusb_strerror((enum libusb_error)r));
	if ((size_t)got != len)
		return err_set(e, -EIO, "short bulk write: %d of %zu bytes", got, len);
	return 0;
}

/*
 * One reply packet into buf (NUL-terminated).  Returns its length.  Read
 * in slices: an erase or UCmd may take minutes, and a stage deadline or
 * shutdown must still end the wait within a slice.
 */
static int read_reply(struct fb *f, char *buf, unsigned int timeout, struct err *e)
{
	int got = usb_read_sliced(f->usb, f->ep_in, false, buf, FB_RESPONSE_LEN, timeout, e);

	if (got < 0) {
		return err_prefix(e, got, "reading the reply");
	}
	buf[got] = '\0';
	return got;
}

enum fb_reply {
	FB_OKAY,
	FB_DATA,
};

/*
 * Read replies until OKAY, FAIL or DATA; INFO/TEXT are passed on.  OKAY
 * text or the DATA size string go to text.  FAIL is -EREMOTEIO.
 */
static int wait_reply(struct fb *f, const char *what, unsigned int timeout, char *text, size_t size,
		      enum fb_reply *kind, struct err *e)
{
	char buf[FB_RESPONSE_LEN + 1];

	for (;;) {
		int n = read_reply(f, buf, timeout, e);

		if (n < 0)
			return err_prefix(e, n, "%s", what);
		if (n < 4)
			return err_set(e, -EPROTO, "%s: reply of %d bytes '%s'", what, n, buf);
		if (!memcmp(buf, "INFO", 4) || !memcmp(buf, "TEXT", 4)) {
			char kindbuf[5];

			memcpy(kindbuf, buf, 4);
			kindbuf[4] = '\0';
			if (f->info)
				f->info(f->info_ud, kindbuf, buf + 4);
			continue;
		}
		if (!memcmp(buf, "FAIL", 4))
			return err_set(e, -EREMOTEIO, "%s: FAIL %s", what, buf + 4);
		if (!memcmp(buf, "OKAY", 4) || !memcmp(buf, "DATA", 4)) {
			*kind = buf[0] == 'O' ? FB_OKAY : FB_DATA;
			if (text && size)
				snprintf(text, size, "%s", buf + 4);
			return 0;
		}
		return err_set(e, -EPROTO, "%s: unknown reply '%.4s'", what, buf);
	}
}

static int send_command(struct fb *f, const char *cmd, struct err *e)
{
	size_t len = strlen(cmd);
	int r;

	if (len == 0 || len > FB_COMMAND_MAX)
		return err_set(e, -EINVAL, "command of %zu bytes (1..%d)", len, FB_COMMAND_MAX);
	r = bulk_out(f, cmd, len, fb_ms(f, FB_CMD_TIMEOUT_MS), e);
	if (r < 0)
		return err_prefix(e, r, "%s", cmd);
	return 0;
}

int fb_command(struct fb *f, const char *cmd, unsigned int timeout_ms, char *resp, size_t resp_size,
	       struct err *e)
{
	enum fb_reply kind;
	int r;

	if (resp && resp_size)
		resp[0] = '\0';
	r = send_command(f, cmd, e);
	if (r < 0)
		return r;
	r = wait_reply(f, cmd, fb_ms(f, timeout_ms ? timeout_ms : FB_CMD_TIMEOUT_MS), resp,
		       resp_size, &kind, e);
	if (r < 0)
		return r;
	if (kind != FB_OKAY)
		return err_set(e, -EPROTO, "%s: unexpected DATA reply", cmd);
	return 0;
}

int fb_getvar(struct fb *f, const char *var, char *val, size_t size, struct err *e)
{
	char cmd[FB_COMMAND_MAX + 1];

	if (snprintf(cmd, sizeof(cmd), "getvar:%s", var) >= (int)sizeof(cmd))
		return err_set(e, -EINVAL, "getvar: variable name too long");
	return fb_command(f, cmd, 0, val, size, e);
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	errno = 0;
	v = strtoull(s, &end, 0);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (errno || end == s || *end)
		return false;
	*ret = v;
	return true;
}

/* Hex digits with or without "0x" (U-Boot's hash and DATA print bare hex). */
static bool parse_hex(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	while (*s == ' ')
		s++;
	if (!*s)
		return false;
	errno = 0;
	v = strtoull(s, &end, 16);
	while (*end == ' ' || *end == '\n' || *end == '\r')
		end++;
	if (errno || end == s || *end)
		return false;
	*ret = v;
	return true;
}

int fb_max_download(struct fb *f, uint32_t *ret, struct err *e)
{
	char val[FB_RESPONSE_LEN + 1];
	uint64_t v;
	int r = fb_getvar(f, "max-download-size", val, sizeof(val), e);

	if (r < 0)
		return r;
	if (!val[0]) {
		*ret = FB_DEFAULT_MAX_DOWNLOAD;
		return 0;
	}
	if (!parse_u64(val, &v) || v == 0 || v > UINT32_MAX)
		return err_set(e, -EPROTO, "getvar:max-download-size: bad value '%s'", val);
	*ret = (uint32_t)v;
	return 0;
}

/* Queue bytes for the data phase: big runs go straight from the caller's
 * buffer, small ones (sparse headers) are gathered in the bounce buffer. */
static int data_flush(struct fb *f, unsigned int timeout, struct err *e)
{
	int r = 0;

	if (f->staged)
		r = bulk_out(f, f->stage, f->staged, timeout, e);
	f->staged = 0;
	return r;
}

/*
 * Bounce buffer for small segments (sparse headers, small chunks).  Big runs
 * go straight from the caller's buffer in FB_BULK_CHUNK transfers; the
 * buffer only gathers what is small, so 64 KiB per session is enough (64
 * boards downloading at once: 4 MiB, not 64 MiB of 1 MiB buffers).
 */
#define FB_STAGE_BYTES (64 * 1024)

/* Every transfer but a download's last is whole 512-byte packets: a short
 * packet mid-stream would end the device's request early. */
#define FB_PACKET 512

static int data_put(struct fb *f, const uint8_t *p, size_t len, unsigned int timeout, struct err *e)
{
	int r;

	while (len) {
		size_t n;

		if (!f->staged && len >= FB_STAGE_BYTES) {
			n = len < FB_BULK_CHUNK ? len & ~(size_t)(FB_PACKET - 1) : FB_BULK_CHUNK;
			r = bulk_out(f, p, n, timeout, e);
			if (r < 0)
				return r;
			p += n;
			len -= n;
			continue;
		}
		/* Before a big run: top the staged bytes up to whole packets and send them. */
		if (f->staged && len >= FB_STAGE_BYTES)
			n = (FB_PACKET - f->staged % FB_PACKET) % FB_PACKET;
		else
			n = FB_STAGE_BYTES - f->staged;
		if (n > len)
			n = len;
		memcpy(f->stage + f->staged, p, n);
		f->staged += n;
		p += n;
		len -= n;
		if (f->staged == FB_STAGE_BYTES ||
		    (len >= FB_STAGE_BYTES && f->staged % FB_PACKET == 0)) {
			r = data_flush(f, timeout, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int fb_download_segs(struct fb *f, const struct sparse_seg *segs, size_t n,
		     usb_progress_cb_t progress, void *ud, uint64_t progress_base,
		     uint64_t progress_total, struct err *e)
{
	char cmd[32], text[FB_RESPONSE_LEN + 1];
	unsigned int timeout = fb_ms(f, FB_DATA_MS_PER_MIB);
	enum fb_reply kind;
	uint64_t total = 0, done = 0, at, v;
	int r;

	for (size_t i = 0; i < n; i++)
		total += segs[i].len;
	if (total == 0 || total > UINT32_MAX)
		return err_set(e, -EINVAL, "download of %llu bytes", (unsigned long long)total);
	if (!f->stage) {
		f->stage = malloc(FB_STAGE_BYTES);
		if (!f->stage)
			return err_set(e, -ENOMEM, "out of memory");
	}
	f->staged = 0;
	usb_phase(f->usb, USB_PHASE_TRANSFER, progress_base, progress_total, 0);
	snprintf(cmd, sizeof(cmd), "download:%08x", (uint32_t)total);
	r = send_command(f, cmd, e);
	if (r >= 0)
		r = wait_reply(f, cmd, fb_ms(f, FB_CMD_TIMEOUT_MS), text, sizeof(text), &kind, e);
	if (r < 0)
		return r;
	if (kind != FB_DATA)
		return err_set(e, -EPROTO, "%s: OKAY where DATA was expected", cmd);
	/* U-Boot echoes the parameter as sent (§4.2): 8 hex digits. */
	if (!parse_hex(text, &v) || v != total)
		return err_set(e, -EPROTO, "%s: device announced DATA%s", cmd, text);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = segs[i].data;
		size_t left = segs[i].len;

		/* Progress per MiB at most: slice big segments. */
		while (left) {
			/* Slices end on the stream's MiB boundaries, so after a
			 * header the transfers stay whole MiB (data_put). */
			size_t k = FB_BULK_CHUNK - done % FB_BULK_CHUNK;

			if (k > left)
				k = left;

			/* A failed write starts with the bytes still staged. */
			at = done - f->staged;
			r = data_put(f, p, k, timeout, e);
			if (r < 0)
				return err_prefix(e, r, "%s: data at +0x%llx", cmd,
						  (unsigned long long)at);
			p += k;
			left -= k;
			done += k;
			if (progress)
				progress(ud, progress_base + done, progress_total);
		}
	}
	at = done - f->staged;
	r = data_flush(f, timeout, e);
	if (r < 0)
		return err_prefix(e, r, "%s: data at +0x%llx", cmd, (unsigned long long)at);
	r = wait_reply(f, cmd, fb_ms(f, FB_CMD_TIMEOUT_MS), NULL, 0, &kind, e);
	if (r < 0)
		return r;
	if (kind != FB_OKAY)
		return err_set(e, -EPROTO, "%s: DATA again after the data phase", cmd);
	return 0;
}

int fb_download(struct fb *f, const void *buf, size_t len, usb_progress_cb_t progress, void *ud,
		struct err *e)
{
	struct sparse_seg s = { .data = buf, .len = len };

	return fb_download_segs(f, &s, 1, progress, ud, 0, len, e);
}

/*
 * Device-side eMMC write time per MiB assumed until one flash was timed:
 * 20 MB/s, a typical sequential write of the i.MX boards' eMMC (JESD84
 * class parts); only drives the progress shown, never a deadline.
 */
#define FB_WRITE_TYP_MS_PER_MIB 50
/* Learned by the last timed flash of this process, ms per MiB (0: none yet). */
static _Atomic uint64_t fb_write_learned_ms_per_mib;

int fb_flash(struct fb *f, const char *part, uint64_t size, struct err *e)
{
	char cmd[FB_COMMAND_MAX + 1];
	uint64_t ms = FB_FLASH_BASE_MS + (size >> 20) * FB_FLASH_MS_PER_MIB;
	uint64_t per_mib = fb_write_learned_ms_per_mib, t0;
	int r;

	if (snprintf(cmd, sizeof(cmd), "flash:%s", part) >= (int)sizeof(cmd))
		return err_set(e, -EINVAL, "flash: partition name too long");
	/* The device writes while we wait for OKAY (INFO lines at most). */
	usb_phase(f->usb, USB_PHASE_WRITE, 0, size,
		  (size * (per_mib ? per_mib : FB_WRITE_TYP_MS_PER_MIB) >> 20) + 1);
	t0 = usb_now_ms();
	r = fb_command(f, cmd, (unsigned int)(ms > UINT32_MAX ? UINT32_MAX : ms), NULL, 0, e);
	if (r < 0)
		return r;
	if (size >= (1u << 20))
		fb_write_learned_ms_per_mib = ((usb_now_ms() - t0) << 20) / size;
	usb_phase(f->usb, USB_PHASE_WRITE, size, size, 0);
	return 0;
}

int fb_erase(struct fb *f, const char *part, struct err *e)
{
	char cmd[FB_COMMAND_MAX + 1];

	if (snprintf(cmd, sizeof(cmd), "erase:%s", part) >= (int)sizeof(cmd))
		return err_set(e, -EINVAL, "erase: partition name too long");
	/* The host does not know the partition's size: the phase, no amount. */
	usb_phase(f->usb, USB_PHASE_ERASE, 0, 0, 0);
	return fb_command(f, cmd, FB_ERASE_TIMEOUT_MS, NULL, 0, e);
}

/* The device resets right after its OKAY: losing it before we read that is fine. */
static int fb_leaving(struct fb *f, const char *cmd, struct err *e)
{
	struct err tmp = { 0 };
	int r = fb_command(f, cmd, 0, NULL, 0, &tmp);

	if (r == -ENODEV || r == -EPIPE || r == -EIO || r == -ESHUTDOWN)
		return 0;
	if (r < 0)
		return err_set(e, r, "%s", tmp.msg);
	return 0;
}

int fb_reboot(struct fb *f, struct err *e)
{
	return fb_leaving(f, "reboot", e);
}

int fb_continue(struct fb *f, struct err *e)
{
	return fb_leaving(f, "continue", e);
}

static int prefixed(struct fb *f, const char *prefix, const char *cmd, unsigned int timeout,
		    struct err *e)
{
	char buf[FB_COMMAND_MAX + 1];

	if (snprintf(buf, sizeof(buf), "%s%s", prefix, cmd) >= (int)sizeof(buf))
		return err_set(e, -EINVAL, "%s command too long", prefix);
	return fb_command(f, buf, timeout, NULL, 0, e);
}

int fb_oem(struct fb *f, const char *cmd, struct err *e)
{
	return prefixed(f, "oem ", cmd, FB_UCMD_TIMEOUT_MS, e);
}

int fb_ucmd(struct fb *f, const char *cmd, unsigned int timeout_ms, struct err *e)
{
	return prefixed(f, "UCmd:", cmd, timeout_ms ? timeout_ms : FB_UCMD_TIMEOUT_MS, e);
}

int fb_acmd(struct fb *f, const char *cmd, struct err *e)
{
	/* U-Boot refuses ACmd parameters of 64 characters or more (§4.2). */
	if (strlen(cmd) >= 64)
		return err_set(e, -EINVAL, "ACmd:%s: 64 characters or more", cmd);
	return prefixed(f, "ACmd:", cmd, 0, e);
}

/* ---- device-side CRC ---- */

int fb_mmc_crc32(struct fb *f, uint64_t off, uint64_t len, uint32_t max_piece, uint32_t *ret,
		 struct err *e)
{
	uint32_t crc = 0;
	uint64_t piece = max_piece - max_piece % FB_MMC_BLOCK;

	if (off % FB_MMC_BLOCK)
		return err_set(e, -EINVAL, "read-back at 0x%llx: not a multiple of %u",
			       (unsigned long long)off, FB_MMC_BLOCK);
	if (piece == 0)
		return err_set(e, -EINVAL, "read-back pieces of %u bytes", max_piece);
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < piece ? len - done : piece;
		uint64_t blk = (off + done) / FB_MMC_BLOCK,
			 cnt = (n + FB_MMC_BLOCK - 1) / FB_MMC_BLOCK;
		char cmd[128], val[FB_RESPONSE_LEN + 1];
		uint64_t v;
		int r;

		snprintf(cmd, sizeof(cmd), "mmc read ${loadaddr} 0x%llx 0x%llx",
			 (unsigned long long)blk, (unsigned long long)cnt);
		r = fb_ucmd(f, cmd, 0, e);
		if (r < 0)
			return r;
		snprintf(cmd, sizeof(cmd), "hash crc32 ${loadaddr} 0x%llx fastboot." FB_CRC_VAR,
			 (unsigned long long)n);
		r = fb_ucmd(f, cmd, 0, e);
		if (r < 0)
			return r;
		r = fb_getvar(f, FB_CRC_VAR, val, sizeof(val), e);
		if (r < 0)
			return r;
		if (!parse_hex(val, &v) || v > UINT32_MAX)
			return err_set(e, -EPROTO, "getvar:%s: not a CRC-32: '%s'", FB_CRC_VAR,
				       val);
		/* Pieces are combined (zlib), not re-read: the device read each once. */
		crc = done ? crc32_concat(crc, (uint32_t)v, n) : (uint32_t)v;
		done += n;
	}
	*ret = crc;
	return 0;
}

/* ---- partitions ---- */

/* Env variable the partition's start or size is stored in (§3.2). */
#define FB_PART_VAR "flashd_part"

/* Characters hush passes through as one plain word (no $, ;, quotes, blanks). */
static bool shell_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("_-.+:@", *s)))
			return false;
	return true;
}

int fb_part_info(struct fb *f, const char *name, const char *what, uint64_t *blocks, struct err *e)
{
	char cmd[FB_COMMAND_MAX + 1], val[FB_RESPONSE_LEN + 1];
	int r;

	if (!shell_word(name) || strlen(name) > 64)
		return err_set(
			e, -EINVAL,
			"partition name '%s' cannot be passed to U-Boot's part command as one word",
			name);
	snprintf(cmd, sizeof(cmd), "part %s mmc 0 %s fastboot." FB_PART_VAR, what, name);
	r = fb_ucmd(f, cmd, 0, e);
	if (r == -EREMOTEIO)
		return err_replace(e, -ENOENT,
				   "U-Boot's part command finds no partition '%s' on mmc 0", name);
	if (r < 0)
		return r;
	r = fb_getvar(f, FB_PART_VAR, val, sizeof(val), e);
	if (r < 0)
		return r;
	if (!parse_hex(val, blocks) || *blocks > UINT64_MAX / FB_MMC_BLOCK)
		return err_set(e, -EPROTO, "getvar:%s after part %s %s: not a block count: '%s'",
			       FB_PART_VAR, what, name, val);
	return 0;
}

/* ---- whole images ---- */

struct flash_ctx {
	struct fb *f;
	const char *part;
	usb_progress_cb_t progress;
	void *ud;
	uint64_t total;
	struct fb_flash_result *res;
};

static int flash_piece(void *ud, const struct sparse_piece *p, struct err *e)
{
	struct flash_ctx *c = ud;
	int r;

	r = fb_download_segs(c->f, p->segs, p->n_segs, c->progress, c->ud, c->res->bytes_sent,
			     c->total, e);
	if (r < 0)
		return err_prefix(e, r, "sparse piece %u (blocks %u..%u)", p->index, p->first_blk,
				  p->end_blk);
	c->res->bytes_sent += p->size;
	r = fb_flash(c->f, c->part, p->size, e);
	if (r < 0)
		return err_prefix(e, r, "sparse piece %u (blocks %u..%u)", p->index, p->first_blk,
				  p->end_blk);
	c->res->pieces++;
	return 0;
}

int fb_flash_image(struct fb *f, const uint8_t *buf, size_t len, const struct fb_flash_opts *o,
		   usb_progress_cb_t progress, void *ud, struct fb_flash_result *ret, struct err *e)
{
	struct fb_flash_result res = { 0 };
	struct flash_ctx c = { .f = f, .progress = progress, .ud = ud, .res = &res };
	const char *part = o->partition;
	uint32_t max = o->max_download;
	char rawname[24];
	int r;

	if (o->raw == !!o->partition)
		return err_set(e, -EINVAL, "flash: give a partition or a raw offset");
	if (len == 0)
		return err_set(e, -EINVAL, "flash: empty image");
	res.sparse_input = sparse_is_sparse(buf, len);
	if (res.sparse_input && (o->flags & FB_VERIFY_CRC32)) {
		r = err_set(
			e, -EOPNOTSUPP,
			"flash: device-side CRC of a sparse image is not supported (its DONT_CARE blocks are unknown to the host)");
		goto out;
	}
	res.host_crc = crc32_update(0, buf, len);

	if (!max) {
		r = fb_max_download(f, &max, e);
		if (r < 0)
			goto out;
		if (max > FB_SPARSE_CAP)
			max = FB_SPARSE_CAP;
	}
	res.max_download = max;

	if (o->raw) {
		/* "flash:0x400": U-Boot with the absolute-offset patch takes a
		 * name that is no partition as a byte offset (seed 001). */
		if (o->offset % FB_MMC_BLOCK) {
			r = err_set(e, -EINVAL, "flash: raw offset 0x%llx is not a multiple of %u",
				    (unsigned long long)o->offset, FB_MMC_BLOCK);
			goto out;
		}
		snprintf(rawname, sizeof(rawname), "0x%llx", (unsigned long long)o->offset);
		part = rawname;
	}
	c.part = part;

	if (len <= max) {
		c.total = len;
		r = fb_download(f, buf, len, progress, ud, e);
		if (r < 0)
			goto out;
		res.bytes_sent = len;
		r = fb_flash(f, part, len, e);
		if (r < 0)
			goto out;
		res.pieces = 1;
	} else if (o->flags & FB_NO_SPARSE) {
		r = err_set(
			e, -EMSGSIZE,
			"flash:%s: image of %zu bytes is larger than the download buffer (%u) and sparse splitting is off",
			part, len, max);
		goto out;
	} else {
		/* Headers add a little: progress may end slightly above 100 %. */
		c.total = len;
		r = sparse_split(buf, len, SPARSE_DEFAULT_BLOCK, max, flash_piece, &c, e);
		if (r < 0) {
			err_prefix(e, r, "flash:%s", part);
			goto out;
		}
	}

	if (o->flags & FB_VERIFY_CRC32) {
		if (!o->raw) {
			/* NEEDSWORK: find the partition's start (part start mmc ...) and
			 * read it back like a raw range. */
			r = err_set(e, -EOPNOTSUPP,
				    "flash:%s: device-side CRC is implemented for raw offsets only",
				    part);
			goto out;
		}
		r = fb_mmc_crc32(f, o->offset, len, max, &res.dev_crc, e);
		if (r < 0) {
			err_prefix(e, r, "verify 0x%llx", (unsigned long long)o->offset);
			goto out;
		}
		res.has_dev_crc = true;
		res.verified = res.dev_crc == res.host_crc;
		if (!res.verified) {
			r = err_set(
				e, -EILSEQ,
				"verify 0x%llx (%zu bytes): CRC mismatch (host 0x%08x, device 0x%08x)",
				(unsigned long long)o->offset, len, res.host_crc, res.dev_crc);
			goto out;
		}
	}
	r = 0;
out:
	if (ret)
		*ret = res;
	return r;
}
