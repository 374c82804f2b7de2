/* heap_v2 profile files (the format jemalloc writes and jeprof reads) and
 * the leak summary. No malloc and no stdio: lines are formatted into a buffer
 * on the stack and written with write(), so a dump can run from atexit, a
 * signal-driven thread or the allocator's own slow path. */
#include "prof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

/* Dump file prefix (prof_prefix); empty: no automatic dumps. */
char ebb_prof_prefix[256] = "jeprof";

/* On the stack rather than static, so concurrent dumps (and a fork in the
 * middle of one) need no lock of their own. */
#define OUT_CAP 16384
/* Longer than any formatted line: a counts line is under 100 bytes and a
 * frame is formatted on its own. */
#define OUT_SLACK 256

typedef struct {
	int fd;
	bool err;
	bool accum;
	bool skip;	/* the current stack is not printed, nor its threads */
	size_t len;
	char buf[OUT_CAP];
} out_t;

static bool write_full(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void out_flush(out_t *o)
{
	if (o->len && !o->err && !write_full(o->fd, o->buf, o->len))
		o->err = true;
	o->len = 0;
}

static __attribute__((format(printf, 2, 3))) void out_fmt(out_t *o, const char *fmt, ...)
{
	if (OUT_CAP - o->len < OUT_SLACK)
		out_flush(o);
	va_list ap;
	va_start(ap, fmt);
	o->len += ebb_vsnprintf(o->buf + o->len, OUT_CAP - o->len, fmt, ap);
	va_end(ap);
}

/* "  t*: " or "  t<uid>: " and the counts; the accum pair only with prof_accum. */
static void out_counts(out_t *o, bool star, unsigned uid, const uint64_t c[4])
{
	unsigned long long ao = o->accum ? c[2] : 0, ab = o->accum ? c[3] : 0;
	if (star)
		out_fmt(o, "  t*: %llu: %llu [%llu: %llu]\n", (unsigned long long)c[0],
			(unsigned long long)c[1], ao, ab);
	else
		out_fmt(o, "  t%u: %llu: %llu [%llu: %llu]\n", uid, (unsigned long long)c[0],
			(unsigned long long)c[1], ao, ab);
}

static void dump_visit(void *arg, char what, unsigned uid, const uintptr_t *pc, unsigned depth,
		       const uint64_t c[4])
{
	out_t *o = arg;
	switch (what) {
	case '*':
		out_counts(o, true, 0, c);
		break;
	case 't':
		out_counts(o, false, uid, c);
		break;
	case '@':
		o->skip = !(o->accum ? c[2] : c[0]);
		if (o->skip)
			break;
		out_fmt(o, "@");
		for (unsigned i = 0; i < depth; i++)
			out_fmt(o, " 0x%llx", (unsigned long long)pc[i]);
		out_fmt(o, "\n");
		out_counts(o, true, 0, c);
		break;
	case 's':
		if (!o->skip && (o->accum ? c[2] : c[0]))
			out_counts(o, false, uid, c);
		break;
	}
}

/* The blank line, the header and /proc/self/maps verbatim; nothing at all
 * when the maps cannot be opened. */
static void dump_maps(out_t *o)
{
	int mfd;
	do
		mfd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	while (mfd < 0 && errno == EINTR);
	if (mfd < 0)
		return;
	out_fmt(o, "\nMAPPED_LIBRARIES:\n");
	for (;;) {
		if (OUT_CAP - o->len < 4096)
			out_flush(o);
		ssize_t r = read(mfd, o->buf + o->len, OUT_CAP - o->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			o->err = true;
		if (r <= 0)
			break;
		o->len += (size_t)r;
	}
	close(mfd);
}

static unsigned clamp_lg(unsigned lg)
{
	return lg > 63 ? 63 : lg;
}

int prof_dump_to(const char *path, unsigned lg_sample)
{
	char tmp[4096 + 32];
	if (!path || !*path || strlen(path) > 4096)
		return -1;
	ebb_snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	int saved = errno;
	out_t o;
	o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o.fd < 0) {
		errno = saved;
		return -1;
	}
	o.err = false;
	o.accum = __atomic_load_n(&ebb_prof_accum, __ATOMIC_RELAXED);
	o.skip = false;
	o.len = 0;
	out_fmt(&o, "heap_v2/%llu\n", 1ull << clamp_lg(lg_sample));
	prof_data_walk(dump_visit, &o);
	/* Outside the table lock: the maps can be long, sampling need not wait. */
	dump_maps(&o);
	out_flush(&o);
	if (close(o.fd) < 0)
		o.err = true;
	if (o.err || rename(tmp, path) < 0) {
		unlink(tmp);
		errno = saved;
		return -1;
	}
	errno = saved;
	return 0;
}

int prof_dump_auto(char kind, unsigned lg_sample, char *name_out, size_t cap)
{
	static uint64_t seq, kseq[3];
	static const char kinds[] = "imu";
	const char *k = kind ? strchr(kinds, kind) : NULL;
	if (!k && kind != 'f')
		return -1;
	/* The prefix may be set while we read it: bound the copy. */
	char prefix[256];
	ebb_snprintf(prefix, sizeof(prefix), "%.255s", ebb_prof_prefix);
	if (!prefix[0])
		return -1;
	char name[512];
	unsigned long long s = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);
	if (k) {
		unsigned long long n = __atomic_fetch_add(&kseq[k - kinds], 1, __ATOMIC_RELAXED);
		ebb_snprintf(name, sizeof(name), "%s.%d.%llu.%c%llu.heap", prefix, (int)getpid(), s, kind, n);
	} else {
		ebb_snprintf(name, sizeof(name), "%s.%d.%llu.f.heap", prefix, (int)getpid(), s);
	}
	if (name_out && cap)
		ebb_snprintf(name_out, cap, "%s", name);
	return prof_dump_to(name, lg_sample);
}

