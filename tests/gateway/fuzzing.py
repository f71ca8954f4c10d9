"""Raw bytes at a real gateway (issue 11): hypothesis strategies and the bench they run against.

An example is one client connection: a few HTTP/1.1 requests, built to be mostly well framed
(so they reach the router, the upstream and back) with hostile parts mixed in: odd methods,
targets (absolute-form, asterisk, authority-form, unknown hosts), versions, hop-by-hop and
forwarding headers, ``Transfer-Encoding``/``Content-Length`` combinations, upgrades, chunked
bodies with extensions, trailers or a bad chunk size, raw garbage; then a last request with
``Connection: close`` so that a connection left in a sane state ends. The bytes go out in random
pieces. The gateway (:class:`FuzzBench`) must then answer well-formed responses, never a 5xx of
its own (502/503/504 name upstream conditions), log no error, raise nothing on its loop, and close
the connection within :data:`HANG_AFTER` seconds: its head timeout (1 s here) and a 2 s request
timeout end every state a client can leave it in, so a connection still open after that is a hang.

``ZEROSERVE_FUZZ_EXAMPLES`` raises the example count (``bench/fuzz_gateway.py``); without it the
suite runs a bounded, derandomized count so ``make test`` stays fast and repeatable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.net.upstreams import Upstream, run_upstream
from zeroserve.gateway import Backend, Gateway, RouteEntry, RoutingTable, Rule
from zeroserve.net import Timeouts
from zeroserve.net.limits import ConnectionLimits

HOST = "fuzz.default.localhost"
HANG_AFTER = 8.0
"""Seconds after the last byte sent by which the gateway must have closed the connection."""
ALLOWED_5XX = frozenset({502, 503, 504})

# -- strategies ----------------------------------------------------------------------------------------

_TCHAR = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
token = st.text(alphabet=_TCHAR, min_size=1, max_size=12)
field_value = st.text(alphabet=string.printable.replace("\r", "").replace("\n", "") + "\t\x80\xff", max_size=40)
raw_bytes = st.binary(max_size=48)

methods = st.sampled_from(
    ["GET"] * 6 + ["HEAD", "POST", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "PRI", "get"]
)
paths = st.one_of(
    st.sampled_from(["/", "/headers", "/echo", "/digest", "/big?n=10", "/big?n=70000&cl=1", "/ws", "/nope"]),
    st.text(alphabet=string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:@/?", max_size=30).map(lambda p: "/" + p),
)
hosts = st.sampled_from([HOST, HOST.upper() + ":80", "unknown.example", "fuzz.default", "", "[::1]:80", "a@b"])
targets = st.one_of(
    paths,
    paths,
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}{path}", st.sampled_from(["http", "https", "ftp"]), hosts, paths
    ),
    st.just("*"),
    st.just(HOST + ":443"),
)
versions = st.sampled_from(["HTTP/1.1"] * 8 + ["HTTP/1.0"] * 2 + ["HTTP/2.0", "HTTP/1.9", "HTTP/11"])
special_headers = st.one_of(
    st.tuples(st.just("Host"), hosts),
    st.tuples(st.just("Connection"), st.sampled_from(["keep-alive", "close", "upgrade", "x-drop, close", "te"])),
    st.tuples(st.just("Upgrade"), st.sampled_from(["websocket", "h2c", "nope/1"])),
    st.tuples(st.just("Transfer-Encoding"), st.sampled_from(["chunked", "gzip, chunked", "identity", "chunked, gzip"])),
    st.tuples(st.just("Content-Length"), st.sampled_from(["0", "3", "-1", "abc", "1, 1"])),
    st.tuples(st.just("Expect"), st.just("100-continue")),
    st.tuples(st.sampled_from(["X-Forwarded-For", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto"]), field_value),
    st.tuples(st.sampled_from(["K-Network-Probe", "K-Proxy-Request", "Knative-Serving-Revision"]), field_value),
    st.tuples(st.just("Sec-WebSocket-Key"), st.just("dGhlIHNhbXBsZSBub25jZQ==")),
    st.tuples(st.just("Sec-WebSocket-Version"), st.just("13")),
    st.tuples(st.just("X-Drop"), field_value),
)
headers = st.lists(st.one_of(special_headers, st.tuples(token, field_value)), max_size=6)
tame_headers = st.lists(
    st.tuples(st.sampled_from(["Accept", "User-Agent", "X-Request-Id", "Cookie", "X-Forwarded-For"]), token), max_size=4
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[list[tuple[str, str]], bytes]:
    """(framing headers, body bytes): none, Content-Length, chunked (maybe broken)."""
    kind = draw(st.sampled_from(["none", "none", "length", "chunked", "bad-chunk"]))
    data = draw(st.binary(max_size=300))
    if kind == "none":
        return [], b""
    if kind == "length":
        return [("Content-Length", str(len(data)))], data
    out = b""
    rest = data
    while rest:
        size = draw(st.integers(1, max(1, len(rest))))
        ext = draw(st.sampled_from([b"", b";x=1", b" ;y"]))
        out += b"%x%b\r\n%b\r\n" % (size, ext, rest[:size])
        rest = rest[size:]
    if kind == "bad-chunk":
        out += draw(st.sampled_from([b"zz\r\n", b"-1\r\n", b"ffffffffffffffffffff\r\n", b"5\r\nab\r\n"]))
    trailer = draw(st.sampled_from([b"", b"X-Trailer: 1\r\n"]))
    return [("Transfer-Encoding", "chunked")], out + b"0\r\n" + trailer + b"\r\n"


def _latin1(text: str) -> bytes:
    return text.encode("utf-8") if any(ord(c) > 255 for c in text) else text.encode("latin-1")


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """One request: half of them tame (they reach the upstream), half hostile."""
    if draw(st.booleans()):
        method, target, version = draw(st.sampled_from(["GET", "POST", "HEAD", "PUT"])), draw(paths), "HTTP/1.1"
        lines = draw(tame_headers)
    else:
        method, target, version = draw(methods), draw(targets), draw(versions)
        lines = draw(headers)
    framing, body = draw(bodies())
    if draw(st.booleans()) or not any(k == "Host" for k, _ in lines):
        lines.insert(0, ("Host", HOST))
    at = draw(st.integers(0, len(lines)))
    lines[at:at] = framing  # the framing headers go anywhere among the others
    head = f"{method} {target} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in lines)
    if draw(st.integers(0, 9)) == 0:  # sometimes a head with a bare LF, a space before the colon...
        head = head.replace(
            draw(st.sampled_from(["\r\n", ": ", " HTTP"])), draw(st.sampled_from(["\n", " : ", "\tHTTP"])), 1
        )
    return _latin1(head) + b"\r\n" + body


CLOSING = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()


@st.composite
def connections(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """(all bytes of one connection, the sizes of the writes they go out in)."""
    parts = draw(st.lists(requests(), min_size=1, max_size=3))
    if draw(st.integers(0, 7)) == 0:
        parts.insert(draw(st.integers(0, len(parts))), draw(raw_bytes))
    data = b"".join(parts) + CLOSING
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=4))))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True) if b > a]
    return data, sizes


# -- the bench ----------------------------------------------------------------------------------------

_STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) [^\r\n]*\r\n")


@dataclass
class Outcome:
    statuses: list[int] = field(default_factory=list)
    closed: bool = False
    raw: bytes = b""


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("zeroserve") or record.name == "asyncio":
            trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
            self.seen.append(f"{record.name}: {record.getMessage()}\n{trace}")


class FuzzBench:
    """A real Gateway on 127.0.0.1 port 0 routing :data:`HOST` to a real aiohttp upstream, on its
    own uvloop loop (as in ``zeroserve up``); :meth:`send` runs one example on it."""

    def __init__(self) -> None:
        import uvloop

        self.loop = uvloop.new_event_loop()
        self.errors = _Errors()
        self.port = 0
        self.upstream: Upstream | None = None
        self._stack = contextlib.AsyncExitStack()

    @contextlib.contextmanager
    def running(self) -> Iterator[FuzzBench]:
        self.loop.set_exception_handler(self._loop_error)
        logging.getLogger().addHandler(self.errors)
        try:
            self.loop.run_until_complete(self._start())
            yield self
        finally:
            logging.getLogger().removeHandler(self.errors)
            self.loop.run_until_complete(self._stack.aclose())
            self.loop.close()

    def _loop_error(self, loop: Any, context: dict[str, Any]) -> None:
        self.errors.seen.append(f"loop: {context.get('message')} {context.get('exception')!r}")

    async def _start(self) -> None:
        self.upstream = up = await self._stack.enter_async_context(run_upstream("fuzz-00001"))
        gateway = Gateway(
            external=("127.0.0.1", 0),
            internal=("127.0.0.1", 0),
            timeouts=Timeouts(total=2.0),
            limits=ConnectionLimits(head_timeout=1.0, idle_timeout=5.0),
        )
        backend = Backend("default", "fuzz-00001", 100)
        gateway.set_table(RoutingTable([RouteEntry("default", "fuzz", 1, (Rule((HOST,), "ExternalIP", (backend,)),))]))
        gateway.set_endpoints("default", "fuzz-00001", [("127.0.0.1", up.port)])
        self.port = (await gateway.start())[0]
        self._stack.push_async_callback(gateway.stop, 1.0)

    def send(self, data: bytes, sizes: list[int]) -> Outcome:
        return self.loop.run_until_complete(self._send(data, sizes))

    async def _send(self, data: bytes, sizes: list[int]) -> Outcome:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        out = Outcome()
        try:
            pos = 0
            for size in sizes:
                writer.write(data[pos : pos + size])
                pos += size
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
            with contextlib.suppress(TimeoutError, ConnectionError):
                async with asyncio.timeout(HANG_AFTER):
                    while chunk := await reader.read(65536):
                        out.raw += chunk
                    out.closed = True
            if not out.closed and reader.at_eof():
                out.closed = True
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        out.statuses = [int(m.group(1)) for m in _STATUS_LINE.finditer(out.raw)]
        return out


def problems(outcome: Outcome) -> list[str]:
    """What is wrong with what the gateway did on one connection (empty: nothing)."""
    found = []
    if not outcome.closed:
        found.append(f"connection still open {HANG_AFTER} s after the last byte (a hang)")
    if outcome.raw and not outcome.raw.startswith(b"HTTP/1.1 "):
        found.append(f"response does not start with a status line: {outcome.raw[:80]!r}")
    bad = [s for s in outcome.statuses if s >= 500 and s not in ALLOWED_5XX]
    if bad:
        found.append(f"5xx from the gateway itself: {bad}")
    return found
