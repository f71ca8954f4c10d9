"""The small HTTP client on the upstream pool (``zeroserve.net.client``) against real servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.net.upstreams import run_upstream
from zeroserve.net.client import ClientError, request, request_bytes
from zeroserve.net.upstream import UpstreamPool


async def test_answers_whole_and_connections_kept_alive() -> None:
    pool = UpstreamPool()
    async with run_upstream("app") as app:
        for _ in range(5):
            resp = await request(pool, ("127.0.0.1", app.port), request_bytes("GET", "/", "a", [], b""))
            assert (resp.status, resp.body) == (200, b"hello from app")
        assert len(app.peers) == 1, "one connection, reused"
        resp = await request(pool, ("127.0.0.1", app.port), request_bytes("POST", "/echo", "a", [], b"x" * 70_000))
        assert (resp.status, len(resp.body)) == (200, 70_000)
        with pytest.raises(ClientError, match="larger than 1000 bytes"):
            await request(
                pool, ("127.0.0.1", app.port), request_bytes("POST", "/echo", "a", [], b"x" * 5000), max_body=1000
            )
        assert pool.idle_count(("127.0.0.1", app.port)) == 0, "the broken exchange's connection is not pooled"
    pool.close()


@asynccontextmanager
async def one_answer_per_connection() -> AsyncIterator[tuple[int, list[bytes]]]:
    """Answers the first request of each connection (keep-alive), then closes on the second
    without answering: a kept-alive connection the server dropped just as it was reused."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for first in (True, False):
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head.split(b" ")[1])
                if first:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
        except asyncio.IncompleteReadError:
            pass  # the client went first
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()


async def test_a_dropped_kept_alive_connection_is_tried_once_more() -> None:
    pool = UpstreamPool()
    async with one_answer_per_connection() as (port, seen):
        assert (await request(pool, ("127.0.0.1", port), request_bytes("GET", "/1", "h", [], b""))).status == 200
        assert (await request(pool, ("127.0.0.1", port), request_bytes("GET", "/2", "h", [], b""))).body == b"ok"
        assert seen == [b"/1", b"/2", b"/2"], "sent again on a new connection (a duplicate the caller accepts)"
    pool.close()


async def test_no_answer_on_a_new_connection_is_an_error() -> None:
    pool = UpstreamPool()

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
        finally:
            writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with pytest.raises(ClientError, match="closed the connection before answering"):
        await request(pool, ("127.0.0.1", port), request_bytes("GET", "/", "h", [], b""))
    server.close()
    with pytest.raises(ClientError, match=r"connect to 127\.0\.0\.1"):
        await request(pool, ("127.0.0.1", port), request_bytes("GET", "/", "h", [], b""))


async def test_a_timeout_aborts_the_connection() -> None:
    pool = UpstreamPool()
    async with run_upstream("slow") as app:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await request(pool, ("127.0.0.1", app.port), request_bytes("GET", "/slow", "h", [], b""))
        assert pool.idle_count() == 0
    pool.close()
