/* Who returns freed memory, and when. Dirty pages wait dirty_decay_ms (a
 * program that frees and soon reallocates keeps them), then a background
 * thread madvises them away even if the program never calls the allocator
 * again. The thread starts only once an arena holds a megabyte of dirty
 * pages, sleeps while there is nothing to purge, and is re-created lazily
 * in a forked child. */
#include "purge.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "config.h"
#include "init.h"
#include "lock.h"
#include "msg.h"
#include "os.h"
#include "prof.h"
#include "tcache.h"

#define START_PAGES 256		/* dirty pages in one arena that start the thread */
#define MIN_SLEEP_NS 20000000ull	/* batch purges at most 50 times a second */
#define CACHE_CHECK_BYTES ((size_t)64 << 10)	/* thread caches worth a look */
/* Purging when the heap grows (purge_grew): only in an arena of 64 MiB or
 * more (small heaps just wait out the decay) of which an eighth or more is
 * free (a heap that only grows has nothing to give), for what was freed an
 * eighth of the decay ago or earlier, and at most once per 20 ms. */
#define GROW_MIN_REGIONS 16
#define GROW_FREE_DIV 8
#define GROW_AGE_DIV 8
#define GROW_GAP_NS 20000000ull

enum { BG_NONE, BG_RUNNING, BG_FAILED };

static int bg_state;
static uint32_t bg_seq;		/* bumped on news; the thread sleeps on it */
static int bg_idle;		/* the thread sleeps with no deadline */
static uint64_t next_due = UINT64_MAX;	/* without the thread: next pass */
static ebb_lock_t pass_lock = EBB_LOCK_INIT;
static int grow_pending;	/* the thread's next pass is an early one */
static uint64_t grow_last_ns;

static uint64_t decay_ns(void)
{
	return (uint64_t)ebb_opt.dirty_decay_ms * 1000000ull;
}

/* ---- cgroup v2 memory pressure ---- */

static char cg_dir[1024];
static int cg_state;	/* 0 unknown, 1 found, 2 none */

static bool read_u64_file(const char *dir, const char *name, uint64_t *out)
{
	char path[1100], buf[64];
	ebb_snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (os_read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	if (!strncmp(buf, "max", 3)) {
		*out = UINT64_MAX;
		return true;
	}
	const char *p = buf;
	return os_parse_u64(&p, out);
}

bool purge_under_pressure(void)
{
	if (!ebb_opt.cgroup_memory)
		return false;
	if (cg_state == 0)
		cg_state = os_cgroup_dir(ebb_opt.cgroup_root, cg_dir, sizeof(cg_dir)) ? 1 : 2;
	if (cg_state != 1)
		return false;
	uint64_t cur, max = UINT64_MAX, high = UINT64_MAX, lim;
	if (!read_u64_file(cg_dir, "memory.current", &cur))
		return false;
	read_u64_file(cg_dir, "memory.max", &max);
	read_u64_file(cg_dir, "memory.high", &high);
	lim = max < high ? max : high;
	/* Within 10 % of the limit: the kernel is about to reclaim or kill. */
	return lim != UINT64_MAX && cur >= lim - lim / 10;
}

/* ---- one pass over every arena ---- */

static size_t pass(uint64_t cutoff, uint64_t *next)
{
	size_t bytes = 0;
	uint64_t oldest = UINT64_MAX;
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		arena_t *a = __atomic_load_n(&ebb_arenas[i], __ATOMIC_ACQUIRE);
		if (!a)
			continue;
		uint64_t n;
		bytes += arena_purge(a, cutoff, &n);
		if (n < oldest)
			oldest = n;
	}
	*next = oldest;
	return bytes;
}

static uint64_t cutoff_now(uint64_t now, bool pressure)
{
	if (pressure || ebb_opt.dirty_decay_ms == 0)
		return UINT64_MAX;
	return now > decay_ns() ? now - decay_ns() : 0;
}

