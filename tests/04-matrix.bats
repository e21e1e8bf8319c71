#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# shellcheck disable=SC2030,SC2031  # each test's TMPDIR is its own on purpose
# Chapter 04's decision_matrix: every row of the guide's decision matrix
# run four ways, timed, every way's answer checked against the others.
#
# One --quick run (setup_file) serves the checks of its table, its JSON
# and its key=value lines.  Only what holds by construction is asserted
# about times: 100 downloads that each sleep on the server finish far
# sooner 50 or 100 at a time than one by one.  CPU-bound winners depend
# on the machine and are left to make bench.

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=04-choosing
load helpers/common

ROW_IDS=(few-downloads many-downloads images crunching few-queries many-queries scraping server)

setup_file() {
	local dir=$BATS_FILE_TMPDIR
	export TMPDIR=$dir/tmp
	mkdir -p "$TMPDIR"
	under_timeout 300 "$dir/hang" "$(prog decision_matrix)" --quick --quiet --kv \
		--json "$dir/matrix.json" >"$dir/out" 2>"$dir/err" && echo 0 >"$dir/status" ||
		echo $? >"$dir/status"
}

# Load the setup_file run into $output, $stderr and $status.
matrix_quick() {
	local dir=$BATS_FILE_TMPDIR
	output=$(cat "$dir/out")
	stderr=$(cat "$dir/err")
	status=$(cat "$dir/status")
	[ "$status" -ne 124 ] || cat "$dir/hang" >&2
}

# The table's lines: those whose cells are "N.NNN s" four times.
matrix_table_rows() {
	printf '%s\n' "$output" | awk '/^[a-zA-Z]/ && / s  /'
}

# The kv seconds of row $1, approach $2.
matrix_seconds() {
	printf '%s\n' "$output" | awk -v r="row=$1" -v a="approach=$2" '
		$1 == r && $2 == a { sub(/^seconds=/, "", $3); print $3 }'
}

# matrix_gate FIFO FD_VAR LINE: read the program's stderr from FIFO until
# a progress line equal to LINE (the gate); fails if it never comes.
matrix_wait_for() {
	local fd=$1 want=$2 line
	while IFS= read -r -t 60 line <&"$fd"; do
		[ "$line" = "$want" ] && return 0
	done
	flunk "no progress line '$want' came"
}

# Every pid given is gone: not even a zombie is left for init to reap.
matrix_all_gone() {
	local pid
	for pid in "$@"; do
		! kill -0 "$pid" 2>/dev/null && continue
		flunk "process $pid is still there:" "$(ps -o pid,ppid,stat,args -p "$pid")"
		return 1
	done
}

@test "decision_matrix --quick runs every row of the guide's matrix four ways, and every cell is a time" {
	matrix_quick
	assert_clean_exit
	local rows
	rows=$(matrix_table_rows)
	[ "$(printf '%s\n' "$rows" | wc -l)" -eq 8 ] || flunk "expected 8 rows in the table:" "$output"
	printf '%s\n' "$rows" | awk '{
		n = 0
		for (i = 1; i < NF; i++)
			if ($i ~ /^[0-9]+\.[0-9][0-9][0-9]$/ && $(i + 1) == "s") n++
		if (n != 4) { print "not four times: " $0; bad = 1 }
	} END { exit bad }' || flunk "every cell must be a number of seconds:" "$output"
	local id
	for id in "${ROW_IDS[@]}"; do
		for a in sequential threads processes event_loop; do
			[[ $(matrix_seconds "$id" "$a") =~ ^[0-9]+\.[0-9]+$ ]] ||
				flunk "no row=$id approach=$a seconds=S line:" "$output"
		done
	done
}

@test "decision_matrix checks that every way gave the same answer in every row, and says so" {
	matrix_quick
	assert_clean_exit
	printf '%s\n' "$output" | grep -qxF "Every way gave the same answer in every row." ||
		flunk "no line saying every answer agreed:" "$output"
}

