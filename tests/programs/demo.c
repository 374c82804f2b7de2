/* The README's example: a service builds 10 000 objects of a few hundred
 * mixed-size allocations each, destroys them all, then idles. It prints its
 * resident memory at each step, so running it on glibc and on ebbmalloc
 * shows who gives freed memory back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OBJECTS 10000
#define PARTS 200

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(void)
{
	static void *obj[OBJECTS][PARTS];
	unsigned seed = 1;
	size_t bytes = 0;
	printf("baseline:        RSS %6ld MiB\n", rss_kib() / 1024);
	for (int i = 0; i < OBJECTS; i++)
		for (int j = 0; j < PARTS; j++) {
			seed = seed * 1103515245 + 12345;
			/* mostly small, a few kilobytes now and then */
			size_t n = 16 + (seed >> 16) % ((seed & 7) ? 200 : 4000);
			obj[i][j] = malloc(n);
			memset(obj[i][j], 1, n);
			bytes += n;
		}
	printf("%d objects built: RSS %6ld MiB (%zu MiB requested)\n", OBJECTS, rss_kib() / 1024, bytes >> 20);
	for (int i = 0; i < OBJECTS; i++)
		for (int j = 0; j < PARTS; j++)
			free(obj[i][j]);
	printf("all destroyed:   RSS %6ld MiB\n", rss_kib() / 1024);
	/* Idle: no allocator calls from here on. */
	for (int s = 1; s <= 3; s++) {
		sleep(1);
		printf("%d s idle later:  RSS %6ld MiB\n", s, rss_kib() / 1024);
	}
	fflush(stdout);
	return 0;
}
