#!/usr/bin/env bats
# Chapter 02, multiprocessing: sharing_costs, the table of what starting a
# process and sharing with one cost.
#
# Its speeds are measured by `make bench`, never asserted here: a noisy
# machine may make any row slow.  What holds on every machine is checked:
# every row is measured, each ratio is the quotient of its pair, the bytes
# are factorial(50000)'s, every increment is counted by the server and
# seen by the other process, and nothing outlives the program.

# shellcheck disable=SC2034  # common.bash reads it
CHAPTER=02-multiprocessing
load helpers/common

# The bytes mpz_export gives for 50000!: its 1,176,354 bits, rounded up to
# whole bytes (Python: (math.factorial(50000).bit_length() + 7) // 8).
COST_FACT50000_BYTES=88545

# The keys of the line tests/bench reads, one per row.
COST_FIGURES="fork_us spawn_us pipe_mb_s shm_mb_s manager_ops_s atomic_ops_s"

# cost_ratio RATIO TOP BOTTOM: the printed RATIO is TOP / BOTTOM, as far as
# the printed figures' rounding allows (2 % and one unit of the last digit).
cost_ratio() {
	local r t b
	r=$(value "$1") t=$(value "$2") b=$(value "$3")
	awk -v r="$r" -v t="$t" -v b="$b" 'BEGIN {
		q = t / b; d = r - q; if (d < 0) d = -d
		exit !(b > 0 && d <= 0.02 * q + 0.01) }' && return 0
	flunk "$1=$r should be $2 / $3 = $t / $b:" "$output"
}

# The peer and the manager's server the run printed are gone, not even
# zombies; so is every forked child (each runs this program's image).
cost_nothing_left() {
	local pid
	for pid in "$(value peer)" "$(value manager)"; do
		[ -n "$pid" ] || { flunk "the run printed no peer= or manager= pid:" "$output"; return 1; }
		! kill -0 "$pid" 2>/dev/null ||
			{ flunk "process $pid outlived the program:" "$(ps -o pid,ppid,stat,cmd -p "$pid")"; return 1; }
	done
	! pgrep -f -- "$(prog sharing_costs)" >/dev/null ||
		flunk "processes of sharing_costs outlived it:" "$(pgrep -af -- "$(prog sharing_costs)")"
}

# The scratch directory given as TMPDIR holds nothing: the manager's socket
# directory was removed.
cost_no_tmp_left() {
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ] ||
		flunk "left behind in TMPDIR:" "$(ls -AR "$BATS_TEST_TMPDIR/tmp")"
}

@test "sharing_costs measures every row: each figure is there and positive, in the table and on the key line" {
	local key row
	run_prog 60 sharing_costs --runs 1
	assert_clean_exit
	for key in $COST_FIGURES; do
		awk -v v="$(value "$key")" 'BEGIN { exit !(v + 0 > 0) }' ||
			flunk "$key should be a positive figure, got '$(value "$key")':" "$output"
	done
	for row in "fork + _exit + waitpid" "posix_spawn /bin/true + waitpid" \
		"as frames through a socketpair" "by memcpy into MAP_SHARED memory" \
		"manager_incr: a round trip to a server" "atomic_fetch_add in MAP_SHARED memory"; do
		printf '%s\n' "$output" | grep -qE "^    ${row//+/\\+} +[0-9.]+ (us|MB/s|/s)" ||
			flunk "no table row '$row' with its figure:" "$output"
	done
	[[ $output == *"median of 1 run:"* ]] || flunk "the table should say it is the median of 1 run:" "$output"
}

@test "sharing_costs: each ratio is its pair's quotient: spawn over fork, shared memory over the socket, atomic over the manager" {
	run_prog 60 sharing_costs --runs 1
	assert_clean_exit
	cost_ratio spawn_vs_fork spawn_us fork_us
	cost_ratio shm_vs_pipe shm_mb_s pipe_mb_s
	cost_ratio atomic_vs_manager atomic_ops_s manager_ops_s
}

@test "sharing_costs moves factorial(50000)'s bytes, and counts every increment in the server and in shared memory, --runs times" {
	run_prog 60 sharing_costs --runs 3
	assert_clean_exit
	[ "$(value runs)" = 3 ] || flunk "runs should be 3:" "$output"
	[[ $output == *"median of 3 runs:"* ]] || flunk "the table should say it is the median of 3 runs:" "$output"
	[ "$(value bytes)" = "$COST_FACT50000_BYTES" ] ||
		flunk "bytes should be mpz_export's $COST_FACT50000_BYTES for 50000!:" "$output"
	# The server's last incr answers the counter's value; the other process
	# reads the shared counter through its own mapping.  Neither may miss one.
	[ "$(value manager_total)" = $((3 * $(value manager_ops))) ] ||
		flunk "the manager should count 3 x manager_ops increments:" "$output"
	[ "$(value atomic_total)" = $((3 * $(value atomic_ops))) ] ||
		flunk "the other process should see 3 x atomic_ops increments:" "$output"
}

