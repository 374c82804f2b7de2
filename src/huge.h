/* Huge blocks: above LARGE_MAX, each in a mapping of its own, so freeing one
 * returns it to the OS at once and realloc can move it with mremap. */
#ifndef EBB_HUGE_H
#define EBB_HUGE_H

#include "span.h"

void *huge_alloc(size_t size, size_t align);
void huge_free(span_t *s);
/* Resizes with mremap; NULL (block intact) when the OS refuses. */
void *huge_realloc(span_t *s, size_t size);
size_t huge_mapped(void);
size_t huge_count(void);

#endif
