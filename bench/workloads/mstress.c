/* mstress: random object lifetimes and sizes across many threads, in the
 * spirit of mimalloc-bench's mstress (written from its description, not
 * its code).
 *
 * usage: mstress THREADS ROUNDS STEPS_PER_ROUND [WORKING_SET]
 *
 * Each thread index owns a working set of WORKING_SET object slots. In each
 * of ROUNDS rounds, THREADS fresh threads are started and thread t takes
 * over working set t from the previous round's thread t (so objects are
 * freed by other threads than their allocators, and thread caches are
 * created and torn down all the time). A step replaces the object in a
 * random slot: nine steps in ten use the first tenth of the slots (short
 * lifetimes), the rest any slot (long lifetimes). Sizes are skewed small:
 * 70 % 16-256 B, 23 % 257 B-4 KiB, 6 % 4-64 KiB, 0.9 % 64-256 KiB and
 * 0.1 % 256 KiB-1 MiB; every page of a new object is written. One step in a
 * hundred also swaps the object with one in a shared transfer array, so it
 * is freed by some other thread later.
 */
#include <pthread.h>
#include <stdatomic.h>
#include "common.h"

static size_t nthreads, rounds, steps, wset;
static void **sets;
static _Atomic(void *) *xfer;
static size_t nxfer;

static size_t skewed_size(rng_t *r)
{
	size_t x = rng_below(r, 1000);
	if (x < 700)
		return rng_range(r, 16, 256);
	if (x < 930)
		return rng_range(r, 257, 4096);
	if (x < 990)
		return rng_range(r, 4097, 65536);
	if (x < 999)
		return rng_range(r, 65537, 262144);
	return rng_range(r, 262145, 1 << 20);
}

struct job {
	size_t t, round;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	rng_t r = rng_seed(j->t * 7919 + j->round * 104729 + 1);
	void **set = sets + j->t * wset;
	size_t hot = wset / 10 ? wset / 10 : 1;
	for (size_t s = 0; s < steps; s++) {
		size_t i = rng_below(&r, 10) ? rng_below(&r, hot) : rng_below(&r, wset);
		if (set[i]) {
			obj_check(set[i]);
			free(set[i]);
		}
		size_t n = skewed_size(&r);
		void *p = must_malloc(n);
		obj_init(p, n);
		touch_pages(p, 16, n - 1);
		if (rng_below(&r, 100) == 0)
			p = atomic_exchange_explicit(&xfer[rng_below(&r, nxfer)], p,
						     memory_order_acq_rel);
		set[i] = p; /* may be NULL: an empty transfer slot */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: mstress THREADS ROUNDS STEPS_PER_ROUND [WORKING_SET]\n");
		return 2;
	}
	nthreads = arg_num(argc, argv, 1, 1);
	rounds = arg_num(argc, argv, 2, 1);
	steps = arg_num(argc, argv, 3, 1);
	wset = arg_num(argc, argv, 4, 2000);
	nxfer = 64 * nthreads;

	sets = calloc(nthreads * wset, sizeof *sets);
	xfer = calloc(nxfer, sizeof *xfer);
	pthread_t *tid = must_malloc(nthreads * sizeof *tid);
	struct job *jobs = must_malloc(nthreads * sizeof *jobs);
	if (!sets || !xfer)
		die("calloc failed");
	for (size_t round = 0; round < rounds; round++) {
		for (size_t t = 0; t < nthreads; t++) {
			jobs[t] = (struct job){ t, round };
			if (pthread_create(&tid[t], NULL, worker, &jobs[t]))
				die("pthread_create failed");
		}
		for (size_t t = 0; t < nthreads; t++)
			pthread_join(tid[t], NULL);
	}
	size_t live = 0;
	for (size_t i = 0; i < nthreads * wset; i++)
		if (sets[i]) {
			obj_check(sets[i]);
			free(sets[i]);
			live++;
		}
	for (size_t i = 0; i < nxfer; i++) {
		void *p = atomic_load(&xfer[i]);
		if (p) {
			obj_check(p);
			free(p);
			live++;
		}
	}
	printf("mstress: threads=%zu rounds=%zu steps/round=%zu live-at-end=%zu\n",
	       nthreads, rounds, steps, live);
	free(sets);
	free((void *)xfer);
	free(tid);
	free(jobs);
	return 0;
}
