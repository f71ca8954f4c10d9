"""The stats scraper against real HTTP servers on 127.0.0.1 (Knative stats_scraper_test.go scenarios)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.metrics import Stat
from zeroserve.autoscaler.sample import SCRAPER_POD_NAME
from zeroserve.autoscaler.scraper import HttpStatsClient, ScrapeError, Scraper

KEY = DeciderKey("ns", "rev")


@dataclass(frozen=True)
class Ep:
    host: str
    admin_port: int | None


class Pod:
    """A queue-proxy admin port: GET /stats answers ``stat`` (or ``status`` when failing)."""

    def __init__(self, stat: Stat, status: int = 200) -> None:
        self.stat, self.status, self.hits = stat, status, 0
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.status != 200:
            return web.Response(status=self.status, text="draining")
        return web.json_response(self.stat.to_wire())

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/stats", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = int(self.runner.addresses[0][1])


class Source:
    def __init__(self, endpoints: list[Ep]) -> None:
        self.list = endpoints

    def endpoints(self, namespace: str, revision: str) -> list[Ep]:
        assert (namespace, revision) == (KEY.namespace, KEY.revision)
        return self.list


@pytest.fixture
async def client() -> AsyncIterator[HttpStatsClient]:
    c = HttpStatsClient(timeout=3.0)
    yield c
    await c.close()


async def pods(*specs: tuple[float, int]) -> list[Pod]:
    started = []
    for conc, status in specs:
        p = Pod(Stat("p", average_concurrent_requests=conc, request_count=conc * 2), status)
        await p.start()
        started.append(p)
    return started


async def stop(started: list[Pod]) -> None:
    for p in started:
        assert p.runner is not None
        await p.runner.cleanup()


async def test_no_pods_no_stat(client: HttpStatsClient) -> None:
    assert await Scraper(Source([]), client).scrape(KEY) is None


async def test_all_pods_scraped_up_to_three(client: HttpStatsClient) -> None:
    started = await pods((1.0, 200), (2.0, 200), (3.0, 200))
    try:
        scraper = Scraper(Source([Ep("127.0.0.1", p.port) for p in started]), client)
        stat = await scraper.scrape(KEY)
        assert stat is not None
        assert stat.pod_name == SCRAPER_POD_NAME
        assert stat.average_concurrent_requests == 6.0 and stat.request_count == 12.0
        assert [p.hits for p in started] == [1, 1, 1]
    finally:
        await stop(started)


async def test_sample_of_five_is_four_and_extrapolated(client: HttpStatsClient) -> None:
    started = await pods(*[(2.0, 200)] * 5)
    try:
        scraper = Scraper(Source([Ep("127.0.0.1", p.port) for p in started]), client, random.Random(1))
        stat = await scraper.scrape(KEY)
        assert stat is not None
        assert stat.average_concurrent_requests == pytest.approx(10.0)  # 4 x 2 / 4 x 5
        assert sum(p.hits for p in started) == 4
    finally:
        await stop(started)


async def test_failed_pod_is_replaced(client: HttpStatsClient) -> None:
    started = await pods((2.0, 503), *[(2.0, 200)] * 4)
    try:
        scraper = Scraper(Source([Ep("127.0.0.1", p.port) for p in started]), client, random.Random(3))
        for _ in range(20):  # the failing pod is in most samples of 4 out of 5
            stat = await scraper.scrape(KEY)
            assert stat is not None and stat.average_concurrent_requests == pytest.approx(10.0)
        assert started[0].hits > 0
    finally:
        await stop(started)


async def test_sample_cannot_be_completed(client: HttpStatsClient) -> None:
    started = await pods((2.0, 200), (2.0, 500))
    try:
        scraper = Scraper(Source([Ep("127.0.0.1", p.port) for p in started]), client)
        with pytest.raises(ScrapeError):
            await scraper.scrape(KEY)
    finally:
        await stop(started)


async def test_refused_connection_fails_the_sample(client: HttpStatsClient) -> None:
    started = await pods((2.0, 200))
    port = started[0].port
    await stop(started)  # nothing listens there any more
    with pytest.raises(ScrapeError):
        await Scraper(Source([Ep("127.0.0.1", port)]), client).scrape(KEY)


async def test_instances_without_admin_port_are_not_counted(client: HttpStatsClient) -> None:
    started = await pods((4.0, 200))
    try:
        source = Source([Ep("127.0.0.1", started[0].port), Ep("127.0.0.1", None)])
        stat = await Scraper(source, client).scrape(KEY)
        assert stat is not None and stat.average_concurrent_requests == 4.0
    finally:
        await stop(started)
