/*
 * This file implements dfuse-tool, a small command-line client of the
 * protocols/ DfuSe engine for the simulated-board tests (tests/protocols/
 * test-dfuse-sim.sh) and the benchmark.  It finds a DFU-mode interface by
 * USB port path with libusb, runs one engine operation and prints results
 * as key=value lines, so scripts can check CRCs, errno names and messages.
 *
 *   dfuse-tool [-p PORT] [-a ALT] [-t PCT] [-T MS] [-w MS] [-q] COMMAND ...
 *     (-t scales engine deadlines in percent, -T sets the control timeout)
 *     list
 *     download FILE [ADDR] [--mass-erase] [--no-verify] [--leave ADDR]
 *     upload ADDR LEN OUTFILE
 *     read-uid [ADDR]
 *     mass-erase
 *     leave ADDR
 *
 * FILE with a DfuSe suffix is a .dfu (no ADDR); without a suffix it is raw
 * and needs ADDR.  Exit: 0 ok, 1 engine or file error (line "error=ENAME
 * code=-N msg=..."), 2 usage, 3 no device at PORT.  After the command the
 * line "poll=unknown|holds|answers" says what the engine learned about the
 * device's polls (protocols/dfu.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libusb.h>

#include "common/err.h"
#include "protocols/crc32.h"
#include "protocols/dfu_file.h"
#include "protocols/dfuse.h"
#include "protocols/usb.h"
#include "tests/lib/usb-tool.h"

static atomic_int cancel_flag;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&cancel_flag, 1);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: dfuse-tool [-p PORT] [-a ALT] [-t DEADLINE_PCT] [-T CTRL_MS] [-w WAIT_MS] [-q] COMMAND ...\n"
		"  list | download FILE [ADDR] [--mass-erase] [--no-verify] [--leave ADDR]\n"
		"  | upload ADDR LEN OUT | read-uid [ADDR] | mass-erase | leave ADDR\n");
	return 2;
}

static bool parse_u32(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end || v > UINT32_MAX)
		return false;
	*ret = (uint32_t)v;
	return true;
}

/* The first DFU-mode interface (FE/01/02) of a device, or -1. */
static int dfu_interface(libusb_device *dev, void *ud)
{
	(void)ud;
	return tool_find_intf(dev, 0xfe, 0x01, 0x02);
}

static bool quiet;

static void progress(void *ud, uint64_t done, uint64_t total)
{
	unsigned int *last = ud;
	unsigned int pct = total ? (unsigned int)(done * 100 / total) : 100;

	if (quiet || pct / 10 == *last / 10)
		return;
	*last = pct;
	fprintf(stderr, "progress %u%% (%" PRIu64 "/%" PRIu64 ")\n", pct, done, total);
}

static void print_result(const struct dfuse_result *res)
{
	printf("bytes_written=%" PRIu64 " bytes_verified=%" PRIu64
	       " sectors_erased=%u mass_erased=%d verified=%d\n",
	       res->bytes_written, res->bytes_verified, res->sectors_erased, res->mass_erased,
	       res->verified);
	printf("host_crc=0x%08x dev_crc=0x%08x\n", res->host_crc, res->dev_crc);
}

