/* Run-time options. This runs inside the first malloc call, possibly before
 * libc has set up environ: nothing here may allocate, use stdio or locales,
 * or call getenv. Not thread-safe: the caller runs it once, under its lock. */
#include "config.h"

#include "msg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

ebb_options_t ebb_opt;

typedef enum {
	CONF_BOOL,	/* bool: true/false, 1/0, yes/no, on/off */
	CONF_UNSIGNED,	/* unsigned: decimal in [min, max] */
	CONF_SIZE,	/* size_t: decimal, optional k/M/G (1024-based) suffix, in [min, max] */
	CONF_STRING,	/* char[]: any text that fits with its NUL */
	CONF_PATH,	/* char[]: like CONF_STRING, but must start with '/' */
	CONF_MS,	/* long: milliseconds in [0, max], or -1 for never */
	CONF_CHOICE,	/* unsigned: index of the value in the '|'-separated help prefix */
} conf_type_t;

typedef struct {
	const char *name;
	conf_type_t type;
	void *field;
	size_t size;			/* sizeof field: catches a row whose type does not match it */
	unsigned long long min, max;	/* numbers only */
	const char *def;		/* default, as the user would write it */
	const char *help;
} conf_key_t;

/* The key is the field's name, so the two cannot drift apart. */
#define CONF_KEY(key, type, min, max, def, help) \
	{ #key, type, &ebb_opt.key, sizeof(ebb_opt.key), min, max, def, help }

/* The order of the choices is that of the PROF_UNWIND_* values. */
#ifdef EBB_LIBUNWIND
#define UNWIND_LIBUNWIND_CHOICE "|libunwind"
#define UNWIND_LIBUNWIND_HELP ", or libunwind's unw_backtrace"
#else
#define UNWIND_LIBUNWIND_CHOICE ""
#define UNWIND_LIBUNWIND_HELP ""
#endif

static const conf_key_t conf_keys[] = {
	CONF_KEY(narenas, CONF_UNSIGNED, 0, 1024, "0",
		"number of arenas; 0: CPUs in the affinity mask, capped by the cgroup cpu.max quota"),
	CONF_KEY(tcache, CONF_BOOL, 0, 0, "true",
		"per-thread caches of small blocks"),
	CONF_KEY(tcache_max, CONF_SIZE, 0, 32768, "32768",
		"largest request served from the thread cache"),
	CONF_KEY(stats_print, CONF_BOOL, 0, 0, "false",
		"print statistics to stderr at exit"),
	CONF_KEY(abort_conf, CONF_BOOL, 0, 0, "false",
		"abort() on a bad option instead of warning"),
	CONF_KEY(verbose, CONF_BOOL, 0, 0, "false",
		"print the effective options at start-up"),
	CONF_KEY(cgroup_root, CONF_PATH, 0, 0, "/sys/fs/cgroup",
		"where cgroup v2 is mounted"),
	CONF_KEY(dirty_decay_ms, CONF_MS, 0, 3600000, "1000",
		"free pages unused this long go back to the OS; 0 at once, -1 never"),
	CONF_KEY(background_thread, CONF_BOOL, 0, 0, "true",
		"a thread returns memory while the program is idle"),
	CONF_KEY(purge, CONF_CHOICE, 0, 1, "dontneed",
		"dontneed|free: madvise advice used to return pages"),
	CONF_KEY(retain_regions, CONF_UNSIGNED, 0, 1024, "1",
		"empty 4 MiB regions an arena keeps mapped (purged) for reuse"),
	CONF_KEY(cgroup_memory, CONF_BOOL, 0, 0, "true",
		"purge at once while the cgroup's memory use is near memory.high or memory.max"),
	CONF_KEY(prof, CONF_BOOL, 0, 0, "false",
		"sampled heap profiling"),
	CONF_KEY(prof_active, CONF_BOOL, 0, 0, "true",
		"sample from the start (ebb_prof_active switches it at run time)"),
	CONF_KEY(lg_prof_sample, CONF_UNSIGNED, 0, 62, "19",
		"mean bytes between samples, log2; 0 samples every allocation"),
	CONF_KEY(prof_prefix, CONF_STRING, 0, 0, "jeprof",
		"dump file prefix (may hold a directory); empty: no automatic dumps"),
	CONF_KEY(lg_prof_interval, CONF_MS, 0, 62, "-1",
		"dump every 2^value bytes allocated; -1 never"),
	CONF_KEY(prof_gdump, CONF_BOOL, 0, 0, "false",
		"dump when live memory reaches a new high-water mark (at most once a second)"),
	CONF_KEY(prof_final, CONF_BOOL, 0, 0, "false",
		"dump at exit"),
	CONF_KEY(prof_leak, CONF_BOOL, 0, 0, "false",
		"at exit, dump and print a leak summary (turns prof on)"),
	CONF_KEY(prof_leak_error, CONF_BOOL, 0, 0, "false",
		"like prof_leak, then exit with status 1 if anything leaked"),
	CONF_KEY(prof_accum, CONF_BOOL, 0, 0, "false",
		"also count every sampled allocation, freed or not"),
	CONF_KEY(prof_signal, CONF_CHOICE, 0, 0, "off",
		"off|SIGUSR1|SIGUSR2|SIGPROF|SIGURG: dump when this signal arrives"),
	CONF_KEY(prof_unwind, CONF_CHOICE, 0, 0, "dwarf",
		"libgcc|fp|dwarf" UNWIND_LIBUNWIND_CHOICE ": how backtraces are taken: DWARF unwind tables "
		"read by libgcc each time, frame pointers (needs them), DWARF rules cached per pc (falls back "
		"to libgcc)" UNWIND_LIBUNWIND_HELP),
};

#define NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

typedef struct {
	const char *p;
	size_t n;
} str_t;

static str_t str(const char *s)
{
	return (str_t){ s, strlen(s) };
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static str_t trim(str_t s)
{
	while (s.n && is_space(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_space(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool eq(str_t s, const char *lit)
{
	return s.n == strlen(lit) && !memcmp(s.p, lit, s.n);
}

/* ASCII only: strncasecmp consults the locale, which may not exist yet. */
static bool eq_nocase(str_t s, const char *lit)
{
	if (s.n != strlen(lit))
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != lit[i])
			return false;
	}
	return true;
}

/* Copies s for a message: bounded, so a huge value cannot push the option
 * name out of the line, and control bytes replaced so the line stays one. */
static const char *quote(char *buf, size_t cap, str_t s)
{
	size_t lim = cap - 4, n = 0;
	for (; n < s.n && n < lim; n++) {
		unsigned char c = (unsigned char)s.p[n];
		buf[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (n < s.n)
		memcpy(buf + n - 3, "...", 3);
	buf[n] = '\0';
	return buf;
}

static bool parse_bool(str_t s, bool *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (eq_nocase(s, yes[i]) || eq_nocase(s, no[i])) {
			*out = eq_nocase(s, yes[i]);
			return true;
		}
	}
	return false;
}

/* Decimal only, as the docs promise: no sign, no hex, no octal surprise from
 * a leading zero. */
static bool parse_number(str_t s, bool suffixed, unsigned long long *out)
{
	static const struct { const char *name; unsigned shift; } units[] = {
		{ "k", 10 }, { "K", 10 }, { "KiB", 10 },
		{ "m", 20 }, { "M", 20 }, { "MiB", 20 },
		{ "g", 30 }, { "G", 30 }, { "GiB", 30 },
	};
	unsigned long long n = 0;
	size_t i = 0;
	for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
		if (__builtin_mul_overflow(n, 10ULL, &n) ||
		    __builtin_add_overflow(n, (unsigned long long)(s.p[i] - '0'), &n))
			return false;
	}
	if (!i)
		return false;
	str_t unit = { s.p + i, s.n - i };
	if (unit.n) {
		size_t u = 0;
		while (u < sizeof(units) / sizeof(units[0]) && !eq(unit, units[u].name))
			u++;
		if (!suffixed || u == sizeof(units) / sizeof(units[0]))
			return false;
		if (n > ULLONG_MAX >> units[u].shift)
			return false;
		n <<= units[u].shift;
	}
	*out = n;
	return true;
}

/* The i-th choice of a CONF_CHOICE key: its help starts "a|b|c: ...". */
static str_t choice(const conf_key_t *k, unsigned i)
{
	const char *p = k->help, *end = p + strcspn(p, ":");
	for (; i; i--) {
		p += strcspn(p, "|:");
		if (p >= end)
			return (str_t){ p, 0 };
		p++;
	}
	size_t n = strcspn(p, "|:");
	return (str_t){ p, p + n > end ? 0 : n };
}

/* Stores v in k's field only when all of it is valid, so a bad value leaves
 * the previous one in place. */
static bool set_value(const conf_key_t *k, str_t v)
{
	unsigned long long n;
	bool b;

	switch (k->type) {
	case CONF_BOOL:
		if (!parse_bool(v, &b))
			return false;
		*(bool *)k->field = b;
		return true;
	case CONF_UNSIGNED:
		if (!parse_number(v, false, &n) || n < k->min || n > k->max || n > UINT_MAX)
			return false;
		*(unsigned *)k->field = (unsigned)n;
		return true;
	case CONF_SIZE:
		if (!parse_number(v, true, &n) || n < k->min || n > k->max || n > SIZE_MAX)
			return false;
		*(size_t *)k->field = (size_t)n;
		return true;
	case CONF_PATH:
		if (!v.n || v.p[0] != '/')
			return false;
		/* fall through */
	case CONF_STRING:
		if (v.n >= k->size)
			return false;
		memcpy(k->field, v.p, v.n);
		((char *)k->field)[v.n] = '\0';
		return true;
	case CONF_MS:
		if (eq(v, "-1")) {
			*(long *)k->field = -1;
			return true;
		}
		if (!parse_number(v, false, &n) || n > k->max)
			return false;
		*(long *)k->field = (long)n;
		return true;
	case CONF_CHOICE: {
		str_t c = choice(k, 0);
		for (unsigned i = 0; c.n; c = choice(k, ++i))
			if (v.n == c.n && !memcmp(v.p, c.p, c.n)) {
				*(unsigned *)k->field = i;
				return true;
			}
		return false;
	}
	}
	return false;
}

static const char *expected(const conf_key_t *k, char *buf, size_t cap)
{
	switch (k->type) {
	case CONF_BOOL:
		return "true or false";
	case CONF_UNSIGNED:
		ebb_snprintf(buf, cap, "an integer from %llu to %llu", k->min, k->max);
		return buf;
	case CONF_SIZE:
		ebb_snprintf(buf, cap, "a size from %llu to %llu, optionally with k, M or G", k->min, k->max);
		return buf;
	case CONF_STRING:
		ebb_snprintf(buf, cap, "at most %zu bytes", k->size - 1);
		return buf;
	case CONF_PATH:
		ebb_snprintf(buf, cap, "an absolute path of at most %zu bytes", k->size - 1);
		return buf;
	case CONF_MS:
		ebb_snprintf(buf, cap, "milliseconds from 0 to %llu, or -1", k->max);
		return buf;
	case CONF_CHOICE:
		ebb_snprintf(buf, cap, "one of %.*s", (int)strcspn(k->help, ":"), k->help);
		return buf;
	}
	return "?";
}

static bool type_fits(const conf_key_t *k)
{
	switch (k->type) {
	case CONF_BOOL:
		return k->size == sizeof(bool);
	case CONF_UNSIGNED:
		return k->size == sizeof(unsigned) && k->max <= UINT_MAX;
	case CONF_SIZE:
		return k->size == sizeof(size_t);
	case CONF_STRING:
	case CONF_PATH:
		return k->size >= 2;
	case CONF_MS:
		return k->size == sizeof(long);
	case CONF_CHOICE:
		return k->size == sizeof(unsigned) && choice(k, 0).n;
	}
	return false;
}

/* Warns, or aborts when abort_conf is already on. */
__attribute__((format(printf, 1, 2)))
static void conf_error(const char *fmt, ...)
{
	char line[400];
	va_list ap;
	va_start(ap, fmt);
	ebb_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (ebb_opt.abort_conf)
		ebb_fatal("%s", line);
	ebb_msg("%s", line);
}

static const conf_key_t *lookup(str_t key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (eq(key, conf_keys[i].name))
			return &conf_keys[i];
	return NULL;
}

/* Returns 1 on error, 0 otherwise. */
static bool is_prof_key(str_t key)
{
	return (key.n >= 4 && !memcmp(key.p, "prof", 4)) || (key.n >= 7 && !memcmp(key.p, "lg_prof", 7));
}

static int parse_segment(str_t seg, const char *source, bool prof_only)
{
	char q1[80], q2[80];

	seg = trim(seg);
	if (!seg.n)
		return 0;	/* "a:1,,b:2" or a trailing comma: harmless */
	const char *colon = memchr(seg.p, ':', seg.n);
	str_t key = { seg.p, colon ? (size_t)(colon - seg.p) : 0 };
	key = trim(key);
	/* MALLOC_CONF belongs to jemalloc: of it we take only what we share. */
	if (prof_only && (!colon || !is_prof_key(key)))
		return 0;
	if (!colon || !key.n) {
		conf_error("%s: malformed option \"%s\" (expected key:value)",
			source, quote(q1, sizeof(q1), seg));
		return 1;
	}
	str_t val = trim((str_t){ colon + 1, (size_t)(seg.p + seg.n - colon - 1) });
	const conf_key_t *k = lookup(key);
	if (!k) {
		conf_error("%s: unknown option \"%s\"", source, quote(q1, sizeof(q1), key));
		return 1;
	}
	if (!set_value(k, val)) {
		conf_error("%s: bad value \"%s\" for option \"%s\" (expected %s)", source,
			quote(q1, sizeof(q1), val), k->name, expected(k, q2, sizeof(q2)));
		return 1;
	}
	return 0;
}

static int parse(const char *text, size_t len, const char *source, bool prof_only)
{
	int errors = 0;
	const char *p = text, *end = text + len;

	if (!source)
		source = "config";
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		errors += parse_segment((str_t){ p, (size_t)((comma ? comma : end) - p) }, source, prof_only);
		if (!comma)
			break;
		p = comma + 1;
	}
	/* abort_conf may come after the bad option; jemalloc aborts then too. */
	if (errors && ebb_opt.abort_conf)
		ebb_fatal("%s: %d error(s) and abort_conf is true", source, errors);
	return errors;
}

void conf_defaults(void)
{
	memset(&ebb_opt, 0, sizeof(ebb_opt));
	for (size_t i = 0; i < NKEYS; i++) {
		const conf_key_t *k = &conf_keys[i];
		if (!type_fits(k) || !set_value(k, str(k->def)))
			ebb_fatal("config: bad table row for option \"%s\"", k->name);
	}
}

int conf_parse(const char *text, const char *source)
{
	return text ? parse(text, strlen(text), source, false) : 0;
}

int conf_parse_prof_only(const char *text, const char *source)
{
	return text ? parse(text, strlen(text), source, true) : 0;
}

void conf_print(void)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const conf_key_t *k = &conf_keys[i];
		switch (k->type) {
		case CONF_BOOL:
			ebb_msg("option %s = %s", k->name, *(bool *)k->field ? "true" : "false");
			break;
		case CONF_UNSIGNED:
			ebb_msg("option %s = %u", k->name, *(unsigned *)k->field);
			break;
		case CONF_SIZE:
			ebb_msg("option %s = %zu", k->name, *(size_t *)k->field);
			break;
		case CONF_STRING:
		case CONF_PATH:
			ebb_msg("option %s = %s", k->name, (const char *)k->field);
			break;
		case CONF_MS:
			ebb_msg("option %s = %ld", k->name, *(long *)k->field);
			break;
		case CONF_CHOICE: {
			str_t c = choice(k, *(unsigned *)k->field);
			ebb_msg("option %s = %.*s", k->name, (int)c.n, c.p);
			break;
		}
		}
	}
}

/* Static, because the caller is malloc itself. */
static char env_value[4096];
static char proc_env[65536];
static bool env_truncated;	/* the last conf_getenv result was cut short */

static const char *keep(const char *v, size_t n, bool cut)
{
	env_truncated = cut || n >= sizeof(env_value);
	if (n >= sizeof(env_value))
		n = sizeof(env_value) - 1;
	memcpy(env_value, v, n);
	env_value[n] = '\0';
	return env_value;
}

static const char *proc_getenv(const char *name, size_t nlen)
{
	int saved = errno;
	int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (fd < 0) {
		errno = saved;
		return NULL;
	}
	while (len < sizeof(proc_env) - 1) {
		ssize_t r = read(fd, proc_env + len, sizeof(proc_env) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	errno = saved;
	proc_env[len] = '\0';
	for (size_t i = 0; i < len;) {
		const char *e = proc_env + i;
		size_t elen = strlen(e);
		if (elen > nlen && e[nlen] == '=' && !memcmp(e, name, nlen))
			return keep(e + nlen + 1, elen - nlen - 1,
				len == sizeof(proc_env) - 1 && i + elen == len);
		i += elen + 1;
	}
	return NULL;
}

const char *conf_getenv(const char *name)
{
	size_t nlen = strlen(name);

	env_truncated = false;
	if (!nlen || memchr(name, '=', nlen))
		return NULL;
	if (!environ)
		return proc_getenv(name, nlen);
	for (char **e = environ; *e; e++)
		if (!strncmp(*e, name, nlen) && (*e)[nlen] == '=')
			return keep(*e + nlen + 1, strlen(*e + nlen + 1), false);
	return NULL;
}

bool conf_secure(void)
{
	return getauxval(AT_SECURE) != 0;
}

void conf_init(void)
{
	conf_defaults();
	if (!conf_secure()) {
		/* jemalloc users switch by changing LD_PRELOAD only; our own
		 * variable, read second, wins. */
		const char *m = conf_getenv("MALLOC_CONF");
		if (m)
			parse(m, strlen(m), "MALLOC_CONF", true);
		const char *s = conf_getenv("EBBMALLOC_CONF");
		if (s) {
			size_t n = strlen(s);
			bool cut = env_truncated;
			/* A cut-off last option could still parse, as a different
			 * value: drop it whole. */
			if (cut)
				while (n && s[n - 1] != ',')
					n--;
			parse(s, n, "EBBMALLOC_CONF", false);
			if (cut)
				conf_error("EBBMALLOC_CONF: longer than %zu bytes; ignored the rest after byte %zu",
					sizeof(env_value) - 1, n);
		}
	}
	/* prof_leak alone is enough (jemalloc also wants prof_final). */
	if (ebb_opt.prof_leak || ebb_opt.prof_leak_error)
		ebb_opt.prof = ebb_opt.prof_final = ebb_opt.prof_leak = true;
	if (ebb_opt.verbose)
		conf_print();
}
