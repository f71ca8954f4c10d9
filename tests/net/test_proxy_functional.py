"""The streaming proxy against real upstreams and real clients on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.net.upstreams import Upstream, header_map, raw_request, run_raw_upstream, run_upstream
from zeroserve.net import ProxyServer, RequestHead, Response, Target, Timeouts


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with run_upstream() as up:
        yield up


class Hook:
    """A route hook that sends everything to one port and counts releases."""

    def __init__(self, port: int, timeouts: Timeouts = Timeouts()) -> None:
        self.port = port
        self.timeouts = timeouts
        self.released = 0
        self.heads: list[RequestHead] = []
        self.all_released = asyncio.Event()
        self.expected = 0

    def __call__(self, head: RequestHead) -> Target:
        self.heads.append(head)
        return Target("127.0.0.1", self.port, timeouts=self.timeouts, on_release=self._release)

    def _release(self) -> None:
        self.released += 1
        if self.released >= self.expected:
            self.all_released.set()


@pytest.fixture
async def proxy(upstream: Upstream) -> AsyncIterator[tuple[ProxyServer, Hook]]:
    hook = Hook(upstream.port)
    server = ProxyServer(hook)
    await server.start()
    yield server, hook
    await server.stop(1)


async def test_keep_alive_both_sides(proxy: tuple[ProxyServer, Hook], upstream: Upstream) -> None:
    server, hook = proxy
    conn = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=conn) as s:
        for _ in range(20):
            async with s.get(f"http://127.0.0.1:{server.port}/") as r:
                assert r.status == 200
                assert await r.text() == "hello from up"
    assert upstream.requests == 20
    assert len(upstream.peers) == 1, "the upstream connection is reused"
    assert hook.released == 20
    assert server.pool.idle_count(("127.0.0.1", upstream.port)) == 1


async def test_pipelined_and_http10_on_raw_socket(proxy: tuple[ProxyServer, Hook]) -> None:
    server, _ = proxy
    two = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /headers HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
    out = await raw_request(server.port, two)
    assert out.count(b"HTTP/1.1 200") == 2
    assert out.index(b"hello from up") < out.index(b'"path": "/headers"')
    old = await raw_request(server.port, b"GET /big?n=1000 HTTP/1.0\r\n\r\n")
    head, _, body = old.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head, "no chunked encoding for HTTP/1.0 clients"
    assert len(body) == 1000


async def test_head_request_keeps_connection_usable(proxy: tuple[ProxyServer, Hook]) -> None:
    server, _ = proxy
    req = b"HEAD /big?n=5000&cl=1 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    out = await raw_request(server.port, req)
    first, _, rest = out.partition(b"\r\n\r\n")
    assert b"Content-Length: 5000" in first
    assert rest.startswith(b"HTTP/1.1 200"), rest[:100]
    assert rest.endswith(b"hello from up")


async def test_chunked_upload_is_streamed(proxy: tuple[ProxyServer, Hook], upstream: Upstream) -> None:
    server, _ = proxy

    async def body() -> AsyncIterator[bytes]:
        yield b"first part;"
        await asyncio.wait_for(upstream.first_chunk.wait(), 10)  # only if the proxy streams
        yield b"second part"

    async with aiohttp.ClientSession() as s, s.post(f"http://127.0.0.1:{server.port}/echo", data=body()) as r:
        assert r.status == 200
        assert await r.read() == b"first part;second part"


@pytest.mark.parametrize("size", [pytest.param(5_000_000, id="5MB")])
async def test_large_bodies_both_ways(proxy: tuple[ProxyServer, Hook], size: int) -> None:
    server, _ = proxy
    payload = bytes(range(256)) * (size // 256)
    async with aiohttp.ClientSession() as s:
        async with s.post(f"http://127.0.0.1:{server.port}/digest", data=io.BytesIO(payload)) as r:
            assert await r.json() == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
        for query in ("", "&cl=1"):
            async with s.get(f"http://127.0.0.1:{server.port}/big?n={size}{query}") as r:
                got = await r.read()
                assert len(got) == size
                assert got[:512] == bytes(range(256)) * 2


async def test_slow_reader_gets_everything(proxy: tuple[ProxyServer, Hook]) -> None:
    """Backpressure: a client that reads slowly still gets the whole body, byte for byte."""
    server, _ = proxy
    size = 8_000_000
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=1024)
    writer.write(f"GET /big?n={size}&cl=1 HTTP/1.1\r\nHost: a\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"200" in head
    got = 0
    while got < size:
        got += len(await reader.read(4096))
    writer.close()
    assert got == size


async def test_sse_events_arrive_one_by_one(proxy: tuple[ProxyServer, Hook], upstream: Upstream) -> None:
    server, _ = proxy
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{server.port}/sse") as r:
        assert r.headers["Content-Type"] == "text/event-stream"
        for i in range(3):
            await upstream.sse_next.put(f"event {i}")
            line = await asyncio.wait_for(r.content.readline(), 10)
            assert line == f"data: event {i}\n".encode()
            assert await r.content.readline() == b"\n"
        await upstream.sse_next.put("")
        assert await r.content.read() == b""


async def test_websocket_echo(proxy: tuple[ProxyServer, Hook]) -> None:
    server, hook = proxy
    hook.expected = 1
    async with aiohttp.ClientSession() as s, s.ws_connect(f"http://127.0.0.1:{server.port}/ws") as ws:
        for i in range(5):
            await ws.send_str(f"msg {i}")
            assert await ws.receive_str() == f"echo:msg {i}"
        await ws.send_bytes(b"\x00" * 100_000)
        assert await ws.receive_bytes() == b"\x00" * 100_000
        await ws.close()
    await asyncio.wait_for(hook.all_released.wait(), 10)


async def test_hop_by_hop_stripped_and_forwarded_set(proxy: tuple[ProxyServer, Hook]) -> None:
    server, _ = proxy
    headers = {
        "Host": "hello.default.example.com:8080",
        "Connection": "keep-alive, X-Secret",
        "X-Secret": "drop me",
        "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic eA==",
        "TE": "trailers",
        "X-Forwarded-For": "10.0.0.1",
        "X-Custom": "kept",
    }
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{server.port}/headers", headers=headers) as r:
        got = header_map(await r.read())
    for name in ("x-secret", "keep-alive", "proxy-authorization", "te"):
        assert name not in got, name
    assert got["host"] == ["hello.default.example.com:8080"]
    assert got["x-custom"] == ["kept"]
    assert got["x-forwarded-for"] == ["10.0.0.1, 127.0.0.1"]
    assert got["x-forwarded-proto"] == ["http"]
    assert got["x-forwarded-host"] == ["hello.default.example.com:8080"]
    assert got["forwarded"] == ['for=127.0.0.1;proto=http;host="hello.default.example.com:8080"']


async def test_dead_upstream_gives_502() -> None:
    async with run_raw_upstream() as raw:
        dead_port = raw.port
    hook = Hook(dead_port)
    async with ProxyServer(hook) as server, aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{server.port}/") as r:
            assert r.status == 502
            assert "upstream connect error" in await r.text()
        assert hook.released == 1


async def test_slow_upstream_gives_504(upstream: Upstream) -> None:
    hook = Hook(upstream.port, Timeouts(response_start=0.2))
    async with ProxyServer(hook) as server, aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{server.port}/slow") as r:
            assert r.status == 504
            assert "response start timeout" in await r.text()
        async with s.get(f"http://127.0.0.1:{server.port}/") as r:
            assert r.status == 200, "a timeout does not poison the pool or the client connection"
    hook2 = Hook(upstream.port, Timeouts(total=0.2))
    async with (
        ProxyServer(hook2) as server,
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{server.port}/slow") as r,
    ):
        assert r.status == 504


@pytest.mark.parametrize(
    "timeouts",
    [
        pytest.param(Timeouts(response_start=0.2, message="request timeout"), id="response-start"),
        pytest.param(Timeouts(total=0.2, message="request timeout"), id="total"),
        pytest.param(Timeouts(idle=0.1, message="request timeout"), id="idle"),
    ],
)
async def test_a_target_names_its_own_timeout_message(upstream: Upstream, timeouts: Timeouts) -> None:
    hook = Hook(upstream.port, timeouts)
    async with (
        ProxyServer(hook) as server,
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{server.port}/slow") as r,
    ):
        assert (r.status, await r.text()) == (504, "request timeout\n")


@pytest.mark.parametrize(
    "timeouts",
    [
        pytest.param(Timeouts(response_start=30.0, message="request timeout"), id="response-start"),
        pytest.param(Timeouts(total=30.0, message="request timeout"), id="total"),
        pytest.param(Timeouts(idle=30.0, message="request timeout"), id="idle"),
    ],
)
async def test_limits_count_from_since_the_time_a_request_was_held_before(
    upstream: Upstream, timeouts: Timeouts
) -> None:
    """A request held 30 s before it was routed (a breaker, the activator) has no time left: as
    Knative's timeout handler wraps the breaker (pkg/queue/sharedmain/handlers.go)."""
    now = asyncio.get_running_loop().time()
    held, fresh = Hook(upstream.port, timeouts.anchored(now - 30.0)), Hook(upstream.port, timeouts.anchored(now))
    async with ProxyServer(held) as late, ProxyServer(fresh) as timely, aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{late.port}/slow") as r:
            assert (r.status, await r.text()) == (504, "request timeout\n")
        async with s.get(f"http://127.0.0.1:{timely.port}/") as r:
            assert (r.status, await r.text()) == (200, "hello from up")


