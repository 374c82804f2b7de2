/* larson: a server simulation in the style of Larson and Krishnan's
 * allocator benchmark (written from its description, not its code).
 *
 * usage: larson THREADS OPS_PER_THREAD [SLOTS_PER_THREAD] [EPOCH]
 *
 * A shared array holds THREADS x SLOTS_PER_THREAD object pointers, in one
 * chunk per thread. Each operation picks a random slot, allocates an object
 * of a random size (16-1000 bytes), stamps it, swaps it into the slot and
 * frees the object it displaced. Every EPOCH operations a thread moves on to
 * the next thread's chunk, so most objects are freed by another thread than
 * the one that allocated them, as when a server hands a connection's state
 * from one worker to the next. The slot swap is atomic, so two threads on
 * the same chunk are safe. Each thread does exactly OPS_PER_THREAD
 * operations.
 */
#include <pthread.h>
#include <stdatomic.h>
#include "common.h"

static size_t nthreads, ops, per_thread, epoch;
static _Atomic(void *) *slots;
static pthread_barrier_t start;

static void *worker(void *arg)
{
	size_t t = (size_t)arg;
	rng_t r = rng_seed(t + 1);
	pthread_barrier_wait(&start);
	for (size_t i = 0; i < ops; i++) {
		size_t chunk = (t + i / epoch) % nthreads;
		size_t idx = chunk * per_thread + rng_below(&r, per_thread);
		size_t n = rng_range(&r, 16, 1000);
		void *p = must_malloc(n);
		obj_init(p, n);
		void *old = atomic_exchange_explicit(&slots[idx], p, memory_order_acq_rel);
		if (old) {
			obj_check(old);
			free(old);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: larson THREADS OPS_PER_THREAD [SLOTS_PER_THREAD] [EPOCH]\n");
		return 2;
	}
	nthreads = arg_num(argc, argv, 1, 1);
	ops = arg_num(argc, argv, 2, 1);
	per_thread = arg_num(argc, argv, 3, 1000);
	epoch = arg_num(argc, argv, 4, 20000);

	slots = calloc(nthreads * per_thread, sizeof *slots);
	pthread_t *tid = must_malloc(nthreads * sizeof *tid);
	if (!slots)
		die("calloc failed");
	pthread_barrier_init(&start, NULL, (unsigned)nthreads);
	for (size_t t = 0; t < nthreads; t++)
		if (pthread_create(&tid[t], NULL, worker, (void *)t))
			die("pthread_create failed");
	for (size_t t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);

	size_t live = 0;
	for (size_t i = 0; i < nthreads * per_thread; i++) {
		void *p = atomic_load(&slots[i]);
		if (p) {
			obj_check(p);
			free(p);
			live++;
		}
	}
	printf("larson: threads=%zu ops/thread=%zu slots=%zu live-at-end=%zu\n",
	       nthreads, ops, nthreads * per_thread, live);
	free(slots);
	free(tid);
	return 0;
}
