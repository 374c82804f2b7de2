#!/usr/bin/env bash
# Linking ebbmalloc into a program instead of preloading it:
# - statically: gcc -static prog.c lib/libebbmalloc.a -lpthread (if that
#   fails on duplicate symbols with glibc's libc.a, the error is shown and
#   -Wl,--whole-archive is tried, and the test fails either way so the
#   problem is seen);
# - dynamically: -Llib -lebbmalloc with an rpath, run without LD_PRELOAD.
# The program (tests/programs/linkcheck.c) checks ebb_is_active() == 1 and
# that malloc_usable_size and ebb_malloc_usable_size agree; the stats marker
# must appear with EBBMALLOC_CONF=stats_print:true.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need gcc
src=$root/tests/programs/linkcheck.c
cflags=(-std=gnu11 -O2 -Wall -Wextra -Werror -DEBB_LINKED -I"$root/include")

# Static.
if gcc "${cflags[@]}" -static -o "$tmp/static" "$src" "$root/lib/libebbmalloc.a" -lpthread 2>"$tmp/static.log"; then
	pass "static link: gcc -static prog.c lib/libebbmalloc.a -lpthread"
else
	fail "static link: gcc -static prog.c lib/libebbmalloc.a -lpthread" "the linker said:"
	show "$tmp/static.log"
	if gcc "${cflags[@]}" -static -o "$tmp/static" "$src" -Wl,--whole-archive "$root/lib/libebbmalloc.a" \
		-Wl,--no-whole-archive -lpthread 2>"$tmp/static2.log"; then
		echo "    (with -Wl,--whole-archive it links)"
	else
		echo "    (with -Wl,--whole-archive it fails too:)"
		show "$tmp/static2.log"
	fi
fi
if [ -x "$tmp/static" ]; then
	expect_eq "static: the executable has no program interpreter" 0 \
		"$(readelf -lW "$tmp/static" | grep -c 'program interpreter' || true)"
	_run static-run EBBMALLOC_CONF=stats_print:true -- "$tmp/static"
	expect_status "static: exit 0" 0
	expect_eq "static: ebb_is_active() = 1" "ebb_is_active() = 1, version 0.1.0" "$(head -n 1 "$tmp/static-run.out")"
	expect_eq "static: malloc_usable_size == ebb_malloc_usable_size" "linkcheck: ok" "$(tail -n 1 "$tmp/static-run.out")"
	expect_marker "static: stats marker" "$tmp/static-run.err"
	expect_eq "static: glibc's malloc not linked in (no _int_malloc)" "" \
		"$(nm "$tmp/static" | grep -w _int_malloc || true)"
fi

# Dynamic, -lebbmalloc, no preload.
if gcc "${cflags[@]}" -o "$tmp/dynamic" "$src" -L"$root/lib" -Wl,-rpath,"$root/lib" -lebbmalloc -lpthread \
	2>"$tmp/dynamic.log"; then
	pass "dynamic link: -Llib -lebbmalloc with rpath"
	expect_match "dynamic: the loader finds lib/libebbmalloc.so through the rpath" \
		"libebbmalloc\\.so => $root/lib/libebbmalloc\\.so" "$(ldd "$tmp/dynamic")"
	run_glibc dynamic-run env EBBMALLOC_CONF=stats_print:true "$tmp/dynamic"
	expect_status "dynamic: exit 0" 0
	expect_eq "dynamic: ebb_is_active() = 1" "ebb_is_active() = 1, version 0.1.0" "$(head -n 1 "$tmp/dynamic-run.out")"
	expect_eq "dynamic: malloc_usable_size == ebb_malloc_usable_size" "linkcheck: ok" "$(tail -n 1 "$tmp/dynamic-run.out")"
	expect_marker "dynamic: stats marker without LD_PRELOAD" "$tmp/dynamic-run.err"
else
	fail "dynamic link: -Llib -lebbmalloc with rpath" "the linker said:"
	show "$tmp/dynamic.log"
fi

# What the shared library exports: the allocator's standard names, the
# ebb_ API, glibc's __libc_ and __posix_memalign aliases and C++'s
# operators; nothing of its own internals.
need nm
extra=$(nm -D --defined-only "$root/lib/libebbmalloc.so" | awk '{print $3}' |
	grep -v -x -E 'ebb_[a-z0-9_]+|__libc_[a-z_]+|__posix_memalign|_Zn[aw].*|_Zd[al].*' |
	grep -v -x -E '(aligned_alloc|calloc|cfree|free|free_aligned_sized|free_sized|mallinfo2?|malloc|malloc_stats|malloc_trim|malloc_usable_size|mallopt|memalign|posix_memalign|pvalloc|realloc|reallocarray|valloc)' |
	tr '\n' ' ' || true)
expect_eq "lib/libebbmalloc.so exports nothing but the allocator's API" "" "$extra"

# The plain build (make programs) has no ebbmalloc: it must say so, not
# pretend (this is what keeps the checks above honest).
need_prog linkcheck
run_glibc plain "$progs/linkcheck"
expect_eq "plain build without ebbmalloc: reports it absent" "3 linkcheck: ebbmalloc absent" \
	"$status $(cat "$tmp/plain.out")"

finish
