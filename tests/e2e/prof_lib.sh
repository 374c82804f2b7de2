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
