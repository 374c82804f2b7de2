/* Grows its heap in steps, for the interval and high-water dump triggers:
 * prof_grow MIB STEPS PAUSE_MS allocates MIB MiB in 64 KiB blocks, in
 * STEPS steps with a pause between them, keeps it all, then exits. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	int mib = argc > 1 ? atoi(argv[1]) : 64, steps = argc > 2 ? atoi(argv[2]) : 4;
	long pause_ms = argc > 3 ? atol(argv[3]) : 0;
	int blocks = mib * 16, per = blocks / (steps ? steps : 1);
	void **keep = calloc((size_t)blocks, sizeof(void *));
	for (int i = 0; i < blocks; i++) {
		keep[i] = malloc(65536);
		memset(keep[i], 1, 64);
		if (pause_ms && per && (i + 1) % per == 0) {
			struct timespec ts = { pause_ms / 1000, (pause_ms % 1000) * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	return keep[blocks - 1] ? 0 : 1;
}
