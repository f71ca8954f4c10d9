"""Upstream side of the proxy: one HTTP/1.1 client connection and a LIFO keep-alive pool.

An :class:`UpstreamConnection` parses responses with httptools and hands every event to the
:class:`ResponseSink` (the exchange) it currently serves. Between exchanges it sits in the
:class:`UpstreamPool`, keyed by ``(host, port)``; the most recently used connection is reused
first (LIFO), so a burst warms few connections and the cold ones time out at the upstream.

New connections to one upstream are opened **one at a time**, the others waiting in order, and
a connection handed back to the pool goes to the first waiter instead. An app's listen backlog is
small (Python's ``socketserver`` default is 5): a burst of connection attempts overflows its
accept queue, and the kernel then drops SYNs (resent after 1, 3, 7... s) or, worse, the last ACK
of a handshake the client already counts as done (its request is then resent after 0.2, 0.4,
0.8... s, a minute for the unlucky ones; bench/backlog.py). With one handshake in flight no ACK
is dropped, and an attempt that takes longer than :data:`CONNECT_ATTEMPTS` says (a dropped SYN:
on one machine a connection takes well under a millisecond) is abandoned and made again at
once, until the caller's connect timeout. The burst then goes as fast as the app accepts.

An address that stands for a container instance's network namespace (:mod:`.netns`) is reached
by a socket made inside it; every other address is connected as it is. :meth:`UpstreamPool.dial`
is that way of connecting for any protocol: the pool's HTTP/2 connections (:attr:`UpstreamPool.h2`,
:mod:`.http2`, for targets that speak h2c) are opened through it too.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

import httptools

from zeroserve.net import headers as h
from zeroserve.net import netns
from zeroserve.net.writes import Writes
from zeroserve.net.writes import for_loop as writes_for_loop

if TYPE_CHECKING:
    from zeroserve.net.http2 import H2Pool

logger = logging.getLogger(__name__)

Key = tuple[str, int]
P = TypeVar("P", bound=asyncio.BaseProtocol)

DEFAULT_MAX_IDLE_PER_HOST = 128
CONNECT_ATTEMPTS = (0.025, 0.05, 0.1, 0.2, 0.4)
"""Seconds each attempt to open a connection may take before it is made again (the last repeats)."""


class ResponseSink(Protocol):
    """What an upstream connection reports to the exchange it serves.

    The status phrase and headers of the response are collected by the connection itself
    (:attr:`UpstreamConnection.phrase`, :attr:`UpstreamConnection.headers`), so the per-header
    parser callback costs one list append, not a second call into the exchange.
    """

    def on_headers_complete(self) -> None:
        """The head is in; read it from the connection (it is reset after this returns)."""

    def on_body(self, body: bytes) -> None: ...
    def on_message_complete(self) -> None: ...
    def upstream_upgraded(self, rest: bytes) -> None: ...
    def upstream_error(self, message: str) -> None: ...
    def upstream_lost(self) -> None: ...
    def upstream_write_paused(self, paused: bool) -> None: ...
    def flush(self) -> None:
        """End of one read from the upstream: write what the events produced, in one go."""


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to an upstream, serving one exchange at a time."""

    def __init__(self, pool: UpstreamPool, key: Key) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.writes: Writes = writes_for_loop()
        """Made in the loop it serves (``pool.connect``)."""
        self.sink: ResponseSink | None = None
        self.pipe: asyncio.Transport | None = None
        """After an upgrade: the client's transport; bytes go there raw."""
        self.closed = False
        self.uses = 0
        self.phrase = b""
        """The reason phrase of the response being parsed."""
        self.headers: list[tuple[bytes, bytes]] = []
        """The headers of the response being parsed, as sent."""
        self.parser = httptools.HttpResponseParser(self)
        self._scanned: list[tuple[bytes, bytes]] | None = None
        self._scan_memo: tuple[bytes, bool, bool] = (b"", False, False)

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self.pipe is not None:
            self.writes.write(self.pipe, data)
            return
        sink = self.sink
        if sink is None:  # an idle connection must not speak: drop it
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            sink.upstream_upgraded(data[exc.args[0] :])
        except httptools.HttpParserError as exc:
            sink.upstream_error(f"invalid response from upstream: {exc}")
        sink.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.upstream_lost()

    def pause_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_write_paused(True)

    def resume_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_write_paused(False)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self.phrase = status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.sink is not None:
            self.sink.on_headers_complete()
        self.headers = []  # a fresh list: the sink may keep the old one

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.on_body(body)

    def on_message_complete(self) -> None:
        if self.sink is not None:
            self.sink.on_message_complete()

    # -- used by the exchange --------------------------------------------------------------

    def reset_parser(self) -> None:
        """Forget a response whose body will not come (the answer to a HEAD request)."""
        self.parser = httptools.HttpResponseParser(self)
        self.headers = []

    def scan_response(self, headers: Sequence[tuple[bytes, bytes]]) -> tuple[bytes, bool, bool]:
        """``headers.scan_response`` with the block joined, reusing the previous response's result
        when the headers are the same (an upstream repeats them, but for Date once a second)."""
        if headers != self._scanned:
            block, has_length, chunked = h.scan_response(headers)
            self._scanned = list(headers)
            self._scan_memo = (b"".join(block), has_length, chunked)
        return self._scan_memo

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.writes.write(self.transport, data)

    def close(self) -> None:
        self.sink = None
        if self.transport is not None and not self.closed:
            self.closed = True
            self.writes.close(self.transport)  # after the writes queued for it
        self.pool.forget(self)

    def abort(self) -> None:
        self.sink = None
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()
        self.pool.forget(self)


