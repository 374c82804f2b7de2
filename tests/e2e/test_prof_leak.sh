#!/usr/bin/env bash
# Leak profiling, the classic way: tests/programs/prof_leak.c built -O1 -g
# (PIE, Debian's default), whose leak_test() mallocs 1024 bytes 4096 times
# and never frees them.
#
# - Exact mode (lg_prof_sample:0), switched on through jemalloc's
#   MALLOC_CONF and through EBBMALLOC_CONF: the leak summary on stderr, and
#   `jeprof --text --show_bytes ./prog DUMP` gives leak_test exactly 4194304
#   bytes and 4096 objects; no allocator frame in any stack (by symbol name
#   in jeprof's output, and by address against libebbmalloc's r-xp mapping
#   listed in the dump itself).
# - prof_unwind:fp on a -fno-omit-frame-pointer build: the same numbers.
# - The default rate (lg_prof_sample 19): 5 runs, jeprof's estimate for
#   leak_test averages within 25%-400% of 4 MiB (one run is about +-35%).
# - prof_leak_error: a leak makes the exit status 1; a program that frees
#   everything exits 0 and prints no summary.
# - prof_accum: 1000 x malloc(100) + free shows [1000: 112000] accumulated
#   and nothing live (jeprof --alloc_space / --inuse_space).
# - realloc of large and huge blocks: the profile has their new sizes.
# - prof_active:false, then ebb_prof_active(true): what follows is sampled.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prof_lib.sh"

need gcc jeprof objdump nm addr2line
src=$root/tests/programs/prof_leak.c
gcc -std=gnu11 -O1 -g -o "$tmp/prog" "$src"
gcc -std=gnu11 -O1 -g -fno-omit-frame-pointer -o "$tmp/prog_fp" "$src"
expect_eq "the test program is PIE (ELF type DYN)" "DYN" \
	"$(readelf -hW "$tmp/prog" | awk '/Type:/ { print $2 }')"

# Everything about one exact-mode run of the classic leak.
# classic LABEL PROG ENV...
classic() {
	local label=$1 prog=$2 name
	shift 2
	name=$(echo "$label" | tr -c 'a-zA-Z0-9\n' _)
	_run "$name" LD_PRELOAD="$lib" "$@" -- "$prog"
	expect_status "$label: exit 0" 0
	expect_eq "$label: the program ran" "prof_leak: leaked 4096 blocks of 1024 bytes" "$(cat "$tmp/$name.out")"
	local err=$tmp/$name.err sum hint
	sum=$(grep '^<ebbmalloc>: Leak approximation summary' "$err" || true)
	hint=$(grep '^<ebbmalloc>: Run jeprof' "$err" || true)
	expect_match "$label: summary line format" \
		'^<ebbmalloc>: Leak approximation summary: ~[0-9]+ bytes, ~[0-9]+ objects, >= [0-9]+ contexts$' "$sum"
	# ~4194304 bytes plus small runtime leaks (stdout's buffer: 4096).
	local bytes objs
	bytes=$(sed -nE 's/.*: ~([0-9]+) bytes?, .*/\1/p' <<<"$sum")
	objs=$(sed -nE 's/.*, ~([0-9]+) objects?, .*/\1/p' <<<"$sum")
	expect_eq "$label: summary says ~4194304 bytes + < 64 KiB of runtime leaks (~${bytes:-?} bytes)" yes \
		"$([ -n "$bytes" ] && [ "$bytes" -ge 4194304 ] && [ "$bytes" -lt $((4194304 + 65536)) ] && echo yes || echo no)"
	expect_eq "$label: summary says ~4096 + < 64 objects (~${objs:-?} objects)" yes \
		"$([ -n "$objs" ] && [ "$objs" -ge 4096 ] && [ "$objs" -lt $((4096 + 64)) ] && echo yes || echo no)"
	expect_match "$label: second line names the program and the dump" \
		"^<ebbmalloc>: Run jeprof on dump output for leak detail: jeprof --text $prog jeprof\\.[0-9]+\\.0\\.f\\.heap\$" "$hint"
	expect_eq "$label: nothing else on stderr" "" \
		"$(grep -v -e '^<ebbmalloc>: Leak approximation summary' -e '^<ebbmalloc>: Run jeprof' "$err" || true)"
	local dump=${hint##* }
	[ -f "$dump" ] || { fail "$label: dump" "${dump:-no dump named} does not exist"; return; }
	expect_eq "$label: the dump's header is heap_v2/1 (every allocation)" "heap_v2/1" "$(head -n 1 "$dump")"

	# Frame pointers end where code without them starts (glibc's
	# __libc_start_call_main), DWARF unwinding goes on to _start.
	local whole=$leak_stack
	case $label in
	*prof_unwind:fp*) whole='^(.*;)?main[^;]*;leak_test(<[0-9a-f]+>)? 4194304$' ;;
	esac
	expect_leak_test "$label" "$name" "./${prog##*/}" "$dump" "$whole"
	jeprof --text --show_bytes --nodecount=1000 "./${prog##*/}" "$dump" >"$tmp/$name.all" 2>>"$tmp/$name.jerr"
	expect_eq "$label: no allocator symbol in any stack (jeprof --text --nodecount=1000, --collapsed)" "" \
		"$(cat "$tmp/$name.all" "$tmp/$name.folded" | grep -E "$ebb_syms" || true)"
	expect_eq "$label: no stack address inside libebbmalloc's r-xp mapping" "maps=1 inside=0" \
		"$(ebb_frames "$dump")"
	# The address check must be able to see one: a copy of the dump with
	# a stack at the start of libebbmalloc's code.
	awk 'NR == FNR {
		if (/^MAPPED_LIBRARIES:/) m = 1
		else if (m && $2 ~ /^..x/ && $6 ~ /\/libebbmalloc\.so$/ && lo == "") { split($1, r, "-"); lo = r[1] }
		next
	}
	/^@ / && !done { print "@ 0x" lo; print "  t*: 1: 16 [0: 0]"; done = 1 }
	{ print }' "$dump" "$dump" >"$tmp/$name.doctored"
	expect_eq "$label: (the address check finds an allocator address added to a copy)" "maps=1 inside=1" \
		"$(ebb_frames "$tmp/$name.doctored")"
}

