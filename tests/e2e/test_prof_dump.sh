#!/usr/bin/env bash
# Heap profiles written while the program runs, in exact mode:
# - by the program, through ebb_prof_dump() found with dlsym
#   (tests/programs/prof_dumps.c): leak 1000 x 256 B, dump A, leak 500 x
#   256 B more from another function, dump B; `jeprof --base=A prog B` shows
#   exactly 128000 bytes of growth, all in leak_second;
# - on a signal (prof_signal:SIGUSR2) sent to a program that leaked and
#   waits (tests/programs/prof_leak.c, mode "wait"): a .m0.heap file
#   appears within seconds and jeprof reads it;
# - the same signal sent to a forked child (mode "forkwait": a pre-fork
#   server's worker): the child writes its own dump;
# - from gdb: `gdb -p PID -batch -ex 'call (int)ebb_prof_dump(0)'` (skipped,
#   with a "skip" line, where ptrace is not allowed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prof_lib.sh"

need jeprof objdump nm addr2line
need_prog prof_dumps prof_leak

# ---- two dumps through ebb_prof_dump, and their difference ----
prog=$progs/prof_dumps
run_glibc nolib "$prog" "$tmp/x.heap" "$tmp/y.heap"
expect_eq "prof_dumps without ebbmalloc: no ebb_prof_dump, exit 3" \
	"3 prof_dumps: ebb_prof_dump not found (not running on ebbmalloc)" "$status $(cat "$tmp/nolib.out")"

_run off LD_PRELOAD="$lib" -- "$prog" "$tmp/x.heap" "$tmp/y.heap"
expect_eq "ebb_prof_dump with profiling off: -1, a message, no file" \
	"1 prof_dumps: ebb_prof_dump returned -1 and -1 no" \
	"$status $(tail -n 1 "$tmp/off.out") $([ -e "$tmp/x.heap" ] && echo yes || echo no)"
expect_eq "ebb_prof_dump with profiling off: the message" \
	"<ebbmalloc>: ebb_prof_dump(): profiling is off (set prof:true)" "$(sort -u "$tmp/off.err")"

_run dumps LD_PRELOAD="$lib" EBBMALLOC_CONF=prof:true,lg_prof_sample:0 -- "$prog" "$tmp/A.heap" "$tmp/B.heap"
expect_eq "prof_dumps: both dumps written, exit 0" "0 prof_dumps: ebb_prof_dump returned 0 and 0" \
	"$status $(tail -n 1 "$tmp/dumps.out")"
expect_eq "prof_dumps: nothing on stderr, no .tmp files left" "|" \
	"$(cat "$tmp/dumps.err")|$(ls "$tmp" | grep '\.tmp\.' || true)"
jeprof --text --show_bytes "$prog" "$tmp/A.heap" >"$tmp/A.txt" 2>/dev/null || true
jeprof --text --show_bytes "$prog" "$tmp/B.heap" >"$tmp/B.txt" 2>/dev/null || true
expect_eq "dump A: leak_first 256000, no leak_second yet" "256000 0" \
	"$(flat leak_first "$tmp/A.txt") $(flat leak_second "$tmp/A.txt")"
expect_eq "dump B: leak_first 256000, leak_second 128000" "256000 128000" \
	"$(flat leak_first "$tmp/B.txt") $(flat leak_second "$tmp/B.txt")"
expect_eq "dump B: no stack address inside libebbmalloc" "maps=1 inside=0" "$(ebb_frames "$tmp/B.heap")"
jeprof --text --show_bytes --base="$tmp/A.heap" "$prog" "$tmp/B.heap" >"$tmp/diff.txt" 2>"$tmp/diff.err" || true
expect_eq "jeprof --base=A B: Total 128000 B, all of it leak_second's" "Total: 128000 B|128000 leak_second" \
	"$(sed -n 1p "$tmp/diff.txt")|$(awk '$1 != 0 && $2 ~ /%$/ { print $1, $6 }' "$tmp/diff.txt" | paste -sd ' ')"

# ---- SIGUSR2 and gdb, on a program that leaked and waits ----
pid=''
stop() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	_e2e_cleanup
}
trap stop EXIT

