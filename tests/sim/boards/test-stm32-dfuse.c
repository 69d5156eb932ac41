/*
 * Tests of the board core and the stm32f405-dfuse model, driven directly
 * through board.h with a fake host: a virtual clock the test advances, a
 * scheduler queue and an event log.  After each transfer the host "waits"
 * for the completion, i.e. the clock moves by delay_ns.
 */
#include "tests/lib/test.h"
#include "tests/sim/boards/board.h"

#include <errno.h>
#include <stdbool.h>

#include "tests/sim/boards/fake-host.h"

static struct fake *board(const struct sim_opt *opts, size_t n)
{
	static struct fake f;
	char err[200];
	int r;

	sim_board_free(f.b);
	r = fake_new(&f, "stm32f405-dfuse", opts, n, err, sizeof(err));
	if (r < 0)
		TEST_FAIL("sim_board_new: %d: %s", r, err);
	return &f;
}

/* Control transfer; the host waits for its completion (clock += delay). */
static int ctrl_x(struct fake *f, uint8_t rt, uint8_t req, uint16_t val, uint16_t idx, void *data,
		  uint16_t len, size_t *actual, uint64_t *delay)
{
	struct sim_xfer x = {
		.type = SIM_XFER_CONTROL,
		.setup = { rt, req, val, idx, len },
		.data = data,
		.len = len,
	};
	int r = sim_board_submit(f->b, &x);

	if (r != SIM_XFER_DONE)
		TEST_FAIL("request 0x%02x: submit returned %d", req, r);
	if (actual)
		*actual = x.actual;
	if (delay)
		*delay = x.delay_ns;
	fake_advance(f, x.delay_ns);
	return x.status;
}

static int ctrl(struct fake *f, uint8_t rt, uint8_t req, uint16_t val, uint16_t idx, void *data,
		uint16_t len)
{
	return ctrl_x(f, rt, req, val, idx, data, len, NULL, NULL);
}

#define DNLOAD 1
#define UPLOAD 2
#define GETSTATUS 3
#define CLRSTATUS 4
#define GETSTATE 5
#define ABORT 6

struct st {
	uint8_t status, state;
	uint32_t poll;
	int r;
	uint64_t delay;
};

static struct st getstatus(struct fake *f)
{
	uint8_t b[6] = { 0xee, 0xee, 0xee, 0xee, 0xee, 0xee };
	struct st s = { 0 };

	s.r = ctrl_x(f, 0xa1, GETSTATUS, 0, 0, b, 6, NULL, &s.delay);
	s.status = b[0];
	s.poll = b[1] | b[2] << 8 | b[3] << 16;
	s.state = b[4];
	return s;
}

static int dnload(struct fake *f, uint16_t block, const void *data, uint16_t len)
{
	return ctrl(f, 0x21, DNLOAD, block, 0, (void *)data, len);
}

static int upload(struct fake *f, uint16_t block, void *data, uint16_t len)
{
	return ctrl(f, 0xa1, UPLOAD, block, 0, data, len);
}

/* A DfuSe command: DNLOAD block 0, GETSTATUS (busy), wait, GETSTATUS. */
static struct st command(struct fake *f, uint8_t cmd, const uint32_t *addr)
{
	uint8_t c[5] = { cmd };
	struct st s;
	int r;

	if (addr) {
		c[1] = *addr;
		c[2] = *addr >> 8;
		c[3] = *addr >> 16;
		c[4] = *addr >> 24;
	}
	r = dnload(f, 0, c, addr ? 5 : 1);
	if (r)
		TEST_FAIL("command 0x%02x: DNLOAD status %d", cmd, r);
	s = getstatus(f);
	if (s.r || s.state != 4)
		TEST_FAIL("command 0x%02x: first GETSTATUS r=%d state %u", cmd, s.r, s.state);
	return getstatus(f);
}

static void set_address(struct fake *f, uint32_t a)
{
	struct st s = command(f, 0x21, &a);

	ASSERT_EQ(s.state, 5);
	ASSERT_EQ(s.status, 0);
}

static void erase(struct fake *f, uint32_t a)
{
	struct st s = command(f, 0x41, &a);

	ASSERT_EQ(s.state, 5);
	ASSERT_EQ(s.status, 0);
}

/* Data block: DNLOAD, GETSTATUS busy, GETSTATUS; returns the last status. */
static struct st write_block(struct fake *f, uint16_t block, const uint8_t *data, uint16_t len)
{
	struct st s;

	ASSERT_OK(dnload(f, block, data, len));
	s = getstatus(f);
	ASSERT_EQ(s.state, 4);
	return getstatus(f);
}

static const uint8_t *memory(struct fake *f, const char *name, size_t *len)
{
	const char *n;
	const uint8_t *d;
	size_t l;

	for (unsigned i = 0; sim_board_memory(f->b, i, &n, &d, &l); i++) {
		if (!strcmp(n, name)) {
			if (len)
				*len = l;
			return d;
		}
	}
	TEST_FAIL("no memory '%s'", name);
	return NULL;
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed * 131 + (i >> 8));
}

static bool all_ff(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0xff)
			return false;
	return true;
}

static int count_events(struct fake *f, enum sim_board_event ev)
{
	int n = 0;

	for (int i = 0; i < f->n_ev; i++)
		n += f->ev[i].ev == ev;
	return n;
}

