#!/usr/bin/env bats
# common/: the clock, strict argument parsing, the log, the timeline, lost output, temporary directories and child processes.

CHAPTER=common
load helpers/common

@test "clock: a 100 ms sleep lasts at least 100 ms, and not much more; a negative one returns at once" {
	run_prog 10 clock_check
	assert_clean_exit
	assert_between "$(value sleep)" 0.100 "$(slack 0.150)" "sleep 100 ms"
	assert_between "$(value until)" 0.150 "$(slack 0.200)" "sleep until a 150 ms deadline"
	[ "$(value passed)" = 1 ] || flunk "the deadline had not passed after sleeping to it"
	assert_between "$(value sleep_negative)" 0 "$(slack 0.020)" "clk_sleep_ms(-100)"
}

@test "clock: a negative timeout, or one too far away to count, is the deadline CLK_NEVER" {
	run_prog 10 clock_check
	assert_clean_exit
	[ "$(value never_huge)" = 1 ] || flunk "clk_deadline_ms(LONG_MAX) did not saturate to CLK_NEVER"
	[ "$(value never_minus_one)" = 1 ] || flunk "clk_deadline_ms(-1) is not CLK_NEVER (no time limit)"
	[ "$(value never_negative)" = 1 ] || flunk "clk_deadline_ms(LONG_MIN) is not CLK_NEVER"
	[ "$(value zero_is_now)" = 1 ] || flunk "clk_deadline_ms(0) is not the present"
	[ "$(value deadline_ms)" = 1 ] || flunk "clk_deadline_ms(1000) is not 1000 ms from now"
}

@test "clock: a timed condition wait on a monotonic deadline times out on time with -ETIMEDOUT" {
	run_prog 10 clock_check
	assert_clean_exit
	[ "$(value timedout)" = -ETIMEDOUT ] || flunk "clk_cond_wait_until returned $(value timedout) at its deadline"
	assert_between "$(value timedwait)" 0.120 "$(slack 0.170)" "a 120 ms timed wait"
	[ "$(value past_rc)" = -ETIMEDOUT ] || flunk "a deadline already passed returned $(value past_rc)"
	assert_between "$(value past_elapsed)" 0 "$(slack 0.020)" "a wait on a deadline already passed"
}

@test "clock: one timed condition wait is one wait: a signal ends it with 0 long before its deadline, or with no deadline at all" {
	run_prog 20 clock_check
	assert_clean_exit
	[ "$(value signalled_rc)" = 0 ] || flunk "woken before its deadline, clk_cond_wait_until returned $(value signalled_rc)"
	assert_between "$(value signalled_elapsed)" 0 "$(slack 1)" "a 5 s wait woken by a signal"
	[ "$(value never_rc)" = 0 ] || flunk "a wait until CLK_NEVER returned $(value never_rc)"
	assert_between "$(value never_elapsed)" 0 "$(slack 1)" "a wait until CLK_NEVER woken by a signal"
}

@test "args: good values are read exactly, extremes of long included" {
	run_prog 5 args_check --count 10 --big -9223372036854775808 --color green --flag
	assert_clean_exit
	[ "$output" = "count=10 big=-9223372036854775808 color=green flag=1" ] ||
		flunk "read: $output"
}

@test "args: every kind of bad input is one stderr line and exit status 2" {
	local bad
	for bad in "--count 0" "--count 11" "--count abc" "--count 5x" "--count ''" \
		"--count ' 5'" "--big 9223372036854775808" "--big 99999999999999999999" \
		"--color blue" "--nope" "--count" "-x" "stray" "--flag=1"; do
		eval "run_prog 5 args_check $bad"
		assert_usage_error args_check || flunk "for: args_check $bad"
	done
}

@test "args: the error names the option and the problem" {
	run_prog 5 args_check --count 0
	[[ $stderr == *"--count: 0 is out of range (1 to 10)"* ]] || flunk "got: $stderr"
	run_prog 5 args_check --count abc
	[[ $stderr == *"--count: 'abc' is not a whole number"* ]] || flunk "got: $stderr"
	run_prog 5 args_check --nope
	[[ $stderr == *"unknown option '--nope'"* ]] || flunk "got: $stderr"
}

