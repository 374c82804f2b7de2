/* The allocator with thread caches off (EBBMALLOC_CONF=tcache:false): every
 * small block goes straight to and from its slab, and the double-free check
 * relies on the slab bitmap alone. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ebbmalloc.h"
#include "init.h"
#include "pagemap.h"
#include "tcache.h"

static bool slot_free(void *p)
{
	span_t *s = pagemap_get(p);
	return s && s->kind == SPAN_SMALL && arena_slot_is_free(s, p);
}

static void test_no_cache(void **state)
{
	(void)state;
	for (unsigned c = 0; c < NCLASSES; c++)
		assert_int_equal(ebb_classes[c].tcache_cap, 0);
	for (size_t n = 0; n <= SMALL_MAX; n += n < 2048 ? 1 : 997) {
		char *p = ebb_malloc(n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_true(ebb_malloc_usable_size(p) >= n);
		memset(p, 0x5c, n);
		assert_false(slot_free(p));
		ebb_free(p);
		assert_true(slot_free(p));	/* back in the bitmap at once */
		assert_int_equal(tbin_count(&ebb_tc->bins[size_class(n)]), 0);
	}
	char *z = ebb_calloc(100, 10);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(z[i], 0);
	z = ebb_realloc(z, 50000);
	z = ebb_realloc(z, 10);
	ebb_free(z);
}

static void test_double_free(void **state)
{
	(void)state;
	void *p = ebb_malloc(40);
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(fd[1], 2);
		ebb_free(p);
		ebb_free(p);	/* caught by the bitmap: no free key is written */
		_exit(0);
	}
	close(fd[1]);
	char out[512] = "", addr[32];
	ssize_t n = read(fd[0], out, sizeof(out) - 1);
	close(fd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	assert_true(n > 0);
	snprintf(addr, sizeof(addr), "%p", p);
	assert_non_null(strstr(out, "double free"));
	const char *at = strstr(out, addr);
	assert_non_null(at);
	assert_false(isxdigit((unsigned char)at[strlen(addr)]));
	ebb_free(p);
}

/* Other threads' frees still reach the owner's slabs (through the freeing
 * thread's remote list, flushed when it exits). */
static void *free_all(void *arg)
{
	void **v = arg;
	for (int i = 0; i < 100; i++)
		ebb_free(v[i]);
	return NULL;
}

static void test_cross_thread(void **state)
{
	(void)state;
	void *v[100];
	for (int i = 0; i < 100; i++)
		v[i] = ebb_malloc(64);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_all, v), 0);
	pthread_join(t, NULL);
	for (int i = 0; i < 100; i++)
		assert_true(slot_free(v[i]));
}

static int setup(void **state)
{
	(void)state;
	ebb_init_slow();
	return 0;
}

#define CONF "tcache:false,narenas:2"

int main(int argc, char **argv)
{
	/* The library reads its options in a constructor, before main: run
	 * again with them in the environment. */
	(void)argc;
	const char *have = getenv("EBBMALLOC_CONF");
	if (!have || strcmp(have, CONF)) {
		setenv("EBBMALLOC_CONF", CONF, 1);
		execv("/proc/self/exe", argv);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_cache),
		cmocka_unit_test(test_double_free),
		cmocka_unit_test(test_cross_thread),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
