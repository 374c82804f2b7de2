/* Unit tests for src/os.c: CPU counting (cpu.max parsing and the cgroup
 * walk), mappings, naming, and the futex lock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "lock.h"
#include "os.h"

static void test_cpus_from(void **state)
{
	(void)state;
	assert_int_equal(os_cpus_from(8, NULL), 8);
	assert_int_equal(os_cpus_from(0, NULL), 1);
	assert_int_equal(os_cpus_from(8, "max 100000"), 8);
	assert_int_equal(os_cpus_from(8, "max 100000\n"), 8);
	assert_int_equal(os_cpus_from(8, "200000 100000"), 2);
	assert_int_equal(os_cpus_from(8, "200000 100000\n"), 2);
	assert_int_equal(os_cpus_from(8, "150000 100000"), 2);	/* rounds up */
	assert_int_equal(os_cpus_from(8, "50000 100000"), 1);
	assert_int_equal(os_cpus_from(8, "1000 100000"), 1);
	assert_int_equal(os_cpus_from(8, "0 100000"), 1);	/* never below 1 */
	assert_int_equal(os_cpus_from(8, "800001 100000"), 8);
	/* The quota only lowers the affinity count. */
	assert_int_equal(os_cpus_from(4, "1600000 100000"), 4);
	assert_int_equal(os_cpus_from(0, "300000 100000"), 1);
	/* Garbage and half-formed values leave the affinity count alone. */
	static const char *const bad[] = {
		"", "\n", "garbage", "100000", "200000 ", "200000 0", " 200000 100000",
		"200000  100000", "-200000 100000", "200000 -100000", "200000\t100000",
		"99999999999999999999 100000",	/* digits overflow */
		"max", "max max",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (os_cpus_from(6, bad[i]) != 6)
			fail_msg("\"%s\" gave %u", bad[i], os_cpus_from(6, bad[i]));
}

/* Regression (was a bug in src/os.c, os_cpus_from): quota + period - 1 wraps for a quota near
 * 2^64, so a huge quota (no real limit) yields 1 CPU. */
static void test_cpus_from_overflow(void **state)
{
	(void)state;
	assert_int_equal(os_cpus_from(6, "18446744073709551600 100000"), 6);
}

static unsigned affinity(void)
{
	cpu_set_t set;
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	return (unsigned)CPU_COUNT(&set);
}

/* A fake cgroup v2 tree: root + our path from /proc/self/cgroup. */
static char cg_root[64], cg_leaf[1024];

static void put_file(const char *dir, const char *text)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/cpu.max", dir);
	if (!text) {
		unlink(path);
		return;
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int cg_setup(void **state)
{
	(void)state;
	char buf[900], rel[900] = "";
	FILE *f = fopen("/proc/self/cgroup", "r");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "0::", 3)) {
			buf[strcspn(buf, "\n")] = '\0';
			memcpy(rel, buf + 3, strlen(buf + 3) + 1);
		}
	fclose(f);
	if (!*rel)
		return 0;
	strcpy(cg_root, "/tmp/ebbtest-cg-XXXXXX");
	if (!mkdtemp(cg_root))
		return -1;
	snprintf(cg_leaf, sizeof(cg_leaf), "%s%s", cg_root, rel);
	/* mkdir -p of every component below the root */
	for (char *s = cg_leaf + strlen(cg_root) + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(cg_leaf, 0755);
			*s = '/';
		}
	mkdir(cg_leaf, 0755);
	return 0;
}

