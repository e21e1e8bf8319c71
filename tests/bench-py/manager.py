"""Round trips per second to a multiprocessing Manager dict, the guide's
shared_dict, for tests/bench to set beside the C manager.  One proxy sets
one key OPS times per run (each set is a request to the manager's process
and its reply); prints the median rate on one line:

    runs=5 ops=2000 ops_s=7600

usage: manager.py [RUNS]
"""
import multiprocessing
import statistics
import sys
import time

OPS = 2000


def one_run(shared_dict) -> float:
    start = time.perf_counter()
    for i in range(OPS):
        shared_dict["n"] = i
    elapsed = time.perf_counter() - start
    if shared_dict["n"] != OPS - 1:
        sys.exit("manager.py: the manager's dict lost a set")
    return OPS / elapsed


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with multiprocessing.Manager() as manager:
        shared_dict = manager.dict()
        rates = [one_run(shared_dict) for _ in range(runs)]
    print(f"runs={runs} ops={OPS} ops_s={statistics.median(rates):.0f}")


if __name__ == "__main__":
    main()
