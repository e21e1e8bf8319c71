#!/usr/bin/env bats
# shellcheck disable=SC2154  # bats' run sets status, output, stderr
# Chapter 03, async_server: the request-head parser (http_head.h, through
# tests/progs/03-asyncio/srv_head.c), then the server itself - many clients
# at once on one thread, keep-alive, and every kind of bad client survived,
# on both of the loop's backends.
#
# Every server is started on 127.0.0.1 port 0 by srv_start and stopped by
# srv_stop, from teardown too, which requires a clean exit: status 0 and
# nothing on stderr, so under ASan a leak fails the test that caused it.
# Clients are bounded: tests/progs/03-asyncio/srv_load.c and
# tests/fixtures/slowclients.c, each under a timeout.
# tsan: no threads (async_server, srv_load and srv_head run on one thread each)

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=03-asyncio
load helpers/common

# The loop's backend for the next srv_start; --quiet unless cleared.
# WB_LOOP_BACKEND=poll runs every check of this file on poll.
SRV_BACKEND=${WB_LOOP_BACKEND:-epoll}
SRV_QUIET=--quiet

teardown() {
	srv_stop
}

# ---------------------------------------------------------------- helpers

# srv_start [ARGS...]: start async_server on a free port and wait for it to
# report the port.  Sets SRV_PID (the server's own pid) and SRV_PORT.  With
# SRV_FDS set, the server runs under `ulimit -n $SRV_FDS`.
srv_start() {
	local portfile=$BATS_TEST_TMPDIR/srv.port i
	local -a limit=()
	# shellcheck disable=SC2016  # the inner shell expands them
	[ -z "${SRV_FDS:-}" ] || limit=(bash -c 'ulimit -n "$0" && exec "$@"' "$SRV_FDS")
	rm -f "$portfile"
	# As in helpers/server.bash: --foreground so that timeout signals the
	# server alone, output to files so that no background job holds bats'
	# descriptors.
	WB_LOOP_BACKEND=$SRV_BACKEND timeout --foreground -k 5 120 "${limit[@]}" \
		"$(prog async_server)" ${SRV_QUIET:+"$SRV_QUIET"} --port 0 --port-file "$portfile" "$@" \
		>"$BATS_TEST_TMPDIR/srv.out" 2>"$BATS_TEST_TMPDIR/srv.err" 3>&- &
	_srv_wrapper=$!
	for ((i = 0; i < 100; i++)); do
		[ -s "$portfile" ] && break
		kill -0 "$_srv_wrapper" 2>/dev/null ||
			{ flunk "async_server exited before listening:" "$(cat "$BATS_TEST_TMPDIR/srv.err")"; return 1; }
		sleep 0.05
	done
	SRV_PID=$(ps -o pid= --ppid "$_srv_wrapper" | tr -d ' ')
	if [ ! -s "$portfile" ] || [ -z "$SRV_PID" ]; then
		flunk "async_server did not report a port within 5 s"
		srv_stop KILL
		return 1
	fi
	SRV_PORT=$(<"$portfile")
}

# srv_stop [SIGNAL]: send SIGNAL (TERM) and require that the server exits
# within 5 s with status 0 and a silent stderr.  Its summary line goes to
# SRV_SUMMARY.  Safe to call twice.
srv_stop() {
	local sig=${1:-TERM} wrapper=${_srv_wrapper:-} st=0 i
	[ -n "$wrapper" ] || return 0
	unset _srv_wrapper
	[ -z "${SRV_PID:-}" ] || kill -s "$sig" "$SRV_PID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$wrapper" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$wrapper" 2>/dev/null; then
		kill -KILL "$SRV_PID" "$wrapper" 2>/dev/null || true
		wait "$wrapper" 2>/dev/null || true
		flunk "async_server did not stop within 5 s of SIG$sig"
		return 1
	fi
	wait "$wrapper" || st=$?
	SRV_SUMMARY=$(grep '^stopped: ' "$BATS_TEST_TMPDIR/srv.out" || true)
	[ "$st" -eq 0 ] && [ ! -s "$BATS_TEST_TMPDIR/srv.err" ] && return 0
	flunk "async_server exited with status $st after SIG$sig; stderr:" \
		"$(head -c 3000 "$BATS_TEST_TMPDIR/srv.err")"
}

# srv_stat KEY: KEY's value in the summary the server printed as it stopped.
srv_stat() {
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$SRV_SUMMARY"
}

# srv_expect_stat KEY WANT
srv_expect_stat() {
	[ "$(srv_stat "$1")" = "$2" ] && return 0
	flunk "the server counted $1=$(srv_stat "$1"), want $2:" "$SRV_SUMMARY"
}

