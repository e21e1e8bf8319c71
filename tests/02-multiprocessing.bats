#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 02, multiprocessing: the process pool, factorial(50000) with GMP,
# cpu_count, the demo, and exercise 02-pool-map.
#
# Checks named "[ID] ..." check exercise ID; the runner selects them by that
# prefix and runs them on the solution, on the learner's file and on the
# skeleton.  Orders between processes are forced with pipes the workers
# inherit (see tests/progs/02-multiprocessing/pool_probe.c), never with
# sleeps; every program runs under a timeout.

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=02-multiprocessing
load helpers/common

# sha256 of the decimal string of 50000!, from Python's math.factorial.
POOL_FACT50000_SHA=3fb49c6cb27ba78a86f6de09d6d36f035b31f27fc9d6cda83c90bb7ae1c717a3

# Where to look when a check of an exercise fails, plus a word about
# -ENOSYS, which only the skeletons' stand-ins return.
pool_hint() {
	exercise_pointer
	if [[ "$output$stderr" == *ENOSYS* ]]; then
		echo "(-ENOSYS, \"not implemented yet\", comes from a skeleton's stand-in: that TODO is still to do)"
	fi
}

pool_clean() {
	assert_clean_exit || flunk "$(pool_hint)"
}

# pool_expect KEY WANT WHAT: the program printed KEY=WANT.
pool_expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] && return 0
	flunk "$3: got $1=${got:-(nothing)}, want $1=$2" "$(pool_hint)"
}

# pool_expect_line LINE WHAT: the program printed exactly this line.
pool_expect_line() {
	printf '%s\n' "$output" | grep -qxF -- "$1" && return 0
	flunk "$2: no line '$1' in the output:" "$output" "$(pool_hint)"
}

# The worker pids of the demo's "Pool of N worker processes: PID..." line.
pool_demo_pids() {
	printf '%s\n' "$output" | sed -n 's/^Pool of [0-9]* worker processes: //p' | head -n 1
}

# None of the pids given is a process any more (not even a zombie).
pool_all_gone() {
	local pid
	for pid in "$@"; do
		! kill -0 "$pid" 2>/dev/null || { flunk "process $pid is still there:" "$(ps -o pid,ppid,stat,cmd -p "$pid")"; return 1; }
	done
}

# ----------------------------------------------------- multiprocessing_demo

@test "multiprocessing_demo computes factorial(50000) exactly: 213237 digits, 12499 trailing zeros, the digest of math.factorial's decimal" {
	run_prog 120 multiprocessing_demo --workers 2 --digits "$BATS_TEST_TMPDIR/digits"
	pool_clean
	pool_expect_line "Results computed across 2 processes: 4 of 4 equal mpz_fac_ui(50000)" \
		"every result from the pool, and the guide's loop, must equal mpz_fac_ui"
	pool_expect digits 213237 "the number of decimal digits of 50000!"
	pool_expect zeros 12499 "the trailing zeros of 50000!"
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/digits" | cut -d' ' -f1)" = "$POOL_FACT50000_SHA" ] ||
		flunk "the digits written by --digits are not those of 50000!"
	printf '%s\n' "$output" | grep -qE '^4 tasks in [0-9.]+ s on 2 workers, [0-9.]+ s one at a time: speed-up [0-9.]+x \(ideal 2\.00x\)$' ||
		flunk "missing the speed-up line:" "$output"
}

@test "multiprocessing_demo: each task is announced by its worker process, and only the --workers processes of the pool do the work" {
	local pids announced pid
	run_prog 60 multiprocessing_demo --workers 3 --tasks 6 --n 2000
	pool_clean
	pids=$(pool_demo_pids)
	[ "$(wc -w <<<"$pids")" -eq 3 ] || flunk "expected 3 worker pids:" "$output"
	announced=$(printf '%s\n' "$output" | sed -n 's/^\[+[0-9.]*s\] Process-\([0-9]*\): Computing factorial of 2000\.\.\.$/\1/p')
	[ "$(wc -l <<<"$announced")" -eq 6 ] || flunk "expected 6 announcements:" "$output"
	for pid in $announced; do
		[[ " $pids " == *" $pid "* ]] || flunk "process $pid is not one of the pool's: $pids"
	done
	# shellcheck disable=SC2086  # one pid per word
	pool_all_gone $pids
}

@test "multiprocessing_demo --trace: two workers compute at once, never more than --workers" {
	run_prog 120 multiprocessing_demo --workers 2 --tasks 4 --n 30000 --trace
	pool_clean
	[ "$(spans | wc -l)" -eq 4 ] || flunk "expected 4 spans:" "$output"
	[ "$(max_overlap '=')" -eq 2 ] || flunk "expected 2 tasks computing at once, got $(max_overlap '='):" "$output"
	[ "$(worker_count '=')" -le 2 ] || flunk "more than 2 processes computed:" "$output"
}

@test "multiprocessing_demo --timeline draws one row per worker process" {
	run_prog 60 multiprocessing_demo --workers 2 --tasks 2 --n 2000 --timeline
	pool_clean
	[ "$(printf '%s\n' "$output" | grep -cE '^Process-[0-9]+ +\|')" -eq 2 ] ||
		flunk "expected two rows, one per worker process:" "$output"
}