#define OPTS(...)                                                                                  \
	((const struct sim_opt[]){ __VA_ARGS__ }),                                                 \
		(sizeof((const struct sim_opt[]){ __VA_ARGS__ }) / sizeof(struct sim_opt))

static const char *get_string(struct fake *f, uint8_t idx, char *out, size_t outlen)
{
	uint8_t d[256];
	size_t n, i;

	if (ctrl_x(f, 0x80, 6, 0x0300 | idx, 0x0409, d, 255, &n, NULL))
		return NULL;
	if (n < 2 || d[1] != 3 || d[0] != n)
		return NULL;
	for (i = 0; i + 1 < outlen && 2 + 2 * i + 1 < n; i++) {
		if (d[3 + 2 * i] != 0)
			return NULL;
		out[i] = d[2 + 2 * i];
	}
	out[i] = 0;
	return out;
}

TEST(types_and_options)
{
	struct fake f;
	char err[200];
	const char *t;
	bool f405 = false, f407 = false;

	for (size_t i = 0; (t = sim_board_type(i)); i++) {
		f405 |= !strcmp(t, "stm32f405-dfuse");
		f407 |= !strcmp(t, "stm32f407-dfuse");
	}
	ASSERT_TRUE(f405 && f407);
	ASSERT_EQ(fake_new(&f, "nonesuch", NULL, 0, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "nonesuch");
	ASSERT_EQ(fake_new(&f, "stm32f407-dfuse", OPTS({ "bogus_key", "1" }), err, sizeof(err)),
		  -EINVAL);
	ASSERT_CONTAINS(err, "bogus_key");
	ASSERT_EQ(fake_new(&f, "stm32f405-dfuse", OPTS({ "flash_kib", "100" }), err, sizeof(err)),
		  -EINVAL);
	ASSERT_CONTAINS(err, "flash_kib");
	ASSERT_EQ(fake_new(&f, "stm32f405-dfuse", OPTS({ "faults.0.kind", "explode" }), err,
			   sizeof(err)),
		  -EINVAL);
	ASSERT_CONTAINS(err, "explode");
	ASSERT_EQ(fake_new(&f, "stm32f405-dfuse",
			   OPTS({ "faults.0.kind", "stall" }, { "faults.0.step", "nope" }), err,
			   sizeof(err)),
		  -EINVAL);
	ASSERT_CONTAINS(err, "nope");
	ASSERT_EQ(fake_new(&f, "stm32f405-dfuse", OPTS({ "faults.0.after_bytes", "5" }), err,
			   sizeof(err)),
		  -EINVAL);
	ASSERT_CONTAINS(err, "faults.0.kind");
	ASSERT_EQ(fake_new(&f, "stm32f405-dfuse", OPTS({ "uid", "12345" }), err, sizeof(err)),
		  -EINVAL);
	ASSERT_CONTAINS(err, "uid");
}

TEST(descriptors_and_strings)
{
	struct fake *f = board(OPTS({ "uid", "7A0025000150364248373020" }));
	const struct sim_identity *id = sim_board_identity(f->b);
	const uint8_t *dd = id->device_desc, *c = id->config_desc;
	uint8_t buf[64];
	char s[128];
	size_t n;
	int alts = 0, func = -1;

	ASSERT_EQ(dd[0], 18);
	ASSERT_EQ(dd[2] | dd[3] << 8, 0x0100);
	ASSERT_EQ(dd[7], 64);
	ASSERT_EQ(dd[8] | dd[9] << 8, 0x0483);
	ASSERT_EQ(dd[10] | dd[11] << 8, 0xdf11);
	ASSERT_EQ(dd[12] | dd[13] << 8, 0x2200);
	ASSERT_EQ(dd[17], 1);
	ASSERT_EQ(id->speed, SIM_SPEED_FULL);
	ASSERT_STREQ(id->manufacturer, "STMicroelectronics");
	ASSERT_STREQ(id->product, "STM32  BOOTLOADER");
	/* UID of the C0 worked example in protocol-dfu.md §3.2. */
	ASSERT_STREQ(id->serial, "205537C24236");

	ASSERT_EQ(c[2] | c[3] << 8, id->config_len);
	for (size_t o = 9; o < id->config_len; o += c[o]) {
		if (c[o + 1] == 4) {
			ASSERT_EQ(c[o + 3], alts);
			ASSERT_EQ(c[o + 5], 0xfe);
			ASSERT_EQ(c[o + 6], 0x01);
			ASSERT_EQ(c[o + 7], 0x02);
			alts++;
		} else if (c[o + 1] == 0x21) {
			func = o;
		}
	}
	ASSERT_EQ(alts, 4);
	ASSERT_EQ(func, (int)id->config_len - 9);
	ASSERT_EQ(c[func + 2], 0x0b);
	ASSERT_EQ(c[func + 3] | c[func + 4] << 8, 255);
	ASSERT_EQ(c[func + 5] | c[func + 6] << 8, 2048);
	ASSERT_EQ(c[func + 7] | c[func + 8] << 8, 0x011a);

	/* Over the wire: LANGID, strings in UTF-16LE, standalone 0x21. */
	ASSERT_OK(ctrl_x(f, 0x80, 6, 0x0300, 0, buf, 255, &n, NULL));
	ASSERT_EQ(n, 4);
	ASSERT_EQ(buf[2] | buf[3] << 8, 0x0409);
	ASSERT_STREQ(get_string(f, c[9 + 8], s, sizeof(s)),
		     "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg");
	ASSERT_STREQ(get_string(f, c[9 + 9 + 8], s, sizeof(s)),
		     "@Option Bytes  /0x1FFFC000/01*016 e");
	ASSERT_STREQ(get_string(f, c[9 + 18 + 8], s, sizeof(s)),
		     "@OTP Memory /0x1FFF7800/01*512 e,01*016 e");
	ASSERT_STREQ(get_string(f, c[9 + 27 + 8], s, sizeof(s)),
		     "@Device Feature/0xFFFF0000/01*004 e");
	ASSERT_STREQ(get_string(f, dd[16], s, sizeof(s)), "205537C24236");
	ASSERT_OK(ctrl_x(f, 0x80, 6, 0x2100, 0, buf, 9, &n, NULL));
	ASSERT_EQ(n, 9);
	ASSERT_EQ(buf[5] | buf[6] << 8, 2048);
	ASSERT_OK(ctrl_x(f, 0x80, 6, 0x0100, 0, buf, 64, &n, NULL));
	ASSERT_EQ(n, 18);
	/* Short read of the configuration descriptor: wLength wins. */
	ASSERT_OK(ctrl_x(f, 0x80, 6, 0x0200, 0, buf, 9, &n, NULL));
	ASSERT_EQ(n, 9);
	ASSERT_EQ(ctrl(f, 0x80, 6, 0x0309, 0, buf, 64), -EPIPE);
	/* Unknown standard request: STALL. */
	ASSERT_EQ(ctrl(f, 0x80, 0x0c, 0, 0, buf, 2), -EPIPE);

	/* SET_CONFIGURATION, SET/GET_INTERFACE with a non-existent alt. */
	ASSERT_OK(ctrl(f, 0x00, 9, 1, 0, NULL, 0));
	ASSERT_OK(ctrl_x(f, 0x80, 8, 0, 0, buf, 1, &n, NULL));
	ASSERT_EQ(buf[0], 1);
	ASSERT_OK(ctrl(f, 0x01, 11, 2, 0, NULL, 0));
	ASSERT_OK(ctrl_x(f, 0x81, 10, 0, 0, buf, 1, &n, NULL));
	ASSERT_EQ(buf[0], 2);
	ASSERT_EQ(ctrl(f, 0x01, 11, 4, 0, NULL, 0), -EPIPE);
	ASSERT_OK(ctrl_x(f, 0x80, 0, 0, 0, buf, 2, &n, NULL));
	ASSERT_EQ(n, 2);
}

TEST(serial_option_and_small_flash)
{
	struct fake *f = board(
		OPTS({ "serial", "ABC123" }, { "flash_kib", "512" }, { "transfer_size", "1024" }));
	const struct sim_identity *id = sim_board_identity(f->b);
	char s[128];
	size_t len;

	ASSERT_STREQ(id->serial, "ABC123");
	ASSERT_STREQ(get_string(f, id->config_desc[9 + 8], s, sizeof(s)),
		     "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg");
	memory(f, "flash", &len);
	ASSERT_EQ(len, 512 * 1024);
	ASSERT_EQ(id->config_desc[id->config_len - 4] | id->config_desc[id->config_len - 3] << 8,
		  1024);
}

TEST(download_erase_write_readback)
{
	struct fake *f = board(OPTS({ "fill", "random:3" }, { "timing.scale", "0.001" }));
	static uint8_t a[2048], b2[2048], c3[2048], rd[2048];
	const uint8_t *flash = memory(f, "flash", NULL);
	uint8_t cmds[8];
	size_t n;

	ASSERT_TRUE(!all_ff(flash, 16384));
	ASSERT_EQ(getstatus(f).state, 2);
	erase(f, 0x08000000);
	ASSERT_TRUE(all_ff(flash, 16384));
	/* Sector 1 untouched: the erase hit only the sector holding the address. */
	ASSERT_TRUE(!all_ff(flash + 16384, 16384));
	erase(f, 0x08004123);
	ASSERT_TRUE(all_ff(flash + 16384, 16384));

	/* dfu-util style: Set-Address per chunk, block 2. */
	pattern(a, sizeof(a), 1);
	set_address(f, 0x08000000);
	ASSERT_EQ(write_block(f, 2, a, sizeof(a)).state, 5);
	/* Betaflight style: one Set-Address, consecutive blocks. */
	pattern(b2, sizeof(b2), 2);
	pattern(c3, sizeof(c3), 3);
	set_address(f, 0x08004000);
	ASSERT_EQ(write_block(f, 2, b2, sizeof(b2)).state, 5);
	ASSERT_EQ(write_block(f, 3, c3, sizeof(c3)).state, 5);

	/* Exactly at the right addresses: one block off fails here. */
	ASSERT_MEMEQ(flash, a, sizeof(a));
	ASSERT_TRUE(all_ff(flash + 2048, 16384 - 2048));
	ASSERT_MEMEQ(flash + 16384, b2, sizeof(b2));
	ASSERT_MEMEQ(flash + 16384 + 2048, c3, sizeof(c3));
	ASSERT_TRUE(all_ff(flash + 16384 + 4096, 16384 - 4096));

	/* Read back over UPLOAD: ABORT to idle, Set-Address, blocks 2 and 3. */
	ASSERT_OK(ctrl(f, 0x21, ABORT, 0, 0, NULL, 0));
	set_address(f, 0x08004000);
	ASSERT_OK(ctrl(f, 0x21, ABORT, 0, 0, NULL, 0));
	ASSERT_OK(upload(f, 3, rd, sizeof(rd)));
	ASSERT_MEMEQ(rd, c3, sizeof(rd));
	ASSERT_OK(upload(f, 2, rd, sizeof(rd)));
	ASSERT_MEMEQ(rd, b2, sizeof(rd));
	ASSERT_EQ(getstatus(f).state, 9);
	ASSERT_OK(ctrl(f, 0x21, ABORT, 0, 0, NULL, 0));

	/* Get Commands. */
	ASSERT_OK(ctrl_x(f, 0xa1, UPLOAD, 0, 0, cmds, 8, &n, NULL));
	ASSERT_EQ(n, 4);
	ASSERT_EQ(cmds[0] | cmds[1] << 8 | cmds[2] << 16 | (uint32_t)cmds[3] << 24, 0x92412100);

	struct sim_board_stats st;

	sim_board_stats(f->b, &st);
	ASSERT_TRUE(st.bytes_out >= 3 * 2048);
	ASSERT_TRUE(st.bytes_in >= 2 * 2048);
	ASSERT_EQ(st.faults_fired, 0);
}

TEST(short_blocks_land_at_transfer_size_stride)
{
	struct fake *f = board(OPTS({ "timing.scale", "0" }));
	uint8_t a[1024], b[1024];
	const uint8_t *flash = memory(f, "flash", NULL);

	pattern(a, sizeof(a), 4);
	pattern(b, sizeof(b), 5);
	set_address(f, 0x08000000);
	ASSERT_EQ(write_block(f, 2, a, sizeof(a)).state, 5);
	ASSERT_EQ(write_block(f, 3, b, sizeof(b)).state, 5);
	/* Block 3 goes to pointer + 2048 (wTransferSize), not + 1024 [STLIB]. */
	ASSERT_MEMEQ(flash, a, sizeof(a));
	ASSERT_TRUE(all_ff(flash + 1024, 1024));
	ASSERT_MEMEQ(flash + 2048, b, sizeof(b));
}

TEST(nor_write_without_erase_fails_errverify)
{
	struct fake *f = board(OPTS({ "fill", "random:9" }, { "timing.scale", "0" }));
	uint8_t a[256];
	struct st s;

	pattern(a, sizeof(a), 6);
	set_address(f, 0x08000000);
	s = write_block(f, 2, a, sizeof(a));
	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x07);
	ASSERT_OK(ctrl(f, 0x21, CLRSTATUS, 0, 0, NULL, 0));
	s = getstatus(f);
	ASSERT_EQ(s.state, 2);
	ASSERT_EQ(s.status, 0);
	/* After an erase the same write succeeds. */
	erase(f, 0x08000000);
	set_address(f, 0x08000000);
	ASSERT_EQ(write_block(f, 2, a, sizeof(a)).state, 5);
	ASSERT_MEMEQ(memory(f, "flash", NULL), a, sizeof(a));
}

