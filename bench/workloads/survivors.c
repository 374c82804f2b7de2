/* Long-lived survivors: allocate mixed sizes, free all but every 50th
 * block, then allocate a different size mix. Prints RSS against live bytes
 * at the end, and after 2 s and 11 s idle. Live bytes include the used
 * part of the program's own pointer and size arrays: they are heap too.
 * Usage: survivors [mib [refill]]: mib is the first phase's size (default
 * 1024), refill the second phase's as a percentage of it (default 100: the
 * second mix takes as many bytes as the first held, so an allocator that
 * can put new sizes in the old holes stays near 1x). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "memprobe.h"
#include "survivors_mix.h"

int main(int argc, char **argv)
{
	size_t target = (size_t)(argc > 1 ? atoi(argv[1]) : 1024) << 20;
	size_t refill = target / 100 * (size_t)(argc > 2 ? atoi(argv[2]) : 100);
	size_t cap = target / 16, n1 = 0, n2 = 0;
	void **a = malloc(cap * sizeof(void *));
	size_t *sz = malloc(cap * sizeof(size_t));
	double base = rss_mib(), live = 0;
	for (size_t total = 0; total < target && n1 < cap; n1++) {
		size_t n = mix_first();
		a[n1] = malloc(n);
		sz[n1] = n;
		memset(a[n1], 1, n);
		total += n;
	}
	double peak1 = rss_mib();
	for (size_t i = 0; i < n1; i++) {
		if (i % 50)
			free(a[i]);
		else
			live += (double)sz[i];
	}
	size_t cap2 = refill / 2048 + 1;
	void **b = malloc(cap2 * sizeof(void *));
	for (size_t total = 0; total < refill && n2 < cap2; n2++) {
		size_t n = mix_second();
		b[n2] = malloc(n);
		memset(b[n2], 2, n);
		total += n;
		live += (double)n;
	}
	live += (double)(n1 * (sizeof(void *) + sizeof(size_t)) + n2 * sizeof(void *));
	double t0 = now_s(), end = rss_mib();
	sleep_until(t0, 2);
	double r2 = rss_mib();
	sleep_until(t0, 11);
	double r11 = rss_mib();
	if (getenv("SCENARIO_STATS")) {
		void (*print)(bool) = (void (*)(bool))dlsym(RTLD_DEFAULT, "ebb_stats_print");
		if (print)
			print(false);
	}
	double lm = live / 1048576.0;
	printf("live_mib=%.1f baseline=%.1f peak_phase1=%.1f end=%.1f idle_2s=%.1f idle_11s=%.1f "
	       "ratio_end=%.2f ratio_2s=%.2f ratio_11s=%.2f\n",
	       lm, base, peak1, end, r2, r11, (end - base) / lm, (r2 - base) / lm, (r11 - base) / lm);
	printf("@metric ratio_end %.2f\n@metric ratio_2s %.2f\n@metric ratio_11s %.2f\n", (end - base) / lm,
	       (r2 - base) / lm, (r11 - base) / lm);
	return 0;
}
