#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 03, the coroutine layer (co.h): tasks, await, sleep, cancellation,
# co_run, and asyncio's primitives on top of them.
#
# The drivers (tests/progs/03-asyncio/co_*.c) play one scene per --case and
# print what happened as key=value; every check here runs its scene on both
# of the loop's backends (epoll and poll, chosen through WB_LOOP_BACKEND).
# Orders between tasks are forced inside the scenes (events, awaits), and
# times are sleep-bound: a sleep never ends early, so lower bounds are
# exact and upper bounds get slack.

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=03-asyncio
load helpers/common

CORE_BACKENDS="epoll poll"

# core_run BACKEND SECONDS PROGRAM ARGS...: run a driver on one backend;
# it must exit cleanly (nothing on stderr: no sanitizer report either).
core_run() {
	local backend=$1
	shift
	WB_LOOP_BACKEND=$backend run_prog "$@"
	assert_clean_exit || flunk "(on the $backend backend)"
}

# core_expect KEY WANT WHAT: the driver printed KEY=WANT.
core_expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] && return 0
	flunk "$3: got $1=${got:-(nothing)}, want $1=$2 (on the $backend backend)" "$output"
}

# core_between KEY LOW HIGH WHAT: LOW <= KEY <= HIGH (HIGH gets the
# sanitizers' slack).
core_between() {
	assert_between "$(value "$1")" "$2" "$(slack "$3")" "$4 (on the $backend backend)" ||
		flunk "$output"
}

# ---------------------------------------------------------------- tasks

@test "a task with its frame costs at most 136 bytes: struct co_task is 120" {
	run_prog 10 co_probe --case sizes
	assert_clean_exit
	local task sleeper
	task=$(value task_bytes)
	sleeper=$(value sleeper_bytes)
	[ "$task" -le 120 ] || flunk "struct co_task is $task bytes"
	[ "$sleeper" -le 136 ] || flunk "a sleeping task's whole frame is $sleeper bytes"
}

@test "10 tasks sleeping 500 ms each, awaited one after another, take about 500 ms in all" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_probe --case sleep
		core_expect backend "$backend" "the loop's backend"
		core_expect run 0 "co_run's result"
		core_expect failed 0 "sleeps that did not return 0"
		core_between elapsed_ms 500 650 "the ten sleeps overlap"
	done
}

@test "a task cancelled in its sleep sees -ECANCELED there, may await again in its cleanup, and ends with it" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_probe --case cancel-sleep
		core_expect cancel 1 "co_task_cancel on a sleeping task"
		core_expect seen -ECANCELED "what the cancelled sleep returned"
		core_expect cleaned 1 "the sleep in the cleanup returned 0"
		core_expect result -ECANCELED "the task's result, as its awaiter saw it"
		core_expect again 0 "co_task_cancel on a finished task"
		core_between elapsed_ms 70 400 "the cancel cut the 10 s sleep short"
	done
}

@test "a task cancelled before it started finishes with -ECANCELED and never runs its body" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_probe --case cancel-new
		core_expect started 0 "the body ran"
		core_expect result -ECANCELED "the task's result"
		core_between elapsed_ms 0 200 "nothing slept"
	done
}

@test "a cancel that arrives after a task was woken keeps the await's result and lands on its next waiting await" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_probe --case cancel-kept
		core_expect first 0 "the event wait that had already succeeded"
		core_expect second 0 "an await that did not have to wait"
		core_expect third -ECANCELED "the next await that waited (sleep(0))"
		core_expect result -ECANCELED "the task's result"
	done
}

@test "co_run returns main's result after cancelling the tasks left running and running their cleanup" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_probe --case leftovers
		core_expect run -EIO "co_run's result is main's"
		core_expect started 3 "leftover tasks that had started"
		core_expect cleaned 3 "leftover tasks whose cleanup ran"
		core_expect "done" 3 "leftover tasks finished when co_run returned"
		core_between elapsed_ms 30 500 "their 10 s sleeps were cancelled"
	done
}

@test "co_run reports -EDEADLK when main waits for a future nothing can settle, and cancels it" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_probe --case deadlock
		core_expect run -EDEADLK "co_run's result"
		core_expect seen -ECANCELED "what main's await saw"
		core_expect "done" 1 "main finished"
	done
}

@test "co_probe: bad input is one line and status 2" {
	run_prog 10 co_probe --case nosuch
	assert_usage_error co_probe
	run_prog 10 co_probe
	assert_usage_error co_probe
}
