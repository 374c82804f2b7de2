/* Where survivors' RSS goes: replays bench/workloads/survivors.c (same
 * sizes, same order) on the allocator built without the standard names,
 * waits, then walks every slab of every arena and counts, per size class,
 * resident pages (mincore), pages that hold a live block, and the live
 * blocks' class and requested bytes. Built and run by survivors_pages.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ebbmalloc.h"

#include "arena.h"
#include "pagemap.h"
#include "sizeclass.h"

#include "../workloads/survivors_mix.h"


typedef struct {
	size_t slabs, pages, resident, pinned, blocks;
	double requested;
} tally_t;

static tally_t cls_tally[NCLASSES];

static void walk_slab(span_t *s)
{
	tally_t *t = &cls_tally[s->cls];
	unsigned char vec[16], pin[16] = { 0 };
	mincore((void *)s->base, span_bytes(s), vec);
	t->slabs++;
	t->pages += s->npages;
	for (unsigned k = 0; k < s->nslots; k++) {
		if ((s->freemap[k / 64] >> (k % 64)) & 1)
			continue;
		t->blocks++;
		size_t lo = (size_t)k * s->size, hi = lo + s->size - 1;
		for (size_t pg = lo >> PAGE_SHIFT; pg <= hi >> PAGE_SHIFT; pg++)
			pin[pg] = 1;
	}
	for (size_t i = 0; i < s->npages; i++) {
		t->resident += vec[i] & 1;
		t->pinned += pin[i];
	}
}

int main(int argc, char **argv)
{
	size_t target = (size_t)(argc > 1 ? atoi(argv[1]) : 1024) << 20;
	unsigned idle = argc > 2 ? (unsigned)atoi(argv[2]) : 11;
	size_t refill = target / 100 * (size_t)(argc > 3 ? atoi(argv[3]) : 100);
	size_t cap = target / 16, n1 = 0, n2 = 0;
	/* The workload's own arrays come from libc here: not in the walk. */
	void **a = malloc(cap * sizeof(void *));
	size_t *sz = malloc(cap * sizeof(size_t));
	for (size_t total = 0; total < target && n1 < cap; n1++) {
		size_t n = mix_first();
		a[n1] = ebb_malloc(n);
		sz[n1] = n;
		memset(a[n1], 1, n);
		total += n;
	}
	for (size_t i = 0; i < n1; i++) {
		if (i % 50)
			ebb_free(a[i]);
		else
			cls_tally[size_class(sz[i])].requested += (double)sz[i];
	}
	size_t cap2 = refill / 2048 + 1;
	for (size_t total = 0; total < refill && n2 < cap2; n2++) {
		size_t n = mix_second();
		memset(ebb_malloc(n), 2, n);
		total += n;
		cls_tally[size_class(n)].requested += (double)n;
	}
	sleep(idle);
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		arena_t *ar = ebb_arenas[i];
		for (region_t *r = ar ? ar->regions : NULL; r; r = r->next)
			for (uintptr_t p = r->base; p < r->base + REGION_SIZE; p += PAGE_SIZE) {
				span_t *s = pagemap_get((void *)p);
				if (s && s->base == p && s->kind == SPAN_SMALL)
					walk_slab(s);
			}
	}
	const double mib = 1048576.0, pg = 4096.0 / mib;
	tally_t sum = { 0 };
	double alloc_sum = 0;
	printf("class slabs pages resident_mib pinned_mib allocated_mib requested_mib\n");
	for (unsigned c = 0; c < NCLASSES; c++) {
		tally_t *t = &cls_tally[c];
		if (!t->slabs)
			continue;
		double alloc = (double)t->blocks * ebb_classes[c].size / mib;
		printf("%u %zu %zu %.2f %.2f %.2f %.2f\n", ebb_classes[c].size, t->slabs, t->pages, t->resident * pg,
		       t->pinned * pg, alloc, t->requested / mib);
		sum.slabs += t->slabs;
		sum.resident += t->resident;
		sum.pinned += t->pinned;
		sum.requested += t->requested;
		alloc_sum += alloc;
	}
	ebb_stats_t st;
	ebb_stats_get(&st);
	printf("total %zu - %.2f %.2f %.2f %.2f\n", sum.slabs, sum.resident * pg, sum.pinned * pg, alloc_sum,
	       sum.requested / mib);
	printf("metadata_mib %.2f cached %zu dirty %zu arrays_mib %.2f\n", st.metadata / mib, st.cached, st.dirty,
	       (double)(n1 * 16 + n2 * 8) / mib);
	return 0;
}
