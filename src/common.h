/* Constants and small helpers shared by every module. */
#ifndef EBB_COMMON_H
#define EBB_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define EBB_INLINE static inline __attribute__((always_inline))
#define EBB_NOINLINE __attribute__((noinline))
#define EBB_HIDDEN __attribute__((visibility("hidden")))

/* Our page: the unit of spans and of the page map. Larger OS pages are not
 * supported (checked at start-up). */
#define PAGE_SHIFT 12
#define PAGE_SIZE ((size_t)1 << PAGE_SHIFT)

/* Regions are the blocks of address space an arena carves into spans. */
#define REGION_SHIFT 22
#define REGION_SIZE ((size_t)1 << REGION_SHIFT)
#define REGION_PAGES (REGION_SIZE >> PAGE_SHIFT)

/* Above this a block gets its own mapping (and realloc uses mremap). */
#define LARGE_MAX ((size_t)1 << 20)

#define MAX_ARENAS 1024

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

/* Word that may alias any object we hand out. */
typedef uintptr_t __attribute__((may_alias)) ebb_word_t;

EBB_INLINE uintptr_t align_up(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }
EBB_INLINE bool is_pow2(size_t x) { return x && !(x & (x - 1)); }

#endif
