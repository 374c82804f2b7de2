/* Unit tests for src/msg.c: the malloc-free printf behind every message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/resource.h>

#include "msg.h"

/* Formats without the compiler's printf checks, for deliberately bad formats. */
static size_t fmt(char *buf, size_t cap, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	size_t n = ebb_vsnprintf(buf, cap, f, ap);
	va_end(ap);
	return n;
}

/* glibc's snprintf is the reference wherever the formats overlap. */
#define SAME(...)                                                                  \
	do {                                                                       \
		char got[256], want[256];                                          \
		size_t n = ebb_snprintf(got, sizeof(got), __VA_ARGS__);            \
		snprintf(want, sizeof(want), __VA_ARGS__);                         \
		assert_string_equal(got, want);                                    \
		assert_int_equal(n, strlen(want));                                 \
	} while (0)

static void test_strings(void **state)
{
	(void)state;
	SAME("plain text");
	SAME("%s", "");
	SAME("[%s]", "abc");
	SAME("[%8s]", "abc");
	SAME("[%2s]", "abcdef");
	SAME("%s and %s", "one", "two");
	SAME("%c%c%c", 'x', 'y', 'z');
	SAME("100%%");
	SAME("%%d");
	char buf[32];
	fmt(buf, sizeof(buf), "%s", (char *)NULL);
	assert_string_equal(buf, "(null)");
}

static void test_signed(void **state)
{
	(void)state;
	SAME("%d", 0);
	SAME("%d", 42);
	SAME("%d", -42);
	SAME("%i", -1);
	SAME("%d %d", INT_MAX, INT_MIN);
	SAME("%ld %ld", LONG_MAX, LONG_MIN);
	SAME("%lld %lld", LLONG_MAX, LLONG_MIN);
	SAME("%zd", (ssize_t)-123456789);
	SAME("[%6d]", 42);
	SAME("[%6d]", -42);
	SAME("[%06d]", 42);
	SAME("[%2d]", 12345);
}

/* Regression (was a bug in src/msg.c, put_num): with the '0' flag the padding goes before the
 * minus sign, "%05d" of -42 gives "00-42" instead of "-0042". No message in
 * src/ uses it today */
static void test_signed_zero_pad(void **state)
{
	(void)state;
	SAME("[%05d]", -42);
	SAME("[%08ld]", -1L);
}

static void test_unsigned(void **state)
{
	(void)state;
	SAME("%u", 0u);
	SAME("%u", UINT_MAX);
	SAME("%lu %llu", ULONG_MAX, ULLONG_MAX);
	SAME("%zu", SIZE_MAX);
	SAME("%zu", (size_t)4096);
	SAME("%x", 0xdeadbeefu);
	SAME("%lx", 0x123456789abcdefUL);
	SAME("%zx", (size_t)0xfff);
	SAME("[%08x]", 0xbeefu);
	SAME("[%4x]", 0xau);
	SAME("[%010zu]", (size_t)12345);
	/* An unsigned argument never prints a sign. */
	SAME("%u", (unsigned)-1);
}

static void test_pointer(void **state)
{
	(void)state;
	int local;
	static int global;
	/* Messages name addresses as glibc's %p does, so users can grep for them. */
	SAME("%p", (void *)&local);
	SAME("%p", (void *)&global);
	SAME("at %p!", (void *)0x1000);
	SAME("%p", (void *)UINTPTR_MAX);
}

static void test_truncation(void **state)
{
	(void)state;
	char buf[8];
	memset(buf, 'X', sizeof(buf));
	/* Returns what was written (not what would have been), always NUL-ended. */
	assert_int_equal(ebb_snprintf(buf, sizeof(buf), "%s", "0123456789"), 7);
	assert_string_equal(buf, "0123456");
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(ebb_snprintf(buf, 5, "%d", -123456), 4);
	assert_string_equal(buf, "-123");
	assert_int_equal(buf[5], 'X');
	assert_int_equal(ebb_snprintf(buf, 1, "abc"), 0);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], '1');
	/* cap 0: nothing written at all. */
	buf[0] = 'Q';
	assert_int_equal(ebb_snprintf(buf, 0, "abc"), 0);
	assert_int_equal(buf[0], 'Q');
	/* Exactly fitting. */
	assert_int_equal(ebb_snprintf(buf, sizeof(buf), "%p", (void *)0x12345), 7);
	assert_string_equal(buf, "0x12345");
}

static void test_odd_formats(void **state)
{
	(void)state;
	char buf[32];
	/* A trailing lone % or an unknown conversion must not read past the end. */
	fmt(buf, sizeof(buf), "abc%");
	assert_string_equal(buf, "abc");
	fmt(buf, sizeof(buf), "a%05");
	assert_string_equal(buf, "a");
	fmt(buf, sizeof(buf), "a%l");
	assert_string_equal(buf, "a");
	fmt(buf, sizeof(buf), "%q%d", 7);
	assert_string_equal(buf, "%q7");
}

/* ebb_msg and ebb_fatal write one prefixed line; fatal then aborts. */
static void test_msg_and_fatal(void **state)
{
	(void)state;
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(fd[1], 2);
		ebb_msg("hello %d", 5);
		ebb_fatal("bye %s", "now");
	}
	close(fd[1]);
	char out[256];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(out) - 1 && (r = read(fd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	close(fd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	assert_string_equal(out, "<ebbmalloc>: hello 5\n<ebbmalloc>: bye now\n");
}

/* A message longer than the line buffer is cut but still ends in '\n'. */
static void test_msg_long(void **state)
{
	(void)state;
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	char big[2000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	int saved = dup(2);
	dup2(fd[1], 2);
	ebb_msg("%s", big);
	dup2(saved, 2);
	close(saved);
	close(fd[1]);
	char out[4096];
	ssize_t n = read(fd[0], out, sizeof(out));
	close(fd[0]);
	assert_true(n > 100 && n <= 512);
	assert_memory_equal(out, "<ebbmalloc>: aaa", 16);
	assert_int_equal(out[n - 1], '\n');
	assert_null(memchr(out, '\0', (size_t)n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_signed),
		cmocka_unit_test(test_signed_zero_pad),
		cmocka_unit_test(test_unsigned),
		cmocka_unit_test(test_pointer),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_odd_formats),
		cmocka_unit_test(test_msg_and_fatal),
		cmocka_unit_test(test_msg_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
