"""THE streaming HTTP/1.1 reverse proxy: asyncio Protocols + httptools, uvloop where available.

One :class:`ProxyServer` accepts client connections. For every request it asks a pluggable
``route(head)`` hook where to send it; the hook returns (or awaits, e.g. for capacity) either a
:class:`Target` (upstream host and port, timeouts, extra headers, and a ``release()`` called
exactly once when the request is over, for in-flight accounting) or a local :class:`Response`
(404, 503...). The request then streams to an upstream keep-alive connection and the response
streams back:

* bodies are never buffered whole: Content-Length bodies pass through, chunked ones are
  re-chunked, close-delimited ones become chunked for HTTP/1.1 clients; reading from one side
  pauses while the other side's write buffer is full (``pause_reading``/``pause_writing``);
* keep-alive on both sides, HTTP/1.0 clients, pipelined requests answered in order;
* hop-by-hop headers are stripped, Host is preserved, ``Forwarded`` and ``X-Forwarded-*`` set;
* upgrades (websockets): after the upstream's 101 raw bytes are piped both ways;
* timeouts per request (:class:`Timeouts`), counted from when the route hook answered or from an
  earlier ``since`` (a request held in a breaker): 504 before the response started; after that the
  total or idle limit ends a chunked response with the message as its last chunk, as Knative's
  timeout handler does, and aborts a Content-Length one. A refused connect gives 502;
* a client that goes away aborts its upstream connection (never returned to the pool);
* what one client connection can make the proxy hold is bounded (:mod:`zeroserve.net.limits`):
  the request head (414/431), requests parsed ahead of their turn, bytes sent after an upgrade
  request before the upstream's 101 (reading pauses instead of buffering), a head's arrival time
  (408) and idle time; a malformed request gets 400 after the responses before it, then the
  connection closes;
* an absolute-form target (``GET http://host/path``) is routed and forwarded by its authority,
  which replaces the Host header (RFC 9112 §3.2.2);
* HTTP/2 (cleartext, prior knowledge) both ways: a :class:`Target` with ``h2c`` set is sent its
  requests as HTTP/2 streams (:mod:`.h2bridge`, :mod:`.http2`: a revision whose port is named
  ``h2c``), and a connection that opens with the HTTP/2 preface is handed to
  :mod:`.h2server`, whose streams take the same route hook. Only a connection's first bytes are
  looked at for that; the HTTP/1.1 path is unchanged;
* a route hook may instead answer a request in this process (:class:`Local`, e.g. the Broker
  ingress of ``zeroserve up``): its body is read whole (bounded: 413), then handed to a function
  that returns the :class:`Response` (or an awaitable of it) — no socket, no second parse.

Shutdown is graceful: stop accepting, let in-flight exchanges finish until a deadline, then abort.

The per-request path is kept short, as every Python hop costs a share of a core (bench/dataplane.py
measures it): each header is looked at once (``headers.scan_request``/``scan_response``), and
what comes out of that is remembered per connection, since a keep-alive client repeats its
headers and an upstream its response headers (comparing lists is cheaper than redoing the work);
one ``write`` per read on each side; timeouts are entries in a timer wheel (``net.deadlines``), not
a loop timer per request, and exist only when a :class:`Timeouts` field is set.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

import httptools

from zeroserve.net import headers as h
from zeroserve.net import http1
from zeroserve.net import limits as lim
from zeroserve.net.deadlines import Deadlines, Expiring
from zeroserve.net.upstream import UpstreamConnection, UpstreamPool
from zeroserve.net.writes import Writes
from zeroserve.net.writes import for_loop as writes_for_loop

if TYPE_CHECKING:
    from zeroserve.net.h2bridge import Bridge

logger = logging.getLogger(__name__)

HIGH_WATER = 64 * 1024
"""Request body bytes buffered (before the upstream is attached) before the client is paused."""

_PAUSE_BUFFER = 1
_PAUSE_UPSTREAM = 2
_PAUSE_PIPELINE = 4
_PAUSE_REFUSED = 8
SLICE = lim.SLICE
LINGER_TIME = 2.0
"""Seconds a connection closed on a client still sending reads and discards (see ``_linger``)."""
LINGER_BYTES = 8 << 20
"""Bytes it reads and discards at most meanwhile."""

_UNMARKED = object()
"""A connection the timeout sweep has not looked at since it was last busy."""


class _Stop(Exception):
    """Raised in a parser callback to stop parsing (the reason is already answered)."""


def _discard(data: bytes) -> None:
    """Where a refused connection's reads go (it is paused: only what was already in flight)."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-request limits in seconds (None: no limit). Defaults suit a gateway."""

    connect: float | None = 5.0
    """Opening a new upstream connection (502 when refused, 504 when it takes longer)."""
    response_start: float | None = None
    """Until the response head is received (504)."""
    idle: float | None = None
    """No byte in either direction for this long (504 before the response started, else as ``total``).
    Checked lazily: a stall is noticed between ``idle`` and ``2 * idle`` seconds."""
    total: float | None = None
    """The whole exchange (504 before the response started, else the response is cut short:
    see ``_Exchange._time_out``)."""
    message: str | None = None
    """The body of a 504 from ``response_start``, ``idle`` or ``total`` (default: which limit fired);
    Knative's queue-proxy says ``request timeout``, its activator ``activator request timeout``."""
    since: float | None = None
    """The loop time ``response_start``, ``idle`` and ``total`` count from (None: when the route hook
    returned). A request held before that (a breaker, the activator) set it to when it arrived, as
    Knative's timeout handler wraps its breaker and throttler (``pkg/http/handler/timeout.go``)."""

    @property
    def first(self) -> float | None:
        """The soonest any of ``response_start``, ``idle`` and ``total`` fires for a request that
        gets no byte: how long it may be held before it is sent upstream (None: no limit)."""
        limits = [t for t in (self.response_start, self.idle, self.total) if t is not None]
        return min(limits) if limits else None

    @property
    def held_until(self) -> float | None:
        """The loop time by which a request held since ``since`` times out if it got no byte yet
        (None: never, or no ``since``)."""
        first = self.first
        return None if first is None or self.since is None else self.since + first

    def anchored(self, since: float) -> Timeouts:
        """These limits counted from ``since`` (a loop time): for a request held since then.
        Already anchored: unchanged (the earliest clock counts)."""
        if self.since is not None:
            return self
        return Timeouts(self.connect, self.response_start, self.idle, self.total, self.message, since)


