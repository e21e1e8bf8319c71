#!/usr/bin/env bats
# make bench (tests/bench): the arithmetic of its rows, and a whole quick run
# that writes every expected figure to its files.  The speeds themselves are
# never asserted here: the machine is noisy.

load helpers/common

# In a subshell, with tests/bench's functions defined and nothing run.
bench_fn() {
	(
		# shellcheck source=tests/bench
		. "$WB_ROOT/tests/bench"
		BENCH_OUT=$BATS_TEST_TMPDIR/out
		"$@"
	)
}

# record_row ARGS...: bench_record's kept row for one figure, as TSV.
record_row() {
	bench_fn record_and_print "$@"
}

record_and_print() {
	bench_record "$@" >/dev/null && printf '%s' "$BENCH_ROWS"
}

@test "bench_record: median and spread of the runs, an even count included" {
	run record_row k.odd s lower "odd" "3 1 2" "" "" ""
	assert_status 0
	[ "$(cut -f 5-8 <<<"$output")" = $'3\t2\t1\t3' ] || flunk "odd: $output"
	run record_row k.even s lower "even" "4 1 10 2" "" "" ""
	[ "$(cut -f 5-8 <<<"$output")" = $'4\t3\t1\t10' ] || flunk "even: $output"
}

@test "bench_record: how many times better C is follows BETTER, and a missing Python figure is '-'" {
	run record_row k.time s lower "a time" "2" "6 8 4" "1" "a bound"
	# Lower is better: Python's median 6 over C's 2.
	[ "$(cut -f 9,12,13,14 <<<"$output")" = $'6\t3\t1\ta bound' ] || flunk "lower: $output"
	run record_row k.rate /s higher "a rate" "300" "100" "" ""
	# Higher is better: C's 300 over Python's 100.
	[ "$(cut -f 12 <<<"$output")" = 3 ] || flunk "higher: $output"
	run record_row k.alone /s higher "C alone" "300" "" "" ""
	[ "$(cut -f 9-14 <<<"$output")" = $'-\t-\t-\t-\t-\t-' ] || flunk "no python: $output"
	run record_row k.bad s sideways "?" "1" "" "" ""
	assert_status 2
}

@test "bench_summary: the TSV and the JSON hold every row, text escaped, and nothing half-written is left" {
	run bench_fn eval 'bench_record a.b s lower "say \"hi\" \\ there" "1 2 3" "4" "" "" >/dev/null &&
		bench_record c.d /s higher "rate" "100" "" "50" "half" >/dev/null && bench_summary >/dev/null'
	assert_status 0
	local out=$BATS_TEST_TMPDIR/out
	[ "$(wc -l <"$out/bench.tsv")" -eq 3 ] || flunk "$(cat "$out/bench.tsv")"
	run jq -r '.figures[0].what, .figures[0].python.median, .figures[1].python, .figures[1].bound' "$out/bench.json"
	assert_status 0
	[ "$output" = $'say "hi" \\ there\n4\nnull\n50' ] || flunk "$output"
	[ -z "$(find "$out" -name '.bench.*')" ] || flunk "a temporary file is left: $(ls -a "$out")"
}

@test "tests/bench: an unknown chapter is one line and exit status 2, before anything runs" {
	run --separate-stderr timeout -k 5 20 "$WB_ROOT/tests/bench" 42
	assert_status 2
	[ "${#stderr_lines[@]}" -eq 1 ] && [[ $stderr == *"no chapter '42'"* ]] || flunk "$stderr"
	[ -z "$output" ] || flunk "it started: $output"
}

# Every figure a quick run must write, by key; those of them that have a
# Python twin.
QUICK_KEYS="00.counter.none.s 00.counter.mutex.s 00.counter.atomic.s 00.gil_sim.gil.speedup
00.gil_sim.free.speedup 00.gil_sim.io.speedup 01.threading_demo.s 01.download_demo.s
01.db_queries.speedup 01.executor.submit_per_s 01.executor.map_per_s 01.executor.latency_us
02.pool.4x2.speedup 02.factorial.loop_s 02.factorial.fac_s 02.fork_us 02.manager.ops_per_s
02.shm_counter.ops_per_s 03.gather_100k.s 03.gather_100k.bytes_per_task 03.create_await.us
03.switch.ns 03.semaphore.s 03.wait_for.overshoot_ms 03.server.burst_per_s
04.matrix.images.sequential 04.matrix.images.threads 04.matrix.images.processes
04.matrix.images.event_loop 04.matrix.crunching.threads 04.matrix.crunching.processes
04.cost.thread.create_us 04.cost.process.create_us 04.cost.coroutine.create_us 04.uv.gather_s
04.co.gather_s 04.uv.queue_work_s 04.executor.map_s 04.uv.fetch_s 04.co.fetch_s 04.omp.factorial_s 04.procpool.factorial_s
05.mpi.t4.w1.speedup 05.mpi.t16.w4.speedup 05.procpool.t16.w4.speedup 05.mpirun.startup_s
05.mpi.uneven.dynamic_s 05.mpi.uneven.static_s 05.pingpong.vader.rtt_us 05.pingpong.tcp.rtt_us"
PYTHON_KEYS="01.executor.submit_per_s 01.executor.map_per_s 01.executor.latency_us
02.factorial.loop_s 02.factorial.fac_s 02.fork_us 02.manager.ops_per_s 03.gather_100k.s
03.gather_100k.bytes_per_task 03.create_await.us 03.switch.ns 03.semaphore.s
03.wait_for.overshoot_ms 03.server.burst_per_s"

@test "make bench QUICK=1 writes bench.tsv and bench.json with every expected figure, each a number, and Python's beside its twins" {
	[ -z "$WB_SAN" ] || skip "a sanitizer build's figures mean nothing, and the run would take minutes"
	local out=$BATS_TEST_TMPDIR/out key
	run timeout -k 5 300 env QUICK=1 BENCH_OUT="$out" BIN="$WB_BUILD/sol" "$WB_ROOT/tests/bench"
	assert_status 0
	[[ $output == *"make bench took "* ]] || flunk "no total time: ${output: -2000}"
	[[ $output == *"how many times better C is"* ]] || flunk "no bar chart"
	for key in $QUICK_KEYS; do
		awk -F'\t' -v k="$key" '$1 == k && $6 ~ /^[0-9.]+$/ { found = 1 } END { exit !found }' \
			"$out/bench.tsv" || flunk "no numeric figure $key in bench.tsv"
	done
	if command -v python3 >/dev/null; then
		for key in $PYTHON_KEYS; do
			awk -F'\t' -v k="$key" '$1 == k && $9 ~ /^[0-9.]+$/ && $12 ~ /^[0-9.]+$/ { found = 1 }
				END { exit !found }' "$out/bench.tsv" || flunk "no Python figure for $key"
		done
	fi
	run jq -e --argjson n "$(($(wc -l <"$out/bench.tsv") - 1))" '.quick and (.figures | length) == $n' \
		"$out/bench.json"
	assert_status 0
}