static int cmd_download(struct dfuse *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mass-erase", no_argument, NULL, 'm' },
		{ "no-verify", no_argument, NULL, 'n' },
		{ "leave", required_argument, NULL, 'l' },
		{ 0 },
	};
	unsigned int flags = 0, last = 0;
	bool leave = false, have_addr = false, gone = false;
	uint32_t addr = 0, leave_addr = 0;
	struct dfuse_result res = { 0 };
	struct tool_map m = { 0 };
	struct dfu_file *f = NULL;
	struct err e = { 0 };
	int c, r;

	optind = 0; /* GNU: full re-initialisation after main()'s getopt */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			flags |= DFUSE_MASS_ERASE;
			break;
		case 'n':
			flags |= DFUSE_NO_VERIFY;
			break;
		case 'l':
			if (!parse_u32(optarg, &leave_addr))
				return usage();
			leave = true;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return usage();
	if (argc - optind == 2) {
		if (!parse_u32(argv[optind + 1], &addr))
			return usage();
		have_addr = true;
	}
	r = tool_map_file(argv[optind], &m);
	if (r < 0)
		return tool_fail("open file", r, NULL);

	r = dfu_file_parse(m.data, m.len, &f, &e);
	if (r == 0 && f->suffix.bcd_dfu == DFU_FILE_BCD_DFUSE) {
		if (have_addr) {
			fprintf(stderr,
				"dfuse-tool: %s is a DfuSe file, it carries its addresses\n",
				argv[optind]);
			dfu_file_free(f);
			return 2;
		}
		r = dfuse_download_file(d, f, flags, progress, &last, &res, &e);
	} else if (r == 0 || r == -ENOMSG) {
		/* Raw image (or plain DFU payload): needs an address. */
		const uint8_t *p = r == 0 ? f->payload : m.data;
		size_t n = r == 0 ? f->payload_len : m.len;

		if (!have_addr) {
			fprintf(stderr, "dfuse-tool: %s has no DfuSe suffix, give ADDR\n",
				argv[optind]);
			return 2;
		}
		err_clear(&e);
		r = dfuse_download(d, addr, p, n, flags, progress, &last, &res, &e);
	} else {
		return tool_fail("parse file", r, &e);
	}
	dfu_file_free(f);
	print_result(&res);
	if (r < 0)
		return tool_fail("download", r, &e);
	if (leave) {
		r = dfuse_leave(d, leave_addr, &gone, &e);
		if (r < 0)
			return tool_fail("leave", r, &e);
		printf("left=0x%08x gone=%d\n", leave_addr, gone);
	}
	printf("result=ok\n");
	return 0;
}

static int cmd_upload(struct dfuse *d, int argc, char **argv)
{
	uint32_t addr, len;
	unsigned int last = 0;
	struct err e = { 0 };
	uint8_t *buf;
	FILE *out;
	int r;

	if (argc != 4 || !parse_u32(argv[1], &addr) || !parse_u32(argv[2], &len))
		return usage();
	buf = malloc(len ? len : 1);
	if (!buf)
		return tool_fail("upload", -ENOMEM, NULL);
	r = dfuse_upload(d, addr, buf, len, progress, &last, &e);
	if (r < 0) {
		free(buf);
		return tool_fail("upload", r, &e);
	}
	out = fopen(argv[3], "we");
	if (!out || fwrite(buf, 1, len, out) != len || fclose(out) != 0) {
		free(buf);
		return tool_fail("write output", -errno, NULL);
	}
	printf("uploaded=%u crc=0x%08x\nresult=ok\n", len, crc32_update(0, buf, len));
	free(buf);
	return 0;
}

static int cmd_read_uid(struct dfuse *d, int argc, char **argv)
{
	uint32_t addr = DFUSE_F4_UID_ADDR;
	uint8_t uid[DFUSE_UID_LEN];
	struct err e = { 0 };
	int r;

	if (argc > 2 || (argc == 2 && !parse_u32(argv[1], &addr)))
		return usage();
	r = dfuse_read_uid(d, addr, uid, &e);
	if (r < 0)
		return tool_fail("read-uid", r, &e);
	printf("uid=");
	for (int i = 0; i < DFUSE_UID_LEN; i++)
		printf("%02x", uid[i]);
	printf("\nresult=ok\n");
	return 0;
}

static int cmd_list(struct dfuse *d)
{
	const struct dfu_func_desc *fd = dfuse_func_desc(d);

	printf("transfer_size=%u attributes=0x%02x dfu_version=0x%04x\n", fd->transfer_size,
	       fd->attributes, fd->dfu_version);
	for (unsigned int i = 0; i < dfuse_n_alts(d); i++) {
		const struct dfuse_alt *a = dfuse_alt(d, i);

		printf("alt=%u name=\"%s\" segments=%u%s\n", a->alt, a->name, a->layout.n_segments,
		       a->layout_err < 0 ? " (unparsable)" : "");
		for (unsigned int s = 0; a->layout_err == 0 && s < a->layout.n_segments; s++)
			printf("  0x%08x %u x %u perms=%u\n", a->layout.seg[s].start,
			       a->layout.seg[s].n_sectors, a->layout.seg[s].sector_size,
			       a->layout.seg[s].perms);
	}
	printf("result=ok\n");
	return 0;
}

