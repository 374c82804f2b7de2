/* Messages to stderr without malloc or stdio: every line starts "<ebbmalloc>: ". */
#ifndef EBB_MSG_H
#define EBB_MSG_H

#include <stdarg.h>
#include <stddef.h>

/* A tiny printf: %s (also %.*s, %.Ns) %c %d %i %u %ld %lu %lld %llu %zu %zd %x %lx %zx %p %%
 * (with optional '0' flag and width). Always NUL-terminates; returns the
 * length written (truncated at cap-1). */
size_t ebb_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
size_t ebb_snprintf(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes all of buf to fd, retrying on EINTR and short writes. */
void ebb_write_all(int fd, const char *buf, size_t len);

/* One line on stderr, prefixed "<ebbmalloc>: " and ended with '\n'. */
void ebb_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ebb_msg, then abort(): for heap corruption and misuse that cannot go on. */
void ebb_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn, cold));

#endif
