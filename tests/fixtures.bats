#!/usr/bin/env bats
# The loopback HTTP server (tests/fixtures/httpd.c) that the download demos
# and their tests depend on: each endpoint does exactly what it promises.
# tsan: no threads (httpd and the clients run on one thread each)

setup() {
	load helpers/common
	load helpers/server
}

teardown() {
	server_stop
}

# The first $1 bytes of the documented body pattern.
pattern() {
	awk -v n="$1" 'BEGIN { for (o = 0; o < n; o += 16) printf "%015x\n", o }' |
		head -c "$1"
}

# FNV-1a, 32 bits, of file $1, as 8 hex digits.  It runs in a child bash
# because bats traces every command of a test, which slows a byte loop badly.
fnv1a() {
	# shellcheck disable=SC2016 # expanded by the child bash
	timeout 30 bash -c 'h=2166136261
		for b in $(od -An -v -tu1 "$1"); do
			h=$(((h ^ b) * 16777619 & 0xffffffff))
		done
		printf "%08x\n" "$h"' _ "$1"
}

# Send $1 as is on a fresh connection and print the whole answer.
raw_request() {
	# shellcheck disable=SC2016 # expanded by the child bash
	timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%s" "$2" >&3 && cat <&3' \
		_ "$SERVER_PORT" "$1"
}

# Send the bytes that printf makes of the format $1 (the one way to send a
# NUL from bash) on a fresh connection and print the whole answer.
raw_printf() {
	# shellcheck disable=SC2016 # expanded by the child bash
	timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf -- "$2" >&3 && cat <&3' \
		_ "$SERVER_PORT" "$1"
}

# slowclients ARGS...: hold connections to the server like slow or stalled
# clients (tests/fixtures/slowclients.c); one line per connection, "MS END".
slowclients() {
	timeout 30 "$WB_FIXTURES/slowclients" --port "$SERVER_PORT" "$@"
}

# assert_ended FILE COUNT END LOW_MS HIGH_MS: slowclients' report in FILE has
# COUNT connections, and each ended with END between LOW_MS and HIGH_MS.
assert_ended() {
	awk -v n="$2" -v end="$3" -v lo="$4" -v hi="$5" '
		$2 != end || $1 < lo || $1 > hi {
			if (++bad <= 5) print "connection " NR " ended \"" $0 "\", not " end " after " lo " to " hi " ms"
		}
		END {
			if (NR != n) print NR " connections reported, not " n
			exit !(NR == n && bad == 0)
		}' "$1" >&2
}

# The value of header $2 in the header dump $1 (curl -D).
header() {
	tr -d '\r' <"$1" | awk -v h="$2" 'tolower($1) == tolower(h) ":" { print $2 }'
}

fd_count() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l
}

# wait_fd_count PID N: wait (5 s at most) until process PID holds N descriptors.
wait_fd_count() {
	local i
	for ((i = 0; i < 50; i++)); do
		(($(fd_count "$1") == $2)) && return 0
		sleep 0.1
	done
	flunk "httpd holds $(fd_count "$1") descriptors, not $2"
}

# The CPU time (user + system) process $1 has used, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# The server hashes a body's pattern once per size and keeps the result (see
# pattern_checksum()); the first 100 MiB request holds up every client while
# it does.  A HEAD request gets that done before a timed check begins.
hash_largest_body() {
	timeout 30 curl -s -I -o /dev/null "$SERVER_URL/file?size=104857600"
}

# get_while_running PID: fetch /file again and again for as long as process
# PID runs (200 times at most); each answer must be a 200 within a second.
# Prints how many there were.
get_while_running() {
	local n=0 out
	while kill -0 "$1" 2>/dev/null && ((n < 200)); do
		out=$(timeout 5 curl -s -o /dev/null -w '%{http_code} %{time_total}' \
			"$SERVER_URL/file") || true
		if [[ $out != "200 "* ]] || ! awk -v t="${out#200 }" 'BEGIN { exit !(t < 1) }'; then
			flunk "request $((n + 1)) during the hold got '$out', not a 200 within 1 s"
			return 1
		fi
		n=$((n + 1))
		sleep 0.05
	done
	echo "$n"
}

