/*
 * Tests for the pure parts of protocols/dfu.c: names, status errnos, functional
 * descriptor, learning whether a device holds polls.
 */
#include "protocols/dfu.h"

#include <errno.h>

#include "tests/lib/test.h"

TEST(dfu_state_and_status_names)
{
	ASSERT_STREQ(dfu_state_name(DFU_STATE_DNBUSY), "dfuDNBUSY");
	ASSERT_STREQ(dfu_state_name(DFU_STATE_ERROR), "dfuERROR");
	ASSERT_STREQ(dfu_state_name(DFU_STATE_MANIFEST_WAIT_RESET), "dfuMANIFEST-WAIT-RESET");
	ASSERT_STREQ(dfu_state_name(11), "unknown");
	ASSERT_STREQ(dfu_state_name(-1), "unknown");
	ASSERT_STREQ(dfu_status_name(DFU_STATUS_ERR_TARGET), "errTARGET");
	ASSERT_STREQ(dfu_status_name(DFU_STATUS_ERR_STALLEDPKT), "errSTALLEDPKT");
	ASSERT_STREQ(dfu_status_name(0x10), "unknown");
}

TEST(dfu_status_errno_mapping)
{
	ASSERT_EQ(dfu_status_errno(DFU_STATUS_OK), 0);
	ASSERT_EQ(dfu_status_errno(DFU_STATUS_ERR_VENDOR), -EACCES);
	ASSERT_EQ(dfu_status_errno(DFU_STATUS_ERR_PROG), -EIO);
	ASSERT_EQ(dfu_status_errno(DFU_STATUS_ERR_VERIFY), -EIO);
	ASSERT_EQ(dfu_status_errno(DFU_STATUS_ERR_TARGET), -EPROTO);
}

TEST(dfu_func_desc_stm32_rom)
{
	/* Interface descriptor extra bytes of the F4 ROM: 0x0B, 255 ms, 2048, DfuSe (§1.2). */
	const uint8_t extra[] = { 9, 0x21, 0x0b, 0xff, 0x00, 0x00, 0x08, 0x1a, 0x01 };
	struct dfu_func_desc d;
	struct err e = { 0 };

	ASSERT_OK(dfu_func_desc_parse(extra, sizeof(extra), &d, &e));
	ASSERT_EQ(d.attributes, 0x0b);
	ASSERT_EQ(d.detach_timeout_ms, 255);
	ASSERT_EQ(d.transfer_size, 2048);
	ASSERT_EQ(d.dfu_version, DFU_VERSION_DFUSE);
}

TEST(dfu_func_desc_after_other_descriptor_and_dfu10)
{
	const uint8_t extra[] = { 4, 0x24, 1, 2, 7, 0x21, 0x03, 0x10, 0x00, 0x00, 0x04 };
	struct dfu_func_desc d;
	struct err e = { 0 };

	ASSERT_OK(dfu_func_desc_parse(extra, sizeof(extra), &d, &e));
	ASSERT_EQ(d.length, 7);
	ASSERT_EQ(d.transfer_size, 1024);
	ASSERT_EQ(d.dfu_version, 0x0100);
}

