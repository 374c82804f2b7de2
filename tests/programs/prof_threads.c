/* Heap-profiling test program: three threads, alive at the same time, each
 * leak a known number of 512-byte blocks from their own function:
 * thread_leak_a 100, thread_leak_b 200, thread_leak_c 300. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

void *volatile sink;
static pthread_barrier_t all_started, all_done;

#define LEAKER(name, count)                                \
	__attribute__((noinline)) void name(void)          \
	{                                                  \
		for (int i = 0; i < (count); i++)          \
			sink = malloc(512);                \
	}
LEAKER(thread_leak_a, 100)
LEAKER(thread_leak_b, 200)
LEAKER(thread_leak_c, 300)

static void *worker(void *arg)
{
	void (*leak)(void) = (void (*)(void))arg;
	/* All three exist before any allocates, so each gets its own cache
	 * (and thread number); none exits before all are done. */
	pthread_barrier_wait(&all_started);
	leak();
	pthread_barrier_wait(&all_done);
	return NULL;
}

int main(void)
{
	void (*fns[3])(void) = { thread_leak_a, thread_leak_b, thread_leak_c };
	pthread_t t[3];
	pthread_barrier_init(&all_started, NULL, 3);
	pthread_barrier_init(&all_done, NULL, 3);
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)fns[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("prof_threads: leaked 100, 200 and 300 blocks of 512 bytes\n");
	return 0;
}
