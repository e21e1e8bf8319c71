# shellcheck shell=bash disable=SC2153,SC2154  # RUNS, QUICK, BIN come from tests/bench
# tests/bench.d/05-mpi.bash - chapter 05's figures for `make bench`: the MPI
# pool's speed-up against chapter 02's process pool on the same machine, a
# long task among short ones dynamically and statically, and a message's
# round trip over shared memory and over TCP.
#
# Sourced by tests/bench, which runs bench_05_mpi with RUNS, QUICK, BIN and
# the helpers repeat, field, calc and bench_record in scope.

# mpirun as the checks run it: root allowed, more ranks than cores, no banners.
bench_05_mpirun() {
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
		timeout -k 5 300 mpirun -q --oversubscribe "$@"
}

# bench_05_times RUNS CMD...: CMD's elapsed= figure from each of RUNS runs.
bench_05_times() {
	local runs=$1 k out
	shift
	for ((k = 0; k < runs; k++)); do
		out=$("$@") || return 1
		field elapsed <<<"$out" | tail -n 1
	done | xargs
}

# bench_05_ratios "A..." "B...": a_i / b_i for each pair of runs.
bench_05_ratios() {
	paste -d ' ' <(tr ' ' '\n' <<<"$1") <(tr ' ' '\n' <<<"$2") |
		awk '$2 > 0 { printf "%s%.3f", sep, $1 / $2; sep = " " }'
}

bench_05_mpi() {
	local p=$BIN/05-mpi pp=$BIN/02-multiprocessing n=50000 sweep_runs=$RUNS
	local cpus tasks w alone mpi pool par rounds
	cpus=$(getconf _NPROCESSORS_ONLN)
	# QUICK=1: smaller factorials, one run of the sweep and no 8-task column,
	# and no 1 MB round trips, to stay near 8 s.
	local sweep=(4 8 16)
	if [ "${QUICK:-0}" = 1 ]; then
		n=10000
		sweep_runs=1
		sweep=(4 16)
	fi
	echo "== 05-mpi: factorial($n) x TASKS on W MPI workers (W + 1 ranks: rank 0 hands out the tasks)"
	echo "   against chapter 02's process pool of W workers; speed-up over one process alone"
	for tasks in "${sweep[@]}"; do
		# The one-process baseline: a single rank computes every task.
		alone=$(bench_05_times "$sweep_runs" bench_05_mpirun -n 1 "$p/mpi_pool" --tasks "$tasks" --n "$n") ||
			{ echo "  mpi_pool alone failed"; return 1; }
		for w in 1 2 4; do
			mpi=$(bench_05_times "$sweep_runs" bench_05_mpirun -n $((w + 1)) "$p/mpi_pool" \
				--tasks "$tasks" --n "$n") || { echo "  mpi_pool on $w workers failed"; return 1; }
			pool=$(bench_05_times "$sweep_runs" "$pp/multiprocessing_demo" --workers "$w" \
				--tasks "$tasks" --n "$n") || { echo "  multiprocessing_demo failed"; return 1; }
			# Equal tasks in full rounds of min(W, CPUs) at once.
			par=$((w < cpus ? w : cpus))
			rounds=$(((tasks + par - 1) / par))
			bench_record "05.mpi.t$tasks.w$w.speedup" x higher \
				"MPI pool: $tasks tasks on $w workers (mpirun -n $((w + 1)))" \
				"$(bench_05_ratios "$alone" "$mpi")" "" \
				"$(calc "t / r" t="$tasks" r="$rounds")" "$tasks tasks in $rounds rounds of $par (of $cpus CPUs)"
			bench_record "05.procpool.t$tasks.w$w.speedup" x higher \
				"chapter 02's process pool: $tasks tasks on $w workers" \
				"$(bench_05_ratios "$alone" "$pool")" "" \
				"$(calc "t / r" t="$tasks" r="$rounds")" "the same tasks, forked workers, no mpirun"
		done
	done
	bench_05_startup "$p"
	bench_05_uneven "$p" "$sweep_runs" "$n"
	bench_05_pingpong "$p"
}

# What mpirun adds before any rank computes: starting 4 ranks that do
# nothing but MPI_Init and MPI_Finalize (the speed-ups above time the map
# inside rank 0, without it).
bench_05_startup() {
	local p=$1 k start times=''
	for ((k = 0; k < RUNS; k++)); do
		start=$(date +%s.%N)
		bench_05_mpirun -n 4 "$p/mpi_pool" --tasks 1 --n 0 >/dev/null ||
			{ echo "  mpirun start-up failed"; return 1; }
		times+=" $(calc "e - s" e="$(date +%s.%N)" s="$start")"
	done
	bench_record 05.mpirun.startup_s s lower "mpirun -n 4: start, MPI_Init, MPI_Finalize, exit" \
		"${times# }" "" "" ""
}

# One long task among short ones on 3 workers: handed to whoever asks
# against a fixed split, where the long task's worker also owns a block.
bench_05_uneven() {
	local p=$1 runs=$2 n=$3 long dyn stat
	long=$((n * 2))
	dyn=$(bench_05_times "$runs" bench_05_mpirun -n 4 "$p/mpi_pool" --tasks 12 --n "$n" --long "$long") ||
		{ echo "  mpi_pool --uneven failed"; return 1; }
	stat=$(bench_05_times "$runs" bench_05_mpirun -n 4 "$p/mpi_pool" --tasks 12 --n "$n" --long "$long" --static) ||
		{ echo "  mpi_pool --static failed"; return 1; }
	bench_record 05.mpi.uneven.dynamic_s s lower \
		"12 tasks, task 0 factorial($long), 3 workers: whoever asks" "$dyn" "" "" ""
	bench_record 05.mpi.uneven.static_s s lower \
		"the same with a fixed block per worker (--static)" "$stat" "" "" ""
}

# An 8-byte round trip, and 1 MB each way, over shared memory and over TCP
# on the loopback interface.
bench_05_pingpong() {
	local p=$1 btl name rtt big out k rounds=20000
	[ "${QUICK:-0}" = 1 ] && rounds=5000
	for btl in vader,self tcp,self; do
		name=${btl%%,*}
		rtt='' big=''
		for ((k = 0; k < RUNS; k++)); do
			out=$(bench_05_mpirun -n 2 --mca btl "$btl" --mca btl_tcp_if_include lo \
				"$p/mpi_pingpong" --bytes 8 --rounds "$rounds") || { echo "  mpi_pingpong ($btl) failed"; return 1; }
			rtt+=" $(field rtt_us <<<"$out")"
			[ "${QUICK:-0}" != 1 ] || continue
			out=$(bench_05_mpirun -n 2 --mca btl "$btl" --mca btl_tcp_if_include lo \
				"$p/mpi_pingpong" --bytes 1000000 --rounds 50) || { echo "  mpi_pingpong ($btl) failed"; return 1; }
			big+=" $(field rtt_us <<<"$out")"
		done
		bench_record "05.pingpong.$name.rtt_us" us lower \
			"MPI round trip of 8 bytes over $name (--mca btl $btl)" "${rtt# }" "" "" ""
		[ -z "$big" ] || bench_record "05.pingpong.$name.1mb_us" us lower \
			"MPI round trip of 1 MB over $name" "${big# }" "" "" ""
	done
}
