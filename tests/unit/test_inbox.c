/* Unit tests for src/inbox.c: frees that never wait for a bin lock held by
 * another thread, the arena inbox they go to, and who empties it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "child.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ebbmalloc.h"

#include "arena.h"
#include "inbox.h"
#include "init.h"
#include "pagemap.h"

static unsigned next_index = 300;	/* above any arena a thread uses */

static arena_t *fresh(void)
{
	arena_t *a = arena_get(next_index++);
	assert_non_null(a);
	return a;
}

static bool is_free(void *p)
{
	span_t *s = pagemap_get(p);
	return arena_slot_is_free(s, p);
}

static void take(arena_t *a, size_t size, void **out, unsigned n)
{
	assert_int_equal(arena_refill(a, size_class(size), out, n), n);
}

/* Runs fn(arg) in another thread and fails unless it returns within 5 s:
 * a free that waited for a lock we hold would never return. */
typedef struct {
	void (*fn)(void *);
	void *arg;
	int done;
} job_t;

static void *job_main(void *arg)
{
	job_t *j = arg;
	j->fn(j->arg);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void run_unblocked(void (*fn)(void *), void *arg)
{
	job_t j = { fn, arg, 0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, job_main, &j), 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&j.done, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	assert_true(__atomic_load_n(&j.done, __ATOMIC_ACQUIRE));
	pthread_join(t, NULL);
}

typedef struct {
	void **items;
	unsigned n;
} batch_t;

static void free_batch(void *arg)
{
	batch_t *b = arg;
	inbox_free(b->items, b->n);
}

/* Nothing in the way: blocks of two arenas and three classes, mixed, go
 * straight back to their slabs. */
static void test_free_direct(void **state)
{
	(void)state;
	arena_t *a = fresh(), *b = fresh();
	void *mix[24];
	for (int i = 0; i < 4; i++) {
		take(a, 48, &mix[6 * i], 2);
		take(b, 48, &mix[6 * i + 2], 1);
		take(a, 1000, &mix[6 * i + 3], 1);
		take(b, 9000, &mix[6 * i + 4], 2);
	}
	inbox_free(mix, 24);
	for (int i = 0; i < 24; i++)
		assert_true(is_free(mix[i]));
	assert_null(a->inbox);
	assert_null(b->inbox);
	assert_int_equal(a->bins[size_class(48)].live, 0);
	assert_int_equal(b->bins[size_class(9000)].live, 0);
	assert_int_equal(inbox_pending_bytes(), 0);
}

/* A bin locked by another thread: its blocks wait in the inbox, the other
 * groups of the same batch are freed, and the next refill empties it. */
static void test_busy_bin(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned c48 = size_class(48), c1k = size_class(1000);
	void *mix[20], *again[1];
	take(a, 48, mix, 10);
	take(a, 1000, mix + 10, 10);
	ebb_lock(&a->bins[c48].lock);
	batch_t bt = { mix, 20 };
	run_unblocked(free_batch, &bt);
	ebb_unlock(&a->bins[c48].lock);
	assert_non_null(a->inbox);
	assert_int_equal(a->inbox->n, 10);
	assert_int_equal(inbox_pending_bytes(), 10 * 48);
	for (int i = 0; i < 10; i++) {
		assert_false(is_free(mix[i]));
		assert_true(is_free(mix[10 + i]));
	}
	/* A refill of any class takes them in first. */
	take(a, 1000, again, 1);
	assert_null(a->inbox);
	assert_int_equal(inbox_pending_bytes(), 0);
	for (int i = 0; i < 10; i++)
		assert_true(is_free(mix[i]));
	assert_int_equal(a->bins[c48].live, 0);
	assert_int_equal(a->bins[c1k].live, 1);
	arena_flush(a, c1k, again, 1);
}

/* Two busy bins of one arena share one batch, kept grouped by class. */
static void test_one_batch_per_arena(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned c1 = size_class(64), c2 = size_class(5000);
	void *mix[12];
	for (int i = 0; i < 6; i++) {
		take(a, 64, &mix[2 * i], 1);
		take(a, 5000, &mix[2 * i + 1], 1);
	}
	ebb_lock(&a->bins[c1].lock);
	ebb_lock(&a->bins[c2].lock);
	batch_t bt = { mix, 12 };
	run_unblocked(free_batch, &bt);
	ebb_unlock(&a->bins[c2].lock);
	ebb_unlock(&a->bins[c1].lock);
	inbox_node_t *nd = a->inbox;
	assert_non_null(nd);
	assert_null(nd->next);
	assert_int_equal(nd->n, 12);
	for (unsigned i = 1; i < 12; i++)
		assert_true(pagemap_get(nd->items[i - 1])->cls <= pagemap_get(nd->items[i])->cls);
	assert_true(inbox_drain(a));
	assert_false(inbox_drain(a));
	for (int i = 0; i < 12; i++)
		assert_true(is_free(mix[i]));
}

/* Blocks of two arenas, interleaved, with every bin busy: one batch per
 * arena, holding that arena's blocks only, grouped by class. */
static void test_batches_by_arena(void **state)
{
	(void)state;
	arena_t *a = fresh(), *b = fresh();
	unsigned c1 = size_class(64), c2 = size_class(5000);
	void *mix[16];
	for (int i = 0; i < 4; i++) {
		take(b, 5000, &mix[4 * i], 1);
		take(a, 64, &mix[4 * i + 1], 1);
		take(b, 64, &mix[4 * i + 2], 1);
		take(a, 5000, &mix[4 * i + 3], 1);
	}
	arena_t *both[2] = { a, b };
	for (int k = 0; k < 2; k++) {
		ebb_lock(&both[k]->bins[c1].lock);
		ebb_lock(&both[k]->bins[c2].lock);
	}
	batch_t bt = { mix, 16 };
	run_unblocked(free_batch, &bt);
	for (int k = 0; k < 2; k++) {
		ebb_unlock(&both[k]->bins[c2].lock);
		ebb_unlock(&both[k]->bins[c1].lock);
	}
	for (int k = 0; k < 2; k++) {
		inbox_node_t *nd = both[k]->inbox;
		assert_non_null(nd);
		assert_null(nd->next);
		assert_int_equal(nd->n, 8);
		for (unsigned i = 0; i < 8; i++) {
			span_t *s = pagemap_get(nd->items[i]);
			assert_ptr_equal(s->arena, both[k]);
			if (i)
				assert_true(pagemap_get(nd->items[i - 1])->cls <= s->cls);
		}
		assert_true(inbox_drain(both[k]));
	}
	for (int i = 0; i < 16; i++)
		assert_true(is_free(mix[i]));
}

typedef struct {
	arena_t *a;
	unsigned cls;
	void **items;
	unsigned n;
} class_batch_t;

static void free_class(void *arg)
{
	class_batch_t *b = arg;
	inbox_free_class(b->a, b->cls, b->items, b->n);
}

/* A thread cache's flush of its own arena does not wait either; the
 * purging pass empties the inbox when no refill comes. */
static void test_flush_class_and_purge(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned cls = size_class(300);
	void *v[100];
	take(a, 300, v, 100);
	ebb_lock(&a->bins[cls].lock);
	class_batch_t cb = { a, cls, v, 100 };	/* more than one batch holds */
	run_unblocked(free_class, &cb);
	ebb_unlock(&a->bins[cls].lock);
	assert_non_null(a->inbox);
	assert_non_null(a->inbox->next);
	assert_int_equal(inbox_pending_bytes(), 100 * ebb_classes[cls].size);
	ebb_stats_t st;
	ebb_stats_get(&st);
	assert_true(st.cached >= 100 * ebb_classes[cls].size);
	uint64_t next;
	arena_purge(a, 0, &next);
	assert_null(a->inbox);
	for (int i = 0; i < 100; i++)
		assert_true(is_free(v[i]));
}

/* Past the limit the posting thread empties the inbox itself, waiting for
 * the lock: memory in an inbox is neither reusable nor purgeable. */
static arena_t *limit_arena;

static void *hold_briefly(void *arg)
{
	bin_t *b = arg;
	ebb_lock(&b->lock);
	usleep(200000);
	ebb_unlock(&b->lock);
	return NULL;
}

static void test_limit(void **state)
{
	(void)state;
	arena_t *a = limit_arena = fresh();
	unsigned cls = size_class(32768);
	enum { N = 160 };	/* 5 MiB */
	void *v[N];
	take(a, 32768, v, N);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, hold_briefly, &a->bins[cls]), 0);
	while (ebb_trylock(&a->bins[cls].lock))
		ebb_unlock(&a->bins[cls].lock);	/* until the holder has it */
	for (int i = 0; i < N; i++)
		inbox_free_class(a, cls, &v[i], 1);
	pthread_join(t, NULL);
	assert_true(inbox_pending_bytes() < ((size_t)4 << 20));
	inbox_drain(a);
	for (int i = 0; i < N; i++)
		assert_true(is_free(v[i]));
}