TEST(mass_erase_sets_all_ff_and_understates_poll)
{
	struct fake *f = board(OPTS({ "fill", "random:1" }, { "timing.scale", "0.01" }));
	size_t len;
	const uint8_t *flash = memory(f, "flash", &len);
	uint8_t c = 0x41;
	struct st s;

	ASSERT_OK(dnload(f, 0, &c, 1));
	s = getstatus(f);
	ASSERT_EQ(s.state, 4);
	/* The ROM claims 100 ms; scaled by 0.01 that is 1 ms. */
	ASSERT_EQ(s.poll, 1);
	ASSERT_TRUE(all_ff(flash, len));
	/* The next request waits out the real 8 s (scaled: 80 ms). */
	s = getstatus(f);
	ASSERT_EQ(s.state, 5);
	ASSERT_TRUE(s.delay >= 79000000ull && s.delay <= 82000000ull);
}

TEST(busy_request_completes_at_end_of_operation)
{
	struct fake *f = board(OPTS({ "timing.scale", "1" }));
	uint32_t a = 0x08020000; /* sector 5, 128 KB: 1 s */
	uint8_t c[5] = { 0x41, a, a >> 8, a >> 16, a >> 24 };
	uint8_t state;
	struct st s;
	uint64_t d, start;

	ASSERT_OK(dnload(f, 0, c, 5));
	s = getstatus(f);
	ASSERT_EQ(s.state, 4);
	ASSERT_EQ(s.poll, 100);
	ASSERT_TRUE(s.delay < 5000000ull);
	/* Any request, even a standard one, is held until the erase ends. */
	start = f->now;
	ASSERT_OK(ctrl_x(f, 0xa1, GETSTATE, 0, 0, &state, 1, NULL, &d));
	ASSERT_TRUE(d >= 990000000ull && d <= 1010000000ull);
	ASSERT_EQ(state, 3);
	ASSERT_TRUE(f->now - start >= 990000000ull);
	s = getstatus(f);
	ASSERT_EQ(s.state, 5);
	ASSERT_TRUE(s.delay < 5000000ull);
}

