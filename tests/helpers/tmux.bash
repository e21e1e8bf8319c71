# shellcheck shell=bash
# tmux.bash - drive a program on a real terminal: a private tmux server
# runs it in a detached session of a fixed size; a check types keys into it
# and reads the screen.
#
#   tmux_start CMD [ARGS...]   start CMD (WORKBOOK_ROOT, PAGER ... as exported)
#   tmux_keys KEYS...          tmux send-keys: "q", "Enter", "C-c" ...
#   tmux_screen                the screen and its history, as text
#   tmux_wait_for TEXT [SECS]  wait until the screen shows TEXT (fixed string)
#   tmux_count TEXT            how many lines of screen and history show TEXT
#   tmux_stop                  end the server and everything it runs
#
# Each session's server has its own socket, so a check never touches
# anyone's tmux, and tmux_stop (call it in teardown) leaves nothing behind.
# When CMD ends, the pane says "[exited STATUS; tty: icanon echo]" (the
# terminal's modes after it: "-icanon" or "-echo" there means the program
# left the terminal raw) and stays, so its last screen can be read.

# Skip the check when tmux is missing (tests/helpers/deps.sh installs it).
tmux_require() {
	command -v tmux >/dev/null || skip "tmux is not installed (make deps installs it)"
}

tmux_cmd() {
	timeout -k 2 10 tmux -S "$WB_TMUX_SOCKET" "$@"
}

tmux_start() {
	local dir cmd
	# A socket path must be short (about 100 bytes): not always true of
	# $BATS_TEST_TMPDIR.
	dir=$(mktemp -d /tmp/wb-tmux.XXXXXX) || return 1
	WB_TMUX_DIR=$dir
	WB_TMUX_SOCKET=$dir/sock
	printf -v cmd '%q ' "$@"
	cmd="$cmd; s=\$?; printf '\\n[exited %d; tty: %s]\\n' \$s \"\$(stty -a | grep -o -- '-\\?icanon\\|-\\?echo\\b' | tr '\\n' ' ')\"; exec cat"
	tmux_cmd -f /dev/null new-session -d -x 120 -y 40 -s wb "$cmd"
}

tmux_keys() {
	tmux_cmd send-keys -t wb "$@"
}

tmux_screen() {
	tmux_cmd capture-pane -p -J -S - -t wb
}

tmux_count() {
	tmux_screen | grep -cF -- "$1"
}

# tmux_wait_for TEXT [SECONDS]: a bounded wait for a condition, looked at
# every 0.1 s; on a timeout it fails and shows the screen.
tmux_wait_for() {
	local text=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 10; i++)); do
		tmux_screen | grep -qF -- "$text" && return 0
		sleep 0.1
	done
	flunk "no '$text' on the screen within $secs s:" "$(tmux_screen | tail -n 40)"
}

# tmux_wait_count TEXT N [SECONDS]: wait until TEXT shows on N lines.
tmux_wait_count() {
	local text=$1 n=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 10; i++)); do
		[ "$(tmux_count "$text")" -ge "$n" ] && return 0
		sleep 0.1
	done
	flunk "'$text' is on $(tmux_count "$text") lines, not $n, after $secs s:" \
		"$(tmux_screen | tail -n 40)"
}

tmux_stop() {
	[ -n "${WB_TMUX_SOCKET:-}" ] || return 0
	tmux_cmd kill-server 2>/dev/null
	rm -rf "$WB_TMUX_DIR"
	WB_TMUX_SOCKET=
}
