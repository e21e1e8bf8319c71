# shellcheck shell=bash disable=SC2154  # bats' run sets status, output, stderr
# common.bash - loaded by every .bats file: where the programs are, how to run
# them under a timeout, and the assertions the checks share.
#
# A .bats file sets CHAPTER (its chapters/ directory name) and then loads
# this.  The runner (tests/run) chooses what is tested through WB_BUILD (the
# build directory, e.g. build or build/san-thread) and WB_VARIANT (sol,
# ex/ID or skel/ID; see the Makefile).

# run --separate-stderr needs bats 1.5, BATS_TEST_TIMEOUT 1.7.
bats_require_minimum_version 1.7.0

WB_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
: "${WB_BUILD:=$WB_ROOT/build}"
: "${WB_VARIANT:=sol}"
WB_BIN=$WB_BUILD/$WB_VARIANT
WB_FIXTURES=$WB_BUILD/fixtures
case $WB_BUILD in
*san-thread*) WB_SAN=thread ;;
*san-address*) WB_SAN=address ;;
*) WB_SAN= ;;
esac
export WB_ROOT WB_BUILD WB_BIN WB_FIXTURES WB_SAN
# shellcheck source=tests/helpers/manifest.bash
. "$WB_ROOT/tests/helpers/manifest.bash"

# The exercise the running check belongs to: "[ID] ..." names it.
check_exercise() {
	sed -n 's/^\[\([^]]*\)\] .*/\1/p' <<<"$BATS_TEST_DESCRIPTION"
}

# Where a learner whose check failed should look, from the manifest: the
# lesson, the file, the hint.  Nothing for a check of no exercise.
exercise_pointer() {
	local id
	id=$(check_exercise)
	[ -n "$id" ] || return 0
	exercise_where "$id"
	printf 'hint: %s\n' "$(manifest hint "$id")"
}

# The path of program $1 of this file's chapter in the variant under test.
prog() {
	echo "$WB_BIN/${CHAPTER:?the .bats file must set CHAPTER}/$1"
}

# under_timeout SECONDS REPORT COMMAND...: run COMMAND under a time limit,
# as `timeout -k 5 SECONDS` does (status 124, or 137 if it had to be
# killed), through build/fixtures/wb-timeout: when the limit runs out, it
# first has gdb write where each thread waited to the file REPORT.  The
# plain build's runner serves every build (it watches the program, it is
# not what is tested); coreutils' timeout stands in where none is built.
under_timeout() {
	local secs=$1 report=$2 runner
	shift 2
	for runner in "$WB_ROOT/build/fixtures/wb-timeout" "$WB_FIXTURES/wb-timeout"; do
		if [ -x "$runner" ]; then
			"$runner" "$secs" "$report" "$@"
			return
		fi
	done
	timeout -k 5 "$secs" "$@"
}

# A fresh report file for the next program a check runs under a timeout.
# bats runs that program in a subshell, so the caller names the file.
new_hang_report() {
	WB_HANG_REPORT=$BATS_TEST_TMPDIR/hang-report
	rm -f "$WB_HANG_REPORT"
}

# run_prog SECONDS NAME [ARGS...]: run a chapter program under a timeout,
# stdout in $output/$lines, stderr in $stderr/$stderr_lines, exit in $status.
# A program that overruns is killed and its status is 124 (137 if it ignored
# SIGTERM), so a hang fails the test instead of hanging the suite; the hang
# report says where it waited.
run_prog() {
	local secs=$1 name=$2
	shift 2
	new_hang_report
	run --separate-stderr under_timeout "$secs" "$WB_HANG_REPORT" "$(prog "$name")" "$@"
	note_abnormal "$name"
}

# run_tsan SECONDS NAME [ARGS...]: like run_prog, but runs the
# ThreadSanitizer build of the same variant (tests/run builds it), so a data
# race is reported whether or not the threads happened to overlap.
run_tsan() {
	local secs=$1 name=$2 bin
	shift 2
	bin=$WB_ROOT/build/san-thread/$WB_VARIANT/$CHAPTER/$name
	[ -x "$bin" ] || {
		flunk "no ThreadSanitizer build of $name: make SAN=thread programs skeletons exercises"
		return 1
	}
	new_hang_report
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
		run --separate-stderr under_timeout "$secs" "$WB_HANG_REPORT" "$bin" "$@"
	note_abnormal "$name"
}