/* ---- the leak summary ---- */

/* 2^-n for 0 <= n <= 1022, built from the exponent bits. */
static double pow2_neg(int n)
{
	uint64_t bits = (uint64_t)(1023 - n) << 52;
	double d;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* e^-x for 0.5 <= x <= 750 without libm (the library does not link it):
 * x = n ln2 - r with |r| <= ln2/2, e^r by its series, then scaled by 2^-n.
 * ln2 is split in two (fdlibm's constants) so n ln2 loses nothing. */
static double exp_neg(double x)
{
	const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
	int n = (int)(x * 1.44269504088896338700 + 0.5);
	double r = (n * ln2_hi - x) + n * ln2_lo;
	/* |r| <= 0.35: the 20th term is below 1e-25. */
	double term = 1, sum = 1;
	for (int i = 1; i < 20; i++) {
		term *= r / i;
		sum += term;
	}
	while (n > 1000) {
		sum *= pow2_neg(1000);
		n -= 1000;
	}
	return sum * pow2_neg(n);
}

/* 1 - e^-x, the probability that an object of x sample periods is sampled.
 * For small x the series avoids the cancellation of 1 - e^-x. */
static double sampled_prob(double x)
{
	if (!(x > 0))
		return 0;
	if (x < 0.5) {
		/* Terms shrink by x/i: by i = 24 they are below 2^-53 of the sum. */
		double term = x, sum = x;
		for (int i = 2; i < 24; i++) {
			term *= -x / i;
			sum += term;
		}
		return sum;
	}
	if (x > 750)
		return 1;
	return 1 - exp_neg(x);
}

typedef struct {
	double period;		/* 0: every allocation was sampled */
	uint64_t raw_bytes;
	uint64_t contexts;
	double bytes, objs;
} leak_t;

static void leak_visit(void *arg, char what, unsigned uid, const uintptr_t *pc, unsigned depth,
		       const uint64_t c[4])
{
	(void)uid;
	(void)pc;
	(void)depth;
	leak_t *l = arg;
	if (what == '*')
		l->raw_bytes = c[1];
	if (what != '@' || !c[0])
		return;
	double n = (double)c[0], s = (double)c[1], k = 1;
	/* Per stack, as jeprof does: one global average size would be badly
	 * wrong for the object count when sizes mix. */
	if (l->period > 0) {
		double p = sampled_prob(s / n / l->period);
		if (p > 0)
			k = 1 / p;
	}
	l->contexts++;
	l->bytes += s * k;
	l->objs += n * k;
}

/* Nearest integer; huge estimates (tiny objects at a huge period) saturate. */
static unsigned long long round_u64(double v)
{
	return v >= 18446744073709549568.0 ? ~0ull : (unsigned long long)(v + 0.5);
}

static const char *plural(unsigned long long v)
{
	return v == 1 ? "" : "s";
}

uint64_t prof_leak_report(unsigned lg_sample, const char *dump_name)
{
	lg_sample = clamp_lg(lg_sample);
	leak_t l = { .period = lg_sample ? (double)(1ull << lg_sample) : 0 };
	prof_data_walk(leak_visit, &l);
	if (!l.raw_bytes)
		return 0;
	unsigned long long bytes = round_u64(l.bytes), objs = round_u64(l.objs);
	unsigned long long ctx = l.contexts;
	char exe[4096];
	int saved = errno;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	errno = saved;
	if (n > 0)
		exe[n] = '\0';
	else
		ebb_snprintf(exe, sizeof(exe), "<program>");
	char text[2 * 4096 + 1024];
	size_t len = ebb_snprintf(text, sizeof(text),
				  "<ebbmalloc>: Leak approximation summary: ~%llu byte%s, ~%llu object%s, "
				  ">= %llu context%s\n",
				  bytes, plural(bytes), objs, plural(objs), ctx, plural(ctx));
	if (dump_name)
		len += ebb_snprintf(text + len, sizeof(text) - len,
				    "<ebbmalloc>: Run jeprof on dump output for leak detail: jeprof --text %s %s\n",
				    exe, dump_name);
	else
		len += ebb_snprintf(text + len, sizeof(text) - len,
				    "<ebbmalloc>: No dump was written (prof_prefix is empty or cannot be written)\n");
	ebb_write_all(2, text, len);
	return bytes;
}
