"""A small HTTP/1.1 client on the proxy's upstream pool: one request out, the whole answer back.

For callers that send many small requests to few hosts and want the answer whole (the eventing
dispatcher: an event POSTed, the subscriber's reply read). It costs a fraction of a general client's
CPU per request (aiohttp's ``ClientSession.post`` was the largest share of a delivery in
bench/eventing.py's profile): the request is written in one go, the answer is parsed by the same
httptools parser and :class:`~zeroserve.net.upstream.UpstreamConnection` the gateway uses, and
connections are kept alive in an :class:`~zeroserve.net.upstream.UpstreamPool` (so a container
instance's reserved endpoint is reached inside its namespace, as everywhere else).

A pooled connection the server closed before answering is tried once more on a new connection (the
request may then have arrived twice: callers that cannot take a duplicate must not use this). Every
failure to get an answer is a :class:`ClientError`; the caller bounds the time with
``asyncio.timeout`` (a cancelled request aborts its connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from zeroserve.net.headers import Header
from zeroserve.net.upstream import UpstreamConnection, UpstreamPool

DEFAULT_MAX_BODY = 4 << 20
_BAD_VALUE = frozenset(b"\r\n\0")


class ClientError(Exception):
    """No (valid) answer: the connection failed, closed early, or the answer broke a limit."""


@dataclass(frozen=True, slots=True)
class ClientResponse:
    status: int
    headers: list[Header]
    """As received (names in the server's case)."""
    body: bytes


def request_bytes(method: str, target: str, host: str, headers: Iterable[tuple[str, str]], body: bytes) -> bytes:
    """The request as written: ``Host`` and ``Content-Length`` first, then ``headers`` (UTF-8).
    ValueError for a name or value that would break the framing (CR, LF, NUL; ``:`` in a name)."""
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n".encode()]
    for name, value in headers:
        raw_name, raw_value = name.encode(), value.encode()
        if not raw_name or b":" in raw_name or _BAD_VALUE.intersection(raw_name + raw_value):
            raise ValueError(f"header {name!r} cannot be sent as it is")
        lines.append(b"%b: %b\r\n" % (raw_name, raw_value))
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


class _Exchange:
    """The :class:`~zeroserve.net.upstream.ResponseSink` of one request."""

    def __init__(self, pool: UpstreamPool, conn: UpstreamConnection, max_body: int) -> None:
        self.pool = pool
        self.conn = conn
        self.max_body = max_body
        self.future: asyncio.Future[ClientResponse] = asyncio.get_running_loop().create_future()
        self.started = False
        self.status = 0
        self.headers: list[Header] = []
        self.body: list[bytes] = []
        self.size = 0

    def on_headers_complete(self) -> None:
        status = self.conn.parser.get_status_code()
        if 100 <= status < 200:
            return  # interim (we send no Expect; a 101 is refused by upstream_upgraded)
        self.started = True
        self.status = status
        self.headers = self.conn.headers

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_body:
            self._fail(f"answer body larger than {self.max_body} bytes")
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        if not self.started or self.future.done():
            return
        conn = self.conn
        if conn.parser.should_keep_alive():
            self.pool.put(conn)
        else:
            conn.close()
        self.future.set_result(ClientResponse(self.status, self.headers, b"".join(self.body)))

    def upstream_upgraded(self, rest: bytes) -> None:
        self._fail("unexpected protocol upgrade")

    def upstream_error(self, message: str) -> None:
        self._fail(message)

    def upstream_lost(self) -> None:
        if not self.future.done():
            self.future.set_exception(_Lost(self.started))

    def upstream_write_paused(self, paused: bool) -> None:
        """Requests are written whole: the transport buffers what the socket does not take."""

    def flush(self) -> None:
        """Nothing is relayed anywhere."""

    def _fail(self, message: str) -> None:
        self.conn.abort()
        if not self.future.done():
            self.future.set_exception(ClientError(message))


class _Lost(ClientError):
    def __init__(self, answered: bool) -> None:
        super().__init__("the server closed the connection before answering")
        self.answered = answered


async def request(
    pool: UpstreamPool, address: tuple[str, int], data: bytes, *, max_body: int = DEFAULT_MAX_BODY
) -> ClientResponse:
    """Send ``data`` (a whole request, :func:`request_bytes`) to ``address`` and read the answer."""
    conn = pool.take(address)
    reused = conn is not None
    while True:
        if conn is None:
            try:
                conn = await pool.connect(address)
            except OSError as e:
                raise ClientError(f"connect to {address[0]}:{address[1]}: {e.strerror or e}") from None
            reused = conn.uses > 0
        exchange = _Exchange(pool, conn, max_body)
        conn.sink = exchange
        conn.uses += 1
        conn.write(data)
        try:
            return await exchange.future
        except _Lost as e:
            if not reused or e.answered:
                raise ClientError(str(e)) from None
            conn, reused = None, False  # a kept-alive connection closed under us: once more, fresh
        except BaseException:
            conn.abort()  # cancelled (a timeout) or failed: never back to the pool
            raise
