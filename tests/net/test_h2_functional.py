"""HTTP/2 (h2c, prior knowledge) through the proxy, both sides, against real servers on 127.0.0.1:
an h2c app (tests/support/h2app.py), grpcio, an aiohttp HTTP/1.1 app; clients: raw sockets, a raw
h2 client (tests/net/h2client.py), httpx, grpcio."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterator

import grpc
import httpx
import pytest

from tests.net.h2client import H2Client
from tests.net.upstreams import Upstream, raw_request, run_upstream
from tests.support import grpcping
from tests.support.h2app import App
from tests.support.h2app import serve as serve_h2app
from tests.support.polling import eventually
from zeroserve.net import ProxyServer, RequestHead, Response, Target, Timeouts
from zeroserve.net import http2 as h2net
from zeroserve.net.h2server import H2Downstream, _Stream


class Hook:
    """Routes ``/local`` to a local answer, everything else to ``port`` (over h2c when ``h2c``)."""

    def __init__(self, port: int, *, h2c: bool, timeouts: Timeouts = Timeouts()) -> None:
        self.port = port
        self.h2c = h2c
        self.timeouts = timeouts
        self.heads: list[RequestHead] = []
        self.released = 0

    def __call__(self, head: RequestHead) -> Target | Response:
        self.heads.append(head)
        if head.path == "/local":
            return Response(418, b"short and stout\n")
        return Target("127.0.0.1", self.port, timeouts=self.timeouts, h2c=self.h2c, on_release=self._release)

    def _release(self) -> None:
        self.released += 1


@pytest.fixture
async def h2app() -> AsyncIterator[tuple[App, int]]:
    async with serve_h2app() as served:
        yield served


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with run_upstream() as up:
        yield up


async def proxy_to(hook: Callable[[RequestHead], Target | Response]) -> ProxyServer:
    server = ProxyServer(hook)
    await server.start()
    return server


def both_full(stream: _Stream) -> bool:
    """The stream's upstream takes no more of its body, and its client no more of its response."""
    return stream.up_full and stream.out_paused


def downstreams(server: ProxyServer) -> list[H2Downstream]:
    assert server._state is not None
    return [c for c in server._state.connections if isinstance(c, H2Downstream)]


# -- HTTP/1.1 clients to an h2c app -----------------------------------------------------------------


async def test_an_http1_client_reaches_an_h2c_target_over_http2_and_an_http1_one_over_http1(
    h2app: tuple[App, int],
) -> None:
    app, port = h2app
    over_h2, over_h1 = await proxy_to(Hook(port, h2c=True)), await proxy_to(Hook(port, h2c=False))
    try:
        async with httpx.AsyncClient() as client:
            got = await client.get(f"http://127.0.0.1:{over_h2.port}/proto")
            assert (got.status_code, got.http_version, got.text) == (200, "HTTP/1.1", "HTTP/2.0")
            got = await client.get(f"http://127.0.0.1:{over_h1.port}/proto")
            assert (got.status_code, got.text) == (200, "HTTP/1.1")
        protocol, path, headers = app.requests[0]
        assert (protocol, path) == ("HTTP/2.0", "/proto")
        sent = dict(headers)
        assert sent[":authority"] == f"127.0.0.1:{over_h2.port}", "Host becomes :authority"
        assert sent["x-forwarded-for"] == "127.0.0.1" and sent["x-forwarded-proto"] == "http"
        assert "host" not in sent
    finally:
        await over_h2.stop(1)
        await over_h1.stop(1)


async def test_http1_to_h2c_keeps_headers_end_to_end_and_drops_hop_by_hop(h2app: tuple[App, int]) -> None:
    _app, port = h2app
    server = await proxy_to(Hook(port, h2c=True))
    try:
        request = (
            b"GET /headers HTTP/1.1\r\nHost: app.example\r\nX-Custom: kept\r\nConnection: close, X-Gone\r\n"
            b"X-Gone: dropped\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\n\r\n"
        )
        answer = await raw_request(server.port, request)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK"), head
        got = dict(map(tuple, json.loads(body)))
        assert got[":authority"] == "app.example" and got["x-custom"] == "kept"
        assert got["te"] == "trailers", "gRPC needs te: trailers"
        assert not {"x-gone", "connection", "keep-alive"} & set(got)
    finally:
        await server.stop(1)


