"""The gateway workers' pieces on real listeners (issue 19, item 1): a worker gateway relays what it does
not serve to the main gateway's relay listeners, which add no forwarding headers; the worker's state
follows the main process's operations (CC >= 1 and proxy-mode revisions are not routed by it); the
stats and series of several processes add up. The whole, with real processes: tests/e2e/test_workers_e2e.py."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest

from tests.gateway.test_gateway_functional import route
from tests.net.test_reuseport_functional import accepted, expected_index
from tests.net.upstreams import Upstream, run_upstream
from tests.support.h2app import serve as serve_h2app
from tests.support.polling import eventually
from zeroserve.activator.handler import Activator
from zeroserve.activator.reporter import ConcurrencyReporter
from zeroserve.activator.throttler import Throttler
from zeroserve.autoscaler.metrics import Stat, StatMessage, with_workers
from zeroserve.cli.gatewayworker import WorkerState
from zeroserve.cli.wiring import WorkerSeries, WorkerStats
from zeroserve.gateway import Backend, Gateway
from zeroserve.gateway.workers import Workers, encode
from zeroserve.net import netns
from zeroserve.net.proxy import RequestHead, Target
from zeroserve.observability.metrics import (
    POD,
    ActivatorMetrics,
    MeterRegistry,
    QueueMetrics,
    revision_attrs,
    series_by_revision,
)
from zeroserve.queue.inline import InlineQueue, InstanceLimits


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with run_upstream("hello-00001") as one:
        yield one


@pytest.fixture
async def pair(upstream: Upstream) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """(main, worker): the worker relays to the main gateway's relay listeners."""
    main = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0), rand=random.Random(1).random)
    await main.start()
    relays = await main.start_relays()
    worker = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0), relay_to=relays)
    await worker.start()
    main.publish(route(1, {"hello-00001": 100}))
    main.set_endpoints("default", "hello-00001", [("127.0.0.1", upstream.port)])
    worker.publish(route(1, {"hello-00001": 100}))
    yield main, worker
    await worker.stop(1)
    await main.stop(1)


def unstarted() -> Gateway:
    """A main gateway for Workers that start no process (their listeners are never asked for)."""
    return Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))


async def fetch(port: int, host: str, path: str = "/") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}) as r,
    ):
        return r.status, await r.text()


async def test_a_revision_the_worker_shows_no_endpoint_is_relayed_with_one_hop_of_forwarding(
    pair: tuple[Gateway, Gateway],
) -> None:
    _, worker = pair
    assert worker.ports is not None
    status, body = await fetch(worker.ports[0], "hello.default.localhost", "/headers")
    assert status == 200
    headers: dict[str, list[str]] = {}
    for k, v in json.loads(body)["headers"]:
        headers.setdefault(k.lower(), []).append(v)
    assert headers["x-forwarded-for"] == ["127.0.0.1"]  # the worker's entry only: the relay added none
    assert headers["forwarded"] == ['for=127.0.0.1;proto=http;host="hello.default.localhost"']


async def test_hosts_the_worker_has_no_route_for_are_answered_by_the_main_gateway(
    pair: tuple[Gateway, Gateway],
) -> None:
    _, worker = pair
    assert worker.ports is not None
    worker.withdraw("default", "hello")  # the worker does not know the route: the main process does
    assert await fetch(worker.ports[0], "hello.default.localhost") == (200, "hello from hello-00001")
    # the internal listener's relay goes to the main internal listener: cluster-local names work there
    assert await fetch(worker.ports[1], "hello.default.svc.cluster.local") == (200, "hello from hello-00001")
    status, body = await fetch(worker.ports[0], "hello.default.svc.cluster.local")
    assert status == 404 and "hello.default.localhost" in body  # not on the external one


