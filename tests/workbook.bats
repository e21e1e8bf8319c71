#!/usr/bin/env bats
# The workbook program: the menu, and the subcommands scripts use.
# pgrep: none, but `workbook run` starts mpi_pool, which 05-mpi.bats looks for

load helpers/common
load helpers/copytree
load helpers/tmux

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
	for item in race_counter gil_sim 00-mutex 00-atomic 00-gil decision_matrix 04-pipeline \
		04-choosing mpi_pool 05-master 05-mpi; do
		[[ $output == *"$item"* ]] || flunk "list does not show $item"
	done
	# Every chapter the tree has, however far it is written.
	for item in "$WB_ROOT"/chapters/[0-9]*/CHAPTER; do
		item=${item%/CHAPTER}
		[[ $output == *"${item##*/}  "* ]] || flunk "list does not show ${item##*/}"
	done
}

@test "workbook hint: the file to edit, the hint and where to read" {
	workbook hint 00-mutex --all
	assert_clean_exit
	[[ $output == *"edit:  exercises/00-gil/counter_mutex.c"* ]] || flunk "$output"
	[[ $output == *"hint 1 of "*": $(hints 00-mutex | head -n 1)"* ]] || flunk "$output"
	[[ $output == *"read:  chapters/00-gil/README.md"* ]] || flunk "$output"
}

@test "workbook run: runs a demo with its arguments and passes its exit status on" {
	workbook run race_counter --mode atomic --threads 2 --iterations 1000
	assert_clean_exit
	[[ $output == *"atomic  expected=2000 counted=2000"* ]] || flunk "$output"
	workbook run race_counter --threads 0
	assert_usage_error race_counter
}

