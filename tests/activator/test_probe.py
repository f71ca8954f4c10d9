"""The real HTTP probe against real fake queue-proxies."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.activator.instances import run_instance
from zeroserve.activator.probe import HttpProber, probe_all


async def test_probe_passes_only_on_200_queue():
    async with HttpProber() as probe, run_instance(ready=True) as ok, run_instance(ready=False) as not_ready:
        assert await probe(*ok.address)
        assert not await probe(*not_ready.address)
        assert ok.probes == 1 and not_ready.probes == 1  # headers checked by the instance


async def test_probe_wrong_body_fails():
    async def handle(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/healthz", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with HttpProber() as probe:
            assert not await probe("127.0.0.1", runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def test_probe_refused_and_hanging_fail():
    hung = asyncio.Event()
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        hung.set()
        await reader.read()  # never answers; b"" once the prober gave up and closed
        writer.close()
        await writer.wait_closed()
        done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with HttpProber(timeout=0.3) as probe:
            assert not await probe("127.0.0.1", 9)  # discard port: refused
            assert not await probe("127.0.0.1", port)  # times out
            assert hung.is_set()
        await done.wait()
    finally:
        server.close()
        await server.wait_closed()


async def test_probe_all_returns_the_passing():
    async def probe(host: str, port: int) -> bool:
        if port == 3:
            raise RuntimeError("broken probe counts as a failure")
        return port == 1

    assert await probe_all(probe, [("h", 1), ("h", 2), ("h", 3)]) == {("h", 1)}
