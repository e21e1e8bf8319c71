#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 03, libcurl multi in the loop: http_get.h's callback API and its
# awaitable GET (tests/progs/03-asyncio/hg_probe.c), and the fetch_all demo.
#
# Every scene runs on both loop backends (WB_LOOP_BACKEND=epoll and poll),
# against the loopback server (tests/fixtures/httpd.c), whose bodies are a
# pattern any byte of which can be checked from its offset.  Orders are
# forced by what a server sees, never by sleeps; every program runs under a
# timeout.
# tsan: no threads (hg_probe, fetch_all and httpd run on one thread each; curl
# connects to numeric addresses without a resolver thread)

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=03-asyncio
load helpers/common
load helpers/server

teardown() {
	server_stop
}

CURL_BACKENDS=(epoll poll)

# curl_line KEY=VALUE: the output line of the probe's request KEY=VALUE.
curl_line() {
	printf '%s\n' "$output" | grep -m1 "^$1 "
}

# curl_expect_req INDEX PATTERN: request INDEX's line matches PATTERN.
curl_expect_req() {
	local line
	line=$(curl_line "req=$1")
	# shellcheck disable=SC2053  # $2 is a glob pattern on purpose
	[[ $line == $2 ]] && return 0
	flunk "request $1 should match '$2'; got: ${line:-(no line)}" "$output"
}

# curl_expect KEY WANT WHAT: the program printed KEY=WANT.
curl_expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] && return 0
	flunk "$3: got $1=${got:-(nothing)}, want $1=$2" "$output"
}

# Set CURL_DEAD_PORT to a port that refuses connections: a stopped server's.
curl_refused_port() {
	server_start || return 1
	CURL_DEAD_PORT=$SERVER_PORT
	server_stop || return 1
	if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$CURL_DEAD_PORT" 2>/dev/null; then
		skip "port $CURL_DEAD_PORT was taken again before the test could use it"
	fi
}

# ------------------------------------------------------------ the glue

@test "http_get: many GETs at once on one loop, each body whole and checked, curl never re-entered" {
	server_start
	local b urls=("$SERVER_URL/file?size=100000&delay_ms=200" "$SERVER_URL/file?size=0"
		"$SERVER_URL/file?size=17" "$SERVER_URL/file?size=300000&delay_ms=100"
		"$SERVER_URL/file?size=1000")
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe get "${urls[@]}"
		assert_clean_exit || return 1
		curl_expect backend "$b" "the backend" || return 1
		curl_expect_req 0 "* err=0 status=200 bytes=100000 length=100000 body=pattern *" || return 1
		curl_expect_req 1 "* err=0 status=200 bytes=0 length=0 body=pattern *" || return 1
		curl_expect_req 2 "* err=0 status=200 bytes=17 length=17 body=pattern *" || return 1
		curl_expect_req 3 "* err=0 status=200 bytes=300000 length=300000 body=pattern *" || return 1
		curl_expect_req 4 "* err=0 status=200 bytes=1000 length=1000 body=pattern *" || return 1
		# All five were in curl's hands at once, and each callback ran once.
		curl_expect peak 5 "transfers in flight at once ($b)" || return 1
		curl_expect started_in_flight 5 "transfers in curl's hands after hg_start ($b)" || return 1
		curl_expect callbacks 5 "completion callbacks ($b)" || return 1
		curl_expect in_flight 0 "transfers left ($b)" || return 1
		curl_expect fds_left 0 "descriptors left open after hg_free ($b)" || return 1
		# curl's 0 ms timeouts were run by the loop, never from inside curl.
		curl_expect reentered 0 "calls into curl from inside a call into curl ($b)" || return 1
	done
}

@test "http_get: refused connections, timeouts, 5xx, resets, cut bodies and overflows are each request's own" {
	curl_refused_port
	server_start
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe get "http://127.0.0.1:$CURL_DEAD_PORT/file" \
			"$SERVER_URL/status/503" "$SERVER_URL/truncate?size=1000" "$SERVER_URL/reset" \
			"$SERVER_URL/file?size=2000000" "$SERVER_URL/file?size=64"
		assert_clean_exit || return 1
		# curl=7 is CURLE_COULDNT_CONNECT, curl's own code beside err.
		curl_expect_req 0 "* err=ECONNREFUSED status=0 bytes=0 * curl=7 *" || return 1
		curl_expect_req 1 "* err=0 status=503 bytes=0 * curl=0 errmsg=''" || return 1
		curl_expect_req 2 "* err=ECONNRESET status=200 bytes=500 length=1000 *remaining*" || return 1
		curl_expect_req 3 "* err=ECONNRESET status=0 *" || return 1
		# The buffer holds 1 MiB; what would not fit stopped the transfer.
		curl_expect_req 4 "* err=EMSGSIZE status=200 bytes=* length=2000000 *larger than its 1048576-byte buffer*" ||
			return 1
		curl_expect_req 5 "* err=0 status=200 bytes=64 length=64 body=pattern *" || return 1
		curl_expect fds_left 0 "descriptors left open ($b)" || return 1
	done
}