async def test_http1_to_h2c_trailers_come_in_the_last_chunk(h2app: tuple[App, int]) -> None:
    _, port = h2app
    server = await proxy_to(Hook(port, h2c=True))
    try:
        answer = await raw_request(server.port, b"GET /trailers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head.lower()
        assert body == b"d\r\nwith trailers\r\n0\r\nx-outcome: fine\r\nx-code: 0\r\n\r\n"
    finally:
        await server.stop(1)


@pytest.mark.parametrize("size", [0, 100, 3_000_000], ids=["empty", "small", "past-the-windows"])
async def test_http1_to_h2c_bodies_stream_both_ways(h2app: tuple[App, int], size: int) -> None:
    _, port = h2app
    server = await proxy_to(Hook(port, h2c=True))
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 70_000):
            yield data[i : i + 70_000]

    try:
        async with httpx.AsyncClient() as client:
            echoed = await client.post(f"http://127.0.0.1:{server.port}/echo", content=chunks())
            assert (
                echoed.status_code == 200 and hashlib.sha256(echoed.content).digest() == hashlib.sha256(data).digest()
            )
            sized = await client.post(f"http://127.0.0.1:{server.port}/echo", content=data)
            assert sized.content == data
            big = await client.get(f"http://127.0.0.1:{server.port}/big?n={size}&cl")
            assert big.headers["content-length"] == str(size) and len(big.content) == size
            old = await raw_request(server.port, b"GET /big?n=%d HTTP/1.0\r\n\r\n" % size)
            head, _, body = old.partition(b"\r\n\r\n")
            assert b"chunked" not in head.lower() and len(body) == size, "close-delimited for HTTP/1.0"
    finally:
        await server.stop(1)


async def test_http1_to_h2c_keep_alive_shares_one_upstream_connection(h2app: tuple[App, int]) -> None:
    app, port = h2app
    hook = Hook(port, h2c=True)
    server = await proxy_to(hook)
    try:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=8)) as client:
            got = await asyncio.gather(*(client.get(f"http://127.0.0.1:{server.port}/proto") for _ in range(20)))
        assert {r.text for r in got} == {"HTTP/2.0"}
        assert app.connections == 1, "every stream on one multiplexed connection"
        assert server.pool.h2.count(("127.0.0.1", port)) == 1
        assert hook.released == 20
    finally:
        await server.stop(1)


async def test_http1_to_h2c_a_client_that_goes_away_resets_the_upstream_stream(h2app: tuple[App, int]) -> None:
    app, port = h2app
    hook = Hook(port, h2c=True)
    server = await proxy_to(hook)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /hold HTTP/1.1\r\nHost: a\r\n\r\n")
        await eventually(lambda: any(path == "/hold" for _, path, _ in app.requests), 5)
        writer.close()
        await eventually(lambda: app.resets == 1 and hook.released == 1, 5)
    finally:
        await server.stop(1)


async def test_http1_to_h2c_timeouts(h2app: tuple[App, int]) -> None:
    app, port = h2app
    server = await proxy_to(Hook(port, h2c=True, timeouts=Timeouts(total=0.3, message="too slow")))
    try:
        async with httpx.AsyncClient() as client:
            late = await client.get(f"http://127.0.0.1:{server.port}/slow?ms=5000")
            assert (late.status_code, late.text) == (504, "too slow\n")

        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst \r\n")
        async with asyncio.timeout(5):
            answer = await reader.read()
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert body == b"6\r\nfirst \r\n8\r\ntoo slow\r\n0\r\n\r\n", "a started response ends with the message"
        await eventually(lambda: app.resets == 2, 5)
    finally:
        await server.stop(1)


async def test_http1_to_a_dead_h2c_upstream_is_502() -> None:
    server = await proxy_to(Hook(1, h2c=True))
    try:
        async with httpx.AsyncClient() as client:
            got = await client.get(f"http://127.0.0.1:{server.port}/")
        assert got.status_code == 502 and "upstream connect error" in got.text
    finally:
        await server.stop(1)