@pytest.mark.parametrize(
    "timeouts",
    [
        pytest.param(Timeouts(total=0.3, message="request timeout"), id="total"),
        pytest.param(Timeouts(idle=0.1, message="request timeout"), id="idle"),
    ],
)
async def test_a_limit_after_the_response_started_ends_a_streamed_response_with_the_message(
    upstream: Upstream, timeouts: Timeouts
) -> None:
    """Knative's timeout handler (pkg/http/handler/timeout.go): once the head went out, the 504 is
    ignored and the message is written as more body, then the response ends cleanly."""
    hook = Hook(upstream.port, timeouts)
    await upstream.sse_next.put("one")
    async with ProxyServer(hook) as server, aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{server.port}/sse") as r:
            assert r.status == 200
            assert await asyncio.wait_for(r.text(), 10) == "data: one\n\nrequest timeout"
        async with s.get(f"http://127.0.0.1:{server.port}/") as r:
            assert (r.status, await r.text()) == (200, "hello from up")
        assert hook.released == 2


async def test_a_limit_after_a_content_length_response_started_aborts_it() -> None:
    """A response with a Content-Length cannot end early: the client sees it cut (as Go's server
    closes a connection whose handler wrote less than it declared)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await reader.read()
        writer.close()

    raw = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    try:
        hook = Hook(port, Timeouts(total=0.2, message="request timeout"))
        async with (
            ProxyServer(hook) as server,
            aiohttp.ClientSession() as s,
            s.get(f"http://127.0.0.1:{server.port}/") as r,
        ):
            assert r.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await asyncio.wait_for(r.content.read(), 10)
    finally:
        raw.close()
        await raw.wait_closed()


async def test_client_abort_closes_upstream() -> None:
    async with run_raw_upstream() as raw:
        hook = Hook(raw.port)
        hook.expected = 1
        async with ProxyServer(hook) as server:
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /hang HTTP/1.1\r\nHost: a\r\n\r\n")
            await asyncio.wait_for(raw.got_request.wait(), 10)
            writer.close()
            await asyncio.wait_for(raw.peer_closed.wait(), 10)
            await asyncio.wait_for(hook.all_released.wait(), 10)
            assert server.in_flight == 0


async def test_async_hook_and_local_response(upstream: Upstream) -> None:
    gate = asyncio.Event()

    async def hook(head: RequestHead) -> Target | Response:
        if head.path == "/local":
            return Response(418, b"teapot\n")
        await gate.wait()
        return Target("127.0.0.1", upstream.port)

    async with ProxyServer(hook) as server, aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{server.port}/local") as r:
            assert (r.status, await r.text()) == (418, "teapot\n")
        pending = asyncio.create_task(s.get(f"http://127.0.0.1:{server.port}/"))
        while server.in_flight == 0:
            await asyncio.sleep(0)  # wait-ok: yield to the loop once
        assert not pending.done()
        gate.set()
        async with await pending as r:
            assert await r.text() == "hello from up"


async def test_graceful_stop_finishes_in_flight(upstream: Upstream) -> None:
    hook = Hook(upstream.port)
    server = ProxyServer(hook)
    port = await server.start()
    async with aiohttp.ClientSession() as s:
        request = asyncio.create_task(s.get(f"http://127.0.0.1:{port}/slow"))
        await asyncio.wait_for(upstream.started.wait(), 10)
        stopping = asyncio.create_task(server.stop(10))
        while server._server is not None and server._server.is_serving():
            await asyncio.sleep(0)  # wait-ok: yield to the loop once
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        upstream.gate.set()
        async with await request as r:
            assert r.status == 200
            assert r.headers.get("Connection") == "close"
            assert await r.text() == "slow from up"
        await stopping


def test_same_behaviour_on_uvloop() -> None:
    """uvloop's transports are not asyncio.Transport subclasses: run a mixed scenario on uvloop."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        async with run_upstream() as up:
            hook = Hook(up.port)
            async with ProxyServer(hook) as server, aiohttp.ClientSession() as s:
                base = f"http://127.0.0.1:{server.port}"
                for _ in range(3):
                    async with s.get(base + "/") as r:
                        assert await r.text() == "hello from up"
                async with s.post(base + "/digest", data=io.BytesIO(b"x" * 1_000_000)) as r:
                    assert (await r.json())["size"] == 1_000_000
                async with s.ws_connect(base + "/ws") as ws:
                    await ws.send_str("hi")
                    assert await ws.receive_str() == "echo:hi"
            assert len(up.peers) == 1

    uvloop.run(scenario())


