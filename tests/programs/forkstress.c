/* fork() while other threads allocate.
 *
 *   forkstress [FORKS [CHURN_THREADS]]        (defaults: 200 4)
 *
 * CHURN_THREADS threads malloc, realloc and free continuously, handing
 * blocks to each other through a shared array of slots. Meanwhile the main
 * thread forks FORKS times, one child at a time. Each child (under alarm(10),
 * so a deadlock kills it) checks and frees the blocks it inherited in the
 * slots (made by threads that do not exist in the child), mallocs and frees
 * a lot, does the same from a thread it creates and joins, every tenth child
 * also forks a grandchild that allocates, and then calls _exit(0). The
 * parent waits for each child with a timeout and requires exit status 0.
 *
 * With ebbmalloc (found through dlsym, so the program also runs without it)
 * a child also checks ebb_thread_count() is 1 once its thread is joined.
 * Prints one summary line and exits 0, or prints "forkstress: FAIL ..." and
 * exits 1.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSLOTS 1024
#define CHILD_TIMEOUT_S 20	/* parent side; the child's alarm is 10 s */

static uint64_t slots[NSLOTS];	/* pointer >> 4 << 21 | size */
static int stop;

static inline uint64_t next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Only async-signal-safe calls after fork: write(), _exit(). */
static void child_fail(const char *what, const void *p)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "forkstress: FAIL child %d: %s %p\n", (int)getpid(), what, p);
	if (n > 0)
		(void)!write(2, buf, (size_t)n);
	_exit(1);
}

static size_t rand_size(uint64_t *r)
{
	unsigned k = (unsigned)(next(r) % 100);
	if (k < 70)
		return next(r) % 256;
	if (k < 95)
		return 256 + next(r) % 8192;
	if (k < 99)
		return 8192 + next(r) % (300 << 10);
	return (1 << 20) + next(r) % (1 << 20);	/* huge */
}

static void fill(unsigned char *p, size_t n)
{
	uint64_t w = mix64((uintptr_t)p ^ n);
	size_t i = 0;
	for (; i + 16 <= n && i < 4096; i += 8)
		memcpy(p + i, &w, 8), w++;
	if (n >= 8)
		memcpy(p + n - 8, &w, 8);
}

static int check(const unsigned char *p, size_t n)
{
	uint64_t w = mix64((uintptr_t)p ^ n), v;
	size_t i = 0;
	for (; i + 16 <= n && i < 4096; i += 8, w++) {
		memcpy(&v, p + i, 8);
		if (v != w)
			return 0;
	}
	if (n >= 8) {
		memcpy(&v, p + n - 8, 8);
		if (v != w)
			return 0;
	}
	return 1;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		child_fail("malloc failed", NULL);
	return p;
}

static void release(uint64_t v, int in_child)
{
	unsigned char *p = (unsigned char *)(uintptr_t)((v >> 21) << 4);
	size_t n = v & ((1u << 21) - 1);
	if (!check(p, n)) {
		if (in_child)
			child_fail("corrupted block", p);
		fprintf(stderr, "forkstress: FAIL corrupted block %p (%zu bytes)\n", (void *)p, n);
		exit(1);
	}
	free(p);
}

/* malloc/realloc/free work with blocks kept in a local array. */
static void local_work(uint64_t seed, unsigned ops)
{
	void *blk[64] = { 0 };
	size_t sz[64] = { 0 };
	uint64_t r = seed | 1;
	for (unsigned i = 0; i < ops; i++) {
		unsigned j = (unsigned)(next(&r) % 64);
		if (blk[j]) {
			if (!check(blk[j], sz[j]))
				child_fail("corrupted local block", blk[j]);
			if (next(&r) % 4 == 0) {
				size_t n = rand_size(&r) + 1;
				void *q = realloc(blk[j], n);
				if (!q)
					child_fail("realloc failed", blk[j]);
				blk[j] = q;
				sz[j] = n;
				fill(q, n);
				continue;
			}
			free(blk[j]);
			blk[j] = NULL;
		} else {
			sz[j] = rand_size(&r);
			blk[j] = xmalloc(sz[j]);
			fill(blk[j], sz[j]);
		}
	}
	for (unsigned j = 0; j < 64; j++)
		if (blk[j]) {
			if (!check(blk[j], sz[j]))
				child_fail("corrupted local block", blk[j]);
			free(blk[j]);
		}
}

