"""The activator end to end: real proxy on 127.0.0.1, real upstream instances, real HTTP probes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.activator.instances import eventually, run_instance
from tests.activator.test_reporter import Sink
from zeroserve.activator.handler import Activator
from zeroserve.activator.probe import HttpProber
from zeroserve.activator.reporter import ConcurrencyReporter
from zeroserve.activator.throttler import Throttler
from zeroserve.net import ProxyServer
from zeroserve.net.headers import scan_request
from zeroserve.net.proxy import RequestHead, Response, Target
from zeroserve.observability.metrics import ActivatorMetrics, MeterRegistry

NS, REV = "default", "hello-00001"
REV_HEADERS = {"Knative-Serving-Revision": REV, "Knative-Serving-Namespace": NS}


@dataclass
class Rig:
    throttler: Throttler
    sink: Sink
    reporter: ConcurrencyReporter
    proxy: ProxyServer
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    async def get(self, path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, str]:
        async with self.session.get(self.url + path, headers=REV_HEADERS if headers is None else headers) as r:
            return r.status, await r.text()


async def make_rig(queue_depth: int = 10_000) -> AsyncIterator[Rig]:
    async with HttpProber() as prober:
        throttler = Throttler(prober, queue_depth=queue_depth)
        sink = Sink()
        reporter = ConcurrencyReporter(sink, pod_name="activator-test")
        proxy = ProxyServer(Activator(throttler, reporter).route)
        await proxy.start()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            yield Rig(throttler, sink, reporter, proxy, session)
        await proxy.stop(1)
        await throttler.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async for r in make_rig():
        yield r


async def test_probe_header_answered_by_the_activator(rig: Rig):
    """pkg/activator/handler/probe_handler.go: 200 ``activator``, another value 400 with it quoted."""
    assert await rig.get(headers={"K-Network-Probe": "activator"}) == (200, "activator")
    assert await rig.get(headers={"K-Network-Probe": "queue"}) == (400, 'unexpected probe header value: "queue"\n')
    assert await rig.get(headers={"K-Network-Probe": "<b>"}) == (
        400,
        'unexpected probe header value: "&lt;b&gt;"\n',
    )


async def test_the_ingress_network_probe_and_kubelet_probes_are_answered(rig: Rig):
    """cmd/activator/main.go: the health handler answers kubelet probes (healthz_handler.go), then
    knative/networking's probe handler the ingress's network probe, before any revision lookup."""
    probe = {"K-Network-Probe": "probe"}
    async with rig.session.get(rig.url, headers=probe | {"K-Network-Hash": "abc"}) as r:
        assert (r.status, await r.text(), r.headers.get("K-Network-Hash")) == (200, "", "abc")
    assert await rig.get(headers=probe) == (400, 'a probe request must contain a non-empty "K-Network-Hash" header\n')
    assert await rig.get(headers={"User-Agent": "kube-probe/1.31"}) == (200, "")
    assert await rig.get(headers={"K-Kubelet-Probe": "1", "K-Network-Probe": "queue"}) == (200, "")
    assert rig.sink.batches == []  # none of them counted for a revision


async def test_unknown_revision_is_404(rig: Rig):
    status, body = await rig.get()
    assert status == 404
    assert body.startswith("Error getting active endpoint:")
    assert f'"{REV}" not found' in body
    status, body = await rig.get(headers={})
    assert status == 404


async def test_holds_200_requests_until_an_instance_passes_its_probe(rig: Rig):
    rig.throttler.set_revision(NS, REV, 0, 300)
    requests = [asyncio.create_task(rig.get()) for _ in range(200)]
    await eventually(lambda: rig.throttler.waiting(NS, REV) == 200, what="200 requests held")
    assert [m.name for batch in rig.sink.batches for m in batch] == [REV]  # the poke, once
    assert rig.sink.batches[0][0].stat.average_concurrent_requests == 1.0
    async with run_instance(ready=False) as inst:
        rig.throttler.set_endpoints(NS, REV, [inst.address])
        await eventually(lambda: inst.probes >= 2, what="probed while not ready")
        assert rig.throttler.waiting(NS, REV) == 200  # not used before it passes
        inst.ready = True
        results = await asyncio.gather(*requests)
    assert results == [(200, f"served by {inst.port}")] * 200
    assert inst.served == 200


async def test_cc1_two_instances_never_more_than_one_each(rig: Rig):
    rig.throttler.set_revision(NS, REV, 1, 300)
    async with run_instance() as a, run_instance() as b:
        rig.throttler.set_endpoints(NS, REV, [a.address, b.address])
        await eventually(lambda: rig.throttler.capacity(NS, REV) == 2, what="both probed")
        requests = [asyncio.create_task(rig.get("/hold")) for _ in range(12)]
        await eventually(
            lambda: a.in_flight == 1 and b.in_flight == 1 and rig.throttler.waiting(NS, REV) == 10,
            what="one running on each instance, ten held",
        )
        a.gate.set()
        b.gate.set()
        results = await asyncio.gather(*requests)
    assert all(status == 200 for status, _ in results)
    assert (a.max_in_flight, b.max_in_flight) == (1, 1)
    assert a.served + b.served == 12


async def test_queue_bound_gives_503_at_once():
    async for rig in make_rig(queue_depth=5):
        rig.throttler.set_revision(NS, REV, 1, 300)
        held = [asyncio.create_task(rig.get()) for _ in range(5)]
        await eventually(lambda: rig.throttler.waiting(NS, REV) == 5, what="queue full")  # noqa: B023
        assert await rig.get() == (503, "pending request queue full\n")
        async with run_instance() as inst:
            rig.throttler.set_endpoints(NS, REV, [inst.address])
            assert [s for s, _ in await asyncio.gather(*held)] == [200] * 5


async def test_revision_timeout_while_held_is_504(rig: Rig):
    rig.throttler.set_revision(NS, REV, 0, 0.2)
    assert await rig.get() == (504, "activator request timeout\n")
    assert rig.throttler.waiting(NS, REV) == 0
    assert rig.reporter.report(1e12)[0].name == REV  # counted in and out


@pytest.mark.parametrize(("response_start", "idle"), [(0.3, 0.0), (0.0, 0.3)], ids=["response-start", "idle"])
async def test_time_held_counts_toward_response_start_and_idle(rig: Rig, response_start: float, idle: float):
    """Knative wraps the throttler in the timeout handler with all three of the revision's
    timeouts (cmd/activator/main.go): held past one of them is 504 while still held."""
    rig.throttler.set_revision(NS, REV, 0, 300, response_start, idle)
    assert await asyncio.wait_for(rig.get(), 10.0) == (504, "activator request timeout\n")
    assert rig.throttler.waiting(NS, REV) == 0


@pytest.mark.parametrize(("response_start", "idle"), [(0.3, 0.0), (0.0, 0.3)], ids=["response-start", "idle"])
async def test_the_standalone_activator_applies_response_start_and_idle(rig: Rig, response_start: float, idle: float):
    rig.throttler.set_revision(NS, REV, 0, 300, response_start, idle)
    async with run_instance() as inst:
        rig.throttler.set_endpoints(NS, REV, [inst.address])
        await eventually(lambda: rig.throttler.capacity(NS, REV) > 0, what="instance probed")
        assert await asyncio.wait_for(rig.get("/hold"), 10.0) == (504, "activator request timeout\n")
        assert await rig.get("/") == (200, f"served by {inst.port}")


async def test_proxy_headers_reach_the_instance(rig: Rig):
    rig.throttler.set_revision(NS, REV, 0, 300)
    async with run_instance() as inst:
        rig.throttler.set_endpoints(NS, REV, [inst.address])
        headers = REV_HEADERS | {"Host": "hello.default.example.com"}
        status, _ = await rig.get("/", headers=headers)
    assert status == 200
    seen = {k.lower(): v for k, v in inst.headers[0].items()}
    assert seen["k-proxy-request"] == "activator"
    assert seen["k-original-host"] == "hello.default.example.com"
    assert seen["host"] == f"127.0.0.1:{inst.port}"
    assert "knative-serving-revision" not in seen
    assert "knative-serving-namespace" not in seen


async def test_upstream_error_is_502(rig: Rig):
    rig.throttler.set_revision(NS, REV, 0, 300)
    async with run_instance() as inst:
        rig.throttler.set_endpoints(NS, REV, [inst.address])
        await eventually(lambda: rig.throttler.capacity(NS, REV) > 0, what="probed")
    # the instance is gone but still listed: connection refused
    status, _ = await rig.get()
    assert status == 502


async def test_revision_from_host_when_no_headers(rig: Rig):
    rig.throttler.set_revision(NS, REV, 0, 300)
    async with run_instance() as inst:
        rig.throttler.set_endpoints(NS, REV, [inst.address])
        status, body = await rig.get(headers={"Host": f"{REV}.{NS}.svc.cluster.local"})
    assert (status, body) == (200, f"served by {inst.port}")


async def test_stats_poke_then_reports(rig: Rig):
    rig.throttler.set_revision(NS, REV, 0, 300)
    async with run_instance() as inst:
        rig.throttler.set_endpoints(NS, REV, [inst.address])
        assert (await rig.get())[0] == 200
        assert len(rig.sink.batches) == 1  # the poke went out at once
        assert (await rig.get())[0] == 200  # no second poke
    assert len(rig.sink.batches) == 1
    loop = asyncio.get_running_loop()
    rig.reporter.tick(loop.time())
    (report,) = rig.sink.batches[-1]
    assert report.name == REV
    assert report.stat.request_count == 1.0  # 2 requests - the poke's 1


async def test_with_room_the_route_is_a_target_at_once_and_without_a_waiter(rig: Rig):
    """The fast path: no coroutine when an instance has room; the request is counted all the same."""
    rig.throttler.set_revision(NS, REV, 0, 300)
    activator = Activator(rig.throttler, rig.reporter)
    headers = [(k.encode(), v.encode()) for k, v in REV_HEADERS.items()]
    head = RequestHead("GET", "/", "1.1", headers, "", None, knative=scan_request(headers).knative)
    async with run_instance() as inst:
        held = activator.route(head)  # no instance yet: a coroutine that waits
        assert asyncio.iscoroutine(held)
        waiting = asyncio.ensure_future(held)
        await eventually(lambda: rig.throttler.waiting(NS, REV) == 1, what="the first request held")
        rig.throttler.set_endpoints(NS, REV, [inst.address])
        first = await waiting
        assert isinstance(first, Target) and (first.host, first.port) == inst.address
        second = activator.route(head)
        assert isinstance(second, Target) and (second.host, second.port) == inst.address
        # Both counted, in flight: the first report subtracts the poke's one request (as Knative's does).
        (message,) = rig.reporter.report(asyncio.get_running_loop().time() + 1.0)
        assert message.stat.request_count == 1.0
        assert message.stat.average_concurrent_requests > 0.5  # about 2 - 1
        first.release()
        second.release()


async def test_in_process_dispatch_answers_a_kubelet_probe_as_the_activator_does(rig: Rig):
    """zeroserve up's gateway calls dispatch for a revision in proxy mode: a K-Kubelet-Probe request
    gets the activator's health answer (healthz_handler.go), not a slot on the revision."""
    rig.throttler.set_revision(NS, REV, 0, 300)
    info = rig.throttler.revision(NS, REV)
    assert info is not None
    headers = [(b"K-Kubelet-Probe", b"1")]
    head = RequestHead("GET", "/", "1.1", headers, "", None, knative=scan_request(headers).knative)
    answer = Activator(rig.throttler, rig.reporter).dispatch(head, NS, REV, info)
    assert isinstance(answer, Response) and (answer.status, answer.body) == (200, b"")
    assert rig.throttler.waiting(NS, REV) == 0 and rig.sink.batches == []