TEST(busy_stall_option_stalls_early_polls)
{
	struct fake *f = board(OPTS({ "busy", "stall" }));
	uint32_t a = 0x08000000;
	uint8_t c[5] = { 0x41, a, a >> 8, a >> 16, a >> 24 };
	struct st s;

	ASSERT_OK(dnload(f, 0, c, 5));
	ASSERT_EQ(getstatus(f).state, 4);
	s = getstatus(f);
	ASSERT_EQ(s.r, -EPIPE);
	fake_advance(f, 300000000ull);
	s = getstatus(f);
	ASSERT_OK(s.r);
	ASSERT_EQ(s.state, 5);
}

TEST(boot_error_powers_up_in_dfuerror)
{
	struct fake *f = board(OPTS({ "boot_error", "1" }));
	struct st s = getstatus(f);

	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x0a);
	ASSERT_STREQ(sim_board_state(f->b), "dfu-error");
	ASSERT_OK(ctrl(f, 0x21, CLRSTATUS, 0, 0, NULL, 0));
	ASSERT_EQ(getstatus(f).state, 2);
	/* A second CLRSTATUS outside dfuERROR enters it (ST's stack). */
	ASSERT_OK(ctrl(f, 0x21, CLRSTATUS, 0, 0, NULL, 0));
	s = getstatus(f);
	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x0e);
}