cd "$tmp"
classic "MALLOC_CONF=prof_leak:true,lg_prof_sample:0 (jemalloc's variable)" "$tmp/prog" \
	MALLOC_CONF=prof_leak:true,lg_prof_sample:0
rm -f jeprof.*.heap
classic "EBBMALLOC_CONF=prof_leak:true,lg_prof_sample:0" "$tmp/prog" \
	EBBMALLOC_CONF=prof_leak:true,lg_prof_sample:0
rm -f jeprof.*.heap
classic "prof_unwind:fp, -fno-omit-frame-pointer" "$tmp/prog_fp" \
	EBBMALLOC_CONF=prof_leak:true,lg_prof_sample:0,prof_unwind:fp
rm -f jeprof.*.heap

# MALLOC_CONF's other (jemalloc) options are none of our business: no
# warning. EBBMALLOC_CONF, read second, wins.
_run mixed LD_PRELOAD="$lib" MALLOC_CONF=narenas:2,bogus_jemalloc_opt:1,prof_leak:true \
	EBBMALLOC_CONF=lg_prof_sample:0,prof_prefix:"$tmp/mixed" -- "$tmp/prog"
expect_eq "MALLOC_CONF non-profiling keys ignored silently, EBBMALLOC_CONF adds to it" \
	"0 heap_v2/1 2" "$status $(head -n 1 "$tmp"/mixed.*.f.heap 2>&1) $(wc -l <"$tmp/mixed.err")"

# The default rate: one sample per 512 KiB on average, 8 expected here.
ests=() sum=0
for i in 1 2 3 4 5; do
	rm -f jeprof.*.heap
	_run rate$i LD_PRELOAD="$lib" EBBMALLOC_CONF=prof_leak:true -- "$tmp/prog"
	d=$(ls jeprof.*.f.heap 2>/dev/null | head -n 1 || true)
	hdr=$(head -n 1 "${d:-/dev/null}")
	jeprof --text --show_bytes ./prog "${d:-/dev/null}" >"$tmp/rate$i.txt" 2>/dev/null || true
	e=$(flat leak_test "$tmp/rate$i.txt")
	ests+=("$e:$hdr")
	sum=$((sum + e))
done
mean=$((sum / 5))
echo "    (default rate: jeprof's leak_test estimates $(printf '%s ' "${ests[@]%%:*}")- mean $mean," \
	"$((mean * 100 / 4194304))% of 4194304)"
