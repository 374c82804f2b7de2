#!/usr/bin/env bash
# Heap profiling in a program linked statically with lib/libebbmalloc.a:
# the classic leak (tests/programs/prof_leak.c, -O1 -g) in exact mode. libc
# mallocs while it sets up its list of loaded objects, before any
# constructor; unwinding then used to abort (libgcc) or crash inside libc
# (dwarf). With dwarf (the default) and libgcc: exit 0, jeprof gives
# leak_test exactly 4194304 bytes and 4096 objects, with its whole stack
# from _start, and libc's early allocations keep their caller's frame.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prof_lib.sh"

need gcc jeprof objdump nm addr2line
if ! gcc -std=gnu11 -O1 -g -static -o "$tmp/prog" "$root/tests/programs/prof_leak.c" \
	"$root/lib/libebbmalloc.a" -lpthread 2>"$tmp/link.log"; then
	echo "skip: cannot link statically (libc.a?):"
	show "$tmp/link.log"
	exit 77
fi
cd "$tmp"
for how in dwarf libgcc; do
	rm -f jeprof.*.heap
	_run "$how" EBBMALLOC_CONF=prof_leak:true,lg_prof_sample:0,prof_unwind:$how -- ./prog
	expect_status "static, $how: exit 0" 0
	expect_eq "static, $how: the program ran" "prof_leak: leaked 4096 blocks of 1024 bytes" "$(cat "$tmp/$how.out")"
	dump=$(ls jeprof.*.f.heap 2>/dev/null | head -n 1 || true)
	dump=${dump:-/dev/null}
	expect_leak_test "static, $how" "$how" ./prog "$dump" "$leak_stack"
	expect_eq "static, $how: no allocator function in any stack" "" \
		"$(grep -E "$ebb_syms" "$tmp/$how.folded" || true)"
done

finish
