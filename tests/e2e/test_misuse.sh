#!/usr/bin/env bash
# Bad input, end to end, under the preload: each misuse in
# tests/programs/misuse.c (double frees of small, large and huge blocks,
# interior pointers, stack, static and foreign mmap pointers, realloc and
# malloc_usable_size of bad pointers) must kill the process with SIGABRT
# (status 134) after exactly one stderr line, starting "<ebbmalloc>: " and
# naming the address the program printed, within 10 s.
# Then the API's error returns (tests/programs/apierrors.c): EINVAL for bad
# posix_memalign alignments, NULL/ENOMEM for calloc overflow, malloc(SIZE_MAX)
# and the like, exactly as on glibc.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_prog misuse apierrors

E2E_TIMEOUT=10
export EBB_CONF=stats_print:false	# one stderr line: the report, nothing else
for mode in double-free-small double-free-large double-free-huge \
	interior-small interior-large interior-huge stack static mmap \
	realloc-interior realloc-stack realloc-freed realloc-freed-shrink usable-size-stack; do
	run_ebb "$mode" "$progs/misuse" "$mode"
	addr=$(head -n 1 "$tmp/$mode.out")
	err=$(cat "$tmp/$mode.err")
	lines=$(wc -l <"$tmp/$mode.err")
	expect_eq "misuse $mode: dies by SIGABRT (134)" 134 "$status"
	case $addr in
	0x[0-9a-f]*) ;;
	*) fail "misuse $mode: address printed" "stdout is [$(cat "$tmp/$mode.out")]"; continue ;;
	esac
	expect_eq "misuse $mode: exactly one stderr line" 1 "$lines"
	expect_match "misuse $mode: it starts \"<ebbmalloc>: \" and names $addr" \
		"^<ebbmalloc>: .*$addr([^0-9a-f]|$)" "$err"
done
expect_match "misuse realloc-freed-shrink: the message names realloc" "^<ebbmalloc>: realloc\(\)" \
	"$(cat "$tmp/realloc-freed-shrink.err")"
unset EBB_CONF

run_glibc api-glibc "$progs/apierrors"
expect_status "api errors on glibc: exit 0" 0
run_ebb api-ebb "$progs/apierrors"
expect_status "api errors on ebbmalloc: exit 0" 0
expect_same_file "api errors on ebbmalloc: same results as glibc" "$tmp/api-glibc.out" "$tmp/api-ebb.out"
expect_eq "api: posix_memalign(align 3) is EINVAL and leaves the pointer alone" \
	"posix_memalign(align 3)                  -> EINVAL, out unchanged" \
	"$(grep '^posix_memalign(align 3)' "$tmp/api-ebb.out")"
expect_eq "api: calloc overflow is NULL/ENOMEM" \
	"calloc(SIZE_MAX/2+1, 2) overflow         -> NULL errno=ENOMEM" \
	"$(grep '^calloc(SIZE_MAX/2+1, 2)' "$tmp/api-ebb.out")"
expect_eq "api: malloc(SIZE_MAX) is NULL/ENOMEM" \
	"malloc(SIZE_MAX)                         -> NULL errno=ENOMEM" \
	"$(grep '^malloc(SIZE_MAX) ' "$tmp/api-ebb.out")"
expect_marker "api errors on ebbmalloc: stats marker" "$tmp/api-ebb.err"
# ebbmalloc reports each bad posix_memalign alignment on stderr (glibc is
# silent); anything else there would be a surprise.
expect_eq "api errors on ebbmalloc: stderr holds only the stats and alignment reports" "" \
	"$(strip_stats "$tmp/api-ebb.err" | grep -Ev '^<ebbmalloc>: posix_memalign\(\): alignment [0-9]+ is not a power of two' || true)"

finish
