/* Memory for the allocator's own bookkeeping: bump-allocated from mappings
 * named ebbmalloc:meta and never unmapped, so stale pointers into it stay
 * readable. */
#ifndef EBB_META_H
#define EBB_META_H

#include "common.h"

/* Zeroed, 64-byte aligned; NULL when the OS refuses memory. */
void *meta_alloc(size_t size);
size_t meta_mapped(void);

void meta_fork_prepare(void);
void meta_fork_parent(void);
void meta_fork_child(void);

#endif
