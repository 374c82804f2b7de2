/* Unit tests for src/config.c. Build:
 *   gcc -std=gnu11 -Wall -Wextra -Werror -Isrc -Iinclude tests/unit/test_config.c \
 *       src/config.c src/msg.c -lcmocka -o /tmp/test_config && /tmp/test_config */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

extern char **environ;

#define PFX "<ebbmalloc>: "
#define SRC "EBBMALLOC_CONF"

/* Counting malloc: config.c runs inside malloc, so it must never call it.
 * glibc's __libc_* entry points keep the real allocator underneath. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile int counting, allocs;

void *malloc(size_t n)
{
	allocs += counting;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	allocs += counting;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	allocs += counting;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}

/* stderr capture: fd 2 goes to an unlinked temp file until capture_end. */
static int cap_fd = -1, saved_fd = -1;
static char out[65536];

static void capture_start(void)
{
	char path[] = "/tmp/test_config.XXXXXX";
	fflush(stderr);
	cap_fd = mkstemp(path);
	assert_true(cap_fd >= 0);
	unlink(path);
	saved_fd = dup(2);
	assert_true(saved_fd >= 0);
	assert_int_equal(dup2(cap_fd, 2), 2);
}

static const char *capture_end(void)
{
	size_t len = 0;
	ssize_t r;
	dup2(saved_fd, 2);
	close(saved_fd);
	lseek(cap_fd, 0, SEEK_SET);
	while (len < sizeof(out) - 1 && (r = read(cap_fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	close(cap_fd);
	return out;
}

/* Number of lines; fails unless each is prefixed and newline-terminated. */
static int lines(const char *s)
{
	int n = 0;
	while (*s) {
		if (strncmp(s, PFX, strlen(PFX)))
			fail_msg("line without \"" PFX "\": %s", s);
		const char *nl = strchr(s, '\n');
		if (!nl)
			fail_msg("unterminated line: %s", s);
		s = nl + 1;
		n++;
	}
	return n;
}

static int errs;

/* Parses text from defaults; returns stderr and leaves the error count in errs. */
static const char *parse_fresh(const char *text)
{
	conf_defaults();
	capture_start();
	errs = conf_parse(text, SRC);
	return capture_end();
}

/* text must be accepted silently. */
static void ok(const char *text)
{
	const char *o = parse_fresh(text);
	if (errs || *o)
		fail_msg("\"%s\": %d errors, output: %s", text, errs, o);
}

/* text must give exactly one warning line containing want. */
static void warns(const char *text, const char *want)
{
	const char *o = parse_fresh(text);
	assert_int_equal(errs, 1);
	assert_int_equal(lines(o), 1);
	if (!strstr(o, want))
		fail_msg("\"%s\": wanted \"%s\" in: %s", text, want, o);
}

static ebb_options_t defaults(void)
{
	conf_defaults();
	return ebb_opt;
}

static void assert_opt_equal(const ebb_options_t *a, const ebb_options_t *b)
{
	assert_int_equal(a->narenas, b->narenas);
	assert_int_equal(a->tcache, b->tcache);
	assert_int_equal(a->tcache_max, b->tcache_max);
	assert_int_equal(a->stats_print, b->stats_print);
	assert_int_equal(a->abort_conf, b->abort_conf);
	assert_int_equal(a->verbose, b->verbose);
	assert_string_equal(a->cgroup_root, b->cgroup_root);
	assert_int_equal(a->dirty_decay_ms, b->dirty_decay_ms);
	assert_int_equal(a->background_thread, b->background_thread);
	assert_int_equal(a->purge, b->purge);
	assert_int_equal(a->retain_regions, b->retain_regions);
	assert_int_equal(a->cgroup_memory, b->cgroup_memory);
}

static void test_defaults(void **state)
{
	(void)state;
	ebb_opt.narenas = 9;
	ebb_opt.tcache = false;
	ebb_opt.tcache_max = 1;
	ebb_opt.stats_print = ebb_opt.abort_conf = ebb_opt.verbose = true;
	strcpy(ebb_opt.cgroup_root, "/elsewhere");
	conf_defaults();
	assert_int_equal(ebb_opt.narenas, 0);
	assert_true(ebb_opt.tcache);
	assert_int_equal(ebb_opt.tcache_max, 32768);
	assert_false(ebb_opt.stats_print);
	assert_false(ebb_opt.abort_conf);
	assert_false(ebb_opt.verbose);
	assert_string_equal(ebb_opt.cgroup_root, "/sys/fs/cgroup");
	assert_int_equal(ebb_opt.dirty_decay_ms, 1000);
	assert_true(ebb_opt.background_thread);
	assert_int_equal(ebb_opt.purge, PURGE_DONTNEED);
	assert_int_equal(ebb_opt.retain_regions, 1);
	assert_true(ebb_opt.cgroup_memory);
}

/* Milliseconds: -1 is "never", nothing else below 0. */
static void test_ms(void **state)
{
	(void)state;
	ebb_options_t d = defaults();
	ok("dirty_decay_ms:0");
	assert_int_equal(ebb_opt.dirty_decay_ms, 0);
	ok("dirty_decay_ms:-1");
	assert_int_equal(ebb_opt.dirty_decay_ms, -1);
	ok("dirty_decay_ms:3600000");
	assert_int_equal(ebb_opt.dirty_decay_ms, 3600000);
	const char *bad[] = { "-2", "-", "3600001", "1s", "", "--1", "+5" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf_defaults();
		char text[64];
		snprintf(text, sizeof(text), "dirty_decay_ms:%s", bad[i]);
		capture_start();
		assert_int_equal(conf_parse(text, SRC), 1);
		assert_non_null(strstr(capture_end(), "for option \"dirty_decay_ms\""));
		assert_opt_equal(&ebb_opt, &d);
	}
}

/* A choice takes one of its listed words, exactly. */
/* MALLOC_CONF is jemalloc's: only the profiling keys are ours, the rest is
 * ignored without a word; EBBMALLOC_CONF, read after it, wins. */
static void test_malloc_conf(void **state)
{
	(void)state;
	ebb_options_t d = defaults();
	capture_start();
	assert_int_equal(conf_parse_prof_only("narenas:7,prof:true,lg_prof_sample:0,background_thread:false,"
					      "prof_prefix:/tmp/x,bogus:1,oops", SRC), 0);
	assert_string_equal(capture_end(), "");
	assert_true(ebb_opt.prof);
	assert_int_equal(ebb_opt.lg_prof_sample, 0);
	assert_string_equal(ebb_opt.prof_prefix, "/tmp/x");
	assert_int_equal(ebb_opt.narenas, d.narenas);
	assert_int_equal(ebb_opt.background_thread, d.background_thread);
	/* A bad value of one of ours still warns. */
	capture_start();
	assert_int_equal(conf_parse_prof_only("lg_prof_sample:99", SRC), 1);
	assert_non_null(strstr(capture_end(), "lg_prof_sample"));
	/* prof_leak alone turns on prof and the final dump. */
	setenv("MALLOC_CONF", "prof_leak:true,lg_prof_sample:3", 1);
	setenv("EBBMALLOC_CONF", "lg_prof_sample:5", 1);
	conf_init();
	unsetenv("MALLOC_CONF");
	unsetenv("EBBMALLOC_CONF");
	assert_true(ebb_opt.prof && ebb_opt.prof_final && ebb_opt.prof_leak);
	assert_int_equal(ebb_opt.lg_prof_sample, 5);
	conf_defaults();
}

/* prof_unwind: the cached DWARF walker by default; the older names still
 * parse; libunwind only in a build that has it. */
static void test_prof_unwind(void **state)
{
	(void)state;
	conf_defaults();
	assert_int_equal(ebb_opt.prof_unwind, PROF_UNWIND_DWARF);
	ok("prof_unwind:libgcc");
	assert_int_equal(ebb_opt.prof_unwind, PROF_UNWIND_LIBGCC);
	ok("prof_unwind:fp");
	assert_int_equal(ebb_opt.prof_unwind, PROF_UNWIND_FP);
	ok("prof_unwind:dwarf");
	assert_int_equal(ebb_opt.prof_unwind, PROF_UNWIND_DWARF);
	capture_start();
#ifdef EBB_LIBUNWIND
	assert_int_equal(conf_parse("prof_unwind:libunwind", SRC), 0);
	assert_string_equal(capture_end(), "");
	assert_int_equal(ebb_opt.prof_unwind, PROF_UNWIND_LIBUNWIND);
#else
	assert_int_equal(conf_parse("prof_unwind:libunwind", SRC), 1);
	assert_non_null(strstr(capture_end(), "(expected one of libgcc|fp|dwarf)"));
	assert_int_equal(ebb_opt.prof_unwind, PROF_UNWIND_DWARF);
#endif
	conf_defaults();
}

static void test_choice(void **state)
{
	(void)state;
	ebb_options_t d = defaults();
	ok("purge:free");
	assert_int_equal(ebb_opt.purge, PURGE_FREE);
	ok("purge:dontneed");
	assert_int_equal(ebb_opt.purge, PURGE_DONTNEED);
	const char *bad[] = { "FREE", "fre", "dontneed|free", "", "free:" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf_defaults();
		char text[64];
		snprintf(text, sizeof(text), "purge:%s", bad[i]);
		capture_start();
		assert_int_equal(conf_parse(text, SRC), 1);
		assert_non_null(strstr(capture_end(), "(expected one of dontneed|free)"));
		assert_opt_equal(&ebb_opt, &d);
	}
}

static void test_empty(void **state)
{
	(void)state;
	ebb_options_t d = defaults();
	const char *empties[] = { "", " ", ",", ",,,", " , ", "\t" };
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		ok(empties[i]);
		assert_opt_equal(&ebb_opt, &d);
	}
	conf_defaults();
	assert_int_equal(conf_parse(NULL, SRC), 0);
	assert_opt_equal(&ebb_opt, &d);
}

static void test_bool(void **state)
{
	(void)state;
	static const char *const t[] = { "true", "1", "yes", "on", "TRUE", "On" };
	static const char *const f[] = { "false", "0", "no", "off", "False", "NO" };
	char buf[64];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(buf, sizeof(buf), "tcache:%s", f[i]);
		ok(buf);
		assert_false(ebb_opt.tcache);
		snprintf(buf, sizeof(buf), "stats_print:%s", t[i]);
		ok(buf);
		assert_true(ebb_opt.stats_print);
		snprintf(buf, sizeof(buf), "verbose:%s", t[i]);
		ok(buf);
		assert_true(ebb_opt.verbose);
		snprintf(buf, sizeof(buf), "abort_conf:%s", t[i]);
		ok(buf);
		assert_true(ebb_opt.abort_conf);
	}
	/* The bad one must not change the good one before it. */
	static const char *const bad[] = { "", "2", "tru", "truex", "yess", "-1", "null", " " };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "stats_print:true,stats_print:%s", bad[i]);
		warns(buf, "bad value");
		assert_true(ebb_opt.stats_print);
		snprintf(buf, sizeof(buf), "tcache:%s", bad[i]);
		warns(buf, "for option \"tcache\"");
		assert_true(ebb_opt.tcache);
	}
}

