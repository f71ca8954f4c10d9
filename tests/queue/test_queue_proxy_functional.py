"""The queue-proxy in-process against a real app on 127.0.0.1, driven by a real HTTP client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import aiohttp
import httpx
import pytest

from tests.queue.qp_app import App, run_app
from tests.support.h2app import serve as serve_h2app
from tests.support.polling import eventually
from zeroserve.observability.metrics import MeterRegistry, QueueMetrics, SidecarSeries
from zeroserve.queue.server import QueueProxy
from zeroserve.queue.settings import Settings, UserProbe

PROBE = {"K-Network-Probe": "queue"}


@asynccontextmanager
async def queue_proxy(app: App, **changes: Any) -> AsyncIterator[QueueProxy]:
    settings = replace(Settings(user_port=app.port, serving_port=0, admin_port=0), **changes)
    async with QueueProxy(settings) as qp:
        yield qp


@pytest.fixture
async def app() -> AsyncIterator[App]:
    async with run_app() as app:
        yield app


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def get(client: aiohttp.ClientSession, port: int, path: str, **kw: Any) -> tuple[int, str]:
    async with client.get(f"http://127.0.0.1:{port}{path}", **kw) as response:
        return response.status, await response.text()


async def test_cc1_twelve_requests_one_runs_ten_wait_twelfth_is_rejected_at_once(
    app: App, client: aiohttp.ClientSession
) -> None:
    async with queue_proxy(app, container_concurrency=1) as qp:
        held = [asyncio.create_task(get(client, qp.serving_port, "/held")) for _ in range(11)]
        await eventually(
            lambda: qp.breaker is not None and qp.breaker.in_flight == 11 and app.in_flight == 1, timeout=10.0
        )
        assert qp.breaker is not None and qp.breaker.pending == 10
        assert await get(client, qp.serving_port, "/held") == (503, "pending request queue full\n")
        assert not any(task.done() for task in held)
        app.gate.set()
        results = await asyncio.gather(*held)
        assert results == [(200, "done")] * 11
        assert app.max_in_flight == 1
        assert (qp.breaker.in_flight, qp.stats.concurrency) == (0, 0)


async def test_cc0_has_no_breaker(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app, container_concurrency=0) as qp:
        assert qp.breaker is None
        held = [asyncio.create_task(get(client, qp.serving_port, "/held")) for _ in range(30)]
        await eventually(lambda: app.in_flight == 30, timeout=10.0)
        app.gate.set()
        assert [status for status, _ in await asyncio.gather(*held)] == [200] * 30


async def test_revision_timeout_gives_504(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app, timeout=0.3) as qp:
        assert await get(client, qp.serving_port, "/never") == (504, "request timeout\n")
        assert qp.stats.concurrency == 0


async def test_time_queued_counts_against_the_revision_timeout(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app, container_concurrency=1, timeout=0.3) as qp:
        assert qp.breaker is not None and qp.breaker.reserve()  # the one slot is busy
        assert await get(client, qp.serving_port, "/held") == (504, "request timeout\n")
        assert (qp.breaker.in_flight, qp.stats.concurrency) == (1, 0)
        qp.breaker.release()


@pytest.mark.parametrize("limit", ["response_start_timeout", "idle_timeout"])
async def test_time_queued_counts_toward_response_start_and_idle_timeouts(
    app: App, client: aiohttp.ClientSession, limit: str
) -> None:
    """Knative's timeout handler wraps the breaker (pkg/queue/sharedmain/handlers.go): a request
    queued longer than responseStartTimeoutSeconds or idleTimeoutSeconds gets 504 while queued."""
    async with queue_proxy(app, container_concurrency=1, **{limit: 0.3}) as qp:
        assert qp.breaker is not None and qp.breaker.reserve()  # the one slot is busy
        answer = await asyncio.wait_for(get(client, qp.serving_port, "/held"), 10.0)
        assert answer == (504, "request timeout\n")
        assert (qp.breaker.in_flight, qp.stats.concurrency, app.served) == (1, 0, 0)
        qp.breaker.release()


async def test_response_start_timeout_gives_504(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app, response_start_timeout=0.2) as qp:
        assert await get(client, qp.serving_port, "/never") == (504, "request timeout\n")


async def test_idle_timeout_gives_504(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app, idle_timeout=0.2) as qp:
        assert await get(client, qp.serving_port, "/never") == (504, "request timeout\n")


async def test_forwarded_and_host_reach_the_app(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app) as qp:
        url = f"http://127.0.0.1:{qp.serving_port}/headers"
        async with client.get(url, headers={"Host": "hello.default.example.com"}) as response:
            body = await response.json()
        headers = {k.lower(): v for k, v in body["headers"]}
        assert body["host"] == "hello.default.example.com"
        assert headers["forwarded"].startswith("for=127.0.0.1;proto=http")
        assert headers["x-forwarded-for"] == "127.0.0.1"


async def test_host_moved_aside_by_the_activator_is_restored(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app) as qp:
        url = f"http://127.0.0.1:{qp.serving_port}/headers"
        moved = {"Host": f"127.0.0.1:{qp.serving_port}", "K-Original-Host": "hello.default.localhost:8080"}
        async with client.get(url, headers={**moved, "K-Proxy-Request": "activator"}) as response:
            body = await response.json()
        names = [k.lower() for k, _ in body["headers"]]
        assert body["host"] == "hello.default.localhost:8080"
        assert names.count("host") == 1 and "k-original-host" not in names


async def test_probe_answers_queue_only_once_the_app_is_ready(app: App, client: aiohttp.ClientSession) -> None:
    app.healthy = False
    probe = UserProbe(kind="http", path="/healthz")
    async with queue_proxy(app, readiness_probe=probe) as qp:
        pending = asyncio.create_task(get(client, qp.serving_port, "/", headers=PROBE))
        await eventually(lambda: app.health_checks >= 3, timeout=10.0)  # the probe is being retried ...
        assert not pending.done()  # ... and held until the app is ready
        app.healthy = True
        assert await pending == (200, "queue")
        assert await get(client, qp.serving_port, "/", headers=PROBE) == (200, "queue")
        assert qp.stats.concurrency == 0 and qp.stats.report(0).request_count == 0  # probes are not counted


async def test_concurrent_probes_share_one_run(app: App, client: aiohttp.ClientSession) -> None:
    app.healthy = False
    async with queue_proxy(app, readiness_probe=UserProbe(kind="http", path="/healthz")) as qp:
        probes = [asyncio.create_task(get(client, qp.serving_port, "/", headers=PROBE)) for _ in range(20)]
        await eventually(lambda: app.health_checks >= 3, timeout=10.0)
        checks = app.health_checks
        app.healthy = True
        assert await asyncio.gather(*probes) == [(200, "queue")] * 20
        assert app.health_checks - checks <= 2  # one shared run, not twenty


async def test_non_aggressive_probe_fails_at_once(app: App, client: aiohttp.ClientSession) -> None:
    app.healthy = False
    probe = UserProbe(kind="http", path="/healthz", period=10)
    async with queue_proxy(app, readiness_probe=probe) as qp:
        assert await get(client, qp.serving_port, "/", headers=PROBE) == (503, "queue not ready\n")
        assert app.health_checks == 1


async def test_other_probe_values_are_rejected(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app) as qp:
        status, _ = await get(client, qp.serving_port, "/", headers={"K-Network-Probe": "activator"})
        assert status == 400


@pytest.mark.parametrize("agent", ["kube-probe/1.31", "Knative-Activator-Probe", "Knative-Autoscaling-Probe/1"])
async def test_a_probes_user_agent_gets_the_health_check(app: App, client: aiohttp.ClientSession, agent: str) -> None:
    """knative/pkg network/handlers/drain.go: kubelet's, the activator's and the autoscaler's probes
    are the health check (pkg/queue/health/handler.go), whatever else they carry."""
    async with queue_proxy(app) as qp:

        async def probe(**headers: str) -> tuple[int, str]:
            return await asyncio.wait_for(get(client, qp.serving_port, "/held", headers=headers), 10.0)

        assert await probe(**{"User-Agent": agent, "K-Network-Probe": "queue"}) == (200, "queue")
        assert await probe(**{"User-Agent": agent}) == (400, "unexpected probe header value: \n")
        hashed = {"User-Agent": agent, "K-Network-Probe": "probe", "K-Network-Hash": "h"}
        assert await probe(**hashed) == (400, "unexpected probe header value: probe\n")
        assert (app.served, qp.stats.report(0).request_count) == (0, 0)


async def test_the_ingress_network_probe_is_answered_with_its_hash(app: App, client: aiohttp.ClientSession) -> None:
    """knative/pkg network/handlers/drain.go serveKProbe: the hash echoed, 400 without one, 503 draining."""
    probe = {"K-Network-Probe": "probe"}
    async with queue_proxy(app) as qp:
        url = f"http://127.0.0.1:{qp.serving_port}/held"
        async with client.get(url, headers=probe | {"K-Network-Hash": "abc"}) as r:
            assert (r.status, await r.text(), r.headers.get("K-Network-Hash")) == (200, "", "abc")
        status, body = await get(client, qp.serving_port, "/held", headers=probe)
        assert (status, body) == (400, 'a probe request must contain a non-empty "K-Network-Hash" header\n')
        assert app.served == 0
        qp.drainer.draining = True  # as a drain does first
        hashed = probe | {"K-Network-Hash": "abc"}
        assert await get(client, qp.serving_port, "/", headers=hashed) == (503, "shutting down\n")


async def test_a_kubelet_probe_header_passes_the_breaker_and_is_not_counted(
    app: App, client: aiohttp.ClientSession
) -> None:
    """Knative's queue.ProxyHandler: a request with K-Kubelet-Probe goes to the app past the stats and
    the breaker (knative/networking header.IsKubeletProbe)."""
    async with queue_proxy(app, container_concurrency=1) as qp:
        assert qp.breaker is not None and qp.breaker.reserve()  # the one slot is busy
        probe = asyncio.create_task(get(client, qp.serving_port, "/held", headers={"K-Kubelet-Probe": "queue"}))
        await eventually(lambda: app.in_flight == 1, timeout=10.0)
        assert (qp.stats.concurrency, qp.breaker.in_flight) == (0, 1)
        app.gate.set()
        assert await probe == (200, "done")
        qp.breaker.release()


async def test_stats_on_the_admin_port_reflect_load(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app, pod="hello-1") as qp:
        held = [asyncio.create_task(get(client, qp.serving_port, "/held")) for _ in range(3)]
        proxied = asyncio.create_task(get(client, qp.serving_port, "/held", headers={"K-Proxy-Request": "activator"}))
        await eventually(lambda: app.in_flight == 4, timeout=10.0)
        seen: list[dict[str, Any]] = []

        async def scrape() -> bool:
            status, text = await get(client, qp.admin_port, "/stats")
            assert status == 200
            stat = json.loads(text)
            if stat not in seen:
                seen.append(stat)
            return bool(stat["averageConcurrentRequests"] == 4.0)

        await until_async(scrape)
        app.gate.set()
        await asyncio.gather(*held, proxied)
        last = seen[-1]
        assert last["averageProxiedConcurrentRequests"] == 1.0
        assert last["podName"] == "hello-1"
        assert sum(float(s["requestCount"]) for s in seen) == 4
        assert sum(float(s["proxiedRequestCount"]) for s in seen) == 1


async def until_async(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)  # wait-ok: polling interval of a deadline-bounded wait


async def test_admin_port_answers_404_elsewhere(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app) as qp:
        status, _ = await get(client, qp.admin_port, "/nope")
        assert status == 404


async def test_drain_completes_every_request_in_flight_while_probes_fail(
    app: App, client: aiohttp.ClientSession
) -> None:
    async with queue_proxy(app, drain_quiet_period=0.3) as qp:
        assert await get(client, qp.serving_port, "/", headers=PROBE) == (200, "queue")
        held = [asyncio.create_task(get(client, qp.serving_port, "/held")) for _ in range(30)]
        await eventually(lambda: app.in_flight == 30, timeout=10.0)
        drain = asyncio.create_task(client.post(f"http://127.0.0.1:{qp.admin_port}/drain"))
        await eventually(lambda: qp.drainer.draining, timeout=10.0)
        assert await get(client, qp.serving_port, "/", headers=PROBE) == (503, "shutting down\n")
        late = asyncio.create_task(get(client, qp.serving_port, "/held"))  # still served in the quiet period
        await eventually(lambda: app.in_flight == 31, timeout=10.0)
        assert not drain.done()
        app.gate.set()
        assert [status for status, _ in await asyncio.gather(*held, late)] == [200] * 31
        async with await drain as response:
            assert (response.status, await response.text()) == (200, "drained\n")
        assert qp.drained.is_set()
        with pytest.raises(aiohttp.ClientConnectionError):
            await get(client, qp.serving_port, "/held")  # the serving port is closed once drained


async def test_wait_for_drain_is_a_drain_too(app: App, client: aiohttp.ClientSession) -> None:
    async with queue_proxy(app, drain_quiet_period=0.05) as qp:
        assert await get(client, qp.admin_port, "/wait-for-drain") == (200, "drained\n")
        assert qp.drained.is_set()


async def test_an_h2c_app_is_spoken_to_over_http2_and_http2_clients_are_served() -> None:
    """``USER_PROTOCOL=h2c``: requests (a kubelet probe too) reach the app over h2c, whichever protocol
    they came in (Knative's queue-proxy proxies an h2c revision's requests so)."""
    async with serve_h2app() as (h2, port), QueueProxy(Settings(user_port=port, serving_port=0, h2c=True)) as qp:
        async with httpx.AsyncClient() as http1:
            got = await http1.get(f"http://127.0.0.1:{qp.serving_port}/proto")
            assert (got.http_version, got.text) == ("HTTP/1.1", "HTTP/2.0")
            probe = await http1.get(f"http://127.0.0.1:{qp.serving_port}/proto", headers={"K-Kubelet-Probe": "x"})
            assert probe.text == "HTTP/2.0"
        async with httpx.AsyncClient(http1=False, http2=True) as http2:
            got = await http2.get(f"http://127.0.0.1:{qp.serving_port}/proto")
            assert (got.http_version, got.text) == ("HTTP/2", "HTTP/2.0")
        assert [protocol for protocol, _, _ in h2.requests] == ["HTTP/2.0"] * 3


async def test_knatives_request_metrics_on_the_admin_port(app: App, client: aiohttp.ClientSession) -> None:
    """kn.serving.invocation.duration by status (probes not counted) and kn.serving.queue.depth, as
    GET /series gives them to `zeroserve up` (which sums the pods: SidecarSeries)."""
    names = {"namespace": "default", "revision": "hello-00001", "service": "hello", "configuration": "hello"}
    async with queue_proxy(app, container_concurrency=1, pod="hello-1", **names) as qp:
        app.gate.set()
        assert [(await get(client, qp.serving_port, "/headers"))[0] for _ in range(3)] == [200] * 3
        assert (await get(client, qp.serving_port, "/missing"))[0] == 404
        assert (await get(client, qp.serving_port, "/healthz", headers={"K-Kubelet-Probe": "queue"}))[0] == 200
        status, text = await get(client, qp.admin_port, "/series")
    assert status == 200
    body = json.loads(text)
    assert body["pod"] == "hello-1"
    by_status = {
        dict(map(tuple, s["attrs"]))["http.response.status_code"]: s
        for s in body["series"]
        if s["name"] == "kn.serving.invocation.duration"
    }
    assert {code: s["count"] for code, s in by_status.items()} == {200: 3, 404: 1}
    assert sum(by_status[200]["counts"]) == 3 and by_status[200]["sum"] > 0
    (depth,) = [s for s in body["series"] if s["name"] == "kn.serving.queue.depth"]
    assert dict(map(tuple, depth["attrs"])) == {
        "k8s.namespace.name": "default",
        "kn.revision.name": "hello-00001",
        "kn.service.name": "hello",
        "kn.configuration.name": "hello",
    }

    # up's side: the pods summed per attribute set; a pod gone keeps its counts, not its depth
    metrics = QueueMetrics(MeterRegistry())
    sums = SidecarSeries(metrics)
    rev = ("default", "hello-00001")
    sums.update(rev, "hello-1", body["series"])
    sums.update(rev, "hello-2", body["series"])
    sums.live(["hello-1", "hello-2"])
    sums.publish()
    counts = {dict(a)["http.response.status_code"]: h.count for a, h in metrics.duration.series.items()}
    assert counts == {200: 6, 404: 2}
    sums.live(["hello-1"])
    sums.publish()
    assert {h.count for h in metrics.duration.series.values()} == {6, 2}
    assert list(metrics.depth.values.values()) == [depth["value"]]
    sums.update(rev, "hello-3", [{"name": "kn.serving.invocation.duration", "attrs": "bad"}])  # skipped
    sums.keep([])  # the revision is gone
    sums.publish()
    assert metrics.duration.series == {} and metrics.depth.values == {}
