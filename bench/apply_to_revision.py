"""Benchmark (run by hand): apply -> Revision visible through the API, over N Services.

Starts a real `zeroserve up` (temp data dir, ephemeral API port), opens a watch on Revisions, then
creates N Services one after another over HTTP and measures, for each, the time from sending the
create to the watch event that shows ``NAME-00001``. Prints p50/p95/max.

    .venv/bin/python bench/apply_to_revision.py [-n 100]

``--workload image`` (default) gives each Service an image-only container, which the process
runtime refuses at once: this measures the control plane alone. ``--workload hello`` runs the
hello example for every Service, so instance start-up competes for the CPU as it would for real.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
BASE = "/apis/serving.knative.dev/v1"


def wait_file(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} did not appear")
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--workload", choices=("image", "hello"), default="image")
    parser.add_argument(
        "--gap",
        type=float,
        default=0.0,
        help="seconds to wait after each Revision appears (0: back to back, each apply queues behind the "
        "previous one's reconciles; 0.3: each apply meets an idle control plane)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zeroserve",
                "up",
                "--data-dir",
                str(data),
                "--api-port",
                "0",
                "--gateway-port",
                "0",
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_file(data / "endpoints.json")
            api = urlsplit(json.loads((data / "endpoints.json").read_text())["api"])
            token = (data / "token").read_text().strip()
            tls = ssl.create_default_context(cafile=data / "ca.crt")  # the API is HTTPS, signed by up's CA
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            seen: dict[str, float] = {}
            cond = threading.Condition()

            def watch() -> None:
                conn = http.client.HTTPSConnection(api.hostname, api.port, context=tls)
                conn.request("GET", f"{BASE}/revisions?watch=true", headers=headers)
                resp = conn.getresponse()
                while line := resp.readline():
                    event = json.loads(line)
                    name = event["object"]["metadata"]["name"]
                    with cond:
                        seen.setdefault(name, time.perf_counter())
                        cond.notify_all()

            threading.Thread(target=watch, daemon=True).start()
            conn = http.client.HTTPSConnection(api.hostname, api.port, context=tls)
            latencies = []
            container: dict[str, object] = (
                {"image": "ghcr.io/knative/helloworld-go"}
                if args.workload == "image"
                else {"command": ["python3", "examples/hello/app.py"]}
            )
            acks = []
            for i in range(args.n):
                name = f"bench{i}"
                body = {
                    "apiVersion": "serving.knative.dev/v1",
                    "kind": "Service",
                    "metadata": {"name": name},
                    "spec": {"template": {"spec": {"containers": [container]}}},
                }
                start = time.perf_counter()
                conn.request("POST", f"{BASE}/namespaces/default/services", json.dumps(body), headers)
                resp = conn.getresponse()
                resp.read()
                acks.append(time.perf_counter() - start)
                assert resp.status == 201, resp.status
                revision = f"{name}-00001"
                with cond:
                    if not cond.wait_for(lambda: revision in seen, timeout=30):  # noqa: B023
                        raise SystemExit(f"{name}-00001 never appeared")
                    latencies.append(seen[f"{name}-00001"] - start)
                if args.gap:
                    time.sleep(args.gap)
            ack = sorted(x * 1000 for x in acks)
            print(
                f"create acknowledged: p50 {statistics.median(ack):.1f} ms, p95 {ack[int(0.95 * len(ack)) - 1]:.1f} ms"
            )
            ms = sorted(x * 1000 for x in latencies)
            p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
            print(
                f"apply -> Revision visible, n={len(ms)}, gap {args.gap}s: p50 {statistics.median(ms):.1f} ms, "
                f"p95 {p95:.1f} ms, max {ms[-1]:.1f} ms (cpu count {os.cpu_count()})"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
