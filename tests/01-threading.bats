#!/usr/bin/env bats
# Chapter 01, threading: the executor, its demos and its exercises.
#
# Checks named "[ID] ..." check exercise ID; the runner selects them by that
# prefix and runs them on the solution, on the learner's file and on the
# skeleton.  Timing checks have a fixed lower bound (a sleep never ends
# early) and an upper bound widened by `slack` under the sanitizers.

CHAPTER=01-threading
load helpers/common
load helpers/server

# Where to look when a check of an exercise fails (from the chapter manifest),
# plus a word about -ENOSYS, which only the skeletons' stand-ins return.
hint() {
	exercise_pointer
	if [[ "$output$stderr" == *ENOSYS* || "$output$stderr" == *"not implemented"* ]]; then
		echo "(-ENOSYS, \"not implemented yet\", comes from a skeleton's stand-in: that TODO is still to do)"
	fi
}

# The program ran cleanly; if not, say so with the lesson pointer.
clean() {
	assert_clean_exit || flunk "$(hint)"
}

# expect KEY WANT WHAT: the program printed KEY=WANT.
expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] && return 0
	flunk "$3: got $1=${got:-(nothing)}, want $1=$2" "$(hint)"
}

# expect_line LINE WHAT: the program printed exactly this line.
expect_line() {
	printf '%s\n' "$output" | grep -qxF -- "$1" && return 0
	flunk "$2: no line '$1' in the output:" "$output" "$(hint)"
}

# upto BASE EXTRA: an upper bound, BASE plus EXTRA seconds of slack (tripled
# under the sanitizers).
upto() {
	awk -v b="$1" -v s="$(slack "$2")" 'BEGIN { print b + s }'
}

# No file left in $TMPDIR, and no loopback server a demo started still
# running (for the checks whose demo may start one).
nothing_left_behind() {
	[ -z "$(ls -A "$TMPDIR")" ] || { flunk "left behind:" "$(ls -AR "$TMPDIR")"; return 1; }
	! pgrep -f -- "$(realpath "$WB_FIXTURES/httpd") --quiet --port 0 --port-file $TMPDIR/" >/dev/null ||
		{ flunk "an httpd started by the demo is still running"; return 1; }
}

# ----------------------------------------------------------- threading_demo

@test "threading_demo: 5 downloads of 0.5 s on 3 workers take about 1.0 s, not 2.5 s" {
	run_prog 20 threading_demo
	clean
	[ "$(value ideal)" = "1.000" ] || flunk "ideal should be 1.000: $output"
	[ "$(value sequential)" = "2.500" ] || flunk "sequential should be 2.500: $output"
	assert_between "$(value elapsed)" 1.0 "$(upto 1.0 0.3)" "elapsed seconds"
	printf '%s\n' "$output" | grep -qE '^5 tasks in [0-9.]+ s \(ideal 1\.000 s with 3 workers; 2\.500 s one at a time\)$' ||
		flunk "missing the summary line: $output"
}

@test "threading_demo prints the results in input order" {
	run_prog 20 threading_demo --delay-ms 100
	clean
	expect_line "Results: file_0.dat, file_1.dat, file_2.dat, file_3.dat, file_4.dat" \
		"results must be in input order"
}

@test "threading_demo: every download logs its start and its completion from a worker thread named Thread-N" {
	run_prog 20 threading_demo --delay-ms 100
	clean
	for i in 0 1 2 3 4; do
		printf '%s\n' "$output" | grep -qE "^\[\+[0-9.]+s\] Thread-[123]: Starting download $i\.\.\.$" ||
			flunk "no start line for download $i:" "$output"
		printf '%s\n' "$output" | grep -qE "^\[\+[0-9.]+s\] Thread-[123]: Download $i complete!$" ||
			flunk "no completion line for download $i:" "$output"
	done
}

@test "threading_demo --trace: never more than 3 downloads at once on 3 workers, and 3 at some point" {
	run_prog 20 threading_demo --tasks 9 --delay-ms 200 --trace
	clean
	[ "$(spans | wc -l)" -eq 9 ] || flunk "expected 9 spans:" "$output"
	[ "$(max_overlap)" -eq 3 ] || flunk "at most 3 at once, and 3 at some point; saw $(max_overlap)"
	[ "$(worker_count)" -eq 3 ] || flunk "expected 3 worker threads, saw $(worker_count)"
}

@test "threading_demo --timeline draws one row per worker thread" {
	run_prog 20 threading_demo --delay-ms 100 --timeline
	clean
	for w in Thread-1 Thread-2 Thread-3; do
		printf '%s\n' "$output" | grep -qE "^$w +\|.*\|$" || flunk "no chart row for $w:" "$output"
	done
}

@test "threading_demo with one worker runs the downloads one at a time" {
	run_prog 20 threading_demo --tasks 3 --workers 1 --delay-ms 100
	clean
	assert_between "$(value elapsed)" 0.3 "$(upto 0.3 0.2)" "elapsed seconds"
	[ "$(value ideal)" = "0.300" ] || flunk "ideal should be 0.300: $output"
}

@test "threading_demo rejects bad input with one line on stderr and status 2" {
	local bad
	for bad in "--workers 0" "--workers 257" "--tasks abc" "--tasks 0" \
		"--tasks 99999999999999999999" "--delay-ms -1" "--delay-ms 1.5" \
		"--bogus" "--tasks" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 5 threading_demo $bad
		assert_usage_error threading_demo || flunk "for: threading_demo $bad"
	done
}

@test "threading_demo: a report it cannot write (stdout full or closed) is an error, --help included" {
	assert_reports_lost_output 10 threading_demo "--tasks 3 --delay-ms 10"
}

@test "threading_demo --help prints usage and exits 0" {
	run_prog 5 threading_demo --help
	clean
	[[ ${lines[0]} == "usage: threading_demo "* ]] || flunk "first line: ${lines[0]}"
	[[ $output == *--workers* && $output == *--timeline* && $output == *--trace* ]] ||
		flunk "usage should list every option: $output"
}

# ------------------------------------------------------------- futures_demo

# futures_demo takes a few seconds; its scenes are checked one test each,
# from one run kept for the whole file.
futures_demo_output() {
	local cache=$BATS_FILE_TMPDIR/futures_demo
	if [ ! -e "$cache.status" ]; then
		run_prog 30 futures_demo
		printf '%s' "$output" >"$cache.out"
		printf '%s' "$stderr" >"$cache.err"
		echo "$status" >"$cache.status"
	fi
	output=$(cat "$cache.out")
	stderr=$(cat "$cache.err")
	status=$(cat "$cache.status")
	mapfile -t lines <<<"$output"
	clean
}

@test "futures_demo: as_completed hands out futures in the order they finish" {
	futures_demo_output
	expect_line "completion order: 1 3 2 0 (submitted 0 1 2 3)" "finishing order"
}

@test "futures_demo: a failing task's code and message surface at result()" {
	futures_demo_output
	expect_line 'result() of "parse settings" returned -22 (invalid argument)' "the error code"
	expect_line "the task's message: line 3: expected 'key = value'" "the message"
}

@test "futures_demo: result() with a timeout times out and the slow task still finishes" {
	futures_demo_output
	printf '%s\n' "$output" | grep -qE '^result\(timeout 300 ms\): timed out after 0\.[0-9]+ s; the task is still ' ||
		flunk "no 'timed out' line:" "$output"
	assert_between "$(value timeout_elapsed)" 0.3 "$(upto 0.3 0.15)" "time waited"
	printf '%s\n' "$output" | grep -qF 'waiting again without a limit: "slow task slept 900 ms"' ||
		flunk "the slow task's result never came:" "$output"
}

@test "futures_demo: cancel works on a queued task and not on a running one" {
	futures_demo_output
	expect_line "cancel(A), running: -16 (the task is running and can no longer be cancelled)" "cancel of a running task"
	expect_line "cancel(B), queued:  0; B is now cancelled" "cancel of a queued task"
	expect_line "result(B): -125 (the task was cancelled before it started)" "result of a cancelled task"
	expect_line "B ran: no, C ran: yes" "who ran"
}

@test "futures_demo: shutdown with cancel_futures runs only the task already started" {
	futures_demo_output
	expect_line "task 0: done" "the running task finishes"
	for i in 1 2 3 4; do
		expect_line "task $i: cancelled" "queued tasks are cancelled"
	done
	expect_line "ran 1 of 5 tasks" "cancelled tasks never run"
}

@test "futures_demo rejects bad input with status 2 and prints usage with --help" {
	run_prog 5 futures_demo --unit-ms 5
	assert_usage_error futures_demo
	run_prog 5 futures_demo --nope
	assert_usage_error futures_demo
	run_prog 5 futures_demo --help
	clean
	[[ ${lines[0]} == "usage: futures_demo "* ]] || flunk "first line: ${lines[0]}"
}

