/* Statistics and the glibc extras built on them (malloc_stats, mallinfo,
 * malloc_trim, mallopt). Formatted into fixed buffers: no allocation. */
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include "ebbmalloc.h"

#include "arena.h"
#include "huge.h"
#include "init.h"
#include "meta.h"
#include "msg.h"
#include "purge.h"
#include "tcache.h"

#define EBB_EXPORT __attribute__((visibility("default")))

typedef struct {
	size_t small_allocated;	/* blocks out of slabs, incl. thread caches */
	size_t small_active;	/* slab pages */
	size_t large_allocated;
	size_t free_pages;	/* free pages kept in regions */
	size_t regions;
	size_t huge_allocated;
	size_t huge_blocks;
	size_t meta;
	size_t mapped;
	unsigned arenas, threads;
} totals_t;

static void gather(totals_t *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		arena_t *a = __atomic_load_n(&ebb_arenas[i], __ATOMIC_ACQUIRE);
		if (!a)
			continue;
		for (unsigned c = 0; c < NCLASSES; c++) {
			bin_t *b = &a->bins[c];
			ebb_lock(&b->lock);
			t->small_allocated += b->live * ebb_classes[c].size;
			ebb_unlock(&b->lock);
		}
		ebb_lock(&a->lock);
		t->small_active += a->slab_pages << PAGE_SHIFT;
		t->large_allocated += a->large_pages << PAGE_SHIFT;
		t->free_pages += a->free_pages << PAGE_SHIFT;
		t->regions += a->nregions;
		ebb_unlock(&a->lock);
	}
	t->huge_allocated = huge_mapped();
	t->huge_blocks = huge_count();
	t->meta = meta_mapped();
	t->mapped = t->regions * REGION_SIZE + t->huge_allocated + t->meta;
	t->arenas = ebb_narenas;
	t->threads = tcache_thread_count();
}

static size_t allocated(const totals_t *t)
{
	return t->small_allocated + t->large_allocated + t->huge_allocated;
}

EBB_EXPORT void ebb_stats_print_fd(int fd, bool json)
{
	totals_t t;
	char buf[1024];
	size_t n;
	gather(&t);
	if (json)
		n = ebb_snprintf(buf, sizeof(buf),
				 "{\"version\":\"%s\",\"arenas\":%u,\"threads\":%u,\"allocated\":%zu,"
				 "\"small_allocated\":%zu,\"small_active\":%zu,\"large_allocated\":%zu,"
				 "\"huge_allocated\":%zu,\"huge_blocks\":%zu,\"free_in_regions\":%zu,"
				 "\"regions\":%zu,\"metadata\":%zu,\"mapped\":%zu}\n",
				 EBBMALLOC_VERSION, t.arenas, t.threads, allocated(&t), t.small_allocated,
				 t.small_active, t.large_allocated, t.huge_allocated, t.huge_blocks, t.free_pages,
				 t.regions, t.meta, t.mapped);
	else
		n = ebb_snprintf(buf, sizeof(buf),
				 "<ebbmalloc>: stats: version %s, arenas %u, threads %u\n"
				 "<ebbmalloc>: allocated %zu bytes (small %zu, large %zu, huge %zu in %zu blocks)\n"
				 "<ebbmalloc>: slabs %zu bytes, free in regions %zu bytes, regions %zu\n"
				 "<ebbmalloc>: metadata %zu bytes, mapped %zu bytes\n",
				 EBBMALLOC_VERSION, t.arenas, t.threads, allocated(&t), t.small_allocated,
				 t.large_allocated, t.huge_allocated, t.huge_blocks, t.small_active, t.free_pages,
				 t.regions, t.meta, t.mapped);
	ebb_write_all(fd, buf, n);
}

EBB_EXPORT void ebb_stats_print(bool json)
{
	ebb_stats_print_fd(2, json);
}

void ebb_stats_at_exit(void)
{
	ebb_stats_print(false);
}

EBB_EXPORT unsigned ebb_thread_count(void) { return tcache_thread_count(); }
EBB_EXPORT unsigned ebb_arena_count(void) { return ebb_narenas; }
EBB_EXPORT const char *ebb_version(void) { return EBBMALLOC_VERSION; }

EBB_EXPORT int ebb_is_active(void)
{
	/* Some thread has been served by this library. */
	return __atomic_load_n(&ebb_ready, __ATOMIC_ACQUIRE) && meta_mapped() > 0;
}

EBB_EXPORT int ebb_malloc_trim(size_t pad)
{
	(void)pad;
	return purge_all() != 0;
}

EBB_EXPORT size_t ebb_purge(void)
{
	return purge_all();
}

EBB_EXPORT struct mallinfo2 ebb_mallinfo2(void)
{
	totals_t t;
	struct mallinfo2 m;
	memset(&m, 0, sizeof(m));
	gather(&t);
	m.arena = t.regions * REGION_SIZE;
	m.ordblks = t.arenas;
	m.hblks = t.huge_blocks;
	m.hblkhd = t.huge_allocated;
	m.uordblks = t.small_allocated + t.large_allocated;
	m.fordblks = m.arena > m.uordblks ? m.arena - m.uordblks : 0;
	m.keepcost = t.free_pages;
	return m;
}

EBB_EXPORT struct mallinfo ebb_mallinfo(void)
{
	struct mallinfo2 m2 = ebb_mallinfo2();
	struct mallinfo m;
	memset(&m, 0, sizeof(m));
	m.arena = (int)m2.arena;
	m.ordblks = (int)m2.ordblks;
	m.hblks = (int)m2.hblks;
	m.hblkhd = (int)m2.hblkhd;
	m.uordblks = (int)m2.uordblks;
	m.fordblks = (int)m2.fordblks;
	m.keepcost = (int)m2.keepcost;
	return m;
}

EBB_EXPORT void ebb_malloc_stats(void)
{
	totals_t t;
	char buf[768];
	gather(&t);
	size_t n = ebb_snprintf(buf, sizeof(buf),
				"<ebbmalloc>: Arenas: %u (threads %u)\n"
				"<ebbmalloc>: system bytes     = %zu\n"
				"<ebbmalloc>: in use bytes     = %zu\n"
				"<ebbmalloc>: Total (incl. mmap):\n"
				"<ebbmalloc>: system bytes     = %zu\n"
				"<ebbmalloc>: in use bytes     = %zu\n"
				"<ebbmalloc>: max mmap regions = %zu\n"
				"<ebbmalloc>: max mmap bytes   = %zu\n",
				t.arenas, t.threads, t.regions * REGION_SIZE, t.small_allocated + t.large_allocated,
				t.mapped, allocated(&t), t.huge_blocks, t.huge_allocated);
	ebb_write_all(2, buf, n);
}

EBB_EXPORT int ebb_mallopt(int param, int value)
{
	/* glibc's tunables mean nothing here; accepting them keeps programs
	 * that set M_ARENA_MAX or M_TRIM_THRESHOLD working. */
	(void)param;
	(void)value;
	return 1;
}

#ifndef EBB_NO_OVERRIDE
#define ALIAS(name) __attribute__((alias(#name), visibility("default"), used))
int malloc_trim(size_t) ALIAS(ebb_malloc_trim);
void malloc_stats(void) ALIAS(ebb_malloc_stats);
struct mallinfo mallinfo(void) ALIAS(ebb_mallinfo);
struct mallinfo2 mallinfo2(void) ALIAS(ebb_mallinfo2);
int mallopt(int, int) ALIAS(ebb_mallopt);
#endif
