/* Unit tests for misuse and exhaustion through the ebb_* API: bad frees must
 * abort with one message naming the address; use after free must not
 * corrupt the allocator; a refused mmap must give NULL and ENOMEM. Each case
 * runs in a fork()ed child. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "child.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ebbmalloc.h"

#define MIB ((size_t)1 << 20)


/* The child died of SIGABRT after one message line naming p and word. */
static void assert_abort_names(int st, const void *p, const char *word)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "%p", p);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
		fail_msg("child did not abort (status %#x), said: %s", st, child_err);
	if (strncmp(child_err, "<ebbmalloc>: ", 13) || strchr(child_err, '\n') != child_err + strlen(child_err) - 1)
		fail_msg("not one <ebbmalloc> line: %s", child_err);
	const char *at = strstr(child_err, addr);
	if (!at || isxdigit((unsigned char)at[strlen(addr)]))
		fail_msg("no %s in: %s", addr, child_err);
	if (!strstr(child_err, word))
		fail_msg("no \"%s\" in: %s", word, child_err);
}

static void assert_clean_exit(int st)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("child status %#x, said: %s", st, child_err);
}

/* ---- bad frees: each child frees bad_ptr after the setup named by arg ---- */

static void *bad_ptr;
static char global_buf[64];

static void do_free(void *arg)
{
	(void)arg;
	ebb_free(bad_ptr);
}

static void do_realloc(void *arg)
{
	(void)arg;
	ebb_realloc(bad_ptr, 10);
}

static void do_usable(void *arg)
{
	(void)arg;
	ebb_malloc_usable_size(bad_ptr);
}

static void free_twice(void *p)
{
	bad_ptr = p;
	ebb_free(p);
	int st = in_child(do_free, NULL);
	assert_abort_names(st, p, "double free");
}

static void test_double_free(void **state)
{
	(void)state;
	free_twice(ebb_malloc(32));
	free_twice(ebb_malloc(100 * 1024));
	free_twice(ebb_malloc(8 * MIB));
	free_twice(ebb_malloc(32768));	/* largest class, cap 4 */
	/* Back in the slab bitmap (the thread cache flushed) is caught too. */
	void *p = ebb_malloc(200);
	ebb_free(p);
	ebb_malloc_trim(0);
	bad_ptr = p;
	assert_abort_names(in_child(do_free, NULL), p, "double free");
}

static void test_interior(void **state)
{
	(void)state;
	char *s = ebb_malloc(64), *l = ebb_malloc(100000), *h = ebb_malloc(8 * MIB);
	static const size_t offs[] = { 1, 8, 16, 4096 };
	for (size_t i = 0; i < 4; i++) {
		if (offs[i] < 64) {
			bad_ptr = s + offs[i];
			assert_abort_names(in_child(do_free, NULL), bad_ptr, "free");
		}
		bad_ptr = l + offs[i];
		assert_abort_names(in_child(do_free, NULL), bad_ptr, "free");
		bad_ptr = h + offs[i];
		assert_abort_names(in_child(do_free, NULL), bad_ptr, "free");
	}
	/* The block itself is untouched by the failed attempts. */
	ebb_free(s);
	ebb_free(l);
	ebb_free(h);
}

static void test_foreign(void **state)
{
	(void)state;
	char local[64];
	void *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	void *live = ebb_malloc(48);
	void *const bad[] = {
		local, global_buf, m, (char *)m + 4096,
		/* Above 2^47 the page map aliases the live block: must not free it. */
		(void *)((uintptr_t)live | ((uintptr_t)1 << 47)),
		(void *)0x10, (void *)(uintptr_t)0xffffffffff600000,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bad_ptr = bad[i];
		assert_abort_names(in_child(do_free, NULL), bad[i], "free");
		assert_abort_names(in_child(do_realloc, NULL), bad[i], "realloc");
		assert_abort_names(in_child(do_usable, NULL), bad[i], "malloc_usable_size");
	}
	ebb_free(live);
	munmap(m, 3 * 4096);
}

/* ---- use after free ---- */

