/*
 * This file implements ingenic-tool, a command-line client of the
 * protocols/ Ingenic engines (boot ROM and burner) for the simulated-board
 * tests (tests/protocols/test-ingenic-sim.sh) and the benchmark.  It opens
 * the Ingenic device at a USB port path with libusb and runs a sequence of
 * steps on it in one session (the board keeps its state only while the rig
 * runs), printing results as key=value lines.
 *
 *   ingenic-tool [-p PORT] [-s SOC] [-t PCT] [-w MS] [-T BYTES] [-e ERASE] [-n] [-q] STEP...
 *     -t scales engine timeouts in percent, -T transfer size, -e chip|partition|range,
 *     -n turns the burner's transfer CRC check off
 *   steps:
 *     cpu-info                      GET_CPU_INFO
 *     uid                           eFuse shadow UID (before boot)
 *     soc-id                        SoC-ID register
 *     boot GINFO|- SPL BURNER D2I   ROM -> SPL -> burner (D2I 0 = none)
 *     jedec                         GET_FLASH_INFO after a POLI config
 *     config PARTS                  PARTS = name:offset:size[,...]; needs jedec first
 *     write OFFSET FILE             CRC-checked write
 *     write-verify OFFSET FILE      the same plus read-back
 *     read OFFSET LEN OUTFILE       burner READ
 *     reboot
 *
 * Exit: 0 ok, 1 engine or file error (line "error=ENAME code=-N msg=STEP:
 * ..."), 2 usage, 3 no device at PORT.
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
#include "protocols/ingenic.h"
#include "protocols/ingenic_burner.h"
#include "protocols/ingenic_cfg.h"
#include "protocols/usb.h"
#include "tests/lib/usb-tool.h"

static atomic_int cancel_flag;
static bool quiet;

struct tool {
	struct usb_dev usb;
	const struct ingenic_soc *soc;
	unsigned int pct;
	struct ingenic *rom;
	struct burner *burner;
	struct ingenic_cfg cfg;
	uint32_t jedec;
};

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&cancel_flag, 1);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: ingenic-tool [-p PORT] [-s SOC] [-t PCT] [-w MS] [-T BYTES] [-e ERASE] [-n] [-q] STEP...\n"
		"  cpu-info | uid | soc-id | boot GINFO|- SPL BURNER D2I | jedec | config PARTS\n"
		"  | write OFF FILE | write-verify OFF FILE | read OFF LEN OUT | reboot\n");
	return 2;
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 0);
	return !errno && *s && !*end;
}

/* Any Ingenic device (ROM or burner): the rest is the engine's business. */
static int ingenic_device(libusb_device *dev, void *ud)
{
	struct libusb_device_descriptor dd;

	(void)ud;
	if (libusb_get_device_descriptor(dev, &dd) < 0 || dd.idVendor != INGENIC_VID)
		return -1;
	return 0;
}

static void progress(void *ud, uint64_t done, uint64_t total)
{
	unsigned int *last = ud;
	unsigned int pct = total ? (unsigned int)(done * 100 / total) : 100;

	if (quiet || pct / 10 == *last / 10)
		return;
	*last = pct;
	fprintf(stderr, "progress %u%% (%" PRIu64 "/%" PRIu64 ")\n", pct, done, total);
}

static int ensure_rom(struct tool *t, struct err *e)
{
	int r;

	if (t->rom)
		return 0;
	r = ingenic_open(&t->usb, t->soc, &t->rom, e);
	if (r == 0)
		ingenic_set_deadline_pct(t->rom, t->pct);
	return r;
}

static int ensure_burner(struct tool *t, struct err *e)
{
	int r;

	if (t->burner)
		return 0;
	r = burner_open(&t->usb, &t->burner, e);
	if (r == 0)
		burner_set_deadline_pct(t->burner, t->pct);
	return r;
}

static int step_boot(struct tool *t, char **argv)
{
	struct tool_map g = { 0 }, s = { 0 }, b = { 0 };
	struct ingenic_boot_args a = { 0 };
	struct ingenic_boot_result res = { 0 };
	unsigned int last = 0;
	struct err e = { 0 };
	uint64_t d2i;
	int r;

	if (!parse_u64(argv[3], &d2i) || d2i > UINT32_MAX)
		return usage();
	if ((strcmp(argv[0], "-") && (r = tool_map_file(argv[0], &g)) < 0) ||
	    (r = tool_map_file(argv[1], &s)) < 0 || (r = tool_map_file(argv[2], &b)) < 0)
		return tool_fail("boot: open file", r, NULL);
	a =
		(struct ingenic_boot_args){ g.data, g.len, s.data,	 s.len,
					    b.data, b.len, (uint32_t)d2i };
	r = ensure_rom(t, &e);
	if (r == 0)
		r = ingenic_boot(t->rom, &a, progress, &last, &res, &e);
	tool_unmap(&g);
	tool_unmap(&s);
	tool_unmap(&b);
	printf("rom_cpu=\"%s\" spl_cpu=\"%s\" burner_cpu=\"%s\" spl_wait_ms=%" PRIu64
	       " burner_wait_ms=%" PRIu64 "\n",
	       res.rom.text, res.spl.text, res.burner.text, res.spl_wait_ms, res.burner_wait_ms);
	return r < 0 ? tool_fail("boot", r, &e) : 0;
}

