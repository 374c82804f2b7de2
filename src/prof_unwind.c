/* The cached DWARF walker behind prof_unwind:dwarf. Each frame's rule (see
 * prof_cfi.h) is looked up by pc in a global table of 64-bit words; a miss
 * works it out from .eh_frame once. A slot packs the rule together with the
 * part of the pc its position does not already tell, so one atomic load
 * gives a consistent answer: a reader can never pair one pc's tag with
 * another pc's rule, and writers need no lock.
 *
 * Stale rules: the table is keyed by address only. Code that is dlclose'd
 * and replaced by other code at the same addresses would be walked with the
 * old rules until ebb_prof_reset clears the table. A wrong rule gives a
 * wrong stack; the walker still only reads words that are above the
 * previous frame and within 16 MiB of it, so it stays on the stack in all
 * but a frame at the very top of it. */
#include "prof_unwind.h"

#include "common.h"
#include "os.h"
#include "prof_cfi.h"

static uint64_t n_misses, n_fallbacks, n_uncached;

void prof_unwind_stats(prof_unwind_stats_t *out)
{
	out->misses = __atomic_load_n(&n_misses, __ATOMIC_RELAXED);
	out->fallbacks = __atomic_load_n(&n_fallbacks, __ATOMIC_RELAXED);
	out->uncached = __atomic_load_n(&n_uncached, __ATOMIC_RELAXED);
}

#if defined(__x86_64__)

/* User-space code addresses fit in 47 bits (4-level paging; with 5-level
 * paging the kernel maps nothing above unless asked). A pc above is walked
 * uncached. */
#define PC_BITS 47
#define PC_MASK (((uint64_t)1 << PC_BITS) - 1)

/* 8192 sets of 2 slots: 128 KiB of address space, committed as touched. */
#define LG_SETS 13
#define SETS ((uint64_t)1 << LG_SETS)
#define TABLE_BYTES (SETS * 2 * sizeof(uint64_t))

/* A slot: tag (the hashed pc's bits above the set index, 34 bits) << 30 |
 * the rule (30 bits). The rule's kind is never 0, so an empty slot (0)
 * matches nothing.
 *   bits 0-1   kind (CFI_FRAME, CFI_END, CFI_UNSUPPORTED)
 *   bit 2      CFA is rbp-based
 *   bit 3      rbp saved
 *   bits 4-12  -rbp_off / 8 (the save slot is below the CFA)
 *   bits 13-29 cfa_off / 8 */
#define RULE_BITS 30
#define RBP_SLOTS_MAX 511
#define CFA_UNITS_MAX ((1u << 17) - 1)

/* The largest step from one frame's rsp to its CFA that is believed: far
 * more than any real frame, small enough to stay inside a stack. */
#define STEP_MAX ((uintptr_t)16 << 20)

static uint64_t *table;

/* A bijection on 47 bits, so (set, tag) identifies the pc exactly. The set
 * index is the pc's low bits folded with the next ones, where libraries'
 * random load addresses differ; it is on every frame's critical path, so
 * it is kept to a shift and an xor. */
static inline uint64_t mix(uint64_t x)
{
	return x ^ (x >> LG_SETS);
}

/* Rule words are the slot's low RULE_BITS: the CFA register, its offset
 * and rbp's save slot as multiples of 8 bytes, which is all compilers
 * produce on x86-64; false for anything that does not fit. */
static bool pack(const cfi_rule_t *r, uint64_t *out)
{
	if (r->kind != CFI_FRAME) {
		*out = r->kind;
		return true;
	}
	if (r->cfa_off < 0 || (r->cfa_off & 7) || r->cfa_off / 8 > CFA_UNITS_MAX)
		return false;
	uint64_t slot = 0;
	if (r->rbp_saved) {
		if (r->rbp_off >= 0 || (r->rbp_off & 7) || -r->rbp_off / 8 > RBP_SLOTS_MAX)
			return false;
		slot = (uint64_t)(-r->rbp_off / 8);
	}
	*out = CFI_FRAME | (uint64_t)r->cfa_rbp << 2 | (uint64_t)r->rbp_saved << 3 | slot << 4 |
	       (uint64_t)(r->cfa_off / 8) << 13;
	return true;
}

