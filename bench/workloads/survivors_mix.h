/* The sizes of the survivors benchmark, in the order it asks for them.
 * survivors.c allocates them; bench/memret/survivors_pages.c replays them
 * against the allocator's internals, so both draw from here
 * (bench/memret/survivors_layout.py replays the same generator in Python). */
#ifndef SURVIVORS_MIX_H
#define SURVIVORS_MIX_H

#include <stddef.h>
#include <stdint.h>

static uint64_t mix_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t mix_next(void)
{
	mix_state ^= mix_state << 13;
	mix_state ^= mix_state >> 7;
	mix_state ^= mix_state << 17;
	return mix_state;
}

/* Phase one: 16 B to 4 KiB, about log-uniform. */
static inline size_t mix_first(void)
{
	size_t n = (size_t)16 << (mix_next() % 8);
	return n + mix_next() % n;
}

/* Phase two: 2-8 KiB, a different mix. */
static inline size_t mix_second(void)
{
	return 2048 + mix_next() % 6144;
}

#endif
