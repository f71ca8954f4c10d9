"""Fake queue-proxies for the activator tests: real aiohttp servers on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Instance:
    """Answers the activator's probe once ``ready``; counts requests in flight; ``/hold`` waits on ``gate``."""

    ready: bool = True
    port: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    served: int = 0
    probes: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    headers: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/healthz" and "K-Network-Probe" in request.headers:
            self.probes += 1
            ok = (
                self.ready
                and request.headers["K-Network-Probe"] == "queue"
                and request.headers.get("User-Agent") == "Knative-Activator-Probe"
            )
            return web.Response(text="queue") if ok else web.Response(status=503, text="not ready")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.headers.append(dict(request.headers))
        try:
            if request.path == "/hold":
                await self.gate.wait()
            self.served += 1
            return web.Response(text=f"served by {self.port}")
        finally:
            self.in_flight -= 1

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


@asynccontextmanager
async def run_instance(*, ready: bool = True) -> AsyncIterator[Instance]:
    inst = Instance(ready=ready)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", inst.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert runner.addresses
    inst.port = runner.addresses[0][1]
    try:
        yield inst
    finally:
        inst.gate.set()
        await runner.cleanup()


async def eventually(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` on the loop until truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)  # wait-ok: polling interval of a deadline-bounded wait
