/* Tests for common/err.c: the message buffer every layer reports through. */
#include "common/err.h"
#include "tests/lib/test.h"

#include <errno.h>

TEST(err_set_returns_code_and_formats)
{
	struct err e = { 0 };

	ASSERT_EQ(err_set(&e, -EPROTO, "erase 0x%08x: state %s", 0x08004000u, "dfuERROR"), -EPROTO);
	ASSERT_EQ(e.code, -EPROTO);
	ASSERT_STREQ(e.msg, "erase 0x08004000: state dfuERROR");
}

TEST(err_prefix_adds_context)
{
	struct err e = { 0 };

	err_set(&e, -ENODEV, "device gone");
	ASSERT_EQ(err_prefix(&e, -ENODEV, "stage %d '%s'", 2, "flash"), -ENODEV);
	ASSERT_STREQ(e.msg, "stage 2 'flash': device gone");
}

TEST(err_null_is_allowed)
{
	ASSERT_EQ(err_set(NULL, -EIO, "x"), -EIO);
}

TEST(err_prefix_null_keeps_failure)
{
	/* "return err_prefix(e, r, ...)" must stay a failure when the caller passed no err. */
	ASSERT_EQ(err_prefix(NULL, -EIO, "stage %d", 1), -EIO);
}

TEST(err_prefix_keeps_first_code)
{
	struct err e = { 0 };

	err_set(&e, -ENODEV, "device gone");
	ASSERT_EQ(err_prefix(&e, -EIO, "flash"), -EIO);
	ASSERT_EQ(e.code, -ENODEV);
	ASSERT_STREQ(e.msg, "flash: device gone");
}

TEST(err_prefix_on_empty_err_records_code)
{
	struct err e = { 0 };

	ASSERT_EQ(err_prefix(&e, -ETIMEDOUT, "GETSTATUS"), -ETIMEDOUT);
	ASSERT_EQ(e.code, -ETIMEDOUT);
	ASSERT_STREQ(e.msg, "GETSTATUS");
}

TEST(err_set_first_message_wins)
{
	struct err e = { 0 };

	err_set(&e, -ENODEV, "device gone");
	ASSERT_EQ(err_set(&e, -EPROTO, "erase 0x%08x", 0x08004000u), -EPROTO);
	ASSERT_EQ(e.code, -ENODEV);
	ASSERT_STREQ(e.msg, "device gone");
}

TEST(err_replace_overwrites)
{
	struct err e = { 0 };

	err_set(&e, -ENODEV, "device gone");
	ASSERT_EQ(err_replace(&e, -EPROTO, "leave: stayed in %s", "dfuIDLE"), -EPROTO);
	ASSERT_EQ(e.code, -EPROTO);
	ASSERT_STREQ(e.msg, "leave: stayed in dfuIDLE");
}

TEST(err_set_after_clear_records_again)
{
	struct err e = { 0 };

	err_set(&e, -ENODEV, "device gone");
	err_clear(&e);
	err_set(&e, -EIO, "retry failed");
	ASSERT_EQ(e.code, -EIO);
	ASSERT_STREQ(e.msg, "retry failed");
}

TEST_MAIN()
