/* Unit tests for src/pageheap.c: best-fit page runs, coalescing, alignment,
 * in-place resizing, purging and region release. Each test uses an arena of
 * its own, so the counters start from zero. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "init.h"
#include "pagemap.h"

#define PG PAGE_SIZE

static unsigned next_index = 100;	/* above any arena a thread uses */

static arena_t *fresh(void)
{
	arena_t *a = arena_get(next_index++);
	assert_non_null(a);
	assert_int_equal(a->nregions, 0);
	return a;
}

/* An allocated run, as arena_large_alloc would make it. */
static span_t *take(arena_t *a, size_t n, size_t align)
{
	ebb_lock(&a->lock);
	span_t *s = ph_alloc(a, n, align);
	if (s) {
		s->kind = SPAN_LARGE;
		s->arena = a;
	}
	ebb_unlock(&a->lock);
	return s;
}

static void give(arena_t *a, span_t *s)
{
	ebb_lock(&a->lock);
	ph_free(a, s, 0);
	ebb_unlock(&a->lock);
}

static bool resize(arena_t *a, span_t *s, size_t n)
{
	ebb_lock(&a->lock);
	bool ok = ph_resize(a, s, n);
	ebb_unlock(&a->lock);
	return ok;
}

/* The first free run of n pages: dirty ones are looked at first. */
static span_t *run_head(arena_t *a, size_t n)
{
	return a->runs[RUNS_DIRTY][n] ? a->runs[RUNS_DIRTY][n] : a->runs[RUNS_CLEAN][n];
}

static void assert_mapped_to(span_t *s)
{
	for (uintptr_t p = s->base; p < s->base + span_bytes(s); p += PG)
		assert_ptr_equal(pagemap_get((void *)p), s);
}

/* Every invariant the heap keeps: bucket lists and bitmap agree, run ends
 * are in the page map, no two free runs touch, and pages add up. */
static void check_heap(arena_t *a, size_t used)
{
	size_t free = 0, nreg = 0;
	for (region_t *r = a->regions; r; r = r->next)
		nreg++;
	assert_int_equal(nreg, a->nregions);
	for (size_t i = 0; i < 2 * RUN_BUCKETS; i++) {
		unsigned d = i / RUN_BUCKETS;
		size_t b = i % RUN_BUCKETS;
		bool bit = (a->runmap[d][b / 64] >> (b % 64)) & 1;
		assert_int_equal(bit, a->runs[d][b] != NULL);
		for (span_t *s = a->runs[d][b]; s; s = s->next) {
			assert_int_equal(d, s->dirty ? RUNS_DIRTY : RUNS_CLEAN);
			region_t *r = s->region;
			uintptr_t end = s->base + span_bytes(s);
			assert_int_equal(s->npages, b);
			assert_int_equal(s->kind, SPAN_FREE);
			assert_true(s->base >= r->base && end <= r->base + r->npages * PG);
			assert_ptr_equal(pagemap_get((void *)s->base), s);
			assert_ptr_equal(pagemap_get((void *)(end - 1)), s);
			if (s->next)
				assert_ptr_equal(s->next->prev, s);
			if (end < r->base + r->npages * PG) {
				span_t *n = pagemap_get((void *)end);
				assert_false(n->kind == SPAN_FREE && n->base == end);
			}
			free += b;
		}
	}
	assert_int_equal(free, a->free_pages);
	assert_int_equal(a->free_pages + used, a->nregions * REGION_PAGES);
}

static void test_alloc_free(void **state)
{
	(void)state;
	arena_t *a = fresh();
	span_t *s = take(a, 1, 1);
	assert_non_null(s);
	assert_int_equal(a->nregions, 1);
	assert_int_equal(s->npages, 1);
	assert_int_equal(s->base, a->regions->base);
	assert_int_equal(s->base % ((size_t)2 << 20), 0);
	assert_mapped_to(s);
	memset((void *)s->base, 1, PG);	/* really mapped */
	check_heap(a, 1);
	give(a, s);
	check_heap(a, 0);
	assert_non_null(run_head(a, REGION_PAGES));	/* whole again */
	assert_int_equal(a->nregions, 1);	/* the last region is kept */
}

