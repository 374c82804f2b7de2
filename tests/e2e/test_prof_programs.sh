#!/usr/bin/env bash
# Heap profiles of real binaries, read by jeprof through the dump's own
# MAPPED_LIBRARIES:
# - a PIE program linked (rpath) against a shared library, each leaking
#   from its own noinline function (tests/programs/prof_shlib.c built
#   twice); and the same program built -no-pie: both function names, with
#   their exact bytes;
# - /usr/bin/python3 running a short allocation-heavy script with
#   prof:true,lg_prof_sample:0,prof_final:true: the same stdout as on
#   glibc, and jeprof reads its final dump (status 0, "Total:", symbols
#   from python3).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prof_lib.sh"

need gcc jeprof objdump nm addr2line

# ---- a leak in the program and one in a shared library ----
src=$root/tests/programs/prof_shlib.c
mkdir "$tmp/so"
gcc -std=gnu11 -O2 -g -shared -fPIC -DPROF_SHLIB_LIB -o "$tmp/so/libprofshlib.so" "$src"
gcc -std=gnu11 -O2 -g -DPROF_SHLIB_MAIN -o "$tmp/pie" "$src" -L"$tmp/so" -Wl,-rpath,"$tmp/so" -lprofshlib
gcc -std=gnu11 -O2 -g -no-pie -DPROF_SHLIB_MAIN -o "$tmp/nopie" "$src" -L"$tmp/so" -Wl,-rpath,"$tmp/so" -lprofshlib

for kind in pie nopie; do
	prog=$tmp/$kind
	case $kind in
	pie)	type=DYN ;;
	*)	type=EXEC ;;
	esac
	expect_eq "$kind: ELF type $type, libprofshlib.so found through the rpath" "$type yes" \
		"$(readelf -hW "$prog" | awk '/Type:/ { print $2 }') \
$(case $(ldd "$prog") in *"libprofshlib.so => $tmp/so/libprofshlib.so "*) echo yes ;; *) echo no ;; esac)"
	rm -f "$tmp"/jeprof.*.heap
	_run "$kind" LD_PRELOAD="$lib" EBBMALLOC_CONF=prof_leak:true,lg_prof_sample:0 -- "$prog"
	expect_status "$kind: exit 0" 0
	dump=$(ls "$tmp"/jeprof.*.f.heap 2>/dev/null | head -n 1 || true)
	dump=${dump:-/dev/null}
	expect_eq "$kind: the dump maps the program and the library executable" "1 1" \
		"$(awk -v p="$prog" '$2 ~ /^..x/ && $6 == p { n++ } END { print n + 0 }' "$dump") \
$(awk -v p="$tmp/so/libprofshlib.so" '$2 ~ /^..x/ && $6 == p { n++ } END { print n + 0 }' "$dump")"
	jeprof --text --show_bytes "$prog" "$dump" >"$tmp/$kind.txt" 2>"$tmp/$kind.jerr" || true
	expect_eq "$kind: jeprof names both: prog_leak 614400 (300 x 2048), shlib_leak 819200 (200 x 4096)" \
		"614400 819200" "$(flat prog_leak "$tmp/$kind.txt") $(flat shlib_leak "$tmp/$kind.txt")"
	expect_eq "$kind: both stacks go up through main" "2" \
		"$(jeprof --collapsed "$prog" "$dump" 2>/dev/null | grep -cE ';main[^;]*;(prog|shlib)_leak[^;]* [0-9]+$' || true)"
	expect_eq "$kind: no stack address inside libebbmalloc" "maps=1 inside=0" "$(ebb_frames "$dump")"
done

# ---- CPython ----
py=/usr/bin/python3
if [ ! -x "$py" ]; then
	echo "skip python: $py is not installed"
else
	unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONMALLOC PYTHONDEVMODE PYTHONWARNINGS
	export PYTHONHASHSEED=0
	cat >"$tmp/alloc.py" <<'PY'
import collections, json
d = {}
for i in range(200000):
    d["k%d" % i] = [i, str(i) * 3, (i, i + 1)]
keep = [v for v in d.values() if v[0] % 7 == 0]
s = json.dumps(keep[:5000])
back = json.loads(s)
c = collections.Counter(len(v[1]) for v in d.values())
del d
print(len(keep), len(s), len(back), sorted(c.items()))
PY
	run_glibc py-glibc "$py" "$tmp/alloc.py"
	_run py LD_PRELOAD="$lib" EBBMALLOC_CONF=prof:true,lg_prof_sample:0,prof_final:true,prof_prefix:"$tmp/py" \
		-- "$py" "$tmp/alloc.py"
	expect_status "python3 under exact profiling: exit 0" 0
	expect_same_file "python3 under exact profiling: same stdout as on glibc" "$tmp/py-glibc.out" "$tmp/py.out"
	expect_eq "python3 under exact profiling: nothing on stderr" "" "$(cat "$tmp/py.err")"
	dump=$(ls "$tmp"/py.*.f.heap 2>/dev/null | head -n 1 || true)
	dump=${dump:-/dev/null}
	status=0
	jeprof --text --show_bytes "$py" "$dump" >"$tmp/py.txt" 2>"$tmp/py.jerr" || status=$?
	expect_status "jeprof --text on python3's final dump: exit 0" 0
	expect_match "jeprof --text on python3's final dump: a Total: line" '^Total: [1-9][0-9]* B$' \
		"$(sed -n 1p "$tmp/py.txt")"
	expect_eq "jeprof --text on python3's final dump: functions of python3 (Py*)" yes \
		"$(awk '$6 ~ /^_?Py/ { y = 1 } END { print y ? "yes" : "no" }' "$tmp/py.txt")"
	expect_eq "python3: no stack address inside libebbmalloc" "maps=1 inside=0" "$(ebb_frames "$dump")"
fi

finish
