/*
 * This file implements imx-tool, a command-line client of the protocols/
 * i.MX SDP and fastboot engines for the simulated-board tests
 * (tests/protocols/test-imx-sim.sh) and the benchmark.  It opens the device
 * at a USB port path with libusb, runs engine operations in sequence and
 * prints key=value lines, so scripts can check CRCs, errno names and
 * messages.  Steps are separated by "+"; each step opens the device afresh
 * (a boot makes the ROM leave and a fastboot gadget appear on the port):
 *
 *   imx-tool [-p PORT] [-t PCT] [-q] STEP [+ STEP ...]
 *     boot FILE              SDP: ERROR_STATUS, DCD, WRITE_FILE, skip/rewrite, JUMP
 *     uid                    SDP: OCOTP UID of the SoC row
 *     rdreg ADDR             SDP: READ_REGISTER 32 bits
 *     status                 SDP: ERROR_STATUS
 *     wait MS                until a fastboot interface is on the port
 *     getvar VAR             fastboot
 *     flash TARGET FILE [--max N] [--verify] [--no-sparse]   (TARGET 0x<off> = raw)
 *     stage FILE             fastboot download only (into the device's buffer)
 *     erase PART | ucmd CMD | acmd CMD | reboot | continue
 *
 * Exit: 0 ok, 1 engine error (line "error=ENAME code=-N msg=STEP: ..."),
 * 2 usage, 3 no device at PORT.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libusb.h>

#include "common/err.h"
#include "protocols/fastboot.h"
#include "protocols/imx_soc.h"
#include "protocols/sdp.h"
#include "protocols/usb.h"
#include "tests/lib/usb-tool.h"

static bool quiet;
static unsigned int pct = 100;
static const char *port;

struct dev {
	libusb_device_handle *h;
	struct usb_dev usb;
	uint16_t vid, pid;
};

struct intf_class {
	int cls, sub, proto;
};

static int class_intf(libusb_device *dev, void *ud)
{
	const struct intf_class *c = ud;

	return tool_find_intf(dev, c->cls, c->sub, c->proto);
}

/* Open the device at port whose interface has class cls (HID 3 / fastboot 0xff). */
static int open_port(libusb_context *ctx, int cls, int sub, int proto, struct dev *d)
{
	struct intf_class c = { cls, sub, proto };
	struct libusb_device_descriptor dd;
	int intf, r;

	r = tool_open_port(ctx, port, class_intf, &c, &d->h, &intf, &dd);
	if (r == 0) {
		usb_dev_init(&d->usb, d->h, (uint8_t)intf);
		d->vid = dd.idVendor;
		d->pid = dd.idProduct;
	}
	return r;
}

static int map_file(const char *path, const uint8_t **data, size_t *len)
{
	struct tool_map m;
	int r = tool_map_file(path, &m);

	*data = m.data;
	*len = m.len;
	return r;
}

static void progress(void *ud, uint64_t done, uint64_t total)
{
	unsigned int *last = ud, p = total ? (unsigned int)(done * 100 / total) : 100;

	if (quiet || p / 25 == *last / 25)
		return;
	*last = p;
	fprintf(stderr, "progress %u%%\n", p);
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 0);
	return !errno && *s && !*end;
}

