/* xmalloc: producer/consumer allocation, in the spirit of the xmalloc-test
 * benchmark (written from its description, not its code).
 *
 * usage: xmalloc THREADS BATCHES_PER_PRODUCER [BATCH_SIZE] [MAX_SIZE]
 *
 * Half of the threads (at least one) produce: each fills BATCHES_PER_PRODUCER
 * batches of BATCH_SIZE freshly allocated objects (16..MAX_SIZE bytes,
 * uniform) and pushes every batch onto a bounded queue (a mutex and two
 * condition variables; at most 4 batches per thread wait in it). The other
 * threads consume: they pop a batch, check and free each object, then free
 * the batch itself. Every object is therefore freed by another thread than
 * the one that allocated it, the pattern of a pipeline or a message queue.
 */
#include <pthread.h>
#include "common.h"

typedef struct batch {
	struct batch *next;
	size_t n;
	void *obj[];
} batch_t;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t nonempty, nonfull;
	batch_t *head, *tail;
	size_t count, cap, producers_left;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
	NULL, NULL, 0, 0, 0 };

static size_t batches, batch_size, max_size;

static void push(batch_t *b)
{
	pthread_mutex_lock(&q.lock);
	while (q.count >= q.cap)
		pthread_cond_wait(&q.nonfull, &q.lock);
	b->next = NULL;
	if (q.tail)
		q.tail->next = b;
	else
		q.head = b;
	q.tail = b;
	q.count++;
	pthread_cond_signal(&q.nonempty);
	pthread_mutex_unlock(&q.lock);
}

/* NULL once every producer is done and the queue is empty. */
static batch_t *pop(void)
{
	pthread_mutex_lock(&q.lock);
	while (!q.head && q.producers_left)
		pthread_cond_wait(&q.nonempty, &q.lock);
	batch_t *b = q.head;
	if (b) {
		q.head = b->next;
		if (!q.head)
			q.tail = NULL;
		q.count--;
		pthread_cond_signal(&q.nonfull);
	}
	pthread_mutex_unlock(&q.lock);
	return b;
}

static void *producer(void *arg)
{
	rng_t r = rng_seed((size_t)arg + 1);
	for (size_t i = 0; i < batches; i++) {
		batch_t *b = must_malloc(sizeof *b + batch_size * sizeof(void *));
		b->n = batch_size;
		for (size_t j = 0; j < batch_size; j++) {
			size_t n = rng_range(&r, 16, max_size);
			b->obj[j] = must_malloc(n);
			obj_init(b->obj[j], n);
		}
		push(b);
	}
	pthread_mutex_lock(&q.lock);
	if (--q.producers_left == 0)
		pthread_cond_broadcast(&q.nonempty);
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

static size_t freed_total;
static pthread_mutex_t freed_lock = PTHREAD_MUTEX_INITIALIZER;

static void *consumer(void *arg)
{
	(void)arg;
	size_t freed = 0;
	batch_t *b;
	while ((b = pop())) {
		for (size_t j = 0; j < b->n; j++) {
			obj_check(b->obj[j]);
			free(b->obj[j]);
		}
		freed += b->n;
		free(b);
	}
	pthread_mutex_lock(&freed_lock);
	freed_total += freed;
	pthread_mutex_unlock(&freed_lock);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: xmalloc THREADS BATCHES_PER_PRODUCER [BATCH_SIZE] [MAX_SIZE]\n");
		return 2;
	}
	size_t nthreads = arg_num(argc, argv, 1, 2);
	batches = arg_num(argc, argv, 2, 1);
	batch_size = arg_num(argc, argv, 3, 256);
	max_size = arg_num(argc, argv, 4, 512);
	if (max_size < 16)
		die("MAX_SIZE must be at least 16");
	if (nthreads < 2)
		nthreads = 2;
	size_t producers = nthreads / 2, consumers = nthreads - producers;
	q.cap = 4 * nthreads;
	q.producers_left = producers;

	pthread_t *tid = must_malloc(nthreads * sizeof *tid);
	for (size_t t = 0; t < nthreads; t++)
		if (pthread_create(&tid[t], NULL, t < producers ? producer : consumer, (void *)t))
			die("pthread_create failed");
	for (size_t t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);
	if (freed_total != producers * batches * batch_size)
		die("freed %zu objects, expected %zu", freed_total, producers * batches * batch_size);
	printf("xmalloc: producers=%zu consumers=%zu objects=%zu\n", producers, consumers, freed_total);
	free(tid);
	return 0;
}
