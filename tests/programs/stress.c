/* Multi-threaded allocator stress test.
 *
 *   stress [THREADS [OPS_PER_THREAD [SEED]]]      (defaults: 8 250000 1)
 *
 * THREADS threads run OPS_PER_THREAD random operations each: malloc, calloc,
 * realloc, reallocarray, memalign, posix_memalign, aligned_alloc, valloc,
 * pvalloc and free, sizes 0 B to 1 MiB (skewed small, with a few huge blocks
 * up to 2 MiB and the size-class edges). Blocks are handed between threads
 * through a shared array of slots with atomic exchange, so a block is often
 * freed or realloc'd by another thread than the one that made it.
 *
 * Every block is filled with a pattern derived from its address and size
 * (every word up to 64 KiB; beyond, the first and last 4 KiB and one word in
 * every 4 KiB), and the pattern is checked before the block is freed or
 * realloc'd: realloc must preserve the prefix. calloc blocks are checked to
 * be zero, aligned blocks to be aligned, and malloc_usable_size to be at least
 * the request (the slack up to it is written too, so an overstated usable
 * size corrupts a neighbour and is caught).
 *
 * Prints one summary line and exits 0; on any error prints "stress: FAIL ..."
 * on stderr and aborts. Works with any malloc; the summary says whether
 * ebbmalloc served it (weak reference to ebb_is_active, so the same source
 * runs preloaded, dynamically linked or linked with -DEBB_LINKED statically).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ebbmalloc.h"

#ifndef EBB_LINKED
#pragma weak ebb_is_active
#pragma weak ebb_thread_count
#endif

#define NSLOTS 4096
#define FULL_MAX ((size_t)64 << 10)	/* blocks up to this are filled whole */
#define EDGE_WORDS 512			/* else: 4 KiB at each end... */
#define STRIDE_WORDS 512		/* ...and one word every 4 KiB */
#define SIZE_BITS 21			/* packed slot: size < 2 MiB */
#define SIZE_LIMIT (((size_t)1 << SIZE_BITS) - 1)

static uint64_t slots[NSLOTS];

typedef struct {
	pthread_t tid;
	unsigned index;
	uint64_t rng;
	unsigned long ops, allocs, frees, reallocs;
	unsigned long long bytes;
} worker_t;

static unsigned long ops_per_thread = 250000;

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "stress: FAIL %s\n", buf);
	abort();
}

