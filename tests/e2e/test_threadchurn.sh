#!/usr/bin/env bash
# tests/programs/threadchurn.c: 10 000 short-lived threads, 8 at a time,
# each allocating and freeing, leaving blocks for the main thread, freeing
# the main thread's blocks without allocating, using large and huge blocks.
# Afterwards ebb_thread_count() must be <= 2, ebb_arena_count() <= the CPUs
# and the resident set under 200 MiB.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_prog threadchurn

run_glibc glibc "$progs/threadchurn" 1000 8
expect_status "threadchurn on glibc (sanity of the test): exit 0" 0

run_ebb ebb "$progs/threadchurn" 10000 8
expect_status "threadchurn, 10000 threads, preloaded: exit 0" 0
expect_match "threadchurn, preloaded: thread count, arenas and RSS in bounds" \
	'^threadchurn: ok: 10000 threads in batches of 8, max RSS [0-9]+ MiB, ebb_thread_count [12] \(max [0-9]+ seen\), ebb_arena_count [0-9]+ \(cpus [0-9]+\)$' \
	"$(cat "$tmp/ebb.out")"
expect_marker "threadchurn, preloaded: stats marker" "$tmp/ebb.err"
expect_match "threadchurn, preloaded: stats say at most 2 threads at exit" \
	'threads [012],' "$(grep '^<ebbmalloc>: stats: version' "$tmp/ebb.err" || true)"
expect_eq "threadchurn, preloaded: nothing else on stderr" "" "$(strip_stats "$tmp/ebb.err")"

# Wider batches and no thread caches.
EBB_CONF=stats_print:true,tcache:false run_ebb notc "$progs/threadchurn" 3000 32
expect_status "threadchurn [tcache:false], 3000 threads in batches of 32: exit 0" 0
expect_match "threadchurn [tcache:false]: in bounds" '^threadchurn: ok: .*ebb_thread_count [12] ' "$(cat "$tmp/notc.out")"

finish
