#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 02, multiprocessing: the process pool, factorial(50000) with GMP,
# cpu_count and exercise 02-pool-map; the Manager dict and exercise
# 02-manager; shared memory, the robust counter and exercise 02-robust; fork's
# pitfalls; one sqlite3 database shared by processes; what sharing costs.
#
# Checks named "[ID] ..." check exercise ID; the runner selects them by that
# prefix and runs them on the solution, on the learner's file and on the
# skeleton.  Orders between processes are forced with pipes the workers
# inherit (see tests/progs/02-multiprocessing/pool_probe.c), never with
# sleeps; every program runs under a timeout.
# pgrep: sharing_costs and manager_demo, by their path, once they exit

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

# ------------------------------------------------------------
# the Manager: a server process that owns a dict, and its proxies

# Where to look when a check of the exercise fails, and what -ENOSYS means.
mgr_hint() {
	exercise_pointer
	if [[ "$output$stderr" == *ENOSYS* || "$output$stderr" == *"not implemented"* ]]; then
		echo "(\"not implemented yet\" comes from the skeleton's stand-in: that TODO is still to do)"
	fi
}

mgr_clean() {
	assert_clean_exit || flunk "$(mgr_hint)"
}

# mgr_expect_line LINE WHAT: the program printed exactly this line.
mgr_expect_line() {
	printf '%s\n' "$output" | grep -qxF -- "$1" && return 0
	flunk "$2: no line '$1' in the output:" "$output" "$(mgr_hint)"
}

# The server the run printed (the probe's server=PID, the demo's "manager:
# server process PID") is gone: reaped, not a zombie.
mgr_no_server_left() {
	local pid
	pid=$(value server)
	[ -n "$pid" ] || pid=$(sed -n 's/^manager: server process \([0-9]*\),.*/\1/p' <<<"$output")
	[ -n "$pid" ] || { flunk "the run printed no server=PID:" "$output"; return 1; }
	! kill -0 "$pid" 2>/dev/null ||
		flunk "the manager's server $pid is still there: $(ps -o pid=,stat=,args= -p "$pid")"
}

# The probe under the usual bound; its proxies give up after --reply-ms.
mgr_probe() {
	run_prog 30 mgr_probe --reply-ms 3000 "$@"
}

# ------------------------------------------------------------ manager_demo

@test "manager_demo: two processes write \"a\" and \"b\" and the parent reads {\"a\": 1, \"b\": 2}" {
	run_prog 30 manager_demo --procs 2 --ops 10
	assert_clean_exit
	mgr_expect_line 'two processes wrote "a" and "b"; the parent reads: {"a": 1, "b": 2}' \
		"the guide's Manager example"
	mgr_no_server_left
}

@test "manager_demo: get-then-set loses increments; incr, the manager's lock and shared memory lose none; each is timed" {
	run_prog 60 manager_demo --procs 4 --ops 1000
	assert_clean_exit
	[ "$(value expected)" = 4000 ] || flunk "expected should be 4000: $output"
	[ "$(value incr)" = 4000 ] || flunk "incr lost updates: $output"
	[ "$(value locked)" = 4000 ] || flunk "get-then-set inside the manager's lock lost updates: $output"
	[ "$(value shm)" = 4000 ] || flunk "the shared-memory counter lost updates: $output"
	local row
	for row in getset incr locked shm; do
		[[ "$(value ${row}_s)" =~ ^[0-9]+\.[0-9]{3}$ ]] || flunk "no time for the $row row: $output"
	done
	# Between a process's get and its set the others are served: with 4000
	# increments racing through one server, some are overwritten.  What
	# holds in every interleaving is the bound; the loss is the lesson.
	assert_between "$(value getset)" 1 3999 "get-then-set count (some updates lost)"
	assert_at_least "$(value ops_per_s)" 1 "round trips per second"
	printf '%s\n' "$output" | grep -qE '^round trips: [0-9]+ per second with 4 processes' ||
		flunk "no round-trip rate line: $output"
	mgr_no_server_left
}

@test "manager_demo: bad input is one line on stderr and exit status 2" {
	for args in "--procs 1" "--procs 65" "--procs abc" "--ops 0" "--ops 1000001" "extra" "--bogus"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 manager_demo $args
		assert_usage_error manager_demo || flunk "for: manager_demo $args"
	done
}

@test "manager_demo --help shows the usage" {
	run_prog 10 manager_demo --help
	assert_clean_exit
	[[ ${lines[0]} == "usage: manager_demo "* ]] || flunk "no usage line: $output"
}

@test "manager_demo reports lost output and leaves no socket directory behind" {
	mgr_no_tmp_left() {
		[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] ||
			flunk "left behind:" "$(ls -AR "$BATS_TEST_TMPDIR/tmp")"
	}
	mkdir "$BATS_TEST_TMPDIR/tmp"
	TMPDIR=$BATS_TEST_TMPDIR/tmp assert_reports_lost_output 30 manager_demo "--procs 2 --ops 10" mgr_no_tmp_left
}

@test "manager_demo stopped by SIGTERM midway leaves no server, no worker and no socket behind" {
	local out=$BATS_TEST_TMPDIR/out pid server
	mkdir "$BATS_TEST_TMPDIR/tmp"
	: >"$out"
	TMPDIR=$BATS_TEST_TMPDIR/tmp timeout -k 5 60 "$(prog manager_demo)" --procs 4 --ops 1000000 >"$out" 2>&1 &
	pid=$!
	# The gate: the demo prints its server's pid before any worker starts.
	timeout 10 grep -q -m1 '^manager: server process' <(tail -f --pid=$pid "$out") ||
		{ kill -9 $pid; flunk "the demo never started its server:" "$(cat "$out")"; return 1; }
	server=$(sed -n 's/^manager: server process \([0-9]*\),.*/\1/p' "$out")
	kill -TERM $pid
	wait $pid || true
	# The server and the workers follow their parent (PR_SET_PDEATHSIG).
	timeout 10 tail --pid="$server" -s 0.05 -f /dev/null ||
		{ flunk "the server $server outlived the demo"; return 1; }
	# shellcheck disable=SC2016  # the inner shell expands $1
	run timeout 10 bash -c 'while pgrep -f -- "$1 --procs 4 --ops 1000000" >/dev/null; do sleep 0.05; done' _ "$(prog manager_demo)"
	[ "$status" -eq 0 ] || flunk "worker processes outlived the demo: $(pgrep -af -- "$(prog manager_demo)")"
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] || flunk "left behind:" "$(ls -AR "$BATS_TEST_TMPDIR/tmp")"
}

# ------------------------------------------------------------ the manager's lock