@test "http_get: a transfer that outlives its timeout_ms ends with ETIMEDOUT, no sooner" {
	server_start
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe get --timeout-ms 400 "$SERVER_URL/hang" \
			"$SERVER_URL/file?size=10&delay_ms=100"
		assert_clean_exit || return 1
		curl_expect_req 0 "* err=ETIMEDOUT status=0 *" || return 1
		curl_expect_req 1 "* err=0 status=200 bytes=10 *" || return 1
		assert_between "$(value wait_ms)" 400 "$(awk -v s="$(slack 300)" 'BEGIN { print 400 + s }')" \
			"ms until the timeout ($b)" || return 1
	done
}

@test "http_get: the loop sleeps while a transfer waits for its server" {
	server_start
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe get "$SERVER_URL/file?size=10&delay_ms=600"
		assert_clean_exit || return 1
		curl_expect_req 0 "* err=0 status=200 bytes=10 *" || return 1
		assert_at_least "$(value wait_ms)" 600 "ms waited ($b)" || return 1
		assert_waits_asleep wait "the loop waiting for a 600 ms response ($b)" || return 1
	done
}

@test "http_get: a completion callback may start the next transfer" {
	server_start
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe chain 50 "$SERVER_URL/file?size=100"
		assert_clean_exit || return 1
		curl_expect ok 50 "transfers chained from callbacks ($b)" || return 1
		curl_expect failed 0 "failed transfers ($b)" || return 1
		curl_expect peak 1 "in flight at once ($b)" || return 1
		curl_expect reentered 0 "calls into curl from inside a call into curl ($b)" || return 1
	done
}

@test "http_get: a cancelled transfer leaves curl, closes its socket and never calls back" {
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe cancel
		assert_clean_exit || return 1
		curl_expect callbacks 0 "callbacks after a cancel ($b)" || return 1
		curl_expect err ECANCELED "the request's err ($b)" || return 1
		curl_expect in_flight 0 "transfers left ($b)" || return 1
		# The server's view: the client's end of the connection was closed.
		curl_expect peer_eof 1 "the server saw end-of-file ($b)" || return 1
		curl_expect closed_by_cancel 1 "descriptors hg_cancel closed ($b)" || return 1
		curl_expect fds_left 0 "descriptors left open ($b)" || return 1
	done
}

@test "http_get: unwatching a socket after it was closed is harmless, and its number works again" {
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 10 hg_probe closed
		assert_clean_exit || return 1
		curl_expect reused 1 "the new socket got the closed one's number ($b)" || return 1
		curl_expect watch 0 "watching the reused number ($b)" || return 1
		curl_expect fired 1 "the reused number's callback ($b)" || return 1
	done
}

# ------------------------------------------------------- the awaitable

@test "hg_get: a task awaits a GET and finds status, bytes and body in its frame" {
	server_start
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe await "$SERVER_URL/file?size=5000&delay_ms=100" 5000
		assert_clean_exit || return 1
		curl_expect wait_for 0 "wait_for's result ($b)" || return 1
		curl_expect get 0 "the awaited GET's result ($b)" || return 1
		curl_expect status 200 "the status ($b)" || return 1
		curl_expect bytes 5000 "the bytes ($b)" || return 1
		curl_expect body pattern "the body in the frame ($b)" || return 1
		assert_at_least "$(value elapsed_ms)" 100 "ms for a 100 ms response ($b)" || return 1
		curl_expect fds_left 0 "descriptors left open ($b)" || return 1
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe await "$SERVER_URL/status/503" 5000
		assert_clean_exit || return 1
		curl_expect get 0 "a 503 is a response, not an error of the transfer ($b)" || return 1
		curl_expect status 503 "the status ($b)" || return 1
	done
}

@test "hg_get: wait_for's timeout cancels the GET, removes the transfer and waits for the task's cleanup" {
	server_start
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe await "$SERVER_URL/hang" 300
		assert_clean_exit || return 1
		curl_expect wait_for ETIMEDOUT "wait_for's result ($b)" || return 1
		curl_expect get ECANCELED "what the inner task's await saw ($b)" || return 1
		curl_expect cleaned_up 1 "the inner task's cleanup ran before wait_for returned ($b)" || return 1
		curl_expect in_flight 0 "transfers left in curl ($b)" || return 1
		assert_between "$(value elapsed_ms)" 300 "$(awk -v s="$(slack 200)" 'BEGIN { print 300 + s }')" \
			"ms until the timeout ($b)" || return 1
		curl_expect fds_left 0 "descriptors left open ($b)" || return 1
	done
}