async def test_http1_to_h2c_a_reset_before_the_response_is_502(h2app: tuple[App, int]) -> None:
    _, port = h2app
    server = await proxy_to(Hook(port, h2c=True))
    try:
        async with httpx.AsyncClient() as client:
            got = await client.get(f"http://127.0.0.1:{server.port}/reset")
            assert got.status_code == 502 and "upstream reset the stream (CANCEL)" in got.text
            upgrade = await client.get(
                f"http://127.0.0.1:{server.port}/", headers={"Connection": "upgrade", "Upgrade": "websocket"}
            )
            assert upgrade.status_code == 502 and "upgrades are not supported" in upgrade.text
    finally:
        await server.stop(1)


# -- HTTP/2 clients --------------------------------------------------------------------------------


async def test_an_h2_client_reaches_an_http1_upstream(upstream: Upstream) -> None:
    hook = Hook(upstream.port, h2c=False)
    server = await proxy_to(hook)
    data = b"z" * 3_000_000
    try:
        async with httpx.AsyncClient(http1=False, http2=True) as client:
            base = f"http://127.0.0.1:{server.port}"
            hello = await client.get(base + "/")
            assert (hello.http_version, hello.text) == ("HTTP/2", "hello from up")
            head = hook.heads[0]
            assert (head.version, head.method, head.host) == ("2.0", "GET", f"127.0.0.1:{server.port}")
            seen = dict((await client.get(base + "/headers", headers={"x-custom": "kept"})).json()["headers"])
            assert seen["Host"] == f"127.0.0.1:{server.port}" and seen["x-custom"] == "kept"
            assert seen["X-Forwarded-For"] == "127.0.0.1" and seen["Forwarded"].startswith("for=127.0.0.1;proto=http")
            digest = await client.post(base + "/digest", content=data)
            assert digest.json() == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(10):
                    yield b"q" * 100_000

            echoed = await client.post(base + "/echo", content=chunks())
            assert echoed.content == b"q" * 1_000_000, "sent chunked: no length known"
            big = await client.get(base + "/big?n=5000000")
            assert len(big.content) == 5_000_000
            head_only = await client.head(base + "/big?n=5000&cl")
            assert head_only.headers["content-length"] == "5000" and head_only.content == b""
            local = await client.get(base + "/local")
            assert (local.status_code, local.text) == (418, "short and stout\n")
            many = await asyncio.gather(*(client.get(base + "/") for _ in range(50)))
            assert {r.status_code for r in many} == {200}
        assert len(downstreams(server)) == 0 or all(not c.streams for c in downstreams(server))
        await eventually(lambda: hook.released == 56, 5)  # all but the local answer
        assert server.in_flight == 0
    finally:
        await server.stop(1)


async def test_an_h2_client_reaches_an_h2c_upstream_with_trailers_both_ways(h2app: tuple[App, int]) -> None:
    app, port = h2app
    server = await proxy_to(Hook(port, h2c=True))
    try:
        async with H2Client(server.port) as client:
            reply = await client.fetch("/trailers")
            assert (reply.status, bytes(reply.body)) == (200, b"with trailers")
            assert reply.trailers == [(b"x-outcome", b"fine"), (b"x-code", b"0")]
            sid = client.request(
                "/echo", method="POST", headers=[(b"te", b"trailers"), (b"connection-x", b"y")], end=False
            )
            client.send(sid, b"hello ")
            client.send(sid, b"world")
            client.end(sid, trailers=[(b"x-checksum", b"abc")])
            reply = await client.reply(sid)
            assert bytes(reply.body) == b"hello world"
            _, _, headers = app.requests[-1]
            assert ("te", "trailers") in headers
    finally:
        await server.stop(1)


async def test_the_preface_may_come_in_pieces_and_a_p_may_start_http1(upstream: Upstream) -> None:
    server = await proxy_to(Hook(upstream.port, h2c=False))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        for byte in h2net.PREFACE[:5]:
            writer.write(bytes([byte]))
            await writer.drain()
        writer.write(h2net.PREFACE[5:] + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # and an empty SETTINGS
        frame = await reader.readexactly(9)
        assert frame[3] == 0x4, "the server's SETTINGS: it speaks HTTP/2"
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"P")
        await writer.drain()
        writer.write(b"UT / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 405"), "an HTTP/1.1 request that began like the preface"
        writer.close()
    finally:
        await server.stop(1)


