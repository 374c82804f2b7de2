#!/usr/bin/env bash
# Builds the C++ test programs, tests/programs/*.cc, into build/programs/<name>
# (the Makefile's `programs` rule only builds the C ones). Called by run.sh;
# rebuilds a program when it is missing or older than its source or the
# public header. A failed build leaves no stale binary behind, so the test
# that needs it fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
CXX=${CXX:-g++}
shopt -s nullglob
srcs=(tests/programs/*.cc)
[ ${#srcs[@]} -gt 0 ] || exit 0
if ! command -v "$CXX" >/dev/null 2>&1; then
	echo "build-cxx: $CXX not found; C++ programs not built" >&2
	exit 0
fi
mkdir -p build/programs
rc=0
for src in "${srcs[@]}"; do
	out=build/programs/$(basename "$src" .cc)
	if [ -x "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt include/ebbmalloc.h ]; then
		continue
	fi
	rm -f "$out"
	echo "$CXX -std=c++17 -O2 -g -Wall -Wextra -Werror -pthread -Iinclude -o $out $src"
	"$CXX" -std=c++17 -O2 -g -Wall -Wextra -Werror -pthread -Iinclude -o "$out" "$src" || rc=1
done
exit $rc
