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
	ASSERT_EQ(err_prefix(&e, "stage %d '%s'", 2, "flash"), -ENODEV);
	ASSERT_STREQ(e.msg, "stage 2 'flash': device gone");
}

TEST(err_null_is_allowed)
{
	ASSERT_EQ(err_set(NULL, -EIO, "x"), -EIO);
}

TEST_MAIN()