static void test_unsigned(void **state)
{
	(void)state;
	ok("narenas:0");
	assert_int_equal(ebb_opt.narenas, 0);
	ok("narenas:1");
	assert_int_equal(ebb_opt.narenas, 1);
	ok("narenas:17");
	assert_int_equal(ebb_opt.narenas, 17);
	ok("narenas:1024");
	assert_int_equal(ebb_opt.narenas, 1024);
	ok("narenas:007");
	assert_int_equal(ebb_opt.narenas, 7);

	/* 4294967301 and 2^64+3 wrap to 5 and 3: in range if overflow went unseen. */
	static const char *const bad[] = {
		"1025", "-1", "+1", "1k", "abc", "", "0x10", "1 2", "1.5", "4294967301",
		"18446744073709551619", "99999999999999999999999999",
	};
	char buf[128];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "narenas:%s", bad[i]);
		warns(buf, "for option \"narenas\"");
		assert_int_equal(ebb_opt.narenas, 0);
		snprintf(buf, sizeof(buf), "narenas:12,narenas:%s", bad[i]);
		warns(buf, "bad value");
		assert_int_equal(ebb_opt.narenas, 12);
	}
	warns("narenas:xyz", SRC ": bad value \"xyz\" for option \"narenas\"");
}

static void test_size(void **state)
{
	(void)state;
	static const struct { const char *v; size_t want; } good[] = {
		{ "0", 0 }, { "1", 1 }, { "4096", 4096 }, { "32768", 32768 },
		{ "32k", 32768 }, { "32K", 32768 }, { "32KiB", 32768 }, { "1k", 1024 }, { "31K", 31744 },
		{ "0k", 0 }, { "0M", 0 }, { "0MiB", 0 }, { "0m", 0 }, { "0G", 0 }, { "0g", 0 }, { "0GiB", 0 },
	};
	char buf[128];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "tcache_max:%s", good[i].v);
		ok(buf);
		assert_int_equal(ebb_opt.tcache_max, good[i].want);
	}
	/* tcache_max stops at 32 KiB, so M and G show only as too large here. */
	static const char *const bad[] = {
		"32769", "33k", "1M", "1m", "1MiB", "1G", "1g", "1GiB", "1T", "1kb", "1KB", "1kib",
		"k", "", "-1", "1 k", "0x100", "12x",
		"18446744073709551621",		/* 2^64+5: wraps to 5 */
		"18014398509481984k",		/* 2^54 KiB: wraps to 0 */
		"17592186044416M",		/* 2^44 MiB: wraps to 0 */
		"17179869184G",			/* 2^34 GiB: wraps to 0 */
		"17179869184GiB",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "tcache_max:100,tcache_max:%s", bad[i]);
		warns(buf, "for option \"tcache_max\"");
		assert_int_equal(ebb_opt.tcache_max, 100);
	}
}

