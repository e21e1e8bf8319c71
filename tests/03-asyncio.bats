#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 03, asyncio in C: the event loop under everything (fd watches,
# timers, soon calls, posts from threads) on both of its backends.
#
# Every loop check runs once per backend: loop_twice runs a scene of
# tests/progs/03-asyncio/loop_probe.c with WB_LOOP_BACKEND=epoll, then
# poll, and the check's assertions run on each output.

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=03-asyncio
load helpers/common

# loop_scene BACKEND CASE: run one scene of the loop's driver on BACKEND.
loop_scene() {
	WB_LOOP_BACKEND=$1 run_prog 30 loop_probe --case "$2"
	assert_clean_exit || { flunk "on the $1 backend"; return 1; }
	[ "$(value backend)" = "" ] || [ "$(value backend)" = "$1" ] ||
		flunk "WB_LOOP_BACKEND=$1 chose the $(value backend) backend"
}

# loop_expect KEY WANT WHAT BACKEND: the scene printed KEY=WANT.
loop_expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] || flunk "$3 (on the $4 backend): got $1=${got:-(nothing)}, want $1=$2" "$output"
}

@test "the loop's backend is epoll by default, poll on request, and an unknown one is refused" {
	run_prog 10 loop_probe --case backend
	assert_clean_exit
	loop_expect backend epoll "with WB_LOOP_BACKEND unset" default
	loop_scene poll backend
	loop_expect backend poll "WB_LOOP_BACKEND=poll" poll
	WB_LOOP_BACKEND=kqueue run_prog 10 loop_probe --case backend
	assert_clean_exit
	loop_expect new -EINVAL "loop_new with WB_LOOP_BACKEND=kqueue" kqueue
}

@test "timers fire in deadline order, and equal deadlines in the order they were started" {
	for b in epoll poll; do
		loop_scene $b timer-order || return 1
		loop_expect order D,A,B,C,E "A, B, E, C, D started with deadlines 20, 20, 30, 20, 10 ms" $b || return 1
	done
}

@test "due timers are collected before any runs: one a callback starts waits, one it stops never runs" {
	for b in epoll poll; do
		loop_scene $b due-first || return 1
		loop_expect order T1,T2,T3 "T1, T2, T4 due together; T1 starts T3 (already due) and stops T4" $b || return 1
		loop_expect t4_active_after_stop 0 "loop_timer_active on a stopped due timer" $b || return 1
	done
}

@test "10,000 timers started and stopped at random: the rest fire sorted, the stopped never" {
	for b in epoll poll; do
		loop_scene $b heap || return 1
		loop_expect fired "$(value count)" "every timer still running fires once" $b || return 1
		loop_expect out_of_order 0 "timers firing out of (deadline, start) order" $b || return 1
		loop_expect fired_stopped 0 "stopped timers that fired" $b || return 1
		loop_expect left 0 "timers left in the heap after the run" $b || return 1
		[ "$(value stopped)" -gt 1000 ] || flunk "the scene stopped too few timers to test stopping"
	done
}

@test "a watched fd's callback runs when it becomes readable, and a negative fd is refused" {
	for b in epoll poll; do
		loop_scene $b fd || return 1
		loop_expect reads 1 "reads of the byte a timer wrote" $b || return 1
		loop_expect got x "the byte read" $b || return 1
		loop_expect events read "the events reported" $b || return 1
		loop_expect watch_negative -EBADF "loop_watch(-1)" $b || return 1
	done
}

@test "a callback that unwatches another ready fd stops that fd's callback in the same iteration" {
	for b in epoll poll; do
		loop_scene $b unwatch || return 1
		loop_expect calls 1 "callbacks run for two ready fds when the first unwatches both" $b || return 1
	done
}

@test "a soon call that requeues itself for ever does not starve a timer" {
	for b in epoll poll; do
		loop_scene $b soon-fair || return 1
		loop_expect timer_fired 1 "a 20 ms timer beside a self-requeueing call" $b || return 1
		loop_expect spun yes "the self-requeueing call ran more than once" $b || return 1
	done
}

