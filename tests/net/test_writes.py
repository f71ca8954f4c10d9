"""Writes held to the end of the loop's turn (``net.writes``), on real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from zeroserve.net import writes
from zeroserve.net.writes import Writes


class Peer(asyncio.Protocol):
    """The far end: records what arrives and whether the connection ended cleanly."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.ended = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended.done():
            self.ended.set_result("reset" if exc is not None else "closed")


Open = Callable[[], Awaitable[tuple[asyncio.Transport, Peer]]]


class Counting(Writes):
    """Counts the loop's calls of ``flush`` (the real one runs)."""

    __slots__ = ("flushes",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


@pytest.fixture
async def connect() -> AsyncIterator[Open]:
    """Opens client transports to one server: ``await connect()`` gives (client transport, its server-side Peer)."""
    accepted: asyncio.Queue[Peer] = asyncio.Queue()

    def accept() -> Peer:
        peer = Peer()
        accepted.put_nowait(peer)
        return peer

    server = await asyncio.get_running_loop().create_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    opened: list[asyncio.Transport] = []

    async def open_one() -> tuple[asyncio.Transport, Peer]:
        transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol, "127.0.0.1", port)
        opened.append(transport)
        return transport, await asyncio.wait_for(accepted.get(), 5)  # one connection at a time: its peer

    yield open_one
    for t in opened:
        t.abort()
    server.close()
    await server.wait_closed()


async def test_nothing_is_written_until_the_turn_ends_then_all_in_order(connect: Open) -> None:
    (a, peer_a), (b, peer_b) = await connect(), await connect()
    q = writes.for_loop()
    for i in range(3):
        q.write(a, b"a%d " % i)
        q.write(b, b"b%d " % i)
    q.close(a)
    q.close(b)
    assert await asyncio.wait_for(peer_a.ended, 5) == "closed"
    assert await asyncio.wait_for(peer_b.ended, 5) == "closed"
    assert bytes(peer_a.data) == b"a0 a1 a2 "
    assert bytes(peer_b.data) == b"b0 b1 b2 "


async def test_one_loop_one_queue() -> None:
    assert writes.for_loop() is writes.for_loop(asyncio.get_running_loop())


async def test_abort_drops_what_is_queued_and_a_later_write_is_ignored(connect: Open) -> None:
    (a, peer_a), (b, peer_b) = await connect(), await connect()
    q = writes.for_loop()
    q.write(a, b"never sent")
    q.write(b, b"kept")
    a.abort()
    q.write(a, b"after the abort")  # the exchange did not know yet
    q.close(b)
    await asyncio.wait_for(peer_a.ended, 5)  # abort closes without a flush (a FIN here: nothing was unread)
    assert await asyncio.wait_for(peer_b.ended, 5) == "closed"
    assert bytes(peer_a.data) == b""
    assert bytes(peer_b.data) == b"kept"


async def test_writes_after_a_queued_close_go_nowhere(connect: Open) -> None:
    a, peer_a = await connect()
    q = writes.for_loop()
    q.write(a, b"last")
    q.close(a)
    q.write(a, b"too late")
    assert await asyncio.wait_for(peer_a.ended, 5) == "closed"
    assert bytes(peer_a.data) == b"last"


async def test_flush_runs_once_per_turn_and_an_empty_write_schedules_nothing(connect: Open) -> None:
    a, peer_a = await connect()
    q = Counting(asyncio.get_running_loop())
    q.write(a, b"")
    await asyncio.sleep(0)  # wait-ok: one turn of the loop is what is tested
    assert q.flushes == 0
    for _ in range(100):
        q.write(a, b"x")
    await asyncio.sleep(0)  # wait-ok: one turn of the loop is what is tested
    assert q.flushes == 1
    q.write(a, b"y")
    await asyncio.sleep(0)  # wait-ok: one turn of the loop is what is tested
    assert q.flushes == 2
    q.close(a)
    assert await asyncio.wait_for(peer_a.ended, 5) == "closed"
    assert bytes(peer_a.data) == b"x" * 100 + b"y"


async def test_a_failing_transport_costs_the_others_nothing(connect: Open, caplog: pytest.LogCaptureFixture) -> None:
    (a, peer_a), (b, peer_b) = await connect(), await connect()
    q = writes.for_loop()
    a.write_eof()  # a write after this raises
    q.write(a, b"refused")
    q.write(b, b"delivered")
    q.close(b)
    assert await asyncio.wait_for(peer_b.ended, 5) == "closed"
    assert bytes(peer_b.data) == b"delivered"
    assert "write to" in caplog.text and "failed" in caplog.text
    assert bytes(peer_a.data) == b""


async def test_a_write_past_the_bound_makes_the_queue_at_once(connect: Open) -> None:
    """Bulk data is not held: flow control (and memory) see it when the write is made."""
    (a, peer_a), (b, peer_b) = await connect(), await connect()
    q = writes.for_loop()
    small, bulk = b"head ", b"x" * (writes.HOLD_BYTES + 1)
    q.write(b, small)
    q.write(a, small)
    q.write(a, bulk)  # past the bound: everything queued goes now, in order
    q.write(b, b"held")
    a.close()  # the transport still sends what it was given; what the queue held would be dropped
    b.close()  # b's second write was held: dropped
    await asyncio.wait_for(peer_a.ended, 5)
    await asyncio.wait_for(peer_b.ended, 5)
    assert bytes(peer_a.data) == small + bulk
    assert bytes(peer_b.data) == small