async def test_interim_response_phrase_and_retry_on_a_stale_pooled_connection() -> None:
    """A 103 passes through before the 200 (with its own phrase); a pooled connection the upstream
    closed without answering is retried once on a fresh one, with the very same request head."""
    heads: list[bytes] = []
    conns = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal conns
        conns += 1
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        if conns == 1:
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
            writer.write(b"HTTP/1.1 200 Fine\r\nContent-Length: 5\r\nX-Up: 1\r\n\r\nfirst")
            await reader.readuntil(b"\r\n\r\n")  # the second request: hang up without answering
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    hook = Hook(server.sockets[0].getsockname()[1])
    async with server, ProxyServer(hook) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n")
        early = await reader.readuntil(b"\r\n\r\n")
        assert early.startswith(b"HTTP/1.1 103 Early Hints\r\n")
        assert b"Link: </a.css>; rel=preload" in early
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 Fine\r\n")
        assert b"X-Up: 1" in head
        assert await reader.readexactly(5) == b"first"
        writer.write(b"GET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        rest = await reader.read()
        writer.close()
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    assert rest.endswith(b"second")
    assert conns == 2
    assert heads[1].startswith(b"GET /two HTTP/1.1\r\n")
    assert heads[1].count(b"X-Forwarded-For: 127.0.0.1\r\n") == 1
    assert b"Connection: close" not in heads[1], "hop-by-hop headers stay on the client's hop"
    assert hook.released == 2


async def test_target_drop_and_headers_replace_request_headers(upstream: Upstream) -> None:
    """A hook can drop client headers and send its own (the activator swaps Host), per target."""

    def hook(head: RequestHead) -> Target:
        if head.path.endswith("swap"):
            extra = ((b"Host", b"instance:1"), (b"K-Original-Host", head.host.encode()))
            return Target("127.0.0.1", upstream.port, headers=extra, drop=frozenset({b"host", b"x-revision"}))
        return Target("127.0.0.1", upstream.port)

    async with ProxyServer(hook) as server, aiohttp.ClientSession() as s:
        sent = {"Host": "hello.default.localhost", "X-Revision": "r1"}
        for path in ("/headers?swap", "/headers?plain", "/headers?swap"):  # one connection: memos in play
            async with s.get(f"http://127.0.0.1:{server.port}{path}", headers=sent) as r:
                got = header_map(await r.read())
            if path.endswith("swap"):
                assert got["host"] == ["instance:1"]
                assert got["k-original-host"] == ["hello.default.localhost"]
                assert "x-revision" not in got
            else:
                assert got["host"] == ["hello.default.localhost"]
                assert got["x-revision"] == ["r1"]
            assert got["x-forwarded-host"] == ["hello.default.localhost"]


async def test_each_request_and_response_gets_its_own_headers_on_reused_connections(
    proxy: tuple[ProxyServer, Hook], upstream: Upstream
) -> None:
    """Header work is remembered per connection; changed headers must never get a stale result."""
    server, _ = proxy
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as s:
        for value in ("one", "one", "two", "one"):
            async with s.get(base + "/headers", headers={"X-Custom": value}) as r:
                assert header_map(await r.read())["x-custom"] == [value]
        for query in ("&cl=1", "", "&cl=1", ""):  # Content-Length, then chunked, on one upstream connection
            async with s.get(f"{base}/big?n=3000{query}") as r:
                assert (r.headers.get("Content-Length") == "3000") == bool(query)
                assert (r.headers.get("Transfer-Encoding") == "chunked") != bool(query)
                assert len(await r.read()) == 3000
    assert server.pool.idle_count(("127.0.0.1", upstream.port)) == 1
