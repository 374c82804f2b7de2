/* Arena bins: slabs of one size class, tracked by out-of-band bitmaps. Thread
 * caches move blocks in and out in batches, so each lock round trip is paid
 * for many allocations. */
#include <errno.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "inbox.h"
#include "meta.h"
#include "msg.h"
#include "os.h"
#include "pagemap.h"
#include "purge.h"
#include "tcache.h"

arena_t *ebb_arenas[MAX_ARENAS];
unsigned ebb_narenas = 1;
static ebb_lock_t arenas_lock = EBB_LOCK_INIT;

arena_t *arena_get(unsigned index)
{
	arena_t *a = __atomic_load_n(&ebb_arenas[index], __ATOMIC_ACQUIRE);
	if (likely(a))
		return a;
	ebb_lock(&arenas_lock);
	a = ebb_arenas[index];
	if (!a) {
		a = meta_alloc(sizeof(*a));
		if (a) {
			a->index = index;
			a->tag = index + 1;
			__atomic_store_n(&ebb_arenas[index], a, __ATOMIC_RELEASE);
		}
	}
	ebb_unlock(&arenas_lock);
	return a;
}

/* After an allocation from the page heap, lock dropped: if the heap had
 * to map more memory, freed memory that is waiting out its decay may be
 * returned early (purge_grew). */
static inline void after_ph_alloc(arena_t *a)
{
	if (unlikely(__atomic_load_n(&a->grew, __ATOMIC_RELAXED)) && __atomic_exchange_n(&a->grew, false, __ATOMIC_RELAXED))
		purge_grew(a);
}

static span_t *slab_new(arena_t *a, unsigned cls)
{
	const class_info_t *ci = &ebb_classes[cls];
	ebb_lock(&a->lock);
	span_t *s = ph_alloc(a, ci->pages, 1);
	if (s) {
		/* Not free any more before the lock drops: a neighbour's ph_free
		 * must not take it for a free run and merge it. */
		s->kind = SPAN_SMALL;
		a->slab_pages += ci->pages;
	}
	ph_unlock(a);
	after_ph_alloc(a);
	if (!s)
		return NULL;
	s->arena = a;
	s->cls = (uint8_t)cls;
	s->size = ci->size;
	s->recip = ci->recip;
	s->inv = ci->inv;
	s->shift = ci->shift;
	s->nslots = ci->slots;
	s->binoff = tcache_bin_offset(cls);
	s->limit = ci->slots * ci->size;
	s->nfree = ci->slots;
	s->listed = 0;
	s->purged = 0;
	s->settled = true;
	memset(s->freemap, 0, sizeof(s->freemap));
	for (unsigned i = 0; i < ci->slots / 64; i++)
		s->freemap[i] = ~(uint64_t)0;
	if (ci->slots % 64)
		s->freemap[ci->slots / 64] = ((uint64_t)1 << (ci->slots % 64)) - 1;
	s->kind = SPAN_SMALL;
	span_set_tag(s, a->tag);
	return s;
}

/* freed_ns: when the slab became empty (0: now), so its decay starts then. */
static void slab_release(arena_t *a, span_t *s, uint64_t freed_ns)
{
	s->key = 0;
	if (s->purged)
		__atomic_sub_fetch(&a->slab_purged, (size_t)__builtin_popcount(s->purged), __ATOMIC_RELAXED);
	s->freed_ns = freed_ns ? freed_ns : os_now_ns();
	ph_give(a, s);
}

/* Partial slabs are listed by how full they are, in quarters; new blocks
 * come from the fullest, so survivors gather in few slabs and the rest
 * empty out and go back to the OS. */
static unsigned fullness(const span_t *s)
{
	return (unsigned)((s->nfree * PARTIAL_LISTS - 1) / (unsigned)s->nslots);
}

static void list_push(bin_t *b, span_t *s, unsigned q)
{
	s->listed = (uint16_t)(q + 1);
	s->prev = NULL;
	s->next = b->partial[q];
	if (s->next)
		s->next->prev = s;
	b->partial[q] = s;
}

static void partial_push(bin_t *b, span_t *s)
{
	list_push(b, s, fullness(s));
}

static void partial_remove(bin_t *b, span_t *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		b->partial[s->listed - 1] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->listed = 0;
}

static span_t *list_take(bin_t *b, unsigned q)
{
	span_t *s = b->partial[q];
	if (s)
		partial_remove(b, s);
	return s;
}

