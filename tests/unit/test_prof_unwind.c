/* Unit tests for the cached DWARF walker (src/prof_unwind.c) and the CFI
 * reader under it (src/prof_cfi.c): the walker's return addresses equal
 * libgcc's _Unwind_Backtrace on code without frame pointers, on alloca and
 * VLA frames (CFA from rbp) and in a signal handler (where it declines and
 * prof_backtrace falls back); warm walks hit the cache; and the CFA program
 * interpreter on hand-made .eh_frame records. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <unwind.h>

#include "config.h"
#include "prof.h"
#include "prof_cfi.h"
#include "prof_unwind.h"
#include "unwind_chains.h"

#define MAXF 256

typedef struct {
	uintptr_t pc[MAXF];
	int n;
} trace_t;

static _Unwind_Reason_Code collect(struct _Unwind_Context *ctx, void *arg)
{
	trace_t *t = arg;
	uintptr_t ip = _Unwind_GetIP(ctx);
	if (!ip || t->n >= MAXF)
		return _URC_END_OF_STACK;
	t->pc[t->n++] = ip;
	return _URC_NO_REASON;
}

/* Both walks from one function: frame 0 differs (two call sites in it),
 * every later frame must be the same. */
static trace_t by_libgcc, by_cache;

static __attribute__((noinline, noclone)) int both_here(void)
{
	by_libgcc.n = 0;
	_Unwind_Backtrace(collect, &by_libgcc);
	by_cache.n = prof_unwind_dwarf(by_cache.pc, MAXF);
	__asm__ __volatile__("" ::: "memory");	/* keep this frame: no tail call */
	return by_cache.n;
}

static void assert_same_frames(void)
{
	assert_true(by_libgcc.n > 3);
	assert_int_equal(by_cache.n, by_libgcc.n);
	for (int i = 1; i < by_libgcc.n; i++)
		if (by_cache.pc[i] != by_libgcc.pc[i])
			fail_msg("frame %d: cache %#lx, libgcc %#lx", i, (unsigned long)by_cache.pc[i],
				 (unsigned long)by_libgcc.pc[i]);
}

/* ---- (a) a recursive chain without frame pointers ---- */

__attribute__((noinline)) int unwind_chains_leaf(void)
{
	int r = both_here();
	__asm__ __volatile__("" ::: "memory");
	return r;
}

static void test_no_frame_pointers(void **state)
{
	(void)state;
	chain_nofp(20);
	assert_same_frames();
	assert_true(by_cache.n > 22);
	/* The chain really is rsp-based: otherwise this test proves little.
	 * pc[1] is in unwind_chains_leaf, pc[2] in chain_nofp. */
	cfi_rule_t r;
	cfi_rule_at(by_cache.pc[2] - 1, &r);
	assert_int_equal(r.kind, CFI_FRAME);
	assert_false(r.cfa_rbp);	/* (rbp may be saved: ASan's build uses it as a plain register) */
}

/* ---- (b) alloca and variable-length arrays: the CFA is rbp-based ---- */

static void test_alloca_vla(void **state)
{
	(void)state;
	chain_vla(10, 5);
	assert_same_frames();
	cfi_rule_t r;
	cfi_rule_at(by_cache.pc[2] - 1, &r);
	assert_int_equal(r.kind, CFI_FRAME);
	assert_true(r.cfa_rbp);
	assert_true(r.rbp_saved);

	/* rsp-based frames above rbp-based ones */
	chain_mixed(7);
	assert_same_frames();
	cfi_rule_at(by_cache.pc[7] - 1, &r);	/* chain_vla(5) */
	assert_int_equal(r.kind, CFI_FRAME);
	assert_true(r.cfa_rbp);
	cfi_rule_at(by_cache.pc[8] - 1, &r);	/* chain_mixed(0) */
	assert_int_equal(r.kind, CFI_FRAME);
	assert_false(r.cfa_rbp);
}

/* ---- a warm walk does not touch .eh_frame ---- */

static void test_cache_hits(void **state)
{
	(void)state;
	static const int depth[] = { 8, 8, 30 };
	static volatile int rounds = 3;	/* not unrolled: one call site */
	prof_unwind_stats_t s[4];
	prof_unwind_clear();
	prof_unwind_stats(&s[0]);
	for (int i = 0; i < rounds; i++) {
		chain_nofp(depth[i]);
		prof_unwind_stats(&s[i + 1]);
		assert_same_frames();
	}
	assert_true(s[1].misses > s[0].misses);
	/* Warm, and deeper recursion reuses the same return addresses. */
	assert_int_equal(s[3].misses, s[1].misses);
	assert_int_equal(s[3].fallbacks, s[0].fallbacks);
	assert_int_equal(s[3].uncached, s[0].uncached);
}

