"""An app that shows what it was given (stdlib only), for the env and volume tests.

Serves on $PORT: ``GET /env`` answers its environment (JSON); ``GET /file?path=P`` answers
``{"data", "mode", "uid", "link"}`` of the file P as the app sees it (``link``: the symlink's target,
else null) or ``{"error"}``; ``GET /write?path=P&data=D`` (or ``&size=N``: N bytes) writes D to P and answers
``{"ok"}`` or ``{"error"}``.
"""

from __future__ import annotations

import http.server
import json
import os
import urllib.parse


def show(path: str) -> dict[str, object]:
    try:
        info = os.stat(path)
        with open(path, "rb") as file:
            data = file.read().decode(errors="replace")
        link = os.readlink(path) if os.path.islink(path) else None
        return {"data": data, "mode": oct(info.st_mode & 0o7777), "uid": info.st_uid, "link": link}
    except OSError as err:
        return {"error": f"{type(err).__name__}: {err}"}


def write(path: str, data: str) -> dict[str, object]:
    try:
        with open(path, "w") as file:
            file.write(data)
        return {"ok": True}
    except OSError as err:
        return {"error": f"{type(err).__name__}: {err}"}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/env":
            body: object = dict(os.environ)
        elif url.path == "/file":
            body = show(query.get("path", ""))
        elif url.path == "/write":
            text = "x" * int(query["size"]) if "size" in query else query.get("data", "")
            body = write(query.get("path", ""), text)
        else:
            body = {"ok": True}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
