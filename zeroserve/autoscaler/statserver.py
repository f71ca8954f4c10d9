"""Receives activator stats over HTTP (Knative ``pkg/autoscaler/statserver``).

A standalone activator (``zeroserve activator``) reports its per-revision load as
``POST /stats`` with a JSON array of ``StatMessage.to_wire()`` objects; each message is handed to
the sink (``Multiscaler.record``). Knative uses a websocket carrying protobuf; one POST per
report is enough at a 1 s cadence. An in-process activator calls the sink directly.

Answers: 200 ``{"accepted": n}``; 400 on a body that is not such an array (nothing is recorded
then); 405 on other methods (aiohttp).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from zeroserve.autoscaler.metrics import StatMessage

StatSink = Callable[[StatMessage], None]
STATS_PATH = "/stats"
MAX_BODY = 4 * 1024 * 1024


def parse_messages(body: bytes) -> list[StatMessage]:
    """The StatMessages of a POST body; ValueError with the reason when it is not a valid array."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"body is not JSON: {e}") from e
    if not isinstance(data, list):
        raise ValueError("body must be a JSON array of stat messages")
    messages = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"item {i} is not an object")
        try:
            messages.append(StatMessage.from_wire(item))
        except ValueError as e:
            raise ValueError(f"item {i}: {e}") from e
    return messages


def make_app(sink: StatSink) -> web.Application:
    async def post_stats(request: web.Request) -> web.Response:
        try:
            messages = parse_messages(await request.read())
        except ValueError as e:
            return web.json_response({"error": str(e)}, status=400)
        for message in messages:
            sink(message)
        return web.json_response({"accepted": len(messages)})

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(STATS_PATH, post_stats)
    return app


class StatServer:
    """``async with StatServer(sink, host, port) as server``: serves until exit; ``server.port`` is the real port."""

    def __init__(self, sink: StatSink, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(make_app(sink), access_log=None)
        self._host, self._port = host, port
        self.port = 0

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> StatServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