TEST(reads_outside_map_refused_unless_uid_readable)
{
	struct fake *f = board(NULL, 0);
	uint8_t buf[32];
	struct st s;

	ASSERT_OK(ctrl(f, 0x01, 11, 2, 0, NULL, 0));
	set_address(f, 0x1FFF7A10);
	ASSERT_OK(ctrl(f, 0x21, ABORT, 0, 0, NULL, 0));
	ASSERT_EQ(upload(f, 2, buf, 12), -EPIPE);
	s = getstatus(f);
	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x01);

	f = board(OPTS({ "uid_readable", "1" }, { "uid", "00112233445566778899AABB" },
		       { "flash_kib", "512" }));
	set_address(f, 0x1FFF7A10);
	ASSERT_OK(ctrl(f, 0x21, ABORT, 0, 0, NULL, 0));
	ASSERT_OK(upload(f, 2, buf, 20));
	ASSERT_EQ(buf[0], 0x00);
	ASSERT_EQ(buf[11], 0xbb);
	ASSERT_EQ(buf[0x12] | buf[0x13] << 8, 512);
	/* Reading flash with the OTP alt selected is also outside the map. */
	ASSERT_OK(ctrl(f, 0x21, ABORT, 0, 0, NULL, 0));
	ASSERT_OK(ctrl(f, 0x01, 11, 2, 0, NULL, 0));
	set_address(f, 0x08000000);
	ASSERT_OK(ctrl(f, 0x21, ABORT, 0, 0, NULL, 0));
	ASSERT_EQ(upload(f, 2, buf, 16), -EPIPE);
	ASSERT_EQ(getstatus(f).status, 0x01);
}

TEST(rdp_refuses_upload_write_and_set_address)
{
	struct fake *f = board(OPTS({ "rdp", "1" }, { "timing.scale", "0" }));
	uint8_t buf[64];
	uint8_t c[5] = { 0x21, 0, 0, 0, 0x08 };
	struct st s;

	ASSERT_EQ(upload(f, 2, buf, sizeof(buf)), -EPIPE);
	s = getstatus(f);
	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x0b);
	ASSERT_OK(ctrl(f, 0x21, CLRSTATUS, 0, 0, NULL, 0));

	ASSERT_OK(dnload(f, 0, c, 5));
	ASSERT_EQ(getstatus(f).state, 4);
	s = getstatus(f);
	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x0b);
	ASSERT_OK(ctrl(f, 0x21, CLRSTATUS, 0, 0, NULL, 0));

	memset(buf, 0, sizeof(buf));
	s = write_block(f, 2, buf, sizeof(buf));
	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x0b);
}

TEST(read_unprotect_erases_and_reenumerates)
{
	struct fake *f =
		board(OPTS({ "rdp", "1" }, { "fill", "random:5" }, { "timing.scale", "0.001" }));
	size_t len;
	const uint8_t *flash = memory(f, "flash", &len);
	uint8_t c = 0x92, buf[16];
	struct st s;

	ASSERT_TRUE(!all_ff(flash, len));
	ASSERT_OK(dnload(f, 0, &c, 1));
	s = getstatus(f);
	ASSERT_EQ(s.state, 4);
	ASSERT_EQ(count_events(f, SIM_EV_DISCONNECT), 1);
	ASSERT_EQ(count_events(f, SIM_EV_CONNECT), 0);
	ASSERT_STREQ(sim_board_state(f->b), "resetting");
	/* It cannot answer a second GETSTATUS. */
	ASSERT_EQ(getstatus(f).r, -ENODEV);
	/* Back after mass erase (8 s) + boot (0.1 s), scaled by 0.001. */
	fake_advance(f, 8000000ull);
	ASSERT_EQ(count_events(f, SIM_EV_CONNECT), 0);
	fake_advance(f, 200000ull);
	ASSERT_EQ(count_events(f, SIM_EV_CONNECT), 1);
	ASSERT_TRUE(all_ff(flash, len));
	ASSERT_EQ(memory(f, "option-bytes", NULL)[1], 0xaa);
	ASSERT_STREQ(sim_board_state(f->b), "dfu-idle");
	set_address(f, 0x08000000);
	ASSERT_OK(ctrl(f, 0x21, ABORT, 0, 0, NULL, 0));
	ASSERT_OK(upload(f, 2, buf, sizeof(buf)));
	ASSERT_EQ(buf[0], 0xff);
}

