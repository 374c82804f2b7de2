/* Statistics and the glibc extras built on them (malloc_stats, mallinfo,
 * malloc_trim, mallopt). Formatted into fixed buffers: no allocation. */
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include "ebbmalloc.h"

#include "arena.h"
#include "huge.h"
#include "inbox.h"
#include "init.h"
#include "meta.h"
#include "msg.h"
#include "os.h"
#include "purge.h"
#include "tcache.h"

#define EBB_EXPORT __attribute__((visibility("default")))

static size_t process_rss(void)
{
	char buf[128];
	if (os_read_file("/proc/self/statm", buf, sizeof(buf)) <= 0)
		return 0;
	/* "size resident ...", in pages */
	const char *p = buf + strcspn(buf, " ");
	uint64_t pages;
	if (*p != ' ' || (p++, !os_parse_u64(&p, &pages)))
		return 0;
	return (size_t)pages * os_page_size();
}

EBB_EXPORT void ebb_stats_get(ebb_stats_t *t)
{
	size_t small_live = 0, slab = 0, large = 0, spare = 0, dirty = 0, regions = 0;
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		arena_t *a = __atomic_load_n(&ebb_arenas[i], __ATOMIC_ACQUIRE);
		if (!a)
			continue;
		for (unsigned c = 0; c < NCLASSES; c++) {
			bin_t *b = &a->bins[c];
			ebb_lock(&b->lock);
			small_live += b->live * ebb_classes[c].size;
			if (b->spare)
				spare += span_bytes(b->spare);
			ebb_unlock(&b->lock);
		}
		ebb_lock(&a->lock);
		slab += (a->slab_pages - __atomic_load_n(&a->slab_purged, __ATOMIC_RELAXED)) << PAGE_SHIFT;
		large += a->large_pages << PAGE_SHIFT;
		dirty += a->dirty_pages << PAGE_SHIFT;
		regions += a->nregions;
		t->purged += a->purged_bytes;
		t->purges += a->purges;
		t->regions_unmapped += a->unmapped_regions;
		ph_unlock(a);
	}
	/* Blocks waiting in inboxes are free, like those in thread caches. */
	size_t cached = tcache_cached_bytes() + inbox_pending_bytes();
	t->huge = huge_mapped();
	t->huge_blocks = huge_count();
	t->allocated = (small_live > cached ? small_live - cached : 0) + large + t->huge;
	t->cached = cached;
	t->active = slab - spare + large + t->huge;
	t->dirty = dirty + spare;
	t->metadata = meta_mapped();
	t->resident = t->active + t->dirty + t->metadata;
	t->mapped = regions * REGION_SIZE + t->huge + t->metadata;
	size_t in_regions = regions * REGION_SIZE, used = slab + large + dirty;
	t->retained = in_regions > used ? in_regions - used : 0;
	t->regions = regions;
	t->arenas = ebb_narenas;
	t->threads = tcache_thread_count();
	t->background_thread = purge_thread_running();
	t->process_rss = process_rss();
	/* How much more than the live heap we hold, in thousandths. */
	t->fragmentation_permille = t->allocated ? (t->resident - (t->resident > t->allocated ? t->allocated : t->resident)) * 1000 / t->allocated : 0;
}

EBB_EXPORT void ebb_stats_print_fd(int fd, bool json)
{
	ebb_stats_t t;
	char buf[1536];
	size_t n;
	ebb_stats_get(&t);
	unsigned fi = (unsigned)(t.fragmentation_permille / 1000), ff = (unsigned)(t.fragmentation_permille % 1000);
	if (json)
		n = ebb_snprintf(buf, sizeof(buf),
				 "{\"version\":\"%s\",\"arenas\":%u,\"threads\":%u,\"background_thread\":%s,"
				 "\"allocated\":%zu,\"cached\":%zu,\"active\":%zu,\"dirty\":%zu,\"resident\":%zu,"
				 "\"retained\":%zu,\"mapped\":%zu,\"metadata\":%zu,\"huge\":%zu,\"huge_blocks\":%zu,"
				 "\"regions\":%zu,\"regions_unmapped\":%zu,\"purged\":%zu,\"purges\":%zu,"
				 "\"fragmentation\":%u.%03u,\"process_rss\":%zu}\n",
				 EBBMALLOC_VERSION, t.arenas, t.threads, t.background_thread ? "true" : "false",
				 t.allocated, t.cached, t.active, t.dirty, t.resident, t.retained, t.mapped, t.metadata,
				 t.huge, t.huge_blocks, t.regions, t.regions_unmapped, t.purged, t.purges, fi, ff,
				 t.process_rss);
	else
		n = ebb_snprintf(buf, sizeof(buf),
				 "<ebbmalloc>: stats: version %s, arenas %u, threads %u, background thread %s\n"
				 "<ebbmalloc>: allocated %zu bytes (live), cached in threads %zu, active %zu\n"
				 "<ebbmalloc>: dirty %zu, resident %zu, retained %zu, mapped %zu, metadata %zu\n"
				 "<ebbmalloc>: huge %zu bytes in %zu blocks, regions %zu (%zu unmapped so far)\n"
				 "<ebbmalloc>: purged %zu bytes in %zu calls, fragmentation %u.%03u, process RSS %zu\n",
				 EBBMALLOC_VERSION, t.arenas, t.threads, t.background_thread ? "running" : "off",
				 t.allocated, t.cached, t.active, t.dirty, t.resident, t.retained, t.mapped, t.metadata,
				 t.huge, t.huge_blocks, t.regions, t.regions_unmapped, t.purged, t.purges, fi, ff,
				 t.process_rss);
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
	ebb_stats_t t;
	struct mallinfo2 m;
	memset(&m, 0, sizeof(m));
	ebb_stats_get(&t);
	m.arena = t.mapped - t.huge;	/* regions and metadata */
	m.ordblks = t.arenas;
	m.hblks = t.huge_blocks;
	m.hblkhd = t.huge;
	m.uordblks = t.allocated - t.huge;
	m.fordblks = m.arena > m.uordblks ? m.arena - m.uordblks : 0;
	m.fsmblks = t.cached;
	m.keepcost = t.dirty;	/* what malloc_trim would release */
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
	/* glibc's layout ("system bytes", "in use bytes"), then ours. */
	ebb_stats_t t;
	char buf[768];
	ebb_stats_get(&t);
	size_t n = ebb_snprintf(buf, sizeof(buf),
				"<ebbmalloc>: Arenas: %u (threads %u)\n"
				"<ebbmalloc>: system bytes     = %zu\n"
				"<ebbmalloc>: in use bytes     = %zu\n"
				"<ebbmalloc>: Total (incl. mmap):\n"
				"<ebbmalloc>: system bytes     = %zu\n"
				"<ebbmalloc>: in use bytes     = %zu\n"
				"<ebbmalloc>: max mmap regions = %zu\n"
				"<ebbmalloc>: max mmap bytes   = %zu\n",
				t.arenas, t.threads, t.mapped - t.huge, t.allocated - t.huge, t.mapped, t.allocated,
				t.huge_blocks, t.huge);
	ebb_write_all(2, buf, n);
	ebb_stats_print_fd(2, false);
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