# srv_load SECONDS ARGS...: the load client against the running server.
srv_load() {
	local secs=$1
	shift
	run_prog "$secs" srv_load --port "$SRV_PORT" "$@"
	assert_clean_exit
}

# srv_expect KEY WANT WHAT: the last program printed KEY=WANT.
srv_expect() {
	[ "$(value "$1")" = "$2" ] && return 0
	flunk "$3: got $1=$(value "$1"), want $2:" "$output"
}

# A normal client is served: one request, its reply checked byte by byte.
srv_serves_normal_client() {
	srv_load 20 --path /bytes/5000
	srv_expect ok 1 "a normal client after that one"
}

# After a full house: the server lets go of each connection as it reads
# its client's close, which may come after the next connect, so room comes
# back soon if not at once.  A normal client is served within a second.
srv_serves_when_room_is_back() {
	local i
	for ((i = 0; i < 20; i++)); do
		srv_load 20 --path /bytes/5000
		[ "$(value ok)" = 1 ] && return 0
		sleep 0.05
	done
	flunk "no room for a client a second after the others left:" "$output"
}

# srv_slow SECONDS ARGS...: tests/fixtures/slowclients against the server;
# one line per connection in $lines, "MS HOW".
srv_slow() {
	local secs=$1
	shift
	run --separate-stderr timeout -k 5 "$secs" "$WB_FIXTURES/slowclients" --port "$SRV_PORT" "$@"
	assert_clean_exit
}

# srv_expect_end LINE HOW LOW HIGH WHAT: connection LINE (0-based) of
# slowclients ended as HOW after LOW..HIGH ms.
srv_expect_end() {
	local ms how
	read -r ms how <<<"${lines[$1]}"
	[ "$how" = "$2" ] || { flunk "$5: ended as '$how' after ${ms} ms, want $2:" "$output"; return 1; }
	assert_between "$ms" "$3" "$4" "$5 (ms)"
}

# srv_head ARGS...: the parser's driver.
srv_head() {
	run_prog 10 srv_head "$@"
	assert_clean_exit
}

srv_head_says() {
	[ "$output" = "$1" ] && return 0
	flunk "http_head_parse said:" "  $output" "want:" "  $1"
}

# ---------------------------------------------------------------- http_head

@test "http_head: a whole head gives its method, target, version and size, decided by its last byte" {
	srv_head $'GET /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\n'
	srv_head_says "complete at=35 size=35 method=GET target=/bytes/10 minor=1 keep_alive=1 has_body=0"
	# What follows the head (a pipelined request) is not part of it.
	srv_head $'HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n'
	srv_head_says "complete at=19 size=19 method=HEAD target=/ minor=1 keep_alive=1 has_body=0"
	# Lines may end in a bare LF.
	srv_head $'GET /x HTTP/1.1\nA: b\n\n'
	srv_head_says "complete at=22 size=22 method=GET target=/x minor=1 keep_alive=1 has_body=0"
}

@test "http_head: HTTP/1.1 keeps the connection unless it says close; HTTP/1.0 only if it asks" {
	srv_head $'GET / HTTP/1.1\r\nConnection: Upgrade, Close\r\n\r\n'
	[[ $output == *" keep_alive=0 "* ]] || flunk "1.1 with close" "$output"
	srv_head $'GET / HTTP/1.0\r\n\r\n'
	[[ $output == *" minor=0 keep_alive=0 "* ]] || flunk "plain 1.0" "$output"
	srv_head $'GET / HTTP/1.0\r\nconnection:  keep-alive \r\n\r\n'
	[[ $output == *" minor=0 keep_alive=1 "* ]] || flunk "1.0 with keep-alive" "$output"
}

@test "http_head: a request with a body says so" {
	srv_head $'GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n'
	[[ $output == *" has_body=0" ]] || flunk "length 0" "$output"
	srv_head $'GET / HTTP/1.1\r\nContent-Length: 12\r\n\r\n'
	[[ $output == *" has_body=1" ]] || flunk "length 12" "$output"
	srv_head $'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
	[[ $output == *" has_body=1" ]] || flunk "chunked" "$output"
}