@test "httpd: prints its listening line and writes the port file" {
	server_start
	[[ $SERVER_PORT =~ ^[0-9]+$ ]]
	(( SERVER_PORT > 0 ))
	[ "$(cat "$BATS_TEST_TMPDIR/httpd.out")" = "listening on 127.0.0.1:$SERVER_PORT" ]
}

@test "httpd: listens on 127.0.0.1 only" {
	[[ -r /proc/net/tcp ]] || skip "no /proc/net/tcp"
	server_start
	# Listening sockets (state 0A) on our port, by local address in hex.
	run awk -v port="$(printf '%04X' "$SERVER_PORT")" \
		'$4 == "0A" && substr($2, 10) == port { print substr($2, 1, 8) }' /proc/net/tcp
	[ "$status" -eq 0 ]
	[ "$output" = "0100007F" ]
}

@test "httpd: /file returns exactly size bytes of the documented pattern" {
	server_start
	for size in 0 1 15 16 17 1000 100000 3000000; do
		run timeout 10 curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' \
			"$SERVER_URL/file?size=$size"
		[ "$status" -eq 0 ]
		[ "$output" = 200 ]
		pattern "$size" >"$BATS_TEST_TMPDIR/expected"
		cmp "$BATS_TEST_TMPDIR/body" "$BATS_TEST_TMPDIR/expected"
	done
}

@test "httpd: /file without a query sends the default 1024 bytes with Content-Length" {
	server_start
	run timeout 10 curl -s -D "$BATS_TEST_TMPDIR/head" -o "$BATS_TEST_TMPDIR/body" \
		-w '%{http_code} %{size_download}' "$SERVER_URL/file"
	[ "$status" -eq 0 ]
	[ "$output" = "200 1024" ]
	[ "$(header "$BATS_TEST_TMPDIR/head" Content-Length)" = 1024 ]
	[ "$(header "$BATS_TEST_TMPDIR/head" Connection)" = close ]
}

@test "httpd: the largest body (100 MiB) streams in full" {
	server_start
	run timeout 60 curl -s -o /dev/null -w '%{http_code} %{size_download}' \
		"$SERVER_URL/file?size=104857600"
	[ "$status" -eq 0 ]
	[ "$output" = "200 104857600" ]
}

@test "httpd: X-Checksum is the FNV-1a 32-bit hash of the body" {
	server_start
	# 70000 crosses the server's first 64 KiB checkpoint of the hash.
	for size in 0 1000 70000; do
		run timeout 10 curl -s -D "$BATS_TEST_TMPDIR/head" -o "$BATS_TEST_TMPDIR/body" \
			-w '%{http_code}' "$SERVER_URL/file?size=$size"
		[ "$output" = 200 ]
		[ "$(header "$BATS_TEST_TMPDIR/head" X-Checksum)" = "$(fnv1a "$BATS_TEST_TMPDIR/body")" ]
	done
	[ "$(fnv1a /dev/null)" = 811c9dc5 ]
}

@test "httpd: --corrupt-nth N changes the first byte of the Nth body alone, keeping its length and X-Checksum" {
	server_start --corrupt-nth 2
	local i good
	# A HEAD has no body: it does not count.
	run timeout 10 curl -s -I "$SERVER_URL/file?size=100"
	[ "$status" -eq 0 ]
	for i in 1 2 3; do
		run timeout 10 curl -s -D "$BATS_TEST_TMPDIR/head" -o "$BATS_TEST_TMPDIR/body$i" \
			-w '%{http_code} %{size_download}' "$SERVER_URL/file?size=100"
		[ "$output" = "200 100" ]
		[ "$(header "$BATS_TEST_TMPDIR/head" X-Checksum)" = "$(fnv1a "$BATS_TEST_TMPDIR/body1")" ]
	done
	good=$BATS_TEST_TMPDIR/body1
	cmp -s "$good" "$BATS_TEST_TMPDIR/body3"
	run cmp -s "$good" "$BATS_TEST_TMPDIR/body2"
	[ "$status" -eq 1 ]
	# Only byte 1 differs.
	[ "$(cmp -l "$good" "$BATS_TEST_TMPDIR/body2" | wc -l)" -eq 1 ]
	[ "$(cmp -l "$good" "$BATS_TEST_TMPDIR/body2" | awk '{ print $1 }')" = 1 ]
}