static inline uint64_t next(worker_t *w)
{
	/* xorshift64* */
	uint64_t x = w->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline uint64_t seed_of(const void *p, size_t n)
{
	return mix64((uint64_t)(uintptr_t)p ^ ((uint64_t)n << 47) ^ 0x5bd1e995ULL);
}

static inline uint64_t word_at(uint64_t seed, size_t i)
{
	return mix64(seed + i * 0x9E3779B97F4A7C15ULL);
}

/* Writes (check == 0) or checks the pattern of a block of n bytes that was
 * made at address `from` (the pattern's key), looking only at its first len
 * bytes in the memory at p. Returns the offset of the first bad byte or
 * (size_t)-1. */
static size_t pattern(unsigned char *p, const void *from, size_t n, size_t len, int check)
{
	uint64_t seed = seed_of(from, n);
	size_t nw = (n + 7) / 8;
	if (len > n)
		len = n;
	for (size_t i = 0; i < nw && i * 8 < len;) {
		size_t off = i * 8, k = len - off < 8 ? len - off : 8;
		uint64_t w = word_at(seed, i);
		if (check) {
			if (memcmp(p + off, &w, k) != 0) {
				for (size_t b = 0; b < k; b++)
					if (p[off + b] != ((unsigned char *)&w)[b])
						return off + b;
			}
		} else {
			memcpy(p + off, &w, k);
		}
		if (n <= FULL_MAX || i < EDGE_WORDS || i + EDGE_WORDS >= nw) {
			i++;
		} else {
			/* jump to the next sampled word */
			size_t nx = (i / STRIDE_WORDS + 1) * STRIDE_WORDS, tail = nw - EDGE_WORDS;
			i = nx < tail ? nx : tail;
		}
	}
	return (size_t)-1;
}

static inline uint64_t pack(void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p;
	if (a & 15)
		die("block %p of %zu bytes is not 16-byte aligned", p, n);
	if (a >> 47)
		die("block %p is outside the 47-bit user address space", p);
	if (n > SIZE_LIMIT)
		die("internal: size %zu too large to pack", n);
	return ((uint64_t)(a >> 4) << SIZE_BITS) | n;
}

static inline void *unpack(uint64_t v, size_t *n)
{
	*n = (size_t)(v & SIZE_LIMIT);
	return (void *)(uintptr_t)((v >> SIZE_BITS) << 4);
}

static size_t rand_size(worker_t *w)
{
	static const size_t edges[] = { 0,     1,     8,     15,    16,     17,     127,     128,
					129,   1023,  1024,  1025,  4095,   4096,   4097,    32767,
					32768, 32769, 65536, 65537, 262144, 524288, 1048575, 1048576,
					1048577 };
	unsigned r = (unsigned)(next(w) % 1000);
	if (r < 580)
		return next(w) % 129;
	if (r < 830)
		return 129 + next(w) % (1024 - 128);
	if (r < 930)
		return 1025 + next(w) % (36 << 10);
	if (r < 975)
		return (37 << 10) + next(w) % (220 << 10);
	if (r < 990)
		return edges[next(w) % (sizeof(edges) / sizeof(edges[0]))];
	if (r < 998)
		return next(w) % ((size_t)1 << 20) + 1;
	return ((size_t)1 << 20) + 1 + next(w) % (SIZE_LIMIT - ((size_t)1 << 20));
}

static size_t rand_align(worker_t *w)
{
	unsigned r = (unsigned)(next(w) % 100);
	if (r < 60)
		return (size_t)16 << (next(w) % 3);	/* 16..64 */
	if (r < 90)
		return (size_t)128 << (next(w) % 6);	/* 128..4096 */
	if (r < 99)
		return (size_t)8192 << (next(w) % 4);	/* 8 KiB..64 KiB */
	return (size_t)1 << (20 + next(w) % 2);	/* 1 MiB, 2 MiB */
}

static void after_alloc(worker_t *w, void *p, size_t n, size_t align, int zeroed, const char *fn)
{
	if (!p)
		die("%s(%zu) failed: %s", fn, n, strerror(errno));
	if (align && ((uintptr_t)p & (align - 1)))
		die("%s(align %zu, %zu) returned %p, misaligned", fn, align, n, p);
	size_t us = malloc_usable_size(p);
	if (us < n)
		die("%s(%zu) returned %p with malloc_usable_size %zu", fn, n, p, us);
	if (zeroed) {
		size_t lim = n < (256 << 10) ? n : (256 << 10);
		for (size_t i = 0; i < lim; i++)
			if (((unsigned char *)p)[i])
				die("%s(%zu) returned %p with byte %zu = %#x, not zero", fn, n, p, i,
				    ((unsigned char *)p)[i]);
		for (size_t i = lim; i < n; i += 4096)
			if (((unsigned char *)p)[i] || ((unsigned char *)p)[n - 1])
				die("%s(%zu) returned %p not zero at %zu", fn, n, p, i);
	}
	pattern(p, p, n, n, 0);
	/* The slack up to the usable size is ours too (a few bytes written). */
	if (us > n)
		memset((char *)p + n, 0xA5, us - n < 64 ? us - n : 64);
	w->allocs++;
	w->bytes += n;
}

static void *alloc_random(worker_t *w, size_t *np)
{
	size_t n = rand_size(w), a = 0;
	void *p = NULL;
	const char *fn;
	int zeroed = 0;
	unsigned r = (unsigned)(next(w) % 100);
	if (r < 40) {
		fn = "malloc";
		p = malloc(n);
		a = 16;
	} else if (r < 55) {
		fn = "calloc";
		size_t m = 1 + next(w) % 4;
		n = n / m;
		p = calloc(n, m);
		n *= m;
		zeroed = 1;
		a = 16;
	} else if (r < 60) {
		fn = "realloc(NULL)";
		p = realloc(NULL, n);
		a = 16;
	} else if (r < 70) {
		fn = "memalign";
		a = rand_align(w);
		p = memalign(a, n);
	} else if (r < 80) {
		fn = "posix_memalign";
		a = rand_align(w);
		int e = posix_memalign(&p, a, n);
		if (e) {
			errno = e;
			p = NULL;
		}
	} else if (r < 90) {
		fn = "aligned_alloc";
		a = rand_align(w);
		p = aligned_alloc(a, n);
	} else if (r < 95) {
		fn = "valloc";
		a = 4096;
		p = valloc(n);
	} else {
		fn = "pvalloc";
		a = 4096;
		p = pvalloc(n);
	}
	after_alloc(w, p, n, a, zeroed, fn);
	*np = n;
	return p;
}

static void check_block(void *p, size_t n, const char *what)
{
	size_t bad = pattern(p, p, n, n, 1);
	if (bad != (size_t)-1)
		die("%s: block %p of %zu bytes corrupted at offset %zu", what, p, n, bad);
}

static void check_free(worker_t *w, uint64_t v)
{
	size_t n;
	void *p = unpack(v, &n);
	check_block(p, n, "before free");
	free(p);
	w->frees++;
}

/* realloc a block taken from a slot; returns its new packed value or 0. */
static uint64_t do_realloc(worker_t *w, uint64_t v)
{
	size_t n, m;
	void *p = unpack(v, &n);
	check_block(p, n, "before realloc");
	unsigned r = (unsigned)(next(w) % 100);
	if (r < 40)	/* near the old size: in-place paths */
		m = n + (next(w) % 64) - (n >= 32 ? 32 : n);
	else if (r < 45)
		m = n * 2 + 1;
	else if (r < 50)
		m = n / 2;
	else
		m = rand_size(w);
	if (m > SIZE_LIMIT)
		m = SIZE_LIMIT;
	void *q;
	const char *fn = "realloc";
	w->reallocs++;
	if (m == 0 && (r & 1)) {
		/* glibc frees and returns NULL here; others may return a block. */
		q = realloc(p, 0);
		if (!q)
			return 0;
		after_alloc(w, q, 0, 16, 0, fn);
		return pack(q, 0);
	}
	if (m == 0)
		m = 1;
	if (r % 7 == 0 && m % 4 == 0) {
		fn = "reallocarray";
		q = reallocarray(p, m / 4, 4);
	} else {
		q = realloc(p, m);
	}
	if (!q)
		die("%s(%p, %zu) failed: %s", fn, p, m, strerror(errno));
	size_t keep = n < m ? n : m;
	size_t bad = pattern(q, p, n, keep, 1);
	if (bad != (size_t)-1)
		die("%s(%p [%zu bytes], %zu) = %p lost the prefix: offset %zu differs", fn, p, n, m, q,
		    bad);
	after_alloc(w, q, m, 16, 0, fn);
	w->allocs--;	/* after_alloc counted it */
	return pack(q, m);
}

static void burst(worker_t *w)
{
	void *local[32];
	size_t sizes[32];
	unsigned k = 1 + (unsigned)(next(w) % 32);
	for (unsigned i = 0; i < k; i++) {
		sizes[i] = next(w) % 512;
		local[i] = malloc(sizes[i]);
		after_alloc(w, local[i], sizes[i], 16, 0, "malloc");
	}
	/* Free in a shuffled order. */
	for (unsigned i = k; i > 1; i--) {
		unsigned j = (unsigned)(next(w) % i);
		void *t = local[i - 1];
		size_t ts = sizes[i - 1];
		local[i - 1] = local[j];
		sizes[i - 1] = sizes[j];
		local[j] = t;
		sizes[j] = ts;
	}
	for (unsigned i = 0; i < k; i++) {
		check_block(local[i], sizes[i], "before free (burst)");
		free(local[i]);
		w->frees++;
	}
}

static void *worker(void *arg)
{
	worker_t *w = arg;
	for (unsigned long i = 0; i < ops_per_thread; i++) {
		unsigned r = (unsigned)(next(w) % 100);
		uint64_t *slot = &slots[next(w) % NSLOTS];
		w->ops++;
		if (r < 45) {
			size_t n;
			void *p = alloc_random(w, &n);
			uint64_t old = __atomic_exchange_n(slot, pack(p, n), __ATOMIC_ACQ_REL);
			if (old)
				check_free(w, old);
		} else if (r < 60) {
			uint64_t old = __atomic_exchange_n(slot, 0, __ATOMIC_ACQ_REL);
			if (!old)
				continue;
			uint64_t nv = do_realloc(w, old);
			if (!nv)
				continue;
			uint64_t other = __atomic_exchange_n(slot, nv, __ATOMIC_ACQ_REL);
			if (other)
				check_free(w, other);
		} else if (r < 85) {
			uint64_t old = __atomic_exchange_n(slot, 0, __ATOMIC_ACQ_REL);
			if (old)
				check_free(w, old);
		} else {
			burst(w);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned nthreads = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 8;
	if (argc > 2)
		ops_per_thread = strtoul(argv[2], NULL, 10);
	uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	if (nthreads < 1 || nthreads > 1024) {
		fprintf(stderr, "usage: stress [THREADS [OPS_PER_THREAD [SEED]]]\n");
		return 2;
	}
	worker_t *ws = calloc(nthreads, sizeof(*ws));
	if (!ws)
		die("calloc of the worker table failed");
	for (unsigned i = 0; i < nthreads; i++) {
		ws[i].index = i;
		ws[i].rng = mix64(seed * 0x100000001B3ULL + i + 1) | 1;
		int e = pthread_create(&ws[i].tid, NULL, worker, &ws[i]);
		if (e)
			die("pthread_create: %s", strerror(e));
	}
	unsigned long ops = 0, allocs = 0, frees = 0, reallocs = 0;
	unsigned long long bytes = 0;
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(ws[i].tid, NULL);
		ops += ws[i].ops;
		allocs += ws[i].allocs;
		frees += ws[i].frees;
		reallocs += ws[i].reallocs;
		bytes += ws[i].bytes;
	}
	/* The main thread frees what is left: blocks of every worker. */
	worker_t me = { .rng = 1 };
	unsigned long left = 0;
	for (unsigned i = 0; i < NSLOTS; i++) {
		uint64_t v = __atomic_exchange_n(&slots[i], 0, __ATOMIC_ACQ_REL);
		if (v) {
			check_free(&me, v);
			left++;
		}
	}
	free(ws);
	/* Through variables: with EBB_LINKED the names are never null. */
	int (*volatile is_active)(void) = ebb_is_active;
	unsigned (*volatile thread_count)(void) = ebb_thread_count;
	const char *who = "absent";
	if (is_active)
		who = is_active() ? "active" : "inactive";
	printf("stress: ok: %u threads, %lu ops, %lu allocs, %lu reallocs, %lu frees (+%lu at exit), "
	       "%llu MiB requested, ebbmalloc %s",
	       nthreads, ops, allocs, reallocs, frees, left, bytes >> 20, who);
	if (thread_count)
		printf(", ebb_thread_count %u", thread_count());
	printf("\n");
	return 0;
}
