#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 03's demos: asyncio_demo (the guide's gather of 10 × 0.5 s),
# wait_for_demo (a slow operation timed out, its cleanup shown) and db_many
# (many sqlite3 queries from coroutines through run_in_executor).
#
# Timing checks have a fixed lower bound (a sleep never ends early) and an
# upper bound widened by `slack` under the sanitizers.  Loop-level claims
# run on both backends: WB_LOOP_BACKEND=epoll, then poll.

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=03-asyncio
load helpers/common

# demos_clean: the program ran to completion with nothing on stderr.
demos_clean() {
	assert_clean_exit
}

# demos_upto BASE EXTRA: BASE plus EXTRA seconds of slack (tripled under
# the sanitizers).
demos_upto() {
	awk -v b="$1" -v s="$(slack "$2")" 'BEGIN { print b + s }'
}

# demos_expect KEY WANT WHAT: the program printed KEY=WANT.
demos_expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] && return 0
	flunk "$3: got $1=${got:-(nothing)}, want $1=$2" "$output"
}

# demos_line_no REGEX: the number of the first output line matching the
# extended REGEX (nothing if none does).
demos_line_no() {
	printf '%s\n' "$output" | grep -nE -m1 -- "$1" | cut -d: -f1
}

# demos_before FIRST SECOND WHAT: a line matching FIRST comes before one
# matching SECOND (both extended regexes), and both are there.
demos_before() {
	local a b
	a=$(demos_line_no "$1")
	b=$(demos_line_no "$2")
	[ -n "$a" ] || { flunk "$3: no line matching '$1':" "$output"; return 1; }
	[ -n "$b" ] || { flunk "$3: no line matching '$2':" "$output"; return 1; }
	[ "$a" -lt "$b" ] || flunk "$3: '$1' (line $a) should come before '$2' (line $b):" "$output"
}

# demos_interrupt GATE NAME ARGS...: start program NAME with ARGS, wait
# until it prints a line starting with GATE, send it SIGINT, and collect
# its exit status in $status and the rest of its output in
# $BATS_TEST_TMPDIR/rest.  The gate, not a sleep, decides when.
#
# The program runs under timeout(1), which also gives it back the SIGINT
# that bash takes away from background jobs.  The signal goes to the
# program itself, not to timeout: timeout 9.1 may still be returning from
# fork() when its child has already printed the gate, and a SIGINT then
# ends timeout alone and leaves the program running.  timeout passes the
# program's death by SIGINT on as its own, so $status is what a shell
# would see.
demos_interrupt() {
	local gate=$1 name=$2 fifo=$BATS_TEST_TMPDIR/out line seen='' pid child fd
	shift 2
	mkfifo "$fifo"
	timeout -k 5 60 "$(prog "$name")" "$@" >"$fifo" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	# bats keeps descriptor 3 for itself: let bash pick one.
	exec {fd}<"$fifo"
	while IFS= read -r -t 30 line <&"$fd"; do
		if [[ $line == "$gate"* ]]; then
			seen=1
			break
		fi
	done
	# It printed the gate, so it exists: timeout's only child.
	child=$(pgrep -P "$pid")
	if [ -z "$seen" ] || [ -z "$child" ]; then
		# Leave nothing running: the program first, then its timeout.
		pkill -KILL -P "$pid" 2>/dev/null
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		exec {fd}<&-
		flunk "$name never printed '$gate'"
		return 1
	fi
	kill -INT "$child"
	cat <&"$fd" >"$BATS_TEST_TMPDIR/rest"
	exec {fd}<&-
	wait "$pid" && status=0 || status=$?
}

# ---------------------------------------------------------- asyncio_demo

@test "asyncio_demo: 10 tasks of 0.5 s gathered take about 0.5 s, not 5.0 s (epoll and poll)" {
	local b
	for b in epoll poll; do
		WB_LOOP_BACKEND=$b run_prog 20 asyncio_demo
		demos_clean || return 1
		demos_expect tasks 10 "default task count" || return 1
		demos_expect ideal 0.500 "the ideal" || return 1
		demos_expect sequential 5.000 "one at a time" || return 1
		demos_expect mode gather "the default mode" || return 1
		assert_between "$(value elapsed)" 0.5 "$(demos_upto 0.5 0.15)" "elapsed seconds on $b" || return 1
		printf '%s\n' "$output" | grep -qE '^10 tasks in 0\.[0-9]{3} s \(ideal 0\.500 s; 5\.000 s one at a time\)$' ||
			{ flunk "missing the summary line ($b):" "$output"; return 1; }
		printf '%s\n' "$output" | grep -qxF "Fetched 10 items" ||
			{ flunk "no 'Fetched 10 items' line ($b):" "$output"; return 1; }
	done
}

