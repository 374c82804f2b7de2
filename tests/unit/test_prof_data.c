/* Unit tests for src/prof_data.c and src/prof_dump.c: the stack table's
 * counts, the exact bytes of heap_v2 dumps, automatic file names, the leak
 * summary, and (when installed) jeprof reading a dump of this binary. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prof.h"

extern bool ebb_prof_accum;
extern char ebb_prof_prefix[];

static char dir[64];

static void bt_set(prof_bt_t *bt, unsigned depth, ...)
{
	va_list ap;
	va_start(ap, depth);
	bt->depth = depth;
	for (unsigned i = 0; i < depth; i++)
		bt->pc[i] = va_arg(ap, uintptr_t);
	va_end(ap);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n < 4096)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Entries of dir other than . and .., to see that no temp file is left. */
static int dir_entries(const char *d)
{
	DIR *dp = opendir(d);
	assert_non_null(dp);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

static void empty_dir(const char *d)
{
	DIR *dp = opendir(d);
	assert_non_null(dp);
	struct dirent *e;
	char p[512];
	while ((e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		if (unlink(p))
			rmdir(p);
	}
	closedir(dp);
}

static char *first_maps_line(void)
{
	char *m = slurp("/proc/self/maps", NULL);
	char *nl = strchr(m, '\n');
	nl[1] = '\0';
	return m;
}

/* Checks a dump: the header part (up to the first stack) exactly, the stack
 * blocks as a set, then one blank line, MAPPED_LIBRARIES: and the maps. */
static void check_dump(const char *path, const char *head, const char **blocks, int nblocks)
{
	char *text = slurp(path, NULL);
	char *m = strstr(text, "\nMAPPED_LIBRARIES:\n");
	assert_non_null(m);
	assert_true(m > text && m[-1] == '\n');
	assert_true(m - text < 2 || m[-2] != '\n');
	char *maps = m + strlen("\nMAPPED_LIBRARIES:\n");
	char *want_maps = first_maps_line();
	assert_memory_equal(maps, want_maps, strlen(want_maps));
	free(want_maps);
	*m = '\0';

	char *at = text[0] == '@' ? text : strstr(text, "\n@");
	if (at && at != text)
		at++;
	size_t hlen = at ? (size_t)(at - text) : strlen(text);
	assert_int_equal(hlen, strlen(head));
	assert_memory_equal(text, head, hlen);

	bool used[16] = { false };
	int found = 0;
	while (at) {
		char *next = strstr(at, "\n@");
		size_t blen = next ? (size_t)(next + 1 - at) : strlen(at);
		int match = -1;
		for (int i = 0; i < nblocks; i++)
			if (!used[i] && strlen(blocks[i]) == blen && !memcmp(blocks[i], at, blen))
				match = i;
		if (match < 0)
			fail_msg("unexpected block:\n%.*s", (int)blen, at);
		used[match] = true;
		found++;
		at = next ? next + 1 : NULL;
	}
	assert_int_equal(found, nblocks);
	free(text);
}

static void test_dump_counts(void **state)
{
	(void)state;
	prof_data_reset();
	ebb_prof_accum = false;
	umask(022);
	prof_bt_t a, b, c;
	bt_set(&a, 2, (uintptr_t)0x1000, (uintptr_t)0x2000);
	bt_set(&b, 3, (uintptr_t)0xabc, (uintptr_t)0xdef, (uintptr_t)0x123456789abcdef0ull);
	bt_set(&c, 1, (uintptr_t)0x5);

	prof_sample_t *a0[3], *a7[2], *b0, *c3;
	for (int i = 0; i < 3; i++)
		assert_non_null(a0[i] = prof_data_alloc(&a, 64, 0));
	for (int i = 0; i < 2; i++)
		assert_non_null(a7[i] = prof_data_alloc(&a, 128, 7));
	assert_non_null(b0 = prof_data_alloc(&b, 4096, 0));
	assert_non_null(c3 = prof_data_alloc(&c, 32, 3));
	assert_int_equal(prof_sample_usize(a7[1]), 128);
	assert_int_equal(prof_sample_usize(c3), 32);

	uint64_t objs, bytes, stacks;
	prof_data_totals(&objs, &bytes, &stacks);
	assert_int_equal(objs, 7);
	assert_int_equal(bytes, 3 * 64 + 2 * 128 + 4096 + 32);
	assert_int_equal(stacks, 3);

	prof_data_free(a0[1]);
	prof_data_free(c3);
	prof_data_totals(&objs, &bytes, &stacks);
	assert_int_equal(objs, 5);
	assert_int_equal(bytes, 4480);
	assert_int_equal(stacks, 2);

	char path[512];
	snprintf(path, sizeof(path), "%s/counts.heap", dir);
	assert_int_equal(prof_dump_to(path, 19), 0);
	/* uid 3 has nothing left but sampled since the reset: still listed. */
	const char *head = "heap_v2/524288\n"
			   "  t*: 5: 4480 [0: 0]\n"
			   "  t0: 3: 4224 [0: 0]\n"
			   "  t3: 0: 0 [0: 0]\n"
			   "  t7: 2: 256 [0: 0]\n";
	const char *blocks[] = {
		"@ 0x1000 0x2000\n"
		"  t*: 4: 384 [0: 0]\n"
		"  t0: 2: 128 [0: 0]\n"
		"  t7: 2: 256 [0: 0]\n",
		"@ 0xabc 0xdef 0x123456789abcdef0\n"
		"  t*: 1: 4096 [0: 0]\n"
		"  t0: 1: 4096 [0: 0]\n",
	};
	check_dump(path, head, blocks, 2);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(dir_entries(dir), 1);

	/* A stack whose last object goes away disappears from the dump. */
	prof_data_free(b0);
	assert_int_equal(prof_dump_to(path, 0), 0);
	const char *head1 = "heap_v2/1\n"
			    "  t*: 4: 384 [0: 0]\n"
			    "  t0: 2: 128 [0: 0]\n"
			    "  t3: 0: 0 [0: 0]\n"
			    "  t7: 2: 256 [0: 0]\n";
	check_dump(path, head1, blocks, 1);
	assert_int_equal(dir_entries(dir), 1);

	for (int i = 0; i < 3; i++)
		if (i != 1)
			prof_data_free(a0[i]);
	for (int i = 0; i < 2; i++)
		prof_data_free(a7[i]);
	prof_data_totals(&objs, &bytes, &stacks);
	assert_int_equal(objs + bytes + stacks, 0);
	empty_dir(dir);
}

static void test_dump_accum(void **state)
{
	(void)state;
	prof_data_reset();
	ebb_prof_accum = true;
	prof_bt_t a, b;
	bt_set(&a, 1, (uintptr_t)0xa0);
	bt_set(&b, 2, (uintptr_t)0xb0, (uintptr_t)0xb1);
	prof_sample_t *x = prof_data_alloc(&a, 64, 0);
	prof_sample_t *y = prof_data_alloc(&a, 64, 0);
	prof_sample_t *z = prof_data_alloc(&b, 100, 1);
	prof_sample_t *w = prof_data_alloc(&b, 28, 2);
	prof_data_free(x);
	prof_data_free(y);
	prof_data_free(w);
	char path[512];
	snprintf(path, sizeof(path), "%s/accum.heap", dir);
	assert_int_equal(prof_dump_to(path, 10), 0);
	const char *head = "heap_v2/1024\n"
			   "  t*: 1: 100 [4: 256]\n"
			   "  t0: 0: 0 [2: 128]\n"
			   "  t1: 1: 100 [1: 100]\n"
			   "  t2: 0: 0 [1: 28]\n";
	/* All freed, still shown: accumulated counts never go down. */
	const char *blocks[] = {
		"@ 0xa0\n"
		"  t*: 0: 0 [2: 128]\n"
		"  t0: 0: 0 [2: 128]\n",
		"@ 0xb0 0xb1\n"
		"  t*: 1: 100 [2: 128]\n"
		"  t1: 1: 100 [1: 100]\n"
		"  t2: 0: 0 [1: 28]\n",
	};
	check_dump(path, head, blocks, 2);
	ebb_prof_accum = false;
	prof_data_free(z);
	empty_dir(dir);
}

static void test_reset(void **state)
{
	(void)state;
	prof_data_reset();
	prof_bt_t a;
	bt_set(&a, 1, (uintptr_t)0x42);
	prof_sample_t *old = prof_data_alloc(&a, 4096, 5);
	prof_data_reset();
	uint64_t objs = 1, bytes = 1, stacks = 1;
	prof_data_totals(&objs, &bytes, &stacks);
	assert_int_equal(objs + bytes + stacks, 0);

	char path[512];
	snprintf(path, sizeof(path), "%s/reset.heap", dir);
	assert_int_equal(prof_dump_to(path, 19), 0);
	check_dump(path, "heap_v2/524288\n  t*: 0: 0 [0: 0]\n", NULL, 0);

	/* The old record stays readable and its free does not count. */
	assert_int_equal(prof_sample_usize(old), 4096);
	prof_sample_t *fresh = prof_data_alloc(&a, 64, 5);
	prof_data_free(old);
	prof_data_totals(&objs, &bytes, &stacks);
	assert_int_equal(objs, 1);
	assert_int_equal(bytes, 64);
	assert_int_equal(stacks, 1);
	assert_int_equal(prof_dump_to(path, 19), 0);
	const char *blocks[] = { "@ 0x42\n  t*: 1: 64 [0: 0]\n  t5: 1: 64 [0: 0]\n" };
	check_dump(path, "heap_v2/524288\n  t*: 1: 64 [0: 0]\n  t5: 1: 64 [0: 0]\n", blocks, 1);
	prof_data_free(fresh);
	/* Freed records are recycled, not leaked. */
	prof_sample_t *again = prof_data_alloc(&a, 64, 5);
	assert_ptr_equal(again, fresh);
	prof_data_free(again);
	empty_dir(dir);
}

static void test_many_stacks(void **state)
{
	(void)state;
	prof_data_reset();
	enum { N = 40000 };
	static prof_sample_t *rec[N];
	prof_bt_t bt;
	for (int i = 0; i < N; i++) {
		bt_set(&bt, 3, (uintptr_t)i, (uintptr_t)0x77, (uintptr_t)(i % 7));
		assert_non_null(rec[i] = prof_data_alloc(&bt, 16, (unsigned)i % 3));
	}
	/* Same stacks again: found, not duplicated. */
	for (int i = 0; i < N; i += 2) {
		bt_set(&bt, 3, (uintptr_t)i, (uintptr_t)0x77, (uintptr_t)(i % 7));
		prof_data_free(rec[i]);
		assert_non_null(rec[i] = prof_data_alloc(&bt, 48, (unsigned)i % 3));
	}
	uint64_t objs, bytes, stacks;
	prof_data_totals(&objs, &bytes, &stacks);
	assert_int_equal(objs, N);
	assert_int_equal(bytes, N / 2 * 16 + N / 2 * 48);
	assert_int_equal(stacks, N);
	char path[512];
	snprintf(path, sizeof(path), "%s/many.heap", dir);
	assert_int_equal(prof_dump_to(path, 0), 0);
	char *text = slurp(path, NULL);
	int ats = 0;
	for (char *p = text; (p = strstr(p, "\n@ ")); p++)
		ats++;
	assert_int_equal(ats, N);
	free(text);
	for (int i = 0; i < N; i++)
		prof_data_free(rec[i]);
	empty_dir(dir);
}

static void test_dump_errors(void **state)
{
	(void)state;
	assert_int_equal(prof_dump_to("/nonexistent-ebb-dir/x.heap", 0), -1);
	assert_int_equal(prof_dump_to("", 0), -1);
	/* The rename fails onto a non-empty directory: the temp file goes. */
	char sub[512], inner[600];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(inner, sizeof(inner), "%s/f", sub);
	close(open(inner, O_WRONLY | O_CREAT, 0644));
	assert_int_equal(prof_dump_to(sub, 0), -1);
	assert_int_equal(dir_entries(dir), 1);
	unlink(inner);
	rmdir(sub);
}

static void test_auto_names(void **state)
{
	(void)state;
	prof_data_reset();
	char name[512], want[512];
	int pid = getpid();
	snprintf(ebb_prof_prefix, 256, "%s/p", dir);
	static const struct {
		char kind;
		const char *suffix;
	} seq[] = { { 'm', "0.m0" }, { 'i', "1.i0" }, { 'm', "2.m1" }, { 'u', "3.u0" },
		    { 'f', "4.f" },  { 'i', "5.i1" }, { 'u', "6.u1" } };
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		if (i == 5) {
			/* Neither a bad kind nor an empty prefix uses a number. */
			assert_int_equal(prof_dump_auto('x', 0, name, sizeof(name)), -1);
			assert_int_equal(prof_dump_auto(0, 0, name, sizeof(name)), -1);
			char saved = ebb_prof_prefix[0];
			ebb_prof_prefix[0] = '\0';
			name[0] = '\0';
			assert_int_equal(prof_dump_auto('m', 0, name, sizeof(name)), -1);
			assert_string_equal(name, "");
			assert_int_equal(dir_entries(dir), 5);
			ebb_prof_prefix[0] = saved;
		}
		assert_int_equal(prof_dump_auto(seq[i].kind, 0, name, sizeof(name)), 0);
		snprintf(want, sizeof(want), "%s/p.%d.%s.heap", dir, pid, seq[i].suffix);
		assert_string_equal(name, want);
		assert_int_equal(access(want, R_OK), 0);
	}
	assert_int_equal(dir_entries(dir), 7);
	/* name_out is optional, and a short one is cut, not overrun. */
	assert_int_equal(prof_dump_auto('m', 0, NULL, 0), 0);
	char small[8];
	memset(small, 'z', sizeof(small));
	assert_int_equal(prof_dump_auto('m', 0, small, 5), 0);
	assert_memory_equal(small, dir, 4);
	assert_int_equal(small[4], '\0');
	assert_int_equal(small[5], 'z');
	snprintf(want, sizeof(want), "%s/p.%d.8.m3.heap", dir, pid);
	assert_int_equal(access(want, R_OK), 0);
	strcpy(ebb_prof_prefix, "jeprof");
	empty_dir(dir);
}

/* Runs the leak report with stderr captured. */
static uint64_t leak(unsigned lg, const char *dump_name, char *out, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/stderr", dir);
	fflush(stderr);
	int saved = dup(2);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 2);
	uint64_t r = prof_leak_report(lg, dump_name);
	dup2(saved, 2);
	close(saved);
	close(fd);
	char *text = slurp(path, NULL);
	snprintf(out, cap, "%s", text);
	free(text);
	unlink(path);
	return r;
}