static void test_path(void **state)
{
	(void)state;
	ok("cgroup_root:/tmp/fake-cgroup");
	assert_string_equal(ebb_opt.cgroup_root, "/tmp/fake-cgroup");
	ok("cgroup_root:/");
	assert_string_equal(ebb_opt.cgroup_root, "/");
	ok("cgroup_root:/a:b");		/* the value runs to the next comma */
	assert_string_equal(ebb_opt.cgroup_root, "/a:b");

	char buf[600], path[300];
	memset(path, 'x', sizeof(path));
	path[0] = '/';
	path[sizeof(ebb_opt.cgroup_root) - 1] = '\0';	/* 255 bytes: fits */
	snprintf(buf, sizeof(buf), "cgroup_root:%s", path);
	ok(buf);
	assert_string_equal(ebb_opt.cgroup_root, path);
	path[sizeof(ebb_opt.cgroup_root) - 1] = 'y';
	path[sizeof(ebb_opt.cgroup_root)] = '\0';	/* 256: does not */
	snprintf(buf, sizeof(buf), "cgroup_root:/keep,cgroup_root:%s", path);
	warns(buf, "for option \"cgroup_root\"");
	assert_string_equal(ebb_opt.cgroup_root, "/keep");

	static const char *const bad[] = { "", "relative/dir", "sys/fs/cgroup", "~/x", "./x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "cgroup_root:%s", bad[i]);
		warns(buf, "for option \"cgroup_root\"");
		assert_string_equal(ebb_opt.cgroup_root, "/sys/fs/cgroup");
	}
}