@test "manager lock: get-then-set inside it loses nothing: 4 processes x 300 give exactly 1200" {
	mgr_probe --case lock --procs 4 --ops 300
	assert_clean_exit
	mgr_expect_line "locked=1200 expected=1200" "updates were lost inside the lock"
	mgr_no_server_left
}

@test "manager lock: waiters are granted one at a time in the order they asked; misuse is an error" {
	mgr_probe --case lockfifo
	assert_clean_exit
	mgr_expect_line "holder: ok" "a free lock is granted at once"
	mgr_expect_line "try-lock while held: ETIMEDOUT" "a lock with timeout 0 that is held"
	mgr_expect_line "lock twice: EDEADLK" "the holder asking again (locks are not reentrant)"
	mgr_expect_line "unlock by another: EPERM" "an unlock by a proxy that does not hold it"
	mgr_expect_line "unlock of no lock: EPERM" "an unlock of a lock nobody holds"
	mgr_expect_line "grants: [OK id=100] [OK id=200] [OK id=101] [OK id=201] [OK id=102] [OK id=202] [OK id=103] [OK id=203]" \
		"four waiters queued in order 100..103: each is granted after the one before unlocks"
	mgr_expect_line "granted early: 0" "a waiter was granted while another held the lock"
	mgr_expect_line "free again: ok" "the lock after the last waiter unlocked"
	mgr_no_server_left
}

@test "manager lock: a holder killed inside it passes it on, past a waiter that hung up, to the next" {
	mgr_probe --case lockdeath
	assert_clean_exit
	mgr_expect_line "holder: Killed" "the holder must die by SIGKILL"
	mgr_expect_line "the waiter behind them: OK id=2" "the dead holder's lock must reach the live waiter"
	mgr_no_server_left
}

@test "manager lock: a request that times out returns ETIMEDOUT on time and leaves the queue" {
	mgr_probe --case locktime
	assert_clean_exit
	printf '%s\n' "$output" | grep -q '^timed out: ETIMEDOUT waited_ms=' ||
		flunk "lock(300 ms) on a held lock must time out:" "$output"
	assert_between "$(value waited_ms)" 290 "$(awk -v s="$(slack 700)" 'BEGIN { print 300 + s }')" "lock timeout (ms)"
	mgr_expect_line "the proxy after it: ok" "a proxy whose lock timed out goes on working"
	mgr_expect_line "holder unlocks: ok" "the holder's unlock"
	mgr_expect_line "free for it now: ok" "the timed-out request must have left the queue (not be granted later)"
	mgr_expect_line "the holder now waits its turn: ETIMEDOUT" "the lock is held again"
	mgr_no_server_left
}

@test "manager lock: a process waiting for it sleeps, and is granted when the holder unlocks" {
	mgr_probe --case lockwait
	assert_clean_exit
	assert_waits_asleep waiter "a process waiting for the manager's lock"
	mgr_expect_line "the waiter's lock: ok" "the waiter's manager_lock()"
	mgr_expect_line "waiter: granted" "the waiter after the unlock"
	mgr_no_server_left
}

@test "manager lock: a silent holder keeps its connection past idle_ms; a silent proxy without a lock does not" {
	mgr_probe --case lockidle
	assert_clean_exit
	mgr_expect_line "a silent proxy without a lock: ECONNRESET" "idle_ms still closes a silent connection"
	mgr_expect_line "the silent holder unlocks: ok" "a holder's connection must outlive idle_ms"
	mgr_no_server_left
}

# ------------------------------------------------------------ the exercise

@test "[02-manager] entries written by several processes are all there, exactly, and errors are answered" {
	mgr_probe --case contents
	mgr_clean
	local want
	want=$(
		cat <<-'EOF'
			keys=13
			binary intact
			empty= (0 bytes)
			p0-k0=value 0.0 (9 bytes)
			p0-k1=value 0.1 (9 bytes)
			p0-k2=value 0.2 (9 bytes)
			p1-k0=value 1.0 (9 bytes)
			p1-k1=value 1.1 (9 bytes)
			p1-k2=value 1.2 (9 bytes)
			p2-k0=value 2.0 (9 bytes)
			p2-k1=value 2.1 (9 bytes)
			p2-k2=value 2.2 (9 bytes)
			p3-k0=value 3.0 (9 bytes)
			p3-k2=value 3.2 (9 bytes)
			get deleted: ENOENT
			delete missing: ENOENT
			incr text: EILSEQ
			empty key: EINVAL
		EOF
	)
	[ "$(grep -v '^server=' <<<"$output")" = "$want" ] ||
		flunk "the dictionary read back is not what 4 processes wrote (3 keys each, one deleted) plus 'binary' and 'empty':" \
			"$(diff <(echo "$want") <(grep -v '^server=' <<<"$output"))" "$(mgr_hint)"
	mgr_no_server_left
}

@test "[02-manager] incr is atomic: 8 processes x 500 increments give exactly 4000, each value seen once" {
	mgr_probe --case incr --procs 8 --ops 500
	mgr_clean
	mgr_expect_line "counter=4000 expected=4000" "increments were lost"
	mgr_expect_line "returned_sum=exact" "two increments returned the same value"
	mgr_no_server_left
}

@test "[02-manager] malformed frames get an error reply, and the server goes on serving" {
	mgr_probe --case malformed
	mgr_clean
	mgr_expect_line "wrong magic: ERR EPROTO id=none, then closed" "a frame that is not the protocol's"
	mgr_expect_line "oversize: ERR EMSGSIZE id=none, then closed" \
		"a header announcing more than max_frame bytes must be refused before its payload is read"
	mgr_expect_line "unknown kind: ERR EBADRQC id=3" "an unknown request kind"
	mgr_expect_line "key without NUL: ERR EINVAL id=4" "a payload without its key's NUL"
	mgr_expect_line "incr of 3 bytes: ERR EINVAL id=5" "an incr whose delta is not 8 bytes"
	mgr_expect_line "keys with a payload: ERR EINVAL id=6" "a keys request with a payload"
	mgr_expect_line "byte by byte: OK id=7" "a request that arrives one byte at a time"
	mgr_expect_line "then a good client: ok, keep=safe" "the dictionary after the bad requests"
	mgr_no_server_left
}

@test "[02-manager] a client killed halfway through a request costs only its own connection" {
	mgr_probe --case death
	mgr_clean
	mgr_expect_line "while it waits: ok" "the server must serve others while one client is inside a frame"
	mgr_expect_line "a new client after the kill: ok" "the server must go on after a client dies"
	mgr_expect_line "the old client after the kill: ok" "the other clients keep their connections"
	mgr_expect_line "victim: ENOENT" "half a request must change nothing"
	mgr_expect_line "keys: ok other" "the dictionary after the death"
	mgr_no_server_left
}

