# shellcheck shell=bash
# 04-matrix.bash - make bench's figures for chapter 04's decision_matrix:
# every cell of the guide's decision matrix (row x approach), the median of
# RUNS runs, with the sleeps-alone ideal beside the rows whose items sleep.
# tests/bench sources this file and calls bench_04_matrix with RUNS, QUICK,
# BIN and its helpers (repeat, bench_record) in scope.

bench_04_matrix() {
	local prog=$BIN/04-choosing/decision_matrix out keys key row way vals ideal
	local args=(--quiet --kv)
	[ -x "$prog" ] || return 0
	# QUICK=1: only the CPU-bound rows, at full size (a second or two a
	# run): at --quick sizes they would measure little but start-up costs.
	[ "${QUICK:-0}" = 1 ] && args+=(--rows "images,crunching")
	out=$(repeat "$RUNS" "$prog" "${args[@]}") || {
		echo "  decision_matrix failed"
		return 0
	}
	out=$(grep '^row=' <<<"$out")
	# The cells in the program's order, once each.
	keys=$(awk '!seen[$1 " " $2]++ { sub(/^row=/, "", $1); sub(/^approach=/, "", $2);
		print $1 "/" $2 }' <<<"$out")
	for key in $keys; do
		row=${key%/*}
		way=${key#*/}
		vals=$(awk -v r="row=$row" -v a="approach=$way" '$1 == r && $2 == a {
			sub(/^seconds=/, "", $3); printf "%s%s", sep, $3; sep = " " }' <<<"$out")
		ideal=$(awk -v r="row=$row" -v a="approach=$way" '$1 == r && $2 == a && $4 ~ /^ideal=/ {
			sub(/^ideal=/, "", $4); print $4; exit }' <<<"$out")
		bench_record "04.matrix.$row.$way" s lower "decision matrix: $row, $way" \
			"$vals" "" "$ideal" "${ideal:+the sleeps alone, as many at once as the limits allow}"
	done
}
