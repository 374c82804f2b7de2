#include "sizeclass.h"

class_info_t ebb_classes[NCLASSES];
uint8_t ebb_class_lut[LUT_MAX / 16 + 1];

static uint32_t class_bytes(unsigned c)
{
	if (c < 8)
		return 16 * (c + 1);
	unsigned g = (c - 8) / 8, k = (c - 8) % 8 + 1;
	return (128u << g) + (k << (4 + g));
}

/* The slab length with the least tail waste, and of those the longest: a
 * slab's descriptor then describes more memory (a heap of 1-page slabs
 * spends 4.5 % of it on descriptors), and since the free pages of a slab
 * in use go back to the OS one by one (slab_purge), a long slab holds no
 * more memory than several short ones. */
static void pick_slab(class_info_t *ci)
{
	unsigned best_pages = 1, best_slots = 0;
	size_t best_waste = (size_t)-1;
	for (unsigned p = 1; p <= 16; p++) {
		size_t bytes = p * PAGE_SIZE, n = bytes / ci->size;
		if (n > SLOTS_MAX)
			break;
		if (n < 2)
			continue;
		size_t waste = bytes - n * ci->size;
		/* compare waste/bytes without division */
		if (best_slots == 0 || waste * (best_pages * PAGE_SIZE) <= best_waste * bytes) {
			best_pages = p;
			best_slots = (unsigned)n;
			best_waste = waste;
		}
	}
	ci->pages = (uint16_t)best_pages;
	ci->slots = (uint16_t)best_slots;
}

void sizeclass_init(size_t tcache_max)
{
	for (unsigned c = 0; c < NCLASSES; c++) {
		class_info_t *ci = &ebb_classes[c];
		ci->size = class_bytes(c);
		ci->recip = (uint32_t)((((uint64_t)1 << 32) + ci->size - 1) / ci->size);
		ci->shift = (uint8_t)__builtin_ctz(ci->size);
		uint64_t odd = ci->size >> ci->shift, inv = odd;
		/* Newton's iteration doubles the correct low bits: 3, 6, ..., 96. */
		for (int i = 0; i < 5; i++)
			inv *= 2 - odd * inv;
		ci->inv = inv;
		pick_slab(ci);
		/* Thread caches hold at most 16 KiB per class (1 to 64 blocks):
		 * what an idle thread keeps is bounded by about 1 MiB. */
		unsigned cap = 16384 / ci->size;
		cap = cap < 1 ? 1 : cap > TCACHE_CAP_MAX ? TCACHE_CAP_MAX : cap;
		ci->tcache_cap = ci->size <= tcache_max ? (uint16_t)cap : 0;
	}
	unsigned c = 0;
	for (size_t i = 0; i <= LUT_MAX / 16; i++) {
		size_t n = i * 16;
		while (ebb_classes[c].size < n)
			c++;
		ebb_class_lut[i] = (uint8_t)c;
	}
}

unsigned size_class_aligned(size_t n, size_t align)
{
	if (n > SMALL_MAX)
		return NCLASSES;
	for (unsigned c = size_class(n); c < NCLASSES; c++)
		if ((ebb_classes[c].size & (align - 1)) == 0)
			return c;
	return NCLASSES;
}