static void uaf_child(void *arg)
{
	size_t size = (size_t)(uintptr_t)arg;
	enum { LIVE = 500 };
	static unsigned char *live[LIVE];
	unsigned char *p = ebb_malloc(size);
	ebb_free(p);
	memset(p, 0xff, size);	/* in the thread cache */
	unsigned char *q = ebb_malloc(size);
	ebb_free(q);
	ebb_malloc_trim(0);
	memset(q, 0x00, size);	/* back in its slab */
	/* Churn: every block handed out must be unique and keep its tag. */
	unsigned x = 12345;
	for (int i = 0; i < 200000; i++) {
		x = x * 1103515245 + 12345;
		unsigned k = (x >> 8) % LIVE;
		if (live[k]) {
			if (live[k][0] != (unsigned char)k || live[k][size - 1] != (unsigned char)k)
				_exit(2);
			ebb_free(live[k]);
			live[k] = NULL;
		} else {
			live[k] = ebb_malloc(size);
			if (!live[k])
				_exit(3);
			live[k][0] = live[k][size - 1] = (unsigned char)k;
		}
		if (i % 1000 == 0) {
			/* Keep scribbling on the stale pointer while it is free. */
			bool reused = false;
			for (unsigned j = 0; j < LIVE; j++)
				reused |= live[j] == p;
			if (!reused)
				memset(p, 0xa5, size);
			if (i % 50000 == 0)
				ebb_malloc_trim(0);
		}
	}
	_exit(0);
}

static void test_use_after_free(void **state)
{
	(void)state;
	static const size_t sizes[] = { 16, 64, 1000, 30000 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		assert_clean_exit(in_child(uaf_child, (void *)(uintptr_t)sizes[i]));
}

/* ---- out of memory: the address space is capped in the child ---- */

static size_t vm_size(void)
{
	char buf[128] = "";
	int fd = open("/proc/self/statm", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	return n > 0 ? (size_t)strtoull(buf, NULL, 10) * 4096 : 0;
}

#define CHECK(cond, code)          \
	do {                       \
		if (!(cond))       \
			_exit(code); \
	} while (0)

static void oom_child(void *arg)
{
	(void)arg;
	char *keep = ebb_malloc(100);
	memset(keep, 7, 100);
	size_t cap = vm_size() + 64 * MIB;
	struct rlimit rl = { cap, cap };
	CHECK(vm_size() && setrlimit(RLIMIT_AS, &rl) == 0, 20);
	errno = 0;
	CHECK(!ebb_malloc(1024 * MIB) && errno == ENOMEM, 21);
	errno = 0;
	CHECK(!ebb_calloc(1024, MIB) && errno == ENOMEM, 22);
	errno = 0;
	CHECK(!ebb_aligned_alloc(MIB, 512 * MIB) && errno == ENOMEM, 23);
	void *p = (void *)1;
	CHECK(ebb_posix_memalign(&p, 64, 1024 * MIB) == ENOMEM && p == (void *)1, 24);
	errno = 0;
	CHECK(!ebb_realloc(keep, 512 * MIB) && errno == ENOMEM, 25);
	CHECK(keep[0] == 7 && keep[99] == 7, 26);
	/* Small blocks (then large ones) until the heap cannot grow. */
	static const size_t sizes[] = { 1000, 200000 };
	for (int k = 0; k < 2; k++) {
		void *head = NULL;
		size_t n = 0;
		for (;;) {
			errno = 0;
			void **b = ebb_malloc(sizes[k]);
			if (!b)
				break;
			*b = head;
			head = b;
			CHECK(++n < 10000000, 27);
		}
		CHECK(errno == ENOMEM, 28);
		CHECK(n * sizes[k] > 4 * MIB, 29);	/* it did use the room there was */
		while (head) {
			void *next = *(void **)head;
			ebb_free(head);
			head = next;
		}
		/* Everything freed: allocating works again. */
		void *again = ebb_malloc(sizes[k]);
		CHECK(again != NULL, 30);
		ebb_free(again);
	}
	ebb_free(keep);
	_exit(0);
}

static void test_out_of_memory(void **state)
{
	(void)state;
	assert_clean_exit(in_child(oom_child, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_double_free),
		cmocka_unit_test(test_interior),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_use_after_free),
		cmocka_unit_test(test_out_of_memory),
	};
	ebb_free(ebb_malloc(1));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
