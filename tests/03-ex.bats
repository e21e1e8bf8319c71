#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 03's exercises: a coroutine written by hand (03-handmade), gather
# (03-gather), the Semaphore (03-semaphore) and wait_for (03-wait-for).
#
# Each "[ID] ..." check must fail on the exercise's skeleton and pass on its
# solution.  The drivers play one scene per --case and print key=value:
# ex_handmade and ex_sem are this file's, co_sync_probe is the coroutine
# layer's own.  Every scene runs on both of the loop's backends; orders
# between tasks are forced inside the scenes, and times are sleep-bound (a
# sleep never ends early: lower bounds are exact, upper bounds get slack).
# tsan: no threads (the drivers and their loops run on one thread)

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=03-asyncio
load helpers/common

EX_BACKENDS="epoll poll"

# ex_run BACKEND SECONDS PROGRAM ARGS...: run a driver on one backend; it
# must exit cleanly (nothing on stderr: no sanitizer report, no abort).
ex_run() {
	local backend=$1
	shift
	WB_LOOP_BACKEND=$backend run_prog "$@"
	assert_clean_exit || flunk "(on the $backend backend)" "$(exercise_pointer)"
}

# ex_expect KEY WANT WHAT: the driver printed KEY=WANT.
ex_expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] && return 0
	flunk "$3: got $1=${got:-(nothing)}, want $1=$2 (on the $backend backend)" \
		"driver output: $output" "$(exercise_pointer)"
}

# ex_between KEY LOW HIGH WHAT: LOW <= KEY <= HIGH (HIGH gets the
# sanitizers' slack).
ex_between() {
	assert_between "$(value "$1")" "$2" "$(slack "$3")" "$4 (on the $backend backend)" ||
		flunk "driver output: $output" "$(exercise_pointer)"
}

# The ticker finished by itself: the driver's watchdog did not have to
# stop the loop after 2 s.
ex_not_stuck() {
	[ "$(value stuck)" = 0 ] && return 0
	flunk "the ticker never finished: the driver's watchdog stopped the loop after 2 s (on the $backend backend)." \
		"A task that suspends must store where it stopped in t->resume and carry on from there, and keep what must outlive an await (the loop's counter) in its frame, not in a local." \
		"driver output: $output" "$(exercise_pointer)"
}

# ---------------------------------------------------------------- 03-handmade

@test "[03-handmade] the ticker ticks 5 times, in order and at least 40 ms apart, then awaits the child and returns 5" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 10 ex_handmade --case ticks
		ex_not_stuck || return 1
		ex_expect result 5 "the ticker's result, its count of ticks"
		ex_expect ticks 5 "ticks made"
		ex_expect in_order 1 "each tick's time after the one before"
		assert_at_least "$(value first_ms)" 40 "the first tick, after one 40 ms sleep" || return 1
		assert_at_least "$(value min_gap_ms)" 40 "the shortest gap between two ticks" || return 1
		ex_expect child_result 7 "the child's result, kept by the ticker"
		ex_between done_ms 400 550 "the ticker finished with the child (400 ms)"
		ex_expect cleanups 1 "its cleanup ran once"
		ex_expect steps 7 "calls of the step function: the start, 5 sleeps ended, the child done"
	done
}

@test "[03-handmade] a ticker cancelled in its second sleep returns -ECANCELED at once, its cleanup run once" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 10 ex_handmade --case cancel
		ex_not_stuck || return 1
		ex_expect result -ECANCELED "the ticker's result"
		ex_expect ticks 1 "ticks made before the cancel at 150 ms (one every 100 ms)"
		ex_expect cleanups_at_done 1 "the cleanup had run, once, when the ticker finished"
		ex_expect cleanups 1 "the cleanup ran once in all"
		ex_expect child_result unset "the child is never awaited"
		ex_between done_ms 150 250 "the ticker ended at the cancel (150 ms)"
	done
}

@test "[03-handmade] a child that has finished already is awaited without suspending: 3 steps for 2 ticks" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 10 ex_handmade --case ready
		ex_not_stuck || return 1
		ex_expect result 2 "the ticker's result"
		ex_expect child_result 7 "the finished child's result"
		ex_expect steps 3 "calls of the step function: the start and 2 sleeps ended, none for the finished child"
		ex_expect cleanups 1 "its cleanup ran once"
	done
}

@test "[03-handmade] a child that fails makes the ticker fail with the child's error" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 10 ex_handmade --case child-fails
		ex_not_stuck || return 1
		ex_expect result -EIO "the ticker's result"
		ex_expect child_result -EIO "the child's result, kept"
		ex_expect cleanups 1 "its cleanup ran once"
	done
}

@test "ex_handmade: no --case, or an unknown one, is a usage error" {
	run_prog 10 ex_handmade
	assert_usage_error ex_handmade
	run_prog 10 ex_handmade --case nope
	assert_usage_error ex_handmade
}

# ---------------------------------------------------------------- 03-gather

@test "[03-gather] results are read back in argument order, whatever order the tasks finished in" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case gather-order
		ex_expect gather 0 "gather's result"
		ex_expect finished 3,4,1,2,0 "the order the tasks finished in (0, 50, 100, 200, 300 ms)"
		ex_expect values 1,11,21,31,41 "each task's value, read through the array gather was given"
		ex_between at_ms 300 450 "gather returned with the slowest task (300 ms)"
	done
}

