/*
 * Tests of the rig's shared-bus model (tests/sim/hubbw.c) in model time: a
 * virtual clock, boards that submit their next transfer when the previous
 * one completes, and the delay the model gives each transfer.  No rig, no
 * wall clock: the makespans are the model's own.
 */
#include "tests/lib/test.h"
#include "tests/sim/boards/fake-host.h"
#include "tests/sim/hubbw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define XFERS 200
#define DFU_BLOCK 2048
/* What one full-speed board alone takes per block on the wire: the TT's own
 * time for it (2048 B at 1.216 MB/s), so one board alone is never slowed. */
#define FS_BLOCK_NS 1684211ull
#define HS_MIB_NS (1048576ull * 1000000000ull / 53248000ull + 1)

static struct hubbw *load(const char *json, char *err, size_t errlen, int *rc)
{
	static char *hubs[] = { "1-1", "1-3", "1-3.4" };
	char path[] = "/tmp/test-hubbw.XXXXXX";
	struct hubbw *h = NULL;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs(json, f);
	fclose(f);
	*rc = hubbw_load(path, hubs, 3, &h, err, errlen);
	unlink(path);
	return h;
}

static struct hubbw *hub(const char *speed, const char *tt)
{
	char json[256], err[256];
	struct hubbw *h;
	int rc;

	snprintf(
		json, sizeof(json),
		"{\"hubs\":[\"1-3\"],\"hub_bandwidth\":{\"1-3\":{\"speed\":\"%s\",\"tt\":\"%s\"}}}",
		speed, tt);
	h = load(json, err, sizeof(err), &rc);
	if (rc < 0 || !h)
		TEST_FAIL("hubbw_load: %d %s", rc, err);
	return h;
}

/* n boards on 1-3.1 .. 1-3.n, each doing XFERS transfers back to back;
 * returns the makespan in model ns. */
static uint64_t run(struct hubbw *h, unsigned n, enum sim_speed speed, size_t bytes,
		    uint64_t board_ns, unsigned xfers)
{
	uint64_t t[8] = { 0 }, end = 0;
	unsigned left[8];
	char port[8][16];

	for (unsigned i = 0; i < n; i++) {
		left[i] = xfers;
		snprintf(port[i], sizeof(port[i]), "1-3.%u", i + 1);
	}
	for (;;) {
		int k = -1;

		for (unsigned i = 0; i < n; i++)
			if (left[i] && (k < 0 || t[i] < t[k]))
				k = (int)i;
		if (k < 0)
			break;
		t[k] += hubbw_delay(h, port[k], speed, bytes, 1.0, t[k], board_ns);
		left[k]--;
	}
	for (unsigned i = 0; i < n; i++)
		end = t[i] > end ? t[i] : end;
	return end;
}

static double ratio(const char *tt, unsigned n)
{
	struct hubbw *h1 = hub("high", tt), *h2 = hub("high", tt);
	uint64_t one = run(h1, 1, SIM_SPEED_FULL, DFU_BLOCK, FS_BLOCK_NS, XFERS);
	uint64_t two = run(h2, n, SIM_SPEED_FULL, DFU_BLOCK, FS_BLOCK_NS, XFERS);

	hubbw_free(h1);
	hubbw_free(h2);
	return (double)two / (double)one;
}

TEST(two_full_speed_boards_behind_single_tt_take_twice_as_long)
{
	double r = ratio("single", 2);

	if (r < 1.8 || r > 2.2)
		TEST_FAIL("makespan ratio 2 boards / 1 board = %.3f, want about 2", r);
}

TEST(eight_full_speed_boards_behind_single_tt_take_eight_times_as_long)
{
	double r = ratio("single", 8);

	if (r < 7.2 || r > 8.8)
		TEST_FAIL("makespan ratio 8 boards / 1 board = %.3f, want about 8", r);
}

TEST(multi_tt_gives_each_port_its_own_translator)
{
	double r = ratio("multi", 8);

	if (r < 0.95 || r > 1.1)
		TEST_FAIL("makespan ratio 8 boards / 1 board = %.3f, want about 1", r);
}

TEST(high_speed_boards_share_the_hub_upstream)
{
	struct hubbw *h = hub("high", "single");
	uint64_t span = run(h, 8, SIM_SPEED_HIGH, 1048576, HS_MIB_NS, 16);
	double mbps = 8.0 * 16 * 1048576 / ((double)span / 1e9) / 1e6;

	hubbw_free(h);
	if (mbps < 0.95 * 53.248 || mbps > 53.25)
		TEST_FAIL("8 boards through one high-speed hub: %.2f MB/s, want 53.248", mbps);
}

TEST(boards_on_other_ports_and_without_config_are_not_slowed)
{
	struct hubbw *h = hub("high", "single");

	/* 1-1.2 is behind an unmodelled hub: the board's own delay. */
	ASSERT_EQ(hubbw_delay(h, "1-1.2", SIM_SPEED_FULL, 1 << 20, 1.0, 0, 5), 5);
	ASSERT_EQ(hubbw_delay(NULL, "1-3.1", SIM_SPEED_FULL, 1 << 20, 1.0, 0, 5), 5);
	hubbw_free(h);
}

