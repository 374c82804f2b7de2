#!/usr/bin/env bash
# A C++ program (tests/programs/cxx_workload.cc, built by build-cxx.sh with
# g++ -O2 -std=c++17 -pthread): std::map<std::string, std::vector<int>>,
# strings, std::unordered_map, new[]/delete[], aligned new, nothrow new,
# std::thread, and absurd sizes that must throw std::bad_alloc. stdout must
# equal the glibc run's; under ebbmalloc every operator new block is checked
# to be ebbmalloc's, and the stats marker is required.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need g++
bash "$root/tests/e2e/build-cxx.sh" >/dev/null
need_prog cxx_workload

run_glibc glibc "$progs/cxx_workload"
expect_status "c++ on glibc: exit 0" 0
expect_eq "c++ on glibc: bad_alloc caught" "bad_alloc caught" "$(grep -x 'bad_alloc caught' "$tmp/glibc.out" || true)"
expect_eq "c++ on glibc: completed" "done" "$(tail -n 1 "$tmp/glibc.out")"

run_ebb ebb "$progs/cxx_workload"
expect_status "c++ on ebbmalloc: exit 0" 0
expect_same_file "c++ on ebbmalloc: same stdout as glibc" "$tmp/glibc.out" "$tmp/ebb.out"
expect_marker "c++ on ebbmalloc: stats marker" "$tmp/ebb.err"
expect_match "c++ on ebbmalloc: operator new blocks are ebbmalloc's" \
	'^cxx_workload: [1-9][0-9]* operator new blocks checked' "$(strip_stats "$tmp/ebb.err")"
expect_eq "c++ on ebbmalloc: no other stderr line" 1 "$(strip_stats "$tmp/ebb.err" | wc -l)"

# Without thread caches the same program must behave the same.
EBB_CONF=stats_print:true,tcache:false run_ebb notc "$progs/cxx_workload"
expect_status "c++ on ebbmalloc, tcache:false: exit 0" 0
expect_same_file "c++ on ebbmalloc, tcache:false: same stdout as glibc" "$tmp/glibc.out" "$tmp/notc.out"
expect_marker "c++ on ebbmalloc, tcache:false: stats marker" "$tmp/notc.err"

finish