static int step_config(struct tool *t, const char *spec)
{
	_cleanup_free_ char *copy = strdup(spec);
	struct err e = { 0 };
	char *save = NULL;
	int r;

	if (!copy)
		return tool_fail("config", -ENOMEM, NULL);
	t->cfg.n_parts = 0;
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char *c1 = strchr(p, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		uint64_t off, size;

		if (!c2)
			return usage();
		*c1 = *c2 = '\0';
		if (!parse_u64(c1 + 1, &off) || !parse_u64(c2 + 1, &size) || off > UINT32_MAX ||
		    size > UINT32_MAX)
			return usage();
		r = ingenic_cfg_add_partition(&t->cfg, p, (uint32_t)off, (uint32_t)size, &e);
		if (r < 0)
			return tool_fail("config", r, &e);
	}
	r = ingenic_cfg_nor_generic(t->jedec, &t->cfg.nor, &e);
	if (r < 0)
		return tool_fail("config", r, &e);
	r = ensure_burner(t, &e);
	if (r == 0)
		r = burner_configure(t->burner, &t->cfg, &e);
	if (r < 0)
		return tool_fail("config", r, &e);
	printf("configured parts=%u erase=%d chip_size=%u\n", t->cfg.n_parts, (int)t->cfg.erase,
	       t->cfg.nor.chip_size);
	return 0;
}

static int step_write(struct tool *t, const char *off_s, const char *file, bool readback)
{
	struct burner_result res = { 0 };
	struct tool_map m = { 0 };
	unsigned int last = 0;
	struct err e = { 0 };
	uint64_t off, t0;
	int r;

	if (!parse_u64(off_s, &off))
		return usage();

	r = tool_map_file(file, &m);
	if (r < 0)
		return tool_fail("write: open file", r, NULL);
	r = ensure_burner(t, &e);
	t0 = usb_now_ms();
	if (r == 0)
		r = burner_write(t->burner, off, m.data, m.len,
				 readback ? BURNER_VERIFY_READBACK : 0, progress, &last, &res, &e);
	tool_unmap(&m);
	printf("bytes_written=%" PRIu64 " bytes_verified=%" PRIu64
	       " chunks=%u device_checked=%d verified=%d write_ms=%" PRIu64 "\n",
	       res.bytes_written, res.bytes_verified, res.chunks, res.device_checked, res.verified,
	       usb_now_ms() - t0);
	printf("host_crc=0x%08x dev_crc=0x%08x\n", res.host_crc, res.dev_crc);
	return r < 0 ? tool_fail("write", r, &e) : 0;
}

static int step_read(struct tool *t, char **argv)
{
	_cleanup_free_ uint8_t *buf = NULL;
	unsigned int last = 0;
	struct err e = { 0 };
	uint64_t off, len;
	FILE *out;
	int r;

	if (!parse_u64(argv[0], &off) || !parse_u64(argv[1], &len) || len > (1u << 30))
		return usage();
	buf = malloc(len ? len : 1);
	if (!buf)
		return tool_fail("read", -ENOMEM, NULL);
	r = ensure_burner(t, &e);
	if (r == 0)
		r = burner_read(t->burner, off, buf, len, progress, &last, &e);
	if (r < 0)
		return tool_fail("read", r, &e);
	out = fopen(argv[2], "we");
	if (!out || fwrite(buf, 1, len, out) != len || fclose(out) != 0)
		return tool_fail("read: write output", -errno, NULL);
	printf("read=%" PRIu64 " crc=0x%08x\n", len, crc32_update(0, buf, len));
	return 0;
}