@test "args: a value given to an option that takes none is named as such" {
	run_prog 5 args_check --flag=1
	assert_usage_error args_check
	[[ $stderr == *"option '--flag' takes no value"* ]] || flunk "got: $stderr"
}

@test "args: abbreviations work, and an ambiguous one is called ambiguous" {
	run_prog 5 args_check --cou 3 --fl
	assert_clean_exit
	[ "$output" = "count=3 big=0 color=red flag=1" ] || flunk "read: $output"
	run_prog 5 args_check --co 3
	assert_usage_error args_check
	[[ $stderr == *"option '--co' is ambiguous"* ]] || flunk "got: $stderr"
	run_prog 5 args_check --fl=2
	[[ $stderr == *"option '--flag' takes no value"* ]] || flunk "got: $stderr"
}

@test "check: die_errno names the program, what failed and why, and exits 1" {
	run_prog 5 args_check --fail
	assert_status 1
	[ "$stderr" = "args_check: opening nowhere.txt: No such file or directory" ] ||
		flunk "got: $stderr"
}

@test "check: four threads that die() at the same moment end the program once: one line, status 1, no race" {
	run_tsan 20 args_check --fail-together
	assert_no_race "four threads calling die() at once"
	assert_status 1
	[ "$stderr" = "args_check: a thread failed" ] ||
		flunk "expected the first failure alone, on one line:" "$stderr"
	run_prog 20 args_check --fail-together
	assert_status 1
	[ "$stderr" = "args_check: a thread failed" ] ||
		flunk "expected the first failure alone, on one line:" "$stderr"
}

@test "log: lines from threads and a forked process are never torn or lost" {
	run_prog 30 log_check --threads 8 --lines 2000
	assert_clean_exit
	# 8 threads + 1 process x 2000 lines, plus one line written as a task.
	[ "${#lines[@]}" -eq 18001 ] || flunk "expected 18001 lines, got ${#lines[@]}"
	local bad
	bad=$(printf '%s\n' "$output" |
		grep -cvE '^\[\+[0-9]+\.[0-9]{3}s\] (Thread-[1-8]|Process-[0-9]+|Task-7): (line [0-9]+ of 2000|written under an explicit name)$' || true)
	[ "$bad" -eq 0 ] || flunk "$bad malformed lines"
	local w
	for w in Thread-1 Thread-8 Process-; do
		[ "$(printf '%s\n' "$output" | grep -c "] $w")" -eq 2000 ] ||
			flunk "$w did not write exactly 2000 lines"
	done
}

@test "log: each writer's lines appear in the order it wrote them" {
	run_prog 30 log_check --threads 4 --lines 500
	assert_clean_exit
	local w
	for w in Thread-1 Thread-2 Thread-3 Thread-4; do
		printf '%s\n' "$output" | grep "] $w:" |
			awk '{ n = $4 + 0; if (n != NR - 1) exit 1 }' ||
			flunk "$w's lines are out of order"
	done
}

@test "timeline: spans from threads and forked processes all arrive" {
	run_prog 30 timeline_check --stress
	assert_clean_exit
	[ "$(value recorded)" = "$(value expected)" ] || flunk "$output"
}

@test "timeline: the chart puts each span in its place and the dump is exact" {
	run_prog 10 timeline_check --fixed
	assert_clean_exit
	[ "${lines[0]}" = "Worker-10 |                    [3.................]|" ] || flunk "${lines[0]}"
	[ "${lines[1]}" = "Worker-A  |[1=================]                    |" ] || flunk "${lines[1]}"
	[ "${lines[2]}" = "Worker-B  |          [2=================]          |" ] || flunk "${lines[2]}"
	[[ ${lines[3]} == *"0s"*"0.20s" ]] || flunk "axis: ${lines[3]}"
	[ "$(spans | wc -l)" -eq 3 ] || flunk "expected 3 spans"
	[ "$(max_overlap)" -eq 2 ] || flunk "the dump's spans should overlap 2 at most"
	[ "$(value max_overlap)" -eq 2 ] || flunk "timeline_max_overlap disagrees"
}

