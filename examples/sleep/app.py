"""Sleep: ``GET /?ms=N`` waits N milliseconds then answers (like Knative's autoscale sample).

Stdlib only; one thread per request, so concurrent requests really overlap. Listens on $PORT.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Sleep(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        ms = int(query.get("ms", ["0"])[0])
        threading.Event().wait(ms / 1000)  # the work this sample simulates
        body = f"slept {ms} ms (revision {os.environ.get('K_REVISION', '?')})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the listen backlog: bursts of connections must not be dropped (default 5)
    daemon_threads = True


def main() -> None:
    server = Server(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Sleep)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"sleep listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
