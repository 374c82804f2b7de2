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
	/* heap profiling; the prof* keys are also read from MALLOC_CONF */
	bool prof;		/* profiling on (prof_leak implies it) */
	bool prof_active;	/* sampling at start (ebb_prof_active changes it) */
	unsigned lg_prof_sample;	/* mean bytes between samples, log2 */
	char prof_prefix[256];	/* dump file prefix; empty: no automatic dumps */
	long lg_prof_interval;	/* dump every 2^this bytes allocated; -1 off */
	bool prof_gdump;	/* dump at each new high-water mark */
	bool prof_final;	/* dump at exit */
	bool prof_leak;		/* leak summary (and final dump) at exit */
	bool prof_leak_error;	/* ... and exit(1) when something leaked */
	bool prof_accum;	/* also keep cumulative counts */
	unsigned prof_signal;	/* PROF_SIGNAL_*: dump when it arrives */
	unsigned prof_unwind;	/* PROF_UNWIND_*: how backtraces are taken */
} ebb_options_t;

enum { PURGE_DONTNEED, PURGE_FREE };
enum { PROF_SIGNAL_OFF, PROF_SIGNAL_USR1, PROF_SIGNAL_USR2, PROF_SIGNAL_PROF, PROF_SIGNAL_URG };
enum { PROF_UNWIND_LIBGCC, PROF_UNWIND_FP, PROF_UNWIND_DWARF, PROF_UNWIND_LIBUNWIND };

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

/* Like conf_parse, but applies only the profiling keys (prof*, lg_prof*)
 * and silently ignores the others: MALLOC_CONF holds jemalloc's options. */
int conf_parse_prof_only(const char *text, const char *source);

/* Defaults, then the profiling keys of MALLOC_CONF, then EBBMALLOC_CONF
 * (neither for setuid programs); prints options if verbose. */
void conf_init(void);

/* Writes the effective options as "<ebbmalloc>: " lines. */
void conf_print(void);

#endif