static int step_sdp(libusb_context *ctx, char **argv, int argc)
{
	const struct imx_soc *soc;
	struct dev d = { 0 };
	struct sdp *s = NULL;
	struct err e = { 0 };
	unsigned int last = 0;
	int r;

	r = open_port(ctx, LIBUSB_CLASS_HID, -1, -1, &d);
	if (r < 0) {
		printf("error=ENODEV code=%d msg=%s: no SDP device at %s\n", r, argv[0], port);
		return 3;
	}
	soc = imx_soc_find(d.vid, d.pid);
	r = sdp_open(&d.usb, soc, &s, &e);
	if (r < 0)
		goto out;
	sdp_set_timeout(s, (unsigned int)((uint64_t)SDP_XFER_TIMEOUT_MS * pct / 100));
	if (!strcmp(argv[0], "boot") && argc == 2) {
		struct sdp_boot_result res;
		const uint8_t *img;
		size_t len;

		r = map_file(argv[1], &img, &len);
		if (r < 0) {
			err_set(&e, r, "'%s': %s", argv[1], strerror(-r));
			goto out;
		}
		r = sdp_boot(s, img, len, progress, &last, &res, &e);
		printf("soc=%s method=%s hab=%s dcd_written=%d bytes=%" PRIu64
		       " host_crc=0x%08x load_addr=0x%08x jumped=%d\n",
		       soc ? soc->name : "?", imx_soc_method_name(res.method),
		       sdp_hab_name(res.hab), res.dcd_written, res.bytes_sent, res.host_crc,
		       res.image.load_addr, res.jumped);
	} else if (!strcmp(argv[0], "uid") && argc == 1) {
		char uid[33];

		if (!soc || !soc->n_uid_words) {
			r = err_set(&e, -EOPNOTSUPP, "no UID registers known for %04x:%04x", d.vid,
				    d.pid);
			goto out;
		}
		r = sdp_read_uid(s, soc->uid_words, soc->n_uid_words, soc->uid_bits, uid,
				 sizeof(uid), &e);
		if (r >= 0)
			printf("uid=%s hab=%s\n", uid, sdp_hab_name(sdp_hab_state(s)));
	} else if (!strcmp(argv[0], "rdreg") && argc == 2) {
		uint64_t a;
		uint32_t v;

		if (!parse_u64(argv[1], &a))
			return 2;
		r = sdp_read32(s, (uint32_t)a, &v, &e);
		if (r >= 0)
			printf("reg=0x%08x value=0x%08x\n", (uint32_t)a, v);
	} else if (!strcmp(argv[0], "status") && argc == 1) {
		uint32_t v;

		r = sdp_error_status(s, &v, &e);
		if (r >= 0)
			printf("status=0x%08x hab=%s\n", v, sdp_hab_name(sdp_hab_state(s)));
	} else {
		r = -EINVAL;
		fprintf(stderr, "imx-tool: bad step '%s'\n", argv[0]);
		sdp_close(s);
		libusb_close(d.h);
		return 2;
	}
out:
	sdp_close(s);
	libusb_close(d.h);
	if (r < 0)
		return tool_fail(argv[0], r, &e);
	return 0;
}

static int step_wait(libusb_context *ctx, const char *ms_s)
{
	uint64_t ms, t0 = usb_now_ms();
	struct dev d = { 0 };

	if (!parse_u64(ms_s, &ms))
		return 2;
	while (usb_now_ms() - t0 < ms) {
		if (open_port(ctx, FB_CLASS, FB_SUBCLASS, FB_PROTOCOL, &d) == 0) {
			printf("fastboot=%04x:%04x after_ms=%" PRIu64 "\n", d.vid, d.pid,
			       usb_now_ms() - t0);
			libusb_close(d.h);
			return 0;
		}
		usleep(20000);
	}
	printf("error=ETIMEDOUT code=%d msg=wait: no fastboot device at %s within %" PRIu64 " ms\n",
	       -ETIMEDOUT, port, ms);
	return 1;
}

