/* Unit tests for src/arena.c: large blocks, slab bins (refill, flush, the
 * partial list, spare and released slabs) and the bitmap's double-free
 * check. Each test takes a fresh arena so its counters start at zero. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "child.h"

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "init.h"
#include "pagemap.h"

static unsigned next_index = 150;	/* above any arena a thread uses */

static arena_t *fresh(void)
{
	arena_t *a = arena_get(next_index++);
	assert_non_null(a);
	return a;
}

static span_t *span_of(void *p)
{
	span_t *s = pagemap_get(p);
	assert_non_null(s);
	assert_true(span_contains(s, (uintptr_t)p));
	return s;
}


/* The child died of SIGABRT after one message line naming p and "free". */
static void assert_abort_names(int st, const void *p)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "%p", p);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
		fail_msg("child did not abort (status %#x), said: %s", st, child_err);
	assert_int_equal(strncmp(child_err, "<ebbmalloc>: ", 13), 0);
	assert_ptr_equal(strchr(child_err, '\n'), child_err + strlen(child_err) - 1);
	const char *at = strstr(child_err, addr);
	if (!at || isxdigit((unsigned char)at[strlen(addr)]))
		fail_msg("no %s in: %s", addr, child_err);
	assert_non_null(strstr(child_err, "free"));
}

static void test_get(void **state)
{
	(void)state;
	arena_t *a = arena_get(140);
	assert_non_null(a);
	assert_ptr_equal(arena_get(140), a);
	assert_ptr_equal(ebb_arenas[140], a);
	assert_int_equal(a->index, 140);
	assert_int_equal(a->tag, 141);	/* never 0: 0 marks spans no cache may take */
	assert_int_equal((uintptr_t)a % 64, 0);
}

static void test_large(void **state)
{
	(void)state;
	arena_t *a = fresh();
	char *p = arena_large_alloc(a, 100000, 0);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % PAGE_SIZE, 0);
	span_t *s = span_of(p);
	assert_int_equal(s->kind, SPAN_LARGE);
	assert_ptr_equal(s->arena, a);
	assert_int_equal(s->base, (uintptr_t)p);
	assert_int_equal(s->npages, 25);
	assert_ptr_equal(span_of(p + 100000 - 1), s);
	assert_int_equal(a->large_pages, 25);
	memset(p, 7, 25 * PAGE_SIZE);
	arena_large_free(s);
	assert_int_equal(a->large_pages, 0);
	assert_int_equal(a->free_pages, a->nregions * REGION_PAGES);
	assert_int_equal(pagemap_get(p)->kind, SPAN_FREE);
}

static void test_large_aligned(void **state)
{
	(void)state;
	arena_t *a = fresh();
	size_t pages = 0;
	void *keep[64];
	int n = 0;
	for (size_t align = 2 * PAGE_SIZE; align <= ((size_t)512 << 10); align <<= 1) {
		static const size_t sizes[] = { 1, 4096, 5000, 65536 };
		for (size_t i = 0; i < 5; i++) {
			size_t size = i < 4 ? sizes[i] : LARGE_MAX - align;
			char *p = arena_large_alloc(a, size, align);
			assert_non_null(p);
			if ((uintptr_t)p % align)
				fail_msg("size %zu align %zu: %p", size, align, (void *)p);
			span_t *s = span_of(p);
			assert_int_equal(s->npages, (size + PAGE_SIZE - 1) / PAGE_SIZE);
			p[0] = p[size - 1] = 1;
			pages += s->npages;
			keep[n++] = p;
			assert_int_equal(a->large_pages, pages);
		}
	}
	while (n--)
		arena_large_free(span_of(keep[n]));
	assert_int_equal(a->large_pages, 0);
	assert_int_equal(a->free_pages, a->nregions * REGION_PAGES);
}

