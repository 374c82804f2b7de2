#!/usr/bin/env bash
# Installs the Debian 12 packages the tests (and, with --bench, the
# benchmarks) need. Only missing packages are installed, so running it again
# is cheap and silent.
set -euo pipefail

pkgs=(
	build-essential g++ make pkg-config	# toolchain
	libcmocka-dev				# unit tests
	valgrind gdb				# memcheck runs, debugging crashes
	python3 perl sqlite3 git file procps	# e2e tests and real-program workloads
	libjemalloc2 libjemalloc-dev		# allocators we compare against; jeprof (heap profiles)
	binutils				# objdump, nm, addr2line: jeprof's symbolizers
	libunwind-dev				# the make UNWIND=libunwind build (test_prof_libunwind)
	libtcmalloc-minimal4 libmimalloc2.0
	gnuplot-nox				# benchmark plots
)
# Benchmark-only extras (bench/run.py): the redis workload, plus what the
# harness itself runs (the runner, workloads' compiler, callgrind, the chart).
bench_pkgs=(
	redis-server redis-tools		# redis workload (server + redis-benchmark)
	gcc python3 valgrind gnuplot-nox sqlite3
)

case ${1-} in
'')	;;
--bench)	pkgs+=("${bench_pkgs[@]}") ;;
*)	echo "usage: $0 [--bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	# Plain "dpkg -s" also succeeds for removed-but-not-purged packages.
	dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all present"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null ||
		{ echo "install-deps: not root and no sudo; please install: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
# env, because sudo would drop DEBIAN_FRONTEND from the environment.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
