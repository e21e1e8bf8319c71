#!/usr/bin/env bats
# The learner's loop around the exercises: make skels never destroys work,
# make test accepts a learner's committed exercises, make check and the
# builds speak briefly.  Every check works in a private copy of the workbook
# ($BATS_TEST_TMPDIR), never in the tree it tests.

load helpers/common
# shellcheck source=tests/helpers/copytree.bash
. "$WB_ROOT/tests/helpers/copytree.bash"

setup() {
	# These check make and tests/run, which no sanitizer build changes.
	[ -z "$WB_SAN" ] || skip "checks the tools, not a build: once is enough"
	COPY=$BATS_TEST_TMPDIR/wb
	# What the make that runs this suite passes on must not reach the makes
	# under test: its jobserver, SAN, V, and CI's WB_PRISTINE=1.
	unset MAKEFLAGS MFLAGS MAKELEVEL V SAN EX FORCE WB_INNER WB_PRISTINE WB_BRIEF
}

# in_copy SECONDS COMMAND...: run COMMAND in the copy under a timeout,
# stdout and stderr together in $output.
in_copy() {
	local secs=$1
	shift
	# shellcheck disable=SC2016  # $1 and $@ are the inner shell's
	run timeout -k 5 "$secs" bash -c 'cd "$1" && shift && "$@"' _ "$COPY" "$@"
}

# A git clone of the workbook in which the learner committed their own,
# unfinished and unformatted, work on 01-map.
learner_clone() {
	timeout 60 git clone -q "$WB_ROOT" "$COPY" || return 1
	printf '\n/* my own idea */\nint   learner_tried  ( void ) ;\n' >>"$COPY/exercises/01-threading/map.c"
	timeout 30 git -C "$COPY" -c user.name=learner -c user.email=learner@example.com \
		commit -qam "my work on map" || return 1
}

# No line of $output is a trace of bats' or a pointer meant for one check.
assert_no_stack_lines() {
	local line
	while IFS= read -r line; do
		case $line in
		"# "* | *"in test file "* | *"(from function "* | *"' failed"*)
			flunk "a bats trace line in the output: $line"
			return 1
			;;
		esac
	done <<<"$output"
}

@test "make skels leaves an edited exercise as it is, names it, writes the others, and fails" {
	wb_copy_tree "$COPY"
	local ex=$COPY/exercises
	printf '/* half done */\n' >>"$ex/01-threading/map.c"
	cp "$ex/01-threading/map.c" "$BATS_TEST_TMPDIR/mine.c"
	rm "$ex/01-threading/pool.c"
	# A changed solution: its exercise is still the skeleton that shipped, so
	# it takes the new skeleton.
	printf '/* a maintainer was here */\n' >>"$COPY/solutions/00-gil/counter_atomic.c"

	in_copy 120 make --no-print-directory skels
	[ "$status" -ne 0 ] || flunk "make skels succeeded over an edited exercise:" "$output"
	cmp -s "$ex/01-threading/map.c" "$BATS_TEST_TMPDIR/mine.c" ||
		flunk "make skels changed the learner's map.c"
	[ "$(grep -c 'exercises/01-threading/map.c' <<<"$output")" -eq 1 ] ||
		flunk "expected one line naming map.c:" "$output"
	grep -q 'map.c holds your edits; left as it is' <<<"$output" || flunk "$output"
	! grep -q 'FORCE' <<<"$output" || flunk "the refusal suggests overwriting the learner's work:" "$output"
	[ "$(grep -c 'holds your edits' <<<"$output")" -eq 1 ] || flunk "other files named:" "$output"
	cmp -s "$ex/01-threading/pool.c" "$COPY/build/skel-src/01-threading/pool.c" ||
		flunk "the missing pool.c was not written"
	grep -q 'a maintainer was here' "$ex/00-gil/counter_atomic.c" ||
		flunk "the pristine counter_atomic.c did not get its new skeleton"

	in_copy 120 env FORCE=1 make --no-print-directory skels
	assert_status 0
	cmp -s "$ex/01-threading/map.c" "$COPY/build/skel-src/01-threading/map.c" ||
		flunk "FORCE=1 make skels did not overwrite map.c"
}

@test "tests/run sync and format pass in a clone with committed exercise edits; WB_PRISTINE=1 sync does not" {
	learner_clone
	in_copy 120 tests/run sync
	assert_status 0
	grep -q '^ok - sync: exercises/01-threading/map.c holds your own work' <<<"$output" ||
		flunk "the learner's map.c is not reported as theirs:" "$output"
	in_copy 120 tests/run format
	assert_status 0
	in_copy 120 env WB_PRISTINE=1 tests/run sync
	[ "$status" -ne 0 ] || flunk "WB_PRISTINE=1 accepted an edited exercise:" "$output"
	grep -q '^not ok - sync: exercises/01-threading/map.c is not the skeleton' <<<"$output" ||
		flunk "$output"
	# No advice anywhere that would overwrite the learner's file.
	! grep -qi 'run make skels\|FORCE=1' <<<"$output" || flunk "destructive advice:" "$output"
}

@test "tests/run sync fails when a solution changed without make skels" {
	learner_clone
	printf '/* changed */\n' >>"$COPY/solutions/00-gil/counter_mutex.c"
	in_copy 120 tests/run sync
	[ "$status" -ne 0 ] || flunk "sync passed over an unrecorded skeleton:" "$output"
	grep -q '^not ok - sync: the skeleton of solutions/00-gil/counter_mutex.c changed; tests/skeletons.sha256 does not record it' \
		<<<"$output" || flunk "$output"
}

