/* Backtraces for sampled allocations. The default (prof_unwind:dwarf) walks
 * DWARF unwind tables with rules cached per pc (prof_unwind.c), so programs
 * built without frame pointers work; frames it cannot model send the whole
 * backtrace to libgcc's unwinder (prof_unwind:libgcc), which is linked into
 * the library and hidden, so nothing is looked up with dlsym.
 * prof_unwind:fp follows frame pointers instead: cheap too, but only as
 * good as the program's -fno-omit-frame-pointer. A build with
 * UNWIND=libunwind adds prof_unwind:libunwind. */
#include <sys/auxv.h>
#include <unwind.h>

#ifdef EBB_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#endif

#include "config.h"
#include "prof.h"
#include "prof_unwind.h"

/* In a program without a dynamic loader (linked statically), libc builds
 * its list of loaded objects during its own first mallocs, and looking up
 * unwind information in the middle of that crashes inside libc (and
 * libgcc's unwinder aborts before it). Until the library's constructor,
 * which runs after libc's initialisation, such a program's samples keep
 * the caller's frame only. */
static bool hold_unwind;

void prof_bt_init(void)
{
	hold_unwind = getauxval(AT_BASE) == 0;
}

void prof_bt_ready(void)
{
	__atomic_store_n(&hold_unwind, false, __ATOMIC_RELAXED);
}

/* Frames inside the allocator sit above the caller: keep some room. */
#define RAW_MAX (PROF_BT_MAX + 16)

typedef struct {
	uintptr_t *pc;
	unsigned n;
} walk_t;

static _Unwind_Reason_Code one_frame(struct _Unwind_Context *ctx, void *arg)
{
	walk_t *w = arg;
	if (w->n >= RAW_MAX)
		return _URC_END_OF_STACK;
	uintptr_t ip = _Unwind_GetIP(ctx);
	if (!ip)
		return _URC_END_OF_STACK;
	w->pc[w->n++] = ip;
	return _URC_NO_REASON;
}

static unsigned walk_libgcc(uintptr_t *pc)
{
	walk_t w = { pc, 0 };
	_Unwind_Backtrace(one_frame, &w);
	return w.n;
}

/* Each frame starts with the caller's frame pointer, then the return
 * address. Stop at anything that does not look like a frame further up the
 * same stack. */
static unsigned walk_fp(uintptr_t *pc)
{
	uintptr_t *fp = __builtin_frame_address(0);
	unsigned n = 0;
	while (fp && n < RAW_MAX && !((uintptr_t)fp & 7)) {
		uintptr_t ret = fp[1];
		uintptr_t *next = (uintptr_t *)fp[0];
		if (!ret)
			break;
		pc[n++] = ret;
		if (next <= fp || (uintptr_t)next - (uintptr_t)fp > ((uintptr_t)1 << 24))
			break;
		fp = next;
	}
	return n;
}

#ifdef EBB_LIBUNWIND
/* Should libunwind allocate (1.6.2 does not here, see doc/profiling.md),
 * that malloc comes back to the allocator with prof's reentrancy guard set,
 * so it is served but not sampled. */
static int walk_libunwind(uintptr_t *pc)
{
	int n = unw_backtrace((void **)pc, RAW_MAX);
	return n > 0 ? n : 0;
}
#endif

/* Return addresses from here up, by the configured method. */
static int walk(uintptr_t *raw)
{
	if (__atomic_load_n(&hold_unwind, __ATOMIC_RELAXED))
		return 0;
	switch (ebb_opt.prof_unwind) {
	case PROF_UNWIND_FP:
		return (int)walk_fp(raw);
	case PROF_UNWIND_DWARF: {
		int n = prof_unwind_dwarf(raw, RAW_MAX);
		return n >= 0 ? n : (int)walk_libgcc(raw);
	}
#ifdef EBB_LIBUNWIND
	case PROF_UNWIND_LIBUNWIND:
		return walk_libunwind(raw);
#endif
	default:
		return (int)walk_libgcc(raw);
	}
}

unsigned prof_backtrace(prof_bt_t *bt, const void *caller_ra)
{
	uintptr_t raw[RAW_MAX];
	int n = walk(raw);
	/* The program's frames start at the return address of its call into
	 * the allocator; everything before it is ours. */
	int first = 0;
	while (first < n && raw[first] != (uintptr_t)caller_ra)
		first++;
	if (first == n) {
		/* Not found (a frame the walker could not see): start with the
		 * caller itself. */
		raw[0] = (uintptr_t)caller_ra;
		first = 0;
		n = 1;
	}
	unsigned depth = 0;
	for (int i = first; i < n && depth < PROF_BT_MAX; i++)
		bt->pc[depth++] = raw[i];
	/* jeprof takes frame 0 as a PC and the others as return addresses: make
	 * frame 0 point into the call instruction. */
	bt->pc[0] -= 1;
	bt->depth = depth;
	return depth;
}