static void test_multiple(void **state)
{
	(void)state;
	ok("narenas:4,tcache:false,tcache_max:1k,stats_print:true,verbose:on,cgroup_root:/cg,abort_conf:yes");
	assert_int_equal(ebb_opt.narenas, 4);
	assert_false(ebb_opt.tcache);
	assert_int_equal(ebb_opt.tcache_max, 1024);
	assert_true(ebb_opt.stats_print);
	assert_true(ebb_opt.verbose);
	assert_string_equal(ebb_opt.cgroup_root, "/cg");
	assert_true(ebb_opt.abort_conf);
	ok("narenas:1,narenas:2");	/* the last one wins */
	assert_int_equal(ebb_opt.narenas, 2);
	ok(" narenas : 3 ,\ttcache:false ");	/* lenient about blanks */
	assert_int_equal(ebb_opt.narenas, 3);
	assert_false(ebb_opt.tcache);
	ok("narenas:5,");
	assert_int_equal(ebb_opt.narenas, 5);

	/* Errors count separately and do not stop the options around them. */
	const char *o = parse_fresh("narenas:6,foo:1,tcache:maybe,junk,tcache_max:2k");
	assert_int_equal(errs, 3);
	assert_int_equal(lines(o), 3);
	assert_int_equal(ebb_opt.narenas, 6);
	assert_true(ebb_opt.tcache);
	assert_int_equal(ebb_opt.tcache_max, 2048);
}