# A program killed by the timeout (124, 137) or by a signal (> 128) did not
# fail the way a learner needs; say so where tests/run can find it.  After a
# timeout, the hang report follows: where each of its threads waited.
note_abnormal() {
	if [ "$status" -eq 124 ] || [ "$status" -gt 128 ]; then
		echo "wb-abnormal: $1 exited with status $status (hung until the timeout, or crashed)" >&2
	fi
	if { [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; } && [ -s "${WB_HANG_REPORT:-}" ]; then
		cat "$WB_HANG_REPORT" >&2
	fi
	return 0
}

# No ThreadSanitizer report in $stderr; the report is shown otherwise.
assert_no_race() {
	[[ ${stderr:-} != *"ThreadSanitizer"* ]] && [ "$status" -ne 66 ] && return 0
	flunk "ThreadSanitizer reported an error (a data race, or memory used after it was freed): $1" "${stderr:0:3000}"
}

# Fail the current test with a message (bats prints it under the test).
flunk() {
	printf '%s\n' "$@" >&2
	return 1
}

assert_status() {
	[ "$status" -eq "$1" ] && return 0
	flunk "expected exit status $1, got $status" \
		"stdout: ${output:0:2000}" "stderr: ${stderr:-}"
}

# The program ran to completion and printed nothing on stderr.  Sanitizer
# reports go to stderr, so this is also the "clean under sanitizers" check.
assert_clean_exit() {
	assert_status 0 || return 1
	[ -z "${stderr:-}" ] || flunk "unexpected stderr:" "$stderr"
}

# A usage mistake: status 2 and exactly one line on stderr naming the program.
assert_usage_error() {
	local name=$1
	assert_status 2 || return 1
	[ "${#stderr_lines[@]}" -eq 1 ] ||
		flunk "expected one line on stderr, got ${#stderr_lines[@]}:" "$stderr"
	[[ ${stderr_lines[0]} == "$name: "* ]] ||
		flunk "stderr should start with '$name: ': ${stderr_lines[0]}"
}

# assert_between VALUE LOW HIGH WHAT: LOW <= VALUE <= HIGH, as real numbers.
assert_between() {
	awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }' &&
		return 0
	flunk "$4: $1 is outside [$2, $3]"
}

# assert_at_least VALUE LOW WHAT
assert_at_least() {
	awk -v v="$1" -v lo="$2" 'BEGIN { exit !(v >= lo) }' && return 0
	flunk "$3: $1 is less than $2"
}

# Sleep-bound timings get more slack under the sanitizers, whose runtime
# slows every call; the lower bounds never move (a sleep cannot end early).
slack() {
	if [ -n "$WB_SAN" ]; then
		awk -v s="$1" 'BEGIN { print s * 3 }'
	else
		echo "$1"
	fi
}

# The value after "key=" in the program's output, e.g. value elapsed.
value() {
	printf '%s\n' "$output" | sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" | head -n 1
}

# The spans of a --trace dump ("span WORKER JOB MARK START END") in $output.
spans() {
	printf '%s\n' "$output" | grep '^span '
}

# max_overlap [MARK]: the most spans (with that mark, if given) open at once.
max_overlap() {
	spans | awk -v m="${1:-}" '
		m == "" || $4 == m { print $5, 1; print $6, -1 }' |
		sort -k1,1g -k2,2n |
		awk '{ open += $2; if (open > best) best = open } END { print best + 0 }'
}

# worker_count [MARK]: how many distinct workers recorded spans.
worker_count() {
	spans | awk -v m="${1:-}" 'm == "" || $4 == m { print $2 }' | sort -u | wc -l
}

# assert_waits_asleep PREFIX WHAT: a thread that blocked in WHAT for a few
# hundred milliseconds slept through it.  A condition-variable wait costs a
# few wake-ups and a fraction of a millisecond of CPU; a spin loop burns the
# whole wait and a sleep-poll wakes once per period, so both miss these
# bounds by a wide margin.  The driver prints PREFIX_cpu_ms and
# PREFIX_wakeups (voluntary context switches of the waiting thread).
assert_waits_asleep() {
	local cpu wakeups
	cpu=$(value "$1_cpu_ms")
	wakeups=$(value "$1_wakeups")
	[ -n "$cpu" ] || { flunk "$2: the driver printed no $1_cpu_ms:" "$output"; return 1; }
	awk -v c="$cpu" 'BEGIN { exit !(c <= 20) }' ||
		{ flunk "$2 used ${cpu} ms of CPU while it waited: it spins instead of sleeping on a condition variable"; return 1; }
	[ -z "$wakeups" ] || [ "$wakeups" -le 20 ] ||
		{ flunk "$2 woke up $wakeups times while it waited: it polls (sleeps and looks again) instead of sleeping on a condition variable until it is signalled"; return 1; }
}

# assert_reports_lost_output SECONDS NAME ARGS [CHECK...]: run program NAME
# with ARGS, then with --help, its stdout first full (/dev/full), then
# closed.  Every run must end with status 1 and the one line "NAME: cannot
# write output: REASON"; CHECK, if given, is a command run after each run
# (e.g. that nothing was left behind).
assert_reports_lost_output() {
	local secs=$1 name=$2 args=$3 to want a
	shift 3
	for to in ">/dev/full" ">&-"; do
		want="No space left on device"
		[ "$to" = ">/dev/full" ] || want="Bad file descriptor"
		for a in "$args" --help; do
			# bats' run reads stdout itself: the redirection must be the program's.
			# shellcheck disable=SC2086  # split the flags on purpose
			run --separate-stderr timeout -k 5 "$secs" bash -c "exec \"\$@\" $to" _ "$(prog "$name")" $a
			assert_status 1 || { flunk "for: $name $a $to"; return 1; }
			[ "$stderr" = "$name: cannot write output: $want" ] ||
				{ flunk "for: $name $a $to, stderr:" "$stderr"; return 1; }
			[ $# -eq 0 ] || "$@" || return 1
		done
	done
}

# Skip a test that only means something in one kind of build.
skip_unless_san() {
	[ "$WB_SAN" = "$1" ] || skip "only meaningful under SAN=$1"
}
skip_under_tsan() {
	[ "$WB_SAN" != thread ] || skip "deliberately racy: ThreadSanitizer would stop it"
}