@test "timeline: spans that only touch end to end do not overlap" {
	run_prog 10 timeline_check --fixed
	# Worker-A ends exactly when Worker-10 starts; only A and B overlap.
	[ "$(value max_overlap_eq)" -eq 2 ] || flunk "$output"
	[ "$(max_overlap .)" -eq 1 ] || flunk "a single '.' span overlaps itself?"
}

# ------------------------------------------------ one-line messages, lost output

# one_short_line PROG: stderr is exactly one line, from PROG, under 200 bytes,
# with no control byte in it.
one_short_line() {
	[ "${#stderr_lines[@]}" -eq 1 ] ||
		flunk "expected one line on stderr, got ${#stderr_lines[@]}:" "$stderr"
	[[ ${stderr_lines[0]} == "$1: "* ]] || flunk "not from $1: $stderr"
	[ "${#stderr}" -lt 200 ] || flunk "${#stderr} bytes is not a short line: $stderr"
	! LC_ALL=C grep -q '[[:cntrl:]]' <<<"$stderr" || flunk "a control byte got through: $stderr"
}

# run_to TARGET SECONDS NAME [ARGS...]: run_prog with stdout sent to TARGET,
# "full" (/dev/full: every write fails with ENOSPC) or "closed" (>&-).
run_to() {
	local redirect=">/dev/full" secs=$2 name=$3
	[ "$1" = full ] || redirect=">&-"
	shift 3
	# bats' run reads stdout itself: the redirection must be the program's.
	run --separate-stderr timeout -k 5 "$secs" \
		bash -c "exec \"\$@\" $redirect" run_to "$(prog "$name")" "$@"
}

@test "args: a value with a newline, a tab or another control byte is shown escaped, on one line" {
	run_prog 5 args_check --count $'4\n2'
	assert_usage_error args_check
	one_short_line args_check
	[ "$stderr" = "args_check: --count: '4\\n2' is not a whole number (see --help)" ] ||
		flunk "got: $stderr"
	run_prog 5 args_check --color $'r\te\x01d\x7f\e[31m'
	one_short_line args_check
	[[ $stderr == *"'r\\te\\x01d\\x7f\\x1b[31m' is not one of red, green"* ]] || flunk "got: $stderr"
}

@test "args: a very long value is cut in the middle; the reason and both ends stay" {
	local digits
	digits=1$(printf '0%.0s' {1..5000})2
	run_prog 5 args_check --count "$digits"
	assert_usage_error args_check
	one_short_line args_check
	[[ $stderr == "args_check: --count: 100"*"..."*"002 is out of range (1 to 10) (see --help)" ]] ||
		flunk "got: $stderr"
	run_prog 5 args_check --color "$(printf a; printf '\n%.0s' {1..3000}; printf z)"
	one_short_line args_check
	[[ $stderr == *"'a\\n\\n"*"..."*"\\n\\nz' is not one of red, green (see --help)" ]] ||
		flunk "got: $stderr"
}

@test "args: a cut never splits a UTF-8 character" {
	run_prog 5 args_check --color "$(printf 'é%.0s' {1..200})"
	one_short_line args_check
	iconv -f UTF-8 -t UTF-8 <<<"$stderr" >/dev/null || flunk "not valid UTF-8: $stderr"
	[[ $stderr == *"éé...éé"* ]] || flunk "got: $stderr"
}

@test "args: unknown options, operands and missing values are shown safely too" {
	local long
	long=$(printf 'x%.0s' {1..4000})
	for bad in "--$long" "--no"$'\n'"pe" "-"$'\x02' "$long" $'stray\x01' "--co=$long" "--co"$'\r'; do
		run_prog 5 args_check "$bad"
		assert_usage_error args_check || flunk "for: $bad"
		one_short_line args_check
		[[ $stderr == *"(see --help)" ]] || flunk "the end was cut off: $stderr"
	done
	run_prog 5 args_check --color green "--co$long"
	[[ $stderr == *"--coxxx"*"..."*"xxx'"* ]] || flunk "got: $stderr"
}