/* ---- (c) a signal handler: a signal frame sends the walk to libgcc ---- */

static int sig_walk;
static trace_t sig_libgcc;
static prof_bt_t sig_bt;
static void *sig_ra;

static __attribute__((noinline)) void on_signal(int sig)
{
	(void)sig;
	uintptr_t pc[MAXF];
	sig_walk = prof_unwind_dwarf(pc, MAXF);
	sig_libgcc.n = 0;
	_Unwind_Backtrace(collect, &sig_libgcc);
	sig_ra = __builtin_return_address(0);
	/* What profiling would record here, as a malloc called from here. */
	prof_backtrace(&sig_bt, __builtin_extract_return_addr(__builtin_return_address(0)));
}

static __attribute__((noinline, noclone)) void raise_here(void)
{
	raise(SIGUSR1);
	__asm__ __volatile__("" ::: "memory");
}

static void test_signal_frame(void **state)
{
	(void)state;
	ebb_opt.prof_unwind = PROF_UNWIND_DWARF;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);

	prof_unwind_stats_t s0, s1, s2;
	prof_unwind_stats(&s0);
	raise_here();
	prof_unwind_stats(&s1);
	/* the handler's own walk, and prof_backtrace's */
	assert_int_equal(sig_walk, -1);
	assert_int_equal(s1.fallbacks, s0.fallbacks + 2);
	/* libgcc went through the signal frame to the code that raised it;
	 * the fallback's stack is libgcc's from the handler's caller on. */
	assert_true(sig_libgcc.n > 5);
	assert_true(sig_bt.depth > 3);
	int k = 0;
	while (k < sig_libgcc.n && sig_libgcc.pc[k] != (uintptr_t)sig_ra)
		k++;
	assert_true(k < sig_libgcc.n);
	assert_int_equal(sig_bt.depth, (unsigned)(sig_libgcc.n - k));
	assert_int_equal(sig_bt.pc[0], sig_libgcc.pc[k] - 1);
	for (unsigned i = 1; i < sig_bt.depth; i++)
		assert_int_equal(sig_bt.pc[i], sig_libgcc.pc[k + i]);

	/* The "unsupported" marker is cached: no second .eh_frame lookup. */
	raise_here();
	prof_unwind_stats(&s2);
	assert_int_equal(sig_walk, -1);
	assert_int_equal(s2.fallbacks, s1.fallbacks + 2);
	assert_int_equal(s2.misses, s1.misses);
	signal(SIGUSR1, SIG_DFL);
}

/* prof_backtrace with the default walker: the caller's frame first, as
 * with libgcc. */
static __attribute__((noinline, noclone)) void bt_here(prof_bt_t *bt, trace_t *t)
{
	t->n = 0;
	_Unwind_Backtrace(collect, t);
	prof_backtrace(bt, __builtin_extract_return_addr(__builtin_return_address(0)));
	__asm__ __volatile__("" ::: "memory");
}

static void test_prof_backtrace(void **state)
{
	(void)state;
	static prof_bt_t bt;
	static trace_t t;
	ebb_opt.prof_unwind = PROF_UNWIND_DWARF;
	bt_here(&bt, &t);
	assert_int_equal(bt.depth, (unsigned)(t.n - 1));
	assert_int_equal(bt.pc[0], t.pc[1] - 1);
	for (unsigned i = 1; i < bt.depth; i++)
		assert_int_equal(bt.pc[i], t.pc[i + 1]);
	/* The walk is cut at max frames. */
	uintptr_t few[3];
	assert_int_equal(prof_unwind_dwarf(few, 3), 3);
	/* An address without unwind information: reported, so the walk
	 * ends there (it is not cached, see prof_unwind.c). */
	static const char not_code[16];
	cfi_rule_t r;
	cfi_rule_at((uintptr_t)not_code, &r);
	assert_int_equal(r.kind, CFI_NO_FDE);
}

/* ---- the CFA program interpreter on hand-made records ---- */

typedef struct {
	uint8_t b[512];
	size_t n;
} buf_t;

static void put(buf_t *x, int count, ...)
{
	va_list ap;
	va_start(ap, count);
	for (int i = 0; i < count; i++)
		x->b[x->n++] = (uint8_t)va_arg(ap, int);
	va_end(ap);
}

static void put32(buf_t *x, uint32_t v)
{
	put(x, 4, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24);
}

static void put64(buf_t *x, uint64_t v)
{
	put32(x, (uint32_t)v);
	put32(x, (uint32_t)(v >> 32));
}

static void set32(buf_t *x, size_t at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		x->b[at + i] = (uint8_t)(v >> (8 * i));
}

#define FUNC 0x401000u

