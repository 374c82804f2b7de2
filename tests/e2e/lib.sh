# Helpers shared by the end-to-end tests (tests/e2e/test_*.sh). Not a test
# itself: each test sources it right after `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#
# It sets
#   root    the repository root
#   lib     root/lib/libebbmalloc.so, the library under test ($EBB_E2E_LIB
#           overrides it, e.g. to test an installed copy or an old build)
#   progs   root/build/programs (make programs, tests/e2e/build-cxx.sh)
#   tmp     a fresh temporary directory, removed when the test exits
# and provides checks that print "ok   NAME" or "FAIL NAME: why" and count;
# `finish` prints "N passed, M failed" and sets the exit status.
#
# Running things:
#   run_glibc NAME CMD...     CMD on glibc's malloc (no preload)
#   run_ebb NAME CMD...       CMD with LD_PRELOAD=$lib and
#                             EBBMALLOC_CONF=stats_print:true (or $EBB_CONF)
# Both write $tmp/NAME.out, $tmp/NAME.err and set $status; they never fail
# the script, and kill CMD after $E2E_TIMEOUT seconds (status 124).
#
# Self-test: with EBB_E2E_SELFTEST=1 every expect_* check compares against a
# deliberately wrong expectation, so every test must FAIL. It shows each
# check can fail: `EBB_E2E_SELFTEST=1 bash tests/e2e/run.sh` must report 0
# passed.
#
# Known allocator bugs are guarded with `known_bug NAME REASON`: it prints a
# "skip" line and returns 1 unless EBB_E2E_KNOWN_BUGS=1.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lib=${EBB_E2E_LIB:-$root/lib/libebbmalloc.so}
progs=$root/build/programs
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ebb-e2e.XXXXXXXX")
E2E_TIMEOUT=${E2E_TIMEOUT:-120}
selftest=${EBB_E2E_SELFTEST:-0}
passed=0
failed=0

_e2e_cleanup() {
	[ -n "${E2E_KEEP:-}" ] && { echo "kept $tmp"; return; }
	# Files may be read-only (git objects): make them removable first.
	chmod -R u+w "$tmp" 2>/dev/null
	rm -rf "$tmp"
}
trap _e2e_cleanup EXIT
ulimit -c 0	# the misuse tests abort on purpose: no core files

# Run from a directory we own, so nothing a program writes lands elsewhere.
cd "$tmp"

# The environment of the runs: only what we set, plus the basics.
unset LD_PRELOAD EBBMALLOC_CONF MALLOC_CONF MALLOC_CHECK_ MALLOC_PERTURB_ GLIBC_TUNABLES
export LC_ALL=C TZ=UTC

[ -f "$lib" ] || { echo "FAIL setup: $lib is missing (run make)"; exit 1; }

pass() {
	echo "ok   $1"
	passed=$((passed + 1))
}

fail() {	# fail NAME WHY
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}

# Shows up to 20 lines of a file, indented, after a failure.
show() {
	sed -n '1,20s/^/    | /p' "$1"
}

