"""One decider per revision, ticking (Knative ``pkg/autoscaler/scaling/multiscaler.go`` + the collector's ticker).

The PA reconciler calls :meth:`Multiscaler.watch` with a revision's ``DeciderSpec`` (or
:meth:`watch_hpa` for the HPA class) on every reconcile and reads :meth:`get` back; the
multiscaler calls ``on_change(key)`` whenever a decision changes the desired scale or flips the
sign of the excess burst capacity, so the reconciler runs again. Its loop (:meth:`run`, or
``async with``) scrapes each revision every second into the :class:`~.collector.Collector` and
ticks each decider every 2 seconds. :meth:`record` takes the activator's stats and, when the
revision is at zero and the stat shows load, ticks at once (Knative's "poke": scale from zero
does not wait for the next tick; here also for a revision never started, see :meth:`record`).

A new decider starts with desired scale -1 (no decision) and the excess burst capacity Knative
assumes for ``initial_scale`` instances. Tests drive :meth:`tick` and :meth:`scrape` directly with
a fake clock; nothing here sleeps except the loop between rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType

from prometheus_client import CollectorRegistry

from zeroserve.api.annotations import RPS
from zeroserve.autoscaler.collector import Collector, DeciderKey, MetricSpec, default_metric_spec
from zeroserve.autoscaler.explain import Decision, TickLog, TickRecord
from zeroserve.autoscaler.history import History, Point
from zeroserve.autoscaler.hpa import HpaAutoscaler, HpaSpec, UsageSource
from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.autoscaler.prometheus import DeciderGauges, KnativeScaling
from zeroserve.autoscaler.scaling import (
    NO_DATA,
    TICK_INTERVAL,
    Autoscaler,
    DeciderSpec,
    NoData,
    ScaleResult,
    initial_excess_burst_capacity,
    same_sign,
)
from zeroserve.autoscaler.scraper import SCRAPE_INTERVAL, EndpointSource, ScrapeError, Scraper
from zeroserve.clock import Clock, rfc3339

__all__ = ["DeciderKey", "Decision", "Multiscaler", "OnChange"]

log = logging.getLogger(__name__)

OnChange = Callable[[DeciderKey], None]
NO_USAGE_SOURCE = "no usage source"


_NO_POINT = Point(0.0, -1, None, 0.0)
"""``_Runner.resting`` without a history to repeat."""


def _next(due: float, interval: float, now: float) -> float:
    """The next due time after ``due``; rounds missed while busy are skipped, not run in a burst."""
    due += interval
    return due if due > now else now + interval


class _ReadyCount:
    """The decider's ``PodCounter``: the revision's ready instances now."""

    def __init__(self, source: EndpointSource, key: DeciderKey) -> None:
        self._source, self._key = source, key

    def ready_count(self) -> int:
        return len(self._source.endpoints(self._key.namespace, self._key.revision))


@dataclass(slots=True)
class _Runner:
    kpa: Autoscaler | None
    hpa: HpaAutoscaler | None
    desired: int
    ebc: int
    last: ScaleResult | None = None
    resting: Point | None = None
    """Set (to the history's last point, or a placeholder) after a KPA tick found no data: until
    a stat is recorded or the spec changes, every tick would find none again and change nothing."""

    def decision(self) -> Decision:
        return Decision(self.desired, self.ebc, self.last, "hpa" if self.hpa is not None else "kpa")


class Multiscaler:
    def __init__(
        self,
        collector: Collector,
        endpoints: EndpointSource,
        clock: Clock,
        on_change: OnChange,
        *,
        scraper: Scraper | None = None,
        usage: UsageSource | None = None,
        registry: CollectorRegistry | None = None,
        knative: KnativeScaling | None = None,
        history: History | None = None,
        tick_interval: float = TICK_INTERVAL,
        scrape_interval: float = SCRAPE_INTERVAL,
    ) -> None:
        """``scraper`` None: no scraping (activator stats only); ``usage`` feeds HPA-class deciders;
        ``history``: every tick is recorded there too (the dashboard's plots)."""
        self._collector = collector
        self._endpoints = endpoints
        self._clock = clock
        self._on_change = on_change
        self._scraper = scraper
        self._usage = usage
        self._gauges = DeciderGauges(registry, knative) if registry is not None else None
        self._history = history
        self._tick_interval = tick_interval
        self._scrape_interval = scrape_interval
        self._runners: dict[DeciderKey, _Runner] = {}
        self._log = TickLog()
        self._scraping: set[DeciderKey] = set()
        self._task: asyncio.Task[None] | None = None

    # -- deciders ------------------------------------------------------------------------------

    def watch(self, key: DeciderKey, spec: DeciderSpec, metric: MetricSpec | None = None) -> Decision:
        """Create or update the KPA decider of ``key`` (``metric`` None: windows from the spec)."""
        collection = self._collector.create_or_update(key, metric or default_metric_spec(spec.stable_window))
        runner = self._runners.get(key)
        if runner is not None and runner.kpa is not None:
            runner.kpa.update(spec)
            runner.resting = None  # the windows or the scraped flag may have changed
            return runner.decision()
        kpa = Autoscaler(spec, collection, _ReadyCount(self._endpoints, key), self._clock.monotonic())
        runner = self._runners[key] = _Runner(kpa, None, -1, initial_excess_burst_capacity(spec))
        return runner.decision()

    def watch_hpa(self, key: DeciderKey, spec: HpaSpec) -> Decision:
        """Create or update the HPA-class decider of ``key`` (no EBC). The queue's stats are collected
        only for the Pods metrics they measure (``concurrency``, ``rps``)."""
        if spec.pods_metric and spec.measurable:
            self._collector.create_or_update(key, default_metric_spec(spec.stable_window))
        else:
            self._collector.delete(key)
        runner = self._runners.get(key)
        if runner is not None and runner.hpa is not None:
            runner.hpa.update(spec)
            return runner.decision()
        runner = self._runners[key] = _Runner(None, HpaAutoscaler(spec), -1, 0)
        return runner.decision()

    def forget(self, key: DeciderKey) -> None:
        self._runners.pop(key, None)
        self._collector.delete(key)
        self._log.forget(key)
        if self._history is not None:
            self._history.forget(key)
        if self._gauges is not None:
            self._gauges.forget(key)

    def get(self, key: DeciderKey) -> Decision | None:
        runner = self._runners.get(key)
        return None if runner is None else runner.decision()

    def keys(self) -> list[DeciderKey]:
        return list(self._runners)

    def explain(self, key: DeciderKey) -> list[TickRecord]:
        return self._log.get(key)

    # -- ticks ---------------------------------------------------------------------------------

    def tick(self, key: DeciderKey) -> ScaleResult | None:
        """Decide for ``key`` now; ``on_change(key)`` if the decision changed. None for an unknown key."""
        runner = self._runners.get(key)
        if runner is None:
            return None
        now = self._clock.monotonic()
        result = self._scale(key, runner, now)
        changed = False
        if result.scale_valid:
            changed = result.desired_pod_count != runner.desired or not same_sign(
                result.excess_burst_capacity, runner.ebc
            )
            runner.desired, runner.ebc, runner.last = result.desired_pod_count, result.excess_burst_capacity, result
        point = self._observe(key, runner, now, result)
        if runner.kpa is not None and result.reasons == (NO_DATA,):
            runner.resting = point or _NO_POINT
        if changed:
            self._on_change(key)
        return result

    def _scale(self, key: DeciderKey, runner: _Runner, now: float) -> ScaleResult:
        if runner.kpa is not None:
            return runner.kpa.scale(now)
        assert runner.hpa is not None
        if self._usage is None:
            return ScaleResult(0, 0, False, reasons=(NO_USAGE_SOURCE,))
        result = runner.hpa.scale(now, self._usage.usage(key), self._pods_total(key, runner.hpa.spec.metric, now))
        return replace(result, excess_burst_capacity=runner.ebc)

    def _pods_total(self, key: DeciderKey, metric: str, now: float) -> float | None:
        """A Pods metric summed over the instances, from the queue's stats (None: no values)."""
        collection = self._collector.get(key)
        if collection is None:
            return None
        try:
            pair = (
                collection.stable_and_panic_rps(now) if metric == RPS else collection.stable_and_panic_concurrency(now)
            )
        except NoData:
            return None
        return pair[0]

    def _observe(self, key: DeciderKey, runner: _Runner, now: float, result: ScaleResult) -> Point | None:
        if runner.kpa is not None:
            metric, target = runner.kpa.spec.scaling_metric, runner.kpa.spec.target_value
        else:
            assert runner.hpa is not None
            metric, target = runner.hpa.spec.metric, runner.hpa.spec.target
        desired = result.desired_pod_count if result.scale_valid else runner.desired
        record = TickRecord(
            time=now,
            wall=rfc3339(self._clock.wall()),
            valid=result.scale_valid,
            desired=desired,
            excess_burst_capacity=runner.ebc,
            target=target,
            metric=metric,
            observed_stable=result.observed_stable,
            observed_panic=result.observed_panic,
            ready=result.ready_pods,
            panic_mode=result.in_panic,
            reasons=result.reasons,
        )
        self._log.append(key, record)
        if self._gauges is not None:
            self._gauges.observe(key, metric, target, runner.desired, runner.ebc, result)
        if self._history is None:
            return None
        point = self._point(key, now, desired, target, result)
        self._history.record(key, point, metric)
        return point

    def _point(self, key: DeciderKey, now: float, desired: int, target: float, result: ScaleResult) -> Point:
        """The dashboard's view of a tick: the queue's concurrency and rate whatever the scaling metric."""
        assert self._history is not None
        stable = panic = None
        collection = self._collector.get(key)
        if collection is not None:
            with contextlib.suppress(NoData):
                stable, panic = collection.stable_and_panic_concurrency(now)
        recent = self._history.recent(key, now)
        concurrency, rate = recent if recent is not None else (None, None)
        return Point(
            self._clock.wall().timestamp(),
            desired,
            result.ready_pods,
            target,
            stable,
            panic,
            rate,
            concurrency,
            result.in_panic,
            result.reasons,
        )

    def tick_all(self) -> None:
        """Tick every decider, except those resting (see ``_Runner.resting``): a revision at zero
        with nothing recorded costs a history point, not a decision (idle cost, issue 19). Knative
        ticks them all, to the same result: no data, nothing changes (its ``ErrNoData``)."""
        wall: float | None = None
        for key, runner in list(self._runners.items()):
            if runner.resting is None:
                self.tick(key)
            elif self._history is not None and runner.resting is not _NO_POINT:
                wall = self._clock.wall().timestamp() if wall is None else wall
                self._history.hold(key, runner.resting, wall)

    # -- metrics in ----------------------------------------------------------------------------

    def record(self, message: StatMessage) -> None:
        """An activator's stat: record it now, and tick at once if the revision is at zero and loaded.

        At zero: decided zero (Knative's ``Poke``: ``latestScale() == 0``), or not decided yet (-1)
        with no ready instance — a revision created at ``initial-scale: 0`` that never ran. Knative
        pokes only the former, so there the first request to a never-started revision waits for
        the next tick (up to 2 s, issue 19); here it is the same tick, run when the load arrives."""
        key = DeciderKey(message.namespace, message.name)
        if not self._record(key, message.stat):
            return
        runner = self._runners.get(key)
        if runner is not None and message.stat.average_concurrent_requests != 0 and self._at_zero(key, runner):
            self.tick(key)

    def _at_zero(self, key: DeciderKey, runner: _Runner) -> bool:
        if runner.desired == 0:
            return True
        return runner.desired < 0 and not self._endpoints.endpoints(key.namespace, key.revision)

    async def scrape(self, key: DeciderKey) -> bool:
        """Scrape ``key``'s instances once and record the result; False when nothing was recorded."""
        if self._scraper is None or self._collector.get(key) is None:
            return False
        stat = await self._scraper.scrape(key)
        if stat is None:
            return False
        return self._record(key, stat)

    def _record(self, key: DeciderKey, stat: Stat) -> bool:
        now = self._clock.monotonic()
        if not self._collector.record(key, now, stat):
            return False
        runner = self._runners.get(key)
        if runner is not None:
            runner.resting = None
        if self._history is not None:
            self._history.observe(key, now, stat.concurrency, stat.rps)
        return True

    async def _scrape_logged(self, key: DeciderKey) -> None:
        try:
            await self.scrape(key)
        except ScrapeError as e:
            log.warning("%s", e)
        except Exception:
            log.exception("scraping %s failed", key)
        finally:
            self._scraping.discard(key)

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Scrape every ``scrape_interval`` and tick every ``tick_interval`` until cancelled."""
        loop = asyncio.get_running_loop()
        next_scrape = next_tick = loop.time() + min(self._scrape_interval, self._tick_interval)
        async with asyncio.TaskGroup() as tg:
            while True:
                await asyncio.sleep(max(0.0, min(next_scrape, next_tick) - loop.time()))
                now = loop.time()
                if now >= next_scrape:
                    next_scrape = _next(next_scrape, self._scrape_interval, now)
                    if self._scraper is not None:
                        self._scrape_round(tg)
                if now >= next_tick:
                    next_tick = _next(next_tick, self._tick_interval, now)
                    self.tick_all()

    def _scrape_round(self, tg: asyncio.TaskGroup) -> None:
        """A scrape task for each watched revision with an instance to scrape. One with none (at zero)
        records nothing (Knative's scraper returns its empty stat when no pod is ready), so no task
        is made for it; when the scraper's source lists the revisions with instances at once, a
        thousand revisions at zero are not even looked up."""
        assert self._scraper is not None
        found = self._scraper.with_instances()
        keys = self._collector.watched() if found is None else filter(self._collector.watches, found)
        for key in keys:
            if key not in self._scraping and self._scraper.targets(key):
                self._scraping.add(key)
                tg.create_task(self._scrape_logged(key))

    async def __aenter__(self) -> Multiscaler:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="multiscaler")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