static void test_unknown(void **state)
{
	(void)state;
	ebb_options_t d = defaults();
	static const char *const keys[] = { "foo", "NARENAS", "narena", "narenasx", "tcache_max_", "opt.narenas" };
	char buf[128], want[128];
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(buf, sizeof(buf), "%s:1", keys[i]);
		snprintf(want, sizeof(want), PFX SRC ": unknown option \"%s\"\n", keys[i]);
		const char *o = parse_fresh(buf);
		assert_int_equal(errs, 1);
		assert_string_equal(o, want);
		assert_opt_equal(&ebb_opt, &d);
	}
}

static void test_malformed(void **state)
{
	(void)state;
	ebb_options_t d = defaults();
	static const char *const segs[] = { "narenas", "narenas=3", ":3", " :3", "tcache false" };
	char buf[128];
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		warns(segs[i], SRC ": malformed option \"");
		assert_opt_equal(&ebb_opt, &d);
		snprintf(buf, sizeof(buf), "tcache:false,%s,narenas:2", segs[i]);
		warns(buf, "malformed");
		assert_false(ebb_opt.tcache);
		assert_int_equal(ebb_opt.narenas, 2);
	}
	const char *o = parse_fresh("narenas=3");
	assert_string_equal(o, PFX SRC ": malformed option \"narenas=3\" (expected key:value)\n");
}

static void test_messages(void **state)
{
	(void)state;
	static const char want[] = PFX SRC ": unknown option \"foo\"\n"
		PFX SRC ": bad value \"xyz\" for option \"narenas\"";
	const char *o = parse_fresh("foo:1,narenas:xyz");
	assert_int_equal(lines(o), 2);
	if (strncmp(o, want, strlen(want)))
		fail_msg("got: %s", o);

	conf_defaults();
	capture_start();
	assert_int_equal(conf_parse("foo:1", "my-source"), 1);
	assert_string_equal(capture_end(), PFX "my-source: unknown option \"foo\"\n");

	/* A huge value stays one bounded line that still names the option. */
	static char big[5000];
	memcpy(big, "narenas:", 8);
	memset(big + 8, '9', sizeof(big) - 9);
	o = parse_fresh(big);
	assert_int_equal(lines(o), 1);
	assert_true(strlen(o) < 512);
	assert_non_null(strstr(o, "...\" for option \"narenas\""));
	/* Control bytes cannot split the message. */
	warns("narenas:1\n2\n3", "for option \"narenas\"");
	warns("fo\no:1", "unknown option");
}

