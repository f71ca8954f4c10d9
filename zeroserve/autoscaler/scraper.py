"""Reads the revision's load from its instances (Knative ``pkg/autoscaler/metrics/stats_scraper.go``).

Every second the multiscaler asks the :class:`Scraper` for each watched revision's stat. The
scraper lists the revision's ready instances through an injected :class:`EndpointSource`, picks
a random sample of them (all of them up to 3, then the population-mean sample size of
``zeroserve.autoscaler.sample``), fetches ``GET http://host:admin_port/stats`` from each (a
queue-proxy's ``Stat`` of its last second, as JSON) and extrapolates the sum to the whole
revision. A failed instance is replaced by another unsampled one; when the instances run out
the scrape fails with :class:`ScrapeError` and nothing is recorded, as in Knative.

Knative prefers instances older than the stable window; our endpoints carry no age, so the
sample is drawn uniformly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

import aiohttp

from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.metrics import Stat
from zeroserve.autoscaler.sample import average_stats, population_mean_sample_size
from zeroserve.errors import ZeroserveError

log = logging.getLogger(__name__)

SCRAPE_INTERVAL = 1.0
"""Seconds between scrapes of a revision (``scrapeTickInterval``)."""
SCRAPE_TIMEOUT = 3.0
"""Seconds one instance's ``/stats`` may take (Knative's HTTP scrape client timeout)."""
STATS_PATH = "/stats"


class ScrapeError(ZeroserveError):
    """A scrape failed: the sample could not be completed (Knative ``errPodsExhausted``)."""


class ScrapeEndpoint(Protocol):
    """A ready instance (``zeroserve.runtime.base.Endpoint`` fits)."""

    @property
    def host(self) -> str: ...

    @property
    def admin_port(self) -> int | None: ...


class EndpointSource(Protocol):
    """The ready instances of a revision."""

    def endpoints(self, namespace: str, revision: str) -> Sequence[ScrapeEndpoint]: ...


@runtime_checkable
class ServingSource(Protocol):
    """An :class:`EndpointSource` that can also list at once the revisions with a ready instance."""

    def serving(self) -> Iterable[tuple[str, str]]:
        """``(namespace, revision)`` of each revision with a ready instance."""
        ...


class StatsClient(Protocol):
    """Fetches one instance's stat; raises on any failure."""

    async def fetch(self, host: str, port: int) -> Stat: ...


class HttpStatsClient:
    """``GET http://host:port/stats`` with aiohttp (one session, closed by ``close``)."""

    def __init__(self, timeout: float = SCRAPE_TIMEOUT) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, host: str, port: int) -> Stat:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.get(f"http://{host}:{port}{STATS_PATH}") as resp:
            if resp.status != 200:
                raise ScrapeError(f"GET {host}:{port}{STATS_PATH} answered {resp.status}")
            body = json.loads(await resp.read())
        if not isinstance(body, dict):
            raise ScrapeError(f"GET {host}:{port}{STATS_PATH}: not a stat object")
        return Stat.from_wire(body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class InProcessStatsClient:
    """``StatsClient`` for instances whose queue-proxy work runs in this process (inline mode).

    ``lookup(host, port)`` gives the instance's last 1 s report, or None when it is not known
    (the scrape of that instance fails, as an unreachable sidecar's would)."""

    def __init__(self, lookup: Callable[[str, int], Stat | None]) -> None:
        self._lookup = lookup

    async def fetch(self, host: str, port: int) -> Stat:
        stat = self._lookup(host, port)
        if stat is None:
            raise ScrapeError(f"no in-process stats for {host}:{port}")
        return stat


class Scraper:
    """One revision-wide Stat per call to :meth:`scrape`."""

    def __init__(self, source: EndpointSource, client: StatsClient, rng: random.Random | None = None) -> None:
        self._source = source
        self._client = client
        self._rng = rng or random.Random()

    def with_instances(self) -> list[DeciderKey] | None:
        """The revisions with a ready instance when the source can list them at once, else None
        (then each revision is asked by :meth:`targets`): a thousand revisions at zero are then not
        a thousand lookups a second."""
        if isinstance(self._source, ServingSource):
            return [DeciderKey(namespace, revision) for namespace, revision in self._source.serving()]
        return None

    def targets(self, key: DeciderKey) -> list[tuple[str, int]]:
        """``(host, admin_port)`` of the ready instances that can be scraped."""
        found = self._source.endpoints(key.namespace, key.revision)
        return [(e.host, e.admin_port) for e in found if e.admin_port is not None]

    async def scrape(self, key: DeciderKey) -> Stat | None:
        """The revision's extrapolated Stat; None with no instance; ScrapeError when the sample fails."""
        pods = self.targets(key)
        if not pods:
            return None
        self._rng.shuffle(pods)
        sample = population_mean_sample_size(len(pods))
        pending = iter(pods)
        results = await asyncio.gather(*(self._sample_one(key, pending) for _ in range(int(sample))))
        stats = [s for s in results if s is not None]
        if len(stats) < int(sample):
            raise ScrapeError(f"scraping {key}: {int(sample) - len(stats)} of {int(sample)} samples failed")
        return average_stats(stats, sample, float(len(pods)))

    async def _sample_one(self, key: DeciderKey, pending: Iterator[tuple[str, int]]) -> Stat | None:
        """Fetch from the next unsampled instance until one answers; None when none is left."""
        for host, port in pending:
            try:
                return await self._client.fetch(host, port)
            except (OSError, TimeoutError, aiohttp.ClientError, ValueError, ScrapeError) as e:
                log.info("scraping %s at %s:%d failed: %s", key, host, port, e)
        return None
