#!/usr/bin/env bats
# Chapter 02, multiprocessing: the Manager dict - a server process that owns
# a dictionary, proxies in other processes, one round trip per operation.
#
# Checks named "[02-manager] ..." check the exercise (the server's loop,
# solutions/02-multiprocessing/manager_server.c) through the driver
# mgr_probe, whose scenes are described at its top; the others check
# manager_demo.

CHAPTER=02-multiprocessing
load helpers/common

# Where to look when a check of the exercise fails, and what -ENOSYS means.
mgr_hint() {
	exercise_pointer
	if [[ "$output$stderr" == *ENOSYS* || "$output$stderr" == *"not implemented"* ]]; then
		echo "(\"not implemented yet\" comes from the skeleton's stand-in: that TODO is still to do)"
	fi
}

mgr_clean() {
	assert_clean_exit || flunk "$(mgr_hint)"
}

# mgr_expect_line LINE WHAT: the program printed exactly this line.
mgr_expect_line() {
	printf '%s\n' "$output" | grep -qxF -- "$1" && return 0
	flunk "$2: no line '$1' in the output:" "$output" "$(mgr_hint)"
}

# The server the run printed (the probe's server=PID, the demo's "manager:
# server process PID") is gone: reaped, not a zombie.
mgr_no_server_left() {
	local pid
	pid=$(value server)
	[ -n "$pid" ] || pid=$(sed -n 's/^manager: server process \([0-9]*\),.*/\1/p' <<<"$output")
	[ -n "$pid" ] || { flunk "the run printed no server=PID:" "$output"; return 1; }
	! kill -0 "$pid" 2>/dev/null ||
		flunk "the manager's server $pid is still there: $(ps -o pid=,stat=,args= -p "$pid")"
}

# The probe under the usual bound; its proxies give up after --reply-ms.
mgr_probe() {
	run_prog 30 mgr_probe --reply-ms 3000 "$@"
}

# ------------------------------------------------------------ manager_demo

@test "manager_demo: two processes write \"a\" and \"b\" and the parent reads {\"a\": 1, \"b\": 2}" {
	run_prog 30 manager_demo --procs 2 --ops 10
	assert_clean_exit
	mgr_expect_line 'two processes wrote "a" and "b"; the parent reads: {"a": 1, "b": 2}' \
		"the guide's Manager example"
	mgr_no_server_left
}

@test "manager_demo: get-then-set loses increments, the server's incr loses none, and the rate is measured" {
	run_prog 60 manager_demo --procs 4 --ops 1000
	assert_clean_exit
	[ "$(value expected)" = 4000 ] || flunk "expected should be 4000: $output"
	[ "$(value incr)" = 4000 ] || flunk "incr lost updates: $output"
	# Between a process's get and its set the others are served: with 4000
	# increments racing through one server, some are overwritten.  What
	# holds in every interleaving is the bound; the loss is the lesson.
	assert_between "$(value getset)" 1 3999 "get-then-set count (some updates lost)"
	assert_at_least "$(value ops_per_s)" 1 "round trips per second"
	printf '%s\n' "$output" | grep -qE '^round trips: [0-9]+ per second with 4 processes' ||
		flunk "no round-trip rate line: $output"
	mgr_no_server_left
}

@test "manager_demo: bad input is one line on stderr and exit status 2" {
	for args in "--procs 1" "--procs 65" "--procs abc" "--ops 0" "--ops 1000001" "extra" "--bogus"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 manager_demo $args
		assert_usage_error manager_demo || flunk "for: manager_demo $args"
	done
}

@test "manager_demo --help shows the usage" {
	run_prog 10 manager_demo --help
	assert_clean_exit
	[[ ${lines[0]} == "usage: manager_demo "* ]] || flunk "no usage line: $output"
}

