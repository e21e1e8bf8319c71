#!/usr/bin/env bats
# Chapter 00: there is no GIL in C.

CHAPTER=00-gil
load helpers/common

LESSON=chapters/00-gil/README.md

# exact_every_time MODE THREADS ITERATIONS HINT SECTION: run race_counter
# several times and require every run to count every increment.  A counter
# without synchronisation loses updates only when threads happen to overlap,
# so one lucky run proves little; several long runs leave it no place to hide.
exact_every_time() {
	local mode=$1 threads=$2 iterations=$3 runs=5 attempt expected counted
	[ -z "$WB_SAN" ] || { runs=2; iterations=$((iterations / 10)); }
	for ((attempt = 1; attempt <= runs; attempt++)); do
		run_prog 60 race_counter --mode "$mode" --threads "$threads" --iterations "$iterations"
		assert_clean_exit || return 1
		expected=$(value expected)
		counted=$(value counted)
		[ -n "$counted" ] && [ "$counted" = "$expected" ] && continue
		flunk "run $attempt of $runs counted ${counted:-nothing} of $expected increments: $(value lost) updates were lost." \
			"$4 (lesson: $LESSON, section \"$5\")"
		return 1
	done
}

MUTEX_HINT="Hold the lock around the whole read-modify-write in counter_mutex.c."
MUTEX_SECTION="A mutex makes the three steps one"
ATOMIC_HINT="Make the value atomic and add with atomic_fetch_add_explicit in counter_atomic.c."
ATOMIC_SECTION="Atomics: one indivisible instruction"

@test "[00-mutex] the mutex counter counts every increment of 4 threads exactly" {
	exact_every_time mutex 4 2000000 "$MUTEX_HINT" "$MUTEX_SECTION"
}

@test "[00-mutex] the mutex counter stays exact with 64 threads" {
	exact_every_time mutex 64 50000 "$MUTEX_HINT" "$MUTEX_SECTION"
}

@test "[00-mutex] ThreadSanitizer finds no race in the mutex counter, reads included" {
	# race_counter reads the counter while the threads are still adding, so
	# a get() without the lock is a race too.  TSan reports a race whether
	# or not the threads happened to collide, so this holds on any machine.
	run_tsan 60 race_counter --mode mutex --threads 4 --iterations 20000
	assert_no_race "$MUTEX_HINT Lock in get() too. (lesson: $LESSON, section \"$MUTEX_SECTION\")"
	assert_clean_exit
}

@test "[00-atomic] the atomic counter counts every increment of 4 threads exactly" {
	exact_every_time atomic 4 2000000 "$ATOMIC_HINT" "$ATOMIC_SECTION"
}

@test "[00-atomic] the atomic counter stays exact with 64 threads" {
	exact_every_time atomic 64 50000 "$ATOMIC_HINT" "$ATOMIC_SECTION"
}

@test "[00-atomic] ThreadSanitizer finds no race in the atomic counter" {
	run_tsan 60 race_counter --mode atomic --threads 4 --iterations 20000
	assert_no_race "$ATOMIC_HINT (lesson: $LESSON, section \"$ATOMIC_SECTION\")"
	assert_clean_exit
}

@test "race_counter: with no synchronisation the count never exceeds what was added" {
	# Lost updates are likely but not certain, so only what holds in every
	# interleaving is asserted: nothing is counted twice, and the report adds up.
	skip_under_tsan
	run_prog 30 race_counter --mode none --threads 4 --iterations 1000000
	assert_clean_exit
	local expected counted
	expected=$(value expected) counted=$(value counted)
	[ "$expected" -eq 4000000 ] || flunk "expected should be 4 x 1000000"
	[ "$counted" -ge 1 ] && [ "$counted" -le "$expected" ] || flunk "counted $counted"
}

@test "race_counter: ThreadSanitizer reports the data race of --mode none" {
	skip_unless_san thread
	run_prog 60 race_counter --mode none --threads 2 --iterations 1000
	[ "$status" -eq 66 ] || flunk "expected TSan's exit status 66, got $status"
	[[ $stderr == *"WARNING: ThreadSanitizer: data race"* ]] || flunk "no race report: $stderr"
}

