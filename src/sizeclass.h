/* Size classes: 16-byte steps up to 128 B, then 8 classes per doubling up to
 * SMALL_MAX, so a request never wastes more than 1/9 of its block above
 * 128 B (see doc/design.md). */
#ifndef EBB_SIZECLASS_H
#define EBB_SIZECLASS_H

#include "common.h"

#define NCLASSES 72
#define SMALL_MAX ((size_t)32768)
#define LUT_MAX ((size_t)1024)
#define SLOTS_MAX 512
/* Blocks a thread cache holds per class, at most. */
#define TCACHE_CAP_MAX 64

typedef struct {
	uint32_t size;	/* bytes per object */
	uint32_t recip;	/* ceil(2^32 / size): offset -> slot index by multiply */
	uint8_t shift;	/* size = odd << shift */
	uint64_t inv;	/* inverse of the odd part, mod 2^64 (see slot_index) */
	uint16_t pages;	/* slab length */
	uint16_t slots;	/* objects per slab */
	uint16_t tcache_cap;
} class_info_t;

extern class_info_t ebb_classes[NCLASSES] EBB_HIDDEN;
extern uint8_t ebb_class_lut[LUT_MAX / 16 + 1] EBB_HIDDEN;

void sizeclass_init(size_t tcache_max);

EBB_INLINE unsigned size_class(size_t n)
{
	if (likely(n <= LUT_MAX))
		return ebb_class_lut[(n + 15) >> 4];
	unsigned lg = 63 - (unsigned)__builtin_clzl(n - 1);	/* n in (2^lg, 2^(lg+1)] */
	unsigned sh = lg - 3;
	unsigned k = (unsigned)((n - ((size_t)1 << lg) + ((size_t)1 << sh) - 1) >> sh);
	return 8 + (lg - 7) * 8 + k - 1;
}

/* Slot number of a block at byte offset off of its slab, or a number of
 * at least 2^49 when off is not a multiple of the size (negative offsets
 * included): multiplying by the inverse of the size's odd part divides
 * exact multiples and scatters everything else high, and the rotation
 * brings the bits a multiple of 2^shift must have clear to the top. So one
 * compare against the slot count checks range and alignment at once. */
EBB_INLINE uint64_t slot_index(uint64_t off, uint64_t inv, unsigned shift)
{
	uint64_t q = off * inv;
	return (q >> shift) | (q << ((64 - shift) & 63));
}

/* Smallest class holding n bytes whose blocks are all aligned to align
 * (a power of two <= PAGE_SIZE); NCLASSES if none. */
unsigned size_class_aligned(size_t n, size_t align);

#endif