# wait_for SECONDS TEST...: polls every 0.1 s.
wait_for() {
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

env LD_PRELOAD="$lib" EBBMALLOC_CONF=prof:true,lg_prof_sample:0,prof_signal:SIGUSR2,prof_prefix:"$tmp/sig" \
	"$progs/prof_leak" wait </dev/null >"$tmp/wait.out" 2>"$tmp/wait.err" &
pid=$!
wait_for 10 grep -q ready "$tmp/wait.out" || true
expect_eq "prof_leak wait: ready" ready "$(cat "$tmp/wait.out")"

m0=$tmp/sig.$pid.0.m0.heap
kill -USR2 "$pid"
start=$(date +%s%N)
wait_for 5 test -f "$m0" || true
echo "    (SIGUSR2: the dump appeared after $((($(date +%s%N) - start) / 1000000)) ms)"
expect_eq "SIGUSR2: $(basename "$m0") appears within 5 s" yes "$([ -f "$m0" ] && echo yes || echo no)"
wait_for 2 grep -q 'heap profile written' "$tmp/wait.err" || true
expect_eq "SIGUSR2: the process says where it wrote it" "<ebbmalloc>: heap profile written to $m0" \
	"$(cat "$tmp/wait.err")"
jeprof --text --show_bytes "$progs/prof_leak" "$m0" >"$tmp/m0.txt" 2>/dev/null || true
expect_eq "SIGUSR2: jeprof reads the dump: leak_test 4194304" 4194304 "$(flat leak_test "$tmp/m0.txt")"
expect_eq "prof_signal: no stack address inside libebbmalloc" "maps=1 inside=0" "$(ebb_frames "$m0")"

# gdb: the call a user makes on a live process.
scope=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 0)
if ! command -v gdb >/dev/null; then
	echo "skip gdb: gdb is not installed"
elif [ "$scope" -ge 3 ] || { [ "$scope" -ge 1 ] && [ "$(id -u)" -ne 0 ]; }; then
	echo "skip gdb: kernel.yama.ptrace_scope is $scope (attaching is not allowed)"
else
	timeout 60 gdb -nx -p "$pid" -batch -ex 'call (int)ebb_prof_dump(0)' >"$tmp/gdb.out" 2>&1 || true
	if grep -qE 'ptrace: Operation not permitted|Could not attach|not permitted' "$tmp/gdb.out"; then
		echo "skip gdb: cannot attach here: $(grep -m1 -E 'ptrace|attach|permitted' "$tmp/gdb.out")"
	else
		m1=$tmp/sig.$pid.1.m1.heap
		expect_eq "gdb: call (int)ebb_prof_dump(0) returns 0" '$1 = 0' \
			"$(grep -E '^\$1 = ' "$tmp/gdb.out" || sed -n '1,5p' "$tmp/gdb.out")"
		expect_eq "gdb: the dump is the next auto-named one, $(basename "$m1")" yes "$([ -f "$m1" ] && echo yes || echo no)"
		jeprof --text --show_bytes "$progs/prof_leak" "$m1" >"$tmp/m1.txt" 2>/dev/null || true
		expect_eq "gdb: jeprof reads the dump: leak_test 4194304" 4194304 "$(flat leak_test "$tmp/m1.txt")"
	fi
fi

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=''
expect_status "prof_leak wait: still alive until SIGTERM (status 143)" 143

# A forked worker: the thread that writes signal dumps does not survive
# fork(); the child starts its own.
env LD_PRELOAD="$lib" EBBMALLOC_CONF=prof:true,lg_prof_sample:0,prof_signal:SIGUSR2,prof_prefix:"$tmp/fork" \
	"$progs/prof_leak" forkwait </dev/null >"$tmp/fork.out" 2>"$tmp/fork.err" &
pid=$!
wait_for 10 grep -q ready "$tmp/fork.out" || true
child=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$tmp/fork.out")
expect_eq "prof_leak forkwait: the child is ready" yes "$([ -n "$child" ] && echo yes || echo no)"
m0=$tmp/fork.$child.0.m0.heap
kill -USR2 "$child" 2>/dev/null || true
wait_for 5 test -f "$m0" || true
expect_eq "SIGUSR2 to a forked child: $(basename "$m0") appears within 5 s" yes "$([ -f "$m0" ] && echo yes || echo no)"
jeprof --text --show_bytes "$progs/prof_leak" "$m0" >"$tmp/fork.txt" 2>/dev/null || true
expect_eq "SIGUSR2 to a forked child: jeprof reads its dump: leak_test 4194304" 4194304 \
	"$(flat leak_test "$tmp/fork.txt")"
kill -TERM "$child" 2>/dev/null || true
status=0
wait "$pid" || status=$?
pid=''
expect_status "prof_leak forkwait: the parent reports the child's SIGTERM (status 143)" 143

finish
