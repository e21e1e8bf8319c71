# server.bash - start and stop the loopback test server (tests/fixtures/httpd.c).
#
#   setup()    { load helpers/server; }
#   teardown() { server_stop; }
#   @test "..." { server_start; run timeout 10 curl -s "$SERVER_URL/file"; ... }
#
# server_start exports SERVER_PID (httpd's own pid), SERVER_PORT and
# SERVER_URL.  server_stop is safe to call twice, so calling it from teardown
# means a failing test never leaves a server behind.

# The directory holding the built httpd; the shared helper may set it first.
# Otherwise it follows WB_BUILD (tests/run sets it for sanitizer builds).
: "${WB_FIXTURES:=${WB_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}/fixtures}"

# server_start [extra httpd args] - start httpd on a free port and wait for it.
server_start() {
	local portfile="$BATS_TEST_TMPDIR/port" i

	if [[ ! -x "$WB_FIXTURES/httpd" ]]; then
		echo "server_start: $WB_FIXTURES/httpd is missing; build it first" >&2
		return 1
	fi
	rm -f "$portfile"
	# --foreground makes timeout signal httpd alone, not its process group,
	# which would also hit LeakSanitizer's helper in an ASan build while it
	# checks for leaks at exit, and hang it.  Output goes to files: a
	# background job holding bats' descriptors (fd 3 above all) would keep
	# bats waiting after the test.
	timeout --foreground -k 5 120 \
		"$WB_FIXTURES/httpd" --quiet --port 0 --port-file "$portfile" "$@" \
		>"$BATS_TEST_TMPDIR/httpd.out" 2>"$BATS_TEST_TMPDIR/httpd.err" 3>&- &
	_server_wrapper=$!
	# httpd writes the port file by rename, so it is either absent or whole.
	for ((i = 0; i < 50; i++)); do
		[[ -s "$portfile" ]] && break
		if ! kill -0 "$_server_wrapper" 2>/dev/null; then
			echo "server_start: httpd exited before listening:" >&2
			cat "$BATS_TEST_TMPDIR/httpd.err" >&2
			unset _server_wrapper
			return 1
		fi
		sleep 0.1
	done
	SERVER_PID=$(ps -o pid= --ppid "$_server_wrapper" | tr -d ' ')
	export SERVER_PID
	if [[ ! -s "$portfile" || -z "$SERVER_PID" ]]; then
		echo "server_start: httpd did not report a port within 5 s" >&2
		server_stop TERM
		return 1
	fi
	SERVER_PORT=$(<"$portfile")
	SERVER_URL="http://127.0.0.1:$SERVER_PORT"
	export SERVER_PORT SERVER_URL
}

# server_stop [SIGNAL] - send SIGNAL (default TERM) to httpd and require that
# it exits with status 0 within 5 s.
server_stop() {
	local sig=${1:-TERM} pid=${SERVER_PID:-} wrapper=${_server_wrapper:-}
	local status=0 i

	[[ -n "$wrapper" ]] || return 0
	unset SERVER_PID _server_wrapper
	if [[ -n "$pid" ]]; then
		kill -s "$sig" "$pid" 2>/dev/null || true
	fi
	for ((i = 0; i < 50; i++)); do
		kill -0 "$wrapper" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$wrapper" 2>/dev/null; then
		# shellcheck disable=SC2086 # $pid may be empty
		kill -KILL $pid "$wrapper" 2>/dev/null || true
		wait "$wrapper" 2>/dev/null || true
		echo "server_stop: httpd did not exit within 5 s of SIG$sig" >&2
		return 1
	fi
	# timeout exits with the status of the command it ran.
	wait "$wrapper" || status=$?
	if ((status != 0)); then
		echo "server_stop: httpd exited with status $status:" >&2
		cat "$BATS_TEST_TMPDIR/httpd.err" >&2
		return 1
	fi
}
