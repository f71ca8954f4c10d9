"""An HTTP/1.1 client's request to an h2c target: sent as an HTTP/2 stream, answered as HTTP/1.1.

Knative's ingress speaks HTTP/2 to a revision whose port is named ``h2c`` whatever its client
spoke, so an app serving only h2c (a gRPC server, TestProtocols' ``h2c`` app) answers HTTP/1.1
clients too. A :class:`Bridge` does that for one request of :mod:`zeroserve.net.proxy` (one
``_Exchange``, whose routing, timeouts, limits and endings it keeps):

* the request head becomes an HTTP/2 head: the headers the proxy forwards (hop-by-hop ones gone,
  ``Forwarded``/``X-Forwarded-*`` set, the target's own added), Host as ``:authority``, and
  ``te: trailers`` when the client sent it; the body (de-chunked by the parser) becomes DATA;
* the response comes back as HTTP/1.1: chunked when it has no Content-Length (close-delimited for
  an HTTP/1.0 client), its trailers in the last chunk (gRPC's status, for a client that reads them);
* backpressure both ways: the client is paused while the stream's window is closed and too much
  waits (``send_paused``), and the upstream's DATA is acknowledged only once the client's
  transport takes more (``resume`` from the connection's ``resume_writing``);
* a stream the upstream refused or never processed (``REFUSED_STREAM``, after a GOAWAY) is sent
  again once on a fresh connection when it has no body; any other reset before the response is
  502, after it the client connection is aborted (as an HTTP/1.1 upstream that breaks off).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import h2.exceptions

from zeroserve.net import headers as h
from zeroserve.net import http1, http2
from zeroserve.net.proxy import _PAUSE_BUFFER, _PAUSE_UPSTREAM, HIGH_WATER

if TYPE_CHECKING:
    from zeroserve.net.proxy import _Exchange

UPGRADE_REFUSED = b"protocol upgrades are not supported to an h2c upstream\n"


class Bridge:
    """One exchange's HTTP/2 stream (a :class:`~zeroserve.net.http2.StreamSink`)."""

    __slots__ = ("ex", "retried", "stream", "trailers", "unacked")

    def __init__(self, ex: _Exchange) -> None:
        self.ex = ex
        self.stream: http2.H2Stream | None = None
        self.trailers: list[http2.Header] | None = None
        self.unacked = 0
        """Response bytes passed to the client while its transport was full: acknowledged on ``resume``."""
        self.retried = False

    # -- request side ----------------------------------------------------------------------

    def start(self) -> None:
        ex = self.ex
        target = ex.target
        assert target is not None
        conn = ex.down.state.pool.h2.take((target.host, target.port))
        if conn is not None:
            self._open(conn)
        else:
            ex.task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        ex = self.ex
        target = ex.target
        assert target is not None
        try:
            async with asyncio.timeout(target.timeouts.connect):
                conn = await ex.down.state.pool.h2.connect((target.host, target.port))
        except TimeoutError:
            ex.task = None
            ex.fail(504, "upstream connect timeout")
            return
        except OSError as exc:
            ex.task = None
            ex.fail(502, f"upstream connect error: {exc.strerror or exc}")
            return
        ex.task = None
        if not ex.finished:
            self._open(conn)

    def _open(self, conn: http2.UpstreamH2) -> None:
        ex = self.ex
        end = ex.request_done and not ex.buffer
        try:
            self.stream = stream = conn.open(self._head(), self, end_stream=end)
        except h2.exceptions.ProtocolError as exc:
            ex.fail(502, f"the request cannot be sent over HTTP/2: {exc}")
            return
        for data in ex.buffer:
            stream.send(data)
        ex.buffer.clear()
        ex.buffered = 0
        ex.down.resume(_PAUSE_BUFFER)
        if ex.request_done and not end:
            stream.end()

    def _head(self) -> list[http2.Header]:
        ex = self.ex
        scan, target, down = ex.scan, ex.target, ex.down
        assert scan is not None and target is not None
        host = None if scan.host is not None else f"{target.host}:{target.port}".encode()
        lines = scan.forward(down.node, down.client_ip, down.state.proto, host, target.drop)
        if target.headers:
            lines.extend(name + b": " + value + b"\r\n" for name, value in target.headers)
        return http2.request_headers(ex.method, ex.url, lines, http2.accepts_trailers(ex.headers))

    def request_body(self, data: bytes) -> None:
        if self.stream is not None:
            self.stream.send(data)
            return
        ex = self.ex  # not open yet: held, as the proxy holds a body before its upstream is attached
        ex.buffer.append(data)
        ex.buffered += len(data)
        if ex.buffered > HIGH_WATER:
            ex.down.pause(_PAUSE_BUFFER)

    def request_complete(self) -> None:
        if self.stream is not None:
            self.stream.end()

    def send_paused(self, paused: bool) -> None:
        if paused:
            self.ex.down.pause(_PAUSE_UPSTREAM)
        else:
            self.ex.down.resume(_PAUSE_UPSTREAM)

    def resume(self) -> None:
        """The client's transport takes more again: acknowledge what it was given meanwhile."""
        if self.unacked and self.stream is not None:
            self.stream.consumed(self.unacked)
        self.unacked = 0

    def cancel(self) -> None:
        """The exchange ended otherwise (client gone, a limit, an error): reset the stream."""
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.reset()

    # -- response side (StreamSink) --------------------------------------------------------

    def on_response(self, status: int, headers: list[http2.Header], end: bool) -> None:
        ex = self.ex
        ex.activity += 1
        ex.status = status
        ex.start_at = None
        ex.responding = True
        no_body = ex.method == b"HEAD" or status in (204, 304)
        has_length = any(name == b"content-length" for name, _ in headers)
        client_close = not ex.keep_alive or ex.down.state.closing
        extra = b""
        if not no_body and not has_length:
            if ex.version == "1.0":
                ex.resp_until_close = client_close = True
            else:
                ex.resp_chunked = True
                extra = b"Transfer-Encoding: chunked\r\n"
        ex.client_close = client_close
        if client_close:
            extra += b"Connection: close\r\n"
        elif ex.version == "1.0":
            extra += b"Connection: keep-alive\r\n"
        ex.down.write(b"HTTP/1.1 %d %b\r\n%b%b\r\n" % (status, http1.reason(status), h.serialize(headers), extra))

    def on_data(self, data: bytes) -> None:
        ex = self.ex
        ex.activity += 1
        if ex.method != b"HEAD":
            ex.size += len(data)
            ex.down.write(http1.chunk(data) if ex.resp_chunked else data)
        if ex.down.write_paused:
            self.unacked += len(data)
        elif self.stream is not None:
            self.stream.consumed(len(data))

    def on_trailers(self, headers: list[http2.Header]) -> None:
        self.trailers = headers

    def on_end(self) -> None:
        self.stream = None
        ex = self.ex
        if ex.finished:
            return
        if ex.resp_chunked:
            ex.down.write(b"0\r\n" + h.serialize(self.trailers or ()) + b"\r\n")
        ex._finish(keep_alive=not ex.client_close and ex.request_done)

    def on_reset(self, message: str, retry: bool) -> None:
        self.stream = None
        ex = self.ex
        if ex.finished:
            return
        if retry and not ex.responding and not self.retried and ex._retryable():
            self.retried = True
            self.start()
            return
        ex.fail(502, message)