static void test_coalesce(void **state)
{
	(void)state;
	arena_t *a = fresh();
	/* Guards keep the three runs off the region's big free tail. */
	span_t *g = take(a, 5, 1), *s1 = take(a, 10, 1), *s2 = take(a, 10, 1), *s3 = take(a, 10, 1);
	span_t *t = take(a, 7, 1);
	uintptr_t b1 = s1->base;
	assert_int_equal(s1->base, g->base + 5 * PG);
	assert_int_equal(s2->base, b1 + 10 * PG);
	assert_int_equal(s3->base, b1 + 20 * PG);
	assert_int_equal(t->base, b1 + 30 * PG);
	check_heap(a, 42);
	give(a, s2);	/* neighbours in use: stays 10 */
	assert_int_equal(run_head(a, 10)->base, b1 + 10 * PG);
	check_heap(a, 32);
	give(a, s1);	/* merges forward */
	assert_null(run_head(a, 10));
	assert_int_equal(run_head(a, 20)->base, b1);
	check_heap(a, 22);
	give(a, s3);	/* merges backward */
	assert_null(run_head(a, 20));
	assert_int_equal(run_head(a, 30)->base, b1);
	check_heap(a, 12);
	/* The exact fit is the merged run, not the big tail. */
	span_t *m = take(a, 30, 1);
	assert_int_equal(m->base, b1);
	assert_mapped_to(m);
	check_heap(a, 42);

	/* Both sides at once: free 1 and 3, then 2. */
	give(a, m);
	s1 = take(a, 10, 1), s2 = take(a, 10, 1), s3 = take(a, 10, 1);
	assert_int_equal(s1->base, b1);
	give(a, s1);
	give(a, s3);
	assert_non_null(run_head(a, 10));
	check_heap(a, 22);
	give(a, s2);
	assert_int_equal(run_head(a, 30)->base, b1);
	check_heap(a, 12);
	give(a, g);
	give(a, t);
	check_heap(a, 0);
	assert_non_null(run_head(a, REGION_PAGES));
}

static void test_best_fit(void **state)
{
	(void)state;
	arena_t *a = fresh();
	/* Free runs of 70, 130, 3 and 8 pages (buckets in different bitmap
	 * words), fenced by 1-page guards; the tail is 808 pages. */
	static const size_t len[] = { 70, 130, 3, 8 };
	span_t *s[4];
	assert_non_null(take(a, 1, 1));
	for (int i = 0; i < 4; i++) {
		s[i] = take(a, len[i], 1);
		assert_non_null(take(a, 1, 1));
	}
	for (int i = 0; i < 4; i++)
		give(a, s[i]);
	check_heap(a, 5);
	uintptr_t b70 = s[0]->base, b130 = s[1]->base, b3 = s[2]->base, b8 = s[3]->base;
	assert_int_equal(take(a, 65, 1)->base, b70);	/* leaves 5 */
	assert_int_equal(take(a, 71, 1)->base, b130);	/* leaves 59 */
	assert_int_equal(take(a, 2, 1)->base, b3);	/* leaves 1 */
	assert_int_equal(take(a, 6, 1)->base, b8);	/* leaves 2 */
	assert_int_equal(take(a, 4, 1)->base, b70 + 65 * PG);
	assert_int_equal(take(a, 2, 1)->base, b8 + 6 * PG);
	assert_int_equal(take(a, 59, 1)->base, b130 + 71 * PG);
	check_heap(a, 5 + 65 + 71 + 2 + 6 + 4 + 2 + 59);
}

static void test_aligned(void **state)
{
	(void)state;
	arena_t *a = fresh();
	span_t *s[16];
	int n = 0;
	size_t used = 0;
	take(a, 1, 1);	/* so the region start is not free */
	used++;
	for (size_t ap = 2; ap <= 256; ap <<= 1) {
		s[n] = take(a, 3, ap);
		assert_non_null(s[n]);
		assert_int_equal(s[n]->npages, 3);
		assert_int_equal(s[n]->base % (ap * PG), 0);
		assert_mapped_to(s[n]);
		used += 3;
		check_heap(a, used);	/* the skipped head went back as a run */
		n++;
	}
	while (n--) {
		give(a, s[n]);
		used -= 3;
		check_heap(a, used);
	}
	/* Impossible requests: more than a region, counting the alignment slack. */
	errno = 0;
	assert_null(take(a, REGION_PAGES + 1, 1));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(take(a, REGION_PAGES - 10, 64));
	assert_int_equal(errno, ENOMEM);
	check_heap(a, used);
}

