/* Arenas: a bounded set of independent heaps. Each has a page heap (free
 * page runs carved from regions) and one bin of slabs per size class. */
#ifndef EBB_ARENA_H
#define EBB_ARENA_H

#include "common.h"
#include "lock.h"
#include "span.h"

typedef struct region {
	uintptr_t base;
	size_t npages;
	struct region *next;
} region_t;

#define PARTIAL_LISTS 4
/* After the lists by fullness, one for slabs whose free slots all lie on
 * pages that hold no block: used last, so new blocks fill the holes next to
 * live ones before they pin another page (or fault a purged one in). */
#define EMPTY_PAGES_LIST PARTIAL_LISTS

typedef struct bin {
	ebb_lock_t lock;
	span_t *cur;		/* slab blocks are taken from first */
	span_t *partial[PARTIAL_LISTS + 1];	/* other slabs with free slots, fullest first */
	span_t *spare;		/* one empty slab kept against churn */
	uint64_t spare_ns;	/* when it became the spare */
	bool spare_new;		/* the purger has not been told of it */
	size_t live;		/* blocks handed out of slabs */
} __attribute__((aligned(64))) bin_t;

#define RUN_BUCKETS (REGION_PAGES + 1)
enum { RUNS_CLEAN, RUNS_DIRTY };

struct inbox_node;

typedef struct arena {
	unsigned index;
	uint32_t tag;
	ebb_lock_t lock;	/* the page heap; unlock with ph_unlock */
	/* Spans handed back while the lock was busy (ph_give), linked through
	 * dnext; the lock's holder takes them before it lets go. */
	span_t *giving;
	/* Free runs by exact length, apart by whether they may be resident:
	 * allocation takes dirty ones first, so RSS does not grow while freed
	 * pages wait for the purger. */
	span_t *runs[2][RUN_BUCKETS];	/* [RUNS_CLEAN or RUNS_DIRTY][pages] */
	uint64_t runmap[2][(RUN_BUCKETS + 63) / 64];
	region_t *regions;
	region_t *region_cache;	/* descriptors of unmapped regions, for reuse */
	size_t nregions;
	/* Set when a region was mapped: whoever unlocks after an allocation
	 * tells the purger (purge_grew). */
	bool grew;
	span_t *desc;		/* descriptors set aside for splits */
	unsigned ndesc;
	size_t free_pages;	/* in free runs */
	size_t dirty_pages;	/* of those, possibly resident */
	span_t *dirty_head;	/* free runs with dirty pages, oldest first mostly */
	unsigned empty_regions;	/* regions that are one free run */
	uint64_t purged_bytes, purges;	/* totals, for statistics (atomic) */
	size_t unmapped_regions;
	size_t large_pages;	/* in large blocks */
	size_t slab_pages;	/* in slabs (including spares) */
	size_t slab_purged;	/* pages of slabs in use given back (atomic) */
	/* Blocks freed while their bin was locked by someone else (inbox.c):
	 * written by other threads, so on a line of its own. */
	struct inbox_node *inbox __attribute__((aligned(64)));
	size_t inbox_bytes;
	bin_t bins[NCLASSES];
} arena_t;

extern arena_t *ebb_arenas[MAX_ARENAS] EBB_HIDDEN;
extern unsigned ebb_narenas EBB_HIDDEN;

/* The arena with this index, created on first use; NULL if out of memory. */
arena_t *arena_get(unsigned index);

/* Moves up to want blocks of class cls into out (lowest address last, so a
 * stack pops it first). Returns how many; 0 means out of memory. */
unsigned arena_refill(arena_t *a, unsigned cls, void **out, unsigned want);
/* Returns n blocks of class cls to their slabs. Aborts on a double free. */
void arena_flush(arena_t *a, unsigned cls, void *const *items, unsigned n);
/* The same, for blocks freed at freed_ns (ns), so their decay starts then. */
void arena_flush_at(arena_t *a, unsigned cls, void *const *items, unsigned n, uint64_t freed_ns);
/* True when block p of slab s is free in the slab bitmap. */
bool arena_slot_is_free(span_t *s, void *p);

void *arena_large_alloc(arena_t *a, size_t size, size_t align);
void arena_large_free(span_t *s);
/* Resizes a large block in place; false if the neighbours are not free. */
bool arena_large_resize(span_t *s, size_t size);

/* Releases spare slabs that became empty at or before cutoff (ns), then
 * purges dirty runs freed by then (ph_purge). Returns bytes purged; *next
 * gets the time of the oldest dirty memory left. */
size_t arena_purge(arena_t *a, uint64_t cutoff, uint64_t *next);
/* About how many bytes of the arena's pages hold no allocated block: the
 * dirty free runs and the free slots of slabs (blocks in thread caches
 * count as allocated). Read without locks: an estimate. */
size_t arena_free_bytes(arena_t *a);

void arena_fork_prepare(void);
void arena_fork_parent(void);
void arena_fork_child(void);

/* The same as arena_flush_at, if the bin's lock is free at once: false
 * (nothing done) when another thread holds it. *now is the time of the
 * free, read from the clock if 0 (and then kept for the next call). */
bool arena_try_flush(arena_t *a, unsigned cls, void *const *items, unsigned n, uint64_t *now);

/* Page heap (pageheap.c); the arena lock is held by callers. */
span_t *ph_alloc(arena_t *a, size_t npages, size_t align_pages);
/* freed_ns: when the pages were freed, 0 for now. */
void ph_free(arena_t *a, span_t *s, uint64_t freed_ns);
bool ph_resize(arena_t *a, span_t *s, size_t npages);
/* Gives an empty slab (kind SPAN_SMALL) or a freed large block (kind set
 * to SPAN_UNUSED by the caller) back to the page heap, with s->freed_ns
 * set. Never waits for the arena lock: when it is busy, the span is left
 * for the holder, who takes it before unlocking. Lock not held. */
void ph_give(arena_t *a, span_t *s);
/* Unlocks the arena lock, first taking in the spans given meanwhile. */
void ph_unlock(arena_t *a);
/* Returns to the OS the dirty runs freed at or before cutoff (ns), and
 * unmaps empty regions beyond the retained ones. Takes and drops the arena
 * lock itself (the madvise calls run unlocked). Returns bytes purged; *next
 * gets the oldest remaining dirty run's time (UINT64_MAX if none). */
size_t ph_purge(arena_t *a, uint64_t cutoff, uint64_t *next);

#endif