TEST(option_bytes_write_resets_the_rom)
{
	struct fake *f = board(OPTS({ "timing.scale", "0.001" }));
	uint8_t ob[16];

	memcpy(ob, memory(f, "option-bytes", NULL), 16);
	ob[0] = 0xcc; /* USER byte change */
	ASSERT_OK(ctrl(f, 0x01, 11, 1, 0, NULL, 0));
	set_address(f, 0x1FFFC000);
	ASSERT_OK(dnload(f, 2, ob, 16));
	ASSERT_EQ(getstatus(f).state, 4);
	ASSERT_EQ(count_events(f, SIM_EV_DISCONNECT), 1);
	fake_advance(f, 1000000000ull);
	ASSERT_EQ(count_events(f, SIM_EV_CONNECT), 1);
	ASSERT_EQ(memory(f, "option-bytes", NULL)[0], 0xcc);
	ASSERT_EQ(getstatus(f).state, 2);
	/* Re-enumeration resets the alt setting. */
	uint8_t alt = 9;

	ASSERT_OK(ctrl(f, 0x81, 10, 0, 0, &alt, 1));
	ASSERT_EQ(alt, 0);
}

/* RM0090 §3.7.3: at RDP level 2 the system bootloader is disabled for good. */
TEST(rdp_level2_written_the_rom_never_comes_back)
{
	struct fake *f = board(OPTS({ "timing.scale", "0.001" }));
	uint8_t ob[16];

	memcpy(ob, memory(f, "option-bytes", NULL), 16);
	ob[1] = 0xcc;
	ASSERT_OK(ctrl(f, 0x01, 11, 1, 0, NULL, 0));
	set_address(f, 0x1FFFC000);
	ASSERT_OK(dnload(f, 2, ob, 16));
	ASSERT_EQ(getstatus(f).state, 4);
	ASSERT_EQ(count_events(f, SIM_EV_DISCONNECT), 1);
	fake_advance(f, 10000000000ull);
	ASSERT_EQ(count_events(f, SIM_EV_CONNECT), 0);
	ASSERT_EQ(memory(f, "option-bytes", NULL)[1], 0xcc);
	ASSERT_STREQ(sim_board_state(f->b), "rdp2-no-rom");
	/* Powered up again it still has no ROM to answer DFU. */
	sim_board_replug(f->b);
	ASSERT_EQ(getstatus(f).r, -EPIPE);
}

TEST(leave_disconnects_and_records_jump_address)
{
	struct fake *f = board(OPTS({ "timing.scale", "0.001" }));
	struct st s;

	set_address(f, 0x08004000);
	ASSERT_OK(dnload(f, 0, NULL, 0));
	s = getstatus(f);
	ASSERT_OK(s.r);
	ASSERT_EQ(s.state, 7);
	ASSERT_EQ(count_events(f, SIM_EV_DISCONNECT), 1);
	ASSERT_TRUE(f->ev[0].at > f->now - s.delay);
	ASSERT_STREQ(sim_board_state(f->b), "left@0x08004000");
	ASSERT_EQ(getstatus(f).r, -ENODEV);
	fake_advance(f, 10000000000ull);
	ASSERT_EQ(count_events(f, SIM_EV_CONNECT), 0);
	/* Power cycle: the ROM again, memories kept. */
	sim_board_replug(f->b);
	ASSERT_EQ(count_events(f, SIM_EV_CONNECT), 1);
	ASSERT_STREQ(sim_board_state(f->b), "dfu-idle");
}

TEST(unplug_and_replug)
{
	struct fake *f = board(NULL, 0);

	sim_board_unplug(f->b);
	ASSERT_STREQ(sim_board_state(f->b), "unplugged");
	ASSERT_EQ(count_events(f, SIM_EV_DISCONNECT), 1);
	ASSERT_EQ(getstatus(f).r, -ENODEV);
	sim_board_replug(f->b);
	ASSERT_EQ(count_events(f, SIM_EV_CONNECT), 1);
	ASSERT_EQ(getstatus(f).state, 2);
}

TEST(fault_unplug_after_bytes)
{
	struct fake *f = board(OPTS({ "faults.0.kind", "unplug" },
				    { "faults.0.after_bytes", "5000" }, { "timing.scale", "0" }));
	uint8_t a[2048];
	struct sim_board_stats st;

	memset(a, 0, sizeof(a));
	set_address(f, 0x08000000);
	ASSERT_EQ(write_block(f, 2, a, sizeof(a)).state, 5);
	ASSERT_EQ(write_block(f, 3, a, sizeof(a)).state, 5);
	/* 5 + 5 + 2048 * 2 = 4101 bytes so far; the next block crosses 5000. */
	ASSERT_EQ(dnload(f, 4, a, sizeof(a)), -ENODEV);
	ASSERT_EQ(count_events(f, SIM_EV_DISCONNECT), 1);
	ASSERT_STREQ(sim_board_state(f->b), "unplugged");
	ASSERT_CONTAINS(sim_board_fault_log(f->b, 0), "unplug after 5000 bytes");
	ASSERT_TRUE(sim_board_fault_log(f->b, 1) == NULL);
	sim_board_stats(f->b, &st);
	ASSERT_EQ(st.faults_fired, 1);
}

