"""The proxy's HTTP/2 server side: a client connection that opened with the preface (h2c, prior knowledge).

:class:`~zeroserve.net.proxy.ProxyServer` reads a connection's first bytes; the HTTP/2 preface hands
the connection to an :class:`H2Downstream` (:func:`take_over`), every other connection stays
HTTP/1.1. gRPC clients dial so (Knative's grpc-ping sample: insecure, no TLS), and so does any
client that knows the gateway speaks h2c. Each stream is one request, and goes where an HTTP/1.1
request would: the server's route hook sees a :class:`~zeroserve.net.proxy.RequestHead` with
version ``2.0``, its Host from ``:authority``. Then, per :class:`_Stream`:

* to an h2c target, as an HTTP/2 stream on the upstream pool's h2c connections
  (:mod:`zeroserve.net.http2`): the head (``te: trailers`` kept), DATA and trailers both ways;
* to any other target, as an HTTP/1.1 request on the upstream pool: a body of unknown length is
  sent chunked (or with its Content-Length when the whole of it came before the upstream was
  reached), and the response comes back as HTTP/2 (hop-by-hop headers dropped, a close-delimited
  body ended at the upstream's close);
* a :class:`~zeroserve.net.proxy.Response` or :class:`~zeroserve.net.proxy.Local` is answered here.

What the HTTP/1.1 path keeps holds per stream: ``Forwarded``/``X-Forwarded-*`` are set and
hop-by-hop headers dropped (``headers.scan_request``); :class:`~zeroserve.net.proxy.Timeouts` give
504 before the response started and, after it, end a response of unknown length with the message
(as Knative's timeout handler) or reset the stream; a refused connect is 502; ``release()`` runs
exactly once; a stream the client resets resets (or aborts) its upstream. Flow control is the
backpressure: a client's DATA is acknowledged only once it went upstream (the upstream's socket
or stream not full), a response's DATA waits for the client's windows and, past
:data:`~zeroserve.net.http2.HIGH_WATER` bytes waiting, its upstream is paused (reading stops, or
its DATA is no longer acknowledged). The limits of one connection: at most
:data:`~zeroserve.net.http2.MAX_STREAMS` streams at once, a head of at most ``limits.max_head``
bytes (431; 414 for a long ``:path``), :data:`~zeroserve.net.http2.CONNECTION_WINDOW` bytes in
flight from the client, and ``limits.idle_timeout`` without a stream. Shutdown sends a GOAWAY
naming the last stream taken; those finish (until the server's grace), new ones are refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import h2.events
import h2.exceptions
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

from zeroserve.net import headers as h
from zeroserve.net import http1, http2
from zeroserve.net import limits as lim
from zeroserve.net.deadlines import Deadlines, Expiring
from zeroserve.net.proxy import Local, RequestHead, Response, RouteResult, Target, Timeouts
from zeroserve.net.upstream import UpstreamConnection

if TYPE_CHECKING:
    from zeroserve.net.proxy import _Downstream, _ServerState

logger = logging.getLogger(__name__)

Header = http2.Header


def take_over(down: _Downstream, data: bytes) -> None:
    """Serve ``down``'s connection as HTTP/2 from now on; ``data`` is what it read (the preface first)."""
    transport = down.transport
    assert transport is not None
    state = down.state
    state.connections.discard(down)
    conn = H2Downstream(state)
    transport.set_protocol(conn)
    conn.connection_made(transport)
    conn.data_received(data)


