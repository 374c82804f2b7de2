#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "lock.h"
#include "msg.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

static int name_unsupported;

void os_name(void *p, size_t size, const char *name)
{
	if (__atomic_load_n(&name_unsupported, __ATOMIC_RELAXED))
		return;
	int saved = errno;
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, size, (unsigned long)name) != 0 &&
	    (errno == EINVAL || errno == ENOSYS))
		__atomic_store_n(&name_unsupported, 1, __ATOMIC_RELAXED);
	errno = saved;
}

void *os_map_sparse(size_t size)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	os_name(m, size, OS_NAME_META);
	return m;
}

void *os_map(size_t size, size_t align, const char *name)
{
	size_t over = align > PAGE_SIZE ? size + align : size;
	if (over < size) {
		errno = ENOMEM;
		return NULL;
	}
	void *m = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t base = (uintptr_t)m;
	if (align > PAGE_SIZE) {
		uintptr_t start = align_up(base, align);
		if (start > base)
			munmap(m, start - base);
		uintptr_t end = start + size, mend = base + over;
		if (mend > end)
			munmap((void *)end, mend - end);
		base = start;
	}
	if (name)
		os_name((void *)base, size, name);
	return (void *)base;
}

void os_unmap(void *p, size_t size)
{
	int saved = errno;
	if (munmap(p, size) != 0)
		ebb_fatal("munmap(%p, %zu) failed: errno %d", p, size, errno);
	errno = saved;
}

bool os_resize(void *p, size_t old_size, size_t new_size)
{
	int saved = errno;
	void *q = mremap(p, old_size, new_size, 0);
	errno = saved;
	return q == p;
}

bool os_move(void *from, size_t size, void *to)
{
	int saved = errno;
	void *q = mremap(from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	errno = saved;
	return q == to;
}

void os_purge(void *p, size_t size, bool lazy)
{
	int saved = errno;
	/* MADV_FREE leaves the pages resident until the kernel needs them, so
	 * RSS does not drop at once; DONTNEED drops it now. */
	if (!lazy || madvise(p, size, MADV_FREE) != 0)
		madvise(p, size, MADV_DONTNEED);
	errno = saved;
}

/* Reads a small file without stdio or malloc; returns bytes read or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

bool os_parse_u64(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	*s = p;
	*out = v;
	return true;
}

unsigned os_cpus_from(unsigned affinity, const char *cpu_max)
{
	unsigned n = affinity ? affinity : 1;
	if (!cpu_max)
		return n;
	/* "max 100000" means no quota; "150000 100000" means 1.5 CPUs. */
	const char *p = cpu_max;
	uint64_t quota, period;
	if (os_parse_u64(&p, &quota) && *p == ' ' && (p++, os_parse_u64(&p, &period)) && period) {
		uint64_t q = quota / period + (quota % period != 0);
		if (q < 1)
			q = 1;
		if (q < n)
			n = (unsigned)q;
	}
	return n;
}

bool os_cgroup_dir(const char *cgroup_root, char *out, size_t cap)
{
	/* cgroup v2: "0::/path" in /proc/self/cgroup. */
	char cg[4096];
	if (!cgroup_root || !*cgroup_root || read_small("/proc/self/cgroup", cg, sizeof(cg)) <= 0)
		return false;
	const char *rel = strstr(cg, "0::");
	if (!rel)
		return false;
	rel += 3;
	size_t rlen = strcspn(rel, "\n"), root_len = strlen(cgroup_root);
	while (rlen && rel[rlen - 1] == '/')
		rlen--;
	if (root_len + rlen + 1 > cap)
		return false;
	memcpy(out, cgroup_root, root_len);
	memcpy(out + root_len, rel, rlen);
	out[root_len + rlen] = '\0';
	return true;
}

unsigned os_usable_cpus(const char *cgroup_root)
{
	cpu_set_t set;
	unsigned aff = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		aff = (unsigned)CPU_COUNT(&set);
	if (!aff) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		aff = c > 0 ? (unsigned)c : 1;
	}
	unsigned n = aff;
	char path[1024], val[128];
	if (!os_cgroup_dir(cgroup_root, path, sizeof(path) - 16))
		return n;
	/* Every ancestor's cpu.max limits us too: take the smallest. */
	size_t root_len = strlen(cgroup_root), len = strlen(path);
	for (;;) {
		while (len > root_len && path[len - 1] == '/')
			len--;
		memcpy(path + len, "/cpu.max", 9);
		if (read_small(path, val, sizeof(val)) > 0)
			n = os_cpus_from(n, val);
		if (len <= root_len)
			break;
		while (len > root_len && path[len - 1] != '/')
			len--;
	}
	return n;
}

ssize_t os_read_file(const char *path, char *buf, size_t cap)
{
	return read_small(path, buf, cap);
}

/* The coarse clock is a read of the kernel's last tick (a few ns instead of
 * tens): every flush of freed blocks stamps the time, and decay deadlines
 * of a second do not need better than the tick (1-10 ms). */
uint64_t os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t os_random(void)
{
	static uint64_t state;
	uint64_t s = __atomic_load_n(&state, __ATOMIC_RELAXED);
	if (!s) {
		const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
		if (r)
			memcpy(&s, r + 8, sizeof(s));
		s ^= os_now_ns() ^ (uint64_t)(uintptr_t)&s;
	}
	/* splitmix64 */
	s += 0x9e3779b97f4a7c15ull;
	__atomic_store_n(&state, s, __ATOMIC_RELAXED);
	uint64_t z = s;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

size_t os_page_size(void)
{
	unsigned long p = getauxval(AT_PAGESZ);
	return p ? p : 4096;
}

void os_futex_wait(uint32_t *addr, uint32_t val)
{
	os_futex_wait_timeout(addr, val, 0);
}

void os_futex_wait_timeout(uint32_t *addr, uint32_t val, uint64_t ns)
{
	int saved = errno;
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, ns ? &ts : NULL, NULL, 0);
	errno = saved;
}

void os_futex_wake(uint32_t *addr, int n)
{
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
	errno = saved;
}

void ebb_lock_wait(ebb_lock_t *l)
{
	/* Spin briefly: critical sections are short, and a futex sleep costs
	 * two syscalls. */
	for (int i = 0; i < 100; i++) {
		uint32_t expect = 0;
		if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&l->state, &expect, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		cpu_relax();
	}
	while (__atomic_exchange_n(&l->state, 2, __ATOMIC_ACQUIRE) != 0)
		os_futex_wait(&l->state, 2);
}

void ebb_lock_wake(ebb_lock_t *l)
{
	os_futex_wake(&l->state, 1);
}
