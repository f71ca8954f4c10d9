"""Hello, the Knative helloworld sample as a plain Python process (stdlib only).

Answers every GET with "Hello <TARGET>!" on $PORT, as the runtime contract asks, and says which
revision served it. Stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        target = os.environ.get("TARGET", "World")
        body = f"Hello {target}! (revision {os.environ.get('K_REVISION', '?')})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


class Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the listen backlog: bursts of connections must not be dropped (default 5)
    daemon_threads = True


def main() -> None:
    server = Server(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Hello)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"hello listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
