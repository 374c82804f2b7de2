#!/usr/bin/env bash
# Dump triggers other than exit, signal and ebb_prof_dump: every
# 2^lg_prof_interval bytes allocated ("i" files), and new heap high-water
# marks with prof_gdump ("u" files, at most one a second).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_prog prof_grow

# 64 MiB allocated with a 16 MiB interval: 3 or 4 interval dumps, numbered
# from i0, each a heap_v2 file.
EBB_CONF="prof:true,lg_prof_interval:24,prof_prefix:$tmp/iv" run_ebb interval "$progs/prof_grow" 64 4 0
n=$(ls "$tmp"/iv.*.i*.heap 2>/dev/null | wc -l)
expect_eq "interval: exit 0" 0 "$status"
expect_match "interval: 3 or 4 dumps for 64 MiB at 2^24 bytes" "^[34]$" "$n"
expect_eq "interval: the first is i0 and starts heap_v2/524288" "heap_v2/524288" \
	"$(head -n 1 "$(ls "$tmp"/iv.*.i0.heap 2>/dev/null | head -n 1)" 2>/dev/null || true)"
expect_eq "interval: no dump without the option" 0 \
	"$(EBBMALLOC_CONF=prof:true,prof_prefix:$tmp/none LD_PRELOAD=$lib "$progs/prof_grow" 64 4 0 >/dev/null 2>&1; ls "$tmp"/none.* 2>/dev/null | wc -l)"

# 4 steps of 16 MiB, 1.2 s apart: each step is a new high-water mark, and
# the rate limit (one a second) lets each through; growth in one burst
# gives far fewer files than steps.
EBB_CONF="prof:true,prof_gdump:true,prof_prefix:$tmp/gd" run_ebb gdump "$progs/prof_grow" 64 4 1200
n=$(ls "$tmp"/gd.*.u*.heap 2>/dev/null | wc -l)
expect_eq "gdump: exit 0" 0 "$status"
expect_match "gdump: a dump per step (3 to 5)" "^[345]$" "$n"
EBB_CONF="prof:true,prof_gdump:true,prof_prefix:$tmp/gb" run_ebb gburst "$progs/prof_grow" 256 256 0
n=$(ls "$tmp"/gb.*.u*.heap 2>/dev/null | wc -l)
expect_match "gdump: 256 steps in a burst are rate-limited (1 to 3 files)" "^[123]$" "$n"

finish