@test "httpd: HEAD answers with the headers of GET and no body" {
	server_start
	run timeout 10 curl -s -I -w '%{http_code} %{size_download}' "$SERVER_URL/file?size=5000"
	[ "$status" -eq 0 ]
	[[ $output == *"Content-Length: 5000"* ]]
	[[ $output == *"200 0" ]]
}

@test "httpd: delay_ms holds the reply at least that long" {
	server_start
	run timeout 10 curl -s -o /dev/null -w '%{http_code} %{time_total}' \
		"$SERVER_URL/file?size=10&delay_ms=700"
	[ "$status" -eq 0 ]
	[[ $output == "200 "* ]]
	awk -v t="${output#200 }" 'BEGIN { exit !(t >= 0.7 && t < 5) }'
}

@test "httpd: a delayed reply does not hold up other clients" {
	server_start
	timeout 10 curl -s -o /dev/null "$SERVER_URL/file?delay_ms=3000" &
	slow=$!
	sleep 0.2
	run timeout 10 curl -s -o /dev/null -w '%{http_code} %{time_total}' "$SERVER_URL/file"
	[ "$status" -eq 0 ]
	[[ $output == "200 "* ]]
	awk -v t="${output#200 }" 'BEGIN { exit !(t < 1) }'
	wait "$slow"
}

@test "httpd: status chooses the reply code, and /status/S is its empty shorthand" {
	server_start
	for code in 200 201 404 418 503 599; do
		run timeout 10 curl -s -o /dev/null -w '%{http_code} %{size_download}' \
			"$SERVER_URL/file?status=$code&size=100"
		[ "$output" = "$code 100" ]
		run timeout 10 curl -s -o /dev/null -w '%{http_code} %{size_download}' \
			"$SERVER_URL/status/$code"
		[ "$output" = "$code 0" ]
	done
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/status/204"
	[ "$output" = 204 ]
}

@test "httpd: invalid or unknown query values get 400" {
	server_start
	for query in size=abc size=-1 size=+5 size= size=104857601 delay_ms=x \
		status=199 status=600 colour=red size status=204 'size=1&&bad=2'; do
		run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/file?$query"
		[ "$output" = 400 ] || { echo "query '$query' gave $output"; false; }
	done
	for target in /status/abc /status/700 '/hang?x=1' '/truncate?delay_ms=5'; do
		run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL$target"
		[ "$output" = 400 ] || { echo "'$target' gave $output"; false; }
	done
}

@test "httpd: an unknown path gets 404 and another method 405" {
	server_start
	run timeout 10 curl -s -w ' %{http_code}' "$SERVER_URL/nothing/here"
	[ "$output" = $'not found\n 404' ]
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/nothing?size=1"
	[ "$output" = 404 ]
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' -X POST -d x=1 "$SERVER_URL/file"
	[ "$output" = 405 ]
}

@test "httpd: /hang never answers, so the client times out" {
	server_start
	run timeout 10 curl -s --max-time 1 "$SERVER_URL/hang"
	[ "$status" -eq 28 ]
}

@test "httpd: other clients are served while one hangs" {
	server_start
	timeout 10 curl -s --max-time 3 "$SERVER_URL/hang" &
	hung=$!
	sleep 0.2
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/file"
	[ "$output" = 200 ]
	hung_status=0
	wait "$hung" || hung_status=$?
	[ "$hung_status" -eq 28 ]
}

