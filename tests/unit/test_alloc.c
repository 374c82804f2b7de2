/* Unit tests for the ebb_* API in src/alloc.c: sizes, alignment, zeroing,
 * realloc across the small/large/huge kinds, and the error returns. Misuse
 * (bad frees) and out-of-memory are in test_alloc_errors.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ebbmalloc.h"
#include "common.h"
#include "sizeclass.h"

#define MIB ((size_t)1 << 20)

/* Sizes of every kind: each small step near the start, then a spread. */
static size_t test_size(int i)
{
	if (i < 2100)
		return (size_t)i;
	static const size_t big[] = { 4095, 4096, 4097, 8191, 32767, 32768, 32769, 40000, 65536,
				      100000, 500000, MIB - 4096, MIB - 1, MIB, MIB + 1, 2 * MIB,
				      3 * MIB + 5, 16 * MIB };
	return i - 2100 < (int)(sizeof(big) / sizeof(big[0])) ? big[i - 2100] : 0;
}
#define NSIZES (2100 + 18)

static void fill(void *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)(i * 31 + seed);
}

static void check_fill(const void *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i] != (unsigned char)(i * 31 + seed))
			fail_msg("byte %zu of %zu changed", i, n);
}

static void test_malloc0(void **state)
{
	(void)state;
	void *p[50];
	for (int i = 0; i < 50; i++) {
		p[i] = ebb_malloc(0);
		assert_non_null(p[i]);
		assert_true(ebb_malloc_usable_size(p[i]) >= 1);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(p[i], p[j]);
	}
	for (int i = 0; i < 50; i++)
		ebb_free(p[i]);
}

static void test_sizes(void **state)
{
	(void)state;
	for (int i = 0; i < NSIZES; i++) {
		size_t n = test_size(i);
		char *p = ebb_malloc(n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		size_t u = ebb_malloc_usable_size(p);
		if (u < n)
			fail_msg("malloc(%zu): usable %zu", n, u);
		if (n <= SMALL_MAX)	/* exactly the class */
			assert_int_equal(u, ebb_classes[size_class(n)].size);
		else	/* whole pages */
			assert_int_equal(u, (n + 4095) & ~(size_t)4095);
		memset(p, 0xee, u);	/* all of it is ours */
		ebb_free(p);
	}
	assert_int_equal(ebb_malloc_usable_size(NULL), 0);
	ebb_free(NULL);
	ebb_free_sized(ebb_malloc(10), 10);
	ebb_free_aligned_sized(ebb_aligned_alloc(64, 64), 64, 64);
}

/* Many live blocks of one size never overlap. */
static void test_no_overlap(void **state)
{
	(void)state;
	enum { N = 3000 };
	static char *p[N];
	for (int i = 0; i < N; i++) {
		size_t n = 1 + (size_t)(i * 7919) % 3000;
		p[i] = ebb_malloc(n);
		fill(p[i], n, (unsigned)i);
	}
	for (int i = 0; i < N; i++) {
		check_fill(p[i], 1 + (size_t)(i * 7919) % 3000, (unsigned)i);
		ebb_free(p[i]);
	}
}

static void test_calloc_zeroes(void **state)
{
	(void)state;
	static const size_t sizes[] = { 1, 16, 100, 1000, 4096, 32768, 40000, 500000, MIB, 3 * MIB };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		/* Dirty a block, free it, and get the same memory back zeroed. */
		char *p = ebb_malloc(n);
		memset(p, 0xa5, ebb_malloc_usable_size(p));
		ebb_free(p);
		char *q = ebb_calloc(1, n);
		assert_non_null(q);
		if (n <= SMALL_MAX)	/* the thread cache hands the same block back */
			assert_ptr_equal(q, p);
		for (size_t j = 0; j < n; j++)
			if (q[j])
				fail_msg("calloc(%zu): byte %zu is %d", n, j, q[j]);
		ebb_free(q);
	}
	char *q = ebb_calloc(0, 0);
	assert_non_null(q);
	ebb_free(q);
	q = ebb_calloc(10, 10);
	for (int j = 0; j < 100; j++)
		assert_int_equal(q[j], 0);
	ebb_free(q);
	/* nmemb * size overflows */
	errno = 0;
	assert_null(ebb_calloc(SIZE_MAX / 2 + 1, 2));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(ebb_calloc((size_t)1 << 33, (size_t)1 << 33));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(ebb_reallocarray(NULL, SIZE_MAX, 3));
	assert_int_equal(errno, ENOMEM);
}

