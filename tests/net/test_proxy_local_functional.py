"""Requests the proxy answers in its own process (``Local``), on a real socket: the body read whole
and bounded, sync and async handlers, failures, a client that goes away, keep-alive after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import aiohttp
import pytest

from tests.net.upstreams import raw_request
from zeroserve.net import ProxyServer, RequestHead, Response
from zeroserve.net.proxy import Local


class Handler:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    def __call__(self, head: RequestHead, body: bytes) -> Response | Awaitable[Response]:
        self.seen.append((head.method, head.path, body))
        if head.path == "/boom":
            raise RuntimeError("boom")
        if head.path == "/held":
            return self._held()
        if head.path == "/async-boom":
            return self._boom()
        return Response(200, b"got %d bytes" % len(body), ((b"X-Local", b"yes"),))

    async def _held(self) -> Response:
        self.started.set()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return Response(202, b"released")

    async def _boom(self) -> Response:
        raise RuntimeError("async boom")


@pytest.fixture
async def served() -> AsyncIterator[tuple[int, Handler]]:
    handler = Handler()
    local = Local(handler, max_body=100_000)
    server = ProxyServer(lambda _head: local)
    port = await server.start()
    try:
        yield port, handler
    finally:
        handler.gate.set()
        await server.stop(1)


async def test_the_whole_body_reaches_the_handler_and_keep_alive_goes_on(served: tuple[int, Handler]) -> None:
    port, handler = served
    body = b"x" * 90_000  # past the proxy's 64 KiB buffer mark: read on, not paused
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        for _ in range(3):
            async with http.post(f"http://127.0.0.1:{port}/a?b=1", data=body) as resp:
                assert (resp.status, await resp.text(), resp.headers["X-Local"]) == (200, "got 90000 bytes", "yes")
    assert handler.seen[0] == ("POST", "/a?b=1", body)


async def test_async_handlers_and_pipelining_answer_in_order(served: tuple[int, Handler]) -> None:
    port, handler = served
    handler.gate.set()
    out = await raw_request(
        port,
        b"POST /held HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert out.index(b"HTTP/1.1 202") < out.index(b"HTTP/1.1 200")
    assert out.endswith(b"got 0 bytes")


async def test_a_chunked_body_with_expect_continue(served: tuple[int, Handler]) -> None:
    port, handler = served
    out = await raw_request(
        port,
        b"POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    )
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ")
    assert handler.seen[-1] == ("POST", "/c", b"abcde")


async def test_a_body_past_the_limit_is_413_and_the_handler_never_runs(served: tuple[int, Handler]) -> None:
    port, handler = served
    out = await raw_request(port, b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + b"y" * 200_000)
    assert out.startswith(b"HTTP/1.1 413 ") and b"larger than 100000 bytes" in out
    assert handler.seen == []


async def test_handler_failures_are_500(served: tuple[int, Handler]) -> None:
    port, _ = served
    async with aiohttp.ClientSession() as http:
        for path in ("/boom", "/async-boom"):
            async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                assert resp.status == 500, path


async def test_a_client_that_goes_away_cancels_the_handler(served: tuple[int, Handler]) -> None:
    port, handler = served
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(handler.started.wait(), 5)
    writer.close()
    await asyncio.wait_for(handler.cancelled.wait(), 5)


async def test_upgrades_are_refused(served: tuple[int, Handler]) -> None:
    port, handler = served
    out = await raw_request(port, b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ")
    assert handler.seen == []
