# Helpers shared by the heap-profiling tests (tests/e2e/test_prof_*.sh),
# sourced after lib.sh. Not a test itself.

flat() {	# flat FUNC FILE: jeprof --text's flat column for FUNC
	awk -v f="$1" '$6 == f && $2 ~ /%$/ { v = $1 } END { print v + 0 }' "$2"
}

# Counts DUMP's stack addresses inside libebbmalloc's executable mapping,
# from the dump's own MAPPED_LIBRARIES: "maps=1 inside=0" is clean.
ebb_frames() {	# ebb_frames DUMP
	awk '
	function pad(h) { h = tolower(h); sub(/^0x/, "", h); while (length(h) < 16) h = "0" h; return "x" h }
	BEGIN { m = 0; n = 0; k = 0 }
	/^MAPPED_LIBRARIES:/ { maps = 1; next }
	maps && $2 ~ /^..x/ && $6 ~ /\/libebbmalloc\.so$/ { split($1, r, "-"); lo[m] = pad(r[1]); hi[m] = pad(r[2]); m++ }
	!maps && /^@ / { for (i = 2; i <= NF; i++) a[n++] = pad($i) }
	END {
		for (i = 0; i < n; i++) for (j = 0; j < m; j++) if (a[i] >= lo[j] && a[i] < hi[j]) { k++; break }
		printf "maps=%d inside=%d\n", (n ? m : -1), k
	}' "$1"
}

# Allocator function names that must never show up in a stack (a cold
# part such as free_slow.cold included).
ebb_syms='(^|[ ;])(ebb_[A-Za-z_0-9]+|malloc_slow|malloc_ra|alloc_small|alloc_any|sampled_big|free_slow|free_small|prof_[A-Za-z_0-9]+|tcache_[A-Za-z_0-9]+|arena_[A-Za-z_0-9]+|bg_start|purge_[A-Za-z_0-9]+)($|[ ;<.])'

# The classic leak (leak_test: 4096 x 1024 B) as jeprof reads DUMP of PROG:
# exactly its bytes and objects, and its whole stack, matched by the
# regex WHOLE against jeprof --collapsed. jeprof's outputs stay in
# $tmp/NAME.bytes, .objs and .folded, its messages in $tmp/NAME.jerr.
expect_leak_test() {	# expect_leak_test LABEL NAME PROG DUMP WHOLE
	local label=$1 name=$2 prog=$3 dump=$4 whole=$5
	jeprof --text --show_bytes "$prog" "$dump" >"$tmp/$name.bytes" 2>"$tmp/$name.jerr" || true
	expect_eq "$label: jeprof --text --show_bytes: leak_test flat = 4194304" 4194304 "$(flat leak_test "$tmp/$name.bytes")"
	jeprof --text --inuse_objects "$prog" "$dump" >"$tmp/$name.objs" 2>>"$tmp/$name.jerr" || true
	expect_eq "$label: jeprof --inuse_objects: leak_test flat = 4096" 4096 "$(flat leak_test "$tmp/$name.objs")"
	jeprof --collapsed "$prog" "$dump" >"$tmp/$name.folded" 2>>"$tmp/$name.jerr" || true
	expect_match "$label: the leak's whole stack (jeprof --collapsed)" "$whole" \
		"$(grep -E ' 4194304$' "$tmp/$name.folded" | head -n 1 || true)"
}

# The whole stack of leak_test when unwinding reaches _start.
leak_stack='^_start[^;]*;(.*;)?main[^;]*;leak_test(<[0-9a-f]+>)? 4194304$'
