/* bigrealloc: big buffers that grow with realloc, as a program reading a
 * stream into a growing buffer does.
 *
 * usage: bigrealloc STEPS [BUFFERS]
 *
 * BUFFERS (default 8) buffers each start at a random size of 64-128 KiB.
 * A step picks a buffer at random and grows it by half (plus a few random
 * bytes) with realloc, up to 32 MiB; a buffer at the limit, or one step in
 * sixteen, is freed and restarted. The new part of a grown buffer is
 * written (one byte per page, as if filled), and after every realloc the
 * buffer's stamped head and the byte at its old end are checked.
 */
#include "common.h"

#define MIN_START (64 << 10)
#define MAX_SIZE (32 << 20)

struct buf {
	unsigned char *p;
	size_t size;
	uint64_t key;
};

static void restart(struct buf *b, rng_t *r)
{
	free(b->p);
	b->size = rng_range(r, MIN_START, 2 * MIN_START);
	b->key = rng_next(r);
	b->p = must_malloc(b->size);
	obj_init_key(b->p, b->size, b->key);
	touch_pages(b->p, 16, b->size - 1);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bigrealloc STEPS [BUFFERS]\n");
		return 2;
	}
	size_t steps = arg_num(argc, argv, 1, 1);
	size_t nbuf = arg_num(argc, argv, 2, 8);
	struct buf *bufs = calloc(nbuf, sizeof *bufs);
	if (!bufs)
		die("calloc failed");
	rng_t r = rng_seed(42);
	size_t reallocs = 0;

	for (size_t i = 0; i < nbuf; i++)
		restart(&bufs[i], &r);
	for (size_t s = 0; s < steps; s++) {
		struct buf *b = &bufs[rng_below(&r, nbuf)];
		if (b->size >= MAX_SIZE || rng_below(&r, 16) == 0) {
			obj_check_key(b->p, b->key);
			restart(b, &r);
			continue;
		}
		size_t old = b->size;
		size_t n = old + old / 2 + rng_below(&r, 4096);
		if (n > MAX_SIZE)
			n = MAX_SIZE;
		unsigned char last = b->p[old - 1];
		unsigned char *p = realloc(b->p, n);
		if (!p)
			die("realloc(%zu) returned NULL", n);
		reallocs++;
		/* The header still holds the old size: check, then restamp. */
		obj_check_key(p, b->key);
		if (p[old - 1] != last)
			die("realloc lost the byte at offset %zu", old - 1);
		b->p = p;
		b->size = n;
		obj_init_key(p, n, b->key);
		touch_pages(p, old, n - 1);
	}
	for (size_t i = 0; i < nbuf; i++) {
		obj_check_key(bufs[i].p, bufs[i].key);
		free(bufs[i].p);
	}
	free(bufs);
	printf("bigrealloc: steps=%zu buffers=%zu reallocs=%zu\n", steps, nbuf, reallocs);
	return 0;
}