class _Flow:
    """The :class:`~zeroserve.net.http2.SendOwner` of a response's DATA to the client."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[bool], None]) -> None:
        self.callback = callback

    def send_paused(self, paused: bool) -> None:
        self.callback(paused)


class H2Downstream(http2.H2Protocol):
    """One client's HTTP/2 connection: streams in, each a :class:`_Stream`."""

    def __init__(self, state: _ServerState) -> None:
        # A head past ``max_head`` gets 431 (``begin``); past twice that, h2 ends the connection.
        super().__init__(client_side=False, max_header_list=2 * state.limits.max_head)
        self.state = state
        self.streams: dict[int, _Stream] = {}
        self.client: tuple[str, int] | None = None
        self.client_ip: bytes | None = None
        self.node = b"unknown"
        self.closing = False
        """A GOAWAY went out: streams in flight finish, new ones are refused."""
        self.quiet_since: float | None = None
        """The sweep: when the connection was first seen without a stream (None: busy)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
            if not self.state.relay:
                self.client_ip = self.client[0].encode("latin-1")
                self.node = h.forwarded_node(self.client[0])
        if self.state.relay:
            self.node = b""  # the gateway worker before us named the client (``ProxyServer``'s ``relay``)
        self.state.connections.add(self)
        if self.state.closing:
            self.shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        state = self.state
        state.connections.discard(self)
        for stream in list(self.streams.values()):
            stream.abort()
        self.streams.clear()
        if state.closing and not state.connections:
            state.all_closed.set()

    def event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is None:
                self.consumed(event.stream_id, event.flow_controlled_length)  # over: dropped
            else:
                stream.request_body(event.data, event.flow_controlled_length)
        elif isinstance(event, h2.events.RequestReceived):
            self._request(event)
        elif isinstance(event, h2.events.StreamEnded):
            if (stream := self.streams.get(event.stream_id)) is not None:
                stream.request_complete()
        elif isinstance(event, h2.events.TrailersReceived):
            if (stream := self.streams.get(event.stream_id)) is not None:
                stream.req_trailers = list(event.headers)
        elif isinstance(event, h2.events.StreamReset):
            self.forget(event.stream_id)
            if (stream := self.streams.get(event.stream_id)) is not None:
                stream.abort()
        elif isinstance(event, h2.events.ConnectionTerminated):
            if event.error_code != ErrorCodes.NO_ERROR:
                self.broken(f"the client went away (GOAWAY {event.error_code})")
                return
            self.reopen()  # the client opens no more streams; those in flight finish
            self.closing = True
            self.maybe_close()
        else:
            super().event(event)

    def _request(self, event: h2.events.RequestReceived) -> None:
        sid = event.stream_id
        if self.closing:
            self.reset(sid, ErrorCodes.REFUSED_STREAM)
            return
        self.quiet_since = None
        stream = _Stream(self, sid)
        self.streams[sid] = stream
        stream.begin(event.headers, event.stream_ended is not None)

    def broken(self, message: str) -> None:
        logger.debug("HTTP/2 client %s: %s", self.client, message)
        for stream in list(self.streams.values()):
            stream.abort()
        self.abort()

    # -- used by streams -------------------------------------------------------------------

    def stream_done(self, stream: _Stream) -> None:
        self.streams.pop(stream.id, None)
        self.maybe_close()

    def drain(self) -> None:
        super().drain()
        self.maybe_close()

    def maybe_close(self) -> None:
        """Closing, and every stream answered and sent: close."""
        if self.closing and not self.streams and not self._waiting and not self.closed:
            self.close()

    def send_head(self, sid: int, headers: list[Header], end: bool) -> bool:
        """A response (or trailers) head; False when the stream is gone."""
        try:
            self.h2.send_headers(sid, cast(Any, headers), end_stream=end)
        except h2.exceptions.ProtocolError:
            return False
        return True

    # -- what the server asks of every connection -----------------------------------------

    def sweep(self, now: float, head_timeout: float | None, idle_timeout: float | None) -> None:
        """Close after ``idle_timeout`` without a stream (a head arrives whole: no head timeout)."""
        if self.streams or self._waiting or self.closed:
            self.quiet_since = None
            return
        if self.quiet_since is None:
            self.quiet_since = now
        elif idle_timeout is not None and now - self.quiet_since >= idle_timeout:
            self.shutdown()

    def shutdown(self) -> None:
        """GOAWAY with the last stream taken (h2's own GOAWAY would end the streams in flight too),
        then close once they are done."""
        if self.closing or self.closed or self.transport is None:
            return
        self.closing = True
        frame = GoAwayFrame(0)
        frame.last_stream_id = self.h2.highest_inbound_stream_id
        frame.error_code = ErrorCodes.NO_ERROR
        self.flush()
        self.writes.write(self.transport, frame.serialize())
        self.maybe_close()


class _Stream:
    """One request of an HTTP/2 client: routing, the upstream (HTTP/1.1 or h2c), both bodies, timers.

    It is the :class:`~zeroserve.net.upstream.ResponseSink` of an HTTP/1.1 upstream, the
    :class:`~zeroserve.net.http2.StreamSink` of an h2c one (whose ``send_paused`` is about the
    request body) and, through :class:`_Flow`, the owner of the response's DATA to the client.
    """

    # Defaults as class attributes (as the HTTP/1.1 exchange): a stream sets what it uses.
    head: RequestHead | None = None
    scan: h.RequestScan | None = None
    method = b""
    path = b""
    trailers_ok = False
    target: Target | None = None
    handler: Local | None = None
    task: asyncio.Task[None] | None = None
    up: UpstreamConnection | None = None
    upstream: http2.H2Stream | None = None
    request_done = False
    discard = False
    """The response is complete: what the client still sends is dropped."""
    chunked = False
    """The HTTP/1.1 upstream gets the body chunked."""
    buffered = 0
    held = 0
    """Request bytes the client sent and the upstream took while it was full: acknowledged once it drains."""
    up_full = False
    req_trailers: list[Header] | None = None
    reused = False
    responding = False
    resp_length = False
    until_close = False
    out_paused = False
    up_unacked = 0
    """Response bytes from an h2c upstream passed on while the client's side was full."""
    resp_trailers: list[Header] | None = None
    ended = False
    """The response's END_STREAM went with its head."""
    finished = False
    status = 0
    size = 0
    """The response's status and body bytes sent (for ``RequestHead.on_done``)."""
    due = 0.0
    bucket: set[Expiring] | None = None
    end_at: float | None = None
    start_at: float | None = None
    idle_at: float | None = None
    idle_seen = 0
    activity = 0

    def __init__(self, conn: H2Downstream, sid: int) -> None:
        self.conn = conn
        self.id = sid
        self.body: list[bytes] = []
        """Request body not sent upstream yet (not acknowledged either: the window bounds it)."""
        self.flow = _Flow(self.response_paused)

    # -- request -------------------------------------------------------------------------------

    def begin(self, raw: list[Header], ended: bool) -> None:
        conn, state = self.conn, self.conn.state
        state.in_flight += 1
        self.request_done = ended
        authority = b""
        headers: h.Headers = []
        for name, value in raw:
            if name[:1] != b":":
                headers.append((name, value))
            elif name == b":method":
                self.method = value
            elif name == b":path":
                self.path = value
            elif name == b":authority":
                authority = value
        if authority and h.get(headers, b"host") is None:
            headers.insert(0, (b"host", authority))
        problem = lim.check_head(state.limits, self.method, self.path, headers)
        if problem is not None:
            self.local(Response(problem[0], problem[1].encode() + b"\n"))
            return
        if self.method == b"CONNECT":
            self.local(Response(501, b"CONNECT is not supported here\n"))
            return
        self.scan = scan = h.scan_request(headers)
        self.trailers_ok = http2.accepts_trailers(headers)
        self.head = head = RequestHead(
            self.method.decode("latin-1"),
            self.path.decode("latin-1"),
            "2.0",
            headers,
            scan.host_text,
            conn.client,
            state.scheme,
            False,
            scan.knative,
            False,
        )
        try:
            result = state.router(head)
        except Exception:
            logger.exception("route hook failed")
            self.local(Response(500, b"internal error in the route hook\n"))
            return
        if isinstance(result, (Target, Response, Local)):
            self.routed(result)
        else:
            self.task = asyncio.get_running_loop().create_task(self._await_route(result))

    async def _await_route(self, pending: Awaitable[RouteResult]) -> None:
        try:
            result = await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            self.task = None
            logger.exception("route hook failed")
            self.local(Response(500, b"internal error in the route hook\n"))
            return
        self.task = None
        if self.finished:
            if isinstance(result, Target):
                result.release()
            return
        self.routed(result)

    def routed(self, result: RouteResult | Local) -> None:
        if isinstance(result, Response):
            self.local(result)
            return
        if isinstance(result, Local):
            self.handler = result
            self.conn.consumed(self.id, self.buffered)  # read whole (bounded by max_body), not held back
            if self.buffered > result.max_body:
                self.local(Response(413, f"request body larger than {result.max_body} bytes\n".encode()))
            elif self.request_done:
                self._run_local()
            return
        self.target = result
        t = result.timeouts
        if t.total is not None or t.idle is not None or t.response_start is not None:
            self._arm(t)
        key = (result.host, result.port)
        pool = self.conn.state.pool
        if result.h2c:
            conn = pool.h2.take(key)
            if conn is not None:
                self._open(conn)
            else:
                self.task = asyncio.get_running_loop().create_task(self._connect(True))
            return
        up = pool.take(key)
        if up is not None:
            self.reused = True
            self.attach(up)
        else:
            self.task = asyncio.get_running_loop().create_task(self._connect(False))

    async def _connect(self, h2c: bool) -> None:
        target = self.target
        assert target is not None
        key = (target.host, target.port)
        pool = self.conn.state.pool
        try:
            async with asyncio.timeout(target.timeouts.connect):
                conn: http2.UpstreamH2 | UpstreamConnection = await (pool.h2.connect(key) if h2c else pool.connect(key))
        except TimeoutError:
            self.task = None
            self.fail(504, "upstream connect timeout")
            return
        except OSError as exc:
            self.task = None
            self.fail(502, f"upstream connect error: {exc.strerror or exc}")
            return
        self.task = None
        if isinstance(conn, UpstreamConnection):
            if self.finished:
                pool.put(conn)
                return
            self.reused = conn.uses > 0
            self.attach(conn)
        elif not self.finished:
            self._open(conn)

    def _lines(self) -> list[bytes]:
        """The headers to forward, serialized as HTTP/1.1 lines (see ``RequestScan.forward``)."""
        scan, target, conn = self.scan, self.target, self.conn
        assert scan is not None and target is not None
        host = None if scan.host is not None else f"{target.host}:{target.port}".encode()
        lines = scan.forward(conn.node, conn.client_ip, conn.state.proto, host, target.drop)
        if target.headers:
            lines.extend(name + b": " + value + b"\r\n" for name, value in target.headers)
        return lines

    def request_body(self, data: bytes, flow: int) -> None:
        self.activity += 1
        conn = self.conn
        if flow > len(data):
            conn.consumed(self.id, flow - len(data))  # padding
        if not data:
            return  # an empty DATA frame (its END_STREAM comes as StreamEnded): an empty chunk would end a body
        if self.discard or self.finished:
            conn.consumed(self.id, len(data))
            return
        if self.up is not None:
            self.up.write(http1.chunk(data) if self.chunked else data)
        elif self.upstream is not None:
            self.upstream.send(data)
        else:
            self.body.append(data)
            self.buffered += len(data)
            handler = self.handler
            if handler is not None:
                conn.consumed(self.id, len(data))
                if self.buffered > handler.max_body:
                    self.local(Response(413, f"request body larger than {handler.max_body} bytes\n".encode()))
            return
        if self.up_full:
            self.held += len(data)
        else:
            conn.consumed(self.id, len(data))

    def request_complete(self) -> None:
        if self.request_done:
            return
        self.request_done = True
        if self.discard or self.finished:
            return
        if self.handler is not None:
            self._run_local()
        elif self.up is not None:
            if self.chunked:
                self.up.write(http1.LAST_CHUNK)
        elif self.upstream is not None:
            self.upstream.end(self.req_trailers)

    def _flow_open(self) -> None:
        """The upstream takes more: acknowledge what it took meanwhile."""
        self.up_full = False
        if self.held:
            self.conn.consumed(self.id, self.held)
            self.held = 0

    # -- an HTTP/1.1 upstream (ResponseSink) ----------------------------------------------------

    def attach(self, up: UpstreamConnection) -> None:
        self.up = up
        up.sink = self
        up.uses += 1
        body = b"".join(self.body)
        self.body = []
        scan = self.scan
        assert scan is not None
        lines = self._lines()
        if scan.content_length is None and (self.buffered or not self.request_done):
            if self.request_done:  # all of it is here: its length is known
                lines.append(b"Content-Length: %d\r\n" % len(body))
            else:
                self.chunked = True
                lines.append(b"Transfer-Encoding: chunked\r\n")
        out = [b"%b %b HTTP/1.1\r\n" % (self.method, self.path), *lines, http1.CRLF]
        if body:
            out.append(http1.chunk(body) if self.chunked else body)
        if self.request_done and self.chunked:
            out.append(http1.LAST_CHUNK)
        up.write(b"".join(out))
        self.conn.consumed(self.id, self.buffered)
        self.buffered = 0
        if self.out_paused and up.transport is not None:
            up.transport.pause_reading()

    def on_headers_complete(self) -> None:
        up = self.up
        assert up is not None
        self.activity += 1
        status = up.parser.get_status_code()
        if 100 <= status < 200:
            if status == 101:
                self.upstream_error("unexpected upgrade from upstream")
            return
        _, has_length, chunked = up.scan_response(up.headers)
        head_only = self.method == b"HEAD" or status in (204, 304)
        self.until_close = not head_only and not has_length and not chunked
        self.resp_length = has_length
        self.status = status
        self._respond(http2.response_headers(status, up.headers), end=self.method == b"HEAD")
        if self.method == b"HEAD":
            up.reset_parser()
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        self.activity += 1
        self.size += len(body)
        self.conn.send(self.id, body, self.flow)

    def on_message_complete(self) -> None:
        if not self.responding or self.finished:
            return
        up, self.up = self.up, None
        if up is not None:
            if self.request_done and up.parser.should_keep_alive() and not self.until_close:
                self.conn.state.pool.put(up)
            else:
                up.close()
        if self.method != b"HEAD":
            self.conn.finish(self.id)
        self._finish()

    def upstream_upgraded(self, rest: bytes) -> None:
        self.upstream_error("unexpected upgrade from upstream")

    def upstream_error(self, message: str) -> None:
        if self.up is not None:
            self.up.abort()
            self.up = None
        self.fail(502, message)

    def upstream_lost(self) -> None:
        self.up = None
        if self.finished:
            return
        if self.responding:
            if self.until_close:
                self.conn.finish(self.id)
                self._finish()
            else:
                self._reset()
        elif self.reused and self._retryable():
            self.task = asyncio.get_running_loop().create_task(self._connect(False))
        else:
            self.fail(502, "upstream closed the connection before answering")

    def _retryable(self) -> bool:
        """Nothing of a body went upstream (there is none): the request may be sent again."""
        scan = self.scan
        return scan is not None and self.request_done and scan.content_length in (None, b"0") and not self.chunked

    def upstream_write_paused(self, paused: bool) -> None:
        if paused:
            self.up_full = True
        else:
            self._flow_open()

    def flush(self) -> None:
        self.conn.flush()

    # -- an h2c upstream (StreamSink) ----------------------------------------------------------

    def _open(self, conn: http2.UpstreamH2) -> None:
        end = self.request_done and not self.body and not self.req_trailers
        head = http2.request_headers(self.method, self.path, self._lines(), self.trailers_ok)
        try:
            self.upstream = stream = conn.open(head, self, end_stream=end)
        except h2.exceptions.ProtocolError as exc:
            self.fail(502, f"the request cannot be sent over HTTP/2: {exc}")
            return
        for data in self.body:
            stream.send(data)
        self.body = []
        self.conn.consumed(self.id, self.buffered)
        self.buffered = 0
        if self.request_done and not end:
            stream.end(self.req_trailers)

    def on_response(self, status: int, headers: list[Header], end: bool) -> None:
        self.activity += 1
        self.resp_length = h.get(headers, b"content-length") is not None
        self.ended = end  # trailers-only (a gRPC error status): HEADERS with END_STREAM, as it came
        self.status = status
        self._respond([(b":status", b"%d" % status), *headers], end=end)

    def on_data(self, data: bytes) -> None:
        self.activity += 1
        self.size += len(data)
        self.conn.send(self.id, data, self.flow)
        if self.out_paused:
            self.up_unacked += len(data)
        elif self.upstream is not None:
            self.upstream.consumed(len(data))
        self.conn.flush()

    def on_trailers(self, headers: list[Header]) -> None:
        self.resp_trailers = headers

    def on_end(self) -> None:
        self.upstream = None
        if self.finished:
            return
        if not self.ended:
            self.conn.finish(self.id, self.resp_trailers)
            self.conn.flush()
        self._finish()

    def on_reset(self, message: str, retry: bool) -> None:
        self.upstream = None
        if self.finished:
            return
        if retry and not self.responding and self._retryable():
            self.task = asyncio.get_running_loop().create_task(self._connect(True))
            return
        if self.responding:
            self._reset()
        else:
            self.fail(502, message)

    def send_paused(self, paused: bool) -> None:
        """The h2c upstream's window for the request body closed (opened)."""
        if paused:
            self.up_full = True
        else:
            self._flow_open()

    # -- the response to the client --------------------------------------------------------------

    def _respond(self, headers: list[Header], end: bool) -> None:
        self.responding = True
        self.start_at = None
        if not self.request_done:
            self.discard = self.discard or end
        if not self.conn.send_head(self.id, headers, end):
            self.abort()
        self.conn.flush()

    def response_paused(self, paused: bool) -> None:
        """The client's window (or socket) for the response is full (has room again)."""
        self.out_paused = paused
        up = self.up
        if up is not None and up.transport is not None:
            if paused:
                up.transport.pause_reading()
            else:
                up.transport.resume_reading()
        elif not paused and self.up_unacked and self.upstream is not None:
            self.upstream.consumed(self.up_unacked)
            self.up_unacked = 0

    def local(self, response: Response) -> None:
        """Answer here (an error, the route hook's own response)."""
        if self.finished:
            return
        self._drop_upstream()
        body = response.body
        headers = [
            (b":status", b"%d" % response.status),
            *((n.lower(), v) for n, v in response.headers if n.lower() not in h.HOP_BY_HOP),
            (b"content-length", b"%d" % len(body)),
        ]
        head_only = self.method == b"HEAD" or not body
        self.status, self.size = response.status, 0 if head_only else len(body)
        self.discard = True
        self.conn.consumed(self.id, self.buffered)
        self.buffered = 0
        self.body = []
        if self.conn.send_head(self.id, headers, head_only) and not head_only:
            self.conn.send(self.id, body, self.flow)
            self.conn.finish(self.id)
        self.conn.flush()
        self._finish()

    def _run_local(self) -> None:
        handler, head = self.handler, self.head
        assert handler is not None and head is not None
        body = b"".join(self.body)
        self.body = []
        self.buffered = 0
        try:
            result = handler.handle(head, body)
        except Exception:
            logger.exception("local handler %r failed", handler)
            self.local(Response(500, b"internal error\n"))
            return
        if isinstance(result, Response):
            self.local(result)
        else:
            self.task = asyncio.get_running_loop().create_task(self._await_local(result))

    async def _await_local(self, pending: Awaitable[Response]) -> None:
        try:
            response = await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("local handler %r failed", self.handler)
            response = Response(500, b"internal error\n")
        self.task = None
        self.local(response)

    # -- endings -----------------------------------------------------------------------------------

    def fail(self, status: int, message: str) -> None:
        """``status`` if the response has not started, else the stream is reset."""
        if self.finished:
            return
        if self.responding:
            self._reset()
            return
        self.local(Response(status, message.encode() + b"\n"))

    def _reset(self) -> None:
        self._drop_upstream()
        self.conn.reset(self.id, ErrorCodes.INTERNAL_ERROR)
        self._finish()

    def abort(self) -> None:
        """The client reset the stream or went away."""
        if self.finished:
            return
        self._drop_upstream()
        self._finish()

    def _drop_upstream(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
        up, self.up = self.up, None
        if up is not None:
            up.abort()
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.reset()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self.bucket is not None:
            Deadlines.remove(self)
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.target is not None:
            self.target.status = self.status or 502
            self.target.release()
        self.conn.state.in_flight -= 1
        head = self.head
        if head is not None and head.on_done is not None:
            head.on_done(head, self.status or 502, self.size)
        self.conn.stream_done(self)

    # -- timeouts (as the HTTP/1.1 exchange's) ----------------------------------------------------

    def _arm(self, t: Timeouts) -> None:
        deadlines = self.conn.state.deadlines
        now = deadlines.time()
        since = now if t.since is None else t.since
        if t.total is not None:
            self.end_at = since + t.total
        if t.response_start is not None:
            self.start_at = since + t.response_start
        if t.idle is not None:
            self.idle_at = since + t.idle
            self.idle_seen = self.activity
        self._wait(now)

    def _wait(self, now: float) -> None:
        limits = [t for t in (self.end_at, self.start_at, self.idle_at) if t is not None]
        self.conn.state.deadlines.add(self, min(limits), now)

    def expired(self, now: float) -> None:
        if self.finished:
            return
        target = self.target
        message = target.timeouts.message if target is not None else None
        if self.end_at is not None and now >= self.end_at:
            self._time_out(message or "upstream request timeout")
            return
        if self.start_at is not None and now >= self.start_at:
            self.fail(504, message or "upstream response start timeout")
            return
        if self.idle_at is not None and now >= self.idle_at:
            if self.activity == self.idle_seen:
                self._time_out(message or "upstream idle timeout")
                return
            self.idle_seen = self.activity
            assert target is not None and target.timeouts.idle is not None
            self.idle_at = now + target.timeouts.idle
        if self.end_at is not None or self.start_at is not None or self.idle_at is not None:
            self._wait(now)

    def _time_out(self, message: str) -> None:
        """504 before the response started; after, a response of unknown length ends with the
        message as its last DATA (Knative's timeout handler), one with a Content-Length is reset."""
        if not self.responding:
            self.fail(504, message)
            return
        if self.resp_length:
            self._reset()
            return
        self._drop_upstream()
        self.conn.send(self.id, message.encode(), self.flow)
        self.conn.finish(self.id)
        self.conn.flush()
        self._finish()
