#!/usr/bin/env bash
# tests/programs/stress.c: 8 and 16 threads doing random malloc, calloc,
# realloc, memalign, posix_memalign, aligned_alloc, valloc, pvalloc and free
# (0 B to 1 MiB, skewed small, a few huge blocks), handing blocks between
# threads through shared slots, with every block's pattern checked before it
# is freed or realloc'd. Runs preloaded (several configurations) and linked
# statically with lib/libebbmalloc.a; each run must report that ebbmalloc
# served it. A quick run on glibc checks the program itself.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_prog stress
ok_re='^stress: ok: .* ebbmalloc active, ebb_thread_count 1$'

run_glibc glibc "$progs/stress" 8 20000 1
expect_status "stress on glibc (sanity of the test): exit 0" 0
expect_match "stress on glibc: summary" '^stress: ok: 8 threads, 160000 ops.* ebbmalloc absent$' "$(cat "$tmp/glibc.out")"

run_ebb ebb "$progs/stress" 8 150000 1
expect_status "stress, 8 threads, preloaded: exit 0" 0
expect_match "stress, 8 threads, preloaded: ebbmalloc served it" "$ok_re" "$(cat "$tmp/ebb.out")"
expect_marker "stress, 8 threads, preloaded: stats marker" "$tmp/ebb.err"
expect_eq "stress, 8 threads, preloaded: nothing else on stderr" "" "$(strip_stats "$tmp/ebb.err")"

# Other configurations, shorter: one shared arena, no thread caches, more
# arenas than CPUs, more threads than slots can keep busy.
for conf in narenas:1 tcache:false narenas:16,tcache_max:1k; do
	EBB_CONF=stats_print:true,$conf run_ebb "ebb-$conf" "$progs/stress" 8 50000 2
	expect_status "stress [$conf], preloaded: exit 0" 0
	expect_match "stress [$conf], preloaded: ebbmalloc served it" "$ok_re" "$(cat "$tmp/ebb-$conf.out")"
	expect_eq "stress [$conf], preloaded: nothing but the stats on stderr" "" "$(strip_stats "$tmp/ebb-$conf.err")"
done
run_ebb ebb16 "$progs/stress" 16 25000 3
expect_status "stress, 16 threads, preloaded: exit 0" 0
expect_match "stress, 16 threads, preloaded: ebbmalloc served it" "$ok_re" "$(cat "$tmp/ebb16.out")"

# Statically linked: no dynamic loader, no preload; the archive's malloc is
# the only one in the program.
if gcc -std=gnu11 -O2 -static -DEBB_LINKED -I"$root/include" -o "$tmp/stress-static" \
	"$root/tests/programs/stress.c" "$root/lib/libebbmalloc.a" -lpthread 2>"$tmp/static-link.err"; then
	pass "stress: links statically with lib/libebbmalloc.a"
	_run static EBBMALLOC_CONF=stats_print:true -- "$tmp/stress-static" 8 150000 4
	expect_status "stress, static: exit 0" 0
	expect_match "stress, static: ebbmalloc served it" "$ok_re" "$(cat "$tmp/static.out")"
	expect_marker "stress, static: stats marker" "$tmp/static.err"
	expect_eq "stress, static: glibc's malloc not linked in (no _int_malloc)" "" \
		"$(nm "$tmp/stress-static" | grep -w _int_malloc || true)"
else
	fail "stress: links statically with lib/libebbmalloc.a" "$(head -n 5 "$tmp/static-link.err")"
fi

finish