@test "sharing_costs leaves no process behind: the peer and the manager's server are reaped, every forked child too, and the socket directory is gone" {
	mkdir "$BATS_TEST_TMPDIR/tmp"
	TMPDIR=$BATS_TEST_TMPDIR/tmp run_prog 60 sharing_costs --runs 2
	assert_clean_exit
	cost_nothing_left
	cost_no_tmp_left
}

@test "sharing_costs stopped by SIGINT or SIGTERM midway ends as that signal does, and leaves no process and no socket behind" {
	local sig fifo line pids output status fd pid p
	mkdir "$BATS_TEST_TMPDIR/tmp"
	for sig in INT TERM; do
		fifo=$BATS_TEST_TMPDIR/out-$sig
		mkfifo "$fifo"
		# 100 runs take seconds: the signal lands while it measures.
		TMPDIR=$BATS_TEST_TMPDIR/tmp timeout -k 5 120 "$(prog sharing_costs)" --runs 100 >"$fifo" 2>&1 &
		pid=$!
		exec {fd}<"$fifo"
		# The gate: the first line comes once the peer and the server exist.
		pids=''
		while IFS= read -r -t 30 line <&"$fd"; do
			if [[ $line =~ ^peer\ process\ ([0-9]+),\ manager\ server\ ([0-9]+)\; ]]; then
				pids="peer=${BASH_REMATCH[1]} manager=${BASH_REMATCH[2]}"
				break
			fi
		done
		[ -n "$pids" ] || { exec {fd}<&-; kill -9 "$pid"; flunk "sharing_costs never printed its pids"; return 1; }
		kill -"$sig" "$pid"
		cat <&"$fd" >/dev/null
		exec {fd}<&-
		wait "$pid" && status=0 || status=$?
		[ "$status" -eq $((128 + $(kill -l "$sig"))) ] ||
			{ flunk "SIG$sig should end it with status $((128 + $(kill -l "$sig"))), got $status"; return 1; }
		# The peer and the server follow their parent (PR_SET_PDEATHSIG).
		output=$pids
		for p in $(value peer) $(value manager); do
			timeout 10 tail --pid="$p" -s 0.05 -f /dev/null ||
				{ flunk "process $p outlived sharing_costs after SIG$sig"; return 1; }
		done
		cost_nothing_left || return 1
		cost_no_tmp_left || return 1
	done
}

@test "sharing_costs rejects bad input with one line on stderr and status 2" {
	local bad
	for bad in "--runs 0" "--runs 101" "--runs -1" "--runs abc" "--runs 99999999999999999999" \
		"--runs" "--bogus" "extra"; do
		# shellcheck disable=SC2086  # split the flags on purpose
		run_prog 10 sharing_costs $bad
		assert_usage_error sharing_costs || flunk "for: sharing_costs $bad"
	done
}

@test "sharing_costs --help prints usage and exits 0" {
	run_prog 10 sharing_costs --help
	assert_clean_exit
	[[ ${lines[0]} == "usage: sharing_costs "* ]] || flunk "no usage line:" "$output"
	[[ $output == *"--runs N"* ]] || flunk "--help should describe --runs:" "$output"
}

@test "sharing_costs: a table it cannot write (stdout full or closed) is an error, --help included, and nothing is left behind" {
	mkdir "$BATS_TEST_TMPDIR/tmp"
	cost_after_lost_output() {
		! pgrep -f -- "$(prog sharing_costs)" >/dev/null ||
			flunk "processes of sharing_costs outlived it:" "$(pgrep -af -- "$(prog sharing_costs)")"
		cost_no_tmp_left
	}
	TMPDIR=$BATS_TEST_TMPDIR/tmp assert_reports_lost_output 60 sharing_costs "--runs 1" cost_after_lost_output
}

@test "cost_fact (make bench's GMP timings): the loop and mpz_fac_ui agree, and each time is measured" {
	run_prog 60 cost_fact --n 5000 --runs 3
	assert_clean_exit
	[ "$(value n)" = 5000 ] && [ "$(value runs)" = 3 ] || flunk "cost_fact should echo n=5000 runs=3:" "$output"
	assert_at_least "$(value loop_s)" 0 "the loop's time"
	assert_at_least "$(value fac_s)" 0 "mpz_fac_ui's time"
	run_prog 10 cost_fact --runs 0
	assert_usage_error cost_fact
}
