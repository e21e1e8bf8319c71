#!/usr/bin/env bats
# Hangs explained: every check runs its program through wb-timeout
# (tests/fixtures/wb-timeout.c), which stops a program that overruns its time
# limit as `timeout -k 5` would, but first has gdb say where each of its
# threads waited (tests/helpers/hang.py).  tests/fixtures/deadlock.c hangs on
# purpose, the same way every time: the report must name each of its waits.
# shellcheck disable=SC2034,SC2154  # common.bash reads WB_BIN and CHAPTER; bats' run sets stderr

setup() {
	load helpers/common
	# run_prog runs "$WB_BIN/$CHAPTER/NAME": point it at the fixtures, so that
	# the deadlock is run exactly as a chapter's program would be.
	WB_BIN=$WB_BUILD
	CHAPTER=fixtures
	# The watcher under test: this build's, so that the sanitizer builds
	# check it too.
	WBT=$WB_FIXTURES/wb-timeout
	SRC=$WB_ROOT/tests/fixtures/deadlock.c
	REPORT=$BATS_TEST_TMPDIR/report
}

need_gdb() {
	command -v gdb >/dev/null || skip "gdb is not installed (make deps installs it)"
}

# The line of deadlock.c that holds the text $1, found, not hard-coded.
line_of() {
	grep -nF -- "$1" "$SRC" | cut -d: -f1
}

# Run the deadlock under run_prog with a one-second limit.  ThreadSanitizer
# would otherwise stop it at once, at the lock-order inversion it exists for.
run_deadlock() {
	TSAN_OPTIONS="${TSAN_OPTIONS:-} detect_deadlocks=0" run_prog 1 deadlock
}

