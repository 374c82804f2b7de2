/* Free page runs of an arena. Runs are kept in buckets by exact length with
 * a bitmap of non-empty buckets, so the best fit is a bit scan. Neighbouring
 * free runs of the same region are merged. Freed pages stay resident
 * ("dirty") until ph_purge returns them to the OS after the decay time; a
 * region that becomes one free run is unmapped then, beyond the few the
 * arena retains. */
#include <errno.h>

#include "arena.h"
#include "config.h"
#include "meta.h"
#include "os.h"
#include "pagemap.h"

static void dirty_link(arena_t *a, span_t *s)
{
	s->dprev = NULL;
	s->dnext = a->dirty_head;
	if (s->dnext)
		s->dnext->dprev = s;
	a->dirty_head = s;
	a->dirty_pages += s->dirty;
}

static void dirty_unlink(arena_t *a, span_t *s)
{
	if (s->dprev)
		s->dprev->dnext = s->dnext;
	else
		a->dirty_head = s->dnext;
	if (s->dnext)
		s->dnext->dprev = s->dprev;
	s->dnext = s->dprev = NULL;
	a->dirty_pages -= s->dirty;
}

static void run_insert(arena_t *a, span_t *s)
{
	s->kind = SPAN_FREE;
	s->key = 0;
	size_t n = s->npages;
	unsigned d = s->dirty ? RUNS_DIRTY : RUNS_CLEAN;
	s->prev = NULL;
	s->next = a->runs[d][n];
	if (s->next)
		s->next->prev = s;
	a->runs[d][n] = s;
	a->runmap[d][n / 64] |= (uint64_t)1 << (n % 64);
	a->free_pages += n;
	if (n == s->region->npages)
		a->empty_regions++;
	if (s->dirty)
		dirty_link(a, s);
	/* Only the ends of a free run are mapped: that is all merging needs. */
	pagemap_set(s->base, s);
	pagemap_set(s->base + span_bytes(s) - PAGE_SIZE, s);
}

static void run_remove(arena_t *a, span_t *s)
{
	size_t n = s->npages;
	unsigned d = s->dirty ? RUNS_DIRTY : RUNS_CLEAN;
	if (s->prev)
		s->prev->next = s->next;
	else
		a->runs[d][n] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (!a->runs[d][n])
		a->runmap[d][n / 64] &= ~((uint64_t)1 << (n % 64));
	a->free_pages -= n;
	if (n == s->region->npages)
		a->empty_regions--;
	if (s->dirty)
		dirty_unlink(a, s);
	s->next = s->prev = NULL;
}

/* Smallest non-empty bucket of kind d holding runs of at least n pages. */
static size_t run_find(arena_t *a, unsigned d, size_t n)
{
	for (size_t w = n / 64; w < sizeof(a->runmap[d]) / sizeof(a->runmap[d][0]); w++) {
		uint64_t bits = a->runmap[d][w];
		if (w == n / 64)
			bits &= ~(uint64_t)0 << (n % 64);
		if (bits)
			return w * 64 + (size_t)__builtin_ctzll(bits);
	}
	return 0;
}

/* Descriptors set aside before a split, so running out of memory half-way
 * through never leaves the heap inconsistent. */
static bool desc_reserve(arena_t *a)
{
	while (a->ndesc < 3) {
		span_t *d = span_new();
		if (!d)
			return false;
		d->next = a->desc;
		a->desc = d;
		a->ndesc++;
	}
	return true;
}

static span_t *desc_take(arena_t *a)
{
	span_t *d = a->desc;
	a->desc = d->next;
	a->ndesc--;
	d->next = NULL;
	d->dirty = 0;
	d->dnext = d->dprev = NULL;
	return d;
}

static bool region_add(arena_t *a)
{
	region_t *r = a->region_cache;
	if (r)
		a->region_cache = r->next;
	else
		r = meta_alloc(sizeof(*r));
	span_t *s = r ? span_new() : NULL;
	void *m = s ? os_map(REGION_SIZE, (size_t)2 << 20, OS_NAME_HEAP) : NULL;
	if (!m || !pagemap_reserve((uintptr_t)m, REGION_SIZE)) {
		if (m)
			os_unmap(m, REGION_SIZE);
		if (s)
			span_delete(s);
		if (r) {
			r->next = a->region_cache;
			a->region_cache = r;
		}
		errno = ENOMEM;
		return false;
	}
	r->base = (uintptr_t)m;
	r->npages = REGION_PAGES;
	r->next = a->regions;
	a->regions = r;
	a->nregions++;
	__atomic_store_n(&a->grew, true, __ATOMIC_RELAXED);
	s->base = r->base;
	s->npages = REGION_PAGES;
	s->region = r;
	s->arena = a;
	s->dirty = 0;	/* fresh pages are not resident */
	run_insert(a, s);
	return true;
}

