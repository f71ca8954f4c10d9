"""An event subscriber that records what it receives (stdlib only): the eventing examples and tests.

``POST`` (any path): a CloudEvent delivered by a Trigger, binary or structured. The request's
headers, body and arrival time are kept in memory; ``GET /events`` answers them as JSON (a list of
``{"headers": {...}, "body": "...", "time": wall seconds, "monotonic": seconds}``, headers in
lower case, the body as text). Recording to a file too: ``RECORD_FILE`` (one JSON object a line).

How it answers a POST, from the environment:

* ``FAIL_FIRST=N``: 500 to the first ``N`` deliveries of each event id (``ce-id``, or ``id`` in a
  structured body), then ``STATUS`` — a subscriber that recovers.
* ``STATUS`` (default 200): the status of every other answer (``STATUS=500``: always failing).
* ``REPLY_TYPE``: answer with a binary-mode CloudEvent of that type (a reply into the broker); its
  data is the event's JSON object with ``REPLY_TYPE`` appended to its ``steps`` list (``{}`` when
  the data is not a JSON object): a transforming step of a Sequence.

Runs on $PORT as the runtime contract asks; stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_lock = threading.Lock()
_events: list[dict[str, Any]] = []
_attempts: dict[str, int] = {}


def _transformed(body: bytes, step: str) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return b"{}"
    steps = data.get("steps") if isinstance(data.get("steps"), list) else []
    return json.dumps({**data, "steps": [*steps, step]}).encode()


def _event_id(headers: dict[str, str], body: bytes) -> str:
    if "ce-id" in headers:
        return headers["ce-id"]
    try:
        return str(json.loads(body).get("id", ""))
    except (ValueError, AttributeError):
        return ""


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = {
            "headers": headers,
            "body": body.decode(errors="replace"),
            "time": time.time(),
            "monotonic": time.monotonic(),
        }
        event_id = _event_id(headers, body)
        with _lock:
            _events.append(record)
            _attempts[event_id] = attempt = _attempts.get(event_id, 0) + 1
            if path := os.environ.get("RECORD_FILE"):
                with open(path, "a") as f:
                    f.write(json.dumps(record) + "\n")
        status = int(os.environ.get("STATUS", "200"))
        if attempt <= int(os.environ.get("FAIL_FIRST", "0")):
            status = 500
        reply = os.environ.get("REPLY_TYPE")
        if reply and 200 <= status < 300:
            self._answer(
                status,
                _transformed(body, reply),
                {
                    "Ce-Specversion": "1.0",
                    "Ce-Id": str(uuid.uuid4()),
                    "Ce-Source": "/event-recorder",
                    "Ce-Type": reply,
                    "Content-Type": "application/json",
                },
            )
            return
        self._answer(status, b"" if status < 300 else b"failing on purpose\n", {})

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(_events).encode()
        self._answer(200, body, {"Content-Type": "application/json"})

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


def main() -> None:
    server = Server(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Recorder)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"event-recorder listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