@test "manager_demo reports lost output and leaves no socket directory behind" {
	mgr_no_tmp_left() {
		[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] ||
			flunk "left behind:" "$(ls -AR "$BATS_TEST_TMPDIR/tmp")"
	}
	mkdir "$BATS_TEST_TMPDIR/tmp"
	TMPDIR=$BATS_TEST_TMPDIR/tmp assert_reports_lost_output 30 manager_demo "--procs 2 --ops 10" mgr_no_tmp_left
}

@test "manager_demo stopped by SIGTERM midway leaves no server, no worker and no socket behind" {
	local out=$BATS_TEST_TMPDIR/out pid server
	mkdir "$BATS_TEST_TMPDIR/tmp"
	: >"$out"
	TMPDIR=$BATS_TEST_TMPDIR/tmp timeout -k 5 60 "$(prog manager_demo)" --procs 4 --ops 1000000 >"$out" 2>&1 &
	pid=$!
	# The gate: the demo prints its server's pid before any worker starts.
	timeout 10 grep -q -m1 '^manager: server process' <(tail -f --pid=$pid "$out") ||
		{ kill -9 $pid; flunk "the demo never started its server:" "$(cat "$out")"; return 1; }
	server=$(sed -n 's/^manager: server process \([0-9]*\),.*/\1/p' "$out")
	kill -TERM $pid
	wait $pid || true
	# The server and the workers follow their parent (PR_SET_PDEATHSIG).
	timeout 10 tail --pid="$server" -s 0.05 -f /dev/null ||
		{ flunk "the server $server outlived the demo"; return 1; }
	# shellcheck disable=SC2016  # the inner shell expands $1
	run timeout 10 bash -c 'while pgrep -f -- "$1 --procs 4 --ops 1000000" >/dev/null; do sleep 0.05; done' _ "$(prog manager_demo)"
	[ "$status" -eq 0 ] || flunk "worker processes outlived the demo: $(pgrep -af -- "$(prog manager_demo)")"
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] || flunk "left behind:" "$(ls -AR "$BATS_TEST_TMPDIR/tmp")"
}

# ------------------------------------------------------------ the exercise

@test "[02-manager] entries written by several processes are all there, exactly, and errors are answered" {
	mgr_probe --case contents
	mgr_clean
	local want
	want=$(
		cat <<-'EOF'
			keys=13
			binary intact
			empty= (0 bytes)
			p0-k0=value 0.0 (9 bytes)
			p0-k1=value 0.1 (9 bytes)
			p0-k2=value 0.2 (9 bytes)
			p1-k0=value 1.0 (9 bytes)
			p1-k1=value 1.1 (9 bytes)
			p1-k2=value 1.2 (9 bytes)
			p2-k0=value 2.0 (9 bytes)
			p2-k1=value 2.1 (9 bytes)
			p2-k2=value 2.2 (9 bytes)
			p3-k0=value 3.0 (9 bytes)
			p3-k2=value 3.2 (9 bytes)
			get deleted: ENOENT
			delete missing: ENOENT
			incr text: EILSEQ
			empty key: EINVAL
		EOF
	)
	[ "$(grep -v '^server=' <<<"$output")" = "$want" ] ||
		flunk "the dictionary read back is not what 4 processes wrote (3 keys each, one deleted) plus 'binary' and 'empty':" \
			"$(diff <(echo "$want") <(grep -v '^server=' <<<"$output"))" "$(mgr_hint)"
	mgr_no_server_left
}

@test "[02-manager] incr is atomic: 8 processes x 500 increments give exactly 4000, each value seen once" {
	mgr_probe --case incr --procs 8 --ops 500
	mgr_clean
	mgr_expect_line "counter=4000 expected=4000" "increments were lost"
	mgr_expect_line "returned_sum=exact" "two increments returned the same value"
	mgr_no_server_left
}