/* A block freed again while it waits in an inbox is a double free, found
 * when the inbox is emptied. */
static void double_child(void *arg)
{
	(void)arg;
	arena_t *a = arena_get(next_index);	/* the parent's next fresh arena */
	unsigned cls = size_class(128);
	void *p;
	take(a, 128, &p, 1);
	ebb_lock(&a->bins[cls].lock);
	inbox_free(&p, 1);
	inbox_free(&p, 1);
	ebb_unlock(&a->bins[cls].lock);
	inbox_drain(a);
}

static void test_double_free_waiting(void **state)
{
	(void)state;
	arena_t *a = fresh();
	next_index--;	/* the child uses the same arena */
	void *p;
	take(a, 128, &p, 1);
	arena_flush(a, size_class(128), &p, 1);	/* the child gets p again */
	int st = in_child(double_child, NULL);
	next_index++;
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	char addr[32];
	snprintf(addr, sizeof(addr), "%p", p);
	assert_non_null(strstr(child_err, "double free"));
	assert_non_null(strstr(child_err, addr));
}

/* fork() in the middle: the child can still post and drain. */
static void test_fork(void **state)
{
	(void)state;
	arena_t *a = fresh();
	unsigned cls = size_class(200);
	void *v[8];
	take(a, 200, v, 8);
	ebb_lock(&a->bins[cls].lock);
	batch_t bt = { v, 4 };
	run_unblocked(free_batch, &bt);
	ebb_unlock(&a->bins[cls].lock);
	pid_t pid = fork();
	if (pid == 0) {
		ebb_lock(&a->bins[cls].lock);
		inbox_free(v + 4, 4);
		ebb_unlock(&a->bins[cls].lock);
		inbox_drain(a);
		for (int i = 0; i < 8; i++)
			if (!is_free(v[i]))
				_exit(1);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	inbox_drain(a);
	inbox_free(v + 4, 4);
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
		cmocka_unit_test(test_free_direct),
		cmocka_unit_test(test_busy_bin),
		cmocka_unit_test(test_one_batch_per_arena),
		cmocka_unit_test(test_batches_by_arena),
		cmocka_unit_test(test_flush_class_and_purge),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_double_free_waiting),
		cmocka_unit_test(test_fork),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
