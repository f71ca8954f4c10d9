"""The gateway on real listeners, with real upstream servers and clients on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.net.upstreams import Upstream, run_upstream
from tests.support.h2app import serve as serve_h2app
from zeroserve.gateway import Backend, Gateway, RouteEntry, RoutingTable, Rule
from zeroserve.queue.inline import InlineQueue, InstanceLimits


def route(generation: int, split: dict[str, int], tags: dict[str, str] | None = None) -> RouteEntry:
    targets = tuple(Backend("default", rev, pct) for rev, pct in split.items())
    rules = [
        Rule(("hello.default", "hello.default.svc", "hello.default.svc.cluster.local"), "ClusterLocal", targets),
        Rule(("hello.default.localhost",), "ExternalIP", targets),
    ]
    for tag, rev in (tags or {}).items():
        rules.append(Rule((f"{tag}-hello.default.localhost",), "ExternalIP", (Backend("default", rev, 100),), tag))
    return RouteEntry("default", "hello", generation, tuple(rules))


def private(generation: int) -> RouteEntry:
    targets = (Backend("default", "hello-00001", 100),)
    hosts = ("private.default", "private.default.svc", "private.default.svc.cluster.local")
    return RouteEntry("default", "private", generation, (Rule(hosts, "ClusterLocal", targets),))


@pytest.fixture
async def ups() -> AsyncIterator[tuple[Upstream, Upstream]]:
    async with run_upstream("hello-00001") as one, run_upstream("hello-00002") as two:
        yield one, two


@pytest.fixture
async def gateway(ups: tuple[Upstream, Upstream]) -> AsyncIterator[Gateway]:
    gw = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0), rand=random.Random(42).random)
    await gw.start()
    for up in ups:
        gw.set_endpoints("default", up.name, [("127.0.0.1", up.port)])
    yield gw
    await gw.stop(1)


async def get(port: int, host: str, path: str = "/", session: aiohttp.ClientSession | None = None) -> tuple[int, str]:
    async with contextlib.AsyncExitStack() as stack:
        s = session if session is not None else await stack.enter_async_context(aiohttp.ClientSession())
        r = await stack.enter_async_context(s.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}))
        return r.status, await r.text()


async def test_host_routing_and_404_lists_hosts(gateway: Gateway) -> None:
    assert gateway.ports is not None
    ext, _ = gateway.ports
    assert (await get(ext, "hello.default.localhost"))[0] == 404
    gateway.publish(route(1, {"hello-00001": 100}))
    assert await get(ext, "Hello.Default.localhost:8080") == (200, "hello from hello-00001")
    status, body = await get(ext, "nope.default.localhost")
    assert status == 404
    assert "nope.default.localhost" in body
    assert "hello.default.localhost" in body
    assert "svc.cluster.local" not in body


async def test_weighted_split_statistics(gateway: Gateway) -> None:
    assert gateway.ports is not None
    gateway.set_table(RoutingTable([route(1, {"hello-00001": 50, "hello-00002": 50})]))
    counts: Counter[str] = Counter()
    async with aiohttp.ClientSession() as s:
        for _ in range(2000):
            status, body = await get(gateway.ports[0], "hello.default.localhost", session=s)
            assert status == 200
            counts[body] += 1
    assert 900 <= counts["hello from hello-00001"] <= 1100, counts
    assert counts["hello from hello-00001"] + counts["hello from hello-00002"] == 2000


async def test_tag_host_always_reaches_its_revision(gateway: Gateway) -> None:
    assert gateway.ports is not None
    gateway.publish(route(1, {"hello-00002": 100}, tags={"old": "hello-00001"}))
    async with aiohttp.ClientSession() as s:
        for _ in range(50):
            assert await get(gateway.ports[0], "old-hello.default.localhost", session=s) == (
                200,
                "hello from hello-00001",
            )


async def test_cluster_local_only_on_internal_listener(gateway: Gateway) -> None:
    assert gateway.ports is not None
    ext, internal = gateway.ports
    gateway.publish(route(1, {"hello-00001": 100}))
    gateway.publish(private(4))
    for host in ("hello.default.svc.cluster.local", "hello.default.svc", "hello.default", "private.default"):
        assert (await get(ext, host))[0] == 404, host
        assert await get(internal, host) == (200, "hello from hello-00001"), host
    assert (await get(internal, "hello.default.localhost"))[0] == 200
    assert gateway.served_generation("default", "private") == 4
    assert gateway.is_ready("default", "private", 4)
    assert not gateway.is_ready("default", "private", 5)
    gateway.withdraw("default", "private")
    assert gateway.served_generation("default", "private") is None
    assert (await get(internal, "private.default"))[0] == 404


async def test_no_ready_endpoint_gives_503(gateway: Gateway) -> None:
    assert gateway.ports is not None
    gateway.publish(route(1, {"hello-00003": 100}))
    status, body = await get(gateway.ports[0], "hello.default.localhost")
    assert status == 503
    assert "default/hello-00003" in body


async def test_least_loaded_instance(ups: tuple[Upstream, Upstream]) -> None:
    """Two instances of one revision: a second request avoids the busy one."""
    one, two = ups
    async with Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0)) as gw:
        assert gw.ports is not None
        gw.publish(route(1, {"rev": 100}))
        gw.set_endpoints("default", "rev", [("127.0.0.1", one.port), ("127.0.0.1", two.port)])
        async with aiohttp.ClientSession() as s:
            first = asyncio.create_task(get(gw.ports[0], "hello.default.localhost", "/slow", s))
            while gw.in_flight(("127.0.0.1", one.port)) + gw.in_flight(("127.0.0.1", two.port)) == 0:
                await asyncio.sleep(0)  # wait-ok: yield to the loop once
            busy, idle = (one, two) if gw.in_flight(("127.0.0.1", one.port)) else (two, one)
            idle.gate.set()
            for _ in range(5):
                assert await get(gw.ports[0], "hello.default.localhost", "/slow", s) == (200, f"slow from {idle.name}")
            busy.gate.set()
            assert await first == (200, f"slow from {busy.name}")
        assert gw.in_flight(("127.0.0.1", busy.port)) == 0


async def test_table_swap_during_in_flight_requests_loses_nothing(
    gateway: Gateway, ups: tuple[Upstream, Upstream]
) -> None:
    assert gateway.ports is not None
    one, _ = ups
    gateway.publish(route(1, {"hello-00001": 100}))
    async with aiohttp.ClientSession() as s:
        slow = [asyncio.create_task(get(gateway.ports[0], "hello.default.localhost", "/slow", s)) for _ in range(20)]
        while gateway.in_flight(("127.0.0.1", one.port)) < 20:
            await asyncio.sleep(0)  # wait-ok: yield to the loop once
        results: list[tuple[int, str]] = []

        async def load(port: int) -> None:
            for _ in range(100):
                results.append(await get(port, "hello.default.localhost", "/", s))

        loader = asyncio.create_task(load(gateway.ports[0]))
        for gen in range(2, 40):
            split = {"hello-00001": 100} if gen % 2 else {"hello-00002": 100}
            gateway.publish(route(gen, split))
            await asyncio.sleep(0)  # wait-ok: yield to the loop once
        gateway.publish(route(40, {"hello-00002": 100}))
        await loader
        one.gate.set()
        done = await asyncio.gather(*slow)
    assert all(status == 200 for status, _ in results)
    assert done == [(200, "slow from hello-00001")] * 20
    assert await get(gateway.ports[0], "hello.default.localhost") == (200, "hello from hello-00002")
    assert gateway.served_generation("default", "hello") == 40


async def test_table_changes_reach_hosts_already_seen(gateway: Gateway) -> None:
    """Host lookups are remembered per Host header; every table change must forget them."""
    assert gateway.ports is not None
    ext, _ = gateway.ports
    gateway.publish(route(1, {"hello-00001": 100}))
    async with aiohttp.ClientSession() as s:
        for host in ("hello.default.localhost", "HELLO.default.localhost:80"):
            assert await get(ext, host, session=s) == (200, "hello from hello-00001")
        gateway.publish(route(2, {"hello-00002": 100}))
        for host in ("hello.default.localhost", "HELLO.default.localhost:80"):
            assert await get(ext, host, session=s) == (200, "hello from hello-00002")
        gateway.set_table(RoutingTable([route(3, {"hello-00001": 100})]))
        assert await get(ext, "hello.default.localhost", session=s) == (200, "hello from hello-00001")
        gateway.withdraw("default", "hello")
        assert (await get(ext, "hello.default.localhost", session=s))[0] == 404


async def raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()


async def test_an_absolute_form_target_is_routed_by_its_host(gateway: Gateway) -> None:
    """RFC 9112 3.2.2: the target's authority, not the Host header, says where the request goes."""
    assert gateway.ports is not None
    gateway.publish(route(1, {"hello-00001": 100}))
    request = (
        b"GET http://hello.default.localhost/ HTTP/1.1\r\nHost: nope.default.localhost\r\nConnection: close\r\n\r\n"
    )
    out = await raw(gateway.ports[0], request)
    assert out.startswith(b"HTTP/1.1 200") and out.endswith(b"hello from hello-00001")


