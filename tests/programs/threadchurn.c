/* Thread churn: many short-lived threads.
 *
 *   threadchurn [THREADS [BATCH]]        (defaults: 10000 8)
 *
 * Threads are created BATCH at a time and joined. Each one allocates and
 * frees some blocks and leaves some for the main thread to free; the kinds
 * rotate: small-block churn, large and huge blocks, a thread that only frees
 * blocks the main thread made (it never allocates), and calloc/realloc.
 * Every block carries a pattern checked before it is freed.
 *
 * At the end, with ebbmalloc present (looked up with dlsym, so the program
 * also runs without it): ebb_thread_count() must be at most 2 and
 * ebb_arena_count() at most the number of CPUs this process may run on.
 * In every case the resident set (/proc/self/statm) must stay under
 * 200 MiB. Prints one summary line and exits 0, or "threadchurn: FAIL ..."
 * and exits 1.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP 4			/* blocks each thread leaves behind */
#define GIVE 8			/* blocks handed to a free-only thread */
#define RSS_LIMIT_MIB 200

typedef struct {
	pthread_t tid;
	unsigned index;
	void *keep[KEEP];	/* left for the main thread */
	size_t keep_size[KEEP];
	void *give[GIVE];	/* made by the main thread, freed by this one */
	size_t give_size[GIVE];
	int failed;
} job_t;

static inline unsigned char pat_at(uintptr_t a, size_t n, size_t i)
{
	return (unsigned char)((a >> 4) ^ (n * 7) ^ (i * 13));
}

static inline unsigned char pat(const void *p, size_t n, size_t i)
{
	return pat_at((uintptr_t)p, n, i);
}

static void fill(void *p, size_t n)
{
	unsigned char *c = p;
	size_t lim = n < 2048 ? n : 2048;
	for (size_t i = 0; i < lim; i++)
		c[i] = pat(p, n, i);
	if (n)
		c[n - 1] = pat(p, n, n - 1);
}

static int ok(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t lim = n < 2048 ? n : 2048;
	for (size_t i = 0; i < lim; i++)
		if (c[i] != pat(p, n, i))
			return 0;
	return n == 0 || c[n - 1] == pat(p, n, n - 1);
}

static void *job_alloc(job_t *j, size_t n)
{
	void *p = malloc(n);
	if (!p) {
		j->failed = 1;
		return NULL;
	}
	fill(p, n);
	return p;
}

static void job_free(job_t *j, void *p, size_t n)
{
	if (!p)
		return;
	if (!ok(p, n))
		j->failed = 2;
	free(p);
}

