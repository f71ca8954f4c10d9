"""Upstream side of the proxy: one HTTP/1.1 client connection and a LIFO keep-alive pool.

An :class:`UpstreamConnection` parses responses with httptools and hands every event to the
:class:`ResponseSink` (the exchange) it currently serves. Between exchanges it sits in the
:class:`UpstreamPool`, keyed by ``(host, port)``; the most recently used connection is reused
first (LIFO), so a burst warms few connections and the cold ones time out at the upstream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol, cast

import httptools

from zeroserve.net import headers as h
from zeroserve.net.writes import Writes
from zeroserve.net.writes import for_loop as writes_for_loop

logger = logging.getLogger(__name__)

Key = tuple[str, int]

DEFAULT_MAX_IDLE_PER_HOST = 128


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


class UpstreamPool:
    """Idle keep-alive connections per ``(host, port)``, most recently used first."""

    def __init__(self, *, max_idle_per_host: int = DEFAULT_MAX_IDLE_PER_HOST) -> None:
        self.max_idle_per_host = max_idle_per_host
        self._idle: dict[Key, list[UpstreamConnection]] = {}

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
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: UpstreamConnection(self, key), key[0], key[1])
        return conn

    def close(self) -> None:
        """Close every idle connection (connections in use close when their exchange ends)."""
        for idle in list(self._idle.values()):
            for conn in list(idle):
                conn.close()
        self._idle.clear()