/* The cutoff of a pass made because the heap grew. */
static uint64_t cutoff_grew(uint64_t now)
{
	uint64_t age = decay_ns() / GROW_AGE_DIV;
	return now > age ? now - age : 0;
}

/* ---- the background thread ---- */

static void *bg_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "ebb-purger", 0, 0, 0);
	for (;;) {
		uint32_t seq = __atomic_load_n(&bg_seq, __ATOMIC_SEQ_CST);
		prof_bg_work();
		uint64_t now = os_now_ns(), next;
		bool pressure = purge_under_pressure();
		/* A cache untouched for half the decay is idle: its blocks
		 * then wait out the other half as dirty pages, if any. */
		tcache_reclaim_idle(now, pressure ? 0 : decay_ns() / 2);
		uint64_t cutoff = cutoff_now(now, pressure);
		if (__atomic_exchange_n(&grow_pending, 0, __ATOMIC_ACQ_REL) && cutoff_grew(now) > cutoff)
			cutoff = cutoff_grew(now);
		pass(cutoff, &next);
		/* Threads' caches are looked at again while they hold much. */
		if (tcache_cached_bytes() >= CACHE_CHECK_BYTES && next > now - decay_ns() / 2)
			next = now - decay_ns() / 2;
		if (next == UINT64_MAX) {
			__atomic_store_n(&bg_idle, 1, __ATOMIC_SEQ_CST);
			os_futex_wait_timeout(&bg_seq, seq, 0);
			__atomic_store_n(&bg_idle, 0, __ATOMIC_SEQ_CST);
			continue;
		}
		uint64_t due = pressure ? now : next + decay_ns();
		uint64_t sleep = due > now ? due - now : 0;
		if (sleep < MIN_SLEEP_NS)
			sleep = MIN_SLEEP_NS;
		os_futex_wait_timeout(&bg_seq, seq, sleep);
	}
	return NULL;
}

static void bg_start(void);

int ebb_purge_start_pending;

void purge_start(void)
{
	bg_start();
}

void purge_start_pending(void)
{
	__atomic_store_n(&ebb_purge_start_pending, 0, __ATOMIC_RELAXED);
	if (!ebb_exiting)
		bg_start();
}

void purge_wake(void)
{
	__atomic_add_fetch(&bg_seq, 1, __ATOMIC_SEQ_CST);
	os_futex_wake(&bg_seq, 1);
}

static void bg_start(void)
{
	int expect = BG_NONE;
	if (!__atomic_compare_exchange_n(&bg_state, &expect, BG_RUNNING, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	/* The thread must never take a signal meant for the program. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	prof_suspend();	/* its stack and TLS are ours, not the program's */
	int err = pthread_create(&t, &attr, bg_main, NULL);
	prof_resume();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		__atomic_store_n(&bg_state, BG_FAILED, __ATOMIC_RELEASE);
		ebb_msg("cannot start the purging thread (error %d): memory is returned on allocator calls only", err);
	}
}

bool purge_thread_running(void)
{
	return __atomic_load_n(&bg_state, __ATOMIC_ACQUIRE) == BG_RUNNING;
}

/* Starts the thread now, or, from inside a cache slow path (where
 * pthread_create's malloc must not run), when that path leaves. */
static void bg_start_soon(void)
{
	if (ebb_exiting)
		return;
	if (ebb_tc->busy)
		__atomic_store_n(&ebb_purge_start_pending, 1, __ATOMIC_RELAXED);
	else
		bg_start();
}

void purge_notify(arena_t *a)
{
	if (ebb_opt.dirty_decay_ms < 0)
		return;
	if (ebb_opt.dirty_decay_ms == 0) {
		uint64_t next;
		arena_purge(a, UINT64_MAX, &next);
		return;
	}
	int state = __atomic_load_n(&bg_state, __ATOMIC_ACQUIRE);
	if (!ebb_opt.background_thread || state == BG_FAILED) {
		purge_tick();
		return;
	}
	if (state == BG_NONE) {
		if (__atomic_load_n(&a->dirty_pages, __ATOMIC_RELAXED) >= START_PAGES)
			bg_start_soon();
		return;
	}
	__atomic_add_fetch(&bg_seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&bg_idle, __ATOMIC_SEQ_CST))
		os_futex_wake(&bg_seq, 1);
}

