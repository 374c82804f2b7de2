/* Unit tests for src/sizeclass.c: the class table, the lookup, the slab
 * geometry and the reciprocals the free path divides with. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sizeclass.h"

static int setup(void **state)
{
	(void)state;
	sizeclass_init(32768);
	return 0;
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(ebb_classes[0].size, 16);
	assert_int_equal(ebb_classes[NCLASSES - 1].size, SMALL_MAX);
	for (unsigned c = 0; c < NCLASSES; c++) {
		assert_int_equal(ebb_classes[c].size % 16, 0);
		if (c)
			assert_true(ebb_classes[c].size > ebb_classes[c - 1].size);
	}
	/* Every size from 16 to 128 is a class: small requests waste < 16 B. */
	for (unsigned c = 0; c < 8; c++)
		assert_int_equal(ebb_classes[c].size, 16 * (c + 1));
}

/* The smallest class >= n, by linear search: the reference for size_class. */
static unsigned ref_class(size_t n)
{
	unsigned c = 0;
	while (ebb_classes[c].size < n)
		c++;
	return c;
}

static void test_lookup_exhaustive(void **state)
{
	(void)state;
	for (size_t n = 0; n <= SMALL_MAX; n++) {
		unsigned c = size_class(n);
		if (c != ref_class(n))
			fail_msg("size_class(%zu) = %u, want %u", n, c, ref_class(n));
	}
	/* The lookup table and the formula must agree where they meet. */
	assert_int_equal(size_class(LUT_MAX), ref_class(LUT_MAX));
	assert_int_equal(size_class(LUT_MAX + 1), ref_class(LUT_MAX + 1));
}

/* What holds (checked exhaustively below):
 * - n in [1, 16]: the block is 16 B (waste up to 15/16, at n = 1);
 * - n >= 16: waste < 1/2 of the block (worst 15/32, at n = 17);
 * - n > 128: waste < 1/9 of the block (the header's promise), hence also
 *   < 1/8 of the block and < 1/8 of the request. */
static void test_waste(void **state)
{
	(void)state;
	double worst16 = 0, worst128 = 0;
	for (size_t n = 1; n <= SMALL_MAX; n++) {
		size_t size = ebb_classes[size_class(n)].size;
		size_t waste = size - n;
		assert_true(size >= n);
		if (n <= 16)
			assert_int_equal(size, 16);
		if (n >= 16) {
			assert_true(2 * waste < size);
			if ((double)waste / size > worst16)
				worst16 = (double)waste / size;
		}
		if (n > 128) {
			if (9 * waste >= size)
				fail_msg("n = %zu: class %zu wastes %zu >= 1/9", n, size, waste);
			assert_true(8 * waste < n);
			if ((double)waste / size > worst128)
				worst128 = (double)waste / size;
		}
	}
	assert_true(worst16 == 15.0 / 32);
	assert_true(worst128 < 1.0 / 9);
}

/* The free path turns an offset into a slot with a multiply: it must equal
 * the division for every offset a slab can hold. */
static void test_reciprocal(void **state)
{
	(void)state;
	for (unsigned c = 0; c < NCLASSES; c++) {
		const class_info_t *ci = &ebb_classes[c];
		uint64_t end = (uint64_t)ci->slots * ci->size;
		for (uint64_t o = 0; o < end; o++)
			if (((o * ci->recip) >> 32) != o / ci->size)
				fail_msg("class %u (%u B): offset %llu", c, ci->size, (unsigned long long)o);
	}
}

/* The free fast path's single compare: slot_index(off) < slots exactly when
 * off is a slot's start, for offsets below, inside and past the slab, and
 * for offsets carrying another tag (multiples of 2^48 added). */
static void test_slot_index(void **state)
{
	(void)state;
	for (unsigned c = 0; c < NCLASSES; c++) {
		const class_info_t *ci = &ebb_classes[c];
		int64_t end = (int64_t)ci->slots * ci->size;
		assert_int_equal(ci->size, (ci->size >> ci->shift) << ci->shift);
		assert_true((ci->size >> ci->shift) & 1);
		for (int64_t o = -4 * (int64_t)ci->size; o < end + 4 * (int64_t)ci->size; o++) {
			uint64_t q = slot_index((uint64_t)o, ci->inv, ci->shift);
			bool slot = o >= 0 && o < end && o % ci->size == 0;
			if ((q < ci->slots) != slot || (slot && q != (uint64_t)o / ci->size))
				fail_msg("class %u (%u B): offset %lld gives %llu", c, ci->size, (long long)o,
					 (unsigned long long)q);
		}
		for (uint64_t k = 1; k < 0x10000; k += 7) {
			uint64_t o = (uint64_t)(ci->size * (k % ci->slots));
			assert_true(slot_index(o + (k << 48), ci->inv, ci->shift) >= ci->slots);
			assert_true(slot_index(o - (k << 48), ci->inv, ci->shift) >= ci->slots);
		}
	}
}

