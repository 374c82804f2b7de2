/* Cost of one heap-profile backtrace with each prof_unwind method, taken
 * the way the allocator takes it: prof_backtrace() two frames below the
 * "program" (a stand-in for malloc and the sampling code), on a stack about
 * 20 frames deep. Built from the library's own sources (make bench-unwind),
 * with prof_unwind:libunwind when libunwind-dev is installed.
 *
 *   build/bench/unwind_cost [--depth N] [--rounds N] [--ms N]
 *
 * Methods run interleaved, round after round, so a change in the machine's
 * speed hits them alike; each round times one method for about --ms
 * milliseconds. Prints, per method, the frames recorded and the median and
 * fastest round in ns per backtrace (dwarf warm: its rules cached by the
 * first call); then the time to work out one rule from .eh_frame, which is
 * what dwarf pays once per new pc, over this stack's pcs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "prof.h"
#include "prof_cfi.h"
#include "prof_unwind.h"

typedef struct {
	const char *name;
	unsigned how;
} method_t;

static const method_t methods[] = {
	{ "libgcc", PROF_UNWIND_LIBGCC },
	{ "dwarf", PROF_UNWIND_DWARF },
	{ "fp", PROF_UNWIND_FP },
#ifdef EBB_LIBUNWIND
	{ "libunwind", PROF_UNWIND_LIBUNWIND },
#endif
};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))
#define MAX_ROUNDS 101

static int rounds = 11;
static double round_ms = 40;
static double ns[NMETHODS][MAX_ROUNDS];
static prof_bt_t first_bt[NMETHODS];
static volatile uintptr_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Where the allocator would be: malloc -> prof_sample_alloc -> prof_backtrace. */
static __attribute__((noinline)) void fake_sample(const void *caller_ra, prof_bt_t *bt)
{
	prof_backtrace(bt, caller_ra);
	sink += bt->depth;
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void fake_malloc(prof_bt_t *bt)
{
	fake_sample(__builtin_extract_return_addr(__builtin_return_address(0)), bt);
	__asm__ __volatile__("" ::: "memory");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The bottom of the stack: every measurement happens from here. */
static __attribute__((noinline)) void measure(void)
{
	prof_bt_t bt;
	long iters[NMETHODS];
	for (unsigned i = 0; i < NMETHODS; i++) {
		ebb_opt.prof_unwind = methods[i].how;
		fake_malloc(&first_bt[i]);	/* warm: caches, lazy binding */
		uint64_t t0 = now_ns();
		long n = 0;
		do {
			fake_malloc(&bt);
			n++;
		} while (now_ns() - t0 < 5000000);
		iters[i] = (long)(n * (round_ms / 5.0)) + 1;
	}
	for (int r = 0; r < rounds; r++) {
		for (unsigned k = 0; k < NMETHODS; k++) {
			unsigned i = (k + (unsigned)r) % NMETHODS;
			ebb_opt.prof_unwind = methods[i].how;
			uint64_t t0 = now_ns();
			for (long n = 0; n < iters[i]; n++)
				fake_malloc(&bt);
			ns[i][r] = (double)(now_ns() - t0) / (double)iters[i];
		}
	}
}

static __attribute__((noinline)) int descend(int depth)
{
	if (depth <= 0)
		measure();
	else
		descend(depth - 1);
	__asm__ __volatile__("" ::: "memory");
	return 0;
}

/* How stack a compares with libgcc's, b. */
static const char *compare(const prof_bt_t *a, const prof_bt_t *b, char *buf, size_t cap)
{
	unsigned n = a->depth < b->depth ? a->depth : b->depth;
	if (memcmp(a->pc, b->pc, n * sizeof(a->pc[0])))
		return "differs from libgcc";
	if (a->depth == b->depth)
		return "same as libgcc";
	snprintf(buf, cap, a->depth < b->depth ? "libgcc's first %u frames" : "libgcc's and %u more", n);
	return buf;
}

/* Mean ns to work out one rule from .eh_frame, over the pcs of stack bt. */
static double miss_ns(const prof_bt_t *bt)
{
	cfi_rule_t r;
	unsigned kinds = 0;
	long n = 0;
	uint64_t t0 = now_ns();
	do {
		for (unsigned i = 0; i < bt->depth; i++, n++) {
			cfi_rule_at(i ? bt->pc[i] - 1 : bt->pc[i], &r);
			kinds += r.kind;
		}
	} while (now_ns() - t0 < 200000000);
	sink += kinds;
	return (double)(now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	int depth = 15;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--depth"))
			depth = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rounds"))
			rounds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--ms"))
			round_ms = atof(argv[i + 1]);
		else {
			fprintf(stderr, "usage: %s [--depth N] [--rounds N] [--ms N]\n", argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || depth < 0 || round_ms <= 0) {
		fprintf(stderr, "%s: --rounds 1..%d, --depth >= 0, --ms > 0\n", argv[0], MAX_ROUNDS);
		return 2;
	}
	conf_defaults();
	descend(depth);

	printf("ns per backtrace (prof_backtrace), %d rounds of ~%.0f ms per method, interleaved\n", rounds,
	       round_ms);
	printf("%-11s %7s %10s %10s  %s\n", "method", "frames", "median", "fastest", "stack");
	for (unsigned i = 0; i < NMETHODS; i++) {
		char buf[64];
		qsort(ns[i], (size_t)rounds, sizeof(double), cmp_double);
		printf("%-11s %7u %10.0f %10.0f  %s\n", methods[i].name, first_bt[i].depth, ns[i][rounds / 2], ns[i][0],
		       compare(&first_bt[i], &first_bt[0], buf, sizeof(buf)));
	}
	printf("one rule worked out from .eh_frame (a cache miss): %.0f ns, mean over this stack's %u pcs\n",
	       miss_ns(&first_bt[0]), first_bt[0].depth);
	prof_unwind_stats_t s;
	prof_unwind_stats(&s);
	printf("dwarf cache: %llu rule lookups in .eh_frame, %llu fallbacks to libgcc, %llu rules not cacheable\n",
	       (unsigned long long)s.misses, (unsigned long long)s.fallbacks, (unsigned long long)s.uncached);
	return (int)(sink & 0);
}
