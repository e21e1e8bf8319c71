#!/usr/bin/env bats
# The workbook program: the menu, and the subcommands scripts use.

load helpers/common

workbook() {
	run --separate-stderr timeout -k 5 20 "$WB_BUILD/workbook" "$@"
}

# menu INPUT: drive the interactive menu on a pseudo-terminal (script(1)
# gives it one), typing INPUT.
menu() {
	run timeout -k 5 30 script -qec "$WB_BUILD/workbook" /dev/null <<<"$1"
}

@test "workbook: without a terminal it prints the chapters and usage, and exits 0" {
	run --separate-stderr timeout -k 5 20 "$WB_BUILD/workbook" </dev/null
	assert_clean_exit
	[[ $output == *"00-gil  There is no GIL in C"* ]] || flunk "no chapter list: $output"
	[[ $output == *"workbook run DEMO"* ]] || flunk "no usage"
	[[ $output == *"not a terminal"* ]] || flunk "does not say why there is no menu"
}

@test "workbook list: every chapter's demos and exercises with their state" {
	workbook list
	assert_clean_exit
	local item
	for item in race_counter gil_sim 00-mutex 00-atomic 00-gil; do
		[[ $output == *"$item"* ]] || flunk "list does not show $item"
	done
}

@test "workbook hint: the file to edit, the hint and where to read" {
	workbook hint 00-mutex
	assert_clean_exit
	[[ $output == *"edit:  exercises/00-gil/counter_mutex.c"* ]] || flunk "$output"
	[[ $output == *"hint:  counter++ is a load"* ]] || flunk "$output"
	[[ $output == *"read:  chapters/00-gil/README.md"* ]] || flunk "$output"
}

@test "workbook run: runs a demo with its arguments and passes its exit status on" {
	workbook run race_counter --mode atomic --threads 2 --iterations 1000
	assert_clean_exit
	[[ $output == *"atomic  expected=2000 counted=2000"* ]] || flunk "$output"
	workbook run race_counter --threads 0
	assert_usage_error race_counter
}

@test "workbook: unknown names and commands get one clear line and exit 2" {
	local args
	for args in "hint 99-nope" "check 99-nope" "run no_such_demo" "lesson 77" "bogus" "list extra"; do
		eval "workbook $args"
		[ "$status" -eq 2 ] || flunk "workbook $args: status $status"
		[ "${#stderr_lines[@]}" -eq 1 ] || flunk "workbook $args: stderr: $stderr"
	done
}

@test "workbook progress: every exercise with a state" {
	workbook progress
	assert_clean_exit
	[[ $output == *"00-gil"* ]] && [[ $output == *"exercises done"* ]] || flunk "$output"
}

@test "menu: a chapter page shows its lesson, demos and exercises, then quits" {
	menu $'1\nq'
	assert_status 0
	[[ $output == *"Select:"* ]] || flunk "no main menu: $output"
	[[ $output == *"00-gil - There is no GIL in C"* ]] || flunk "no chapter page"
	[[ $output == *"d1. race_counter"* ]] || flunk "no demos"
	[[ $output == *"e3. 00-gil"* ]] || flunk "no exercises"
}

@test "menu: a demo and a hint run from the menu and the menu comes back" {
	menu $'1\nd2\nh1\nb\nq'
	assert_status 0
	[[ $output == *"mode=io threads=2"* ]] || flunk "gil_sim did not run to the end"
	[[ $output == *"hint:  counter++"* ]] || flunk "no hint shown"
	[ "$(grep -c 'Select:' <<<"$output")" -ge 2 ] || flunk "did not return to the main menu"
}

@test "menu: invalid choices are answered, never a crash, and end of input quits" {
	menu $'42\nabc\n1\nz9\nd99'
	assert_status 0
	[[ $output == *"no such choice '42'"* ]] || flunk "42 accepted?"
	[[ $output == *"no such choice 'abc'"* ]] || flunk "abc accepted?"
	[[ $output == *"no such choice 'z9'"* ]] || flunk "z9 accepted?"
	[[ $output == *"no such choice 'd99'"* ]] || flunk "d99 accepted?"
}

# bad_input WHERE: exit status 2 and one line on stderr that ends by saying
# where to look: "(see: workbook WHERE)".
bad_input() {
	assert_status 2 || return 1
	[ "${#stderr_lines[@]}" -eq 1 ] || flunk "expected one line on stderr, got: $stderr"
	[[ ${stderr_lines[0]} == "workbook: "*" (see: workbook $1)" ]] ||
		flunk "should say what is wrong and point to 'workbook $1': $stderr"
}

@test "workbook lesson: an empty or ambiguous chapter name is bad input, not the first lesson" {
	workbook lesson ''
	bad_input list
	[[ $stderr == *"chapter name is empty"* ]] || flunk "$stderr"
	[ -z "$output" ] || flunk "printed a lesson anyway"
	workbook lesson 0
	bad_input list
	[[ $stderr == *"chapter '0' is ambiguous: it starts 00-gil, 01-threading"* ]] || flunk "$stderr"
	[ -z "$output" ] || flunk "printed a lesson anyway"
}

