"""One factorial in Python, two ways, for tests/bench to set beside GMP's.

The guide's heavy_computation() loop (one multiplication per factor) and
math.factorial (which multiplies balanced halves, like mpz_fac_ui), each
timed RUNS times, taking turns; prints the medians on one line:

    n=50000 runs=5 loop_s=0.612 math_s=0.061

usage: factorial.py [N [RUNS]]
"""
import math
import statistics
import sys
import time


def heavy_computation(num: int) -> int:
    result = 1
    for i in range(1, num + 1):
        result *= i
    return result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    loop, fast = [], []
    for _ in range(runs):
        start = time.perf_counter()
        by_loop = heavy_computation(n)
        loop.append(time.perf_counter() - start)
        start = time.perf_counter()
        by_math = math.factorial(n)
        fast.append(time.perf_counter() - start)
        if by_loop != by_math:
            sys.exit(f"factorial.py: the loop's factorial({n}) differs from math.factorial's")
    print(f"n={n} runs={runs} loop_s={statistics.median(loop):.6f} "
          f"math_s={statistics.median(fast):.6f}")


if __name__ == "__main__":
    main()
