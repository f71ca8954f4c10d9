"""The activator's stats: the scale-from-zero poke, then 1 s reports with the first-report subtraction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.activator.instances import eventually
from zeroserve.activator.reporter import ConcurrencyReporter, HttpStatSink
from zeroserve.autoscaler.metrics import Stat, StatMessage

NS = "default"


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[StatMessage]] = []

    def send(self, messages: list[StatMessage]) -> None:
        self.batches.append(messages)


def stats(batch: list[StatMessage]) -> dict[str, tuple[float, float]]:
    return {m.name: (m.stat.average_concurrent_requests, m.stat.request_count) for m in batch}


def test_first_request_pokes_at_once():
    sink = Sink()
    rep = ConcurrencyReporter(sink, pod_name="act-1")
    rep.request_in(NS, "a", 10.0)
    assert sink.batches == [
        [StatMessage(NS, "a", Stat(pod_name="act-1", average_concurrent_requests=1.0, request_count=1.0))]
    ]
    rep.request_in(NS, "a", 10.1)  # the entry exists: no second poke
    rep.request_in(NS, "b", 10.2)  # another revision: its own poke
    assert [m.name for batch in sink.batches for m in batch] == ["a", "b"]


def test_first_report_subtracts_the_poke():
    sink = Sink()
    rep = ConcurrencyReporter(sink)
    rep.request_in(NS, "a", 0.0)  # one request in flight for the whole second
    rep.tick(1.0)
    assert stats(sink.batches[-1]) == {"a": (0.0, 0.0)}  # 1 - 1 each: already reported by the poke
    rep.tick(2.0)
    assert stats(sink.batches[-1]) == {"a": (1.0, 0.0)}  # no subtraction after the first report


def test_report_is_time_weighted_and_never_negative():
    sink = Sink()
    rep = ConcurrencyReporter(sink)
    rep.request_in(NS, "a", 0.0)
    rep.request_out(NS, "a", 0.25)  # concurrency 1 for a quarter of the second
    rep.tick(1.0)
    assert stats(sink.batches[-1]) == {"a": (0.0, 0.0)}  # max(0.25 - 1, 0); count 1 - 1
    rep.request_in(NS, "a", 1.0)
    rep.request_in(NS, "a", 1.0)
    rep.request_in(NS, "a", 1.5)
    rep.request_out(NS, "a", 1.5)
    rep.tick(2.0)
    # two in flight all second, a third for half of it; three arrivals
    assert stats(sink.batches[-1]) == {"a": (2.0, 3.0)}


def test_idle_revision_is_forgotten_and_pokes_again():
    sink = Sink()
    rep = ConcurrencyReporter(sink)
    rep.request_in(NS, "a", 0.0)
    rep.request_out(NS, "a", 0.5)
    rep.tick(1.0)
    assert rep.tracked() == [(NS, "a")]
    rep.tick(2.0)  # a whole second without a request: reported once more, then dropped
    assert stats(sink.batches[-1]) == {"a": (0.0, 0.0)}
    assert rep.tracked() == []
    rep.tick(3.0)
    assert len(sink.batches) == 3  # poke + 2 reports; nothing to send now
    rep.request_in(NS, "a", 3.5)
    assert stats(sink.batches[-1]) == {"a": (1.0, 1.0)}  # the poke again


def test_entry_with_a_request_in_flight_is_kept():
    sink = Sink()
    rep = ConcurrencyReporter(sink)
    rep.request_in(NS, "a", 5.0)
    rep.tick(5.0)  # same instant: average 0, but a request is in flight
    assert rep.tracked() == [(NS, "a")]
    rep.request_out(NS, "a", 5.5)
    rep.tick(6.0)
    assert stats(sink.batches[-1]) == {"a": (0.5, 0.0)}


async def test_run_ticks_with_the_injected_clock():
    sink = Sink()
    rep = ConcurrencyReporter(sink)
    now = [100.0]
    rep.request_in(NS, "a", 99.0)
    task = asyncio.create_task(rep.run(interval=0.001, clock=lambda: now[0]))
    try:
        await eventually(lambda: len(sink.batches) >= 3, what="two reports")
    finally:
        task.cancel()
    assert stats(sink.batches[1]) == {"a": (0.0, 0.0)}
    assert stats(sink.batches[2]) == {"a": (0.0, 0.0)}  # no time passed on the clock


@pytest.fixture
async def stat_server() -> AsyncIterator[tuple[str, list[object]]]:
    received: list[object] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/stats", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/stats", received
    await runner.cleanup()


async def test_http_sink_posts_json(stat_server: tuple[str, list[object]]):
    url, received = stat_server
    sink = HttpStatSink(url)
    task = asyncio.create_task(sink.run())
    try:
        rep = ConcurrencyReporter(sink, pod_name="act")
        rep.request_in(NS, "a", 0.0)
        rep.tick(1.0)
        await sink.drain()
    finally:
        task.cancel()
    assert received[0] == [
        {
            "namespace": NS,
            "name": "a",
            "stat": {
                "podName": "act",
                "averageConcurrentRequests": 1.0,
                "averageProxiedConcurrentRequests": 0.0,
                "requestCount": 1.0,
                "proxiedRequestCount": 0.0,
                "processUptime": 0.0,
                "timestamp": 0,
            },
        }
    ]
    assert len(received) == 2
    assert sink.sent == 2


def test_http_sink_queue_is_bounded():
    sink = HttpStatSink("http://127.0.0.1:9/", max_batches=2)
    for i in range(5):
        sink.send([StatMessage(NS, f"r{i}", Stat())])
    assert sink.dropped == 3  # the oldest went; send never blocked


async def test_http_sink_survives_a_dead_server():
    sink = HttpStatSink("http://127.0.0.1:9/stats", timeout=2.0)  # discard port: refused
    task = asyncio.create_task(sink.run())
    try:
        sink.send([StatMessage(NS, "a", Stat())])
        await sink.drain()
        assert not task.done()
    finally:
        task.cancel()
    assert sink.sent == 0
