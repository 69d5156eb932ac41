/*
 * Tests of the i.MX board model's interrupt IN queue, driven directly
 * through board.h with the fake host (fake-host.h).
 */
#include "tests/lib/test.h"
#include "tests/sim/boards/fake-host.h"

#include <stdbool.h>

#define SDP_ERROR_STATUS 0x0505

static struct fake *imx_board(const char *command_us)
{
	static struct fake f;
	const struct sim_opt opts[] = {
		{ "timing.command_us", command_us },
	};
	char err[200];
	int r;

	sim_board_free(f.b);
	r = fake_new(&f, "imx6q-sdp", opts, 1, err, sizeof(err));
	if (r < 0)
		TEST_FAIL("sim_board_new: %d: %s", r, err);
	return &f;
}

/* An SDP command as HID SET_REPORT(output, report 1) on EP0. */
static void sdp_command(struct fake *f, uint16_t cmd)
{
	uint8_t rep[17] = { 1, (uint8_t)(cmd >> 8), (uint8_t)cmd };
	struct sim_xfer x = {
		.type = SIM_XFER_CONTROL,
		.setup = { 0x21, 0x09, 0x0201, 0, sizeof(rep) },
		.data = rep,
		.len = sizeof(rep),
	};

	ASSERT_EQ(sim_board_submit(f->b, &x), SIM_XFER_DONE);
	ASSERT_EQ(x.status, 0);
}

static struct sim_xfer int_in(uint8_t *buf, size_t len)
{
	return (struct sim_xfer){
		.type = SIM_XFER_INTERRUPT,
		.ep = 0x81,
		.data = buf,
		.len = len,
	};
}

/*
 * A host that gives up on its IN transfer before the reply is ready (a
 * sliced wait unlinks it every slice) must find the reply on its next
 * transfer: on hardware it waits in the endpoint buffer.  The model used to
 * hand the reply to the first transfer with a long completion delay, and
 * the unlink lost it.
 */
TEST(reply_not_ready_survives_a_cancelled_in_transfer)
{
	struct fake *f = imx_board("500000"); /* the ROM answers after 0.5 s */
	uint8_t a[65], b[65];
	struct sim_xfer x = int_in(a, sizeof(a)), y = int_in(b, sizeof(b));

	sdp_command(f, SDP_ERROR_STATUS);
	ASSERT_EQ(sim_board_submit(f->b, &x), SIM_XFER_PENDING);
	fake_advance(f, 250000000ull);
	ASSERT_EQ(f->completed, 0);
	sim_board_cancel(f->b, &x);

	ASSERT_EQ(sim_board_submit(f->b, &y), SIM_XFER_PENDING);
	fake_advance(f, 1000000000ull);
	ASSERT_EQ(f->completed, 1);
	ASSERT_EQ(y.status, 0);
	ASSERT_EQ(y.actual, 5u);
	ASSERT_EQ(b[0], 3); /* report 3 (HAB mode) comes first, not lost */
}

TEST(ready_reply_is_handed_out_at_once)
{
	struct fake *f = imx_board("1");
	uint8_t a[65];
	struct sim_xfer x = int_in(a, sizeof(a));

	sdp_command(f, SDP_ERROR_STATUS);
	fake_advance(f, 1000000ull);
	ASSERT_EQ(sim_board_submit(f->b, &x), SIM_XFER_DONE);
	ASSERT_EQ(a[0], 3);
}

TEST(parked_transfer_completes_when_the_reply_is_ready)
{
	struct fake *f = imx_board("500000");
	uint8_t a[65];
	struct sim_xfer x = int_in(a, sizeof(a));

	ASSERT_EQ(sim_board_submit(f->b, &x), SIM_XFER_PENDING);
	sdp_command(f, SDP_ERROR_STATUS);
	fake_advance(f, 400000000ull);
	ASSERT_EQ(f->completed, 0);
	fake_advance(f, 200000000ull);
	ASSERT_EQ(f->completed, 1);
	ASSERT_EQ(a[0], 3);
}

TEST_MAIN()