@test "[02-manager] the client past max_clients is refused with EUSERS, and its place frees when one leaves" {
	mgr_probe --case full
	mgr_clean
	mgr_expect_line "third client: EUSERS" "the client over the limit"
	mgr_expect_line "the first two still served: ok ok" "the clients within the limit"
	mgr_expect_line "after one left: ok" "a place freed by a client that left"
	mgr_expect_line "and it is served: ok" "the client in the freed place"
	mgr_no_server_left
}

@test "[02-manager] a client stuck inside a frame and a silent one are closed after their timeouts" {
	mgr_probe --case timeouts
	mgr_clean
	mgr_expect_line "the idle proxy: ECONNRESET" "a proxy silent longer than idle_ms is closed"
	printf '%s\n' "$output" | grep -q '^stuck inside a frame: closed after_ms=' ||
		flunk "a client stuck inside a frame must be closed after head_ms:" "$output" "$(mgr_hint)"
	printf '%s\n' "$output" | grep -q '^silent: closed idle_after_ms=' ||
		flunk "a silent client must be closed after idle_ms:" "$output" "$(mgr_hint)"
	# 300 ms each; never earlier (a deadline cannot pass early), not much later.
	assert_between "$(value after_ms)" 290 "$(awk -v s="$(slack 700)" 'BEGIN { print 300 + s }')" "head timeout (ms)"
	assert_between "$(value idle_after_ms)" 290 "$(awk -v s="$(slack 700)" 'BEGIN { print 300 + s }')" "idle timeout (ms)"
	mgr_no_server_left
}

@test "[02-manager] the server sleeps in poll while its clients are connected and silent" {
	mgr_probe --case idle
	mgr_clean
	mgr_expect_line "still serving: ok" "the server after the quiet spell"
	assert_waits_asleep server "the manager's server" || flunk "$(mgr_hint)"
	mgr_no_server_left
}

@test "[02-manager] out of descriptors, the server turns the waiting client away with EMFILE instead of spinning, and serves again once a client leaves" {
	mgr_probe --case emfile
	mgr_clean
	mgr_expect_line "the client that takes the last descriptor: ok" "the client within the limit"
	# accept() failing with EMFILE leaves the client queued and the listener
	# readable: a loop that only retries spins in poll() all the while.
	assert_waits_asleep server "the manager's server, out of descriptors with a client waiting" || flunk "$(mgr_hint)"
	mgr_expect_line "the client past the limit: ERR EMFILE id=none, then closed" "the client the server has no descriptor for"
	mgr_expect_line "the clients within it still served: ok ok" "the clients already connected"
	mgr_expect_line "after one left: ok" "a descriptor freed by a client that left"
	mgr_expect_line "and it is served: ok" "the client in the freed place"
	mgr_no_server_left
}

@test "[02-manager] shutdown stops and reaps the server and removes its socket" {
	mkdir "$BATS_TEST_TMPDIR/tmp"
	TMPDIR=$BATS_TEST_TMPDIR/tmp mgr_probe --case shutdown
	mgr_clean
	mgr_expect_line "served: ok" "the server before the shutdown"
	mgr_expect_line "shutdown: ok, status 0" "the server must stop cleanly on SIGTERM (exit status 0)"
	mgr_expect_line "server process: gone" "the server after the shutdown"
	mgr_expect_line "socket file: gone" "the socket after the shutdown"
	mgr_expect_line "a proxy after it: ECONNRESET" "a proxy whose server has gone"
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] || flunk "left behind:" "$(ls -AR "$BATS_TEST_TMPDIR/tmp")"
	mgr_no_server_left
}

# ------------------------------------------------------------
# shared memory: the robust counter, fork pitfalls, one database shared by processes

# Where to look when a check of an exercise fails, and a word about
# -ENOSYS, which only the skeleton's stand-ins return.
shm_hint() {
	exercise_pointer
	if [[ "$output$stderr" == *ENOSYS* ]]; then
		echo "(-ENOSYS comes from the skeleton's stand-in: that TODO is still to do)"
	fi
}

# shm_expect KEY WANT WHAT: the program printed KEY=WANT.
shm_expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] && return 0
	flunk "$3: got $1=${got:-(nothing)}, want $1=$2" "output: $output" "$(shm_hint)"
}

# shm_probe CASE [ARGS...]: run the driver; it must end cleanly.
shm_probe() {
	run_prog 60 shm_probe --case "$@"
	assert_clean_exit || flunk "$(shm_hint)"
}

# No process of a run is left: none of the pids it printed still exists.
shm_none_left() {
	local pid
	for pid in "$@"; do
		! kill -0 "$pid" 2>/dev/null || { flunk "process $pid is still there"; return 1; }
	done
}

# ------------------------------------------------------------ 02-robust

@test "[02-robust] 4 processes adding 20000 times each to the robust counter count 80000 exactly" {
	shm_probe exact --procs 4 --ops 20000
	shm_expect add_rc 0 "every add must succeed"
	shm_expect finished 4 "every process must finish its adds (a process stuck on the lock never does)"
	shm_expect counted 80000 "the total after 4 x 20000 adds"
}

@test "[02-robust] 16 processes adding at once still count every add" {
	shm_probe exact --procs 16 --ops 2000
	shm_expect add_rc 0 "every add must succeed"
	shm_expect finished 16 "every process must finish its adds"
	shm_expect counted 32000 "the total after 16 x 2000 adds"
}

@test "[02-robust] a holder SIGKILLed midway through an add is recovered by the process waiting for the lock, within a second" {
	shm_probe kill
	shm_expect held yes "a process must be able to take the lock and stop midway through an add"
	shm_expect holder Killed "the holder is killed by SIGKILL while it holds the lock"
	shm_expect recovered yes "the process waiting for the lock must get it once its holder is dead (a mutex that is not robust stays locked for ever)"
	shm_expect waiter_rc 0 "get() after recovering the lock"
	assert_between "$(value after_ms)" 0 "$(slack 1000)" "milliseconds from the kill to the waiter's return"
}

@test "[02-robust] the add a dead holder did not commit is rolled back: the waiter reads 5, not 1005, and the total stays exact" {
	shm_probe kill
	shm_expect recovered yes "the waiter must recover the lock"
	shm_expect seen 5 "after 5 was added, a holder killed midway through adding 1000 has not added"
	shm_expect counted "$(value expected)" "the total after the recovery and the later adds"
}

