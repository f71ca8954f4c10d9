"""What one client connection may make the proxy hold (net.limits), on real sockets.

Each test talks raw bytes to a real :class:`ProxyServer` on 127.0.0.1 in front of a real upstream.
The backpressure tests look at the server's connection (``_state.connections``) to see that it
stopped reading: from the outside, bytes the proxy does not read are indistinguishable from bytes
still in the kernel's buffers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from tests.net.upstreams import Upstream, run_upstream
from tests.support.polling import eventually
from zeroserve.net import ProxyServer, RequestHead, Response, Target
from zeroserve.net.limits import MAX_REQUEST_HEAD, MAX_REQUEST_TARGET, SLICE, ConnectionLimits
from zeroserve.net.proxy import HIGH_WATER, _Downstream

HEAD = b"GET /headers HTTP/1.1\r\nHost: a\r\n"


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with run_upstream() as up:
        yield up


def only_connection(server: ProxyServer) -> _Downstream:
    assert server._state is not None
    (conn,) = server._state.connections
    assert isinstance(conn, _Downstream)
    return conn


@asynccontextmanager
async def proxy_to(port: int | None, limits: ConnectionLimits = ConnectionLimits()) -> AsyncIterator[ProxyServer]:
    """A proxy to the upstream on ``port`` (None: it answers 200 ``ok`` itself)."""
    heads: list[RequestHead] = []

    def route(head: RequestHead) -> Target | Response:
        heads.append(head)
        return Response(200, b"ok") if port is None else Target("127.0.0.1", port)

    async with ProxyServer(route, limits=limits) as server:
        server.heads = heads  # type: ignore[attr-defined]  # for the assertions of a test
        yield server


async def exchange(port: int, data: bytes, *, pieces: int = 1) -> bytes:
    """Send ``data`` (in ``pieces`` writes), read until the proxy closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    step = -(-len(data) // pieces)
    try:
        for start in range(0, len(data), step):
            writer.write(data[start : start + step])
            await writer.drain()
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()


def status_and_body(response: bytes) -> tuple[int, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# -- the request head ------------------------------------------------------------------------------


@pytest.mark.parametrize("pieces", [pytest.param(1, id="one-write"), pytest.param(70, id="70-writes")])
async def test_a_head_over_60k_gets_431_that_names_the_limit(upstream: Upstream, pieces: int) -> None:
    async with proxy_to(upstream.port) as server:
        big = HEAD + b"X-Big: " + b"a" * MAX_REQUEST_HEAD + b"\r\n\r\n"
        status, body = status_and_body(await exchange(server.port, big, pieces=pieces))
    assert status == 431
    assert f"the limit is {MAX_REQUEST_HEAD} bytes (max_head)".encode() in body
    assert upstream.requests == 0 and not server.heads  # type: ignore[attr-defined]


async def test_a_head_just_within_the_limit_passes_in_small_writes() -> None:
    """Measured as Envoy does: method, target, names and values (here 8 bytes under the limit)."""
    value = b"v" * (MAX_REQUEST_HEAD - len(b"GET/headersHostaX-BigConnectionclose") - 8)
    request = HEAD + b"X-Big: " + value + b"\r\nConnection: close\r\n\r\n"
    async with proxy_to(None) as server:
        status, _ = status_and_body(await exchange(server.port, request, pieces=100))
        (head,) = server.heads  # type: ignore[attr-defined]
    assert status == 200
    assert head.header("X-Big") == value.decode()


async def test_a_long_request_target_gets_414(upstream: Upstream) -> None:
    async with proxy_to(upstream.port) as server:
        long = b"GET /" + b"p" * MAX_REQUEST_TARGET + b" HTTP/1.1\r\nHost: a\r\n\r\n"
        status, body = status_and_body(await exchange(server.port, long))
    assert status == 414
    assert f"the limit is {MAX_REQUEST_TARGET} bytes (max_target)".encode() in body


async def test_an_endless_header_line_is_cut_off_near_the_limit(upstream: Upstream) -> None:
    """64 MB of one header line: answered 431 after about the limit, not after the 64 MB."""
    async with proxy_to(upstream.port) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(HEAD + b"X-Big: ")

        async def flood() -> None:
            chunk = b"a" * 65536
            for _ in range(1024):
                writer.write(chunk)
                await writer.drain()

        sending = asyncio.create_task(flood())
        async with asyncio.timeout(10):
            status, body = status_and_body(await reader.read())
        assert status == 431 and b"over the limit" in body
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(sending, 10)  # the proxy closed: the 64 MB were never taken
        writer.close()


async def test_a_head_trickling_in_gets_408_after_head_timeout(upstream: Upstream) -> None:
    async with proxy_to(upstream.port, ConnectionLimits(head_timeout=0.2)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        async with asyncio.timeout(10):
            status, body = status_and_body(await reader.read())
        writer.close()
    assert status == 408
    assert b"(head_timeout)" in body


async def test_an_idle_connection_is_closed_after_idle_timeout(upstream: Upstream) -> None:
    async with proxy_to(upstream.port, ConnectionLimits(idle_timeout=0.2)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        async with asyncio.timeout(10):
            first = await reader.readuntil(b"hello from up")
            rest = await reader.read()  # then nothing, until the proxy closes
        writer.close()
    assert first.startswith(b"HTTP/1.1 200") and rest == b""


# -- malformed requests -----------------------------------------------------------------------------


async def test_a_bad_chunk_size_gets_400(upstream: Upstream) -> None:
    request = b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"
    async with proxy_to(upstream.port) as server:
        status, body = status_and_body(await exchange(server.port, request))
        assert server.pool.idle_count() == 0, "the upstream connection got half a body: not reused"
    assert status == 400
    assert body.startswith(b"bad request: ")


async def test_a_malformed_request_is_answered_in_its_turn(upstream: Upstream) -> None:
    async with proxy_to(upstream.port) as server:
        out = await exchange(server.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nBad Header\r\n\r\n")
    first, _, second = out.partition(b"hello from up")
    assert first.startswith(b"HTTP/1.1 200")
    assert second.startswith(b"HTTP/1.1 400") and b"Connection: close" in second


async def test_bytes_after_a_request_that_closes_the_connection_are_not_processed(upstream: Upstream) -> None:
    """RFC 9112 9.6: after ``Connection: close`` the server processes no further request (no 400 either)."""
    request = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /headers HTTP/1.1\r\nHost: a\r\n\r\n"
    async with proxy_to(upstream.port) as server:
        out = await exchange(server.port, request)
    assert out.startswith(b"HTTP/1.1 200") and out.endswith(b"hello from up")
    assert out.count(b"HTTP/1.1 ") == 1 and upstream.requests == 1


async def test_pipelined_requests_of_a_client_that_vanished_are_not_counted(upstream: Upstream) -> None:
    async with proxy_to(upstream.port) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n" * 3)
        await asyncio.wait_for(upstream.started.wait(), 10)
        writer.close()
        await eventually(lambda: not server._state or not server._state.connections, 10)
        assert server.in_flight == 0, "only the request that started was counted, and it is over"


# -- absolute-form targets (RFC 9112 3.2.2) -----------------------------------------------------------


async def test_an_absolute_form_target_is_routed_and_sent_by_its_authority(upstream: Upstream) -> None:
    request = b"GET http://Example.com:8080/headers?q=1 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n"
    async with proxy_to(upstream.port) as server:
        status, body = status_and_body(await exchange(server.port, request))
        (head,) = server.heads  # type: ignore[attr-defined]
    assert status == 200
    assert (head.host, head.path) == ("Example.com:8080", "/headers?q=1")
    seen = json.loads(body)
    assert seen["path"] == "/headers?q=1"
    assert [v for k, v in seen["headers"] if k.lower() == "host"] == ["Example.com:8080"]


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"http://user@example.com/", id="userinfo"),
        pytest.param(b"ftp://example.com/", id="scheme"),
        pytest.param(b"http:///path", id="empty-authority"),
    ],
)
async def test_an_unroutable_absolute_form_target_gets_400(upstream: Upstream, target: bytes) -> None:
    async with proxy_to(upstream.port) as server:
        status, body = status_and_body(await exchange(server.port, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert status == 400
    assert body.startswith(b"bad request: absolute-form target")


# -- backpressure ---------------------------------------------------------------------------------------


@dataclass
class SlowSwitch:
    """Reads an upgrade request, switches protocols only when told, then counts what comes."""

    port: int = 0
    got_request: asyncio.Event = field(default_factory=asyncio.Event)
    switch: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    received: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.got_request.set()
        await self.switch.wait()
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\n")
        while data := await reader.read(65536):
            self.received += len(data)
        writer.close()
        self.done.set()


async def test_bytes_after_an_upgrade_request_wait_in_the_kernel_until_101() -> None:
    up = SlowSwitch()
    upstream = await asyncio.start_server(up.handle, "127.0.0.1", 0)
    up.port = upstream.sockets[0].getsockname()[1]
    total = 32 << 20
    try:
        async with proxy_to(up.port) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n")
            writer.write(b"x" * total)  # the transport sends what the kernel takes, keeps the rest
            await asyncio.wait_for(up.got_request.wait(), 10)
            conn = only_connection(server)
            await eventually(lambda: conn.paused, 10)
            assert conn.upgrading is not None
            assert sum(map(len, conn.upgrading.buffer)) <= HIGH_WATER + 256 * 1024
            up.switch.set()
            async with asyncio.timeout(10):
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
                await writer.drain()
            await eventually(lambda: up.received == total, 10)
            writer.close()
            await asyncio.wait_for(up.done.wait(), 10)  # the proxy closed the upstream side too
    finally:
        upstream.close()
        await upstream.wait_closed()


async def test_pipelined_requests_are_parsed_no_deeper_than_the_limit(upstream: Upstream) -> None:
    """200 pipelined requests behind a slow one: the proxy holds at most the pipeline (plus one
    slice's worth); once the slow one answers, all 200 are answered, in order."""
    limits = ConnectionLimits(pipeline=8)
    request = b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
    async with proxy_to(upstream.port, limits) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request * 200)
        await asyncio.wait_for(upstream.started.wait(), 10)
        conn = only_connection(server)
        await eventually(lambda: conn.paused, 10)
        assert len(conn.exchanges) <= limits.pipeline + SLICE // len(request) + 1
        upstream.gate.set()
        async with asyncio.timeout(20):
            for _ in range(200):
                await reader.readuntil(b"slow from up")
        writer.close()
