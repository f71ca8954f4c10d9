"""Benchmark: create N Services over HTTP against an in-process store + API server.

    .venv/bin/python bench/api_apply.py [--count 100] [--concurrency 1]

Starts a SqliteStore on a temporary directory and an ApiServer on 127.0.0.1:0, POSTs ``count``
Services (``concurrency`` at a time) and prints p50/p95/max latency of a create and the rate.
Admission is the real ``zeroserve.api.admission.admit``, wired as ``zeroserve up`` wires it.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from zeroserve.api import admission
from zeroserve.api.base import Obj
from zeroserve.apiserver import ADMIN_USER, Admit, ApiServer
from zeroserve.config import Config
from zeroserve.store import SqliteStore

TOKEN = "bench"
PATH = "/apis/serving.knative.dev/v1/namespaces/default/services"


def pick_admit() -> Admit:
    return functools.partial(admission.admit, cfg=Config(), user=ADMIN_USER)


def service(i: int) -> Obj:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": f"bench-{i:05d}"},
        "spec": {"template": {"spec": {"containers": [{"image": "registry.example/hello:1"}]}}},
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(count: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(Path(tmp) / "state.db")
        async with ApiServer(store, pick_admit(), TOKEN) as server:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with aiohttp.ClientSession(server.url, headers=headers) as http:
                latencies: list[float] = []
                gate = asyncio.Semaphore(concurrency)

                async def create(i: int) -> None:
                    async with gate:
                        start = time.perf_counter()
                        async with http.post(PATH, json=service(i)) as resp:
                            await resp.read()
                            if resp.status != 201:
                                raise RuntimeError(f"create {i}: HTTP {resp.status}")
                        latencies.append(time.perf_counter() - start)

                began = time.perf_counter()
                await asyncio.gather(*(create(i) for i in range(count)))
                elapsed = time.perf_counter() - began
        await store.close()
    ms = [v * 1000 for v in latencies]
    print(f"created {count} Services, concurrency {concurrency}, in {elapsed:.2f}s ({count / elapsed:.0f}/s)")
    print(
        f"create latency ms: p50 {percentile(ms, 0.5):.2f}  p95 {percentile(ms, 0.95):.2f}  "
        f"max {max(ms):.2f}  mean {statistics.fmean(ms):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.count, args.concurrency))


if __name__ == "__main__":
    main()
