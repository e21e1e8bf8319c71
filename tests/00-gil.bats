#!/usr/bin/env bats
# Chapter 00: there is no GIL in C.
#
# The exercises' checks read the promises of chapters/00-gil/counter.h and
# gil.h.  Lost updates and overlapping holders show up only when threads
# happen to collide, so every check of a counter also runs the
# ThreadSanitizer build, whose verdict on a race does not depend on luck;
# the GIL's checks force each interleaving with gates, and bound every wait.

CHAPTER=00-gil
load helpers/common

# Where to look when a check of an exercise fails: the lesson, the file and
# the hint, from the chapter manifest.
hint() {
	exercise_pointer
}

# race_free WHAT SECONDS PROG ARGS...: the ThreadSanitizer build of PROG
# runs to the end with no report.  A race is found whether or not the
# threads happened to collide, so a check that starts with this fails on
# every run for an unsynchronised counter, even on one core.
race_free() {
	local what=$1
	shift
	run_tsan "$@"
	assert_no_race "$what" || flunk "$(hint)" || return 1
	assert_clean_exit
}

# exact_every_time MODE THREADS ITERATIONS: run race_counter under
# ThreadSanitizer, then several times as built, and require every run to
# count every increment.
exact_every_time() {
	local mode=$1 threads=$2 iterations=$3 runs=5 attempt expected counted
	race_free "the $mode counter, $threads threads adding at once" 120 race_counter \
		--mode "$mode" --threads "$threads" --iterations $((iterations / 100)) || return 1
	[ -z "$WB_SAN" ] || { runs=2; iterations=$((iterations / 10)); }
	for ((attempt = 1; attempt <= runs; attempt++)); do
		run_prog 60 race_counter --mode "$mode" --threads "$threads" --iterations "$iterations"
		assert_clean_exit || return 1
		expected=$(value expected)
		counted=$(value counted)
		[ -n "$counted" ] && [ "$counted" = "$expected" ] && continue
		flunk "run $attempt of $runs counted ${counted:-nothing} of $expected increments: $(value lost) updates were lost." \
			"$(hint)"
		return 1
	done
}

# adds_any_amount KIND: add(c, n) adds n, for every n.
adds_any_amount() {
	race_free "the $1 counter, 4 threads adding different amounts" 60 \
		counter_probe --case sizes --counter "$1" || return 1
	run_prog 30 counter_probe --case sizes --counter "$1"
	assert_clean_exit || return 1
	[ "$(value fresh)" = 0 ] || flunk "a new counter reads $(value fresh), not 0" "$(hint)"
	[ "$(value after_5_-2_0)" = 3 ] ||
		flunk "adding 5, -2 and 0 to a new counter gave $(value after_5_-2_0), not 3:" \
			"add(c, n) must add n itself, whatever its sign or size." "$(hint)"
	[ "$(value after_big)" = 9223372036854775807 ] && [ "$(value back_to)" = 0 ] ||
		flunk "adding LONG_MAX - 3 to 3 gave $(value after_big), and taking it all back gave $(value back_to)" \
			"$(hint)"
	[ "$(value counted)" = "$(value expected)" ] ||
		flunk "4 threads adding 1, 7, -3 and 1000 at once: counted $(value counted), expected $(value expected)." \
			"$(hint)"
}

# hammered KIND [WHY]: threads add for a while as fast as they can,
# overlapping for the whole run however fast the machine; a reader watches.
hammered() {
	race_free "the $1 counter, read while 4 threads add" 60 \
		counter_probe --case hammer --counter "$1" --ms 100 || return 1
	run_prog 30 counter_probe --case hammer --counter "$1" --threads 4 --ms 300
	assert_clean_exit || return 1
	[ "$(value lost)" = 0 ] ||
		flunk "4 threads adding for 300 ms lost $(value lost) of $(value expected) updates.${2:+ $2}" \
			"$(hint)"
	[ "$(value backwards)" = 0 ] && [ "$(value above_final)" = no ] ||
		flunk "a reader saw the total go down $(value backwards) times (or pass the final count)" \
			"while the threads only added: get() must read the whole value." "$(hint)"
}