static void test_large_resize(void **state)
{
	(void)state;
	arena_t *a = fresh();
	char *p = arena_large_alloc(a, 40000, 0);
	span_t *s = span_of(p);
	assert_true(arena_large_resize(s, 80000));
	assert_int_equal(s->npages, 20);
	assert_int_equal(s->base, (uintptr_t)p);
	assert_int_equal(a->large_pages, 20);
	char *q = arena_large_alloc(a, PAGE_SIZE, 0);
	assert_ptr_equal(q, p + 20 * PAGE_SIZE);	/* right behind it */
	assert_false(arena_large_resize(s, 20 * PAGE_SIZE + 1));
	assert_int_equal(s->npages, 20);
	assert_int_equal(a->large_pages, 21);
	assert_true(arena_large_resize(s, 36000));
	assert_int_equal(s->npages, 9);
	assert_int_equal(a->large_pages, 10);
	arena_large_free(s);
	arena_large_free(span_of(q));
	assert_int_equal(a->large_pages, 0);
}

static void test_refill_flush(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned cls = size_class(64);
	const class_info_t *ci = &ebb_classes[cls];
	void *out[10];
	assert_int_equal(arena_refill(a, cls, out, 10), 10);
	assert_int_equal(a->bins[cls].live, 10);
	assert_int_equal(a->slab_pages, ci->pages);
	span_t *s = span_of(out[0]);
	for (int i = 0; i < 10; i++) {
		assert_ptr_equal(span_of(out[i]), s);
		assert_false(arena_slot_is_free(s, out[i]));
		/* Lowest address last, so a stack pops blocks in address order. */
		if (i)
			assert_true((char *)out[i - 1] == (char *)out[i] + ci->size);
	}
	assert_int_equal(s->kind, SPAN_SMALL);
	assert_int_equal(span_tag(s), a->tag);
	assert_int_equal(s->cls, cls);
	assert_int_equal(s->base, (uintptr_t)out[9]);
	assert_int_equal(s->nfree, ci->slots - 10);
	arena_flush(a, cls, out, 10);
	for (int i = 0; i < 10; i++)
		assert_true(arena_slot_is_free(s, out[i]));
	assert_int_equal(a->bins[cls].live, 0);
	assert_int_equal(s->nfree, ci->slots);
	assert_ptr_equal(a->bins[cls].cur, s);	/* the current slab stays */

	/* A refill larger than a slab spans slabs and hands out each block once. */
	unsigned want = 3 * ci->slots + 5;
	void **many = calloc(want, sizeof(void *));
	assert_int_equal(arena_refill(a, cls, many, want), want);
	assert_int_equal(a->slab_pages, 4 * ci->pages);
	for (unsigned i = 0; i < want; i++) {
		assert_int_equal(span_of(many[i])->kind, SPAN_SMALL);
		assert_false(arena_slot_is_free(span_of(many[i]), many[i]));
		for (unsigned j = 0; j < i; j++)
			assert_ptr_not_equal(many[i], many[j]);
	}
	arena_flush(a, cls, many, want);
	assert_int_equal(a->bins[cls].live, 0);
	free(many);
}

static void test_slab_lists(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned cls = size_class(1024);
	const class_info_t *ci = &ebb_classes[cls];
	bin_t *b = &a->bins[cls];
	unsigned n = 3 * ci->slots;
	void *out[3 * SLOTS_MAX];
	assert_int_equal(arena_refill(a, cls, out, n), n);
	/* out is in descending address order: the slabs are A (lowest), B, C. */
	span_t *A = span_of(out[n - 1]), *B = span_of(out[ci->slots]), *C = span_of(out[0]);
	assert_true(A != B && B != C && A != C);
	assert_ptr_equal(b->cur, C);
	size_t free0 = a->free_pages;
	assert_int_equal(a->slab_pages, 3 * ci->pages);

	/* One block back into full slab A puts it on the partial list. */
	arena_flush(a, cls, &out[n - 1], 1);
	assert_ptr_equal(b->partial[0], A);	/* nearly full: the fullest list */
	assert_int_equal(A->nfree, 1);
	/* The next refill takes from it, since the current slab is full. */
	void *again;
	assert_int_equal(arena_refill(a, cls, &again, 1), 1);
	assert_ptr_equal(again, out[n - 1]);
	assert_ptr_equal(b->cur, A);
	assert_null(b->partial[0]);

	/* Emptying, in the order C, B, A: the first empty slab (C) is kept as
	 * spare, the next (B) goes back to the page heap, the current one (A)
	 * stays. */
	arena_flush(a, cls, out, n);
	assert_ptr_equal(b->spare, C);
	assert_ptr_equal(b->cur, A);
	assert_int_equal(a->slab_pages, 2 * ci->pages);
	assert_int_equal(a->free_pages, free0 + ci->pages);
	assert_int_equal(pagemap_get(out[ci->slots])->kind, SPAN_FREE);
	assert_int_equal(C->kind, SPAN_SMALL);
	assert_int_equal(b->live, 0);
	/* A purge releases the spare, and purges. */
	uint64_t next;
	assert_true(arena_purge(a, UINT64_MAX, &next) > 0);
	assert_int_equal(next, UINT64_MAX);
	assert_null(b->spare);
	assert_int_equal(a->slab_pages, ci->pages);
	assert_int_equal(a->free_pages, free0 + 2 * ci->pages);
}

