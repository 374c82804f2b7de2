#include "pagemap.h"

#include "lock.h"
#include "os.h"

struct span **ebb_pagemap[PM_TOP_LEN];
static ebb_lock_t leaf_lock = EBB_LOCK_INIT;

bool pagemap_reserve(uintptr_t p, size_t size)
{
	if (p + size < p || ((p + size - 1) >> PM_VA_BITS))
		return false;
	for (uintptr_t i = p >> PM_LEAF_SHIFT; i <= (p + size - 1) >> PM_LEAF_SHIFT; i++) {
		if (__atomic_load_n(&ebb_pagemap[i], __ATOMIC_ACQUIRE))
			continue;
		ebb_lock(&leaf_lock);
		if (!ebb_pagemap[i]) {
			/* Sparse: only pages of the leaf that map live spans get committed. */
			void *leaf = os_map_sparse(PM_LEAF_LEN * sizeof(struct span *));
			if (!leaf) {
				ebb_unlock(&leaf_lock);
				return false;
			}
			__atomic_store_n(&ebb_pagemap[i], (struct span **)leaf, __ATOMIC_RELEASE);
		}
		ebb_unlock(&leaf_lock);
	}
	return true;
}

void pagemap_set(uintptr_t p, struct span *s)
{
	ebb_pagemap[p >> PM_LEAF_SHIFT][(p >> PAGE_SHIFT) & (PM_LEAF_LEN - 1)] = s;
}

void pagemap_set_range(uintptr_t p, size_t size, struct span *s)
{
	for (uintptr_t a = p; a < p + size; a += PAGE_SIZE)
		pagemap_set(a, s);
}

/* fork() may leave leaf_lock held by a thread that no longer exists. */
void pagemap_fork_prepare(void) { ebb_lock(&leaf_lock); }
void pagemap_fork_parent(void) { ebb_unlock(&leaf_lock); }
void pagemap_fork_child(void) { ebb_lock_reset(&leaf_lock); }