@test "check: die() keeps a message with strange or huge values to one line, the reason last" {
	local dir=$BATS_TEST_TMPDIR/none
	run_prog 5 args_check --open "$dir/a"$'\n'"b"
	assert_status 1
	one_short_line args_check
	[ "$stderr" = "args_check: cannot create $dir/a\\nb: No such file or directory" ] ||
		flunk "got: $stderr"
	run_prog 5 args_check --open "$dir/$(printf 'y%.0s' {1..3000})/end"
	assert_status 1
	one_short_line args_check
	[[ $stderr == "args_check: cannot create $dir/yy"*"..."*"yy/end: No such file or directory" ]] ||
		flunk "got: $stderr"
}

@test "check: output that cannot be written is an error: one line on stderr, status 1" {
	run_to full 5 args_check
	assert_status 1
	[ "$stderr" = "args_check: cannot write output: No space left on device" ] || flunk "got: $stderr"
	run_to closed 5 args_check
	assert_status 1
	[ "$stderr" = "args_check: cannot write output: Bad file descriptor" ] || flunk "got: $stderr"
	# More than a buffer's worth: the first write fails long before exit.
	run_to full 5 args_check --say "$(printf 'z%.0s' {1..20000})"
	assert_status 1
	[ "$stderr" = "args_check: cannot write output: No space left on device" ] || flunk "got: $stderr"
}

@test "check: a program that prints nothing may run with stdout closed" {
	run_to closed 5 args_check --quiet
	assert_clean_exit
	run_to full 5 args_check --quiet
	assert_clean_exit
}

@test "check: with stdout closed, a file the program opens never becomes its stdout" {
	local file=$BATS_TEST_TMPDIR/own.file
	run_to closed 5 args_check --open "$file"
	assert_status 1
	[ "$stderr" = "args_check: cannot write output: Bad file descriptor" ] || flunk "got: $stderr"
	[ -e "$file" ] && [ ! -s "$file" ] || flunk "the report went into $file: $(cat "$file")"
}

@test "check: a failure already reported keeps its status and its one line when output is lost too" {
	run_to full 5 args_check --say printed --fail
	assert_status 1
	[ "$stderr" = "args_check: opening nowhere.txt: No such file or directory" ] || flunk "got: $stderr"
	run_to full 5 args_check --say printed --count 0
	assert_usage_error args_check
}

# --------------------------------------------------------------- tmpdir, child
# tmpdir_check and child_check drive common/tmpdir.c and common/child.c.
# Every run gets its own TMPDIR, so "nothing left behind" is an empty listing.

use_own_tmpdir() {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
}

assert_tmpdir_empty() {
	[ -z "$(ls -A "$TMPDIR")" ] || flunk "$1 left files behind:" "$(ls -AR "$TMPDIR")"
}

# start_waiting NAME ARGS...: start a driver in the background and wait (10 s
# at most) until it prints "waiting".  Its output goes to $BATS_TEST_TMPDIR/out
# and /err, its pid (timeout's, which passes signals on) to BG_PID.  fd 3 is
# closed, or bats would wait for it.  The timeout ends a driver that a failed
# check left waiting; --foreground signals the driver alone, not its child.
start_waiting() {
	local name=$1 i
	shift
	# Removed here: the background job would truncate them only once it runs.
	rm -f "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err"
	timeout --foreground -k 5 60 "$(prog "$name")" "$@" \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	BG_PID=$!
	for ((i = 0; i < 200; i++)); do
		grep -qs '^waiting$' "$BATS_TEST_TMPDIR/out" && return 0
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$BG_PID" 2>/dev/null
	flunk "$name did not start waiting:" "$(cat "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err")"
}

# signal_waiting SIGNAL: send it to the background driver, give it 10 s to
# end, and set BG_STATUS to its exit status.
signal_waiting() {
	local i
	kill -s "$1" "$BG_PID"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$BG_PID" 2>/dev/null; then
		kill -KILL "$BG_PID"
		flunk "the program did not exit within 10 s of SIG$1"
		return 1
	fi
	BG_STATUS=0
	wait "$BG_PID" || BG_STATUS=$?
}

