"""HTTP/2 over cleartext with prior knowledge (h2c): the proxy's HTTP/2 connections, either side.

Knative speaks HTTP/2 to a revision whose serving container's first port is named ``h2c``
(``Revision.GetProtocol``, ``pkg/apis/serving/v1/revision_helpers.go``): its ingress dials the
revision with h2c, and the activator and queue-proxy proxy with ``knative.dev/pkg/network``'s
auto transport (h2c when the request came in as HTTP/2), so the app sees HTTP/2.0 whatever its
client spoke, and gRPC works end to end (its status travels in trailers). Here a
:class:`~zeroserve.net.proxy.Target` with ``h2c`` set is reached so. This module holds what both
sides of such a connection share, on the sans-IO ``h2`` library:

* :class:`H2Protocol`: one connection's ``h2`` state machine on an asyncio transport. Its
  :meth:`~H2Protocol.send` sends a stream's DATA as far as the peer's flow-control windows allow
  and queues the rest; past :data:`HIGH_WATER` bytes queued for a stream its owner is told to
  pause the source (``send_paused(True)``), and below it again to resume. A transport whose
  buffer is full counts as a closed window. What the peer sends is acknowledged (its window
  opened again) only once passed on (:meth:`~H2Protocol.consumed`), so a slow reader holds back
  a fast writer through the windows, and one connection holds at most about
  :data:`CONNECTION_WINDOW` bytes of what its peer sent.
* :class:`UpstreamH2` and :class:`H2Pool`: the client side, to an app. One multiplexed connection
  per address serves every stream to it (another is opened when the peer's
  ``MAX_CONCURRENT_STREAMS`` are in use), opened through the HTTP/1.1 pool's
  :meth:`~zeroserve.net.upstream.UpstreamPool.dial` (slow attempts made again; a container
  instance reached inside its network namespace). Each :class:`H2Stream` reports to a
  :class:`StreamSink`.
* The server side, for clients that open with the preface, is :mod:`zeroserve.net.h2server`;
  an HTTP/1.1 client's request to an h2c target is translated by :mod:`zeroserve.net.h2bridge`.

Header lists travel as ``(name, value)`` bytes pairs, names lower-case (HTTP/2 has no other case);
:func:`request_headers` and :func:`response_head` translate between the two versions' heads.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.connection import ConnectionState
from h2.errors import ErrorCodes

from zeroserve.net import headers as h
from zeroserve.net import http1
from zeroserve.net.writes import Writes
from zeroserve.net.writes import for_loop as writes_for_loop

logger = logging.getLogger(__name__)

Key = tuple[str, int]
Header = tuple[bytes, bytes]

PREFACE = http1.H2_PREFACE
HIGH_WATER = 64 * 1024
"""Bytes queued for one stream (its window closed) before its source is paused."""
STREAM_WINDOW = 256 * 1024
"""Our receive window per stream (``SETTINGS_INITIAL_WINDOW_SIZE``)."""
CONNECTION_WINDOW = 1024 * 1024
"""Our receive window per connection: what a peer may have in flight to us, all streams together."""
MAX_STREAMS = 250
"""``SETTINGS_MAX_CONCURRENT_STREAMS`` we announce as a server (Go's http2 server default)."""
DEFAULT_WINDOW = 65535


class SendOwner(Protocol):
    """Whoever feeds a stream's DATA: told to pause its source while too much is queued."""

    def send_paused(self, paused: bool) -> None: ...


class _Outbox:
    """A stream's DATA waiting for a flow-control window, and how it ends once sent."""

    __slots__ = ("chunks", "end", "owner", "paused", "size", "trailers")

    def __init__(self, owner: SendOwner) -> None:
        self.owner = owner
        self.chunks: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.end = False
        self.trailers: Sequence[Header] | None = None
        self.paused = False


def configuration(client_side: bool) -> h2.config.H2Configuration:
    """Bytes headers in and out; outbound names lower-cased and connection headers dropped."""
    return h2.config.H2Configuration(
        client_side=client_side,
        header_encoding=None,
        validate_outbound_headers=True,
        normalize_outbound_headers=True,
        validate_inbound_headers=True,
        normalize_inbound_headers=True,
    )


class H2Protocol(asyncio.Protocol):
    """One HTTP/2 connection on a transport: the ``h2`` state machine, sending under flow control."""

    def __init__(self, client_side: bool, max_streams: int = MAX_STREAMS, max_header_list: int = 65536) -> None:
        self.h2 = h2.connection.H2Connection(configuration(client_side))
        settings = {
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_streams,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: max_header_list,
        }
        if client_side:
            settings[h2.settings.SettingCodes.ENABLE_PUSH] = 0
        self.h2.local_settings = h2.settings.Settings(client=client_side, initial_values=settings)
        self.h2.decoder.max_header_list_size = max_header_list  # h2 applies it only once acknowledged
        self.transport: asyncio.Transport | None = None
        self.writes: Writes = writes_for_loop()
        self.write_paused = False
        self.closed = False
        self._waiting: dict[int, _Outbox] = {}
        """Streams with DATA (or their end) waiting for a window, by stream id."""

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(CONNECTION_WINDOW - DEFAULT_WINDOW)
        self.flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:  # h2 queued its GOAWAY
            self.flush()
            self.broken(f"HTTP/2 protocol error: {exc}")
            return
        for event in events:
            self.event(event)
        self.flush()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.drain()
        self.flush()

    # -- for subclasses --------------------------------------------------------------------

    def event(self, event: h2.events.Event) -> None:
        """One event of what the peer sent (window updates are handled here)."""
        if isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self.drain()

    def broken(self, message: str) -> None:
        """The connection cannot go on (a protocol error): close it; streams end as ``connection_lost`` says."""
        self.close()

    def reopen(self) -> None:
        """After a GOAWAY from the peer: ``h2`` closes its state machine on any GOAWAY, though the
        streams it lets finish (up to its last stream id, RFC 9113 §6.8) still exchange frames; so
        it is put back to open for them. No new stream is opened (the caller's part)."""
        machine = self.h2.state_machine
        machine.state = ConnectionState.CLIENT_OPEN if self.h2.config.client_side else ConnectionState.SERVER_OPEN

    # -- sending ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Hand what ``h2`` has to send to the transport (queued to the end of the loop's turn)."""
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.writes.write(self.transport, data)

    def send(self, sid: int, data: bytes, owner: SendOwner) -> None:
        """DATA on stream ``sid``: now as far as the windows allow, the rest when they open."""
        box = self._waiting.get(sid)
        if box is None:
            data = self._push(sid, data)
            if not data:
                return
            box = self._waiting[sid] = _Outbox(owner)
        box.chunks.append(data)
        box.size += len(data)
        if box.size > HIGH_WATER and not box.paused:
            box.paused = True
            owner.send_paused(True)

    def finish(self, sid: int, trailers: Sequence[Header] | None = None) -> None:
        """End stream ``sid`` (with ``trailers``, if any) once what is queued for it is sent."""
        box = self._waiting.get(sid)
        if box is not None:
            box.end = True
            box.trailers = trailers
            return
        self._end(sid, trailers)

    def _end(self, sid: int, trailers: Sequence[Header] | None) -> None:
        try:
            if trailers:
                self.h2.send_headers(sid, list(trailers), end_stream=True)
            else:
                self.h2.end_stream(sid)
        except h2.exceptions.ProtocolError:
            pass  # reset meanwhile, or the connection is closing

    def reset(self, sid: int, code: ErrorCodes = ErrorCodes.CANCEL) -> None:
        """RST_STREAM (nothing more is sent or wanted on ``sid``)."""
        self._waiting.pop(sid, None)
        with contextlib.suppress(h2.exceptions.ProtocolError):  # closed meanwhile: nothing to reset
            self.h2.reset_stream(sid, code)
        self.flush()

    def consumed(self, sid: int, size: int) -> None:
        """``size`` bytes the peer sent on ``sid`` were passed on: open its windows again."""
        if size and not self.closed:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.acknowledge_received_data(size, sid)
            self.flush()

    def forget(self, sid: int) -> None:
        """The stream is over: drop what waits to be sent on it."""
        self._waiting.pop(sid, None)

    def _push(self, sid: int, data: bytes) -> bytes:
        """Send what the windows allow of ``data`` now; the rest is returned."""
        if self.write_paused or self.closed:
            return data
        conn = self.h2
        try:
            while data:
                size = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if size <= 0:
                    break
                if size >= len(data):
                    conn.send_data(sid, data)
                    return b""
                conn.send_data(sid, data[:size])
                data = data[size:]
        except h2.exceptions.ProtocolError:
            return b""  # reset by the peer meanwhile (or the connection is closing): nowhere to send it
        return data

    def drain(self) -> None:
        """Windows opened (or the transport can take more): send what waits, in stream order."""
        if not self._waiting or self.write_paused or self.closed:
            return
        for sid, box in list(self._waiting.items()):
            while box.chunks:
                rest = self._push(sid, box.chunks[0])
                box.size -= len(box.chunks[0]) - len(rest)
                if rest:
                    box.chunks[0] = rest
                    break
                box.chunks.popleft()
            if box.paused and box.size <= HIGH_WATER:
                box.paused = False
                box.owner.send_paused(False)
            if not box.chunks:
                del self._waiting[sid]
                if box.end:
                    self._end(sid, box.trailers)

    def close(self) -> None:
        """GOAWAY, then close once it is written."""
        if self.closed:
            return
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.h2.close_connection()
        self.flush()
        self.closed = True
        if self.transport is not None:
            self.writes.close(self.transport)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


# -- translating heads --------------------------------------------------------------------------


def request_headers(
    method: bytes, path: bytes, lines: Iterable[bytes], trailers: bool, scheme: bytes = b"http"
) -> list[Header]:
    """An HTTP/2 request head from the serialized HTTP/1.1 header lines the proxy forwards
    (``Name: value\\r\\n``, hop-by-hop ones already gone): Host becomes ``:authority``;
    ``trailers``: the client accepts trailers (``te: trailers``, which gRPC requires)."""
    out: list[Header] = [(b":method", method), (b":scheme", scheme), (b":authority", b""), (b":path", path)]
    authority = b""
    for line in lines:
        name, _, value = line[:-2].partition(b": ")
        name = name.lower()
        if name == b"host":
            authority = authority or value
            continue
        out.append((name, value))
    out[2] = (b":authority", authority)
    if trailers:
        out.append((b"te", b"trailers"))
    if method == b"CONNECT":  # authority-form: no scheme or path (RFC 9113 §8.5)
        out = [(n, v) for n, v in out if n not in (b":scheme", b":path")]
    return out


def accepts_trailers(headers: Iterable[Header]) -> bool:
    """Whether a request's ``TE`` header lists ``trailers``."""
    return any(name.lower() == b"te" and b"trailers" in value.lower() for name, value in headers)


def split_response(headers: Iterable[Header]) -> tuple[int, list[Header]]:
    """(status, the other headers) of an HTTP/2 response head."""
    status = 0
    rest: list[Header] = []
    for name, value in headers:
        if name == b":status":
            status = int(value)
        elif not name.startswith(b":"):
            rest.append((name, value))
    return status, rest


def response_headers(status: int, headers: Iterable[Header]) -> list[Header]:
    """An HTTP/2 response head from HTTP/1.1 response headers (hop-by-hop ones dropped)."""
    tokens = h.connection_tokens(headers := list(headers))
    return [(b":status", b"%d" % status), *((n.lower(), v) for n, v in h.end_to_end(headers, tokens))]


# -- the client side ----------------------------------------------------------------------------


class StreamSink(Protocol):
    """What an upstream stream reports to whoever sent the request (see :class:`H2Stream`)."""

    def on_response(self, status: int, headers: list[Header], end: bool) -> None:
        """The final response head (1xx ones are not reported); ``end``: it is the whole response
        (trailers-only: how gRPC answers with an error status); ``on_end`` follows."""

    def on_data(self, data: bytes) -> None:
        """Body bytes: call :meth:`H2Stream.consumed` once passed on (flow control)."""

    def on_trailers(self, headers: list[Header]) -> None: ...

    def on_end(self) -> None:
        """The response is complete."""

    def on_reset(self, message: str, retry: bool) -> None:
        """The stream ended without a complete response; ``retry``: the upstream never processed
        it (a GOAWAY before it, ``REFUSED_STREAM``), so it may be sent again."""

    def send_paused(self, paused: bool) -> None:
        """Too much (not any more) of the request body is queued: pause (resume) its source."""


class H2Stream:
    """One request on an :class:`UpstreamH2` connection."""

    __slots__ = ("conn", "done", "ended", "id", "sink")

    def __init__(self, conn: UpstreamH2, sid: int, sink: StreamSink) -> None:
        self.conn = conn
        self.id = sid
        self.sink: StreamSink | None = sink
        self.done = False
        """Over: ended, reset or lost (nothing more is sent or reported)."""
        self.ended = False
        """Our side ended (the whole request sent, or queued to be)."""

    def send(self, data: bytes) -> None:
        if not self.done and data and self.sink is not None:
            self.conn.send(self.id, data, self.sink)
            self.conn.flush()

    def end(self, trailers: Sequence[Header] | None = None) -> None:
        """The request body is complete."""
        if not self.done and not self.ended:
            self.ended = True
            self.conn.finish(self.id, trailers)
            self.conn.flush()

    def consumed(self, size: int) -> None:
        self.conn.consumed(self.id, size)

    def reset(self) -> None:
        """Cancel: the client went away, or a limit passed (RST_STREAM CANCEL)."""
        if not self.done:
            self.done = True
            self.sink = None
            self.conn.cancel(self)

    def __repr__(self) -> str:
        return f"H2Stream({self.conn.key[0]}:{self.conn.key[1]} #{self.id})"


class UpstreamH2(H2Protocol):
    """A multiplexed h2c connection to one upstream address (client side)."""

    def __init__(self, pool: H2Pool, key: Key) -> None:
        super().__init__(client_side=True)
        self.pool = pool
        self.key = key
        self.streams: dict[int, H2Stream] = {}
        self.goaway = False
        self.uses = 0

    @property
    def available(self) -> bool:
        """Whether a new stream can be opened here."""
        if self.closed or self.goaway:
            return False
        limit = self.h2.remote_settings.max_concurrent_streams
        return len(self.streams) < limit and self.h2.highest_outbound_stream_id < 2**31 - 101

    def open(self, headers: list[Header], sink: StreamSink, end_stream: bool) -> H2Stream:
        """Send a request head on a new stream (``h2.exceptions.ProtocolError`` for a head HTTP/2
        cannot carry)."""
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, cast(Any, headers), end_stream=end_stream)
        stream = H2Stream(self, sid, sink)
        self.streams[sid] = stream
        self.uses += 1
        self.flush()
        return stream

    def cancel(self, stream: H2Stream) -> None:
        if self.streams.pop(stream.id, None) is not None:
            self.reset(stream.id)
        self._maybe_close()

    def event(self, event: h2.events.Event) -> None:
        sid = getattr(event, "stream_id", 0)
        stream = self.streams.get(sid) if sid else None
        sink = stream.sink if stream is not None else None
        if isinstance(event, h2.events.DataReceived):
            pad = event.flow_controlled_length - len(event.data)
            if sink is None:
                self.consumed(sid, event.flow_controlled_length)  # nobody wants it
                return
            if pad:
                self.consumed(sid, pad)
            if event.data:
                sink.on_data(event.data)
        elif isinstance(event, h2.events.ResponseReceived):
            if sink is not None:
                status, rest = split_response(event.headers)
                sink.on_response(status, rest, event.stream_ended is not None)
        elif isinstance(event, h2.events.TrailersReceived):
            if sink is not None:
                sink.on_trailers([(n, v) for n, v in event.headers if not n.startswith(b":")])
        elif isinstance(event, h2.events.StreamEnded):
            if stream is not None and not stream.ended:  # answered before the request was all sent
                self.reset(sid)
            self._over(sid)
            if sink is not None:
                sink.on_end()
        elif isinstance(event, h2.events.StreamReset):
            self._over(sid)
            if sink is not None:
                code = _code_name(event.error_code)
                sink.on_reset(f"upstream reset the stream ({code})", event.error_code == ErrorCodes.REFUSED_STREAM)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._terminated(event)
        else:
            super().event(event)

    def _over(self, sid: int) -> None:
        stream = self.streams.pop(sid, None)
        if stream is not None:
            stream.done = True
        self.forget(sid)
        self._maybe_close()

    def _terminated(self, event: h2.events.ConnectionTerminated) -> None:
        """GOAWAY: streams after its last stream id were never processed (the sender may retry them);
        the others finish (an error code ends them too)."""
        self.goaway = True
        self.reopen()
        self.pool.forget(self)
        last = event.last_stream_id if event.last_stream_id is not None else 0
        code = _code_name(event.error_code)
        for sid in sorted(s for s in self.streams if s > last or event.error_code != ErrorCodes.NO_ERROR):
            stream = self.streams.pop(sid)
            stream.done = True
            sink, stream.sink = stream.sink, None
            if sink is not None:
                sink.on_reset(f"upstream went away (GOAWAY {code})", sid > last)
        self._maybe_close()

    def _maybe_close(self) -> None:
        if self.goaway and not self.streams:
            self.close()

    def broken(self, message: str) -> None:
        self.close()
        self._lost(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._lost("upstream closed the connection")

    def _lost(self, message: str) -> None:
        self.pool.forget(self)
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream.done = True
            sink, stream.sink = stream.sink, None
            if sink is not None:
                sink.on_reset(message, False)


def _code_name(code: ErrorCodes | int | None) -> str:
    try:
        return ErrorCodes(code).name if code is not None else "unknown"
    except ValueError:
        return f"error {code}"


Dial = Callable[[Key, Callable[[], UpstreamH2]], Awaitable[UpstreamH2]]


class H2Pool:
    """h2c connections per upstream address: every stream to an address shares one connection
    while it takes more; one connection is opened at a time per address, the others wait for it."""

    def __init__(self, dial: Dial) -> None:
        self._dial = dial
        self._conns: dict[Key, list[UpstreamH2]] = {}
        self._opening: dict[Key, asyncio.Task[UpstreamH2]] = {}

    def take(self, key: Key) -> UpstreamH2 | None:
        """A connection to ``key`` that takes another stream now, or None."""
        for conn in self._conns.get(key, ()):
            if conn.available:
                return conn
        return None

    async def connect(self, key: Key) -> UpstreamH2:
        """A connection to ``key`` that takes another stream: the one being opened, or a new one
        (``OSError`` when refused; cancel to give up: the attempt goes on for the others)."""
        while True:
            conn = self.take(key)
            if conn is not None:
                return conn
            opening = self._opening.get(key)
            if opening is None:
                opening = asyncio.get_running_loop().create_task(self._open(key), name=f"h2c connect {key}")
                self._opening[key] = opening
                opening.add_done_callback(self._opened)
            conn = await asyncio.shield(opening)
            if conn.available:
                return conn

    async def _open(self, key: Key) -> UpstreamH2:
        try:
            conn = await self._dial(key, lambda: UpstreamH2(self, key))
        finally:
            self._opening.pop(key, None)
        self._conns.setdefault(key, []).append(conn)
        return conn

    @staticmethod
    def _opened(task: asyncio.Task[UpstreamH2]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: the waiters got it (or none waited any more)

    def forget(self, conn: UpstreamH2) -> None:
        conns = self._conns.get(conn.key)
        if conns and conn in conns:
            conns.remove(conn)
            if not conns:
                del self._conns[conn.key]

    def count(self, key: Key | None = None) -> int:
        """Open connections (to ``key``)."""
        if key is not None:
            return len(self._conns.get(key, ()))
        return sum(len(conns) for conns in self._conns.values())

    def close(self) -> None:
        """GOAWAY on every connection; attempts in flight are cancelled."""
        for task in list(self._opening.values()):
            task.cancel()
        for conns in list(self._conns.values()):
            for conn in list(conns):
                conn.close()
        self._conns.clear()
