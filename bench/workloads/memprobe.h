/* Reading the process's own memory without calling the allocator, so the
 * measurement does not disturb what it measures. */
#ifndef MEMPROBE_H
#define MEMPROBE_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline long probe_read(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	long n = 0, r;
	while (n + 1 < (long)cap && (r = read(fd, buf + n, cap - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return n;
}

/* Resident and virtual size in MiB. */
static inline double rss_mib(void)
{
	char buf[128];
	long pages = 0, res = 0;
	if (probe_read("/proc/self/statm", buf, sizeof(buf)) > 0)
		sscanf(buf, "%ld %ld", &pages, &res);
	return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static inline double vsz_mib(void)
{
	char buf[128];
	long pages = 0;
	if (probe_read("/proc/self/statm", buf, sizeof(buf)) > 0)
		sscanf(buf, "%ld", &pages);
	return (double)pages * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

/* Anonymous mappings of at least min_mib (heap arenas show up here). */
static inline int big_anon_maps(double min_mib)
{
	static char buf[1 << 20];
	if (probe_read("/proc/self/maps", buf, sizeof(buf)) <= 0)
		return -1;
	int count = 0;
	for (char *line = buf; *line;) {
		char *nl = strchr(line, '\n');
		unsigned long lo, hi;
		char rest[256] = "";
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255[^\n]", &lo, &hi, rest) >= 2) {
			int anon = rest[0] == '\0' || !strncmp(rest, "[anon", 5);
			if (anon && (double)(hi - lo) / 1048576.0 >= min_mib)
				count++;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return count;
}

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until t seconds after t0, without touching the allocator. */
static inline void sleep_until(double t0, double t)
{
	double left = t0 + t - now_s();
	if (left > 0) {
		struct timespec ts = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

#endif
