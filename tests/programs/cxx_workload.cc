// C++ allocation workload with deterministic output, for comparing a run on
// glibc with one on ebbmalloc: std::map<std::string, std::vector<int>>,
// std::string concatenation, std::unordered_map, new[]/delete[], aligned new
// (alignas(64) and alignas(4096) types), nothrow new, std::thread, absurd
// sizes caught as std::bad_alloc, and a new_handler that gives up.
//
// stdout is the same on any allocator. On stderr, when ebbmalloc is loaded
// (found with dlsym), it says whether every operator new block was one of
// ebbmalloc's (ebb_malloc_usable_size aborts on foreign pointers).
#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using usable_fn = size_t (*)(void *);
usable_fn ebb_usable = nullptr;
unsigned long ebb_checked = 0;

// Every pointer from operator new passes here when ebbmalloc is loaded.
void owned(const void *p)
{
	if (ebb_usable && p) {
		(void)ebb_usable(const_cast<void *>(p));
		ebb_checked++;
	}
}

uint64_t fnv(const void *data, size_t n, uint64_t h = 1469598103934665603ULL)
{
	const unsigned char *c = static_cast<const unsigned char *>(data);
	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct alignas(64) Line {
	char bytes[64];
	long id;
};

struct alignas(4096) Page {
	char bytes[4096];
};

std::string word(unsigned k)
{
	static const char *syll[] = { "ka", "lo", "mi", "nu", "pe", "ri", "su", "ta", "vo", "ze" };
	std::string s;
	do {
		s += syll[k % 10];
		k /= 10;
	} while (k);
	return s;
}

void maps()
{
	std::map<std::string, std::vector<int>> index;
	for (unsigned i = 0; i < 200000; i++) {
		std::string key = word(i % 5003) + "-" + std::to_string(i % 7);
		index[key].push_back(static_cast<int>(i));
	}
	uint64_t h = 1469598103934665603ULL;
	size_t total = 0, longest = 0;
	for (const auto &kv : index) {
		h = fnv(kv.first.data(), kv.first.size(), h);
		h = fnv(kv.second.data(), kv.second.size() * sizeof(int), h);
		total += kv.second.size();
		longest = std::max(longest, kv.second.size());
	}
	std::printf("map: %zu keys, %zu values, longest %zu, first %s, last %s, hash %016llx\n", index.size(),
		    total, longest, index.begin()->first.c_str(), index.rbegin()->first.c_str(),
		    (unsigned long long)h);

	// Erase every other key, then grow the remaining vectors.
	unsigned n = 0;
	for (auto it = index.begin(); it != index.end();)
		it = (n++ % 2) ? index.erase(it) : std::next(it);
	for (auto &kv : index)
		kv.second.resize(kv.second.size() * 3 + 1, 7);
	total = 0;
	for (const auto &kv : index)
		total += kv.second.size();
	std::printf("map after erase/resize: %zu keys, %zu values\n", index.size(), total);
}

void strings()
{
	std::string s;
	uint64_t h = 1469598103934665603ULL;
	for (unsigned i = 0; i < 100000; i++) {
		s += word(i);
		s += ',';
		if (s.size() > 100000) {
			h = fnv(s.data(), s.size(), h);
			s = s.substr(s.size() / 2) + "|" + std::to_string(i);
		}
	}
	std::vector<std::string> parts;
	for (unsigned i = 0; i < 50000; i++)
		parts.push_back(word(i * 7919) + word(i));
	std::sort(parts.begin(), parts.end());
	std::string joined = std::accumulate(parts.begin(), parts.begin() + 1000, std::string(),
					     [](std::string a, const std::string &b) { return a + b + ";"; });
	h = fnv(joined.data(), joined.size(), h);
	std::printf("strings: final %zu bytes, %zu parts, first %s, hash %016llx\n", s.size(), parts.size(),
		    parts.front().c_str(), (unsigned long long)h);
}

void unordered()
{
	std::unordered_map<std::string, long> um;
	std::unordered_map<long, std::string> rev;
	for (long i = 0; i < 150000; i++) {
		std::string k = "key" + std::to_string(i * 31 % 100003);
		um[k] += i;
		rev.emplace(i, k);
	}
	for (long i = 0; i < 150000; i += 3)
		rev.erase(i);
	long sum = 0;
	for (const auto &kv : um)
		sum += kv.second % 1000;
	size_t chars = 0;
	for (const auto &kv : rev)
		chars += kv.second.size();
	std::printf("unordered: %zu keys (sum %ld), %zu reverse entries (%zu chars)\n", um.size(), sum,
		    rev.size(), chars);
}

void arrays()
{
	uint64_t h = 0;
	for (unsigned round = 0; round < 2000; round++) {
		size_t n = 1 + (round * 7919u) % 20000;
		int *a = new int[n];
		owned(a);
		for (size_t i = 0; i < n; i++)
			a[i] = static_cast<int>(i * round);
		double *d = new double[n / 2 + 1];
		owned(d);
		d[n / 2] = 1.5;
		h += static_cast<uint64_t>(a[n - 1]) + static_cast<uint64_t>(d[n / 2] * 2);
		delete[] d;
		delete[] a;
	}
	auto big = std::make_unique<char[]>(5 << 20);	// a huge block
	owned(big.get());
	big[(5 << 20) - 1] = 1;
	std::printf("arrays: sum %llu, big block last byte %d\n", (unsigned long long)h, big[(5 << 20) - 1]);
}

void aligned()
{
	bool ok = true;
	std::vector<Line *> lines;
	for (long i = 0; i < 10000; i++) {
		Line *l = new Line;
		owned(l);
		l->id = i;
		ok = ok && reinterpret_cast<uintptr_t>(l) % 64 == 0;
		lines.push_back(l);
	}
	Line *arr = new Line[333];
	owned(arr);
	ok = ok && reinterpret_cast<uintptr_t>(arr) % 64 == 0;
	long ids = 0;
	for (Line *l : lines) {
		ids += l->id;
		delete l;
	}
	delete[] arr;
	for (int i = 0; i < 50; i++) {
		Page *p = new Page;
		owned(p);
		ok = ok && reinterpret_cast<uintptr_t>(p) % 4096 == 0;
		p->bytes[4095] = 1;
		delete p;
	}
	auto *z = new (std::align_val_t(8192)) char[0];
	owned(z);
	ok = ok && reinterpret_cast<uintptr_t>(z) % 8192 == 0;
	::operator delete[](z, std::align_val_t(8192));
	std::printf("aligned new: 10000 x alignas(64), 50 x alignas(4096), %s, ids %ld\n",
		    ok ? "all aligned" : "MISALIGNED", ids);
}

void nothrow_and_bad_alloc()
{
	int *p = new (std::nothrow) int[1000];
	owned(p);
	std::printf("nothrow new small: %s\n", p ? "ok" : "NULL");
	delete[] p;

	volatile size_t absurd = SIZE_MAX / 4;	// not representable: must fail
	char *q = new (std::nothrow) char[absurd];
	std::printf("nothrow new absurd: %s\n", q ? "NOT NULL" : "nullptr");
	delete[] q;

	try {
		char *r = static_cast<char *>(::operator new(absurd));
		std::printf("operator new absurd: returned %p\n", static_cast<void *>(r));
		::operator delete(r);
	} catch (const std::bad_alloc &) {
		std::printf("bad_alloc caught\n");
	}
	try {
		std::vector<long> v;
		v.reserve(absurd / 64);
		std::printf("vector reserve absurd: succeeded\n");
	} catch (const std::bad_alloc &) {
		std::printf("bad_alloc caught (vector::reserve)\n");
	} catch (const std::length_error &) {
		std::printf("length_error caught (vector::reserve)\n");
	}
	try {
		void *r = ::operator new(absurd, std::align_val_t(64));
		std::printf("aligned operator new absurd: returned %p\n", r);
		::operator delete(r, std::align_val_t(64));
	} catch (const std::bad_alloc &) {
		std::printf("bad_alloc caught (aligned)\n");
	}
}

int handler_calls = 0;

void limited_handler()
{
	// Gives up after three calls: operator new must then throw.
	if (++handler_calls >= 3)
		std::set_new_handler(nullptr);
}

void new_handler()
{
	std::set_new_handler(limited_handler);
	volatile size_t absurd = SIZE_MAX / 8;
	try {
		void *p = ::operator new(absurd);
		std::printf("new_handler: operator new returned %p\n", p);
		::operator delete(p);
	} catch (const std::bad_alloc &) {
		std::printf("new_handler: called %d times, then bad_alloc caught\n", handler_calls);
	}
	handler_calls = 0;
	std::set_new_handler(limited_handler);
	char *q = new (std::nothrow) char[absurd];
	std::printf("new_handler: nothrow new called it %d times, returned %s\n", handler_calls,
		    q ? "a block" : "nullptr");
	delete[] q;
	std::set_new_handler(nullptr);
}

void threads()
{
	const int nthreads = 6;
	std::vector<uint64_t> results(nthreads);
	std::mutex mu;
	std::vector<std::unique_ptr<std::string>> shared;	// freed by the main thread
	std::vector<std::thread> ts;
	for (int t = 0; t < nthreads; t++) {
		ts.emplace_back([t, &results, &mu, &shared] {
			std::map<int, std::string> m;
			uint64_t h = 0;
			for (int i = 0; i < 40000; i++) {
				m[i % 997] = word(static_cast<unsigned>(i * (t + 1)));
				if (i % 500 == 0) {
					auto s = std::make_unique<std::string>(200 + i % 300, static_cast<char>('a' + t));
					std::lock_guard<std::mutex> g(mu);
					shared.push_back(std::move(s));
				}
			}
			for (const auto &kv : m)
				h = fnv(kv.second.data(), kv.second.size(), h + static_cast<uint64_t>(kv.first));
			results[t] = h;
		});
	}
	for (auto &th : ts)
		th.join();
	size_t chars = 0;
	for (const auto &s : shared)
		chars += s->size();
	std::printf("threads: %d", nthreads);
	for (uint64_t r : results)
		std::printf(" %016llx", (unsigned long long)r);
	std::printf("; %zu shared strings, %zu chars\n", shared.size(), chars);
	shared.clear();	// blocks made by the threads, freed here
}

}	// namespace

int main()
{
	ebb_usable = reinterpret_cast<usable_fn>(dlsym(RTLD_DEFAULT, "ebb_malloc_usable_size"));
	maps();
	strings();
	unordered();
	arrays();
	aligned();
	nothrow_and_bad_alloc();
	new_handler();
	threads();
	std::printf("done\n");
	if (ebb_usable)
		std::fprintf(stderr, "cxx_workload: %lu operator new blocks checked with ebb_malloc_usable_size\n",
			     ebb_checked);
	return 0;
}