@test "[02-robust] after a recovery the lock stays usable: the waiter and two later processes add as usual" {
	shm_probe kill
	shm_expect recovered yes "the waiter must recover the lock"
	shm_expect add_rc 0 "the waiter's add after the recovery (a recovered mutex not marked consistent is unusable once unlocked)"
	shm_expect later_rc 0 "later processes' adds"
	shm_expect counted 206 "5, then the waiter's 1, then 100 from each of two later processes"
}

@test "[02-robust] a process waiting for a lock another process holds sleeps, and wakes when it is released" {
	shm_probe hold
	shm_expect held yes "a process must be able to take the lock and stop midway through an add"
	shm_expect waiter_asleep yes "the waiter must block in the kernel while the lock is held"
	shm_expect woken yes "the waiter must wake when the holder unlocks (a mutex that is not process-shared may wake nobody in another process)"
	shm_expect seen 1005 "the waiter reads the holder's committed add"
	assert_waits_asleep waiter "a process blocked on the lock for 300 ms" || flunk "$(shm_hint)"
	shm_expect counted 1006 "5 + 1000 + the waiter's 1"
}

@test "[02-robust] a lock left unrecoverable makes add and get return -ENOTRECOVERABLE, not hang" {
	shm_probe unrecoverable
	shm_expect poisoned yes "a process recovers the lock of a dead holder and unlocks it without marking it consistent"
	shm_expect add_rc -ENOTRECOVERABLE "add on a lock that can never be used again"
	shm_expect get_rc -ENOTRECOVERABLE "get on a lock that can never be used again"
}

@test "[02-robust] shm_counter_new makes the mutex process-shared and robust" {
	# glibc makes every robust mutex process-shared inside, so no behaviour
	# shows a missing PTHREAD_PROCESS_SHARED there; POSIX promises nothing
	# without it.  The driver reads the attributes pthread_mutex_init() is
	# given (see shm_probe.c).
	shm_probe attrs
	shm_expect initialised yes "shm_counter_new must initialise the mutex with pthread_mutex_init"
	shm_expect pshared yes "pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) before pthread_mutex_init"
	shm_expect robust yes "pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) before pthread_mutex_init"
}

@test "the atomic counter in shared memory counts every add of 4 processes exactly" {
	shm_probe atomic --procs 4 --ops 100000
	shm_expect finished 4 "every process must finish"
	shm_expect counted 400000 "the total after 4 x 100000 atomic adds"
}

# ------------------------------------------------------------ shared_counter

# shm_row MODE: the line of that mode in shared_counter's output.
shm_row() {
	printf '%s\n' "$output" | grep "^$1 "
}

# shm_row_value MODE KEY: KEY=... from MODE's line.
shm_row_value() {
	shm_row "$1" | sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p"
}

@test "shared_counter: by default 4 processes x 1000000 adds, unlocked, robust, atomic and kill in turn" {
	skip_under_tsan # the unlocked row is the deliberate race
	run_prog 120 shared_counter
	assert_clean_exit
	[ "${lines[0]}" = "4 processes x 1000000 increments of one counter in shared memory" ] ||
		flunk "${lines[0]}"
	[[ ${lines[1]} == unlocked* && ${lines[2]} == robust* && ${lines[3]} == atomic* && ${lines[4]} == kill* ]] ||
		flunk "rows out of order: $output"
	[[ ${lines[1]} == *"(racy on purpose)" ]] || flunk "the racy row must say so: ${lines[1]}"
}

@test "shared_counter: unlocked, the count never exceeds what was added" {
	# Lost updates are likely, not certain: only what holds in every
	# interleaving is asserted.
	skip_under_tsan
	run_prog 60 shared_counter --mode unlocked --procs 4 --ops 1000000
	assert_clean_exit
	local counted
	counted=$(shm_row_value unlocked counted)
	[ "$(shm_row_value unlocked expected)" = 4000000 ] || flunk "$output"
	[ "$counted" -ge 1 ] && [ "$counted" -le 4000000 ] || flunk "counted $counted: $output"
}

@test "shared_counter: the robust mutex and the atomic count every add of 8 processes exactly" {
	local mode
	for mode in robust atomic; do
		run_prog 120 shared_counter --mode "$mode" --procs 8 --ops 50000
		assert_clean_exit || return 1
		[ "$(shm_row_value "$mode" counted)" = 400000 ] && [ "$(shm_row_value "$mode" lost)" = 0 ] ||
			flunk "$mode lost updates: $output"
	done
}

@test "shared_counter --mode kill: the holder dies by SIGKILL holding the lock, the others recover it and count exactly, and it is reaped" {
	run_prog 60 shared_counter --mode kill --procs 3 --ops 20000
	assert_clean_exit
	local row holder
	row=$(shm_row kill)
	[[ $row == *"killed by SIGKILL mid-add of 1000, rolled back"* ]] || flunk "$output"
	[ "$(shm_row_value kill counted)" = 60000 ] || flunk "the holder's half-done add must be rolled back: $output"
	holder=$(shm_row_value kill holder)
	[ -n "$holder" ] && shm_none_left "$holder"
}

