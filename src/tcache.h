/* Thread caches: per size class, a stack of block pointers kept outside the
 * blocks, so nothing a program writes into freed memory is ever followed. */
#ifndef EBB_TCACHE_H
#define EBB_TCACHE_H

#include "arena.h"
#include "common.h"
#include "sizeclass.h"

#define REMOTE_MAX 64
/* Bytes allocated between two thread-cache events (garbage collection now;
 * profiling samples later share the same counter). */
#define EVENT_PERIOD ((int64_t)1 << 20)

typedef struct tbin {
	uint16_t n;
	uint16_t cap;
	uint32_t size;	/* of the class: malloc's event count needs it */
	void **items;
} tbin_t;

typedef struct tcache {
	int64_t event_left;	/* bytes until the next event */
	uint32_t tag;		/* small frees of spans with this tag stay here */
	uint32_t live;		/* 1 for a thread's own cache */
	tbin_t bins[NCLASSES];
	arena_t *arena;
	struct tcache *next, *prev;	/* registry of live caches */
	uint64_t allocated;	/* bytes allocated by this thread, at events */
	/* The event counter stands for whichever comes first: */
	int64_t armed;		/* what event_left was set to */
	int64_t gc_left;	/* bytes until the next cache collection */
	int64_t sample_left;	/* bytes until the next heap-profile sample */
	uint64_t prng;
	unsigned prof_uid;	/* this thread's number in heap profiles */
	unsigned nremote;
	void *remote[REMOTE_MAX];	/* blocks of other arenas, to hand back */
	/* Reclaiming an idle thread's cache (see tcache_reclaim_idle). */
	int tid;
	unsigned busy;		/* owner inside a slow path (owner writes only) */
	struct tcache **slot;	/* the owner's ebb_tc */
	ebb_lock_t steal_lock;
	uint64_t seen_sig, seen_ns;	/* last change of the cache, seen by the purger */
	void *storage[];
} tcache_t;

#define TAG_NONE UINT32_MAX

extern __thread tcache_t *ebb_tc __attribute__((tls_model("initial-exec"))) EBB_HIDDEN;
extern tcache_t ebb_tc_empty EBB_HIDDEN;	/* before a thread's first call */
extern tcache_t ebb_tc_dead EBB_HIDDEN;	/* after its exit handler ran */
extern tcache_t ebb_tc_parked EBB_HIDDEN;	/* emptied by the purger while idle */
/* Written into the first word of a cached free block: a free() that finds
 * it there is probably a double free, which the slow path then confirms. */
extern uintptr_t ebb_free_key EBB_HIDDEN;

/* The calling thread's cache, creating it; NULL when it cannot have one
 * (exiting thread or no memory): callers then go to the arena directly. */
tcache_t *tcache_get(void);

/* Slow paths that use the cache bracket that use with these, so the purger
 * can tell the owner is not inside one. */
EBB_INLINE tcache_t *tcache_enter(void)
{
	tcache_t *tc = tcache_get();
	if (tc) {
		tc->busy++;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	}
	return tc;
}

EBB_INLINE void tcache_leave(tcache_t *tc)
{
	if (tc) {
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		tc->busy--;
	}
}

/* Empties the caches of threads that have not touched them for idle_ns
 * and are blocked in the kernel, so idle threads do not keep freed memory.
 * Returns bytes taken back. Called by the purging thread. */
size_t tcache_reclaim_idle(uint64_t now, uint64_t idle_ns);
void tcache_flush_bin(tcache_t *tc, unsigned cls, unsigned keep);
void tcache_flush_all(tcache_t *tc);
void tcache_remote_add(tcache_t *tc, void *p);
void tcache_remote_flush(tcache_t *tc);
/* The event counter went negative: collect, and tell whether the
 * allocation that crossed it is to be sampled. */
bool tcache_event(tcache_t *tc);
/* Counts bytes allocated outside the cache (large, huge, uncached); true
 * when that allocation is to be sampled. */
bool tcache_count(tcache_t *tc, size_t bytes);
/* True when p sits in this thread's cache (a double free). */
bool tcache_holds(tcache_t *tc, unsigned cls, void *p);
unsigned tcache_thread_count(void);
/* Bytes of free blocks sitting in thread caches (bins only). */
size_t tcache_cached_bytes(void);
/* Bytes allocated by live threads (as of their last event, plus since). */
uint64_t tcache_allocated_total(void);
/* The arena for direct (uncached) operations of this thread. */
arena_t *tcache_arena(void);

void tcache_init_global(void);
void tcache_fork_prepare(void);
void tcache_fork_parent(void);
void tcache_fork_child(void);

#endif
