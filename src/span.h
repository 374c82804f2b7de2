/* A span describes a run of pages: a small-object slab, a large block, a
 * huge mapping, or free pages in a region. Descriptors live out of band (in
 * meta memory, never unmapped), so a stale page-map entry can always be
 * read and checked. */
#ifndef EBB_SPAN_H
#define EBB_SPAN_H

#include "common.h"
#include "sizeclass.h"

enum span_kind {
	SPAN_UNUSED = 0,	/* descriptor on the free list */
	SPAN_FREE,		/* free pages inside a region */
	SPAN_SMALL,		/* slab of one size class */
	SPAN_LARGE,		/* one block of whole pages inside a region */
	SPAN_HUGE,		/* one block with a mapping of its own */
	SPAN_HUGE_FREED,	/* a freed huge block, kept to name double frees */
};

struct arena;
struct region;

/* A slab's tag is its arena's number + 1; 0 for every other span. */
#define TAG_SHIFT 48
/* In a slab's tag: it holds a sampled block, so frees take the slow path. */
#define TAG_SAMPLED 0x8000u

typedef struct span {
	/* Read by the free fast path: keep first. */
	uintptr_t base;
	/* base | tag << TAG_SHIFT for a slab, else 0. The free fast path
	 * subtracts it from the pointer plus its cache's tag << TAG_SHIFT: a
	 * tag that differs leaves an offset of 2^48 or more, which fails the
	 * same compare as a pointer outside the slab. */
	uint64_t key;
	uintptr_t binoff;	/* small: where its class's bin sits in a thread cache */
	uint64_t inv;		/* small: see slot_index */
	uint64_t nslots;	/* small: slots (as wide as slot_index's result) */
	uint8_t shift;
	uint32_t limit;		/* small slab: slots * size */
	uint32_t recip;
	uint32_t size;
	uint8_t cls;
	uint8_t kind;
	uint16_t nfree;		/* small: free slots in the bitmap */
	uint16_t listed;	/* small: on its bin's partial list */
	uint16_t purged;	/* small: pages given back while the slab is in use */
	bool settled;		/* small: no block freed into it since its last purge */
	size_t npages;
	struct arena *arena;
	struct region *region;
	struct span *next, *prev;	/* bin partial list or page-heap bucket */
	uint64_t freed_ns;	/* free run: when its oldest dirty page was freed;
				 * slab: when a block was last freed into it */
	size_t dirty;		/* free run: pages that may still be resident */
	struct span *dnext, *dprev;	/* free run with dirty pages: arena's dirty list */
	void *samples;		/* sampled blocks in this span (prof.c) */
	uint64_t freemap[SLOTS_MAX / 64];	/* small: bit set = slot free */
} span_t;

EBB_INLINE uint32_t span_tag(const span_t *s)
{
	return (uint32_t)(__atomic_load_n(&s->key, __ATOMIC_RELAXED) >> TAG_SHIFT);
}

/* Published last when a slab is made: release pairs with remote readers. */
EBB_INLINE void span_set_tag(span_t *s, uint32_t tag)
{
	__atomic_store_n(&s->key, s->base | (uint64_t)tag << TAG_SHIFT, __ATOMIC_RELEASE);
}

EBB_INLINE size_t span_bytes(const span_t *s) { return s->npages << PAGE_SHIFT; }

EBB_INLINE bool span_contains(const span_t *s, uintptr_t p)
{
	return p - s->base < span_bytes(s);
}

span_t *span_new(void);
void span_delete(span_t *s);

#endif