@test "asyncio_demo: 300 tasks of 0.3 s also take about 0.3 s: the waits overlap whatever N and D (epoll and poll)" {
	local b
	for b in epoll poll; do
		WB_LOOP_BACKEND=$b run_prog 20 asyncio_demo --tasks 300 --delay-ms 300
		demos_clean || return 1
		demos_expect ideal 0.300 "the ideal" || return 1
		demos_expect sequential 90.000 "one at a time" || return 1
		assert_between "$(value elapsed)" 0.3 "$(demos_upto 0.3 0.15)" "elapsed seconds on $b" || return 1
	done
}

@test "asyncio_demo: results come in argument order though the last task finishes first" {
	run_prog 20 asyncio_demo --tasks 5 --delay-ms 100 --stagger-ms 40
	demos_clean
	# Task 4 waits 0.1 s, task 0 0.26 s: they finish in reverse.
	demos_expect finish_order 4,3,2,1,0 "the order the tasks finished in"
	printf '%s\n' "$output" | grep -qxF "Results: Data 0, Data 1, Data 2, Data 3, Data 4" ||
		flunk "results must be in argument order:" "$output"
	demos_expect ideal 0.260 "the ideal with the stagger"
	assert_between "$(value elapsed)" 0.26 "$(demos_upto 0.26 0.15)" "elapsed seconds"
}

@test "asyncio_demo: every task logs its request and its data under its own name" {
	run_prog 20 asyncio_demo --tasks 4 --delay-ms 50
	demos_clean
	local i
	for i in 0 1 2 3; do
		demos_before "^\[\+[0-9.]+s\] Task-$i: Sending request\.\.\.$" "^\[\+[0-9.]+s\] Task-$i: Data received!$" \
			"task $i" || return 1
	done
	# Every request is sent before any data arrives: they wait together.
	demos_before "Task-3: Sending request" "Task-0: Data received" "all requests before any data"
}

@test "asyncio_demo --sequential awaits one task at a time: N × D" {
	run_prog 20 asyncio_demo --tasks 4 --delay-ms 100 --sequential --trace
	demos_clean
	demos_expect mode sequential "the mode"
	[ "$(spans | wc -l)" -eq 4 ] || flunk "expected 4 spans:" "$output"
	[ "$(max_overlap)" -eq 1 ] || flunk "one at a time: never two waits at once; saw $(max_overlap)"
	demos_expect sequential 0.400 "the computed one-at-a-time figure"
	assert_between "$(value elapsed)" 0.4 "$(demos_upto 0.4 0.15)" "elapsed seconds"
	demos_expect finish_order 0,1,2,3 "one at a time, in order"
	# Task 1 sends its request only after task 0's data came.
	demos_before "Task-0: Data received" "Task-1: Sending request" "no overlap"
}

@test "asyncio_demo --timeline draws one row per task, and all of them wait at once" {
	run_prog 20 asyncio_demo --tasks 6 --delay-ms 200 --timeline --trace
	demos_clean
	local i
	for i in 0 1 2 3 4 5; do
		printf '%s\n' "$output" | grep -qE "^Task-$i +\|.*\|$" || { flunk "no chart row for Task-$i:" "$output"; return 1; }
	done
	[ "$(printf '%s\n' "$output" | grep -cE '^Task-[0-9]+ +\|')" -eq 6 ] || flunk "expected exactly 6 rows:" "$output"
	[ "$(spans | wc -l)" -eq 6 ] || flunk "expected 6 spans:" "$output"
	[ "$(max_overlap)" -eq 6 ] || flunk "all 6 tasks should wait at once; at most $(max_overlap) did"
}

@test "asyncio_demo: the loop thread sleeps while the tasks wait (epoll and poll)" {
	local b
	for b in epoll poll; do
		WB_LOOP_BACKEND=$b run_prog 20 asyncio_demo --tasks 10 --delay-ms 400
		demos_clean || return 1
		assert_waits_asleep loop "the loop thread ($b) waiting 0.4 s on 10 timers" || return 1
	done
}

@test "asyncio_demo: Ctrl-C (SIGINT) ends it at once with status 130" {
	demos_interrupt "Gathering 10 tasks" asyncio_demo --delay-ms 30000
	[ "$status" -eq 130 ] || flunk "expected status 130 after SIGINT, got $status"
	[ ! -s "$BATS_TEST_TMPDIR/err" ] || flunk "unexpected stderr:" "$(cat "$BATS_TEST_TMPDIR/err")"
}

