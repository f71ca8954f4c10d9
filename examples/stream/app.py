"""Stream: server-sent events. ``GET /?n=N&ms=M`` sends N events, one every M milliseconds.

Stdlib only. Each event is flushed as it is produced, so a client sees them one by one through
the gateway. Listens on $PORT.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Stream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        n, ms = int(query.get("n", ["5"])[0]), int(query.get("ms", ["500"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(n):
            if i:
                threading.Event().wait(ms / 1000)
            data = f"id: {i}\ndata: event {i} from {os.environ.get('K_REVISION', '?')}\n\n".encode()
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the listen backlog: bursts of connections must not be dropped (default 5)
    daemon_threads = True


def main() -> None:
    server = Server(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Stream)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"stream listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
