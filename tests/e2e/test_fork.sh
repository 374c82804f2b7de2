#!/usr/bin/env bash
# tests/programs/forkstress.c: 4 threads churn malloc/realloc/free while the
# main thread forks 200 times; every child frees the blocks it inherited,
# allocates a lot (also from a thread it creates), maybe forks a grandchild,
# and _exit(0)s under alarm(10). The parent requires every child to exit 0
# within 20 s (a deadlock in the atfork handlers shows as a hang). Under
# ebbmalloc a child also checks ebb_thread_count() is back to 1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_prog forkstress

run_glibc glibc "$progs/forkstress" 30 4
expect_status "forkstress on glibc (sanity of the test): exit 0" 0

run_ebb ebb "$progs/forkstress" 200 4
expect_status "forkstress, 200 forks, preloaded: exit 0" 0
expect_eq "forkstress, 200 forks, preloaded: summary" \
	"forkstress: ok: 200 forks with 4 threads allocating (ebbmalloc)" "$(cat "$tmp/ebb.out")"
expect_marker "forkstress, preloaded: stats marker (parent)" "$tmp/ebb.err"
expect_eq "forkstress, preloaded: nothing else on stderr" "" "$(strip_stats "$tmp/ebb.err")"

for conf in narenas:1 tcache:false; do
	EBB_CONF=stats_print:true,$conf run_ebb "ebb-$conf" "$progs/forkstress" 80 6
	expect_status "forkstress [$conf], 80 forks, 6 threads: exit 0" 0
	expect_eq "forkstress [$conf]: summary" \
		"forkstress: ok: 80 forks with 6 threads allocating (ebbmalloc)" "$(cat "$tmp/ebb-$conf.out")"
	expect_eq "forkstress [$conf]: nothing but the stats on stderr" "" "$(strip_stats "$tmp/ebb-$conf.err")"
done

finish