DEFAULT_TIMEOUTS = Timeouts()


def limit(seconds: float) -> float | None:
    """A revision's timeout as a limit: none unless positive (Knative's timeout handler arms a timer
    only for a positive duration; admission lets 0 and negative response-start/idle values through)."""
    return seconds if seconds > 0 else None


class Target:
    """Where one request goes; ``release()`` runs exactly once when the request is over."""

    __slots__ = ("_on_release", "drop", "h2c", "headers", "host", "port", "status", "timeouts")

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        headers: tuple[h.Header, ...] = (),
        on_release: Callable[[], None] | None = None,
        drop: frozenset[bytes] = frozenset(),
        h2c: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.timeouts = timeouts
        self.headers = headers
        """Extra headers for the upstream request (e.g. ``K-Proxy-Request: activator``)."""
        self.drop = drop
        """Lower-cased names of request headers not to forward (e.g. ``host``, replaced in ``headers``)."""
        self.h2c = h2c
        """Speak HTTP/2 with prior knowledge to the upstream (a revision whose port is named ``h2c``)."""
        self._on_release = on_release
        self.status = 0
        """The status the client got, set by the proxy just before ``release`` (502: none, the client went away)."""

    def release(self) -> None:
        callback, self._on_release = self._on_release, None
        if callback is not None:
            callback()

    def also_on_release(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` too when the request is over (after what runs already): e.g. a span's end."""
        first = self._on_release
        self._on_release = callback if first is None else _both(first, callback)

    def __repr__(self) -> str:
        return f"Target({self.host!r}, {self.port})"


def _both(first: Callable[[], None], then: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            first()
        finally:
            then()

    return run


@dataclass(frozen=True, slots=True)
class Response:
    """A response the proxy gives itself instead of forwarding (errors, 404 lists, probes)."""

    status: int
    body: bytes = b""
    headers: tuple[h.Header, ...] = ((b"Content-Type", b"text/plain; charset=utf-8"),)


@dataclass(slots=True)
class RequestHead:
    """What the route hook sees of a request: everything before the body."""

    method: str
    path: str
    """The request target as sent (path and query)."""
    version: str
    headers: h.Headers
    """As received, hop-by-hop ones included. Read-only: what is sent upstream comes from a scan
    made before the hook runs; a hook changes it through ``Target.headers``/``Target.drop``."""
    host: str
    """The Host header ('' when absent), as sent: may carry a port."""
    client: tuple[str, int] | None
    scheme: str = "http"
    upgrade: bool = False
    knative: dict[bytes, bytes] | None = None
    """Knative's probe and tag headers (``headers.MARKED``), lower-cased name -> first value; None
    when the request has none of them (nearly always): a router checks this, not ``headers``."""
    absolute: bool = False
    """The target was absolute-form (``GET http://host/path``): the client took us for its HTTP proxy."""
    on_done: Callable[[RequestHead, int, int], None] | None = None
    """Set by a route hook that wants to know how the request ended (a request log): called once,
    when it is over, with the status the client got and the response body bytes written to it
    (502 for a client gone before any response)."""

    def header(self, name: str) -> str | None:
        value = h.get(self.headers, name.lower().encode("latin-1"))
        return None if value is None else value.decode("latin-1")


RouteResult = Target | Response
LocalHandler = Callable[[RequestHead, bytes], "Response | Awaitable[Response]"]

DEFAULT_LOCAL_BODY = 4 * 1024 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Local:
    """A request answered by a handler in this process: the proxy reads its whole body (413 past
    ``max_body`` bytes, answering ``Expect: 100-continue`` itself), then ``handle(head, body)`` gives
    the :class:`Response` or an awaitable of it (cancelled if the client goes away). Upgrades are
    refused (400). Made once per service and returned by the route hook for every request to it."""

    __slots__ = ("handle", "max_body")

    def __init__(self, handle: LocalHandler, max_body: int = DEFAULT_LOCAL_BODY) -> None:
        self.handle = handle
        self.max_body = max_body

    def __repr__(self) -> str:
        return f"Local({self.handle!r})"


Router = Callable[[RequestHead], RouteResult | Local | Awaitable[RouteResult]]


class _Connection(Protocol):
    """A client connection of a server: HTTP/1.1 (:class:`_Downstream`) or HTTP/2 (:mod:`.h2server`)."""

    def sweep(self, now: float, head_timeout: float | None, idle_timeout: float | None) -> None: ...
    def shutdown(self) -> None: ...
    def abort(self) -> None: ...


class _ServerState:
    """Shared by every connection of one server (uvicorn's ServerState)."""

    def __init__(
        self, router: Router, pool: UpstreamPool, scheme: str, limits: lim.ConnectionLimits = lim.DEFAULT_LIMITS
    ) -> None:
        self.router = router
        self.pool = pool
        self.scheme = scheme
        self.proto = scheme.encode("latin-1")
        self.limits = limits
        self.relay = False
        """Connections come from a gateway worker of ours (see ``ProxyServer``'s ``relay``)."""
        self.connections: set[_Connection] = set()
        self.closing = False
        self.all_closed = asyncio.Event()
        self.in_flight = 0
        self.loop = asyncio.get_running_loop()
        self.deadlines = Deadlines(self.loop)
        self.writes: Writes = writes_for_loop()
        self._sweeping: asyncio.TimerHandle | None = None

    def start_sweeping(self) -> None:
        """Check the connections for the head and idle timeouts every ``limits.sweep_period``."""
        if self.limits.sweep_period is not None and self._sweeping is None:
            self._sweeping = self.loop.call_later(self.limits.sweep_period, self._sweep)

    def stop_sweeping(self) -> None:
        if self._sweeping is not None:
            self._sweeping.cancel()
            self._sweeping = None

    def _sweep(self) -> None:
        now = self.loop.time()
        head, idle = self.limits.head_timeout, self.limits.idle_timeout
        for conn in list(self.connections):
            conn.sweep(now, head, idle)
        period = self.limits.sweep_period
        assert period is not None
        self._sweeping = self.loop.call_later(period, self._sweep)


class _Exchange:
    """One request/response pair: routing, the upstream connection, both bodies, timers.

    One is made per request: the class attributes are the defaults, so creating one sets only
    its connection and its two lists; the request headers are looked at once
    (``headers.scan_request``) when their block is complete.
    """

    url = b""
    method = b""
    version = "1.1"
    keep_alive = True
    upgrade = False
    absolute = False
    scan: h.RequestScan | None = None
    chunked_request = False
    request_done = False
    buffered = 0
    """Request body bytes in ``buffer``."""
    target: Target | None = None
    handler: Local | None = None
    """Set when the route hook answers the request in this process."""
    bridge: Bridge | None = None
    """Set when the target speaks h2c: the request goes as an HTTP/2 stream (:mod:`.h2bridge`)."""
    head: RequestHead | None = None
    up: UpstreamConnection | None = None
    upstream_head: bytes | None = None
    """The request head as sent upstream (kept for a retry on a fresh connection)."""
    sent = False
    reused = False
    task: asyncio.Task[None] | None = None
    # Timeouts (loop times; None: no such limit). One entry in the server's Deadlines waits for
    # the earliest; when it fires, ``expired`` sees which one passed and waits for the next.
    due = 0.0
    bucket: set[Expiring] | None = None
    end_at: float | None = None
    start_at: float | None = None
    idle_at: float | None = None
    idle_seen = 0
    activity = 0
    """Counts reads and writes, for the idle timeout."""
    status = 0
    phrase = b""
    size = 0
    """Response body bytes written to the client (for ``RequestHead.on_done``)."""
    resp_headers: Sequence[h.Header] = ()
    responding = False
    resp_chunked = False
    resp_until_close = False
    client_close = False
    piping = False
    finished = False

    def __init__(self, down: _Downstream) -> None:
        self.down = down
        self.headers: h.Headers = []
        self.buffer: list[bytes] = []
        """Request body (or, after an upgrade request, raw bytes) not sent upstream yet."""

    # -- request side (called by _Downstream) ----------------------------------------------

    def start(self) -> None:
        """Ask the route hook where this request goes."""
        down = self.down
        state = down.state
        state.in_flight += 1
        assert self.scan is not None, "scanned before start"
        head = RequestHead(
            self.method.decode(),  # a token: ASCII
            self.url.decode("latin-1"),
            self.version,
            self.headers,
            self.scan.host_text,
            down.client,
            state.scheme,
            self.upgrade,
            self.scan.knative,
            self.absolute,
        )  # positional: keyword arguments cost measurably here
        self.head = head
        try:
            result = state.router(head)
        except Exception:
            logger.exception("route hook failed")
            self.local(Response(500, b"internal error in the route hook\n"))
            return
        if isinstance(result, (Target, Response, Local)):  # a tuple: faster than a union, once per request
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
            self._serve_local(result)
            return
        self.target = result
        t = result.timeouts
        if t.total is not None and t.idle is None and t.response_start is None and t.since is None:
            # _arm, unrolled for the common case (bench/proxy_python.py: ~1 us less)
            deadlines = self.down.state.deadlines
            now = deadlines.time()
            self.end_at = due = now + t.total
            deadlines.add(self, due, now)
        elif t.total is not None or t.idle is not None or t.response_start is not None:
            self._arm(t)
        if result.h2c:
            self._bridge()
            return
        conn = self.down.state.pool.take((result.host, result.port))
        if conn is not None:
            self.reused = True
            self.attach(conn)
        else:
            self.task = asyncio.get_running_loop().create_task(self._connect())

    def _bridge(self) -> None:
        from zeroserve.net import h2bridge  # the h2 library only when some target speaks h2c

        if self.upgrade:
            self.local(Response(502, h2bridge.UPGRADE_REFUSED))
            return
        self.bridge = h2bridge.Bridge(self)
        self.bridge.start()

    async def _connect(self) -> None:
        assert self.target is not None
        key = (self.target.host, self.target.port)
        try:
            async with asyncio.timeout(self.target.timeouts.connect):
                conn = await self.down.state.pool.connect(key)
        except TimeoutError:
            self.task = None
            self.fail(504, "upstream connect timeout")
            return
        except OSError as exc:
            self.task = None
            self.fail(502, f"upstream connect error: {exc.strerror or exc}")
            return
        self.task = None
        if self.finished:
            self.down.state.pool.put(conn)  # fresh, or handed back while we waited: someone else's
            return
        self.reused = conn.uses > 0  # handed back by another request while we waited for our turn
        self.attach(conn)

    def attach(self, conn: UpstreamConnection) -> None:
        """Send the request head and whatever body came so far, in one write."""
        target = self.target
        assert target is not None
        self.up = conn
        conn.sink = self
        conn.uses += 1
        if self.upstream_head is None:  # kept for a retry on a fresh connection
            self.upstream_head = self._request_head(target)
        out = [self.upstream_head]
        if self.buffer:
            if self.chunked_request:
                out.extend(http1.chunk(data) for data in self.buffer)
            else:
                out.extend(self.buffer)
            self.buffer.clear()
            self.buffered = 0
            self.down.resume(_PAUSE_BUFFER)
        if self.request_done and self.chunked_request and not self.upgrade:
            out.append(http1.LAST_CHUNK)
        self.sent = True
        conn.write(out[0] if len(out) == 1 else b"".join(out))
        if self.down.write_paused and conn.transport is not None:
            conn.transport.pause_reading()

    def _request_head(self, target: Target) -> bytes:
        scan = self.scan
        assert scan is not None
        down = self.down
        key = (scan, target.host, target.port, target.headers, target.drop, self.upgrade)
        if key != down._block_key:  # else: same headers to the same target as the previous request
            down._block_key = key
            down._block = self._header_block(scan, target)
        return b"%b %b HTTP/1.1\r\n%b\r\n" % (self.method, self.url, down._block)

    def _header_block(self, scan: h.RequestScan, target: Target) -> bytes:
        """The headers to send upstream, serialized (without the request line)."""
        down = self.down
        host = None if scan.host is not None else f"{target.host}:{target.port}".encode()
        out = scan.forward(down.node, down.client_ip, down.state.proto, host, target.drop)
        if target.headers:
            out.append(h.serialize(target.headers))
        if self.upgrade:
            out.append(b"Connection: upgrade\r\n")
            if scan.upgrade is not None:
                out.append(b"Upgrade: " + scan.upgrade + b"\r\n")
        elif scan.chunked:
            out.append(b"Transfer-Encoding: chunked\r\n")
        return b"".join(out)

    def request_body(self, data: bytes) -> None:
        self.activity += 1
        if self.sent and self.up is not None:
            self.up.write(http1.chunk(data) if self.chunked_request else data)
            return
        if self.bridge is not None:
            self.bridge.request_body(data)
            return
        self.buffer.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER:
            handler = self.handler
            if handler is None:
                self.down.pause(_PAUSE_BUFFER)
            elif self.buffered > handler.max_body:
                self.down._refuse(413, f"request body larger than {handler.max_body} bytes")
                raise _Stop

    def request_complete(self) -> None:
        self.request_done = True
        if self.handler is not None:
            self._run_local()
            return
        if self.sent:
            if self.up is not None and self.chunked_request and not self.upgrade:
                self.up.write(http1.LAST_CHUNK)
        elif self.bridge is not None:  # never "sent": the bridge sends
            self.bridge.request_complete()

    # -- answered in this process (Local) --------------------------------------------------

    def _serve_local(self, handler: Local) -> None:
        if self.upgrade:
            self.local(Response(400, b"protocol upgrades are not supported here\n"))
            return
        if self.buffered > handler.max_body:
            self.down._refuse(413, f"request body larger than {handler.max_body} bytes")
            return
        self.handler = handler
        if self.request_done:
            self._run_local()
            return
        self.down.resume(_PAUSE_BUFFER)  # the body is read whole, up to max_body
        expect = h.get(self.headers, b"expect")
        if expect is not None and expect.lower() == b"100-continue" and self.version != "1.0":
            self.down.write(CONTINUE)

    def _run_local(self) -> None:
        handler, head = self.handler, self.head
        assert handler is not None and head is not None
        body = self.buffer[0] if len(self.buffer) == 1 else b"".join(self.buffer)
        self.buffer = []
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

    def raw_from_client(self, data: bytes) -> None:
        """Bytes after an upgrade request: piped once the upstream switched protocols; until then
        held, and the client paused past ``HIGH_WATER`` (backpressure, not a buffer)."""
        if self.piping and self.up is not None:
            self.up.write(data)
            return
        self.buffer.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER:
            self.down.pause(_PAUSE_BUFFER)

    # -- response side (ResponseSink, called by UpstreamConnection) -------------------------

    def on_headers_complete(self) -> None:
        up = self.up
        assert up is not None
        self.activity += 1
        status = up.parser.get_status_code()
        self.phrase = up.phrase
        if 100 <= status < 200 and status != 101:
            if self.version != "1.0":
                self.down.out.append(http1.status_line(status, up.phrase) + h.serialize(up.headers) + http1.CRLF)
            return
        self.resp_headers = up.headers
        self.status = status
        self.start_at = None  # no longer a limit (its wheel entry, if any, re-arms when it fires)
        self.responding = True
        if status == 101:
            return  # completed by upstream_upgraded
        self.down.out.append(self._response_head(status))
        if self.method == b"HEAD":
            up.reset_parser()
            self.on_message_complete()

    def _response_head(self, status: int) -> bytes:
        assert self.up is not None
        block, has_length, chunked = self.up.scan_response(self.resp_headers)
        no_body = self.method == b"HEAD" or status in (204, 304)
        client_close = not self.keep_alive or self.upgrade or self.down.state.closing
        extra = b""
        if not no_body and not has_length:
            self.resp_until_close = not chunked
            if self.version == "1.0":
                client_close = True
            else:
                self.resp_chunked = True
                extra = b"Transfer-Encoding: chunked\r\n"
        self.client_close = client_close
        if client_close:
            extra += b"Connection: close\r\n"
        elif self.version == "1.0":
            extra += b"Connection: keep-alive\r\n"
        return b"HTTP/1.1 %d %b\r\n%b%b\r\n" % (status, self.phrase, block, extra)

    def on_body(self, body: bytes) -> None:
        self.activity += 1
        self.size += len(body)
        self.down.out.append(http1.chunk(body) if self.resp_chunked else body)

    def on_message_complete(self) -> None:
        if not self.responding or self.finished or self.status == 101:
            return  # an interim (1xx) response, or a switch completed by upstream_upgraded
        if self.resp_chunked:
            self.down.out.append(http1.LAST_CHUNK)
        up = self.up
        self.up = None
        if up is not None:
            if self.request_done and up.parser.should_keep_alive() and not self.resp_until_close:
                self.down.state.pool.put(up)
            else:
                up.close()
        self._finish(keep_alive=not self.client_close and self.request_done)

    def upstream_upgraded(self, rest: bytes) -> None:
        if self.status != 101 or self.up is None:
            self.upstream_error("unexpected upgrade from upstream")
            return
        out = h.end_to_end(self.resp_headers, h.connection_tokens(self.resp_headers))
        upgrade = h.get(self.resp_headers, b"upgrade")
        out.append((b"Connection", b"upgrade"))
        if upgrade is not None:
            out.append((b"Upgrade", upgrade))
        self.down.write(http1.status_line(101, self.phrase) + h.serialize(out) + http1.CRLF)
        Deadlines.remove(self)  # a websocket has no request timeout
        self.piping = True
        self.up.pipe = self.down.transport
        self.down.pipe = self.up
        self.down.divert = self.up.write
        if rest:
            self.down.write(rest)
        for data in self.buffer:
            self.up.write(data)
        self.buffer.clear()
        self.buffered = 0
        self.down.resume(_PAUSE_BUFFER)

    def upstream_error(self, message: str) -> None:
        if self.up is not None:
            self.up.abort()
            self.up = None
        self.fail(502, message)

    def upstream_lost(self) -> None:
        up, self.up = self.up, None
        if self.finished:
            return
        if self.piping:
            self.down.close()
            self._finish(keep_alive=False)
        elif self.responding:
            if self.resp_until_close:
                self.up = None
                if self.resp_chunked:
                    self.down.write(http1.LAST_CHUNK)
                self._finish(keep_alive=not self.client_close and self.request_done)
            else:
                self.down.abort()
                self._finish(keep_alive=False)
        elif self.reused and self._retryable():
            logger.debug("pooled connection to %s closed before answering; retrying", up and up.key)
            self.sent = False
            self.task = asyncio.get_running_loop().create_task(self._connect())
        else:
            self.fail(502, "upstream closed the connection before answering")

    def _retryable(self) -> bool:
        assert self.scan is not None
        no_body = not self.chunked_request and self.scan.content_length in (None, b"0")
        return no_body and not self.upgrade

    def flush(self) -> None:
        self.down.flush()

    def upstream_write_paused(self, paused: bool) -> None:
        if paused:
            self.down.pause(_PAUSE_UPSTREAM)
        else:
            self.down.resume(_PAUSE_UPSTREAM)

    # -- endings ---------------------------------------------------------------------------

    def fail(self, status: int, message: str) -> None:
        """504/502 if nothing was sent to the client yet, else abort the client connection."""
        if self.finished:
            return
        if self.responding:
            if self.up is not None:
                self.up.abort()
                self.up = None
            elif self.bridge is not None:
                self.bridge.cancel()
            self.down.abort()
            self._finish(keep_alive=False)
            return
        self.local(Response(status, message.encode() + b"\n"))

    def local(self, response: Response) -> None:
        if self.finished:
            return
        if self.up is not None:
            self.up.abort()
            self.up = None
        elif self.bridge is not None:
            self.bridge.cancel()
        close = not self.keep_alive or not self.request_done or self.upgrade or self.down.state.closing
        if not self.request_done and self._more_to_come():
            self.down.linger = True  # the client is still sending: let it read this first
        self.status = response.status
        if self.method != b"HEAD":
            self.size = len(response.body)
        self.down.write(
            http1.simple_response(
                response.status, response.body, response.headers, close=close, head_only=self.method == b"HEAD"
            )
        )
        self._finish(keep_alive=not close)

    def _more_to_come(self) -> bool:
        """Whether the client may still send bytes of this request (a body, or after an upgrade)."""
        scan = self.scan
        return scan is None or self.upgrade or scan.chunked or scan.content_length not in (None, b"0")

    def abort(self) -> None:
        """The client went away."""
        if self.finished:
            return
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.up is not None:
            self.up.abort()
            self.up = None
        elif self.bridge is not None:
            self.bridge.cancel()
        self._finish(keep_alive=False)

    def _finish(self, *, keep_alive: bool) -> None:
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
        self.down.state.in_flight -= 1
        head = self.head
        if head is not None and head.on_done is not None:
            head.on_done(head, self.status or 502, self.size)
        self.down.exchange_done(self, keep_alive)

    # -- timeouts (no wheel entry unless the target's Timeouts ask for one) ----------------

    def _arm(self, t: Timeouts) -> None:
        """Set the limits of ``t``, counted from ``t.since`` (else now), and wait for the first."""
        now = self.down.state.deadlines.time()
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
        """Wait in the wheel for the earliest limit still set."""
        due, start, idle = self.end_at, self.start_at, self.idle_at  # min() of a generator: slower
        if start is not None and (due is None or start < due):
            due = start
        if idle is not None and (due is None or idle < due):
            due = idle
        assert due is not None, "waiting for no limit"
        self.down.state.deadlines.add(self, due, now)

    def expired(self, now: float) -> None:
        """The wheel's callback: fail on a limit that passed, else wait for the next one."""
        if self.finished or self.piping:
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
        """The total or idle limit passed: 504 before the response started; after, the response
        ends there, as Knative's timeout handler (``pkg/http/handler/timeout.go``) ends it: its
        ``WriteHeader(504)`` is ignored once the head went out, the message is written as more
        body and the handler returns, so a chunked (or close-delimited) response gets the message
        and its end, cleanly. A Content-Length response cannot end early: it is aborted (Go's
        server closes that connection too)."""
        if not self.responding:
            self.fail(504, message)
            return
        if not (self.resp_chunked or self.resp_until_close):
            self.fail(504, message)
            return
        if self.up is not None:
            self.up.abort()
            self.up = None
        elif self.bridge is not None:
            self.bridge.cancel()
        body = message.encode()
        self.size += len(body)
        self.down.write(http1.chunk(body) + http1.LAST_CHUNK if self.resp_chunked else body)
        self._finish(keep_alive=not self.client_close and self.request_done and self.resp_chunked)


class _Refusal(_Exchange):
    """A request answered by the proxy itself, unrouted, in its turn (a limit, a malformed
    request, a head timeout); the connection closes after it."""

    def __init__(self, down: _Downstream, status: int, message: str) -> None:
        super().__init__(down)
        self.response = Response(status, message.encode() + b"\n")

    def start(self) -> None:
        self.down.state.in_flight += 1
        self.local(self.response)  # the request is not done: the connection closes


class _Downstream(asyncio.Protocol):
    """One client connection: parses requests, runs exchanges in order.

    Reads are parsed as they come, but a read over :data:`SLICE` bytes that starts in a head is
    parsed a slice at a time, so a limit is checked at least every ``SLICE`` bytes of a head and
    at most about ``SLICE`` bytes of pipelined requests are parsed past a full pipeline (the rest
    is held, unparsed, until a request is over; reading is paused meanwhile). A head that spans
    reads is measured as it arrives (``head_seen``) and checked exactly once complete.
    """

    # Rare states: class attributes until set, so that an instance keeps at most 30 attributes
    # (CPython shares the keys of instance dicts, and the fast attribute access, up to 30).
    held: list[bytes] | None = None
    """Bytes read but not parsed while the pipeline is full (or refused: dropped)."""
    held_scheduled = False
    linger = False
    """Close with :meth:`_linger`: the client may still be sending (a refused or unread request)."""
    lingered = -1
    _linger_timer: asyncio.TimerHandle | None = None
    refused = False
    mark: object = _UNMARKED
    mark_at = 0.0
    """The timeout sweep: the request being parsed when the connection was first seen waiting
    for its client, and when."""
    _sniffed = b""
    """The connection's first bytes while they may still be the HTTP/2 preface (see ``_sniff``)."""

    def __init__(self, state: _ServerState) -> None:
        self.state = state
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client: tuple[str, int] | None = None
        self.client_ip: bytes | None = None
        self.node = b"unknown"
        """The client as a ``Forwarded: for=`` node, computed once per connection."""
        self.exchanges: collections.deque[_Exchange] = collections.deque()
        self.parsing: _Exchange | None = None
        self.upgrading: _Exchange | None = None
        self.pipe: UpstreamConnection | None = None
        self.divert: Callable[[bytes], None] | None = None
        """Where reads go instead of the parser: the upgrade request waiting for its 101, then the
        upstream (``pipe``); or ``held`` while the pipeline is full; or nowhere once refused."""
        self.out: list[bytes] = []
        """Response bytes produced by one upstream read; written by :meth:`flush`."""
        self.paused = 0
        self.write_paused = False
        self.closed = False
        self.closing = False
        self.done = False
        """Closing: requests parsed from now on are not started (the parser is stopped at the next head)."""
        self.head_seen = 0
        """Bytes of the head being parsed in reads after the one it began in (0: none, or the
        head fits one small read, so it is within every limit and is not measured)."""
        # One-entry memos of the header work of the previous request (see _scan, _request_head).
        self._scanned: h.Headers | None = None
        self._scan_memo: h.RequestScan | None = None
        self._block_key: tuple[object, ...] = ()
        self._block = b""

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
            if not self.state.relay:
                self.client_ip = self.client[0].encode("latin-1")
                self.node = h.forwarded_node(self.client[0])
        if self.state.relay:
            self.node = b""  # the gateway worker before us named the client
        self.state.connections.add(self)
        self.divert = self._sniff
        if self.state.closing:
            self.close()

    def _sniff(self, data: bytes) -> None:
        """The connection's first bytes: the HTTP/2 preface hands the connection to
        :mod:`.h2server` (a client with prior knowledge); anything else is HTTP/1.1 from here on,
        with no further cost per request."""
        seen = self._sniffed + data if self._sniffed else data
        preface = http1.H2_PREFACE
        if len(seen) < len(preface) and preface.startswith(seen):
            self._sniffed = seen  # a preface may come in pieces
            return
        self.divert = None
        self._sniffed = b""
        if seen.startswith(preface):
            from zeroserve.net import h2server  # the h2 library only when a client speaks HTTP/2

            h2server.take_over(self, seen)
            return
        self.data_received(seen)

    def data_received(self, data: bytes) -> None:
        divert = self.divert
        if divert is not None:
            divert(data)
            return
        if len(data) > SLICE:
            self._feed_sliced(data)
            return
        before = self.parsing
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._upgrade(data, exc.args[0])
            return
        except httptools.HttpParserError as exc:
            self._parse_error(exc)
            return
        ex = self.parsing
        if ex is not None and ex.scan is None:  # a head is still arriving
            self._head_arriving(ex, ex is before, len(data))

    def _feed_sliced(self, data: bytes) -> None:
        """A large read: a slice at a time while heads are parsed, the rest at once in a body."""
        view = memoryview(data)
        pos, end = 0, len(data)
        while pos < end:
            before = self.parsing
            if before is not None and before.scan is not None and not before.request_done:
                unit = view[pos:]  # a body: as it is (a head may begin in it: measure that one)
                self.head_seen = self.head_seen or 1
            else:
                unit = view[pos : pos + SLICE]
            try:
                self.parser.feed_data(unit)
            except httptools.HttpParserUpgrade as exc:
                self._upgrade(data, pos + exc.args[0])
                return
            except httptools.HttpParserError as exc:
                self._parse_error(exc)
                return
            pos += len(unit)
            ex = self.parsing
            if ex is not None and ex.scan is None and not self._head_arriving(ex, ex is before, len(unit)):
                return
            if self.paused & _PAUSE_PIPELINE:
                if pos < end:
                    self.held = [data[pos:]]
                    self.divert = self.held.append
                return

    def _upgrade(self, data: bytes, offset: int) -> None:
        self.upgrading = self.parsing
        if self.upgrading is not None:
            self.divert = self.upgrading.raw_from_client
            self.upgrading.raw_from_client(data[offset:])

    def _head_arriving(self, ex: _Exchange, same: bool, size: int) -> bool:
        """After a read (or slice) that left a head incomplete: count it, refuse it past a limit.

        Only reads wholly inside the head count; the one it began in does not (it is at most a
        slice, or the body of a request before it), so the count never exceeds the head."""
        if not same:
            self.head_seen = 1  # it began in this read: measure it exactly once complete
            return True
        self.head_seen += size
        problem = lim.check_partial_head(self.state.limits, self.head_seen, ex.url)
        if problem is not None:
            self._refuse(*problem)
            return False
        return True

    def _parse_error(self, exc: httptools.HttpParserError) -> None:
        ex = self.parsing
        if ex is not None and ex.request_done and not ex.keep_alive:
            # Bytes after a request that closes the connection: not processed (RFC 9112 §9.6).
            self.done = True
            self.divert = _discard
            return
        if not self.refused and not self.done:  # else a callback raised _Stop to stop the parser
            cause = exc.__context__ if isinstance(exc, httptools.HttpParserCallbackError) else None
            detail = str(cause or exc) or type(exc).__name__
            self._refuse(400, f"bad request: {detail}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        if self.exchanges:
            self.exchanges[0].abort()
        for ex in self.exchanges:  # parsed, never started: nothing to release or count
            ex.finished = True
        self.exchanges.clear()
        if self.pipe is not None:
            self.pipe.close()
            self.pipe = None
        if self.state.closing and not self.state.connections:
            self.state.all_closed.set()

    def pause_writing(self) -> None:
        self.write_paused = True
        up = self.exchanges[0].up if self.exchanges else self.pipe
        if up is not None and up.transport is not None:
            up.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        up = self.exchanges[0].up if self.exchanges else self.pipe
        if up is not None and up.transport is not None:
            up.transport.resume_reading()
        elif self.exchanges and (bridge := self.exchanges[0].bridge) is not None:
            bridge.resume()

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.parsing = _Exchange(self)

    def on_url(self, url: bytes) -> None:
        assert self.parsing is not None
        self.parsing.url += url  # a span of it: llhttp calls once per read the target spans

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.parsing is not None
        self.parsing.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.done:  # closing: no request after the last answer is started
            raise _Stop
        ex = self.parsing
        assert ex is not None
        parser = self.parser
        ex.method = parser.get_method()
        if self.head_seen:  # it spanned reads: measure it (a head within one small read is within limits)
            self.head_seen = 0
            problem = lim.check_head(self.state.limits, ex.method, ex.url, ex.headers)
            if problem is not None:
                self._refuse(*problem)
                raise _Stop  # the parser must not go on; data_received sees ``refused``
        if ex.url[0] != 47 and not self._target_form(ex):  # not "/": llhttp never gives an empty target
            raise _Stop
        ex.version = parser.get_http_version()
        ex.keep_alive = parser.should_keep_alive()
        ex.upgrade = parser.should_upgrade()
        ex.scan = scan = self._scan(ex.headers)
        ex.chunked_request = scan.chunked
        exchanges = self.exchanges
        exchanges.append(ex)
        if len(exchanges) == 1:
            ex.start()
        elif len(exchanges) > self.state.limits.pipeline:
            self.pause(_PAUSE_PIPELINE)

    def _target_form(self, ex: _Exchange) -> bool:
        """A target that is not origin-form: absolute-form is routed by its authority, which
        replaces Host (RFC 9112 §3.2.2); asterisk-form (``OPTIONS *``) and CONNECT's authority-form
        pass as they are. False when refused."""
        if ex.url == b"*" or ex.method == b"CONNECT":
            return True
        try:
            authority, ex.url = http1.origin_form(ex.url)
        except ValueError as exc:
            self._refuse(400, f"bad request: {exc}")
            return False
        ex.headers = [(name, value) for name, value in ex.headers if name.lower() != b"host"]
        ex.headers.append((b"Host", authority))
        ex.absolute = True
        return True

    def _scan(self, headers: h.Headers) -> h.RequestScan:
        """``scan_request(headers)``, reusing the previous request's scan when the headers are the
        same (a client on a keep-alive connection usually repeats them: comparing is cheaper)."""
        if headers == self._scanned:
            assert self._scan_memo is not None
            return self._scan_memo
        scan = h.scan_request(headers)
        self._scanned = list(headers)  # a copy: the route hook sees (and could change) the original
        self._scan_memo = scan
        return scan

    def on_body(self, body: bytes) -> None:
        if self.parsing is not None:
            self.parsing.request_body(body)

    def on_message_complete(self) -> None:
        if self.parsing is not None:
            self.parsing.request_complete()

    # -- used by exchanges -----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.out:
            self.flush()
        if not self.closed and self.transport is not None:
            self.state.writes.write(self.transport, data)

    def flush(self) -> None:
        out = self.out
        if not out:
            return
        self.out = []
        if not self.closed and self.transport is not None:
            self.state.writes.write(self.transport, out[0] if len(out) == 1 else b"".join(out))

    def pause(self, reason: int) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self.paused |= reason

    def resume(self, reason: int) -> None:
        if not self.paused & reason:
            return
        self.paused &= ~reason
        if not self.paused and self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def exchange_done(self, ex: _Exchange, keep_alive: bool) -> None:
        if self.exchanges and self.exchanges[0] is ex:
            self.exchanges.popleft()
        elif ex in self.exchanges:
            self.exchanges.remove(ex)
        if self.closed:
            return
        if not keep_alive or self.closing or self.state.closing:
            self.close()
            return
        if self.paused:
            self.resume(_PAUSE_UPSTREAM)
            if self.paused & _PAUSE_PIPELINE and len(self.exchanges) <= self.state.limits.pipeline:
                self._pipeline_open()
        if self.exchanges:
            self.exchanges[0].start()

    def _pipeline_open(self) -> None:
        """Room in the pipeline again: parse what was held (on the next loop turn: this may run
        inside the parser's callbacks), then read again."""
        if self.held is None:
            self.resume(_PAUSE_PIPELINE)
        elif not self.refused and not self.held_scheduled:
            self.held_scheduled = True
            self.state.loop.call_soon(self._parse_held)

    def _parse_held(self) -> None:
        self.held_scheduled = False
        if self.closed or self.refused or self.held is None:
            return
        held, self.held, self.divert = self.held, None, None
        self.paused &= ~_PAUSE_PIPELINE  # the transport stays paused while the held bytes are parsed
        self.data_received(b"".join(held))
        if not self.paused and not self.closed and self.transport is not None:
            self.transport.resume_reading()

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` in this request's turn, then close; nothing more is read or parsed."""
        if self.refused:
            return
        self.refused = self.done = True
        self.linger = True
        self.held = []
        self.divert = _discard
        self.pause(_PAUSE_REFUSED)
        ex, self.parsing = self.parsing, None
        exchanges = self.exchanges
        if ex is not None and ex in exchanges:  # its head was complete: its body is what failed
            if ex is exchanges[0]:
                ex.fail(status, message)  # aborts the upstream side; after the response started: the client
                return
            ex.finished = True  # never started: nothing to release
            exchanges[exchanges.index(ex)] = _Refusal(self, status, message)
            return
        refusal = _Refusal(self, status, message)
        exchanges.append(refusal)
        if len(exchanges) == 1:
            refusal.start()

    def sweep(self, now: float, head_timeout: float | None, idle_timeout: float | None) -> None:
        """The timeout sweep (see :class:`_ServerState`): 408 for a head arriving for longer than
        ``head_timeout``, a close for no request in ``idle_timeout``. Nothing per request: a
        connection counts as waiting while it has no exchange, from when the sweep first saw it so."""
        if self.exchanges or self.pipe is not None or self.upgrading is not None or self.closed or self.refused:
            self.mark = _UNMARKED
            return
        ex = self.parsing
        if self.mark is _UNMARKED or ex is not self.mark:
            self.mark, self.mark_at = ex, now
            return
        waited = now - self.mark_at
        if ex is not None and ex.scan is None:
            if head_timeout is not None and waited >= head_timeout:
                self._refuse(408, f"request head timeout: not complete after {head_timeout:g} s (head_timeout)")
        elif idle_timeout is not None and waited >= idle_timeout:
            self.close()

    def shutdown(self) -> None:
        """Close now if idle, else after the exchange in progress."""
        self.closing = True
        if self.lingered >= 0 and self.transport is not None:
            self.transport.close()  # its answer is out: the server is stopping, no more lingering
        elif not self.exchanges and self.pipe is None:
            self.close()

    def close(self) -> None:
        self.done = True
        self.flush()
        if self.transport is not None and not self.closed:
            if self.linger:
                self._linger(self.transport)
            else:
                self.state.writes.close(self.transport)  # after the writes queued for it

    def _linger(self, transport: asyncio.Transport) -> None:
        """Close while the client may still be sending, as nginx's ``lingering_close`` does: a
        socket closed with unread bytes resets the connection, and the client's kernel may then
        drop the response before the client read it. So: the response, then our FIN, then read
        and discard until the client closes, for at most :data:`LINGER_TIME` and
        :data:`LINGER_BYTES`."""
        if self.lingered >= 0:
            return
        self.lingered = 0
        self.state.writes.flush()  # the response queued for it goes out before the FIN
        if transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
        self.divert = self._discard
        self.paused = 0
        transport.resume_reading()
        self._linger_timer = self.state.loop.call_later(LINGER_TIME, transport.close)

    def _discard(self, data: bytes) -> None:
        self.lingered += len(data)
        if self.lingered > LINGER_BYTES and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()


class ProxyServer:
    """Listens on one address and proxies every request where ``router`` says."""

    def __init__(
        self,
        router: Router,
        *,
        pool: UpstreamPool | None = None,
        scheme: str = "http",
        limits: lim.ConnectionLimits = lim.DEFAULT_LIMITS,
        relay: bool = False,
    ) -> None:
        """``limits``: what one client connection may make the server hold (:mod:`zeroserve.net.limits`).
        ``relay``: every client is a gateway worker of this platform (``zeroserve.gateway.workers``),
        which already set ``Forwarded``/``X-Forwarded-*`` for the real client: they pass on as
        received, none added (the app sees one hop, as from the worker itself)."""
        self.pool = pool if pool is not None else UpstreamPool()
        self._owns_pool = pool is None
        self.relay = relay
        self._state: _ServerState | None = None
        self._router = router
        self._scheme = scheme
        self.limits = limits
        self._server: asyncio.Server | None = None
        self._adopted: dict[int, asyncio.Server] = {}

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def in_flight(self) -> int:
        return 0 if self._state is None else self._state.in_flight

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        backlog: int = 1024,
        serving: bool = True,
        sock: socket.socket | None = None,
    ) -> int:
        """Listen; returns the real port (pass 0 for an ephemeral one). With ``serving=False`` the
        port is bound but not listening (connections are refused) until :meth:`serve`. ``sock``: a
        bound socket to listen on instead (e.g. one made inside a network namespace)."""
        loop = asyncio.get_running_loop()
        state = _ServerState(self._router, self.pool, self._scheme, self.limits)
        state.relay = self.relay
        self._state = state
        state.start_sweeping()
        if sock is not None:
            self._server = await loop.create_server(
                lambda: _Downstream(state), sock=sock, backlog=backlog, start_serving=serving
            )
        else:
            self._server = await loop.create_server(
                lambda: _Downstream(state), host, port, backlog=backlog, start_serving=serving
            )
        return self.port

    async def serve(self) -> None:
        """Start listening on the port :meth:`start` bound with ``serving=False``."""
        assert self._server is not None, "start() first"
        await self._server.start_serving()

    async def adopt(self, key: int, sock: socket.socket, *, backlog: int = 1024) -> None:
        """Also accept on ``sock`` (a listening socket another process accepts on when it can: a
        gateway worker's, :mod:`zeroserve.net.reuseport`), with this server's routes and limits,
        until :meth:`release` (idempotent per ``key``). ``sock`` stays open: a duplicate is served."""
        state = self._state
        if key in self._adopted or state is None or state.closing:
            return
        server = await asyncio.get_running_loop().create_server(
            lambda: _Downstream(state),
            sock=sock.dup(),
            backlog=backlog,  # (listen() again sets the backlog)
        )
        if key in self._adopted or state.closing:  # adopted or stopped while this one was being made
            server.close()
            return
        self._adopted[key] = server

    def release(self, key: int) -> None:
        """Stop accepting on the socket adopted as ``key``; the connections it accepted go on."""
        server = self._adopted.pop(key, None)
        if server is not None:
            server.close()

    @property
    def adopted(self) -> list[int]:
        return list(self._adopted)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting; finish in-flight exchanges for up to ``grace`` seconds; abort the rest."""
        state, server = self._state, self._server
        if state is None or server is None:
            return
        state.closing = True
        state.stop_sweeping()
        server.close()
        for key in list(self._adopted):
            self.release(key)
        for conn in list(state.connections):
            conn.shutdown()
        if state.connections:
            try:
                async with asyncio.timeout(grace):
                    await state.all_closed.wait()
            except TimeoutError:
                logger.warning("%d connections still open after %.1fs; aborting", len(state.connections), grace)
                for conn in list(state.connections):
                    conn.abort()
        await server.wait_closed()
        if self._owns_pool:
            self.pool.close()
        self._server = None

    async def __aenter__(self) -> ProxyServer:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def install_uvloop() -> bool:
    """Use uvloop's event loop policy when it is installed (call before the loop starts)."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True