/* A refill that needs a new slab drops the bin's lock while it waits for
 * the page heap's: frees into the bin go on meanwhile. */
static arena_t *grow_arena;
static void *grow_got;

static void *grow_refill(void *arg)
{
	unsigned cls = (unsigned)(uintptr_t)arg;
	if (arena_refill(grow_arena, cls, &grow_got, 1) != 1)
		grow_got = NULL;
	return NULL;
}

static void test_grow_unlocked(void **state)
{
	(void)state;
	arena_t *a = grow_arena = fresh();
	unsigned cls = size_class(4096);
	const class_info_t *ci = &ebb_classes[cls];
	bin_t *b = &a->bins[cls];
	void *out[SLOTS_MAX];
	assert_int_equal(arena_refill(a, cls, out, ci->slots), ci->slots);	/* one full slab */
	span_t *full = b->cur;
	assert_int_equal(full->nfree, 0);
	ebb_lock(&a->lock);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, grow_refill, (void *)(uintptr_t)cls), 0);
	/* Until the refill sleeps on the page heap's lock. */
	while (__atomic_load_n(&a->lock.state, __ATOMIC_ACQUIRE) != 2)
		usleep(100);
	assert_true(ebb_trylock(&b->lock));
	ebb_unlock(&b->lock);
	/* A block freed into the current slab meanwhile is the one handed out;
	 * the new slab waits on the partial list. */
	arena_flush(a, cls, &out[0], 1);
	ph_unlock(a);
	pthread_join(t, NULL);
	assert_ptr_equal(grow_got, out[0]);
	assert_ptr_equal(b->cur, full);
	span_t *fresh_slab = b->partial[PARTIAL_LISTS - 1];
	assert_non_null(fresh_slab);
	assert_int_equal(fresh_slab->nfree, ci->slots);
	assert_int_equal(a->slab_pages, 2 * ci->pages);
	/* The next refill takes from it: the current slab is full again. */
	void *p;
	assert_int_equal(arena_refill(a, cls, &p, 1), 1);
	assert_ptr_equal(span_of(p), fresh_slab);
	arena_flush(a, cls, &p, 1);
	arena_flush(a, cls, out, ci->slots);
}

static void flush_twice(void *arg)
{
	arena_t *a = arg;
	unsigned cls = size_class(48);
	void *out[2];
	arena_refill(a, cls, out, 2);
	arena_flush(a, cls, &out[1], 1);
	arena_flush(a, cls, &out[1], 1);
}

static void flush_dup_batch(void *arg)
{
	arena_t *a = arg;
	unsigned cls = size_class(48);
	void *out[3];
	arena_refill(a, cls, out, 3);
	out[2] = out[0];
	arena_flush(a, cls, out, 3);
}

/* New blocks come from the fullest partial slab, so the emptier ones can
 * drain and go back. */
