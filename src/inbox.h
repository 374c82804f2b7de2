/* Freeing small blocks without waiting for a bin lock another thread holds.
 * Blocks whose bin is busy are posted to their arena's inbox, a lock-free
 * list of batches, and go back into their slabs at the arena's next refill
 * or purging pass. One thread freeing for many (a Cleaner thread) then
 * never queues behind the owners' allocations. */
#ifndef EBB_INBOX_H
#define EBB_INBOX_H

#include "arena.h"

#define INBOX_BATCH 64

/* Batches live in metadata memory and are reused: nothing is ever linked
 * through a freed block. */
typedef struct inbox_node {
	struct inbox_node *next;
	unsigned n;
	void *items[INBOX_BATCH];	/* grouped by size class */
} inbox_node_t;

/* Returns n small blocks of any arenas and classes to their slabs, or to
 * their arena's inbox where the bin is locked. Aborts on a double free
 * found in a slab bitmap. */
void inbox_free(void *const *items, unsigned n);
/* The same for blocks of arena a and class cls. */
void inbox_free_class(arena_t *a, unsigned cls, void *const *items, unsigned n);
/* Puts the blocks waiting in a's inbox back into their slabs, waiting for
 * the bins' locks. True if there were any. */
bool inbox_drain(arena_t *a);
/* The same, but only for bins whose lock is free at once; the others'
 * blocks stay in the inbox. */
void inbox_drain_nowait(arena_t *a);
/* Bytes of blocks waiting in all inboxes. */
size_t inbox_pending_bytes(void);

void inbox_fork_prepare(void);
void inbox_fork_parent(void);
void inbox_fork_child(void);

#endif
