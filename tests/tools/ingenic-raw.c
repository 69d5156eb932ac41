/*
 * This file implements ingenic-raw, a deliberately independent client of
 * the Ingenic T-series USB boot ROM and stage-2 burner for the conformance
 * tests of the simulated ingenic-t31 board (tests/sim/test-ingenic.sh).  It
 * uses raw libusb transfers and follows shared/docs/protocol-ingenic.md step
 * by step (§2 ROM, §3 burner, §4.2 the vendor flow); it includes libusb,
 * zlib (CRC-32) and libc only, so it shares no bug with flashd's own engine.
 *
 *   ingenic-raw [-p PORT] [-T CTRL_MS] [-A ACK_MS] [-c CHUNK] STEP...
 *
 * Steps run in order; each prints key=value lines:
 *   cpuinfo                  cpu_info=<8 chars> cpu_info_hex=<hex>
 *   uid                      uid=<32 hex> soc_id=0x... (eFuse shadow via ROM reads)
 *   ginfo=FILE               load to 0x80001000
 *   spl=FILE[,D2I]           load to 0x80001800, SET_DATA_LEN(D2I, default
 *                            0x7000), START1, poll GET_CPU_INFO (spl_ms=)
 *   burner=FILE              load to 0x80100000 in CHUNK pieces, FLUSH, START2,
 *                            poll until the CPU info changes (burner_cpu=)
 *   cfg=FILE                 UPDATE_CFG + GET_ACK (cfg_ack=)
 *   jedec                    GET_FLASH_INFO (jedec=0x%06x)
 *   init                     INIT + GET_ACK (init_ack=)
 *   write=FILE@OFF           SET_DATA_LEN(size), CHUNK-sized CRC-checked
 *                            WRITEs, each followed by GET_ACK (written=N)
 *   read=OFF,LEN,OUTFILE     READ + GET_CRC + bulk IN + CRC compare + GET_ACK
 *   reboot                   REBOOT; a lost device is fine (§3.1)
 *   vendor=REQ               zero-length vendor OUT request (test of the
 *                            simulator's forbidden-request counter)
 *
 * Exit: 0 ok; 1 a step failed ("error=ENAME code=-N step=STEP msg=..."),
 * 2 usage, 3 no device.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libusb.h>
#include <zlib.h>

#define VID 0xa108
#define PID 0xc309
#define EP_OUT 0x01
#define EP_IN 0x81
#define RT_OUT 0x40 /* vendor, device, host-to-device (§0.2) */
#define RT_IN 0xc0

/* ROM (§2.1) */
#define VR_GET_CPU_INFO 0x00
#define VR_SET_DATA_ADDRESS 0x01
#define VR_SET_DATA_LENGTH 0x02
#define VR_FLUSH_CACHES 0x03
#define VR_PROGRAM_START1 0x04
#define VR_PROGRAM_START2 0x05
/* burner (§3.1) */
#define VR_GET_ACK 0x10
#define VR_INIT 0x11
#define VR_WRITE 0x12
#define VR_READ 0x13
#define VR_UPDATE_CFG 0x14
#define VR_REBOOT 0x16
#define VR_GET_CRC 0x19
#define VR_GET_FLASH_INFO 0x26

#define GINFO_ADDR 0x80001000u
#define SPL_ADDR 0x80001800u
#define STAGE2_ADDR 0x80100000u
#define EFUSE_ADDR 0xb3540200u
#define SOCID_ADDR 0xb300002cu
#define OPS_SFC_NOR 0x00060000u

struct ctx {
	libusb_device_handle *h;
	unsigned ctrl_ms, ack_ms, bulk_ms;
	size_t chunk;
	const char *step;
};