@test "http_head: a bad request line is malformed as soon as its line ends, before the head does" {
	local line
	for line in "get / HTTP/1.1" "GET  / HTTP/1.1" "GET x HTTP/1.1" "GET / HTTP/2.0" \
		"GET / HTTP/1.1 " "GET /a"$'\x01'"b HTTP/1.1" "GET / HTTP/1.1"$'\r\r' "" \
		"VERYLONGMETHODNAME / HTTP/1.1"; do
		srv_head "$line"$'\r\nHost: a\r\n\r\n'
		srv_head_says "malformed at=$((${#line} + 2))" || { flunk "for: '$line'"; return 1; }
	done
}

@test "http_head: a bad header line is malformed: a space in a name, a folded line, a control byte, a bad Content-Length" {
	local req=$'GET / HTTP/1.1\r\n' bad
	for bad in "Ho st: a" "Host : a" " folded" ": no name" "no colon" \
		"A: b"$'\x7f' "A: b"$'\rc' "Content-Length: 1x" "Content-Length: -1" \
		"Content-Length:"; do
		srv_head "$req$bad"$'\r\n\r\n'
		srv_head_says "malformed at=$((${#req} + ${#bad} + 2))" || { flunk "for: '$bad'"; return 1; }
	done
}

@test "http_head: a head with no end within the limit is too large, decided at exactly the limit" {
	srv_head --max 40 $'GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n'
	srv_head_says "too_large at=40"
	# A head that ends exactly at the limit fits.
	srv_head --max 18 $'GET / HTTP/1.1\r\n\r\n'
	srv_head_says "complete at=18 size=18 method=GET target=/ minor=1 keep_alive=1 has_body=0"
	srv_head --max 17 $'GET / HTTP/1.1\r\n\r\n'
	srv_head_says "too_large at=17"
	srv_head $'GET / HTTP/1.1\r\nHost: a'
	srv_head_says "incomplete"
}

@test "srv_head: bad input gets one line and status 2" {
	run_prog 10 srv_head --max 0 x
	assert_usage_error srv_head
	run_prog 10 srv_head
	assert_usage_error srv_head
}

# ---------------------------------------------------------------- the server

@test "async_server --help says what it serves; bad input gets one line and status 2" {
	run_prog 10 async_server --help
	assert_clean_exit
	[[ $output == *"/bytes/N"* && $output == *"/delay/MS"* && $output == *"--max-conns"* ]] ||
		flunk "--help should list the endpoints and flags:" "$output"
	local args
	for args in "--port abc" "--port 65536" "--max-conns 0" "--head-timeout-ms 0" \
		"--idle-timeout-ms x" "--bogus" "extra" "--max-conns 99999999999"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 async_server $args
		assert_usage_error async_server || { flunk "for: $args"; return 1; }
	done
	WB_LOOP_BACKEND=select run_prog 10 async_server --port 0
	assert_usage_error async_server
}

@test "async_server reports output it could not write" {
	# The port cannot be announced, so the server gives up at once.
	assert_reports_lost_output 10 async_server "--port 0"
}

# srv_thousand: 1,000 clients at once, each one request that sleeps 500 ms
# in the server, then 1,000 clients of three keep-alive requests each.
srv_thousand() {
	srv_start
	srv_load 60 --conns 1000 --path /delay/500
	srv_expect ok 1000 "1,000 clients sleeping 500 ms at once"
	srv_expect failed 0 "1,000 clients sleeping 500 ms at once"
	# One thread, yet they all waited together: about 0.5 s, not 1,000 x 0.5.
	assert_between "$(value elapsed_ms)" 500 "$(slack 2500)" "1,000 x 500 ms on one thread"
	# The listen backlog holds the whole burst: no connect waited for a
	# SYN retry, which comes only after a full second.  (Unless the kernel
	# caps every backlog below 1,000: net.core.somaxconn, 4096 since 5.4.)
	if [ "$(cat /proc/sys/net/core/somaxconn)" -ge 1000 ]; then
		assert_between "$(value connect_max_ms)" 0 900 "the slowest of 1,000 connects"
	fi
	srv_load 120 --conns 1000 --requests 3 --path /bytes/100000
	srv_expect ok 3000 "1,000 clients x 3 requests of 100,000 bytes, every byte checked"
	srv_stop
	srv_expect_stat backend "$SRV_BACKEND"
	srv_expect_stat connections 2000
	srv_expect_stat status_200 4000
}

@test "async_server serves 1,000 clients at once on one thread, every byte checked (epoll)" {
	SRV_BACKEND=epoll srv_thousand
}

@test "async_server serves 1,000 clients at once on one thread, every byte checked (poll)" {
	SRV_BACKEND=poll srv_thousand
}