static void test_fullest_first(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned cls = size_class(256);
	const class_info_t *ci = &ebb_classes[cls];
	bin_t *b = &a->bins[cls];
	unsigned n = 3 * ci->slots;
	void *out[3 * SLOTS_MAX];
	assert_int_equal(arena_refill(a, cls, out, n), n);
	span_t *A = span_of(out[n - 1]), *B = span_of(out[ci->slots]);
	/* A gets 90 % of its blocks back, B only one. */
	unsigned most = ci->slots * 9 / 10;
	arena_flush(a, cls, &out[n - most], most);
	arena_flush(a, cls, &out[ci->slots], 1);
	assert_int_equal(A->nfree, most);
	assert_int_equal(B->nfree, 1);
	assert_ptr_equal(b->partial[0], B);
	assert_ptr_equal(b->partial[PARTIAL_LISTS - 1], A);
	/* The current slab is full: the next block comes from B, not A. */
	void *p;
	assert_int_equal(arena_refill(a, cls, &p, 1), 1);
	assert_ptr_equal(span_of(p), B);
	assert_ptr_equal(b->cur, B);
	/* Moving between lists as blocks come back. */
	arena_flush(a, cls, &out[ci->slots + 1], ci->slots / 2);
	assert_ptr_equal(b->cur, B);
	arena_flush(a, cls, &out[n - ci->slots], ci->slots - most - 1);
	assert_ptr_equal(b->partial[PARTIAL_LISTS - 1], A);
	assert_int_equal(A->nfree, ci->slots - 1);
}

/* Slot i of a slab of class cls, whose blocks start at base. */
static void *slot(span_t *s, unsigned i)
{
	return (void *)(s->base + (uintptr_t)i * s->size);
}

/* New blocks go into the holes next to live blocks, in every partial slab,
 * before they pin a page that holds none. */
static void test_holes_first(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned cls = size_class(3072);
	const class_info_t *ci = &ebb_classes[cls];
	bin_t *b = &a->bins[cls];
	assert_true(ci->slots >= 8);
	unsigned n = 3 * ci->slots;
	void *out[3 * SLOTS_MAX];
	assert_int_equal(arena_refill(a, cls, out, n), n);
	span_t *A = span_of(out[n - 1]), *B = span_of(out[n - 1 - ci->slots]), *C = span_of(out[0]);
	assert_ptr_equal(b->cur, C);
	/* A and B keep slot 5 (bytes 15360-18431, pages 3-4): slot 4 (12288-
	 * 15359) is the one hole next to it; C is emptied. */
	for (unsigned k = 0; k < n; k++) {
		void *p = out[k];
		if (p != slot(A, 5) && p != slot(B, 5))
			arena_flush(a, cls, &p, 1);
	}
	void *got[2];
	assert_int_equal(arena_refill(a, cls, got, 2), 2);
	assert_true((got[0] == slot(A, 4) && got[1] == slot(B, 4)) ||
		    (got[0] == slot(B, 4) && got[1] == slot(A, 4)));
	/* No holes left: the next block pins a page that held none. */
	void *next;
	assert_int_equal(arena_refill(a, cls, &next, 1), 1);
	span_t *ns = span_of(next);
	uintptr_t off = (uintptr_t)next - ns->base;
	assert_true(ns == C || off + ns->size <= 3 * PAGE_SIZE || off >= 5 * PAGE_SIZE ||
		    (off < 3 * PAGE_SIZE && off + ns->size > 3 * PAGE_SIZE) ||
		    (off < 5 * PAGE_SIZE && off + ns->size > 5 * PAGE_SIZE));
	arena_flush(a, cls, got, 2);
	arena_flush(a, cls, &next, 1);
	void *last[2] = { slot(A, 5), slot(B, 5) };
	arena_flush(a, cls, last, 2);
	assert_int_equal(b->live, 0);
}

/* Blocks of whole pages have no holes to fill, but resident free blocks go
 * before purged ones, even in a fuller slab. */