expect_eq() {	# expect_eq NAME EXPECTED ACTUAL
	local want=$2
	[ "$selftest" = 1 ] && want="$want (selftest: wrong on purpose)"
	if [ "$want" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected [$want], got [$3]"
	fi
}

expect_match() {	# expect_match NAME EXTENDED_REGEX ACTUAL
	local re=$2
	[ "$selftest" = 1 ] && re="$re(selftest: wrong on purpose)"
	if [[ $3 =~ $re ]]; then
		pass "$1"
	else
		fail "$1" "[$3] does not match /$re/"
	fi
}

expect_same_file() {	# expect_same_file NAME EXPECTED_FILE ACTUAL_FILE
	local want=$2
	if [ "$selftest" = 1 ]; then
		want=$tmp/.selftest.want
		{ cat "$2"; echo "selftest: wrong on purpose"; } >"$want"
	fi
	if cmp -s "$want" "$3"; then
		pass "$1"
	else
		fail "$1" "$(basename "$3") differs from $(basename "$2")"
		diff "$want" "$3" | sed -n '1,20s/^/    | /p' || true
	fi
}

# Runs CMD with a timeout, stdin from /dev/null. `timeout` itself is not
# preloaded: the variables are set by env, which then execs CMD.
_run() {	# _run NAME ENV_ARGS... -- CMD...
	local name=$1 envs=()
	shift
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	status=0
	# The braces keep bash's own "Aborted" report out of the test output.
	{ timeout -k 5 "$E2E_TIMEOUT" env "${envs[@]}" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" || status=$?; } 2>/dev/null
	if [ "$status" = 124 ] || [ "$status" = 137 ]; then
		echo "    ($name: killed after ${E2E_TIMEOUT}s)"
	fi
	return 0
}

run_glibc() {	# run_glibc NAME CMD...
	local name=$1
	shift
	_run "$name" -u LD_PRELOAD -u EBBMALLOC_CONF -- "$@"
}

run_ebb() {	# run_ebb NAME CMD...   (EBB_CONF overrides the configuration)
	local name=$1
	shift
	_run "$name" LD_PRELOAD="$lib" EBBMALLOC_CONF="${EBB_CONF:-stats_print:true}" -- "$@"
}

# The stats lines ebbmalloc prints at exit with stats_print:true.
_stats_re='^<ebbmalloc>: (stats: version |allocated [0-9]+ bytes |dirty [0-9]+, resident |huge [0-9]+ bytes in |purged [0-9]+ bytes in )'

# stderr without ebbmalloc's exit statistics.
strip_stats() {	# strip_stats FILE > OUT
	grep -Ev "$_stats_re" "$1" || true
}

# Checks an ebb run's stderr has at least MIN "<ebbmalloc>: stats:" markers
# (one per process that exited normally) and that the last process to exit,
# the one started (it waits for its children), reports allocated > 0.
expect_marker() {	# expect_marker NAME ERRFILE [MIN]
	local name=$1 err=$2 min=${3:-1} n last
	n=$(grep -c '^<ebbmalloc>: stats: version ' "$err" || true)
	last=$({ grep -E '^<ebbmalloc>: allocated [0-9]+ bytes' "$err" || true; } | tail -n 1 |
		sed -E 's/^<ebbmalloc>: allocated ([0-9]+) bytes.*/\1/')
	[ "$selftest" = 1 ] && min=$((min + 1000000))
	if [ "$n" -ge "$min" ] && [ -n "$last" ] && [ "$last" -gt 0 ]; then
		pass "$name ($n marker(s), allocated $last bytes at exit)"
	elif [ "$n" -lt "$min" ]; then
		fail "$name" "$n '<ebbmalloc>: stats:' marker(s) on stderr, expected at least $min"
		show "$err"
	else
		fail "$name" "the last marker says allocated ${last:-?} bytes, expected > 0"
		show "$err"
	fi
}

# Checks that stderr of an ebb run, without the stats, equals the glibc one:
# ebbmalloc printed no warning and changed nothing else.
expect_same_stderr() {	# expect_same_stderr NAME GLIBC_ERR EBB_ERR
	strip_stats "$3" >"$3.stripped"
	expect_same_file "$1" "$2" "$3.stripped"
}

expect_status() {	# expect_status NAME EXPECTED   (uses $status)
	expect_eq "$1" "$2" "$status"
}

known_bug() {	# known_bug NAME REASON: returns 0 when the check should run
	if [ "${EBB_E2E_KNOWN_BUGS:-0}" = 1 ]; then
		return 0
	fi
	echo "skip $1: known allocator bug: $2 (EBB_E2E_KNOWN_BUGS=1 runs it)"
	return 1
}

need() {	# need PROGRAM...: exits 77 (skip) when one is missing
	local p
	for p in "$@"; do
		if ! command -v "$p" >/dev/null 2>&1 && [ ! -x "$p" ]; then
			echo "skip: $p is not installed"
			exit 77
		fi
	done
}

need_prog() {	# need_prog NAME...: built test programs must exist
	local p
	for p in "$@"; do
		[ -x "$progs/$p" ] || { echo "FAIL setup: $progs/$p is missing (make programs; tests/e2e/build-cxx.sh)"; exit 1; }
	done
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
