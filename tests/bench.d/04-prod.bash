# shellcheck shell=bash
# 04-prod.bash - make bench's figures for chapter 04's "in production"
# programs: libuv's gather, pool and fetch against the workbook's own, and OpenMP
# against chapter 02's process pool and the plain loop.  tests/bench
# sources this file and calls bench_04_prod with RUNS, QUICK, BIN and its
# helpers (repeat, bench_record) in scope.

# prod_values KEY: every KEY=value on stdin (one per run), space-separated.
prod_values() {
	awk -v k="$1" '{
		for (i = 1; i <= NF; i++)
			if (index($i, k "=") == 1) {
				printf "%s%s", sep, substr($i, length(k) + 2); sep = " "
			}
	}'
}

bench_04_prod() {
	local dir=$BIN/04-choosing out ms n bound kind cargs=()
	[ "${QUICK:-0}" = 1 ] && cargs=(--quick)

	# What one unit costs: creation time, and bytes held (RSS) per unit.
	if [ -x "$dir/cost_of_concurrency" ] &&
		out=$(repeat "$RUNS" "$dir/cost_of_concurrency" "${cargs[@]}"); then
		for kind in thread process coroutine; do
			bench_record "04.cost.$kind.create_us" us lower "create one $kind (coroutine: to its first await)" \
				"$(grep "^kind=$kind " <<<"$out" | prod_values create_us)" "" "" ""
			bench_record "04.cost.$kind.rss_bytes" B lower "RSS per $kind held" \
				"$(grep "^kind=$kind " <<<"$out" | prod_values rss_bytes)" "" "" ""
		done
	else
		echo "  cost_of_concurrency failed or not built"
	fi

	# QUICK=1: cost --quick, a 100 ms gather and factorial(20000): about 5 s.
	ms=500 n=50000
	[ "${QUICK:-0}" = 1 ] && ms=100 n=20000

	if [ -x "$dir/uv_gather" ] && out=$(repeat "$RUNS" "$dir/uv_gather" --tasks 10 --delay-ms "$ms"); then
		bound=$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')
		bench_record 04.uv.gather_s s lower "libuv timers: gather 10 x $ms ms" \
			"$(prod_values uv_s <<<"$out")" "" "$bound" "one wait of $ms ms"
		bench_record 04.co.gather_s s lower "workbook co tasks: gather 10 x $ms ms" \
			"$(prod_values co_s <<<"$out")" "" "$bound" "one wait of $ms ms"
		bench_record 04.uv.task_bytes B lower "libuv timers: bytes per task" \
			"$(prod_values uv_bytes <<<"$out")" "" "" ""
		bench_record 04.co.task_bytes B lower "workbook co tasks: bytes per task" \
			"$(prod_values co_bytes <<<"$out")" "" "" ""
	else
		echo "  uv_gather failed or not built"
	fi

	if [ -x "$dir/uv_pool" ] && out=$(repeat "$RUNS" "$dir/uv_pool" --tasks 8 --delay-ms "$((ms / 5))"); then
		bound=$(prod_values ideal <<<"$out" | awk '{ print $1 }')
		bench_record 04.uv.queue_work_s s lower "libuv uv_queue_work: 8 blocking tasks, 4 threads" \
			"$(prod_values uv_s <<<"$out")" "" "$bound" "ceil(8/4) x $((ms / 5)) ms"
		bench_record 04.executor.map_s s lower "workbook executor_map: 8 blocking tasks, 4 threads" \
			"$(prod_values executor_s <<<"$out")" "" "$bound" "ceil(8/4) x $((ms / 5)) ms"
	else
		echo "  uv_pool failed or not built"
	fi

	# The downloads of chapter 03 with no delay, so what is timed is the
	# machinery: curl, the loop, the server.  QUICK=1: 500 files.
	local files=2000
	[ "${QUICK:-0}" = 1 ] && files=500
	if [ -x "$dir/uv_fetch" ] &&
		out=$(repeat "$RUNS" "$dir/uv_fetch" --count "$files" --limit 50 --delay-ms 0 | grep '^files='); then
		bench_record 04.uv.fetch_s s lower "libcurl multi on libuv: $files files, 50 at once, no delay" \
			"$(prod_values uv_seconds <<<"$out")" "" "" ""
		bench_record 04.co.fetch_s s lower "libcurl multi on the workbook's loop: the same $files files" \
			"$(prod_values co_seconds <<<"$out")" "" "" ""
	else
		echo "  uv_fetch failed or not built"
	fi

	if [ -x "$dir/omp_factorial" ] && out=$(repeat "$RUNS" "$dir/omp_factorial" --tasks 4 --n "$n"); then
		# The bound: the sequential time over min(4, cores), the median run's.
		bound=$(prod_values bound_s <<<"$out" | tr ' ' '\n' | sort -g |
			awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
		bench_record 04.omp.factorial_s s lower "OpenMP threads: 4 x factorial($n)" \
			"$(prod_values omp_s <<<"$out")" "" "$bound" "sequential / min(4, cores)"
		bench_record 04.procpool.factorial_s s lower "procpool processes: 4 x factorial($n)" \
			"$(prod_values procpool_s <<<"$out")" "" "$bound" "sequential / min(4, cores)"
		bench_record 04.seq.factorial_s s lower "one by one: 4 x factorial($n)" \
			"$(prod_values sequential_s <<<"$out")" "" "" ""
	else
		echo "  omp_factorial failed or not built"
	fi
}