@test "futures_demo: a report it cannot write (stdout full or closed) is an error, --help included" {
	assert_reports_lost_output 20 futures_demo "--unit-ms 20"
}

# ----------------------------------------------------------- executor_bench

@test "executor_bench runs with a small --tasks and prints its table" {
	run_prog 120 executor_bench --tasks 2000 --runs 1
	clean
	for row in "executor: submit + result" "executor: map" \
		"pthread_create + join per task" "executor: submit -> result" \
		"pthread_create -> join"; do
		printf '%s\n' "$output" | grep -qF -- "$row" || flunk "no row '$row':" "$output"
	done
	assert_at_least "$(value map_per_sec)" 1 "map tasks per second"
	run_prog 5 executor_bench --runs 0
	assert_usage_error executor_bench
}

@test "executor_bench: a report it cannot write (stdout full or closed) is an error, --help included" {
	assert_reports_lost_output 60 executor_bench "--tasks 200 --runs 1"
}

@test "executor_bench refuses a --tasks it cannot hold before it starts, and states the bound in --help" {
	run_prog 5 executor_bench --tasks 100000000
	assert_usage_error executor_bench
	[[ $stderr == *"--tasks: 100000000 is out of range (1 to 10000000)"* ]] || flunk "$stderr"
	[ -z "$output" ] || flunk "it started anyway:" "$output"
	run_prog 5 executor_bench --help
	[[ $output == *"--tasks N     tasks per run (1 to 10000000;"* ]] || flunk "no bound in --help:" "$output"
	# 5 million tasks need about 1.2 GiB; a 1 GiB ulimit cannot hold them.
	# (The sanitizers reserve terabytes of address space: no ulimit -v there.)
	[ -z "$WB_SAN" ] || return 0
	run --separate-stderr timeout -k 5 10 bash -c 'ulimit -v 1048576 && exec "$@"' _ \
		"$(prog executor_bench)" --tasks 5000000 --runs 1 --workers 1
	assert_usage_error executor_bench
	[[ $stderr == *"--tasks 5000000 needs about 1.2 GiB of memory, more than this process may have (1.0 GiB, ulimit -v)"* ]] ||
		flunk "$stderr"
	[ -z "$output" ] || flunk "it started anyway:" "$output"
}

# ------------------------------------------------------------------ 01-pool

@test "[01-pool] every one of 100000 tiny tasks submitted from two threads runs exactly once, dropped futures included" {
	run_prog 120 stress --tasks 100000 --workers 4 --submitters 2 --mode submit
	clean
	expect never 0 "some tasks never ran: is every queued future taken by a worker?"
	expect more 0 "some tasks ran twice: is a future taken off the queue under the lock?"
	expect once 100000 "every task must run exactly once"
	expect wrong_results 0 "every result must reach its future"
}

@test "[01-pool] ThreadSanitizer finds no race in the pool, under 20000 tasks from two threads" {
	# TSan reports a race whether or not the threads happened to collide,
	# so this holds on any machine.
	run_tsan 120 stress --tasks 20000 --workers 4 --submitters 2 --mode submit
	assert_no_race "every field of struct executor is guarded by ex->lock. $(hint)"
	clean
	expect once 20000 "every task must run exactly once"
}

@test "[01-pool] never more tasks run at once than max_workers, and exactly max_workers when there is work for all" {
	local workers
	for workers in 1 3; do
		run_prog 30 pool_probe --case in-flight --tasks 18 --workers $workers --delay-ms 100 --trace
		clean
		expect ran 18 "every task must run"
		[ "$(max_overlap)" -eq "$workers" ] ||
			flunk "with $workers workers, $(max_overlap) tasks overlapped at most; want exactly $workers" "$(hint)"
		[ "$(worker_count)" -eq "$workers" ] ||
			flunk "with $workers workers, $(worker_count) threads ran tasks" "$(hint)"
	done
}

@test "[01-pool] a batch queued at once (map) wakes enough idle workers to run it all together" {
	# map queues its tasks in one step; if that wakes only one idle worker,
	# the batch runs one task at a time on an otherwise idle pool.
	run_prog 20 threading_demo --tasks 3 --workers 3 --delay-ms 300 --trace
	clean
	[ "$(max_overlap)" -eq 3 ] ||
		flunk "3 tasks queued at once on 3 idle workers ran at most $(max_overlap) at a time:" \
			"wake one idle worker per new task (up to ex->idle) in executor_submit_many. $(hint)"
}

@test "[01-pool] submit and map after shutdown fail with -ESHUTDOWN and run nothing" {
	run_prog 10 pool_probe --case after-shutdown
	clean
	expect submit -ESHUTDOWN "submit after shutdown"
	expect map -ESHUTDOWN "map after shutdown"
	expect ran 0 "nothing may run after shutdown"
}

@test "[01-pool] shutdown with wait returns only once every queued task has run" {
	run_prog 10 pool_probe --case shutdown-waits
	clean
	expect shutdown 0 "shutdown's return value"
	expect ran 4 "every queued task runs before shutdown(wait) returns"
	expect "done" 4 "every future is done when shutdown(wait) returns"
	assert_between "$(value elapsed)" 0.4 "$(upto 0.4 0.25)" "seconds from submit until shutdown(wait) returned (2 rounds of 0.2 s)" || flunk "$(hint)"
}

@test "[01-pool] shutdown with cancel_futures cancels the queued tasks: they never run and their result is -ECANCELED" {
	run_prog 10 pool_probe --case cancel-futures
	clean
	expect ran 1 "only the task already running may run"
	expect "done" 1 "the running task finishes"
	expect cancelled 4 "the queued tasks are cancelled"
	expect ecanceled 4 "their result is -ECANCELED"
	expect callbacks 5 "their done callbacks run"
	expect cancel 0 "shutdown(cancel_futures) without wait"
	assert_between "$(value elapsed)" 0.2 "$(upto 0.2 0.25)" "seconds in shutdown(wait) (the running task's 0.2 s)" || flunk "$(hint)"
}

@test "[01-pool] shutdown with cancel_futures also cancels the tasks a worker took in a batch but has not started" {
	run_prog 10 pool_probe --case cancel-batched
	clean
	expect cancel 0 "shutdown(cancel_futures) without wait"
	expect ran 2 "only the first two tasks started; the other 19 waited, in the queue or in the worker's batch"
	expect cancelled 19 "every task that had not started is cancelled"
}

@test "[01-pool] shutdown without wait returns at once and the queued tasks still run" {
	run_prog 10 pool_probe --case no-wait
	clean
	expect shutdown 0 "shutdown's return value"
	assert_between "$(value elapsed)" 0 "$(upto 0 0.1)" "seconds in shutdown(wait=false)" || flunk "$(hint)"
	expect last 0 "the last queued task still runs"
	expect ran 3 "every queued task runs"
}

@test "[01-pool] two executors share nothing: shutting one down leaves the other working" {
	run_prog 10 pool_probe --case two-executors
	clean
	expect a_submit -ESHUTDOWN "the executor that was shut down refuses work"
	expect b_result 0 "the other one still works"
	assert_between "$(value b_elapsed)" 0 "$(upto 0 0.2)" "seconds for B's task while A's worker is busy" || flunk "$(hint)"
	expect a_worker A-1 "A's worker is named after A's prefix"
	expect b_worker B-1 "B's worker is named after B's prefix"
	expect a_ran 1 "A ran only its running task"
	expect b_ran 1 "B ran its task"
}

@test "[01-pool] idle workers wait for work instead of exiting, and exit at once on shutdown" {
	run_prog 5 pool_probe --case idle-free
	clean
	expect late_task 0 "a task submitted after the workers sat idle for 0.1 s must still run"
	assert_between "$(value elapsed)" 0 "$(upto 0 0.5)" "seconds to shut down and free 8 idle workers" || flunk "$(hint)"
}

@test "[01-pool] idle workers sleep: four workers with nothing to do for 0.9 s use no CPU" {
	run_prog 20 wait_probe --case idle
	clean
	expect recorded 4 "each of the 4 workers ran one task before going idle"
	awk -v c="$(value workers_cpu_ms)" 'BEGIN { exit !(c != "" && c <= 5) }' ||
		flunk "4 idle workers used $(value workers_cpu_ms) ms of CPU in 0.9 s: an idle worker must block on work_cv (pthread_cond_wait), not spin or sleep and look again" "$(hint)"
}

@test "[01-pool] a task that asks its own executor to shut down and wait gets -EDEADLK instead of hanging" {
	run_prog 10 pool_probe --case self-shutdown
	clean
	expect result 0 "the task itself succeeds"
	expect self_shutdown -EDEADLK "a worker cannot wait for itself"
}

@test "[01-pool] a task may wait for the shutdown of another executor, even one already joined" {
	run_prog 10 pool_probe --case other-shutdown
	clean
	expect result 0 "the task itself succeeds"
	expect other_shutdown 0 "waiting for another executor's shutdown is no deadlock"
}

