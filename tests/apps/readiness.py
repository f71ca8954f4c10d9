"""A test app whose readiness can be turned off, as Knative's ``readiness`` test image.

``GET /`` answers this instance's id; ``GET /healthz`` 200 while ready, 503 after ``POST
/unready``. Stdlib only; listens on $PORT.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

READY = {"ready": True}
IDENT = uuid.uuid4().hex
"""This process (a pid is 2 in every sandbox's pid namespace)."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(200 if READY["ready"] else 503, "ok" if READY["ready"] else "not ready")
        else:
            self._answer(200, IDENT)

    def do_POST(self) -> None:
        READY["ready"] = False
        self._answer(200, IDENT)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
