/* Heap-profiling test program: two dumps while running, through
 * ebb_prof_dump() found with dlsym, so the program also runs without
 * ebbmalloc (it then says so and exits 3).
 *
 *   prof_dumps A B    leak_first(): 1000 x malloc(256), dump to A;
 *                     leak_second(): 500 x malloc(256), dump to B.
 *
 * B minus A (jeprof --base=A) is exactly leak_second's 128000 bytes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void *volatile sink;

__attribute__((noinline)) void leak_first(void)
{
	for (int i = 0; i < 1000; i++)
		sink = malloc(256);
}

__attribute__((noinline)) void leak_second(void)
{
	for (int i = 0; i < 500; i++)
		sink = malloc(256);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: prof_dumps DUMP_A DUMP_B\n");
		return 2;
	}
	int (*dump)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "ebb_prof_dump");
	if (!dump) {
		printf("prof_dumps: ebb_prof_dump not found (not running on ebbmalloc)\n");
		return 3;
	}
	/* Everything else that allocates (stdout's buffer) happens before A. */
	printf("prof_dumps: dumping to %s and %s\n", argv[1], argv[2]);
	fflush(stdout);
	leak_first();
	int a = dump(argv[1]);
	leak_second();
	int b = dump(argv[2]);
	printf("prof_dumps: ebb_prof_dump returned %d and %d\n", a, b);
	return a || b;
}
