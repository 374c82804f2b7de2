#include "tcache.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "inbox.h"
#include "init.h"
#include "meta.h"
#include "msg.h"
#include "os.h"
#include "pagemap.h"
#include "prof.h"
#include "purge.h"

__thread tcache_t *ebb_tc __attribute__((tls_model("initial-exec"))) = &ebb_tc_empty;
#define NO_TAG .tag = TAG_NONE, .tag_bits = (uint64_t)TAG_NONE << TAG_SHIFT
tcache_t ebb_tc_empty = { NO_TAG };
tcache_t ebb_tc_dead = { NO_TAG };
tcache_t ebb_tc_parked = { NO_TAG };
/* The thread's own cache, while ebb_tc points at ebb_tc_parked. */
static __thread tcache_t *own_tc __attribute__((tls_model("initial-exec")));
/* Until init fills it in, every size leads to bin 0, which is empty in the
 * sentinel cache a thread starts with: malloc before init goes slow. */
uint16_t ebb_bin_lut[LUT_MAX + 1] = { [0 ... LUT_MAX] = offsetof(tcache_t, bins) };

static pthread_key_t exit_key;
static bool exit_key_ok;
static ebb_lock_t reg_lock = EBB_LOCK_INIT;
static tcache_t *registry, *pool;
static unsigned nthreads, next_arena;
static size_t tc_bytes;

static void thread_exit(void *arg);
static void arm(tcache_t *tc);
static unsigned next_uid;