static void *churn(void *arg)
{
	uint64_t r = (uintptr_t)arg * 0x9E3779B97F4A7C15ULL + 7;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		size_t n = rand_size(&r);
		unsigned char *p = malloc(n);
		if (!p) {
			fprintf(stderr, "forkstress: FAIL malloc(%zu) in a churn thread\n", n);
			exit(1);
		}
		fill(p, n);
		uint64_t v = ((uint64_t)((uintptr_t)p >> 4) << 21) | n;
		uint64_t old = __atomic_exchange_n(&slots[next(&r) % NSLOTS], v, __ATOMIC_ACQ_REL);
		if (old)
			release(old, 0);
		if (next(&r) % 8 == 0) {
			old = __atomic_exchange_n(&slots[next(&r) % NSLOTS], 0, __ATOMIC_ACQ_REL);
			if (old)
				release(old, 0);
		}
	}
	return NULL;
}

static void *child_thread(void *arg)
{
	local_work((uintptr_t)arg, 5000);
	return NULL;
}

static unsigned (*thread_count)(void);

static void child(unsigned index)
{
	alarm(10);
	/* Blocks made by threads that did not follow us through fork(). */
	for (unsigned i = 0; i < NSLOTS; i++) {
		uint64_t v = __atomic_exchange_n(&slots[i], 0, __ATOMIC_ACQ_REL);
		if (v)
			release(v, 1);
	}
	local_work(index * 31 + 1, 20000);
	pthread_t t;
	if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(index + 1000)) != 0)
		child_fail("pthread_create failed", NULL);
	local_work(index * 17 + 3, 5000);
	if (pthread_join(t, NULL) != 0)
		child_fail("pthread_join failed", NULL);
	if (thread_count && thread_count() != 1) {
		char buf[96];
		int n = snprintf(buf, sizeof(buf), "forkstress: FAIL child: ebb_thread_count() = %u, not 1\n",
				 thread_count());
		(void)!write(2, buf, (size_t)n);
		_exit(3);
	}
	if (index % 10 == 0) {
		pid_t g = fork();
		if (g < 0)
			child_fail("fork of a grandchild failed", NULL);
		if (g == 0) {
			alarm(10);
			local_work(index + 5, 5000);
			_exit(0);
		}
		int st;
		if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			child_fail("grandchild failed", NULL);
	}
	_exit(0);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned forks = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200;
	unsigned nchurn = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 4;
	if (nchurn > 64) {
		fprintf(stderr, "usage: forkstress [FORKS [CHURN_THREADS<=64]]\n");
		return 2;
	}
	thread_count = (unsigned (*)(void))dlsym(RTLD_DEFAULT, "ebb_thread_count");
	pthread_t th[64];
	for (unsigned i = 0; i < nchurn; i++)
		if (pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1)) != 0) {
			fprintf(stderr, "forkstress: FAIL pthread_create\n");
			return 1;
		}
	unsigned failures = 0;
	for (unsigned i = 0; i < forks; i++) {
		local_work(i, 200);	/* the forking thread allocates too */
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "forkstress: FAIL fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0)
			child(i);
		double deadline = now() + CHILD_TIMEOUT_S;
		int st = 0;
		pid_t w;
		while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now() < deadline) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
		if (w == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fprintf(stderr, "forkstress: FAIL child %u (pid %d) hung for %d s; killed\n", i, (int)pid,
				CHILD_TIMEOUT_S);
			failures++;
		} else if (w < 0) {
			fprintf(stderr, "forkstress: FAIL waitpid: %s\n", strerror(errno));
			return 1;
		} else if (WIFSIGNALED(st)) {
			fprintf(stderr, "forkstress: FAIL child %u (pid %d) killed by signal %d%s\n", i, (int)pid,
				WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (SIGALRM: it hung)" : "");
			failures++;
		} else if (WEXITSTATUS(st) != 0) {
			fprintf(stderr, "forkstress: FAIL child %u (pid %d) exited %d\n", i, (int)pid,
				WEXITSTATUS(st));
			failures++;
		}
		if (failures >= 5)
			break;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < nchurn; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < NSLOTS; i++)
		if (slots[i])
			release(slots[i], 0);
	if (failures) {
		fprintf(stderr, "forkstress: FAIL %u of the children failed\n", failures);
		return 1;
	}
	printf("forkstress: ok: %u forks with %u threads allocating%s\n", forks, nchurn,
	       thread_count ? " (ebbmalloc)" : "");
	return 0;
}
