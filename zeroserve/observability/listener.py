"""The opt-in metrics listener (``zeroserve up --metrics-port``): ``GET /metrics`` without the API
token, for a Prometheus scraping this machine, as Knative's components serve theirs (knative/pkg
``observability/metrics/prometheus``: ``/metrics`` on ``metrics-endpoint``, port 9090 by default).
It listens on 127.0.0.1 only."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

HOST = "127.0.0.1"


class MetricsListener:
    def __init__(self, registry: CollectorRegistry, port: int, host: str = HOST) -> None:
        self._registry = registry
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> str:
        """Listen; the URL of ``/metrics`` (port 0: a free one)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return f"http://{self._host}:{self.port}/metrics"

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


__all__ = ["MetricsListener"]