async def test_worker_state_routes_only_cc0_serve_mode_revisions_itself(
    pair: tuple[Gateway, Gateway], upstream: Upstream
) -> None:
    _, worker = pair
    state = WorkerState(worker, InlineQueue(), None)
    address = ("127.0.0.1", upstream.port)
    state.apply(("set_instances", "default", "hello-00001", (address,), (InstanceLimits(1), "hello", "hello")))
    state.apply(("set_endpoints", "default", "hello-00001", (address,), False))
    assert worker.endpoints("default", "hello-00001") == ()  # CC=1: the main process's breaker
    state.apply(("set_instances", "default", "hello-00001", (address,), (InstanceLimits(0), "hello", "hello")))
    assert worker.endpoints("default", "hello-00001") == (address,)
    assert state.inline.get(address) is not None  # its own inline queue counts what it sends
    state.apply(("set_endpoints", "default", "hello-00001", (), False))  # proxy mode
    assert worker.endpoints("default", "hello-00001") == ()
    sidecars = WorkerState(worker, InlineQueue(), None, sidecar=True)
    sidecars.apply(("set_endpoints", "default", "hello-00001", (address,), False))
    assert worker.endpoints("default", "hello-00001") == (address,)  # a sidecar holds the breaker


async def test_the_mirror_keeps_a_snapshot_for_a_worker_started_later(pair: tuple[Gateway, Gateway]) -> None:
    main, _ = pair
    workers = Workers(1, listeners=main, relay_to=(("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)))
    main.mirror = workers
    main.publish(route(2, {"hello-00001": 100}))
    main.set_endpoints("default", "hello-00001", [("127.0.0.1", 9)])
    workers.set_instances("default", "hello-00001", [("127.0.0.1", 9)], (InstanceLimits(), "", ""))
    main.withdraw("default", "hello")
    ops = [op[0] for op in workers._snapshot()]
    assert ops == ["configure_logs", "set_instances", "set_endpoints", "ready"]  # the withdrawn route is gone
    assert encode(("ready",))[4:]  # framed


def test_stats_of_the_processes_add_up() -> None:
    own = Stat("p", 2.0, 1.0, 10.0, 4.0, 30.0, 100)
    worker = Stat("w", 1.5, 0.0, 5.0, 0.0, 3.0, 99)
    got = with_workers(own, [worker, worker])
    assert (got.average_concurrent_requests, got.average_proxied_concurrent_requests) == (5.0, 1.0)
    assert (got.request_count, got.proxied_request_count) == (20.0, 4.0)
    assert (got.pod_name, got.process_uptime, got.timestamp) == ("p", 30.0, 100)
    assert with_workers(own, []) is own


def test_series_are_grouped_by_revision() -> None:
    metrics = QueueMetrics(MeterRegistry())
    metrics.revision(revision_attrs("ns", "a-00001", "a", "a")).done(0.1, 200)
    metrics.revision(revision_attrs("ns", "b-00001")).done(0.2, 500)
    grouped = series_by_revision(metrics)
    assert set(grouped) == {("ns", "a-00001"), ("ns", "b-00001")}
    assert all(item["count"] == 1 for items in grouped.values() for item in items)


async def test_a_worker_activates_only_cc0_revisions_it_has_seen_instances_of(
    pair: tuple[Gateway, Gateway], upstream: Upstream
) -> None:
    _, worker = pair
    sent: list[list[StatMessage]] = []

    class Sink:
        def send(self, messages: list[StatMessage]) -> None:
            sent.append(messages)

    inline = InlineQueue()
    activator = Activator(Throttler(None), ConcurrencyReporter(Sink(), pod_name="activator-worker-1"), admission=inline)
    state = WorkerState(worker, inline, None, activator=activator)
    address = ("127.0.0.1", upstream.port)
    head = RequestHead("GET", "/", "HTTP/1.1", [], "hello.default.localhost", ("127.0.0.1", 1))
    backend = Backend("default", "hello-00001", 100)
    assert state.to_activator(head, backend) is None  # never seen: the main process activates it
    state.apply(("set_instances", "default", "hello-00001", (address,), (InstanceLimits(1), "", "")))
    assert state.to_activator(head, Backend("default", "hello-00001", 100)) is None  # CC=1: the main one
    state.apply(("set_instances", "default", "hello-00002", (address,), (InstanceLimits(0), "", "")))
    target = state.to_activator(head, Backend("default", "hello-00002", 100))
    assert isinstance(target, Target) and (target.host, target.port) == address
    assert sent and sent[0][0].stat.pod_name == "activator-worker-1"  # the poke, at once
    target.release()
    # end to end: a worker gateway showing no endpoint (proxy mode) hands the request to its activator
    alone = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0), no_endpoints=state.to_activator)
    ext, _ = await alone.start()
    try:
        alone.publish(route(3, {"hello-00002": 100}))
        assert await fetch(ext, "hello.default.localhost", "/") == (200, "hello from hello-00001")
        assert activator.reporter.tracked() == [("default", "hello-00002")]
        alone.publish(route(4, {"hello-00001": 100}))  # CC=1, no relay configured: 503, not the activator
        assert (await fetch(ext, "hello.default.localhost", "/"))[0] == 503
    finally:
        await alone.stop(1)


def test_worker_metrics_are_summed_and_their_activators_published_by_pod() -> None:
    public_registry = MeterRegistry()
    public, own = QueueMetrics(public_registry), QueueMetrics(MeterRegistry())
    activator = ActivatorMetrics(public_registry)
    workers = Workers(2, listeners=unstarted(), relay_to=(("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)))
    rev = revision_attrs("ns", "a-00001")
    own.revision(rev).done(0.1, 200)
    theirs = QueueMetrics(MeterRegistry())
    theirs.revision(rev).done(0.2, 200)
    theirs.revision(rev).done(0.3, 200)
    first = workers._workers[0]
    first.series = series_by_revision(theirs)
    first.gauges = {activator.queued.name: {rev: 3.0}}
    series = WorkerSeries(own, public, workers, activator)
    series.publish()
    assert [h.count for h in public.duration.series.values()] == [3]  # 1 here + 2 in the worker
    assert activator.queued.values == {tuple(sorted((*rev, (POD, "activator-worker-1")))): 3.0}
    first.gauges = {}  # the worker died: its activator's series go
    series.publish()
    assert activator.queued.values == {}


async def test_the_scraper_reads_an_instance_as_the_sum_of_every_process() -> None:
    inline = InlineQueue()
    address = ("127.0.0.1", 9)
    inline.add(address, InstanceLimits()).stat = Stat("p", 1.0, 0.0, 4.0, 0.0, 10.0, 5)
    workers = Workers(2, listeners=unstarted(), relay_to=(("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)))
    workers._workers[0].stats = {address: Stat("w", 2.0, 1.0, 6.0, 2.0, 3.0, 4)}
    got = WorkerStats(inline, workers).stat(*address)
    assert got is not None
    assert (got.average_concurrent_requests, got.request_count, got.proxied_request_count) == (3.0, 10.0, 2.0)
    assert WorkerStats(inline, workers).stat("127.0.0.1", 10) is None  # not an instance of ours


async def test_an_instance_gone_is_not_routed_to_before_the_endpoints_follow(pair: tuple[Gateway, Gateway]) -> None:
    _, worker = pair
    state = WorkerState(worker, InlineQueue(), None)
    a, b = ("127.0.0.1", 9), ("127.0.0.1", 10)
    state.apply(("set_instances", "default", "r", (a, b), (InstanceLimits(0), "", "")))
    state.apply(("set_endpoints", "default", "r", (a, b), False))
    assert worker.endpoints("default", "r") == (a, b)
    state.apply(("set_instances", "default", "r", (a,), (InstanceLimits(0), "", "")))  # b is draining
    assert worker.endpoints("default", "r") == (a,)


def test_container_instances_are_never_shown_to_a_worker() -> None:
    if (why := netns.available()) is not None:
        pytest.fail(f"network namespaces are needed here (CI runs as root): {why}")
    ns = netns.create()
    try:
        inside = netns.reserve(ns, 8080)
        contained = (inside.host, inside.port)
        workers = Workers(1, listeners=unstarted(), relay_to=(("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)))
        workers.set_instances("default", "box-00001", [contained], (InstanceLimits(0), "", ""))
        workers.set_endpoints("default", "box-00001", (contained,), False)
        workers.set_instances("default", "proc-00001", [("127.0.0.1", 9)], (InstanceLimits(0), "", ""))
        ops = workers._snapshot()
        # the container revision stays unknown to a worker (relayed: only up's process reaches into the namespace)
        assert [op[:3] for op in ops if op[0] in ("set_instances", "set_endpoints")] == [
            ("set_instances", "default", "proc-00001")
        ]
        inside.release()
    finally:
        ns.close()


async def test_a_revision_without_instances_yet_stays_unknown_to_the_worker_activator() -> None:
    inline = InlineQueue()
    activator = Activator(Throttler(None), ConcurrencyReporter(_NoSink()), admission=inline)
    gateway = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
    state = WorkerState(gateway, inline, None, activator=activator)
    head = RequestHead("GET", "/", "HTTP/1.1", [], "hello.default.localhost", ("127.0.0.1", 1))
    state.apply(("set_instances", "default", "r", (), (InstanceLimits(0), "", "")))
    assert state.to_activator(head, Backend("default", "r", 100)) is None  # relayed, not held here forever
    state.apply(("set_instances", "default", "r", (("127.0.0.1", 9),), (InstanceLimits(0), "", "")))
    state.apply(("set_instances", "default", "r", (), (InstanceLimits(0), "", "")))  # scaled to zero
    assert activator.throttler.revision("default", "r") is not None  # its cold start is held here now


async def test_a_deleted_revision_frees_the_requests_a_worker_activator_holds() -> None:
    """up's revision feed tells the workers of a deletion, as its own activator learns it: a request
    held for the revision's cold start is answered 404 at once, not at its timeout."""
    inline = InlineQueue()
    activator = Activator(Throttler(None), ConcurrencyReporter(_NoSink()), admission=inline)
    state = WorkerState(
        Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0)), inline, None, activator=activator
    )
    state.apply(("set_instances", "default", "hello-00001", (("127.0.0.1", 9),), (InstanceLimits(0), "", "")))
    state.apply(("set_instances", "default", "hello-00001", (), (InstanceLimits(0), "", "")))  # at zero
    alone = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0), no_endpoints=state.to_activator)
    ext, _ = await alone.start()
    try:
        alone.publish(route(1, {"hello-00001": 100}))
        held = asyncio.create_task(fetch(ext, "hello.default.localhost", "/"))
        await eventually(lambda: activator.throttler.waiting("default", "hello-00001"), 30)
        state.apply(("remove_revision", "default", "hello-00001"))
        status, body = await held  # answered because the revision went: its own timeout is 300 s
        assert status == 404 and "was removed" in body
        head = RequestHead("GET", "/", "HTTP/1.1", [], "hello.default.localhost", ("127.0.0.1", 1))
        assert state.to_activator(head, Backend("default", "hello-00001", 100)) is None  # forgotten: relayed
    finally:
        await alone.stop(1)


class _NoSink:
    def send(self, messages: list[StatMessage]) -> None:
        pass


async def test_an_http2_stream_is_relayed_over_h2c_as_it_came() -> None:
    """gRPC through a worker that relays it: ``te: trailers`` and the HTTP/2 framing reach the app (a
    translation to HTTP/1.1 on the loopback hop and back lost them: grpcio reset the stream), and the
    relay adds no forwarding element over HTTP/2 either."""
    async with serve_h2app() as (_app, port):
        main = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
        await main.start()
        relays = await main.start_relays()
        worker = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0), relay_to=relays)
        await worker.start()
        try:
            for gw in (main, worker):
                gw.publish(route(1, {"hello-00001": 100}))
            main.set_endpoints("default", "hello-00001", [("127.0.0.1", port)], h2c=True)
            assert worker.ports is not None
            async with httpx.AsyncClient(http1=False, http2=True) as client:
                got = await client.get(
                    f"http://127.0.0.1:{worker.ports[0]}/headers",
                    headers={"Host": "hello.default.localhost", "te": "trailers"},
                )
            assert got.http_version == "HTTP/2"
            seen = {k.lower(): v for k, v in json.loads(got.text)}
            assert seen["te"] == "trailers"
            assert seen["x-forwarded-for"] == "127.0.0.1"
            assert seen["forwarded"].count("for=") == 1
        finally:
            await worker.stop(1)
            await main.stop(1)


async def test_an_absolute_form_request_is_relayed_to_the_forward_proxy_as_it_came(
    pair: tuple[Gateway, Gateway],
) -> None:
    """``GET http://localhost:PORT/`` on a worker's internal listener (a client given ``http_proxy``):
    the hop to up turns it into origin form, so it goes to up's forward-proxy relay, which refuses
    the platform's own ports (403) as the internal listener does; a relay port is one of them."""
    main, worker = pair
    assert worker.ports is not None and main.ports is not None
    for port in (main.ports[0], *main._protected):
        reader, writer = await asyncio.open_connection("127.0.0.1", worker.ports[1])
        writer.write(f"GET http://localhost:{port}/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
        assert b"zeroserve's own listeners" in answer


async def test_a_route_is_ready_once_every_worker_process_serves_its_generation(upstream: Upstream) -> None:
    """Knative's Ingress is Ready once its prober saw the generation on every gateway pod: the main
    gateway's ``is_ready`` waits for each worker's acknowledgement, and ``on_served`` says when."""
    main = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
    await main.start(processes=3)
    workers = Workers(2, listeners=main, relay_to=await main.start_relays())
    main.mirror = workers
    served: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    workers.on_served = lambda ns, name: served.put_nowait((ns, name))
    await workers.start()
    try:
        main.set_endpoints("default", "hello-00001", [("127.0.0.1", upstream.port)])
        for generation in (1, 2):
            main.publish(route(generation, {"hello-00001": 100}))
            assert main.served_generation("default", "hello") == generation
            assert not main.is_ready("default", "hello", generation)  # no worker has answered yet
            async with asyncio.timeout(30):
                assert await served.get() == ("default", "hello")
            assert main.is_ready("default", "hello", generation)
        # A reconcile that publishes the same table again is not a change: no second call (the
        # Route it enqueues would publish again, and so on forever); the acks are in order, so
        # only generation 3's is left.
        main.publish(route(2, {"hello-00001": 100}))
        main.publish(route(3, {"hello-00001": 100}))
        async with asyncio.timeout(30):
            assert await served.get() == ("default", "hello")
        assert served.empty() and main.is_ready("default", "hello", 3)
        main.withdraw("default", "hello")
        assert not main.is_ready("default", "hello", 3)
    finally:
        await workers.stop(1)
        await main.stop(1)


async def _ask(port: int) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    """A new connection with a request sent on it: (its client port, reader, writer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: hello.default.localhost\r\n\r\n")
    return int(writer.get_extra_info("sockname")[1]), reader, writer


async def test_the_main_gateway_accepts_on_a_workers_sockets_until_it_accepts_there(upstream: Upstream) -> None:
    """``start(processes=3)``: three sockets per address in a reuseport group; the main gateway accepts
    on all three until a worker takes its own (``release``), and again once it is gone (``adopt``)."""
    main = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
    port, _ = await main.start(processes=3)
    main.publish(route(1, {"hello-00001": 100}))
    main.set_endpoints("default", "hello-00001", [("127.0.0.1", upstream.port)])
    writers: list[asyncio.StreamWriter] = []
    worker = socket.socket(fileno=os.dup(main.listeners(1)[0]))  # worker 1's external socket
    worker.setblocking(False)
    try:
        assert main.adopted == [1, 2]
        asked = [await _ask(port) for _ in range(30)]
        writers += [w for _, _, w in asked]
        for _, reader, _ in asked:  # whichever socket the kernel chose, answered here
            async with asyncio.timeout(10):
                assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        main.release(1)  # worker 1 accepts on its socket from now on
        asked = [await _ask(port) for _ in range(30)]
        writers += [w for _, _, w in asked]
        theirs = sorted(p for p, _, _ in asked if expected_index(p, 3) == 1)
        assert theirs, "none of 30 connections went to worker 1's socket"
        for client_port, reader, _ in asked:
            if expected_index(client_port, 3) != 1:
                async with asyncio.timeout(10):
                    assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        # the others were answered meanwhile: worker 1's connections are all still in its backlog
        assert sorted(accepted(worker)) == theirs
        await main.adopt(1)  # worker 1 is gone: its connections are accepted here again
        asked = [await _ask(port) for _ in range(30)]
        writers += [w for _, _, w in asked]
        for _, reader, _ in asked:
            async with asyncio.timeout(10):
                assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    finally:
        for writer in writers:
            writer.close()
        worker.close()
        await main.stop(1)


async def test_a_workers_sockets_are_the_main_gateways_until_it_accepts_after_its_death_and_at_its_stop() -> None:
    main = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
    await main.start(processes=2)
    workers = Workers(1, listeners=main, relay_to=await main.start_relays())
    main.mirror = workers
    try:
        assert main.adopted == [1]  # no worker accepts there yet
        await workers.start()
        await eventually(lambda: main.adopted == [], 30)  # it said it accepts
        process = workers._workers[0].process
        assert process is not None
        process.kill()
        await eventually(lambda: main.adopted == [1], 30)  # its backlog is accepted here until it is back
        await eventually(lambda: main.adopted == [] and workers._workers[0].process is not process, 30)
        await workers.stop(1)
        assert main.adopted == [1]  # what reaches its socket while it drains is answered here
    finally:
        await workers.stop(1)
        await main.stop(1)


async def test_a_stuck_workers_sockets_are_the_main_gateways_until_it_answers_again(upstream: Upstream) -> None:
    """A worker whose loop answers no ping for STUCK_AFTER seconds (stopped here with SIGSTOP) has its
    new connections accepted by the main gateway, which answers them, until it answers again."""
    main = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
    port, _ = await main.start(processes=2)
    main.publish(route(1, {"hello-00001": 100}))
    main.set_endpoints("default", "hello-00001", [("127.0.0.1", upstream.port)])
    workers = Workers(1, listeners=main, relay_to=await main.start_relays())
    main.mirror = workers
    writers: list[asyncio.StreamWriter] = []
    try:
        await workers.start()
        await eventually(lambda: main.adopted == [], 30)
        process = workers._workers[0].process
        assert process is not None
        process.send_signal(signal.SIGSTOP)
        try:
            await eventually(lambda: main.adopted == [1], 30)
            asked = [await _ask(port) for _ in range(20)]  # some to the stopped worker's socket
            writers += [w for _, _, w in asked]
            assert any(expected_index(p, 2) == 1 for p, _, _ in asked)
            for _, reader, _ in asked:  # every one answered, here
                async with asyncio.timeout(10):
                    assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        finally:
            process.send_signal(signal.SIGCONT)
        await eventually(lambda: main.adopted == [], 30)
        assert workers._workers[0].process is process  # the same worker, not a restart
    finally:
        for writer in writers:
            writer.close()
        await workers.stop(1)
        await main.stop(1)
