"""A small keep-alive HTTP/1.1 load generator (used by dataplane.py when wrk is not installed).

    .venv/bin/python bench/loadgen.py PORT [--connections 64] [--duration 10] [--host HOST] [--rate RPS]

Each connection sends one GET at a time and waits for the whole response (Content-Length or
chunked, parsed with httptools). Prints one JSON line: rps, p50_ms, p99_ms, errors.

Without ``--rate`` every connection sends as fast as it can (closed loop: throughput). With
``--rate`` the connections together send RPS requests per second on a fixed schedule (a late
request goes out at once, so the rate holds): use it for latency at a given load, e.g. the
added latency per hop. Latency counts from the actual send, as the event loop's timers are
only millisecond-precise; use enough connections that one never waits for its previous answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import cast

import httptools


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("closed"))


async def _worker(
    port: int, request: bytes, until: float, latencies: list[float], errors: list[int], interval: float = 0.0
) -> None:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(_Conn, "127.0.0.1", port)
    assert conn.transport is not None
    scheduled = time.perf_counter()
    while (start := time.perf_counter()) < until:
        if interval:
            if start < scheduled:
                await asyncio.sleep(scheduled - start)  # pacing a load generator, not waiting for a result
                start = time.perf_counter()
            scheduled += interval
        conn.done = loop.create_future()
        conn.transport.write(request)
        try:
            status = await conn.done
        except ConnectionError:
            errors.append(0)
            return
        latencies.append(time.perf_counter() - start)
        if status != 200:
            errors.append(status)
    conn.transport.close()


async def run(port: int, connections: int, duration: float, host: str, rate: float = 0.0) -> dict[str, float]:
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    latencies: list[float] = []
    errors: list[int] = []
    until = time.perf_counter() + duration
    interval = connections / rate if rate else 0.0
    workers = []
    for _ in range(connections):
        workers.append(asyncio.create_task(_worker(port, request, until, latencies, errors, interval)))
        if interval:  # spread the connections' schedules evenly over one interval
            await asyncio.sleep(interval / connections)
    await asyncio.gather(*workers)
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / duration,
        "p50_ms": latencies[n // 2] * 1000 if n else 0.0,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
        "errors": float(len(errors)),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--host", default="localhost")
    p.add_argument("--rate", type=float, default=0.0, help="requests per second in total (0: as fast as possible)")
    a = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(a.port, a.connections, a.duration, a.host, a.rate))))


if __name__ == "__main__":
    main()
