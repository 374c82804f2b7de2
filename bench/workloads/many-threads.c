/* Many threads churn inflate-like state (a 7 KiB struct, a 32 KiB window,
 * 1-64 KiB buffers) up to a per-thread working set, free everything and
 * stay alive; then they exit. With "cleaner", half of the frees are done by
 * one separate thread, as Java's Cleaner does. Every thread holds its
 * working set until all hold theirs, so the peak of live bytes is the same
 * whatever the allocator and the scheduler (otherwise a thread that
 * finishes before others start lowers it, and peak RSS compares runs with
 * different peaks of live bytes).
 * Usage: many_threads THREADS [cleaner] [working_set_mib] [rounds] */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "memprobe.h"

#define BUFS 4
#define RING 4096

#define PIECES (2 + BUFS)

/* a 7 KiB state, a 32 KiB window, BUFS buffers */
typedef struct {
	void *ptr[PIECES];
	size_t size[PIECES];
	size_t bytes;
} inflater_t;

typedef struct {
	void *p;
	size_t n;
} qitem_t;

static int nthreads, cleaner_mode, rounds;
static size_t working_set;
static atomic_long live, peak_live;
static pthread_barrier_t held, freed, go_exit;

/* the cleaner's queue */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static qitem_t *queue;
static size_t qhead, qtail, qcap;
static int qdone;

static void account(long delta)
{
	long now = atomic_fetch_add(&live, delta) + delta, p = atomic_load(&peak_live);
	while (now > p && !atomic_compare_exchange_weak(&peak_live, &p, now))
		;
}

/* Live bytes count until the block is really freed, by whichever thread. */
static void release(void *p, size_t n, int by_cleaner)
{
	if (!by_cleaner) {
		free(p);
		account(-(long)n);
		return;
	}
	pthread_mutex_lock(&qlock);
	while (qtail - qhead == qcap)
		pthread_cond_wait(&qcond, &qlock);
	queue[qtail++ % qcap] = (qitem_t){ p, n };
	pthread_cond_broadcast(&qcond);
	pthread_mutex_unlock(&qlock);
}

static void drop(inflater_t *f, uint64_t *seed)
{
	for (int i = 0; i < PIECES; i++) {
		*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
		release(f->ptr[i], f->size[i], cleaner_mode && ((*seed >> 33) & 1));
	}
}

static void *worker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 7919 + 1;
	inflater_t *ring = calloc(RING, sizeof(*ring));
	size_t head = 0, tail = 0, bytes = 0;
	for (int r = 0; r < rounds; r++) {
		inflater_t *f = &ring[tail++ % RING];
		f->size[0] = 7 * 1024 + 80;
		f->size[1] = 32 * 1024;
		for (int i = 0; i < BUFS; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			f->size[2 + i] = 1024 + (seed >> 33) % (63 * 1024);
		}
		f->bytes = 0;
		for (int i = 0; i < PIECES; i++) {
			f->ptr[i] = malloc(f->size[i]);
			memset(f->ptr[i], i + 1, f->size[i]);
			f->bytes += f->size[i];
		}
		bytes += f->bytes;
		account((long)f->bytes);
		while (bytes > working_set || tail - head == RING) {
			inflater_t *old = &ring[head++ % RING];
			bytes -= old->bytes;
			drop(old, &seed);
		}
	}
	pthread_barrier_wait(&held);
	while (head < tail)
		drop(&ring[head++ % RING], &seed);
	free(ring);
	pthread_barrier_wait(&freed);
	pthread_barrier_wait(&go_exit);
	return NULL;
}

static void *cleaner(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&qlock);
	for (;;) {
		while (qhead == qtail && !qdone)
			pthread_cond_wait(&qcond, &qlock);
		if (qhead == qtail && qdone)
			break;
		qitem_t it = queue[qhead++ % qcap];
		pthread_cond_broadcast(&qcond);
		pthread_mutex_unlock(&qlock);
		free(it.p);
		account(-(long)it.n);
		pthread_mutex_lock(&qlock);
	}
	pthread_mutex_unlock(&qlock);
	return NULL;
}

static double hwm_mib(void)
{
	char buf[4096];
	if (probe_read("/proc/self/status", buf, sizeof(buf)) <= 0)
		return 0;
	const char *p = strstr(buf, "VmHWM:");
	return p ? atof(p + 6) / 1024.0 : 0;
}

int main(int argc, char **argv)
{
	nthreads = argc > 1 ? atoi(argv[1]) : 16;
	cleaner_mode = argc > 2 && !strcmp(argv[2], "cleaner");
	working_set = (size_t)(argc > 3 ? atoi(argv[3]) : 8) << 20;
	rounds = argc > 4 ? atoi(argv[4]) : 600;
	qcap = 1 << 16;
	queue = calloc(qcap, sizeof(qitem_t));
	double base = rss_mib();
	pthread_t *t = calloc((size_t)nthreads, sizeof(pthread_t)), ct;
	pthread_barrier_init(&held, NULL, (unsigned)nthreads);
	pthread_barrier_init(&freed, NULL, (unsigned)nthreads + 1);
	pthread_barrier_init(&go_exit, NULL, (unsigned)nthreads + 1);
	if (cleaner_mode)
		pthread_create(&ct, NULL, cleaner, NULL);
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&freed);
	if (cleaner_mode) {
		pthread_mutex_lock(&qlock);
		qdone = 1;
		pthread_cond_broadcast(&qcond);
		pthread_mutex_unlock(&qlock);
		pthread_join(ct, NULL);
	}
	double t0 = now_s(), after = rss_mib(), vsz = vsz_mib();
	int bigmaps = big_anon_maps(60);
	sleep_until(t0, 2);
	double after2 = rss_mib(), vsz2 = vsz_mib();
	if (getenv("SCENARIO_STATS")) {
		void (*print)(bool) = (void (*)(bool))dlsym(RTLD_DEFAULT, "ebb_stats_print");
		if (print)
			print(false);
	}
	int bigmaps2 = big_anon_maps(60);
	double peak = hwm_mib();
	pthread_barrier_wait(&go_exit);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	double t1 = now_s(), exited = rss_mib();
	sleep_until(t1, 2);
	double exited2 = rss_mib();
	printf("threads=%d cleaner=%d peak_live_mib=%.1f baseline=%.1f peak=%.1f after_free=%.1f after_free_2s=%.1f "
	       "vsz_after_free=%.1f vsz_after_free_2s=%.1f maps_ge_60mib=%d maps_ge_60mib_2s=%d "
	       "after_exit=%.1f after_exit_2s=%.1f\n",
	       nthreads, cleaner_mode, (double)atomic_load(&peak_live) / 1048576.0, base, peak, after, after2, vsz,
	       vsz2, bigmaps, bigmaps2, exited, exited2);
	double pl = (double)atomic_load(&peak_live) / 1048576.0;
	printf("@metric peak_mib %.1f\n@metric after_free_2s_mib %.1f\n@metric kept_2s_pct %.2f\n"
	       "@metric vsz_after_free_2s_mib %.1f\n@metric maps_ge_60mib %d\n@metric after_exit_2s_mib %.1f\n"
	       "@metric peak_over_live %.2f\n",
	       peak, after2, 100.0 * (after2 - base) / peak, vsz2, bigmaps2, exited2, (peak - base) / pl);
	return 0;
}