@test "hg_get: cancelling the awaiting task closes the transfer's socket at once" {
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 20 hg_probe await-cancel
		assert_clean_exit || return 1
		curl_expect get ECANCELED "the await's result ($b)" || return 1
		curl_expect cleaned_up 1 "the task ran on after its await ($b)" || return 1
		curl_expect in_flight 0 "transfers left in curl ($b)" || return 1
		curl_expect closed_by_cancel 1 "descriptors co_task_cancel closed ($b)" || return 1
		curl_expect peer_eof 1 "the server saw end-of-file ($b)" || return 1
		curl_expect fds_left 0 "descriptors left open ($b)" || return 1
	done
}

# ----------------------------------------------------------- fetch_all

@test "fetch_all: 1,000 downloads of 100 ms, 50 at a time, take about 2.0 s, every byte checked, never more than 50 in flight" {
	server_start --max-conns 200
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 60 fetch_all --port "$SERVER_PORT" --count 1000 --limit 50 \
			--delay-ms 100 --size 3000
		assert_clean_exit || return 1
		curl_expect downloads 1000 "downloads ($b)" || return 1
		# ok counts only bodies whose every byte is the server's pattern.
		curl_expect ok 1000 "downloads that came whole and checked ($b)" || return 1
		curl_expect failed 0 "failed downloads ($b)" || return 1
		curl_expect timed_out 0 "timed-out downloads ($b)" || return 1
		curl_expect bytes 3000000 "bytes ($b)" || return 1
		# The Semaphore's limit was reached, and never passed.
		curl_expect peak 50 "transfers in flight at once ($b)" || return 1
		curl_expect holding 50 "tasks holding a permit at once ($b)" || return 1
		curl_expect ideal 2.000 "the ideal time ($b)" || return 1
		assert_between "$(value elapsed)" 2.0 "$(awk -v s="$(slack 1.0)" 'BEGIN { print 2.0 + s }')" \
			"seconds for 20 rounds of 100 ms ($b)" || return 1
	done
}

@test "fetch_all: a --limit above the soft descriptor limit raises it, or is refused past the hard one" {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] || [ "$hard" -ge 1000 ] || skip "the hard descriptor limit ($hard) is too low"
	server_start --max-conns 600
	# With room for only 200 descriptors, 500 sockets at once still open.
	run --separate-stderr timeout -k 5 30 bash -c 'ulimit -Sn 200 && exec "$@"' _ "$(prog fetch_all)" \
		--port "$SERVER_PORT" --count 500 --limit 500 --delay-ms 100
	assert_clean_exit
	curl_expect ok 500 "downloads"
	curl_expect peak 500 "transfers in flight at once"
	run --separate-stderr timeout -k 5 30 bash -c 'ulimit -n 200 && exec "$@"' _ "$(prog fetch_all)" \
		--port "$SERVER_PORT" --count 500 --limit 500
	assert_usage_error fetch_all
	[[ $stderr == *"--limit 500 needs"*"the limit is 200"* ]] || flunk "the reason:" "$stderr"
}

@test "fetch_all: timeouts, refused connections, 5xx and cut bodies are reported per download" {
	curl_refused_port
	server_start
	local b
	for b in "${CURL_BACKENDS[@]}"; do
		WB_LOOP_BACKEND=$b run_prog 30 fetch_all --timeout-ms 300 --limit 3 \
			--url "$SERVER_URL/file?size=100" \
			--url "$SERVER_URL/hang" \
			--url "http://127.0.0.1:$CURL_DEAD_PORT/file" \
			--url "$SERVER_URL/status/503" \
			--url "$SERVER_URL/truncate?size=1000" \
			--url "$SERVER_URL/file?size=5000&delay_ms=50"
		assert_status 1 || return 1
		[ -z "$stderr" ] || flunk "a failed download is not an error of the program:" "$stderr" || return 1
		curl_line "download 1" | grep -q "^download 1 timed out: timed out after 300 ms (.*/hang)$" ||
			flunk "download 1 should time out ($b):" "$output" || return 1
		curl_line "download 2" | grep -q "^download 2 failed: .*[Cc]onnect.*:$CURL_DEAD_PORT/file)$" ||
			flunk "download 2 should be refused ($b):" "$output" || return 1
		curl_line "download 3" | grep -q "^download 3 failed: HTTP status 503 " ||
			flunk "download 3 should fail with its 503 ($b):" "$output" || return 1
		curl_line "download 4" | grep -q "^download 4 failed: .*remaining" ||
			flunk "download 4 should be cut short ($b):" "$output" || return 1
		! curl_line "download 0" && ! curl_line "download 5" ||
			flunk "downloads 0 and 5 came whole and get no line ($b):" "$output" || return 1
		curl_expect ok 2 "whole downloads ($b)" || return 1
		curl_expect failed 3 "failed downloads ($b)" || return 1
		curl_expect timed_out 1 "timed-out downloads ($b)" || return 1
	done
}

