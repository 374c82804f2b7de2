#!/usr/bin/env bash
# The optional libunwind backend (make UNWIND=libunwind):
# - the default library needs only libc and rejects prof_unwind:libunwind
#   with a warning;
# - a copy of the tree built with UNWIND=libunwind (in $tmp, so the main
#   build is untouched) needs libunwind.so.8 and takes prof_unwind:libunwind;
# - the classic leak (tests/programs/prof_leak.c, -O1 -g, PIE) in exact mode
#   with prof_unwind:libunwind: the leak summary, jeprof gives leak_test
#   exactly 4194304 bytes and 4096 objects, its whole stack from _start, and
#   no allocator frame; dwarf and libgcc in that build give the same.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prof_lib.sh"

need gcc make jeprof objdump nm addr2line readelf
if ! echo '#include <libunwind.h>' | gcc -E -x c - >/dev/null 2>&1; then
	echo "skip: libunwind-dev is not installed"
	exit 77
fi

needed() {	# needed LIB: its DT_NEEDED names, space separated
	readelf -d "$1" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]$/\1/p' | sort | tr '\n' ' ' | sed 's/ $//'
}

# ---- the default build ----
if [[ $(needed "$lib") == *libunwind* ]]; then
	echo "skip default-build checks: $lib was built with UNWIND=libunwind"
else
	expect_eq "default build: run-time dependencies are libc only" "libc.so.6" "$(needed "$lib")"
	_run default LD_PRELOAD="$lib" EBBMALLOC_CONF=prof_unwind:libunwind -- /bin/true
	expect_status "default build: prof_unwind:libunwind still runs the program" 0
	expect_match "default build: prof_unwind:libunwind is rejected, naming the choices" \
		'bad value "libunwind" for option "prof_unwind" \(expected one of libgcc\|fp\|dwarf\)' \
		"$(cat "$tmp/default.err")"
fi

# ---- a copy of the tree built with UNWIND=libunwind ----
mkdir "$tmp/tree"
cp -r "$root/Makefile" "$root/src" "$root/include" "$root/tools" "$tmp/tree/"
status=0
make -C "$tmp/tree" -j2 UNWIND=libunwind lib/libebbmalloc.so >"$tmp/build.log" 2>&1 || status=$?
expect_status "make UNWIND=libunwind in a copy of the tree" 0
[ "$status" = 0 ] || { show "$tmp/build.log"; finish; }
ulib=$tmp/tree/lib/libebbmalloc.so
expect_match "UNWIND=libunwind: the library needs libunwind.so.8" '(^| )libunwind\.so\.8( |$)' "$(needed "$ulib")"
_run verbose LD_PRELOAD="$ulib" EBBMALLOC_CONF=prof_unwind:libunwind,verbose:true -- /bin/true
expect_eq "UNWIND=libunwind: prof_unwind:libunwind is taken" "<ebbmalloc>: option prof_unwind = libunwind" \
	"$(grep 'option prof_unwind' "$tmp/verbose.err" || true)"

# ---- the classic leak ----
gcc -std=gnu11 -O1 -g -o "$tmp/prog" "$root/tests/programs/prof_leak.c"
cd "$tmp"
for how in libunwind dwarf libgcc; do
	rm -f jeprof.*.heap
	_run "$how" LD_PRELOAD="$ulib" EBBMALLOC_CONF=prof_leak:true,lg_prof_sample:0,prof_unwind:$how -- ./prog
	expect_status "$how: exit 0" 0
	expect_eq "$how: the program ran" "prof_leak: leaked 4096 blocks of 1024 bytes" "$(cat "$tmp/$how.out")"
	sum=$(grep '^<ebbmalloc>: Leak approximation summary' "$tmp/$how.err" || true)
	bytes=$(sed -nE 's/.*: ~([0-9]+) bytes?, .*/\1/p' <<<"$sum")
	expect_eq "$how: the summary says ~4194304 bytes + < 64 KiB of runtime leaks (~${bytes:-?} bytes)" yes \
		"$([ -n "$bytes" ] && [ "$bytes" -ge 4194304 ] && [ "$bytes" -lt $((4194304 + 65536)) ] && echo yes || echo no)"
	expect_eq "$how: nothing else on stderr" "" \
		"$(grep -v -e '^<ebbmalloc>: Leak approximation summary' -e '^<ebbmalloc>: Run jeprof' "$tmp/$how.err" || true)"
	dump=$(ls jeprof.*.f.heap 2>/dev/null | head -n 1 || true)
	dump=${dump:-/dev/null}
	expect_leak_test "$how" "$how" ./prog "$dump" "$leak_stack"
	expect_eq "$how: no stack address inside libebbmalloc" "maps=1 inside=0" "$(ebb_frames "$dump")"
done

finish