static void exe_path(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	assert_true(n > 0);
	buf[n] = '\0';
}

static void test_leak_exact(void **state)
{
	(void)state;
	char out[8192], want[8192], exe[4096];
	exe_path(exe, sizeof(exe));
	prof_data_reset();
	assert_int_equal(leak(0, "x.heap", out, sizeof(out)), 0);
	assert_string_equal(out, "");

	prof_bt_t a, b;
	bt_set(&a, 1, (uintptr_t)0x10);
	bt_set(&b, 1, (uintptr_t)0x20);
	prof_sample_t *r[4];
	for (int i = 0; i < 3; i++)
		r[i] = prof_data_alloc(&a, 100, 0);
	r[3] = prof_data_alloc(&b, 1000, 1);
	assert_int_equal(leak(0, "jeprof.1.0.f.heap", out, sizeof(out)), 1300);
	snprintf(want, sizeof(want),
		 "<ebbmalloc>: Leak approximation summary: ~1300 bytes, ~4 objects, >= 2 contexts\n"
		 "<ebbmalloc>: Run jeprof on dump output for leak detail: jeprof --text %s jeprof.1.0.f.heap\n",
		 exe);
	assert_string_equal(out, want);
	for (int i = 0; i < 4; i++)
		prof_data_free(r[i]);
	assert_int_equal(leak(0, "x.heap", out, sizeof(out)), 0);
	assert_string_equal(out, "");

	/* Singulars, and no dump name. */
	prof_sample_t *one = prof_data_alloc(&a, 1, 0);
	assert_int_equal(leak(0, NULL, out, sizeof(out)), 1);
	assert_string_equal(out, "<ebbmalloc>: Leak approximation summary: ~1 byte, ~1 object, >= 1 context\n"
				 "<ebbmalloc>: No dump was written (prof_prefix is empty or cannot be written)\n");
	prof_data_free(one);
}

