#!/usr/bin/env bash
# Runs the end-to-end tests: every tests/e2e/test_*.sh, or those named on the
# command line (by file name, with or without the directory, "test_" and
# ".sh": `run.sh misuse stress`).
#
# One line per test: "ok   NAME (Ns)", "FAIL NAME (Ns)" followed by the
# test's output indented, or "skip NAME: reason" (a test exits 77 when a tool
# it needs is missing; skips count as neither passed nor failed). Lines a
# test prints starting with "skip " (known allocator bugs) are shown under
# its line. The last line is "N passed, M failed"; the exit status is non-zero
# when M > 0.
#
# Expects `make all programs` to have run (make e2e does); builds the C++
# programs itself (tests/e2e/build-cxx.sh).
#
# Environment: E2E_TEST_TIMEOUT (seconds per test script, default 300),
# EBB_E2E_VERBOSE=1 shows every test's output, EBB_E2E_SELFTEST=1 makes every
# check compare against a wrong expectation (all tests must then fail),
# EBB_E2E_KNOWN_BUGS=1 runs the checks of known allocator bugs.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1

if ! out=$(bash "$here/build-cxx.sh" 2>&1); then
	echo "build-cxx.sh failed (the C++ tests will fail):"
	printf '%s\n' "$out" | sed 's/^/    | /'
fi

tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do
		t=$(basename "$t" .sh)
		[ -f "$here/$t.sh" ] || t=test_$t
		[ -f "$here/$t.sh" ] || { echo "no such test: $here/$t.sh" >&2; exit 2; }
		tests+=("$here/$t.sh")
	done
else
	for t in "$here"/test_*.sh; do
		tests+=("$t")
	done
fi

passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start_all=$(date +%s)
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	start=$(date +%s.%N)
	timeout -k 10 "${E2E_TEST_TIMEOUT:-300}" bash "$t" >"$log" 2>&1
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	if [ "$rc" -eq 0 ]; then
		echo "ok   $name (${secs}s)"
		passed=$((passed + 1))
		grep '^skip ' "$log" | sed 's/^/    /'
		[ "${EBB_E2E_VERBOSE:-0}" = 1 ] && sed 's/^/    | /' "$log"
	elif [ "$rc" -eq 77 ]; then
		echo "skip $name: $(grep '^skip' "$log" | tail -n 1 | sed 's/^skip:* *//')"
	else
		case $rc in
		124|137) why=" (timed out after ${E2E_TEST_TIMEOUT:-300}s)" ;;
		*) why="" ;;
		esac
		echo "FAIL $name (${secs}s, exit $rc)$why"
		failed=$((failed + 1))
		# The failing checks and their details first, then the tail.
		if [ "${EBB_E2E_VERBOSE:-0}" = 1 ]; then
			sed 's/^/    | /' "$log"
		else
			grep -v '^ok ' "$log" | head -n 60 | sed 's/^/    | /'
		fi
	fi
done
echo "    (total $(($(date +%s) - start_all))s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
