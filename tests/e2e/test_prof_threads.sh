#!/usr/bin/env bash
# Heap profiles of a multithreaded program (tests/programs/prof_threads.c):
# three threads, alive together, leak 100, 200 and 300 blocks of 512 bytes
# from thread_leak_a, _b and _c. In exact mode (lg_prof_sample:0):
# - in the dump, the per-thread "tN:" lines add up to the "t*:" line, for
#   the header and under every stack, in all four numbers;
# - jeprof --thread='*' shows each function in its own thread's report with
#   its bytes, and jeprof --thread=N shows that thread alone;
# - no stack address lies inside libebbmalloc.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need jeprof objdump nm addr2line
need_prog prof_threads
prog=$progs/prof_threads

_run threads LD_PRELOAD="$lib" EBBMALLOC_CONF=prof:true,prof_final:true,lg_prof_sample:0 -- "$prog"
expect_status "prof_threads: exit 0" 0
expect_eq "prof_threads: nothing on stderr" "" "$(cat "$tmp/threads.err")"
dump=$(ls "$tmp"/jeprof.*.0.f.heap 2>/dev/null | head -n 1 || true)
dump=${dump:-/dev/null}

# Sums of the tN lines against t*, block by block ("header", or the
# stack's first address); prints one line per block that does not add up.
sums=$(awk '
function check() {
	if (block != "" && (s[1] != t[1] || s[2] != t[2] || s[3] != t[3] || s[4] != t[4]))
		printf "%s: t* %s %s %s %s, sum of tN %s %s %s %s\n", block, t[1], t[2], t[3], t[4], s[1], s[2], s[3], s[4]
	for (i = 1; i <= 4; i++) { s[i] = 0; t[i] = "" }
}
function nums(line, a) {	# "  tX: a: b [c: d]" -> a[1..4]
	sub(/^  t[*0-9]+:/, "", line); gsub(/[^0-9]+/, " ", line)
	split(line, a, " ")
}
/^MAPPED_LIBRARIES:/ { exit }
NR == 2 { block = "header" }
/^@ / { check(); block = $2; blocks++ }
/^  t\*: / { nums($0, t) }
/^  t[0-9]+: / { nums($0, a); for (i = 1; i <= 4; i++) s[i] += a[i] }
END { check(); printf "%d stacks\n", blocks }' "$dump")
expect_match "every stack and the header: the tN lines add up to t*" '^[0-9]+ stacks$' "$sums"
expect_eq "the header lists at least the three leaking threads" yes \
	"$(awk 'NR > 2 && /^@/ { exit } /^  t[0-9]+: [1-9]/ { n++ } END { print (n >= 3 ? "yes" : "no: " n) }' "$dump")"

# One report per thread.
jeprof --thread='*' --text --show_bytes "$prog" "$dump" >"$tmp/all.txt" 2>"$tmp/all.err" || true
per_thread=$(awk '
/^Total \(t[0-9]+\): / { th = $2; gsub(/[():]/, "", th); total[th] = $3 }
$6 ~ /^thread_leak_[abc]$/ && $1 > 0 { print $6, $1, th, ($1 == total[th] ? "alone" : "with-others") }' "$tmp/all.txt" | sort)
expect_eq "jeprof --thread='*': each function in one thread's report, alone, with its bytes" \
	"thread_leak_a 51200 alone|thread_leak_b 102400 alone|thread_leak_c 153600 alone" \
	"$(awk '{ print $1, $2, $4 }' <<<"$per_thread" | paste -sd '|')"
expect_eq "jeprof --thread='*': three different threads" 3 \
	"$(awk '{ print $3 }' <<<"$per_thread" | sort -u | grep -c . || true)"

# jeprof --thread=N for thread_leak_b's thread.
n=$(awk '$1 == "thread_leak_b" { sub(/^t/, "", $3); print $3 }' <<<"$per_thread")
jeprof --thread="${n:-0}" --text --show_bytes "$prog" "$dump" >"$tmp/one.txt" 2>/dev/null || true
expect_eq "jeprof --thread=N: only that thread, thread_leak_b's 102400 bytes" \
	"Total (t${n:-?}): 102400 B|102400 thread_leak_b" \
	"$(sed -n 1p "$tmp/one.txt")|$(awk '$1 > 0 && $2 ~ /%$/ { print $1, $6 }' "$tmp/one.txt" | paste -sd ' ')"

# All threads together.
jeprof --text --show_bytes "$prog" "$dump" >"$tmp/sum.txt" 2>/dev/null || true
expect_eq "jeprof --text: the three functions with 51200, 102400 and 153600 bytes" "51200 102400 153600" \
	"$(for f in thread_leak_a thread_leak_b thread_leak_c; do
		awk -v f=$f '$6 == f { print $1 }' "$tmp/sum.txt"; done | xargs)"
expect_eq "jeprof --text: the leaks' stacks go through worker and start_thread" "3 3" \
	"$(jeprof --collapsed "$prog" "$dump" 2>/dev/null | grep -cE ';start_thread;worker[^;]*;thread_leak_[abc][^;]* [0-9]+$' || true) \
$(grep -cE '^@ ' "$dump" | awk '{ print ($1 >= 3) ? 3 : $1 }')"

# No allocator frame: every stack address is outside libebbmalloc's code.
expect_eq "no stack address inside libebbmalloc's r-xp mapping" "maps=1 inside=0" \
	"$(awk '
	function pad(h) { h = tolower(h); sub(/^0x/, "", h); while (length(h) < 16) h = "0" h; return "x" h }
	BEGIN { m = 0; n = 0; k = 0 }
	/^MAPPED_LIBRARIES:/ { maps = 1; next }
	maps && $2 ~ /^..x/ && $6 ~ /\/libebbmalloc\.so$/ { split($1, r, "-"); lo[m] = pad(r[1]); hi[m] = pad(r[2]); m++ }
	!maps && /^@ / { for (i = 2; i <= NF; i++) a[n++] = pad($i) }
	END {
		for (i = 0; i < n; i++) for (j = 0; j < m; j++) if (a[i] >= lo[j] && a[i] < hi[j]) { k++; break }
		printf "maps=%d inside=%d\n", (n ? m : -1), k
	}' "$dump")"

finish