async def test_knatives_request_metrics_follow_the_requests_held_and_proxied(rig: Rig):
    """handler.go: ``kn.revision.request.queued`` while waiting for capacity, ``active`` while proxied;
    concurrency_reporter.go: each report's concurrency as ``kn.revision.request.concurrency``."""
    meters = MeterRegistry()
    metrics = ActivatorMetrics(meters, lambda ns, rev: ("hello", "hello-config"))
    reporter = ConcurrencyReporter(rig.sink, metrics=metrics)
    activator = Activator(rig.throttler, reporter, metrics=metrics)
    rig.throttler.set_revision(NS, REV, 1, 300)
    headers = [(k.encode(), v.encode()) for k, v in REV_HEADERS.items()]
    head = RequestHead("GET", "/", "1.1", headers, "", None, knative=scan_request(headers).knative)
    key = (("k8s.namespace.name", NS), ("kn.revision.name", REV))

    def values() -> tuple[float | None, float | None]:
        return metrics.queued.values.get(key), metrics.active.values.get(key)

    async with run_instance() as inst:
        routed = [activator.route(head), activator.route(head)]
        held = [asyncio.ensure_future(r) for r in routed if asyncio.iscoroutine(r)]  # no instance: both wait
        assert len(held) == 2
        await eventually(lambda: rig.throttler.waiting(NS, REV) == 2, what="two requests held")
        assert values() == (2, 0)
        rig.throttler.set_endpoints(NS, REV, [inst.address])
        first = await asyncio.wait_for(asyncio.shield(held[0]), 10)  # CC 1: one at a time
        assert isinstance(first, Target)
        assert values() == (1, 1)
        first.status = 200
        first.release()
        second = await asyncio.wait_for(held[1], 10)
        assert isinstance(second, Target) and values() == (0, 1)
        reporter.tick(asyncio.get_running_loop().time() + 1.0)
        second.release()
    assert values() == (0, 0)
    (point,) = [p for m in meters.collect() if m.name == "kn.revision.request.concurrency" for p in m.points]
    assert dict(point.attrs) == {
        "k8s.namespace.name": NS,
        "kn.revision.name": REV,
        "kn.service.name": "hello",
        "kn.configuration.name": "hello-config",
    }
    assert isinstance(point.value, float) and point.value >= 0
    kinds = {m.name: (m.kind, m.unit) for m in meters.collect()}
    assert kinds["kn.revision.request.queued"] == ("updowncounter", "{request}")
    assert kinds["kn.revision.request.active"] == ("updowncounter", "{request}")
