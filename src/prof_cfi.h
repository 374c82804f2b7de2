/* Reading x86-64 call-frame information (.eh_frame): for one pc, how to find
 * the caller's frame. Only the shapes compilers emit for ordinary code are
 * modelled: the CFA is rsp or rbp plus a constant, the return address sits
 * just below the CFA, and rbp is either untouched or saved at a constant
 * offset from the CFA. Everything else is reported as unsupported. */
#ifndef EBB_PROF_CFI_H
#define EBB_PROF_CFI_H

#include <stdbool.h>
#include <stdint.h>

enum {
	CFI_FRAME = 1,		/* the fields below say how to step */
	CFI_END = 2,		/* the outermost frame: no return address */
	CFI_UNSUPPORTED = 3,	/* needs a real unwinder */
	CFI_NO_FDE = 4,		/* no unwind information found for the pc (yet) */
};

typedef struct {
	unsigned kind;
	bool cfa_rbp;		/* CFA = rbp + cfa_off, else rsp + cfa_off */
	bool rbp_saved;		/* caller's rbp at CFA + rbp_off, else unchanged */
	int64_t cfa_off;
	int64_t rbp_off;
} cfi_rule_t;

/* What libgcc's _Unwind_Find_FDE reports beside the FDE (the layout of its
 * struct dwarf_eh_bases): bases for textrel and datarel pointers, and the
 * start of the function. */
typedef struct {
	void *tbase;
	void *dbase;
	void *func;
} cfi_bases_t;

/* The rule in force at pc, an address inside a function: the exact pc for
 * the innermost frame, return address - 1 for the others (so a call that
 * ends a function is looked up in that function). Finds the FDE with
 * libgcc. */
void cfi_rule_at(uintptr_t pc, cfi_rule_t *r);

/* The same from a given FDE (pointing at its length field, inside a
 * .eh_frame section with its CIE) and bases: for tests. */
void cfi_rule_from_fde(const uint8_t *fde, const cfi_bases_t *b, uintptr_t pc, cfi_rule_t *r);

#endif
