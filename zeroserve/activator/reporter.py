"""The activator's load reports to the autoscaler (Knative ``concurrency_reporter.go``).

Per revision the activator keeps a :class:`~zeroserve.queue.stats.RequestStats` of the requests
it holds or proxies. The **first** request for a revision without an entry sends at once a stat
``{concurrency 1, request count 1}``: the poke that scales a revision from zero without waiting
for a report. Then, every second, :meth:`ConcurrencyReporter.report` cuts one stat per revision;
the first report after the poke subtracts the request already counted (concurrency not below 0);
each report's concurrency is also Knative's ``kn.revision.request.concurrency`` when ``metrics`` is given.
A revision that saw no request during a whole period is forgotten, so the next request pokes
again.

Stats leave through a :class:`StatSink`, defined here by its consumer: in one process the
autoscaler is called directly; as its own process the activator uses :class:`HttpStatSink`,
which POSTs JSON to the autoscaler's stat server without ever blocking a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.observability.metrics import ActivatorMetrics
from zeroserve.queue.stats import RequestStats

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger(__name__)

REPORT_INTERVAL = 1.0
"""Seconds between reports (Knative ``reportInterval``)."""
SINK_QUEUE = 1024
"""Batches an :class:`HttpStatSink` keeps while the autoscaler is slow; beyond, the oldest go."""

RevisionKey = tuple[str, str]


class StatSink(Protocol):
    """Where the activator's stats go; ``send`` must not block."""

    def send(self, messages: list[StatMessage]) -> None: ...


class _Entry:
    __slots__ = ("first_request", "refs", "stats")

    def __init__(self, now: float, pod_name: str) -> None:
        self.stats = RequestStats(now, pod_name=pod_name, report_period=REPORT_INTERVAL)
        self.first_request = 1.0
        self.refs = 0
        """Requests in flight: an entry is never dropped under them."""


class ConcurrencyReporter:
    """Counts requests per revision and cuts the reports (pure: time comes in as ``now``)."""

    def __init__(self, sink: StatSink, pod_name: str = "activator", metrics: ActivatorMetrics | None = None) -> None:
        """``metrics``: each report's concurrency is recorded there too (``kn.revision.request.concurrency``)."""
        self.sink = sink
        self.pod_name = pod_name
        self.metrics = metrics
        self._entries: dict[RevisionKey, _Entry] = {}

    def request_in(self, namespace: str, revision: str, now: float) -> None:
        key = (namespace, revision)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(now, self.pod_name)
            poke = Stat(pod_name=self.pod_name, average_concurrent_requests=1.0, request_count=1.0)
            self.sink.send([StatMessage(namespace, revision, poke)])
        entry.refs += 1
        entry.stats.req_in(now, proxied=False)

    def request_out(self, namespace: str, revision: str, now: float) -> None:
        entry = self._entries.get((namespace, revision))
        if entry is None:  # cannot happen: entries with requests in flight are kept
            return
        entry.refs -= 1
        entry.stats.req_out(now, proxied=False)

    def report(self, now: float) -> list[StatMessage]:
        """One stat per revision for the period that ends at ``now``; idle revisions are dropped."""
        messages: list[StatMessage] = []
        for key, entry in list(self._entries.items()):
            report = entry.stats.report(now)
            first, entry.first_request = entry.first_request, 0.0
            if report.average_concurrent_requests == 0 and entry.refs == 0:
                del self._entries[key]
            stat = Stat(
                pod_name=self.pod_name,
                average_concurrent_requests=max(report.average_concurrent_requests - first, 0.0),
                request_count=report.request_count - first,
            )
            messages.append(StatMessage(key[0], key[1], stat))
        return messages

    def tick(self, now: float) -> None:
        """Report and send (what the 1 s ticker calls)."""
        messages = self.report(now)
        if self.metrics is not None:  # as Knative's reportToMetricsBackend: each report, not the poke
            for m in messages:
                self.metrics.reported(m.namespace, m.name, m.stat.average_concurrent_requests)
        if messages:
            self.sink.send(messages)

    def tracked(self) -> list[RevisionKey]:
        return sorted(self._entries)

    async def run(self, interval: float = REPORT_INTERVAL, clock: Callable[[], float] | None = None) -> None:
        """Tick every ``interval`` seconds until cancelled."""
        loop = asyncio.get_running_loop()
        now = clock or loop.time
        while True:
            await asyncio.sleep(interval)
            self.tick(now())


class HttpStatSink:
    """Fire-and-forget POSTs of ``[StatMessage wire...]`` to the autoscaler's stat server.

    ``send`` only queues (bounded: when full, the oldest batch is dropped, newer load matters
    more); :meth:`run` posts the batches one after the other and logs failures.
    """

    def __init__(
        self, url: str | Callable[[], str | None], *, max_batches: int = SINK_QUEUE, timeout: float = 5.0
    ) -> None:
        """``url``: the stat server's, or a function that finds it for each batch (None: not known
        now; the batch is dropped, as one that fails)."""
        self.url = url
        self.timeout = timeout
        self._queue: asyncio.Queue[list[StatMessage]] = asyncio.Queue(max_batches)
        self.dropped = 0
        self.sent = 0

    def send(self, messages: list[StatMessage]) -> None:
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
                self._queue.task_done()
                self.dropped += 1
        self._queue.put_nowait(messages)

    async def run(self) -> None:
        """Post queued batches until cancelled."""
        import aiohttp  # only a standalone activator posts its stats (not up's workers: loaded per process)

        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                batch = await self._queue.get()
                try:
                    await self._post(session, batch)
                finally:
                    self._queue.task_done()

    async def _post(self, session: aiohttp.ClientSession, batch: list[StatMessage]) -> None:
        import aiohttp

        url = self.url if isinstance(self.url, str) else self.url()
        if url is None:
            logger.warning("no stat server known: %d stats dropped", len(batch))
            return
        body = [message.to_wire() for message in batch]
        try:
            async with session.post(url, json=body) as resp:
                if resp.status >= 300:
                    logger.warning("stat server %s answered %d", url, resp.status)
                else:
                    self.sent += len(batch)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.warning("sending %d stats to %s failed: %r", len(batch), url, exc)

    async def drain(self) -> None:
        """Wait until every queued batch was posted (or failed); for tests and shutdown."""
        await self._queue.join()