class _Gate:
    """The connection attempts to one upstream: one in flight, the rest waiting in order."""

    __slots__ = ("waiters",)

    def __init__(self) -> None:
        self.waiters: collections.deque[asyncio.Future[UpstreamConnection | None]] = collections.deque()
        """Resolved with a connection handed back to the pool, or None: your turn to open one."""


class UpstreamPool:
    """Idle keep-alive connections per ``(host, port)``, most recently used first."""

    def __init__(
        self, *, max_idle_per_host: int = DEFAULT_MAX_IDLE_PER_HOST, attempts: Sequence[float] = CONNECT_ATTEMPTS
    ) -> None:
        self.max_idle_per_host = max_idle_per_host
        self.attempts = tuple(attempts)
        self._idle: dict[Key, list[UpstreamConnection]] = {}
        self._gates: dict[Key, _Gate] = {}
        """Keys with an attempt in flight."""
        self._h2: H2Pool | None = None

    @property
    def h2(self) -> H2Pool:
        """The HTTP/2 (h2c) connections to upstreams, made on first use (the ``h2`` library is
        imported only then: most upstreams speak HTTP/1.1)."""
        if self._h2 is None:
            from zeroserve.net.http2 import H2Pool

            self._h2 = H2Pool(self.dial)
        return self._h2

    def take(self, key: Key) -> UpstreamConnection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def put(self, conn: UpstreamConnection) -> None:
        conn.sink = None
        if conn.closed:
            return
        gates = self._gates
        if gates and (gate := gates.get(conn.key)) is not None and _hand(gate, conn):
            return
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= self.max_idle_per_host:
            conn.close()
            return
        idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    def idle_count(self, key: Key | None = None) -> int:
        if key is not None:
            return len(self._idle.get(key, ()))
        return sum(len(v) for v in self._idle.values())

    async def connect(self, key: Key) -> UpstreamConnection:
        """A connection to ``key``: a new one, or one handed back while this call waited its turn
        (see the module docstring). Retries slow attempts until cancelled (the caller bounds it);
        a refused connection raises ``OSError`` at once."""
        gate = self._gates.get(key)
        if gate is None:
            self._gates[key] = gate = _Gate()
        else:
            waiter: asyncio.Future[UpstreamConnection | None] = asyncio.get_running_loop().create_future()
            gate.waiters.append(waiter)
            try:
                handed = await waiter
            except BaseException:
                if not waiter.done() or waiter.cancelled():
                    with contextlib.suppress(ValueError):
                        gate.waiters.remove(waiter)
                elif (conn := waiter.result()) is not None:
                    self.put(conn)  # handed over just as we were cancelled: to the next one
                else:
                    self._next(key, gate)  # our turn came just as we were cancelled: pass it on
                raise
            if handed is not None:
                return handed
        try:
            return await self._open(key)
        finally:
            self._next(key, gate)

    async def _open(self, key: Key) -> UpstreamConnection:
        return await self.dial(key, lambda: UpstreamConnection(self, key), self.take)

    async def dial(self, key: Key, factory: Callable[[], P], idle: Callable[[Key], P | None] | None = None) -> P:
        """A new connection to ``key`` speaking ``factory()``'s protocol: an attempt that takes longer
        than :attr:`attempts` says is made again (see the module docstring) until cancelled; a
        container instance's endpoint through a socket made inside its namespace. ``idle``: between
        attempts, a connection handed back meanwhile to use instead (None: none)."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            if attempt and idle is not None and (conn := idle(key)) is not None:
                return conn  # handed back to the pool while we retried (nobody was waiting)
            limit = self.attempts[min(attempt, len(self.attempts) - 1)]
            attempt += 1
            try:
                async with asyncio.timeout(limit):
                    target = netns.lookup(*key)
                    if target is None:
                        _, proto = await loop.create_connection(factory, key[0], key[1])
                        return proto
                    return await self._open_in(target, factory)  # a container instance: inside its namespace
            except TimeoutError:
                logger.debug("connecting to %s:%d took over %.3f s (attempt %d); again", *key, limit, attempt)

    async def _open_in(self, target: netns.Target, factory: Callable[[], P]) -> P:
        sock = await netns.connect(target)
        loop = asyncio.get_running_loop()
        try:
            _, proto = await loop.create_connection(factory, sock=sock)
        except BaseException:
            sock.close()
            raise
        return proto

    def _next(self, key: Key, gate: _Gate) -> None:
        """The attempt in flight is over: the next waiter's turn, or no gate."""
        while gate.waiters:
            waiter = gate.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        del self._gates[key]

    def connecting(self, key: Key) -> int:
        """Calls of :meth:`connect` for ``key`` in flight: the one attempting and those waiting."""
        gate = self._gates.get(key)
        return 0 if gate is None else 1 + sum(not w.done() for w in gate.waiters)

    def close(self) -> None:
        """Close every idle connection (connections in use close when their exchange ends)."""
        for idle in list(self._idle.values()):
            for conn in list(idle):
                conn.close()
        self._idle.clear()
        if self._h2 is not None:
            self._h2.close()


def _hand(gate: _Gate, conn: UpstreamConnection) -> bool:
    """Give ``conn`` to the first caller waiting in ``gate``; False when none waits."""
    while gate.waiters:
        waiter = gate.waiters.popleft()
        if not waiter.done():
            waiter.set_result(conn)
            return True
    return False
