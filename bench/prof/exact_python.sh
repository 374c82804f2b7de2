#!/usr/bin/env bash
# What exact-mode profiling (a backtrace for every allocation) costs a
# program whose every object goes through malloc: /usr/bin/python3 with
# PYTHONMALLOC=malloc building a 200 000-entry dict, under ebbmalloc without
# profiling, with prof:true, and with lg_prof_sample:0 and each
# prof_unwind method. Configurations run interleaved, round after round;
# prints the median and fastest wall time of each. (Not python3 -I: it
# would ignore PYTHONMALLOC.)
#
#   bash bench/prof/exact_python.sh [ROUNDS]     (default 7; after make)
#
# The libunwind row needs build/libunwind/lib/libebbmalloc.so (make
# build/libunwind/lib/libebbmalloc.so) and is left out without it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-7}
lib=$root/lib/libebbmalloc.so
ulib=$root/build/libunwind/lib/libebbmalloc.so
exact=prof:true,lg_prof_sample:0,prof_prefix:
confs=(prof:false prof:true "$exact" "$exact,prof_unwind:fp" "$exact,prof_unwind:libgcc")
[ -f "$ulib" ] && confs+=("$exact,prof_unwind:libunwind")
[ -f "$lib" ] || { echo "build first: make" >&2; exit 1; }

script='d = {str(i): [i, str(i)] for i in range(200000)}'
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for ((r = 0; r < rounds; r++)); do
	for i in "${!confs[@]}"; do
		l=$lib
		[[ ${confs[$i]} == *libunwind* ]] && l=$ulib
		t=$({ /usr/bin/time -f %e env -u MALLOC_CONF LD_PRELOAD="$l" EBBMALLOC_CONF="${confs[$i]}" \
			PYTHONMALLOC=malloc /usr/bin/python3 -s -c "$script" >/dev/null; } 2>&1)
		echo "$i $t" >>"$tmp"
	done
done
echo "python3 -c '$script', PYTHONMALLOC=malloc; $rounds rounds; seconds"
printf '%-70s %7s %7s\n' EBBMALLOC_CONF median fastest
for i in "${!confs[@]}"; do
	awk -v i="$i" '$1 == i { print $2 }' "$tmp" | sort -n |
		awk -v c="${confs[$i]}" '{ v[NR] = $1 } END { printf "%-70s %7.2f %7.2f\n", c, v[int((NR + 1) / 2)], v[1] }'
done