static uint64_t *get_table(void)
{
	uint64_t *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
	if (likely(t))
		return t;
	t = os_map_sparse(TABLE_BYTES);
	if (!t)
		return NULL;
	uint64_t *none = NULL;
	if (!__atomic_compare_exchange_n(&table, &none, t, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		os_unmap(t, TABLE_BYTES);
		t = none;
	}
	return t;
}

static void store(uint64_t *set, uint64_t tag, uint64_t w, uint64_t h)
{
	uint64_t a = __atomic_load_n(&set[0], __ATOMIC_RELAXED);
	uint64_t b = __atomic_load_n(&set[1], __ATOMIC_RELAXED);
	unsigned i;
	if (!a || a >> RULE_BITS == tag)
		i = 0;
	else if (!b || b >> RULE_BITS == tag)
		i = 1;
	else
		i = (h >> 40) & 1;	/* both taken: evict by a pc bit */
	__atomic_store_n(&set[i], tag << RULE_BITS | w, __ATOMIC_RELAXED);
}

/* The rule word for lookup address pc, or 0 when it is not in the table.
 * Inlined into the walk: on a hit, nothing but this and two stack loads
 * stands between one frame and the next. */
static inline uint64_t lookup(const uint64_t *t, uintptr_t pc)
{
	if (unlikely(!t || pc > PC_MASK))
		return 0;
	uint64_t h = mix(pc), tag = h >> LG_SETS;
	const uint64_t *set = t + 2 * (h & (SETS - 1));
	uint64_t w = __atomic_load_n(&set[0], __ATOMIC_RELAXED);
	if (w >> RULE_BITS == tag && (w & 3))
		return w;
	w = __atomic_load_n(&set[1], __ATOMIC_RELAXED);
	if (w >> RULE_BITS == tag && (w & 3))
		return w;
	return 0;
}

/* Works the rule out from .eh_frame and caches it. A frame rule too large
 * for a slot (over a MiB of frame) is rare enough to leave to libgcc. */
static __attribute__((noinline, cold)) uint64_t lookup_miss(uint64_t *t, uintptr_t pc)
{
	cfi_rule_t r;
	cfi_rule_at(pc, &r);
	__atomic_fetch_add(&n_misses, 1, __ATOMIC_RELAXED);
	/* The end of this walk, but not cached: code may be loaded there
	 * later, and a failed lookup may be a passing state of the loader's
	 * list of objects. */
	if (r.kind == CFI_NO_FDE)
		return CFI_END;
	uint64_t w;
	if (!pack(&r, &w)) {
		__atomic_fetch_add(&n_uncached, 1, __ATOMIC_RELAXED);
		w = CFI_UNSUPPORTED;
	}
	if (t && pc <= PC_MASK) {
		uint64_t h = mix(pc);
		store(t + 2 * (h & (SETS - 1)), h >> LG_SETS, w, h);
	}
	return w;
}

/* Reads other frames' saved words, which AddressSanitizer may consider
 * outside any object it knows: not instrumented, like libgcc itself. */
__attribute__((noinline, no_sanitize_address))
int prof_unwind_dwarf(uintptr_t *out, unsigned max)
{
	uintptr_t pc, sp, fp;
	/* One statement, so the pc is one where the CFI describes exactly
	 * this rsp and rbp. */
	__asm__ __volatile__("lea 0(%%rip), %0\n\t"
			     "mov %%rsp, %1\n\t"
			     "mov %%rbp, %2"
			     : "=r"(pc), "=r"(sp), "=r"(fp));
	uint64_t *t = get_table();
	uintptr_t at = pc;	/* the innermost frame is looked up at its pc */
	unsigned n = 0;
	while (n < max) {
		uint64_t w = lookup(t, at);
		if (unlikely(!w))
			w = lookup_miss(t, at);
		if (unlikely((w & 3) != CFI_FRAME)) {
			if ((w & 3) == CFI_END)
				break;
			__atomic_fetch_add(&n_fallbacks, 1, __ATOMIC_RELAXED);
			return -1;
		}
		uintptr_t cfa = ((w & 4) ? fp : sp) + ((w >> 13) & CFA_UNITS_MAX) * 8;
		/* Up the same stack, by a sane step, to a word-aligned CFA
		 * with the return address above sp. */
		if (cfa < sp + 8 || cfa - sp > STEP_MAX || (cfa & 7))
			break;
		uintptr_t ra = *(const uintptr_t *)(cfa - 8);
		if (w & 8) {
			uintptr_t slot = cfa - ((w >> 4) & RBP_SLOTS_MAX) * 8;
			if (slot < sp)
				break;
			fp = *(const uintptr_t *)slot;
		}
		sp = cfa;
		if (!ra)
			break;
		out[n++] = ra;
		/* A return address may be the first byte after the function
		 * that made the call (a call to a noreturn function). */
		at = ra - 1;
	}
	return (int)n;
}

void prof_unwind_clear(void)
{
	uint64_t *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
	if (t)
		os_purge(t, TABLE_BYTES, false);
}

#else	/* !__x86_64__: libgcc does every backtrace */

int prof_unwind_dwarf(uintptr_t *out, unsigned max)
{
	(void)out;
	(void)max;
	__atomic_fetch_add(&n_fallbacks, 1, __ATOMIC_RELAXED);
	return -1;
}

void prof_unwind_clear(void)
{
}

#endif
