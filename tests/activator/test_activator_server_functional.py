"""``zeroserve activator`` as its own server, learning revisions and endpoints from a fake API watch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.activator.instances import eventually, run_instance
from tests.activator.test_reporter import Sink
from zeroserve.activator.server import (
    ENDPOINTS_PATH,
    REVISIONS_PATH,
    ActivatorServer,
    ActivatorSettings,
    apply_revision_event,
    endpoint_addresses,
)
from zeroserve.activator.throttler import Throttler
from zeroserve.net.proxy import Timeouts

TOKEN = "s3cret"
NS, REV = "default", "hello-00001"


@dataclass
class FakeApi:
    """Streams the events the test pushes, as newline-delimited JSON, on the two watch paths."""

    port: int = 0
    queues: dict[str, asyncio.Queue[dict[str, Any] | None]] = field(default_factory=dict)
    params: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    unauthorized: int = 0

    def queue(self, path: str) -> asyncio.Queue[dict[str, Any] | None]:
        return self.queues.setdefault(path, asyncio.Queue())

    async def push(self, path: str, type_: str, obj: dict[str, Any]) -> None:
        await self.queue(path).put({"type": type_, "object": obj})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.unauthorized += 1
            return web.json_response({"kind": "Status", "code": 401}, status=401)
        self.params.setdefault(request.path, []).append(dict(request.query))
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        queue = self.queue(request.path)
        while (event := await queue.get()) is not None:  # None: end this watch (the client reconnects)
            await resp.write(json.dumps(event).encode() + b"\n")
        await resp.write_eof()
        return resp


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    fake = FakeApi()
    app = web.Application()
    app.router.add_get(REVISIONS_PATH, fake.handle)
    app.router.add_get(ENDPOINTS_PATH, fake.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = runner.addresses[0][1]
    yield fake
    for q in fake.queues.values():
        q.put_nowait(None)
    await runner.cleanup()


def revision(rv: str, cc: int = 1, timeout: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containerConcurrency": cc, "containers": [{"image": "x"}]}
    if timeout is not None:
        spec["timeoutSeconds"] = timeout
    return {"metadata": {"name": REV, "namespace": NS, "resourceVersion": rv}, "spec": spec}


def endpoints(rv: str, *ports: int) -> dict[str, Any]:
    return {
        "metadata": {"name": REV, "namespace": NS, "resourceVersion": rv},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": p} for p in ports]}] if ports else [],
    }


async def test_learns_revisions_and_endpoints_from_the_api(api: FakeApi):
    settings = ActivatorSettings(port=0, api=f"http://127.0.0.1:{api.port}", token=TOKEN)
    sink = Sink()
    async with ActivatorServer(settings, sink=sink, retry_delay=0.01) as server, aiohttp.ClientSession() as client:
        headers = {"Knative-Serving-Revision": REV, "Knative-Serving-Namespace": NS}
        url = f"http://127.0.0.1:{server.port}/"
        async with client.get(url, headers=headers) as r:
            assert r.status == 404

        await api.push(REVISIONS_PATH, "ADDED", revision("5", cc=1, timeout=30))
        await eventually(lambda: server.throttler.revision(NS, REV) is not None, what="revision known")
        info = server.throttler.revision(NS, REV)
        assert info is not None and (info.container_concurrency, info.timeout_seconds) == (1, 30.0)

        async with run_instance() as inst:
            await api.push(ENDPOINTS_PATH, "ADDED", endpoints("6", inst.port))
            async with client.get(url, headers=headers) as r:
                assert (r.status, await r.text()) == (200, f"served by {inst.port}")
            assert sink.batches and sink.batches[0][0].name == REV

            # the watch breaks: resumed after the last resourceVersion seen
            await api.queue(ENDPOINTS_PATH).put(None)
            await eventually(lambda: len(api.params.get(ENDPOINTS_PATH, [])) == 2, what="endpoints watch resumed")
            assert api.params[ENDPOINTS_PATH][1] == {"watch": "true", "resourceVersion": "6"}

            await api.push(ENDPOINTS_PATH, "MODIFIED", endpoints("7"))
            await eventually(lambda: server.throttler.capacity(NS, REV) == 0, what="endpoints gone")

        # a watch ERROR (compacted history): listed again from the start
        await api.push(ENDPOINTS_PATH, "ERROR", {"kind": "Status", "code": 410, "message": "too old"})
        await eventually(lambda: len(api.params[ENDPOINTS_PATH]) == 3, what="endpoints watch restarted")
        assert api.params[ENDPOINTS_PATH][2] == {"watch": "true"}

        await api.push(REVISIONS_PATH, "DELETED", revision("8"))
        await eventually(lambda: server.throttler.revision(NS, REV) is None, what="revision gone")
        async with client.get(url, headers=headers) as r:
            assert r.status == 404
    assert api.unauthorized == 0


async def test_revision_defaults(api: FakeApi):
    settings = ActivatorSettings(port=0, api=f"http://127.0.0.1:{api.port}", token=TOKEN)
    async with ActivatorServer(settings, sink=Sink(), retry_delay=0.01) as server:
        rev = revision("1")
        del rev["spec"]["containerConcurrency"]
        await api.push(REVISIONS_PATH, "ADDED", rev)
        await eventually(lambda: server.throttler.revision(NS, REV) is not None, what="revision known")
        info = server.throttler.revision(NS, REV)
        assert info is not None and (info.container_concurrency, info.timeout_seconds) == (0, 300.0)


def test_revision_events_carry_all_three_timeouts():
    """cmd/activator/main.go: timeoutSeconds, responseStartTimeoutSeconds, idleTimeoutSeconds of the
    revision spec (unset: none); the activator's 504 says ``activator request timeout``."""
    throttler = Throttler(None)
    rev = revision("1")
    rev["spec"] |= {"timeoutSeconds": 60, "responseStartTimeoutSeconds": 10, "idleTimeoutSeconds": 5}
    apply_revision_event(throttler, "ADDED", rev)
    info = throttler.revision(NS, REV)
    assert info is not None
    assert info.timeouts == Timeouts(
        connect=5.0, response_start=10.0, idle=5.0, total=60.0, message="activator request timeout"
    )
    del rev["spec"]["responseStartTimeoutSeconds"], rev["spec"]["idleTimeoutSeconds"]
    apply_revision_event(throttler, "MODIFIED", rev)
    info = throttler.revision(NS, REV)
    assert info is not None and (info.timeouts.response_start, info.timeouts.idle) == (None, None)


