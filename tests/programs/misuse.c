/* Performs one misuse of the allocator, chosen by argv[1]:
 *
 *   double-free-small   double-free-large   double-free-huge
 *   interior-small      interior-large      interior-huge
 *   stack               static              mmap
 *   realloc-interior    realloc-stack       realloc-freed       realloc-freed-shrink
 *   usable-size-stack
 *
 * It first prints the offending address with %p on stdout (unbuffered), then
 * misuses it. A checking allocator aborts there; if the call returns, the
 * program prints "survived" and exits 0. The glibc results do not matter:
 * the end-to-end test runs this under ebbmalloc.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static char static_buf[256];

/* Through a volatile pointer so the compiler cannot see (and warn about, or
 * drop) what we do. */
static void (*volatile do_free)(void *) = free;
static void *(*volatile do_realloc)(void *, size_t) = realloc;
static size_t (*volatile do_usable)(void *) = malloc_usable_size;

static void *show(void *p)
{
	printf("%p\n", p);
	return p;
}

static char *xmalloc(size_t n)
{
	char *p = malloc(n);
	if (!p) {
		perror("malloc");
		exit(2);
	}
	memset(p, 1, n);
	return p;
}

int main(int argc, char **argv)
{
	/* Unbuffered: stdio must not allocate (it could reuse a freed block). */
	setvbuf(stdout, NULL, _IONBF, 0);
	char stack_buf[256];
	memset(stack_buf, 0, sizeof(stack_buf));
	const char *m = argc > 1 ? argv[1] : "";

	if (!strcmp(m, "double-free-small") || !strcmp(m, "double-free-large") ||
	    !strcmp(m, "double-free-huge")) {
		size_t n = m[12] == 's' ? 32 : m[12] == 'l' ? 100 << 10 : 8 << 20;
		char *p = show(xmalloc(n));
		do_free(p);
		do_free(p);
	} else if (!strcmp(m, "interior-small")) {
		char *p = xmalloc(64);
		do_free(show(p + 16));
	} else if (!strcmp(m, "interior-large")) {
		char *p = xmalloc(100 << 10);
		do_free(show(p + 5000));
	} else if (!strcmp(m, "interior-huge")) {
		char *p = xmalloc(8 << 20);
		do_free(show(p + (3 << 20) + 64));
	} else if (!strcmp(m, "stack")) {
		do_free(show(stack_buf + 16));
	} else if (!strcmp(m, "static")) {
		do_free(show(static_buf + 16));
	} else if (!strcmp(m, "mmap")) {
		char *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 2;
		}
		p[0] = 1;
		do_free(show(p));
	} else if (!strcmp(m, "realloc-interior")) {
		char *p = xmalloc(64);
		if (!do_realloc(show(p + 16), 100))
			return 3;
	} else if (!strcmp(m, "realloc-stack")) {
		if (!do_realloc(show(stack_buf), 100))
			return 3;
	} else if (!strcmp(m, "realloc-freed")) {
		char *p = show(xmalloc(40));
		do_free(p);
		if (!do_realloc(p, 1000))
			return 3;
	} else if (!strcmp(m, "realloc-freed-shrink")) {
		/* within the block's own size class: nothing to copy or free */
		char *p = show(xmalloc(40));
		do_free(p);
		if (!do_realloc(p, 33))
			return 3;
	} else if (!strcmp(m, "usable-size-stack")) {
		printf("usable %zu\n", do_usable(show(stack_buf)));
	} else {
		fprintf(stderr, "misuse: unknown mode '%s'\n", m);
		return 2;
	}
	printf("survived\n");
	return 0;
}
