/* Returning freed memory to the OS: decay-timed purging of dirty pages,
 * driven by a lazily started background thread (or, without it, by
 * allocator activity), tightened under cgroup memory pressure. */
#ifndef EBB_PURGE_H
#define EBB_PURGE_H

#include "arena.h"

/* A free left dirty pages in arena a: start or wake whoever purges them.
 * Called without any allocator lock held. */
void purge_notify(arena_t *a);
/* Arena a mapped a new region: the heap grows while freed memory may wait
 * out its decay unused; that memory goes early. Called without locks. */
void purge_grew(arena_t *a);
/* Purging driven by allocation activity (background_thread:false). */
void purge_tick(void);
/* Everything purgeable, now. Returns bytes released. */
size_t purge_all(void);
/* True when the cgroup's memory use is near its limit (cgroup_memory). */
bool purge_under_pressure(void);
bool purge_thread_running(void);
/* Starts the background thread now (for signal-triggered dumps). */
void purge_start(void);
/* Set when the thread is to be started but the caller was inside a slow
 * path of its thread cache: pthread_create calls malloc, which must not
 * run into a cache half-way through a change. tcache_leave starts it. */
extern int ebb_purge_start_pending EBB_HIDDEN;
void purge_start_pending(void);
/* Wakes it (async-signal-safe). */
void purge_wake(void);

void purge_fork_child(void);

#endif
