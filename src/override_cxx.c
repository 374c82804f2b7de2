/* C++ operator new and delete, every form, written in C so the library needs
 * no libstdc++. Failure follows the standard: call the new-handler until it
 * gives up, then throw std::bad_alloc (the nothrow forms return NULL). Both
 * come from libstdc++ through weak references, present in any C++ program. */
#ifndef EBB_NO_OVERRIDE
#include <errno.h>
#include <stddef.h>

#include "ebbmalloc.h"

#include "msg.h"

typedef void (*new_handler_t)(void);
new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));
void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

#define EXPORT __attribute__((visibility("default")))

void *ebb_malloc_from(size_t n, const void *ra);
void *ebb_aligned_alloc_from(size_t align, size_t n, const void *ra);

static void *new_fail(size_t n, size_t align, int nothrow)
{
	for (;;) {
		new_handler_t h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
		if (!h) {
			if (nothrow)
				return NULL;
			if (_ZSt17__throw_bad_allocv)
				_ZSt17__throw_bad_allocv();
			ebb_fatal("operator new(%zu): out of memory", n);
		}
		h();
		void *p = align ? ebb_aligned_alloc(align, n) : ebb_malloc(n);
		if (p)
			return p;
	}
}

/* ra: where the program called new, where its heap-profile stack starts. */
static inline __attribute__((always_inline)) void *op_new(size_t n, int nothrow, const void *ra)
{
	void *p = ebb_malloc_from(n, ra);
	return p ? p : new_fail(n, 0, nothrow);
}

static inline __attribute__((always_inline)) void *op_new_aligned(size_t n, size_t align, int nothrow,
								  const void *ra)
{
	void *p = ebb_aligned_alloc_from(align, n, ra);
	return p ? p : new_fail(n, align, nothrow);
}

#define RA __builtin_return_address(0)

typedef struct nothrow_t nothrow_t;

EXPORT void *_Znwm(size_t n) { return op_new(n, 0, RA); }
EXPORT void *_Znam(size_t n) { return op_new(n, 0, RA); }
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const nothrow_t *t) { (void)t; return op_new(n, 1, RA); }
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const nothrow_t *t) { (void)t; return op_new(n, 1, RA); }
EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t a) { return op_new_aligned(n, a, 0, RA); }
EXPORT void *_ZnamSt11align_val_t(size_t n, size_t a) { return op_new_aligned(n, a, 0, RA); }
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const nothrow_t *t)
{
	(void)t;
	return op_new_aligned(n, a, 1, RA);
}
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const nothrow_t *t)
{
	(void)t;
	return op_new_aligned(n, a, 1, RA);
}

EXPORT void _ZdlPv(void *p) { ebb_free(p); }
EXPORT void _ZdaPv(void *p) { ebb_free(p); }
EXPORT void _ZdlPvm(void *p, size_t n) { (void)n; ebb_free(p); }
EXPORT void _ZdaPvm(void *p, size_t n) { (void)n; ebb_free(p); }
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const nothrow_t *t) { (void)t; ebb_free(p); }
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const nothrow_t *t) { (void)t; ebb_free(p); }
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t a) { (void)a; ebb_free(p); }
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t a) { (void)a; ebb_free(p); }
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t a) { (void)n; (void)a; ebb_free(p); }
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t a) { (void)n; (void)a; ebb_free(p); }
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const nothrow_t *t)
{
	(void)a;
	(void)t;
	ebb_free(p);
}
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const nothrow_t *t)
{
	(void)a;
	(void)t;
	ebb_free(p);
}
#else
typedef int ebb_no_cxx_override;
#endif
