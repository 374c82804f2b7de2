#include "meta.h"

#include <string.h>

#include "lock.h"
#include "os.h"
#include "span.h"

#define META_CHUNK ((size_t)1 << 20)

static ebb_lock_t meta_lock = EBB_LOCK_INIT;
static uintptr_t bump, bump_end;
static size_t mapped;

/* Descriptors are reused first-in first-out, so a freed span's descriptor
 * keeps describing it for a while and a double free can be named as such. */
static span_t *unused_head, *unused_tail;
static size_t unused_count;

static void *bump_alloc(size_t size)
{
	size = align_up(size, 64);
	if (bump + size > bump_end) {
		size_t chunk = size > META_CHUNK ? align_up(size, PAGE_SIZE) : META_CHUNK;
		void *m = os_map(chunk, PAGE_SIZE, OS_NAME_META);
		if (!m)
			return NULL;
		mapped += chunk;
		bump = (uintptr_t)m;
		bump_end = bump + chunk;
	}
	void *p = (void *)bump;
	bump += size;
	return p;
}

void *meta_alloc(size_t size)
{
	ebb_lock(&meta_lock);
	void *p = bump_alloc(size);
	ebb_unlock(&meta_lock);
	return p;
}

size_t meta_mapped(void)
{
	return __atomic_load_n(&mapped, __ATOMIC_RELAXED);
}

span_t *span_new(void)
{
	span_t *s;
	ebb_lock(&meta_lock);
	if (unused_count > 64) {
		s = unused_head;
		unused_head = s->next;
		if (!unused_head)
			unused_tail = NULL;
		unused_count--;
	} else {
		s = bump_alloc(sizeof(span_t));
	}
	ebb_unlock(&meta_lock);
	if (s) {
		/* Other threads may read a stale descriptor at any time: keep the
		 * fields a reader checks (kind, base) consistent while reusing it. */
		__atomic_store_n(&s->kind, SPAN_UNUSED, __ATOMIC_RELAXED);
		s->key = 0;
		s->next = s->prev = NULL;
		s->listed = 0;
		s->dirty = 0;
		s->dnext = s->dprev = NULL;
		s->samples = NULL;
	}
	return s;
}

void span_delete(span_t *s)
{
	s->key = 0;
	ebb_lock(&meta_lock);
	s->next = NULL;
	if (unused_tail)
		unused_tail->next = s;
	else
		unused_head = s;
	unused_tail = s;
	unused_count++;
	ebb_unlock(&meta_lock);
}

void meta_fork_prepare(void) { ebb_lock(&meta_lock); }
void meta_fork_parent(void) { ebb_unlock(&meta_lock); }
void meta_fork_child(void) { ebb_lock_reset(&meta_lock); }
