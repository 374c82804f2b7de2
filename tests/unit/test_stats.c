/* Unit tests for src/stats.c: the statistics reports and the glibc extras
 * built on them follow what the program holds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ebbmalloc.h"

#define MIB ((size_t)1 << 20)

static char out[4096];

/* What ebb_stats_print_fd writes, through a pipe. */
static const char *report(bool json)
{
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	ebb_stats_print_fd(fd[1], json);
	close(fd[1]);
	ssize_t n = read(fd[0], out, sizeof(out) - 1);
	close(fd[0]);
	assert_true(n > 0);
	out[n] = '\0';
	return out;
}

static size_t field(const char *json, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *at = strstr(json, pat);
	if (!at)
		fail_msg("no %s in %s", key, json);
	return strtoull(at + strlen(pat), NULL, 10);
}

static void test_json(void **state)
{
	(void)state;
	const char *j = report(true);
	assert_int_equal(j[0], '{');
	assert_string_equal(j + strlen(j) - 2, "}\n");
	assert_non_null(strstr(j, "\"version\":\"" EBBMALLOC_VERSION "\""));
	assert_int_equal(field(j, "arenas"), ebb_arena_count());
	assert_int_equal(field(j, "threads"), ebb_thread_count());
	size_t huge0 = field(j, "huge"), blocks0 = field(j, "huge_blocks"), alloc0 = field(j, "allocated");

	void *h = ebb_malloc(3 * MIB + 1), *l = ebb_malloc(100000);
	void *s[200];
	for (int i = 0; i < 200; i++)
		s[i] = ebb_malloc(1000);
	j = report(true);
	assert_int_equal(field(j, "huge"), huge0 + 3 * MIB + 4096);
	assert_int_equal(field(j, "huge_blocks"), blocks0 + 1);
	/* Live bytes are exact: what the program holds, caches excluded. */
	assert_int_equal(field(j, "allocated"), alloc0 + 3 * MIB + 4096 + 25 * 4096 + 200 * 1024);
	assert_true(field(j, "active") >= field(j, "allocated"));
	assert_int_equal(field(j, "resident"), field(j, "active") + field(j, "dirty") + field(j, "metadata"));
	assert_true(field(j, "mapped") >= field(j, "regions") * (4 * MIB) + field(j, "huge"));
	assert_true(field(j, "metadata") > 0);

	struct mallinfo2 m = ebb_mallinfo2();
	ebb_stats_t st;
	ebb_stats_get(&st);
	assert_int_equal(m.hblks, blocks0 + 1);
	assert_int_equal(m.hblkhd, huge0 + 3 * MIB + 4096);
	assert_int_equal(m.uordblks, st.allocated - st.huge);
	assert_int_equal(m.arena, st.mapped - st.huge);
	assert_int_equal(m.fordblks, m.arena - m.uordblks);
	struct mallinfo m1 = ebb_mallinfo();
	assert_int_equal((size_t)m1.hblks, m.hblks);
	assert_int_equal((size_t)m1.uordblks, m.uordblks);

	ebb_free(h);
	ebb_free(l);
	for (int i = 0; i < 200; i++)
		ebb_free(s[i]);
	j = report(true);
	assert_int_equal(field(j, "huge"), huge0);
	assert_int_equal(field(j, "allocated"), alloc0);
	/* The freed large block's pages wait, dirty, for the decay. */
	assert_true(field(j, "dirty") >= 25 * 4096);
	ebb_malloc_trim(0);
	j = report(true);
	assert_int_equal(field(j, "dirty"), 0);
	assert_int_equal(field(j, "cached"), 0);	/* trim flushed this thread's cache */
}

/* Every line of the text reports is prefixed and newline-terminated. */
static void assert_lines(const char *t, int want)
{
	int n = 0;
	for (; *t; n++) {
		assert_int_equal(strncmp(t, "<ebbmalloc>: ", 13), 0);
		const char *nl = strchr(t, '\n');
		assert_non_null(nl);
		t = nl + 1;
	}
	assert_int_equal(n, want);
}

static void test_text(void **state)
{
	(void)state;
	const char *t = report(false);
	assert_lines(t, 5);
	assert_non_null(strstr(t, "version " EBBMALLOC_VERSION));
	/* malloc_stats() writes on stderr. */
	int fd[2], saved = dup(2);
	assert_int_equal(pipe(fd), 0);
	dup2(fd[1], 2);
	ebb_malloc_stats();
	dup2(saved, 2);
	close(saved);
	close(fd[1]);
	ssize_t n = read(fd[0], out, sizeof(out) - 1);
	close(fd[0]);
	assert_true(n > 0);
	out[n] = '\0';
	assert_lines(out, 13);	/* glibc's 8 lines, then ours */
}

static void test_trim(void **state)
{
	(void)state;
	void *p[300];
	for (int i = 0; i < 300; i++)
		p[i] = ebb_malloc(20000);
	for (int i = 0; i < 300; i++)
		ebb_free(p[i]);
	assert_int_equal(ebb_malloc_trim(0), 1);	/* dirty pages were released */
	assert_int_equal(ebb_malloc_trim(0), 0);	/* nothing left to release */
	assert_int_equal(ebb_mallopt(M_ARENA_MAX, 1), 1);
	assert_true(ebb_is_active());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_trim),
	};
	ebb_free(ebb_malloc(1));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