# --------------------------------------------------------------- 01-timeout

@test "[01-timeout] result with a timeout returns -ETIMEDOUT on time, and the task keeps running to the end" {
	run_prog 10 future_probe --case timeout
	clean
	expect timed -ETIMEDOUT "result(f, 250 ms) on a task of 800 ms"
	assert_between "$(value timed_elapsed)" 0.25 "$(upto 0.25 0.15)" "seconds waited for a 250 ms timeout" || flunk "$(hint)"
	expect poll -ETIMEDOUT "result(f, 0) on a running task"
	assert_between "$(value poll_elapsed)" 0 "$(upto 0 0.05)" "seconds waited with timeout 0" || flunk "$(hint)"
	expect final 0 "waiting again gets the result"
	expect value ok "the task's result"
	assert_at_least "$(value total)" 0.8 "the task ran its whole 0.8 s"
}

@test "[01-timeout] wake-ups that change nothing do not move the deadline" {
	run_prog 10 future_probe --case stretch
	clean
	expect rc -ETIMEDOUT "result(f, 300 ms) while another thread pokes the condition variable"
	assert_between "$(value elapsed)" 0.3 "$(upto 0.3 0.2)" "seconds waited: one absolute deadline, kept across wake-ups" || flunk "$(hint)"
	assert_at_least "$(value pokes)" 1 "wake-ups sent"
}

@test "[01-timeout] result without a timeout waits as long as the task takes" {
	run_prog 10 future_probe --case wait
	clean
	expect rc 0 "result(f, -1)"
	expect value ok "the task's result"
	expect state done "the future's state afterwards"
	assert_at_least "$(value elapsed)" 0.3 "seconds waited for a 0.3 s task" || flunk "$(hint)"
}

@test "[01-timeout] a thread blocked in result() sleeps: no spinning, no polling, with or without a timeout" {
	local c
	for c in result result-timed result-negative; do
		run_prog 20 wait_probe --case "$c"
		clean
		expect rc 0 "the result arrives after 0.3 s (--case $c)"
		assert_at_least "$(value waited)" 0.3 "seconds waited (--case $c)" || flunk "$(hint)"
		assert_waits_asleep waiter "future_wait_until (--case $c)" || flunk "$(hint)"
	done
}

@test "[01-timeout] every thread waiting on one future wakes when it finishes" {
	run_prog 15 future_probe --case waiters
	clean
	expect woken 4 "4 threads wait on one future; all must get the result (broadcast, not signal)"
	assert_between "$(value max_elapsed)" 0.3 "$(upto 0.3 0.3)" "seconds from submit until the last waiter had the result" || flunk "$(hint)"
}

@test "[01-timeout] ThreadSanitizer finds no race in a future, with four threads waiting on it" {
	run_tsan 60 future_probe --case waiters
	assert_no_race "a future's state, result and waiters are guarded by f->lock. $(hint)"
	clean
	expect woken 4 "4 threads wait on one future; all must get the result"
}

@test "[01-timeout] a task's error code and message reach whoever asks for the result" {
	run_prog 10 future_probe --case error
	clean
	# Asked while the task cannot have ended, a result is not there yet,
	# whenever the threads happen to run.
	expect early -ETIMEDOUT "a result asked for with 10 ms to wait while its task is held back"
	expect a -EIO "a task returning -EIO"
	expect a_value untouched "a failed task's result is not stored"
	expect b -EPERM "a task returning EPERM (positive) counts as -EPERM"
	expect c 0 "a task that succeeds"
	expect c_value ok "its result"
	expect_line "a_msg=[disk is full]" "the failing task's message"
	expect_line "b_msg=[]" "a failure without a message"
	expect_line "c_msg=[]" "a success keeps no message"
}

@test "[01-timeout] cancel succeeds only while the task is queued, and a cancelled future's result is -ECANCELED" {
	run_prog 15 future_probe --case cancel
	clean
	expect cancel_running -EBUSY "cancel of a running task"
	expect cancel_queued 0 "cancel of a queued task"
	expect cancel_again 0 "cancel of a cancelled task"
	expect b_state cancelled "state after cancel"
	expect result_cancelled -ECANCELED "result of a cancelled future"
	assert_between "$(value result_cancelled_elapsed)" 0 "$(upto 0 0.1)" "seconds result waited on a cancelled future" || flunk "$(hint)"
	expect result_running 0 "the running task was not disturbed"
	expect cancel_done -EALREADY "cancel of a finished task"
	expect b_ran 0 "a cancelled task never runs"
}

@test "[01-timeout] done callbacks run once each, in order, where the future finished; added to a finished future, at once" {
	run_prog 15 future_probe --case callbacks
	clean
	expect cancel 0 "cancel of the queued task"
	expect order 3124 "callbacks 1 and 2 run in the order added, 3 during cancel, 4 when added late"
	expect done_calls 1,1 "each callback runs exactly once"
	expect done_thread worker-1 "a task's callbacks run in the worker that finished it"
	expect done_state done "a callback sees its future finished"
	expect cancel_calls 1 "a cancelled future's callback runs once"
	expect cancel_during 1 "it runs before future_cancel() returns"
	expect cancel_thread main "in the thread that cancelled"
	expect cancel_state cancelled "and sees the future cancelled"
	expect late_calls 1 "a callback added to a finished future runs once"
	expect late_during 1 "before future_add_done_callback() returns"
	expect late_thread main "in the thread that added it"
}

@test "[01-timeout] a future outlives a submitter that forgot it, and its executor (reference counting)" {
	run_prog 10 future_probe --case refs
	clean
	expect forgotten_ran 1 "a task whose future was dropped at once still runs"
	expect waiter 0 "a waiter holding its own reference gets the result after the submitter dropped its"
	expect after_free 0 "a future is readable after executor_free()"
	expect kept_by_callback 0 "a reference taken in a callback keeps the future"
}

# --------------------------------------------- executor.h, clause by clause
# What executor.h promises that no other check reaches, each from one scene
# of tests/progs/01-threading/contract_probe.c.  A promise kept inside an
# exercise's TODO gets that exercise's tag, and its check fails on the
# skeleton; the untagged checks are about code outside the TODOs, which the
# skeletons share with the solutions.

@test "executor_new takes 1 to EXECUTOR_MAX_WORKERS workers and a prefix of up to 15 bytes or NULL, and answers -EINVAL to the rest" {
	run_prog 30 contract_probe --case new-args
	clean
	expect zero -EINVAL "executor_new with 0 workers"
	expect negative -EINVAL "executor_new with -1 workers"
	expect above_max -EINVAL "executor_new with EXECUTOR_MAX_WORKERS + 1 workers"
	expect int_min -EINVAL "executor_new with INT_MIN workers"
	expect one 0 "executor_new with 1 worker"
	expect max 0 "executor_new with EXECUTOR_MAX_WORKERS workers"
	expect prefix_15 0 "a prefix of 15 bytes"
	expect prefix_16 -EINVAL "a prefix of 16 bytes"
	expect prefix_null 0 "a NULL prefix"
}

@test "executor_new starts exactly max_workers threads, and none of them is left once shutdown with wait returns" {
	run_prog 30 contract_probe --case new-args
	clean
	expect one_threads 1 "threads started for 1 worker"
	expect max_threads "$(value max_workers)" "threads started for EXECUTOR_MAX_WORKERS workers"
	expect shutdown 0 "shutdown(wait) of the largest executor"
	expect threads_left 0 "worker threads still there after shutdown(wait) returned"
}

@test "workers call themselves PREFIX-1 to PREFIX-N in their log lines, and worker-N when the prefix is NULL" {
	run_prog 20 contract_probe --case names
	clean
	expect failed 0 "tasks that failed"
	expect names abcdefghijklmno-1,abcdefghijklmno-2,abcdefghijklmno-3 \
		"the names of the 3 workers (a 15-byte prefix), each of which ran one task"
	expect default worker-1 "the worker of an executor started with a NULL prefix (numbered from 1 in every executor)"
	local i
	for i in 1 2 3; do
		printf '%s\n' "$output" | grep -qE "^\[\+[0-9.]+s\] abcdefghijklmno-$i: ran a task$" ||
			flunk "no log line from worker abcdefghijklmno-$i:" "$output"
	done
}

@test "[01-pool] the queue is first in, first out: one worker runs the queued tasks in the order they were submitted" {
	run_prog 20 contract_probe --case fifo
	clean
	expect held_released 1 "the running task, held while 8 more were queued, was let go"
	expect started 8 "queued tasks that ran"
	expect order 1,2,3,4,5,6,7,8 "the order the worker took them in: new tasks join the tail, workers take the head"
}

@test "[01-pool] submit never blocks while every worker is busy: 1000 submits return before either running task ends" {
	run_prog 30 contract_probe --case busy-submit
	clean
	expect failed 0 "submits that failed"
	expect held_released 2 "both running tasks were let go only after the 1000 submits returned; a submit that waits for a free worker makes them give up first"
	expect ran 1000 "queued tasks that ran in the end"
}

