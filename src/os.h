/* Everything that talks to the kernel. */
#ifndef EBB_OS_H
#define EBB_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Names shown in /proc/PID/maps as [anon:NAME]. */
#define OS_NAME_HEAP "ebbmalloc:heap"
#define OS_NAME_HUGE "ebbmalloc:huge"
#define OS_NAME_META "ebbmalloc:meta"

/* Fresh zeroed read-write memory aligned to align (a power of two >= page).
 * NULL with errno ENOMEM on failure. */
void *os_map(size_t size, size_t align, const char *name);
/* Zeroed memory committed only as it is touched, for sparse tables. */
void *os_map_sparse(size_t size);
void os_unmap(void *p, size_t size);
/* Grows or shrinks a mapping where it is; false if it cannot grow there. */
bool os_resize(void *p, size_t old_size, size_t new_size);
/* Moves the pages of [from, from+size) over the start of the mapping at to. */
bool os_move(void *from, size_t size, void *to);
/* Drops the pages' contents so RSS falls; they read back as zero. */
void os_purge(void *p, size_t size, bool lazy);
void os_name(void *p, size_t size, const char *name);

/* CPUs this process may run on: the affinity mask, limited by a cgroup v2
 * cpu.max quota found under cgroup_root; at least 1. */
unsigned os_usable_cpus(const char *cgroup_root);
/* The same from given pieces, for tests: cpu.max text and affinity count. */
unsigned os_cpus_from(unsigned affinity, const char *cpu_max);

uint64_t os_now_ns(void);
/* Random bits from the kernel's AT_RANDOM, mixed: no syscalls, no allocation. */
uint64_t os_random(void);
size_t os_page_size(void);

void os_futex_wait(uint32_t *addr, uint32_t val);
/* Sleeps while *addr == val, at most ns nanoseconds (0: no limit). */
void os_futex_wait_timeout(uint32_t *addr, uint32_t val, uint64_t ns);
/* The process's cgroup v2 directory under cgroup_root; false if none. */
bool os_cgroup_dir(const char *cgroup_root, char *out, size_t cap);
/* Reads a decimal number at *s, moving *s past it; false if there is none
 * or it overflows. */
bool os_parse_u64(const char **s, uint64_t *out);
/* Reads a small file into buf (NUL-terminated): bytes read, or -1. */
ssize_t os_read_file(const char *path, char *buf, size_t cap);
void os_futex_wake(uint32_t *addr, int n);

#endif