@test "httpd: /reset aborts the connection with a TCP reset (curl exit 56)" {
	server_start
	run timeout 10 curl -s "$SERVER_URL/reset"
	[ "$status" -eq 56 ]
}

@test "httpd: /truncate promises size bytes, sends half, then closes (curl exit 18)" {
	server_start
	run timeout 10 curl -s -o "$BATS_TEST_TMPDIR/body" "$SERVER_URL/truncate?size=10000"
	[ "$status" -eq 18 ]
	[ "$(wc -c <"$BATS_TEST_TMPDIR/body")" -eq 5000 ]
	cmp "$BATS_TEST_TMPDIR/body" <(pattern 5000)
}

@test "httpd: a client that drops a large download mid-body does not hurt the server" {
	server_start
	run timeout 10 curl -s -o /dev/null --limit-rate 1M --max-time 1 \
		"$SERVER_URL/file?size=104857600"
	[ "$status" -eq 28 ]
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/file"
	[ "$output" = 200 ]
}

@test "httpd: a garbage request gets 400 and the server keeps serving" {
	server_start
	for junk in $'garbage\r\n\r\n' $'GET /file\r\n\r\n' $'GET /file HTTP/9.9\r\n\r\n' \
		$'get /file HTTP/1.1\r\n\r\n' $'GET /file HTTP/1.1\r\nno colon here\r\n\r\n' \
		$'\x01\x02\x03 \xff\n'; do
		run raw_request "$junk"
		[ "$status" -eq 0 ]
		[[ ${lines[0]} == "HTTP/1.1 400 Bad Request"* ]]
	done
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/file"
	[ "$output" = 200 ]
}

@test "httpd: a raw HTTP/1.0 request without headers is answered" {
	server_start
	run raw_request $'GET /file?size=16 HTTP/1.0\r\n\r\n'
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "HTTP/1.1 200 OK"* ]]
	[ "${lines[-1]}" = 000000000000000 ]
}

@test "httpd: a request head over 8 KiB gets 431, a request line that long 400" {
	server_start
	big=$(head -c 10000 /dev/zero | tr '\0' a)
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$SERVER_URL/file"
	[ "$status" -eq 0 ]
	[ "$output" = 431 ]
	run raw_request "$big"
	[[ ${lines[0]} == "HTTP/1.1 400 Bad Request"* ]]
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/file"
	[ "$output" = 200 ]
}

@test "httpd: 1000 concurrent delayed requests are all served at once" {
	server_start
	# Four curls with 250 transfers each, sizes 1000..1999, each held 1.5 s.
	# Had the server held fewer than 1000 at once, some would have waited
	# for a second round, and the whole run would take at least 3 s.
	start=$(date +%s%N)
	pids=()
	for k in 0 1 2 3; do
		lo=$((1000 + 250 * k))
		timeout 30 curl -s -Z --parallel-max 250 --parallel-immediate -o /dev/null \
			-w '%{http_code} %{size_download}\n' \
			"$SERVER_URL/file?size=[$lo-$((lo + 249))]&delay_ms=1500" \
			>"$BATS_TEST_TMPDIR/par.$k" 2>/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	echo "1000 requests in $elapsed_ms ms"
	sort "$BATS_TEST_TMPDIR"/par.* >"$BATS_TEST_TMPDIR/got"
	seq 1000 1999 | sed 's/^/200 /' | sort >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	((elapsed_ms >= 1500 && elapsed_ms < 3000))
}