@test "race_counter: by default it runs none, mutex and atomic in turn" {
	skip_under_tsan
	run_prog 30 race_counter --iterations 10000
	assert_clean_exit
	[ "${lines[0]}" = "4 threads x 10000 increments of one shared counter" ] || flunk "${lines[0]}"
	[[ ${lines[1]} == none* ]] && [[ ${lines[2]} == mutex* ]] && [[ ${lines[3]} == atomic* ]] ||
		flunk "modes out of order: $output"
}

@test "race_counter: bad input is one line on stderr and exit status 2" {
	local bad
	for bad in "--threads 0" "--threads 257" "--threads abc" "--iterations -1" \
		"--iterations 99999999999999999999" "--mode fast" "--bogus" "extra" "--mode"; do
		eval "run_prog 10 race_counter $bad"
		assert_usage_error race_counter || flunk "for: race_counter $bad"
	done
}

@test "race_counter: a report it cannot write (stdout full or closed) is an error, --help included" {
	local to args want
	for to in ">/dev/full" ">&-"; do
		want="No space left on device"
		[ "$to" = ">/dev/full" ] || want="Bad file descriptor"
		for args in "--mode atomic --iterations 1000" --help; do
			# bats' run reads stdout itself: the redirection must be the program's.
			# shellcheck disable=SC2086  # split the flags on purpose
			run --separate-stderr timeout -k 5 10 bash -c "exec \"\$@\" $to" _ "$(prog race_counter)" $args
			assert_status 1 || flunk "for: race_counter $args $to"
			[ "$stderr" = "race_counter: cannot write output: $want" ] ||
				flunk "for: race_counter $args $to, stderr:" "$stderr"
		done
	done
}

@test "race_counter: --help lists every option and exits 0" {
	run_prog 10 race_counter --help
	assert_clean_exit
	local opt
	for opt in --mode --threads --iterations --help; do
		[[ $output == *"$opt"* ]] || flunk "--help does not mention $opt"
	done
}

@test "[00-gil] under the GIL no two threads ever compute at the same time" {
	run_prog 30 gil_sim --mode gil --threads 2 --work-ms 100 --trace
	assert_clean_exit
	[ "$(worker_count =)" -eq 2 ] || flunk "both threads should have computed"
	local most
	most=$(max_overlap =)
	[ "$most" -eq 1 ] || flunk "$most threads computed at once under the GIL." \
		"gil_acquire must wait while the GIL is held (lesson: $LESSON, section \"Building a GIL\")"
}

# turns: how many times the computing thread changed, reading the '=' spans
# in time order (a thread that gives the GIL up and takes it straight back
# has not let anyone else run, so that is no turn).
turns() {
	spans | awk '$4 == "=" { print $5, $2 }' | sort -g |
		awk '$2 != last { n++; last = $2 } END { print n + 0 }'
}

# assert_handovers SWITCH_MS: the GIL changed hands about once per switch
# interval: at least 0.3 and at most 2 turns per interval of the run, and
# hardly more acquisitions than turns (a GIL that is released and retaken
# by the same thread over and over counts acquisitions without turns).
assert_handovers() {
	local switch=$1 elapsed turns acq lo hi
	elapsed=$(value elapsed)
	turns=$(turns)
	acq=$(value acquisitions)
	lo=$(awk -v e="$elapsed" -v s="$switch" 'BEGIN { printf "%d", 0.3 * e * 1000 / s }')
	hi=$(awk -v e="$elapsed" -v s="$switch" 'BEGIN { printf "%d", 2 * e * 1000 / s + 2 }')
	[ "$turns" -ge "$lo" ] && [ "$turns" -le "$hi" ] ||
		flunk "the GIL changed hands $turns times in ${elapsed} s with a ${switch} ms switch interval;" \
			"expected $lo to $hi.  A waiter must ask for the GIL after one switch interval and" \
			"the holder must hand over in gil_yield (lesson: $LESSON, section \"Building a GIL\")"
	[ "$acq" -le $((turns * 3 / 2 + 4)) ] ||
		flunk "$acq acquisitions for $turns turns: the GIL is being released and retaken" \
			"by the same thread.  gil_yield must wait until another thread has taken it" \
			"(forced switching; lesson: $LESSON, section \"Building a GIL\")"
}

