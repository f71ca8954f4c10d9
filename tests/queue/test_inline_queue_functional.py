"""The inline queue-proxy: the gateway and the activator admit requests through one per-instance
breaker and stats, against a real app on 127.0.0.1, with a real HTTP client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest

from tests.activator.test_reporter import Sink
from tests.queue.qp_app import App, run_app
from tests.support.polling import eventually
from zeroserve.activator.handler import Activator
from zeroserve.activator.reporter import ConcurrencyReporter
from zeroserve.activator.throttler import Throttler
from zeroserve.autoscaler.scraper import InProcessStatsClient, ScrapeError
from zeroserve.gateway import Backend, Gateway, RouteEntry, Rule
from zeroserve.net import ProxyServer
from zeroserve.queue.inline import InlineQueue, InstanceLimits

NS, REV = "default", "hello-00001"
HOST = "hello.default.localhost"
REV_HEADERS = {"Knative-Serving-Revision": REV, "Knative-Serving-Namespace": NS, "Host": HOST}


async def always_ready(_host: str, _port: int) -> bool:
    return True


@dataclass
class Rig:
    app: App
    inline: InlineQueue
    gateway: Gateway
    activator: ProxyServer
    throttler: Throttler
    session: aiohttp.ClientSession

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.app.port)

    async def via_gateway(self, path: str) -> tuple[int, str]:
        assert self.gateway.ports is not None
        url = f"http://127.0.0.1:{self.gateway.ports[0]}{path}"
        async with self.session.get(url, headers={"Host": HOST}) as r:
            return r.status, await r.text()

    async def via_activator(self, path: str) -> tuple[int, str]:
        async with self.session.get(f"http://127.0.0.1:{self.activator.port}{path}", headers=REV_HEADERS) as r:
            return r.status, await r.text()


def make_rig_factory(limits: InstanceLimits) -> Callable[[], AsyncIterator[Rig]]:
    async def factory() -> AsyncIterator[Rig]:
        async with run_app() as app:
            inline = InlineQueue()
            address = ("127.0.0.1", app.port)
            inline.add(address, limits)
            gateway = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0), admission=inline)
            await gateway.start()
            rule = Rule((HOST,), "ExternalIP", (Backend(NS, REV, 100),))
            gateway.publish(RouteEntry(NS, "hello", 1, (rule,)))
            gateway.set_endpoints(NS, REV, [address])
            throttler = Throttler(always_ready)
            throttler.set_revision(NS, REV, limits.container_concurrency, limits.timeout)
            throttler.set_endpoints(NS, REV, [address])
            reporter = ConcurrencyReporter(Sink(), pod_name="activator-test")
            activator = ProxyServer(Activator(throttler, reporter, admission=inline).route)
            await activator.start()
            await eventually(lambda: throttler.capacity(NS, REV) > 0, timeout=10.0)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as session:
                yield Rig(app, inline, gateway, activator, throttler, session)
            await activator.stop(1)
            await gateway.stop(1)
            await throttler.close()

    return factory


@pytest.fixture
async def cc1() -> AsyncIterator[Rig]:
    async for rig in make_rig_factory(InstanceLimits(container_concurrency=1))():
        yield rig


async def test_cc1_through_the_gateway_one_runs_ten_wait_the_twelfth_is_refused_at_once(cc1: Rig) -> None:
    instance = cc1.inline.get(cc1.address)
    assert instance is not None and instance.breaker is not None
    held = [asyncio.create_task(cc1.via_gateway("/held")) for _ in range(11)]
    await eventually(lambda: instance.in_flight == 11 and cc1.app.in_flight == 1, timeout=10.0)
    assert instance.breaker.pending == 10
    assert await cc1.via_gateway("/held") == (503, "pending request queue full\n")
    cc1.app.gate.set()
    assert [r[0] for r in await asyncio.gather(*held)] == [200] * 11
    assert cc1.app.max_in_flight == 1
    await eventually(lambda: instance.in_flight == 0 and cc1.gateway.in_flight(cc1.address) == 0, timeout=10.0)


async def test_gateway_and_activator_share_the_instance_breaker(cc1: Rig) -> None:
    instance = cc1.inline.get(cc1.address)
    assert instance is not None
    direct = asyncio.create_task(cc1.via_gateway("/held"))
    await eventually(lambda: cc1.app.in_flight == 1, timeout=10.0)
    proxied = asyncio.create_task(cc1.via_activator("/held"))
    await eventually(lambda: instance.in_flight == 2, timeout=10.0)
    assert instance.stats.proxied_concurrency == 1
    assert cc1.app.in_flight == 1  # the activator's request waits in the instance's breaker
    cc1.app.gate.set()
    assert [(await direct)[0], (await proxied)[0]] == [200, 200]
    assert cc1.app.max_in_flight == 1


async def test_stats_count_direct_and_proxied_and_are_scraped_in_process(cc1: Rig) -> None:
    cc1.app.gate.set()
    assert (await cc1.via_gateway("/held"))[0] == 200
    assert (await cc1.via_activator("/held"))[0] == 200
    instance = cc1.inline.get(cc1.address)
    assert instance is not None
    cc1.inline.report(asyncio.get_running_loop().time())
    stat = await InProcessStatsClient(cc1.inline.stat).fetch(*cc1.address)
    assert stat.request_count == 2
    assert stat.proxied_request_count == 1
    assert stat.rps == 1
    with pytest.raises(ScrapeError):
        await InProcessStatsClient(cc1.inline.stat).fetch("127.0.0.1", 1)


async def test_activator_path_keeps_the_clients_host_and_marks_the_request_proxied(cc1: Rig) -> None:
    status, body = await cc1.via_activator("/headers")
    assert status == 200
    seen = json.loads(body)
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert seen["host"] == HOST
    assert headers["k-proxy-request"] == "activator"
    assert "knative-serving-revision" not in headers
    assert "k-original-host" not in headers


async def test_time_queued_counts_toward_the_revision_timeout() -> None:
    async for rig in make_rig_factory(InstanceLimits(container_concurrency=1, timeout=0.5))():
        await queued_request_times_out(rig)


async def queued_request_times_out(rig: Rig) -> None:
    instance = rig.inline.get(rig.address)
    assert instance is not None and instance.breaker is not None
    blocker = asyncio.create_task(rig.via_gateway("/never"))
    await eventually(lambda: instance.breaker is not None and instance.breaker.running == 1, timeout=10.0)
    assert await rig.via_gateway("/held") == (504, "request timeout\n")
    assert (await blocker)[0] == 504
    await eventually(lambda: instance.in_flight == 0, timeout=10.0)


async def test_a_client_leaving_while_queued_gives_its_place_back(cc1: Rig) -> None:
    instance = cc1.inline.get(cc1.address)
    assert instance is not None and instance.breaker is not None
    running = asyncio.create_task(cc1.via_gateway("/held"))
    await eventually(lambda: cc1.app.in_flight == 1, timeout=10.0)
    queued = asyncio.create_task(cc1.via_gateway("/held"))
    await eventually(lambda: instance.in_flight == 2, timeout=10.0)
    queued.cancel()
    await eventually(
        lambda: instance.in_flight == 1 and instance.breaker is not None and instance.breaker.in_flight == 1,
        timeout=10.0,
    )
    assert cc1.gateway.in_flight(cc1.address) == 1
    cc1.app.gate.set()
    assert (await running)[0] == 200


async def test_drain_waits_for_requests_in_flight_then_forgets_the_instance(cc1: Rig) -> None:
    held = [asyncio.create_task(cc1.via_gateway("/held")) for _ in range(3)]
    instance = cc1.inline.get(cc1.address)
    assert instance is not None
    await eventually(lambda: instance.in_flight == 3, timeout=10.0)
    cc1.gateway.set_endpoints(NS, REV, [])
    drained = asyncio.create_task(cc1.inline.drain(cc1.address))
    await eventually(lambda: instance.retired, timeout=10.0)
    assert not drained.done()
    cc1.app.gate.set()
    await drained
    assert [r[0] for r in await asyncio.gather(*held)] == [200] * 3
    assert cc1.inline.get(cc1.address) is None


async def test_sync_adds_new_instances_and_retires_gone_ones_when_idle() -> None:
    inline = InlineQueue()
    a, b = ("127.0.0.1", 1001), ("127.0.0.1", 1002)
    inline.sync((), (a, b), InstanceLimits(container_concurrency=2))
    one = inline.get(a)
    assert one is not None and one.breaker is not None and one.breaker.queue_depth == 20
    inline.sync((a, b), (b,), InstanceLimits())
    assert inline.get(a) is None and inline.get(b) is not None
    unlimited = InlineQueue().add(a, InstanceLimits(container_concurrency=0))
    assert unlimited.breaker is None


async def test_activator_deadline_bounds_the_wait_in_the_instance_breaker(cc1: Rig) -> None:
    cc1.throttler.set_revision(NS, REV, 1, 0.5)  # the activator's timeout; the instance's is 300 s
    instance = cc1.inline.get(cc1.address)
    assert instance is not None
    running = asyncio.create_task(cc1.via_gateway("/held"))
    await eventually(lambda: cc1.app.in_flight == 1, timeout=10.0)
    assert await cc1.via_activator("/held") == (504, "activator request timeout\n")
    assert instance.in_flight == 1 and instance.stats.proxied_concurrency == 0
    cc1.app.gate.set()
    assert (await running)[0] == 200


@pytest.mark.parametrize("limit", ["response_start_timeout", "idle_timeout"])
async def test_time_queued_counts_toward_response_start_and_idle_timeouts(limit: str) -> None:
    """The inline queue wraps its breaker in the revision's timeouts, as Knative's queue-proxy does
    (pkg/queue/sharedmain/handlers.go): queued past the limit is 504 while still queued."""
    limits = InstanceLimits(
        container_concurrency=1,
        response_start_timeout=0.3 if limit == "response_start_timeout" else 0.0,
        idle_timeout=0.3 if limit == "idle_timeout" else 0.0,
    )
    async for rig in make_rig_factory(limits)():
        instance = rig.inline.get(rig.address)
        assert instance is not None and instance.breaker is not None and instance.breaker.reserve()
        assert await asyncio.wait_for(rig.via_gateway("/held"), 10.0) == (504, "request timeout\n")
        assert (instance.in_flight, rig.app.served) == (0, 0)
        instance.breaker.release()


@pytest.mark.parametrize("limit", ["response_start", "idle"])
async def test_the_activators_timeouts_bound_the_wait_in_the_instance_breaker(cc1: Rig, limit: str) -> None:
    """Through the activator its own timeout handler counts (cmd/activator/main.go): the revision's
    responseStart or idle limit, time in the instance's breaker included."""
    rs, idle = (0.3, 0.0) if limit == "response_start" else (0.0, 0.3)
    cc1.throttler.set_revision(NS, REV, 1, 300, rs, idle)
    instance = cc1.inline.get(cc1.address)
    assert instance is not None and instance.breaker is not None and instance.breaker.reserve()
    answer = await asyncio.wait_for(cc1.via_activator("/held"), 10.0)
    assert answer == (504, "activator request timeout\n")
    assert (instance.in_flight, cc1.app.served) == (0, 0)
    instance.breaker.release()


async def test_a_kubelet_probe_through_the_gateway_passes_the_breaker_and_is_not_counted(cc1: Rig) -> None:
    """As the queue-proxy's ProxyHandler (pkg/queue/handler.go): K-Kubelet-Probe goes past stats and breaker."""
    instance = cc1.inline.get(cc1.address)
    assert instance is not None and instance.breaker is not None and instance.breaker.reserve()
    assert cc1.gateway.ports is not None
    url = f"http://127.0.0.1:{cc1.gateway.ports[0]}/held"

    async def probe() -> tuple[int, str]:
        async with cc1.session.get(url, headers={"Host": HOST, "K-Kubelet-Probe": "1"}) as r:
            return r.status, await r.text()

    answer = asyncio.create_task(probe())
    await eventually(lambda: cc1.app.in_flight == 1, timeout=10.0)
    assert (instance.in_flight, instance.breaker.in_flight) == (0, 1)
    cc1.app.gate.set()
    assert await answer == (200, "done")
    instance.breaker.release()