static int step_fb(libusb_context *ctx, char **argv, int argc)
{
	struct dev d = { 0 };
	struct fb *f = NULL;
	struct err e = { 0 };
	unsigned int last = 0;
	int r;

	r = open_port(ctx, FB_CLASS, FB_SUBCLASS, FB_PROTOCOL, &d);
	if (r < 0) {
		printf("error=ENODEV code=%d msg=%s: no fastboot device at %s\n", r, argv[0], port);
		return 3;
	}
	r = fb_open(&d.usb, &f, &e);
	if (r < 0)
		goto out;
	fb_set_timeout_pct(f, pct);
	if (!strcmp(argv[0], "getvar") && argc == 2) {
		char val[FB_RESPONSE_LEN + 1];

		r = fb_getvar(f, argv[1], val, sizeof(val), &e);
		if (r >= 0)
			printf("%s=%s\n", argv[1], val);
	} else if (!strcmp(argv[0], "flash") && argc >= 3) {
		struct fb_flash_opts o = { 0 };
		struct fb_flash_result res = { 0 };
		const uint8_t *img;
		size_t len;
		uint64_t v;

		if (argv[1][0] == '0' && argv[1][1] == 'x' && parse_u64(argv[1], &v)) {
			o.raw = true;
			o.offset = v;
		} else {
			o.partition = argv[1];
		}
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--verify"))
				o.flags |= FB_VERIFY_CRC32;
			else if (!strcmp(argv[i], "--no-sparse"))
				o.flags |= FB_NO_SPARSE;
			else if (!strcmp(argv[i], "--max") && i + 1 < argc &&
				 parse_u64(argv[i + 1], &v))
				o.max_download = (uint32_t)v, i++;
			else
				return 2;
		}
		r = map_file(argv[2], &img, &len);
		if (r < 0) {
			err_set(&e, r, "'%s': %s", argv[2], strerror(-r));
			goto out;
		}
		r = fb_flash_image(f, img, len, &o, progress, &last, &res, &e);
		printf("pieces=%u bytes_sent=%" PRIu64
		       " max_download=%u sparse=%d host_crc=0x%08x dev_crc=%s%08x verified=%d\n",
		       res.pieces, res.bytes_sent, res.max_download, res.sparse_input, res.host_crc,
		       res.has_dev_crc ? "0x" : "none:", res.dev_crc, res.verified);
	} else if (!strcmp(argv[0], "stage") && argc == 2) {
		const uint8_t *img;
		size_t len;

		r = map_file(argv[1], &img, &len);
		if (r < 0)
			err_set(&e, r, "'%s': %s", argv[1], strerror(-r));
		else
			r = fb_download(f, img, len, progress, &last, &e);
	} else if (!strcmp(argv[0], "erase") && argc == 2) {
		r = fb_erase(f, argv[1], &e);
	} else if (!strcmp(argv[0], "ucmd") && argc == 2) {
		r = fb_ucmd(f, argv[1], 0, &e);
	} else if (!strcmp(argv[0], "acmd") && argc == 2) {
		r = fb_acmd(f, argv[1], &e);
	} else if (!strcmp(argv[0], "reboot") && argc == 1) {
		r = fb_reboot(f, &e);
	} else if (!strcmp(argv[0], "continue") && argc == 1) {
		r = fb_continue(f, &e);
	} else {
		fprintf(stderr, "imx-tool: bad step '%s'\n", argv[0]);
		fb_close(f);
		libusb_close(d.h);
		return 2;
	}
out:
	fb_close(f);
	libusb_close(d.h);
	if (r < 0)
		return tool_fail(argv[0], r, &e);
	printf("%s=ok\n", argv[0]);
	return 0;
}

int main(int argc, char **argv)
{
	libusb_context *ctx;
	int c, rc = 0;

	while ((c = getopt(argc, argv, "+p:t:q")) >= 0) {
		switch (c) {
		case 'p':
			port = optarg;
			break;
		case 't':
			pct = (unsigned int)atoi(optarg);
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: imx-tool [-p PORT] [-t PCT] [-q] STEP [+ STEP ...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (libusb_init(&ctx) < 0)
		return 2;
	for (int i = optind; i < argc && rc == 0;) {
		int k = i;

		while (k < argc && strcmp(argv[k], "+"))
			k++;
		if (!strcmp(argv[i], "boot") || !strcmp(argv[i], "uid") ||
		    !strcmp(argv[i], "rdreg") || !strcmp(argv[i], "status"))
			rc = step_sdp(ctx, argv + i, k - i);
		else if (!strcmp(argv[i], "wait") && k - i == 2)
			rc = step_wait(ctx, argv[i + 1]);
		else
			rc = step_fb(ctx, argv + i, k - i);
		i = k + 1;
	}
	if (rc == 0)
		printf("result=ok\n");
	libusb_exit(ctx);
	return rc;
}