# The processes in process group $1, one pid a line.
group_members() {
	local stat fields pgrp
	for stat in /proc/[0-9]*/stat; do
		fields=$(cat "$stat" 2>/dev/null) || continue
		# After the command name in parentheses: state, ppid, pgrp.
		fields=${fields##*) }
		read -r _ _ pgrp _ <<<"$fields"
		[ "$pgrp" = "$1" ] && echo "${stat//[^0-9]/}"
	done
	return 0
}

# The processes whose command line names pid $1 after -p (a gdb on it).
debuggers_of() {
	local cmdline
	for cmdline in /proc/[0-9]*/cmdline; do
		tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -q -- " -p $1 " && echo "$cmdline"
	done
	return 0
}

@test "a deadlocked program is stopped at its time limit with status 124 and a report of where each thread waits" {
	need_gdb
	run_deadlock
	assert_status 124
	[ -s "$WB_HANG_REPORT" ] || flunk "no hang report was written"
	local want
	want=$(
		echo "where each thread waited when the check timed out after 1 s:"
		echo "main: clk_cond_wait_until in wait_for_results, deadlock.c:$(line_of 'clk_cond_wait_until(&d->results_cv')"
		echo "worker-1: pthread_mutex_lock in lock_both, deadlock.c:$(line_of 'pthread_mutex_lock(w->second)'), held by worker-2"
		echo "worker-2: pthread_mutex_lock in lock_both, deadlock.c:$(line_of 'pthread_mutex_lock(w->second)'), held by worker-1"
		echo "waiter: pthread_cond_wait in wait_for_news, deadlock.c:$(line_of 'pthread_cond_wait(&d->news_cv')"
	)
	[ "$(cat "$WB_HANG_REPORT")" = "$want" ] ||
		flunk "the hang report differs; expected:" "$want" "got:" "$(cat "$WB_HANG_REPORT")"
}

@test "a thread that runs none of the workbook's code is named by the function it waits in outside the C library, and where that lives" {
	need_gdb
	# perl's sleep: libc's clock_nanosleep, called by sleep(), called by
	# the interpreter's Perl_pp_sleep, in the perl program itself.
	run --separate-stderr timeout -k 5 30 "$WBT" 0.5 "$REPORT" perl -e 'sleep 60'
	assert_status 124
	[ "$(sed -n 2p "$REPORT")" = "main: sleep in Perl_pp_sleep (perl)" ] ||
		flunk "report:" "$(cat "$REPORT")"
}

@test "after a timeout the check's failure shows the hang report below its wb-abnormal line" {
	need_gdb
	run_deadlock
	assert_status 124
	local shown
	shown=$(note_abnormal deadlock 2>&1)
	[ "$(head -n 1 <<<"$shown")" = "wb-abnormal: deadlock exited with status 124 (hung until the timeout, or crashed)" ] ||
		flunk "the first line is not the wb-abnormal marker:" "$shown"
	[ "$(tail -n +2 <<<"$shown")" = "$(cat "$WB_HANG_REPORT")" ] ||
		flunk "the report does not follow the marker:" "$shown"
	[[ $shown == *"worker-1: pthread_mutex_lock in lock_both"* ]] ||
		flunk "the report shown does not say where worker-1 waits:" "$shown"
}

@test "once wb-timeout returns, the timed-out program, its threads and gdb are all gone" {
	need_gdb
	run_deadlock
	assert_status 124
	local pid
	pid=$(value pid)
	[ -n "$pid" ] || flunk "the deadlock printed no pid:" "$output"
	[ ! -e "/proc/$pid" ] || flunk "process $pid (or a thread of it) is still there"
	[ -z "$(group_members "$pid")" ] || flunk "its process group still has:" "$(group_members "$pid")"
	[ -z "$(debuggers_of "$pid")" ] || flunk "a gdb on it is still running:" "$(debuggers_of "$pid")"
}

@test "without gdb, a timed-out program is still stopped and the report says gdb is missing" {
	mkdir "$BATS_TEST_TMPDIR/empty"
	TSAN_OPTIONS="${TSAN_OPTIONS:-} detect_deadlocks=0" \
		run --separate-stderr timeout -k 5 60 env PATH="$BATS_TEST_TMPDIR/empty" \
		"$WBT" 0.5 "$REPORT" "$WB_FIXTURES/deadlock"
	assert_status 124
	[ "$(cat "$REPORT")" = "no hang report: gdb is not installed (make deps installs it)" ] ||
		flunk "report:" "$(cat "$REPORT")"
}

@test "a program that finishes in time passes its stdin, stdout, stderr and status through, and gets no report" {
	# shellcheck disable=SC2016  # expanded by the inner shell
	run --separate-stderr timeout -k 5 30 bash -c \
		'printf "in\n" | "$1" 10 "$2" sh -c "read -r x; echo \"got \$x\"; echo err >&2; exit 3"' \
		_ "$WBT" "$REPORT"
	assert_status 3
	[ "$output" = "got in" ] || flunk "stdout: $output"
	[ "$stderr" = "err" ] || flunk "stderr: $stderr"
	[ ! -e "$REPORT" ] || flunk "a report was written for a program that did not time out"
}

@test "a program killed by signal N exits with 128+N, as a shell reports it" {
	run --separate-stderr timeout -k 5 30 "$WBT" 10 "$REPORT" sh -c 'kill -USR1 $$'
	assert_status $((128 + 10))
	run --separate-stderr timeout -k 5 30 "$WBT" 10 "$REPORT" sh -c 'kill -TERM $$'
	assert_status $((128 + 15))
	[ ! -e "$REPORT" ] || flunk "a report was written for a program that did not time out"
}

@test "a program that ignores SIGTERM is killed with SIGKILL 5 s after the time limit: status 137" {
	local start elapsed
	start=$(date +%s%N)
	# An ignored signal stays ignored across fork and exec: the program
	# ignores SIGTERM from its first instruction, whatever the timing.
	run --separate-stderr timeout -k 5 60 bash -c 'trap "" TERM; exec "$@"' _ \
		"$WBT" 0.5 "" sleep 60
	elapsed=$((($(date +%s%N) - start) / 1000000))
	assert_status 137
	assert_between "$elapsed" 5500 30000 "milliseconds until wb-timeout returned"
}

@test "a program that cannot be run exits 127 when missing and 126 when not executable" {
	run -127 --separate-stderr timeout -k 5 30 "$WBT" 10 "$REPORT" "$BATS_TEST_TMPDIR/no-such-program"
	assert_status 127
	[[ $stderr == "wb-timeout: cannot run "*"no-such-program: No such file or directory" ]] ||
		flunk "stderr: $stderr"
	run -126 --separate-stderr timeout -k 5 30 "$WBT" 10 "$REPORT" "$SRC"
	assert_status 126
}

@test "bad usage of wb-timeout exits 125 with one line on stderr" {
	local args
	for args in "" "5" "5 $REPORT" "abc $REPORT true" "0 $REPORT true" "-1 $REPORT true" \
		"1.5s $REPORT true" "--bogus $REPORT true"; do
		# shellcheck disable=SC2086  # split the arguments on purpose
		run --separate-stderr timeout -k 5 30 "$WBT" $args
		assert_status 125 || flunk "for: wb-timeout $args"
		[ "${#stderr_lines[@]}" -eq 1 ] && [[ ${stderr_lines[0]} == "wb-timeout: "* ]] ||
			flunk "for: wb-timeout $args, expected one line 'wb-timeout: ...', got:" "$stderr"
	done
	run --separate-stderr timeout -k 5 30 "$WBT" --help
	assert_status 0
	[[ ${lines[0]} == "usage: wb-timeout SECONDS REPORT PROGRAM [ARGS...]" ]] || flunk "$output"
}

@test "wb-timeout sleeps while its program runs: no CPU time, no wake-ups" {
	# The program reads wb-timeout's own counters ($PPID is wb-timeout) after
	# 2 s, while wb-timeout still waits for it.  A watcher that looked every
	# few milliseconds would have woken hundreds of times by then, and one
	# that spun would have used the whole 2 s.
	# shellcheck disable=SC2016  # expanded by the program's shell
	run --separate-stderr timeout -k 5 30 "$WBT" 10 "" \
		sh -c 'sleep 2; grep ^voluntary_ctxt_switches /proc/$PPID/status; cat /proc/$PPID/stat'
	assert_status 0
	local wakeups ticks
	wakeups=$(awk '/^voluntary_ctxt_switches/ { print $2 }' <<<"$output")
	# After the ")" that ends the command name, utime and stime are the
	# 12th and 13th fields, in clock ticks.
	ticks=$(tail -n 1 <<<"$output" | sed 's/.*) //' | awk '{ print $12 + $13 }')
	[ -n "$wakeups" ] && [ -n "$ticks" ] || flunk "no counters read:" "$output"
	assert_between "$wakeups" 0 20 "times wb-timeout went to sleep while it watched for 2 s"
	assert_between "$((ticks * 1000 / $(getconf CLK_TCK)))" 0 "$(slack 100)" \
		"milliseconds of CPU wb-timeout used while it watched for 2 s"
}