@test "workbook run: a chapter's runner line starts its demos: chapter 05's run under mpirun, arguments passed on" {
	# As tests/05-mpi.bats runs them: Open MPI's session directory in the
	# test's own, and under ASan its libraries' allocations kept to exit
	# are not the workbook's leaks (tests/lsan-mpi.supp).
	export TMPDIR=$BATS_TEST_TMPDIR
	export LSAN_OPTIONS="suppressions=$WB_ROOT/tests/lsan-mpi.supp:print_suppressions=0"
	[ "$WB_SAN" != address ] || export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
	run --separate-stderr timeout -k 5 60 "$WB_BUILD/workbook" run mpi_pool --tasks 3 --n 1000
	assert_clean_exit
	# Four ranks, as the runner line asks: rank 0 and three workers.
	[[ $output == *"ranks=4 workers=3 mode=dynamic tasks=3 n=1000 exact=3"* ]] || flunk "$output"
	run --separate-stderr timeout -k 5 60 "$WB_BUILD/workbook" run mpi_pool --tasks 0
	[ "$status" -ne 0 ] || flunk "mpi_pool --tasks 0 passed"
	[[ $stderr == *"--tasks"* ]] || flunk "no usage line: $stderr"
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
	local root=$BATS_TEST_TMPDIR/wb
	wb_copy_tree "$root"
	WORKBOOK_ROOT=$root menu $'1\nd2\n\nh1\n\nb\nq'
	assert_status 0
	[[ $output == *"mode=io threads=2"* ]] || flunk "gil_sim did not run to the end"
	[[ $output == *"hint 1 of "*": $(hints 00-mutex | head -n 1)"* ]] || flunk "no hint shown"
	[ "$(grep -c 'press Enter to go back' <<<"$output")" -eq 2 ] ||
		flunk "the demo's and the hint's output did not wait for Enter"
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
	workbook hint 00-m --all
	assert_clean_exit
	[ "${lines[0]}" = "00-mutex: Fix the lost update with a mutex" ] || flunk "${lines[0]}"
	workbook run race --help
	assert_clean_exit
	[[ ${lines[1]} == "usage: race_counter "* ]] || flunk "${lines[1]}"
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

@test "workbook run: a chapter's runner line goes before the demo and its arguments" {
	local root=$BATS_TEST_TMPDIR/root
	# The workbook looks for demos where its own build keeps them.
	local sol=$root/${WB_BUILD#"$WB_ROOT"/}/sol/05-x
	mkdir -p "$root/chapters/05-x" "$sol"
	# The runner is echo: what it prints is the command line the workbook built.
	printf 'title\tX\ndemo\tranks\tOne program, several ranks\nrunner\techo RUNNER -n 4\n' \
		>"$root/chapters/05-x/CHAPTER"
	printf '#!/bin/sh\nexit 0\n' >"$sol/ranks"
	chmod +x "$sol/ranks"
	WORKBOOK_ROOT=$root workbook run ranks a 'b c'
	assert_clean_exit
	[ "${lines[-1]}" = "RUNNER -n 4 $sol/ranks a b c" ] || flunk "$output"
}

@test "workbook lesson: a chapter without its README yet says so, and is no error" {
	local root=$BATS_TEST_TMPDIR/root
	mkdir -p "$root/chapters/04-new"
	printf 'title\tNew\n' >"$root/chapters/04-new/CHAPTER"
	WORKBOOK_ROOT=$root workbook lesson 04-new
	assert_clean_exit
	[[ $output == *"04-new has no lesson yet"* ]] || flunk "$output"
}

@test "workbook final: what is left before every exercise is done, status 1" {
	local root=$BATS_TEST_TMPDIR/root
	mkdir -p "$root/chapters/00-a"
	printf 'title\tA\nexercise\t00-one\tone.c\tThe one left\n' >"$root/chapters/00-a/CHAPTER"
	WORKBOOK_ROOT=$root WB_MATRIX_PROG=/bin/false workbook final
	[ "$status" -eq 1 ] || flunk "status $status: $output"
	[[ $output == *"00-one"*"The one left"* ]] || flunk "$output"
	[ ! -e "$root/build/matrix.txt" ] || flunk "measured before the end"
}

@test "workbook final: once all is done, the measured matrix, kept and shown again without re-running" {
	local root=$BATS_TEST_TMPDIR/root fake=$BATS_TEST_TMPDIR/matrix
	mkdir -p "$root/chapters/00-a" "$root/build"
	printf 'title\tA\n' >"$root/chapters/00-a/CHAPTER"
	# The fake counts its runs, so the second page is proved to be the kept copy.
	printf '#!/bin/sh\n[ "$1" = --quick ] || exit 3\necho run >>"%s.runs"\necho "| task | threads |"\n' \
		"$fake" >"$fake"
	chmod +x "$fake"
	WORKBOOK_ROOT=$root WB_MATRIX_PROG=$fake workbook final
	assert_clean_exit
	[[ $output == *"| task | threads |"* ]] || flunk "$output"
	[ "$(cat "$root/build/matrix.txt")" = "| task | threads |" ] || flunk "not kept"
	WORKBOOK_ROOT=$root WB_MATRIX_PROG=$fake workbook final
	assert_clean_exit
	[[ $output == *"| task | threads |"* ]] || flunk "$output"
	[ "$(wc -l <"$fake.runs")" -eq 1 ] || flunk "measured again"
	WORKBOOK_ROOT=$root WB_MATRIX_PROG=$fake workbook final --rerun
	assert_clean_exit
	[ "$(wc -l <"$fake.runs")" -eq 2 ] || flunk "--rerun did not measure"
	# A failed run keeps the last good table and leaves no temporary file.
	WORKBOOK_ROOT=$root WB_MATRIX_PROG=/bin/false workbook final --rerun
	[ "$status" -eq 1 ] || flunk "status $status"
	[ "$(cat "$root/build/matrix.txt")" = "| task | threads |" ] || flunk "table lost"
	[ ! -e "$root/build/matrix.txt.tmp" ] || flunk "temporary file left"
}

@test "menu: when all is done, f shows the final page, and r there measures again" {
	local root=$BATS_TEST_TMPDIR/root fake=$BATS_TEST_TMPDIR/matrix
	mkdir -p "$root/chapters/00-a" "$root/build"
	printf 'title\tA\n' >"$root/chapters/00-a/CHAPTER"
	printf '#!/bin/sh\necho run >>"%s.runs"\necho "| task | MATRIX |"\n' "$fake" >"$fake"
	chmod +x "$fake"
	WORKBOOK_ROOT=$root WB_MATRIX_PROG=$fake menu $'f\nr\n\nq'
	assert_clean_exit
	[[ $output == *"every exercise is done: f shows"* ]] || flunk "$output"
	[[ $output == *"| task | MATRIX |"* ]] || flunk "$output"
	[ "$(wc -l <"$fake.runs")" -eq 2 ] || flunk "f then r should measure twice"
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
		for args in "" list progress help --help "hint 00-mutex --all" "lesson 00"; do
			eval "workbook_to $to $args"
			assert_status 1 || flunk "for: workbook $args, stdout $to"
			[ "$stderr" = "$want" ] || flunk "for: workbook $args, stdout $to: $stderr"
		done
	done
	# run says which build runs before it hands over to the demo.
	workbook_to full run race_counter --help
	assert_status 1
	[ "$stderr" = "workbook: cannot write output: No space left on device" ] || flunk "$stderr"
}

# ---------------------------------------------------------------- the learner's loop
#
# These drive the workbook on a real terminal (tmux), in a private copy of
# the workbook (wb_copy_tree), never in the tree under test.  They test the
# interface, not the library, so they run on the plain build only.

teardown() {
	tmux_stop
}

# learner_copy: a fresh copy in $WB (exercises are the skeletons, nothing
# checked yet) for the workbook at $WB/build/workbook, which is what runs.
learner_copy() {
	[ -z "$WB_SAN" ] || skip "tests the workbook's interface: the plain build is enough"
	WB=$BATS_TEST_TMPDIR/wb
	if ! wb_copy_tree "$WB" || ! mkdir -p "$WB/build/progress"; then
		flunk "cannot copy the workbook"
	fi
	export WORKBOOK_ROOT=$WB
}

# in_copy ARGS...: the copy's workbook, without a terminal.
in_copy() {
	run --separate-stderr timeout -k 5 60 "$WB/build/workbook" "$@" </dev/null
}

# on_terminal INPUT ARGS...: the copy's workbook on a pseudo-terminal
# (script(1)), typing INPUT.
on_terminal() {
	local input=$1 cmd
	shift
	printf -v cmd '%q ' "$WB/build/workbook" "$@"
	run timeout -k 5 60 script -qec "$cmd" /dev/null <<<"$input"
}

# A pager that records that it ran, and the first line it was given.
recording_pager() {
	cat >"$BATS_TEST_TMPDIR/pager" <<-'SH'
		#!/bin/sh
		{ echo "pager ran"; head -n 1; } >>"$PAGER_LOG"
		cat >/dev/null
	SH
	chmod +x "$BATS_TEST_TMPDIR/pager"
	export PAGER=$BATS_TEST_TMPDIR/pager PAGER_LOG=$BATS_TEST_TMPDIR/pager.log
}

# Replace exercise $1's hints in the copy's manifest with three known ones.
three_hints() {
	local manifest=$WB/chapters/00-gil/CHAPTER
	awk -F'\t' -v id="$1" '!($1 == "hint" && $2 == id)' "$manifest" >"$manifest.new" &&
		printf 'hint\t%s\tfirst, a nudge\nhint\t%s\tsecond, the concept\nhint\t%s\tthird, nearly the answer\n' \
			"$1" "$1" "$1" >>"$manifest.new" &&
		mv "$manifest.new" "$manifest"
}

@test "watch: a save of the exercise is seen within 2 s, and its result is shown" {
	learner_copy
	tmux_require
	tmux_start "$WB/build/workbook" watch 00-mutex
	tmux_wait_for "checking 00-mutex… [check 1]" 10
	tmux_wait_for "watching exercises/00-gil/counter_mutex.c" 30
	# The first check's result: the skeleton fails.
	[ "$(cat "$WB/build/progress/00-mutex")" = "to do" ] || flunk "the check left no state"

	local t0 t1
	t0=$(date +%s%N)
	echo "/* an edit */" >>"$WB/exercises/00-gil/counter_mutex.c"
	tmux_wait_for "checking 00-mutex… [check 2]" 2
	t1=$(date +%s%N)
	assert_between "$(((t1 - t0) / 1000000))" 0 2000 "ms from the save to 'checking'"
	tmux_wait_count "watching exercises/00-gil/counter_mutex.c" 2 30
	tmux_screen | grep -Eq "✗ 00-mutex: [0-9]+ of [0-9]+ checks fail" || flunk "no failing result shown" "$(tmux_screen)"

	tmux_keys q
	tmux_wait_for "[exited 0; tty: icanon echo ]" 5
}

@test "watch: an editor's save by rename is seen too, and saves of other files are not" {
	learner_copy
	tmux_require
	tmux_start "$WB/build/workbook" watch 00-mutex
	tmux_wait_for "watching exercises/00-gil/counter_mutex.c" 30
	local dir=$WB/exercises/00-gil
	echo "/* not this one */" >>"$dir/counter_atomic.c"
	cp "$dir/counter_mutex.c" "$dir/.counter_mutex.c.swp"
	echo "/* saved by rename */" >>"$dir/.counter_mutex.c.swp"
	mv "$dir/.counter_mutex.c.swp" "$dir/counter_mutex.c"
	tmux_wait_for "checking 00-mutex… [check 2]" 2
	tmux_wait_count "watching exercises/00-gil/counter_mutex.c" 2 30
	[ "$(tmux_count "checking 00-mutex… [check 3]")" -eq 0 ] ||
		flunk "one save was checked twice, or another file's save counted"
	tmux_keys C-c
	tmux_wait_for "[exited 130; tty: icanon echo ]" 5
}

@test "watch: without inotify (WORKBOOK_WATCH=poll) a save is still seen within 2 s" {
	learner_copy
	tmux_require
	export WORKBOOK_WATCH=poll
	tmux_start "$WB/build/workbook" watch 00-mutex
	tmux_wait_for "watching exercises/00-gil/counter_mutex.c" 30
	echo "/* an edit */" >>"$WB/exercises/00-gil/counter_mutex.c"
	tmux_wait_for "checking 00-mutex… [check 2]" 2
	tmux_keys q
	tmux_wait_for "[exited 0; tty: icanon echo ]" 30
}

@test "watch: s refuses the solution before a pass; a pass moves on to the next exercise; then s shows the diff" {
	learner_copy
	tmux_require
	export PAGER=cat
	tmux_start "$WB/build/workbook" watch 00-mutex
	tmux_wait_for "watching exercises/00-gil/counter_mutex.c" 30
	tmux_keys s
	tmux_wait_for "the solution of 00-mutex, before you pass it? [y/N]" 5
	tmux_keys n
	tmux_wait_for "not shown" 5
	[ "$(tmux_count "+++ solutions/00-gil/counter_mutex.c")" -eq 0 ] ||
		flunk "the solution was shown without a yes"

	# The learner's own passing version: the solution with a line of theirs.
	{ cat "$WB/solutions/00-gil/counter_mutex.c"; echo "/* my own words */"; } \
		>"$WB/exercises/00-gil/counter_mutex.c"
	tmux_wait_for "✓ 00-mutex done — next: 00-atomic" 30
	tmux_wait_for "watching exercises/00-gil/counter_atomic.c" 5
	[ "$(cat "$WB/build/progress/00-mutex")" = "done" ] || flunk "not recorded as done"

	tmux_keys s
	tmux_wait_for "+++ solutions/00-gil/counter_mutex.c" 5
	tmux_wait_for "-/* my own words */" 5
	! tmux_screen | grep -q '^+.*>>> solution' || flunk "the solution is shown with its markers"
	[ "$(tmux_count "before you pass it")" -eq 1 ] || flunk "asked again after the pass"
	tmux_keys q
	tmux_wait_for "[exited 0; tty: icanon echo ]" 5
}

@test "watch: h shows the next hint level each time, and the level is kept" {
	learner_copy
	tmux_require
	three_hints 00-mutex
	tmux_start "$WB/build/workbook" watch 00-mutex
	tmux_wait_for "watching exercises/00-gil/counter_mutex.c" 30
	tmux_keys h
	tmux_wait_for "hint 1 of 3: first, a nudge" 5
	[ "$(tmux_count "hint 2 of 3")" -eq 0 ] || flunk "two levels at once"
	tmux_keys h
	tmux_wait_for "hint 2 of 3: second, the concept" 5
	tmux_keys q
	tmux_wait_for "[exited 0;" 5
	in_copy hint 00-mutex
	assert_clean_exit
	[[ $output == *"hint 3 of 3: third, nearly the answer"* ]] || flunk "$output"
	[[ $output == *"solutions/00-gil/counter_mutex.c"* ]] || flunk "no pointer to the solution"
	in_copy hint 00-mutex
	[[ $output == *"hint 3 of 3: third, nearly the answer"* ]] || flunk "the last level is not repeated"
	in_copy hint 00-mutex --all
	[[ $output == *"hint 1 of 3"*"hint 2 of 3"*"hint 3 of 3"* ]] || flunk "$output"
}

@test "watch: without a terminal it refuses in one line; --once checks once and exits with the check's status" {
	learner_copy
	in_copy watch 00-mutex
	bad_input help
	[[ $stderr == *"--once"* ]] || flunk "does not say what to use instead: $stderr"
	[ ! -e "$WB/build/progress/00-mutex" ] || flunk "it checked anyway"
	in_copy watch 00-mutex --once
	assert_status 1
	[ "$(cat "$WB/build/progress/00-mutex")" = "to do" ] || flunk "no state recorded"
	in_copy watch 00-mutex 00-atomic
	bad_input help
}

@test "reset: restores one file to its skeleton, keeps the old as FILE.orig, then FILE.orig.1, and touches nothing else" {
	learner_copy
	local dir=$WB/exercises/00-gil skel=$WB/build/skel-src/00-gil/counter_mutex.c
	echo "/* first try */" >>"$dir/counter_mutex.c"
	cp "$dir/counter_mutex.c" "$BATS_TEST_TMPDIR/first"
	echo "/* second try */" >>"$dir/counter_atomic.c"
	cp -a "$WB/exercises" "$BATS_TEST_TMPDIR/before"
	echo "to do" >"$WB/build/progress/00-mutex"
	echo 2 >"$WB/build/progress/00-mutex.hint"

	in_copy reset 00-mutex
	bad_input help
	cmp -s "$dir/counter_mutex.c" "$BATS_TEST_TMPDIR/first" || flunk "changed without a yes"

	in_copy reset 00-mutex --yes
	assert_clean_exit
	[[ $output == *"your version is in exercises/00-gil/counter_mutex.c.orig"* ]] || flunk "$output"
	cmp "$dir/counter_mutex.c" "$skel" || flunk "not the skeleton"
	cmp "$dir/counter_mutex.c.orig" "$BATS_TEST_TMPDIR/first" || flunk "the old version is not kept"
	[ ! -e "$WB/build/progress/00-mutex" ] && [ ! -e "$WB/build/progress/00-mutex.hint" ] ||
		flunk "the state and hint level were not reset"

	in_copy reset 00-mutex --yes
	assert_clean_exit
	[[ $output == *"already is the skeleton"* ]] || flunk "$output"
	[ ! -e "$dir/counter_mutex.c.orig.1" ] || flunk "kept a copy of the skeleton"

	echo "/* third try */" >>"$dir/counter_mutex.c"
	in_copy reset 00-mutex --yes
	assert_clean_exit
	grep -q "third try" "$dir/counter_mutex.c.orig.1" || flunk "the second old version is not kept"
	cmp -s "$dir/counter_mutex.c.orig" "$BATS_TEST_TMPDIR/first" || flunk "FILE.orig was overwritten"
	cmp "$dir/counter_mutex.c" "$skel" || flunk "not the skeleton"
	# Every other exercise file is as it was, and nothing else appeared.
	rm "$dir/counter_mutex.c"* "$BATS_TEST_TMPDIR/before/00-gil/counter_mutex.c"
	diff -r "$BATS_TEST_TMPDIR/before" "$WB/exercises" || flunk "another exercise was touched"
}

@test "reset: on a terminal it asks first, and anything but y keeps everything" {
	learner_copy
	local dir=$WB/exercises/00-gil
	echo "/* mine */" >>"$dir/counter_mutex.c"
	cp "$dir/counter_mutex.c" "$BATS_TEST_TMPDIR/mine"
	on_terminal n reset 00-mutex
	assert_status 1
	[[ $output == *"replace exercises/00-gil/counter_mutex.c with its skeleton? your version is kept as exercises/00-gil/counter_mutex.c.orig [y/N]"* ]] ||
		flunk "$output"
	[[ $output == *"nothing changed"* ]] || flunk "$output"
	cmp "$dir/counter_mutex.c" "$BATS_TEST_TMPDIR/mine" || flunk "changed after a no"
	[ ! -e "$dir/counter_mutex.c.orig" ] || flunk "kept a copy after a no"
	on_terminal y reset 00-mutex
	assert_status 0
	cmp "$dir/counter_mutex.c.orig" "$BATS_TEST_TMPDIR/mine" || flunk "not kept after a yes"
}

@test "run DEMO --mine: builds and runs the learner's files, and the first line says which build" {
	learner_copy
	# The learner's counter_mutex.c: a working one that says so when it runs.
	{
		cat "$WB/solutions/00-gil/counter_mutex.c"
		printf '#include <stdio.h>\n__attribute__((constructor)) static void mine(void)\n'
		printf '{\n\tfputs("the learner'\''s counter_mutex.c\\n", stderr);\n}\n'
	} >"$WB/exercises/00-gil/counter_mutex.c"
	echo "done" >"$WB/build/progress/00-mutex"
	in_copy run race_counter --mine --mode mutex --threads 2 --iterations 1000
	assert_status 0
	[ "${lines[0]}" = "── race_counter, your build (exercises/00-gil: counter_mutex.c counter_atomic.c gil.c) ──" ] ||
		flunk "first line: ${lines[0]}"
	[[ $output == *"00-atomic is not done yet: this demo may fail; Ctrl-C stops it"* ]] || flunk "$output"
	[[ $output != *"00-mutex is not done"* ]] || flunk "00-mutex is done: $output"
	[[ $output == *"mutex   expected=2000 counted=2000"* ]] || flunk "$output"
	[ "$stderr" = "the learner's counter_mutex.c" ] || flunk "not the learner's build: $stderr"
	[ -x "$WB/build/mine/00-gil/race_counter" ] || flunk "no build/mine/00-gil/race_counter"

	in_copy run race_counter --mode mutex --threads 2 --iterations 1000
	assert_clean_exit
	[ "${lines[0]}" = "── race_counter, reference build (solutions/) ──" ] || flunk "${lines[0]}"

	echo "this does not compile" >>"$WB/exercises/00-gil/counter_atomic.c"
	in_copy run race_counter --mine
	assert_status 1
	[[ $stderr == *"your build of 00-gil failed"* ]] || flunk "$stderr"
	[[ $output != *"──"* ]] || flunk "ran a demo that did not build: $output"
}

# The progress bar for DONE of every exercise in the manifests, WIDTH wide:
# full cells for the done fraction, rounded down.
bar_for() {
	local done=$1 width=$2 total full i bar=
	total=$(exercises | grep -c .)
	full=$((done * width / total))
	for ((i = 0; i < width; i++)); do
		if [ "$i" -lt "$full" ]; then bar+="█"; else bar+="░"; fi
	done
	printf '[%s] %d of %d exercises done' "$bar" "$done" "$total"
}

@test "menu: the main screen shows the progress bar and what is next; the lesson opens in the pager" {
	learner_copy
	recording_pager
	echo "done" >"$WB/build/progress/00-mutex"
	on_terminal $'1\nl\nb\nq'
	assert_status 0
	[[ $output == *"$(bar_for 1 20)"* ]] || flunk "no progress bar $(bar_for 1 20): $output"
	[[ $output == *"next: 00-atomic — Fix the lost update with C11 atomics"* ]] || flunk "no next: $output"
	[ "$(cat "$PAGER_LOG")" = "pager ran
$(head -n 1 "$WB/chapters/00-gil/README.md")" ] || flunk "the lesson did not go through the pager: $(cat "$PAGER_LOG" 2>&1)"
}

@test "menu on a terminal: once all is done, f shows the measured matrix, r measures again, and q leaves the terminal as it was" {
	[ -z "$WB_SAN" ] || skip "tests the workbook's interface: the plain build is enough"
	tmux_require
	local root=$BATS_TEST_TMPDIR/root fake=$BATS_TEST_TMPDIR/matrix
	mkdir -p "$root/chapters/00-a" "$root/build"
	printf 'title\tA\n' >"$root/chapters/00-a/CHAPTER"
	# The fake numbers its runs, so the page after r is proved to be a new one.
	printf '#!/bin/sh\necho run >>"%s.runs"\necho "| task | MATRIX run $(wc -l <"%s.runs") |"\n' \
		"$fake" "$fake" >"$fake"
	chmod +x "$fake"
	export WORKBOOK_ROOT=$root WB_MATRIX_PROG=$fake
	tmux_start "$WB_BUILD/workbook"
	tmux_wait_for "every exercise is done: f shows" 10
	tmux_keys f Enter
	tmux_wait_for "| task | MATRIX run 1 |" 10
	tmux_keys r Enter
	tmux_wait_for "| task | MATRIX run 2 |" 10
	tmux_keys Enter
	tmux_wait_count "every exercise is done: f shows" 2 10
	tmux_keys q Enter
	tmux_wait_for "[exited 0; tty: icanon echo ]" 5
	[ "$(wc -l <"$fake.runs")" -eq 2 ] || flunk "f then r should measure twice"
}

@test "lesson: on a terminal without PAGER or less, it is paged a screen at a time" {
	learner_copy
	mkdir "$BATS_TEST_TMPDIR/bin"
	local cmd readme=$WB/chapters/00-gil/README.md
	printf -v cmd '%q ' env PAGER= PATH="$BATS_TEST_TMPDIR/bin" LINES=10 \
		"$WB/build/workbook" lesson 00
	run timeout -k 5 20 script -qec "$cmd" /dev/null <<<$'\nq'
	assert_status 0
	[ "$(grep -o -- '--more-- Enter/q' <<<"$output" | wc -l)" -eq 2 ] ||
		flunk "not two screens and a q:" "$output"
	[[ $output == *"$(head -n 1 "$readme")"* ]] || flunk "no first line"
	[[ $output != *"$(tail -n 1 "$readme")"* ]] || flunk "q did not stop it"
}

@test "progress ends with the progress bar" {
	learner_copy
	echo "done" >"$WB/build/progress/00-mutex"
	echo "done" >"$WB/build/progress/00-atomic"
	in_copy progress
	assert_clean_exit
	[ "${lines[-1]}" = "$(bar_for 2 20)" ] || flunk "want $(bar_for 2 20), got ${lines[-1]}"
}