@test "workbook help takes no arguments, and every command its own number of them" {
	local args
	for args in "help garbage" "--help garbage" "-h x" "list extra" "progress 1" \
		"hint" "hint 00-mutex 00-gil" "check" "check 00-mutex again" "lesson" \
		"lesson 00 01" "run" "bogus" "''"; do
		eval "workbook $args"
		bad_input help || flunk "for: workbook $args"
		[ -z "$output" ] || flunk "workbook $args printed: $output"
	done
	workbook hint
	[[ $stderr == *"wrong arguments for hint: use workbook hint ID"* ]] || flunk "$stderr"
	workbook help garbage
	[[ $stderr == *"help takes no arguments, and 'garbage' is one"* ]] || flunk "$stderr"
}

@test "workbook: an empty, ambiguous or unknown name is bad input in every command" {
	local cmd name
	for cmd in lesson hint check run; do
		for name in "" 0 d 77-nope; do
			workbook "$cmd" "$name"
			bad_input list || flunk "for: workbook $cmd '$name'"
		done
	done
	workbook hint 00
	[[ $stderr == *"exercise '00' is ambiguous: it starts 00-mutex, 00-atomic, 00-gil"* ]] ||
		flunk "$stderr"
	workbook run d
	[[ $stderr == *"demo 'd' is ambiguous: it starts download_demo, db_queries"* ]] ||
		flunk "$stderr"
	workbook check ''
	[[ $stderr == *"exercise name is empty"* ]] || flunk "$stderr"
}

@test "workbook: a name typed with control bytes is shown escaped, on one line" {
	workbook lesson $'0\n1\e'
	bad_input list
	[[ $stderr == *"no chapter '0\\n1\\x1b'"* ]] || flunk "$stderr"
	workbook $'bo\ngus'
	bad_input help
	[[ $stderr == *"unknown command 'bo\\ngus'"* ]] || flunk "$stderr"
}

@test "workbook: a name may be shortened to the start of exactly one" {
	workbook lesson 01-thr
	assert_clean_exit
	[ "${lines[0]}" = "$(head -n 1 "$WB_ROOT/chapters/01-threading/README.md")" ] ||
		flunk "not chapter 01's lesson: ${lines[0]}"
	workbook hint 00-m
	assert_clean_exit
	[ "${lines[0]}" = "00-mutex: Fix the lost update with a mutex" ] || flunk "${lines[0]}"
	workbook run race --help
	assert_clean_exit
	[[ ${lines[0]} == "usage: race_counter "* ]] || flunk "${lines[0]}"
}

@test "workbook: a whole name wins over a longer name it starts" {
	local root=$BATS_TEST_TMPDIR/root
	mkdir -p "$root/chapters/00-a" "$root/chapters/00-ab"
	printf 'title\tA\nexercise\tab\tab.c\tThe short one\nexercise\tabc\tabc.c\tThe long one\n' \
		>"$root/chapters/00-a/CHAPTER"
	printf 'title\tAB\n' >"$root/chapters/00-ab/CHAPTER"
	echo "lesson A" >"$root/chapters/00-a/README.md"
	echo "lesson AB" >"$root/chapters/00-ab/README.md"
	WORKBOOK_ROOT=$root workbook hint ab
	assert_clean_exit
	[ "${lines[0]}" = "ab: The short one" ] || flunk "${lines[0]}"
	WORKBOOK_ROOT=$root workbook hint a
	bad_input list
	WORKBOOK_ROOT=$root workbook lesson 00-a
	assert_clean_exit
	[ "$output" = "lesson A" ] || flunk "$output"
	WORKBOOK_ROOT=$root workbook lesson 00-
	bad_input list
}

@test "workbook run: a demo's bad-input line stays one short line, odd values escaped and long ones cut" {
	workbook run race_counter --mode $'at\nomic\e[0m'
	assert_usage_error race_counter
	[ "$stderr" = "race_counter: --mode: 'at\\nomic\\x1b[0m' is not one of none, mutex, atomic, all (see --help)" ] ||
		flunk "$stderr"
	workbook run race_counter --iterations "9$(printf '8%.0s' {1..5000})7"
	assert_usage_error race_counter
	[ "${#stderr}" -lt 200 ] || flunk "${#stderr} bytes: $stderr"
	[[ $stderr == "race_counter: --iterations: 98"*"..."*"87 is out of range (1 to 100000000) (see --help)" ]] ||
		flunk "$stderr"
}

# workbook_to TARGET ARGS...: the workbook with stdout on /dev/full
# (TARGET full) or closed (TARGET closed).
workbook_to() {
	local redirect=">/dev/full"
	[ "$1" = full ] || redirect=">&-"
	shift
	run --separate-stderr timeout -k 5 20 \
		bash -c "exec \"\$@\" $redirect" workbook_to "$WB_BUILD/workbook" "$@" </dev/null
}

@test "workbook: output it cannot write is an error, one line and status 1, whatever the command" {
	local to args want
	for to in full closed; do
		want="workbook: cannot write output: No space left on device"
		[ "$to" = full ] || want="workbook: cannot write output: Bad file descriptor"
		for args in "" list progress help --help "hint 00-mutex" "lesson 00"; do
			eval "workbook_to $to $args"
			assert_status 1 || flunk "for: workbook $args, stdout $to"
			[ "$stderr" = "$want" ] || flunk "for: workbook $args, stdout $to: $stderr"
		done
	done
	# run hands over to the demo, which checks its own output.
	workbook_to full run race_counter --help
	assert_status 1
	[ "$stderr" = "race_counter: cannot write output: No space left on device" ] || flunk "$stderr"
}