def test_endpoint_addresses():
    obj = {
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                "notReadyAddresses": [{"ip": "10.0.0.3"}],
                "ports": [{"port": 8012, "name": "http"}],
            },
            {"addresses": [{"ip": "10.0.0.9"}], "ports": []},
        ]
    }
    assert endpoint_addresses(obj) == [("10.0.0.1", 8012), ("10.0.0.2", 8012), ("10.0.0.3", 8012)]
    assert endpoint_addresses({}) == []


@pytest.mark.parametrize(
    ("env", "want"),
    [
        pytest.param({}, ActivatorSettings(), id="defaults"),
        pytest.param(
            {
                "ZEROSERVE_ACTIVATOR_PORT": "9000",
                "ZEROSERVE_API": "http://api:1",
                "ZEROSERVE_TOKEN": "t",
                "ZEROSERVE_ACTIVATOR_STAT_URL": "http://as:2/stats",
            },
            ActivatorSettings(port=9000, api="http://api:1", token="t", stat_url="http://as:2/stats"),
            id="env",
        ),
    ],
)
def test_settings_from_env(env: dict[str, str], want: ActivatorSettings):
    assert ActivatorSettings.from_env(env) == want


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"ZEROSERVE_ACTIVATOR_PORT": "x"}, "must be a port number, was: 'x'", id="port-not-number"),
        pytest.param({"ZEROSERVE_ACTIVATOR_PORT": "70000"}, "between 0 and 65535, was: 70000", id="port-range"),
        pytest.param({"ZEROSERVE_API": "api:1"}, "http(s) URL, was: 'api:1'", id="api-url"),
    ],
)
def test_settings_validation(env: dict[str, str], message: str):
    with pytest.raises(ValueError) as info:
        ActivatorSettings.from_env(env)
    assert message in str(info.value)


def test_flags_override_env():
    base = ActivatorSettings.from_env({"ZEROSERVE_ACTIVATOR_PORT": "9000", "ZEROSERVE_ACTIVATOR_HOST": "0.0.0.0"})
    assert base.with_flags(port=0, stat_url="http://x/") == ActivatorSettings(
        host="0.0.0.0", port=0, stat_url="http://x/"
    )
    assert base.with_flags() == base
    with pytest.raises(ValueError, match="was: -1"):
        base.with_flags(port=-1)