@test "async_server keeps a connection alive: five requests on one, pipelined ones answered in order, HTTP/1.0 only when asked" {
	srv_start
	srv_load 20 --requests 5 --path /bytes/70000
	srv_expect ok 5 "five requests on one connection"
	# Two requests in one write, the second asking to close.
	# shellcheck disable=SC2016  # $1 is the inner shell's
	run timeout -k 5 10 bash -c 'exec 5<>"/dev/tcp/127.0.0.1/$1"
		printf "GET /bytes/3 HTTP/1.1\r\n\r\nGET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n" >&5
		cat <&5' _ "$SRV_PORT"
	assert_status 0
	[[ $output == "HTTP/1.1 200 OK"*$'\r\n\r\n000HTTP/1.1 404 Not Found\r\n'*"Connection: close"* ]] ||
		flunk "two pipelined replies, in order:" "$output"
	[[ ${output%%000HTTP*} != *"Connection: close"* ]] ||
		flunk "the first reply must keep the connection open:" "$output"
	# HTTP/1.0 keeps a connection only when both sides say so.
	# shellcheck disable=SC2016  # $1 is the inner shell's
	run timeout -k 5 10 bash -c 'exec 5<>"/dev/tcp/127.0.0.1/$1"
		printf "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n" >&5
		cat <&5' _ "$SRV_PORT"
	assert_status 0
	[[ $output == *$'Connection: keep-alive\r\n'*$'Connection: close\r\n'* ]] ||
		flunk "HTTP/1.0: kept alive when asked, then closed:" "$output"
	srv_stop
	srv_expect_stat connections 3
	srv_expect_stat replies 9
}

@test "async_server answers HEAD with the head alone, other methods with 405, unknown paths with 404" {
	srv_start
	run timeout -k 5 10 curl -sS -I "http://127.0.0.1:$SRV_PORT/bytes/123456"
	assert_status 0
	[[ $output == *"HTTP/1.1 200"*"Content-Length: 123456"* ]] || flunk "HEAD" "$output"
	run timeout -k 5 10 curl -sS -o /dev/null -w '%{http_code} %{size_download}' -X POST "http://127.0.0.1:$SRV_PORT/"
	[ "$output" = "405 17" ] || flunk "POST: $output"
	run timeout -k 5 10 curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SRV_PORT/bytes/1x"
	[ "$output" = 404 ] || flunk "/bytes/1x: $output"
	srv_stop
}

@test "async_server answers a malformed request with 400 and serves the next client" {
	srv_start
	srv_slow 10 --send $'GET /\x01 HTTP/1.1\r\n\r\n'
	srv_expect_end 0 400 0 "$(slack 2000)" "a malformed request"
	srv_slow 10 --send $'GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello'
	srv_expect_end 0 400 0 "$(slack 2000)" "a request with a body"
	srv_serves_normal_client
	srv_stop
	srv_expect_stat status_400 2
}

@test "async_server answers a head larger than 8 KiB with 431 and serves the next client" {
	srv_start
	srv_slow 10 --send "GET / HTTP/1.1"$'\r\n'"X-Big: $(printf 'a%.0s' {1..9000})"$'\r\n\r\n'
	srv_expect_end 0 431 0 "$(slack 2000)" "an oversized head"
	srv_serves_normal_client
	srv_stop
	srv_expect_stat status_431 1
}

@test "async_server answers a client that says nothing with 408 at the head timeout" {
	srv_start --head-timeout-ms 300
	srv_slow 10 --conns 3
	local i
	for i in 0 1 2; do
		srv_expect_end "$i" 408 300 "$(slack 1500)" "a silent client"
	done
	srv_serves_normal_client
	srv_stop
	srv_expect_stat status_408 3
}

@test "async_server answers a trickling client with 408 at the head timeout, though bytes keep coming" {
	srv_start --head-timeout-ms 400 --idle-timeout-ms 5000
	# One byte every 40 ms: the whole head would need 1.4 s.
	srv_slow 10 --send $'GET / HTTP/1.1\r\nX-Slow: aaaaa\r\n\r\n' --every-ms 40
	srv_expect_end 0 408 400 "$(slack 1200)" "a trickling client"
	srv_serves_normal_client
	srv_stop
}

@test "async_server closes a keep-alive connection left idle, without a word, at the idle timeout" {
	srv_start --idle-timeout-ms 300
	# The reply's status is read, then the connection waits for a request
	# that never comes.
	srv_slow 10 --send $'GET / HTTP/1.1\r\n\r\n'
	srv_expect_end 0 200 300 "$(slack 1500)" "an idle keep-alive connection"
	srv_serves_normal_client
	srv_stop
	srv_expect_stat status_408 0
}

