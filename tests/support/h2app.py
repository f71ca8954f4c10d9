"""A small app that speaks HTTP/2 with prior knowledge (h2c) and HTTP/1.1 on one port, on ``h2``.

Like the "runtime info" app of Knative's TestProtocols, it tells each request which protocol it
came in (``GET /proto``: ``HTTP/2.0`` or ``HTTP/1.1``). Over HTTP/2 it also serves what the proxy
tests need: ``/headers`` (the request's headers as JSON), ``/echo`` (the body back as it comes),
``/trailers`` (a body, then trailers), ``/big?n=N`` (N bytes, no Content-Length; ``&cl`` with one),
``/slow?ms=M`` (the answer after M ms, the app's own pace), ``/hold`` (never answers) and
``/reset`` (RST_STREAM at once); :attr:`App.resets` counts the streams its clients reset.

Standalone (``python h2app.py``) it listens on 127.0.0.1:$PORT, as an app of ``zeroserve up``;
in tests, :func:`serve` starts it on the running loop. Self-contained: it needs only ``h2``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@dataclass
class App:
    requests: list[tuple[str, str, list[tuple[str, str]]]] = field(default_factory=list)
    """(protocol, path, headers) of every request."""
    resets: int = 0
    connections: int = 0
    transports: set[asyncio.Transport] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set (and made anew) on every request and reset, for tests that wait for one."""

    def seen(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class _Conn(asyncio.Protocol):
    def __init__(self, app: App) -> None:
        self.app = app
        self.transport: asyncio.Transport | None = None
        self.h2: h2.connection.H2Connection | None = None
        self.first = b""
        self.echo: set[int] = set()
        self.pending: dict[int, list[bytes]] = {}
        """Bytes waiting for the client's window, per stream (and whether to end after: ``ends``)."""
        self.ends: dict[int, list[tuple[bytes, bytes]] | None] = {}
        self.held: dict[int, int] = {}
        """Bytes of an echo's request not acknowledged while its echo waits (backpressure)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.app.connections += 1
        self.app.transports.add(self.transport)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.app.transports.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        if self.h2 is None:
            self.first += data
            if len(self.first) < len(PREFACE) and PREFACE.startswith(self.first):
                return
            if not self.first.startswith(PREFACE):
                self._http1(self.first)
                return
            self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
            self.h2.initiate_connection()
            data, self.first = self.first, b""
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            assert self.transport is not None
            self.transport.close()
            return
        for event in events:
            self._event(event)
        self._flush()

    # -- HTTP/1.1: just enough for /proto -------------------------------------------------------

    def _http1(self, data: bytes) -> None:
        if b"\r\n\r\n" not in data:
            return
        self.first = b""
        line = data.split(b"\r\n", 1)[0].decode("latin-1").split()
        path = line[1] if len(line) > 1 else "/"
        headers = [tuple(h.decode("latin-1").split(": ", 1)) for h in data.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]]
        self.app.requests.append(("HTTP/1.1", path, headers))  # type: ignore[arg-type]
        self.app.seen()
        body = b"HTTP/1.1" if urlsplit(path).path == "/proto" else b"not found"
        status = b"200 OK" if body == b"HTTP/1.1" else b"404 Not Found"
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 %b\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b" % (status, len(body), body)
        )
        self.transport.close()

    # -- HTTP/2 ---------------------------------------------------------------------------------

    def _event(self, event: h2.events.Event) -> None:
        assert self.h2 is not None
        if isinstance(event, h2.events.RequestReceived):
            headers = [(str(n), str(v)) for n, v in event.headers]
            self._request(event.stream_id, dict(headers), headers)
        elif isinstance(event, h2.events.DataReceived):
            sid = event.stream_id
            if sid in self.echo and event.data:
                self._send(sid, event.data)
            if sum(map(len, self.pending.get(sid, ()))) > 65536:  # echoes wait: hold the sender back
                self.held[sid] = self.held.get(sid, 0) + event.flow_controlled_length
            else:
                self.h2.acknowledge_received_data(event.flow_controlled_length, sid)
        elif isinstance(event, h2.events.StreamEnded):
            if event.stream_id in self.echo:
                self.echo.discard(event.stream_id)
                self._send(event.stream_id, b"", end=True)
        elif isinstance(event, h2.events.StreamReset):
            self.app.resets += 1
            self.echo.discard(event.stream_id)
            self.pending.pop(event.stream_id, None)
            self.ends.pop(event.stream_id, None)
            self.app.seen()
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            for sid in list(self.pending):
                self._send(sid, b"")
                if sid not in self.pending and self.held.get(sid):
                    self.h2.acknowledge_received_data(self.held.pop(sid), sid)

    def _request(self, sid: int, pseudo: dict[str, str], headers: list[tuple[str, str]]) -> None:
        assert self.h2 is not None
        url = urlsplit(pseudo.get(":path", "/"))
        query = parse_qs(url.query, keep_blank_values=True)
        self.app.requests.append(("HTTP/2.0", pseudo.get(":path", "/"), headers))
        self.app.seen()
        path = url.path
        if path == "/proto":
            self._answer(sid, 200, b"HTTP/2.0")
        elif path == "/headers":
            self._answer(sid, 200, json.dumps(headers).encode(), content_type="application/json")
        elif path == "/echo":
            self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/octet-stream")])
            self.echo.add(sid)
        elif path == "/trailers":
            self.h2.send_headers(sid, [(":status", "200"), ("content-type", "text/plain")])
            self._send(sid, b"with trailers", end=True, trailers=[(b"x-outcome", b"fine"), (b"x-code", b"0")])
        elif path == "/big":
            size = int(query["n"][0])
            head = [(":status", "200")] + ([("content-length", str(size))] if "cl" in query else [])
            self.h2.send_headers(sid, head)
            self._send(sid, bytes(range(256)) * (size // 256) + bytes(size % 256), end=True)
        elif path == "/slow":
            delay = int(query.get("ms", ["100"])[0]) / 1000
            asyncio.get_running_loop().call_later(delay, self._late, sid)
        elif path == "/hold":
            pass
        elif path == "/reset":
            self.h2.reset_stream(sid, 8)
        else:
            self._answer(sid, 404, b"not found")

    def _late(self, sid: int) -> None:
        try:
            self._answer(sid, 200, b"late")
        except h2.exceptions.ProtocolError:
            return  # reset meanwhile
        self._flush()

    def _answer(self, sid: int, status: int, body: bytes, content_type: str = "text/plain") -> None:
        assert self.h2 is not None
        head = [(":status", str(status)), ("content-type", content_type), ("content-length", str(len(body)))]
        self.h2.send_headers(sid, head)
        self._send(sid, body, end=True)

    def _send(
        self, sid: int, data: bytes, end: bool = False, trailers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """Send what the windows allow now, the rest once they open (then end, with ``trailers``)."""
        assert self.h2 is not None
        queue = self.pending.setdefault(sid, [])
        if data:
            queue.append(data)
        if end:
            self.ends[sid] = trailers
        while queue:
            window = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
            if window <= 0:
                return
            chunk, rest = queue[0][:window], queue[0][window:]
            self.h2.send_data(sid, chunk)
            if rest:
                queue[0] = rest
            else:
                queue.pop(0)
        del self.pending[sid]
        if sid in self.ends:
            trailers = self.ends.pop(sid)
            if trailers:
                self.h2.send_headers(sid, trailers, end_stream=True)
            else:
                self.h2.end_stream(sid)

    def _flush(self) -> None:
        if self.h2 is not None and self.transport is not None:
            data = self.h2.data_to_send()
            if data:
                self.transport.write(data)


@asynccontextmanager
async def serve(port: int = 0) -> AsyncIterator[tuple[App, int]]:
    """The app on 127.0.0.1 (``port`` 0: an ephemeral one): (the app, its port)."""
    app = App()
    server = await asyncio.get_running_loop().create_server(lambda: _Conn(app), "127.0.0.1", port)
    try:
        yield app, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for transport in list(app.transports):
            transport.abort()


async def _main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with serve(int(os.environ.get("PORT", "8080"))):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(_main())