TEST(fault_stall_request_with_skip_and_count)
{
	struct fake *f = board(OPTS({ "faults.0.kind", "stall" }, { "faults.0.request", "3" },
				    { "faults.0.skip", "1" }, { "faults.0.count", "2" }));

	ASSERT_OK(getstatus(f).r);
	ASSERT_EQ(getstatus(f).r, -EPIPE);
	ASSERT_EQ(getstatus(f).r, -EPIPE);
	ASSERT_OK(getstatus(f).r);
	ASSERT_CONTAINS(sim_board_fault_log(f->b, 1), "stall on request 3");
	ASSERT_TRUE(sim_board_fault_log(f->b, 2) == NULL);
}

TEST(fault_hang_at_erase_never_completes)
{
	struct fake *f = board(OPTS({ "faults.0.kind", "hang" }, { "faults.0.step", "erase" }));
	uint8_t c[5] = { 0x41, 0, 0, 0, 0x08 }, b[6];
	struct sim_xfer x = {
		.type = SIM_XFER_CONTROL,
		.setup = { 0xa1, GETSTATUS, 0, 0, 6 },
		.data = b,
		.len = 6,
	};

	ASSERT_OK(dnload(f, 0, c, 5));
	ASSERT_EQ(sim_board_submit(f->b, &x), SIM_XFER_PENDING);
	fake_advance(f, 100000000000ull);
	ASSERT_EQ(f->completed, 0);
	sim_board_cancel(f->b, &x);
	ASSERT_CONTAINS(sim_board_fault_log(f->b, 0), "hang at step erase");
	/* State unchanged: the host may poll again, and the erase then runs. */
	ASSERT_EQ(getstatus(f).state, 4);
}

TEST(fault_program_error_at_download)
{
	struct fake *f =
		board(OPTS({ "faults.0.kind", "program_error" }, { "faults.0.step", "download" },
			   { "faults.0.skip", "1" }, { "timing.scale", "0" }));
	uint8_t a[64];
	const uint8_t *flash = memory(f, "flash", NULL);
	struct st s;

	pattern(a, sizeof(a), 8);
	set_address(f, 0x08000000);
	ASSERT_EQ(write_block(f, 2, a, sizeof(a)).state, 5);
	s = write_block(f, 3, a, sizeof(a));
	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x06);
	ASSERT_TRUE(all_ff(flash + 2048, sizeof(a)));
	ASSERT_CONTAINS(sim_board_fault_log(f->b, 0), "program_error at step download");
}

TEST(fault_corrupt_upload_flips_a_bit)
{
	struct fake *f = board(OPTS({ "faults.0.kind", "corrupt_upload" }, { "fill", "random:2" },
				    { "timing.scale", "0" }));
	uint8_t buf[256];
	const uint8_t *flash = memory(f, "flash", NULL);
	int diff = 0;

	ASSERT_OK(upload(f, 2, buf, sizeof(buf)));
	for (size_t i = 0; i < sizeof(buf); i++)
		diff += buf[i] != flash[i];
	ASSERT_EQ(diff, 1);
	ASSERT_EQ(buf[128] ^ flash[128], 0x10);
	/* count 1: the next read is clean. */
	ASSERT_OK(upload(f, 3, buf, sizeof(buf)));
	ASSERT_MEMEQ(buf, flash + 2048, sizeof(buf));
	ASSERT_CONTAINS(sim_board_fault_log(f->b, 0), "corrupt_upload");
}

TEST(fault_unplug_at_mass_erase_step)
{
	struct fake *f = board(OPTS({ "faults.0.kind", "unplug" },
				    { "faults.0.step", "mass_erase" }, { "fill", "random:4" }));
	uint8_t c = 0x41;

	ASSERT_OK(dnload(f, 0, &c, 1));
	ASSERT_EQ(getstatus(f).r, -ENODEV);
	ASSERT_EQ(count_events(f, SIM_EV_DISCONNECT), 1);
	ASSERT_STREQ(sim_board_state(f->b), "unplugged");
	ASSERT_TRUE(!all_ff(memory(f, "flash", NULL), 1024));
	sim_board_replug(f->b);
	ASSERT_EQ(getstatus(f).state, 2);
}

TEST(scale_zero_is_instantaneous)
{
	struct fake *f = board(OPTS({ "timing.scale", "0" }));
	uint8_t c = 0x41;
	struct st s;

	ASSERT_OK(dnload(f, 0, &c, 1));
	s = getstatus(f);
	ASSERT_EQ(s.delay, 0);
	ASSERT_EQ(s.poll, 0);
	s = getstatus(f);
	ASSERT_EQ(s.delay, 0);
	ASSERT_EQ(s.state, 5);
}

TEST(unsupported_command_stalls_errstalledpkt)
{
	struct fake *f = board(NULL, 0);
	uint8_t c[2] = { 0x55, 0 };
	struct st s;

	ASSERT_EQ(dnload(f, 0, c, 2), -EPIPE);
	s = getstatus(f);
	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x0f);
}

TEST_MAIN()

/* --- stm32l476-dfuse: the same ROM over uniform 2 KiB pages, 64-bit
 * programming (tests/sim/boards/README.md). */
static struct fake *board_l4(const struct sim_opt *opts, size_t n)
{
	static struct fake f;
	char err[200];
	int r;

	sim_board_free(f.b);
	r = fake_new(&f, "stm32l476-dfuse", opts, n, err, sizeof(err));
	if (r < 0)
		TEST_FAIL("sim_board_new(stm32l476-dfuse): %d: %s", r, err);
	return &f;
}