/* Runs conf_parse(text) in a child; returns its wait status and its stderr in out. */
static int run_child(const char *text)
{
	capture_start();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);
		signal(SIGABRT, SIG_DFL);
		conf_defaults();
		_exit(conf_parse(text, SRC));
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	capture_end();
	return st;
}

static void assert_aborts(const char *text, const char *want)
{
	int st = run_child(text);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
		fail_msg("\"%s\" did not abort (status %#x)", text, st);
	lines(out);
	if (!strstr(out, want))
		fail_msg("\"%s\": wanted \"%s\" before abort, got: %s", text, want, out);
}

static void test_abort_conf(void **state)
{
	(void)state;
	assert_aborts("abort_conf:true,foo:1", PFX SRC ": unknown option \"foo\"");
	assert_aborts("abort_conf:true,narenas:xyz", "bad value \"xyz\"");
	assert_aborts("abort_conf:1,junk", "malformed option \"junk\"");
	assert_aborts("abort_conf:true,tcache_max:1M", "for option \"tcache_max\"");
	/* jemalloc aborts when abort_conf comes after the mistake, too. */
	assert_aborts("foo:1,abort_conf:true", "unknown option \"foo\"");
	/* The message comes first and alone for the immediate case. */
	run_child("abort_conf:true,foo:1,bar:2");
	assert_string_equal(out, PFX SRC ": unknown option \"foo\"\n");

	/* Controls: without abort_conf, or without errors, the child exits. */
	int st = run_child("abort_conf:false,foo:1,bar:2");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
	st = run_child("abort_conf:true,narenas:2");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_string_equal(out, "");
	st = run_child("foo:1,abort_conf:maybe");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
}

static void test_getenv(void **state)
{
	(void)state;
	assert_int_equal(setenv("EBB_TEST_VAR", "hello,world:1", 1), 0);
	assert_int_equal(setenv("EBB_TEST_VARX", "wrong", 1), 0);
	assert_int_equal(setenv("XEBB_TEST_VAR", "wrong", 1), 0);
	const char *v = conf_getenv("EBB_TEST_VAR");
	assert_non_null(v);
	assert_string_equal(v, "hello,world:1");
	/* A copy: the caller may keep it while the environment changes. */
	assert_int_equal(setenv("EBB_TEST_VAR", "changed", 1), 0);
	assert_string_equal(v, "hello,world:1");
	assert_string_equal(conf_getenv("EBB_TEST_VAR"), "changed");

	assert_null(conf_getenv("EBB_TEST_ABSENT"));
	assert_null(conf_getenv("EBB_TEST_VA"));	/* prefix of a name */
	assert_null(conf_getenv(""));
	assert_null(conf_getenv("EBB_TEST_VAR=changed"));
	assert_int_equal(setenv("EBB_TEST_VAR", "", 1), 0);
	v = conf_getenv("EBB_TEST_VAR");
	assert_non_null(v);
	assert_string_equal(v, "");
	unsetenv("EBB_TEST_VAR");
	assert_null(conf_getenv("EBB_TEST_VAR"));

	/* Longer than the static copy: cut, not overflowed. */
	static char big[10000];
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(setenv("EBB_TEST_BIG", big, 1), 0);
	v = conf_getenv("EBB_TEST_BIG");
	assert_non_null(v);
	assert_true(strlen(v) >= 1024 && strlen(v) < sizeof(big) - 1);
	assert_memory_equal(v, big, strlen(v));
	unsetenv("EBB_TEST_BIG");
	unsetenv("EBB_TEST_VARX");
	unsetenv("XEBB_TEST_VAR");
}

/* With environ still NULL, conf_getenv reads /proc/self/environ, which only
 * holds the environment given at exec: so a re-executed child checks it. */
