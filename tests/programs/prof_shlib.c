/* Heap-profiling test program: a leak in the program and a leak in a shared
 * library. tests/e2e/test_prof_shlib.sh builds this file twice:
 *   -DPROF_SHLIB_LIB -shared -fPIC   -> libprofshlib.so (shlib_leak only)
 *   -DPROF_SHLIB_MAIN                -> the program, linked against it
 * Without either (make programs) both halves go into one program.
 *
 * prog_leak() leaks 300 x malloc(2048) from the program,
 * shlib_leak() leaks 200 x malloc(4096) from the library. */
#include <stdio.h>
#include <stdlib.h>

void *volatile sink;

#ifndef PROF_SHLIB_MAIN
__attribute__((noinline)) void shlib_leak(int n)
{
	for (int i = 0; i < n; i++)
		sink = malloc(4096);
}
#else
void shlib_leak(int n);
#endif

#ifndef PROF_SHLIB_LIB
__attribute__((noinline)) void prog_leak(int n)
{
	for (int i = 0; i < n; i++)
		sink = malloc(2048);
}

int main(void)
{
	prog_leak(300);
	shlib_leak(200);
	printf("prof_shlib: leaked 300 x 2048 in the program, 200 x 4096 in the library\n");
	return 0;
}
#endif