static void test_purged_last(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned cls = size_class(8192);
	const class_info_t *ci = &ebb_classes[cls];
	bin_t *b = &a->bins[cls];
	unsigned n = 3 * ci->slots;
	void *out[3 * SLOTS_MAX];
	assert_int_equal(arena_refill(a, cls, out, n), n);
	span_t *A = span_of(out[n - 1]), *B = span_of(out[n - 1 - ci->slots]);
	void *fa[2] = { slot(A, 1), slot(A, 2) };
	arena_flush(a, cls, fa, 2);
	uint64_t next;
	arena_purge(a, UINT64_MAX, &next);
	assert_int_equal(A->purged, 0xf << 2);	/* slots 1 and 2: pages 2-5 */
	void *fb[4] = { slot(B, 1), slot(B, 2), slot(B, 3), slot(B, 4) };
	arena_flush(a, cls, fb, 4);
	/* A is fuller, but its free pages are purged: B's block comes first. */
	void *p;
	assert_int_equal(arena_refill(a, cls, &p, 1), 1);
	assert_ptr_equal(span_of(p), B);
	assert_ptr_equal(b->partial[EMPTY_PAGES_LIST], A);
	assert_int_equal(A->purged, 0xf << 2);
	arena_flush(a, cls, &p, 1);
	for (unsigned k = 0; k < n; k++) {
		bool freed = false;
		for (int i = 0; i < 4; i++)
			freed |= out[k] == fb[i] || (i < 2 && out[k] == fa[i]);
		if (!freed)
			arena_flush(a, cls, &out[k], 1);
	}
	assert_int_equal(b->live, 0);
}

/* A slab kept by one survivor gives back its other pages after the decay,
 * and takes them back when blocks are handed out of them again. */
static void test_slab_page_purge(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned cls = size_class(3072);
	const class_info_t *ci = &ebb_classes[cls];
	assert_true(ci->pages >= 3);
	unsigned n = 2 * ci->slots;
	void *out[2 * SLOTS_MAX];
	assert_int_equal(arena_refill(a, cls, out, n), n);
	/* out[n-1] is the lowest block: keep it, free the rest of its slab. */
	span_t *s = span_of(out[n - 1]);
	for (unsigned i = 0; i < n; i++)
		memset(out[i], 0x5a, ci->size);
	arena_flush(a, cls, &out[ci->slots], ci->slots - 1);
	assert_int_equal(s->nfree, ci->slots - 1);
	uint64_t next;
	/* Too recent for a cutoff in the past. */
	arena_purge(a, 1, &next);
	assert_int_equal(s->purged, 0);
	assert_true(next != UINT64_MAX);
	size_t before = a->purged_bytes;
	arena_purge(a, UINT64_MAX, &next);
	/* Every page but the survivor's first one went back. */
	unsigned want = ci->pages - 1;
	assert_int_equal(__builtin_popcount(s->purged), want);
	assert_int_equal(a->slab_purged, want);
	assert_int_equal(a->purged_bytes - before, (size_t)want * 4096);
	assert_int_equal(((unsigned char *)out[n - 1])[0], 0x5a);	/* the survivor is intact */
	unsigned char *gone = (unsigned char *)s->base + (ci->pages - 1) * 4096;
	assert_int_equal(gone[0], 0);
	/* Settled: a second pass does nothing more. */
	arena_purge(a, UINT64_MAX, &next);
	assert_int_equal(a->purged_bytes - before, (size_t)want * 4096);
	/* Taking blocks back from the slab re-counts their pages. */
	void *again[SLOTS_MAX];
	unsigned got = arena_refill(a, cls, again, ci->slots - 1);
	assert_int_equal(got, ci->slots - 1);
	assert_int_equal(s->purged, 0);
	assert_int_equal(a->slab_purged, 0);
	arena_flush(a, cls, again, got);
	arena_flush(a, cls, &out[n - 1], 1);
	arena_flush(a, cls, out, ci->slots);
}

static void test_double_free(void **state)
{
	(void)state;
	/* The children refill the same fresh arena, so the block addresses are
	 * known here: probe[2] is the slab's first block, probe[0] its third. */
	arena_t *a = fresh();
	unsigned cls = size_class(48);
	void *probe[3];
	assert_int_equal(arena_refill(a, cls, probe, 3), 3);
	arena_flush(a, cls, probe, 3);
	assert_abort_names(in_child(flush_twice, a), probe[2]);
	assert_non_null(strstr(child_err, "double free"));
	assert_abort_names(in_child(flush_dup_batch, a), probe[0]);
	assert_non_null(strstr(child_err, "double free"));
}