# The value after key= in the background driver's output file.
bg_value() {
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$BATS_TEST_TMPDIR/out" | head -n 1
}

@test "tmpdir: tmpdir_free removes the directory and all it holds, without following links out of it" {
	use_own_tmpdir
	local outside=$BATS_TEST_TMPDIR/keep/outside.txt
	mkdir -p "${outside%/*}"
	echo precious >"$outside"
	run_prog 10 tmpdir_check --outside "$outside" --then free
	assert_clean_exit
	[[ $(value dir) == "$TMPDIR/tmpdir_check."?????? ]] || flunk "dir=$(value dir) is not under TMPDIR"
	[ "$(value free)" = 0 ] && [ "$(value gone)" = 1 ] || flunk "$output"
	[ "$(cat "$outside")" = precious ] || flunk "the file a link pointed to was touched"
	assert_tmpdir_empty tmpdir_free
}

@test "tmpdir: the directory is made for its owner alone" {
	use_own_tmpdir
	start_waiting tmpdir_check --then wait
	[ "$(stat -c %a "$(bg_value dir)")" = 700 ] || flunk "mode $(stat -c %a "$(bg_value dir)")"
	signal_waiting TERM
}

@test "tmpdir: the directory is gone after exit() and after die()" {
	use_own_tmpdir
	run_prog 10 tmpdir_check --then exit
	assert_clean_exit
	assert_tmpdir_empty "exit()"
	run_prog 10 tmpdir_check --then die
	assert_status 1
	[ "$stderr" = "tmpdir_check: stopping on purpose" ] || flunk "stderr: $stderr"
	assert_tmpdir_empty "die()"
}

@test "tmpdir: SIGINT and SIGTERM remove the directory, then end the program as that signal does" {
	use_own_tmpdir
	local sig
	for sig in INT TERM; do
		start_waiting tmpdir_check --then wait
		[ -d "$(bg_value dir)/sub/deeper" ] || flunk "the directory was not filled"
		signal_waiting "$sig"
		[ "$BG_STATUS" -eq $((128 + $(kill -l "$sig"))) ] ||
			flunk "SIG$sig should end it as that signal does; exit status $BG_STATUS"
		[ ! -s "$BATS_TEST_TMPDIR/err" ] || flunk "stderr:" "$(cat "$BATS_TEST_TMPDIR/err")"
		assert_tmpdir_empty "SIG$sig"
	done
}

@test "tmpdir: a forked child that exits or is killed leaves its parent's directory alone" {
	use_own_tmpdir
	run_prog 10 tmpdir_check --then fork
	assert_clean_exit
	[ "$(value kept)" = 1 ] || flunk "a child's exit or SIGTERM removed the parent's directory"
	[ "$(value gone)" = 1 ] || flunk "$output"
	assert_tmpdir_empty tmpdir_check
}

@test "tmpdir: a relative TMPDIR gives an absolute path, still removed after a chdir" {
	cd "$BATS_TEST_TMPDIR"
	mkdir rel
	TMPDIR=rel run_prog 10 tmpdir_check --chdir --then exit
	assert_clean_exit
	[[ $(value dir) == "$BATS_TEST_TMPDIR/rel/tmpdir_check."* ]] || flunk "dir=$(value dir)"
	[ -z "$(ls -A rel)" ] || flunk "left behind: $(ls -A rel)"
}

@test "tmpdir: a missing or too long TMPDIR, a bad prefix and one directory too many are errors" {
	use_own_tmpdir
	TMPDIR=$BATS_TEST_TMPDIR/none run_prog 10 tmpdir_check
	assert_status 1
	[[ $stderr == *"No such file or directory" ]] || flunk "missing TMPDIR: $stderr"
	TMPDIR=$(printf '/x%.0s' {1..3000}) run_prog 10 tmpdir_check
	assert_status 1
	[[ $stderr == *"File name too long" ]] || flunk "long TMPDIR: $stderr"
	run_prog 10 tmpdir_check --prefix a/b
	assert_status 1
	[[ $stderr == *"Invalid argument" ]] || flunk "prefix with a slash: $stderr"
	run_prog 10 tmpdir_check --count 17
	assert_status 1
	[ "${#lines[@]}" -eq 16 ] || flunk "expected 16 directories before the error:" "$output"
	[[ $stderr == "tmpdir_check: tmpdir_new (directory 17): "* ]] || flunk "the 17th: $stderr"
	assert_tmpdir_empty "a run that made 16 directories"
}