static int run(struct dfuse *d, int argc, char **argv)
{
	struct err e = { 0 };
	uint32_t addr;
	bool gone;
	int r;

	if (!strcmp(argv[0], "list"))
		return cmd_list(d);
	if (!strcmp(argv[0], "download"))
		return cmd_download(d, argc, argv);
	if (!strcmp(argv[0], "upload"))
		return cmd_upload(d, argc, argv);
	if (!strcmp(argv[0], "read-uid"))
		return cmd_read_uid(d, argc, argv);
	if (!strcmp(argv[0], "mass-erase")) {
		r = dfuse_mass_erase(d, &e);
		if (r < 0)
			return tool_fail("mass-erase", r, &e);
		printf("result=ok\n");
		return 0;
	}
	if (!strcmp(argv[0], "leave")) {
		if (argc != 2 || !parse_u32(argv[1], &addr))
			return usage();
		r = dfuse_leave(d, addr, &gone, &e);
		if (r < 0)
			return tool_fail("leave", r, &e);
		printf("left=0x%08x gone=%d\nresult=ok\n", addr, gone);
		return 0;
	}
	return usage();
}

int main(int argc, char **argv)
{
	const char *port = NULL;
	long alt = 0, pct = 100, wait_ms = 2000, ctrl_ms = 0;
	libusb_context *ctx = NULL;
	libusb_device_handle *h = NULL;
	struct dfuse *d = NULL;
	struct usb_dev usb;
	struct err e = { 0 };
	int c, r, intf = 0, rc;

	while ((c = getopt(argc, argv, "+p:a:t:T:w:q")) != -1) {
		switch (c) {
		case 'p':
			port = optarg;
			break;
		case 'a':
			alt = strtol(optarg, NULL, 0);
			break;
		case 't':
			pct = strtol(optarg, NULL, 0);
			break;
		case 'T':
			ctrl_ms = strtol(optarg, NULL, 0);
			break;
		case 'w':
			wait_ms = strtol(optarg, NULL, 0);
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc || alt < 0 || alt > 255 || pct <= 0)
		return usage();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	r = libusb_init(&ctx);
	if (r < 0)
		return tool_fail("libusb_init", usb_errno(r), NULL);
	/* The rig may still be enumerating the board when we start. */
	for (long waited = 0;; waited += 50) {
		r = tool_open_port(ctx, port, dfu_interface, NULL, &h, &intf, NULL);
		if (r == 0 || waited >= wait_ms)
			break;
		usleep(50 * 1000);
	}
	if (r < 0) {
		printf("error=%s code=%d msg=no DFU device at port %s\n",
		       r == -ENODEV ? "ENODEV" : strerrorname_np(-r), r, port ? port : "(any)");
		libusb_exit(ctx);
		return 3;
	}
	usb_dev_init(&usb, h, (uint8_t)intf);
	usb.cancel = &cancel_flag;
	if (ctrl_ms > 0)
		usb.ctrl_timeout_ms = (unsigned int)ctrl_ms;
	r = dfuse_open(&usb, &d, &e);
	if (r < 0) {
		rc = tool_fail("open", r, &e);
		goto out;
	}
	dfuse_set_deadline_pct(d, (unsigned int)pct);
	if (alt != 0) {
		r = dfuse_select_alt(d, (uint8_t)alt, &e);
		if (r < 0) {
			rc = tool_fail("select alt", r, &e);
			goto out;
		}
	}
	rc = run(d, argc - optind, argv + optind);
	/* What the engine learned about held polls, for tests and the benchmark. */
	printf("poll=%s\n", dfu_hold_name(dfuse_poll_hold(d)));
out:
	dfuse_close(d);
	libusb_close(h);
	libusb_exit(ctx);
	return rc;
}