static int cg_teardown(void **state)
{
	(void)state;
	if (*cg_root) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cg_root);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static void test_usable_cpus(void **state)
{
	(void)state;
	unsigned aff = affinity();
	if (!*cg_root)
		skip();	/* no cgroup v2 line in /proc/self/cgroup */
	assert_int_equal(os_usable_cpus(NULL), aff);
	assert_int_equal(os_usable_cpus(""), aff);
	assert_int_equal(os_usable_cpus("/nonexistent/ebbtest"), aff);
	assert_int_equal(os_usable_cpus(cg_root), aff);	/* no cpu.max yet */

	put_file(cg_leaf, "max 100000\n");
	assert_int_equal(os_usable_cpus(cg_root), aff);
	put_file(cg_leaf, "100000 100000\n");
	assert_int_equal(os_usable_cpus(cg_root), 1);
	/* A quota above the affinity count changes nothing: min(affinity, quota). */
	char q[64];
	snprintf(q, sizeof(q), "%u 100000\n", (aff + 3) * 100000);
	put_file(cg_leaf, q);
	assert_int_equal(os_usable_cpus(cg_root), aff);
	unsigned want = aff > 1 ? aff - 1 : 1;
	snprintf(q, sizeof(q), "%u 100000\n", want * 100000 - 50000);	/* rounds up */
	put_file(cg_leaf, q);
	assert_int_equal(os_usable_cpus(cg_root), want);
	put_file(cg_leaf, NULL);

	/* The root's own cpu.max counts, and every level is read: the smallest
	 * quota on the path wins whichever end it is at. */
	put_file(cg_root, "100000 100000\n");
	assert_int_equal(os_usable_cpus(cg_root), 1);
	if (strcmp(cg_root, cg_leaf) && strlen(cg_leaf) > strlen(cg_root) + 1) {
		put_file(cg_leaf, "max 100000\n");
		assert_int_equal(os_usable_cpus(cg_root), 1);
		put_file(cg_root, "max 100000\n");
		put_file(cg_leaf, "100000 100000\n");
		assert_int_equal(os_usable_cpus(cg_root), 1);
		put_file(cg_leaf, NULL);
	}
	put_file(cg_root, NULL);
	/* A root given with a trailing slash works the same. */
	char slash[80];
	snprintf(slash, sizeof(slash), "%s/", cg_root);
	put_file(cg_leaf, "100000 100000\n");
	assert_int_equal(os_usable_cpus(slash), 1);
	put_file(cg_leaf, NULL);
}

static void test_map_align(void **state)
{
	(void)state;
	static const size_t aligns[] = { 4096, 8192, 65536, (size_t)1 << 20, (size_t)2 << 20, (size_t)4 << 20 };
	for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		for (size_t size = 4096; size <= ((size_t)8 << 20); size *= 8) {
			unsigned char *p = os_map(size, aligns[i], OS_NAME_HEAP);
			assert_non_null(p);
			assert_int_equal((uintptr_t)p % aligns[i], 0);
			assert_int_equal(p[0] | p[size - 1], 0);	/* fresh and zero */
			p[0] = p[size - 1] = 1;
			os_unmap(p, size);
			/* Nothing is left mapped where the block was. */
			errno = 0;
			assert_int_equal(msync(p, size, MS_ASYNC), -1);
			assert_int_equal(errno, ENOMEM);
		}
	}
}

static void test_map_fail(void **state)
{
	(void)state;
	errno = 0;
	assert_null(os_map(SIZE_MAX - 4095, (size_t)2 << 20, NULL));	/* size + align wraps */
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(os_map((size_t)1 << 62, PAGE_SIZE, NULL));
	assert_int_equal(errno, ENOMEM);
}