@test "[01-pool] a refused submit sets *out to NULL, and a refused map leaves every result NULL" {
	run_prog 10 contract_probe --case after-shutdown
	clean
	expect submit -ESHUTDOWN "submit after shutdown"
	expect out NULL "*out after the refused submit (it held a marker before the call)"
	expect map -ESHUTDOWN "map after shutdown"
	expect results NULL,NULL "results after the refused map (they held a marker before the call)"
	expect ran 0 "tasks that ran"
}

@test "[01-pool] calling shutdown again is harmless, and a later call with wait still waits for the tasks and the workers" {
	run_prog 20 contract_probe --case shutdown-again
	clean
	expect first 0 "shutdown without wait"
	expect second 0 "the same again"
	assert_between "$(value no_wait_elapsed)" 0 "$(upto 0 0.1)" "seconds in the two shutdowns without wait" || flunk "$(hint)"
	expect waited 0 "then shutdown with wait"
	expect done_at_return 3 "tasks done when it returned: the running one and the two queued behind it (the running one was let go only after it returned, or after 0.3 s)"
	expect again 0 "shutdown(wait, cancel_futures) once everything is joined"
	expect ran 3 "tasks that ran"
	expect held_released 1 "the running task was let go"
}

@test "[01-pool] shutdown with cancel_futures after a plain shutdown cancels what is still queued, and runs its callbacks in the calling thread before returning" {
	run_prog 20 contract_probe --case cancel-later
	clean
	expect plain 0 "shutdown without cancel_futures"
	expect calls_before 0 "a shutdown without cancel_futures cancels nothing"
	expect cancel 0 "shutdown with cancel_futures"
	expect calls_at_return 3 "done callbacks of the 3 queued tasks that had run when it returned"
	expect in_caller 3 "callbacks that ran in the thread that called shutdown"
	expect callback_thread main "the thread the callbacks ran in"
	expect cancelled 3 "queued futures now cancelled"
	expect queued_ran 0 "cancelled tasks that ran anyway"
	expect held_done 1 "the running task finished"
}

@test "[01-pool] tasks and done callbacks may call into their own executor: submit, wait for another task, shut down without wait" {
	run_prog 20 contract_probe --case reentrant
	clean
	expect task 0 "the task that submits"
	expect task_submit 0 "a task submitting to its own executor"
	expect task_wait 0 "the same task waiting for the one it submitted (two workers)"
	expect callback_submit 0 "a done callback, run by a worker, submitting to the same executor"
	expect callback_task 0 "the task the callback submitted"
	expect task_shutdown 0 "a task shutting its own executor down without wait (only waiting is -EDEADLK)"
	expect submit_after -ESHUTDOWN "submit after that shutdown"
}

@test "submit, map and as_completed_new answer -EINVAL to missing arguments; executor_free, future_unref and as_completed_free ignore NULL" {
	run_prog 10 contract_probe --case edge-args
	clean
	local key
	for key in submit_no_executor submit_no_fn map_no_executor map_no_fn map_no_args \
		map_no_results ac_no_out ac_no_array ac_null_future; do
		expect "$key" -EINVAL "$key"
	done
	expect ran 0 "tasks run by the calls that were refused"
	expect out_cleared 1 "a refused submit sets *out to NULL"
	expect results_cleared 1 "a refused map leaves every result NULL"
	expect ref_returns_it 1 "future_ref(f) returns f"
	expect nulls_ignored 1 "executor_free(NULL), future_unref(NULL), as_completed_free(NULL)"
}

@test "when an allocation fails, executor_new, submit, map, as_completed_new and future_add_done_callback return -ENOMEM and leave nothing behind" {
	run_prog 30 contract_probe --case nomem
	[ "$(value skipped)" != sanitizer ] || skip "the sanitizers bring their own malloc(), which the driver cannot make fail"
	clean
	expect new -ENOMEM "executor_new with its first allocation failing"
	expect new_failures_clean 1 "executor_new failing at each later allocation returns -ENOMEM (or -EAGAIN) and leaves no thread behind"
	expect submit -ENOMEM "submit with its first allocation failing"
	expect out NULL "*out after that submit"
	expect lost_ran 0 "the task whose submit failed"
	assert_at_least "$(value map_failures)" 1 "maps failed for lack of memory"
	expect map_failures_clean 1 "every such map returns -ENOMEM with every result NULL"
	expect map_finally 0 "map once memory suffices"
	expect map_ran 3 "tasks run: only those of the map that succeeded"
	assert_at_least "$(value ac_failures)" 1 "as_completed_new failed for lack of memory"
	expect ac_failures_clean 1 "every such as_completed_new returns -ENOMEM"
	expect ac_finally 0 "as_completed_new once memory suffices"
	expect delivered 2 "futures it handed out, while the failed attempts' callbacks fired too"
	expect callback -ENOMEM "future_add_done_callback on a running future, out of memory"
	expect callback_calls 0 "a callback that was not registered never runs"
	case "$(value late_callback):$(value late_calls)" in
	-ENOMEM:0 | 0:1) ;;
	*) flunk "on a finished future, out of memory: -ENOMEM and no call, or 0 and one call; got $(value late_callback) and $(value late_calls) calls" ;;
	esac
}

@test "executor_new answers -EAGAIN when the system has no more threads to give, and takes down the workers it had started" {
	run_prog 20 contract_probe --case no-threads
	[ "$(value skipped)" != sanitizer ] || skip "the sanitizers need address space this check takes away"
	clean
	expect rc -EAGAIN "executor_new of 8 workers with room for 3 threads"
	expect threads_left 0 "threads left behind by the failed executor_new"
	expect again 0 "executor_new once there is room again"
}

@test "a task starts with *result NULL and an empty @err of at least EXECUTOR_ERRMAX bytes, and a message that fills it arrives whole" {
	run_prog 20 contract_probe --case task-contract
	clean
	expect tasks 8 "tasks run, by submit and by map, each after one that left a result and a message"
	expect result_null 8 "tasks that found *result NULL"
	expect err_empty 8 "tasks that found @err empty"
	expect errlen_enough 8 "tasks given at least EXECUTOR_ERRMAX bytes of @err"
	expect longest -EIO "the task that left the longest message"
	expect longest_len 255 "length of a message of EXECUTOR_ERRMAX - 1 bytes, as future_errmsg gives it"
	expect longest_whole 1 "that message, unchanged"
}

@test "a task that itself returns -ETIMEDOUT or -ECANCELED: result gives that code, and future_state says done" {
	run_prog 20 contract_probe --case task-contract
	clean
	expect own_timedout -ETIMEDOUT "result of a task that returned -ETIMEDOUT"
	expect own_timedout_state "done" "its state"
	expect own_timedout_ran 1 "it ran"
	expect own_cancelled -ECANCELED "result of a task that returned -ECANCELED"
	expect own_cancelled_state "done" "its state: done, not cancelled"
	expect own_cancelled_ran 1 "it ran"
}

@test "future_state, future_done and future_errmsg answer at once: pending, then running, then done, with no message until the end" {
	run_prog 20 contract_probe --case states
	clean
	expect a_state running "the state of the task a worker runs"
	expect b_state pending "the state of the task queued behind it"
	expect a_done 0 "future_done of the running one"
	expect b_done 0 "future_done of the queued one"
	expect_line "a_msg_running=[]" "future_errmsg of a running task that will fail"
	expect_line "b_msg_pending=[]" "future_errmsg of a queued task that will fail"
	expect held_released 1 "the running task was let go only after these calls returned: none of them waited for it"
	expect a_state_end "done" "the first, finished"
	expect b_state_end "done" "the second, finished"
	expect a_done_end 1 "future_done of the first, finished"
	expect b_done_end 1 "future_done of the second, finished"
	expect_line "a_msg_end=[it broke at the end]" "the first task's message, read after executor_free"
	expect_line "b_msg_end=[so did this]" "the second task's message"
	expect names pending,running,done,cancelled "future_state_name of each state"
}

@test "[01-timeout] result with a timeout on a task still queued returns -ETIMEDOUT on time and leaves it queued, to run and be waited for again" {
	run_prog 20 contract_probe --case pending-timeout
	clean
	expect poll -ETIMEDOUT "result(f, 0) on a queued task"
	assert_between "$(value poll_elapsed)" 0 "$(upto 0 0.05)" "seconds result(f, 0) took" || flunk "$(hint)"
	expect timed -ETIMEDOUT "result(f, 150 ms) on a queued task"
	assert_between "$(value timed_elapsed)" 0.15 "$(upto 0.15 0.15)" "seconds result(f, 150 ms) took" || flunk "$(hint)"
	expect state_after pending "the task after the timeouts"
	expect ran_before_release 0 "the task did not run early"
	expect value_after_timeout untouched "*result after -ETIMEDOUT"
	expect final 0 "waiting again once the worker is free"
	expect value own "the task's result"
}