/* A slab of the bin with free slots, or NULL when it has none. */
static span_t *bin_next_slab(bin_t *b)
{
	for (unsigned q = 0; q < PARTIAL_LISTS; q++) {
		span_t *s = list_take(b, q);
		if (s)
			return s;
	}
	span_t *s = b->spare;
	if (s) {
		b->spare = NULL;
		return s;
	}
	return list_take(b, EMPTY_PAGES_LIST);
}

/* True when a partial slab of the bin may have free slots next to live
 * blocks (those on the last list have none). */
static bool bin_has_holes(const bin_t *b)
{
	for (unsigned q = 0; q < PARTIAL_LISTS; q++)
		if (b->partial[q])
			return true;
	return false;
}

/* A new slab needs the page heap's lock, which every large allocation
 * takes too: the bin's lock (held on entry and return) is dropped
 * meanwhile, so frees into the bin do not queue behind the page heap.
 * Returns the slab to take blocks from, NULL if memory ran out. */
static span_t *bin_grow(arena_t *a, bin_t *b, unsigned cls)
{
	ebb_unlock(&b->lock);
	span_t *s = slab_new(a, cls);
	ebb_lock(&b->lock);
	span_t *cur = b->cur;
	if (cur && cur->nfree) {
		/* Blocks were freed into the current slab meanwhile (frees into
		 * it do not list it), or another thread grew the bin: it goes
		 * first, and the new slab waits on the partial list. */
		if (s)
			partial_push(b, s);
		return cur;
	}
	return s;
}

/* True when slots first..last of s are all free. */
static bool slots_free(const span_t *s, unsigned first, unsigned last)
{
	for (unsigned w = first / 64; w <= last / 64; w++) {
		uint64_t m = ~(uint64_t)0;
		if (w == first / 64)
			m &= ~(uint64_t)0 << (first % 64);
		if (w == last / 64)
			m &= ~(uint64_t)0 >> (63 - last % 64);
		if (~s->freemap[w] & m)
			return false;
	}
	return true;
}

/* True when every slot overlapping page pg of slab s is free. Pages past
 * the last slot are never touched, so never resident: not counted. */
static bool page_free(const span_t *s, unsigned pg)
{
	uint32_t lo = pg << PAGE_SHIFT, hi = lo + (uint32_t)PAGE_SIZE;
	if (lo >= s->limit)
		return false;
	if (hi > s->limit)
		hi = s->limit;
	unsigned first = (unsigned)(((uint64_t)lo * s->recip) >> 32);
	unsigned last = (unsigned)(((uint64_t)(hi - 1) * s->recip) >> 32);
	return slots_free(s, first, last);
}

/* The pages of s that hold no allocated block, as a mask like s->purged. */
static unsigned empty_pages(const span_t *s)
{
	unsigned mask = 0;
	for (unsigned pg = 0; pg < s->npages && (pg << PAGE_SHIFT) < s->limit; pg++)
		if (page_free(s, pg))
			mask |= 1u << pg;
	return mask;
}

/* Blocks were taken from s: its purged pages that hold one are resident
 * again once written. */
static void slab_unpurge(arena_t *a, span_t *s)
{
	unsigned still = 0;
	for (unsigned pg = 0; pg < s->npages; pg++)
		if (((s->purged >> pg) & 1) && page_free(s, pg))
			still |= 1u << pg;
	unsigned gone = (unsigned)__builtin_popcount(s->purged) - (unsigned)__builtin_popcount(still);
	s->purged = (uint16_t)still;
	if (gone)
		__atomic_sub_fetch(&a->slab_purged, gone, __ATOMIC_RELAXED);
}

/* Gives back the pages of a slab in use that hold only free blocks: what
 * lets a few long-lived survivors stop pinning whole slabs. Bin lock held. */
static size_t slab_purge(arena_t *a, span_t *s)
{
	size_t bytes = 0;
	unsigned run = 0, start = 0;
	for (unsigned pg = 0; pg <= s->npages; pg++) {
		bool take = pg < s->npages && !((s->purged >> pg) & 1) && page_free(s, pg);
		if (take) {
			if (!run)
				start = pg;
			run++;
			s->purged |= (uint16_t)(1u << pg);
			continue;
		}
		if (run) {
			os_purge((void *)(s->base + ((size_t)start << PAGE_SHIFT)), (size_t)run << PAGE_SHIFT,
				 ebb_opt.purge == PURGE_FREE);
			bytes += (size_t)run << PAGE_SHIFT;
			__atomic_add_fetch(&a->slab_purged, run, __ATOMIC_RELAXED);
			__atomic_add_fetch(&a->purged_bytes, (size_t)run << PAGE_SHIFT, __ATOMIC_RELAXED);
			__atomic_add_fetch(&a->purges, 1, __ATOMIC_RELAXED);
			run = 0;
		}
	}
	return bytes;
}

