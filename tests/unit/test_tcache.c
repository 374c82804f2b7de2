/* Unit tests for src/tcache.c: per-thread caches, their life cycle, caps,
 * flushing, and frees from other threads. Threads only record what they see;
 * the asserts run on the main thread (cmocka is not thread-safe). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ebbmalloc.h"
#include "msg.h"
#include "init.h"
#include "pagemap.h"
#include "tcache.h"

static void run_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* Back in its slab's bitmap, or the whole slab went back to the page heap. */
static bool block_is_free(void *p)
{
	span_t *s = pagemap_get(p);
	if (!s || !span_contains(s, (uintptr_t)p))
		return false;
	return s->kind == SPAN_SMALL ? arena_slot_is_free(s, p) : s->kind == SPAN_FREE;
}

typedef struct {
	size_t live0;
	bool empty_before, live_after;
	unsigned count_before, count_after;
	tcache_t *tc;
	arena_t *arena;
	void *blocks[100];
} seen_t;

static void *first_use(void *arg)
{
	seen_t *r = arg;
	r->empty_before = ebb_tc == &ebb_tc_empty;
	r->count_before = ebb_thread_count();
	void *p = ebb_malloc(32);
	r->live_after = ebb_tc->live == 1 && ebb_tc->arena && ebb_tc->tag == ebb_tc->arena->tag;
	r->count_after = ebb_thread_count();
	r->tc = ebb_tc;
	r->arena = ebb_tc->arena;
	/* Blocks left in the cache at exit must go back to their slabs. */
	for (int i = 0; i < 100; i++)
		r->blocks[i] = ebb_malloc(80);
	for (int i = 0; i < 100; i++)
		ebb_free(r->blocks[i]);
	ebb_free(p);
	return NULL;
}

static void test_life_cycle(void **state)
{
	(void)state;
	unsigned n0 = ebb_thread_count();
	seen_t a = { 0 }, b = { 0 };
	run_thread(first_use, &a);
	assert_true(a.empty_before);
	assert_true(a.live_after);
	assert_int_equal(a.count_before, n0);
	assert_int_equal(a.count_after, n0 + 1);
	assert_int_equal(ebb_thread_count(), n0);	/* gone after join */
	assert_int_equal(a.tc->live, 0);
	for (int i = 0; i < 100; i++)
		assert_true(block_is_free(a.blocks[i]));
	/* The next thread gets the dead thread's cache back from the pool. */
	run_thread(first_use, &b);
	assert_ptr_equal(b.tc, a.tc);
	assert_int_equal(b.count_after, n0 + 1);
	assert_int_equal(ebb_thread_count(), n0);
	/* Threads are spread over the arenas. */
	assert_ptr_not_equal(b.arena, a.arena);
}

static void test_lifo(void **state)
{
	(void)state;
	void *p[5];
	for (int i = 0; i < 5; i++)
		p[i] = ebb_malloc(48);
	for (int i = 0; i < 5; i++)
		ebb_free(p[i]);
	for (int i = 4; i >= 0; i--)
		assert_ptr_equal(ebb_malloc(48), p[i]);
	for (int i = 0; i < 5; i++)
		ebb_free(p[i]);
}

static void check_cap(size_t size)
{
	tcache_t *tc = tcache_get();
	unsigned cls = size_class(size);
	tbin_t *b = &tc->bins[cls];
	unsigned cap = tbin_cap(b), n = cap + 20;
	assert_int_equal(cap, ebb_classes[cls].tcache_cap);
	assert_true(cap >= 1);
	void **p = calloc(n, sizeof(void *));
	for (unsigned i = 0; i < n; i++)
		p[i] = ebb_malloc(size);
	tcache_flush_bin(tc, cls, 0);
	for (unsigned i = 0; i < n; i++) {
		ebb_free(p[i]);
		if (tbin_count(b) > cap)
			fail_msg("size %zu: %u blocks cached, cap %u", size, tbin_count(b), cap);
		/* Full: half goes back, then the new block is pushed. */
		assert_int_equal(tbin_count(b), i < cap ? i + 1 : cap / 2 + 1 + (i - cap) % (cap - cap / 2));
		assert_ptr_equal(b->top[-1], p[i]);
	}
	free(p);
}

