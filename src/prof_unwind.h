/* Backtraces from DWARF call-frame information with a cache of per-pc
 * rules, so a warm backtrace costs a few loads per frame instead of the
 * microseconds libgcc's unwinder spends re-reading .eh_frame every time.
 * x86-64 only; elsewhere prof_unwind_dwarf always declines. */
#ifndef EBB_PROF_UNWIND_H
#define EBB_PROF_UNWIND_H

#include <stdint.h>

/* Fills pc[0..] with return addresses, leaf first: pc[0] is the return
 * address into the function that called prof_unwind_dwarf (the same first
 * frame as _Unwind_Backtrace's). At most max frames. Returns the number of
 * frames, or -1 when some frame needs a rule the cache cannot express
 * (signal frames, CFA expressions, ...): the caller should then take the
 * whole backtrace with libgcc. Lock-free once the rules are cached; a miss
 * calls libgcc's _Unwind_Find_FDE (lock-free through glibc's
 * _dl_find_object since glibc 2.35, the loader's lock before). Never
 * allocates with malloc. */
int prof_unwind_dwarf(uintptr_t *pc, unsigned max);

/* Forgets every cached rule: code may have been unloaded (dlclose) and
 * other code loaded at its addresses. Safe while other threads walk. */
void prof_unwind_clear(void);

/* Process-wide counts, for tests and benchmarks. */
typedef struct {
	uint64_t misses;	/* rules worked out from .eh_frame */
	uint64_t fallbacks;	/* walks given up (-1) for a rule we do not model */
	uint64_t uncached;	/* frame rules too large for a slot (left to libgcc) */
} prof_unwind_stats_t;
void prof_unwind_stats(prof_unwind_stats_t *out);

#endif
