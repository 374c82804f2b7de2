/* The page map: from any address to the span holding it, in two loads and
 * no branch. A lookup never faults, even for addresses we never handed
 * out, which is how free() recognises foreign pointers. */
#ifndef EBB_PAGEMAP_H
#define EBB_PAGEMAP_H

#include "common.h"

struct span;

#define PM_VA_BITS 47
#define PM_LEAF_SHIFT 30
#define PM_TOP_LEN ((size_t)1 << (PM_VA_BITS - PM_LEAF_SHIFT))
#define PM_LEAF_LEN ((size_t)1 << (PM_LEAF_SHIFT - PAGE_SHIFT))

/* Every entry is an offset from the start of this structure, so the zero
 * an untouched entry holds means "nothing" without a test: a top entry of 0
 * leads to the all-zero leaf `zero`, and a leaf entry of 0 to the start of
 * `zero` read as a span, whose fields are all 0 (tag 0 matches no thread
 * cache, kind 0 is no block). Both stay untouched, so they cost no memory:
 * reads of never-written pages map the kernel's zero page. */
typedef struct {
	uintptr_t zero[PM_LEAF_LEN];
	uintptr_t top[PM_TOP_LEN];
} pagemap_t;

extern pagemap_t ebb_pm EBB_HIDDEN;

/* What the zero entries lead to: never written, never a real span. */
#define PM_NOTHING ((struct span *)(void *)&ebb_pm)

/* The span of p, or PM_NOTHING; entries may be stale, so callers check
 * that the span really covers the address (see span_contains). */
EBB_INLINE struct span *pagemap_lookup(const void *p)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)&ebb_pm;
	const uintptr_t *leaf = (const uintptr_t *)(base + ebb_pm.top[(a >> PM_LEAF_SHIFT) & (PM_TOP_LEN - 1)]);
	return (struct span *)(base + leaf[(a >> PAGE_SHIFT) & (PM_LEAF_LEN - 1)]);
}

/* The same, with NULL for nothing: for the slow paths. */
EBB_INLINE struct span *pagemap_get(const void *p)
{
	struct span *s = pagemap_lookup(p);
	return unlikely(s == PM_NOTHING) ? NULL : s;
}

/* The leaf covering p, or NULL before pagemap_reserve made one (tests). */
uintptr_t *pagemap_leaf(uintptr_t p);
/* Makes sure leaves exist for [p, p+size); false if memory ran out. */
bool pagemap_reserve(uintptr_t p, size_t size);
/* Points every page of [p, p+size) at s (leaves must exist). */
void pagemap_set_range(uintptr_t p, size_t size, struct span *s);
void pagemap_set(uintptr_t p, struct span *s);

#endif