@test "asyncio_demo rejects bad input with one line on stderr and status 2" {
	local bad
	for bad in "--tasks 0" "--tasks abc" "--tasks 100001" "--tasks 99999999999999999999" \
		"--delay-ms -1" "--delay-ms 1.5" "--stagger-ms x" "--tasks 101 --timeline" \
		"--tasks 100 --stagger-ms 10000" "--bogus" "--tasks" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 5 asyncio_demo $bad
		assert_usage_error asyncio_demo || { flunk "for: asyncio_demo $bad"; return 1; }
	done
}

@test "asyncio_demo: a report it cannot write (stdout full or closed) is an error, --help included" {
	assert_reports_lost_output 10 asyncio_demo "--tasks 3 --delay-ms 10"
}

@test "asyncio_demo --help prints usage and exits 0" {
	run_prog 5 asyncio_demo --help
	demos_clean
	[[ ${lines[0]} == "usage: asyncio_demo "* ]] || flunk "first line: ${lines[0]}"
	local opt
	for opt in --tasks --delay-ms --stagger-ms --sequential --timeline --trace --help; do
		[[ $output == *"$opt"* ]] || flunk "usage should list $opt: $output"
	done
}

# --------------------------------------------------------- wait_for_demo

# wait_for_demo's default run takes 3 s; its scenes are checked one test
# each, from one run kept for the whole file.
demos_wait_for_output() {
	local cache=$BATS_FILE_TMPDIR/wait_for_demo
	if [ ! -e "$cache.status" ]; then
		run_prog 30 wait_for_demo
		printf '%s' "$output" >"$cache.out"
		printf '%s' "$stderr" >"$cache.err"
		echo "$status" >"$cache.status"
	fi
	output=$(cat "$cache.out")
	stderr=$(cat "$cache.err")
	status=$(cat "$cache.status")
	mapfile -t lines <<<"$output"
	mapfile -t stderr_lines <<<"$stderr"
	demos_clean
}

# demos_scene NAME KEY: KEY's value on the "scene=NAME ..." line.
demos_scene() {
	printf '%s\n' "$output" | sed -n "s/^scene=$1 .*\\b$2=\\([^ ]*\\).*/\\1/p" | head -n 1
}

@test "wait_for_demo: after 0.5 s the slow operation is cancelled, cleans up, and only then does wait_for time out" {
	demos_wait_for_output
	[ "$(demos_scene wait_for result)" = -ETIMEDOUT ] || flunk "wait_for should return -ETIMEDOUT:" "$output"
	[ "$(demos_scene wait_for cleanup)" = 1 ] || flunk "the cleanup had not run when wait_for returned:" "$output"
	assert_between "$(demos_scene wait_for elapsed)" 0.5 "$(demos_upto 0.5 0.1)" "seconds until wait_for returned"
	demos_before "slow-1: cancelled at its await \(-ECANCELED\)$" "slow-1: cleanup: closing the connection$" \
		"the inner task sees -ECANCELED, then cleans up"
	demos_before "slow-1: cleanup: closing the connection$" "main: timed out after 0\.5[0-9] s, cleanup done$" \
		"the cleanup comes before the timed-out line"
	! printf '%s\n' "$output" | grep -q "slow-1: work done" ||
		flunk "the timed-out operation finished its work:" "$output"
}

@test "wait_for_demo: with a deadline it can meet, the operation's result comes back" {
	demos_wait_for_output
	[ "$(demos_scene wait_for_long result)" = 42 ] || flunk "wait_for should return the task's result, 42:" "$output"
	[ "$(demos_scene wait_for_long timeout_ms)" = 4100 ] || flunk "the long deadline should be 4100 ms:" "$output"
	assert_between "$(demos_scene wait_for_long elapsed)" 2.0 "$(demos_upto 2.0 0.2)" "seconds the operation took"
	demos_before "slow-2: work done$" "main: finished in 2\.[0-9]+ s with result 42$" "the result after the work"
}

@test "wait_for_demo: the timeout scope cancels the main task's own await and turns it into -ETIMEDOUT" {
	demos_wait_for_output
	[ "$(demos_scene timeout result)" = -ETIMEDOUT ] || flunk "co_timeout_exit should give -ETIMEDOUT:" "$output"
	[ "$(demos_scene timeout cleanup)" = 1 ] || flunk "the cleanup should have run:" "$output"
	assert_between "$(demos_scene timeout elapsed)" 0.5 "$(demos_upto 0.5 0.1)" "seconds until the scope ended"
	# The scene's own lines: from its title on.
	output=$(printf '%s\n' "$output" | sed -n '/as a timeout scope/,$p')
	demos_before "main: cancelled at its await \(-ECANCELED\)$" "main: timed out after 0\.5[0-9] s, cleanup done$" \
		"the cancel, then the timed-out line"
}

