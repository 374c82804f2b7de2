/* fastpath: cost of one malloc+free pair on the allocator's fast path.
 *
 * usage: fastpath time  SIZE ITERATIONS REPEATS
 *        fastpath count SIZE ITERATIONS
 *
 * 256 blocks of SIZE bytes are allocated first and stay live, so the page
 * or slab the pairs use never empties and is never handed back. After a
 * warm-up of 100000 pairs, run_loop() does ITERATIONS times: p = malloc(SIZE),
 * write one byte, free(p).
 *
 * "time" repeats the loop REPEATS times and prints the best (lowest)
 * nanoseconds per pair, measured with clock_gettime(CLOCK_MONOTONIC).
 * "count" runs it once, for valgrind --tool=callgrind: bench/run.py runs it
 * with two iteration counts and divides the difference in instructions by
 * the difference in iterations, so start-up, the live blocks and the
 * warm-up cancel out. run_loop() is a separate, never-inlined function so
 * that its own instructions (the loop's counter, the byte written, the
 * NULL check and the calls) can be reported apart.
 */
#include <time.h>
#include "common.h"

#define LIVE 256
#define WARMUP 100000

static void *live[LIVE];

__attribute__((noinline)) static void run_loop(size_t size, size_t iters)
{
	for (size_t i = 0; i < iters; i++) {
		char *p = malloc(size);
		if (__builtin_expect(!p, 0))
			die("malloc(%zu) returned NULL", size);
		*(volatile char *)p = (char)i;
		escape(p);
		free(p);
	}
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "time") && strcmp(argv[1], "count"))) {
		fprintf(stderr, "usage: fastpath time SIZE ITERATIONS REPEATS\n"
				"       fastpath count SIZE ITERATIONS\n");
		return 2;
	}
	int timing = !strcmp(argv[1], "time");
	size_t size = arg_num(argc, argv, 2, 16);
	size_t iters = arg_num(argc, argv, 3, 1);
	size_t repeats = timing ? arg_num(argc, argv, 4, 5) : 1;

	for (size_t i = 0; i < LIVE; i++) {
		live[i] = must_malloc(size);
		escape(live[i]);
	}
	run_loop(size, WARMUP);
	if (timing) {
		double best = 0;
		for (size_t r = 0; r < repeats; r++) {
			double t0 = now_ns();
			run_loop(size, iters);
			double t = now_ns() - t0;
			if (r == 0 || t < best)
				best = t;
		}
		printf("ns_per_pair %.3f\n", best / (double)iters);
	} else {
		run_loop(size, iters);
		printf("pairs %zu\n", iters);
	}
	for (size_t i = 0; i < LIVE; i++)
		free(live[i]);
	return 0;
}