TEST(time_scale_scales_the_link_time)
{
	struct hubbw *h = hub("high", "single");
	uint64_t d1, d2;

	/* 1216 bytes at 1.216 MB/s: 1 ms of TT time, 1 us at scale 0.001. */
	d1 = hubbw_delay(h, "1-3.1", SIM_SPEED_FULL, 1216, 0.001, 1000000, 0);
	d2 = hubbw_delay(h, "1-3.2", SIM_SPEED_FULL, 1216, 0.001, 1000000, 0);
	hubbw_free(h);
	ASSERT_EQ(d1, 1000);
	ASSERT_EQ(d2, 2000);
}

TEST(config_errors_name_the_hub_and_key)
{
	char err[256];
	int rc;

	ASSERT_TRUE(!load("{\"boards\":[]}", err, sizeof(err), &rc));
	ASSERT_EQ(rc, 0);
	load("{\"hub_bandwidth\":{\"1-5\":{\"speed\":\"high\"}}}", err, sizeof(err), &rc);
	ASSERT_EQ(rc, -EINVAL);
	ASSERT_CONTAINS(err, "hub_bandwidth.1-5: not a hub of the scenario");
	load("{\"hub_bandwidth\":{\"1-3\":{\"speed\":\"high\",\"tt\":\"dual\"}}}", err, sizeof(err),
	     &rc);
	ASSERT_EQ(rc, -EINVAL);
	ASSERT_CONTAINS(err, "hub_bandwidth.1-3.tt: not \"single\" or \"multi\"");
	load("{\"hub_bandwidth\":{\"1-3\":{\"speed\":\"super\"}}}", err, sizeof(err), &rc);
	ASSERT_CONTAINS(err, "hub_bandwidth.1-3.speed");
}

/* A board model on a fake host (board time 1.0: delays are device ns). */
static struct fake *model(const char *type, const struct sim_opt *opts, size_t n)
{
	static struct fake f;
	char err[200];
	int r;

	sim_board_free(f.b);
	r = fake_new(&f, type, opts, n, err, sizeof(err));
	if (r < 0)
		TEST_FAIL("sim_board_new %s: %d: %s", type, r, err);
	return &f;
}

/* Bulk OUT on the fastboot gadget's EP1; returns the board's delay. */
static uint64_t fb_out(struct fake *f, const void *data, size_t len)
{
	struct sim_xfer x = { .type = SIM_XFER_BULK, .ep = 0x01, .data = (void *)data, .len = len };

	ASSERT_EQ(sim_board_submit(f->b, &x), SIM_XFER_DONE);
	ASSERT_EQ(x.status, 0);
	ASSERT_EQ(x.actual, len);
	return x.delay_ns;
}

/*
 * One high-speed board alone behind a modelled hub downloads 16 MiB in
 * 1 MiB URBs (what flashd submits with BULK_SCATTER_GATHER) in about
 * 16 MiB / 53.248 MB/s: high-speed bulk costs a microframe per URB, not the
 * 1 ms frame of a full-speed control transfer (boards/README.md, timing).
 */
TEST(high_speed_bulk_download_runs_at_the_bulk_rate)
{
	static const struct sim_opt opts[] = { { "start", "fastboot" } };
	static uint8_t mib[1 << 20];
	struct fake *f = model("imx6q-sdp", opts, 1);
	struct hubbw *h = hub("high", "single");
	const char cmd[] = "download:01000000";
	uint64_t t = 0, want = (16ull << 20) * 1000000000ull / 53248000ull;

	fb_out(f, cmd, sizeof(cmd) - 1);
	for (int i = 0; i < 16; i++)
		t += hubbw_delay(h, "1-3.1", SIM_SPEED_HIGH, sizeof(mib), 1.0, t,
				 fb_out(f, mib, sizeof(mib)));
	hubbw_free(h);
	if (t < want || t > want + want / 50)
		TEST_FAIL("16 MiB in 1 MiB URBs: %.2f ms, want %.2f ms (+2 %%)", t / 1e6,
			  want / 1e6);
}

/* GET_DESCRIPTOR(device) on EP0: the board's bus time for it. */
static uint64_t get_device_descriptor(struct fake *f)
{
	uint8_t buf[18];
	struct sim_xfer x = {
		.type = SIM_XFER_CONTROL,
		.setup = { 0x80, 0x06, 0x0100, 0, sizeof(buf) },
		.data = buf,
		.len = sizeof(buf),
	};

	ASSERT_EQ(sim_board_submit(f->b, &x), SIM_XFER_DONE);
	ASSERT_EQ(x.status, 0);
	return x.delay_ns;
}

/*
 * Control transfers keep the 1 ms per-transfer overhead plus their packets:
 * (8 setup + 18 data + 2 x 13 overhead bytes) x 8 bits, + 1/12 stuffing.
 */
TEST(control_transfers_cost_what_they_did)
{
	/* full speed, 83.333 ns/bit: 1 ms + 37.555 us */
	ASSERT_EQ(get_device_descriptor(model("stm32f405-dfuse", NULL, 0)), 1037555);
	/* the i.MX ROM's EP0 at high speed, 2.083 ns/bit: 1 ms + 0.938 us */
	ASSERT_EQ(get_device_descriptor(model("imx6q-sdp", NULL, 0)), 1000938);
}

TEST_MAIN()