TEST(dfu_func_desc_missing_or_malformed)
{
	const uint8_t none[] = { 4, 0x24, 1, 2 };
	const uint8_t overrun[] = { 9, 0x21, 0x0b };
	const uint8_t short5[] = { 5, 0x21, 0x0b, 0, 0 };
	struct dfu_func_desc d;
	struct err e = { 0 };

	ASSERT_EQ(dfu_func_desc_parse(none, sizeof(none), &d, &e), -ENOENT);
	err_clear(&e);
	ASSERT_EQ(dfu_func_desc_parse(NULL, 0, &d, &e), -ENOENT);
	err_clear(&e);
	ASSERT_EQ(dfu_func_desc_parse(overrun, sizeof(overrun), &d, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "descriptor at extra offset 0: length 9 overruns 3 bytes");
	err_clear(&e);
	ASSERT_EQ(dfu_func_desc_parse(short5, sizeof(short5), &d, &e), -EBADMSG);
	ASSERT_STREQ(e.msg, "DFU functional descriptor: length 5 < 7");
}

/* Found in the interface after none in the configuration: success leaves no
 * error behind, so the next real failure is reported as itself. */
TEST(dfu_func_desc_find_in_interface_leaves_no_error)
{
	const uint8_t none[] = { 4, 0x24, 1, 2 };
	const uint8_t func[] = { 9, 0x21, 0x0b, 0xff, 0x00, 0x00, 0x08, 0x1a, 0x01 };
	struct libusb_interface_descriptor alt = { .bInterfaceNumber = 0,
						   .extra = func,
						   .extra_length = sizeof(func) };
	struct libusb_interface it = { .altsetting = &alt, .num_altsetting = 1 };
	struct libusb_config_descriptor cfg = {
		.bNumInterfaces = 1, .interface = &it, .extra = none, .extra_length = sizeof(none)
	};
	struct dfu_func_desc d;
	struct err e = { 0 };

	ASSERT_OK(dfu_func_desc_find(&cfg, 0, &d, &e));
	ASSERT_EQ(d.transfer_size, 2048);
	ASSERT_EQ(e.code, 0);
	ASSERT_STREQ(e.msg, "");
}

/* One timed poll sent while busy: state is the reply's bState. */
static enum dfu_hold learn(enum dfu_hold h, uint8_t state, uint64_t took_us)
{
	struct dfu_status st = { .status = DFU_STATUS_OK, .poll_timeout_ms = 100, .state = state };

	return dfu_hold_learn(h, 0, &st, took_us);
}

TEST(dfu_hold_probe_outcomes)
{
	struct dfu_status unread = { .state = DFU_STATE_DNLOAD_IDLE };

	/* F4: the probe is held until the 8.3 ms write is done. */
	ASSERT_EQ(learn(DFU_HOLD_UNKNOWN, DFU_STATE_DNLOAD_IDLE, 7000), DFU_HOLD_HOLDS);
	ASSERT_EQ(learn(DFU_HOLD_UNKNOWN, DFU_STATE_DNLOAD_IDLE, DFU_HOLD_MIN_US), DFU_HOLD_HOLDS);
	/* A held reply may carry the operation's error: still held. */
	ASSERT_EQ(learn(DFU_HOLD_UNKNOWN, DFU_STATE_ERROR, 7000), DFU_HOLD_HOLDS);
	/* Busy replies, quick or slow: it answers while it works (DNLOAD-SYNC is busy too). */
	ASSERT_EQ(learn(DFU_HOLD_UNKNOWN, DFU_STATE_DNBUSY, 1100), DFU_HOLD_ANSWERS);
	ASSERT_EQ(learn(DFU_HOLD_UNKNOWN, DFU_STATE_DNBUSY, 5000), DFU_HOLD_ANSWERS);
	ASSERT_EQ(learn(DFU_HOLD_UNKNOWN, DFU_STATE_DNLOAD_SYNC, 900), DFU_HOLD_ANSWERS);
	/* L43x STALLs the probe; *st is not read then. */
	ASSERT_EQ(dfu_hold_learn(DFU_HOLD_UNKNOWN, -EPIPE, &unread, 7000), DFU_HOLD_ANSWERS);
	/* Nothing learned: done before the probe, a transfer error. */
	ASSERT_EQ(learn(DFU_HOLD_UNKNOWN, DFU_STATE_DNLOAD_IDLE, DFU_HOLD_MIN_US - 1),
		  DFU_HOLD_UNKNOWN);
	ASSERT_EQ(dfu_hold_learn(DFU_HOLD_UNKNOWN, -ETIMEDOUT, &unread, 9000), DFU_HOLD_UNKNOWN);
}

TEST(dfu_hold_unlearned_only_towards_answers)
{
	struct dfu_status unread = { .state = DFU_STATE_DNLOAD_IDLE };

	/* Polling at once must not spin: any busy reply or a STALL ends "holds". */
	ASSERT_EQ(learn(DFU_HOLD_HOLDS, DFU_STATE_DNBUSY, 800), DFU_HOLD_ANSWERS);
	ASSERT_EQ(learn(DFU_HOLD_HOLDS, DFU_STATE_DNBUSY, 30000), DFU_HOLD_ANSWERS);
	ASSERT_EQ(dfu_hold_learn(DFU_HOLD_HOLDS, -EPIPE, &unread, 800), DFU_HOLD_ANSWERS);
	ASSERT_EQ(learn(DFU_HOLD_HOLDS, DFU_STATE_DNLOAD_IDLE, 500), DFU_HOLD_HOLDS);
	ASSERT_EQ(dfu_hold_learn(DFU_HOLD_HOLDS, -ETIMEDOUT, &unread, 9000), DFU_HOLD_HOLDS);
	/* "answers" is final: today's clamped wait is always correct. */
	ASSERT_EQ(learn(DFU_HOLD_ANSWERS, DFU_STATE_DNLOAD_IDLE, 7000), DFU_HOLD_ANSWERS);
	ASSERT_STREQ(dfu_hold_name(DFU_HOLD_UNKNOWN), "unknown");
	ASSERT_STREQ(dfu_hold_name(DFU_HOLD_HOLDS), "holds");
	ASSERT_STREQ(dfu_hold_name(DFU_HOLD_ANSWERS), "answers");
}

TEST_MAIN()
