"""Benchmark (run by hand): the Broker's durable ingress and end-to-end delivery latency.

    .venv/bin/python bench/eventing.py [--seconds 5] [--connections 32] [--latency-events 300]
    .venv/bin/python bench/eventing.py --log      # the event log alone, and the storage choice

Default: starts a real ``zeroserve up`` (temp data dir, ephemeral ports), creates Broker
``default``, a warm subscriber (``examples/event-recorder`` with min-scale 1) and a Trigger to it.

* **Ingress events/s**: ``--connections`` keep-alive connections POST binary-mode CloudEvents for
  ``--seconds``; every 202 means the event was fsync'd (``synchronous=FULL``). Two runs to the
  Broker's address (the gateway's internal listener, which answers it in process): on a second
  Broker with no Trigger (the ingress alone), then on ``default`` (the dispatcher delivering to the
  subscriber at the same time, on the same two cores). A platform that records a ``brokerIngress``
  port of its own (before the ingress moved into the gateway) gets a third run there.
* **End-to-end latency** to the warm subscriber: ``--latency-events`` events sent one at a time
  (each after the previous one arrived); latency = the subscriber's arrival time minus the send time,
  both CLOCK_MONOTONIC, which processes on one host share.

``--log``: ``SqliteEventLog.append`` at concurrency 1-1000 (no HTTP), beside the alternative the
module docstring of ``zeroserve/eventing/log.py`` weighs: an append-only segment file with group
commit (one ``write`` + ``fdatasync`` per batch).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
EVENTING = "eventing.knative.dev/v1"
SERVING = "serving.knative.dev/v1"
sys.path.insert(0, str(REPO))

from zeroserve.api.kinds import BROKER, SERVICE, TRIGGER  # noqa: E402
from zeroserve.cli.client import ApiClient  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


# ----------------------------------------------------------------------------- the log alone


async def log_alone(seconds_per_step: float) -> None:
    from zeroserve.config import EventingConfig
    from zeroserve.eventing.log import SqliteEventLog

    body = json.dumps({"specversion": "1.0", "id": "x" * 36, "source": "/bench", "type": "order.created"}).encode()
    body += b" " * (400 - len(body))
    cfg = EventingConfig(max_pending=1_000_000, max_backlog=10**12)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        async with SqliteEventLog(Path(d) / "events.db", lambda: cfg) as log:
            for concurrency in (1, 10, 100, 1000):
                rate, lat = await _drive(lambda: log.append("ns", "b", body), concurrency, seconds_per_step)
                print(f"sqlite log      concurrency {concurrency:4d}: {rate:8.0f} appends/s, mean latency {lat:.2f} ms")
        for concurrency in (1, 10, 100, 1000):
            seg = Segment(Path(d) / f"segment-{concurrency}.log")
            rate, lat = await _drive(lambda seg=seg: seg.append(body), concurrency, seconds_per_step)
            seg.close()
            print(f"segment file    concurrency {concurrency:4d}: {rate:8.0f} appends/s, mean latency {lat:.2f} ms")


async def _drive(op: Any, concurrency: int, seconds: float) -> tuple[float, float]:
    done = 0
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            t = time.perf_counter()
            await op()
            latencies.append(time.perf_counter() - t)
            done += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - start), statistics.fmean(latencies) * 1000


class Segment:
    """The alternative: length-prefixed records appended to one file, a writer thread doing one
    write + fdatasync per batch (group commit), no index, no acks, no retention."""

    def __init__(self, path: Path) -> None:
        import queue
        import threading

        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._q: queue.SimpleQueue[tuple[bytes, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import queue

        while True:
            item = self._q.get()
            if item is None:
                return
            batch = [item]
            with contextlib.suppress(queue.Empty):
                while len(batch) < 4096:
                    nxt = self._q.get_nowait()
                    if nxt is None:
                        self._q.put(None)
                        break
                    batch.append(nxt)
            os.write(self._fd, b"".join(len(b).to_bytes(4, "little") + b for b, _ in batch))
            os.fdatasync(self._fd)
            self._loop.call_soon_threadsafe(_resolve, [f for _, f in batch])

    async def append(self, body: bytes) -> None:
        future: asyncio.Future[None] = self._loop.create_future()
        self._q.put((body, future))
        await future

    def close(self) -> None:
        self._q.put(None)
        self._thread.join()
        os.close(self._fd)


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for f in futures:
        if not f.done():
            f.set_result(None)


# ----------------------------------------------------------------------------- through zeroserve up


@contextlib.contextmanager
def platform_up(data: Path) -> Iterator[dict[str, Any]]:
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEROSERVE_")}
    log = (data.parent / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "zeroserve", "up", "--data-dir", str(data), "--api-port", "0", "--gateway-port", "0"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        endpoints = data / "endpoints.json"
        deadline = time.monotonic() + 60
        while not endpoints.exists():
            if up.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"zeroserve up did not start:\n{(data.parent / 'up.log').read_text()}")
            time.sleep(0.05)  # a bench: waiting for the platform to start
        yield json.loads(endpoints.read_text())
    finally:
        up.terminate()
        up.wait(30)
        log.close()


def wait_ready(client: ApiClient, kind: Any, name: str, what: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            obj = client.get(kind, "default", name)
            conditions = obj.get("status", {}).get("conditions", [])
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
                return obj
        time.sleep(0.1)  # a bench: polling readiness
    raise SystemExit(f"{what} not Ready after {timeout}s")


def dial(url: str, internal: str) -> tuple[str, int, str, str]:
    """(host, port, Host header, path) to reach ``url`` (cluster-local names via the internal listener)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = host == "localhost"
    if is_ip:
        return host, parts.port or 80, parts.netloc, path
    inner = urlsplit(internal)
    return inner.hostname or "127.0.0.1", inner.port or 80, parts.netloc, path