static size_t bin_purge(arena_t *a, bin_t *b, uint64_t cutoff, uint64_t *oldest)
{
	size_t bytes = 0;
	ebb_lock(&b->lock);
	for (unsigned q = 0; q <= EMPTY_PAGES_LIST; q++)
		for (span_t *s = b->partial[q]; s; s = s->next) {
			/* Less than a page free cannot free a page. */
			if (s->settled || s->npages < 2 || (size_t)s->nfree * s->size < PAGE_SIZE)
				continue;
			if (s->freed_ns > cutoff) {
				if (s->freed_ns < *oldest)
					*oldest = s->freed_ns;
				continue;
			}
			bytes += slab_purge(a, s);
			s->settled = true;
		}
	ebb_unlock(&b->lock);
	return bytes;
}

/* Moves free slots lo..hi-1 of s into out[want - 1 - got] downwards
 * (lowest address last, so a stack pops it first). Returns the new count. */
static unsigned take_range(span_t *s, void **out, unsigned got, unsigned want, unsigned lo, unsigned hi)
{
	for (unsigned w = lo / 64; w * 64 < hi && got < want; w++) {
		uint64_t m = ~(uint64_t)0;
		if (w == lo / 64)
			m &= ~(uint64_t)0 << (lo % 64);
		if (hi < w * 64 + 64)
			m &= ~(~(uint64_t)0 << (hi % 64));
		uint64_t bits = s->freemap[w], take = bits & m;
		while (take && got < want) {
			unsigned i = w * 64 + (unsigned)__builtin_ctzll(take);
			bits &= ~(take & -take);
			take &= take - 1;
			out[want - 1 - got] = (void *)(s->base + (uintptr_t)i * s->size);
			got++;
			s->nfree--;
		}
		s->freemap[w] = bits;
	}
	return got;
}

/* The same for the free slots of s that lie wholly outside the pages in
 * skip (a mask like s->purged). */
static unsigned take_slots(span_t *s, void **out, unsigned got, unsigned want, unsigned skip)
{
	if (!skip)
		return take_range(s, out, got, want, 0, (unsigned)s->nslots);
	for (unsigned pg = 0; pg < s->npages && got < want;) {
		if ((skip >> pg) & 1) {
			pg++;
			continue;
		}
		unsigned end = pg;
		while (end < s->npages && !((skip >> end) & 1))
			end++;
		/* Slots starting at or after page pg and ending by page end. */
		uint64_t from = ((uint64_t)pg << PAGE_SHIFT) + s->size - 1, to = (uint64_t)end << PAGE_SHIFT;
		if (from >= s->limit)
			break;
		/* The multiply divides exactly below the limit (sizeclass.c). */
		unsigned lo = (unsigned)((from * s->recip) >> 32);
		unsigned hi = to >= s->limit ? (unsigned)s->nslots : (unsigned)((to * s->recip) >> 32);
		if (lo < hi)
			got = take_range(s, out, got, want, lo, hi);
		pg = end;
	}
	return got;
}

unsigned arena_refill(arena_t *a, unsigned cls, void **out, unsigned want)
{
	bin_t *b = &a->bins[cls];
	unsigned got = 0;
	/* Blocks other threads freed while bins were busy: back in their slabs
	 * before new ones are taken (those whose bins are free now: this
	 * allocation waits for no other class). */
	if (unlikely(__atomic_load_n(&a->inbox, __ATOMIC_RELAXED) != NULL))
		inbox_drain_nowait(a);
	ebb_lock(&b->lock);
	while (got < want) {
		span_t *s = b->cur;
		if (!s || !s->nfree) {
			s = bin_next_slab(b);
			if (!s)
				s = bin_grow(a, b, cls);
			b->cur = s;
			if (!s)
				break;
		}
		/* Holes are looked for in slabs at most a quarter full (where
		 * long-lived survivors sit after a mass free) and in slabs with
		 * purged pages; blocks of whole pages share no page: no holes. */
		if (likely(!s->purged && (s->nfree * 4 < s->nslots * 3 || !(s->size % PAGE_SIZE)))) {
			got = take_slots(s, out, got, want, 0);
			continue;
		}
		/* Holes next to live blocks first, here and in the other partial
		 * slabs: an empty page stays empty (and a purged one purged)
		 * while there is room elsewhere, so long-lived survivors share
		 * pages instead of pinning more of them. Blocks of whole pages
		 * have no neighbours: only purged pages wait. */
		unsigned skip = s->purged;
		if (s->size % PAGE_SIZE)
			skip = s->nfree == s->nslots ? ~0u : empty_pages(s);
		got = take_slots(s, out, got, want, skip);
		if (got < want && s->nfree) {
			if (bin_has_holes(b)) {
				list_push(b, s, EMPTY_PAGES_LIST);
				b->cur = NULL;
				continue;
			}
			got = take_slots(s, out, got, want, 0);
		}
		if (unlikely(s->purged))
			slab_unpurge(a, s);
	}
	b->live += got;
	ebb_unlock(&b->lock);
	if (got < want && got)
		memmove(out, out + (want - got), got * sizeof(void *));
	if (!got)
		errno = ENOMEM;
	return got;
}

