/* cache-scratch: passive false sharing, after the cache-scratch test that
 * came with the Hoard allocator (written from its description, not its
 * code).
 *
 * usage: cache-scratch THREADS ITERATIONS REPETITIONS [OBJECT_SIZE]
 *
 * The main thread allocates one small object per thread, back to back, so
 * they are likely to share cache lines, and hands object t to thread t.
 * Each thread frees the object it was given, then ITERATIONS times
 * allocates an object of the same size, writes each of its bytes
 * REPETITIONS times and frees it. An allocator that gives the freed object
 * (or its neighbours) back to the thread that freed it makes the threads
 * write into the same cache lines: the writes then bounce lines between
 * cores and the run is slow. An allocator that keeps each thread's small
 * objects apart is not affected.
 */
#include <pthread.h>
#include "common.h"

static size_t iterations, repetitions, objsize;
static void **handed;
static pthread_barrier_t start;

static void *worker(void *arg)
{
	size_t t = (size_t)arg;
	pthread_barrier_wait(&start);
	free(handed[t]);
	for (size_t i = 0; i < iterations; i++) {
		volatile unsigned char *p = must_malloc(objsize);
		for (size_t r = 0; r < repetitions; r++)
			for (size_t j = 0; j < objsize; j++)
				p[j]++;
		free((void *)p);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: cache-scratch THREADS ITERATIONS REPETITIONS [OBJECT_SIZE]\n");
		return 2;
	}
	size_t nthreads = arg_num(argc, argv, 1, 1);
	iterations = arg_num(argc, argv, 2, 1);
	repetitions = arg_num(argc, argv, 3, 1);
	objsize = arg_num(argc, argv, 4, 8);

	handed = must_malloc(nthreads * sizeof *handed);
	for (size_t t = 0; t < nthreads; t++)
		handed[t] = must_malloc(objsize);
	pthread_t *tid = must_malloc(nthreads * sizeof *tid);
	pthread_barrier_init(&start, NULL, (unsigned)nthreads);
	for (size_t t = 0; t < nthreads; t++)
		if (pthread_create(&tid[t], NULL, worker, (void *)t))
			die("pthread_create failed");
	for (size_t t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);
	printf("cache-scratch: threads=%zu iterations=%zu repetitions=%zu size=%zu\n",
	       nthreads, iterations, repetitions, objsize);
	free(tid);
	free(handed);
	return 0;
}
