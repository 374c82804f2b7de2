#!/usr/bin/env bash
# The purging thread is started lazily, from inside a free that has just
# left enough dirty pages; pthread_create then calls malloc in the same
# thread. That nested malloc once found a thread-cache bin half-way through
# a flush and handed out blocks that were being given back (a false
# "double free" abort in about a third of the runs of the larson benchmark,
# 4 threads on 2 arenas). Each run starts the thread afresh, or not when
# the run ends first: 16 runs, and at least 4 of them must start it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need gcc
gcc -std=gnu11 -O2 -I"$root/bench/workloads" -o "$tmp/larson" "$root/bench/workloads/larson.c" -lpthread

bad=0 started=0
for i in $(seq 1 16); do
	EBB_CONF=stats_print:true run_ebb "larson$i" "$tmp/larson" 4 400000 1000 20000
	if [ "$status" != 0 ]; then
		bad=$((bad + 1))
		show "$tmp/larson$i.err"
	fi
	if grep -q '^<ebbmalloc>: stats: version .*background thread running' "$tmp/larson$i.err"; then
		started=$((started + 1))
	fi
done
expect_eq "larson, 4 threads, 16 runs with the purging thread started mid-run: no abort" 0 "$bad"
expect_eq "the purging thread was started in at least 4 of the runs" yes \
	"$([ "$started" -ge 4 ] && echo yes || echo "no ($started)")"
finish