@test "[02-manager] malformed frames get an error reply, and the server goes on serving" {
	mgr_probe --case malformed
	mgr_clean
	mgr_expect_line "wrong magic: ERR EPROTO id=none, then closed" "a frame that is not the protocol's"
	mgr_expect_line "oversize: ERR EMSGSIZE id=none, then closed" \
		"a header announcing more than max_frame bytes must be refused before its payload is read"
	mgr_expect_line "unknown kind: ERR EBADRQC id=3" "an unknown request kind"
	mgr_expect_line "key without NUL: ERR EINVAL id=4" "a payload without its key's NUL"
	mgr_expect_line "incr of 3 bytes: ERR EINVAL id=5" "an incr whose delta is not 8 bytes"
	mgr_expect_line "keys with a payload: ERR EINVAL id=6" "a keys request with a payload"
	mgr_expect_line "byte by byte: OK id=7" "a request that arrives one byte at a time"
	mgr_expect_line "then a good client: ok, keep=safe" "the dictionary after the bad requests"
	mgr_no_server_left
}

@test "[02-manager] a client killed halfway through a request costs only its own connection" {
	mgr_probe --case death
	mgr_clean
	mgr_expect_line "while it waits: ok" "the server must serve others while one client is inside a frame"
	mgr_expect_line "a new client after the kill: ok" "the server must go on after a client dies"
	mgr_expect_line "the old client after the kill: ok" "the other clients keep their connections"
	mgr_expect_line "victim: ENOENT" "half a request must change nothing"
	mgr_expect_line "keys: ok other" "the dictionary after the death"
	mgr_no_server_left
}

@test "[02-manager] the client past max_clients is refused with EUSERS, and its place frees when one leaves" {
	mgr_probe --case full
	mgr_clean
	mgr_expect_line "third client: EUSERS" "the client over the limit"
	mgr_expect_line "the first two still served: ok ok" "the clients within the limit"
	mgr_expect_line "after one left: ok" "a place freed by a client that left"
	mgr_expect_line "and it is served: ok" "the client in the freed place"
	mgr_no_server_left
}

@test "[02-manager] a client stuck inside a frame and a silent one are closed after their timeouts" {
	mgr_probe --case timeouts
	mgr_clean
	mgr_expect_line "the idle proxy: ECONNRESET" "a proxy silent longer than idle_ms is closed"
	printf '%s\n' "$output" | grep -q '^stuck inside a frame: closed after_ms=' ||
		flunk "a client stuck inside a frame must be closed after head_ms:" "$output" "$(mgr_hint)"
	printf '%s\n' "$output" | grep -q '^silent: closed idle_after_ms=' ||
		flunk "a silent client must be closed after idle_ms:" "$output" "$(mgr_hint)"
	# 300 ms each; never earlier (a deadline cannot pass early), not much later.
	assert_between "$(value after_ms)" 290 "$(awk -v s="$(slack 700)" 'BEGIN { print 300 + s }')" "head timeout (ms)"
	assert_between "$(value idle_after_ms)" 290 "$(awk -v s="$(slack 700)" 'BEGIN { print 300 + s }')" "idle timeout (ms)"
	mgr_no_server_left
}

@test "[02-manager] the server sleeps in poll while its clients are connected and silent" {
	mgr_probe --case idle
	mgr_clean
	mgr_expect_line "still serving: ok" "the server after the quiet spell"
	assert_waits_asleep server "the manager's server" || flunk "$(mgr_hint)"
	mgr_no_server_left
}

@test "[02-manager] shutdown stops and reaps the server and removes its socket" {
	mkdir "$BATS_TEST_TMPDIR/tmp"
	TMPDIR=$BATS_TEST_TMPDIR/tmp mgr_probe --case shutdown
	mgr_clean
	mgr_expect_line "served: ok" "the server before the shutdown"
	mgr_expect_line "shutdown: ok, status 0" "the server must stop cleanly on SIGTERM (exit status 0)"
	mgr_expect_line "server process: gone" "the server after the shutdown"
	mgr_expect_line "socket file: gone" "the socket after the shutdown"
	mgr_expect_line "a proxy after it: ECONNRESET" "a proxy whose server has gone"
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] || flunk "left behind:" "$(ls -AR "$BATS_TEST_TMPDIR/tmp")"
	mgr_no_server_left
}