static void test_resize(void **state)
{
	(void)state;
	arena_t *a = fresh();
	span_t *s = take(a, 10, 1);
	uintptr_t base = s->base;
	assert_true(resize(a, s, 20));	/* into the free tail */
	assert_int_equal(s->npages, 20);
	assert_int_equal(s->base, base);
	assert_mapped_to(s);
	check_heap(a, 20);
	span_t *n = take(a, 5, 1);
	assert_int_equal(n->base, base + 20 * PG);
	assert_false(resize(a, s, 21));	/* neighbour in use */
	assert_int_equal(s->npages, 20);
	assert_true(resize(a, s, 20));	/* no change */
	assert_true(resize(a, s, 4));	/* the tail becomes a free run */
	assert_int_equal(s->npages, 4);
	assert_int_equal(run_head(a, 16)->base, base + 4 * PG);
	assert_int_equal(pagemap_get((void *)(base + 4 * PG))->kind, SPAN_FREE);
	check_heap(a, 9);
	assert_false(resize(a, s, 21));	/* 16 free pages are not 17 */
	assert_true(resize(a, s, 20));	/* uses the whole run */
	assert_null(run_head(a, 16));
	assert_mapped_to(s);
	check_heap(a, 25);
	give(a, n);
	assert_true(resize(a, s, REGION_PAGES));
	assert_mapped_to(s);
	check_heap(a, REGION_PAGES);
	assert_false(resize(a, s, REGION_PAGES + 1));	/* the region ends */
	give(a, s);
	check_heap(a, 0);
}

static bool mapped(uintptr_t p)
{
	errno = 0;
	return msync((void *)p, PG, MS_ASYNC) == 0;
}

static void test_regions(void **state)
{
	(void)state;
	arena_t *a = fresh();
	span_t *r1 = take(a, REGION_PAGES, 1), *r2 = take(a, REGION_PAGES, 1);
	assert_non_null(r1);
	assert_non_null(r2);
	assert_int_equal(a->nregions, 2);
	assert_ptr_not_equal(r1->region, r2->region);
	check_heap(a, 2 * REGION_PAGES);
	uintptr_t b1 = r1->base, b2 = r2->base;
	give(a, r1);
	give(a, r2);
	/* Freed regions stay mapped (dirty) until a purge reaches them. */
	assert_int_equal(a->nregions, 2);
	assert_int_equal(a->empty_regions, 2);
	assert_int_equal(a->dirty_pages, 2 * REGION_PAGES);
	check_heap(a, 0);
	uint64_t next;
	/* A cutoff before the frees purges nothing. */
	assert_int_equal(ph_purge(a, 1, &next), 0);
	assert_true(next != UINT64_MAX);
	assert_int_equal(a->nregions, 2);
	/* Then one empty region is retained (purged), the other unmapped. */
	assert_int_equal(ph_purge(a, UINT64_MAX, &next), 2 * REGION_SIZE);
	assert_int_equal(next, UINT64_MAX);
	assert_int_equal(a->nregions, 1);
	assert_int_equal(a->dirty_pages, 0);
	assert_int_equal(mapped(b1) + mapped(b2), 1);
	assert_non_null(a->region_cache);
	check_heap(a, 0);
	/* Growing again reuses the region descriptor. */
	region_t *cached = a->region_cache;
	r1 = take(a, REGION_PAGES, 1);
	r2 = take(a, REGION_PAGES, 1);
	assert_int_equal(a->nregions, 2);
	assert_null(a->region_cache);
	assert_true(r1->region == cached || r2->region == cached);
	check_heap(a, 2 * REGION_PAGES);
	give(a, r1);
	give(a, r2);
	ph_purge(a, UINT64_MAX, &next);
	check_heap(a, 0);
}

/* Resident free pages are reused before clean ones, even where a clean run
 * would fit better: they cost no page faults and no RSS. */
