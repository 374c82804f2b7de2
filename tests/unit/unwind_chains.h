/* Call chains for test_prof_unwind, in a file of their own so the Makefile
 * can build them without frame pointers, as most distributions build their
 * code (a function attribute cannot drop them under -momit-leaf-frame-pointer). */
#ifndef UNWIND_CHAINS_H
#define UNWIND_CHAINS_H

/* Defined by the test: walks the stack at the bottom of a chain. */
int unwind_chains_leaf(void);

/* depth + 1 frames of fixed size (CFA from rsp), then the leaf. */
int chain_nofp(int depth);
/* depth + 1 frames with a variable-length array and alloca (CFA from rbp). */
int chain_vla(int depth, int n);
/* depth + 1 rsp-based frames above a chain_vla. */
int chain_mixed(int depth);

#endif