/* A CIE with augmentation aug ("zR" family, FDE pointers absolute) and the
 * usual initial rules (CFA = rsp + 8, return address at CFA - 8), then one
 * FDE for [FUNC, FUNC + 0x100) with program prog. Returns the FDE. */
static const uint8_t *records(buf_t *x, const char *aug, const uint8_t *prog, size_t plen)
{
	x->n = 0;
	put32(x, 0);		/* length, set below */
	put32(x, 0);		/* CIE id */
	put(x, 1, 1);		/* version */
	for (const char *s = aug; *s; s++)
		put(x, 1, *s);
	put(x, 1, 0);
	put(x, 3, 1, 0x78, 16);	/* code align 1, data align -8, return address column 16 */
	if (strchr(aug, 'P')) {
		put(x, 1, 10);		/* augmentation data length */
		put(x, 1, 0x9b);	/* indirect pcrel sdata4 personality */
		put32(x, 0x1234);
		put(x, 2, 0x00, 0x1b);	/* L: absptr; R: pcrel sdata4 */
		put(x, 3, 0, 0, 0);
	} else {
		put(x, 2, 1, 0x00);	/* R: absptr */
	}
	put(x, 5, 0x0c, 7, 8, 0x90, 1);	/* def_cfa rsp 8; offset ra at cfa-8 */
	while ((x->n - 4) % 8)
		put(x, 1, 0);
	set32(x, 0, (uint32_t)(x->n - 4));

	size_t fde = x->n;
	put32(x, 0);
	put32(x, (uint32_t)(x->n - 0));	/* CIE pointer: back to offset 0 */
	if (strchr(aug, 'P')) {
		put32(x, (uint32_t)(FUNC - (uintptr_t)&x->b[x->n]));	/* pcrel, unused here */
		put32(x, 0x100);
		put(x, 1, 0);		/* augmentation data length */
	} else {
		put64(x, FUNC);
		put64(x, 0x100);
		put(x, 1, 0);
	}
	memcpy(x->b + x->n, prog, plen);
	x->n += plen;
	set32(x, fde, (uint32_t)(x->n - fde - 4));
	return x->b + fde;
}

static cfi_rule_t rule_at(const uint8_t *fde, uintptr_t pc)
{
	cfi_bases_t b = { NULL, NULL, (void *)(uintptr_t)FUNC };
	cfi_rule_t r;
	memset(&r, 0xa5, sizeof(r));
	cfi_rule_from_fde(fde, &b, pc, &r);
	return r;
}

static void expect_frame(const uint8_t *fde, uintptr_t pc, bool cfa_rbp, int64_t cfa_off, bool rbp_saved,
			 int64_t rbp_off)
{
	cfi_rule_t r = rule_at(fde, pc);
	assert_int_equal(r.kind, CFI_FRAME);
	assert_int_equal(r.cfa_rbp, cfa_rbp);
	assert_int_equal(r.cfa_off, cfa_off);
	assert_int_equal(r.rbp_saved, rbp_saved);
	if (rbp_saved)
		assert_int_equal(r.rbp_off, rbp_off);
}

static void test_cfa_program(void **state)
{
	(void)state;
	static buf_t x;
	/* A frame-pointer function with a remembered epilogue state:
	 *   +0 push rbp; +1 mov rsp,rbp; +4 ...; +0x14 leave; +0x15 ret; +0x16 more body */
	static const uint8_t prog[] = {
		0x41,			/* advance 1 */
		0x0e, 16,		/* def_cfa_offset 16 */
		0x86, 2,		/* offset rbp, cfa-16 */
		0x43,			/* advance 3 */
		0x0d, 6,		/* def_cfa_register rbp */
		0x02, 0x10,		/* advance_loc1 16 */
		0x0a,			/* remember_state */
		0x0c, 7, 8,		/* def_cfa rsp 8 */
		0xc6,			/* restore rbp */
		0x41,			/* advance 1 */
		0x0b,			/* restore_state */
		0x2e, 0x10,		/* GNU_args_size 16 */
		0x00,			/* nop */
		0x01, 0x30, 0x10, 0x40, 0, 0, 0, 0, 0,	/* set_loc FUNC + 0x30 */
		0x0c, 7, 8,		/* def_cfa rsp 8 */
	};
	const uint8_t *fde = records(&x, "zR", prog, sizeof(prog));
	expect_frame(fde, FUNC, false, 8, false, 0);
	expect_frame(fde, FUNC + 1, false, 16, true, -16);
	expect_frame(fde, FUNC + 3, false, 16, true, -16);
	expect_frame(fde, FUNC + 4, true, 16, true, -16);
	expect_frame(fde, FUNC + 0x13, true, 16, true, -16);
	expect_frame(fde, FUNC + 0x14, false, 8, false, 0);
	expect_frame(fde, FUNC + 0x15, true, 16, true, -16);
	expect_frame(fde, FUNC + 0x2f, true, 16, true, -16);
	expect_frame(fde, FUNC + 0x30, false, 8, true, -16);
	expect_frame(fde, FUNC + 0xff, false, 8, true, -16);

	/* The _sf forms, after a CIE with a personality and an LSDA
	 * ("zPLR") and pcrel FDE pointers. */
	static const uint8_t prog_sf[] = {
		0x41, 0x13, 0x7e,	/* advance 1; def_cfa_offset_sf -2 (x -8 = 16) */
		0x11, 6, 0x02,		/* offset_extended_sf rbp, 2 (x -8 = cfa-16) */
		0x03, 0x20, 0x00,	/* advance_loc2 0x20 */
		0x12, 6, 0x7e,		/* def_cfa_sf rbp, 16 */
	};
	fde = records(&x, "zPLR", prog_sf, sizeof(prog_sf));
	expect_frame(fde, FUNC, false, 8, false, 0);
	expect_frame(fde, FUNC + 0x20, false, 16, true, -16);
	expect_frame(fde, FUNC + 0x21, true, 16, true, -16);
}

