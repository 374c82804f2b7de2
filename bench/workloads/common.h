/* Shared helpers for the ebbmalloc benchmark workloads (bench/workloads/).
 *
 * Every workload checks the objects it frees: an object starts with a
 * header {tag, size} whose tag mixes the object's address (or a caller-chosen
 * key) and size, and its last byte (past the header) repeats the tag. A mismatch means the
 * allocator handed out overlapping or corrupted memory: the program prints
 * what it found and exits with status 3, so bench/run.py reports the run as
 * failed instead of timing it.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("workload error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(3);
}

/* Positional argument i as a positive integer, or def when absent. */
static size_t arg_num(int argc, char **argv, int i, size_t def)
{
	if (i >= argc)
		return def;
	char *end;
	unsigned long long v = strtoull(argv[i], &end, 10);
	if (*end || end == argv[i] || v == 0)
		die("argument %d: expected a positive integer, got '%s'", i, argv[i]);
	return (size_t)v;
}

/* xorshift64*: small, fast, good enough to pick sizes and slots. */
typedef struct { uint64_t s; } rng_t;

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline rng_t rng_seed(uint64_t seed)
{
	rng_t r = { mix64(seed + 0x9e3779b97f4a7c15ULL) | 1 };
	return r;
}

static inline uint64_t rng_next(rng_t *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n). */
static inline size_t rng_below(rng_t *r, size_t n)
{
	return (size_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline size_t rng_range(rng_t *r, size_t lo, size_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

/* Object header; every object is at least 16 bytes. */
typedef struct {
	uint64_t tag;
	uint64_t size;
} obj_hdr;

static inline uint64_t obj_tag(uint64_t key, size_t n)
{
	return mix64(key ^ (n * 0x9e3779b97f4a7c15ULL));
}

/* Stamp a fresh object of n >= 16 bytes; key is usually its address. */
static inline void obj_init_key(void *p, size_t n, uint64_t key)
{
	obj_hdr *h = p;
	h->size = n;
	h->tag = obj_tag(key, n);
	if (n > sizeof *h)
		((unsigned char *)p)[n - 1] = (unsigned char)h->tag;
}

static inline void obj_init(void *p, size_t n)
{
	obj_init_key(p, n, (uintptr_t)p);
}

/* Verify before free: header first, so a bad size is never dereferenced. */
static inline void obj_check_key(const void *p, uint64_t key)
{
	const obj_hdr *h = p;
	size_t n = h->size;
	if (n < 16 || n > ((size_t)1 << 40) || h->tag != obj_tag(key, n))
		die("corrupted object header at %p (size field %zu)", p, n);
	if (n > sizeof *h && ((const unsigned char *)p)[n - 1] != (unsigned char)h->tag)
		die("corrupted last byte of the %zu-byte object at %p", n, p);
}

static inline void obj_check(const void *p)
{
	obj_check_key(p, (uintptr_t)p);
}

/* Write one byte per page from offset `from`, as a program that fills its
 * buffers would make them resident. */
static inline void touch_pages(void *p, size_t from, size_t n)
{
	for (size_t off = (from + PAGE - 1) & ~(size_t)(PAGE - 1); off < n; off += PAGE)
		((volatile unsigned char *)p)[off] = 1;
}

/* Keep the compiler from optimising a malloc/free pair away. */
static inline void escape(void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

static inline void *must_malloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("malloc(%zu) returned NULL", n);
	return p;
}

#endif