@test "httpd: connections that ended leave no descriptors behind" {
	server_start
	before=$(fd_count "$SERVER_PID")
	timeout 10 curl -s --max-time 1 "$SERVER_URL/hang" || true
	timeout 10 curl -s --max-time 1 "$SERVER_URL/file?delay_ms=5000" || true
	timeout 10 curl -s "$SERVER_URL/reset" || true
	timeout 10 curl -s -o /dev/null "$SERVER_URL/truncate" || true
	timeout 10 curl -s -o /dev/null "$SERVER_URL/file?size=200000"
	raw_request $'nonsense\r\n\r\n' >/dev/null
	for ((i = 0; i < 30; i++)); do
		(($(fd_count "$SERVER_PID") == before)) && break
		sleep 0.1
	done
	[ "$(fd_count "$SERVER_PID")" -eq "$before" ]
}

@test "httpd: hundreds of silent and trickling clients get 408 when --head-timeout-ms runs out, while others are served" {
	server_start --head-timeout-ms 1000
	before=$(fd_count "$SERVER_PID")
	# 300 say nothing; 20 send a request head one byte every 100 ms, which
	# would take 4.5 s in all: bytes that keep coming buy the head no time.
	slowclients --conns 300 >"$BATS_TEST_TMPDIR/silent" 3>&- &
	silent=$!
	slowclients --conns 20 --every-ms 100 \
		--send $'GET /file HTTP/1.1\r\nHost: x\r\nX-Trickle: 1\r\n\r\n' \
		>"$BATS_TEST_TMPDIR/trickling" 3>&- &
	trickling=$!
	served=$(get_while_running "$silent")
	echo "$served requests served while the clients were held"
	((served >= 3))
	wait "$silent"
	wait "$trickling"
	hi=$(awk -v s="$(slack 0.5)" 'BEGIN { print 1000 + s * 1000 }')
	assert_ended "$BATS_TEST_TMPDIR/silent" 300 408 1000 "$hi"
	assert_ended "$BATS_TEST_TMPDIR/trickling" 20 408 1000 "$hi"
	# Every descriptor came back.
	wait_fd_count "$SERVER_PID" "$before"
}

@test "httpd: --idle-timeout-ms drops a silent client, but not one that keeps sending" {
	server_start --idle-timeout-ms 300 --head-timeout-ms 1500
	slowclients --conns 100 >"$BATS_TEST_TMPDIR/silent" 3>&- &
	silent=$!
	slowclients --conns 10 --every-ms 100 \
		--send $'GET /file HTTP/1.1\r\nX-Trickle: 1\r\n\r\n' \
		>"$BATS_TEST_TMPDIR/trickling" 3>&- &
	trickling=$!
	wait "$silent"
	wait "$trickling"
	assert_ended "$BATS_TEST_TMPDIR/silent" 100 408 300 \
		"$(awk -v s="$(slack 0.5)" 'BEGIN { print 300 + s * 1000 }')"
	# A byte every 100 ms is never idle for 300 ms: the head's limit ends it.
	assert_ended "$BATS_TEST_TMPDIR/trickling" 10 408 1500 \
		"$(awk -v s="$(slack 0.5)" 'BEGIN { print 1500 + s * 1000 }')"
}

@test "httpd: --idle-timeout-ms resets a client that stops reading its reply" {
	server_start --idle-timeout-ms 300
	hash_largest_body
	before=$(fd_count "$SERVER_PID")
	# The server fills its send buffers (megabytes) before it stalls, so
	# the bound allows a second for that on top of the idle time.
	run slowclients --conns 5 --no-read \
		--send $'GET /file?size=104857600 HTTP/1.1\r\n\r\n'
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/stalled"
	assert_ended "$BATS_TEST_TMPDIR/stalled" 5 reset 300 \
		"$(awk -v s="$(slack 1)" 'BEGIN { print 300 + s * 1000 }')"
	wait_fd_count "$SERVER_PID" "$before"
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/file"
	[ "$output" = 200 ]
}

