/* The classic leak: leak_test() mallocs 1024 bytes 4096 times and never
 * frees them (4 MiB). */
#include <stdio.h>
#include <stdlib.h>

void *volatile sink;

__attribute__((noinline)) void leak_test(void)
{
	for (int i = 0; i < 4096; i++)
		sink = malloc(1024);
}

int main(void)
{
	leak_test();
	return 0;
}
