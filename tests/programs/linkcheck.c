/* Is ebbmalloc the allocator of this process? For the link tests: built
 * with -DEBB_LINKED it names the ebb_ calls directly (gcc -static ...
 * lib/libebbmalloc.a, or -lebbmalloc), otherwise through weak references
 * (the plain build; then it reports "absent" unless ebbmalloc is preloaded).
 *
 * Checks ebb_is_active() == 1 and that malloc_usable_size() and
 * ebb_malloc_usable_size() agree on blocks from malloc, calloc, realloc and
 * posix_memalign; prints one line per check and "linkcheck: ok" at the end,
 * or exits 1 at the first failure. Exit 3 when ebbmalloc is absent.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebbmalloc.h"

#ifndef EBB_LINKED
#pragma weak ebb_is_active
#pragma weak ebb_malloc_usable_size
#pragma weak ebb_version
#endif

static int failed;

static void check_usable(const char *what, void *p)
{
	if (!p) {
		printf("%s: NULL\n", what);
		failed = 1;
		return;
	}
	size_t a = malloc_usable_size(p), b = ebb_malloc_usable_size(p);
	printf("%s: malloc_usable_size %zu, ebb_malloc_usable_size %zu: %s\n", what, a, b,
	       a == b ? "equal" : "DIFFERENT");
	if (a != b)
		failed = 1;
}

int main(void)
{
	/* Through variables: with EBB_LINKED the names are never null. */
	int (*volatile is_active)(void) = ebb_is_active;
	size_t (*volatile usable)(void *) = ebb_malloc_usable_size;
	if (!is_active || !usable) {
		printf("linkcheck: ebbmalloc absent\n");
		return 3;
	}
	void *p = malloc(100);
	int active = ebb_is_active();
	printf("ebb_is_active() = %d, version %s\n", active, ebb_version());
	if (active != 1)
		failed = 1;
	check_usable("malloc(100)", p);
	void *c = calloc(10, 30);
	check_usable("calloc(10, 30)", c);
	void *r = realloc(p, 50000);
	check_usable("realloc(p, 50000)", r);
	void *m = NULL;
	if (posix_memalign(&m, 256, 1000) != 0)
		m = NULL;
	check_usable("posix_memalign(256, 1000)", m);
	void *h = malloc(3 << 20);
	check_usable("malloc(3 MiB)", h);
	free(r);
	free(c);
	free(m);
	free(h);
	if (failed) {
		printf("linkcheck: FAIL\n");
		return 1;
	}
	printf("linkcheck: ok\n");
	return 0;
}