/* Cuts free run s (already removed) after its first n pages and returns
 * the tail as a new descriptor, not inserted. Dirty pages are not tracked
 * page by page, so each part is charged with as many as it can hold. */
static span_t *run_cut(arena_t *a, span_t *s, size_t n)
{
	span_t *t = desc_take(a);
	t->base = s->base + (n << PAGE_SHIFT);
	t->npages = s->npages - n;
	t->region = s->region;
	t->arena = a;
	t->dirty = s->dirty < t->npages ? s->dirty : t->npages;
	t->freed_ns = s->freed_ns;
	s->npages = n;
	if (s->dirty > n)
		s->dirty = n;
	return t;
}

span_t *ph_alloc(arena_t *a, size_t npages, size_t align_pages)
{
	size_t need = npages + (align_pages > 1 ? align_pages - 1 : 0);
	if (need > REGION_PAGES || !desc_reserve(a)) {
		errno = ENOMEM;
		return NULL;
	}
	/* Resident pages first: reusing them costs no page faults and no RSS. */
	unsigned d = RUNS_DIRTY;
	size_t b = run_find(a, d, need);
	if (!b) {
		d = RUNS_CLEAN;
		b = run_find(a, d, need);
	}
	if (!b) {
		if (!region_add(a))
			return NULL;
		b = run_find(a, d, need);
	}
	span_t *s = a->runs[d][b];
	run_remove(a, s);
	if (align_pages > 1) {
		uintptr_t want = align_up(s->base, align_pages << PAGE_SHIFT);
		size_t head = (want - s->base) >> PAGE_SHIFT;
		if (head) {
			span_t *h = s;
			s = run_cut(a, h, head);
			run_insert(a, h);
		}
	}
	if (s->npages > npages)
		run_insert(a, run_cut(a, s, npages));
	s->kind = SPAN_UNUSED;	/* the caller gives it its kind under the lock */
	s->dirty = 0;
	s->next = s->prev = NULL;
	pagemap_set_range(s->base, span_bytes(s), s);
	return s;
}

/* Absorbs free neighbour n into s (n already removed from the heap). */
static void absorb(span_t *s, span_t *n)
{
	if (n->dirty && (!s->dirty || n->freed_ns < s->freed_ns))
		s->freed_ns = n->freed_ns;
	s->dirty += n->dirty;
	s->npages += n->npages;
	n->kind = SPAN_UNUSED;
	n->dirty = 0;
	span_delete(n);
}

/* Puts s (not in the heap) back as a free run, merged with free neighbours. */
static void insert_merged(arena_t *a, span_t *s)
{
	region_t *r = s->region;
	uintptr_t end = s->base + span_bytes(s);
	if (s->base > r->base) {
		span_t *p = pagemap_get((void *)(s->base - PAGE_SIZE));
		if (p && p->kind == SPAN_FREE && p->region == r && p->base + span_bytes(p) == s->base) {
			run_remove(a, p);
			absorb(p, s);
			s = p;
		}
	}
	if (end < r->base + (r->npages << PAGE_SHIFT)) {
		span_t *n = pagemap_get((void *)end);
		if (n && n->kind == SPAN_FREE && n->region == r && n->base == end) {
			run_remove(a, n);
			absorb(s, n);
		}
	}
	run_insert(a, s);
}

void ph_free(arena_t *a, span_t *s, uint64_t freed_ns)
{
	s->key = 0;
	/* A slab's pages given back while it was in use are clean already. */
	s->dirty = s->npages - (s->kind == SPAN_SMALL ? (size_t)__builtin_popcount(s->purged) : 0);
	s->purged = 0;
	s->kind = SPAN_FREE;
	s->freed_ns = freed_ns ? freed_ns : os_now_ns();
	s->dnext = s->dprev = NULL;
	insert_merged(a, s);
}

/* A span given back: an empty slab, or a large block whose kind the freeing
 * thread set to SPAN_UNUSED (so a second free of it is reported). */
static void take_given(arena_t *a, span_t *s)
{
	if (s->kind == SPAN_SMALL)
		a->slab_pages -= s->npages;
	else
		a->large_pages -= s->npages;
	ph_free(a, s, s->freed_ns);
}