static void test_slab_geometry(void **state)
{
	(void)state;
	for (unsigned c = 0; c < NCLASSES; c++) {
		const class_info_t *ci = &ebb_classes[c];
		assert_true(ci->pages >= 1 && ci->pages <= 16);
		assert_true(ci->slots >= 2);
		assert_true(ci->slots <= SLOTS_MAX);
		assert_true((size_t)ci->slots * ci->size <= ci->pages * PAGE_SIZE);
		/* slots is all that fits: no room for one more. */
		assert_true((size_t)(ci->slots + 1) * ci->size > ci->pages * PAGE_SIZE);
	}
}

/* The least tail waste for the bytes spanned, and of equal waste the
 * longest slab: fewer descriptors. */
static void test_slab_length(void **state)
{
	(void)state;
	for (unsigned c = 0; c < NCLASSES; c++) {
		const class_info_t *ci = &ebb_classes[c];
		uint64_t bytes = ci->pages * PAGE_SIZE, waste = bytes - (uint64_t)ci->slots * ci->size;
		for (unsigned p = 1; p <= 16; p++) {
			uint64_t b = p * PAGE_SIZE, n = b / ci->size, w = b - n * ci->size;
			if (n < 2 || n > SLOTS_MAX || p == ci->pages)
				continue;
			/* w / b against waste / bytes, without division */
			if (p < ci->pages)
				assert_true(w * bytes >= waste * b);
			else
				assert_true(w * bytes > waste * b);
		}
	}
	assert_int_equal(ebb_classes[size_class(64)].pages, 8);	/* 512 slots, none wasted */
}

static void test_aligned(void **state)
{
	(void)state;
	for (size_t align = 16; align <= PAGE_SIZE; align <<= 1) {
		for (size_t n = 0; n <= SMALL_MAX; n++) {
			unsigned c = size_class_aligned(n, align);
			if (c >= NCLASSES)
				fail_msg("no class for n = %zu, align %zu", n, align);
			size_t size = ebb_classes[c].size;
			assert_true(size >= n);
			assert_int_equal(size % align, 0);
			/* The smallest such class: none between size_class(n) and c. */
			for (unsigned d = size_class(n); d < c; d++)
				assert_true(ebb_classes[d].size % align != 0);
		}
	}
	assert_int_equal(size_class_aligned(SMALL_MAX + 1, 16), NCLASSES);
	/* No class is a multiple of 64 KiB. */
	assert_int_equal(size_class_aligned(1, 65536), NCLASSES);
}

static void test_tcache_cap(void **state)
{
	(void)state;
	sizeclass_init(1024);
	for (unsigned c = 0; c < NCLASSES; c++) {
		unsigned size = ebb_classes[c].size, cap = ebb_classes[c].tcache_cap;
		if (size > 1024) {
			assert_int_equal(cap, 0);
		} else {
			assert_true(cap >= 1 && cap <= 64);
			assert_true(cap * size <= 16384 || cap == 1);
		}
	}
	sizeclass_init(0);
	for (unsigned c = 0; c < NCLASSES; c++)
		assert_int_equal(ebb_classes[c].tcache_cap, 0);
	sizeclass_init(32768);
	assert_int_equal(ebb_classes[NCLASSES - 1].tcache_cap, 1);
	assert_int_equal(ebb_classes[0].tcache_cap, 64);
	/* What one idle thread can keep, all classes full: about 1 MiB. */
	size_t total = 0;
	for (unsigned c = 0; c < NCLASSES; c++)
		total += (size_t)ebb_classes[c].tcache_cap * ebb_classes[c].size;
	assert_true(total <= 1200 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_lookup_exhaustive),
		cmocka_unit_test(test_waste),
		cmocka_unit_test(test_reciprocal),
		cmocka_unit_test(test_slot_index),
		cmocka_unit_test(test_slab_geometry),
		cmocka_unit_test(test_slab_length),
		cmocka_unit_test(test_aligned),
		cmocka_unit_test(test_tcache_cap),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
