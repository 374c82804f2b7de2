/* The page map: from any address to the span holding it, in two loads. A
 * lookup never faults, even for addresses we never handed out, which is how
 * free() recognises foreign pointers. */
#ifndef EBB_PAGEMAP_H
#define EBB_PAGEMAP_H

#include "common.h"

struct span;

#define PM_VA_BITS 47
#define PM_LEAF_SHIFT 30
#define PM_TOP_LEN ((size_t)1 << (PM_VA_BITS - PM_LEAF_SHIFT))
#define PM_LEAF_LEN ((size_t)1 << (PM_LEAF_SHIFT - PAGE_SHIFT))

extern struct span **ebb_pagemap[PM_TOP_LEN] EBB_HIDDEN;

/* Entries may be stale; callers check that the span really covers the
 * address (see span_contains). */
EBB_INLINE struct span *pagemap_get(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct span **leaf = ebb_pagemap[(a >> PM_LEAF_SHIFT) & (PM_TOP_LEN - 1)];
	if (unlikely(!leaf))
		return NULL;
	return leaf[(a >> PAGE_SHIFT) & (PM_LEAF_LEN - 1)];
}

/* Makes sure leaves exist for [p, p+size); false if memory ran out. */
bool pagemap_reserve(uintptr_t p, size_t size);
/* Points every page of [p, p+size) at s (leaves must exist). */
void pagemap_set_range(uintptr_t p, size_t size, struct span *s);
void pagemap_set(uintptr_t p, struct span *s);

#endif
