"""A user app for the queue-proxy tests: requests block on a gate the test opens (aiohttp, in-process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class App:
    port: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    healthy: bool = True
    in_flight: int = 0
    max_in_flight: int = 0
    served: int = 0
    health_checks: int = 0

    async def held(self, request: web.Request) -> web.Response:
        """Answers once the gate opens; counts how many are inside at once."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self.gate.wait()
        finally:
            self.in_flight -= 1
        self.served += 1
        return web.Response(text="done")

    async def never(self, request: web.Request) -> web.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def headers(self, request: web.Request) -> web.Response:
        return web.json_response({"host": request.host, "headers": [[k, v] for k, v in request.headers.items()]})

    async def healthz(self, request: web.Request) -> web.Response:
        self.health_checks += 1
        return web.Response(status=200 if self.healthy else 503)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/held", self.held)
        app.router.add_get("/never", self.never)
        app.router.add_get("/headers", self.headers)
        app.router.add_get("/healthz", self.healthz)
        return app


@asynccontextmanager
async def run_app(port: int = 0) -> AsyncIterator[App]:
    app = App()
    runner = web.AppRunner(app.app(), handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    assert runner.addresses
    app.port = runner.addresses[0][1]
    try:
        yield app
    finally:
        app.gate.set()
        await runner.cleanup()
