"""asyncio's costs, for tests/bench to set beside chapter 03's loop.

Each scene prints one line of key=value facts:

    gather N DELAY_MS   N tasks each sleeping DELAY_MS, gathered:
                        n=... wall_s=... ideal_s=... bytes_per_task=...
    create N            create_task + await of a trivial coroutine, N times:
                        n=... us_per_task=...
    switch N            one task switch (asyncio.sleep(0) between two tasks):
                        n=... ns_per_switch=...
    sem N LIMIT MS      N tasks through Semaphore(LIMIT), each holding it MS:
                        n=... wall_s=... ideal_s=... peak=...
    wait_for RUNS MS    wait_for on a sleep of 10 s with an MS timeout:
                        runs=... overshoot_ms=... (the median)
    server PORTFILE     an HTTP/1.1 keep-alive server on 127.0.0.1, port 0,
                        writing its port to PORTFILE; answers every request
                        with a 13-byte body, and closes after the reply when
                        the request says "Connection: close"; runs until
                        SIGTERM

usage: asyncio_bench.py SCENE ARGS...
"""
import asyncio
import os
import resource
import signal
import statistics
import sys
import time


def rss_bytes() -> int:
    # The resident set now, from /proc (ru_maxrss is a peak, in KiB).
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def sleeper(delay: float) -> None:
    await asyncio.sleep(delay)


async def gather(n: int, delay_ms: int) -> None:
    delay = delay_ms / 1000
    before = rss_bytes()
    start = time.perf_counter()
    tasks = [asyncio.create_task(sleeper(delay)) for _ in range(n)]
    await asyncio.sleep(0)  # every task has started and is asleep
    during = rss_bytes()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    print(f"n={n} wall_s={wall:.6f} ideal_s={delay:.6f} "
          f"bytes_per_task={(during - before) / n:.0f}")


async def trivial() -> int:
    return 1


async def create(n: int) -> None:
    start = time.perf_counter()
    for _ in range(n):
        await asyncio.create_task(trivial())
    print(f"n={n} us_per_task={(time.perf_counter() - start) / n * 1e6:.3f}")


async def ping(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def switch(n: int) -> None:
    start = time.perf_counter()
    await asyncio.gather(ping(n), ping(n))
    # 2n resumptions, each one switch from the other task.
    print(f"n={n} ns_per_switch={(time.perf_counter() - start) / (2 * n) * 1e9:.1f}")


async def sem(n: int, limit: int, hold_ms: int) -> None:
    s = asyncio.Semaphore(limit)
    inside = peak = 0

    async def worker() -> None:
        nonlocal inside, peak
        async with s:
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(hold_ms / 1000)
            inside -= 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(n)))
    wall = time.perf_counter() - start
    ideal = -(-n // limit) * hold_ms / 1000
    print(f"n={n} wall_s={wall:.6f} ideal_s={ideal:.6f} peak={peak}")


async def wait_for(runs: int, timeout_ms: int) -> None:
    over = []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.sleep(10), timeout_ms / 1000)
        except asyncio.TimeoutError:
            pass
        over.append((time.perf_counter() - start) * 1000 - timeout_ms)
    print(f"runs={runs} overshoot_ms={statistics.median(over):.4f}")


async def serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    reply = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
             b"Content-Type: text/plain\r\n%s\r\nhello, world\n")
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            # A client that asks to close gets one reply, then the close.
            closing = b"\r\nconnection: close" in head.lower()
            writer.write(reply % (b"Connection: close\r\n" if closing else b""))
            await writer.drain()
            if closing:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def server(portfile: str) -> None:
    srv = await asyncio.start_server(serve_client, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    with open(portfile + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.rename(portfile + ".tmp", portfile)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with srv:
        await stop.wait()


def main() -> None:
    scenes = {
        "gather": lambda a: gather(int(a[0]), int(a[1])),
        "create": lambda a: create(int(a[0])),
        "switch": lambda a: switch(int(a[0])),
        "sem": lambda a: sem(int(a[0]), int(a[1]), int(a[2])),
        "wait_for": lambda a: wait_for(int(a[0]), int(a[1])),
        "server": lambda a: server(a[0]),
    }
    if len(sys.argv) < 2 or sys.argv[1] not in scenes:
        sys.exit(__doc__)
    # The server's clients each hold a descriptor: raise the soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(scenes[sys.argv[1]](sys.argv[2:]))


if __name__ == "__main__":
    main()
