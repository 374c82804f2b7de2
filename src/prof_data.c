/* The stack table behind heap profiles: one node per distinct call stack,
 * under it one count node per thread that sampled there, and one record per
 * live sampled object pointing at its count node. Everything lives in meta
 * memory and is recycled, never returned; one lock guards it all, because
 * sampling is rare. */
#include "prof.h"

#include <errno.h>
#include <string.h>

#include "lock.h"
#include "meta.h"

/* prof_accum: keep counts that frees do not lower. Set before sampling. */
bool ebb_prof_accum;

enum { C_OBJS, C_BYTES, C_AOBJS, C_ABYTES };

#define STACK_BUCKETS 16384
#define THREAD_BUCKETS 256
#define SAMPLE_BATCH 128

typedef struct prof_thread {
	struct prof_thread *hnext;	/* hash chain */
	struct prof_thread *onext;	/* every record, by uid */
	unsigned uid;
	bool listed;			/* sampled since the last reset */
	uint64_t c[4];
} prof_thread_t;

typedef struct prof_stack prof_stack_t;

typedef struct prof_tcnt {
	struct prof_tcnt *next;
	prof_stack_t *stack;
	prof_thread_t *thr;
	uint64_t c[4];
} prof_tcnt_t;

struct prof_stack {
	prof_stack_t *hnext;	/* hash chain */
	prof_stack_t *anext;	/* every stack, for walks */
	prof_tcnt_t *threads;
	uint64_t hash;
	uint64_t c[4];
	unsigned depth;
	uintptr_t pc[];
};

struct prof_sample {
	prof_tcnt_t *tc;
	prof_sample_t *next;	/* free list */
	size_t usize;
	uint64_t epoch;		/* counts only while it equals the table's */
};

static ebb_lock_t table_lock = EBB_LOCK_INIT;
static prof_stack_t **buckets;
static prof_stack_t *all_stacks;
static prof_thread_t *thread_buckets[THREAD_BUCKETS];
static prof_thread_t *threads_by_uid;
static prof_sample_t *free_samples;
static uint64_t epoch;
static uint64_t total[4];
static uint64_t live_stacks;

static uint64_t hash_bt(const prof_bt_t *bt, unsigned depth)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ depth;
	for (unsigned i = 0; i < depth; i++) {
		h ^= bt->pc[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 32);
}

static prof_stack_t *stack_get(const prof_bt_t *bt)
{
	unsigned depth = bt->depth > PROF_BT_MAX ? PROF_BT_MAX : bt->depth;
	if (!buckets) {
		buckets = meta_alloc(STACK_BUCKETS * sizeof(*buckets));
		if (!buckets)
			return NULL;
	}
	uint64_t h = hash_bt(bt, depth);
	prof_stack_t **b = &buckets[h & (STACK_BUCKETS - 1)];
	for (prof_stack_t *s = *b; s; s = s->hnext)
		if (s->hash == h && s->depth == depth && !memcmp(s->pc, bt->pc, depth * sizeof(uintptr_t)))
			return s;
	prof_stack_t *s = meta_alloc(sizeof(*s) + depth * sizeof(uintptr_t));
	if (!s)
		return NULL;
	s->hash = h;
	s->depth = depth;
	memcpy(s->pc, bt->pc, depth * sizeof(uintptr_t));
	s->hnext = *b;
	*b = s;
	s->anext = all_stacks;
	all_stacks = s;
	return s;
}

static prof_thread_t *thread_get(unsigned uid)
{
	prof_thread_t **b = &thread_buckets[uid % THREAD_BUCKETS];
	for (prof_thread_t *t = *b; t; t = t->hnext)
		if (t->uid == uid)
			return t;
	prof_thread_t *t = meta_alloc(sizeof(*t));
	if (!t)
		return NULL;
	t->uid = uid;
	t->hnext = *b;
	*b = t;
	/* Sorted once here so dumps list threads in uid order for free. */
	prof_thread_t **o = &threads_by_uid;
	while (*o && (*o)->uid < uid)
		o = &(*o)->onext;
	t->onext = *o;
	*o = t;
	return t;
}

static prof_tcnt_t *tcnt_get(prof_stack_t *s, unsigned uid)
{
	for (prof_tcnt_t *tc = s->threads; tc; tc = tc->next)
		if (tc->thr->uid == uid)
			return tc;
	prof_thread_t *t = thread_get(uid);
	if (!t)
		return NULL;
	prof_tcnt_t *tc = meta_alloc(sizeof(*tc));
	if (!tc)
		return NULL;
	tc->stack = s;
	tc->thr = t;
	prof_tcnt_t **o = &s->threads;
	while (*o && (*o)->thr->uid < uid)
		o = &(*o)->next;
	tc->next = *o;
	*o = tc;
	return tc;
}

