"""Benchmark (run by hand): the control plane with many Services (issue 19, item 2).

    .venv/bin/python bench/controlplane.py [-n 200] [--probe 20] [--concurrency 4] [--idle 10]
                                           [--timeout 300] [--profile FILE]

Starts a real ``zeroserve up`` on 127.0.0.1 (temp data dir, ephemeral ports, config-autoscaler
``allow-zero-initial-scale: "true"``), then through the API (aiohttp, HTTPS with the data dir's CA
and token):

1. creates ``n`` Services with ``autoscaling.knative.dev/initial-scale: "0"`` back to back
   (``concurrency`` POSTs in flight) and reports the time from the first POST until every one is
   Ready (seen on a watch of the Services);
2. with those ``n`` in place, creates ``probe`` more one at a time and reports apply -> Ready p50/p95;
3. reports ``up``'s idle CPU over ``idle`` seconds afterwards (utime+stime from /proc), its RSS
   before the Services and after, and the difference per Service;
4. in this process, an autoscaler tick (``Multiscaler.tick_all``) over ``n + probe`` KPA deciders at
   zero, CPU time per tick (the deciders ``up`` holds for these revisions, built the same way).

The anchor, before the platform starts and after it stops: this interpreter's CPU time for a fixed
workload with nothing of zeroserve in it (:func:`anchor_ms`), so that runs on different days, or on
a machine whose speed drifts (this VM's did by ~40 % from one day to the next, and by as much within
minutes), compare: all Ready is also printed in anchors (the mean of the two). ``up`` is CPU-bound
on one core here, so the ratio is what code changes move.

``--instances N [--zygote]`` (after the above; ``-n 0 --probe 0`` for it alone): one more Service
with ``min-scale: N`` (examples/hello spawned, or examples/hello-wsgi forked from its zygote), and the
time from its POST until its Revision reports N ready replicas (``actualReplicas``), polled every
20 ms: 0 -> N instances, as the issue's "0 -> 100 instances took 0.94 s" (16 cores, spawned).

Nothing else is started: the other Services stay at zero instances. Targets (issue 19, 2 cores): 1,000
Services all Ready <= 30 s; apply -> Ready p95 <= 1 s while 1,000 exist; idle CPU ~0; RSS per idle
Service <= 50 KB; a tick over 1,000 revisions <= 50 ms CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
CONFIG = 'config-autoscaler:\n  allow-zero-initial-scale: "true"\n'
SERVICES = "/apis/serving.knative.dev/v1/namespaces/default/services"
TICKS = os.sysconf("SC_CLK_TCK")


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/initial-scale": "0"}},
                "spec": {"containers": [{"command": [sys.executable, "examples/hello/app.py"]}]},
            }
        },
    }


def scaled(name: str, n: int, zygote: bool) -> dict[str, Any]:
    """A Service whose revision runs ``n`` instances from the start (min-scale and initial scale)."""
    scale = {"autoscaling.knative.dev/min-scale": str(n), "autoscaling.knative.dev/initial-scale": str(n)}
    if zygote:
        annotations = {**scale, "zeroserve.dev/python-app": "app:application"}
        container = {"command": [sys.executable, "app.py"], "workingDir": "examples/hello-wsgi"}
    else:
        annotations, container = scale, {"command": [sys.executable, "examples/hello/app.py"]}
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"template": {"metadata": {"annotations": annotations}, "spec": {"containers": [container]}}},
    }


async def scale_up(http: aiohttp.ClientSession, up: subprocess.Popen[bytes], n: int, zygote: bool) -> None:
    """0 -> ``n`` instances of one new Service: POST to ``actualReplicas == n`` on its revision."""
    cpu0 = cpu_seconds(up.pid)
    began = time.monotonic()
    async with http.post(SERVICES, json=scaled("scaled", n, zygote)) as resp:
        if resp.status != 201:
            raise SystemExit(f"create scaled: HTTP {resp.status}: {(await resp.read())[:300]!r}")
    revision = "/apis/serving.knative.dev/v1/namespaces/default/revisions/scaled-00001"
    replicas = 0
    while time.monotonic() - began < 300:
        async with http.get(revision) as resp:
            if resp.status == 200:
                replicas = (await resp.json()).get("status", {}).get("actualReplicas", 0)
        if replicas >= n:
            break
        await asyncio.sleep(0.02)  # a bench: polling the revision's ready replicas
    took = time.monotonic() - began
    what = "forked from a zygote (examples/hello-wsgi)" if zygote else "spawned (examples/hello)"
    if replicas < n:
        print(f"0 -> {n} instances {what}: only {replicas} ready after {took:.0f}s")
        return
    print(f"0 -> {n} instances {what}: {took:.2f}s from the POST; up used {cpu_seconds(up.pid) - cpu0:.1f}s CPU")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status", {})
    if status.get("observedGeneration") != obj["metadata"].get("generation"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))


@asynccontextmanager
async def platform_up(
    data: Path, profile: str | None
) -> AsyncIterator[tuple[subprocess.Popen[bytes], aiohttp.ClientSession]]:
    data.mkdir()
    (data / "config.yaml").write_text(CONFIG)
    prof = ["-m", "cProfile", "-o", profile] if profile else []
    log = (data.parent / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, *prof, "-m", "zeroserve", "up", "--data-dir", str(data), "--api-port", "0",
         "--gateway-port", "0"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        while not (data / "endpoints.json").exists():
            if up.poll() is not None:
                raise SystemExit(f"zeroserve up exited {up.returncode} (see {data.parent / 'up.log'})")
            await asyncio.sleep(0.05)  # a bench: waiting for the platform to write its endpoints
        endpoints = json.loads((data / "endpoints.json").read_text())
        ctx = ssl.create_default_context(cafile=endpoints["ca"])
        headers = {"Authorization": f"Bearer {(data / 'token').read_text().strip()}"}
        connector = aiohttp.TCPConnector(ssl=ctx, limit=64)
        async with aiohttp.ClientSession(endpoints["api"], headers=headers, connector=connector) as http:
            yield up, http
    finally:
        up.terminate()
        up.wait(60)
        log.close()


class Readiness:
    """Watches the Services; ``when[name]`` is the monotonic time each was first seen Ready."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.when: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.http.get(SERVICES, params={"watch": "true"}, timeout=timeout) as resp:
            resp.raise_for_status()
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object", {})
                name = obj.get("metadata", {}).get("name", "")
                if name not in self.when and event.get("type") != "DELETED" and ready(obj):
                    self.when[name] = time.monotonic()
                    self.changed.set()

    async def until(self, names: list[str], deadline: float) -> bool:
        while not all(n in self.when for n in names):
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return False
        return True


