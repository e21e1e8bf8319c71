#!/usr/bin/env bats
# Chapter 02, multiprocessing: memory shared between processes - the robust
# counter (exercise 02-robust), the shared_counter demo, fork's pitfalls and
# a database shared by processes.
#
# The drivers fork their processes, force every order with pipes (a holder
# says "I hold the lock" before anything else happens), give each process
# they wait for a deadline, and kill and reap whatever overstays it: a
# waiter that never wakes fails its check with a message, never by hanging.

CHAPTER=02-multiprocessing
load helpers/common

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

@test "shared_db --db refuses a name that exists, or whose -journal, -wal or -shm does, and changes nothing" {
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