@test "httpd: --idle-timeout-ms spares a client that reads its reply slowly but steadily" {
	server_start --idle-timeout-ms 300
	# 100 MiB at 40 MB/s: over two seconds, far more than the buffers hold,
	# so the server's sends stall and resume again and again.
	run timeout 20 curl -s -o /dev/null --limit-rate 40M \
		-w '%{http_code} %{size_download} %{time_total}' "$SERVER_URL/file?size=104857600"
	[ "$status" -eq 0 ]
	[[ $output == "200 104857600 "* ]]
	assert_at_least "${output##* }" 2 "seconds the download took"
}

@test "httpd: the default limits are 5 s for the head and 10 s idle, as --help says" {
	# Ten seconds of waiting for two numbers: the timers' code runs under the
	# sanitizers in the --head-timeout-ms and --idle-timeout-ms checks above.
	[ -z "$WB_SAN" ] || skip "the defaults' values, not new code: the plain build is enough"
	run timeout 5 "$WB_FIXTURES/httpd" --help
	[[ $output == *"(default 5000)"* ]]
	[[ $output == *"(default 10000)"* ]]
	server_start
	hash_largest_body
	slowclients --conns 1 --wait-ms 15000 >"$BATS_TEST_TMPDIR/silent" 3>&- &
	silent=$!
	run slowclients --conns 1 --wait-ms 15000 --no-read \
		--send $'GET /file?size=104857600 HTTP/1.1\r\n\r\n'
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/stalled"
	wait "$silent"
	assert_ended "$BATS_TEST_TMPDIR/silent" 1 408 5000 \
		"$(awk -v s="$(slack 0.5)" 'BEGIN { print 5000 + s * 1000 }')"
	assert_ended "$BATS_TEST_TMPDIR/stalled" 1 reset 10000 \
		"$(awk -v s="$(slack 1)" 'BEGIN { print 10000 + s * 1000 }')"
}

@test "httpd: past --max-conns a client gets 503 at once, and is served again once others leave" {
	server_start --max-conns 50
	before=$(fd_count "$SERVER_PID")
	slowclients --conns 50 --wait-ms 2000 >"$BATS_TEST_TMPDIR/held" 3>&- &
	held=$!
	wait_fd_count "$SERVER_PID" $((before + 50))
	for i in 1 2 3; do
		run timeout 10 curl -s -D "$BATS_TEST_TMPDIR/head" -o /dev/null \
			-w '%{http_code} %{time_total}' "$SERVER_URL/file"
		[[ $output == "503 "* ]] || flunk "request $i past the cap got '$output'"
		assert_between "${output#503 }" 0 1 "seconds to the 503"
		[ "$(header "$BATS_TEST_TMPDIR/head" Connection)" = close ]
	done
	wait "$held"
	# The held connections were still open when their client gave up.
	assert_ended "$BATS_TEST_TMPDIR/held" 50 open 2000 100000
	wait_fd_count "$SERVER_PID" "$before"
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/file"
	[ "$output" = 200 ]
}

@test "httpd: out of descriptors, it turns clients away with 503 instead of stalling or spinning" {
	command -v prlimit >/dev/null || skip "no prlimit"
	server_start --max-conns 100
	before=$(fd_count "$SERVER_PID")
	# Lower its descriptor limit far below the cap.  The limit bounds the
	# numbers of descriptors, so the room is the free numbers under it.
	limit=$((before + 10))
	room=$((limit - $(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 -printf '%f\n' |
		awk -v l="$limit" '$1 < l' | wc -l)))
	prlimit --pid "$SERVER_PID" --nofile="$limit":
	slowclients --conns 30 --wait-ms 3000 >"$BATS_TEST_TMPDIR/held" 3>&- &
	held=$!
	wait_fd_count "$SERVER_PID" $((before + room))
	ticks=$(cpu_ticks "$SERVER_PID")
	run timeout 10 curl -s -o /dev/null -w '%{http_code} %{time_total}' "$SERVER_URL/file"
	[[ $output == "503 "* ]] || flunk "a request with no descriptor left got '$output'"
	assert_between "${output#503 }" 0 1 "seconds to the 503"
	# A loop that retried accept() without pause would burn a whole second.
	sleep 1
	used=$(($(cpu_ticks "$SERVER_PID") - ticks))
	((used <= 20)) || flunk "httpd used $used clock ticks of CPU in 1 s while out of descriptors"
	wait "$held"
	[ "$(grep -c ' 503$' "$BATS_TEST_TMPDIR/held")" -eq $((30 - room)) ]
	wait_fd_count "$SERVER_PID" "$before"
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/file"
	[ "$output" = 200 ]
}

