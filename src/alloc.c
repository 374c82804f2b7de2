/* The allocation API. malloc and free first try the thread cache inline: a
 * size-class lookup, a stack pop or push, one compare on the event counter,
 * and for free one page-map lookup. Everything else is out of line. */
#include <errno.h>
#include <string.h>

#include "ebbmalloc.h"

#include "arena.h"
#include "huge.h"
#include "init.h"
#include "msg.h"
#include "pagemap.h"
#include "prof.h"
#include "tcache.h"

/* Every entry point with an inlined fast path lives in section ebb_fast: the
 * purger must not take the cache of a thread stopped in one (see
 * tcache_syscall_stop). */
#define EBB_FAST __attribute__((section("ebb_fast")))
#define EBB_EXPORT __attribute__((visibility("default"))) EBB_FAST

/* Requests larger than this can never be met (and would overflow rounding). */
#define REQUEST_MAX ((size_t)PTRDIFF_MAX - ((size_t)1 << 30))

/* ra: the return address into the program, for heap-profile stacks. */
static void *alloc_small(unsigned cls, const void *ra)
{
	tcache_t *tc = tcache_enter();
	void *p = NULL;
	bool sample = false;
	if (tc && tbin_cap(&tc->bins[cls])) {
		tbin_t *b = &tc->bins[cls];
		/* The counter is never negative outside malloc_hit, which counted
		 * this allocation already when it found the counter crossed. */
		sample = tc->event_left < 0 ? tcache_event(tc) : tcache_count(tc, ebb_classes[cls].size);
		if (b->top == b->lo) {
			unsigned want = tbin_cap(b) / 2 ? tbin_cap(b) / 2 : 1;
			b->top = b->lo + arena_refill(tc->arena, cls, b->lo, want);
		}
		if (b->top != b->lo)
			p = *--b->top;
	} else {
		arena_t *a = tc ? tc->arena : tcache_arena();
		if (tc)
			sample = tcache_count(tc, ebb_classes[cls].size);
		if (!a || !arena_refill(a, cls, &p, 1))
			p = NULL;
	}
	if (!p) {
		tcache_leave(tc);
		errno = ENOMEM;
		return NULL;
	}
	block_clear_mark(p);
	if (unlikely(sample))
		prof_sample_alloc(p, ebb_classes[cls].size, tc->prof_uid, ra);
	tcache_leave(tc);
	return p;
}

/* Large and huge blocks count towards the thread's events too. */
static void *sampled_big(void *p, const void *ra)
{
	tcache_t *tc = tcache_enter();
	size_t bytes = p ? span_bytes(pagemap_get(p)) : 0;
	if (p && tc && tcache_count(tc, bytes))
		prof_sample_alloc(p, bytes, tc->prof_uid, ra);
	tcache_leave(tc);
	return p;
}