static void test_resize_move_purge(void **state)
{
	(void)state;
	size_t pg = PAGE_SIZE;
	unsigned char *a = os_map(4 * pg, pg, NULL);
	assert_non_null(a);
	memset(a, 0x5a, 4 * pg);
	errno = 1234;
	assert_true(os_resize(a, 4 * pg, 2 * pg));	/* shrinking always works */
	assert_int_equal(errno, 1234);
	assert_int_equal(msync(a + 2 * pg, pg, MS_ASYNC), -1);
	/* Moving keeps the data, drops the source and keeps the target's tail. */
	unsigned char *b = os_map(8 * pg, pg, NULL);
	assert_non_null(b);
	b[7 * pg] = 7;
	assert_true(os_move(a, 2 * pg, b));
	assert_int_equal(b[0], 0x5a);
	assert_int_equal(b[2 * pg - 1], 0x5a);
	assert_int_equal(b[2 * pg], 0);
	assert_int_equal(b[7 * pg], 7);
	assert_int_equal(msync(a, pg, MS_ASYNC), -1);
	/* Purged pages read back as zero and stay mapped. */
	os_purge(b, 8 * pg, false);
	assert_int_equal(b[0] | b[7 * pg], 0);
	b[0] = 1;
	errno = 1234;
	os_unmap(b, 8 * pg);
	assert_int_equal(errno, 1234);

	void *s = os_map_sparse((size_t)1 << 30);
	assert_non_null(s);
	((char *)s)[(size_t)1 << 29] = 1;
	os_unmap(s, (size_t)1 << 30);
}

/* True when /proc/self/maps shows addr in a mapping named [anon:name]. */
static bool maps_name(void *addr, const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], want[64];
	bool found = false;
	snprintf(want, sizeof(want), "[anon:%s]", name);
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo && (uintptr_t)addr < hi)
			found = strstr(line, want) != NULL;
	}
	fclose(f);
	return found;
}

static void test_name(void **state)
{
	(void)state;
	size_t size = 4 * PAGE_SIZE;
	void *probe = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(probe != MAP_FAILED);
	bool supported = prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)probe, size,
			       (unsigned long)"ebbtest") == 0;
	munmap(probe, size);

	void *p = os_map(size, PAGE_SIZE, OS_NAME_HUGE);
	assert_non_null(p);
	errno = 4321;
	os_name(p, size, OS_NAME_META);	/* must not fail, supported or not */
	assert_int_equal(errno, 4321);
	if (supported)
		assert_true(maps_name(p, OS_NAME_META));
	/* Bad arguments (unaligned, unmapped): no crash, errno kept. */
	os_name((char *)p + 1, 10, OS_NAME_META);
	os_name(NULL, PAGE_SIZE, OS_NAME_META);
	assert_int_equal(errno, 4321);
	os_unmap(p, size);
}

static void test_misc(void **state)
{
	(void)state;
	assert_int_equal(os_page_size(), (size_t)sysconf(_SC_PAGESIZE));
	uint64_t t0 = os_now_ns(), t1 = os_now_ns();
	assert_true(t0 > 0 && t1 >= t0);
	/* Distinct values with both halves varying. */
	uint64_t v[256], or_all = 0, and_all = ~(uint64_t)0;
	for (int i = 0; i < 256; i++) {
		v[i] = os_random();
		or_all |= v[i];
		and_all &= v[i];
		for (int j = 0; j < i; j++)
			assert_true(v[i] != v[j]);
	}
	assert_true(or_all == ~(uint64_t)0 && and_all == 0);
}

/* The futex lock: concurrent increments under it are never lost. */
static ebb_lock_t lk = EBB_LOCK_INIT;
static volatile unsigned long counter;
#define ITERS 200000

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		ebb_lock(&lk);
		counter = counter + 1;
		if (i % 1000 == 0)
			sched_yield();	/* force waiters onto the futex */
		ebb_unlock(&lk);
	}
	return NULL;
}

static void test_lock(void **state)
{
	(void)state;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(counter, 4UL * ITERS);
	assert_int_equal(lk.state, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpus_from),
		cmocka_unit_test(test_cpus_from_overflow),
		cmocka_unit_test(test_usable_cpus),
		cmocka_unit_test(test_map_align),
		cmocka_unit_test(test_map_fail),
		cmocka_unit_test(test_resize_move_purge),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_misc),
		cmocka_unit_test(test_lock),
	};
	return cmocka_run_group_tests(tests, cg_setup, cg_teardown);
}