# A child for child_check that ignores SIGTERM and reports port 4242.  The
# kernel's parent-death signal (SIGTERM) cannot stop it either, so if
# child.c failed to stop it, it would outlive the test.
# shellcheck disable=SC2016  # $1 is the child shell's, not ours
STUBBORN=(/bin/sh -c 'trap "" TERM; echo 4242 >"$1.tmp"; mv "$1.tmp" "$1"; exec sleep 60' sh '{port-file}')
# The same child, but one that SIGTERM ends at once.
# shellcheck disable=SC2016
OBEDIENT=(/bin/sh -c 'echo 4242 >"$1.tmp"; mv "$1.tmp" "$1"; exec sleep 60' sh '{port-file}')

@test "child: httpd's port is learned, it answers there, and stop reaps it and removes the directory" {
	use_own_tmpdir
	start_waiting child_check --then wait -- "$WB_FIXTURES/httpd" --quiet --port 0 --port-file '{port-file}'
	local port pid
	port=$(bg_value port) pid=$(bg_value pid)
	[ "$port" -ge 1 ] && [ "$port" -le 65535 ] || flunk "port=$port"
	[ "$(timeout 10 curl -s "http://127.0.0.1:$port/file?size=123" | wc -c)" -eq 123 ] ||
		flunk "nothing like httpd answers on port $port"
	signal_waiting TERM
	[ "$BG_STATUS" -eq 143 ] || flunk "exit status $BG_STATUS"
	! kill -0 "$pid" 2>/dev/null || flunk "httpd (pid $pid) outlived child_check"
	assert_tmpdir_empty child_check

	run_prog 20 child_check -- "$WB_FIXTURES/httpd" --quiet --port 0 --port-file '{port-file}'
	assert_clean_exit
	[ "$(value stopped)" = exited ] && [[ $output == *"stopped=exited with status 0 "* ]] ||
		flunk "httpd should exit 0 on SIGTERM:" "$output"
	[ "$(value reaped)" = 1 ] || flunk "child_stop left a zombie:" "$output"
	[ "$(value dir_gone)" = 1 ] || flunk "$output"
	assert_tmpdir_empty child_check
}

@test "child: a child that ignores SIGTERM is killed after the grace period, and reaped" {
	use_own_tmpdir
	local start=$EPOCHREALTIME
	run_prog 20 child_check -- "${STUBBORN[@]}"
	assert_clean_exit
	[ "$(value port)" = 4242 ] || flunk "$output"
	[[ $output == *"stopped=was killed by signal 9 "* ]] || flunk "$output"
	[ "$(value reaped)" = 1 ] || flunk "child_stop left a zombie:" "$output"
	assert_at_least "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" 2.0 \
		"seconds before SIGKILL (the grace period is 2 s)"
	assert_tmpdir_empty child_check
}

@test "child: on exit(), die(), SIGINT and SIGTERM the child is stopped and the directory removed" {
	use_own_tmpdir
	local how pid want child
	for how in exit die INT TERM; do
		# exit and die end through one atexit() function, SIGINT and SIGTERM
		# through one handler: a child that ignores SIGTERM in one of each
		# proves that path waits out the grace period and kills; the other
		# of each is spared CHILD_GRACE_MS of waiting by a child that obeys.
		child=("${STUBBORN[@]}")
		case $how in
		die | TERM) child=("${OBEDIENT[@]}") ;;
		esac
		case $how in
		exit | die)
			run_prog 20 child_check --then "$how" -- "${child[@]}"
			BG_STATUS=$status
			pid=$(value pid)
			;;
		*)
			start_waiting child_check --then wait -- "${child[@]}"
			pid=$(bg_value pid)
			signal_waiting "$how"
			;;
		esac
		case $how in
		exit) want=0 ;; die) want=1 ;; *) want=$((128 + $(kill -l "$how"))) ;;
		esac
		[ "$BG_STATUS" -eq "$want" ] || flunk "$how: exit status $BG_STATUS, want $want"
		[ -n "$pid" ] || flunk "$how: no pid printed"
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid"
			flunk "$how: the child (pid $pid) outlived child_check"
		fi
		assert_tmpdir_empty "child_check ($how)"
	done
}