static prof_sample_t *sample_new(void)
{
	if (!free_samples) {
		/* meta_alloc rounds to 64 bytes: take records in batches. */
		prof_sample_t *b = meta_alloc(SAMPLE_BATCH * sizeof(*b));
		if (!b)
			return NULL;
		for (unsigned i = 0; i < SAMPLE_BATCH; i++) {
			b[i].next = free_samples;
			free_samples = &b[i];
		}
	}
	prof_sample_t *s = free_samples;
	free_samples = s->next;
	s->next = NULL;
	return s;
}

static void add(uint64_t c[4], uint64_t usize, bool accum)
{
	c[C_OBJS]++;
	c[C_BYTES] += usize;
	if (accum) {
		c[C_AOBJS]++;
		c[C_ABYTES] += usize;
	}
}

static void sub(uint64_t c[4], uint64_t usize)
{
	c[C_OBJS]--;
	c[C_BYTES] -= usize;
}

prof_sample_t *prof_data_alloc(const prof_bt_t *bt, size_t usize, unsigned uid)
{
	bool accum = __atomic_load_n(&ebb_prof_accum, __ATOMIC_RELAXED);
	int saved = errno;	/* a failed meta_alloc must not show through malloc */
	ebb_lock(&table_lock);
	prof_sample_t *r = NULL;
	prof_stack_t *s = stack_get(bt);
	prof_tcnt_t *tc = s ? tcnt_get(s, uid) : NULL;
	if (tc)
		r = sample_new();
	if (r) {
		r->tc = tc;
		r->usize = usize;
		r->epoch = epoch;
		if (!s->c[C_OBJS])
			live_stacks++;
		add(s->c, usize, accum);
		add(tc->c, usize, accum);
		add(tc->thr->c, usize, accum);
		add(total, usize, accum);
		tc->thr->listed = true;
	}
	ebb_unlock(&table_lock);
	errno = saved;
	return r;
}

void prof_data_free(prof_sample_t *r)
{
	if (!r)
		return;
	ebb_lock(&table_lock);
	if (r->epoch == epoch) {
		prof_tcnt_t *tc = r->tc;
		sub(tc->c, r->usize);
		sub(tc->thr->c, r->usize);
		sub(tc->stack->c, r->usize);
		sub(total, r->usize);
		if (!tc->stack->c[C_OBJS])
			live_stacks--;
	}
	r->tc = NULL;
	r->next = free_samples;
	free_samples = r;
	ebb_unlock(&table_lock);
}

size_t prof_sample_usize(const prof_sample_t *r)
{
	return r->usize;
}

void prof_data_reset(void)
{
	ebb_lock(&table_lock);
	/* Records made before now stop counting: their frees see a new epoch. */
	epoch++;
	for (prof_stack_t *s = all_stacks; s; s = s->anext) {
		memset(s->c, 0, sizeof(s->c));
		for (prof_tcnt_t *tc = s->threads; tc; tc = tc->next)
			memset(tc->c, 0, sizeof(tc->c));
	}
	for (prof_thread_t *t = threads_by_uid; t; t = t->onext) {
		memset(t->c, 0, sizeof(t->c));
		t->listed = false;
	}
	memset(total, 0, sizeof(total));
	live_stacks = 0;
	ebb_unlock(&table_lock);
}

void prof_data_totals(uint64_t *objs, uint64_t *bytes, uint64_t *stacks)
{
	ebb_lock(&table_lock);
	if (objs)
		*objs = total[C_OBJS];
	if (bytes)
		*bytes = total[C_BYTES];
	if (stacks)
		*stacks = live_stacks;
	ebb_unlock(&table_lock);
}

void prof_data_walk(prof_walk_fn *fn, void *arg)
{
	ebb_lock(&table_lock);
	fn(arg, '*', 0, NULL, 0, total);
	for (prof_thread_t *t = threads_by_uid; t; t = t->onext)
		if (t->listed)
			fn(arg, 't', t->uid, NULL, 0, t->c);
	/* Stacks and threads with nothing current or accumulated never print. */
	for (prof_stack_t *s = all_stacks; s; s = s->anext) {
		if (!s->c[C_OBJS] && !s->c[C_AOBJS])
			continue;
		fn(arg, '@', 0, s->pc, s->depth, s->c);
		for (prof_tcnt_t *tc = s->threads; tc; tc = tc->next)
			if (tc->c[C_OBJS] || tc->c[C_AOBJS])
				fn(arg, 's', tc->thr->uid, NULL, 0, tc->c);
	}
	ebb_unlock(&table_lock);
}

void prof_data_fork_prepare(void)
{
	ebb_lock(&table_lock);
}

void prof_data_fork_parent(void)
{
	ebb_unlock(&table_lock);
}

void prof_data_fork_child(void)
{
	ebb_lock_reset(&table_lock);
}