/* libm's exp and expm1 as the reference, looked up at run time because the
 * unit tests are linked without -lm (and the library must not need it). */
static double (*libm_exp)(double), (*libm_expm1)(double);

static void load_libm(void)
{
	if (libm_exp)
		return;
	void *h = dlopen("libm.so.6", RTLD_NOW);
	assert_non_null(h);
	*(void **)&libm_exp = dlsym(h, "exp");
	*(void **)&libm_expm1 = dlsym(h, "expm1");
	assert_non_null(libm_exp);
	assert_non_null(libm_expm1);
}

/* jeprof's per-stack scaling, as the brief states it. */
static double est(double n, double s, double period)
{
	return s / (1 - libm_exp(-(s / n) / period));
}

/* The same without the cancellation of 1 - exp(-tiny). */
static double est_m1(double n, double s, double period)
{
	return s / -libm_expm1(-(s / n) / period);
}

static unsigned long long round_ull(double v)
{
	return (unsigned long long)(v + 0.5);
}

static void test_leak_sampled(void **state)
{
	(void)state;
	char out[8192], want[8192], exe[4096];
	exe_path(exe, sizeof(exe));
	load_libm();
	prof_data_reset();
	const double R = 524288;
	prof_bt_t a, b, c;
	bt_set(&a, 1, (uintptr_t)0x10);
	bt_set(&b, 2, (uintptr_t)0x20, (uintptr_t)0x21);
	bt_set(&c, 1, (uintptr_t)0x30);
	prof_sample_t *r[14];
	int k = 0;
	for (int i = 0; i < 10; i++)
		r[k++] = prof_data_alloc(&a, 64, 0);
	for (int i = 0; i < 3; i++)
		r[k++] = prof_data_alloc(&b, 1 << 20, 1);
	r[k++] = prof_data_alloc(&c, 300000, 0);
	/* Per stack: a global average would give ~14 objects. */
	double bytes = est(10, 640, R) + est(3, 3 << 20, R) + est(1, 300000, R);
	double objs = est(10, 640, R) / 64 + est(3, 3 << 20, R) / (1 << 20) + est(1, 300000, R) / 300000;
	unsigned long long wb = round_ull(bytes), wo = round_ull(objs);
	assert_int_equal(leak(19, "d.heap", out, sizeof(out)), wb);
	snprintf(want, sizeof(want),
		 "<ebbmalloc>: Leak approximation summary: ~%llu bytes, ~%llu objects, >= 3 contexts\n"
		 "<ebbmalloc>: Run jeprof on dump output for leak detail: jeprof --text %s d.heap\n",
		 wb, wo, exe);
	assert_string_equal(out, want);
	assert_true(wo > 8000);
	for (int i = 0; i < k; i++)
		prof_data_free(r[i]);

	/* The home-made exp against libm's, from tiny to huge ratios. */
	prof_bt_t z;
	bt_set(&z, 1, (uintptr_t)0x99);
	for (unsigned lg = 1; lg < 64; lg += 3) {
		for (int e = 0; e < 44; e += 3) {
			for (uint64_t n = 1; n <= 3; n++) {
				uint64_t s = ((uint64_t)1 << e) + (uint64_t)e * 7;
				prof_sample_t *q[3];
				for (uint64_t i = 0; i < n; i++)
					q[i] = prof_data_alloc(&z, s, 0);
				double p = (double)((uint64_t)1 << lg);
				double x = est_m1((double)n, (double)(n * s), p);
				uint64_t got = leak(lg, "d", out, sizeof(out));
				double d = (double)got - x;
				if (d < 0)
					d = -d;
				if (d > 0.5 + x * 1e-13)
					fail_msg("lg %u s %llu n %llu: %llu vs %.3f", lg, (unsigned long long)s,
						 (unsigned long long)n, (unsigned long long)got, x);
				for (uint64_t i = 0; i < n; i++)
					prof_data_free(q[i]);
			}
		}
	}
}

