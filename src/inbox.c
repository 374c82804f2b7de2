#include "inbox.h"

#include <string.h>

#include "lock.h"
#include "meta.h"
#include "pagemap.h"
#include "purge.h"

/* Blocks in an inbox can be neither reused nor purged: past this much, the
 * thread posting empties the inbox itself, waiting for the locks. */
#define INBOX_LIMIT ((size_t)4 << 20)

static ebb_lock_t pool_lock = EBB_LOCK_INIT;
static inbox_node_t *pool;

static inbox_node_t *node_get(void)
{
	ebb_lock(&pool_lock);
	inbox_node_t *nd = pool;
	if (nd)
		pool = nd->next;
	ebb_unlock(&pool_lock);
	return nd ? nd : meta_alloc(sizeof(inbox_node_t));
}

static void node_put(inbox_node_t *first, inbox_node_t *last)
{
	ebb_lock(&pool_lock);
	last->next = pool;
	pool = first;
	ebb_unlock(&pool_lock);
}

static size_t bytes_of(void *const *items, unsigned n)
{
	size_t bytes = 0;
	for (unsigned i = 0; i < n; i++)
		bytes += pagemap_get(items[i])->size;
	return bytes;
}

/* Frees items (at most INBOX_BATCH, grouped by class) one class at a time,
 * waiting for the locks: where a batch cannot be posted. */
static void flush_groups(arena_t *a, void *const *items, unsigned n)
{
	for (unsigned i = 0, j; i < n; i = j) {
		unsigned cls = pagemap_get(items[i])->cls;
		for (j = i + 1; j < n && pagemap_get(items[j])->cls == cls; j++)
			;
		arena_flush(a, cls, items + i, j - i);
	}
}

static void post(arena_t *a, void *const *items, unsigned n)
{
	inbox_node_t *nd = node_get();
	if (!nd) {
		flush_groups(a, items, n);
		return;
	}
	memcpy(nd->items, items, n * sizeof(void *));
	nd->n = n;
	/* Counted before the push, so a drain never subtracts first. */
	size_t bytes = __atomic_add_fetch(&a->inbox_bytes, bytes_of(items, n), __ATOMIC_RELAXED);
	inbox_node_t *head = __atomic_load_n(&a->inbox, __ATOMIC_RELAXED);
	do
		nd->next = head;
	while (!__atomic_compare_exchange_n(&a->inbox, &head, nd, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	if (bytes > INBOX_LIMIT)
		inbox_drain(a);
	else if (!head)
		/* If the arena's threads have gone quiet, the purging pass
		 * empties the inbox. */
		purge_notify(a);
}

/* Takes the whole inbox; what it held is uncounted at once, so the limit
 * is on what nobody is emptying yet. */
static inbox_node_t *take_all(arena_t *a, inbox_node_t **last)
{
	inbox_node_t *first = __atomic_exchange_n(&a->inbox, NULL, __ATOMIC_ACQUIRE);
	size_t bytes = 0;
	for (inbox_node_t *nd = first; nd; nd = nd->next) {
		bytes += bytes_of(nd->items, nd->n);
		*last = nd;
	}
	if (first)
		__atomic_sub_fetch(&a->inbox_bytes, bytes, __ATOMIC_RELAXED);
	return first;
}

bool inbox_drain(arena_t *a)
{
	inbox_node_t *last, *first = take_all(a, &last);
	if (!first)
		return false;
	for (inbox_node_t *nd = first; nd; nd = nd->next)
		flush_groups(a, nd->items, nd->n);
	node_put(first, last);
	return true;
}

void inbox_free_class(arena_t *a, unsigned cls, void *const *items, unsigned n)
{
	uint64_t now = 0;
	if (arena_try_flush(a, cls, items, n, &now))
		return;
	for (unsigned i = 0; i < n; i += INBOX_BATCH)
		post(a, items + i, n - i < INBOX_BATCH ? n - i : INBOX_BATCH);
}

typedef struct {
	uint32_t key;	/* arena, then class */
	void *p;
} entry_t;

/* One page-map lookup per block, then each (arena, class) group takes its
 * bin's lock once. */
static void free_batch(void *const *items, unsigned n)
{
	entry_t by_cls[INBOX_BATCH], e[INBOX_BATCH];
	uint8_t at[NCLASSES + 1] = { 0 };
	/* By class with a counting sort (a batch of random sizes spans dozens
	 * of classes: an insertion sort cost a third of a cross-thread free),
	 * then by arena with an insertion sort, stable, which only moves
	 * anything when the batch holds blocks of several arenas. */
	for (unsigned i = 0; i < n; i++) {
		span_t *s = pagemap_get(items[i]);
		by_cls[i] = (entry_t){ s->arena->index << 8 | s->cls, items[i] };
		at[s->cls + 1]++;
	}
	for (unsigned c = 1; c <= NCLASSES; c++)
		at[c] = (uint8_t)(at[c] + at[c - 1]);
	for (unsigned i = 0; i < n; i++)
		e[at[by_cls[i].key & 0xff]++] = by_cls[i];
	for (unsigned i = 1; i < n; i++) {
		entry_t x = e[i];
		unsigned j = i;
		for (; j && x.key >> 8 < e[j - 1].key >> 8; j--)
			e[j] = e[j - 1];
		e[j] = x;
	}
	void *group[INBOX_BATCH], *wait[INBOX_BATCH];
	unsigned nwait = 0;
	uint64_t now = 0;
	for (unsigned i = 0, j; i < n; i = j) {
		unsigned ng = 0;
		for (j = i; j < n && e[j].key == e[i].key; j++)
			group[ng++] = e[j].p;
		span_t *s = pagemap_get(group[0]);
		arena_t *a = s->arena;
		if (!arena_try_flush(a, s->cls, group, ng, &now)) {
			memcpy(wait + nwait, group, ng * sizeof(void *));
			nwait += ng;
		}
		/* One batch per arena for the groups whose bins were busy. */
		if (nwait && (j == n || e[j].key >> 8 != e[i].key >> 8)) {
			post(a, wait, nwait);
			nwait = 0;
		}
	}
}

void inbox_free(void *const *items, unsigned n)
{
	for (unsigned i = 0; i < n; i += INBOX_BATCH)
		free_batch(items + i, n - i < INBOX_BATCH ? n - i : INBOX_BATCH);
}

void inbox_drain_nowait(arena_t *a)
{
	inbox_node_t *last, *first = take_all(a, &last);
	if (!first)
		return;
	/* Groups whose bins are still busy are posted again. */
	for (inbox_node_t *nd = first; nd; nd = nd->next)
		free_batch(nd->items, nd->n);
	node_put(first, last);
}

size_t inbox_pending_bytes(void)
{
	size_t sum = 0;
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		arena_t *a = __atomic_load_n(&ebb_arenas[i], __ATOMIC_ACQUIRE);
		if (a)
			sum += __atomic_load_n(&a->inbox_bytes, __ATOMIC_RELAXED);
	}
	return sum;
}

void inbox_fork_prepare(void) { ebb_lock(&pool_lock); }
void inbox_fork_parent(void) { ebb_unlock(&pool_lock); }
void inbox_fork_child(void) { ebb_lock_reset(&pool_lock); }