/* Without the thread: a pass made by the calling thread, unless another
 * is making one; sets the deadline of the next. */
static void pass_here(uint64_t cutoff)
{
	uint64_t next;
	if (!ebb_trylock(&pass_lock))
		return;
	pass(cutoff, &next);
	__atomic_store_n(&next_due, next == UINT64_MAX ? UINT64_MAX : next + decay_ns(), __ATOMIC_RELAXED);
	ebb_unlock(&pass_lock);
}

/* Mapping more memory while freed memory waits out its decay would make
 * RSS the sum of both: a program that frees much of one size and then
 * allocates another (a parse phase, then a build phase) would peak at
 * twice its live heap. Memory freed a while ago is unlikely to be taken
 * again soon, so it goes now rather than after the whole decay. */
void purge_grew(arena_t *a)
{
	if (ebb_opt.dirty_decay_ms <= 0 || __atomic_load_n(&a->nregions, __ATOMIC_RELAXED) < GROW_MIN_REGIONS)
		return;
	uint64_t now = os_now_ns(), last = __atomic_load_n(&grow_last_ns, __ATOMIC_RELAXED);
	if (now - last < GROW_GAP_NS ||
	    !__atomic_compare_exchange_n(&grow_last_ns, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	size_t mapped = __atomic_load_n(&a->nregions, __ATOMIC_RELAXED) * REGION_SIZE;
	if (arena_free_bytes(a) < mapped / GROW_FREE_DIV)
		return;
	int state = __atomic_load_n(&bg_state, __ATOMIC_ACQUIRE);
	if (!ebb_opt.background_thread || state == BG_FAILED) {
		pass_here(cutoff_grew(now));
		return;
	}
	__atomic_store_n(&grow_pending, 1, __ATOMIC_RELEASE);
	if (state == BG_RUNNING)
		purge_wake();
	else
		bg_start_soon();
}

void purge_tick(void)
{
	if (ebb_opt.dirty_decay_ms < 0 || purge_thread_running())
		return;
	uint64_t now = os_now_ns();
	uint64_t due = __atomic_load_n(&next_due, __ATOMIC_RELAXED);
	/* A free just made pages dirty: make sure a deadline exists. */
	if (due == UINT64_MAX) {
		__atomic_store_n(&next_due, now + decay_ns(), __ATOMIC_RELAXED);
		return;
	}
	if (now >= due)
		pass_here(cutoff_now(now, purge_under_pressure()));
}

size_t purge_all(void)
{
	uint64_t next;
	ebb_ensure_init();
	tcache_t *tc = tcache_enter();
	if (tc)
		tcache_flush_all(tc);
	size_t n = pass(UINT64_MAX, &next);
	tcache_leave(tc);
	return n;
}

void purge_fork_child(void)
{
	/* Threads do not survive fork(): the child starts its own when needed. */
	bg_state = BG_NONE;
	bg_idle = 0;
	bg_seq = 0;
	grow_pending = 0;
	grow_last_ns = 0;
	next_due = UINT64_MAX;
	ebb_lock_reset(&pass_lock);
	/* The thread writes prof_signal dumps: a forked worker must answer the
	 * signal too. Not started here (this runs inside fork(), where
	 * pthread_create's malloc must not run) but at the child's first
	 * allocator slow path. */
	if (prof_needs_thread())
		__atomic_store_n(&ebb_purge_start_pending, 1, __ATOMIC_RELAXED);
}