@test "[01-timeout] a finished future never changes: a cancelled one stays cancelled after the worker reaches it, a done one stays done" {
	run_prog 20 contract_probe --case finished-final
	clean
	expect cancel 0 "cancel of the queued task"
	expect c_state cancelled "its state after the worker had passed it and was joined"
	expect c_result -ECANCELED "its result then"
	expect c_done 1 "future_done then"
	expect c_again 0 "cancelling it again"
	expect c_ran 0 "the cancelled task never ran"
	expect c_calls 1 "its done callback ran once, not again"
	expect h 0 "the task that ran"
	expect h_cancel -EALREADY "cancel of the done task"
	expect h_state "done" "its state afterwards"
	expect h_result 0 "its result afterwards"
	expect h_value own "its value afterwards"
	expect h_calls 1 "its done callback ran once"
}

@test "[01-timeout] threads blocked on a queued future, with and without a timeout, wake at once with -ECANCELED when it is cancelled" {
	run_prog 20 contract_probe --case cancel-wakes
	clean
	expect early_returns 0 "waiters that returned while the future was still queued"
	expect cancel 0 "cancel of the queued task"
	expect woken 2 "waiters that woke"
	expect unlimited -ECANCELED "the waiter without a timeout"
	expect timed -ECANCELED "the waiter with 3 s"
	assert_between "$(value wake_elapsed)" 0 "$(upto 0 0.1)" "seconds from cancel until the last waiter returned" || flunk "$(hint)"
	expect queued_ran 0 "the cancelled task never ran"
}

@test "executor_strerror phrases the executor's own codes, and falls back to strerror for the others" {
	run_prog 10 contract_probe --case strerror
	clean
	expect phrased "$(value own)" "own codes (-ETIMEDOUT, -ECANCELED, -ESHUTDOWN, -EBUSY, -EALREADY, -EDEADLK) with a sentence of their own"
	expect fallback "$(value other)" "other codes (-EIO, -ENOENT, -EPIPE, -4242) that read as strerror has them"
	expect_line "ecanceled=[the task was cancelled before it started]" "the sentence executor.h quotes"
}

@test "[01-map] map clears @err on success, takes a NULL @err, and with no timeout waits as long as the tasks take" {
	run_prog 20 contract_probe --case map-err
	clean
	expect rc 0 "map of 3 tasks of 0.3 s with timeout -1"
	assert_at_least "$(value elapsed)" 0.3 "seconds map waited" || flunk "$(hint)"
	expect in_place 3 "results in their places"
	expect_line "err=[]" "@err after success (it held \"stale\" before)"
	expect null_err 0 "map with @err NULL, all tasks succeeding"
	expect null_err_failure -EIO "map with @err NULL and a task that fails"
}

@test "[01-map] after a failure or a timeout map returns at once, and leaves the tasks already running to finish" {
	run_prog 20 contract_probe --case map-running
	clean
	expect fail -EIO "task 0 fails while task 1 runs"
	assert_between "$(value fail_elapsed)" 0 "$(upto 0 0.5)" "seconds map took" || flunk "$(hint)"
	expect running_released 1 "task 1 was let go only after map returned; a map that waited for it makes it give up first"
	expect running_finished 1 "task 1 ran to its end"
	expect timeout -ETIMEDOUT "the only task still runs at map's 0.5 s deadline"
	assert_between "$(value timeout_elapsed)" 0.5 "$(upto 0.5 0.3)" "seconds map took" || flunk "$(hint)"
	expect slow_ran 1 "the task had started on an idle worker"
	expect slow_released 1 "it was let go only after map returned"
	expect slow_finished 1 "it ran to its end"
}

@test "[01-as-completed] as_completed of no futures ends at once, and next keeps returning 0 after the end" {
	run_prog 20 contract_probe --case ac-empty
	clean
	expect new 0 "as_completed_new of 0 futures"
	expect empty_next 0,0 "next, twice, with nothing to hand out"
	assert_between "$(value empty_elapsed)" 0 "$(upto 0 0.05)" "seconds those two calls took" || flunk "$(hint)"
	expect calls 1,1,0,0 "next four times on two finished futures"
}

@test "[01-as-completed] handed-out futures stay valid after the caller dropped its references, failed and cancelled ones included" {
	run_prog 20 contract_probe --case ac-refs
	clean
	expect handed "2:cancelled:-ECANCELED:[],0:done:0:[],1:done:-EIO:[b-failed]" \
		"index:state:result:[message] of each future handed out: the cancelled one first, then in finishing order"
	expect end 0 "the end"
}

# ------------------------------------------------------------------- 01-map

@test "[01-map] map returns results in input order even when later tasks finish first" {
	run_prog 20 map_probe --case order
	clean
	expect rc 0 "map's return value"
	expect results r0,r1,r2,r3,r4,r5 "results in input order"
	expect finish_order 5,4,3,2,1,0 "the scene: tasks forced to finish last-to-first"
}

@test "[01-map] map's timeout is one deadline for the whole call, not one per task" {
	run_prog 20 map_probe --case deadline
	clean
	expect rc -ETIMEDOUT "5 tasks of 0.3 s on one worker, timeout 0.75 s"
	assert_between "$(value elapsed)" 0.75 "$(upto 0.75 0.2)" "seconds before map gave up" || flunk "$(hint)"
}

@test "[01-map] on timeout map cancels the tasks that have not started, and they never run" {
	run_prog 20 map_probe --case deadline
	clean
	expect rc -ETIMEDOUT "map's return value"
	expect ran_in_the_end 3 "tasks 3 and 4 were still queued at the deadline and must never run"
	expect results_set 2 "results of the tasks finished in time are kept"
	expect results r0,r1,-,-,- "results before the timeout, NULL after"
}

@test "[01-map] on timeout map cancels the task it was waiting for too, when that one has not started" {
	run_prog 20 map_probe --case timeout-queued
	clean
	expect rc -ETIMEDOUT "the only worker is busy elsewhere until map returns"
	expect ran_in_the_end 0 "all three tasks were queued at the deadline, task 0 included: none may run"
	expect results -,-,- "no results"
}

@test "[01-map] the first failing task in input order decides map's error and message" {
	run_prog 20 map_probe --case error
	clean
	expect rc -EIO "task 3 fails first in time, task 1 first in input order"
	expect_line "err=[task 1: bad input in task one]" "map's message names the task and carries its text"
	expect results r0,-,-,-,- "results before the failing task, NULL after"
}

@test "[01-map] after a task fails, map cancels every task that has not started, and those never run" {
	run_prog 20 map_probe --case fail-cancels
	clean
	expect rc -EIO "task 0 fails at once"
	expect first_ran 1 "task 0 ran"
	expect later_ran 0 "the one worker can have started task 1 at most before map returned; tasks 2 to 9 were still queued, so map must have cancelled them"
	expect results -,-,-,-,-,-,-,-,-,- "no result from the failing task on"
}

@test "[01-map] a thread blocked in map sleeps: no spinning on future_done(), no polling" {
	run_prog 20 wait_probe --case map
	clean
	expect rc 0 "map of 4 tasks held back for 0.3 s"
	assert_at_least "$(value waited)" 0.3 "seconds map waited" || flunk "$(hint)"
	assert_waits_asleep waiter "executor_map" || flunk "$(hint)"
}

@test "executor_map of no tasks returns 0 at once" {
	run_prog 10 map_probe --case empty
	clean
	expect rc 0 "map of 0 tasks"
	assert_between "$(value elapsed)" 0 "$(upto 0 0.05)" "seconds for map of 0 tasks" || flunk "$(hint)"
	expect_line "err=[]" "map clears the message"
}

@test "[01-map] 100000 tiny tasks mapped from two threads each run once and every result lands in its place" {
	run_prog 120 stress --tasks 100000 --workers 4 --submitters 2 --mode map
	clean
	expect once 100000 "every task must run exactly once"
	expect never 0 "tasks that never ran"
	expect wrong_results 0 "results out of place"
}

@test "[01-map] ThreadSanitizer finds no race in map, with two threads mapping at once" {
	run_tsan 120 stress --tasks 20000 --workers 4 --submitters 2 --mode map
	assert_no_race "map reads a future only through the future_* calls. $(hint)"
	clean
	expect once 20000 "every task must run exactly once"
	expect wrong_results 0 "results out of place"
}

# ---------------------------------------------------------- 01-as-completed

@test "[01-as-completed] futures come out in the order they finish, not the order they were submitted" {
	run_prog 5 as_completed_probe --case order
	clean
	expect order 2,0,3,1 "tasks finish 2, 0, 3, 1"
	expect end 0 "after the last future, as_completed_next() returns 0"
}