@test "fetch_all: a download that times out gives its permit to the next one" {
	server_start
	run_prog 30 fetch_all --timeout-ms 200 --limit 2 --url "$SERVER_URL/hang" --url "$SERVER_URL/hang" \
		--url "$SERVER_URL/file?size=10"
	assert_status 1
	curl_expect timed_out 2 "timed-out downloads"
	curl_expect ok 1 "the download after them, once their permits came back"
	# Each hang held its permit for its 200 ms, the third waited for one.
	assert_between "$(value elapsed)" 0.2 "$(awk -v s="$(slack 0.3)" 'BEGIN { print 0.2 + s }')" "seconds"
}

@test "fetch_all draws a progress bar on a terminal, and none elsewhere" {
	command -v script >/dev/null || skip "script(1) is not installed"
	server_start
	local log=$BATS_TEST_TMPDIR/tty.log
	# script(1) runs it on a pseudo-terminal and copies what it drew to the log.
	run timeout -k 5 30 script -qec "$(prog fetch_all) --port $SERVER_PORT --count 20 --limit 5 --delay-ms 50" "$log"
	assert_status 0
	grep -q $'\r\[########################################\] 20/20, 0 in flight' "$log" ||
		flunk "no full bar on the terminal:" "$(cat -v "$log")"
	run_prog 30 fetch_all --port "$SERVER_PORT" --count 20 --limit 5 --delay-ms 50
	assert_clean_exit
	[[ $output != *$'\r'* && $output != *"in flight"$'\n'* ]] || flunk "a bar drawn into a pipe:" "$output"
}

@test "fetch_all starts and stops its own server when given no --port" {
	run_prog 30 fetch_all --count 20 --limit 5 --delay-ms 20
	assert_clean_exit
	curl_expect ok 20 "downloads from its own server"
	local pid
	pid=$(printf '%s\n' "$output" | sed -n 's/^Started the loopback server (pid \([0-9]*\)).*/\1/p')
	[ -n "$pid" ] || flunk "it should say which server it started:" "$output"
	! kill -0 "$pid" 2>/dev/null || flunk "its server (pid $pid) outlived it"
}

@test "fetch_all: Ctrl-C stops it, its server and its temporary directory with it" {
	local out=$BATS_TEST_TMPDIR/out pid server i
	mkdir "$BATS_TEST_TMPDIR/tmp"
	# timeout passes the SIGINT on to the program, and still bounds it.
	TMPDIR=$BATS_TEST_TMPDIR/tmp timeout -k 5 30 "$(prog fetch_all)" --count 10 --delay-ms 20000 \
		>"$out" 2>&1 3>&- &
	pid=$!
	# The gate: the downloads have begun once it says so.
	for ((i = 0; i < 100; i++)); do
		grep -q '^Fetching' "$out" && break
		sleep 0.1
	done
	server=$(sed -n 's/^Started the loopback server (pid \([0-9]*\)).*/\1/p' "$out")
	[ -n "$server" ] || { kill "$pid"; flunk "it never started fetching:" "$(cat "$out")"; return 1; }
	kill -INT "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 130 ] || flunk "SIGINT should end it as SIGINT does (status 130), not $status:" "$(cat "$out")"
	! kill -0 "$server" 2>/dev/null || flunk "its server (pid $server) outlived it"
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] || flunk "left behind:" "$(ls -A "$BATS_TEST_TMPDIR/tmp")"
}

@test "fetch_all: --help, and bad input is one line and exit status 2" {
	run_prog 10 fetch_all --help
	assert_clean_exit
	[[ ${lines[0]} == "usage: fetch_all "* ]] || flunk "--help should start with usage:" "$output"
	local bad
	for bad in "--count 0" "--count abc" "--limit 0" "--limit 1001" "--delay-ms -1" \
		"--size 99999999999999999999" "--timeout-ms 0" "--port 70000" "--url ftp://x" \
		"--url http://x --count 3" "--url http://[::1" "--url http://127.0.0.1:99999/" \
		"--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 fetch_all $bad
		assert_usage_error fetch_all || flunk "for: fetch_all $bad" || return 1
	done
}

@test "fetch_all: output it could not write is an error" {
	server_start
	assert_reports_lost_output 20 fetch_all "--port $SERVER_PORT --count 3 --delay-ms 0"
}