TEST(l4_layout_strings_and_memories)
{
	struct fake *f = board_l4(OPTS({ "serial", "L4UNIT" }));
	const struct sim_identity *id = sim_board_identity(f->b);
	const uint8_t *c = id->config_desc;
	size_t len;
	char s[128];

	ASSERT_EQ(id->device_desc[8] | id->device_desc[9] << 8, 0x0483);
	ASSERT_EQ(id->device_desc[10] | id->device_desc[11] << 8, 0xdf11);
	ASSERT_STREQ(get_string(f, c[9 + 8], s, sizeof(s)),
		     "@Internal Flash  /0x08000000/0512*0002Kg");
	ASSERT_STREQ(get_string(f, c[9 + 9 + 8], s, sizeof(s)),
		     "@Option Bytes  /0x1FFF7800/01*040 e");
	ASSERT_STREQ(get_string(f, c[9 + 18 + 8], s, sizeof(s)),
		     "@OTP Memory /0x1FFF7000/01*0001Ke");
	ASSERT_STREQ(get_string(f, c[9 + 27 + 8], s, sizeof(s)),
		     "@Device Feature/0xFFFF0000/01*004 e");
	memory(f, "flash", &len);
	ASSERT_EQ(len, 1024 * 1024);
	memory(f, "option-bytes", &len);
	ASSERT_EQ(len, 40);
	memory(f, "otp", &len);
	ASSERT_EQ(len, 1024);

	/* 256 KiB part: 128 pages; F4 sector sizes are refused. */
	f = board_l4(OPTS({ "flash_kib", "256" }));
	c = sim_board_identity(f->b)->config_desc;
	ASSERT_STREQ(get_string(f, c[9 + 8], s, sizeof(s)),
		     "@Internal Flash  /0x08000000/0128*0002Kg");
	{
		struct fake g;
		char err[200];

		ASSERT_EQ(fake_new(&g, "stm32l476-dfuse", OPTS({ "flash_kib", "384" }), err,
				   sizeof(err)),
			  -EINVAL);
	}
}

TEST(l4_erase_hits_one_2k_page_in_page_erase_time)
{
	struct fake *f = board_l4(OPTS({ "fill", "random:4" }, { "timing.scale", "0.01" }));
	const uint8_t *flash = memory(f, "flash", NULL);
	uint32_t a = 0x08000800 + 0x123;
	struct st s;

	ASSERT_OK(dnload(f, 0, (uint8_t[]){ 0x41, a, a >> 8, a >> 16, a >> 24 }, 5));
	s = getstatus(f);
	ASSERT_EQ(s.state, 4);
	/* Page 1 only: the F4 would have erased the whole 16 KiB sector 0. */
	ASSERT_TRUE(!all_ff(flash, 2048));
	ASSERT_TRUE(all_ff(flash + 2048, 2048));
	ASSERT_TRUE(!all_ff(flash + 4096, 2048));
	/* DS10198 page erase 22.02 ms, scaled by 0.01: ~220 us of busy time. */
	s = getstatus(f);
	ASSERT_EQ(s.state, 5);
	ASSERT_TRUE(s.delay >= 200000ull && s.delay <= 1400000ull);
	/* Mass erase: DS10198 22.13 ms, not the F4's seconds. */
	ASSERT_OK(dnload(f, 0, (uint8_t[]){ 0x41 }, 1));
	ASSERT_EQ(getstatus(f).state, 4);
	s = getstatus(f);
	ASSERT_EQ(s.state, 5);
	ASSERT_TRUE(s.delay <= 1400000ull);
	ASSERT_TRUE(all_ff(flash, 1024 * 1024));
}

TEST(l4_programs_double_words_and_drops_a_ragged_tail)
{
	struct fake *f = board_l4(OPTS({ "timing.scale", "0" }));
	const uint8_t *flash = memory(f, "flash", NULL);
	uint8_t a[2048], rd[2048];
	struct st s;

	pattern(a, sizeof(a), 7);
	/* 1003 bytes: the ROM programs 125 double-words, 3 bytes are lost. */
	set_address(f, 0x08000000);
	s = write_block(f, 2, a, 1003);
	ASSERT_EQ(s.state, 5);
	ASSERT_EQ(s.status, 0);
	ASSERT_MEMEQ(flash, a, 1000);
	ASSERT_TRUE(all_ff(flash + 1000, 8));
	/* The same bytes padded to 1008 with 0xFF land in full. */
	memset(a + 1003, 0xff, 5);
	set_address(f, 0x08000800);
	ASSERT_EQ(write_block(f, 2, a, 1008).state, 5);
	ASSERT_MEMEQ(flash + 2048, a, 1003);
	/* A block at an address off the double-word: PGAERR, errPROG. */
	set_address(f, 0x08001004);
	s = write_block(f, 2, a, 16);
	ASSERT_EQ(s.state, 10);
	ASSERT_EQ(s.status, 0x06);
	ASSERT_TRUE(all_ff(flash + 4096, 2048));
	ASSERT_OK(ctrl(f, 0x21, CLRSTATUS, 0, 0, NULL, 0));
	/* Read back over UPLOAD, any length. */
	set_address(f, 0x08000800);
	ASSERT_OK(ctrl(f, 0x21, ABORT, 0, 0, NULL, 0));
	ASSERT_OK(upload(f, 2, rd, 1003));
	ASSERT_MEMEQ(rd, a, 1003);
}
