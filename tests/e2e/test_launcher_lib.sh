#!/usr/bin/env bash
# The launcher (bin/ebbmalloc, as built by make) with the real library:
# --stats prints the marker, --narenas/--conf reach the library (seen
# through ebb_arena_count, tests/programs/arenacount.c), --no-tcache and
# --verbose work, and exit statuses and signal deaths pass through.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

launcher=$root/bin/ebbmalloc
[ -x "$launcher" ] || { echo "FAIL setup: $launcher is missing (run make)"; exit 1; }
need_prog arenacount stress misuse

run_glibc true "$launcher" --stats -- /bin/true
expect_status "ebbmalloc --stats -- /bin/true: exit 0" 0
expect_eq "ebbmalloc --stats -- /bin/true: prints the stats marker" 1 \
	"$(grep -c '^<ebbmalloc>: stats: version ' "$tmp/true.err" || true)"
expect_eq "ebbmalloc --stats -- /bin/true: nothing else on stderr" "" "$(strip_stats "$tmp/true.err")"

run_glibc plain "$progs/arenacount"
expect_eq "arenacount without the launcher: none" none "$(cat "$tmp/plain.out")"

run_glibc n3 "$launcher" --narenas 3 --stats -- "$progs/arenacount"
expect_status "ebbmalloc --narenas 3 --stats: exit 0" 0
expect_eq "ebbmalloc --narenas 3: ebb_arena_count() = 3" 3 "$(cat "$tmp/n3.out")"
expect_match "ebbmalloc --narenas 3 --stats: the marker says 3 arenas" \
	'^<ebbmalloc>: stats: version [0-9.]+, arenas 3, ' "$(grep '^<ebbmalloc>: stats:' "$tmp/n3.err" || true)"

run_glibc n5 "$launcher" --conf narenas:5 -- "$progs/arenacount"
expect_eq "ebbmalloc --conf narenas:5: ebb_arena_count() = 5" 5 "$(cat "$tmp/n5.out")"
expect_eq "ebbmalloc without --stats: no stats" "" "$(cat "$tmp/n5.err")"

run_glibc verbose "$launcher" --verbose --narenas 2 -- "$progs/arenacount"
expect_eq "ebbmalloc --verbose --narenas 2: prints the effective options" \
	"<ebbmalloc>: option narenas = 2" "$(grep '^<ebbmalloc>: option narenas' "$tmp/verbose.err" || true)"

run_glibc notc "$launcher" --no-tcache --stats -- "$progs/stress" 4 20000 5
expect_status "ebbmalloc --no-tcache -- stress: exit 0" 0
expect_match "ebbmalloc --no-tcache -- stress: served by ebbmalloc" '^stress: ok: .*ebbmalloc active' "$(cat "$tmp/notc.out")"

run_glibc exit3 "$launcher" -- sh -c 'exit 3'
expect_status "ebbmalloc -- sh -c 'exit 3': status 3" 3

run_glibc abort "$launcher" -- "$progs/misuse" double-free-small
expect_status "ebbmalloc -- (a double free): status 134" 134
expect_match "ebbmalloc -- (a double free): the report" '^<ebbmalloc>: free\(\): double free of 0x' "$(cat "$tmp/abort.err")"

finish
