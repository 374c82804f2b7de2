/* ebbmalloc public interface.
 *
 * Linking against libebbmalloc (or preloading it) replaces malloc and friends.
 * The ebb_ prefixed calls below are always exported, so a program can use
 * ebbmalloc beside another allocator, and they carry the control calls that
 * have no glibc equivalent.
 */
#ifndef EBBMALLOC_H
#define EBBMALLOC_H

#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EBBMALLOC_VERSION "0.1.0"

void *ebb_malloc(size_t size);
void ebb_free(void *ptr);
void *ebb_calloc(size_t nmemb, size_t size);
void *ebb_realloc(void *ptr, size_t size);
void *ebb_reallocarray(void *ptr, size_t nmemb, size_t size);
int ebb_posix_memalign(void **out, size_t alignment, size_t size);
void *ebb_aligned_alloc(size_t alignment, size_t size);
void *ebb_memalign(size_t alignment, size_t size);
void *ebb_valloc(size_t size);
void *ebb_pvalloc(size_t size);
size_t ebb_malloc_usable_size(void *ptr);
void ebb_free_sized(void *ptr, size_t size);
void ebb_free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* Returns unused cached memory to the OS. Returns 1 if memory was released. */
int ebb_malloc_trim(size_t pad);
/* Returns everything purgeable to the OS now: the calling thread's cache,
 * empty slabs, dirty free pages, empty regions. Returns the bytes purged. */
size_t ebb_purge(void);

/* glibc's extras, under our prefix. */
void ebb_malloc_stats(void);
struct mallinfo ebb_mallinfo(void);
struct mallinfo2 ebb_mallinfo2(void);
int ebb_mallopt(int param, int value);

/* A snapshot of the allocator's state; all sizes in bytes. */
typedef struct ebb_stats {
	size_t allocated;	/* live: held by the program */
	size_t cached;		/* free blocks in thread caches */
	size_t active;		/* pages holding live or cached blocks */
	size_t dirty;		/* free pages still resident, waiting for decay */
	size_t resident;	/* active + dirty + metadata */
	size_t retained;	/* mapped but returned to the OS (not resident) */
	size_t mapped;		/* address space mapped */
	size_t metadata;	/* descriptors, caches, arenas */
	size_t huge;		/* blocks with a mapping of their own */
	size_t huge_blocks;
	size_t regions;		/* 4 MiB regions mapped now */
	size_t regions_unmapped;	/* given back whole so far */
	size_t purged;		/* returned to the OS so far */
	size_t purges;		/* madvise calls so far */
	size_t fragmentation_permille;	/* (resident - allocated) / allocated */
	size_t process_rss;	/* the whole process, from /proc/self/statm */
	unsigned arenas, threads;
	bool background_thread;
} ebb_stats_t;

void ebb_stats_get(ebb_stats_t *out);

/* Statistics as text (json=false) or one JSON object (json=true), written to
 * file descriptor fd without allocating. */
void ebb_stats_print_fd(int fd, bool json);
/* Same, on stderr. */
void ebb_stats_print(bool json);

/* Number of live threads that have used the allocator, and the arena bound. */
unsigned ebb_thread_count(void);
unsigned ebb_arena_count(void);

/* Non-zero when this library is the allocator serving malloc() in this
 * process (the marker end-to-end tests look for). */
int ebb_is_active(void);

const char *ebb_version(void);

/* Heap profiling (prof:true). Writes a heap_v2 profile to path, or with
 * path NULL to <prof_prefix>.<pid>.<seq>.m<n>.heap. 0 on success, -1 when
 * profiling is off or the file cannot be written. Safe to call from gdb:
 *   gdb -p PID -batch -ex 'call ebb_prof_dump(0)' */
int ebb_prof_dump(const char *path);
/* Turns sampling on or off; returns the previous state. */
bool ebb_prof_active(bool on);
/* Forgets every sample and sets the mean sample interval to 2^lg_sample. */
void ebb_prof_reset(unsigned lg_sample);

#ifdef __cplusplus
}
#endif

#endif
