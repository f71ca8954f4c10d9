"""Echo-ws: a websocket echo server on ``/`` (aiohttp). Plain GETs get a short hint.

Listens on $PORT; text frames come back prefixed with the revision name, binary frames unchanged.
"""

from __future__ import annotations

import os

from aiohttp import WSMsgType, web


async def index(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return web.Response(text="connect a websocket to this URL; text frames are echoed\n")
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    revision = os.environ.get("K_REVISION", "?")
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(f"{revision}: {msg.data}")
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


def main() -> None:
    app = web.Application()
    app.router.add_get("/", index)
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")), print=print)


if __name__ == "__main__":
    main()
