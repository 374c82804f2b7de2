/* Error returns of the allocation API, one line each, so the output can be
 * compared between glibc and ebbmalloc: only cases where both follow the
 * same rules (POSIX, C, and glibc's documented behaviour) are included. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Through volatile pointers: the compiler must not fold or warn about the
 * absurd sizes. */
static void *(*volatile v_malloc)(size_t) = malloc;
static void *(*volatile v_calloc)(size_t, size_t) = calloc;
static void *(*volatile v_realloc)(void *, size_t) = realloc;
static void *(*volatile v_reallocarray)(void *, size_t, size_t) = reallocarray;
static int (*volatile v_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile v_memalign)(size_t, size_t) = memalign;
static void *(*volatile v_valloc)(size_t) = valloc;
static void *(*volatile v_pvalloc)(size_t) = pvalloc;

static const char *ename(int e)
{
	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	default: return "other";
	}
}

/* "NULL errno=ENOMEM" or "ptr" (and the pointer is freed). */
static void report(const char *what, void *p, int err)
{
	if (p) {
		printf("%-40s -> ptr\n", what);
		free(p);
	} else {
		printf("%-40s -> NULL errno=%s\n", what, ename(err));
	}
}

#define CALL(what, expr)                      \
	do {                                  \
		errno = 0;                    \
		void *p_ = (expr);            \
		report(what, p_, errno);      \
	} while (0)

static void pm(const char *what, size_t align, size_t size)
{
	void *p = (void *)0x1;	/* must be left alone on failure */
	int r = v_posix_memalign(&p, align, size);
	if (r == 0) {
		int aligned = ((uintptr_t)p & (align - 1)) == 0;
		printf("%-40s -> 0, %s\n", what, aligned ? "aligned" : "MISALIGNED");
		free(p);
	} else {
		printf("%-40s -> %s, out %s\n", what, ename(r), p == (void *)0x1 ? "unchanged" : "CHANGED");
	}
}

int main(void)
{
	CALL("malloc(SIZE_MAX)", v_malloc(SIZE_MAX));
	CALL("malloc(SIZE_MAX/2)", v_malloc(SIZE_MAX / 2));
	CALL("malloc(PTRDIFF_MAX+1)", v_malloc((size_t)PTRDIFF_MAX + 1));
	CALL("malloc(1<<62)", v_malloc((size_t)1 << 62));
	CALL("malloc(0)", v_malloc(0));
	CALL("calloc(SIZE_MAX/2+1, 2) overflow", v_calloc(SIZE_MAX / 2 + 1, 2));
	CALL("calloc(2, SIZE_MAX/2+1) overflow", v_calloc(2, SIZE_MAX / 2 + 1));
	CALL("calloc(1<<32, 1<<32) overflow", v_calloc((size_t)1 << 32, (size_t)1 << 32));
	CALL("calloc(SIZE_MAX, 1)", v_calloc(SIZE_MAX, 1));
	CALL("calloc(0, SIZE_MAX)", v_calloc(0, SIZE_MAX));
	CALL("calloc(SIZE_MAX, 0)", v_calloc(SIZE_MAX, 0));
	CALL("valloc(SIZE_MAX)", v_valloc(SIZE_MAX));
	CALL("pvalloc(SIZE_MAX)", v_pvalloc(SIZE_MAX));
	CALL("memalign(64, SIZE_MAX)", v_memalign(64, SIZE_MAX));
	CALL("memalign(3, 100) (rounded up)", v_memalign(3, 100));
	CALL("realloc(NULL, SIZE_MAX)", v_realloc(NULL, SIZE_MAX));

	pm("posix_memalign(align 3)", 3, 16);
	pm("posix_memalign(align 0)", 0, 16);
	pm("posix_memalign(align 4)", 4, 16);
	pm("posix_memalign(align 24)", 24, 16);
	pm("posix_memalign(align 8)", 8, 16);
	pm("posix_memalign(align 4096, 0)", 4096, 0);
	pm("posix_memalign(align 65536, 0)", 65536, 0);
	pm("posix_memalign(align 64, SIZE_MAX)", 64, SIZE_MAX);
	pm("posix_memalign(align 1<<62, 1)", (size_t)1 << 62, 1);

	/* A failed realloc leaves the block alone. */
	char *b = malloc(100);
	if (!b)
		return 1;
	memset(b, 'x', 100);
	errno = 0;
	void *r = v_realloc(b, SIZE_MAX);
	int e = errno;
	int intact = 1;
	for (int i = 0; i < 100; i++)
		if (b[i] != 'x')
			intact = 0;
	printf("%-40s -> %s errno=%s, block %s\n", "realloc(p, SIZE_MAX)", r ? "ptr" : "NULL", ename(e),
	       intact ? "intact" : "CHANGED");
	errno = 0;
	r = v_reallocarray(b, SIZE_MAX / 2, 3);
	e = errno;
	printf("%-40s -> %s errno=%s\n", "reallocarray(p, SIZE_MAX/2, 3) overflow", r ? "ptr" : "NULL",
	       ename(e));
	errno = 0;
	r = v_reallocarray(b, 10, 20);
	printf("%-40s -> %s, prefix %s\n", "reallocarray(p, 10, 20)", r ? "ptr" : "NULL",
	       r && ((char *)r)[0] == 'x' && ((char *)r)[99] == 'x' ? "kept" : "LOST");
	free(r ? r : b);

	/* free(NULL) and realloc(NULL, n) are fine. */
	free(NULL);
	CALL("realloc(NULL, 10)", v_realloc(NULL, 10));
	printf("done\n");
	return 0;
}
