/* Sampled heap profiling: which call stacks hold live memory, written as
 * jemalloc heap_v2 dumps that jeprof reads. Nothing here allocates with
 * malloc: records and the stack table live in meta memory. */
#ifndef EBB_PROF_H
#define EBB_PROF_H

#include "common.h"

#define PROF_BT_MAX 128

/* A call stack, leaf first. pc[0] is already (return address - 1) of the
 * first frame outside the allocator; the others are raw return addresses,
 * which is what jeprof expects (it subtracts 1 from frames 1.. itself). */
typedef struct prof_bt {
	unsigned depth;
	uintptr_t pc[PROF_BT_MAX];
} prof_bt_t;

/* One sampled object that is still live. */
typedef struct prof_sample prof_sample_t;

/* ---- prof_data.c: the stack table and its counts ---- */

/* Records a sampled allocation of usize bytes made by thread uid (a small
 * number, 0 for the first thread) with stack bt. Returns the record to hand
 * back to prof_data_free, or NULL when out of metadata memory. Thread-safe. */
prof_sample_t *prof_data_alloc(const prof_bt_t *bt, size_t usize, unsigned uid);
/* The sampled object was freed: its stack and thread counts go down. */
void prof_data_free(prof_sample_t *s);
/* usize recorded for the sample. */
size_t prof_sample_usize(const prof_sample_t *s);
/* Forgets every count (prof_reset); records of live objects stay valid but
 * no longer count. */
void prof_data_reset(void);
/* Totals of live sampled objects and bytes, and stacks with live objects. */
void prof_data_totals(uint64_t *objs, uint64_t *bytes, uint64_t *stacks);

/* ---- prof_dump.c: heap_v2 files and the leak summary ---- */

/* Writes a heap_v2 profile (sample period 2^lg_sample in the header) to
 * path: to path.tmp.<pid> first, then renamed, mode 0644. 0 or -1. */
int prof_dump_to(const char *path, unsigned lg_sample);
/* Writes <prof_prefix>.<pid>.<seq>.<kind><kseq>.heap (kind 'i', 'm', 'u')
 * or <prefix>.<pid>.<seq>.f.heap ('f'); name_out (if not NULL, cap bytes)
 * gets the file name. 0 or -1 (also when prof_prefix is empty). */
int prof_dump_auto(char kind, unsigned lg_sample, char *name_out, size_t cap);
/* Prints the "<ebbmalloc>: Leak approximation summary: ..." lines on
 * stderr, estimating objects per stack. Returns the estimated leaked bytes
 * (0: nothing printed). dump_name: the final dump's file, for the jeprof
 * hint, or NULL. */
uint64_t prof_leak_report(unsigned lg_sample, const char *dump_name);

void prof_data_fork_prepare(void);
void prof_data_fork_parent(void);
void prof_data_fork_child(void);

/* Calls fn under the table lock: '*' with the totals, 't' for each thread
 * seen since the last reset (by uid), then for each stack '@' (pc, depth)
 * and 's' for each thread under it. c: curobjs, curbytes, accumobjs,
 * accumbytes. */
typedef void prof_walk_fn(void *arg, char what, unsigned uid, const uintptr_t *pc, unsigned depth,
			  const uint64_t c[4]);
void prof_data_walk(prof_walk_fn *fn, void *arg);

/* ---- prof_bt.c ---- */

/* Fills bt with the stack of the program's call into the allocator, whose
 * return address is caller_ra (frames inside the allocator are dropped).
 * Returns the depth. */
unsigned prof_backtrace(prof_bt_t *bt, const void *caller_ra);
/* From prof_init: a program linked statically gets one-frame stacks until
 * prof_bt_ready, called from the library's constructor. */
void prof_bt_init(void);
void prof_bt_ready(void);

/* ---- prof.c: sampling, triggers and the public calls ---- */

struct span;
struct tcache;

extern bool ebb_prof_on EBB_HIDDEN;	/* prof:true and initialised */
extern bool ebb_prof_accum EBB_HIDDEN;
extern char ebb_prof_prefix[] EBB_HIDDEN;

void prof_init(void);		/* after the options are read */
void prof_ctor(void);		/* from the library's constructor */
void prof_at_exit(void);	/* from its destructor */

/* Bytes until a thread's next sample: a fresh exponential draw with mean
 * 2^lg_prof_sample (INT64_MAX without prof). */
int64_t prof_next_wait(uint64_t *prng);
/* Process-wide bookkeeping at each thread event: interval and high-water
 * dumps. bytes: allocated since the thread's last event. */
void prof_event(uint64_t bytes);
/* Records block p (usize bytes) as sampled, allocated by thread uid, called
 * from caller_ra. Never inside an allocator lock. */
void prof_sample_alloc(void *p, size_t usize, unsigned uid, const void *caller_ra);
/* p, a sampled block of span s, is freed. */
void prof_sample_free(struct span *s, void *p);
/* Allocations between these are the allocator's own (a thread it starts):
 * never sampled. Nest. */
void prof_suspend(void);
void prof_resume(void);

/* Work for the background thread: a dump asked for by a signal. */
void prof_bg_work(void);
/* True when prof_signal dumps need the background thread running. */
bool prof_needs_thread(void);

void prof_fork_prepare(void);
void prof_fork_parent(void);
void prof_fork_child(void);

#endif
