"""Benchmark (run by hand): first-byte latency of a request to a revision at zero instances.

    .venv/bin/python bench/coldstart.py [-n 20]

Starts a real ``zeroserve up`` (temp data dir, ephemeral ports, a 6 s stable window and a 1 s
scale-to-zero grace period), creates ``n`` hello Services, waits until every one has scaled to zero
after its first instance went idle (as in real life: the decider has seen the revision), then sends
one request to each through the gateway and takes the time to its first response byte: the
activator holds it, pokes the autoscaler, the runtime starts app + queue-proxy, the activator
probes and forwards.
Next to it, the app's own boot: ``examples/hello/app.py`` spawned alone, polled with a TCP
connect every 1 ms, then ``GET /`` — spawn to first byte, measured right before each cold start
(interleaved, so both see the same machine). Prints p50/p99 of both and the overhead.

The app runs on this interpreter (``sys.executable``), not on ``python3`` from PATH: on a machine
with pyenv that is a bash shim adding 60-120 ms of its own, and noisy, to both sides.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
APP = [sys.executable, "examples/hello/app.py"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def first_byte(port: int, host: str) -> float:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/", headers={"Host": host})
    response = conn.getresponse()
    elapsed = time.perf_counter() - start
    response.read()
    conn.close()
    assert response.status == 200, response.status
    return elapsed


def app_boot() -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    proc = subprocess.Popen(APP, cwd=REPO, env={**os.environ, "PORT": str(port)}, stdout=subprocess.DEVNULL)
    try:
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.001)  # a bench: 1 ms connect polling, as the runtime probes
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/")
        conn.getresponse().read()
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--queue-proxy", choices=("inline", "sidecar"), default="inline", help="zeroserve up's mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "config.yaml").write_text("config-autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 1s\n")
        up = subprocess.Popen(
            [sys.executable, "-m", "zeroserve", "up", "--data-dir", str(data), "--api-port", "0",
             "--gateway-port", "0", "--queue-proxy", args.queue_proxy],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while not (data / "endpoints.json").exists():
                time.sleep(0.05)  # a bench: waiting for the platform to write its endpoints
            gateway = urlsplit(json.loads((data / "endpoints.json").read_text())["gateway"]).port
            assert gateway is not None
            zs = [sys.executable, "-m", "zeroserve", "--data-dir", str(data)]
            for i in range(args.n):
                create = [*zs, "service", "create", f"cold{i}", "--cmd", APP[0], "--arg", APP[1]]
                subprocess.run(create, cwd=REPO, check=True, capture_output=True)
            while True:
                revisions = json.loads(
                    subprocess.run(
                        [*zs, "get", "rev", "-o", "json"], cwd=REPO, check=True, capture_output=True, text=True
                    ).stdout
                )["items"]
                if all(r["status"].get("actualReplicas") == 0 for r in revisions):
                    break
                time.sleep(0.5)  # a bench: waiting for every revision to scale to zero
            boots, cold = [], []
            for i in range(args.n):
                boots.append(app_boot())
                cold.append(first_byte(gateway, f"cold{i}.default.localhost"))
        finally:
            up.terminate()
            up.wait(60)

    def ms(values: list[float], p: float) -> float:
        return pct(values, p) * 1000

    print(f"Python {platform.python_version()} from {sys.base_prefix} (zeroserve up and the app)")
    print(f"app boot alone (spawn -> first byte), n={args.n}: p50 {ms(boots, 50):.1f} ms, p99 {ms(boots, 99):.1f} ms")
    print(f"cold start through zeroserve, n={args.n}: p50 {ms(cold, 50):.1f} ms, p99 {ms(cold, 99):.1f} ms")
    pairs = " ".join(f"{b * 1000:.0f}/{c * 1000:.0f}" for b, c in zip(boots, cold, strict=True))
    print(f"each, in order (boot/cold ms): {pairs}")
    print(
        f"overhead: p50 {ms(cold, 50) - ms(boots, 50):+.1f} ms, p99 {ms(cold, 99) - ms(boots, 99):+.1f} ms "
        f"(median of cold/boot {statistics.median(cold) / statistics.median(boots):.2f}x)"
    )


if __name__ == "__main__":
    main()