static inline unsigned slot_of(const span_t *s, const void *p)
{
	return (unsigned)((((uintptr_t)p - s->base) * s->recip) >> 32);
}

bool arena_slot_is_free(span_t *s, void *p)
{
	bin_t *b = &s->arena->bins[s->cls];
	unsigned i = slot_of(s, p);
	ebb_lock(&b->lock);
	bool f = (s->freemap[i / 64] >> (i % 64)) & 1;
	ebb_unlock(&b->lock);
	return f;
}

void arena_flush(arena_t *a, unsigned cls, void *const *items, unsigned n)
{
	arena_flush_at(a, cls, items, n, 0);
}

/* Frees items into bin b, whose lock is held. Slabs that became empty go
 * to empty[] (up to 8) to be released once the lock is dropped; the
 * return value says whether the purger should hear of it. */
static bool bin_free(bin_t *b, void *const *items, unsigned n, uint64_t now, span_t **empty,
		     unsigned *nempty)
{
	for (unsigned k = 0; k < n; k++) {
		void *p = items[k];
		span_t *s = pagemap_get(p);
		unsigned i = slot_of(s, p);
		uint64_t bit = (uint64_t)1 << (i % 64);
		if (unlikely(s->freemap[i / 64] & bit)) {
			ebb_unlock(&b->lock);
			ebb_fatal("free(): double free of %p (size class %u bytes)", p, s->size);
		}
		s->freemap[i / 64] |= bit;
		s->nfree++;
		s->freed_ns = now;
		s->settled = false;
		if (s == b->cur)
			continue;
		if (s->nfree < s->nslots) {
			if (!s->listed)
				partial_push(b, s);
			else if (s->listed != fullness(s) + 1) {
				partial_remove(b, s);
				partial_push(b, s);
			}
		} else {
			if (s->listed)
				partial_remove(b, s);
			if (!b->spare) {
				b->spare = s;
				b->spare_ns = now;
				b->spare_new = true;
			} else if (*nempty < 8) {
				/* Released after the loop: a later item of this batch
				 * may still name this slab (a double free to report). */
				s->key = 0;
				empty[(*nempty)++] = s;
			} else {
				partial_push(b, s);
			}
		}
	}
	b->live -= n;
	bool spare_new = b->spare_new;
	b->spare_new = false;
	return spare_new || *nempty;
}

static void release_empty(arena_t *a, span_t **empty, unsigned nempty, bool notify, uint64_t now)
{
	for (unsigned e = 0; e < nempty; e++)
		slab_release(a, empty[e], now);
	if (notify)
		purge_notify(a);
}

void arena_flush_at(arena_t *a, unsigned cls, void *const *items, unsigned n, uint64_t freed_ns)
{
	bin_t *b = &a->bins[cls];
	span_t *empty[8];
	unsigned nempty = 0;
	uint64_t now = freed_ns ? freed_ns : os_now_ns();
	ebb_lock(&b->lock);
	bool notify = bin_free(b, items, n, now, empty, &nempty);
	ebb_unlock(&b->lock);
	release_empty(a, empty, nempty, notify, now);
}

bool arena_try_flush(arena_t *a, unsigned cls, void *const *items, unsigned n, uint64_t *now)
{
	bin_t *b = &a->bins[cls];
	span_t *empty[8];
	unsigned nempty = 0;
	if (!ebb_trylock(&b->lock))
		return false;
	if (!*now)
		*now = os_now_ns();
	bool notify = bin_free(b, items, n, *now, empty, &nempty);
	ebb_unlock(&b->lock);
	release_empty(a, empty, nempty, notify, *now);
	return true;
}