/* Run one step at argv[0]; returns the number of words used, or -(exit code). */
static int step(struct tool *t, int argc, char **argv)
{
	struct err e = { 0 };
	int r;

#define NEED(n)                                                                                    \
	do {                                                                                       \
		if (argc < (n) + 1)                                                                \
			return -usage();                                                           \
	} while (0)
#define DONE(rc, used)                                                                             \
	do {                                                                                       \
		int _rc = (rc);                                                                    \
		return _rc ? -_rc : (used);                                                        \
	} while (0)

	if (!strcmp(argv[0], "cpu-info")) {
		struct ingenic_cpu_info ci;

		r = ensure_rom(t, &e);
		if (r == 0)
			r = ingenic_cpu_info(t->rom, 0, &ci, &e);
		if (r < 0)
			DONE(tool_fail("cpu-info", r, &e), 1);
		printf("cpu_info=\"%s\" kind=%s\n", ci.text,
		       ci.kind == INGENIC_CPU_ROM      ? "rom"
		       : ci.kind == INGENIC_CPU_BURNER ? "burner"
						       : "unknown");
		DONE(0, 1);
	}
	if (!strcmp(argv[0], "uid")) {
		struct ingenic_uid uid;

		r = ensure_rom(t, &e);
		if (r == 0)
			r = ingenic_read_uid(t->rom, &uid, &e);
		if (r < 0)
			DONE(tool_fail("uid", r, &e), 1);
		printf("uid=%s\n", uid.hex);
		DONE(0, 1);
	}
	if (!strcmp(argv[0], "soc-id")) {
		uint32_t id;

		r = ensure_rom(t, &e);
		if (r == 0)
			r = ingenic_read_soc_id(t->rom, &id, &e);
		if (r < 0)
			DONE(tool_fail("soc-id", r, &e), 1);
		printf("soc_id=0x%08x family=0x%04x\n", id, (id >> 12) & 0xffff);
		DONE(0, 1);
	}
	if (!strcmp(argv[0], "boot")) {
		NEED(4);
		DONE(step_boot(t, argv + 1), 5);
	}
	if (!strcmp(argv[0], "jedec")) {
		r = ensure_burner(t, &e);
		if (r == 0)
			r = burner_read_jedec(t->burner, INGENIC_FLASH_SFC_NOR, &t->jedec, &e);
		if (r < 0)
			DONE(tool_fail("jedec", r, &e), 1);
		printf("jedec=%06x burner_cpu=\"%s\"\n", t->jedec, burner_cpu_info(t->burner));
		DONE(0, 1);
	}
	if (!strcmp(argv[0], "config")) {
		NEED(1);
		DONE(step_config(t, argv[1]), 2);
	}
	if (!strcmp(argv[0], "write") || !strcmp(argv[0], "write-verify")) {
		NEED(2);
		DONE(step_write(t, argv[1], argv[2], argv[0][5] == '-'), 3);
	}
	if (!strcmp(argv[0], "read")) {
		NEED(3);
		DONE(step_read(t, argv + 1), 4);
	}
	if (!strcmp(argv[0], "reboot")) {
		bool gone = false;

		r = ensure_burner(t, &e);
		if (r == 0)
			r = burner_reboot(t->burner, &gone, &e);
		if (r < 0)
			DONE(tool_fail("reboot", r, &e), 1);
		printf("rebooted gone=%d\n", gone);
		DONE(0, 1);
	}
	return -usage();
#undef NEED
#undef DONE
}

int main(int argc, char **argv)
{
	const char *port = NULL, *soc = "t31";
	long pct = 100, wait_ms = 2000, tsize = 0;
	libusb_context *ctx = NULL;
	libusb_device_handle *h = NULL;
	struct tool t = { 0 };
	int c, r, rc = 0;

	ingenic_cfg_init(&t.cfg);
	while ((c = getopt(argc, argv, "+p:s:t:w:T:e:nq")) != -1) {
		switch (c) {
		case 'p':
			port = optarg;
			break;
		case 's':
			soc = optarg;
			break;
		case 't':
			pct = strtol(optarg, NULL, 0);
			break;
		case 'w':
			wait_ms = strtol(optarg, NULL, 0);
			break;
		case 'T':
			tsize = strtol(optarg, NULL, 0);
			break;
		case 'e':
			if (!strcmp(optarg, "chip"))
				t.cfg.erase = INGENIC_ERASE_CHIP;
			else if (!strcmp(optarg, "partition"))
				t.cfg.erase = INGENIC_ERASE_PARTITION;
			else if (!strcmp(optarg, "range"))
				t.cfg.erase = INGENIC_ERASE_RANGE;
			else
				return usage();
			break;
		case 'n':
			t.cfg.transfer_check = false;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return usage();
		}
	}
	t.soc = ingenic_soc_find(soc);
	if (optind >= argc || pct <= 0 || !t.soc)
		return usage();
	if (tsize > 0)
		t.cfg.transfer_size = (uint32_t)tsize;
	t.pct = (unsigned int)pct;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	r = libusb_init(&ctx);
	if (r < 0)
		return tool_fail("libusb_init", usb_errno(r), NULL);
	for (long waited = 0;; waited += 50) {
		r = tool_open_port(ctx, port, ingenic_device, NULL, &h, NULL, NULL);
		if (r == 0 || waited >= wait_ms)
			break;
		usleep(50 * 1000);
	}
	if (r < 0) {
		printf("error=ENODEV code=%d msg=no Ingenic device at port %s\n", r,
		       port ? port : "(any)");
		libusb_exit(ctx);
		return 3;
	}
	usb_dev_init(&t.usb, h, 0);
	t.usb.cancel = &cancel_flag;
	for (int i = optind; i < argc;) {
		int n = step(&t, argc - i, argv + i);

		if (n < 0) {
			rc = -n;
			break;
		}
		i += n;
	}
	if (rc == 0)
		printf("result=ok\n");
	burner_close(t.burner);
	ingenic_close(t.rom);
	libusb_close(h);
	libusb_exit(ctx);
	return rc;
}