@test "a failing make check reads cleanly: no bats traces, the pointer once, the totals last, status 0" {
	wb_copy_tree "$COPY"
	in_copy 300 make --no-print-directory check EX=00-mutex
	assert_status 0
	assert_no_stack_lines
	! grep -q '^make.*\*\*\*' <<<"$output" || flunk "a make error trailer:" "$output"
	[ "$(grep -cxF "  $(exercise_where 00-mutex)" <<<"$output")" -eq 1 ] ||
		flunk "the lesson pointer should be printed exactly once:" "$output"
	[ "$(grep -c '^  ✗ ' <<<"$output")" -ge 1 ] || flunk "no failing check shown:" "$output"
	[[ ${lines[-2]} =~ ^[0-9]+\ of\ [0-9]+\ exercises\ done$ ]] || flunk "second to last: ${lines[-2]}"
	[[ ${lines[-1]} =~ ^0\ passed,\ [1-9][0-9]*\ failed$ ]] || flunk "last line: ${lines[-1]}"
	# tests/run itself still says "not done" with its status, for scripts.
	in_copy 300 tests/run check 00-mutex
	assert_status 1
}

@test "make check reports an exercise done once its solution is in place" {
	wb_copy_tree "$COPY"
	cp "$COPY/solutions/00-gil/counter_mutex.c" "$COPY/exercises/00-gil/"
	in_copy 300 make --no-print-directory check EX=00-mutex
	assert_status 0
	grep -q '^  00-mutex  *done ' <<<"$output" || flunk "not shown as done:" "$output"
	[ "${lines[-2]}" = "1 of $(exercises | grep -c .) exercises done" ] || flunk "${lines[-2]}"
	[[ ${lines[-1]} =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]] || flunk "${lines[-1]}"
	[ "$(cat "$COPY/build/progress/00-mutex")" = "done" ] || flunk "progress state not kept"
}

@test "make check EX=nope is one line and status 2" {
	run timeout -k 5 60 make --no-print-directory -C "$WB_ROOT" check EX=nope
	assert_status 2
	[ "${#lines[@]}" -eq 1 ] || flunk "expected one line:" "$output"
	[[ $output == *"no exercise 'nope'"* ]] || flunk "$output"
}

@test "WB_BRIEF=1 check: a short report that starts with its verdict" {
	wb_copy_tree "$COPY"
	in_copy 300 env WB_BRIEF=1 tests/run check 00-mutex
	assert_status 1
	[[ ${lines[0]} =~ ^✗\ 00-mutex:\ [1-9][0-9]*\ of\ [1-9][0-9]*\ checks\ fail$ ]] ||
		flunk "first line: ${lines[0]}"
	[ "${#lines[@]}" -le 20 ] || flunk "${#lines[@]} lines:" "$output"
	assert_no_stack_lines
	! grep -q 'progress\|passed,' <<<"$output" || flunk "a table or totals in the brief report:" "$output"
	[ "$(cat "$COPY/build/progress/00-mutex")" = "to do" ] || flunk "progress state not kept"

	printf 'this is not C;\n' >>"$COPY/exercises/00-gil/counter_mutex.c"
	in_copy 300 env WB_BRIEF=1 tests/run check 00-mutex
	assert_status 1
	[ "${lines[0]}" = "✗ 00-mutex does not compile" ] || flunk "first line: ${lines[0]}"
	[ "${#lines[@]}" -le 20 ] || flunk "${#lines[@]} lines:" "$output"
	grep -q 'counter_mutex.c:.*error' <<<"$output" || flunk "no compiler error shown:" "$output"

	cp "$COPY/solutions/00-gil/counter_mutex.c" "$COPY/exercises/00-gil/"
	in_copy 300 env WB_BRIEF=1 tests/run check 00-mutex
	assert_status 0
	[[ $output =~ ^✓\ 00-mutex:\ all\ [1-9][0-9]*\ checks\ pass$ ]] || flunk "$output"
}

@test "builds print one progress line, not a line per file; V=1 prints every command" {
	wb_copy_tree "$COPY"
	touch "$COPY/chapters/00-gil/race_counter.c"
	in_copy 300 make --no-print-directory programs
	assert_status 0
	! grep -q '^ *\(CC\|LINK\|AR\) ' <<<"$output" || flunk "per-file lines:" "$output"
	[[ $output =~ ^built\ [1-9][0-9]*\ files?$ ]] || flunk "expected one summary line:" "$output"

	touch "$COPY/chapters/00-gil/race_counter.c"
	in_copy 300 make --no-print-directory V=1 programs
	assert_status 0
	grep -q -- '-c chapters/00-gil/race_counter.c' <<<"$output" || flunk "no command shown:" "$output"

	# Errors pass through in full, and the build's status is kept.
	printf 'this is not C;\n' >>"$COPY/exercises/00-gil/counter_mutex.c"
	in_copy 300 make --no-print-directory ex-00-mutex
	[ "$status" -ne 0 ] || flunk "a failed build exited 0"
	grep -q 'counter_mutex.c:.*error' <<<"$output" || flunk "no compiler error shown:" "$output"
}