static int proc_environ_child(void)
{
	environ = NULL;
	const char *v = conf_getenv("EBB_PROC_VAR");
	if (!v || strcmp(v, "from-proc"))
		return 10;
	if (conf_getenv("EBB_PROC_VA") || conf_getenv("EBB_PROC_ABSENT") || conf_getenv("BB_PROC_VAR"))
		return 11;
	v = conf_getenv("EBB_PROC_EMPTY");
	if (!v || *v)
		return 12;
	conf_init();
	if (ebb_opt.narenas != 7 || ebb_opt.tcache)
		return 13;
	return 0;
}

static void test_getenv_proc(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char *argv[] = { "test_config", "--proc-environ-child", NULL };
		char *envp[] = { "A=1", "EBB_PROC_VA_=x", "EBB_PROC_VAR=from-proc", "EBB_PROC_EMPTY=",
			"EBBMALLOC_CONF=narenas:7,tcache:false", "Z=2", NULL };
		char exe[4096];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);	/* valgrind maps it to us */
		if (n <= 0)
			_exit(126);
		exe[n] = '\0';
		execve(exe, argv, envp);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_secure(void **state)
{
	(void)state;
	assert_false(conf_secure());	/* the test is not setuid */
}

static const char default_print[] =
	PFX "option narenas = 0\n"
	PFX "option tcache = true\n"
	PFX "option tcache_max = 32768\n"
	PFX "option stats_print = false\n"
	PFX "option abort_conf = false\n"
	PFX "option verbose = false\n"
	PFX "option cgroup_root = /sys/fs/cgroup\n"
	PFX "option dirty_decay_ms = 1000\n"
	PFX "option background_thread = true\n"
	PFX "option purge = dontneed\n"
	PFX "option retain_regions = 1\n"
	PFX "option cgroup_memory = true\n"
	PFX "option prof = false\n"
	PFX "option prof_active = true\n"
	PFX "option lg_prof_sample = 19\n"
	PFX "option prof_prefix = jeprof\n"
	PFX "option lg_prof_interval = -1\n"
	PFX "option prof_gdump = false\n"
	PFX "option prof_final = false\n"
	PFX "option prof_leak = false\n"
	PFX "option prof_leak_error = false\n"
	PFX "option prof_accum = false\n"
	PFX "option prof_signal = off\n"
	PFX "option prof_unwind = dwarf\n";

static void test_print(void **state)
{
	(void)state;
	conf_defaults();
	capture_start();
	conf_print();
	assert_string_equal(capture_end(), default_print);

	ok("narenas:12,tcache:off,tcache_max:2k,stats_print:1,verbose:yes,cgroup_root:/cg/x,"
	   "dirty_decay_ms:-1,background_thread:false,purge:free,retain_regions:0,cgroup_memory:no");
	capture_start();
	conf_print();
	assert_string_equal(capture_end(),
		PFX "option narenas = 12\n"
		PFX "option tcache = false\n"
		PFX "option tcache_max = 2048\n"
		PFX "option stats_print = true\n"
		PFX "option abort_conf = false\n"
		PFX "option verbose = true\n"
		PFX "option cgroup_root = /cg/x\n"
		PFX "option dirty_decay_ms = -1\n"
		PFX "option background_thread = false\n"
		PFX "option purge = free\n"
		PFX "option retain_regions = 0\n"
		PFX "option cgroup_memory = false\n"
		PFX "option prof = false\n"
		PFX "option prof_active = true\n"
		PFX "option lg_prof_sample = 19\n"
		PFX "option prof_prefix = jeprof\n"
		PFX "option lg_prof_interval = -1\n"
		PFX "option prof_gdump = false\n"
		PFX "option prof_final = false\n"
		PFX "option prof_leak = false\n"
		PFX "option prof_leak_error = false\n"
		PFX "option prof_accum = false\n"
		PFX "option prof_signal = off\n"
		PFX "option prof_unwind = dwarf\n");
}