@test "decision_matrix: a way whose answer differs from sequential's is named, and the run fails" {
	# A copy of the program beside a fixtures/httpd of our own, which it
	# finds before the build's: the real server, told to change one byte of
	# the 6th body it serves.  Sequential fetches the first 5 files, so a
	# body that the threads fetch comes back wrong, and nothing else is.
	local dir=$BATS_TEST_TMPDIR/tree
	mkdir -p "$dir/bin" "$dir/fixtures"
	cp "$(prog decision_matrix)" "$dir/bin/"
	printf '#!/bin/sh\nexec "%s" "$@" --corrupt-nth 6\n' "$WB_FIXTURES/httpd" >"$dir/fixtures/httpd"
	chmod +x "$dir/fixtures/httpd"
	run --separate-stderr timeout -k 5 60 "$dir/bin/decision_matrix" --quick --quiet --rows few-downloads
	assert_status 1
	[[ $stderr =~ ^"decision_matrix: "[^:]+": threads's answer "[0-9a-f]{16}" differs from sequential's "[0-9a-f]{16}$ ]] ||
		flunk "no line naming the way that differs:" "$stderr"
	[[ $output != *"Every way gave the same answer"* ]] || flunk "it claims every way agreed:" "$output"
}

@test "decision_matrix: 100 sleeping downloads on the event loop and on threads each beat sequential by at least 10x" {
	matrix_quick
	assert_clean_exit
	local seq threads loop
	seq=$(matrix_seconds many-downloads sequential)
	threads=$(matrix_seconds many-downloads threads)
	loop=$(matrix_seconds many-downloads event_loop)
	# 100 x 30 ms one by one cannot take less than 3 s: a sleep never ends early.
	assert_at_least "$seq" 3.0 "sequential downloads of 100 x 30 ms" || return 1
	assert_at_least "$(awk -v s="$seq" -v t="$threads" 'BEGIN { print s / t }')" 10 \
		"threads (a pool of 50) against sequential: $threads s vs $seq s" || return 1
	assert_at_least "$(awk -v s="$seq" -v t="$loop" 'BEGIN { print s / t }')" 10 \
		"the event loop (100 at once) against sequential: $loop s vs $seq s"
}

@test "decision_matrix: no cell whose items sleep beats its ideal, so every limit held (2 fetches per host when scraping)" {
	matrix_quick
	assert_clean_exit
	local cells
	cells=$(printf '%s\n' "$output" | grep '^row=.* ideal=')
	# The downloads, the scraping and the server, four ways each.
	[ "$(printf '%s\n' "$cells" | wc -l)" -eq 16 ] || flunk "expected 16 cells with ideal=:" "$output"
	# A sleep never ends early: a way that ran more at once than its limit
	# (more than 2 pages of a host, say) would finish under its ideal.
	printf '%s\n' "$cells" | awk '{
		s = $3; i = $4; sub(/^seconds=/, "", s); sub(/^ideal=/, "", i)
		if (s + 0 < i + 0) { print "under its ideal: " $0; bad = 1 }
	} END { exit bad }' || flunk "cells faster than their sleeps allow:" "$cells"
}

@test "decision_matrix --json writes valid JSON with every row, approach, time and winner" {
	matrix_quick
	assert_clean_exit
	local json=$BATS_FILE_TMPDIR/matrix.json
	[ -s "$json" ] || { flunk "no JSON written"; return 1; }
	if command -v jq >/dev/null; then
		run jq -r '.rows[] | [.id, .seconds.sequential, .seconds.threads,
			.seconds.processes, .seconds.event_loop, .winner, .python,
			.same_answer] | map(tostring) | join(" ")' "$json"
		[ "$status" -eq 0 ] || { flunk "jq cannot read it:" "$(cat "$json")"; return 1; }
		[ "${#lines[@]}" -eq 8 ] || flunk "expected 8 rows:" "$output"
		printf '%s\n' "$output" | awk '
			$2 + 0 <= 0 || $3 + 0 <= 0 || $4 + 0 <= 0 || $5 + 0 <= 0 { bad = 1 }
			$6 !~ /^(sequential|threads|processes|event_loop)$/ { bad = 1 }
			$7 !~ /^(threads|processes|event_loop)$/ || $8 != "true" { bad = 1 }
			END { exit bad }' || flunk "a row is incomplete:" "$output"
		[ "$(printf '%s\n' "$output" | cut -d' ' -f1 | tr '\n' ' ')" = "${ROW_IDS[*]} " ] ||
			flunk "the rows, in order, should be ${ROW_IDS[*]}:" "$output"
	elif command -v python3 >/dev/null; then
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["rows"]) == 8' \
			"$json" || flunk "not valid JSON with 8 rows:" "$(cat "$json")"
	else
		skip "neither jq nor python3 to read JSON with"
	fi
}

@test "decision_matrix's table fits in 100 columns" {
	matrix_quick
	assert_clean_exit
	printf '%s\n' "$output" | grep -v '^row=' | awk 'length($0) >= 100 { print; bad = 1 } END { exit bad }' ||
		flunk "lines of 100 columns or more"
}