@test "[00-mutex] the mutex counter counts every increment of 4 threads exactly" {
	exact_every_time mutex 4 2000000
}

@test "[00-mutex] the mutex counter stays exact with 64 threads" {
	exact_every_time mutex 64 50000
}

@test "[00-mutex] ThreadSanitizer finds no race in the mutex counter, reads included" {
	# race_counter reads the counter while the threads are still adding, so
	# a get() without the lock is a race too.  TSan reports a race whether
	# or not the threads happened to collide, so this holds on any machine.
	race_free "the mutex counter, read midway: lock in get() too" \
		60 race_counter --mode mutex --threads 4 --iterations 20000
}

@test "[00-mutex] add(c, n) adds n: negative, zero and large amounts, from threads at once" {
	adds_any_amount mutex
}

@test "[00-mutex] threads adding for 300 ms lose no update, and a reader never sees the total go down" {
	hammered mutex
}

@test "[00-atomic] the atomic counter counts every increment of 4 threads exactly" {
	exact_every_time atomic 4 2000000
}

@test "[00-atomic] the atomic counter stays exact with 64 threads" {
	exact_every_time atomic 64 50000
}

@test "[00-atomic] ThreadSanitizer finds no race in the atomic counter" {
	race_free "the atomic counter, read midway: read it with an atomic load too" \
		60 race_counter --mode atomic --threads 4 --iterations 20000
}

@test "[00-atomic] add(c, n) adds n: negative, zero and large amounts, from threads at once" {
	adds_any_amount atomic
}

@test "[00-atomic] threads adding for 300 ms lose no update, and a reader never sees the total go down" {
	# An atomic load followed by an atomic store is two steps: TSan sees
	# no race in it, but adds that slip in between are lost here.
	hammered atomic "An atomic load and then an atomic store is two steps, not one."
}

@test "counters: each constructor returns 0 or -EINVAL, and a new counter reads 0" {
	run_prog 10 counter_probe --case new
	assert_clean_exit
	[ "$(value mutex_null)" = -EINVAL ] && [ "$(value atomic_null)" = -EINVAL ] ||
		flunk "a NULL out pointer must give -EINVAL: $output"
	[ "$(value mutex_ok)" = 0 ] && [ "$(value atomic_ok)" = 0 ] || flunk "$output"
	[ "$(value mutex_fresh)" = 0 ] && [ "$(value atomic_fresh)" = 0 ] || flunk "$output"
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
	assert_reports_lost_output 10 race_counter "--mode atomic --iterations 1000"
}

@test "race_counter: --help lists every option and exits 0" {
	run_prog 10 race_counter --help
	assert_clean_exit
	local opt
	for opt in --mode --threads --iterations --help; do
		[[ $output == *"$opt"* ]] || flunk "--help does not mention $opt"
	done
}

# ---------------------------------------------------------------- the GIL

@test "[00-gil] under the GIL no two threads ever compute at the same time" {
	run_prog 30 gil_sim --mode gil --threads 2 --work-ms 100 --trace
	assert_clean_exit
	[ "$(worker_count =)" -eq 2 ] || flunk "both threads should have computed" "$(hint)"
	local most
	most=$(max_overlap =)
	[ "$most" -eq 1 ] || flunk "$most threads computed at once under the GIL:" \
		"gil_acquire must wait while the GIL is held." "$(hint)"
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
			"the holder must hand over in gil_yield." "$(hint)"
	[ "$acq" -le $((turns * 3 / 2 + 4)) ] ||
		flunk "$acq acquisitions for $turns turns: the GIL is being released and retaken" \
			"by the same thread.  gil_yield must wait until another thread has taken it" \
			"(forced switching)." "$(hint)"
}

@test "[00-gil] the GIL changes hands every 5 ms switch interval" {
	run_prog 30 gil_sim --mode gil --threads 2 --work-ms 200 --switch-ms 5 --trace
	assert_clean_exit
	[ "$(max_overlap =)" -eq 1 ] || flunk "two threads computed at once" "$(hint)"
	assert_handovers 5
}

