#!/usr/bin/env bash
# `bin/ebbmalloc --leak` (as built by make) with the real library:
# - the program's output is untouched, the library's leak summary comes at
#   exit, then the launcher's two "ebbmalloc: " lines: where the dump is
#   and the jeprof command, which works when run as printed (from another
#   directory) and names leak_test with exactly 4194304 bytes;
# - the exit status passes through (prof_leak_error: 1); --rate 19 samples
#   (heap_v2/524288); --prefix puts the dumps elsewhere; a relative command
#   is resolved; a wrapper script gets the jeprof command of the program it
#   exec'd; a program that frees everything gets "no leaks";
# - make demo's program (tests/programs/prof_demo.c): the printed command
#   names audit_failure with its 1000 x 256 bytes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prof_lib.sh"

need jeprof objdump nm addr2line
launcher=$root/bin/ebbmalloc
[ -x "$launcher" ] || { echo "FAIL setup: $launcher is missing (run make)"; exit 1; }
need_prog prof_leak prof_demo

mkdir "$tmp/work" "$tmp/elsewhere" "$tmp/out"
cd "$tmp/work"

# The jeprof command the launcher printed in ERRFILE.
printed_cmd() {
	sed -n 's/^ebbmalloc: see where the leaked memory was allocated: //p' "$1"
}

# ---- the classic leak ----
run_glibc leak "$launcher" --leak -- "$progs/prof_leak"
expect_status "--leak prof_leak: exit 0" 0
expect_eq "--leak prof_leak: the program's stdout is untouched" \
	"prof_leak: leaked 4096 blocks of 1024 bytes" "$(cat "$tmp/leak.out")"
pid=$(sed -n 's/^ebbmalloc: heap profile of process \([0-9]*\): .*/\1/p' "$tmp/leak.err")
dump=$tmp/work/ebbmalloc-leak.${pid:-?}.0.f.heap
expect_eq "--leak prof_leak: summary, hint, then where the dump is and the jeprof command" \
	"<ebbmalloc>: Leak approximation summary: ~4198400 bytes, ~4097 objects, >= 2 contexts
<ebbmalloc>: Run jeprof on dump output for leak detail: jeprof --text $progs/prof_leak $dump
ebbmalloc: heap profile of process ${pid:-?}: $dump
ebbmalloc: see where the leaked memory was allocated: jeprof --text --show_bytes $progs/prof_leak $dump" \
	"$(cat "$tmp/leak.err")"
cmd=$(printed_cmd "$tmp/leak.err")
status=0
(cd "$tmp/elsewhere" && sh -c "$cmd" >"$tmp/leak.jeprof" 2>"$tmp/leak.jerr") || status=$?
expect_status "the printed jeprof command runs as printed (from another directory): exit 0" 0
expect_eq "the printed jeprof command: Total 4198400 B, leak_test 4194304" "Total: 4198400 B 4194304" \
	"$(sed -n 1p "$tmp/leak.jeprof") $(flat leak_test "$tmp/leak.jeprof")"
expect_eq "--leak: the dump was written where the launcher was started" yes \
	"$([ -f "$dump" ] && echo yes || echo no)"

# ---- status, --rate, --prefix ----
run_glibc lerr "$launcher" --leak --conf prof_leak_error:true -- "$progs/prof_leak"
expect_status "--leak --conf prof_leak_error:true: the child's status 1 comes through" 1
expect_eq "--leak --conf prof_leak_error:true: still says where the dump is" 1 \
	"$(grep -c '^ebbmalloc: see where the leaked memory was allocated: jeprof ' "$tmp/lerr.err" || true)"

run_glibc rate "$launcher" --leak --rate 19 --prefix "$tmp/out/sampled" -- "$progs/prof_leak"
d=$(sed -n 's/^ebbmalloc: heap profile of process [0-9]*: //p' "$tmp/rate.err")
expect_eq "--leak --rate 19 --prefix: the dump is under the prefix, sampled (heap_v2/524288)" "yes heap_v2/524288" \
	"$(case $d in "$tmp/out/sampled."[0-9]*.0.f.heap) echo yes;; *) echo "no: $d";; esac) $(head -n 1 "${d:-/dev/null}")"

# ---- how the command is named ----
cp "$progs/prof_leak" "$tmp/work/myprog"
run_glibc rel "$launcher" --leak -- ./myprog
expect_match "--leak ./myprog: the jeprof command has its absolute path" \
	"^jeprof --text --show_bytes $tmp/work/myprog $tmp/work/ebbmalloc-leak\\.[0-9]+\\.0\\.f\\.heap\$" \
	"$(printed_cmd "$tmp/rel.err")"
printf '#!/bin/sh\nexec %s "$@"\n' "$progs/prof_leak" >"$tmp/work/wrapper"
chmod +x "$tmp/work/wrapper"
run_glibc wrap "$launcher" --leak -- ./wrapper
expect_match "--leak ./wrapper (a script that execs the program): jeprof gets the program" \
	"^jeprof --text --show_bytes $progs/prof_leak $tmp/work/ebbmalloc-leak\\.[0-9]+\\.0\\.f\\.heap\$" \
	"$(printed_cmd "$tmp/wrap.err")"
status=0
sh -c "$(printed_cmd "$tmp/wrap.err")" >"$tmp/wrap.jeprof" 2>/dev/null || status=$?
expect_eq "--leak ./wrapper: and that command works" "0 4194304" "$status $(flat leak_test "$tmp/wrap.jeprof")"

# ---- nothing leaked ----
run_glibc free "$launcher" --leak --conf background_thread:false -- "$progs/prof_leak" free
expect_eq "--leak, a program that frees everything (background_thread:false): no summary, 'no leaks'" \
	"0|ebbmalloc: no leaks: every allocation was freed before exit" \
	"$status|$(grep -v '^ebbmalloc: heap profile of process ' "$tmp/free.err")"
run_glibc free2 "$launcher" --leak -- "$progs/prof_leak" free
expect_eq "--leak, a program that frees everything: no summary, 'no leaks'" \
	"0|ebbmalloc: no leaks: every allocation was freed before exit" \
	"$status|$(grep -v '^ebbmalloc: heap profile of process ' "$tmp/free2.err")"

# ---- make demo's program ----
run_glibc demo "$launcher" --leak -- "$progs/prof_demo"
expect_eq "prof_demo: exit 0, says what it does" "0 prof_demo: a toy service handling 10000 requests" \
	"$status $(sed -n 1p "$tmp/demo.out")"
status=0
sh -c "$(printed_cmd "$tmp/demo.err")" >"$tmp/demo.jeprof" 2>/dev/null || status=$?
expect_eq "prof_demo: the printed command names audit_failure, 1000 x 256 bytes, as the top leak" \
	"0 audit_failure 256000" "$status $(awk '$2 ~ /%$/ { print $6, $1; exit }' "$tmp/demo.jeprof")"
expect_eq "prof_demo: the healthy functions leak nothing" "0 0 0 0 0" \
	"$(for f in parse_request handle_request remember_session log_request free_request; do
		flat $f "$tmp/demo.jeprof"; done | xargs)"

finish