@test "child: a child that exits before reporting its port is a clear error at once, and nothing is left" {
	use_own_tmpdir
	local start=$EPOCHREALTIME
	run_prog 20 child_check --timeout-ms 10000 -- /bin/sh -c 'exit 3'
	assert_status 1
	[ "$stderr" = "child_check: /bin/sh exited with status 3 before it reported its port" ] ||
		flunk "stderr: $stderr"
	assert_between "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" 0 5 \
		"seconds to notice the exit (the timeout was 10 s)"
	assert_tmpdir_empty child_check
}

@test "child: a program that cannot be run is child_new's error, with no child left" {
	use_own_tmpdir
	run_prog 10 child_check -- "$BATS_TEST_TMPDIR/no-such-program"
	assert_status 1
	[ "$stderr" = "child_check: cannot run $BATS_TEST_TMPDIR/no-such-program: No such file or directory" ] ||
		flunk "stderr: $stderr"
	[ "${#lines[@]}" -eq 0 ] || flunk "child_new should fail before any pid exists:" "$output"
	echo 'not a program' >"$BATS_TEST_TMPDIR/plain"
	run_prog 10 child_check -- "$BATS_TEST_TMPDIR/plain"
	assert_status 1
	[[ $stderr == *"Permission denied" ]] || flunk "stderr: $stderr"
	assert_tmpdir_empty child_check
}

@test "child: no port within the timeout is an error on time, and the child is stopped" {
	use_own_tmpdir
	run_prog 20 child_check --timeout-ms 300 -- /bin/sleep 60
	assert_status 1
	[ "$stderr" = "child_check: /bin/sleep did not report its port within 300 ms" ] ||
		flunk "stderr: $stderr"
	local pid
	pid=$(value pid)
	[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null || flunk "sleep (pid $pid) outlived child_check"
	assert_tmpdir_empty child_check
}

@test "child: a port file that holds no port is an error, not a wait" {
	use_own_tmpdir
	# shellcheck disable=SC2016  # $1 is the child shell's, not ours
	run_prog 20 child_check -- /bin/sh -c 'echo hello >"$1"; exec sleep 60' sh '{port-file}'
	assert_status 1
	[ "$stderr" = "child_check: /bin/sh wrote something other than a port number" ] ||
		flunk "stderr: $stderr"
	assert_tmpdir_empty child_check
}

@test "child: waiting for the port sleeps until the file appears instead of polling" {
	use_own_tmpdir
	# shellcheck disable=SC2016  # $1 is the child shell's, not ours
	run_prog 20 child_check -- /bin/sh -c 'sleep 1; echo 4242 >"$1.tmp"; mv "$1.tmp" "$1"; exec sleep 60' sh '{port-file}'
	assert_clean_exit
	assert_at_least "$(value wait)" 1.0 "seconds waited for the port"
	# A poll every 200 ms or less would give up the CPU 5 times or more.
	[ "$(value switches)" -le 4 ] || flunk "the waiting thread woke $(value switches) times in $(value wait) s"
}

@test "child: a program run with stdout (or stdin) closed still gives its child /dev/null there" {
	use_own_tmpdir
	local closed
	# Without --quiet httpd prints a line to stdout, and dies if it cannot.
	for closed in "--close 1" "--close 0" "--close 0 --close 1"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 20 child_check $closed -- "$WB_FIXTURES/httpd" --port 0 --port-file '{port-file}'
		assert_clean_exit || flunk "with $closed"
		[[ $output == *"stopped=exited with status 0 "* ]] || flunk "with $closed:" "$output"
	done
}