void tcache_init_global(void)
{
	size_t slots = 0;
	for (unsigned c = 0; c < NCLASSES; c++)
		slots += ebb_classes[c].tcache_cap;
	tc_bytes = sizeof(tcache_t) + slots * sizeof(void *);
	for (size_t n = 0; n <= LUT_MAX; n++)
		ebb_bin_lut[n] = (uint16_t)tcache_bin_offset(size_class(n));
	exit_key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

tcache_t *tcache_get(void)
{
	tcache_t *tc = ebb_tc;
	if (likely(tc->live))
		return tc;
	if (tc == &ebb_tc_dead)
		return NULL;
	if (tc == &ebb_tc_parked) {
		/* The purger emptied our cache: wait until it is done, take it back. */
		tc = own_tc;
		ebb_lock(&tc->steal_lock);
		ebb_unlock(&tc->steal_lock);
		ebb_tc = tc;
		return tc;
	}
	ebb_ensure_init();
	ebb_lock(&reg_lock);
	tc = pool;
	if (tc)
		pool = tc->next;
	else
		tc = meta_alloc(tc_bytes);
	unsigned idx = next_arena++ % ebb_narenas, uid = next_uid++;
	ebb_unlock(&reg_lock);
	arena_t *a = tc ? arena_get(idx) : NULL;
	if (!a)
		return NULL;
	void **slot = tc->storage;
	for (unsigned c = 0; c < NCLASSES; c++) {
		tc->bins[c].lo = tc->bins[c].top = slot;
		slot += ebb_classes[c].tcache_cap;
		tc->bins[c].hi = slot;
		tc->bins[c].size = ebb_classes[c].size;
	}
	tc->arena = a;
	tc->tag = a->tag;
	tc->tag_bits = (uint64_t)a->tag << TAG_SHIFT;
	tc->nremote = 0;
	tc->allocated = 0;
	tc->prng = os_random() | 1;
	tc->prof_uid = uid;
	tc->gc_left = EVENT_PERIOD;
	tc->sample_left = prof_next_wait(&tc->prng);
	tc->tid = (int)syscall(SYS_gettid);
	tc->busy = 0;
	tc->slot = &ebb_tc;
	ebb_lock_reset(&tc->steal_lock);
	tc->seen_sig = 0;
	tc->seen_ns = 0;
	own_tc = tc;
	arm(tc);
	tc->live = 1;
	ebb_lock(&reg_lock);
	tc->prev = NULL;
	tc->next = registry;
	if (registry)
		registry->prev = tc;
	registry = tc;
	nthreads++;
	ebb_unlock(&reg_lock);
	if (exit_key_ok)
		pthread_setspecific(exit_key, tc);
	ebb_tc = tc;
	return tc;
}

static void thread_exit(void *arg)
{
	tcache_t *tc = arg;
	/* A steal in progress finishes first. */
	ebb_lock(&tc->steal_lock);
	ebb_unlock(&tc->steal_lock);
	ebb_tc = tc;
	tc->busy++;
	tcache_flush_all(tc);
	ebb_tc = &ebb_tc_dead;
	tc->live = 0;
	ebb_lock(&reg_lock);
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		registry = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	nthreads--;
	tc->next = pool;
	pool = tc;
	ebb_unlock(&reg_lock);
}

arena_t *tcache_arena(void)
{
	tcache_t *tc = tcache_get();
	return tc ? tc->arena : arena_get(0);
}

void tcache_flush_bin(tcache_t *tc, unsigned cls, unsigned keep)
{
	tbin_t *b = &tc->bins[cls];
	unsigned n = tbin_count(b);
	if (n <= keep)
		return;
	/* The oldest blocks, at the bottom of the stack, go back. The bin is
	 * consistent before they leave: giving them back may reach code that
	 * allocates (a thread's start-up), and that must not find them. */
	unsigned out = n - keep;
	void *gone[TCACHE_CAP_MAX];
	memcpy(gone, b->lo, out * sizeof(void *));
	memmove(b->lo, b->lo + out, keep * sizeof(void *));
	b->top = b->lo + keep;
	inbox_free_class(tc->arena, cls, gone, out);
}

void tcache_remote_flush(tcache_t *tc)
{
	inbox_free(tc->remote, tc->nremote);
	tc->nremote = 0;
}

void tcache_remote_add(tcache_t *tc, void *p)
{
	if (tc->nremote == REMOTE_MAX)
		tcache_remote_flush(tc);
	tc->remote[tc->nremote++] = p;
}

void tcache_flush_all(tcache_t *tc)
{
	for (unsigned c = 0; c < NCLASSES; c++)
		tcache_flush_bin(tc, c, 0);
	tcache_remote_flush(tc);
}

static void arm(tcache_t *tc)
{
	tc->armed = tc->gc_left < tc->sample_left ? tc->gc_left : tc->sample_left;
	tc->event_left = tc->armed;
}

bool tcache_event(tcache_t *tc)
{
	int64_t elapsed = tc->armed - tc->event_left;
	bool sample = false;
	tc->allocated += (uint64_t)elapsed;
	tc->gc_left -= elapsed;
	/* INT64_MAX means sampling was off at the last draw: it stays the mark
	 * that a collection should draw again (prof_active may be on now). */
	if (tc->sample_left != INT64_MAX)
		tc->sample_left -= elapsed;
	if (tc->sample_left <= 0) {
		/* The allocation that crossed the wait is the sample; the rest of
		 * it is not carried over (the wait is memoryless anyway). */
		sample = ebb_prof_on;
		tc->sample_left = prof_next_wait(&tc->prng);
	}
	if (tc->gc_left <= 0) {
		tc->gc_left = EVENT_PERIOD;
		/* A thread that stopped using a class returns its blocks: each
		 * collection halves every bin; a bin in steady use refills in
		 * one batch. */
		for (unsigned c = 0; c < NCLASSES; c++)
			if (tbin_count(&tc->bins[c]) > 1)
				tcache_flush_bin(tc, c, tbin_count(&tc->bins[c]) / 2);
		tcache_remote_flush(tc);
		purge_tick();
		/* prof_active may have been switched on since the last draw. */
		if (tc->sample_left == INT64_MAX)
			tc->sample_left = prof_next_wait(&tc->prng);
	}
	arm(tc);
	if (ebb_prof_on)
		prof_event((uint64_t)elapsed);
	return sample;
}

bool tcache_count(tcache_t *tc, size_t bytes)
{
	tc->event_left -= (int64_t)bytes;
	return tc->event_left < 0 && tcache_event(tc);
}

bool tcache_holds(tcache_t *tc, unsigned cls, void *p)
{
	tbin_t *b = &tc->bins[cls];
	for (void **q = b->lo; q < b->top; q++)
		if (*q == p)
			return true;
	for (unsigned i = 0; i < tc->nremote; i++)
		if (tc->remote[i] == p)
			return true;
	return false;
}

unsigned tcache_thread_count(void)
{
	return __atomic_load_n(&nthreads, __ATOMIC_RELAXED);
}

uint64_t tcache_allocated_total(void)
{
	uint64_t sum = 0;
	ebb_lock(&reg_lock);
	for (tcache_t *tc = registry; tc; tc = tc->next)
		sum += tc->allocated + (uint64_t)(tc->armed - tc->event_left);
	ebb_unlock(&reg_lock);
	return sum;
}

size_t tcache_cached_bytes(void)
{
	/* Other threads' counts are read without their knowledge: a
	 * statistic, not an invariant. */
	size_t sum = 0;
	ebb_lock(&reg_lock);
	for (tcache_t *tc = registry; tc; tc = tc->next) {
		for (unsigned c = 0; c < NCLASSES; c++)
			sum += (size_t)(__atomic_load_n(&tc->bins[c].top, __ATOMIC_RELAXED) - tc->bins[c].lo) *
			       tc->bins[c].size;
	}
	ebb_unlock(&reg_lock);
	return sum;
}

/* What changes whenever the owner uses its cache. */
static uint64_t signature(const tcache_t *tc)
{
	uint64_t sig = (uint64_t)__atomic_load_n(&tc->event_left, __ATOMIC_RELAXED) * 31 +
		       __atomic_load_n(&tc->nremote, __ATOMIC_RELAXED);
	for (unsigned c = 0; c < NCLASSES; c++)
		sig = sig * 1000003 + (uintptr_t)__atomic_load_n(&tc->bins[c].top, __ATOMIC_RELAXED);
	return sig;
}

typedef struct {
	char state;
	uint64_t switches;
	bool in_syscall;
} task_view_t;

bool tcache_syscall_stop(const char *buf)
{
	if (buf[0] < '0' || buf[0] > '9')
		return false;
	const char *last = strrchr(buf, ' ');
	if (!last || last[1] != '0' || last[2] != 'x')
		return false;
	uintptr_t pc = 0;
	for (const char *c = last + 3; *c && *c != '\n'; c++) {
		unsigned d = *c >= '0' && *c <= '9' ? (unsigned)(*c - '0')
			   : *c >= 'a' && *c <= 'f' ? (unsigned)(*c - 'a' + 10) : 16u;
		if (d > 15)
			return false;
		pc = pc << 4 | d;
	}
	return !(pc >= (uintptr_t)__start_ebb_fast && pc < (uintptr_t)__stop_ebb_fast);
}

/* The thread's scheduler state, context switch count, and whether it is
 * blocked inside a system call outside the fast paths, from /proc. */
static bool task_view(int tid, task_view_t *v)
{
	char path[64], buf[2048];
	ebb_snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	if (os_read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	const char *st = strstr(buf, "\nState:\t"), *vol = strstr(buf, "voluntary_ctxt_switches:\t"),
		   *inv = strstr(buf, "nonvoluntary_ctxt_switches:\t");
	if (!st || !vol || !inv)
		return false;
	v->state = st[8];
	const char *pv = vol + 25, *pn = inv + 28;
	uint64_t n;
	if (!os_parse_u64(&pv, &v->switches) || !os_parse_u64(&pn, &n))
		return false;
	v->switches += n << 32;
	ebb_snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	if (os_read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	v->in_syscall = tcache_syscall_stop(buf);
	return true;
}

static bool blocked(const task_view_t *v)
{
	return (v->state == 'S' || v->state == 'D' || v->state == 'T' || v->state == 't') && v->in_syscall;
}

/* The owner's fast paths make no system calls and its slow paths raise
 * busy, so a thread blocked in a system call, with busy clear, uses no
 * cache. If it stays blocked (no context switch) across the swap of its
 * cache pointer, its next call finds the parked cache and waits for us. */
static size_t steal(tcache_t *tc, uint64_t idle_since)
{
	task_view_t v1, v2;
	size_t bytes = 0;
	ebb_lock(&tc->steal_lock);
	if (!task_view(tc->tid, &v1) || !blocked(&v1) || __atomic_load_n(&tc->busy, __ATOMIC_SEQ_CST))
		goto out;
	__atomic_store_n(tc->slot, &ebb_tc_parked, __ATOMIC_SEQ_CST);
	if (!task_view(tc->tid, &v2) || !blocked(&v2) || v2.switches != v1.switches ||
	    __atomic_load_n(&tc->busy, __ATOMIC_SEQ_CST)) {
		tcache_t *expect = &ebb_tc_parked;
		__atomic_compare_exchange_n(tc->slot, &expect, tc, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		goto out;
	}
	for (unsigned c = 0; c < NCLASSES; c++) {
		tbin_t *b = &tc->bins[c];
		unsigned n = tbin_count(b);
		bytes += (size_t)n * b->size;
		if (n)
			arena_flush_at(tc->arena, c, b->lo, n, idle_since);
		b->top = b->lo;
	}
	tcache_remote_flush(tc);
	tc->seen_sig = signature(tc);
out:
	ebb_unlock(&tc->steal_lock);
	return bytes;
}

size_t tcache_reclaim_idle(uint64_t now, uint64_t idle_ns)
{
	size_t bytes = 0;
	ebb_lock(&reg_lock);
	for (tcache_t *tc = registry; tc; tc = tc->next) {
		if (__atomic_load_n(tc->slot, __ATOMIC_RELAXED) != tc)
			continue;	/* parked already */
		uint64_t sig = signature(tc);
		if (sig != tc->seen_sig || !tc->seen_ns) {
			tc->seen_sig = sig;
			tc->seen_ns = now;
			continue;
		}
		size_t held = tc->nremote;
		for (unsigned c = 0; c < NCLASSES && !held; c++)
			held += tbin_count(&tc->bins[c]);
		if (held && now - tc->seen_ns >= idle_ns)
			bytes += steal(tc, tc->seen_ns);
	}
	ebb_unlock(&reg_lock);
	return bytes;
}

void tcache_fork_prepare(void) { ebb_lock(&reg_lock); }
void tcache_fork_parent(void) { ebb_unlock(&reg_lock); }

/* Only the forking thread lives on in the child; the other caches' blocks
 * are lost to it, but their descriptors must not count as threads. */
void tcache_fork_child(void)
{
	ebb_lock_reset(&reg_lock);
	tcache_t *me = ebb_tc->live ? ebb_tc : NULL;
	registry = me;
	nthreads = me ? 1 : 0;
	if (me) {
		me->next = me->prev = NULL;
		/* The purger looks the owner up in /proc by thread id. */
		me->tid = (int)syscall(SYS_gettid);
	}
}