expect_eq "default rate: every dump says heap_v2/524288" \
	"heap_v2/524288 heap_v2/524288 heap_v2/524288 heap_v2/524288 heap_v2/524288" "$(printf '%s\n' "${ests[@]#*:}" | xargs)"
expect_eq "default rate: mean estimate of 5 runs within 25%-400% of 4 MiB ($mean)" yes \
	"$([ "$mean" -ge 1048576 ] && [ "$mean" -le 16777216 ] && echo yes || echo no)"
rm -f jeprof.*.heap

# prof_leak_error.
_run lerr LD_PRELOAD="$lib" EBBMALLOC_CONF=prof_leak_error:true,lg_prof_sample:0 -- "$tmp/prog"
expect_status "prof_leak_error, leaking: exit status 1" 1
expect_eq "prof_leak_error, leaking: summary, hint, then the error line" \
	"Leak approximation summary|Run jeprof on dump output|Exiting with error code because memory leaks were detected" \
	"$(sed -E 's/^<ebbmalloc>: //; s/(summary|output).*/\1/' "$tmp/lerr.err" | paste -sd '|')"
rm -f jeprof.*.heap

# A program that frees everything it allocated: nothing to report. The
# background thread (started by the frees) must not count as a leak of
# the program's.
_run nolerr LD_PRELOAD="$lib" EBBMALLOC_CONF=prof_leak_error:true,lg_prof_sample:0,background_thread:false \
	-- "$tmp/prog" free
expect_eq "prof_leak_error, no leak (background_thread:false): exit 0, no summary" \
	"0 prof_leak: freed everything|" "$status $(cat "$tmp/nolerr.out")|$(cat "$tmp/nolerr.err")"
_run nolerr2 LD_PRELOAD="$lib" EBBMALLOC_CONF=prof_leak_error:true,lg_prof_sample:0 -- "$tmp/prog" free
expect_eq "prof_leak_error, no leak: exit 0, no summary" \
	"0 prof_leak: freed everything|" "$status $(cat "$tmp/nolerr2.out")|$(cat "$tmp/nolerr2.err")"
rm -f jeprof.*.heap

# prof_accum.
_run accum LD_PRELOAD="$lib" EBBMALLOC_CONF=prof:true,prof_final:true,prof_accum:true,lg_prof_sample:0 \
	-- "$tmp/prog" accum
d=$(ls jeprof.*.f.heap 2>/dev/null | head -n 1 || true)
expect_eq "prof_accum: the final dump has a stack with 0 live and [1000: 112000] accumulated" "  t*: 0: 0 [1000: 112000]" \
	"$(awk '/^MAPPED_LIBRARIES:/ { exit } prev ~ /^@ / && /^  t\*: 0: 0 / { print } { prev = $0 }' "${d:-/dev/null}")"
jeprof --text --show_bytes --alloc_space ./prog "${d:-/dev/null}" >"$tmp/alloc.txt" 2>/dev/null || true
jeprof --text --alloc_objects ./prog "${d:-/dev/null}" >"$tmp/allocobj.txt" 2>/dev/null || true
jeprof --text --show_bytes --inuse_space ./prog "${d:-/dev/null}" >"$tmp/inuse.txt" 2>/dev/null || true
expect_eq "prof_accum: jeprof --alloc_space / --alloc_objects: accum_test 112000 bytes, 1000 objects; live 0" \
	"112000 1000 0" "$(flat accum_test "$tmp/alloc.txt") $(flat accum_test "$tmp/allocobj.txt") $(flat accum_test "$tmp/inuse.txt")"

# realloc: large blocks grown and shrunk in place, a huge one moved by
# mremap; the program prints the usable bytes it keeps.
rm -f jeprof.*.heap
_run realloc LD_PRELOAD="$lib" EBBMALLOC_CONF=prof:true,prof_final:true,lg_prof_sample:0 -- "$tmp/prog" realloc
d=$(ls jeprof.*.f.heap 2>/dev/null | head -n 1 || true)
want=$(sed -n 's/^prof_leak: realloc_test keeps \([0-9]*\) usable bytes$/\1/p' "$tmp/realloc.out")
expect_eq "realloc: the program ran (exit 0, usable bytes printed)" "0 yes" \
	"$status $([ -n "$want" ] && echo yes || echo no)"
jeprof --text --show_bytes ./prog "${d:-/dev/null}" >"$tmp/realloc.txt" 2>/dev/null || true
expect_eq "realloc: jeprof's realloc_test = the blocks' usable bytes" "${want:-?}" "$(flat realloc_test "$tmp/realloc.txt")"

# prof_active:false, then ebb_prof_active(true) in the same thread.
rm -f jeprof.*.heap
_run active LD_PRELOAD="$lib" EBBMALLOC_CONF=prof:true,prof_final:true,prof_active:false,lg_prof_sample:0 \
	-- "$tmp/prog" active
expect_status "prof_active:false then ebb_prof_active(true): exit 0" 0
d=$(ls jeprof.*.f.heap 2>/dev/null | head -n 1 || true)
jeprof --text --show_bytes ./prog "${d:-/dev/null}" >"$tmp/active.txt" 2>/dev/null || true
expect_eq "prof_active:false: nothing sampled before ebb_prof_active(true)" 0 "$(flat before_active "$tmp/active.txt")"
expect_eq "ebb_prof_active(true): leak_test, after it, is sampled (4194304)" 4194304 "$(flat leak_test "$tmp/active.txt")"

finish