@test "[00-gil] a 20 ms switch interval means fewer, longer turns" {
	run_prog 30 gil_sim --mode gil --threads 2 --work-ms 200 --switch-ms 20 --trace
	assert_clean_exit
	[ "$(max_overlap =)" -eq 1 ] || flunk "two threads computed at once" "$(hint)"
	assert_handovers 20
}

@test "[00-gil] with 4 threads every thread gets turns and still only one computes" {
	run_prog 30 gil_sim --mode gil --threads 4 --work-ms 60 --trace
	assert_clean_exit
	[ "$(max_overlap =)" -eq 1 ] || flunk "more than one thread computed at once" "$(hint)"
	local w
	for w in Thread-1 Thread-2 Thread-3 Thread-4; do
		# Turns taken by w: runs of its spans, in time order.
		[ "$(spans | awk '$4 == "=" { print $5, $2 }' | sort -g |
			awk -v w="$w" '$2 != last { if ($2 == w) n++; last = $2 } END { print n + 0 }')" -ge 2 ] ||
			flunk "$w never gave the GIL up mid-work and got it back" "$(hint)"
	done
}

@test "[00-gil] a thread waiting on I/O releases the GIL so another computes meanwhile" {
	run_prog 30 gil_sim --mode io --threads 2 --work-ms 80 --io-ms 40 --rounds 4 --trace
	assert_clean_exit
	[ "$(max_overlap =)" -eq 1 ] || flunk "two threads computed at once under the GIL" "$(hint)"
	[ "$(spans | awk '$4 == "."' | wc -l)" -eq 8 ] || flunk "expected 8 I/O waits" "$(hint)"
	[ "$(max_overlap)" -ge 2 ] || flunk "no I/O wait overlapped anything" "$(hint)"
}

# gil_scene CASE: run one scene of the GIL's driver, which must end cleanly.
gil_scene() {
	run_prog 30 gil_probe --case "$1"
	assert_clean_exit || flunk "$(hint)"
}

# The waiter of the "block" and "alone" scenes must have waited for the
# holder: it may take the GIL only after the holder released it.
assert_waiter_waited() {
	[ "$(value overlaps)" = 0 ] && [ "$(value waiter_taken)" = after-release ] && return 0
	flunk "gil_acquire returned while another thread held the GIL (the waiter took it" \
		"$(value waiter_taken)).  While g->held, wait on g->released, in a loop:" \
		"a wait can end without the GIL being free." "$(hint)"
}

@test "[00-gil] gil_acquire blocks while another thread holds the GIL, and wakes as soon as it is released" {
	# The switch interval (1 s) is longer than the hold (300 ms), so only
	# the release can wake the waiter in time.
	gil_scene block
	assert_waiter_waited || return 1
	assert_between "$(value wake_latency_ms)" 0 "$(slack 100)" \
		"ms from gil_release to the waiter holding the GIL (release must signal the condition variable the waiter sleeps on)" ||
		flunk "$(hint)" || return 1
	[ "$(value acquisitions)" = 2 ] ||
		flunk "2 acquisitions made, gil_acquisitions says $(value acquisitions)" "$(hint)"
}

@test "[00-gil] a thread blocked in gil_acquire sleeps: no spinning, no polling" {
	# The waiter reads its own CPU clock and count of wake-ups around the
	# call.  A condition-variable wait sleeps once and is woken once; a
	# loop that looks again and again, even with a 1 ms nap between looks,
	# burns CPU or wakes hundreds of times.
	gil_scene block
	assert_waiter_waited || return 1
	assert_at_least "$(value waited_ms)" 200 "ms the waiter spent in gil_acquire" ||
		flunk "$(hint)" || return 1
	assert_waits_asleep waited "gil_acquire, waiting $(value waited_ms) ms for the holder" ||
		flunk "$(hint)"
}

