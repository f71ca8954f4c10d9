"""LocalRuntime(queue_proxy=True): every instance is app + queue-proxy, real processes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.runtime import status_until
from zeroserve.runtime.base import Endpoint, Workload, WorkloadKey, WorkloadStatus
from zeroserve.runtime.local import LocalRuntime

KEY = WorkloadKey("default", "hello-00001")

APP = textwrap.dedent(
    """
    import http.server, json, os, signal, sys, threading, time

    state = sys.argv[1]
    lock = threading.Lock()
    in_flight = 0

    def on_term(signum, frame):
        with lock:
            with open(os.path.join(state, "term"), "w") as f:
                f.write(str(in_flight))
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            global in_flight
            with lock:
                in_flight += 1
                now = in_flight
            try:
                if self.path == "/slow":
                    time.sleep(1)  # wait-ok: the app's work (a slow request), not a test wait
                body = json.dumps({
                    "port": int(os.environ["PORT"]),
                    "in_flight": now,
                    "forwarded": self.headers.get("Forwarded"),
                }).encode()
            finally:
                with lock:
                    in_flight -= 1
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer.request_queue_size = 128
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    server.daemon_threads = True
    server.serve_forever()
    """
)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text(APP)
    (tmp_path / "state").mkdir()
    return path


def workload(app: Path, **changes: Any) -> Workload:
    base: dict[str, Any] = dict(
        key=KEY,
        service="hello",
        configuration="hello",
        image=None,
        command=(sys.executable, str(app)),
        args=(str(app.parent / "state"),),
        working_dir=None,
        env=(),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=30,
        container_concurrency=0,
        timeout_seconds=300,
    )
    return Workload(**(base | changes))


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(tmp_path / "data", queue_proxy=True, drain_quiet_period=0.3)
    yield runtime
    await runtime.close()


async def until_status(runtime: LocalRuntime, predicate: Any, timeout: float = 30.0) -> WorkloadStatus:
    return await status_until(runtime, KEY, predicate, timeout)


async def get(client: aiohttp.ClientSession, port: int, path: str, **kw: Any) -> tuple[int, str]:
    async with client.get(f"http://127.0.0.1:{port}{path}", **kw) as response:
        return response.status, await response.text()


async def test_endpoints_are_queue_proxy_ports_and_requests_reach_the_app(runtime: LocalRuntime, app: Path) -> None:
    await runtime.ensure(workload(app, container_concurrency=1), 1)
    status = await until_status(runtime, lambda s: s.ready == 1)
    (endpoint,) = status.endpoints
    assert endpoint.admin_port is not None
    async with aiohttp.ClientSession() as client:
        code, text = await get(client, endpoint.port, "/")
        assert code == 200
        reply = json.loads(text)
        assert reply["port"] != endpoint.port  # the app listens on the user port, behind the queue-proxy
        assert reply["forwarded"].startswith("for=127.0.0.1")
        assert await get(client, endpoint.port, "/", headers={"K-Network-Probe": "queue"}) == (200, "queue")
        code, text = await get(client, endpoint.admin_port, "/stats")
        assert code == 200
        assert json.loads(text)["podName"].startswith("hello-00001-")


async def test_removal_with_requests_in_flight_loses_none(runtime: LocalRuntime, app: Path) -> None:
    drained: list[Endpoint] = []

    async def drain(endpoint: Endpoint) -> None:
        drained.append(endpoint)

    runtime.drain = drain
    await runtime.ensure(workload(app), 1)
    (endpoint,) = (await until_status(runtime, lambda s: s.ready == 1)).endpoints
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as client:
        slow = [asyncio.create_task(get(client, endpoint.port, "/slow")) for _ in range(30)]
        async with asyncio.timeout(30):
            while json.loads((await get(client, endpoint.port, "/"))[1])["in_flight"] < 31:
                await asyncio.sleep(0.01)  # wait-ok: polling interval of a deadline-bounded wait
        removal = asyncio.create_task(runtime.remove(KEY))
        results = await asyncio.gather(*slow)
        await removal
    assert [code for code, _ in results] == [200] * 30
    assert drained == [endpoint]
    assert (app.parent / "state" / "term").read_text() == "0"  # SIGTERM came after the last request


async def test_without_the_sidecar_endpoints_are_the_app(tmp_path: Path, app: Path) -> None:
    runtime = LocalRuntime(tmp_path / "plain")
    try:
        await runtime.ensure(workload(app), 1)
        (endpoint,) = (await until_status(runtime, lambda s: s.ready == 1)).endpoints
        assert endpoint.admin_port is None
        async with aiohttp.ClientSession() as client:
            code, text = await get(client, endpoint.port, "/")
        assert code == 200
        assert json.loads(text)["port"] == endpoint.port
    finally:
        await runtime.close()