static void expect_kind(const char *aug, const uint8_t *prog, size_t plen, uintptr_t pc, unsigned kind)
{
	static buf_t x;
	const uint8_t *fde = records(&x, aug, prog, plen);
	assert_int_equal(rule_at(fde, pc).kind, kind);
}

static void test_cfa_unsupported(void **state)
{
	(void)state;
	/* def_cfa_expression (gcc's stack-realigning main) */
	static const uint8_t expr[] = { 0x41, 0x0f, 3, 0x76, 0x78, 0x06, 0x41, 0x0c, 7, 8 };
	expect_kind("zR", expr, sizeof(expr), FUNC, CFI_FRAME);
	expect_kind("zR", expr, sizeof(expr), FUNC + 1, CFI_UNSUPPORTED);
	expect_kind("zR", expr, sizeof(expr), FUNC + 2, CFI_FRAME);	/* back to rsp + 8 */
	/* CFA through r10 */
	static const uint8_t r10[] = { 0x41, 0x0c, 10, 0 };
	expect_kind("zR", r10, sizeof(r10), FUNC, CFI_FRAME);
	expect_kind("zR", r10, sizeof(r10), FUNC + 1, CFI_UNSUPPORTED);
	/* rbp or the return address by expression, or in a register */
	static const uint8_t rbp_expr[] = { 0x41, 0x10, 6, 2, 0x77, 0x10 };
	expect_kind("zR", rbp_expr, sizeof(rbp_expr), FUNC + 1, CFI_UNSUPPORTED);
	static const uint8_t ra_reg[] = { 0x41, 0x09, 16, 0 };
	expect_kind("zR", ra_reg, sizeof(ra_reg), FUNC + 1, CFI_UNSUPPORTED);
	/* Other registers' rules do not matter. */
	static const uint8_t rbx_expr[] = { 0x41, 0x10, 3, 2, 0x77, 0x10, 0x09, 12, 13, 0x83, 3 };
	expect_kind("zR", rbx_expr, sizeof(rbx_expr), FUNC + 1, CFI_FRAME);
	/* Return address undefined: the outermost frame. */
	static const uint8_t undef[] = { 0x07, 16 };
	expect_kind("zR", undef, sizeof(undef), FUNC, CFI_END);
	/* Signal frames ('S') */
	static const uint8_t none[] = { 0 };
	expect_kind("zRS", none, sizeof(none), FUNC, CFI_UNSUPPORTED);
	/* Unknown opcode before the pc; after it, it is never reached. */
	static const uint8_t unknown[] = { 0x41, 0x3f };
	expect_kind("zR", unknown, sizeof(unknown), FUNC + 1, CFI_UNSUPPORTED);
	expect_kind("zR", unknown, sizeof(unknown), FUNC, CFI_FRAME);
	/* restore_state without remember_state; a program cut short */
	static const uint8_t unbalanced[] = { 0x0b };
	expect_kind("zR", unbalanced, sizeof(unbalanced), FUNC, CFI_UNSUPPORTED);
	static const uint8_t cut[] = { 0x0c, 7 };
	expect_kind("zR", cut, sizeof(cut), FUNC, CFI_UNSUPPORTED);
}

int main(void)
{
	conf_defaults();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_frame_pointers), cmocka_unit_test(test_alloca_vla),
		cmocka_unit_test(test_cache_hits),	  cmocka_unit_test(test_signal_frame),
		cmocka_unit_test(test_prof_backtrace),	  cmocka_unit_test(test_cfa_program),
		cmocka_unit_test(test_cfa_unsupported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