@test "wait_for_demo: wait_for waits for a cleanup that takes time (epoll and poll)" {
	local b
	for b in epoll poll; do
		WB_LOOP_BACKEND=$b run_prog 20 wait_for_demo --work-ms 600 --timeout-ms 200 --cleanup-ms 300
		demos_clean || return 1
		[ "$(demos_scene wait_for result)" = -ETIMEDOUT ] || { flunk "wait_for should time out ($b):" "$output"; return 1; }
		# 0.2 s to the deadline, then 0.3 s of cleanup before wait_for returns.
		assert_between "$(demos_scene wait_for elapsed)" 0.5 "$(demos_upto 0.5 0.1)" "seconds until wait_for returned ($b)" || return 1
		demos_before "slow-1: cleanup: connection closed \(0\)$" "main: timed out after" \
			"the cleanup's own await ends before wait_for returns ($b)" || return 1
		[ "$(demos_scene wait_for_long result)" = 42 ] || { flunk "the long run should succeed ($b):" "$output"; return 1; }
		assert_between "$(demos_scene timeout elapsed)" 0.5 "$(demos_upto 0.5 0.1)" "the scope with its cleanup ($b)" || return 1
	done
}

@test "wait_for_demo: Ctrl-C (SIGINT) in the middle of the wait ends it at once with status 130" {
	demos_interrupt "A slow operation" wait_for_demo --work-ms 30000 --timeout-ms 20000
	[ "$status" -eq 130 ] || flunk "expected status 130 after SIGINT, got $status"
	[ ! -s "$BATS_TEST_TMPDIR/err" ] || flunk "unexpected stderr:" "$(cat "$BATS_TEST_TMPDIR/err")"
}

@test "wait_for_demo rejects bad input with one line on stderr and status 2" {
	local bad
	for bad in "--work-ms -1" "--work-ms abc" "--timeout-ms 120001" "--long-timeout-ms 1e3" \
		"--cleanup-ms" "--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 5 wait_for_demo $bad
		assert_usage_error wait_for_demo || { flunk "for: wait_for_demo $bad"; return 1; }
	done
}

@test "wait_for_demo: a report it cannot write (stdout full or closed) is an error, --help included" {
	assert_reports_lost_output 10 wait_for_demo "--work-ms 100 --timeout-ms 20"
}

@test "wait_for_demo --help prints usage and exits 0" {
	run_prog 5 wait_for_demo --help
	demos_clean
	[[ ${lines[0]} == "usage: wait_for_demo "* ]] || flunk "first line: ${lines[0]}"
	local opt
	for opt in --work-ms --timeout-ms --long-timeout-ms --cleanup-ms --help; do
		[[ $output == *"$opt"* ]] || flunk "usage should list $opt: $output"
	done
}

# --------------------------------------------------------------- db_many

# The temporary database goes under a TMPDIR of the test's own, so that
# what is left behind can be seen.
demos_db_tmp() {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
}

demos_db_nothing_left() {
	[ -z "$(ls -A "$TMPDIR")" ] || flunk "left behind:" "$(ls -AR "$TMPDIR")"
}

@test "db_many: every answer from the coroutines is exactly the sequential run's, and the ticker kept ticking (epoll and poll)" {
	local b
	demos_db_tmp
	for b in epoll poll; do
		WB_LOOP_BACKEND=$b run_prog 60 db_many --queries 6 --workers 3 --limit 3 --rows 20000 \
			--latency-ms 300 --tick-ms 10
		demos_clean || return 1
		demos_expect results_match 1 "answers of the two runs ($b)" || return 1
		[[ $output != *MISMATCH* && $output != *FAILED* ]] || { flunk "$output"; return 1; }
		demos_expect mode executor "the mode" || return 1
		# 2 rounds of 0.3 s round trips: at least 0.6 s of queries, ticking every 10 ms.
		assert_at_least "$(value concurrent)" 0.6 "seconds of the concurrent run ($b)" || return 1
		assert_at_least "$(value ticks_during)" 10 "ticks while the queries ran ($b)" || return 1
		# A loop blocked by one query would be silent for its whole 300 ms
		# round trip (--blocking shows it); a free one, for about one tick.
		assert_between "$(value max_gap_ms)" 0 250 "the loop's longest silence while queries ran ($b)" || return 1
		demos_db_nothing_left || return 1
	done
}

