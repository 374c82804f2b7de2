/* launch: start one benchmark process and measure it (used by bench/run.py).
 *
 * usage: launch RESULT_FILE PRELOAD CMD [ARGS...]
 *
 * Forks, sets LD_PRELOAD=PRELOAD in the child only (an empty PRELOAD leaves
 * LD_PRELOAD unset: glibc's malloc), execs CMD, waits for it with wait4 and
 * writes one line to RESULT_FILE:
 *
 *     status=<wait status> wall_ns=<fork to reap> maxrss_kib=<ru_maxrss>
 *     utime_us=<user CPU> stime_us=<system CPU>
 *
 * Why not os.wait4 in the Python runner directly: Linux carries a process's
 * peak RSS across exec, so a program spawned by the runner would report at
 * least the runner's own RSS (tens of MiB). Forked from this small program,
 * the inherited part is this program's few hundred KiB, below any workload's
 * own peak. ru_maxrss from wait4 also covers the child's waited-for
 * descendants (gcc's cc1 and as).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: launch RESULT_FILE PRELOAD CMD [ARGS...]\n");
		return 2;
	}
	unsetenv("LD_PRELOAD");
	long long t0 = now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		perror("launch: fork");
		return 2;
	}
	if (pid == 0) {
		if (argv[2][0])
			setenv("LD_PRELOAD", argv[2], 1);
		execvp(argv[3], argv + 3);
		fprintf(stderr, "launch: cannot run %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("launch: wait4");
			return 2;
		}
	long long wall = now_ns() - t0;
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror("launch: result file");
		return 2;
	}
	fprintf(f, "status=%d wall_ns=%lld maxrss_kib=%ld utime_us=%lld stime_us=%lld\n", status,
		wall, ru.ru_maxrss, ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
		ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec);
	if (fclose(f)) {
		perror("launch: result file");
		return 2;
	}
	return 0;
}
