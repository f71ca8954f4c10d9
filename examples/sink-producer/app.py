"""A SinkBinding subject (stdlib only): sends CloudEvents to ``$K_SINK``, the URL a SinkBinding
injects, with the extensions of ``$K_CE_OVERRIDES``.

``GET /``: ``{"K_SINK": ..., "K_CE_OVERRIDES": ...}`` as this instance sees them.
``POST /emit?type=T``: one binary-mode CloudEvent of type ``T`` (default ``dev.example.produced``),
the request's body as its data, POSTed to ``$K_SINK`` (through ``$http_proxy`` when the platform
sets one, so cluster-local and Broker URLs resolve); answers the sink's status.

Runs on $PORT; stops cleanly on SIGTERM.

``app.py --period S [--type T]``: no server; a ContainerSource's adapter (as Knative's heartbeats
sample): one event every ``S`` seconds, its data ``{"n": N}`` counting from 1, until SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def _env() -> dict[str, str]:
    return {k: os.environ.get(k, "") for k in ("K_SINK", "K_CE_OVERRIDES")}


def _send(event_type: str, data: bytes) -> int:
    headers = {
        "Ce-Specversion": "1.0",
        "Ce-Id": str(uuid.uuid4()),
        "Ce-Source": "/sink-producer",
        "Ce-Type": event_type,
        "Content-Type": "application/json",
    }
    overrides = json.loads(os.environ.get("K_CE_OVERRIDES") or "{}")
    for name, value in (overrides.get("extensions") or {}).items():
        headers[f"Ce-{name}"] = value
    request = urllib.request.Request(os.environ["K_SINK"], data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


class Producer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(200, json.dumps(_env()).encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        query = parse_qs(urlsplit(self.path).query)
        status = _send(query.get("type", ["dev.example.produced"])[0], body or b"{}")
        self._answer(200, json.dumps({"sinkStatus": status}).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def beat(period: float, event_type: str) -> None:
    """Send ``{"n": N}`` every ``period`` seconds until SIGTERM (a failed send is logged, not fatal)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    n = 0
    while not stop.is_set():
        n += 1
        try:
            print(f"event {n}: sink answered {_send(event_type, json.dumps({'n': n}).encode())}", flush=True)
        except OSError as e:
            print(f"event {n}: {e}", flush=True)
        stop.wait(period)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--period", type=float)
    parser.add_argument("--type", default="dev.example.heartbeat")
    args = parser.parse_args()
    if args.period is not None:
        beat(args.period, args.type)
        return
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Producer)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
