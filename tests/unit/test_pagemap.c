/* Unit tests for src/pagemap.c: address -> span lookups that never fault. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pagemap.h"
#include "span.h"

#define GIB ((uintptr_t)1 << 30)
/* Far from anything the process maps (which lives near 2^47 and below 2^32). */
#define BASE ((uintptr_t)0x300000000000)

/* Fake descriptors: the page map only stores the pointers. */
static span_t fake[4];

static uintptr_t *leaf_of(uintptr_t a) { return pagemap_leaf(a); }

static void test_geometry(void **state)
{
	(void)state;
	/* One leaf covers 1 GiB, the top level the whole 47-bit user space. */
	assert_int_equal(PM_LEAF_LEN << PAGE_SHIFT, GIB);
	assert_int_equal(PM_TOP_LEN * GIB, (uintptr_t)1 << 47);
}

static void test_never_reserved(void **state)
{
	(void)state;
	uintptr_t a = BASE + 40 * GIB;
	assert_null(leaf_of(a));
	assert_null(pagemap_get((void *)a));
	assert_null(pagemap_get((void *)(a + GIB - 1)));
	assert_null(pagemap_get(NULL));
	/* Still nothing was created by looking. */
	assert_null(leaf_of(a));
}

static void test_reserve_set_get(void **state)
{
	(void)state;
	/* A range straddling two leaves creates both, and only those. */
	uintptr_t a = BASE + 3 * GIB - 2 * PAGE_SIZE;
	assert_null(leaf_of(a));
	assert_null(leaf_of(a + GIB));
	assert_true(pagemap_reserve(a, 4 * PAGE_SIZE));
	assert_non_null(leaf_of(a));
	assert_non_null(leaf_of(a + 2 * PAGE_SIZE));
	assert_true(leaf_of(a) != leaf_of(a + 2 * PAGE_SIZE));
	assert_null(leaf_of(a - GIB));
	assert_null(leaf_of(a + 2 * PAGE_SIZE + GIB));
	/* Fresh leaves read as empty. */
	for (int i = 0; i < 4; i++)
		assert_null(pagemap_get((void *)(a + i * PAGE_SIZE)));

	pagemap_set_range(a, 4 * PAGE_SIZE, &fake[0]);
	pagemap_set(a + PAGE_SIZE, &fake[1]);
	pagemap_set(a + 2 * PAGE_SIZE, &fake[2]);
	/* Every byte of a page maps to the page's entry. */
	assert_ptr_equal(pagemap_get((void *)a), &fake[0]);
	assert_ptr_equal(pagemap_get((void *)(a + PAGE_SIZE - 1)), &fake[0]);
	assert_ptr_equal(pagemap_get((void *)(a + PAGE_SIZE)), &fake[1]);
	assert_ptr_equal(pagemap_get((void *)(a + 2 * PAGE_SIZE + 123)), &fake[2]);
	assert_ptr_equal(pagemap_get((void *)(a + 4 * PAGE_SIZE - 1)), &fake[0]);
	/* Neighbours outside the range stay empty. */
	assert_null(pagemap_get((void *)(a - 1)));
	assert_null(pagemap_get((void *)(a + 4 * PAGE_SIZE)));
	/* The same page offset in another leaf is another entry. */
	assert_null(pagemap_get((void *)(a + 2 * PAGE_SIZE + GIB)));

	/* Reserving again keeps the leaves and their contents. */
	uintptr_t *l = leaf_of(a);
	assert_true(pagemap_reserve(a, PAGE_SIZE));
	assert_ptr_equal(leaf_of(a), l);
	assert_ptr_equal(pagemap_get((void *)a), &fake[0]);
	pagemap_set_range(a, 4 * PAGE_SIZE, NULL);
	assert_null(pagemap_get((void *)(a + PAGE_SIZE)));
}

static void test_many_leaves(void **state)
{
	(void)state;
	/* One entry per leaf over 64 GiB: each lands in its own leaf. */
	uintptr_t a = BASE + 100 * GIB + 5 * PAGE_SIZE;
	assert_true(pagemap_reserve(a, 64 * GIB));
	for (uintptr_t i = 0; i < 64; i++)
		pagemap_set(a + i * GIB, &fake[i % 4]);
	for (uintptr_t i = 0; i < 64; i++) {
		assert_ptr_equal(pagemap_get((void *)(a + i * GIB)), &fake[i % 4]);
		assert_null(pagemap_get((void *)(a + i * GIB + PAGE_SIZE)));
		pagemap_set(a + i * GIB, NULL);
	}
}

static void test_out_of_range(void **state)
{
	(void)state;
	/* No leaf can cover these: reserve refuses, lookups return and never fault. */
	assert_false(pagemap_reserve((uintptr_t)1 << 47, PAGE_SIZE));
	assert_false(pagemap_reserve(((uintptr_t)1 << 47) - PAGE_SIZE, 2 * PAGE_SIZE));
	assert_false(pagemap_reserve(UINTPTR_MAX - PAGE_SIZE + 1, 2 * PAGE_SIZE));	/* wraps */
	assert_false(pagemap_reserve(BASE, SIZE_MAX));
	static const uintptr_t high[] = {
		(uintptr_t)1 << 47, ((uintptr_t)1 << 47) + 123 * GIB, 0xffff800000000000,
		0xffffffffff600000, UINTPTR_MAX, (uintptr_t)1 << 63,
	};
	for (size_t i = 0; i < sizeof(high) / sizeof(high[0]); i++)
		pagemap_get((void *)high[i]);
	/* Above 2^47 the map wraps around: a lookup returns whatever the low
	 * alias holds (callers reject it with span_contains). Documented here. */
	uintptr_t a = BASE + 7 * GIB;
	assert_true(pagemap_reserve(a, PAGE_SIZE));
	pagemap_set(a, &fake[3]);
	span_t *s = pagemap_get((void *)(a | ((uintptr_t)1 << 47)));
	if (s) {
		assert_ptr_equal(s, &fake[3]);
		fake[3].base = a;
		fake[3].npages = 1;
		assert_false(span_contains(s, a | ((uintptr_t)1 << 47)));
		assert_true(span_contains(s, a + PAGE_SIZE - 1));
	}
	pagemap_set(a, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_never_reserved),
		cmocka_unit_test(test_reserve_set_get),
		cmocka_unit_test(test_many_leaves),
		cmocka_unit_test(test_out_of_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
