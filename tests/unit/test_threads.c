/* Multi-threaded tests of the whole allocator: blocks passed between threads
 * keep their contents, and fork() while other threads allocate leaves a
 * child that can allocate (the atfork handlers in src/init.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ebbmalloc.h"

#define NT 4
#define ITERS 30000
#define QLEN 256

typedef struct {
	uint32_t magic, owner;
	size_t size;
} hdr_t;

static struct queue {
	pthread_mutex_t mu;
	unsigned head, n;
	hdr_t *items[QLEN];
} q[NT];

static int errors;	/* atomic */

static void bad(void)
{
	__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
}

static unsigned char byte_at(const hdr_t *h, size_t i)
{
	return (unsigned char)(i ^ h->owner ^ h->size);
}

static void check_and_free(hdr_t *h)
{
	if (h->magic != 0xfeedbeef) {
		bad();
		return;
	}
	unsigned char *b = (unsigned char *)h;
	for (size_t i = sizeof(*h); i < h->size; i += 61)
		if (b[i] != byte_at(h, i))
			bad();
	if (ebb_malloc_usable_size(h) < h->size)
		bad();
	h->magic = 0;
	ebb_free(h);
}

static bool push(struct queue *qu, hdr_t *h)
{
	pthread_mutex_lock(&qu->mu);
	bool ok = qu->n < QLEN;
	if (ok)
		qu->items[(qu->head + qu->n++) % QLEN] = h;
	pthread_mutex_unlock(&qu->mu);
	return ok;
}

static hdr_t *pop(struct queue *qu)
{
	hdr_t *h = NULL;
	pthread_mutex_lock(&qu->mu);
	if (qu->n) {
		h = qu->items[qu->head];
		qu->head = (qu->head + 1) % QLEN;
		qu->n--;
	}
	pthread_mutex_unlock(&qu->mu);
	return h;
}

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, x = id * 7919 + 1;
	for (int i = 0; i < ITERS; i++) {
		x = x * 1103515245 + 12345;
		unsigned r = x >> 8;
		size_t size = r % 100 == 0 ? 20000 + r % 200000 : r % 1000 == 1 ? (size_t)2 << 20 : 24 + r % 2000;
		hdr_t *h = (r & 1) ? ebb_malloc(size) : ebb_calloc(1, size);
		if (!h) {
			bad();
			continue;
		}
		h->magic = 0xfeedbeef;
		h->owner = id;
		h->size = size;
		unsigned char *b = (unsigned char *)h;
		for (size_t j = sizeof(*h); j < size; j += 61)
			b[j] = byte_at(h, j);
		/* Half go to the next thread, half are freed here. */
		if (!(r & 2) || !push(&q[(id + 1) % NT], h))
			check_and_free(h);
		hdr_t *in = pop(&q[id]);
		if (in)
			check_and_free(in);
		if (i % 5000 == 0) {	/* resize some in place or across kinds */
			hdr_t *t = ebb_malloc(100);
			t = ebb_realloc(t, 50000 + r % 3000000);
			ebb_free(ebb_realloc(t, 10));
		}
	}
	return NULL;
}

static void test_pass_blocks(void **state)
{
	(void)state;
	unsigned n0 = ebb_thread_count();
	pthread_t t[NT];
	for (int i = 0; i < NT; i++)
		pthread_mutex_init(&q[i].mu, NULL);
	for (uintptr_t i = 0; i < NT; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NT; i++)
		for (hdr_t *h; (h = pop(&q[i]));)
			check_and_free(h);
	assert_int_equal(errors, 0);
	assert_int_equal(ebb_thread_count(), n0);
}

/* ---- fork while other threads hold the allocator's locks ---- */

static int stop;	/* atomic */

static void *churn(void *arg)
{
	(void)arg;
	void *keep[64] = { 0 };
	for (unsigned i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
		unsigned k = i % 64;
		ebb_free(keep[k]);
		keep[k] = ebb_malloc((i * 37) % 3000 + (i % 97 == 0 ? 70000 : 0));
	}
	for (int k = 0; k < 64; k++)
		ebb_free(keep[k]);
	return NULL;
}

static void test_fork_busy(void **state)
{
	(void)state;
	pthread_t t[3];
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn, NULL), 0);
	for (int f = 0; f < 30; f++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			alarm(10);	/* a lock left held would hang: die instead */
			int code = ebb_thread_count() == 1 ? 0 : 1;
			for (int i = 0; i < 2000; i++) {
				void *p = ebb_malloc((size_t)i * 13 % 5000 + (i % 100 == 0 ? 200000 : 0));
				if (!p)
					code = 2;
				ebb_free(p);
			}
			ebb_free(ebb_malloc(3 << 20));
			_exit(code);
		}
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail_msg("fork %d: child status %#x", f, st);
		usleep(1000);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_blocks),
		cmocka_unit_test(test_fork_busy),
	};
	ebb_free(ebb_malloc(1));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
