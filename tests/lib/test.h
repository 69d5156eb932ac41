/*
 * Minimal test harness shared by every C test program.  Each TEST(name)
 * registers a case; main() comes from TEST_MAIN().  Results are printed one
 * line per case ("ok - name" / "not ok - name"), which tests/run-tests.sh
 * counts into the final "N passed, N failed" line.  TESTS=substr runs only the
 * cases whose name contains substr.  Assertions print the expression, both
 * values and file:line, then end the case.
 */
#ifndef FLASHD_TESTS_TEST_H
#define FLASHD_TESTS_TEST_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST_MAX 256
struct test_registry {
	struct test_case cases[TEST_MAX];
	int n;
	jmp_buf fail_jmp;
	int failed_current;
};

/* One registry per test program; only test programs include this header. */
static struct test_registry test_reg;

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	__attribute__((constructor)) static void test_register_##name(void)                        \
	{                                                                                          \
		if (test_reg.n < TEST_MAX)                                                         \
			test_reg.cases[test_reg.n++] = (struct test_case){ #name, test_##name };   \
	}                                                                                          \
	static void test_##name(void)

#define TEST_FAIL(...)                                                                             \
	do {                                                                                       \
		fprintf(stdout, "#   %s:%d: ", __FILE__, __LINE__);                                \
		fprintf(stdout, __VA_ARGS__);                                                      \
		fputc('\n', stdout);                                                               \
		test_reg.failed_current = 1;                                                       \
		longjmp(test_reg.fail_jmp, 1);                                                     \
	} while (0)

#define ASSERT_TRUE(expr)                                                                          \
	do {                                                                                       \
		if (!(expr))                                                                       \
			TEST_FAIL("assertion failed: %s", #expr);                                  \
	} while (0)

#define ASSERT_EQ(a, b)                                                                            \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b)                                                                      \
			TEST_FAIL("%s == %s: %lld != %lld (0x%llx != 0x%llx)", #a, #b, _a, _b,     \
				  (unsigned long long)_a, (unsigned long long)_b);                 \
	} while (0)

#define ASSERT_OK(expr)                                                                            \
	do {                                                                                       \
		long long _r = (long long)(expr);                                                  \
		if (_r < 0)                                                                        \
			TEST_FAIL("%s failed: %lld (%s)", #expr, _r, strerror((int)-_r));          \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                         \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                             \
			TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)",        \
				  _b ? _b : "(null)");                                             \
	} while (0)

#define ASSERT_CONTAINS(hay, needle)                                                               \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (!_h || !strstr(_h, _n))                                                        \
			TEST_FAIL("%s does not contain \"%s\": \"%s\"", #hay, _n,                  \
				  _h ? _h : "(null)");                                             \
	} while (0)

#define ASSERT_MEMEQ(a, b, n)                                                                      \
	do {                                                                                       \
		const unsigned char *_a = (const void *)(a), *_b = (const void *)(b);              \
		size_t _n = (n);                                                                   \
		for (size_t _i = 0; _i < _n; _i++)                                                 \
			if (_a[_i] != _b[_i])                                                      \
				TEST_FAIL("%s != %s at byte %zu: 0x%02x != 0x%02x", #a, #b, _i,    \
					  _a[_i], _b[_i]);                                         \
	} while (0)

/* setjmp lives in its own frame so the caller's locals are not clobbered. */
static inline int test_run_one(struct test_case *tc)
{
	test_reg.failed_current = 0;
	if (setjmp(test_reg.fail_jmp) == 0)
		tc->fn();
	printf("%s - %s\n", test_reg.failed_current ? "not ok" : "ok", tc->name);
	return test_reg.failed_current;
}

#define TEST_MAIN()                                                                                \
	int main(void)                                                                             \
	{                                                                                          \
		const char *only = getenv("TESTS");                                                \
		int failed = 0;                                                                    \
		setvbuf(stdout, NULL, _IOLBF, 0);                                                  \
		for (int i = 0; i < test_reg.n; i++) {                                             \
			if (only && *only && !strstr(test_reg.cases[i].name, only))                \
				continue;                                                          \
			failed += test_run_one(&test_reg.cases[i]);                                \
		}                                                                                  \
		return failed ? 1 : 0;                                                             \
	}

#endif