async def create(http: aiohttp.ClientSession, name: str) -> float:
    began = time.monotonic()
    async with http.post(SERVICES, json=service(name)) as resp:
        body = await resp.read()
        if resp.status != 201:
            raise SystemExit(f"create {name}: HTTP {resp.status}: {body[:300]!r}")
    return began


async def run(args: argparse.Namespace, tmp: Path) -> float | None:
    """The bench; the time until all were Ready (None when they were not)."""
    async with platform_up(tmp / "data", args.profile) as (up, http):
        watcher = Readiness(http)
        watch = asyncio.create_task(watcher.run())
        await asyncio.sleep(1.0)  # a bench: let up finish starting before the baseline RSS
        rss0, cpu0 = rss_kib(up.pid), cpu_seconds(up.pid)
        names = [f"svc-{i:05d}" for i in range(args.n)]
        gate = asyncio.Semaphore(args.concurrency)

        async def one(name: str) -> None:
            async with gate:
                await create(http, name)

        began = time.monotonic()
        await asyncio.gather(*(one(n) for n in names))
        created = time.monotonic() - began
        all_ready = await watcher.until(names, began + args.timeout)
        settled = time.monotonic() - began
        done = sum(n in watcher.when for n in names)
        print(f"{args.n} Services created in {created:.2f}s ({args.concurrency} in flight); ", end="")
        if all_ready:
            print(f"all Ready {settled:.2f}s after the first POST; up used {cpu_seconds(up.pid) - cpu0:.1f}s CPU")
        else:
            print(f"only {done} Ready after {settled:.0f}s")
            return None
        latencies = []
        for i in range(args.probe):
            name = f"probe-{i:03d}"
            start = await create(http, name)
            if not await watcher.until([name], start + args.timeout):
                print(f"{name}: not Ready after {args.timeout}s")
                return None
            latencies.append(watcher.when[name] - start)
        ms = [v * 1000 for v in latencies]
        if ms:
            print(
                f"apply -> Ready with {args.n} Services ({args.probe} one at a time): "
                f"p50 {pct(ms, 0.5):.0f} ms, p95 {pct(ms, 0.95):.0f} ms, max {max(ms):.0f} ms"
            )
        if args.instances:
            await scale_up(http, up, args.instances, args.zygote)
        watch.cancel()
        await asyncio.sleep(2.0)  # a bench: let the last reconciles finish before the idle window
        cpu1 = cpu_seconds(up.pid)
        await asyncio.sleep(args.idle)  # a bench: the idle window
        idle = (cpu_seconds(up.pid) - cpu1) / args.idle
        rss1 = rss_kib(up.pid)
        total = args.n + args.probe
        print(f"idle CPU of up over {args.idle:.0f}s: {idle * 100:.1f} % of one core")
        if total and not args.instances:  # (instances add the runtime's own state: not per Service)
            per = (rss1 - rss0) / total
            print(f"RSS of up: {rss0 / 1024:.0f} MiB before, {rss1 / 1024:.0f} MiB with {total} Services: "
                  f"{per:.0f} KiB ({per * 1.024:.1f} KB) per Service")  # fmt: skip
    if total:
        tick_cpu(total)
    return settled