@test "[00-gil] while a thread waits, the holder's other calls return at once" {
	# gil_drop_requested, gil_acquisitions and gil_release never wait for
	# the GIL: a waiter must sleep without holding g->lock.
	gil_scene block
	assert_waiter_waited || return 1
	assert_between "$(value holder_call_ms)" 0 "$(slack 50)" \
		"ms the slowest gil_drop_requested + gil_acquisitions took while a thread waited" ||
		flunk "$(hint)" || return 1
	assert_between "$(value release_ms)" 0 "$(slack 50)" "ms gil_release took with a waiter" ||
		flunk "$(hint)"
}

@test "[00-gil] a waiter asks for the GIL after one switch interval, and taking it clears the request" {
	gil_scene yield
	local asked
	asked=$(value request_ms)
	[ "$asked" != never ] ||
		flunk "the holder was never asked to drop the GIL in 2 s while a thread waited." \
			"When a wait on g->released times out and the GIL has not changed hands, set" \
			"g->drop_request; gil_drop_requested must report it." "$(hint)" || return 1
	assert_between "$asked" 99 "$(awk -v s="$(slack 100)" 'BEGIN { print 100 + s }')" \
		"ms from the waiter's call to the request, with a 100 ms switch interval" ||
		flunk "$(hint)" || return 1
	[ "$(value request_after_take)" = no ] ||
		flunk "the thread that took the GIL found the drop request still set: clear it when" \
			"taking the GIL, or the new holder hands over at once." "$(hint)"
}

@test "[00-gil] gil_yield hands the GIL to the waiter and returns after the waiter gave it back" {
	gil_scene yield
	[ "$(value handed_over)" = yes ] ||
		flunk "the waiting thread did not take the GIL while the holder was in gil_yield." \
			"Release it, then wait on g->taken until g->acquisitions moves." "$(hint)" ||
		return 1
	[ "$(value back)" = after-release ] && [ "$(value overlaps)" = 0 ] ||
		flunk "gil_yield returned ($(value back)) while the other thread still held the GIL" \
			"$(hint)" || return 1
	assert_between "$(value back_latency_ms)" 0 "$(slack 100)" \
		"ms from the other thread's release to gil_yield returning" || flunk "$(hint)" || return 1
	[ "$(value acquisitions)" = 3 ] ||
		flunk "acquire, hand over, take back: 3 acquisitions, gil_acquisitions says $(value acquisitions)" \
			"$(hint)"
}

@test "[00-gil] a thread waiting in gil_yield to get the GIL back sleeps" {
	gil_scene yield
	[ "$(value handed_over)" = yes ] && [ "$(value back)" = after-release ] ||
		flunk "gil_yield did not hand the GIL over and wait for it (handed over: $(value handed_over)," \
			"back: $(value back))." "$(hint)" || return 1
	assert_at_least "$(value yield_ms)" 200 "ms spent in gil_yield" || flunk "$(hint)" || return 1
	assert_waits_asleep yield "gil_yield, waiting $(value yield_ms) ms for the other thread" ||
		flunk "$(hint)"
}

@test "[00-gil] gil_yield with nobody waiting keeps the GIL: it returns at once, and a newcomer waits" {
	gil_scene alone
	assert_between "$(value acquire_ms)" 0 "$(slack 50)" "ms gil_acquire took on a free GIL" ||
		flunk "$(hint)" || return 1
	[ "$(value request)" = no ] || flunk "a drop request with nobody waiting" "$(hint)" || return 1
	assert_between "$(value yield_ms)" 0 "$(slack 50)" \
		"ms gil_yield took with nobody waiting (it must not wait for a hand-over that cannot happen)" ||
		flunk "$(hint)" || return 1
	[ "$(value after_acquire)" = 1 ] && [ "$(value after_yield)" = 1 ] ||
		flunk "gil_acquisitions: $(value after_acquire) after the first acquire," \
			"$(value after_yield) after a yield with nobody waiting (the GIL never changed hands: 1 and 1)" \
			"$(hint)" || return 1
	assert_waiter_waited
}

