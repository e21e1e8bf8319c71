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
