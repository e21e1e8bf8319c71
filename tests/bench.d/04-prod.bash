# shellcheck shell=bash
# 04-prod.bash - make bench's figures for chapter 04's "in production"
# programs: libuv's gather against chapter 03's, and OpenMP against chapter
# 02's process pool and a plain loop.  tests/bench sources this file and
# calls bench_04_prod with RUNS, QUICK, BIN and its helpers in scope.

bench_04_prod() {
	local uv=$BIN/04-choosing/uv_gather co=$BIN/03-asyncio/asyncio_demo
	local omp=$BIN/04-choosing/omp_factorial pool=$BIN/04-choosing/uv_pool out cores bound
	if [ -x "$uv" ] && [ -x "$co" ]; then
		# 1000 timers of 0.2 s: the sleep bound is 0.2 s whatever the loop.
		out=$(repeat "$RUNS" "$uv" --tasks 1000 --delay-ms 200) || { echo "  uv_gather failed"; return 0; }
		bench_record 04.uv.gather_s s lower "gather of 1000 x 0.2 s timers on libuv" \
			"$(field elapsed <<<"$out" | xargs)" "" 0.2 "one 0.2 s wait"
		out=$(repeat "$RUNS" "$co" --tasks 1000 --delay-ms 200 | grep '^tasks=') ||
			{ echo "  asyncio_demo failed"; return 0; }
		bench_record 04.co.gather_s s lower "gather of 1000 x 0.2 s timers on the workbook's loop" \
			"$(field elapsed <<<"$out" | xargs)" "" 0.2 "one 0.2 s wait"
	fi
	if [ -x "$pool" ]; then
		# 16 tasks blocking 50 ms on 4 threads: four rounds, 0.2 s.
		out=$(repeat "$RUNS" "$pool" --tasks 16 --block-ms 50) || { echo "  uv_pool failed"; return 0; }
		bench_record 04.uv.queue_work_s s lower "16 x 50 ms blocking tasks, uv_queue_work on 4 threads" \
			"$(field uv <<<"$out" | xargs)" "" 0.2 "ceil(16/4) x 0.05 s"
		bench_record 04.exec.map_s s lower "16 x 50 ms blocking tasks, chapter 01's executor on 4 threads" \
			"$(field executor <<<"$out" | xargs)" "" 0.2 "ceil(16/4) x 0.05 s"
	fi
	if [ -x "$omp" ]; then
		# 4 x factorial(50000) in every mode: about 2 s a run on two cores.
		out=$(repeat "$RUNS" "$omp" --tasks 4 --n 50000) || { echo "  omp_factorial failed"; return 0; }
		cores=$(field cpus <<<"$out" | head -n 1)
		bound=$(calc 's / (c < 4 ? c : 4)' s="$(field sequential <<<"$out" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" c="$cores")
		bench_record 04.omp.factorial_s s lower "4 x factorial(50000), OpenMP parallel for" \
			"$(field omp <<<"$out" | xargs)" "" "$bound" "sequential / min(4, $cores cores)"
		bench_record 04.pool.factorial_s s lower "4 x factorial(50000), chapter 02's procpool" \
			"$(field pool <<<"$out" | xargs)" "" "$bound" "sequential / min(4, $cores cores)"
		bench_record 04.seq.factorial_s s lower "4 x factorial(50000), one after another" \
			"$(field sequential <<<"$out" | xargs)" "" "" ""
	fi
}