async def test_an_h2_client_reset_resets_the_h2c_upstream_stream(h2app: tuple[App, int]) -> None:
    app, port = h2app
    hook = Hook(port, h2c=True)
    server = await proxy_to(hook)
    try:
        async with H2Client(server.port) as client:
            sid = client.request("/hold")
            await eventually(lambda: any(path == "/hold" for _, path, _ in app.requests), 5)
            client.reset(sid)
            await eventually(lambda: app.resets == 1 and hook.released == 1, 5)
            assert (await client.fetch("/proto")).body == b"HTTP/2.0", "the connection goes on"
    finally:
        await server.stop(1)


async def test_an_h2_client_reset_aborts_its_http1_upstream(upstream: Upstream) -> None:
    hook = Hook(upstream.port, h2c=False)
    server = await proxy_to(hook)
    try:
        async with H2Client(server.port) as client:
            sid = client.request("/slow")
            async with asyncio.timeout(5):
                await upstream.started.wait()
            client.reset(sid)
            await eventually(lambda: hook.released == 1, 5)
            assert server.pool.idle_count() == 0, "an aborted upstream connection is not pooled"
    finally:
        await server.stop(1)


async def test_an_h2_client_gets_504_before_the_response_and_the_message_after(h2app: tuple[App, int]) -> None:
    app, port = h2app
    server = await proxy_to(Hook(port, h2c=True, timeouts=Timeouts(total=0.3, message="too slow")))
    try:
        async with H2Client(server.port) as client:
            late = await client.fetch("/slow?ms=5000")
            assert (late.status, bytes(late.body)) == (504, b"too slow\n")
            sid = client.request("/echo", method="POST", end=False)
            client.send(sid, b"first ")
            reply = await client.reply(sid)
            assert (reply.status, bytes(reply.body), reply.reset) == (200, b"first too slow", None)
            await eventually(lambda: app.resets == 2, 5)
    finally:
        await server.stop(1)


async def test_an_h2_client_that_stops_reading_pauses_the_http1_upstream(upstream: Upstream) -> None:
    server = await proxy_to(Hook(upstream.port, h2c=False))
    size = 20_000_000
    try:
        async with H2Client(server.port, ack=False) as client:
            sid = client.request(f"/big?n={size}&cl")
            await eventually(lambda: downstreams(server), 5)
            [conn] = downstreams(server)

            def paused() -> bool:
                stream = conn.streams.get(sid)
                return stream is not None and stream.up is not None and not stream.up.transport.is_reading()  # type: ignore[union-attr]

            await eventually(paused, 10)
            queued = sum(box.size for box in conn._waiting.values())
            assert queued <= h2net.HIGH_WATER + 256 * 1024, "bounded: the rest waits upstream"
            assert len(client.replies[sid].body) < size
            while not client.replies[sid].done.is_set():
                client.acknowledge(sid)
                client.replies[sid].data.clear()
                async with asyncio.timeout(10):
                    await asyncio.wait(
                        [asyncio.ensure_future(e.wait()) for e in (client.replies[sid].data, client.replies[sid].done)],
                        return_when=asyncio.FIRST_COMPLETED,
                    )
            assert len(client.replies[sid].body) == size
    finally:
        await server.stop(1)


async def test_an_h2_client_body_waits_in_its_window_while_the_upstream_is_full(h2app: tuple[App, int]) -> None:
    """The h2c app echoes; a client that sends and never reads fills the app's window, then the
    proxy's: what the client may still send is bounded by the windows, not buffered whole."""
    _app, port = h2app
    server = await proxy_to(Hook(port, h2c=True))
    try:
        async with H2Client(server.port, ack=False) as client:
            sid = client.request("/echo", method="POST", end=False)
            await eventually(lambda: downstreams(server), 5)
            [conn] = downstreams(server)
            sent = 0
            while True:
                client.window_open.clear()
                more = client.send(sid, b"x" * 65536)
                sent += more
                assert sent < 50_000_000, "the proxy kept taking the body: no backpressure"
                if more:
                    continue
                await eventually(lambda: client.window_open.is_set() or both_full(conn.streams[sid]), 5)
                if client.window_open.is_set():
                    continue
                await client.ping()  # a WINDOW_UPDATE the proxy sent before its PING answer is in by now
                if client.conn.local_flow_control_window(sid) == 0:
                    break  # both sides full: the proxy holds the client back instead of buffering
            assert sent < 2_000_000
    finally:
        await server.stop(1)