@test "a soon call that requeues itself for ever does not starve a readable fd" {
	for b in epoll poll; do
		loop_scene $b soon-fd || return 1
		loop_expect fd_read 1 "a pipe written while a call keeps requeueing itself" $b || return 1
		loop_expect spun yes "the call ran a thousand times before the byte was written" $b || return 1
	done
}

@test "posts from four threads all run on the loop's thread, and the loop waits for the last" {
	for b in epoll poll; do
		loop_scene $b post || return 1
		loop_expect received 4000 "posted calls that ran" $b || return 1
		loop_expect wrong_thread 0 "posted calls run on another thread" $b || return 1
	done
}

@test "posts from threads are free of data races (ThreadSanitizer)" {
	for b in epoll poll; do
		WB_LOOP_BACKEND=$b run_tsan 60 loop_probe --case post
		assert_clean_exit || { flunk "on the $b backend"; return 1; }
		loop_expect received 4000 "posted calls that ran" $b || return 1
	done
}

@test "loop_stop ends the run though a watch is still in place" {
	for b in epoll poll; do
		loop_scene $b stop || return 1
		loop_expect stopped 1 "loop_run returned" $b || return 1
	done
}

@test "a loop waiting on an fd sleeps: no CPU, one wake-up" {
	for b in epoll poll; do
		loop_scene $b idle || return 1
		loop_expect got 1 "the byte that ends the wait" $b || return 1
		assert_waits_asleep loop "the loop ($b) waiting 300 ms for a pipe" || return 1
	done
}

@test "a loop with a timer 10 s away sleeps until an fd wakes it" {
	for b in epoll poll; do
		loop_scene $b idle-timer || return 1
		loop_expect got 1 "the byte that ends the wait" $b || return 1
		assert_waits_asleep loop "the loop ($b) waiting with a far timer" || return 1
	done
}

@test "while the loop runs its thread wakes on time (timer slack 1 ns), and the old slack comes back after" {
	local before
	for b in epoll poll; do
		loop_scene $b slack || return 1
		before=$(value slack_before)
		[ "$before" -gt 1 ] || skip "this thread's timer slack is already $before ns"
		loop_expect slack_during 1 "the timer slack inside a callback" $b || return 1
		loop_expect slack_after "$before" "the timer slack after loop_run" $b || return 1
	done
}

@test "co_bench (make bench's coroutine figures) runs each scene and prints its figures" {
	run_prog 30 co_bench --scene gather --n 1000 --ms 50
	assert_clean_exit
	loop_expect n 1000 "gather's task count" epoll
	assert_at_least "$(value wall_s)" 0.05 "1,000 tasks sleeping 50 ms, gathered"
	assert_at_least "$(value bytes_per_task)" 0 "bytes per task"
	run_prog 30 co_bench --scene create --n 10000
	assert_clean_exit
	assert_at_least "$(value us_per_task)" 0 "create + await"
	run_prog 30 co_bench --scene switch --n 10000
	assert_clean_exit
	assert_at_least "$(value ns_per_switch)" 0 "a switch"
	run_prog 30 co_bench --scene sem --n 40 --limit 4 --ms 10
	assert_clean_exit
	loop_expect peak 4 "the most holders of a Semaphore(4) at once" epoll
	assert_at_least "$(value wall_s)" 0.1 "40 holders of 10 ms through Semaphore(4)"
	run_prog 30 co_bench --scene wait_for --n 5 --ms 10
	assert_clean_exit
	assert_at_least "$(value overshoot_ms)" 0 "wait_for's overshoot past its 10 ms"
	run_prog 30 co_bench --scene floor --n 5 --ms 10
	assert_clean_exit
	assert_at_least "$(value overshoot_ms)" 0 "a bare epoll_pwait2's overshoot past its 10 ms"
	run_prog 10 co_bench --scene nap
	assert_usage_error co_bench
}