@test "[01-as-completed] futures finished beforehand come out at once, and each future exactly once" {
	run_prog 20 as_completed_probe --case finished-first
	clean
	expect finished_first 3 "the 3 futures finished before as_completed_new() come out first"
	assert_between "$(value first_three_elapsed)" 0 "$(upto 0 0.1)" "seconds to hand out finished futures" || flunk "$(hint)"
	expect delivered 5 "futures handed out"
	expect distinct 5 "each future exactly once"
	expect end 0 "then as_completed_next() returns 0"
}

@test "[01-as-completed] the overall timeout returns -ETIMEDOUT on time, and a future finishing later can still be taken" {
	run_prog 20 as_completed_probe --case timeout
	clean
	expect first 1 "the finished future comes out at once"
	expect second -ETIMEDOUT "no other future finishes before the 0.3 s deadline"
	assert_between "$(value second_elapsed)" 0.3 "$(upto 0.3 0.2)" "seconds until -ETIMEDOUT" || flunk "$(hint)"
	expect third 1 "the future that finished after the deadline can be taken"
	expect fourth 0 "then all were handed out"
}

@test "[01-as-completed] the deadline counts from as_completed_new, not from each call" {
	run_prog 20 as_completed_probe --case one-deadline
	clean
	expect first 1 "the first future finishes after 0.25 s, inside the 0.5 s timeout"
	expect second -ETIMEDOUT "the other never finishes in time"
	assert_between "$(value second_at)" 0.5 "$(upto 0.5 0.15)" "seconds from the start until -ETIMEDOUT (0.5 s, not 0.25 + 0.5)" || flunk "$(hint)"
}

@test "[01-as-completed] a thread blocked in as_completed_next sleeps, with or without a deadline" {
	local c
	for c in next next-timed; do
		run_prog 20 wait_probe --case "$c"
		clean
		expect rc 1 "the future arrives after 0.3 s (--case $c)"
		expect got_it 1 "the future handed out (--case $c)"
		assert_at_least "$(value waited)" 0.3 "seconds waited (--case $c)" || flunk "$(hint)"
		assert_waits_asleep waiter "as_completed_next (--case $c)" || flunk "$(hint)"
	done
}

@test "[01-as-completed] a cancelled future counts as finished and comes out first" {
	run_prog 20 as_completed_probe --case cancelled
	clean
	expect cancel 0 "cancel of a queued task"
	expect first 2 "the cancelled future comes out before the running one"
	expect first_state cancelled "its state"
	expect order 0,1 "then the others, in finishing order"
	expect end 0 "and the end"
	expect c_ran 0 "the cancelled task never ran"
}

@test "[01-as-completed] two threads taking from one as_completed get every future exactly once between them" {
	run_prog 30 as_completed_probe --case consumers
	clean
	expect delivered 200 "futures handed out in all"
	expect distinct 200 "none twice"
	expect ends 0,0 "both threads see the end"
}

@test "[01-as-completed] ThreadSanitizer finds no race in as_completed, with two threads taking from it" {
	run_tsan 60 as_completed_probe --case consumers
	assert_no_race "ready[], nready, ntaken and waiters are guarded by ac->lock. $(hint)"
	clean
	expect delivered 200 "futures handed out in all"
}

@test "[01-as-completed] stopping early is safe: freeing it after the first future, while the others still run" {
	run_prog 20 as_completed_probe --case early-free
	clean
	expect took 0 "the future that finished first comes out first"
	expect finished 4 "the other futures still finish normally after as_completed_free()"
}

# ---------------------------------------------------------------------------
# Real I/O on the executor: libcurl downloads (download_demo) and sqlite3
# queries (db_queries).  The downloads come from the loopback server
# (tests/fixtures/httpd.c), which every test that starts it stops in teardown.

teardown() {
	server_stop
}

# The table row of file $1: "# result status bytes fnv1a time s url [error]".
row() {
	printf '%s\n' "$output" | awk -v i="$1" '$1 == i && ($2 == "ok" || $2 == "FAILED")'
}

# field FILE N: field N of file FILE's row.
field() {
	row "$1" | awk -v n="$2" '{ print $n }'
}

# The indexes of the table's rows, in the order printed, on one line.
row_order() {
	printf '%s\n' "$output" | awk '$2 == "ok" || $2 == "FAILED" { printf "%s ", $1 }'
}

# The server's own FNV-1a of a body, from its X-Checksum header.
checksum() {
	timeout 10 curl -sSI "$1" | tr -d '\r' |
		awk 'tolower($1) == "x-checksum:" { print $2 }'
}

# expect_file FILE URL SIZE: file FILE came back whole, in its own row.
expect_file() {
	local want
	want=$(checksum "$2")
	[ "$(field "$1" 2)" = ok ] && [ "$(field "$1" 3)" = 200 ] &&
		[ "$(field "$1" 4)" = "$3" ] && [ "$(field "$1" 5)" = "$want" ] &&
		[ "$(field "$1" 8)" = "$2" ] && return 0
	flunk "file $1 should be ok, 200, $3 bytes, fnv1a $want, $2; got:" "$(row "$1")"
}

# expect_failed FILE PATTERN: file FILE failed and its row matches PATTERN.
expect_failed() {
	# shellcheck disable=SC2053  # $2 is a glob pattern on purpose
	[ "$(field "$1" 2)" = FAILED ] && [[ $(row "$1") == $2 ]] && return 0
	flunk "file $1 should have failed with '$2'; got:" "$(row "$1")"
}

# The pid download_demo printed for the server it started.
demo_server_pid() {
	sed -n 's/^Started the loopback server .* (pid \([0-9]*\)).*/\1/p'
}

# Set DEAD_PORT to a port that refuses connections: that of a stopped server.
find_refused_port() {
	server_start || return 1
	DEAD_PORT=$SERVER_PORT
	server_stop || return 1
	if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$DEAD_PORT" 2>/dev/null; then
		skip "port $DEAD_PORT was taken again before the test could use it"
	fi
}

# ----------------------------------------------------------- download_demo

@test "download_demo fetches every URL whole, with its size and checksum, in input order" {
	server_start
	local sizes=(0 1 17 1000 65536 300000) urls=() i total=0
	for i in "${sizes[@]}"; do
		urls+=("$SERVER_URL/file?size=$i")
		total=$((total + i))
	done
	run_prog 30 download_demo "${urls[@]}"
	assert_clean_exit
	[ "$(row_order)" = "0 1 2 3 4 5 " ] || flunk "rows out of order: $(row_order)" "$output"
	for i in "${!sizes[@]}"; do
		expect_file "$i" "${urls[i]}" "${sizes[i]}"
	done
	[ "$(value files)" = 6 ] && [ "$(value ok)" = 6 ] && [ "$(value failed)" = 0 ] ||
		flunk "summary should count 6 ok, 0 failed:" "$output"
	[ "$(value bytes)" = "$total" ] || flunk "bytes should total $total: $(value bytes)"
}

@test "download_demo lists files in input order even when later ones finish first" {
	server_start
	local urls=("$SERVER_URL/file?size=10&delay_ms=600" "$SERVER_URL/file?size=20&delay_ms=300"
		"$SERVER_URL/file?size=30")
	run_prog 30 download_demo "${urls[@]}"
	assert_clean_exit
	# The log shows the finishing order; the table must not follow it.
	local done_order
	done_order=$(printf '%s\n' "$output" | sed -n 's/.*: Download \([0-9]\) complete!$/\1/p' | tr -d '\n')
	[ "$done_order" = 210 ] || flunk "file 2 should finish first and file 0 last: $done_order"
	[ "$(row_order)" = "0 1 2 " ] || flunk "rows out of order: $(row_order)"
	expect_file 0 "${urls[0]}" 10
	expect_file 2 "${urls[2]}" 30
}

@test "download_demo reports each failure for its own file while the others succeed" {
	find_refused_port
	server_start
	local urls=("$SERVER_URL/file?size=1000"
		"http://127.0.0.1:$DEAD_PORT/file"
		"$SERVER_URL/hang"
		"$SERVER_URL/status/404"
		"$SERVER_URL/truncate?size=1000"
		"$SERVER_URL/reset"
		"$SERVER_URL/file?size=5000")
	run_prog 30 download_demo --timeout-ms 300 "${urls[@]}"
	assert_status 1
	[ -z "$stderr" ] || flunk "a failed download is not an error of the program:" "$stderr"
	expect_file 0 "${urls[0]}" 1000
	expect_file 6 "${urls[6]}" 5000
	expect_failed 1 "*[Cc]onnect*"
	expect_failed 2 "*[Tt]imed out*"
	expect_failed 3 "*HTTP status 404"
	[ "$(field 3 3)" = 404 ] || flunk "the 404 should show its status: $(row 3)"
	expect_failed 4 "*remaining*"
	[ "$(field 4 4)" = 500 ] || flunk "the truncated body stops at 500 bytes: $(row 4)"
	[ "$(field 4 5)" = - ] || flunk "a truncated body gets no checksum: $(row 4)"
	expect_failed 5 "*[Rr]eset*"
	[ "$(value ok)" = 2 ] && [ "$(value failed)" = 5 ] || flunk "expected ok=2 failed=5:" "$output"
	# The hung transfer gave up after its own timeout, no sooner.
	assert_between "$(field 2 6)" 0.3 "$(awk -v s="$(slack 2)" 'BEGIN { print 0.3 + s }')" "seconds on /hang"
	printf '%s\n' "$output" | grep -qE '^\[\+[0-9.]+s\] Thread-[123]: Download 3 failed: HTTP status 404$' ||
		flunk "the failure should be logged by the worker that met it:" "$output"
}

