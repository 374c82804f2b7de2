/* Heap-profiling test program (tests/e2e/test_prof_*.sh).
 *
 *   prof_leak          leak_test(): 4096 x malloc(1024), never freed
 *   prof_leak free     the same blocks, all freed again (no leak; no stdio,
 *                      so not even a stdio buffer stays allocated)
 *   prof_leak accum    accum_test(): 1000 x malloc(100) + free (prof_accum)
 *   prof_leak wait     leak_test(), print "ready", then wait for signals
 *                      until SIGTERM (SIGUSR2 and gdb dumps)
 *   prof_leak forkwait fork; the child does what "wait" does, printing
 *                      "ready PID"; the parent waits for it
 *   prof_leak realloc  realloc_test(): large blocks grown and shrunk in place,
 *                      a huge one grown; prints their usable bytes
 *   prof_leak active   before_active(): 100 x malloc(1000) while sampling is
 *                      off (prof_active:false), then ebb_prof_active(true)
 *                      (found with dlsym) and leak_test()
 *
 * The e2e test also builds it with -O1 (the classic jemalloc leak example). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCKS 4096
#define BLOCK_SIZE 1024

/* volatile: every pointer is stored, so no call is optimised away. */
void *volatile sink;
static void *blocks[BLOCKS];

__attribute__((noinline)) void leak_test(void)
{
	for (int i = 0; i < BLOCKS; i++)
		sink = malloc(BLOCK_SIZE);
}

__attribute__((noinline)) void alloc_all(void)
{
	for (int i = 0; i < BLOCKS; i++)
		sink = blocks[i] = malloc(BLOCK_SIZE);
}

__attribute__((noinline)) void free_all(void)
{
	for (int i = 0; i < BLOCKS; i++)
		free(blocks[i]);
}

__attribute__((noinline)) void accum_test(void)
{
	for (int i = 0; i < 1000; i++) {
		sink = malloc(100);
		free(sink);
	}
}

static void *kept[3];

/* Returns the usable bytes of what it keeps. */
__attribute__((noinline)) size_t realloc_test(void)
{
	kept[0] = realloc(malloc(40000), 80000);	/* large: grows in place when it can */
	kept[1] = realloc(malloc(80000), 40000);	/* large: shrinks in place */
	kept[2] = realloc(malloc(2 << 20), 8 << 20);	/* huge: mremap */
	size_t n = 0;
	for (int i = 0; i < 3; i++)
		n += malloc_usable_size(kept[i]);
	return n;
}

__attribute__((noinline)) void before_active(void)
{
	for (int i = 0; i < 100; i++)
		sink = malloc(1000);
}

static void say(const char *s)
{
	/* write(), not stdio: stdout's buffer would be an allocation too. */
	if (write(1, s, strlen(s)) < 0)
		_exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "leak";
	if (!strcmp(mode, "leak")) {
		leak_test();
		printf("prof_leak: leaked %d blocks of %d bytes\n", BLOCKS, BLOCK_SIZE);
	} else if (!strcmp(mode, "free")) {
		alloc_all();
		free_all();
		say("prof_leak: freed everything\n");
	} else if (!strcmp(mode, "accum")) {
		accum_test();
		say("prof_leak: 1000 x malloc(100) + free\n");
	} else if (!strcmp(mode, "wait")) {
		leak_test();
		say("ready\n");
		/* pause() returns after each handled signal (the allocator's
		 * SIGUSR2 handler); SIGTERM's default action ends us. */
		for (;;)
			pause();
	} else if (!strcmp(mode, "forkwait")) {
		pid_t pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			char line[32];
			leak_test();
			snprintf(line, sizeof(line), "ready %d\n", (int)getpid());
			say(line);
			for (;;)
				pause();
		}
		int st;
		if (waitpid(pid, &st, 0) != pid)
			return 2;
		return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	} else if (!strcmp(mode, "realloc")) {
		printf("prof_leak: realloc_test keeps %zu usable bytes\n", realloc_test());
	} else if (!strcmp(mode, "active")) {
		bool (*active)(bool) = (bool (*)(bool))dlsym(RTLD_DEFAULT, "ebb_prof_active");
		if (!active) {
			printf("prof_leak: ebb_prof_active not found (not running on ebbmalloc)\n");
			return 3;
		}
		before_active();
		active(true);
		leak_test();
		printf("prof_leak: leaked 100 x 1000 bytes while inactive, then 4096 x 1024\n");
	} else {
		fprintf(stderr, "usage: prof_leak [leak|free|accum|wait|forkwait|realloc|active]\n");
		return 2;
	}
	return 0;
}