static void test_cap(void **state)
{
	(void)state;
	check_cap(16);
	check_cap(256);
	check_cap(1024);
	check_cap(SMALL_MAX);	/* cap 4 */
}

static void test_flush(void **state)
{
	(void)state;
	tcache_t *tc = tcache_get();
	unsigned cls = size_class(96);
	tbin_t *b = &tc->bins[cls];
	bin_t *ab = &tc->arena->bins[cls];
	void *p[10];
	for (int i = 0; i < 10; i++)
		p[i] = ebb_malloc(96);
	tcache_flush_all(tc);
	size_t live = ab->live;
	for (int i = 0; i < 10; i++)
		ebb_free(p[i]);
	assert_int_equal(tbin_count(b), 10);
	assert_int_equal(ab->live, live);	/* cached blocks still count as live */
	for (int i = 0; i < 10; i++)
		assert_false(block_is_free(p[i]));
	/* Keeping 3 keeps the 3 freed last, in order; the rest go back. */
	tcache_flush_bin(tc, cls, 3);
	assert_int_equal(tbin_count(b), 3);
	assert_int_equal(ab->live, live - 7);
	for (int i = 0; i < 7; i++)
		assert_true(block_is_free(p[i]));
	for (int i = 0; i < 3; i++)
		assert_ptr_equal(b->lo[i], p[7 + i]);
	tcache_flush_all(tc);
	assert_int_equal(tbin_count(b), 0);
	assert_int_equal(ab->live, live - 10);
	for (int i = 0; i < 10; i++)
		assert_true(block_is_free(p[i]));
}

static void test_event(void **state)
{
	(void)state;
	tcache_t *tc = tcache_get();
	unsigned cls = size_class(200);
	void *p[10];
	for (int i = 0; i < 10; i++)
		p[i] = ebb_malloc(200);
	tcache_flush_all(tc);
	for (int i = 0; i < 10; i++)
		ebb_free(p[i]);
	uint64_t before = tc->allocated, total = tcache_allocated_total();
	int64_t used = tc->armed - tc->event_left;
	tc->gc_left = used;	/* a collection is due now */
	tcache_event(tc);
	assert_int_equal(tbin_count(&tc->bins[cls]), 5);	/* each collection halves every bin */
	assert_int_equal(tc->allocated, before + (uint64_t)used);
	assert_int_equal(tc->event_left, EVENT_PERIOD);
	assert_int_equal(tcache_allocated_total(), total);
	/* Allocating a few MiB fires events by itself and counts the bytes. */
	for (int i = 0; i < 40000; i++)
		ebb_free(ebb_malloc(100 + i % 400));
	assert_true(tc->allocated >= before + 3 * (uint64_t)EVENT_PERIOD);
	assert_true(tcache_allocated_total() >= total + 3 * (uint64_t)EVENT_PERIOD);
	/* Every byte once: the fast path counts an allocation even when it
	 * crosses the counter, and the slow path then must not count it again. */
	uint64_t t0 = tcache_allocated_total(), expect = 0, events = 0, seen = tc->allocated;
	for (int i = 0; i < 40000; i++) {
		size_t n = 100 + i % 400;
		expect += ebb_classes[size_class(n)].size;
		ebb_free(ebb_malloc(n));
		events += tc->allocated != seen;
		seen = tc->allocated;
	}
	assert_true(events >= 3);
	assert_int_equal(tcache_allocated_total() - t0, expect);
}

/* A key created after the library's runs its destructor after the cache's
 * exit handler: the thread must still be able to allocate and free. */
static pthread_key_t late_key;
static struct {
	bool dead, ok;
	void *small, *large;
} late;

static void late_dtor(void *arg)
{
	(void)arg;
	late.dead = ebb_tc == &ebb_tc_dead;
	late.small = ebb_malloc(100);
	late.large = ebb_malloc(50000);
	late.ok = late.small && late.large;
	if (late.ok) {
		memset(late.small, 1, 100);
		memset(late.large, 1, 50000);
	}
	ebb_free(late.small);
	ebb_free(late.large);
}

static void *set_late(void *arg)
{
	(void)arg;
	ebb_free(ebb_malloc(10));
	pthread_setspecific(late_key, &late);
	return NULL;
}