def request(path: str, host: str, event_id: str, data: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nce-specversion: 1.0\r\nce-id: {event_id}\r\n"
        f"ce-source: /bench\r\nce-type: order.created\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> int:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def ingress_rate(
    target: tuple[str, int, str, str], seconds: float, connections: int
) -> tuple[float, dict[int, int]]:
    host, port, host_header, path = target
    statuses: dict[int, int] = {}
    stop = time.monotonic() + seconds
    data = b'{"order":42,"items":["a","b"]}'

    async def conn(n: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        i = 0
        try:
            while time.monotonic() < stop:
                i += 1
                status = await _one(reader, writer, request(path, host_header, f"{n}-{i}", data))
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    start = time.monotonic()
    await asyncio.gather(*(conn(n) for n in range(connections)))
    elapsed = time.monotonic() - start
    return statuses.get(202, 0) / elapsed, statuses


async def latencies(target: tuple[str, int, str, str], sub: tuple[str, int, str], n: int) -> list[float]:
    host, port, host_header, path = target
    reader, writer = await asyncio.open_connection(host, port)
    sent: dict[str, float] = {}
    for i in range(n):
        event_id = f"lat-{i}"
        sent[event_id] = time.monotonic()
        status = await _one(reader, writer, request(path, host_header, event_id, b'{"n":1}'))
        assert status == 202, status
        await asyncio.sleep(0.01)  # a bench: one event at a time, spaced
    writer.close()
    got: dict[str, float] = {}
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        for record in recorded(sub):
            got.setdefault(record["headers"].get("ce-id", ""), record["monotonic"])
        got = {k: v for k, v in got.items() if k in sent}
        await asyncio.sleep(0.2)  # a bench: polling the subscriber
    return [(got[k] - sent[k]) * 1000 for k in sent if k in got]


def recorded(sub: tuple[str, int, str]) -> list[dict[str, Any]]:
    import http.client

    conn = http.client.HTTPConnection(sub[0], sub[1], timeout=30)
    conn.request("GET", "/events", headers={"Host": sub[2]})
    body = conn.getresponse().read()
    conn.close()
    return json.loads(body)  # type: ignore[no-any-return]


def through_up(seconds: float, connections: int, latency_events: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, platform_up(Path(tmp) / "data") as endpoints:
        data = Path(tmp) / "data"
        client = ApiClient(endpoints["api"], (data / "token").read_text().strip(), ca_file=str(data / "ca.crt"))
        client.create(
            SERVICE,
            {
                "apiVersion": SERVING,
                "kind": "Service",
                "metadata": {"name": "recorder", "namespace": "default"},
                "spec": {
                    "template": {
                        "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                        "spec": {"containers": [{"command": [sys.executable, "examples/event-recorder/app.py"]}]},
                    }
                },
            },
        )
        for name in ("default", "quiet"):
            client.create(
                BROKER,
                {
                    "apiVersion": "eventing.knative.dev/v1",
                    "kind": "Broker",
                    "metadata": {"name": name, "namespace": "default"},
                },
            )
        client.create(
            TRIGGER,
            {
                "apiVersion": EVENTING,
                "kind": "Trigger",
                "metadata": {"name": "orders", "namespace": "default"},
                "spec": {
                    "broker": "default",
                    "filter": {"attributes": {"type": "order.created"}},
                    "subscriber": {
                        "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "recorder"}
                    },
                },
            },
        )
        service = wait_ready(client, SERVICE, "recorder", "service recorder")
        brokers = {n: wait_ready(client, BROKER, n, f"broker {n}") for n in ("default", "quiet")}
        wait_ready(client, TRIGGER, "orders", "trigger orders")
        internal = endpoints["internal"]
        sub_url = urlsplit(service["status"]["url"])
        gw = urlsplit(endpoints["gateway"])
        sub = (gw.hostname or "127.0.0.1", gw.port or 80, sub_url.netloc)
        target = {n: dial(b["status"]["address"]["url"], internal) for n, b in brokers.items()}
        print(f"broker address {brokers['default']['status']['address']['url']} -> {target['default'][:2]}")

        lat = asyncio.run(latencies(target["default"], sub, latency_events))
        print(
            f"e2e latency to a warm subscriber ({len(lat)}/{latency_events} events): "
            f"p50 {pct(lat, 50):.2f} ms, p90 {pct(lat, 90):.2f} ms, p99 {pct(lat, 99):.2f} ms"
        )
        if "brokerIngress" in endpoints:
            direct = urlsplit(endpoints["brokerIngress"])
            own_port = (direct.hostname or "127.0.0.1", direct.port or 80, direct.netloc, target["quiet"][3])
            rate, statuses = asyncio.run(ingress_rate(own_port, seconds, connections))
            print(f"ingress on its own port, no trigger: {rate:.0f} events/s durable (202), answers {statuses}")
        rate, statuses = asyncio.run(ingress_rate(target["quiet"], seconds, connections))
        print(f"ingress through the internal gateway, no trigger: {rate:.0f} events/s durable, answers {statuses}")
        rate, statuses = asyncio.run(ingress_rate(target["default"], seconds, connections))
        print(f"ingress through the gateway, one trigger delivering: {rate:.0f} events/s durable, answers {statuses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", action="store_true", help="the event log alone (no HTTP)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--latency-events", type=int, default=300)
    args = parser.parse_args()
    print(f"python {platform.python_version()} ({sys.executable}), {os.cpu_count()} CPUs")
    if args.log:
        asyncio.run(log_alone(min(args.seconds, 3.0)))
    else:
        through_up(args.seconds, args.connections, args.latency_events)


if __name__ == "__main__":
    main()
