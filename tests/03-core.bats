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

# gather, the Semaphore and wait_for are exercises: their checks are in
# tests/03-ex.bats, named [03-gather], [03-semaphore] and [03-wait-for], so
# that they also run on the skeletons and the wrong solutions.

# ---------------------------------------------------------------- timeout

@test "a timeout scope cancels the sleep in it at 100 ms, reports -ETIMEDOUT and lets no cancel leak past it" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_sync_probe --case timeout
		core_expect inside -ECANCELED "the sleep inside the scope"
		core_expect left -ETIMEDOUT "co_timeout_exit's result"
		core_expect after 0 "a sleep after the scope"
		core_expect other 0 "a scope left in time"
		core_between at_ms 100 200 "the scope's 100 ms"
		core_between total_ms 120 500 "the second scope's 2 s timer was stopped"
	done
}

# ---------------------------------------------------------------- Event, Queue

@test "Event: set wakes every waiter; a cancelled waiter sees -ECANCELED; a set event does not wait" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_sync_probe --case event
		core_expect seen 0,0,0,-ECANCELED "what each waiter's wait returned"
		core_expect again 0 "a wait on a set event"
	done
}

@test "Queue(2): a producer of 6 and a slow consumer: FIFO, never more than 2 inside" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_sync_probe --case queue
		core_expect order 1,2,3,4,5,6 "the order the items came out"
		core_expect maxlen 2 "the most items in the queue"
		core_expect left 0 "items left"
	done
}

@test "Queue: a cancelled getter or putter loses no item and lets none overtake; an item handed over stays handed" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_sync_probe --case queue-cancel
		core_expect g1 -ECANCELED "the cancelled getter"
		core_expect g2 0 "the getter behind it"
		core_expect g2_item 7 "the item put after the cancel"
		core_expect g3 0 "a getter handed an item, then cancelled before it ran"
		core_expect g3_item 9 "the item it was handed"
		core_expect p1 -ECANCELED "the cancelled putter"
		core_expect p2 0 "the putter behind it"
		core_expect got 5,2 "the items in the queue: the cancelled putter's never entered"
		core_expect left 0 "items left"
	done
}

# ---------------------------------------------------------------- TaskGroup

@test "TaskGroup: the first failure cancels the siblings; the wait returns it after their cleanup" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_sync_probe --case group-fail
		core_expect result -EIO "the group's result"
		core_expect results -ECANCELED,-EIO,-ECANCELED "each child's result"
		core_expect cleaned 101 "the cancelled siblings' cleanup ran"
		core_between at_ms 70 250 "the failure at 50 ms plus 20 ms of cleanup"
	done
}

@test "TaskGroup: when every child succeeds the wait returns 0 after the last one" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_sync_probe --case group-ok
		core_expect result 0 "the group's result"
		core_expect results 0,0,0 "each child's result"
		core_between at_ms 30 150 "the slowest child's 30 ms"
	done
}

@test "TaskGroup: cancelling its waiter cancels every child and waits for them" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_sync_probe --case group-cancel
		core_expect result -ECANCELED "the group's result"
		core_expect results -ECANCELED,-ECANCELED,-ECANCELED "each child's result"
		core_expect cleaned 111 "every child's cleanup ran"
		core_between at_ms 70 250 "the cancel at 50 ms plus 20 ms of cleanup"
	done
}

@test "a wait for a readable fd returns when data arrives; a cancelled one returns -ECANCELED and unwatches its fd" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_sync_probe --case fd
		core_expect reader 1 "the events seen (LOOP_READ)"
		core_expect stuck -ECANCELED "the cancelled wait"
		core_between total_ms 20 300 "co_run ended: no watch was left"
	done
}

# ---------------------------------------------------------- run_in_executor

@test "run_in_executor: a 2 s blocking call returns its result; other tasks run meanwhile; the loop thread sleeps" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_exec_probe --case result
		core_expect result 0 "the await's result"
		core_expect answer 1 "the call's result pointer came back"
		core_between sleeper_ms 100 300 "a 100 ms sleep beside the call"
		core_between at_ms 2000 2300 "the call's 2 s"
		assert_waits_asleep loop "the loop thread, with only the executor's call left"
	done
}

@test "run_in_executor: a failing call's code and message come back" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_exec_probe --case error
		core_expect result -EIO "the await's result"
		printf '%s\n' "$output" | grep -qx 'message=the disk is on fire' ||
			flunk "the call's message did not come back:" "$output"
	done
}

@test "run_in_executor: a task cancelled while its call runs gets -ECANCELED only after the call has returned" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_exec_probe --case cancel-running
		core_expect result -ECANCELED "the await's result"
		core_expect finished_at_return 1 "the call had finished when the await returned"
		core_between at_ms 300 500 "the call's 300 ms, not the cancel's 50"
		core_expect other 0 "the queued call behind it ran"
	done
}

@test "run_in_executor: a task cancelled while its call is queued gets -ECANCELED at once and the call never runs" {
	for backend in $CORE_BACKENDS; do
		core_run "$backend" 20 co_exec_probe --case cancel-queued
		core_expect result -ECANCELED "the await's result"
		core_expect ran 0 "the cancelled call ran"
		core_between at_ms 45 200 "returned at the cancel (50 ms into the scene), not after the 300 ms ahead of it"
		core_expect other 0 "the running call finished"
	done
}

@test "the coroutine drivers: bad input is one line and status 2" {
	local p
	for p in co_sync_probe co_exec_probe; do
		run_prog 10 "$p" --case nosuch
		assert_usage_error "$p"
		run_prog 10 "$p" extra
		assert_usage_error "$p"
	done
}
