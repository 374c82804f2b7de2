/* Heap profiling glue: when to sample (an exponential wait in bytes, per
 * thread, folded into the thread cache's event counter), recording sampled
 * blocks on their span, the dump triggers and the public ebb_prof_* calls.
 * An unsampled free pays nothing: a span holding a sampled block carries
 * TAG_SAMPLED, so its frees leave the fast path. */
#include "prof.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ebbmalloc.h"

#include "arena.h"
#include "config.h"
#include "huge.h"
#include "init.h"
#include "lock.h"
#include "meta.h"
#include "msg.h"
#include "os.h"
#include "pagemap.h"
#include "prof_unwind.h"
#include "purge.h"
#include "span.h"

#define EBB_EXPORT __attribute__((visibility("default")))

bool ebb_prof_on;
static bool active;
static unsigned lg_sample;
static __thread int in_prof __attribute__((tls_model("initial-exec")));

/* A sampled block on its span's list. */
typedef struct prof_link {
	void *ptr;
	prof_sample_t *rec;
	struct prof_link *next;
} prof_link_t;

static ebb_lock_t link_lock = EBB_LOCK_INIT;
static prof_link_t *spare_links;

void prof_init(void)
{
	ebb_prof_on = ebb_opt.prof;
	active = ebb_opt.prof_active;
	lg_sample = ebb_opt.lg_prof_sample;
	ebb_prof_accum = ebb_opt.prof_accum;
	memcpy(ebb_prof_prefix, ebb_opt.prof_prefix, sizeof(ebb_opt.prof_prefix));
	prof_bt_init();
}

void prof_suspend(void)
{
	in_prof++;
}

void prof_resume(void)
{
	in_prof--;
}

/* ---- when to sample ---- */

/* log(x) for x in (0, 1], without libm: x = m * 2^e, m in [1, 2), and
 * log(m) = 2 atanh((m - 1) / (m + 1)), a fast series for z <= 1/3. */
static double ln(double x)
{
	int e = 0;
	while (x < 1.0) {
		x *= 2.0;
		e--;
	}
	double z = (x - 1.0) / (x + 1.0), z2 = z * z, term = z, sum = 0;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return 2.0 * sum + e * 0.69314718055994530942;
}

static uint64_t next_random(uint64_t *s)
{
	/* xorshift64*: per thread, no locks */
	uint64_t x = *s ? *s : (os_random() | 1);
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

int64_t prof_next_wait(uint64_t *prng)
{
	/* Waits are drawn while sampling is paused too (prof_active is looked
	 * at when a sample falls due), so switching it on takes effect at once. */
	if (!ebb_prof_on)
		return INT64_MAX;
	unsigned lg = __atomic_load_n(&lg_sample, __ATOMIC_RELAXED);
	if (lg == 0)
		return 1;
	/* Geometric wait with mean R: each byte starts a sample with
	 * probability 1/R, so a block of s bytes is sampled with probability
	 * 1 - exp(-s/R), which is what jeprof's unbiasing assumes. */
	double u = (double)((next_random(prng) >> 11) + 1) / 9007199254740992.0;	/* (0, 1] */
	double r = (double)((uint64_t)1 << lg);
	double w = -ln(u) * r;
	return w >= 9.0e18 ? INT64_MAX : (int64_t)w + 1;
}

/* ---- dump triggers ---- */

static uint64_t interval_bytes, gdump_high;
static uint64_t gdump_last_ns;
static ebb_lock_t trigger_lock = EBB_LOCK_INIT;
static int dump_requested;

static uint64_t active_bytes(void)
{
	uint64_t n = huge_mapped();
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		arena_t *a = __atomic_load_n(&ebb_arenas[i], __ATOMIC_ACQUIRE);
		if (a)
			n += (uint64_t)(__atomic_load_n(&a->slab_pages, __ATOMIC_RELAXED) +
					__atomic_load_n(&a->large_pages, __ATOMIC_RELAXED)) << PAGE_SHIFT;
	}
	return n;
}

void prof_event(uint64_t bytes)
{
	if (!ebb_prof_on || in_prof)
		return;
	bool interval = false, gdump = false;
	if (ebb_opt.lg_prof_interval >= 0) {
		uint64_t period = (uint64_t)1 << ebb_opt.lg_prof_interval;
		uint64_t total = __atomic_add_fetch(&interval_bytes, bytes, __ATOMIC_RELAXED);
		if (total >= period && ebb_trylock(&trigger_lock)) {
			if (__atomic_load_n(&interval_bytes, __ATOMIC_RELAXED) >= period) {
				__atomic_store_n(&interval_bytes, 0, __ATOMIC_RELAXED);
				interval = true;
			}
			ebb_unlock(&trigger_lock);
		}
	}
	if (ebb_opt.prof_gdump) {
		/* A new high-water mark, by a tenth at least, once a second at
		 * most: a growing heap must not write thousands of files. */
		uint64_t now_bytes = active_bytes(), now = os_now_ns();
		if (now_bytes > gdump_high + gdump_high / 10 && now - gdump_last_ns >= 1000000000ull &&
		    ebb_trylock(&trigger_lock)) {
			gdump_high = now_bytes;
			gdump_last_ns = now;
			gdump = true;
			ebb_unlock(&trigger_lock);
		}
	}
	in_prof = 1;
	if (interval)
		prof_dump_auto('i', lg_sample, NULL, 0);
	if (gdump)
		prof_dump_auto('u', lg_sample, NULL, 0);
	in_prof = 0;
}

