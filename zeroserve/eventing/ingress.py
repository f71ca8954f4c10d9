"""The Broker ingress (Knative's ``pkg/broker/ingress``): CloudEvents in, durable, then 202.

Every MT Broker shares one ingress; a Broker's address is ``http://broker-ingress.knative-eventing.
svc.cluster.local/NAMESPACE/BROKER``, which the internal gateway forwards here (its own loopback
port, also reachable directly). Per request, in Knative's order (``Handler.ServeHTTP``):

* every answer carries ``Allow: POST, OPTIONS``; ``OPTIONS`` is 200 with ``WebHook-Allowed-Origin: *``
  and ``WebHook-Allowed-Rate: *`` (the CloudEvents webhook handshake); any other method but POST 405;
* ``/`` is 404; a path that is not ``/NAMESPACE/BROKER`` (a trailing slash allowed) is 400;
* a request that is not a valid CloudEvent (:mod:`zeroserve.eventing.cloudevent`) is 400;
* a Broker this ingress does not serve (none of that name, or not of the MT class) is 404;
* ``knativearrivaltime`` is set, ``knativebrokerttl`` defaulted to 255 or decremented; at 0, 400;
* the event is appended to the log; **202 only once** :meth:`EventLog.append` **returned**, i.e. it is
  committed and fsync'd. A full backlog answers 429 with ``Retry-After`` at once (memory stays
  bounded); a log that failed answers 500.

The server is a small HTTP/1.1 server on httptools and asyncio Protocols, as the gateway is (aiohttp
costs ~3x the CPU per request): keep-alive, chunked request bodies, ``Expect: 100-continue``,
pipelined requests answered in order, one request of a connection handled at a time. Bounded per
connection: a 60 KiB head (431), a body of :data:`MAX_BODY` (413).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import httptools

from zeroserve.eventing import cloudevent
from zeroserve.eventing.base import BacklogFull, EventLog
from zeroserve.net.http1 import simple_response

log = logging.getLogger("zeroserve.eventing.ingress")

MAX_BODY = 4 * 1024 * 1024
"""Bytes of one event's request body (413 beyond)."""
MAX_HEAD = 60 * 1024
ALLOW = (b"Allow", b"POST, OPTIONS")
OPTIONS_HEADERS = (ALLOW, (b"WebHook-Allowed-Origin", b"*"), (b"WebHook-Allowed-Rate", b"*"))
_TEXT = (b"Content-Type", b"text/plain; charset=utf-8")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _wall() -> datetime:
    return datetime.now(UTC)


@dataclass
class BrokerSet:
    """The Brokers the ingress accepts events for, as the Broker reconciler publishes them."""

    _brokers: set[tuple[str, str]] = field(default_factory=set)

    def publish(self, namespace: str, name: str) -> None:
        self._brokers.add((namespace, name))

    def withdraw(self, namespace: str, name: str) -> None:
        self._brokers.discard((namespace, name))

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._brokers


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = (ALLOW,)


def _text(status: int, message: str, *extra: tuple[bytes, bytes]) -> Answer:
    return Answer(status, (message + "\n").encode(), (ALLOW, _TEXT, *extra))


def broker_of(path: str) -> tuple[str, str] | Answer:
    """(namespace, broker) from the request target, or Knative's answer for a bad one."""
    path = path.split("?", 1)[0]
    if path == "/":
        return Answer(404)
    parts = path.removesuffix("/").split("/")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return _text(400, f"malformed path {path!r}: want /NAMESPACE/BROKER")
    return parts[1], parts[2]


