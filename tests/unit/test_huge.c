/* Unit tests for src/huge.c: blocks above LARGE_MAX in mappings of their
 * own, resized with mremap (moved, never copied), and their counters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ebbmalloc.h"
#include "huge.h"
#include "pagemap.h"

#define MIB ((size_t)1 << 20)

static void fill(void *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 512)
		((unsigned char *)p)[i] = (unsigned char)(i / 512 + seed);
}

static bool same_fill(const void *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 512)
		if (((const unsigned char *)p)[i] != (unsigned char)(i / 512 + seed))
			return false;
	return true;
}

static bool unmapped(const void *p, size_t n)
{
	return msync((void *)p, n, MS_ASYNC) == -1 && errno == ENOMEM;
}

/* The physical frame behind p, 0 when not allowed to see it (not root). */
static uint64_t pfn(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)p / 4096 * sizeof(e))) != sizeof(e))
		e = 0;
	close(fd);
	return (e >> 63) ? e & (((uint64_t)1 << 55) - 1) : 0;
}

/* Maps exactly [p, p+n) unless something is there already. */
static bool claim(void *p, size_t n)
{
	void *m = mmap(p, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m == MAP_FAILED)
		return false;
	if (m != p) {	/* old kernels ignore the flag */
		munmap(m, n);
		return false;
	}
	return true;
}

static void test_stats(void **state)
{
	(void)state;
	size_t c0 = huge_count(), m0 = huge_mapped();
	char *a = ebb_malloc(3 * MIB + 5), *b = ebb_malloc(LARGE_MAX + 1);
	assert_int_equal(huge_count(), c0 + 2);
	assert_int_equal(huge_mapped(), m0 + 3 * MIB + 4096 + MIB + 4096);
	span_t *s = pagemap_get(a);
	assert_int_equal(s->kind, SPAN_HUGE);
	assert_int_equal(s->base, (uintptr_t)a);
	assert_int_equal(s->npages, (3 * MIB + 4096) / 4096);
	assert_null(s->arena);
	assert_int_equal(ebb_malloc_usable_size(a), 3 * MIB + 4096);
	a[0] = a[3 * MIB + 4095] = 1;
	/* Just over LARGE_MAX is huge; LARGE_MAX itself is not. */
	char *l = ebb_malloc(LARGE_MAX);
	assert_int_equal(huge_count(), c0 + 2);
	assert_int_equal(pagemap_get(l)->kind, SPAN_LARGE);
	ebb_free(l);
	ebb_free(a);
	assert_true(unmapped(a, 4096));	/* back to the OS at once */
	assert_int_equal(huge_count(), c0 + 1);
	ebb_free(b);
	assert_int_equal(huge_count(), c0);
	assert_int_equal(huge_mapped(), m0);
}

static void test_realloc_moves(void **state)
{
	(void)state;
	size_t m0 = huge_mapped(), c0 = huge_count();
	char *p = ebb_malloc(2 * MIB);
	fill(p, 2 * MIB, 1);
	/* A mapping right behind the block forces a move (mmap works top-down,
	 * so there usually is one already). */
	bool guard = claim(p + 2 * MIB, 4096);
	bool blocked = guard || msync(p + 2 * MIB, 4096, MS_ASYNC) == 0;
	assert_true(blocked);
	uint64_t frame = pfn(p);
	char *q = ebb_realloc(p, 6 * MIB);
	assert_non_null(q);
	assert_ptr_not_equal(q, p);
	assert_true(same_fill(q, 2 * MIB, 1));
	assert_int_equal(q[6 * MIB - 1], 0);	/* the new tail is fresh */
	q[6 * MIB - 1] = 1;
	assert_true(unmapped(p, 2 * MIB));
	/* Moved with mremap: the same physical page, not a copy. */
	if (frame)
		assert_int_equal(pfn(q), frame);
	span_t *s = pagemap_get(q);
	assert_int_equal(s->kind, SPAN_HUGE);
	assert_int_equal(s->base, (uintptr_t)q);
	assert_int_equal(ebb_malloc_usable_size(q), 6 * MIB);
	assert_int_equal(huge_mapped(), m0 + 6 * MIB);
	assert_int_equal(huge_count(), c0 + 1);
	ebb_free(q);
	assert_int_equal(huge_mapped(), m0);
	if (guard)
		munmap(p + 2 * MIB, 4096);
}

