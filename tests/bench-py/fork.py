"""What os.fork + os._exit + os.waitpid cost in Python, for tests/bench to
set beside sharing_costs' fork row.  Each run forks FORKS children that
exit at once; prints the median microseconds per child on one line:

    runs=5 fork_us=1850.2

usage: fork.py [RUNS]
"""
import os
import statistics
import sys
import time

FORKS = 100


def one_run() -> float:
    start = time.perf_counter()
    for _ in range(FORKS):
        pid = os.fork()
        if pid == 0:
            os._exit(0)  # no cleanup of the parent's: the child does nothing
        _, status = os.waitpid(pid, 0)
        if status != 0:
            sys.exit(f"fork.py: child {pid} ended with wait status {status}")
    return (time.perf_counter() - start) / FORKS


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times = [one_run() for _ in range(runs)]
    print(f"runs={runs} fork_us={statistics.median(times) * 1e6:.1f}")


if __name__ == "__main__":
    main()