async def test_graceful_stop_finishes_h2_streams_and_refuses_new_ones(h2app: tuple[App, int]) -> None:
    _, port = h2app
    server = await proxy_to(Hook(port, h2c=True))
    async with H2Client(server.port) as client:
        sid = client.request("/slow?ms=300")
        await eventually(lambda: server.in_flight == 1, 5)
        stopping = asyncio.ensure_future(server.stop(5))
        await eventually(lambda: client.goaway is not None, 5)
        reply = await client.reply(sid)
        assert (reply.status, bytes(reply.body)) == (200, b"late")
        await stopping
        await asyncio.wait_for(client.closed.wait(), 5)


async def test_an_h2_request_head_over_the_limit_is_431(upstream: Upstream) -> None:
    server = await proxy_to(Hook(upstream.port, h2c=False))
    try:
        async with H2Client(server.port) as client:
            reply = await client.fetch("/", headers=[(b"x-big", b"v" * 40_000), (b"x-big2", b"v" * 30_000)])
            assert reply.status == 431
            assert (await client.fetch("/")).status == 200, "the connection goes on"
    finally:
        await server.stop(1)


# -- gRPC ------------------------------------------------------------------------------------------


@pytest.fixture
def grpc_server() -> Iterator[int]:
    server, port = grpcping.start()
    yield port
    server.stop(0)


async def test_grpc_unary_streaming_bidi_and_error_status_through_the_proxy(grpc_server: int) -> None:
    hook = Hook(grpc_server, h2c=True)
    server = await proxy_to(hook)

    def calls() -> None:
        with grpcping.Client(f"127.0.0.1:{server.port}", "grpc-ping.default.example") as client:
            assert client.ping(b"hi", timeout=10) == b"pong: hi"
            assert list(client.count(b"5", timeout=10)) == [b"0", b"1", b"2", b"3", b"4"]
            assert list(client.chat(iter([b"a", b"b", b"c"]), timeout=10)) == [b"A", b"B", b"C"]
            with pytest.raises(grpc.RpcError) as failed:
                client.fail(b"x", timeout=10)
            assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert failed.value.details() == "not today: x"
            big = bytes(range(256)) * 8192
            assert client.ping(big, timeout=10) == b"pong: " + big

    try:
        await asyncio.to_thread(calls)
        assert {h.host for h in hook.heads} == {"grpc-ping.default.example"}, ":authority routes"
        assert {h.version for h in hook.heads} == {"2.0"}
    finally:
        await server.stop(1)


def test_same_behaviour_on_uvloop() -> None:
    """The preface hands a uvloop transport to the HTTP/2 protocol too (``set_protocol``); h2c upstream."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        async with serve_h2app() as (_app, port), run_upstream() as up:
            over_h2, over_h1 = await proxy_to(Hook(port, h2c=True)), await proxy_to(Hook(up.port, h2c=False))
            try:
                async with httpx.AsyncClient(http1=False, http2=True) as client:
                    got = await client.post(f"http://127.0.0.1:{over_h2.port}/echo", content=b"x" * 1_000_000)
                    assert got.http_version == "HTTP/2" and got.content == b"x" * 1_000_000
                    got = await client.get(f"http://127.0.0.1:{over_h1.port}/big?n=2000000")
                    assert len(got.content) == 2_000_000
                async with httpx.AsyncClient() as client:
                    assert (await client.get(f"http://127.0.0.1:{over_h2.port}/proto")).text == "HTTP/2.0"
            finally:
                await over_h2.stop(1)
                await over_h1.stop(1)

    uvloop.run(scenario())
