/* A service builds many objects of a few hundred mixed-size allocations,
 * destroys them all, then idles without calling the allocator. Prints RSS
 * at baseline, peak, right after the free, and after 0.5 s, 2 s and 11 s.
 * Usage: create_destroy [objects] (default 10000, about 6 GiB live). */
#include <stdint.h>
#include <stdlib.h>

#include "memprobe.h"

#define PARTS 250

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* 16 B - 64 KiB skewed small: 70 % up to 256 B, 25 % up to 4 KiB, 5 % up
 * to 64 KiB. */
static size_t part_size(void)
{
	uint64_t r = next() % 100;
	if (r < 70)
		return 16 + next() % 241;
	if (r < 95)
		return 256 + next() % 3841;
	return 4096 + next() % 61441;
}

int main(int argc, char **argv)
{
	int objects = argc > 1 ? atoi(argv[1]) : 10000;
	void ***obj = calloc((size_t)objects, sizeof(void **));
	double base = rss_mib(), live = 0;
	for (int i = 0; i < objects; i++) {
		obj[i] = malloc((PARTS + 1) * sizeof(void *));
		for (int j = 0; j < PARTS; j++) {
			size_t n = part_size();
			obj[i][j] = malloc(n);
			memset(obj[i][j], j, n);
			live += (double)n;
		}
		/* every other object has a 100-300 KiB buffer */
		size_t n = i % 2 ? 0 : 100 * 1024 + next() % (200 * 1024);
		obj[i][PARTS] = n ? malloc(n) : NULL;
		if (n)
			memset(obj[i][PARTS], 1, n);
		live += (double)n;
	}
	double peak = rss_mib();
	/* Destroyed in an order unrelated to creation, as services do. */
	for (int i = objects - 1; i > 0; i--) {
		int k = (int)(next() % (uint64_t)(i + 1));
		void **t = obj[i];
		obj[i] = obj[k];
		obj[k] = t;
	}
	for (int i = 0; i < objects; i++) {
		for (int j = 0; j <= PARTS; j++)
			free(obj[i][j]);
		free(obj[i]);
	}
	double t0 = now_s(), after = rss_mib();
	sleep_until(t0, 0.5);
	double r05 = rss_mib();
	sleep_until(t0, 2);
	double r2 = rss_mib();
	sleep_until(t0, 11);
	double r11 = rss_mib();
	free(obj);
	printf("live_mib=%.1f baseline=%.1f peak=%.1f after_free=%.1f idle_0.5s=%.1f idle_2s=%.1f idle_11s=%.1f\n",
	       live / 1048576.0, base, peak, after, r05, r2, r11);
	/* For bench/run.py: RSS in MiB, and what is kept as a share of the peak. */
	printf("@metric peak_mib %.1f\n@metric after_free_mib %.1f\n@metric idle_05s_mib %.1f\n"
	       "@metric idle_2s_mib %.1f\n@metric idle_11s_mib %.1f\n@metric kept_2s_pct %.2f\n",
	       peak, after, r05, r2, r11, 100.0 * (r2 - base) / peak);
	return 0;
}