void *arena_large_alloc(arena_t *a, size_t size, size_t align)
{
	size_t npages = align_up(size, PAGE_SIZE) >> PAGE_SHIFT;
	size_t align_pages = align > PAGE_SIZE ? align >> PAGE_SHIFT : 1;
	ebb_lock(&a->lock);
	span_t *s = ph_alloc(a, npages, align_pages);
	if (s) {
		s->arena = a;
		s->kind = SPAN_LARGE;
		a->large_pages += s->npages;
	}
	ph_unlock(a);
	after_ph_alloc(a);
	return s ? (void *)s->base : NULL;
}

void arena_large_free(span_t *s)
{
	arena_t *a = s->arena;
	/* Not a large block any more from here on, so a second free of it is
	 * reported while it waits for the page heap's lock. */
	uint8_t kind = SPAN_LARGE;
	if (!__atomic_compare_exchange_n(&s->kind, &kind, SPAN_UNUSED, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		ebb_fatal("free(): double free of %p", (void *)s->base);
	s->freed_ns = os_now_ns();
	ph_give(a, s);
	purge_notify(a);
}

bool arena_large_resize(span_t *s, size_t size)
{
	arena_t *a = s->arena;
	size_t npages = align_up(size, PAGE_SIZE) >> PAGE_SHIFT;
	ebb_lock(&a->lock);
	size_t old = s->npages;
	bool ok = ph_resize(a, s, npages);
	if (ok)
		a->large_pages = a->large_pages - old + s->npages;
	ph_unlock(a);
	if (ok && npages < old)
		purge_notify(a);
	return ok;
}

size_t arena_free_bytes(arena_t *a)
{
	size_t used = 0;
	for (unsigned c = 0; c < NCLASSES; c++)
		used += __atomic_load_n(&a->bins[c].live, __ATOMIC_RELAXED) * ebb_classes[c].size;
	size_t slabs = __atomic_load_n(&a->slab_pages, __ATOMIC_RELAXED) << PAGE_SHIFT;
	return (slabs > used ? slabs - used : 0) + (__atomic_load_n(&a->dirty_pages, __ATOMIC_RELAXED) << PAGE_SHIFT);
}

size_t arena_purge(arena_t *a, uint64_t cutoff, uint64_t *next)
{
	uint64_t oldest = UINT64_MAX, ph_next;
	inbox_drain(a);
	for (unsigned c = 0; c < NCLASSES; c++) {
		bin_t *b = &a->bins[c];
		if (!__atomic_load_n(&b->spare, __ATOMIC_RELAXED))
			continue;
		ebb_lock(&b->lock);
		span_t *s = b->spare;
		uint64_t t = b->spare_ns;
		if (s && t <= cutoff)
			b->spare = NULL;
		else if (s && t < oldest)
			oldest = t;
		ebb_unlock(&b->lock);
		if (s && t <= cutoff)
			slab_release(a, s, t);
	}
	size_t n = 0;
	for (unsigned c = 0; c < NCLASSES; c++)
		if (ebb_classes[c].pages > 1)
			n += bin_purge(a, &a->bins[c], cutoff, &oldest);
	n += ph_purge(a, cutoff, &ph_next);
	if (next)
		*next = ph_next < oldest ? ph_next : oldest;
	return n;
}

/* Lock order: arenas_lock, then per arena every bin, then the page heap. */
void arena_fork_prepare(void)
{
	ebb_lock(&arenas_lock);
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		arena_t *a = ebb_arenas[i];
		if (!a)
			continue;
		for (unsigned c = 0; c < NCLASSES; c++)
			ebb_lock(&a->bins[c].lock);
		ebb_lock(&a->lock);
	}
}

void arena_fork_parent(void)
{
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		arena_t *a = ebb_arenas[i];
		if (!a)
			continue;
		ph_unlock(a);
		for (unsigned c = 0; c < NCLASSES; c++)
			ebb_unlock(&a->bins[c].lock);
	}
	ebb_unlock(&arenas_lock);
}

void arena_fork_child(void)
{
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		arena_t *a = ebb_arenas[i];
		if (!a)
			continue;
		ebb_lock_reset(&a->lock);
		for (unsigned c = 0; c < NCLASSES; c++)
			ebb_lock_reset(&a->bins[c].lock);
	}
	ebb_lock_reset(&arenas_lock);
}
