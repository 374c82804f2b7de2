#!/usr/bin/env bash
# Tests the launcher template (tools/ebbmalloc.in) without the real allocator:
# it is built here against a fake, empty shared object, which the dynamic
# loader preloads without complaint.
set -uo pipefail	# no -e: failing commands are what we test

root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cc=${CC:-cc}
mkdir "$tmp/lib" "$tmp/nolib"
for so in "$tmp/lib/libebbmalloc.so" "$tmp/lib/libother.so"; do
	"$cc" -shared -fPIC -o "$so" -x c /dev/null ||
		{ echo "cannot build a fake shared object with $cc"; exit 1; }
done
lib=$tmp/lib/libebbmalloc.so
other=$tmp/lib/libother.so
sed "s|@LIBDIR@|$tmp/lib|g" "$root/tools/ebbmalloc.in" >"$tmp/ebbmalloc"
sed "s|@LIBDIR@|$tmp/nolib|g" "$root/tools/ebbmalloc.in" >"$tmp/ebbmalloc-nolib"

passed=0 failed=0
check() {	# check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		echo "ok   $1"; passed=$((passed + 1))
	else
		echo "FAIL $1: expected [$2], got [$3]"; failed=$((failed + 1))
	fi
}

# run ARGS...: runs the launcher under $shell with a clean environment for
# our variables; sets out, err and status.
run() {
	out=$(env -u LD_PRELOAD -u EBBMALLOC_CONF "$shell" "$launcher" "$@" 2>"$tmp/err")
	status=$?
	err=$(cat "$tmp/err")
}
# shellcheck disable=SC2016 # expanded by the child shell, not here
show='echo "${LD_PRELOAD-unset}|${EBBMALLOC_CONF-unset}"'

# The launcher is POSIX sh: run everything under dash (Debian's /bin/sh) and bash.
for shell in dash bash; do
	command -v "$shell" >/dev/null || { echo "skip $shell: not installed"; continue; }
	t="[$shell]"
	launcher=$tmp/ebbmalloc

	run --stats --conf narenas:3 -- sh -c "$show"
	check "$t --stats --conf" "$lib|stats_print:true,narenas:3" "$out"

	run --narenas 4 --verbose --no-tcache --conf tcache_max:1024,abort_conf:true --conf=narenas:2 sh -c "$show"
	check "$t every option, in order, without --" \
		"$lib|narenas:4,verbose:true,tcache:false,tcache_max:1024,abort_conf:true,narenas:2" "$out"

	run -- sh -c "$show"
	check "$t no options leaves EBBMALLOC_CONF unset" "$lib|unset" "$out"

	out=$(LD_PRELOAD=$other EBBMALLOC_CONF=narenas:1 "$shell" "$launcher" --stats -- sh -c "$show")
	check "$t appends to existing LD_PRELOAD and EBBMALLOC_CONF" "$lib:$other|narenas:1,stats_print:true" "$out"

	out=$(cd "$tmp" && env -u LD_PRELOAD "$shell" "$launcher" --lib lib/libother.so -- printenv LD_PRELOAD)
	check "$t --lib with a relative path is made absolute" "$other" "$out"

	# The outer sh prints its pid and execs the launcher, which execs an inner
	# sh printing its pid: equal only if the launcher exec'd too.
	# shellcheck disable=SC2016 # expanded by the child shells
	out=$(env -u LD_PRELOAD sh -c 'echo $$; exec "$@"' sh "$shell" "$launcher" -- sh -c 'echo $$')
	pid1=$(head -n1 <<<"$out") pid2=$(sed -n 2p <<<"$out")
	check "$t execs the command (same pid)" "${pid1:-no pid}" "${pid2:-no second pid}"

	run -- printf '[%s]' 'a b' '' '*'
	check "$t arguments pass through intact" "[a b][][*]" "$out"

	run -- sh -c 'exit 7'
	check "$t exit status propagates" "7" "$status"

	run -- sh -c 'kill -TERM $$'
	check "$t death by signal propagates" "143" "$status"

	run --bogus -- true
	check "$t unknown option: status 2" "2" "$status"
	check "$t unknown option: one ebbmalloc: line naming it, with usage hint" "1 yes" \
		"$(printf '%s\n' "$err" | wc -l | tr -d ' ') $(case $err in "ebbmalloc: "*--bogus*--help*) echo yes;; *) echo no;; esac)"

	run --narenas
	check "$t --narenas without a value: status 2" "2" "$status"
	run --narenas x -- true
	check "$t --narenas x: status 2" "2" "$status"

	run --help
	check "$t --help: status 0 and usage on stdout" "0 yes" \
		"$status $(case $out in *Usage:*) echo yes;; *) echo no;; esac)"

	run --version
	check "$t --version" "0 ebbmalloc 0.1.0" "$status $out"

	run --stats
	check "$t missing command: status 2" "2" "$status"
	run --stats --
	check "$t missing command after --: status 2" "2" "$status"

	run --lib "$tmp/nolib/libebbmalloc.so" -- true
	check "$t --lib to a missing file: status 1" "1" "$status"
	launcher=$tmp/ebbmalloc-nolib
	run -- true
	check "$t missing installed library: status 1 and a message" "1 yes" \
		"$status $(case $err in "ebbmalloc: "*"$tmp/nolib/libebbmalloc.so"*) echo yes;; *) echo no;; esac)"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