static void init_with(const char *conf)
{
	if (conf)
		assert_int_equal(setenv("EBBMALLOC_CONF", conf, 1), 0);
	else
		unsetenv("EBBMALLOC_CONF");
	ebb_opt.narenas = 99;	/* conf_init must start from the defaults */
	capture_start();
	conf_init();
	capture_end();
	unsetenv("EBBMALLOC_CONF");
}

static void test_init(void **state)
{
	(void)state;
	ebb_options_t d = defaults();
	init_with(NULL);
	assert_opt_equal(&ebb_opt, &d);
	assert_string_equal(out, "");

	init_with("narenas:3,tcache_max:4k");
	assert_int_equal(ebb_opt.narenas, 3);
	assert_int_equal(ebb_opt.tcache_max, 4096);
	assert_string_equal(out, "");

	init_with("foo:1");
	assert_opt_equal(&ebb_opt, &d);
	assert_string_equal(out, PFX SRC ": unknown option \"foo\"\n");

	/* verbose prints every option, after the parse. */
	init_with("verbose:true,narenas:5");
	assert_int_equal(lines(out), 24);
	assert_non_null(strstr(out, PFX "option narenas = 5\n"));
	assert_non_null(strstr(out, PFX "option verbose = true\n"));
}

static void test_init_too_long(void **state)
{
	/* "narenas:1000" straddles the 4 KiB copy and would be cut to a valid
	 * "narenas:1": the partial option must be dropped instead. */
	(void)state;
	static char conf[6000];
	size_t n = 0;
	n += (size_t)snprintf(conf + n, sizeof(conf) - n, "narenas:5,");
	while (n + 13 <= 4086)
		n += (size_t)snprintf(conf + n, sizeof(conf) - n, "tcache:false,");
	while (n < 4086)
		conf[n++] = ',';
	snprintf(conf + n, sizeof(conf) - n, "narenas:1000");
	init_with(conf);
	assert_int_equal(ebb_opt.narenas, 5);
	assert_false(ebb_opt.tcache);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, PFX SRC ": longer than"));
}

static void test_no_malloc(void **state)
{
	(void)state;
	assert_int_equal(setenv("EBBMALLOC_CONF", "verbose:true,foo:1,narenas:x,junk,cgroup_root:rel", 1), 0);
	capture_start();
	allocs = 0;
	counting = 1;
	void *p = malloc(1);	/* proves the counter works */
	counting = 0;
	free(p);
	if (allocs != 1) {
		print_message("malloc is interposed (valgrind?): not counting\n");
		capture_end();
		unsetenv("EBBMALLOC_CONF");
		skip();
	}

	allocs = 0;
	counting = 1;
	conf_defaults();
	conf_parse("narenas:2,tcache:false,tcache_max:1k,foo:1,narenas:99999,bar,cgroup_root:/x", SRC);
	conf_print();
	conf_getenv("EBBMALLOC_CONF");
	conf_getenv("EBB_ABSENT");
	conf_secure();
	conf_init();
	char **env = environ;
	environ = NULL;
	conf_getenv("EBBMALLOC_CONF");
	conf_init();
	environ = env;
	counting = 0;
	capture_end();
	unsetenv("EBBMALLOC_CONF");
	assert_int_equal(allocs, 0);
	assert_true(lines(out) > 10);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--proc-environ-child"))
		return proc_environ_child();
	unsetenv("EBBMALLOC_CONF");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ms),
		cmocka_unit_test(test_choice), cmocka_unit_test(test_prof_unwind),
		cmocka_unit_test(test_malloc_conf),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_unsigned),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_multiple),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_abort_conf),
		cmocka_unit_test(test_getenv),
		cmocka_unit_test(test_getenv_proc),
		cmocka_unit_test(test_secure),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_init_too_long),
		cmocka_unit_test(test_no_malloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
