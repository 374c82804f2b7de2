#!/usr/bin/env bash
# Tests the launcher template (tools/ebbmalloc.in) without the real allocator:
# it is built here against a fake, empty shared object, which the dynamic
# loader preloads without complaint. For --leak, which reports the dump the
# command left, the commands write fake dumps themselves (the real library
# is tested by test_prof_launcher.sh). EBB_E2E_SELFTEST=1 makes every check
# compare against a wrong expectation, as in lib.sh.
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
selftest=${EBB_E2E_SELFTEST:-0}	# as in lib.sh: every check must then fail
check() {	# check NAME EXPECTED ACTUAL
	local want=$2
	[ "$selftest" = 1 ] && want="$want (selftest: wrong on purpose)"
	if [ "$want" = "$3" ]; then
		echo "ok   $1"; passed=$((passed + 1))
	else
		echo "FAIL $1: expected [$want], got [$3]"; failed=$((failed + 1))
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

	# --leak: the fake library writes no profile, so the commands below
	# write fake dumps named as the library would (<prefix>.<pid>.<seq>...,
	# $$ of an exec'd sh -c being the command's pid).
	launcher=$tmp/ebbmalloc
	rm -rf "$tmp/work"
	mkdir -p "$tmp/work/out" "$tmp/work/pbin"
	cd "$tmp/work" || exit 1
	pfx=$tmp/work/ebbmalloc-leak

	run --leak -- sh -c "$show"
	check "$t --leak: exact leak profiling, dumps in the current directory" \
		"$lib|prof_leak:true,lg_prof_sample:0,prof_prefix:$pfx" "$out"
	check "$t --leak: status 0" "0" "$status"
	check "$t --leak without a dump says so" "yes" \
		"$(case $err in "ebbmalloc: no heap profile from process "[0-9]*"($pfx."[0-9]*".*.heap)"*) echo yes;; *) echo "no: $err";; esac)"

	run --conf narenas:2 --leak --rate 19 --prefix out/p -- sh -c "$show"
	check "$t --leak --rate --prefix: relative prefix made absolute, after --conf" \
		"$lib|narenas:2,prof_leak:true,lg_prof_sample:19,prof_prefix:$tmp/work/out/p" "$out"
	run --leak --rate=7 --prefix="$tmp/work/out/q" -- sh -c "$show"
	check "$t --leak --rate=N --prefix=P" "$lib|prof_leak:true,lg_prof_sample:7,prof_prefix:$tmp/work/out/q" "$out"
	out=$(LD_PRELOAD=$other EBBMALLOC_CONF=narenas:1 "$shell" "$launcher" --leak -- sh -c "$show" 2>/dev/null)
	check "$t --leak appends to existing LD_PRELOAD and EBBMALLOC_CONF" \
		"$lib:$other|narenas:1,prof_leak:true,lg_prof_sample:0,prof_prefix:$pfx" "$out"

	# Not exec'd: the command runs in a child (its own pid) and the
	# launcher's own helpers run without the library.
	# shellcheck disable=SC2016 # expanded by the child shells
	out=$(env -u LD_PRELOAD sh -c 'echo $$; exec "$@"' sh "$shell" "$launcher" --leak -- sh -c 'echo $$' 2>/dev/null)
	pid1=$(head -n1 <<<"$out") pid2=$(sed -n 2p <<<"$out")
	check "$t --leak runs the command as a child (another pid)" "yes" \
		"$([ -n "$pid2" ] && [ "$pid1" != "$pid2" ] && echo yes || echo "no: $pid1 $pid2")"

	run --leak -- printf '[%s]' 'a b' '' '*'
	check "$t --leak: arguments pass through intact" "[a b][][*]" "$out"
	out=$(printf 'line\n' | env -u LD_PRELOAD "$shell" "$launcher" --leak -- sh -c 'read -r l; echo "got $l"' 2>/dev/null)
	check "$t --leak: the command reads our stdin" "got line" "$out"
	run --leak -- sh -c 'exit 7'
	check "$t --leak: exit status propagates" "7" "$status"
	run --leak -- sh -c 'kill -TERM $$'
	check "$t --leak: death by signal gives 128+N" "143" "$status"
	# The terminal's ^C reaches the whole process group: the launcher must
	# live on to report (here only the launcher gets it; its pid is the
	# child's parent).
	# shellcheck disable=SC2016
	run --leak -- sh -c 'kill -INT $PPID; sleep 0.2; echo alive; exit 3'
	check "$t --leak: the launcher survives SIGINT and still reports" "3 alive yes" \
		"$status $out $(case $err in *"ebbmalloc: no heap profile"*) echo yes;; *) echo no;; esac)"

	# shellcheck disable=SC2016
	fake_dump='p=$1; shift; for s in "$@"; do printf "heap_v2/1\n  t*: 1: 64 [0: 0]\n" >"$p.$$.$s.heap"; done; echo $$'
	run --leak -- sh -c "$fake_dump" sh "$pfx" 0.f 3.m1 12.m2 2.m0
	f=$pfx.$out.12.m2.heap
	check "$t --leak: names the newest dump of the child (highest seq, numerically)" \
		"ebbmalloc: heap profile of process $out: $f" "$(sed -n 1p "$tmp/err")"
	check "$t --leak: prints the jeprof command with the command's absolute path" \
		"ebbmalloc: see where the leaked memory was allocated: jeprof --text --show_bytes $(command -v sh) $f" \
		"$(sed -n 2p "$tmp/err")"
	check "$t --leak: only ebbmalloc: lines on stderr" "2 2" \
		"$(wc -l <"$tmp/err" | tr -d ' ') $(grep -c '^ebbmalloc: ' "$tmp/err")"
	# Another process's dump with a higher seq is not the child's.
	printf 'heap_v2/1\n  t*: 1: 64 [0: 0]\n' >"$pfx.1.99.f.heap"
	run --leak -- sh -c "$fake_dump" sh "$pfx" 1.f
	check "$t --leak: ignores other processes' dumps" "ebbmalloc: heap profile of process $out: $pfx.$out.1.f.heap" \
		"$(sed -n 1p "$tmp/err")"

	# shellcheck disable=SC2016
	run --leak -- sh -c 'printf "heap_v2/1\n  t*: 0: 0 [0: 0]\n" >"$1.$$.0.f.heap"' sh "$pfx"
	check "$t --leak: an empty profile says no leaks, no jeprof command" "yes 0" \
		"$(case $err in *"ebbmalloc: no leaks: every allocation was freed before exit"*) echo yes;; *) echo no;; esac) $(grep -c jeprof "$tmp/err")"

	# A relative command, and a script: jeprof must get the program that
	# ran it, the first file in the dump's maps.
	printf '#!/bin/sh\n%s\n' "$fake_dump" >"$tmp/work/tool"
	printf '#!/bin/sh\n%s\nprintf "\\nMAPPED_LIBRARIES:\\n5000-6000 r-xp 00000000 fe:00 1 /opt/real/exe\\n" >>"$p.$$.0.f.heap"\n' \
		"$fake_dump" >"$tmp/work/tool2"
	chmod +x "$tmp/work/tool" "$tmp/work/tool2"
	run --leak -- ./tool "$pfx" 0.f
	check "$t --leak ./relative-script: absolute path when no maps" \
		"jeprof --text --show_bytes $tmp/work/tool $pfx.$out.0.f.heap" "$(sed -n '2s/.*: jeprof/jeprof/p' "$tmp/err")"
	run --leak -- ./tool2 "$pfx" 0.f
	check "$t --leak script: jeprof gets the program named first in the maps" \
		"jeprof --text --show_bytes /opt/real/exe $pfx.$out.0.f.heap" "$(sed -n '2s/.*: jeprof/jeprof/p' "$tmp/err")"
	# A name the shell has as a builtin is still looked up in PATH.
	cp "$tmp/work/tool" "$tmp/work/pbin/echo"
	out=$(cd "$tmp/work" && env -u LD_PRELOAD PATH="$tmp/work/pbin:$PATH" "$shell" "$launcher" --leak -- echo "$pfx" 0.f 2>"$tmp/err")
	check "$t --leak builtin name: the PATH executable" \
		"jeprof --text --show_bytes $tmp/work/pbin/echo $pfx.$out.0.f.heap" "$(sed -n '2s/.*: jeprof/jeprof/p' "$tmp/err")"
	# Paths that need quoting are quoted.
	mkdir -p "$tmp/work/my dir"
	run --leak --prefix "my dir/it's" -- sh -c "$fake_dump" sh "$tmp/work/my dir/it's" 0.f
	check "$t --leak: the printed command quotes what needs it" \
		"jeprof --text --show_bytes $(command -v sh) '$tmp/work/my dir/it'\\''s.$out.0.f.heap'" \
		"$(sed -n '2s/.*: jeprof/jeprof/p' "$tmp/err")"

	run --rate 3 -- true
	check "$t --rate without --leak: status 2" "2" "$status"
	run --prefix x -- true
	check "$t --prefix without --leak: status 2" "2" "$status"
	run --leak --rate 63 -- true
	check "$t --rate 63: status 2" "2" "$status"
	run --leak --rate x -- true
	check "$t --rate x: status 2" "2" "$status"
	run --leak --rate
	check "$t --rate without a value: status 2" "2" "$status"
	run --leak --prefix a,b -- true
	check "$t --prefix with a comma: status 2" "2" "$status"
	run --leak --prefix nodir/p -- true
	check "$t --prefix in a missing directory: status 1 before running" "1 yes" \
		"$status $(case $err in "ebbmalloc: cannot write the heap profile: $tmp/work/nodir "*) echo yes;; *) echo no;; esac)"
	run --leak -- no-such-command-here
	check "$t --leak missing command: status 127" "127 yes" \
		"$status $(case $err in "ebbmalloc: no-such-command-here: command not found") echo yes;; *) echo no;; esac)"
	cd "$root" || exit 1
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