/* Two functions of this binary to stand for call sites in a fake stack. The
 * asm keeps them distinct (no identical-code folding) and not inlined. */
__attribute__((noinline)) int jp_alpha(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 3 + 1;
}

__attribute__((noinline)) int jp_beta(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 5 + 2;
}

__attribute__((noinline)) int jp_gamma(int x)
{
	__asm__ volatile("" : "+r"(x));
	return jp_alpha(x) + jp_beta(x) * 7;
}

/* jeprof's flat and cumulative bytes for a function, from --text --show_bytes
 * rows: "flat flat% sum% cum cum% name". */
static bool jeprof_row(char *text, const char *fn, long long *flat, long long *cum)
{
	char name[256];
	double p1, p2, p3;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (sscanf(line, "%lld %lf%% %lf%% %lld %lf%% %255s", flat, &p1, &p2, cum, &p3, name) == 6 &&
		    !strcmp(name, fn))
			return true;
	return false;
}

static void test_jeprof(void **state)
{
	(void)state;
	if (access("/usr/bin/jeprof", X_OK) || access("/usr/bin/addr2line", X_OK)) {
		printf("jeprof not installed: skipped\n");
		skip();
	}
	prof_data_reset();
	prof_bt_t a, b;
	/* Leaf first; jeprof keeps frame 0 and takes 1 from the others, so +1
	 * on every frame lands inside each function either way. */
	bt_set(&a, 2, (uintptr_t)jp_alpha + 1, (uintptr_t)jp_gamma + 1);
	bt_set(&b, 2, (uintptr_t)jp_beta + 1, (uintptr_t)jp_gamma + 1);
	prof_sample_t *r[5];
	for (int i = 0; i < 3; i++)
		r[i] = prof_data_alloc(&a, 1000, 0);
	for (int i = 3; i < 5; i++)
		r[i] = prof_data_alloc(&b, 500, 1);
	char path[512], exe[4096], cmd[5000];
	snprintf(path, sizeof(path), "%s/jeprof.heap", dir);
	assert_int_equal(prof_dump_to(path, 0), 0);
	exe_path(exe, sizeof(exe));
	snprintf(cmd, sizeof(cmd), "jeprof --text --show_bytes '%s' '%s' 2>/dev/null", exe, path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	static char text[1 << 16];
	size_t n = fread(text, 1, sizeof(text) - 1, p);
	text[n] = '\0';
	assert_int_equal(pclose(p), 0);
	if (!strstr(text, "Total: 4000 B"))
		fail_msg("jeprof said:\n%s", text);
	static const struct {
		const char *fn;
		long long flat, cum;
	} want[] = { { "jp_alpha", 3000, 3000 }, { "jp_beta", 1000, 1000 }, { "jp_gamma", 0, 4000 } };
	static char copy[sizeof(text)];
	for (int i = 0; i < 3; i++) {
		long long flat, cum;
		strcpy(copy, text);
		if (!jeprof_row(copy, want[i].fn, &flat, &cum))
			fail_msg("no %s in:\n%s", want[i].fn, text);
		assert_int_equal(flat, want[i].flat);
		assert_int_equal(cum, want[i].cum);
	}
	for (int i = 0; i < 5; i++)
		prof_data_free(r[i]);
	empty_dir(dir);
}

static void test_fork_hooks(void **state)
{
	(void)state;
	prof_data_fork_prepare();
	prof_data_fork_parent();
	prof_data_fork_prepare();
	prof_data_fork_child();
	uint64_t objs;
	prof_data_totals(&objs, NULL, NULL);
	assert_int_equal(objs, 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ebb_prof_XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	empty_dir(dir);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_counts), cmocka_unit_test(test_dump_accum),
		cmocka_unit_test(test_reset),	    cmocka_unit_test(test_many_stacks),
		cmocka_unit_test(test_dump_errors), cmocka_unit_test(test_auto_names),
		cmocka_unit_test(test_leak_exact),  cmocka_unit_test(test_leak_sampled),
		cmocka_unit_test(test_jeprof),	    cmocka_unit_test(test_fork_hooks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