@test "[00-gil] the GIL changes hands every 5 ms switch interval" {
	run_prog 30 gil_sim --mode gil --threads 2 --work-ms 200 --switch-ms 5 --trace
	assert_clean_exit
	[ "$(max_overlap =)" -eq 1 ] || flunk "two threads computed at once"
	assert_handovers 5
}

@test "[00-gil] a 20 ms switch interval means fewer, longer turns" {
	run_prog 30 gil_sim --mode gil --threads 2 --work-ms 200 --switch-ms 20 --trace
	assert_clean_exit
	[ "$(max_overlap =)" -eq 1 ] || flunk "two threads computed at once"
	assert_handovers 20
}

@test "[00-gil] with 4 threads every thread gets turns and still only one computes" {
	run_prog 30 gil_sim --mode gil --threads 4 --work-ms 60 --trace
	assert_clean_exit
	[ "$(max_overlap =)" -eq 1 ] || flunk "more than one thread computed at once"
	local w
	for w in Thread-1 Thread-2 Thread-3 Thread-4; do
		# Turns taken by w: runs of its spans, in time order.
		[ "$(spans | awk '$4 == "=" { print $5, $2 }' | sort -g |
			awk -v w="$w" '$2 != last { if ($2 == w) n++; last = $2 } END { print n + 0 }')" -ge 2 ] ||
			flunk "$w never gave the GIL up mid-work and got it back"
	done
}

@test "[00-gil] a thread waiting on I/O releases the GIL so another computes meanwhile" {
	run_prog 30 gil_sim --mode io --threads 2 --work-ms 80 --io-ms 40 --rounds 4 --trace
	assert_clean_exit
	[ "$(max_overlap =)" -eq 1 ] || flunk "two threads computed at once under the GIL"
	[ "$(spans | awk '$4 == "."' | wc -l)" -eq 8 ] || flunk "expected 8 I/O waits"
	[ "$(max_overlap)" -ge 2 ] || flunk "no I/O wait overlapped anything"
}

@test "gil_sim: running free, the threads compute at the same time" {
	run_prog 30 gil_sim --mode free --threads 2 --work-ms 100 --trace
	assert_clean_exit
	[ "$(max_overlap =)" -ge 2 ] || flunk "free threads never overlapped"
}

@test "gil_sim: by default it runs gil, free and io and prints each speed-up" {
	run_prog 30 gil_sim --work-ms 40 --io-ms 10
	assert_clean_exit
	local m
	for m in gil free io; do
		printf '%s\n' "$output" | grep -qE "^mode=$m threads=2 elapsed=[0-9.]+ sequential=[0-9.]+ speedup=[0-9.]+ " ||
			flunk "no result line for mode $m"
	done
	[[ $output == *"Thread-1 |"* ]] || flunk "no timeline drawn"
}

@test "gil_sim: bad input is one line on stderr and exit status 2" {
	local bad
	for bad in "--threads 0" "--threads 65" "--work-ms x" "--switch-ms 0" \
		"--io-ms -5" "--rounds 1000" "--mode turbo" "--trace=yes" "operand"; do
		eval "run_prog 10 gil_sim $bad"
		assert_usage_error gil_sim || flunk "for: gil_sim $bad"
	done
}

@test "gil_sim: a report it cannot write (stdout full or closed) is an error, --help included" {
	local to args want
	for to in ">/dev/full" ">&-"; do
		want="No space left on device"
		[ "$to" = ">/dev/full" ] || want="Bad file descriptor"
		for args in "--mode free --work-ms 20" --help; do
			# bats' run reads stdout itself: the redirection must be the program's.
			# shellcheck disable=SC2086  # split the flags on purpose
			run --separate-stderr timeout -k 5 20 bash -c "exec \"\$@\" $to" _ "$(prog gil_sim)" $args
			assert_status 1 || flunk "for: gil_sim $args $to"
			[ "$stderr" = "gil_sim: cannot write output: $want" ] ||
				flunk "for: gil_sim $args $to, stderr:" "$stderr"
		done
	done
}