static int fail(struct ctx *c, int code, const char *fmt, ...)
{
	const char *name = strerrorname_np(-code);
	va_list ap;

	printf("error=%s code=%d step=%s msg=", name ? name : "?", code, c->step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return code;
}

/* libusb codes to errno, once. */
static int usb_errno(int r)
{
	switch (r) {
	case LIBUSB_ERROR_TIMEOUT:
		return -ETIMEDOUT;
	case LIBUSB_ERROR_PIPE:
		return -EPIPE;
	case LIBUSB_ERROR_NO_DEVICE:
		return -ENODEV;
	case LIBUSB_ERROR_OVERFLOW:
		return -EOVERFLOW;
	case LIBUSB_ERROR_NO_MEM:
		return -ENOMEM;
	case LIBUSB_ERROR_BUSY:
		return -EBUSY;
	default:
		return -EIO;
	}
}

/* 32-bit argument: high half in wValue, low half in wIndex (§0.2). */
static int vr_out(struct ctx *c, uint8_t req, uint32_t arg, const void *data, uint16_t len,
		  unsigned ms)
{
	int r = libusb_control_transfer(c->h, RT_OUT, req, arg >> 16, arg & 0xffff,
					(unsigned char *)data, len, ms);

	if (r < 0)
		return fail(c, usb_errno(r), "request 0x%02x: %s", req, libusb_error_name(r));
	return 0;
}

static int vr_in(struct ctx *c, uint8_t req, void *data, uint16_t len, unsigned ms, int *got)
{
	int r = libusb_control_transfer(c->h, RT_IN, req, 0, 0, data, len, ms);

	if (r < 0)
		return fail(c, usb_errno(r), "request 0x%02x: %s", req, libusb_error_name(r));
	*got = r;
	return 0;
}

static int bulk(struct ctx *c, uint8_t ep, uint8_t *p, size_t len, int *got)
{
	int r = libusb_bulk_transfer(c->h, ep, p, (int)len, got, c->bulk_ms);

	if (r < 0)
		return fail(c, usb_errno(r), "bulk 0x%02x of %zu bytes: %s", ep, len,
			    libusb_error_name(r));
	return 0;
}

/* JAMCRC: reflected CRC-32, init 0xFFFFFFFF, no final XOR (§0.3): zlib's CRC-32 uninverted. */
static uint32_t jamcrc(const uint8_t *p, size_t n)
{
	return ~(uint32_t)crc32(0, p, (uInt)n);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static int load_file(struct ctx *c, const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return fail(c, -errno, "cannot open '%s'", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*data = malloc(n ? n : 1);
	if (!*data || fread(*data, 1, n, f) != (size_t)n) {
		fclose(f);
		free(*data);
		return fail(c, -EIO, "cannot read '%s'", path);
	}
	fclose(f);
	*len = n;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cpu_info(struct ctx *c, char out[9])
{
	int got = 0, r;

	memset(out, 0, 9);
	r = vr_in(c, VR_GET_CPU_INFO, out, 8, c->ctrl_ms, &got);
	if (r == 0 && got != 8)
		return fail(c, -EPROTO, "GET_CPU_INFO returned %d bytes", got);
	return r;
}

/* ROM download: SET_DATA_ADDRESS, SET_DATA_LENGTH, bulk OUT in chunks (§2.1). */
static int rom_load(struct ctx *c, uint32_t addr, const uint8_t *p, size_t len)
{
	int r, got = 0;

	if ((r = vr_out(c, VR_SET_DATA_ADDRESS, addr, NULL, 0, c->ctrl_ms)) ||
	    (r = vr_out(c, VR_SET_DATA_LENGTH, len, NULL, 0, c->ctrl_ms)))
		return r;
	for (size_t off = 0; off < len; off += c->chunk) {
		size_t n = len - off < c->chunk ? len - off : c->chunk;

		r = bulk(c, EP_OUT, (uint8_t *)p + off, n, &got);
		if (r)
			return r;
		if ((size_t)got != n)
			return fail(c, -EIO, "short bulk OUT: %d of %zu", got, n);
	}
	return 0;
}

static int rom_read(struct ctx *c, uint32_t addr, uint8_t *p, size_t len)
{
	int r, got = 0;

	if ((r = vr_out(c, VR_SET_DATA_ADDRESS, addr, NULL, 0, c->ctrl_ms)) ||
	    (r = vr_out(c, VR_SET_DATA_LENGTH, len, NULL, 0, c->ctrl_ms)) ||
	    (r = bulk(c, EP_IN, p, len, &got)))
		return r;
	if ((size_t)got != len)
		return fail(c, -EIO, "short read at 0x%08x: %d of %zu", addr, got, len);
	return 0;
}

/* Poll GET_CPU_INFO until it answers (and differs from `old` if given). */
static int poll_cpu(struct ctx *c, const char *old, char out[9], double limit_ms)
{
	double t0 = now_ms();
	int r;

	memset(out, 0, 9);
	for (;;) {
		unsigned saved = c->ctrl_ms;

		/* A busy stage does not service EP0: short tries, many of them. */
		c->ctrl_ms = 500;
		r = libusb_control_transfer(c->h, RT_IN, VR_GET_CPU_INFO, 0, 0,
					    (unsigned char *)out, 8, c->ctrl_ms);
		c->ctrl_ms = saved;
		if (r == 8 && (!old || memcmp(out, old, 8)))
			return 0;
		if (r == LIBUSB_ERROR_NO_DEVICE)
			return fail(c, -ENODEV, "device gone while polling GET_CPU_INFO");
		if (now_ms() - t0 > limit_ms)
			return fail(c, -ETIMEDOUT, "no answer to GET_CPU_INFO within %.0f ms",
				    limit_ms);
		usleep(10000);
	}
}

static int get_ack(struct ctx *c, int32_t *ack)
{
	uint8_t v[4];
	int got = 0, r;

	r = vr_in(c, VR_GET_ACK, v, 4, c->ack_ms, &got);
	if (r)
		return r;
	if (got != 4)
		return fail(c, -EPROTO, "GET_ACK returned %d bytes", got);
	*ack = (int32_t)get32(v);
	return 0;
}

/* The 40-byte `union cmd`, new layout (§3.2). */
static void make_cmd(uint8_t cmd[40], uint32_t off, uint32_t len, uint32_t ops, uint32_t crc)
{
	memset(cmd, 0, 40);
	put32(cmd + 8, off);
	put32(cmd + 16, len);
	put32(cmd + 24, ops);
	put32(cmd + 28, crc);
}

static int step_uid(struct ctx *c)
{
	uint8_t ef[256], id[4];
	int r;

	/* Before any stage-1 code: running code clears the shadow (§5). */
	if ((r = rom_read(c, EFUSE_ADDR, ef, sizeof(ef))) || (r = rom_read(c, SOCID_ADDR, id, 4)))
		return r;
	printf("uid=");
	for (int i = 0; i < 16; i++)
		printf("%02x", ef[i]);
	printf("\nsoc_id=0x%08x\nsubtype=0x%04x\n", get32(id), get32(ef + 0x38) >> 16);
	return 0;
}

static int step_spl(struct ctx *c, const char *arg)
{
	char path[1024], info[9];
	uint32_t d2i = 0x7000;
	uint8_t *p;
	size_t len;
	double t0;
	char *comma;
	int r;

	snprintf(path, sizeof(path), "%s", arg);
	comma = strchr(path, ',');
	if (comma) {
		*comma = '\0';
		d2i = strtoul(comma + 1, NULL, 0);
	}
	if ((r = load_file(c, path, &p, &len)))
		return r;
	r = rom_load(c, SPL_ADDR, p, len);
	free(p);
	if (r)
		return r;
	/* §2.3: SET_DATA_LENGTH(d2i_len), then START1(entry). */
	if (d2i && (r = vr_out(c, VR_SET_DATA_LENGTH, d2i, NULL, 0, c->ctrl_ms)))
		return r;
	if ((r = vr_out(c, VR_PROGRAM_START1, SPL_ADDR, NULL, 0, c->ctrl_ms)))
		return r;
	t0 = now_ms();
	/* The SPL returns to the ROM: the ROM string answers again (§2.5). */
	if ((r = poll_cpu(c, NULL, info, 10000)))
		return r;
	printf("spl_cpu=%s\nspl_ms=%.0f\n", info, now_ms() - t0);
	return 0;
}

static int step_burner(struct ctx *c, const char *path)
{
	char before[9], info[9];
	uint8_t *p;
	size_t len;
	int r;

	if ((r = cpu_info(c, before)) || (r = load_file(c, path, &p, &len)))
		return r;
	r = rom_load(c, STAGE2_ADDR, p, len);
	free(p);
	if (r)
		return r;
	if ((r = vr_out(c, VR_FLUSH_CACHES, 0, NULL, 0, c->ctrl_ms)) ||
	    (r = vr_out(c, VR_PROGRAM_START2, STAGE2_ADDR, NULL, 0, c->ctrl_ms)))
		return r;
	if ((r = poll_cpu(c, before, info, 10000)))
		return r;
	printf("burner_cpu=%s\n", info);
	return 0;
}

static int step_cfg(struct ctx *c, const char *path)
{
	uint8_t cmd[40] = { 0 }, *p;
	size_t len;
	int32_t ack;
	int r, got = 0;

	if ((r = load_file(c, path, &p, &len)))
		return r;
	/* UPDATE_CFG: length in the first u32 of the 40 bytes, then bulk (§3.1). */
	put32(cmd, len);
	r = vr_out(c, VR_UPDATE_CFG, 0, cmd, 40, c->ctrl_ms);
	if (!r)
		r = bulk(c, EP_OUT, p, len, &got);
	free(p);
	if (r || (r = get_ack(c, &ack)))
		return r;
	printf("cfg_ack=%d\n", ack);
	return ack ? fail(c, ack, "UPDATE_CFG ack %d", ack) : 0;
}

static int step_jedec(struct ctx *c)
{
	uint8_t v[4] = { 0 };
	int got = 0, r;

	/* The host asks for 3 bytes of a LE u32 (§3.5). */
	if ((r = vr_in(c, VR_GET_FLASH_INFO, v, 3, c->ctrl_ms, &got)))
		return r;
	printf("jedec=0x%06x\njedec_raw=%02x%02x%02x\n", v[2] << 16 | v[1] << 8 | v[0], v[0], v[1],
	       v[2]);
	return 0;
}

static int step_init(struct ctx *c)
{
	double t0 = now_ms();
	int32_t ack;
	int r;

	if ((r = vr_out(c, VR_INIT, 0, NULL, 0, c->ctrl_ms)) || (r = get_ack(c, &ack)))
		return r;
	printf("init_ack=%d\ninit_ms=%.0f\n", ack, now_ms() - t0);
	return ack ? fail(c, ack, "INIT ack %d", ack) : 0;
}

static int step_write(struct ctx *c, const char *arg)
{
	char path[1024], *at;
	uint32_t base = 0;
	uint8_t cmd[40], *p;
	size_t len, off;
	int32_t ack;
	int r, got = 0;

	snprintf(path, sizeof(path), "%s", arg);
	at = strrchr(path, '@');
	if (at) {
		*at = '\0';
		base = strtoul(at + 1, NULL, 0);
	}
	if ((r = load_file(c, path, &p, &len)))
		return r;
	/* SET_DATA_LEN(total) before the first WRITE (§3.1). */
	r = vr_out(c, VR_SET_DATA_LENGTH, len, NULL, 0, c->ctrl_ms);
	for (off = 0; !r && off < len; off += c->chunk) {
		size_t n = len - off < c->chunk ? len - off : c->chunk;

		make_cmd(cmd, base + off, n, OPS_SFC_NOR, jamcrc(p + off, n));
		if ((r = vr_out(c, VR_WRITE, 0, cmd, 40, c->ctrl_ms)) ||
		    (r = bulk(c, EP_OUT, p + off, n, &got)) || (r = get_ack(c, &ack)))
			break;
		if (ack) {
			printf("write_ack=%d\nwrite_fail_offset=0x%zx\n", ack, base + off);
			r = fail(c, ack, "WRITE at 0x%zx: ack %d", base + off, ack);
		}
	}
	free(p);
	if (r)
		return r;
	printf("written=%zu\n", len);
	return 0;
}

static int step_read(struct ctx *c, const char *arg)
{
	char path[1024];
	unsigned long off, len;
	uint8_t cmd[40], v[8], *buf;
	uint32_t crc;
	int32_t ack;
	FILE *f;
	int r = 0, got = 0, n;

	if (sscanf(arg, "%li,%li,%1023s", (long *)&off, (long *)&len, path) != 3)
		return fail(c, -EINVAL, "read=OFF,LEN,FILE expected");
	buf = malloc(len ? len : 1);
	if (!buf)
		return fail(c, -ENOMEM, "out of memory");
	for (unsigned long pos = 0; pos < len; pos += c->chunk) {
		n = len - pos < c->chunk ? len - pos : c->chunk;
		/* READ, then GET_CRC (which starts the bulk IN), bulk IN, GET_ACK (§3.6). */
		make_cmd(cmd, off + pos, n, OPS_SFC_NOR, 0);
		if ((r = vr_out(c, VR_READ, 0, cmd, 40, c->ctrl_ms)) ||
		    (r = vr_in(c, VR_GET_CRC, v, 8, c->ack_ms, &got)))
			break;
		if ((int32_t)get32(v) < 0) {
			r = fail(c, (int32_t)get32(v), "READ at 0x%lx: ack %d", off + pos,
				 (int32_t)get32(v));
			break;
		}
		if ((r = bulk(c, EP_IN, buf + pos, n, &got)))
			break;
		if (got != n) {
			r = fail(c, -EIO, "short read: %d of %d", got, n);
			break;
		}
		crc = jamcrc(buf + pos, n);
		if (crc != get32(v + 4)) {
			printf("read_crc_host=0x%08x\nread_crc_dev=0x%08x\n", crc, get32(v + 4));
			r = fail(c, -EILSEQ, "CRC mismatch at 0x%lx", off + pos);
			break;
		}
		if ((r = get_ack(c, &ack)))
			break;
	}
	if (!r) {
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, len, f) != len)
			r = fail(c, -EIO, "cannot write '%s'", path);
		if (f)
			fclose(f);
	}
	free(buf);
	if (!r)
		printf("read=%lu\n", len);
	return r;
}

static int step_reboot(struct ctx *c)
{
	int r = libusb_control_transfer(c->h, RT_OUT, VR_REBOOT, 0, 0, NULL, 0, c->ctrl_ms);

	/* The part may reset before the status stage: any outcome is fine. */
	printf("reboot=%s\n", r < 0 ? libusb_error_name(r) : "ok");
	return 0;
}

static int run_step(struct ctx *c, const char *s)
{
	char info[9];
	const char *v = strchr(s, '=');
	int r;

	c->step = s;
	v = v ? v + 1 : "";
	if (!strcmp(s, "cpuinfo")) {
		if ((r = cpu_info(c, info)))
			return r;
		printf("cpu_info=%s\ncpu_info_hex=", info);
		for (int i = 0; i < 8; i++)
			printf("%02x", (uint8_t)info[i]);
		printf("\n");
		return 0;
	}
	if (!strcmp(s, "uid"))
		return step_uid(c);
	if (!strncmp(s, "ginfo=", 6)) {
		uint8_t *p;
		size_t len;

		if ((r = load_file(c, v, &p, &len)))
			return r;
		r = rom_load(c, GINFO_ADDR, p, len);
		free(p);
		return r;
	}
	if (!strncmp(s, "spl=", 4))
		return step_spl(c, v);
	if (!strncmp(s, "burner=", 7))
		return step_burner(c, v);
	if (!strncmp(s, "cfg=", 4))
		return step_cfg(c, v);
	if (!strcmp(s, "jedec"))
		return step_jedec(c);
	if (!strcmp(s, "init"))
		return step_init(c);
	if (!strncmp(s, "write=", 6))
		return step_write(c, v);
	if (!strncmp(s, "read=", 5))
		return step_read(c, v);
	if (!strcmp(s, "reboot"))
		return step_reboot(c);
	if (!strncmp(s, "vendor=", 7))
		return vr_out(c, strtoul(v, NULL, 0), 0, NULL, 0, c->ctrl_ms);
	fprintf(stderr, "ingenic-raw: unknown step '%s'\n", s);
	return -EINVAL;
}

/* Bus-port path "B-P.P.P" of a device, as the kernel names it. */
static void port_path(libusb_device *d, char *out, size_t n)
{
	uint8_t ports[8];
	int np = libusb_get_port_numbers(d, ports, 8), o;

	o = snprintf(out, n, "%u", libusb_get_bus_number(d));
	for (int i = 0; i < np && o > 0 && (size_t)o < n; i++)
		o += snprintf(out + o, n - o, "%c%u", i ? '.' : '-', ports[i]);
}

int main(int argc, char **argv)
{
	struct ctx c = { .ctrl_ms = 5000, .ack_ms = 60000, .bulk_ms = 20000, .chunk = 65536 };
	const char *port = NULL;
	libusb_device **list;
	libusb_device *dev = NULL;
	char path[64];
	ssize_t n;
	int opt, r, rc = 0;

	while ((opt = getopt(argc, argv, "p:T:A:B:c:")) != -1) {
		switch (opt) {
		case 'p':
			port = optarg;
			break;
		case 'T':
			c.ctrl_ms = strtoul(optarg, NULL, 0);
			break;
		case 'A':
			c.ack_ms = strtoul(optarg, NULL, 0);
			break;
		case 'B':
			c.bulk_ms = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			c.chunk = strtoul(optarg, NULL, 0);
			if (!c.chunk)
				return 2;
			break;
		default:
			fprintf(stderr,
				"usage: ingenic-raw [-p PORT] [-T MS] [-A MS] [-B MS] [-c CHUNK] STEP...\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ingenic-raw: no step given\n");
		return 2;
	}
	if (libusb_init(NULL) < 0)
		return 3;
	n = libusb_get_device_list(NULL, &list);
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor dd;

		if (libusb_get_device_descriptor(list[i], &dd) < 0 || dd.idVendor != VID ||
		    dd.idProduct != PID)
			continue;
		port_path(list[i], path, sizeof(path));
		if (port && strcmp(port, path))
			continue;
		dev = list[i];
		break;
	}
	if (!dev || libusb_open(dev, &c.h) < 0) {
		fprintf(stderr, "ingenic-raw: no a108:c309 device%s%s\n", port ? " at " : "",
			port ? port : "");
		libusb_free_device_list(list, 1);
		libusb_exit(NULL);
		return 3;
	}
	libusb_free_device_list(list, 1);
	r = libusb_claim_interface(c.h, 0);
	if (r < 0) {
		fprintf(stderr, "ingenic-raw: claim: %s\n", libusb_error_name(r));
		rc = 3;
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		r = run_step(&c, argv[i]);
		fflush(stdout);
		if (r) {
			rc = r == -EINVAL && !strchr(argv[i], '=') ? 2 : 1;
			break;
		}
	}
	libusb_release_interface(c.h, 0);
out:
	libusb_close(c.h);
	libusb_exit(NULL);
	return rc;
}
