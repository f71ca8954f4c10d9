"""Real upstream servers for the proxy and gateway tests (aiohttp app and raw asyncio)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web


@dataclass
class Upstream:
    name: str = "up"
    port: int = 0
    peers: set[tuple[str, int]] = field(default_factory=set)
    first_chunk: asyncio.Event = field(default_factory=asyncio.Event)
    sse_next: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    requests: int = 0

    async def hello(self, request: web.Request) -> web.Response:
        self.requests += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.peers.add((peer[0], peer[1]))
        return web.Response(text=f"hello from {self.name}")

    async def headers(self, request: web.Request) -> web.Response:
        headers = [[k, v] for k, v in request.headers.items()]
        return web.json_response({"headers": headers, "path": request.path_qs, "name": self.name})

    async def echo(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        async for data in request.content.iter_any():
            self.first_chunk.set()
            await resp.write(data)
        await resp.write_eof()
        return resp

    async def digest(self, request: web.Request) -> web.Response:
        sha, size = hashlib.sha256(), 0
        async for data in request.content.iter_any():
            self.first_chunk.set()
            sha.update(data)
            size += len(data)
        return web.json_response({"size": size, "sha256": sha.hexdigest()})

    async def big(self, request: web.Request) -> web.StreamResponse:
        size = int(request.query["n"])
        resp = web.StreamResponse()
        if "cl" in request.query:
            resp.content_length = size
        await resp.prepare(request)
        block = bytes(range(256)) * 256
        sent = 0
        while sent < size:
            part = block[: min(len(block), size - sent)]
            await resp.write(part)
            sent += len(part)
        await resp.write_eof()
        return resp

    async def sse(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        while (msg := await self.sse_next.get()) != "":
            await resp.write(f"data: {msg}\n\n".encode())
        await resp.write_eof()
        return resp

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            if msg.type == WSMsgType.TEXT:
                await sock.send_str("echo:" + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await sock.send_bytes(msg.data)
        return sock

    async def slow(self, request: web.Request) -> web.Response:
        self.started.set()
        await self.gate.wait()
        return web.Response(text=f"slow from {self.name}")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.hello)
        app.router.add_get("/headers", self.headers)
        app.router.add_post("/echo", self.echo)
        app.router.add_post("/digest", self.digest)
        app.router.add_get("/big", self.big)
        app.router.add_get("/sse", self.sse)
        app.router.add_get("/ws", self.ws)
        app.router.add_get("/slow", self.slow)
        return app


@asynccontextmanager
async def run_upstream(name: str = "up") -> AsyncIterator[Upstream]:
    up = Upstream(name)
    runner = web.AppRunner(up.app(), handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert runner.addresses
    up.port = runner.addresses[0][1]
    try:
        yield up
    finally:
        up.gate.set()
        await up.sse_next.put("")
        await runner.cleanup()


@dataclass
class RawUpstream:
    """Reads one request head, then holds the connection until the peer closes it."""

    port: int = 0
    got_request: asyncio.Event = field(default_factory=asyncio.Event)
    peer_closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.got_request.set()
        await reader.read()  # b"" once the proxy closed its side
        self.peer_closed.set()
        writer.close()


@asynccontextmanager
async def run_raw_upstream() -> AsyncIterator[RawUpstream]:
    raw = RawUpstream()
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw
    finally:
        server.close()
        await server.wait_closed()


async def raw_request(port: int, data: bytes, *, until_close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await reader.read() if until_close else await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()


def header_map(body: bytes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in json.loads(body)["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out