static void test_dirty_first(void **state)
{
	(void)state;
	arena_t *a = fresh();
	span_t *g1 = take(a, 1, 1), *c = take(a, 5, 1), *g2 = take(a, 1, 1), *d = take(a, 20, 1);
	span_t *g3 = take(a, 1, 1);
	uint64_t next;
	give(a, c);
	ph_purge(a, UINT64_MAX, &next);	/* c: an exact, clean fit for 5 pages */
	assert_ptr_equal(a->runs[RUNS_CLEAN][5], pagemap_get((void *)c->base));
	give(a, d);
	assert_non_null(a->runs[RUNS_DIRTY][20]);
	span_t *s = take(a, 5, 1);
	assert_int_equal(s->base, d->base);
	check_heap(a, 8);
	give(a, s);
	give(a, g1);
	give(a, g2);
	give(a, g3);
	check_heap(a, 0);
}

static void test_purge(void **state)
{
	(void)state;
	arena_t *a = fresh();
	span_t *s = take(a, 4, 1);
	uint64_t next;
	assert_int_equal(ph_purge(a, UINT64_MAX, &next), 0);	/* fresh pages are clean */
	assert_int_equal(next, UINT64_MAX);
	unsigned char *p = (unsigned char *)s->base;
	memset(p, 0xab, 4 * PG);
	give(a, s);
	/* The freed run merged with the clean tail; only its 4 pages are dirty. */
	assert_int_equal(a->dirty_pages, 4);
	assert_int_equal(ph_purge(a, UINT64_MAX, &next), 4 * PG);
	assert_int_equal(ph_purge(a, UINT64_MAX, &next), 0);
	assert_int_equal(a->dirty_pages, 0);
	assert_int_equal(p[0] | p[4 * PG - 1], 0);	/* dropped, still mapped: the region is retained */
	check_heap(a, 0);
}

/* A span as arena_large_free or slab_release hands it to ph_give. */
static span_t *to_give(arena_t *a, size_t n, uint8_t kind)
{
	span_t *s = take(a, n, 1);
	ebb_lock(&a->lock);
	if (kind == SPAN_SMALL)
		a->slab_pages += n;
	else
		a->large_pages += n;
	ebb_unlock(&a->lock);
	s->kind = kind;
	s->purged = 0;
	s->freed_ns = 1;
	return s;
}

static void test_give(void **state)
{
	(void)state;
	arena_t *a = fresh();
	span_t *s = to_give(a, 3, SPAN_UNUSED);
	ph_give(a, s);	/* lock free: back at once */
	assert_int_equal(a->large_pages, 0);
	assert_int_equal(a->dirty_pages, 3);
	assert_null(a->giving);
	check_heap(a, 0);
	/* A slab's pages given back while it was in use are not dirty. */
	s = to_give(a, 4, SPAN_SMALL);
	s->purged = 0x5;
	ph_give(a, s);
	assert_int_equal(a->slab_pages, 0);
	assert_int_equal(a->dirty_pages, 3 + 2);
	check_heap(a, 0);
}

static arena_t *busy_arena;
static span_t *busy_span;
static int busy_done;

static void *give_busy(void *arg)
{
	(void)arg;
	ph_give(busy_arena, busy_span);
	__atomic_store_n(&busy_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A giver never waits for the lock: the holder takes the span in when it
 * unlocks. */
static void test_give_while_locked(void **state)
{
	(void)state;
	arena_t *a = busy_arena = fresh();
	span_t *keep = take(a, 1, 1);	/* keeps the region, so runs stay apart */
	busy_span = to_give(a, 2, SPAN_UNUSED);
	size_t free0 = a->free_pages;
	ebb_lock(&a->lock);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, give_busy, NULL), 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&busy_done, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	assert_true(__atomic_load_n(&busy_done, __ATOMIC_ACQUIRE));	/* did not wait */
	assert_ptr_equal(a->giving, busy_span);
	assert_int_equal(a->free_pages, free0);
	assert_int_equal(a->large_pages, 2);
	ph_unlock(a);
	pthread_join(t, NULL);
	assert_null(a->giving);
	assert_int_equal(a->free_pages, free0 + 2);
	assert_int_equal(a->large_pages, 0);
	check_heap(a, 1);
	give(a, keep);
	check_heap(a, 0);
}

static int setup(void **state)
{
	(void)state;
	ebb_init_slow();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_free),
		cmocka_unit_test(test_coalesce),
		cmocka_unit_test(test_best_fit),
		cmocka_unit_test(test_aligned),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_dirty_first),
		cmocka_unit_test(test_purge),
		cmocka_unit_test(test_give),
		cmocka_unit_test(test_give_while_locked),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
