"""The queue-proxy as a process: env settings, the ready line, SIGTERM drains and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.queue.qp_app import App, run_app
from zeroserve.queue.server import READY_LINE


@pytest.fixture
async def app() -> AsyncIterator[App]:
    async with run_app() as app:
        yield app


async def start_queue_proxy(env: dict[str, str], *argv: str) -> tuple[asyncio.subprocess.Process, int, int]:
    """Spawn; return the process and its serving and admin ports (once it printed its ready line)."""
    proc = await asyncio.create_subprocess_exec(
        *(argv or (sys.executable, "-m", "zeroserve.queue")),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    parts = dict(part.split("=") for part in line.split()[2:])
    assert line.strip() == READY_LINE.format(serving=parts["serving"], admin=parts["admin"])
    return proc, int(parts["serving"]), int(parts["admin"])


def env_for(app: App, **extra: str) -> dict[str, str]:
    return {
        "USER_PORT": str(app.port),
        "QUEUE_SERVING_PORT": "0",
        "QUEUE_ADMIN_PORT": "0",
        "QUEUE_DRAIN_QUIET_PERIOD": "0.2",
        "SERVING_POD": "hello-00001-x",
        **extra,
    }


async def test_sigterm_drains_in_flight_requests_and_exits_0(app: App) -> None:
    proc, serving, _ = await start_queue_proxy(env_for(app, CONTAINER_CONCURRENCY="2"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as client:

        async def fetch(path: str, **kw: Any) -> tuple[int, str]:
            async with client.get(f"http://127.0.0.1:{serving}{path}", **kw) as r:
                return r.status, await r.text()

        assert await fetch("/", headers={"K-Network-Probe": "queue"}) == (200, "queue")
        held = [asyncio.create_task(fetch("/held")) for _ in range(5)]
        async with asyncio.timeout(10):
            while app.in_flight < 2:  # CC=2: two in the app, three queued
                await asyncio.sleep(0.005)  # wait-ok: polling interval of a deadline-bounded wait
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            while (await fetch("/", headers={"K-Network-Probe": "queue"}))[0] != 503:
                await asyncio.sleep(0.005)  # wait-ok: polling interval of a deadline-bounded wait
        app.gate.set()
        assert [status for status, _ in await asyncio.gather(*held)] == [200] * 5
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert app.max_in_flight == 2


async def test_zeroserve_queue_proxy_subcommand(app: App) -> None:
    zeroserve = os.path.join(os.path.dirname(sys.executable), "zeroserve")
    proc, _, admin = await start_queue_proxy(env_for(app), zeroserve, "queue-proxy")
    async with aiohttp.ClientSession() as client, client.post(f"http://127.0.0.1:{admin}/drain") as response:
        assert response.status == 200
    assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_bad_settings_exit_2_with_the_value() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zeroserve.queue",
        env={**os.environ, "CONTAINER_CONCURRENCY": "lots"},
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"CONTAINER_CONCURRENCY must be an integer, was: 'lots'" in err