@test "async_server drops a client that stops reading its reply, at the idle timeout" {
	srv_start --idle-timeout-ms 300
	# 50 MB that nobody reads: the sends stall once the buffers are full.
	srv_slow 10 --no-read --send $'GET /bytes/50000000 HTTP/1.1\r\n\r\n'
	srv_expect_end 0 reset 300 "$(slack 2000)" "a client that does not read"
	srv_serves_normal_client
	srv_stop
}

@test "async_server survives clients that reset their connections while their tasks sleep" {
	srv_start
	# Twenty requests for /delay/400, each connection reset after 100 ms:
	# the sleeping tasks learn of it only when they send.
	srv_load 20 --conns 20 --path /delay/400 --abort-ms 100
	srv_expect failed 20 "clients that reset"
	[[ $output == *"why=aborted"* ]] || flunk "the clients should have reset:" "$output"
	srv_load 20 --conns 20 --path /delay/500
	srv_expect ok 20 "clients after the resets"
	srv_stop
	srv_expect_stat connections 40
}

@test "async_server answers 503 at once past --max-conns, and serves again when there is room" {
	srv_start --max-conns 3 --head-timeout-ms 1000
	# Four silent clients, connected one after another: three are served
	# (and time out), the fourth is over the cap.
	srv_slow 10 --conns 4
	local i
	for i in 0 1 2; do
		srv_expect_end "$i" 408 1000 "$(slack 3000)" "a client within the cap"
	done
	srv_expect_end 3 503 0 900 "the client over the cap"
	srv_serves_when_room_is_back
	srv_stop
	srv_expect_stat status_503 1
	srv_expect_stat status_408 3
}

@test "async_server fits its cap to a low descriptor limit, turns the surplus away and serves on" {
	# ulimit -n 64 leaves room for (64 - 16 kept back) / 2 = 24 clients
	# served, and as many again being told 503.
	SRV_FDS=64 srv_start
	srv_load 20 --conns 100 --path /delay/300
	srv_expect ok 24 "100 clients at once with room for 24"
	srv_serves_when_room_is_back
	srv_stop
	srv_expect_stat status_200 25
	[ "$(srv_stat status_503)" -ge 1 ] || flunk "no client was told 503:" "$SRV_SUMMARY"
}

@test "an idle async_server burns no CPU, with a keep-alive connection open" {
	srv_start
	srv_serves_normal_client
	exec 5<>"/dev/tcp/127.0.0.1/$SRV_PORT"
	local t0 t1 w0 w1 hz
	hz=$(getconf CLK_TCK)
	t0=$(awk '{ print $14 + $15 }' "/proc/$SRV_PID/stat")
	w0=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$SRV_PID/status")
	sleep 1 # the window measured, not an order between processes
	t1=$(awk '{ print $14 + $15 }' "/proc/$SRV_PID/stat")
	w1=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$SRV_PID/status")
	exec 5>&-
	output="idle_cpu_ms=$(((t1 - t0) * 1000 / hz)) idle_wakeups=$((w1 - w0))"
	assert_waits_asleep idle "an idle server, one connection open"
	srv_stop
}

@test "SIGINT stops async_server at once with clients waiting in /delay: every connection closed, exit 0" {
	SRV_QUIET='' srv_start
	timeout -k 5 30 "$(prog srv_load)" --port "$SRV_PORT" --conns 20 --path /delay/60000 --wait-ms 20000 \
		>"$BATS_TEST_TMPDIR/load.out" 2>&1 3>&- &
	local load=$! i
	# The gate: the server has logged all 20 requests, so 20 tasks sleep.
	for ((i = 0; i < 200; i++)); do
		[ "$(grep -c '^GET /delay/60000 -> 200' "$BATS_TEST_TMPDIR/srv.out")" -eq 20 ] && break
		sleep 0.05
	done
	[ "$i" -lt 200 ] || { kill "$load"; flunk "the 20 requests did not arrive"; return 1; }
	local t0=$EPOCHREALTIME
	srv_stop INT
	assert_between "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print (b - a) * 1000 }')" \
		0 "$(slack 1000)" "ms from SIGINT to exit"
	wait "$load"
	# Each client saw its connection closed, none waited for its 60 s.
	output=$(cat "$BATS_TEST_TMPDIR/load.out")
	srv_expect ok 0 "clients of a stopped server"
	srv_expect failed 20 "clients of a stopped server"
	[[ $output != *"why=timeout"* ]] || flunk "a client was left waiting:" "$output"
	srv_expect_stat connections 20
}