/* A large block freed while the page heap is locked waits for the lock's
 * holder; freeing it again meanwhile is still a double free. */
static void free_large_twice(void *arg)
{
	arena_t *a = arg;
	span_t *s = span_of(arena_large_alloc(a, 5 * PAGE_SIZE, 0));
	ebb_lock(&a->lock);
	arena_large_free(s);
	if (a->giving != s || s->kind != SPAN_UNUSED)
		_exit(5);
	arena_large_free(s);
}

static void test_large_double_free_pending(void **state)
{
	(void)state;
	arena_t *a = fresh();
	void *p = arena_large_alloc(a, 5 * PAGE_SIZE, 0);
	arena_large_free(span_of(p));	/* the child gets the same block */
	assert_abort_names(in_child(free_large_twice, a), p);
	assert_non_null(strstr(child_err, "double free"));
}

/* Regression (was a bug in src/arena.c, slab_new): ph_alloc hands back a span still marked
 * SPAN_FREE and slab_new only sets SPAN_SMALL after dropping the arena lock.
 * In that window a ph_free of a neighbour (a large free, a slab release) in
 * another thread takes the new slab for a free run and merges it: its pages
 * are then both a slab and free, and get handed out twice. Two threads on
 * one arena show it within milliseconds. */
static arena_t *race_arena;
static volatile int race_stop;

static void *race_slabs(void *arg)
{
	(void)arg;
	unsigned cls = size_class(2048), n = 3 * ebb_classes[cls].slots;
	void *out[3 * SLOTS_MAX];
	/* Three slabs each round: one spare, one released, one current. */
	while (!__atomic_load_n(&race_stop, __ATOMIC_RELAXED)) {
		if (arena_refill(race_arena, cls, out, n) != n)
			_exit(3);
		arena_flush(race_arena, cls, out, n);
	}
	return NULL;
}

static void *race_large(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !__atomic_load_n(&race_stop, __ATOMIC_RELAXED); i++) {
		void *p = arena_large_alloc(race_arena, PAGE_SIZE * (1 + i % 3), 0);
		void *q = arena_large_alloc(race_arena, PAGE_SIZE, 0);
		arena_large_free(pagemap_get(p));
		arena_large_free(pagemap_get(q));
	}
	return NULL;
}

static void race_child(void *arg)
{
	(void)arg;
	pthread_t t[2];
	race_arena = arena_get(250);
	pthread_create(&t[0], NULL, race_slabs, NULL);
	pthread_create(&t[1], NULL, race_large, NULL);
	usleep(1000000);
	__atomic_store_n(&race_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	arena_t *a = race_arena;
	size_t counted = 0;
	for (unsigned d = RUNS_CLEAN; d <= RUNS_DIRTY; d++)
		for (size_t b = 1; b < RUN_BUCKETS; b++)
			for (span_t *s = a->runs[d][b]; s; s = s->next)
				counted += b;
	if (counted != a->free_pages || a->free_pages + a->slab_pages + a->large_pages != a->nregions * REGION_PAGES)
		_exit(4);
}

static void test_slab_new_race(void **state)
{
	(void)state;
	int st = in_child(race_child, NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("status %#x: %s", st, child_err);
}

static int setup(void **state)
{
	(void)state;
	ebb_init_slow();
	/* The tests that race threads on purpose must know who waits on the
	 * page heap's lock and read its counters while nothing purges: no
	 * purging thread (purging then runs in the calling threads). */
	ebb_opt.background_thread = false;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_large_aligned),
		cmocka_unit_test(test_large_resize),
		cmocka_unit_test(test_refill_flush),
		cmocka_unit_test(test_slab_lists),
		cmocka_unit_test(test_grow_unlocked),
		cmocka_unit_test(test_fullest_first),
		cmocka_unit_test(test_slab_page_purge),
		cmocka_unit_test(test_holes_first),
		cmocka_unit_test(test_purged_last),
		cmocka_unit_test(test_double_free),
		cmocka_unit_test(test_large_double_free_pending),
		cmocka_unit_test(test_slab_new_race),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
