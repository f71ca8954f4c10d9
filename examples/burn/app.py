"""Burn: ``GET /?ms=N`` keeps a CPU busy for N milliseconds (for the HPA class, which scales on CPU).

Stdlib only; one thread per request (CPU-bound threads share the GIL, so one instance uses about one
core however many requests it has). Listens on $PORT.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Burn(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        ms = int(parse_qs(urlparse(self.path).query).get("ms", ["0"])[0])
        deadline = time.monotonic() + ms / 1000
        spins = 0
        while time.monotonic() < deadline:  # the work: pure CPU
            spins += 1
        body = f"burned {ms} ms ({spins} spins, revision {os.environ.get('K_REVISION', '?')})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


def main() -> None:
    server = Server(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Burn)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