@test "shared_counter: Ctrl-C ends it with its processes killed and reaped" {
	local pid kids=() i status
	"$(prog shared_counter)" --mode robust --procs 3 --ops 10000000 >"$BATS_TEST_TMPDIR/out" 2>&1 &
	pid=$!
	# The gate: all three adders exist.
	for ((i = 0; i < 1000 && ${#kids[@]} < 3; i++)); do
		mapfile -t kids < <(pgrep -P "$pid")
		[ ${#kids[@]} -ge 3 ] || sleep 0.01
	done
	[ ${#kids[@]} -eq 3 ] || { kill -9 "$pid"; flunk "3 adders never appeared: ${kids[*]}"; return 1; }
	kill -INT "$pid"
	status=0
	timeout 10 tail --pid="$pid" -f /dev/null || { kill -9 "$pid"; flunk "it did not end on SIGINT"; }
	wait "$pid" || status=$?
	[ "$status" -eq 130 ] || flunk "status $status, want 130 (ended by SIGINT)" "$(cat "$BATS_TEST_TMPDIR/out")"
	shm_none_left "${kids[@]}"
}

@test "shared_counter: bad input is one line on stderr and exit status 2" {
	local bad
	for bad in "--procs 0" "--procs 65" "--procs abc" "--ops 0" "--ops 10000001" \
		"--ops 99999999999999999999" "--mode fast" "--bogus" "extra" "--mode"; do
		eval "run_prog 10 shared_counter $bad"
		assert_usage_error shared_counter || flunk "for: shared_counter $bad"
	done
}

@test "shared_counter: a report it cannot write (stdout full or closed) is an error, --help included" {
	assert_reports_lost_output 20 shared_counter "--mode atomic --ops 1000"
}

@test "shared_counter: --help lists every option and exits 0" {
	run_prog 10 shared_counter --help
	assert_clean_exit
	local opt
	for opt in --mode --procs --ops --help; do
		[[ $output == *"$opt"* ]] || flunk "--help does not mention $opt"
	done
}

# ------------------------------------------------------------ fork_pitfalls

# shm_pids_of: every child=PID the run printed, one a line.
shm_pids_of() {
	printf '%s\n' "$output" | sed -n 's/.*\bchild=\([0-9]*\).*/\1/p'
}

# Every child the run printed has gone, and it printed at least one.
shm_children_gone() {
	local pids
	mapfile -t pids < <(shm_pids_of)
	[ ${#pids[@]} -gt 0 ] || { flunk "the run printed no child=PID: $output"; return 1; }
	shm_none_left "${pids[@]}"
}

@test "fork_pitfalls: a child forked while another thread holds a lock deadlocks on it, and is killed and reaped at the deadline" {
	run_prog 30 fork_pitfalls --mode deadlock --timeout-ms 300
	assert_clean_exit
	local row
	row=$(shm_row deadlock)
	[[ $row == *"outcome=deadlocked"* ]] || flunk "the child must still be waiting for the lock: $output"
	[[ $output == *"killed by SIGKILL and reaped"* ]] || flunk "the row must say what became of the child: $output"
	assert_between "$(shm_row_value deadlock waited)" 0.3 "$(slack 2.3)" "seconds the parent waited for the child"
	shm_children_gone
}

@test "fork_pitfalls: forking before the thread starts, pthread_atfork handlers and posix_spawn each give the child a lock it can take" {
	local mode
	for mode in fork-first atfork spawn; do
		run_prog 30 fork_pitfalls --mode "$mode" --timeout-ms 5000
		assert_clean_exit || return 1
		[[ $(shm_row "$mode") == *"outcome=took-lock"* ]] || { flunk "$mode: the child must take the lock: $output"; return 1; }
		shm_children_gone || return 1
	done
}

@test "fork_pitfalls: pthread_atfork's prepare handler makes fork() wait until the thread has released the lock" {
	run_prog 30 fork_pitfalls --mode atfork --timeout-ms 5000
	assert_clean_exit
	# The thread holds the lock for 100 ms from before main calls fork();
	# fork() returns only after the prepare handler got the lock.
	[ "$(shm_row_value atfork after_unlock)" = yes ] || flunk "fork() returned while the thread still held the lock: $output"
	assert_between "$(shm_row_value atfork fork_waited)" 0 "$(slack 2)" "seconds fork() waited for the lock"
}

@test "fork_pitfalls: by default its four rows end within their bound and leave no process behind" {
	local t0 t1
	t0=$(date +%s%N)
	run_prog 30 fork_pitfalls
	t1=$(date +%s%N)
	assert_clean_exit
	[ "${lines[0]}" = "A thread holds a lock while the process makes a child that takes it (limit 500 ms)" ] ||
		flunk "${lines[0]}"
	[ "$(printf '%s\n' "$output" | grep -cE '^(deadlock|fork-first|atfork|spawn) ')" -eq 4 ] || flunk "four rows expected: $output"
	[[ $(shm_row deadlock) == *"outcome=deadlocked"* && $(shm_row spawn) == *"outcome=took-lock"* ]] || flunk "$output"
	# 500 ms of deadlock, 100 ms of atfork, the rest is fork and exec.
	assert_between "$(((t1 - t0) / 1000000))" 500 "$(slack 3000)" "milliseconds the whole run took"
	[ "$(shm_pids_of | wc -l)" -eq 4 ] || flunk "four children expected: $output"
	shm_children_gone
}

@test "fork_pitfalls: Ctrl-C while the child is deadlocked ends it with the child killed and reaped" {
	local pid kids=() i status
	"$(prog fork_pitfalls)" --mode deadlock --timeout-ms 60000 >"$BATS_TEST_TMPDIR/out" 2>&1 &
	pid=$!
	# The gate: the deadlocked child exists.
	for ((i = 0; i < 1000 && ${#kids[@]} < 1; i++)); do
		mapfile -t kids < <(pgrep -P "$pid")
		[ ${#kids[@]} -ge 1 ] || sleep 0.01
	done
	[ ${#kids[@]} -eq 1 ] || { kill -9 "$pid"; flunk "the child never appeared"; return 1; }
	kill -INT "$pid"
	status=0
	timeout 10 tail --pid="$pid" -f /dev/null || { kill -9 "$pid"; flunk "it did not end on SIGINT"; }
	wait "$pid" || status=$?
	[ "$status" -eq 130 ] || flunk "status $status, want 130 (ended by SIGINT)" "$(cat "$BATS_TEST_TMPDIR/out")"
	shm_none_left "${kids[@]}"
}

@test "fork_pitfalls: bad input is one line on stderr and exit status 2" {
	local bad
	for bad in "--timeout-ms 0" "--timeout-ms 60001" "--timeout-ms abc" "--timeout-ms" \
		"--mode hang" "--bogus" "extra"; do
		eval "run_prog 10 fork_pitfalls $bad"
		assert_usage_error fork_pitfalls || flunk "for: fork_pitfalls $bad"
	done
}

@test "fork_pitfalls: a report it cannot write (stdout full or closed) is an error, --help included" {
	assert_reports_lost_output 20 fork_pitfalls "--mode fork-first"
}

@test "fork_pitfalls: --help lists every option and exits 0" {
	run_prog 10 fork_pitfalls --help
	assert_clean_exit
	local opt
	for opt in --mode --timeout-ms --take-lock --help; do
		[[ $output == *"$opt"* ]] || flunk "--help does not mention $opt"
	done
}

# ------------------------------------------------------------ shared_db

# shm_sql DB SQL: one answer from the sqlite3 shell, the witness that does
# not trust the program's own count.
shm_sql() {
	timeout 20 sqlite3 "$1" "$2"
}

@test "shared_db: by default 4 processes x 1000 inserts, with a busy timeout then without a handler" {
	run_prog 120 shared_db
	assert_clean_exit
	[[ ${lines[0]} == "SQLite "*", WAL mode: 4 processes x 1000 inserts into "*"/inserts.db" ]] || flunk "${lines[0]}"
	[[ ${lines[1]} == busy-timeout* ]] && [ "$(shm_row_value no-handler expected)" = 4000 ] || flunk "$output"
	[ "$(shm_row_value busy-timeout counted)" = 4000 ] || flunk "$output"
}

@test "shared_db: with a busy timeout 4 processes x 500 inserts leave exactly 2000 rows, 500 from each, none lost" {
	command -v sqlite3 >/dev/null || { flunk "the sqlite3 command-line shell is missing: make deps installs it"; return 1; }
	local db=$BATS_TEST_TMPDIR/shared.db
	run_prog 120 shared_db --mode busy-timeout --procs 4 --rows 500 --db "$db"
	assert_clean_exit
	[ "$(shm_row_value busy-timeout counted)" = 2000 ] && [ "$(shm_row_value busy-timeout busy)" = 0 ] &&
		[ "$(shm_row_value busy-timeout lost)" = 0 ] || flunk "$output"
	[ "$(shm_sql "$db" "SELECT COUNT(*) FROM inserts")" = 2000 ] || flunk "the file does not hold 2000 rows"
	[ "$(shm_sql "$db" "SELECT group_concat(n) FROM (SELECT COUNT(DISTINCT seq) AS n FROM inserts GROUP BY proc ORDER BY proc)")" = 500,500,500,500 ] ||
		flunk "each process must have inserted its 500 rows: $(shm_sql "$db" "SELECT proc, COUNT(*) FROM inserts GROUP BY proc")"
	[ "$(shm_sql "$db" "PRAGMA journal_mode")" = wal ] || flunk "the database is not in WAL mode"
}

@test "shared_db: without a busy handler every SQLITE_BUSY is counted, and the rows are exactly N x M minus them" {
	command -v sqlite3 >/dev/null || { flunk "the sqlite3 command-line shell is missing: make deps installs it"; return 1; }
	local db=$BATS_TEST_TMPDIR/shared.db busy inserted
	run_prog 120 shared_db --mode no-handler --procs 4 --rows 500 --db "$db"
	assert_clean_exit
	busy=$(shm_row_value no-handler busy)
	inserted=$(shm_row_value no-handler inserted)
	[ -n "$busy" ] && [ $((inserted + busy)) -eq 2000 ] || flunk "inserted + busy must be 2000: $output"
	[ "$(shm_row_value no-handler counted)" = "$inserted" ] && [ "$(shm_row_value no-handler lost)" = 0 ] ||
		flunk "$output"
	[ "$(shm_sql "$db" "SELECT COUNT(*) FROM inserts")" = $((2000 - busy)) ] ||
		flunk "the file must hold 2000 - $busy rows, it holds $(shm_sql "$db" "SELECT COUNT(*) FROM inserts")"
	# Each failure is shown: the first one's message, when there were any.
	if [ "$busy" -gt 0 ]; then
		[[ $output == *"SQLITE_BUSY $busy times, first: \"database is locked\""* ]] || flunk "$output"
	else
		[[ $output != *SQLITE_BUSY* ]] || flunk "$output"
	fi
}

@test "shared_db: one process alone never meets SQLITE_BUSY, handler or not" {
	run_prog 60 shared_db --procs 1 --rows 300
	assert_clean_exit
	[ "$(shm_row_value busy-timeout counted)" = 300 ] && [ "$(shm_row_value no-handler counted)" = 300 ] &&
		[ "$(shm_row_value no-handler busy)" = 0 ] || flunk "$output"
}

@test "shared_db deletes its temporary database at exit" {
	export TMPDIR=$BATS_TEST_TMPDIR
	run_prog 60 shared_db --procs 2 --rows 50
	assert_clean_exit
	[[ ${lines[0]} == *" into $TMPDIR/shared_db."*"/inserts.db" ]] || flunk "${lines[0]}"
	! compgen -G "$TMPDIR/shared_db.*" >/dev/null || flunk "left behind: $(ls -d "$TMPDIR"/shared_db.*)"
}

@test "shared_db: Ctrl-C ends it with its writers killed and reaped and its temporary database gone" {
	export TMPDIR=$BATS_TEST_TMPDIR
	local pid kids=() i status
	"$(prog shared_db)" --mode busy-timeout --procs 3 --rows 100000 >"$BATS_TEST_TMPDIR/out" 2>&1 &
	pid=$!
	# The gate: all three writers exist.
	for ((i = 0; i < 1000 && ${#kids[@]} < 3; i++)); do
		mapfile -t kids < <(pgrep -P "$pid")
		[ ${#kids[@]} -ge 3 ] || sleep 0.01
	done
	[ ${#kids[@]} -eq 3 ] || { kill -9 "$pid"; flunk "3 writers never appeared: ${kids[*]}"; return 1; }
	kill -INT "$pid"
	status=0
	timeout 10 tail --pid="$pid" -f /dev/null || { kill -9 "$pid"; flunk "it did not end on SIGINT"; }
	wait "$pid" || status=$?
	[ "$status" -eq 130 ] || flunk "status $status, want 130 (ended by SIGINT)" "$(cat "$BATS_TEST_TMPDIR/out")"
	shm_none_left "${kids[@]}" || return 1
	! compgen -G "$TMPDIR/shared_db.*" >/dev/null || flunk "left behind: $(ls -d "$TMPDIR"/shared_db.*)"
}

@test "shared_db --db refuses a name that exists, or whose -journal, -wal or -shm does (a dangling symbolic link included), and changes nothing" {
	local db=$BATS_TEST_TMPDIR/taken.db side
	echo precious >"$db"
	run_prog 10 shared_db --rows 10 --db "$db"
	assert_usage_error shared_db
	[ "$(cat "$db")" = precious ] || flunk "the existing file was changed"
	rm "$db"
	for side in -journal -wal -shm; do
		: >"$db$side"
		run_prog 10 shared_db --rows 10 --db "$db"
		assert_usage_error shared_db || flunk "with $db$side there"
		[ ! -e "$db" ] || flunk "$db was created although $db$side exists"
		rm "$db$side"
		# A dangling symbolic link by that name is in the way too: SQLite
		# would create its side file at the link's target.
		ln -s "$BATS_TEST_TMPDIR/elsewhere$side" "$db$side"
		run_prog 10 shared_db --rows 10 --db "$db"
		assert_usage_error shared_db || flunk "with $db$side a dangling symbolic link"
		[ ! -e "$db" ] && [ ! -e "$BATS_TEST_TMPDIR/elsewhere$side" ] ||
			flunk "with $db$side a dangling symbolic link, something was created"
		rm "$db$side"
	done
	for side in "$BATS_TEST_TMPDIR/" "$BATS_TEST_TMPDIR/no/such/dir/x.db" "$BATS_TEST_TMPDIR/dangling"; do
		ln -sf "$BATS_TEST_TMPDIR/nowhere" "$BATS_TEST_TMPDIR/dangling"
		run_prog 10 shared_db --rows 10 --db "$side"
		assert_usage_error shared_db || flunk "for --db $side"
	done
}

@test "shared_db: bad input is one line on stderr and exit status 2" {
	local bad
	for bad in "--procs 0" "--procs 65" "--procs x" "--rows 0" "--rows 100001" \
		"--rows 99999999999999999999" "--mode fast" "--db ''" "--db" "--bogus" "extra"; do
		eval "run_prog 10 shared_db $bad"
		assert_usage_error shared_db || flunk "for: shared_db $bad"
	done
}

@test "shared_db: a report it cannot write (stdout full or closed) is an error, --help included" {
	export TMPDIR=$BATS_TEST_TMPDIR
	assert_reports_lost_output 30 shared_db "--procs 2 --rows 20" shm_no_temp_db
}

# No temporary database is left in $TMPDIR.
shm_no_temp_db() {
	! compgen -G "$TMPDIR/shared_db.*" >/dev/null || flunk "left behind: $(ls -d "$TMPDIR"/shared_db.*)"
}

@test "shared_db: --help lists every option and exits 0" {
	run_prog 10 shared_db --help
	assert_clean_exit
	local opt
	for opt in --mode --procs --rows --db --help; do
		[[ $output == *"$opt"* ]] || flunk "--help does not mention $opt"
	done
}

# ------------------------------------------------------------
# what sharing costs

# The bytes mpz_export gives for 50000!: its 1,176,354 bits, rounded up to
# whole bytes (Python: (math.factorial(50000).bit_length() + 7) // 8).
COST_FACT50000_BYTES=88545

# The keys of the line tests/bench reads, one per row.
COST_FIGURES="fork_us spawn_us pipe_mb_s shm_mb_s manager_ops_s atomic_ops_s"

# cost_ratio RATIO TOP BOTTOM: the printed RATIO is TOP / BOTTOM, as far as
# the printed figures' rounding allows (2 % and one unit of the last digit).
cost_ratio() {
	local r t b
	r=$(value "$1") t=$(value "$2") b=$(value "$3")
	awk -v r="$r" -v t="$t" -v b="$b" 'BEGIN {
		q = t / b; d = r - q; if (d < 0) d = -d
		exit !(b > 0 && d <= 0.02 * q + 0.01) }' && return 0
	flunk "$1=$r should be $2 / $3 = $t / $b:" "$output"
}

# The peer and the manager's server the run printed are gone, not even
# zombies; so is every forked child (each runs this program's image).
cost_nothing_left() {
	local pid
	for pid in "$(value peer)" "$(value manager)"; do
		[ -n "$pid" ] || { flunk "the run printed no peer= or manager= pid:" "$output"; return 1; }
		! kill -0 "$pid" 2>/dev/null ||
			{ flunk "process $pid outlived the program:" "$(ps -o pid,ppid,stat,cmd -p "$pid")"; return 1; }
	done
	! pgrep -f -- "$(prog sharing_costs)" >/dev/null ||
		flunk "processes of sharing_costs outlived it:" "$(pgrep -af -- "$(prog sharing_costs)")"
}

# The scratch directory given as TMPDIR holds nothing: the manager's socket
# directory was removed.
cost_no_tmp_left() {
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] ||
		flunk "left behind in TMPDIR:" "$(ls -AR "$BATS_TEST_TMPDIR/tmp")"
}

@test "sharing_costs measures every row: each figure is there and positive, in the table and on the key line" {
	local key row
	run_prog 60 sharing_costs --runs 1
	assert_clean_exit
	for key in $COST_FIGURES; do
		awk -v v="$(value "$key")" 'BEGIN { exit !(v + 0 > 0) }' ||
			flunk "$key should be a positive figure, got '$(value "$key")':" "$output"
	done
	for row in "fork + _exit + waitpid" "posix_spawn /bin/true + waitpid" \
		"as frames through a socketpair" "by memcpy into MAP_SHARED memory" \
		"manager_incr: a round trip to a server" "atomic_fetch_add in MAP_SHARED memory"; do
		printf '%s\n' "$output" | grep -qE "^    ${row//+/\\+} +[0-9.]+ (us|MB/s|/s)" ||
			flunk "no table row '$row' with its figure:" "$output"
	done
	[[ $output == *"median of 1 run:"* ]] || flunk "the table should say it is the median of 1 run:" "$output"
}

@test "sharing_costs: each ratio is its pair's quotient: spawn over fork, shared memory over the socket, atomic over the manager" {
	run_prog 60 sharing_costs --runs 1
	assert_clean_exit
	cost_ratio spawn_vs_fork spawn_us fork_us
	cost_ratio shm_vs_pipe shm_mb_s pipe_mb_s
	cost_ratio atomic_vs_manager atomic_ops_s manager_ops_s
}

@test "sharing_costs moves factorial(50000)'s bytes, and counts every increment in the server and in shared memory, --runs times" {
	run_prog 60 sharing_costs --runs 3
	assert_clean_exit
	[ "$(value runs)" = 3 ] || flunk "runs should be 3:" "$output"
	[[ $output == *"median of 3 runs:"* ]] || flunk "the table should say it is the median of 3 runs:" "$output"
	[ "$(value bytes)" = "$COST_FACT50000_BYTES" ] ||
		flunk "bytes should be mpz_export's $COST_FACT50000_BYTES for 50000!:" "$output"
	# The server's last incr answers the counter's value; the other process
	# reads the shared counter through its own mapping.  Neither may miss one.
	[ "$(value manager_total)" = $((3 * $(value manager_ops))) ] ||
		flunk "the manager should count 3 x manager_ops increments:" "$output"
	[ "$(value atomic_total)" = $((3 * $(value atomic_ops))) ] ||
		flunk "the other process should see 3 x atomic_ops increments:" "$output"
}

@test "sharing_costs leaves no process behind: the peer and the manager's server are reaped, every forked child too, and the socket directory is gone" {
	mkdir "$BATS_TEST_TMPDIR/tmp"
	TMPDIR=$BATS_TEST_TMPDIR/tmp run_prog 60 sharing_costs --runs 2
	assert_clean_exit
	cost_nothing_left
	cost_no_tmp_left
}

@test "sharing_costs stopped by SIGINT or SIGTERM midway ends as that signal does, and leaves no process and no socket behind" {
	local sig fifo line pids output status fd pid p
	mkdir "$BATS_TEST_TMPDIR/tmp"
	for sig in INT TERM; do
		fifo=$BATS_TEST_TMPDIR/out-$sig
		mkfifo "$fifo"
		# 100 runs take seconds: the signal lands while it measures.
		TMPDIR=$BATS_TEST_TMPDIR/tmp timeout -k 5 120 "$(prog sharing_costs)" --runs 100 >"$fifo" 2>&1 &
		pid=$!
		exec {fd}<"$fifo"
		# The gate: the first line comes once the peer and the server exist.
		pids=''
		while IFS= read -r -t 30 line <&"$fd"; do
			if [[ $line =~ ^peer\ process\ ([0-9]+),\ manager\ server\ ([0-9]+)\; ]]; then
				pids="peer=${BASH_REMATCH[1]} manager=${BASH_REMATCH[2]}"
				break
			fi
		done
		[ -n "$pids" ] || { exec {fd}<&-; kill -9 "$pid"; flunk "sharing_costs never printed its pids"; return 1; }
		kill -"$sig" "$pid"
		cat <&"$fd" >/dev/null
		exec {fd}<&-
		wait "$pid" && status=0 || status=$?
		[ "$status" -eq $((128 + $(kill -l "$sig"))) ] ||
			{ flunk "SIG$sig should end it with status $((128 + $(kill -l "$sig"))), got $status"; return 1; }
		# The peer and the server follow their parent (PR_SET_PDEATHSIG).
		output=$pids
		for p in $(value peer) $(value manager); do
			timeout 10 tail --pid="$p" -s 0.05 -f /dev/null ||
				{ flunk "process $p outlived sharing_costs after SIG$sig"; return 1; }
		done
		cost_nothing_left || return 1
		cost_no_tmp_left || return 1
	done
}

@test "sharing_costs rejects bad input with one line on stderr and status 2" {
	local bad
	for bad in "--runs 0" "--runs 101" "--runs -1" "--runs abc" "--runs 99999999999999999999" \
		"--runs" "--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 sharing_costs $bad
		assert_usage_error sharing_costs || flunk "for: sharing_costs $bad"
	done
}

@test "sharing_costs --help prints usage and exits 0" {
	run_prog 10 sharing_costs --help
	assert_clean_exit
	[[ ${lines[0]} == "usage: sharing_costs "* ]] || flunk "no usage line:" "$output"
	[[ $output == *"--runs N"* ]] || flunk "--help should describe --runs:" "$output"
}

@test "sharing_costs: a table it cannot write (stdout full or closed) is an error, --help included, and nothing is left behind" {
	mkdir "$BATS_TEST_TMPDIR/tmp"
	cost_after_lost_output() {
		! pgrep -f -- "$(prog sharing_costs)" >/dev/null ||
			flunk "processes of sharing_costs outlived it:" "$(pgrep -af -- "$(prog sharing_costs)")"
		cost_no_tmp_left
	}
	TMPDIR=$BATS_TEST_TMPDIR/tmp assert_reports_lost_output 60 sharing_costs "--runs 1" cost_after_lost_output
}

@test "cost_fact (make bench's GMP timings): its four loops agree with mpz_fac_ui, and each time is measured" {
	local n
	# An odd and an even n: the two-factors-a-step loop has a lone last factor on one.
	for n in 5001 5000; do
		run_prog 60 cost_fact --n $n --runs 3
		assert_clean_exit
		[ "$(value n)" = $n ] && [ "$(value runs)" = 3 ] || flunk "cost_fact should echo n=$n runs=3:" "$output"
		assert_at_least "$(value loop_s)" 0 "the loop's time"
		assert_at_least "$(value fac_s)" 0 "mpz_fac_ui's time"
		assert_at_least "$(value floor_s)" 0 "the bare mpn_mul_1 loop's time"
		assert_at_least "$(value pairs_s)" 0 "the two-factors-a-step loop's time"
	done
	# --threads: the same loop on bare threads, the hardware's bound for a pool.
	run_prog 60 cost_fact --threads 3 --n 5000 --runs 3
	assert_clean_exit
	[ "$(value threads)" = 3 ] || flunk "cost_fact should echo threads=3:" "$output"
	assert_at_least "$(value together_s)" 0 "three loops at once"
	assert_at_least "$(value speedup)" 0.1 "their speed-up over one"
	run_prog 10 cost_fact --runs 0
	assert_usage_error cost_fact
	run_prog 10 cost_fact --threads 0
	assert_usage_error cost_fact
}

# ------------------------------------------------------------ kids.h

kids_probe() {
	run_prog 30 kids_probe --case "$@"
}

@test "kids: a program that dies with children alive kills and reaps them on its way out" {
	kids_probe exit
	assert_status 1
	local pid kids
	IFS=, read -ra kids <<<"$(value kids)"
	[ ${#kids[@]} -eq 3 ] || { flunk "the probe printed no kids=A,B,C:" "$output"; return 1; }
	for pid in "${kids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			local seen
			seen=$(ps -o pid=,stat=,args= -p "$pid")
			kill -KILL "${kids[@]}" 2>/dev/null
			flunk "child $pid outlived the program that forked it: $seen"
		fi
	done
}

@test "kids: a child that leaves with exit() leaves its brothers alone" {
	kids_probe sibling
	assert_clean_exit
	[ "$(value leaver)" = exit0 ] || flunk "the child calling exit(0) should end with status 0:" "$output"
	[ "$(value brother_alive)" = yes ] || flunk "the exit handlers a child inherits must not kill its parent's other children:" "$output"
}

@test "kids: past KIDS_MAX children kids_fork() says EMFILE and forks nothing; each child reaped makes room again" {
	kids_probe full
	assert_clean_exit
	[ "$(value over_the_limit)" = EMFILE ] || flunk "the child over the limit:" "$output"
	[ "$(value killed)" = "$(value kids_max)" ] || flunk "kids_kill should end every child by SIGKILL:" "$output"
	[ "$(value after)" = forked ] || flunk "after the children were reaped:" "$output"
}

@test "kids: kids_reap_by() gives up at the deadline, not before, asleep meanwhile; kids_kill() then ends the child" {
	kids_probe deadline
	assert_clean_exit
	[ "$(value reap_by)" = ETIMEDOUT ] || flunk "a child that never ends, past the deadline:" "$output"
	assert_between "$(value waiter_ms)" "$(value deadline_ms)" "$(awk -v s="$(slack 500)" -v d="$(value deadline_ms)" 'BEGIN { print d + s }')" "the wait (ms)"
	assert_waits_asleep waiter "kids_reap_by()"
	[ "$(value kill)" = ok ] && [ "$(value status)" = SIGKILL ] || flunk "kids_kill:" "$output"
}