@test "[00-gil] a waiter whose interval began before the GIL changed hands does not ask the new holder at once" {
	# B asks at 300 ms, the holder lets go at about 400 ms, and C waits
	# since 200 ms.  Whoever takes the GIL, the other one's interval began
	# before that: when it ends, it must start a new one instead of asking.
	gil_scene fresh
	[ "$(value overlaps)" = 0 ] || flunk "two threads held the GIL at once" "$(hint)" || return 1
	local turn
	turn=$(value turn_ms)
	[ "$turn" != never ] || flunk "the new holder was never asked to hand over" "$(hint)" || return 1
	assert_at_least "$turn" 270 \
		"ms the new holder kept the GIL before being asked, with a 300 ms switch interval: ask only when nobody has taken the GIL since the wait began (g->acquisitions unchanged)" ||
		flunk "$(hint)"
}

@test "[00-gil] two threads that yield whenever asked take strict turns" {
	gil_scene pingpong
	[ "$(value stuck)" = 0 ] ||
		flunk "a thread holding the GIL was never asked to hand it over while the other waited" \
			"$(hint)" || return 1
	[ "$(value repeats)" = 0 ] && [ "$(value overlaps)" = 0 ] ||
		flunk "the GIL went back to the thread that yielded it (order $(value order)):" \
			"gil_yield must wait until another thread has taken it." "$(hint)" || return 1
	[ "$(value turns)" = 22 ] && [ "$(value acquisitions)" = 22 ] ||
		flunk "22 turns expected, $(value turns) seen, $(value acquisitions) counted" "$(hint)"
}

@test "[00-gil] many threads taking the GIL thousands of times: one holder at a time, each acquisition counted" {
	race_free "data only the GIL's holder touches, 4 threads taking turns" \
		60 gil_probe --case count || return 1
	gil_scene count
	[ "$(value overlaps)" = 0 ] && [ "$(value guarded)" = "$(value expected)" ] ||
		flunk "threads held the GIL at once $(value overlaps) times" "$(hint)" || return 1
	[ "$(value acquisitions)" = 4000 ] ||
		flunk "4 threads took the GIL 1000 times each; gil_acquisitions says $(value acquisitions)" \
			"$(hint)"
}

@test "[00-gil] ThreadSanitizer finds no race in the GIL, nor in the data only its holder touches" {
	# The drivers keep plain data that only the GIL's holder touches, so a
	# GIL that lets two threads in is reported even if they never collided;
	# and g->drop_request, read without the lock, must be an atomic.
	race_free "gil_probe --case pingpong" 60 gil_probe --case pingpong || return 1
	race_free "gil_probe --case yield" 60 gil_probe --case yield || return 1
	race_free "gil_sim under the GIL" 60 gil_sim --mode gil --threads 4 --work-ms 40 || return 1
	race_free "gil_sim with I/O" 60 gil_sim --mode io --threads 2 --work-ms 40 --io-ms 10
}

@test "gil_new refuses a NULL pointer and intervals outside 1 ms to one hour, and makes a free GIL" {
	gil_scene new
	local key
	for key in zero negative huge null_out; do
		[ "$(value $key)" = -EINVAL ] || flunk "gil_new, $key: $(value $key), not -EINVAL" || return 1
	done
	[ "$(value untouched)" = yes ] || flunk "a failed gil_new wrote to *out" || return 1
	[ "$(value max)" = 0 ] && [ "$(value ok)" = 0 ] || flunk "$output" || return 1
	[ "$(value fresh_acquisitions)" = 0 ] && [ "$(value fresh_request)" = no ] ||
		flunk "a new GIL: $output"
}

@test "gil: releasing or yielding a GIL the caller does not hold, or taking it twice, is caught by an assertion" {
	local scene
	for scene in release-free release-other yield-free acquire-twice; do
		run_prog 10 gil_probe --case $scene
		[ "$status" -eq 134 ] && [[ $stderr == *Assertion* ]] ||
			flunk "gil_probe --case $scene: status $status, stdout '$output', stderr '$stderr'" ||
			return 1
	done
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
	assert_reports_lost_output 20 gil_sim "--mode free --work-ms 20"
}
