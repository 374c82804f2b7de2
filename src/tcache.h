/* Thread caches: per size class, a stack of block pointers kept outside the
 * blocks, so nothing a program writes into freed memory is ever followed. */
#ifndef EBB_TCACHE_H
#define EBB_TCACHE_H

#include "arena.h"
#include "purge.h"
#include "common.h"
#include "sizeclass.h"

#define REMOTE_MAX 64
/* Bytes allocated between two thread-cache events (garbage collection now;
 * profiling samples later share the same counter). */
#define EVENT_PERIOD ((int64_t)1 << 20)

/* A stack of cached blocks: lo[0] .. top[-1], room up to hi. A class that
 * is not cached has lo == top == hi, which both fast paths treat as
 * "go slow" without a test of their own. */
typedef struct tbin {
	void **top;
	void **lo;
	void **hi;
	uint32_t size;	/* of the class: malloc's event count needs it */
} tbin_t;

EBB_INLINE unsigned tbin_count(const tbin_t *b) { return (unsigned)(b->top - b->lo); }
EBB_INLINE unsigned tbin_cap(const tbin_t *b) { return (unsigned)(b->hi - b->lo); }

typedef struct tcache {
	int64_t event_left;	/* bytes until the next event */
	uint64_t tag_bits;	/* tag << TAG_SHIFT (see span_t.key) */
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

/* Of the sentinel caches: no slab has it. */
#define TAG_NONE 0xffffu

extern __thread tcache_t *ebb_tc __attribute__((tls_model("initial-exec"))) EBB_HIDDEN;
extern tcache_t ebb_tc_empty EBB_HIDDEN;	/* before a thread's first call */
extern tcache_t ebb_tc_dead EBB_HIDDEN;	/* after its exit handler ran */
extern tcache_t ebb_tc_parked EBB_HIDDEN;	/* emptied by the purger while idle */
/* Byte offset of each class's bin in a cache, for every size up to
 * LUT_MAX: malloc's fast path goes from size to bin in one load. */
extern uint16_t ebb_bin_lut[LUT_MAX + 1] EBB_HIDDEN;

EBB_INLINE size_t tcache_bin_offset(unsigned cls) { return offsetof(tcache_t, bins) + cls * sizeof(tbin_t); }

/* Written into the first 4 bytes of a cached free block: a free() that
 * finds it there is probably a double free, which the slow path then
 * confirms (so a program storing the same value only costs time). A
 * constant fits in the compare and store instructions themselves. */
#define FREE_MARK 0xeb0ff4eeu
typedef uint32_t __attribute__((may_alias)) ebb_mark_t;
EBB_INLINE bool block_marked_free(const void *p) { return *(const ebb_mark_t *)p == FREE_MARK; }
EBB_INLINE void block_mark_free(void *p) { *(ebb_mark_t *)p = FREE_MARK; }
EBB_INLINE void block_clear_mark(void *p) { *(ebb_mark_t *)p = 0; }

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
		if (--tc->busy == 0 && unlikely(__atomic_load_n(&ebb_purge_start_pending, __ATOMIC_RELAXED)))
			purge_start_pending();
	}
}

/* The fast paths (alloc.c puts them in section ebb_fast) use the cache
 * without raising busy. Weak: a test program without alloc.c has none. */
extern const char __start_ebb_fast[] __attribute__((weak)) EBB_HIDDEN;
extern const char __stop_ebb_fast[] __attribute__((weak)) EBB_HIDDEN;

/* From a /proc/.../syscall line ("NR args... sp pc" in a system call, "-1
 * sp pc" in some faults, "running" on a CPU): stopped in a system call, and
 * not inside a fast path. A thread sleeping in a page fault shows the
 * fault's error code where the number goes (x86-64), so it looks like a
 * system call; its pc says whether the fault hit a fast path, whose cache
 * must then not be taken. */
bool tcache_syscall_stop(const char *buf);

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
