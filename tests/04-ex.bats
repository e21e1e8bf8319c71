#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 04's exercise: choose the approach and build it (04-pipeline).
#
# Each "[04-pipeline] ..." check must fail on the skeleton and pass on the
# solution, whatever approach the learner chose.  The driver ex_pipeline
# runs pipeline_run() over fetches from the loopback server and prints
# key=value; the server (--report-peak) counts the requests it served at
# once, each from accept to the last byte of its reply, so the learner's
# limit is measured where the learner cannot fake it.  Times are
# sleep-bound: N fetches of D ms, L at a time, cannot end before
# ceil(N / L) x D, and end well before N x D.

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=04-choosing
load helpers/common

setup() {
	load helpers/server
}

teardown() {
	server_stop
}

# pipe_run SECONDS ARGS...: run the driver against a fresh server, stop the
# server, and set PEAK to the most requests it served at once.  The driver
# must exit cleanly (no sanitizer report, no abort).
pipe_run() {
	local secs=$1
	shift
	server_start --report-peak || return 1
	run_prog "$secs" ex_pipeline --url "$SERVER_URL" "$@"
	server_stop || return 1
	PEAK=$(sed -n 's/^peak_serving=//p' "$BATS_TEST_TMPDIR/httpd.out")
	assert_clean_exit || flunk "$(exercise_pointer)"
}

# pipe_expect KEY WANT WHAT: the driver printed KEY=WANT.
pipe_expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] && return 0
	flunk "$3: got $1=${got:-(nothing)}, want $1=$2" \
		"driver output: $output" "$(exercise_pointer)"
}

@test "[04-pipeline] all 200 results equal the sequential reference, each in its input's place" {
	pipe_run 30 --count 200 --limit 20
	pipe_expect failed 0 "items that failed (none should)"
	pipe_expect first_wrong none "the first item whose value is not transform(its own body)"
	pipe_expect ok 200 "items whose value is exact"
}

@test "[04-pipeline] 200 fetches of 100 ms, 20 at a time, take at least 1 s and under 3 s, not the 20 s of one after another" {
	pipe_run 30 --count 200 --limit 20
	pipe_expect ok 200 "items whose value is exact"
	assert_between "$(value elapsed_ms)" 1000 "$(slack 3000)" \
		"pipeline_run's wall time in ms (10 rounds of 100 ms is the bound)" ||
		flunk "driver output: $output" "$(exercise_pointer)"
}

@test "[04-pipeline] a limit of 7 is never exceeded at the server, and at least 4 fetches are there at once" {
	pipe_run 20 --count 60 --limit 7
	pipe_expect ok 60 "items whose value is exact"
	[ -n "$PEAK" ] || flunk "the server reported no peak_serving"
	assert_between "$PEAK" 4 7 "the most requests the server served at once, with a limit of 7" ||
		flunk "driver output: $output" "$(exercise_pointer)"
}

@test "[04-pipeline] the calling thread only waits: no transform runs on it, and it sleeps through 4 fetches of 300 ms" {
	pipe_run 20 --count 4 --limit 4 --delay-ms 300
	pipe_expect ok 4 "items whose value is exact"
	pipe_expect on_caller 0 "transforms run on the thread that called pipeline_run (they must go to workers: on the loop's thread a transform stops every fetch)"
	assert_between "$(value main_ms)" 300 "$(slack 1000)" "pipeline_run's wall time in ms (one round of 300 ms)" ||
		flunk "driver output: $output" "$(exercise_pointer)"
	assert_waits_asleep main "the calling thread, while 4 fetches of 300 ms ran," ||
		flunk "driver output: $output" "$(exercise_pointer)"
}

@test "[04-pipeline] a fetch answered 500 and one from a dead port fail alone, and the other 38 items complete" {
	pipe_run 20 --count 40 --limit 8 --fail-at 3 --dead-at 7
	pipe_expect err_3 -EREMOTEIO "item 3's error (the server answered 500)"
	pipe_expect status_3 500 "item 3's status"
	pipe_expect err_7 -ECONNREFUSED "item 7's error (nobody listens on its port)"
	pipe_expect failed 2 "items that failed"
	pipe_expect first_wrong none "the first item whose value is not transform(its own body)"
	pipe_expect ok 38 "items whose value is exact"
}

@test "ex_pipeline: no --url, a count of 0 or an item beyond the count is a usage error" {
	run_prog 10 ex_pipeline
	assert_usage_error ex_pipeline
	run_prog 10 ex_pipeline --url http://127.0.0.1:1 --count 0
	assert_usage_error ex_pipeline
	run_prog 10 ex_pipeline --url http://127.0.0.1:1 --count 5 --fail-at 5
	assert_usage_error ex_pipeline
}

@test "ex_pipeline: lost output is an error, not a silent success" {
	server_start
	assert_reports_lost_output 20 ex_pipeline "--url $SERVER_URL --count 3 --delay-ms 0"
}

@test "httpd --report-peak: 5 requests held together count 5, the same 5 one after another count 1" {
	local urls=() i
	server_start --report-peak
	for i in 1 2 3 4 5; do
		urls+=("$SERVER_URL/file?size=10&delay_ms=1000")
	done
	# --parallel opens all 5 at once, and the server holds each for 1 s:
	# time enough for the last to arrive before the first is answered.
	run timeout 10 curl -s -o /dev/null --parallel --parallel-immediate "${urls[@]}"
	assert_status 0
	server_stop
	[ "$(sed -n 's/^peak_serving=//p' "$BATS_TEST_TMPDIR/httpd.out")" = 5 ] ||
		flunk "peak with 5 at once:" "$(cat "$BATS_TEST_TMPDIR/httpd.out")"
	server_start --report-peak
	for i in 1 2 3 4 5; do
		run timeout 10 curl -s -o /dev/null "$SERVER_URL/file?size=10&delay_ms=20"
		assert_status 0
	done
	server_stop
	[ "$(sed -n 's/^peak_serving=//p' "$BATS_TEST_TMPDIR/httpd.out")" = 1 ] ||
		flunk "peak with one at a time:" "$(cat "$BATS_TEST_TMPDIR/httpd.out")"
}