@test "httpd: a NUL or another control byte in the request line or a header gets 400" {
	server_start
	for bad in 'GET /file HTTP/1.1\0\r\n\r\n' 'GET /file\0 HTTP/1.1\r\n\r\n' \
		'GET /file HTTP/1.1\r\nX-A: b\0c\r\n\r\n' 'GET /file HTTP/1.1\r\nX-A: \0\r\n\r\n' \
		'GET /file HTTP/1.1\r\nX-A: b\001c\r\n\r\n' 'GET /file HTTP/1.1\r\nX-A: b\033c\r\n\r\n' \
		'GET /file HTTP/1.1\r\nX-A: b\177\r\n\r\n' 'GET /file HTTP/1.1\r\nX-A: b\rc\r\n\r\n' \
		'GET /file HTTP/1.1\r\nX-\0: b\r\n\r\n'; do
		run raw_printf "$bad"
		[[ ${lines[0]} == "HTTP/1.1 400 Bad Request"* ]] ||
			flunk "'$bad' got '${lines[0]:-nothing}', not 400"
	done
	# A tab and bytes from 0x80 up are allowed in a value.
	run raw_printf 'GET /file?size=16 HTTP/1.1\r\nX-A: b\tc caf\303\251\r\n\r\n'
	[[ ${lines[0]} == "HTTP/1.1 200 OK"* ]]
	run timeout 10 curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/file"
	[ "$output" = 200 ]
}

@test "httpd: SIGTERM closes open connections and exits 0" {
	server_start
	timeout 10 curl -s "$SERVER_URL/hang" &
	hung=$!
	sleep 0.2
	server_stop
	# The hanging client sees the server close its connection (empty reply).
	hung_status=0
	wait "$hung" || hung_status=$?
	[ "$hung_status" -eq 52 ]
	run timeout 10 curl -s "$SERVER_URL/file"
	[ "$status" -eq 7 ]
}

@test "httpd: SIGINT stops it cleanly too" {
	server_start
	server_stop INT
}

@test "httpd: --help prints usage and exits 0" {
	run timeout 5 "$WB_FIXTURES/httpd" --help
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "usage: httpd "* ]]
}

@test "httpd: bad flags exit 2 with one line on stderr" {
	for args in --bogus '--port abc' '--port 70000' '--port -1' --port stray -p \
		'--head-timeout-ms 0' '--head-timeout-ms abc' '--head-timeout-ms 3600001' \
		'--idle-timeout-ms -1' '--idle-timeout-ms 1.5' --idle-timeout-ms \
		'--max-conns 0' '--max-conns x' '--max-conns 99999999999999999999' \
		'--corrupt-nth 0' '--corrupt-nth x'; do
		# shellcheck disable=SC2086 # split on purpose
		run timeout 5 "$WB_FIXTURES/httpd" $args
		[ "$status" -eq 2 ] || { echo "'$args' exited $status"; false; }
		[ "${#lines[@]}" -eq 1 ]
		[[ ${lines[0]} == "httpd: "*"(see --help)" ]]
	done
}

@test "httpd: --max-conns beyond what the descriptor limit leaves room for is refused" {
	# shellcheck disable=SC2016 # expanded by the child bash
	run timeout 5 bash -c 'ulimit -n 64 && exec "$1" --max-conns 100' _ "$WB_FIXTURES/httpd"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "httpd: --max-conns: 100 is more than"*"(see --help)" ]]
}