class Ingress:
    """The handler: request -> answer (no sockets; :class:`IngressServer` serves it)."""

    def __init__(self, log: EventLog, brokers: BrokerSet | None = None, wall: Callable[[], datetime] = _wall) -> None:
        self.log = log
        self.brokers = brokers if brokers is not None else BrokerSet()
        self.wall = wall

    def prepare(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | tuple[str, str, bytes]:
        """Everything before the append: an immediate :class:`Answer`, or what to append."""
        if method == "OPTIONS":
            return Answer(200, b"", OPTIONS_HEADERS)
        if method != "POST":
            return Answer(405)
        target = broker_of(path)
        if isinstance(target, Answer):
            return target
        try:
            event = cloudevent.parse(headers, body)
        except cloudevent.InvalidEvent as e:
            return _text(400, str(e))
        if target not in self.brokers:
            return _text(404, f"broker {target[0]}/{target[1]} not found")
        try:
            stored = cloudevent.admit(event, self.wall())
        except cloudevent.InvalidEvent as e:
            return _text(400, str(e))
        return target[0], target[1], stored

    async def append(self, namespace: str, broker: str, stored: bytes) -> Answer:
        try:
            await self.log.append(namespace, broker, stored)
        except BacklogFull as e:
            retry = str(max(1, math.ceil(e.retry_after))).encode()
            return _text(429, str(e), (b"Retry-After", retry))
        except Exception:
            log.exception("appending an event to %s/%s failed", namespace, broker)
            return _text(500, "the event could not be stored")
        return Answer(202)


@dataclass
class _Request:
    method: str = ""
    url: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    size: int = 0
    keep_alive: bool = True
    canned: bytes | None = None
    """A failure to write as it is (then the connection closes), instead of a request to answer."""


class _Connection(asyncio.Protocol):
    """One client connection: parse, queue complete requests, answer them in order."""

    def __init__(self, server: IngressServer) -> None:
        self.server = server
        self.ingress = server.ingress
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.current = _Request()
        self.head = 0
        self.queue: collections.deque[_Request] = collections.deque()
        self.busy = False
        self.closing = False
        self.eof = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)

    def eof_received(self) -> bool:
        """The client is done sending: answer what it asked, then close (a half-close is not an abort)."""
        self.eof = True
        if not self.busy and not self.queue and self.transport is not None:
            self.transport.close()
        return True

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as e:
            if not self.closing:
                self._fail(400, f"bad request: {e}")

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self.current = _Request()
        self.head = 0

    def on_url(self, url: bytes) -> None:
        self.current.url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.current.headers
        headers[key] = f"{headers[key]},{text}" if key in headers else text
        self._count_head(len(name) + len(value))

    def on_headers_complete(self) -> None:
        req = self.current
        req.method = self.parser.get_method().decode("latin-1")
        req.keep_alive = self.parser.should_keep_alive()
        if req.headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(CONTINUE)

    def on_body(self, body: bytes) -> None:
        req = self.current
        req.size += len(body)
        if req.size > MAX_BODY:
            self._fail(413, f"request body larger than {MAX_BODY} bytes")
            raise httptools.HttpParserError("body too large")
        req.body.append(body)

    def on_message_complete(self) -> None:
        self.queue.append(self.current)
        if len(self.queue) > 16 and self.transport is not None:
            self.transport.pause_reading()
        if not self.busy:
            self._next()

    # -- answering
    def _count_head(self, n: int) -> None:
        self.head += n
        if self.head > MAX_HEAD:
            self._fail(431, "request head too large")
            raise httptools.HttpParserError("head too large")

    def _fail(self, status: int, message: str) -> None:
        """Answer after the requests before this one, then close."""
        if self.closing:
            return
        self.closing = True
        answer = _text(status, message)
        self.queue.append(_Request(canned=simple_response(status, answer.body, answer.headers, close=True)))
        if not self.busy:
            self._next()

    def _next(self) -> None:
        while self.queue and not self.busy:
            req = self.queue.popleft()
            if req.canned is not None:
                self._write_raw(req.canned, close=True)
                return
            result = self.ingress.prepare(req.method, req.url.decode("latin-1"), req.headers, b"".join(req.body))
            if isinstance(result, Answer):
                self._write(result, req.keep_alive)
                continue
            self.busy = True
            task = asyncio.ensure_future(self.ingress.append(*result))
            task.add_done_callback(functools.partial(self._appended, keep_alive=req.keep_alive))
        if self.queue or self.busy or self.transport is None or self.closing:
            return
        if self.eof:
            self.transport.close()
        else:
            self.transport.resume_reading()

    def _appended(self, task: asyncio.Future[Answer], *, keep_alive: bool) -> None:
        self.busy = False
        if task.cancelled():
            self._write_raw(simple_response(503, b"", (ALLOW,), close=True), close=True)
            return
        self._write(task.result(), keep_alive)
        self._next()

    def _write(self, answer: Answer, keep_alive: bool) -> None:
        close = not keep_alive or self.server.stopping
        self._write_raw(simple_response(answer.status, answer.body, answer.headers, close=close), close=close)

    def _write_raw(self, data: bytes, *, close: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if close:
            self.closing = True
            transport.close()


class IngressServer:
    """:class:`Ingress` on a loopback port (``start`` returns the port it really listens on)."""

    def __init__(self, ingress: Ingress) -> None:
        self.ingress = ingress
        self.connections: set[_Connection] = set()
        self.stopping = False
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port, backlog=1024)
        sock = self._server.sockets[0]
        return int(sock.getsockname()[1])

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting; let appends in flight finish (up to ``grace``), then close every connection."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                while any(c.busy for c in self.connections):
                    await asyncio.sleep(0.01)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
