/* Run-time options: EBBMALLOC_CONF="key:value,key:value" (jemalloc's syntax).
 * Parsed once at initialisation, without allocating. */
#ifndef EBB_CONFIG_H
#define EBB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ebb_options {
	unsigned narenas;	/* 0: derive from the CPUs the process may use */
	bool tcache;		/* per-thread caches on */
	size_t tcache_max;	/* largest size served from the thread cache */
	bool stats_print;	/* print statistics at exit */
	bool abort_conf;	/* abort() on a bad key or value instead of warning */
	bool verbose;		/* print the effective options at start-up */
	char cgroup_root[256];	/* where cgroup v2 is mounted (a test hook) */
	long dirty_decay_ms;	/* -1: never purge on a timer */
	bool background_thread;
	unsigned purge;		/* PURGE_DONTNEED or PURGE_FREE */
	unsigned retain_regions;
	bool cgroup_memory;
} ebb_options_t;

enum { PURGE_DONTNEED, PURGE_FREE };

extern ebb_options_t ebb_opt;

/* Restores every option to its default. */
void conf_defaults(void);

/* Applies "key:value,..." from text. source names where it came from, for
 * messages. Each unknown key or bad value gives one "<ebbmalloc>: " warning
 * line and leaves that option unchanged. Returns the number of errors. */
int conf_parse(const char *text, const char *source);

/* getenv() that never allocates: scans environ, or /proc/self/environ when
 * environ is not set up yet. Returns NULL when absent. The result stays valid
 * until the next call. */
const char *conf_getenv(const char *name);

/* True when the process is setuid/setgid (AT_SECURE): environment ignored. */
bool conf_secure(void);

/* Defaults, then EBBMALLOC_CONF (unless secure); prints options if verbose. */
void conf_init(void);

/* Writes the effective options as "<ebbmalloc>: " lines. */
void conf_print(void);

#endif
