"""The gateway worker channel's framing (``zeroserve.gateway.workers.Channel``), over a real socketpair."""

from __future__ import annotations

import asyncio
import socket

import pytest

from zeroserve.gateway.workers import Op, encode, open_channel


async def test_each_operation_is_handled_once_its_frame_is_in_however_the_bytes_arrive() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    got: asyncio.Queue[Op] = asyncio.Queue()
    ended = asyncio.Event()
    channel = await open_channel(ours, got.put_nowait, ended.set, "test channel")
    theirs.setblocking(False)
    loop = asyncio.get_running_loop()
    frames = encode(("a", 1)) + encode(("b", {"x": [1, 2]})) + encode(("c",))
    for i in range(0, len(frames), 7):  # split across frame boundaries and inside headers
        await loop.sock_sendall(theirs, frames[i : i + 7])
        await asyncio.sleep(0)  # wait-ok: one turn of the loop, so that the pieces arrive one by one
    async with asyncio.timeout(5):
        assert [await got.get() for _ in range(3)] == [("a", 1), ("b", {"x": [1, 2]}), ("c",)]
    channel.send(("back", 2))
    data = await loop.sock_recv(theirs, 1024)
    assert data == encode(("back", 2))
    theirs.close()
    async with asyncio.timeout(5):
        await ended.wait()
    assert channel.closing


async def test_a_failing_operation_is_logged_and_the_next_one_is_handled(caplog: pytest.LogCaptureFixture) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    got: asyncio.Queue[Op] = asyncio.Queue()

    def on_op(op: Op) -> None:
        if op[0] == "bad":
            raise RuntimeError("boom")
        got.put_nowait(op)

    channel = await open_channel(ours, on_op, lambda: None, "test channel")
    theirs.sendall(encode(("bad",)) + encode(("good",)))
    async with asyncio.timeout(5):
        assert await got.get() == ("good",)
    assert got.empty() and not channel.closing
    assert "test channel: 'bad' failed" in caplog.text
    channel.close()
    theirs.close()


async def test_a_frame_that_is_not_an_operation_closes_the_channel(caplog: pytest.LogCaptureFixture) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ended = asyncio.Event()
    got: list[Op] = []
    await open_channel(ours, got.append, ended.set, "test channel")
    theirs.sendall(encode(["not", "a", "tuple"]) + encode(("after",)))  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        await ended.wait()
    assert got == [] and "not an operation on the gateway worker channel" in caplog.text
    theirs.close()