static void test_too_big(void **state)
{
	(void)state;
	static const size_t bad[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_null(ebb_malloc(bad[i]));
		assert_int_equal(errno, ENOMEM);
	}
	static const size_t kinds[] = { 100, 100000, 3 * MIB };
	for (size_t i = 0; i < 3; i++) {
		char *p = ebb_malloc(kinds[i]);
		fill(p, kinds[i], 3);
		errno = 0;
		assert_null(ebb_realloc(p, SIZE_MAX));
		assert_int_equal(errno, ENOMEM);
		errno = 0;
		assert_null(ebb_reallocarray(p, SIZE_MAX / 2, 4));
		assert_int_equal(errno, ENOMEM);
		check_fill(p, kinds[i], 3);	/* intact and still ours */
		assert_int_equal(ebb_malloc_usable_size(p) >= kinds[i], 1);
		ebb_free(p);
	}
}

static void test_realloc_kinds(void **state)
{
	(void)state;
	/* small -> large -> huge -> small, growing and shrinking in steps */
	static const size_t steps[] = { 1,	 24,	  100,	   1000,  20000,	40000, 300000,
					MIB,	 3 * MIB, 9 * MIB, 2 * MIB, MIB + 1, 700000, 36000,
					30000,	 5000,	  64,	   8,	  3 * MIB, 16 };
	size_t have = steps[0];
	char *p = ebb_malloc(have);
	fill(p, have, 9);
	for (size_t i = 1; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t n = steps[i];
		p = ebb_realloc(p, n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_true(ebb_malloc_usable_size(p) >= n);
		check_fill(p, n < have ? n : have, 9);
		fill(p, n, 9);
		have = n;
	}
	ebb_free(p);
}

static void test_realloc_edges(void **state)
{
	(void)state;
	char *p = ebb_realloc(NULL, 100);	/* malloc */
	assert_non_null(p);
	assert_int_equal(ebb_malloc_usable_size(p), 112);
	/* A small block shrinking by less than half stays put. */
	assert_ptr_equal(ebb_realloc(p, 60), p);
	assert_ptr_equal(ebb_realloc(p, 112), p);
	char *q = ebb_realloc(p, 40);	/* less than half: moves to its class */
	assert_int_equal(ebb_malloc_usable_size(q), 48);
	/* realloc(p, 0) frees and returns NULL; the block is reusable at once. */
	assert_null(ebb_realloc(q, 0));
	assert_ptr_equal(ebb_malloc(48), q);
	ebb_free(q);
	/* A large block grows in place when the pages behind it are free. */
	char *l = ebb_malloc(40000);
	fill(l, 40000, 1);
	char *l2 = ebb_realloc(l, 200000);
	check_fill(l2, 40000, 1);
	char *l3 = ebb_realloc(l2, 100000);	/* shrinking never moves */
	assert_ptr_equal(l3, l2);
	assert_int_equal(ebb_malloc_usable_size(l3), 102400);
	ebb_free(l3);
}

static void test_posix_memalign(void **state)
{
	(void)state;
	static const size_t bad[] = { 0, 1, 2, 4, 12, 24, 48, 100, 4097, SIZE_MAX };
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);	/* it warns on stderr */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *p = (void *)0x1234;
		dup2(devnull, 2);
		int r = ebb_posix_memalign(&p, bad[i], 16);
		dup2(saved, 2);
		assert_int_equal(r, EINVAL);
		assert_ptr_equal(p, (void *)0x1234);	/* untouched */
	}
	close(saved);
	close(devnull);
	for (size_t align = 8; align <= MIB; align <<= 1) {
		static const size_t sizes[] = { 1, 8, 100, 4096, 40000, 2 * MIB };
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = NULL;
			errno = 77;
			assert_int_equal(ebb_posix_memalign(&p, align, sizes[i]), 0);
			assert_int_equal(errno, 77);
			assert_int_equal((uintptr_t)p % align, 0);
			assert_true(ebb_malloc_usable_size(p) >= sizes[i]);
			memset(p, 1, sizes[i]);
			ebb_free(p);
		}
	}
	void *p;
	assert_int_equal(ebb_posix_memalign(&p, 64, SIZE_MAX), ENOMEM);
}