ANCHOR_DOC: dict[str, Any] = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Revision",
    "metadata": {
        "name": "anchor-00001",
        "namespace": "default",
        "labels": {f"serving.knative.dev/label-{i}": f"value-{i}" for i in range(8)},
        "annotations": {f"example.com/annotation-{i}": "x" * 40 for i in range(8)},
    },
    "spec": {"containers": [{"name": f"c{i}", "image": "img", "env": [{"name": "K", "value": "v"}] * 6}
                            for i in range(3)]},
    "status": {"conditions": [{"type": t, "status": "True", "reason": "R", "lastTransitionTime": "T"}
                              for t in ("Ready", "Active", "ContainerHealthy", "ResourcesAvailable")]},
}  # fmt: skip
"""The anchor's document: about the size and shape of a stored Revision (~2.1 KB of JSON)."""


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value


def anchor_ms(rounds: int = 2000) -> float:
    """CPU ms for ``rounds`` times: the stdlib's ``json`` encoding and decoding :data:`ANCHOR_DOC`
    and a pure-Python copy of it (what a control plane in Python does most: JSON in C, dicts walked
    in Python). Best of five: the machine's speed in this run, with no zeroserve code in it."""
    best = float("inf")
    for _ in range(5):
        began = time.process_time()
        for _ in range(rounds):
            _walk(json.loads(json.dumps(ANCHOR_DOC)))
        best = min(best, time.process_time() - began)
    return best * 1000


def tick_cpu(n: int) -> None:
    """CPU of one ``tick_all`` over ``n`` KPA deciders at zero, built as up builds them."""
    from prometheus_client import CollectorRegistry

    from zeroserve.autoscaler.collector import Collector, DeciderKey
    from zeroserve.autoscaler.history import History
    from zeroserve.autoscaler.multiscaler import Multiscaler
    from zeroserve.autoscaler.targets import make_decider_spec
    from zeroserve.clock import SystemClock
    from zeroserve.config import Config

    class NoEndpoints:
        def endpoints(self, namespace: str, revision: str) -> list[Any]:
            return []

    ms = Multiscaler(
        Collector(), NoEndpoints(), SystemClock(), lambda _k: None, registry=CollectorRegistry(), history=History()
    )
    spec = make_decider_spec({"autoscaling.knative.dev/initial-scale": "0"}, 0, Config().autoscaler)
    for i in range(n):
        ms.watch(DeciderKey("default", f"svc-{i:05d}-00001"), spec)
    ticks = []
    for _ in range(10):
        began = time.process_time()
        ms.tick_all()
        ticks.append(time.process_time() - began)
    print(f"autoscaler tick over {n} revisions (in this process): p50 {pct(ticks, 0.5) * 1000:.1f} ms CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="Services created back to back")
    parser.add_argument("--probe", type=int, default=20, help="Services then created one at a time")
    parser.add_argument("--concurrency", type=int, default=4, help="POSTs in flight")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of the idle CPU window")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for Ready")
    parser.add_argument("--instances", type=int, default=0, help="then one Service scaled 0 -> N (min-scale N)")
    parser.add_argument("--zygote", action="store_true", help="--instances forked from a zygote (hello-wsgi)")
    parser.add_argument("--profile", metavar="FILE", help="run up under cProfile, its stats to FILE")
    args = parser.parse_args()
    before = anchor_ms()
    with tempfile.TemporaryDirectory() as tmp:
        settled = asyncio.run(run(args, Path(tmp)))
    after = anchor_ms()
    line = f"anchor (a fixed JSON workload, CPU, best of 5): {before:.0f} ms before the run, {after:.0f} ms after"
    if settled is not None:
        line += f"; all Ready = {settled * 2000 / (before + after):.0f} anchors (their mean)"
    print(line)


if __name__ == "__main__":
    main()
