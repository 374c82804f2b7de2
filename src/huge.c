#include "huge.h"

#include <errno.h>

#include "os.h"
#include "pagemap.h"

static size_t bytes_mapped, nblocks;

void *huge_alloc(size_t size, size_t align)
{
	size_t bytes = align_up(size, PAGE_SIZE);
	void *p = os_map(bytes, align > PAGE_SIZE ? align : PAGE_SIZE, OS_NAME_HUGE);
	if (!p)
		return NULL;
	span_t *s = span_new();
	if (!s || !pagemap_reserve((uintptr_t)p, PAGE_SIZE)) {
		if (s)
			span_delete(s);
		os_unmap(p, bytes);
		errno = ENOMEM;
		return NULL;
	}
	s->base = (uintptr_t)p;
	s->npages = bytes >> PAGE_SHIFT;
	s->arena = NULL;
	s->region = NULL;
	s->kind = SPAN_HUGE;
	/* Only the first page is mapped: a huge block is only ever named by its
	 * start, and other addresses in it are not valid to free. */
	pagemap_set(s->base, s);
	__atomic_add_fetch(&bytes_mapped, bytes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&nblocks, 1, __ATOMIC_RELAXED);
	return p;
}

void huge_free(span_t *s)
{
	size_t bytes = span_bytes(s);
	s->kind = SPAN_HUGE_FREED;
	os_unmap((void *)s->base, bytes);
	__atomic_sub_fetch(&bytes_mapped, bytes, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&nblocks, 1, __ATOMIC_RELAXED);
	span_delete(s);
}

void *huge_realloc(span_t *s, size_t size)
{
	size_t old = span_bytes(s), bytes = align_up(size, PAGE_SIZE);
	void *p = (void *)s->base;
	if (bytes != old && !os_resize(p, old, bytes)) {
		/* No room to grow in place: map the new place first (so it is in
		 * the page map before anyone can see it), then move the pages into
		 * it instead of copying them. */
		void *q = os_map(bytes, PAGE_SIZE, OS_NAME_HUGE);
		if (!q)
			return NULL;
		if (!pagemap_reserve((uintptr_t)q, PAGE_SIZE) || !os_move(p, old, q)) {
			os_unmap(q, bytes);
			errno = ENOMEM;
			return NULL;
		}
		s->base = (uintptr_t)q;
		pagemap_set(s->base, s);
		p = q;
	}
	s->npages = bytes >> PAGE_SHIFT;
	__atomic_add_fetch(&bytes_mapped, bytes - old, __ATOMIC_RELAXED);
	return p;
}

size_t huge_mapped(void) { return __atomic_load_n(&bytes_mapped, __ATOMIC_RELAXED); }
size_t huge_count(void) { return __atomic_load_n(&nblocks, __ATOMIC_RELAXED); }
