#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 04, in production: libuv's loop running the guide's gather, held
# to the same answers as the workbook's own loop (chapter 03).

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=04-choosing
load helpers/common

# The key=value line of chapter 03's asyncio_demo for the same run, so the
# libuv twin is compared with the workbook's loop, not with a copy of it.
co_twin() {
	local bin=$WB_BIN/03-asyncio/asyncio_demo
	[ -x "$bin" ] || { flunk "no $bin: make programs"; return 1; }
	timeout -k 5 20 "$bin" "$@" | grep '^tasks='
}

@test "uv_gather: 10 timers of 0.5 s on one libuv loop take about 0.5 s, not 5.0 s" {
	run_prog 20 uv_gather
	assert_clean_exit
	[ "$(value tasks)" = 10 ] || flunk "default task count: $(value tasks)"
	[ "$(value ideal)" = 0.500 ] || flunk "ideal: $(value ideal)"
	# A timer cannot fire early; the upper bound is the ideal plus slack.
	assert_between "$(value elapsed)" 0.5 "$(awk -v s="$(slack 0.15)" 'BEGIN { print 0.5 + s }')" \
		"elapsed seconds"
}

@test "uv_gather: results in argument order and the same finishing order as chapter 03's gather" {
	local twin
	run_prog 20 uv_gather --tasks 5 --delay-ms 100 --stagger-ms 40
	assert_clean_exit
	printf '%s\n' "$output" | grep -qxF "Results: Data 0, Data 1, Data 2, Data 3, Data 4" ||
		flunk "results must be in argument order:" "$output"
	[ "$(value finish_order)" = 4,3,2,1,0 ] || flunk "finish order: $(value finish_order)"
	[ "$(value ideal)" = 0.260 ] || flunk "ideal with the stagger: $(value ideal)"
	twin=$(co_twin --tasks 5 --delay-ms 100 --stagger-ms 40) || return 1
	[[ $twin == *" ideal=0.260 "* && $twin == *" finish_order=4,3,2,1,0"* ]] ||
		flunk "chapter 03's gather disagrees:" "$twin"
	assert_between "$(value elapsed)" 0.26 "$(awk -v s="$(slack 0.15)" 'BEGIN { print 0.26 + s }')" \
		"elapsed seconds"
}

@test "uv_gather: bad input is one line and status 2" {
	local bad
	for bad in "--tasks 0" "--tasks x" "--delay-ms -1" "--stagger-ms 10000 --tasks 100" "extra" "--bogus"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 uv_gather $bad
		assert_usage_error uv_gather || { flunk "for: uv_gather $bad"; return 1; }
	done
}

@test "uv_gather: lost stdout is an error" {
	assert_reports_lost_output 10 uv_gather "--tasks 3 --delay-ms 10"
}

# ---------------------------------------------------------- omp_factorial

# libgomp is not built with ThreadSanitizer: its barriers and task queue
# synchronise through atomics and futexes TSan cannot see, so every OpenMP
# region reads as a race in libgomp itself.  The ASan+UBSan run keeps it.
skip_omp_under_tsan() {
	[ "$WB_SAN" != thread ] ||
		skip "libgomp is not TSan-instrumented: its barriers look like races to ThreadSanitizer"
}

@test "omp_factorial: OpenMP, the process pool and the loop all give factorial(N), with chapter 02's digits and zeros" {
	local twin
	skip_omp_under_tsan
	run_prog 60 omp_factorial --tasks 4 --n 20000
	assert_clean_exit
	[ "$(value tasks)" = 4 ] || flunk "tasks: $(value tasks)"
	twin=$(timeout -k 5 60 "$WB_BIN/02-multiprocessing/multiprocessing_demo" --tasks 2 --n 20000 |
		grep '^cpus=') || { flunk "chapter 02's multiprocessing_demo failed"; return 1; }
	[[ $twin == *" digits=$(value digits) zeros=$(value zeros) "* ]] ||
		flunk "digits=$(value digits) zeros=$(value zeros), chapter 02 says:" "$twin"
	[ "$(value digits)" = 77338 ] || flunk "factorial(20000) has 77338 digits, not $(value digits)"
	# The pool's workers are joined before the program exits: none of this
	# session's processes is still an omp_factorial.
	[ -z "$(pgrep -s 0 -x omp_factorial)" ] || flunk "omp_factorial left processes behind"
}

@test "omp_factorial: bad input is one line and status 2" {
	local bad
	for bad in "--tasks 0" "--tasks 65" "--n -1" "--n 1000001" "--threads 0" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 omp_factorial $bad
		assert_usage_error omp_factorial || { flunk "for: omp_factorial $bad"; return 1; }
	done
}

@test "omp_factorial: lost stdout is an error" {
	skip_omp_under_tsan
	assert_reports_lost_output 30 omp_factorial "--tasks 2 --n 1000"
}

# ---------------------------------------------------------------- uv_pool

@test "uv_pool: uv_queue_work and the executor give the same results; 8 x 0.1 s on 4 threads take two rounds" {
	run_prog 20 uv_pool --tasks 8 --block-ms 100
	assert_clean_exit
	[ "$(value same)" = 1 ] || flunk "the two pools' results differ:" "$output"
	[ "$(value threads)" = 4 ] || flunk "libuv's default pool is 4 threads, not $(value threads)"
	# 8 blocking tasks on 4 threads: two rounds of 0.1 s, never fewer.
	assert_between "$(value uv)" 0.2 "$(awk -v s="$(slack 0.15)" 'BEGIN { print 0.2 + s }')" "libuv's seconds"
	assert_between "$(value executor)" 0.2 "$(awk -v s="$(slack 0.15)" 'BEGIN { print 0.2 + s }')" "the executor's seconds"
}

@test "uv_pool: UV_THREADPOOL_SIZE=2 is libuv's whole pool: 4 x 0.1 s then take two rounds" {
	UV_THREADPOOL_SIZE=2 run_prog 20 uv_pool --tasks 4 --block-ms 100
	assert_clean_exit
	[ "$(value threads)" = 2 ] || flunk "threads: $(value threads)"
	assert_between "$(value uv)" 0.2 "$(awk -v s="$(slack 0.15)" 'BEGIN { print 0.2 + s }')" "libuv's seconds"
}

@test "uv_pool: bad input is one line and status 2; lost stdout is an error" {
	local bad
	for bad in "--tasks 0" "--block-ms x" "--block-ms 10001" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 uv_pool $bad
		assert_usage_error uv_pool || { flunk "for: uv_pool $bad"; return 1; }
	done
	assert_reports_lost_output 10 uv_pool "--tasks 2 --block-ms 1"
}
