/* Prints ebb_arena_count() (found with dlsym, so the program runs on any
 * allocator) after one allocation, or "none" when ebbmalloc is not loaded. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	void *p = malloc(1);
	unsigned (*arena_count)(void) = (unsigned (*)(void))dlsym(RTLD_DEFAULT, "ebb_arena_count");
	if (arena_count)
		printf("%u\n", arena_count());
	else
		printf("none\n");
	free(p);
	return 0;
}