@test "[03-gather] 10 tasks of 500 ms each, gathered, take about 500 ms and all succeed" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case gather-sleep
		ex_expect gather 0 "gather's result"
		ex_expect results 0,0,0,0,0,0,0,0,0,0 "each task's result"
		ex_between at_ms 500 650 "the ten sleeps overlap"
	done
}

@test "[03-gather] without return_exceptions the first failure is returned at once, and the other tasks run on" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case gather-fail
		ex_expect gather -EIO "gather's result: the failure at 50 ms"
		ex_between at_ms 50 150 "gather returned at the first failure (50 ms)"
		ex_expect results 0,-EIO,-EPERM "the other tasks ran to their own ends"
	done
}

@test "[03-gather] with return_exceptions gather waits for every task and returns 0, each failure kept in its task" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case gather-collect
		ex_expect gather 0 "gather's result"
		ex_expect results 0,-EIO,-EPERM "each task's own result"
		ex_between at_ms 200 350 "gather returned with the last task (200 ms)"
	done
}

@test "[03-gather] cancelling the gathering task cancels the tasks, waits for their cleanup, then returns -ECANCELED" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case gather-cancel
		ex_expect gather -ECANCELED "gather's result"
		ex_expect results -ECANCELED,0,-ECANCELED "the sleeping tasks cancelled, the finished one kept its result"
		ex_expect cleaned 101 "the cancelled tasks' 20 ms cleanup had run"
		ex_between at_ms 70 250 "gather returned after the cleanup that followed the cancel at 50 ms"
	done
}

# ---------------------------------------------------------------- 03-semaphore

@test "[03-semaphore] Semaphore(3): 12 tasks of 50 ms, exactly 3 inside at the peak and never more, in about 200 ms" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case sem
		ex_expect peak 3 "the most tasks holding a permit at once"
		ex_expect value 3 "permits free at the end"
		ex_between elapsed_ms 200 350 "four rounds of 50 ms"
	done
}

@test "[03-semaphore] waiters get the permit in arrival order, and a releaser asking again queues behind them" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case sem
		ex_expect order 0,1,2,3,4,5,6,7,8,9,10,11 "the order 12 tasks were granted 3 permits"
		ex_run "$backend" 20 co_sync_probe --case sem-barge
		ex_expect order 0,99 "the waiter (0) before the releaser asking again (99)"
		ex_expect mine 0 "the releaser's second acquire"
		ex_expect value 1 "permits free at the end"
	done
}

@test "[03-semaphore] a waiter cancelled in the queue leaves it, and one cancelled after it was handed the permit passes it on: none is lost" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case sem-cancel
		ex_expect u1_acquire -ECANCELED "the waiter cancelled while it waited"
		ex_expect u0_acquire -ECANCELED "the waiter handed the permit, then cancelled before it ran"
		ex_expect u2_acquire 0 "the waiter behind both gets the permit passed on"
		ex_expect u2_next 0 "its hold of the permit"
		ex_expect order 2 "who held the permit"
		ex_expect peak 1 "permits out at once"
		ex_expect value 1 "permits free at the end: the permit came back"
	done
}

@test "[03-semaphore] 10 tasks waiting for the permit for 300 ms cost the loop's thread no CPU" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 10 ex_sem --case asleep
		ex_expect holder 0 "the scene's own acquire of the free permit"
		ex_expect waiting 10 "tasks still inside co_sem_acquire() while the permit was held"
		assert_waits_asleep wait "the loop, while 10 tasks waited for a permit," ||
			flunk "(on the $backend backend)" "$(exercise_pointer)"
		ex_expect order 0,1,2,3,4,5,6,7,8,9 "the order the waiters got the permit in"
		ex_expect value 1 "permits free at the end"
	done
}

# ---------------------------------------------------------------- 03-wait-for

@test "[03-wait-for] a slow inner task times out at 100 ms, and -ETIMEDOUT comes only after its 50 ms cleanup" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case wait-for-timeout
		ex_expect result -ETIMEDOUT "wait_for's result"
		ex_expect cleaned 1 "the inner task's cleanup had run when wait_for returned"
		ex_expect inner -ECANCELED "the inner task had finished, cancelled"
		ex_between at_ms 150 300 "100 ms of timeout plus 50 ms of cleanup"
	done
}

@test "[03-wait-for] an inner task that finishes in time gives wait_for its result, and its timer does not outlive it" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case wait-for-fast
		ex_expect result 0 "wait_for's result"
		ex_expect inner 0 "the inner task's result"
		ex_between at_ms 20 150 "the inner task's 20 ms"
		ex_between total_ms 20 400 "the run ended without waiting for the 1 s timer"
	done
}

@test "[03-wait-for] cancelling the waiting task cancels the inner task, waits for its cleanup, and returns -ECANCELED" {
	for backend in $EX_BACKENDS; do
		ex_run "$backend" 20 co_sync_probe --case wait-for-cancel
		ex_expect result -ECANCELED "wait_for's result"
		ex_expect cleaned 1 "the inner task's cleanup had run"
		ex_between at_ms 100 250 "the cancel at 50 ms plus 50 ms of cleanup"
	done
}
