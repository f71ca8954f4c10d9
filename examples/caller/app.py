"""Caller: calls another Service by its cluster-local name, as apps do in Knative.

``GET /?to=hello.default.svc.cluster.local`` (or ``hello.default.svc`` / ``hello.default``) makes a
request to that Service and answers with what it said. On one machine apps cannot resolve those
names, so the platform tells every instance where its internal gateway listens:
``$ZEROSERVE_INTERNAL_URL``; the name goes in the ``Host`` header. Stdlib only.
"""

from __future__ import annotations

import os
import signal
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def call(host: str, path: str = "/") -> tuple[int, bytes]:
    internal = os.environ["ZEROSERVE_INTERNAL_URL"]
    request = urllib.request.Request(internal + path, headers={"Host": host})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


class Caller(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        to = parse_qs(urlsplit(self.path).query).get("to", ["hello.default.svc.cluster.local"])[0]
        try:
            status, body = call(to)
        except OSError as err:
            status, body = 502, f"calling {to} failed: {err}\n".encode()
        reply = f"{os.environ.get('K_REVISION', '?')} called {to}: ".encode() + body
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the listen backlog: bursts of connections must not be dropped (default 5)
    daemon_threads = True


def main() -> None:
    server = Server(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Caller)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