@test "db_many: the queries run on the executor's threads, never more in flight than --limit, one connection each" {
	demos_db_tmp
	run_prog 60 db_many --queries 10 --workers 4 --limit 2 --rows 5000 --latency-ms 50
	demos_clean
	demos_expect results_match 1 "answers of the two runs"
	demos_expect peak_in_flight 2 "the Semaphore's peak"
	local opened
	opened=$(value connections)
	[ "$opened" -ge 1 ] && [ "$opened" -le 2 ] || flunk "opened $opened connections for --limit 2"
	# Every concurrent query is logged by a worker thread, on a lent connection.
	[ "$(printf '%s\n' "$output" | grep -cE '^\[\+[0-9.]+s\] db-[1-4]: query [0-9]+ on connection [12]: ')" -eq 10 ] ||
		flunk "expected 10 query lines from threads db-1 to db-4 on connection 1 or 2:" "$output"
	# 10 round trips of 50 ms, 2 at a time: 0.25 s at least.
	demos_expect ideal 0.250 "the ideal"
	assert_at_least "$(value concurrent)" 0.25 "seconds of the concurrent run"
}

@test "db_many --blocking: queries run on the loop thread silence the ticker for a whole round trip" {
	demos_db_tmp
	run_prog 60 db_many --queries 3 --limit 3 --rows 5000 --latency-ms 150 --tick-ms 10 --blocking
	demos_clean
	demos_expect results_match 1 "answers of the two runs"
	demos_expect mode blocking "the mode"
	# The ticker cannot run while a query holds the thread: a gap of one
	# round trip at least, in every interleaving.
	assert_at_least "$(value max_gap_ms)" 150 "the loop's longest silence"
	! printf '%s\n' "$output" | grep -qE '^\[\+[0-9.]+s\] db-[0-9]+: ' ||
		flunk "no worker thread should run a query:" "$output"
}

@test "db_many is free of data races: connections handed to workers and back (ThreadSanitizer)" {
	demos_db_tmp
	run_tsan 120 db_many --queries 8 --workers 3 --limit 3 --rows 2000 --latency-ms 10
	assert_clean_exit
	assert_no_race "db_many"
	demos_expect results_match 1 "answers of the two runs"
}

@test "db_many deletes its temporary database at exit" {
	demos_db_tmp
	run_prog 60 db_many --queries 3 --rows 1000 --latency-ms 0
	demos_clean
	[[ $output == *"built $TMPDIR/db_many."*"/orders.db"* ]] ||
		flunk "the database should be built under TMPDIR:" "$output"
	demos_db_nothing_left
}

@test "db_many: Ctrl-C (SIGINT) during the queries ends it with status 130 and deletes the database" {
	demos_db_tmp
	# 2 s one after another, then the gate; the tasks' round trips take 1 s.
	demos_interrupt "then as tasks through co_run_in_executor" db_many --queries 2 --rows 1000 --latency-ms 1000
	[ "$status" -eq 130 ] || flunk "expected status 130 after SIGINT, got $status"
	[ ! -s "$BATS_TEST_TMPDIR/err" ] || flunk "unexpected stderr:" "$(cat "$BATS_TEST_TMPDIR/err")"
	demos_db_nothing_left
}

@test "db_many rejects bad input with one line on stderr and status 2" {
	local bad
	demos_db_tmp
	for bad in "--queries 0" "--queries 10001" "--workers 0" "--workers 257" "--limit 0" \
		"--limit x" "--rows 0" "--latency-ms -5" "--tick-ms 0" "--tick-ms 1001" \
		"--bogus" "--queries" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 5 db_many $bad
		assert_usage_error db_many || { flunk "for: db_many $bad"; return 1; }
	done
	demos_db_nothing_left
}

@test "db_many: a report it cannot write (stdout full or closed) is an error, --help included" {
	demos_db_tmp
	assert_reports_lost_output 30 db_many "--queries 3 --rows 1000 --latency-ms 0" demos_db_nothing_left
}

@test "db_many --help prints usage and exits 0" {
	run_prog 5 db_many --help
	demos_clean
	[[ ${lines[0]} == "usage: db_many "* ]] || flunk "first line: ${lines[0]}"
	local opt
	for opt in --queries --workers --limit --rows --latency-ms --tick-ms --blocking --help; do
		[[ $output == *"$opt"* ]] || flunk "usage should list $opt: $output"
	done
}
