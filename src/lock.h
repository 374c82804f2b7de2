/* A futex mutex (three states: free, locked, contended). Needs no libc
 * initialisation, never allocates, and a zero-filled lock is unlocked, so
 * fork()'s child can reset it by storing 0. */
#ifndef EBB_LOCK_H
#define EBB_LOCK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	uint32_t state;
} ebb_lock_t;

#define EBB_LOCK_INIT { 0 }

void ebb_lock_wait(ebb_lock_t *l);
void ebb_lock_wake(ebb_lock_t *l);

static inline void ebb_lock(ebb_lock_t *l)
{
	uint32_t expect = 0;
	if (!__atomic_compare_exchange_n(&l->state, &expect, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		ebb_lock_wait(l);
}

static inline bool ebb_trylock(ebb_lock_t *l)
{
	uint32_t expect = 0;
	return __atomic_compare_exchange_n(&l->state, &expect, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void ebb_unlock(ebb_lock_t *l)
{
	if (__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) == 2)
		ebb_lock_wake(l);
}

static inline void ebb_lock_reset(ebb_lock_t *l) { l->state = 0; }

#endif