static void test_after_exit(void **state)
{
	(void)state;
	unsigned n0 = ebb_thread_count();
	assert_int_equal(pthread_key_create(&late_key, late_dtor), 0);
	run_thread(set_late, NULL);
	assert_true(late.dead);
	assert_true(late.ok);
	assert_true(block_is_free(late.small));	/* straight to the arena */
	assert_int_equal(ebb_thread_count(), n0);
	pthread_key_delete(late_key);
}

/* A thread whose first call comes from a TLS destructor still gets its
 * cache returned: glibc runs destructors again for keys set meanwhile. */
static bool made_in_dtor;

static void first_in_dtor(void *arg)
{
	(void)arg;
	void *p = ebb_malloc(100);
	made_in_dtor = ebb_tc->live == 1;
	ebb_free(p);
}

static void *set_first(void *arg)
{
	(void)arg;
	pthread_setspecific(late_key, &late);
	return NULL;
}

static void test_first_use_in_dtor(void **state)
{
	(void)state;
	unsigned n0 = ebb_thread_count();
	assert_int_equal(pthread_key_create(&late_key, first_in_dtor), 0);
	run_thread(set_first, NULL);
	assert_true(made_in_dtor);
	assert_int_equal(ebb_thread_count(), n0);
	pthread_key_delete(late_key);
}

/* Allocate in one thread, free in another: the blocks travel back to the
 * owner arena through the freeing thread's remote list. */
static void *producer(void *arg)
{
	seen_t *r = arg;
	r->arena = tcache_get()->arena;
	r->live0 = r->arena->bins[size_class(64)].live;
	for (int i = 0; i < 100; i++) {
		r->blocks[i] = ebb_malloc(64);
		memset(r->blocks[i], i, 64);
	}
	return NULL;
}

static struct {
	bool foreign, intact;
	unsigned nremote, own_cached;
} cons;

static void *consumer(void *arg)
{
	seen_t *r = arg;
	ebb_free(ebb_malloc(8));
	cons.foreign = ebb_tc->arena != r->arena;
	cons.intact = true;
	for (int i = 0; i < 100; i++) {
		for (int j = 0; j < 64; j++)
			cons.intact &= ((unsigned char *)r->blocks[i])[j] == i;
		ebb_free(r->blocks[i]);
	}
	cons.nremote = ebb_tc->nremote;
	cons.own_cached = tbin_count(&ebb_tc->bins[size_class(64)]);
	return NULL;
}

static void test_cross_thread(void **state)
{
	(void)state;
	assert_int_equal(ebb_narenas, 4);	/* from CONF, whatever the CPU count */
	seen_t r = { 0 };
	run_thread(producer, &r);
	run_thread(consumer, &r);
	assert_true(cons.foreign);
	assert_true(cons.intact);
	assert_int_equal(cons.nremote, 100 - REMOTE_MAX);	/* one batch went at 64 */
	assert_int_equal(cons.own_cached, 0);
	unsigned cls = size_class(64);
	for (int i = 0; i < 100; i++)
		assert_true(block_is_free(r.blocks[i]));
	assert_int_equal(r.arena->bins[cls].live, r.live0);
	/* Reusable: the owner arena serves 100 blocks again without a new slab,
	 * and some of them are the very blocks freed elsewhere. */
	size_t slab_pages = r.arena->slab_pages;
	unsigned hits = 0;
	void *out[100];
	assert_int_equal(arena_refill(r.arena, cls, out, 100), 100);
	assert_int_equal(r.arena->slab_pages, slab_pages);
	for (int i = 0; i < 100; i++)
		for (int j = 0; j < 100; j++)
			hits += out[i] == r.blocks[j];
	assert_true(hits > 0);
	arena_flush(r.arena, cls, out, 100);
}

/* The same with the owner's bin locked throughout: the freeing thread
 * neither waits nor keeps the blocks; they wait in the owner arena's
 * inbox until its next refill. */
