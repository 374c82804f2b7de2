/* Process-wide start-up, fork handling and exit reporting. */
#ifndef EBB_INIT_H
#define EBB_INIT_H

#include "common.h"

extern int ebb_ready EBB_HIDDEN;
extern int ebb_exiting EBB_HIDDEN;
void ebb_init_slow(void);

EBB_INLINE void ebb_ensure_init(void)
{
	if (unlikely(!__atomic_load_n(&ebb_ready, __ATOMIC_ACQUIRE)))
		ebb_init_slow();
}

#endif
