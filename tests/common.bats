#!/usr/bin/env bats
# common/: the clock, strict argument parsing, the log and the timeline.

CHAPTER=common
load helpers/common

@test "clock: a 100 ms sleep lasts at least 100 ms, and not much more" {
	run_prog 10 clock_check
	assert_clean_exit
	assert_between "$(value sleep)" 0.100 "$(slack 0.150)" "sleep 100 ms"
	assert_between "$(value until)" 0.150 "$(slack 0.200)" "sleep until a 150 ms deadline"
	[ "$(value passed)" = 1 ] || flunk "the deadline had not passed after sleeping to it"
}

@test "clock: a deadline too far away to count saturates to 'never' instead of overflowing" {
	run_prog 10 clock_check
	assert_clean_exit
	[ "$(value never)" = 1 ] || flunk "clk_deadline_ms(LONG_MAX) did not return CLK_NEVER"
}

@test "clock: a condition wait on a monotonic deadline times out on time" {
	run_prog 10 clock_check
	assert_clean_exit
	[ "$(value timedout)" = 1 ] || flunk "pthread_cond_timedwait did not report ETIMEDOUT"
	assert_between "$(value timedwait)" 0.120 "$(slack 0.170)" "a 120 ms timed wait"
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
