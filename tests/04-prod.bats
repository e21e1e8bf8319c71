#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 04's "in production" programs: libuv and OpenMP beside the
# workbook's own loop, executor and process pool.  Each must give the same
# answer as the workbook's machinery (order, digest); only sleep-bound
# times are asserted, CPU speed-ups are left to make bench.
# pgrep: omp_factorial, cost_of_concurrency and the uv_ programs, by their
# path, once they exit

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=04-choosing
load helpers/common

# libgomp is not built with ThreadSanitizer: its barriers synchronise
# through atomics TSan cannot see, so every parallel region reads as a race.
skip_openmp_under_tsan() {
	[ "$WB_SAN" != thread ] ||
		skip "libgomp is not TSan-instrumented: its barriers look like races to ThreadSanitizer (the ASan run keeps this check)"
}

# No process of program NAME is left once it has exited.
assert_none_left() {
	local left
	left=$(pgrep -f -- "$(prog "$1")" || true)
	[ -z "$left" ] || flunk "$1 left processes behind:" "$(ps -o pid,ppid,args -p "${left//$'\n'/,}")"
}

@test "uv_gather: 10 waits of 200 ms take one wait on libuv and on the co loop, results in order" {
	run_prog 20 uv_gather --tasks 10 --delay-ms 200
	assert_clean_exit
	local want
	want=$(seq -s, 0 9 | sed 's/\([0-9]\)/Data_\1/g')
	[ "$(value uv_results)" = "$want" ] || flunk "libuv's results: $(value uv_results)"
	[ "$(value co_results)" = "$want" ] || flunk "co's results: $(value co_results)"
	# A timer cannot fire early; ten in a row would take 2 s.  libuv counts
	# in whole milliseconds from the time it cached when the loop last woke
	# (uv_now), so its due time, and its timer by a nanosecond clock, can
	# come up to 1 ms before 200 ms.
	assert_between "$(value uv_s)" 0.199 "$(awk -v s="$(slack 0.25)" 'BEGIN { print 0.2 + s }')" "libuv gather"
	assert_between "$(value co_s)" 0.2 "$(awk -v s="$(slack 0.25)" 'BEGIN { print 0.2 + s }')" "co gather"
	assert_at_least "$(value uv_bytes)" 1 "libuv bytes per task"
	assert_at_least "$(value co_bytes)" 1 "co bytes per task"
}

@test "uv_gather: many short waits, the same results from both" {
	run_prog 20 uv_gather --tasks 2000 --delay-ms 10
	assert_clean_exit
	[ "$(value uv_results)" = "$(value co_results)" ] ||
		flunk "libuv and co differ:" "$(value uv_results)" "$(value co_results)"
	[ "$(value tasks)" = 2000 ]
}

@test "uv_gather: bad input is one line and status 2" {
	local args
	for args in "--tasks 0" "--tasks x" "--delay-ms -1" "--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 uv_gather $args
		assert_usage_error uv_gather || flunk "for: $args"
	done
}

@test "uv_gather: lost stdout is an error" {
	assert_reports_lost_output 20 uv_gather "--tasks 2 --delay-ms 1"
}

@test "omp_factorial: OpenMP, the pool and the loop agree with chapter 02's factorial" {
	skip_openmp_under_tsan
	run_prog 60 omp_factorial --tasks 4 --n 5000 --workers 2
	assert_clean_exit
	local omp=$output
	CHAPTER=02-multiprocessing run_prog 60 multiprocessing_demo --tasks 2 --n 5000 --workers 2
	assert_status 0
	local digits zeros
	digits=$(value digits) zeros=$(value zeros)
	output=$omp
	[ "$(value digits)" = "$digits" ] || flunk "digits: $(value digits), chapter 02: $digits"
	[ "$(value zeros)" = "$zeros" ] || flunk "zeros: $(value zeros), chapter 02: $zeros"
	[[ $(value digest) =~ ^[0-9a-f]{16}$ ]] || flunk "digest: $(value digest)"
	local k
	for k in omp_s procpool_s sequential_s bound_s; do
		assert_at_least "$(value "$k")" 0 "$k"
	done
	assert_none_left omp_factorial
}

@test "omp_factorial: the digest depends only on n" {
	skip_openmp_under_tsan
	run_prog 60 omp_factorial --tasks 3 --n 3000 --workers 3
	assert_clean_exit
	local d3
	d3=$(value digest)
	run_prog 60 omp_factorial --tasks 1 --n 3000 --workers 1
	assert_clean_exit
	[ "$(value digest)" = "$d3" ] || flunk "digest $(value digest) != $d3"
	run_prog 60 omp_factorial --tasks 1 --n 3001 --workers 1
	assert_clean_exit
	[ "$(value digest)" != "$d3" ] || flunk "3000! and 3001! share a digest"
}

@test "omp_factorial: bad input is one line and status 2" {
	local args
	for args in "--tasks 0" "--n -1" "--n 200001" "--workers 0" "--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 omp_factorial $args
		assert_usage_error omp_factorial || flunk "for: $args"
	done
}

@test "omp_factorial: lost stdout is an error, and no worker is left behind" {
	skip_openmp_under_tsan
	assert_reports_lost_output 30 omp_factorial "--tasks 2 --n 100 --workers 2" \
		assert_none_left omp_factorial
}

@test "cost_of_concurrency: creation times and bytes are numbers, counts within --max" {
	run_prog 30 cost_of_concurrency --quick --max-threads 30 --max-procs 20 --max-coroutines 500
	assert_clean_exit
	local kind line max
	for kind in thread:30 process:20 coroutine:500; do
		max=${kind#*:}
		line=$(grep "^kind=${kind%:*} " <<<"$output") || flunk "no kind=${kind%:*} line:" "$output"
		[[ $line =~ create_us=[0-9]+\.[0-9]+\  ]] || flunk "create_us: $line"
		[[ $line =~ rss_bytes=([0-9]+)\  ]] || flunk "rss_bytes: $line"
		[[ $line =~ vm_bytes=([0-9]+)\  ]] || flunk "vm_bytes: $line"
		[[ $line =~ held=([0-9]+)\  ]] || flunk "held: $line"
		[ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[1]}" -le "$max" ] ||
			flunk "held ${BASH_REMATCH[1]} is not within 1..$max: $line"
		# Below the limits, every count reaches its --max.
		[[ $line == *" held=$max stopped_by=max" ]] ||
			[[ $line =~ stopped_by=(RLIMIT_NPROC|threads-max|pid_max/threads-max|memory)$ ]] ||
			flunk "stopped_by: $line"
	done
	assert_none_left cost_of_concurrency
}

@test "cost_of_concurrency: bad input is one line and status 2" {
	local args
	for args in "--max-threads 0" "--max-procs 20001" "--max-coroutines x" "--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 cost_of_concurrency $args
		assert_usage_error cost_of_concurrency || flunk "for: $args"
	done
}

@test "cost_of_concurrency: lost stdout is an error, and nothing is left behind" {
	assert_reports_lost_output 30 cost_of_concurrency \
		"--max-threads 5 --max-procs 5 --max-coroutines 50" assert_none_left cost_of_concurrency
}

@test "uv_pool: libuv's pool and the executor give the same results, in rounds of the pool's size" {
	UV_THREADPOOL_SIZE=2 run_prog 20 uv_pool --tasks 6 --delay-ms 100
	assert_clean_exit
	[ "$(value same)" = yes ] || flunk "same: $(value same)"
	[ "$(value pool)" = 2 ] || flunk "pool: $(value pool)"
	[[ $(value checksum) =~ ^[0-9a-f]{16}$ ]] || flunk "checksum: $(value checksum)"
	# 6 blocking tasks on 2 threads: 3 rounds, never fewer, whichever pool.
	local high
	high=$(awk -v s="$(slack 0.25)" 'BEGIN { print 0.3 + s }')
	assert_between "$(value uv_s)" 0.3 "$high" "uv_queue_work"
	assert_between "$(value executor_s)" 0.3 "$high" "executor_map"
	assert_none_left uv_pool
}

@test "uv_pool: bad input is one line and status 2" {
	local args
	for args in "--tasks 0" "--delay-ms 10001" "--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 uv_pool $args
		assert_usage_error uv_pool || flunk "for: $args"
	done
}

@test "uv_pool: lost stdout is an error" {
	assert_reports_lost_output 20 uv_pool "--tasks 2 --delay-ms 1"
}

@test "uv_fetch: curl on libuv and on the workbook's loop get every file as sent, never more than the limit at once" {
	run_prog 30 uv_fetch --count 40 --limit 8 --delay-ms 100 --size 1000
	assert_clean_exit
	[ "$(value files)" = 40 ] || flunk "files: $(value files)"
	local way high
	# 40 files, 8 at a time, 100 ms each: 5 rounds; one at a time would be 4 s.
	high=$(awk -v s="$(slack 0.4)" 'BEGIN { print 0.5 + s }')
	for way in uv co; do
		[ "$(value "${way}_wrong")" = 0 ] || flunk "$way: $(value "${way}_wrong") files not as sent"
		assert_between "$(value "${way}_peak")" 1 8 "$way: transfers at once"
		assert_between "$(value "${way}_seconds")" 0.5 "$high" "$way: 40 files, 8 at a time"
	done
	[[ $output == *"Both got every file as the server sent it"* ]] || flunk "no line saying both agree"
	local pid
	pid=$(value server_pid)
	[ "$pid" -gt 0 ] && ! kill -0 "$pid" 2>/dev/null || flunk "the loopback server $pid is still there"
	assert_none_left uv_fetch
}

@test "uv_fetch: a status the server did not mean to send is caught by both ways, exit 1" {
	load helpers/server
	# One connection at a time: the three others that arrive meanwhile get
	# 503 and a closed connection, which curl sees as the status or, if it
	# had not sent its request yet, as a failed send.
	server_start --max-conns 1
	run_prog 30 uv_fetch --port "$SERVER_PORT" --count 4 --limit 4 --delay-ms 200
	server_stop
	assert_status 1
	local way
	for way in uv co; do
		assert_between "$(value "${way}_wrong")" 1 3 "$way: files not as sent"
		[[ $stderr =~ "uv_fetch: $way: file "[0-9]+" "("is status 503, ".*"; the server sent 200,"|"failed: Connection reset by peer") ]] ||
			flunk "$way: no line naming the wrong status:" "$stderr"
	done
	[[ $output != *"Both got every file"* ]] || flunk "it claims both agree"
}

@test "uv_fetch: one changed byte in one body is caught, and named by file" {
	load helpers/server
	# One file at a time, so the server's 3rd body is file 2 of the libuv
	# way; the workbook's loop runs second and gets every body right.
	server_start --corrupt-nth 3
	run_prog 30 uv_fetch --port "$SERVER_PORT" --count 4 --limit 1 --delay-ms 0
	server_stop
	assert_status 1
	[ "$(value uv_wrong)" = 1 ] || flunk "uv_wrong: $(value uv_wrong)"
	[ "$(value co_wrong)" = 0 ] || flunk "co_wrong: $(value co_wrong)"
	[[ $stderr =~ ^"uv_fetch: uv: file 2 is status 200, 4098 bytes, hash "([0-9a-f]{8})"; the server sent 200, 4098 bytes, hash "([0-9a-f]{8})$ ]] ||
		flunk "no line naming file 2:" "$stderr"
	[ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[2]}" ] || flunk "the hashes are equal: $stderr"
}

@test "uv_fetch: both ways sleep while the server delays" {
	run_prog 20 uv_fetch --count 3 --limit 3 --delay-ms 300
	assert_clean_exit
	assert_waits_asleep uv "libcurl on libuv, waiting 300 ms for 3 replies"
	assert_waits_asleep co "libcurl on the workbook's loop, waiting 300 ms for 3 replies"
}

@test "uv_fetch: bad input is one line and status 2" {
	local args
	for args in "--count 0" "--limit 501" "--delay-ms x" "--size -1" "--port 70000" "--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 uv_fetch $args
		assert_usage_error uv_fetch || flunk "for: $args"
	done
}

@test "uv_fetch: lost stdout is an error, and nothing is left behind" {
	assert_reports_lost_output 20 uv_fetch "--count 4 --limit 2 --delay-ms 1" assert_none_left uv_fetch
}

@test "uv_fetch: with no server built next to it, one line saying how to build it, exit 1" {
	# A copy outside the build finds no fixtures/httpd above it.
	cp "$(prog uv_fetch)" "$BATS_TEST_TMPDIR/uv_fetch"
	run --separate-stderr timeout -k 5 20 "$BATS_TEST_TMPDIR/uv_fetch" --count 1
	assert_status 1
	[ "$stderr" = "uv_fetch: the loopback server is not built: no fixtures/httpd next to this program's build; build it with 'make programs'" ] ||
		flunk "stderr:" "$stderr"
	[ -z "$output" ] || flunk "it printed a report:" "$output"
}

@test "uv_fetch: a server that exits before it listens is named with how it ended, exit 1, nothing left" {
	# A copy beside a fixtures/httpd that fails at once, as a broken build would.
	local dir=$BATS_TEST_TMPDIR/tree
	mkdir -p "$dir/bin" "$dir/fixtures" "$BATS_TEST_TMPDIR/tmp"
	cp "$(prog uv_fetch)" "$dir/bin/"
	printf '#!/bin/sh\nexit 3\n' >"$dir/fixtures/httpd"
	chmod +x "$dir/fixtures/httpd"
	run --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR/tmp" timeout -k 5 20 "$dir/bin/uv_fetch" --count 1
	assert_status 1
	[ "$stderr" = "uv_fetch: the loopback server exited with status 3" ] || flunk "stderr:" "$stderr"
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] || flunk "left behind:" "$(ls -A "$BATS_TEST_TMPDIR/tmp")"
}