@test "multiprocessing_demo --kill-one: the killed task's error names the pid, SIGKILL and the task; the other results arrive; a replacement is forked" {
	local pids dead
	run_prog 60 multiprocessing_demo --workers 2 --tasks 4 --n 20000 --kill-one
	pool_clean
	pids=$(pool_demo_pids)
	dead=$(printf '%s\n' "$output" | sed -n 's/^Task 1 failed: worker \([0-9]*\) killed by SIGKILL while running task 1$/\1/p')
	[ -n "$dead" ] || flunk "no 'Task 1 failed: worker PID killed by SIGKILL while running task 1' line:" "$output"
	[[ " $pids " == *" $dead "* ]] || flunk "the dead worker $dead is not one of the pool's: $pids"
	pool_expect_line "Results computed across 2 processes: 3 of 4 equal mpz_fac_ui(20000)" \
		"the three other tasks must complete"
	pool_expect lost 1 "workers lost"
	printf '%s\n' "$output" | grep -qE '^The pool lost 1 worker\(s\) and forked replacements: [0-9]+ [0-9]+$' ||
		flunk "no replacement line:" "$output"
	# shellcheck disable=SC2086  # one pid per word
	pool_all_gone $pids
}

@test "multiprocessing_demo: SIGINT (Ctrl-C) stops it with status 130, and its workers are killed and reaped" {
	local fifo=$BATS_TEST_TMPDIR/out line pids='' demo fd
	mkfifo "$fifo"
	timeout -k 5 60 "$(prog multiprocessing_demo)" --workers 2 --tasks 8 --n 200000 >"$fifo" 2>&1 &
	demo=$!
	# bats keeps descriptor 3 for itself: let bash pick one.
	exec {fd}<"$fifo"
	# The pool line comes once the workers exist: that is the gate.
	while IFS= read -r -t 30 line <&"$fd"; do
		if [[ $line == "Pool of "* ]]; then
			pids=${line#*: }
			break
		fi
	done
	[ -n "$pids" ] || { exec {fd}<&-; flunk "the demo never printed its pool"; return 1; }
	kill -INT "$demo"
	cat <&"$fd" >"$BATS_TEST_TMPDIR/rest"
	exec {fd}<&-
	wait "$demo" && status=0 || status=$?
	[ "$status" -eq 130 ] || flunk "expected status 130 after SIGINT, got $status:" "$(cat "$BATS_TEST_TMPDIR/rest")"
	grep -qx "Interrupted: the workers were stopped and reaped." "$BATS_TEST_TMPDIR/rest" ||
		flunk "no 'Interrupted' line:" "$(cat "$BATS_TEST_TMPDIR/rest")"
	# shellcheck disable=SC2086  # one pid per word
	pool_all_gone $pids
}

@test "multiprocessing_demo: cpu_count follows the affinity mask, so taskset -c 0 gives a pool of one" {
	command -v taskset >/dev/null || skip "taskset is not installed"
	new_hang_report
	run --separate-stderr under_timeout 60 "$WB_HANG_REPORT" taskset -c 0 "$(prog multiprocessing_demo)" --tasks 2 --n 1000
	pool_clean
	printf '%s\n' "$output" | grep -qE '^System has 1 CPUs \([0-9]+ online\)$' ||
		flunk "cpu_count under taskset -c 0 should be 1:" "$output"
	pool_expect workers 1 "the default pool size is cpu_count"
}

@test "multiprocessing_demo rejects bad input with one line on stderr and status 2" {
	local bad
	for bad in "--workers 0" "--workers 257" "--tasks 0" "--tasks 65" "--n -1" "--n 200001" \
		"--n abc" "--n 99999999999999999999" "--kill-one --tasks 1" "--bogus" "--n" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 multiprocessing_demo $bad
		assert_usage_error multiprocessing_demo || flunk "for: multiprocessing_demo $bad"
	done
}

@test "multiprocessing_demo: a report it cannot write (stdout full or closed) is an error, --help included" {
	assert_reports_lost_output 60 multiprocessing_demo "--workers 2 --tasks 2 --n 1000"
}

@test "multiprocessing_demo --help prints usage and exits 0" {
	run_prog 10 multiprocessing_demo --help
	pool_clean
	[[ ${lines[0]} == "usage: multiprocessing_demo "* ]] || flunk "no usage line:" "$output"
}

# --------------------------------------------------------- the pool itself

@test "procpool_new takes 1 to PROCPOOL_MAX_WORKERS workers; map after close gives -ESHUTDOWN; join reaps every worker" {
	run_prog 30 pool_probe --case lifecycle
	pool_clean
	pool_expect new0 -EINVAL "procpool_new with 0 workers"
	pool_expect new_too_many -EINVAL "procpool_new with too many workers"
	pool_expect nofn -EINVAL "map without a function"
	pool_expect_line "map=0 results=r0,r1,r2" "map before close"
	pool_expect_line "map=-ESHUTDOWN results=?,?,?" "map after close"
	pool_expect join 0 "join after close"
	pool_expect children 0 "worker processes left after join"
	pool_expect zombies 0 "zombies after join"
}

# ------------------------------------------------------ exercise 02-pool-map

@test "[02-pool-map] map returns results in input order even when a later task is answered first" {
	run_prog 30 pool_probe --case order
	pool_clean
	pool_expect_line "map=0 results=r0,r1,r2,r3" "results must be in input order"
}

@test "[02-pool-map] chunksize 0 follows Python's rule ceil(n / (4 x workers)), and map sends one frame per chunk" {
	run_prog 30 pool_probe --case chunksize
	pool_clean
	pool_expect rule 7,1,1,2,2 "procpool_chunksize for (100, 4), (1, 8), (16, 4), (17, 4), (10, 2)"
	pool_expect default_chunks 5 "chunks sent for 10 tasks on 2 workers (chunksize 2)"
	pool_expect chunks_of_3 3 "chunks sent for 7 tasks with chunksize 3"
	pool_expect_line "map=0 results=r0,r1,r2,r3,r4,r5,r6,r7,r8,r9" "every task's result, in order"
}

@test "[02-pool-map] a worker killed by SIGKILL mid-task: that task's error names pid, signal and task; every other result arrives" {
	local before
	run_prog 30 pool_probe --case death
	pool_clean
	pool_expect_line "map=-ECHILD results=r0,-ECHILD,r2,r3,r4,r5" \
		"task 1 fails with -ECHILD, and its chunk-mates 0 and 2 and every other task still run"
	before=$(value pids_before)
	printf '%s\n' "$output" | grep -qE "^message=worker (${before%,*}|${before#*,}) killed by SIGKILL while running task 1$" ||
		flunk "the error should name the worker's pid, SIGKILL and task 1:" "$output" "$(pool_hint)"
}

@test "[02-pool-map] the dead worker is reaped (no zombie) and replaced: the pool keeps N live workers and keeps working" {
	run_prog 30 pool_probe --case death
	pool_clean
	pool_expect lost 1 "workers lost"
	pool_expect forked 3 "workers forked: two, then one replacement"
	pool_expect zombies 0 "zombies after the death"
	pool_expect pool_alive 2 "live workers in the pool after the death"
	pool_expect children 2 "child processes after the death"
	pool_expect_line "map=0 results=r0,r1,r2,r3,r4,r5" "a second map on the same pool"
}

@test "[02-pool-map] a worker that crashes (abort, SIGABRT) is reported the same way" {
	run_prog 30 pool_probe --case crash
	pool_clean
	pool_expect_line "map=-ECHILD results=r0,-ECHILD,r2,r3,r4,r5" "only task 1 fails"
	printf '%s\n' "$output" | grep -qE '^message=worker [0-9]+ killed by SIGABRT while running task 1$' ||
		flunk "the error should name SIGABRT and task 1:" "$output" "$(pool_hint)"
}

@test "[02-pool-map] a map waiting for busy workers sleeps in poll: no CPU burnt, no polling" {
	run_prog 30 pool_probe --case wait
	pool_clean
	pool_expect_line "map=0 results=r0,r1" "both tasks"
	assert_between "$(value map_ms)" 400 "$(awk -v s="$(slack 300)" 'BEGIN { print 400 + s }')" "map's wait in ms" ||
		flunk "$(pool_hint)"
	assert_waits_asleep map "procpool_map" || flunk "$(pool_hint)"
}

@test "[02-pool-map] the pool has exactly N worker processes, and two tasks run at once (each waits for the other to start)" {
	run_prog 30 pool_probe --case parallel
	pool_clean
	pool_expect children 3 "child processes of a pool of 3"
	pool_expect_line "map=0 results=r0,r1" "two tasks that each wait for the other to start"
	pool_expect distinct_pids 3 "processes that answered 8 one-task chunks on 3 workers"
}

@test "[02-pool-map] imap_unordered hands out results in the order the tasks finish" {
	run_prog 30 pool_probe --case unordered
	pool_clean
	pool_expect unordered 3,2,1,0, "tasks released in the order 3, 2, 1, 0"
	pool_expect end 0 "the end of the iteration"
}

@test "[02-pool-map] async get times out on one deadline while the task is blocked, then returns its result once" {
	run_prog 30 pool_probe --case async
	pool_clean
	pool_expect first -ETIMEDOUT "get(200 ms) on a blocked task"
	assert_between "$(value first_s)" 0.2 "$(awk -v s="$(slack 0.15)" 'BEGIN { print 0.2 + s }')" "get's timeout"
	pool_expect second 0 "get once the task can finish"
	pool_expect value r0 "the task's result"
	pool_expect third -EALREADY "a second get"
}

@test "[02-pool-map] the wakeup descriptor ends a blocked map with -EINTR; terminate then leaves no worker behind" {
	run_prog 30 pool_probe --case interrupt
	pool_clean
	pool_expect map -EINTR "map when the wakeup descriptor is readable"
	pool_expect gone 1 "the workers after terminate"
	pool_expect children 0 "child processes after terminate"
	pool_expect zombies 0 "zombies after terminate"
}