@test "decision_matrix --rows runs only the rows named, in the matrix's order" {
	run_prog 60 decision_matrix --quick --quiet --rows crunching,images --kv
	assert_clean_exit
	[ "$(printf '%s\n' "$output" | sed -n 's/^row=\([^ ]*\) approach=sequential .*/\1/p' | tr '\n' ' ')" = "images crunching " ] ||
		flunk "expected the rows images and crunching:" "$output"
	[ "$(matrix_table_rows | wc -l)" -eq 2 ] || flunk "expected two rows in the table:" "$output"
}

@test "decision_matrix: bad input is one line on stderr and exit status 2" {
	local bad
	for bad in "--workers 0" "--workers x" "--rows nope" "--rows ," "--json" "--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 decision_matrix $bad
		assert_usage_error decision_matrix || { flunk "for: $bad"; return 1; }
	done
	run_prog 10 decision_matrix --json ""
	assert_usage_error decision_matrix
}

@test "decision_matrix --help describes it and exits 0" {
	run_prog 10 decision_matrix --help
	assert_clean_exit
	[[ $output == "usage: decision_matrix "* ]] || flunk "no usage line:" "$output"
}

@test "decision_matrix reports lost stdout, and leaves no temporary file behind" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	assert_reports_lost_output 60 decision_matrix "--quick --quiet --rows crunching" \
		test -z "$(ls -A "$TMPDIR")"
}

# matrix_run_gated ARGS... -- GATE: start the program with ARGS in the
# background, its stderr into a fifo; wait for the progress line GATE; set
# MATRIX_PID (timeout's), MATRIX_PROG (the program's), MATRIX_FD (the fifo,
# still open) and MATRIX_KIDS (the program's children at the gate: the
# pool's workers and the loopback server).
matrix_run_gated() {
	local gate=${*: -1} fifo=$BATS_TEST_TMPDIR/err
	set -- "${@:1:$#-2}"
	mkfifo "$fifo"
	timeout -k 5 60 "$(prog decision_matrix)" "$@" >"$BATS_TEST_TMPDIR/out" 2>"$fifo" &
	MATRIX_PID=$!
	exec {MATRIX_FD}<"$fifo"
	matrix_wait_for "$MATRIX_FD" "$gate" || return 1
	MATRIX_PROG=$(pgrep -P "$MATRIX_PID")
	mapfile -t MATRIX_KIDS < <(pgrep -P "$MATRIX_PROG")
	# At least the server and one worker.
	[ "${#MATRIX_KIDS[@]}" -ge 2 ] || flunk "expected its workers and server, found: ${MATRIX_KIDS[*]}"
}

@test "decision_matrix reaps its workers and its server, and removes its database, when it ends" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	matrix_run_gated --quick --rows few-downloads,few-queries -- "download 5 files: sequential..." || return 1
	cat <&"$MATRIX_FD" >"$BATS_TEST_TMPDIR/rest"
	exec {MATRIX_FD}<&-
	wait "$MATRIX_PID" && status=0 || status=$?
	[ "$status" -eq 0 ] || flunk "exit status $status:" "$(cat "$BATS_TEST_TMPDIR/rest")"
	matrix_all_gone "${MATRIX_KIDS[@]}"
	[ -z "$(ls -A "$TMPDIR")" ] || flunk "left behind:" "$(ls -AR "$TMPDIR")"
}

@test "decision_matrix stopped by Ctrl-C (SIGINT) mid-row leaves no process, server or file behind" {
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	matrix_run_gated --quick --rows many-downloads -- "download 100 files: sequential..." || return 1
	kill -INT "$MATRIX_PROG"
	cat <&"$MATRIX_FD" >"$BATS_TEST_TMPDIR/rest"
	exec {MATRIX_FD}<&-
	wait "$MATRIX_PID" && status=0 || status=$?
	[ "$status" -eq 130 ] || flunk "SIGINT should end it as SIGINT does; exit status $status:" \
		"$(cat "$BATS_TEST_TMPDIR/rest")"
	# It reaped them before the signal ended it: wait has returned, so
	# nothing may be left, not even a zombie.
	matrix_all_gone "${MATRIX_KIDS[@]}"
	[ -z "$(ls -A "$TMPDIR")" ] || flunk "left behind:" "$(ls -AR "$TMPDIR")"
}