static void *run(void *arg)
{
	job_t *j = arg;
	unsigned seed = j->index * 2654435761u + 1;
	switch (j->index % 4) {
	case 0: {	/* small-block churn */
		void *b[64];
		size_t s[64];
		for (int round = 0; round < 4; round++) {
			for (int i = 0; i < 64; i++) {
				seed = seed * 1103515245u + 12345u;
				s[i] = 16 + (seed >> 8) % 4096;
				b[i] = job_alloc(j, s[i]);
			}
			for (int i = 0; i < 64; i++)
				job_free(j, b[i], s[i]);
		}
		break;
	}
	case 1: {	/* large and huge blocks */
		size_t sizes[] = { 40 << 10, 200 << 10, 900 << 10, (2 << 20) + 100 };
		for (int i = 0; i < 4; i++) {
			void *p = job_alloc(j, sizes[i]);
			job_free(j, p, sizes[i]);
		}
		break;
	}
	case 2:	/* frees the main thread's blocks, never allocates */
		for (int i = 0; i < GIVE; i++) {
			job_free(j, j->give[i], j->give_size[i]);
			j->give[i] = NULL;
		}
		return NULL;	/* and leaves nothing */
	case 3: {	/* calloc and realloc */
		size_t n = 24;
		unsigned char *p = calloc(n, 1);
		if (!p) {
			j->failed = 1;
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (p[i])
				j->failed = 3;
		fill(p, n);
		for (int i = 0; i < 12; i++) {
			size_t m = n * 3;
			uintptr_t old = (uintptr_t)p;
			unsigned char *q = realloc(p, m);
			if (!q) {
				j->failed = 1;
				break;
			}
			/* The prefix keeps the pattern made for the old address. */
			for (size_t k = 0; k < n && k < 2048; k++)
				if (q[k] != pat_at(old, n, k))
					j->failed = 2;
			if (q[n - 1] != pat_at(old, n, n - 1))
				j->failed = 2;
			p = q;
			n = m;
			fill(p, n);
		}
		job_free(j, p, n);
		break;
	}
	}
	for (int i = 0; i < KEEP; i++) {
		seed = seed * 1103515245u + 12345u;
		j->keep_size[i] = (seed >> 4) % (i == KEEP - 1 ? 100000 : 600);
		j->keep[i] = job_alloc(j, j->keep_size[i]);
	}
	return NULL;
}

static long rss_mib(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

int main(int argc, char **argv)
{
	unsigned total = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10000;
	unsigned batch = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 8;
	if (batch < 1 || batch > 256) {
		fprintf(stderr, "usage: threadchurn [THREADS [BATCH<=256]]\n");
		return 2;
	}
	unsigned (*thread_count)(void) = (unsigned (*)(void))dlsym(RTLD_DEFAULT, "ebb_thread_count");
	unsigned (*arena_count)(void) = (unsigned (*)(void))dlsym(RTLD_DEFAULT, "ebb_arena_count");
	job_t *jobs = calloc(batch, sizeof(job_t));
	if (!jobs) {
		fprintf(stderr, "threadchurn: FAIL calloc\n");
		return 1;
	}
	unsigned done = 0, failures = 0, max_threads = 0;
	long max_rss = 0;
	while (done < total) {
		unsigned n = total - done < batch ? total - done : batch;
		for (unsigned i = 0; i < n; i++) {
			job_t *j = &jobs[i];
			memset(j, 0, sizeof(*j));
			j->index = done + i;
			if (j->index % 4 == 2)
				for (int k = 0; k < GIVE; k++) {
					j->give_size[k] = 8 + (size_t)k * 300;
					j->give[k] = malloc(j->give_size[k]);
					if (!j->give[k]) {
						fprintf(stderr, "threadchurn: FAIL malloc\n");
						return 1;
					}
					fill(j->give[k], j->give_size[k]);
				}
			int e = pthread_create(&j->tid, NULL, run, j);
			if (e) {
				fprintf(stderr, "threadchurn: FAIL pthread_create: %s\n", strerror(e));
				return 1;
			}
		}
		if (thread_count && thread_count() > max_threads)
			max_threads = thread_count();
		for (unsigned i = 0; i < n; i++) {
			job_t *j = &jobs[i];
			pthread_join(j->tid, NULL);
			if (j->failed) {
				if (failures < 10)
					fprintf(stderr, "threadchurn: FAIL thread %u: %s\n", j->index,
						j->failed == 1   ? "allocation failed"
						: j->failed == 2 ? "corrupted block"
								 : "calloc block not zero");
				failures++;
			}
			for (int k = 0; k < KEEP; k++)
				if (j->keep[k]) {
					if (!ok(j->keep[k], j->keep_size[k])) {
						if (failures < 10)
							fprintf(stderr,
								"threadchurn: FAIL block %p left by thread %u corrupted\n",
								j->keep[k], j->index);
						failures++;
					}
					free(j->keep[k]);
				}
		}
		done += n;
		if (done % 1000 < batch) {
			long r = rss_mib();
			if (r > max_rss)
				max_rss = r;
		}
	}
	free(jobs);
	long rss = rss_mib();
	if (rss > max_rss)
		max_rss = rss;
	cpu_set_t set;
	unsigned cpus = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		cpus = (unsigned)CPU_COUNT(&set);
	if (cpus == 0)
		cpus = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);

	char ebb[160] = "ebbmalloc absent";
	if (thread_count && arena_count) {
		unsigned t = thread_count(), a = arena_count();
		snprintf(ebb, sizeof(ebb), "ebb_thread_count %u (max %u seen), ebb_arena_count %u (cpus %u)", t,
			 max_threads, a, cpus);
		if (t > 2) {
			fprintf(stderr, "threadchurn: FAIL ebb_thread_count() = %u after every thread was joined\n",
				t);
			failures++;
		}
		if (a > cpus) {
			fprintf(stderr, "threadchurn: FAIL ebb_arena_count() = %u > %u cpus\n", a, cpus);
			failures++;
		}
	}
	if (max_rss < 0 || max_rss >= RSS_LIMIT_MIB) {
		fprintf(stderr, "threadchurn: FAIL resident set reached %ld MiB (limit %d)\n", max_rss,
			RSS_LIMIT_MIB);
		failures++;
	}
	if (failures) {
		fprintf(stderr, "threadchurn: FAIL %u problem(s)\n", failures);
		return 1;
	}
	printf("threadchurn: ok: %u threads in batches of %u, max RSS %ld MiB, %s\n", total, batch, max_rss,
	       ebb);
	return 0;
}