@test "download_demo: 5 downloads of 0.5 s on 3 workers take about 1.0 s, not 2.5 s" {
	server_start
	local urls=() i
	for i in 1 2 3 4 5; do
		urls+=("$SERVER_URL/file?size=$((i * 7000))&delay_ms=500")
	done
	run_prog 30 download_demo "${urls[@]}"
	assert_clean_exit
	assert_between "$(value elapsed)" 1.0 "$(slack 1.5)" "elapsed seconds"
	assert_at_least "$(value sequential)" 2.5 "the downloads' own times added up"
	printf '%s\n' "$output" | grep -qE '^5 files, 5 ok, 0 failed, 105000 bytes in [0-9.]+ s \(ideal [0-9.]+ s with 3 workers; [0-9.]+ s one at a time\)$' ||
		flunk "missing the summary line:" "$output"
}

@test "download_demo never runs more than --workers downloads at once, and that many at some point" {
	server_start
	local urls=() i
	for i in 1 2 3 4 5 6; do
		urls+=("$SERVER_URL/file?size=$i&delay_ms=200")
	done
	run_prog 30 download_demo --workers 2 --trace "${urls[@]}"
	assert_clean_exit
	[ "$(spans | wc -l)" -eq 6 ] || flunk "expected 6 spans:" "$output"
	[ "$(max_overlap)" -eq 2 ] || flunk "at most 2 at once, and 2 at some point; saw $(max_overlap)"
	[ "$(worker_count)" -eq 2 ] || flunk "expected 2 worker threads, saw $(worker_count)"
}

@test "download_demo: every download logs its start and its end from a worker named Thread-N" {
	server_start
	run_prog 30 download_demo --workers 2 "$SERVER_URL/file" "$SERVER_URL/file?size=1" "$SERVER_URL/status/500"
	assert_status 1
	local i
	for i in 0 1 2; do
		printf '%s\n' "$output" | grep -qE "^\[\+[0-9.]+s\] Thread-[12]: Starting download $i\.\.\.$" ||
			flunk "no start line for download $i:" "$output"
	done
	for i in 0 1; do
		printf '%s\n' "$output" | grep -qE "^\[\+[0-9.]+s\] Thread-[12]: Download $i complete!$" ||
			flunk "no completion line for download $i:" "$output"
	done
	printf '%s\n' "$output" | grep -qE '^\[\+[0-9.]+s\] Thread-[12]: Download 2 failed: HTTP status 500$' ||
		flunk "no failure line for download 2:" "$output"
}

@test "download_demo --timeline draws one row per worker thread" {
	server_start
	run_prog 30 download_demo --timeline "$SERVER_URL/file?delay_ms=100" \
		"$SERVER_URL/file?delay_ms=100" "$SERVER_URL/file?delay_ms=100"
	assert_clean_exit
	local w
	for w in Thread-1 Thread-2 Thread-3; do
		printf '%s\n' "$output" | grep -qE "^$w +\|.*\|$" || flunk "no chart row for $w:" "$output"
	done
}

@test "download_demo with no URL starts its own server, fetches the guide's 5 files in about 1.0 s, and stops it" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	run_prog 60 download_demo
	assert_clean_exit
	[ "$(value files)" = 5 ] && [ "$(value ok)" = 5 ] || flunk "expected 5 files, all ok:" "$output"
	assert_between "$(value elapsed)" 1.0 "$(slack 1.5)" "elapsed seconds"
	local pid httpd
	pid=$(printf '%s\n' "$output" | demo_server_pid)
	[ -n "$pid" ] || flunk "the demo should say which server it started:" "$output"
	[[ $output == *"Stopped the loopback server (pid $pid)"* ]] || flunk "no line saying the server stopped"
	! kill -0 "$pid" 2>/dev/null || flunk "the server (pid $pid) is still there, running or a zombie"
	httpd=$(realpath "$WB_FIXTURES/httpd")
	! pgrep -f -- "$httpd --quiet --port 0 --port-file $TMPDIR/" >/dev/null ||
		flunk "an httpd started by the demo is still running"
	[ -z "$(ls -A "$TMPDIR")" ] || flunk "the demo left files behind:" "$(ls -AR "$TMPDIR")"
}

@test "download_demo stopped by Ctrl-C (SIGINT) or SIGTERM mid-run still stops and reaps its server" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	local sig out err pid srv i status
	for sig in INT TERM; do
		# Fresh files: the shell truncates a reused one only once the job runs.
		out=$BATS_TEST_TMPDIR/out.$sig err=$BATS_TEST_TMPDIR/err.$sig
		"$(prog download_demo)" >"$out" 2>"$err" 3>&- &
		pid=$!
		for ((i = 0; i < 200; i++)); do
			grep -qs 'Starting download' "$out" && break
			sleep 0.05
		done
		srv=$(demo_server_pid <"$out")
		kill -s "$sig" "$pid"
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" ${srv:+"$srv"}
			flunk "download_demo did not exit within 10 s of SIG$sig"
		fi
		status=0
		wait "$pid" || status=$?
		[ -n "$srv" ] || flunk "the demo never said which server it started:" "$(cat "$out")"
		[ "$status" -eq $((128 + $(kill -l "$sig"))) ] ||
			flunk "SIG$sig should end the demo as that signal does; exit status $status" "$(cat "$err")"
		[ ! -s "$err" ] || flunk "unexpected stderr after SIG$sig:" "$(cat "$err")"
		! kill -0 "$srv" 2>/dev/null || flunk "after SIG$sig the server (pid $srv) is still there"
		[ -z "$(ls -A "$TMPDIR")" ] || flunk "after SIG$sig the demo left files behind:" "$(ls -AR "$TMPDIR")"
	done
}

@test "download_demo rejects bad input with one line on stderr and status 2" {
	local bad
	for bad in "--workers 0" "--workers 257" "--workers abc" "--timeout-ms 0" \
		"--timeout-ms 1.5" "--timeout-ms 99999999999999999999" "--bogus" "--workers" \
		"ftp://127.0.0.1/file" "127.0.0.1/file" "https://127.0.0.1/file"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 5 download_demo $bad
		assert_usage_error download_demo || flunk "for: download_demo $bad"
	done
}

@test "download_demo: a report it cannot write (stdout full or closed) is an error, --help included" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	assert_reports_lost_output 60 download_demo "" nothing_left_behind
}

@test "download_demo --help lists every option and exits 0" {
	run_prog 5 download_demo --help
	assert_clean_exit
	[[ ${lines[0]} == "usage: download_demo "* ]] || flunk "first line: ${lines[0]}"
	local opt
	for opt in --workers --timeout-ms --timeline --trace --help; do
		[[ $output == *"$opt"* ]] || flunk "--help does not mention $opt"
	done
}

@test "download_demo refuses a URL that libcurl cannot parse as bad input, before any download starts" {
	server_start
	local bad
	for bad in "http://" "http://127.0.0.1:99999/file" "http://[::1/file" \
		"http://127.0.0.1:0/file" "gopher://127.0.0.1/file" "nosuchscheme://127.0.0.1/" \
		"http:127.0.0.1/file" "http://127.0.0.1/a b"; do
		run_prog 10 download_demo "$SERVER_URL/file" "$bad"
		assert_usage_error download_demo || flunk "for: download_demo ... $bad"
		[[ ${stderr_lines[0]} == *"'$bad'"* ]] || flunk "the message should name the URL: $stderr"
		[ -z "$output" ] || flunk "for $bad nothing should start, yet:" "$output"
	done
	run_prog 10 download_demo "http://127.0.0.1:99999/file"
	[[ $stderr == *"Port number"* ]] || flunk "libcurl's reason should be given: $stderr"
}

@test "download_demo with stdout closed still starts its server, which keeps a stdout of its own" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	local start=$EPOCHREALTIME
	# httpd prints a line to stdout when it listens, and exits if it cannot.
	# shellcheck disable=SC2016  # $0 is the inner shell's
	run --separate-stderr timeout -k 5 60 bash -c 'exec "$0" >&-' "$(prog download_demo)"
	[[ $stderr != *"loopback server"* && $stderr != *"httpd"* ]] ||
		flunk "the server did not survive a closed stdout:" "$stderr"
	[ "${#stderr_lines[@]}" -le 1 ] || flunk "at most one line (about stdout) on stderr:" "$stderr"
	# The guide's five files take two rounds of 0.5 s once the server is up.
	assert_at_least "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" 1.0 \
		"seconds the run took"
	[ -z "$(ls -A "$TMPDIR")" ] || flunk "the demo left files behind:" "$(ls -AR "$TMPDIR")"
}