static void test_realloc_in_place(void **state)
{
	(void)state;
	size_t m0 = huge_mapped();
	/* Room behind a block: mmap places b right below a, then a goes. */
	char *a = ebb_malloc(2 * MIB), *p = ebb_malloc(2 * MIB);
	bool room = p + 2 * MIB == a;
	fill(p, 2 * MIB, 2);
	uint64_t frame = pfn(p);
	ebb_free(a);	/* nothing may map between this and the realloc */
	char *q = ebb_realloc(p, 4 * MIB);
	if (!room)	/* an mmap that is not top-down: nothing to check */
		skip();
	assert_ptr_equal(q, p);
	if (frame)
		assert_int_equal(pfn(q), frame);
	assert_true(same_fill(q, 2 * MIB, 2));
	/* Shrinking is always in place and unmaps the tail. */
	char *r = ebb_realloc(q, 3 * MIB);
	assert_ptr_equal(r, q);
	assert_int_equal(ebb_malloc_usable_size(r), 3 * MIB);
	assert_int_equal(huge_mapped(), m0 + 3 * MIB);
	assert_true(unmapped(r + 3 * MIB, MIB));
	assert_true(same_fill(r, 2 * MIB, 2));
	r = ebb_realloc(r, LARGE_MAX + 1);
	assert_ptr_equal(r, q);
	assert_int_equal(ebb_malloc_usable_size(r), LARGE_MAX + 4096);
	assert_int_equal(huge_mapped(), m0 + LARGE_MAX + 4096);
	/* Same page count: nothing changes. */
	assert_ptr_equal(ebb_realloc(r, LARGE_MAX + 4000), r);
	assert_int_equal(huge_mapped(), m0 + LARGE_MAX + 4096);
	assert_true(same_fill(r, LARGE_MAX, 2));
	ebb_free(r);
	assert_int_equal(huge_mapped(), m0);
}

static void test_realloc_to_other_kinds(void **state)
{
	(void)state;
	size_t c0 = huge_count(), m0 = huge_mapped();
	char *p = ebb_malloc(5 * MIB);
	fill(p, 5 * MIB, 3);
	char *l = ebb_realloc(p, 500000);	/* huge -> large */
	assert_int_equal(pagemap_get(l)->kind, SPAN_LARGE);
	assert_true(same_fill(l, 500000, 3));
	assert_int_equal(huge_count(), c0);
	assert_int_equal(huge_mapped(), m0);
	char *h = ebb_realloc(l, 2 * MIB);	/* large -> huge */
	assert_int_equal(pagemap_get(h)->kind, SPAN_HUGE);
	assert_true(same_fill(h, 500000, 3));
	assert_int_equal(huge_count(), c0 + 1);
	char *s = ebb_realloc(h, 1000);	/* huge -> small */
	assert_int_equal(pagemap_get(s)->kind, SPAN_SMALL);
	assert_true(same_fill(s, 1000, 3));
	assert_int_equal(huge_count(), c0);
	ebb_free(s);
}

static void test_aligned_and_zeroed(void **state)
{
	(void)state;
	size_t c0 = huge_count();
	for (size_t align = 4096; align <= 16 * MIB; align <<= 1) {
		char *p = ebb_memalign(align, 2 * MIB + 100);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % align, 0);
		assert_int_equal(pagemap_get(p)->kind, SPAN_HUGE);
		assert_int_equal(ebb_malloc_usable_size(p), 2 * MIB + 4096);
		p[2 * MIB + 99] = 1;
		ebb_free(p);
	}
	/* Huge calloc relies on fresh mappings being zero: check, twice over
	 * the same address range. */
	for (int i = 0; i < 2; i++) {
		char *p = ebb_malloc(3 * MIB);
		memset(p, 0xcc, 3 * MIB);
		ebb_free(p);
		unsigned char *z = ebb_calloc(3, MIB);
		for (size_t j = 0; j < 3 * MIB; j += 64)
			assert_int_equal(z[j], 0);
		ebb_free(z);
	}
	assert_int_equal(huge_count(), c0);
}

/* In a child whose address space is capped, growth fails cleanly. */
static void test_realloc_fails(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *p = ebb_malloc(2 * MIB);
		fill(p, 2 * MIB, 4);
		size_t m0 = huge_mapped();
		struct rlimit rl = { (size_t)64 << 40, (size_t)64 << 40 };
		char buf[64] = "";
		int fd = open("/proc/self/statm", O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
			_exit(10);
		rl.rlim_cur = rl.rlim_max = strtoull(buf, NULL, 10) * 4096 + 16 * MIB;
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(11);
		claim(p + 2 * MIB, 4096);	/* no growing in place either */
		errno = 0;
		if (ebb_realloc(p, 512 * MIB) || errno != ENOMEM)
			_exit(12);
		if (!same_fill(p, 2 * MIB, 4) || huge_mapped() != m0 || ebb_malloc_usable_size(p) != 2 * MIB)
			_exit(13);
		ebb_free(p);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_realloc_moves),
		cmocka_unit_test(test_realloc_in_place),
		cmocka_unit_test(test_realloc_to_other_kinds),
		cmocka_unit_test(test_aligned_and_zeroed),
		cmocka_unit_test(test_realloc_fails),
	};
	ebb_free(ebb_malloc(1));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