/* ---- sampled blocks ---- */

void prof_sample_alloc(void *p, size_t usize, unsigned uid, const void *caller_ra)
{
	if (in_prof || !p || !__atomic_load_n(&active, __ATOMIC_RELAXED))
		return;
	in_prof = 1;
	prof_bt_t bt;
	prof_backtrace(&bt, caller_ra);
	prof_sample_t *rec = prof_data_alloc(&bt, usize, uid);
	span_t *s = pagemap_get(p);
	if (rec && s) {
		ebb_lock(&link_lock);
		prof_link_t *l = spare_links;
		if (l)
			spare_links = l->next;
		else
			l = meta_alloc(sizeof(*l));
		if (l) {
			l->ptr = p;
			l->rec = rec;
			l->next = s->samples;
			s->samples = l;
			/* Frees of this slab's blocks now leave the fast path. */
			if (s->kind == SPAN_SMALL)
				__atomic_or_fetch(&s->key, (uint64_t)TAG_SAMPLED << TAG_SHIFT, __ATOMIC_RELEASE);
			rec = NULL;
		}
		ebb_unlock(&link_lock);
	}
	if (rec)
		prof_data_free(rec);	/* could not link it: do not count it */
	in_prof = 0;
}

static prof_link_t *unlink_ptr(span_t *s, void *p)
{
	for (prof_link_t **pp = (prof_link_t **)&s->samples; *pp; pp = &(*pp)->next)
		if ((*pp)->ptr == p) {
			prof_link_t *l = *pp;
			*pp = l->next;
			return l;
		}
	return NULL;
}

void prof_sample_free(span_t *s, void *p)
{
	ebb_lock(&link_lock);
	prof_link_t *l = unlink_ptr(s, p);
	if (l) {
		l->next = spare_links;
		spare_links = l;
	}
	if (!s->samples && s->kind == SPAN_SMALL)
		__atomic_and_fetch(&s->key, ~((uint64_t)TAG_SAMPLED << TAG_SHIFT), __ATOMIC_RELEASE);
	prof_sample_t *rec = l ? l->rec : NULL;
	ebb_unlock(&link_lock);
	if (rec)
		prof_data_free(rec);
}

/* ---- signal-triggered dumps ---- */

static const int signals[] = { 0, SIGUSR1, SIGUSR2, SIGPROF, SIGURG };

static void on_signal(int sig)
{
	(void)sig;
	/* Nothing here may take a lock the interrupted code might hold: the
	 * background thread writes the dump. */
	__atomic_store_n(&dump_requested, 1, __ATOMIC_RELEASE);
	purge_wake();
}

void prof_bg_work(void)
{
	if (__atomic_exchange_n(&dump_requested, 0, __ATOMIC_ACQ_REL)) {
		char name[512];
		if (prof_dump_auto('m', lg_sample, name, sizeof(name)) == 0)
			ebb_msg("heap profile written to %s", name);
	}
}

bool prof_needs_thread(void)
{
	return ebb_prof_on && ebb_opt.prof_signal != PROF_SIGNAL_OFF;
}

void prof_ctor(void)
{
	prof_bt_ready();
	if (!prof_needs_thread())
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(signals[ebb_opt.prof_signal], &sa, NULL) == 0)
		purge_start();
}

void prof_at_exit(void)
{
	if (!ebb_prof_on || !ebb_opt.prof_final)
		return;
	in_prof = 1;
	char name[512];
	bool dumped = prof_dump_auto('f', lg_sample, name, sizeof(name)) == 0;
	if (ebb_opt.prof_leak) {
		uint64_t leaked = prof_leak_report(lg_sample, dumped ? name : NULL);
		if (leaked && ebb_opt.prof_leak_error) {
			ebb_msg("Exiting with error code because memory leaks were detected");
			_exit(1);
		}
	}
	in_prof = 0;
}

/* ---- public calls ---- */

EBB_EXPORT int ebb_prof_dump(const char *path)
{
	ebb_ensure_init();
	if (!ebb_prof_on) {
		ebb_msg("ebb_prof_dump(): profiling is off (set prof:true)");
		return -1;
	}
	in_prof = 1;
	char name[512];
	int r = path ? prof_dump_to(path, lg_sample) : prof_dump_auto('m', lg_sample, name, sizeof(name));
	in_prof = 0;
	if (r != 0)
		ebb_msg("ebb_prof_dump(): cannot write %s", path ? path : "the profile");
	return r;
}

EBB_EXPORT bool ebb_prof_active(bool on)
{
	ebb_ensure_init();
	bool was = __atomic_exchange_n(&active, on, __ATOMIC_RELAXED);
	return was;
}

EBB_EXPORT void ebb_prof_reset(unsigned lg)
{
	ebb_ensure_init();
	if (lg > 62)
		lg = 62;
	__atomic_store_n(&lg_sample, lg, __ATOMIC_RELAXED);
	prof_data_reset();
	/* A program that dlclose'd code resets before profiling what it
	 * loads next: no backtrace should follow the old code's rules. */
	prof_unwind_clear();
}

void prof_fork_prepare(void)
{
	ebb_lock(&link_lock);
	prof_data_fork_prepare();
}

void prof_fork_parent(void)
{
	prof_data_fork_parent();
	ebb_unlock(&link_lock);
}

void prof_fork_child(void)
{
	prof_data_fork_child();
	ebb_lock_reset(&link_lock);
	ebb_lock_reset(&trigger_lock);
}