static bool try_lock_sc(arena_t *a)
{
	uint32_t expect = 0;
	return __atomic_compare_exchange_n(&a->lock.state, &expect, 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void ph_unlock(arena_t *a)
{
	for (;;) {
		span_t *s = NULL;
		if (__atomic_load_n(&a->giving, __ATOMIC_RELAXED))
			s = __atomic_exchange_n(&a->giving, NULL, __ATOMIC_ACQUIRE);
		while (s) {
			span_t *next = s->dnext;
			take_given(a, s);
			s = next;
		}
		/* A span given after our look found the lock still held and left
		 * it to us; if nobody else holds it now, take it in. Sequentially
		 * consistent, like the giver's push and trylock: either it sees
		 * us unlocked or we see its span. */
		if (__atomic_exchange_n(&a->lock.state, 0, __ATOMIC_SEQ_CST) == 2)
			ebb_lock_wake(&a->lock);
		if (!__atomic_load_n(&a->giving, __ATOMIC_SEQ_CST) || !try_lock_sc(a))
			return;
	}
}

void ph_give(arena_t *a, span_t *s)
{
	/* A thread that frees another's memory (a Cleaner thread, say) must
	 * not queue behind the owners' allocations: if the lock is busy, the
	 * holder does the work. */
	if (ebb_trylock(&a->lock)) {
		take_given(a, s);
		ph_unlock(a);
		return;
	}
	span_t *head = __atomic_load_n(&a->giving, __ATOMIC_RELAXED);
	do
		s->dnext = head;
	while (!__atomic_compare_exchange_n(&a->giving, &head, s, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
	/* The holder may have unlocked between our trylock and the push. */
	if (try_lock_sc(a))
		ph_unlock(a);
}

bool ph_resize(arena_t *a, span_t *s, size_t npages)
{
	if (npages == s->npages)
		return true;
	region_t *r = s->region;
	uintptr_t end = s->base + span_bytes(s);
	if (npages < s->npages) {
		if (!desc_reserve(a))
			return false;
		span_t *t = desc_take(a);
		t->base = s->base + (npages << PAGE_SHIFT);
		t->npages = s->npages - npages;
		t->region = r;
		t->arena = a;
		s->npages = npages;
		ph_free(a, t, 0);
		return true;
	}
	size_t more = npages - s->npages;
	if (end >= r->base + (r->npages << PAGE_SHIFT))
		return false;
	span_t *n = pagemap_get((void *)end);
	if (!n || n->kind != SPAN_FREE || n->region != r || n->base != end || n->npages < more)
		return false;
	run_remove(a, n);
	if (n->npages > more) {
		n->base += more << PAGE_SHIFT;
		n->npages -= more;
		if (n->dirty > n->npages)
			n->dirty = n->npages;
		run_insert(a, n);
	} else {
		n->kind = SPAN_UNUSED;
		n->dirty = 0;
		span_delete(n);
	}
	pagemap_set_range(end, more << PAGE_SHIFT, s);
	s->npages = npages;
	return true;
}

static void region_unmap(arena_t *a, span_t *s)
{
	region_t *r = s->region;
	region_t **pp = &a->regions;
	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	a->nregions--;
	a->unmapped_regions++;
	os_unmap((void *)r->base, REGION_SIZE);
	s->kind = SPAN_UNUSED;
	s->dirty = 0;
	span_delete(s);
	r->next = a->region_cache;
	a->region_cache = r;
}

#define PURGE_BATCH 16

size_t ph_purge(arena_t *a, uint64_t cutoff, uint64_t *next)
{
	size_t bytes = 0;
	uint64_t oldest = UINT64_MAX;
	span_t *batch[PURGE_BATCH];
	ebb_lock(&a->lock);
	for (;;) {
		unsigned n = 0;
		oldest = UINT64_MAX;
		for (span_t *s = a->dirty_head, *nx; s; s = nx) {
			nx = s->dnext;
			if (s->freed_ns > cutoff) {
				if (s->freed_ns < oldest)
					oldest = s->freed_ns;
				continue;
			}
			if (n == PURGE_BATCH) {
				oldest = 0;	/* more to do right away */
				break;
			}
			run_remove(a, s);
			/* Out of the heap while unlocked: not free, so no neighbour
			 * merges it and no allocation takes it. */
			s->kind = SPAN_UNUSED;
			batch[n++] = s;
		}
		if (!n)
			break;
		ph_unlock(a);
		for (unsigned i = 0; i < n; i++)
			os_purge((void *)batch[i]->base, span_bytes(batch[i]), ebb_opt.purge == PURGE_FREE);
		ebb_lock(&a->lock);
		for (unsigned i = 0; i < n; i++) {
			span_t *s = batch[i];
			bytes += s->dirty << PAGE_SHIFT;
			__atomic_add_fetch(&a->purged_bytes, s->dirty << PAGE_SHIFT, __ATOMIC_RELAXED);
			__atomic_add_fetch(&a->purges, 1, __ATOMIC_RELAXED);
			s->dirty = 0;
			if (s->npages == s->region->npages && a->empty_regions >= ebb_opt.retain_regions) {
				region_unmap(a, s);
				continue;
			}
			insert_merged(a, s);
		}
	}
	/* Empty clean regions beyond the retained ones (left when a purged run
	 * merged into a clean neighbour) go too. */
	for (span_t *s = a->runs[RUNS_CLEAN][REGION_PAGES], *nx; s && a->empty_regions > ebb_opt.retain_regions;
	     s = nx) {
		nx = s->next;
		run_remove(a, s);
		region_unmap(a, s);
	}
	ph_unlock(a);
	if (next)
		*next = oldest;
	return bytes;
}
