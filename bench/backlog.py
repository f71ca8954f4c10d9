"""Experiment (run by hand): a burst from zero to an app with Python's default listen backlog.

    .venv/bin/python bench/backlog.py [-n 100] [--zeroserve PATH] [--queue-proxy inline|sidecar]

The app is the plainest Python web app there is: ``http.server.ThreadingHTTPServer`` with its
default ``request_queue_size`` of 5 (the listen backlog), HTTP/1.0, a connection per request.
Starts a real ``zeroserve up`` (temp data dir, ephemeral ports, a 6 s stable window, 1 s
scale-to-zero grace), creates the Service, waits until its revision has scaled to zero, then
sends ``n`` requests at once (one thread and one connection each, 60 s client timeout) through
the gateway. Prints how many were answered 200, and p50/p99/max of their latency.

When more connections arrive at once than the app accepts, the kernel's accept queue (backlog + 1)
overflows and every further SYN is dropped; the client's kernel sends it again after 1, 3, 7, 15,
31 s. ``--zeroserve PATH`` runs ``zeroserve up`` from another checkout (e.g. ``git archive`` of
an older commit unpacked in /tmp) to compare before and after on the same machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
APP = """
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello\\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def one(port: int, host: str, out: list[tuple[int, float]], go: threading.Event) -> None:
    go.wait()
    start = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/", headers={"Host": host})
        response = conn.getresponse()
        response.read()
        conn.close()
        status = response.status
    except OSError:  # the 60 s client timeout among them
        status = 0
    out.append((status, time.perf_counter() - start))


def burst(port: int, host: str, n: int) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    go = threading.Event()
    threads = [threading.Thread(target=one, args=(port, host, out, go)) for _ in range(n)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    return out


def zs(data: Path, zeroserve: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "zeroserve", "--data-dir", str(data), *args]
    env = {**os.environ, "PYTHONPATH": str(zeroserve)}
    done = subprocess.run(cmd, cwd=zeroserve, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--zeroserve", type=Path, default=REPO, help="the checkout to run zeroserve up from")
    parser.add_argument("--queue-proxy", choices=("inline", "sidecar"), default="inline", help="zeroserve up's mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "config.yaml").write_text("config-autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 1s\n")
        up = subprocess.Popen(
            [sys.executable, "-m", "zeroserve", "up", "--data-dir", str(data), "--api-port", "0",
             "--gateway-port", "0", "--queue-proxy", args.queue_proxy],
            cwd=args.zeroserve, env={**os.environ, "PYTHONPATH": str(args.zeroserve)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while not (data / "endpoints.json").exists():
                time.sleep(0.05)  # a bench: waiting for the platform to write its endpoints
            gateway = urlsplit(json.loads((data / "endpoints.json").read_text())["gateway"]).port
            assert gateway is not None
            zs(data, args.zeroserve, "service", "create", "backlog", "--cmd", sys.executable, "--arg=-c", "--arg", APP)
            while True:
                revisions = json.loads(zs(data, args.zeroserve, "get", "rev", "-o", "json"))["items"]
                if revisions and all(r["status"].get("actualReplicas") == 0 for r in revisions):
                    break
                time.sleep(0.5)  # a bench: waiting for the revision to scale to zero
            results = burst(gateway, "backlog.default.localhost", args.n)
        finally:
            up.terminate()
            up.wait(60)
    ok = [t for status, t in results if status == 200]
    others: dict[int, int] = {}
    for status, _ in results:
        if status != 200:
            others[status] = others.get(status, 0) + 1
    print(f"Python {platform.python_version()} from {sys.base_prefix}; zeroserve from {args.zeroserve.resolve()}")
    print(f"{args.n} concurrent requests from zero to a backlog-5 ThreadingHTTPServer, {args.queue_proxy} queue-proxy:")
    print(f"  answered 200: {len(ok)}/{args.n}" + (f"   others (0 = client error/timeout): {others}" if others else ""))
    if ok:
        print(
            f"  latency of the 200s: p50 {pct(ok, 50) * 1000:.0f} ms, p99 {pct(ok, 99) * 1000:.0f} ms, "
            f"max {max(ok) * 1000:.0f} ms"
        )
    slow = sorted(t for t in ok if t > 0.9)
    if slow:
        print("  over 0.9 s (s): " + " ".join(f"{t:.1f}" for t in slow))


if __name__ == "__main__":
    main()
