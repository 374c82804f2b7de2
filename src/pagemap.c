#include "pagemap.h"

#include "lock.h"
#include "os.h"

pagemap_t ebb_pm;
static ebb_lock_t leaf_lock = EBB_LOCK_INIT;

static uintptr_t offset_of(const void *p) { return p ? (uintptr_t)p - (uintptr_t)&ebb_pm : 0; }

uintptr_t *pagemap_leaf(uintptr_t p)
{
	uintptr_t off = __atomic_load_n(&ebb_pm.top[(p >> PM_LEAF_SHIFT) & (PM_TOP_LEN - 1)], __ATOMIC_ACQUIRE);
	return off ? (uintptr_t *)((uintptr_t)&ebb_pm + off) : NULL;
}

bool pagemap_reserve(uintptr_t p, size_t size)
{
	if (p + size < p || ((p + size - 1) >> PM_VA_BITS))
		return false;
	for (uintptr_t i = p >> PM_LEAF_SHIFT; i <= (p + size - 1) >> PM_LEAF_SHIFT; i++) {
		if (__atomic_load_n(&ebb_pm.top[i], __ATOMIC_ACQUIRE))
			continue;
		ebb_lock(&leaf_lock);
		if (!ebb_pm.top[i]) {
			/* Sparse: only pages of the leaf that map live spans get committed. */
			void *leaf = os_map_sparse(PM_LEAF_LEN * sizeof(uintptr_t));
			if (!leaf) {
				ebb_unlock(&leaf_lock);
				return false;
			}
			__atomic_store_n(&ebb_pm.top[i], offset_of(leaf), __ATOMIC_RELEASE);
		}
		ebb_unlock(&leaf_lock);
	}
	return true;
}

void pagemap_set(uintptr_t p, struct span *s)
{
	pagemap_leaf(p)[(p >> PAGE_SHIFT) & (PM_LEAF_LEN - 1)] = offset_of(s);
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
