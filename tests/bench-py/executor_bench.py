"""ThreadPoolExecutor's throughput and latency, for tests/bench to set beside
chapter 01's executor_bench.  One run, on a pool of WORKERS threads:

- submit + result: TASKS trivial tasks submitted, then every result taken;
- map: the same tasks through executor.map;
- latency: one task at a time, submit to result, the median of LATENCY tries.

Prints one line:

    workers=1 submit_per_sec=210000 map_per_sec=180000 latency_us=55.1

usage: executor_bench.py [WORKERS [TASKS]]
"""
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

LATENCY = 2000


def nothing(x: int) -> int:
    return x


def main() -> None:
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with ThreadPoolExecutor(max_workers=workers) as ex:
        start = time.perf_counter()
        futures = [ex.submit(nothing, i) for i in range(tasks)]
        if sum(f.result() for f in futures) != tasks * (tasks - 1) // 2:
            sys.exit("executor_bench.py: a result went missing")
        submit = tasks / (time.perf_counter() - start)

        start = time.perf_counter()
        if sum(ex.map(nothing, range(tasks))) != tasks * (tasks - 1) // 2:
            sys.exit("executor_bench.py: a result of map went missing")
        mapped = tasks / (time.perf_counter() - start)

        waits = []
        for i in range(LATENCY):
            start = time.perf_counter()
            ex.submit(nothing, i).result()
            waits.append(time.perf_counter() - start)
    print(f"workers={workers} submit_per_sec={submit:.0f} map_per_sec={mapped:.0f} "
          f"latency_us={statistics.median(waits) * 1e6:.1f}")


if __name__ == "__main__":
    main()