async def test_a_head_over_60k_gets_431_from_the_gateway(gateway: Gateway) -> None:
    assert gateway.ports is not None
    gateway.publish(route(1, {"hello-00001": 100}))
    head = b"GET / HTTP/1.1\r\nHost: hello.default.localhost\r\nCookie: " + b"c" * 61440 + b"\r\n\r\n"
    out = await raw(gateway.ports[0], head)
    assert out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    assert b"the limit is 61440 bytes (max_head)" in out


@pytest.mark.parametrize("inline", [False, True], ids=["sidecar-endpoints", "inline-queue"])
async def test_a_revision_that_speaks_h2c_is_reached_over_http2(inline: bool) -> None:
    """``set_endpoints(h2c=True)`` (queue-proxy sidecars) or the instance's ``InstanceLimits.h2c``
    (inline): the app gets HTTP/2 (prior knowledge) from an HTTP/1.1 client; its neighbour HTTP/1.1."""
    async with serve_h2app() as (_app, port):
        admission = InlineQueue() if inline else None
        if admission is not None:
            admission.add(("127.0.0.1", port), InstanceLimits(h2c=True))
        gw = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0), admission=admission)
        await gw.start()
        try:
            gw.publish(route(1, {"hello-00001": 100}, tags={"plain": "hello-00002"}))
            gw.set_endpoints("default", "hello-00001", [("127.0.0.1", port)], h2c=not inline)
            gw.set_endpoints("default", "hello-00002", [("127.0.0.1", port)])
            ext, _ = gw.ports or (0, 0)
            assert await get(ext, "hello.default.localhost", "/proto") == (200, "HTTP/2.0")
            if not inline:  # inline, the instance's queue says h2c whichever revision routes to it
                assert await get(ext, "plain-hello.default.localhost", "/proto") == (200, "HTTP/1.1")
            gw.set_endpoints("default", "hello-00001", [])
            gw.set_endpoints("default", "hello-00001", [("127.0.0.1", port)])
            if not inline:
                assert await get(ext, "hello.default.localhost", "/proto") == (200, "HTTP/1.1"), "h2c is per set"
        finally:
            await gw.stop(1)