# -------------------------------------------------------------- db_queries

@test "db_queries gets the same answer to every query one after another and on the pool" {
	run_prog 120 db_queries --rows 20000 --queries 7
	assert_clean_exit
	[ "$(value results_match)" = 1 ] || flunk "the two runs disagree:" "$output"
	[ "$(value queries)" = 7 ] || flunk "expected queries=7: $output"
	[[ $output != *MISMATCH* ]] || flunk "$output"
	local i
	for i in 0 1 2 3 4 5 6; do
		printf '%s\n' "$output" | grep -qE "^ +$i  " || flunk "no result row for query $i:" "$output"
	done
	assert_at_least "$(value sequential)" 0 "sequential seconds"
	assert_at_least "$(value pooled)" 0 "pooled seconds"
}

@test "db_queries' answers agree with the sqlite3 command-line shell on the same file" {
	command -v sqlite3 >/dev/null || { flunk "the sqlite3 command-line shell is missing: make deps installs it"; return 1; }
	local db=$BATS_TEST_TMPDIR/orders.db want got
	run_prog 120 db_queries --rows 20000 --queries 3 --db "$db"
	assert_clean_exit
	# Query 0 with p = 0: orders and revenue with amount in [0, 25000).
	want=$(sqlite3 "$db" "SELECT COUNT(*), SUM(amount) FROM orders WHERE amount >= 0 AND amount < 25000" | tr '|' ',')
	got=$(printf '%s\n' "$output" | awk '$1 == 0 && $2 == "orders" { print $NF }')
	[ -n "$want" ] && [ "$got" = "$want" ] || flunk "query 0: got '$got', the shell says '$want'"
	# Query 2 with p = 0: the top 3 customers by revenue, weekday != 0.
	want=$(sqlite3 "$db" "SELECT customer, SUM(amount) AS t FROM orders WHERE day % 7 != 0 GROUP BY customer ORDER BY t DESC, customer LIMIT 3" |
		tr '|' ',' | paste -sd ';' | sed 's/;/; /g')
	got=$(printf '%s\n' "$output" | awk '$1 == 2 && $2 == "top" { sub(/.* s  /, ""); print }')
	[ -n "$want" ] && [ "$got" = "$want" ] || flunk "query 2: got '$got', the shell says '$want'"
}

@test "db_queries lends each running task its own connection: never more connections than workers" {
	run_prog 120 db_queries --rows 5000 --queries 12 --workers 2
	assert_clean_exit
	local opened
	opened=$(value connections)
	[ "$opened" -ge 1 ] && [ "$opened" -le 2 ] || flunk "opened $opened connections for 2 workers"
	# Every pooled query is logged by a worker with the connection it used.
	[ "$(printf '%s\n' "$output" | grep -cE '^\[\+[0-9.]+s\] Thread-[12]: query [0-9]+ on connection [12]: ')" -eq 12 ] ||
		flunk "expected 12 query lines from Thread-1/2 on connection 1/2:" "$output"
}

@test "db_queries deletes its temporary database at exit" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	run_prog 120 db_queries --rows 5000
	assert_clean_exit
	[[ $output == *"Built $TMPDIR/db_queries."*"/orders.db"* ]] ||
		flunk "the database should be built under TMPDIR:" "$output"
	[ -z "$(ls -A "$TMPDIR")" ] || flunk "left behind:" "$(ls -AR "$TMPDIR")"
}

@test "db_queries deletes its temporary database when stopped by Ctrl-C (SIGINT)" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	local pid i status=0
	# Enough rows that building alone takes a while.
	"$(prog db_queries)" --rows 5000000 >/dev/null 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		compgen -G "$TMPDIR/db_queries.*/orders.db" >/dev/null && break
		sleep 0.05
	done
	kill -INT "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; flunk "db_queries ignored SIGINT"; }
	wait "$pid" || status=$?
	[ "$status" -eq 130 ] || flunk "SIGINT should end db_queries as SIGINT does; exit status $status"
	[ ! -s "$BATS_TEST_TMPDIR/err" ] || flunk "unexpected stderr:" "$(cat "$BATS_TEST_TMPDIR/err")"
	[ -z "$(ls -A "$TMPDIR")" ] || flunk "left behind:" "$(ls -AR "$TMPDIR")"
}

@test "db_queries --db keeps the database it builds and will not overwrite an existing file" {
	local db=$BATS_TEST_TMPDIR/kept.db
	run_prog 120 db_queries --rows 1000 --db "$db"
	assert_clean_exit
	[ -s "$db" ] || flunk "--db $db should be kept"
	run_prog 10 db_queries --rows 1000 --db "$db"
	assert_usage_error db_queries
}

@test "db_queries --db refuses any name that exists or cannot be a new file, and changes nothing" {
	local db=$BATS_TEST_TMPDIR/orders.db sum bad
	run_prog 120 db_queries --rows 100 --db "$db"
	assert_clean_exit
	sum=$(md5sum <"$db")
	ln -s "$BATS_TEST_TMPDIR/target.db" "$BATS_TEST_TMPDIR/dangling"
	mkdir "$BATS_TEST_TMPDIR/dir"
	for bad in "$db" "$db/" "file:$db" "file://$db" "file:$db?mode=rw" \
		"$BATS_TEST_TMPDIR/dangling" "$BATS_TEST_TMPDIR/dir" "$BATS_TEST_TMPDIR/new.db/" \
		"$BATS_TEST_TMPDIR/no/such/dir.db"; do
		run_prog 10 db_queries --rows 100 --db "$bad"
		assert_usage_error db_queries || flunk "for --db $bad"
		[ "$(md5sum <"$db")" = "$sum" ] || flunk "--db $bad changed $db"
		[ ! -e "$BATS_TEST_TMPDIR/target.db" ] || flunk "--db $bad created the symbolic link's target"
	done
	[ ! -e "$BATS_TEST_TMPDIR/new.db" ] || flunk "a name ending in / was created without the slash"
}

@test "db_queries --db refuses a name whose journal or write-ahead log already exists" {
	local db=$BATS_TEST_TMPDIR/new.db side
	for side in -journal -wal; do
		echo "someone else's" >"$db$side"
		run_prog 10 db_queries --rows 100 --db "$db"
		assert_usage_error db_queries || flunk "with $db$side there"
		[ "$(cat "$db$side")" = "someone else's" ] || flunk "$db$side was changed"
		[ ! -e "$db" ] || flunk "$db was created beside $db$side"
		rm "$db$side"
	done
}

@test "db_queries --db takes a name starting with file: as a plain file name, never as an SQLite URI" {
	cd "$BATS_TEST_TMPDIR"
	local sum
	run_prog 120 db_queries --rows 100 --db orders.db
	assert_clean_exit
	sum=$(md5sum <orders.db)
	# As a URI, file:orders.db would be orders.db itself, built a second time.
	run_prog 120 db_queries --rows 100 --db file:orders.db
	assert_clean_exit
	[ "$(md5sum <orders.db)" = "$sum" ] || flunk "orders.db was opened through the URI file:orders.db"
	[ "$(head -c 15 file:orders.db)" = "SQLite format 3" ] ||
		flunk "the database should be in the file named file:orders.db"
}

@test "db_queries --db that the environment will not let it create is an error (status 1), not bad input" {
	[ -d /sys ] || skip "no /sys here"
	run_prog 10 db_queries --rows 100 --db /sys/db_queries.db
	assert_status 1
	[ "${#stderr_lines[@]}" -eq 1 ] && [[ $stderr == "db_queries: --db: cannot create /sys/db_queries.db: "* ]] ||
		flunk "stderr: $stderr"
}

@test "db_queries rejects bad input with one line on stderr and status 2" {
	local bad
	for bad in "--workers 0" "--workers 257" "--queries 0" "--queries 101" "--queries x" \
		"--rows 0" "--rows abc" "--rows 99999999999999999999" "--bogus" "--db" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 5 db_queries $bad
		assert_usage_error db_queries || flunk "for: db_queries $bad"
	done
}

@test "db_queries: a report it cannot write (stdout full or closed) is an error, --help included" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	assert_reports_lost_output 60 db_queries "--rows 1000" nothing_left_behind
}

@test "db_queries --help lists every option and exits 0" {
	run_prog 5 db_queries --help
	assert_clean_exit
	[[ ${lines[0]} == "usage: db_queries "* ]] || flunk "first line: ${lines[0]}"
	local opt
	for opt in --workers --queries --rows --db --help; do
		[[ $output == *"$opt"* ]] || flunk "--help does not mention $opt"
	done
}