static void test_cross_thread_busy(void **state)
{
	(void)state;
	seen_t r = { 0 };
	run_thread(producer, &r);
	unsigned cls = size_class(64);
	bin_t *b = &r.arena->bins[cls];
	ebb_lock(&b->lock);
	run_thread(consumer, &r);	/* joined: it did not wait for us */
	assert_true(cons.foreign);
	for (int i = 0; i < 100; i++) {
		/* The bitmap, read under the lock we hold. */
		span_t *s = pagemap_get(r.blocks[i]);
		unsigned k = (unsigned)(((uintptr_t)r.blocks[i] - s->base) / s->size);
		assert_false((s->freemap[k / 64] >> (k % 64)) & 1);
	}
	ebb_unlock(&b->lock);
	assert_non_null(r.arena->inbox);
	void *one;
	assert_int_equal(arena_refill(r.arena, cls, &one, 1), 1);
	assert_null(r.arena->inbox);
	for (int i = 0; i < 100; i++)
		assert_true(r.blocks[i] == one || block_is_free(r.blocks[i]));
	arena_flush(r.arena, cls, &one, 1);
	assert_int_equal(b->live, r.live0);
}

/* Regression (was a bug in src/tcache.c, tcache_get): a cache reused from the pool keeps the
 * dead thread's 'allocated', so tcache_allocated_total() counts bytes of a
 * thread that has exited. */
static uint64_t total_seen;

static void *alloc_lots(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		ebb_free(ebb_malloc(64));
	return NULL;
}

static void *alloc_one(void *arg)
{
	(void)arg;
	ebb_free(ebb_malloc(64));
	total_seen = tcache_allocated_total();
	return NULL;
}

static void test_allocated_not_inherited(void **state)
{
	(void)state;
	run_thread(alloc_lots, NULL);
	uint64_t t0 = tcache_allocated_total();
	run_thread(alloc_one, NULL);
	assert_true(total_seen - t0 < (uint64_t)EVENT_PERIOD);
}

static int setup(void **state)
{
	(void)state;
	ebb_init_slow();
	ebb_free(ebb_malloc(1));	/* the main thread's cache */
	return 0;
}

#define CONF "narenas:4"

/* The purger takes an idle thread's cache only when the thread sleeps in
 * a system call outside the fast paths. A thread sleeping in a page fault
 * shows the fault's error code where a system call number goes; when its
 * pc is in a fast path, the cache is in use. */
static void test_syscall_stop(void **state)
{
	(void)state;
	char line[256];
	assert_false(tcache_syscall_stop("running\n"));
	assert_false(tcache_syscall_stop("-1 0x7ffd2a10 0x7f0012345678\n"));
	assert_true(tcache_syscall_stop("202 0x7f00aa 0x80 0x0 0x0 0x0 0x0 0x7ffd2a10 0x7f0012345678\n"));
	ebb_snprintf(line, sizeof(line), "6 0x7f00aa 0x1 0x0 0x0 0x0 0x0 0x7ffd2a10 0x%lx\n",
		     (unsigned long)(uintptr_t)ebb_free + 8);
	assert_false(tcache_syscall_stop(line));
	ebb_snprintf(line, sizeof(line), "6 0x7f00aa 0x1 0x0 0x0 0x0 0x0 0x7ffd2a10 0x%lx\n",
		     (unsigned long)(uintptr_t)ebb_malloc + 4);
	assert_false(tcache_syscall_stop(line));
	ebb_snprintf(line, sizeof(line), "6 0x7f00aa 0x1 0x0 0x0 0x0 0x0 0x7ffd2a10 0x%lx\n",
		     (unsigned long)(uintptr_t)tcache_flush_all);
	assert_true(tcache_syscall_stop(line));
}

int main(int argc, char **argv)
{
	/* The library reads its options in a constructor, before main: run
	 * again with them in the environment. */
	(void)argc;
	const char *have = getenv("EBBMALLOC_CONF");
	if (!have || strcmp(have, CONF)) {
		setenv("EBBMALLOC_CONF", CONF, 1);
		execv("/proc/self/exe", argv);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_life_cycle),
		cmocka_unit_test(test_lifo),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_syscall_stop),
		cmocka_unit_test(test_after_exit),
		cmocka_unit_test(test_first_use_in_dtor),
		cmocka_unit_test(test_cross_thread),
		cmocka_unit_test(test_cross_thread_busy),
		cmocka_unit_test(test_allocated_not_inherited),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