/* Every allocation that is not a thread-cache hit. align is a power of two. */
static void *alloc_any(size_t n, size_t align, const void *ra)
{
	ebb_ensure_init();
	if (n == 0)
		n = 1;
	if (align <= 16) {
		if (n <= SMALL_MAX)
			return alloc_small(size_class(n), ra);
	} else if (n <= SMALL_MAX && align <= PAGE_SIZE) {
		unsigned c = size_class_aligned(n, align);
		if (c < NCLASSES)
			return alloc_small(c, ra);
	}
	if (n > REQUEST_MAX || align > REQUEST_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	if (align_up(n, PAGE_SIZE) + (align > PAGE_SIZE ? align : 0) <= LARGE_MAX) {
		arena_t *a = tcache_arena();
		void *p = a ? arena_large_alloc(a, n, align) : NULL;
		if (!p)
			errno = ENOMEM;
		return sampled_big(p, ra);
	}
	return sampled_big(huge_alloc(n, align), ra);
}

#define RA __builtin_return_address(0)

/* Reached by a tail call from malloc: the return address is the
 * program's. */
static EBB_NOINLINE void *malloc_slow(size_t n)
{
	return alloc_any(n, 0, RA);
}

static EBB_NOINLINE void *malloc_slow_from(size_t n, const void *ra)
{
	return alloc_any(n, 0, ra);
}

/* A thread-cache hit, or NULL. */
EBB_INLINE void *malloc_hit(size_t n)
{
	tcache_t *tc = ebb_tc;
	tbin_t *b;
	if (likely(n <= LUT_MAX))
		b = (tbin_t *)((char *)tc + ebb_bin_lut[n]);
	else if (n <= SMALL_MAX)
		b = &tc->bins[size_class(n)];
	else
		return NULL;
	void **top = b->top;
	if (likely(top != b->lo)) {
		/* Counted even when it crosses: the slow path knows (alloc_small). */
		tc->event_left -= b->size;
		if (likely(tc->event_left >= 0)) {
			b->top = top - 1;
			void *p = top[-1];
			block_clear_mark(p);
			return p;
		}
	}
	return NULL;
}

/* malloc for a caller that returns to ra (the program, for profiles). */
EBB_INLINE void *malloc_ra(size_t n, const void *ra)
{
	void *p = malloc_hit(n);
	return likely(p != NULL) ? p : malloc_slow_from(n, ra);
}

EBB_EXPORT void *ebb_malloc(size_t n)
{
	void *p = malloc_hit(n);
	return likely(p != NULL) ? p : malloc_slow(n);
}

/* For C++ operator new: the stack starts at the caller of new. */
EBB_FAST void *ebb_malloc_from(size_t n, const void *ra)
{
	return malloc_ra(n, ra);
}

static __attribute__((noreturn, cold)) void bad_pointer(const char *fn, void *p, span_t *s)
{
	uintptr_t a = (uintptr_t)p;
	if (s && span_contains(s, a)) {
		if (a == s->base && (s->kind == SPAN_FREE || s->kind == SPAN_HUGE_FREED))
			ebb_fatal("%s(): double free of %p", fn, p);
		if (s->kind == SPAN_SMALL)
			ebb_fatal("%s(): invalid pointer %p: inside a %u-byte block, not at its start", fn, p,
				  s->size);
		if (s->kind == SPAN_LARGE || s->kind == SPAN_HUGE)
			ebb_fatal("%s(): invalid pointer %p: inside the block at %p, not at its start", fn, p,
				  (void *)s->base);
		ebb_fatal("%s(): invalid pointer %p: in free memory (double free?)", fn, p);
	}
	ebb_fatal("%s(): invalid pointer %p: not allocated by ebbmalloc", fn, p);
}

/* Checks p is the start of a block we handed out; returns its span. */
static span_t *checked_span(const char *fn, void *p)
{
	span_t *s = pagemap_get(p);
	uintptr_t a = (uintptr_t)p;
	if (!s || !span_contains(s, a))
		bad_pointer(fn, p, s);
	switch (s->kind) {
	case SPAN_SMALL:
		if (slot_index(a - s->base, s->inv, s->shift) >= s->nslots)
			bad_pointer(fn, p, s);
		return s;
	case SPAN_LARGE:
	case SPAN_HUGE:
		if (a != s->base)
			bad_pointer(fn, p, s);
		return s;
	default:
		bad_pointer(fn, p, s);
	}
}

static __attribute__((cold)) void check_freed(const char *fn, tcache_t *tc, span_t *s, void *p)
{
	/* The mark is only a hint (a program may store the same value); the
	 * cache and the slab bitmap say for sure. */
	if ((tc && tcache_holds(tc, s->cls, p)) || arena_slot_is_free(s, p))
		ebb_fatal("%s(): %s of %p (size class %u bytes)", fn,
			  fn[0] == 'f' ? "double free" : "use of a freed block", p, s->size);
}

static void free_small(span_t *s, void *p)
{
	tcache_t *tc = tcache_enter();
	if (unlikely(block_marked_free(p)))
		check_freed("free", tc, s, p);
	tbin_t *b = tc ? &tc->bins[s->cls] : NULL;
	if (b && tbin_cap(b) && (span_tag(s) & ~TAG_SAMPLED) == tc->tag) {
		if (b->top >= b->hi)
			tcache_flush_bin(tc, s->cls, tbin_cap(b) / 2);
		block_mark_free(p);
		*b->top++ = p;
	} else if (b && tbin_cap(b)) {
		block_mark_free(p);
		tcache_remote_add(tc, p);
	} else {
		arena_flush(s->arena, s->cls, &p, 1);
	}
	tcache_leave(tc);
}

static EBB_NOINLINE void free_slow(void *p)
{
	if (!p)
		return;
	span_t *s = checked_span("free", p);
	if (unlikely(__atomic_load_n(&s->samples, __ATOMIC_RELAXED) != NULL))
		prof_sample_free(s, p);
	switch (s->kind) {
	case SPAN_SMALL:
		free_small(s, p);
		return;
	case SPAN_LARGE:
		arena_large_free(s);
		return;
	default:
		huge_free(s);
	}
}

EBB_EXPORT void ebb_free(void *p)
{
	span_t *s = pagemap_lookup(p);
	tcache_t *tc = ebb_tc;
	/* One compare checks the tag, that p is in the slab, and that it is
	 * the start of a slot (see span_t.key and slot_index). */
	uint64_t off = (uintptr_t)p - s->key + tc->tag_bits;
	tbin_t *b = (tbin_t *)((char *)tc + s->binoff);
	void **top = b->top;
	if (likely(slot_index(off, s->inv, s->shift) < s->nslots && top < b->hi && !block_marked_free(p))) {
		block_mark_free(p);
		*top = p;
		b->top = top + 1;
		return;
	}
	free_slow(p);
}

EBB_EXPORT void *ebb_calloc(size_t nmemb, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = malloc_ra(total, RA);
	/* Huge blocks are fresh mappings, already zero. */
	if (p && total <= LARGE_MAX)
		memset(p, 0, total);
	return p;
}

static size_t usable(span_t *s)
{
	return s->kind == SPAN_SMALL ? s->size : span_bytes(s);
}

/* A sampled block resized in place (or moved by mremap) to q: recorded
 * again with its new size, at this realloc's stack, as a moved block is. */
static void *resampled(span_t *s, void *p, void *q, const void *ra)
{
	if (likely(!s->samples))
		return q;
	prof_sample_free(s, p);
	tcache_t *tc = tcache_enter();
	prof_sample_alloc(q, span_bytes(s), tc ? tc->prof_uid : 0, ra);
	tcache_leave(tc);
	return q;
}

EBB_EXPORT void *ebb_realloc(void *p, size_t n)
{
	if (!p)
		return malloc_ra(n, RA);
	if (n == 0) {
		/* glibc frees and returns NULL. */
		ebb_free(p);
		return NULL;
	}
	span_t *s = checked_span("realloc", p);
	if (s->kind == SPAN_SMALL && unlikely(block_marked_free(p))) {
		tcache_t *tc = tcache_enter();
		check_freed("realloc", tc, s, p);
		tcache_leave(tc);
	}
	size_t old = usable(s);
	if (n > REQUEST_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	switch (s->kind) {
	case SPAN_SMALL:
		if (n <= old && (n > old / 2 || old <= 16))
			return p;
		break;
	case SPAN_LARGE:
		if (n > SMALL_MAX && align_up(n, PAGE_SIZE) <= LARGE_MAX && arena_large_resize(s, n))
			return resampled(s, p, p, RA);
		break;
	default:
		if (n > LARGE_MAX) {
			void *q = huge_realloc(s, n);
			if (q)
				return resampled(s, p, q, RA);
		}
	}
	void *q = malloc_ra(n, RA);
	if (!q)
		return NULL;
	memcpy(q, p, n < old ? n : old);
	ebb_free(p);
	return q;
}

EBB_EXPORT void *ebb_reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return ebb_realloc(p, total);
}

EBB_EXPORT int ebb_posix_memalign(void **out, size_t align, size_t n)
{
	if (!is_pow2(align) || align % sizeof(void *)) {
		ebb_msg("posix_memalign(): alignment %zu is not a power of two multiple of %zu", align,
			sizeof(void *));
		return EINVAL;
	}
	int saved = errno;
	void *p = alloc_any(n, align, RA);
	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *ebb_aligned_alloc_from(size_t align, size_t n, const void *ra)
{
	/* C17: the alignment must be valid; glibc >= 2.38 rejects non powers of two. */
	if (!is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return alloc_any(n, align, ra);
}

EBB_EXPORT void *ebb_aligned_alloc(size_t align, size_t n)
{
	return ebb_aligned_alloc_from(align, n, RA);
}

EBB_EXPORT void *ebb_memalign(size_t align, size_t n)
{
	/* glibc rounds an alignment that is not a power of two up to one. */
	if (!is_pow2(align)) {
		if (align > REQUEST_MAX) {
			errno = EINVAL;
			return NULL;
		}
		size_t a = 1;
		while (a < align)
			a <<= 1;
		align = a;
	}
	return alloc_any(n, align, RA);
}

EBB_EXPORT void *ebb_valloc(size_t n)
{
	return alloc_any(n, PAGE_SIZE, RA);
}

EBB_EXPORT void *ebb_pvalloc(size_t n)
{
	if (n > REQUEST_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_any(n ? align_up(n, PAGE_SIZE) : PAGE_SIZE, PAGE_SIZE, RA);
}

EBB_EXPORT size_t ebb_malloc_usable_size(void *p)
{
	return p ? usable(checked_span("malloc_usable_size", p)) : 0;
}

EBB_EXPORT void ebb_free_sized(void *p, size_t size)
{
	(void)size;
	ebb_free(p);
}

EBB_EXPORT void ebb_free_aligned_sized(void *p, size_t align, size_t size)
{
	(void)align;
	(void)size;
	ebb_free(p);
}

#ifndef EBB_NO_OVERRIDE
/* Aliases bind the standard names to the same code, with no extra jump. */
#define ALIAS(name) __attribute__((alias(#name), visibility("default"), used))
void *malloc(size_t) ALIAS(ebb_malloc);
void free(void *) ALIAS(ebb_free);
void *calloc(size_t, size_t) ALIAS(ebb_calloc);
void *realloc(void *, size_t) ALIAS(ebb_realloc);
void *reallocarray(void *, size_t, size_t) ALIAS(ebb_reallocarray);
int posix_memalign(void **, size_t, size_t) ALIAS(ebb_posix_memalign);
void *aligned_alloc(size_t, size_t) ALIAS(ebb_aligned_alloc);
void *memalign(size_t, size_t) ALIAS(ebb_memalign);
void *valloc(size_t) ALIAS(ebb_valloc);
void *pvalloc(size_t) ALIAS(ebb_pvalloc);
size_t malloc_usable_size(void *) ALIAS(ebb_malloc_usable_size);
void free_sized(void *, size_t) ALIAS(ebb_free_sized);
void free_aligned_sized(void *, size_t, size_t) ALIAS(ebb_free_aligned_sized);
void cfree(void *) ALIAS(ebb_free);
void *__libc_malloc(size_t) ALIAS(ebb_malloc);
void __libc_free(void *) ALIAS(ebb_free);
void *__libc_calloc(size_t, size_t) ALIAS(ebb_calloc);
void *__libc_realloc(void *, size_t) ALIAS(ebb_realloc);
void *__libc_memalign(size_t, size_t) ALIAS(ebb_memalign);
void *__libc_valloc(size_t) ALIAS(ebb_valloc);
void *__libc_pvalloc(size_t) ALIAS(ebb_pvalloc);
int __posix_memalign(void **, size_t, size_t) ALIAS(ebb_posix_memalign);
#endif