static void test_aligned_alloc(void **state)
{
	(void)state;
	static const size_t sizes[] = { 1, 100, 5000, 40000, 2 * MIB };
	for (size_t align = 1; align <= MIB; align <<= 1) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = ebb_aligned_alloc(align, sizes[i]);
			void *q = ebb_memalign(align, sizes[i]);
			assert_non_null(p);
			assert_non_null(q);
			assert_int_equal((uintptr_t)p % align, 0);
			assert_int_equal((uintptr_t)q % align, 0);
			assert_true(ebb_malloc_usable_size(p) >= sizes[i]);
			assert_true(ebb_malloc_usable_size(q) >= sizes[i]);
			memset(p, 2, sizes[i]);
			memset(q, 3, sizes[i]);
			ebb_free(p);
			ebb_free(q);
		}
	}
	errno = 0;
	assert_null(ebb_aligned_alloc(48, 100));	/* not a power of two */
	assert_int_equal(errno, EINVAL);
	/* memalign rounds such an alignment up, as glibc does. */
	void *q = ebb_memalign(48, 100);
	assert_int_equal((uintptr_t)q % 64, 0);
	ebb_free(q);
	q = ebb_memalign(3 * 4096, 10);
	assert_int_equal((uintptr_t)q % 16384, 0);
	ebb_free(q);
	errno = 0;
	assert_null(ebb_memalign((size_t)1 << 62, 1));
	assert_int_equal(errno, ENOMEM);
}

/* Regression (was a bug in src/alloc.c, alloc_any): a zero-byte request with an alignment above
 * a page makes a 0-page large span (or a 0-byte huge mapping), which free()
 * and malloc_usable_size() then reject and abort on. */
static void test_aligned_zero(void **state)
{
	(void)state;
	for (size_t align = 16; align <= 4 * MIB; align <<= 1) {
		pid_t pid = fork();	/* a regression would abort: keep it out of this process */
		assert_true(pid >= 0);
		if (pid == 0) {
			void *p = NULL, *q = ebb_aligned_alloc(align, 0), *r = ebb_memalign(align, 0);
			if (ebb_posix_memalign(&p, align, 0) || !q || !r)
				_exit(1);
			if ((uintptr_t)p % align || (uintptr_t)q % align || (uintptr_t)r % align)
				_exit(2);
			ebb_malloc_usable_size(p);
			ebb_free(p);
			ebb_free(q);
			ebb_free(r);
			_exit(0);
		}
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail_msg("align %zu, size 0, then free: status %#x", align, st);
	}
}

static void test_valloc(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 100, 4096, 4097, 40000, 3 * MIB };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		char *v = ebb_valloc(n), *pv = ebb_pvalloc(n);
		assert_int_equal((uintptr_t)v % 4096, 0);
		assert_int_equal((uintptr_t)pv % 4096, 0);
		assert_true(ebb_malloc_usable_size(v) >= n);
		/* pvalloc rounds the size up to whole pages (0 to one page). */
		size_t whole = n ? (n + 4095) & ~(size_t)4095 : 4096;
		assert_true(ebb_malloc_usable_size(pv) >= whole);
		memset(pv, 4, whole);
		ebb_free(v);
		ebb_free(pv);
	}
	errno = 0;
	assert_null(ebb_pvalloc(SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
}

static void test_misc_api(void **state)
{
	(void)state;
	assert_string_equal(ebb_version(), EBBMALLOC_VERSION);
	assert_true(ebb_arena_count() >= 1);
	assert_true(ebb_is_active());
	assert_true(ebb_thread_count() >= 1);
	ebb_malloc_trim(0);
	ebb_free(ebb_malloc(10));	/* still works after a trim */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malloc0),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_no_overlap),
		cmocka_unit_test(test_calloc_zeroes),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_realloc_kinds),
		cmocka_unit_test(test_realloc_edges),
		cmocka_unit_test(test_posix_memalign),
		cmocka_unit_test(test_aligned_alloc),
		cmocka_unit_test(test_aligned_zero),
		cmocka_unit_test(test_valloc),
		cmocka_unit_test(test_misc_api),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
