"""A burst of requests to an app with a small listen backlog (net.upstream's connection gate).

The app is what users write: ``http.server.ThreadingHTTPServer``, whose listen backlog is 5.
Opened all at once, 100 connections overflow its accept queue and the kernel drops SYNs (sent
again after 1 s) or final ACKs (the request is then resent after 0.2, 0.4, 0.8... s). The proxy
opens one connection at a time per upstream and retries an attempt that takes over 25 ms, so
the whole burst is served as fast as the app accepts. The connect timeout here (0.9 s) is under
the kernel's first SYN retransmission: a request that waited for one gets 504.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest

from zeroserve.net import ProxyServer, Target, Timeouts, UpstreamPool
from zeroserve.net.upstream import UpstreamConnection

APP = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"hello\\n")

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)  # request_queue_size = 5: the default backlog
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@pytest.fixture
async def app_port() -> AsyncIterator[int]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", APP, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        yield int(await asyncio.wait_for(proc.stdout.readline(), 30))
    finally:
        proc.kill()
        await proc.wait()


async def get(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(30):
            response = await reader.read()
        return int(response.split(b" ", 2)[1])
    finally:
        writer.close()


async def test_a_burst_of_100_to_an_app_with_backlog_5_is_answered(app_port: int) -> None:
    timeouts = Timeouts(connect=0.9)
    async with ProxyServer(lambda head: Target("127.0.0.1", app_port, timeouts=timeouts)) as server:
        statuses = await asyncio.gather(*(get(server.port) for _ in range(100)))
    assert Counter(statuses) == {200: 100}


# -- the gate, against a listener that never accepts -----------------------------------------------


@pytest.fixture
def full_listener() -> Iterator[tuple[str, int]]:
    """Backlog 0: the kernel queues one connection, and nothing ever accepts it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    try:
        yield sock.getsockname()
    finally:
        sock.close()


async def test_one_attempt_at_a_time_and_a_connection_handed_back_goes_to_a_waiter(
    full_listener: tuple[str, int],
) -> None:
    pool = UpstreamPool(attempts=(0.01,))
    first = await pool.connect(full_listener)  # fills the accept queue: the next SYNs are dropped
    trying = asyncio.create_task(pool.connect(full_listener))
    waiting = asyncio.create_task(pool.connect(full_listener))
    while pool.connecting(full_listener) < 2:
        await asyncio.sleep(0)  # wait-ok: yield to the loop until both calls are in
    pool.put(first)  # a request ended: its connection goes to the waiter, not to the idle list
    assert await asyncio.wait_for(waiting, 10) is first
    assert not trying.done(), "still retrying its attempt"
    assert pool.idle_count() == 0
    trying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trying
    assert pool.connecting(full_listener) == 0
    first.close()


async def test_a_cancelled_waiter_leaves_the_queue_and_a_cancelled_attempt_passes_the_turn(
    full_listener: tuple[str, int],
) -> None:
    pool = UpstreamPool(attempts=(0.01,))
    first = await pool.connect(full_listener)
    trying = asyncio.create_task(pool.connect(full_listener))
    waiting = [asyncio.create_task(pool.connect(full_listener)) for _ in range(2)]
    while pool.connecting(full_listener) < 3:
        await asyncio.sleep(0)  # wait-ok: yield to the loop until all calls are in
    waiting[0].cancel()
    trying.cancel()
    for task in (waiting[0], trying):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert pool.connecting(full_listener) == 1, "the last waiter now makes the attempts"
    pool.put(first)  # nobody waits: idle, and the one attempting takes it before its next attempt
    handed: UpstreamConnection = await asyncio.wait_for(waiting[1], 10)
    assert handed is first
    assert pool.connecting(full_listener) == 0
    first.close()
